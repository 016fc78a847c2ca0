// The public map and list: the registry's public layer citizen.public_reports through the
// OGC API (generalised locations, moderated text, the unit's answer; never the reporter).
import { Map } from '/map/assets/maplibre-gl.mjs';
import { STATUS_NAMES } from './names.js';

const byId = (id) => document.getElementById(id);
const state = { ready: false, errors: [], features: 0, codes: [] };
window.citizen = state;
const COLOURS = ['match', ['get', 'status'], 'da_dong', '#2e7d32', 'da_tra_loi', '#43a047',
                 'tu_choi', '#757575', 'dang_xu_ly', '#f9a825', '#e53935'];

function text(tag, value, className) {
  const element = document.createElement(tag);
  element.textContent = value == null ? '' : String(value);
  if (className) element.className = className;
  return element;
}

function card(properties, statuses, categories) {
  const box = document.createElement('article');
  box.className = 'report';
  box.dataset.code = properties.report_code;
  box.append(text('h3', `${properties.report_code} · ${categories[properties.category] || properties.category}`));
  box.append(text('span', statuses[properties.status] || properties.status, 'status'));
  if (properties.unit_name) box.append(text('p', `Đơn vị xử lý: ${properties.unit_name}`));
  if (properties.summary) box.append(text('p', properties.summary));
  if (properties.answer) box.append(text('p', `Trả lời: ${properties.answer}`, 'answer'));
  box.append(text('p', new Date(properties.reported_at).toLocaleString('vi-VN'), 'hint'));
  return box;
}

async function main() {
  const services = await (await fetch('/open311/v2/services.json')).json();
  const categories = Object.fromEntries(services.map((s) => [s.service_code, s.service_name]));
  const statuses = STATUS_NAMES;
  const items = await (await fetch(
    '/collections/citizen.public_reports/items?f=json&limit=1000&sortby=-reported_at')).json();
  const features = items.features || [];
  state.features = features.length;
  state.codes = features.map((f) => f.properties.report_code);
  byId('count').textContent = features.length;
  const list = byId('list');
  for (const feature of features) list.append(card(feature.properties, statuses, categories));
  const map = new Map({ container: 'public-map', style: '/styles/basemap.json',
                        center: [107.05, 11.35], zoom: 8, fadeDuration: 0,
                        attributionControl: false });
  map.on('load', () => {
    map.addSource('reports', { type: 'geojson', data: { type: 'FeatureCollection', features } });
    map.addLayer({ id: 'reports', type: 'circle', source: 'reports',
                   paint: { 'circle-radius': 7, 'circle-color': COLOURS,
                            'circle-stroke-color': '#fff', 'circle-stroke-width': 2 } });
    if (features.length) {
      const xs = features.map((f) => f.geometry.coordinates[0]);
      const ys = features.map((f) => f.geometry.coordinates[1]);
      map.fitBounds([[Math.min(...xs), Math.min(...ys)], [Math.max(...xs), Math.max(...ys)]],
                    { padding: 60, maxZoom: 15, duration: 0 });
    }
    map.once('idle', () => { state.ready = true; });
  });
}

main().catch((error) => { state.errors.push(String(error)); });
