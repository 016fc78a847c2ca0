// The leaders' dashboard: a choropleth of an indicator by commune for a period (status against
// its target, direction-aware, and the change from an earlier period), the indicators missing
// their targets, group totals of chosen layers for a commune, a point, a radius or a drawn
// area (the /query endpoints), the scenario presets, live alerts, 3D housing, and report
// generation.
// Signed in with the map page's session module; every request carries the bearer token.
import { Map } from '../../map/assets/maplibre-gl.mjs';
import { Session } from '../../map/assets/session.js';
import { WORDS } from './i18n.js';

const root = new URL('../../', import.meta.url);
const byId = (id) => document.getElementById(id);
const session = new Session(root);
const COLOURS = { met: '#2e7d32', not_met: '#c62828', no_data: '#9e9e9e' };
let lang = 'vi';
let map = null;
let indicators = [];
let communes = null;  // GeoJSON of the communes
let drawn = [];  // polygon vertices being drawn
const t = (key) => WORDS[lang][key] || key;
const fmt = (v) => (v === null || v === undefined ? '—'
  : Number(v).toLocaleString(lang === 'vi' ? 'vi-VN' : 'en-GB', { maximumFractionDigits: 2 }));

window.iocgis = { ready: false, errors: [], statuses: {}, totals: null, alerts: 0 };

function say(text) { byId('status').textContent = text || ''; }

function translate() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  byId('lang').textContent = lang === 'vi' ? 'English' : 'Tiếng Việt';
  renderIndicatorOptions();
  legend();
}

async function api(path, init = {}) {
  const response = await session.fetch(new URL(path, root), init);
  const body = response.headers.get('content-type')?.includes('json') ? await response.json() : null;
  if (!response.ok) throw new Error(body?.description || `${path}: HTTP ${response.status}`);
  return body;
}

// --- indicators and the choropleth ------------------------------------------------------

// The rule of /query/kpi: met when the value reaches the target in the indicator's direction.
function status(value, indicator) {
  if (value === null || value === undefined || indicator.target === null) return 'no_data';
  const met = indicator.direction === 'higher_better' ? value >= indicator.target : value <= indicator.target;
  return met ? 'met' : 'not_met';
}

function renderIndicatorOptions() {
  const select = byId('indicator');
  const chosen = select.value;
  select.replaceChildren(...indicators.map((i) => {
    const option = document.createElement('option');
    option.value = i.code;
    option.textContent = lang === 'vi' ? i.name : (i.name_en || i.name);
    return option;
  }));
  if (chosen) select.value = chosen;
}

function legend() {
  byId('legend').replaceChildren(...Object.entries(COLOURS).map(([key, colour]) => {
    const row = document.createElement('div');
    const swatch = document.createElement('span');
    swatch.style.background = colour;
    row.append(swatch, t(key));
    return row;
  }));
}

function earlier(period, which) {
  const m = /^(\d{4})(?:-(Q[1-4]|\d{2}))?$/.exec(period);
  if (!m) return null;
  const year = Number(m[1]);
  if (which === 'last_year' || !m[2]) return `${year - 1}${m[2] ? `-${m[2]}` : ''}`;
  if (m[2].startsWith('Q')) {
    const q = Number(m[2][1]);
    return q > 1 ? `${year}-Q${q - 1}` : `${year - 1}-Q4`;
  }
  const month = Number(m[2]);
  return month > 1 ? `${year}-${String(month - 1).padStart(2, '0')}` : `${year - 1}-12`;
}

async function values(code, period) {
  const q = new URLSearchParams({ indicator_code: code, period, limit: '10000', f: 'json' });
  const body = await api(`collections/kpi.values/items?${q}`);
  return Object.fromEntries(body.features.map((f) => [f.properties.admin_code, f.properties.value]));
}

async function choropleth() {
  const indicator = indicators.find((i) => i.code === byId('indicator').value);
  const period = byId('period').value;
  if (!indicator || !period || !communes) return;
  const [now, before] = await Promise.all([values(indicator.code, period),
    values(indicator.code, earlier(period, byId('compare').value))]);
  window.iocgis.statuses = {};
  for (const feature of communes.features) {
    const code = feature.properties.code;
    const value = now[code] ?? null;
    const st = status(value, indicator);
    Object.assign(feature.properties, { value, before: before[code] ?? null, status: st,
      colour: COLOURS[st] });
    window.iocgis.statuses[code] = st;
  }
  map.getSource('choropleth').setData(communes);
  await missing(period);
}

