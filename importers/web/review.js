// The import review page: the imports the signed-in account may review (its own, and those
// of the groups it stewards), each with its quality report, the diff against the live layer
// and a map preview of the staged rows (tiles drawn from the staging table), and the decision:
// approve (the import goes live) or reject with a reason. Sign-in and tokens: session.js of
// the map page; every request carries the account's bearer token.
import { Map, NavigationControl } from '../../../map/assets/maplibre-gl.mjs';
import { Session } from '../../../map/assets/session.js';

const root = new URL('..', document.baseURI);  // the application's root
const byId = (id) => document.getElementById(id);
const session = new Session(root);
const PAGE = 20;
const state = { id: null, kind: 'added', offset: 0, entry: null };
let map = null;

window.review = {
  errors: [], listed: null, selected: null, shown: null, mapReady: false, outcome: null,
  get signedIn() { return session.signedIn; },
  get map() { return map; },
};

function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = text === null || text === undefined ? '' : String(text);
  if (className) td.className = className;
  row.append(td);
  return td;
}

function tell(text) {
  const notice = byId('notice');
  notice.textContent = text || '';
  notice.hidden = !text;
}

async function api(path, init) {
  const response = await session.fetch(new URL(path, root), init);
  const body = response.status === 204 ? {} : await response.json();
  if (!response.ok) throw new Error(body.description || `HTTP ${response.status}`);
  return body;
}

// --- sign-in --------------------------------------------------------------------------------

byId('sign-in').addEventListener('submit', async (event) => {
  event.preventDefault();
  const totp = byId('totp');
  try {
    await session.signIn(byId('username').value, byId('password').value, totp.value || undefined);
    tell('');
  } catch (error) {
    if (error.code === 'MfaRequired') { totp.hidden = false; totp.focus(); }
    tell(error.message);
  }
});
byId('sign-out').addEventListener('click', () => session.signOut());
session.addEventListener('change', () => {
  byId('sign-in').hidden = session.signedIn;
  byId('account').hidden = !session.signedIn;
  byId('who').textContent = session.account ? session.account.name : '';
  if (session.signedIn) loadList(); else clear();
});

function clear() {
  byId('imports').tBodies[0].replaceChildren();
  byId('detail').hidden = true;
  window.review.listed = null;
  if (map) { map.remove(); map = null; }
}

// --- the list -------------------------------------------------------------------------------

async function loadList() {
  try {
    const status = byId('status-filter').value;
    const body = await api(`imports?status=${encodeURIComponent(status)}`);
    const tbody = byId('imports').tBodies[0];
    tbody.replaceChildren();
    for (const entry of body.imports) {
      const row = document.createElement('tr');
      row.dataset.id = entry.import_id;
      const d = entry.diff || {};
      for (const value of [entry.import_id, entry.layer_id, entry.file, entry.submitted_by,
        d.added, d.removed, d.changed, entry.status]) cell(row, value);
      row.addEventListener('click', () => select(entry.import_id));
      tbody.append(row);
    }
    window.review.listed = body.imports.map((e) => e.import_id);
  } catch (error) { fail(error); }
}
byId('status-filter').addEventListener('change', loadList);

// --- one import -----------------------------------------------------------------------------

async function select(id, kind = 'added', offset = 0) {
  Object.assign(state, { id, kind, offset });
  for (const row of byId('imports').tBodies[0].rows) {
    row.classList.toggle('selected', Number(row.dataset.id) === id);
  }
  try {
    const entry = await api(`imports/${id}/diff?change=${kind}&offset=${offset}&limit=${PAGE}`);
    const fresh = !state.entry || state.entry.import_id !== id;
    state.entry = entry;
    showEntry(entry);
    showChanges(entry.changes);
    if (fresh) preview(entry);
    window.review.selected = id;
    window.review.shown = { kind, rows: entry.changes ? entry.changes.rows.length : 0 };
  } catch (error) { fail(error); }
}

function showEntry(entry) {
  byId('detail').hidden = false;
  byId('detail-title').textContent = `#${entry.import_id} ${entry.layer_id} — ${entry.file}`;
  const d = entry.diff || {};
  byId('summary').textContent =
    `${entry.status} · ${entry.mode} · ${entry.submitted_by} · ${entry.submitted_at} · ` +
    `vào/in ${entry.rows_in}, nạp/loaded ${entry.rows_loaded}, loại/rejected ` +
    `${entry.rows_rejected} · +${d.added || 0} −${d.removed || 0} ±${d.changed || 0} ` +
    `=${d.unchanged || 0}` + (entry.reason ? ` · ${entry.decided_by}: ${entry.reason}` : '');
  const tbody = byId('findings').tBodies[0];
  tbody.replaceChildren();
  for (const f of entry.findings) {
    const row = document.createElement('tr');
    for (const value of [f.severity, f.rule, f.count, f.message]) cell(row, value);
    tbody.append(row);
  }
  if (!entry.findings.length) {
    const row = document.createElement('tr');
    cell(row, 'ok');
    cell(row, '—');
    cell(row, 0);
    cell(row, 'Không có phát hiện nào / no findings: đúng, đủ, sạch');
    tbody.append(row);
  }
  for (const tab of byId('tabs').children) {
    tab.setAttribute('aria-selected', String(tab.dataset.kind === state.kind));
  }
  const open = entry.status === 'pending';
  byId('decision').hidden = !(entry.may_decide || entry.may_withdraw);
  byId('approve').hidden = !entry.may_decide;
  byId('reject').disabled = !open;
}

