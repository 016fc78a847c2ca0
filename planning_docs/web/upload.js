// The GIS officers' dossier page: sign in (the map page's session module: password flow,
// tokens in memory), then create a dossier, attach its files, import a DXF drawing's zones,
// set the approving decision and move the status, all through the /planning API.
// State for tests and for the curious: window.planning (ready, errors, dossier, jobs).

import { Session } from '/map/assets/session.js';

const root = new URL('/', window.location.href);
const session = new Session(root);
const state = { ready: false, errors: [], dossier: null, jobs: {}, busy: 0, message: '' };
window.planning = state;
const $ = (id) => document.getElementById(id);

function show(message, error = false) {
  state.message = message;
  const line = $('status');
  line.textContent = message;
  line.classList.toggle('error', error);
}

async function api(path, init = {}) {
  const response = await session.fetch(new URL(path, root), init);
  const text = await response.text();
  const body = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const what = body && (body.description || body.code) ? body.description || body.code
      : `HTTP ${response.status}`;
    throw new Error(what + (body && body.hint ? ` — ${body.hint}` : ''));
  }
  return body;
}

const json = (method, value) => ({
  method, body: JSON.stringify(value), headers: { 'Content-Type': 'application/json' },
});

// Run one user action: busy count for tests, errors shown and kept.
async function act(what, work) {
  state.busy += 1;
  try {
    await work();
  } catch (error) {
    state.errors.push(`${what}: ${error.message}`);
    show(`${what}: ${error.message}`, true);
  } finally {
    state.busy -= 1;
  }
}

function fields(form) {
  const out = {};
  for (const [key, value] of new FormData(form).entries()) {
    if (typeof value === 'string' && value.trim() !== '') out[key] = value.trim();
  }
  return out;
}

async function loadDossiers(selected) {
  const list = await api('planning/dossiers?limit=1000');
  const select = $('dossier-select');
  select.replaceChildren(new Option('— hồ sơ mới —', ''));
  for (const d of list.dossiers) {
    select.append(new Option(`${d.project_code} — ${d.title} (${d.status_title.vi})`, d.id));
  }
  if (selected) select.value = String(selected);
}

function cell(row, text) {
  const td = row.insertCell();
  td.textContent = text;
  return td;
}

function renderDossier(d) {
  state.dossier = d;
  $('dossier').hidden = false;
  $('dossier-title').textContent = `${d.project_code} — ${d.title} (${d.status_title.vi})`;
  const body = $('documents').tBodies[0];
  body.replaceChildren();
  const decisionSelect = $('decision-document');
  decisionSelect.replaceChildren(new Option('—', ''));
  for (const doc of d.documents) {
    const row = body.insertRow();
    row.dataset.document = doc.id;
    cell(row, doc.kind_title.vi);
    cell(row, doc.title);
    const link = document.createElement('a');
    link.href = doc.href;
    link.textContent = doc.file_name;
    row.insertCell().append(link);
    cell(row, `${Math.ceil(doc.size_bytes / 1024)} kB`);
    const actions = row.insertCell();
    if (doc.media_type === 'image/vnd.dxf') {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'small import-zones';
      button.textContent = state.jobs[doc.id] ? `Nhập ô: ${state.jobs[doc.id]}` : 'Nhập ô quy hoạch';
      button.addEventListener('click', () => act('Nhập ô quy hoạch', () => importZones(doc.id)));
      actions.append(button);
    }
    if (doc.kind === 'decision') decisionSelect.append(new Option(doc.title, doc.id));
  }
  const decided = d.decision;
  $('decision-now').textContent = decided
    ? `Quyết định số ${decided.number} ngày ${decided.decision_date}, ${decided.authority}`
    : 'Chưa có quyết định phê duyệt.';
  if (decided && decided.document_id) decisionSelect.value = String(decided.document_id);
  const history = $('history');
  history.replaceChildren();
  for (const h of d.history) {
    const item = document.createElement('li');
    item.textContent = `${h.changed_at}: ${h.previous || '—'} → ${h.status}`
      + (h.changed_by ? ` (${h.changed_by})` : '') + (h.note ? ` — ${h.note}` : '');
    history.append(item);
  }
}