async function missing(period) {
  const body = await api(`query/kpi/alerts?period=${encodeURIComponent(period)}`);
  const table = byId('missing');
  if (!body.alerts.length) { table.replaceChildren(t('noMissing')); return; }
  const head = document.createElement('tr');
  for (const key of ['indicator', 'unit', 'value', 'target', 'gap']) {
    const th = document.createElement('th');
    th.textContent = t(key);
    head.append(th);
  }
  table.replaceChildren(head, ...body.alerts.map((a) => {
    const row = document.createElement('tr');
    row.className = 'not_met';
    for (const [text, n] of [[lang === 'vi' ? a.name : a.name_en, false],
      [a.admin_name || a.admin_code, false], [fmt(a.value), true], [fmt(a.target), true],
      [fmt(a.gap), true]]) {
      const td = document.createElement('td');
      td.textContent = text;
      if (n) td.className = 'n';
      row.append(td);
    }
    return row;
  }));
  window.iocgis.missing = body.alerts.length;
}

// --- group totals -----------------------------------------------------------------------

function chosenLayers() {
  return [...byId('layers').selectedOptions].map((o) => o.value).join(',');
}

function showTotals(title, body) {
  const out = [];
  const heading = document.createElement('p');
  heading.textContent = title;
  out.push(heading);
  for (const [layer, result] of Object.entries(body.layers || {})) {
    const group = (result.groups || [])[0] || {};
    const line = document.createElement('p');
    const sums = Object.entries(group.sum || {}).map(([k, v]) => `${k} ${fmt(v)}`);
    const trues = Object.entries(group.true_count || {}).map(([k, v]) => `${k} ${fmt(v)}`);
    line.textContent = `${layer}: ${t('count')} ${fmt(result.count)}${sums.length ? `; ${sums.join(', ')}` : ''}${trues.length ? `; ${trues.join(', ')}` : ''}`;
    out.push(line);
  }
  byId('totals').replaceChildren(...out);
  byId('totals-panel').hidden = false;
  window.iocgis.totals = body;
}

async function totalsAt(event) {
  const layers = chosenLayers();
  if (!layers) return;
  const { lng, lat } = event.lngLat;
  const mode = byId('mode').value;
  const base = { layers, limit: '0' };
  if (mode === 'commune') {
    const hit = map.queryRenderedFeatures(event.point, { layers: ['choropleth-fill'] })[0];
    if (!hit) return;
    const p = hit.properties;
    const body = await api(`query/admin/${p.code}?${new URLSearchParams(base)}`);
    showTotals(`${p.name} (${p.code}): ${t('value')} ${fmt(p.value)} · ${t(p.status)} · ${t(byId('compare').value === 'previous' ? 'previous' : 'lastYear')} ${fmt(p.before)}`, body);
  } else if (mode === 'point') {
    const q = new URLSearchParams({ ...base, lon: lng.toFixed(6), lat: lat.toFixed(6), tolerance_m: '50' });
    showTotals(`${lng.toFixed(5)}, ${lat.toFixed(5)}`, await api(`query/point?${q}`));
  } else if (mode === 'radius') {
    const q = new URLSearchParams({ ...base, lon: lng.toFixed(6), lat: lat.toFixed(6), radius_m: byId('radius').value });
    showTotals(`${byId('radius').value} m · ${lng.toFixed(5)}, ${lat.toFixed(5)}`, await api(`query/radius?${q}`));
  } else {
    drawn.push([lng, lat]);
    byId('finish-polygon').hidden = drawn.length < 3;
    say(`${drawn.length}`);
  }
}

async function finishPolygon() {
  const ring = [...drawn, drawn[0]];
  drawn = [];
  byId('finish-polygon').hidden = true;
  const body = await api(`query/region?${new URLSearchParams({ layers: chosenLayers(), limit: '0' })}`, {
    method: 'POST', headers: { 'Content-Type': 'application/geo+json' },
    body: JSON.stringify({ type: 'Polygon', coordinates: [ring] }) });
  showTotals(t('modePolygon'), body);
}

// --- 3D housing ---------------------------------------------------------------------------

// The housing theme's own layers (styles/themes/housing.yaml: footprints extruded by height,
// houses known by their position as circles), added over the choropleth and tilted; off: hidden.
let housing = null;  // the theme's style, once fetched