function showChanges(page) {
  const tbody = byId('diff').tBodies[0];
  tbody.replaceChildren();
  if (!page) { byId('page').textContent = ''; return; }
  for (const change of page.rows) {
    const row = document.createElement('tr');
    cell(row, change.key ? Object.values(change.key).join(' / ') : '—');
    cell(row, (change.fields || []).join(', ') +
      (change.hidden_fields ? ` (+${change.hidden_fields})` : ''));
    cell(row, change.before ? JSON.stringify(change.before) : '', 'old');
    cell(row, change.after ? JSON.stringify(change.after) : '', 'new');
    tbody.append(row);
  }
  const last = Math.min(page.offset + page.rows.length, page.total);
  byId('page').textContent = `${page.total ? page.offset + 1 : 0}–${last} / ${page.total}`;
  byId('prev').disabled = page.offset === 0;
  byId('next').disabled = last >= page.total;
}

for (const tab of byId('tabs').children) {
  tab.addEventListener('click', () => select(state.id, tab.dataset.kind, 0));
}
byId('prev').addEventListener('click', () => select(state.id, state.kind,
  Math.max(0, state.offset - PAGE)));
byId('next').addEventListener('click', () => select(state.id, state.kind, state.offset + PAGE));

// --- the map preview ------------------------------------------------------------------------

async function transformRequest(url) {
  if (!session.sameOrigin(url)) return { url };
  return { url, headers: await session.headers(url), cache: 'no-cache' };
}

function preview(entry) {
  if (map) { map.remove(); map = null; }
  window.review.mapReady = false;
  const layer = entry.layer_id;
  const kind = (type) => ['==', ['geometry-type'], type];
  const style = {
    version: 8,
    sources: { staged: { type: 'vector', tiles: [`${root.href}imports/${entry.import_id}/tiles/{z}/{x}/{y}.mvt`],
      minzoom: 0, maxzoom: 22 } },
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': '#eef1f4' } },
      { id: 'staged-fill', type: 'fill', source: 'staged', 'source-layer': layer,
        filter: kind('Polygon'), paint: { 'fill-color': '#2b7bd6', 'fill-opacity': 0.45 } },
      { id: 'staged-outline', type: 'line', source: 'staged', 'source-layer': layer,
        filter: ['any', kind('Polygon'), kind('LineString')],
        paint: { 'line-color': '#123e6b', 'line-width': 1.5 } },
      { id: 'staged-point', type: 'circle', source: 'staged', 'source-layer': layer,
        filter: kind('Point'), paint: { 'circle-radius': 5, 'circle-color': '#d6542b',
          'circle-stroke-color': '#fff', 'circle-stroke-width': 1 } },
    ],
  };
  const extent = entry.diff && entry.diff.extent;
  map = new Map({
    container: 'map', style, transformRequest, fadeDuration: 0, attributionControl: false,
    ...(extent ? { bounds: [[extent[0], extent[1]], [extent[2], extent[3]]],
      fitBoundsOptions: { padding: 30, maxZoom: 18 } } : { center: [106.82, 10.95], zoom: 9 }),
  });
  map.addControl(new NavigationControl(), 'top-right');
  map.on('idle', () => { window.review.mapReady = true; });
  map.on('error', (event) => {
    const message = event.error && event.error.message ? event.error.message : String(event);
    window.review.errors.push(message);
  });
}

// --- the decision ---------------------------------------------------------------------------

async function decide(action) {
  const id = state.id;
  try {
    const init = { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(action === 'reject' ? { reason: byId('reason').value } : {}) };
    const done = await api(`imports/${id}/${action}`, init);
    window.review.outcome = done;
    byId('outcome').textContent = `#${id}: ${done.status} — ${done.decided_by}`;
    state.entry = null;
    await loadList();
    await select(id, state.kind, 0);
  } catch (error) {
    byId('outcome').textContent = error.message;
    window.review.outcome = { error: error.message };
  }
}
byId('approve').addEventListener('click', () => decide('approve'));
byId('reject').addEventListener('click', () => decide('reject'));

function fail(error) {
  tell(error.message);
  window.review.errors.push(error.message);
}