async function openDossier(id) {
  if (!id) { state.dossier = null; $('dossier').hidden = true; return; }
  renderDossier(await api(`planning/dossiers/${id}`));
}

async function importZones(documentId) {
  const job = await api(`planning/manage/documents/${documentId}/import`, json('POST', {}));
  state.jobs[documentId] = job.status;
  show(`Đang nhập ô quy hoạch từ tài liệu ${documentId}…`);
  for (;;) {
    const now = await api(`imports/${job.id}`);
    state.jobs[documentId] = now.status;
    if (!['queued', 'running'].includes(now.status)) {
      if (now.status === 'failed') throw new Error(now.error ? now.error.description : 'failed');
      if (now.status === 'pending') {
        show(`Ô quy hoạch đã gửi duyệt (lần nhập ${now.import_id}): chờ cán bộ phụ trách dữ liệu phê duyệt tại /imports/review.`);
        break;
      }
      const loaded = now.report ? now.report.rows_loaded : '?';
      show(`Đã nhập ${loaded} ô quy hoạch (lần nhập ${now.import_id}).`);
      break;
    }
    await new Promise((resolve) => { setTimeout(resolve, 300); });
  }
  await openDossier(state.dossier.id);
}

function wire() {
  $('signin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    act('Đăng nhập', async () => {
      await session.signIn($('username').value, $('password').value, $('totp').value);
      $('account').hidden = false;
      $('account').textContent = `Đã đăng nhập: ${session.account.name} (${session.account.roles.join(', ')})`;
      $('signin-form').hidden = true;
      $('work').hidden = false;
      await loadDossiers();
      show('Sẵn sàng.');
    });
  });
  $('dossier-select').addEventListener('change', (event) => {
    act('Mở hồ sơ', () => openDossier(event.target.value));
  });
  $('create-form').addEventListener('submit', (event) => {
    event.preventDefault();
    act('Tạo hồ sơ', async () => {
      const body = fields(event.target);
      body.replaces_all = $('replaces_all').checked;
      const made = await api('planning/manage/dossiers', json('POST', body));
      await loadDossiers(made.id);
      renderDossier(made);
      show(`Đã tạo hồ sơ ${made.project_code}.`);
    });
  });
  $('upload-form').addEventListener('submit', (event) => {
    event.preventDefault();
    act('Tải lên', async () => {
      const form = new FormData(event.target);
      const doc = await api(`uploads/planning/dossiers/${state.dossier.id}/documents`,
        { method: 'POST', body: form });
      event.target.reset();
      await openDossier(state.dossier.id);
      show(`Đã tải lên ${doc.file_name} (${doc.media_type}).`);
    });
  });
  $('decision-form').addEventListener('submit', (event) => {
    event.preventDefault();
    act('Lưu quyết định', async () => {
      const body = fields(event.target);
      if (body.document_id) body.document_id = Number(body.document_id);
      renderDossier(await api(`planning/manage/dossiers/${state.dossier.id}/decision`, json('PUT', body)));
      show('Đã lưu quyết định phê duyệt.');
    });
  });
  $('status-form').addEventListener('submit', (event) => {
    event.preventDefault();
    act('Đổi trạng thái', async () => {
      const d = await api(`planning/manage/dossiers/${state.dossier.id}/status`,
        json('POST', fields(event.target)));
      renderDossier(d);
      await loadDossiers(d.id);
      show(`Trạng thái mới: ${d.status_title.vi}.`);
    });
  });
  session.addEventListener('change', (event) => {
    if (event.detail.reason !== 'signed-in') {
      $('work').hidden = true;
      $('signin-form').hidden = false;
      show('Phiên đăng nhập đã kết thúc; hãy đăng nhập lại.');
    }
  });
}

wire();
state.ready = true;
show('Đăng nhập bằng tài khoản cán bộ GIS để quản lý hồ sơ quy hoạch.');