async function housing3d(on) {
  if (on && !housing) {
    housing = await api('styles/housing.json');
    for (const [name, source] of Object.entries(housing.sources)) {
      if (!map.getSource(name)) map.addSource(name, source);
    }
    housing.own = housing.layers.filter((l) => l.source === 'housing');
    for (const layer of housing.own) map.addLayer(layer);
  }
  for (const layer of housing?.own || []) map.setLayoutProperty(layer.id, 'visibility', on ? 'visible' : 'none');
  const minzoom = Math.min(...(housing?.own || []).map((l) => l.minzoom || 0));
  map.easeTo({ pitch: on ? (housing.pitch || 50) : 0, duration: 0,
    zoom: on ? Math.max(map.getZoom(), minzoom + 1) : map.getZoom() });
  await new Promise((resolve) => { map.once('idle', resolve); map.triggerRepaint(); });
  const ids = on ? housing.own.map((l) => l.id) : [];
  window.iocgis.housing3d = { on, layers: ids, pitch: map.getPitch(),
    drawn: Object.fromEntries(ids.map((id) => [id, map.queryRenderedFeatures({ layers: [id] }).length])) };
}

// --- presets, alerts, reports -------------------------------------------------------------

async function presets() {
  const body = await api('scenarios');
  byId('presets').replaceChildren(...(body.scenarios || []).map((s) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = (s.title && (s.title[lang] || s.title.vi)) || s.name;
    button.addEventListener('click', async () => {
      try { showTotals(button.textContent, await api(`scenarios/${s.name}`)); } catch (e) { say(e.message); }
    });
    return button;
  }));
}

function alertItem(a) {
  const li = document.createElement('li');
  li.className = `level-${a.peak_level || a.level}`;
  li.textContent = `${a.station_code} ${a.parameter}: ${fmt(a.value)} (${a.level}) ${a.raised_at || a.time || ''}`;
  return li;
}

async function alerts() {
  const body = await api('live/alerts?state=open');
  const list = byId('alerts');
  list.replaceChildren(...(body.alerts.length ? body.alerts.map(alertItem) : [t('noAlerts')]));
  window.iocgis.alerts = body.alerts.length;
  streamAlerts();
}

// Server-sent events with the bearer token (EventSource cannot send headers): a fetch stream.
async function streamAlerts() {
  try {
    const response = await session.fetch(new URL('live/events?types=alert', root),
      { headers: { Accept: 'text/event-stream' } });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5)).join('\n');
        if (data) byId('alerts').prepend(alertItem(JSON.parse(data)));
      }
    }
  } catch { /* the stream ends after a while or offline: the snapshot stays */ }
}

async function reports() {
  const [defs, list] = await Promise.all([api('reports/definitions'), api('reports')]);
  byId('report-name').replaceChildren(...defs.definitions.map((d) => {
    const option = document.createElement('option');
    option.value = d.name;
    option.textContent = d.title[lang];
    return option;
  }));
  byId('report-list').replaceChildren(...list.reports.slice(0, 8).map((r) => {
    const li = document.createElement('li');
    li.append(`${r.id} ${r.title_vi} ${r.period} ${r.area} `);
    for (const [f, href] of Object.entries(r.links)) {
      const a = document.createElement('a');
      a.href = href;
      a.textContent = f.toUpperCase();
      li.append(a, ' ');
    }
    return li;
  }));
}

async function generate(event) {
  event.preventDefault();
  const order = { report: byId('report-name').value, period: byId('report-period').value || byId('period').value };
  if (byId('report-area').value) order.area = byId('report-area').value;
  byId('report-status').textContent = t('running');
  let job = await api('reports/jobs', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(order) });
  while (job.status === 'queued' || job.status === 'running') {
    await new Promise((r) => { setTimeout(r, 500); });
    job = await api(`reports/jobs/${job.id}`);
    byId('report-status').textContent = `${t('running')} ${job.progress.done || 0}/${job.progress.total || '?'}`;
  }
  byId('report-status').textContent = job.status === 'done' ? `${job.record.id} ✓` : job.error.description;
  window.iocgis.lastJob = job;
  await reports();
}

// --- start ---------------------------------------------------------------------------------

