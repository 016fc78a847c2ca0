// The list of generated reports with what makes them checkable: the data versions read, who
// generated them and when, each file's SHA-256; "Kiểm tra" regenerates one and compares.
import { Session } from '../../map/assets/session.js';

const root = new URL('../../', import.meta.url);
const session = new Session(root);
const byId = (id) => document.getElementById(id);
window.iocgis = { ready: false, errors: [], rows: 0 };

function cell(row, text) {
  const td = document.createElement('td');
  if (text instanceof Node) td.append(text); else td.textContent = text;
  row.append(td);
  return td;
}

async function download(href, name) {
  const response = await session.fetch(href);
  const url = URL.createObjectURL(await response.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  URL.revokeObjectURL(url);
}

async function load() {
  const response = await session.fetch(new URL('reports', root));
  const body = await response.json();
  byId('records').tBodies[0].replaceChildren(...body.reports.map((r) => {
    const row = document.createElement('tr');
    cell(row, String(r.id));
    cell(row, r.title_vi);
    cell(row, r.period);
    cell(row, r.area);
    cell(row, r.generated_by);
    cell(row, r.generated_at);
    cell(row, Object.entries(r.versions).map(([k, v]) => `${k}@${v}`).join(' '));
    cell(row, Object.entries(r.outputs).map(([k, v]) => `${k}: ${v.sha256}`).join('\n'));
    const files = document.createElement('span');
    for (const [fmt, href] of Object.entries(r.links)) {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = fmt.toUpperCase();
      button.addEventListener('click', () => download(href, `${r.definition}_${r.period}.${fmt}`));
      files.append(button, ' ');
    }
    cell(row, files);
    const check = document.createElement('button');
    check.type = 'button';
    check.textContent = 'Kiểm tra · Verify';
    check.addEventListener('click', async () => {
      const answer = await session.fetch(new URL(`reports/${r.id}/regenerate`, root), { method: 'POST' });
      byId('check').textContent = JSON.stringify(await answer.json(), null, 1);
    });
    cell(row, check);
    return row;
  }));
  window.iocgis.rows = body.reports.length;
  window.iocgis.ready = true;
}

byId('sign-in').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    await session.signIn(byId('username').value, byId('password').value, byId('totp').value || undefined);
    byId('sign-in').hidden = true;
    byId('who').hidden = false;
    byId('who').textContent = session.account.name;
    await load();
  } catch (error) {
    if (error.code === 'MfaRequired') byId('totp-row').hidden = false;
    byId('sign-in-error').textContent = error.message;
    byId('sign-in-error').hidden = false;
    window.iocgis.errors.push(error.message);
  }
});
