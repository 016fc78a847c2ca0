// The server's map renderer page (reports/maps.py): one map per call of window.iocgisDraw,
// drawn by MapLibre GL JS from the platform's own style and tiles (answered by the renderer,
// as the caller of the report), returned as a PNG data URL once the map is idle.
import { Map } from '/assets/maplibre-gl.mjs';

let map = null;
window.iocgisReady = true;

window.iocgisDraw = (spec) => new Promise((resolve, reject) => {
  if (map) { map.remove(); map = null; }
  const container = document.getElementById('map');
  container.style.width = `${spec.width}px`;
  container.style.height = `${spec.height}px`;
  const errors = [];
  map = new Map({
    container, style: spec.style, bounds: spec.bounds, fitBoundsOptions: { padding: 8 },
    interactive: false, attributionControl: false, fadeDuration: 0,
    pixelRatio: spec.pixelRatio, preserveDrawingBuffer: true,
    canvasContextAttributes: { preserveDrawingBuffer: true, antialias: false },
  });
  map.on('error', (e) => errors.push(String((e.error && e.error.message) || e)));
  map.once('load', () => {
    if (spec.overlay) {
      map.addSource('iocgis-overlay', { type: 'geojson', data: spec.overlay });
      map.addLayer({ id: 'iocgis-overlay-fill', type: 'fill', source: 'iocgis-overlay',
        paint: { 'fill-color': ['get', 'colour'], 'fill-opacity': 0.6 } });
      map.addLayer({ id: 'iocgis-overlay-line', type: 'line', source: 'iocgis-overlay',
        paint: { 'line-color': '#37474f', 'line-width': 0.6 } });
    }
    map.once('idle', () => {
      try {
        resolve({ png: map.getCanvas().toDataURL('image/png'), errors });
      } catch (error) { reject(error); }
    });
  });
});