async function start() {
  byId('board').hidden = false;
  const [ind, vals, units, layers] = await Promise.all([
    api('collections/kpi.indicators/items?limit=1000&f=json'),
    api('collections/kpi.values/items?limit=10000&properties=period&f=json'),
    api('collections/admin.communes/items?limit=1000&properties=code,name&f=json'),
    api('collections?f=json')]);
  indicators = ind.features.map((f) => f.properties).sort((a, b) => a.code.localeCompare(b.code));
  renderIndicatorOptions();
  const periods = [...new Set(vals.features.map((f) => f.properties.period))].sort().reverse();
  byId('period').replaceChildren(...periods.map((p) => new Option(p, p)));
  communes = units;
  byId('layers').replaceChildren(...layers.collections.filter((c) => c.itemType === 'feature'
    && !c.id.startsWith('kpi.')).map((c) => {
    const option = new Option(c.title, c.id);
    option.selected = ['housing.houses', 'infra.schools'].includes(c.id);
    return option;
  }));
  const [w, s, e, n] = communes.features.reduce(([a, b, c, d], f) => {
    const coords = f.geometry.coordinates.flat(3);
    for (let i = 0; i < coords.length; i += 2) {
      a = Math.min(a, coords[i]); c = Math.max(c, coords[i]);
      b = Math.min(b, coords[i + 1]); d = Math.max(d, coords[i + 1]);
    }
    return [a, b, c, d];
  }, [180, 90, -180, -90]);
  map = new Map({
    container: 'map', style: new URL('styles/basemap.json', root).href,
    bounds: [[w, s], [e, n]], fitBoundsOptions: { padding: 20 }, fadeDuration: 0,
    transformRequest: async (url) => (session.sameOrigin(url)
      ? { url, headers: await session.headers(url) } : { url }),
  });
  window.iocgis.project = (lon, lat) => map.project([lon, lat]);  // for tests and the console
  window.iocgis.view = (lon, lat, zoom) => map.jumpTo({ center: [lon, lat], zoom });
  map.on('error', (e) => window.iocgis.errors.push(String(e.error?.message || e)));
  map.on('load', async () => {
    map.addSource('choropleth', { type: 'geojson', data: communes });
    map.addLayer({ id: 'choropleth-fill', type: 'fill', source: 'choropleth',
      paint: { 'fill-color': ['coalesce', ['get', 'colour'], '#9e9e9e'], 'fill-opacity': 0.55 } });
    map.addLayer({ id: 'choropleth-line', type: 'line', source: 'choropleth',
      paint: { 'line-color': '#263238', 'line-width': 0.8 } });
    map.on('click', (event) => totalsAt(event).catch((e) => say(e.message)));
    await choropleth();
    // the map may have gone idle while the indicators were fetched: an 'idle' only follows a
    // render, so ask for one (waiting alone could wait for ever on a quiet map)
    map.once('idle', () => { window.iocgis.ready = true; });
    map.triggerRepaint();
  });
  for (const id of ['indicator', 'period', 'compare']) {
    byId(id).addEventListener('change', () => choropleth().catch((e) => say(e.message)));
  }
  byId('finish-polygon').addEventListener('click', () => finishPolygon().catch((e) => say(e.message)));
  byId('housing-3d').addEventListener('change', (e) => housing3d(e.target.checked).catch((err) => {
    window.iocgis.errors.push(err.message); say(err.message);
  }));
  byId('report-form').addEventListener('submit', (e) => generate(e).catch((err) => {
    byId('report-status').textContent = err.message;
  }));
  await Promise.all([presets(), alerts(), reports()].map((p) => p.catch((e) => say(e.message))));
}

byId('lang').addEventListener('click', () => { lang = lang === 'vi' ? 'en' : 'vi'; translate(); });
byId('sign-in-open').addEventListener('click', () => { byId('sign-in').hidden = false; });
byId('sign-out').addEventListener('click', () => session.signOut());
byId('sign-in').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    await session.signIn(byId('username').value, byId('password').value, byId('totp').value || undefined);
    byId('sign-in').hidden = true;
  } catch (error) {
    if (error.code === 'MfaRequired') byId('totp-row').hidden = false;
    byId('sign-in-error').textContent = error.message;
    byId('sign-in-error').hidden = false;
  }
});
session.addEventListener('change', () => {
  const signedIn = session.signedIn;
  byId('who').hidden = !signedIn;
  byId('who').textContent = signedIn ? session.account.name : '';
  byId('sign-in-open').hidden = signedIn;
  byId('sign-out').hidden = !signedIn;
  if (signedIn) { say(''); start().catch((e) => { window.iocgis.errors.push(e.message); say(e.message); }); }
  else {
    byId('board').hidden = true; housing = null; byId('housing-3d').checked = false;
    if (map) { map.remove(); map = null; }
    say(t('signInFirst'));
  }
});
translate();
say(t('signInFirst'));
