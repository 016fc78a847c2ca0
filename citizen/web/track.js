// The reporter's one-time link: the report's status and answer, and one rating per answer.
import { STATUS_NAMES as NAMES } from './names.js';

const byId = (id) => document.getElementById(id);
const state = { ready: false, errors: [], report: null };
window.citizen = state;
const here = location.pathname;

function show(report) {
  state.report = report;
  byId('code').textContent = report.report_code;
  byId('status').textContent = NAMES[report.status] || report.status;
  byId('unit').textContent = report.unit || '';
  byId('due').textContent = report.due_at ? new Date(report.due_at).toLocaleDateString('vi-VN') : '';
  byId('answer-row').hidden = !report.answer;
  byId('answer').textContent = report.answer || '';
  const form = byId('rate');
  form.hidden = !report.can_rate;
  const stars = byId('stars');
  stars.replaceChildren();
  for (let value = 1; value <= report.rating_scale; value += 1) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = `${value}★`;
    button.dataset.rating = value;
    button.addEventListener('click', () => rate(value));
    stars.append(button);
  }
}

async function rate(value) {
  const response = await fetch(`${here}/rating`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ rating: value, comment: byId('comment').value }) });
  const body = await response.json();
  if (!response.ok) {
    byId('error').textContent = body.description || 'Không gửi được';
    byId('error').hidden = false;
    return;
  }
  show(body);
}

fetch(`${here}?f=json`).then(async (response) => {
  const body = await response.json();
  if (!response.ok) throw new Error(body.description || response.status);
  show(body);
  state.ready = true;
}).catch((error) => {
  state.errors.push(String(error));
  byId('error').textContent = 'Đường dẫn không đúng. (Unknown link)';
  byId('error').hidden = false;
});
