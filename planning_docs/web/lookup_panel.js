// The planning lookup panel of the map page (/map): click a parcel and read what the plans in
// force say there — the zones with their land use and limits, the parcel's share in each, the
// approving decision (with its file when the caller may read it), pending adjustments — and
// open the printable sheet, and overlay a plan's georeferenced scan (its map tiles as a raster
// layer). It asks GET /planning/lookup as the signed-in caller (session.js), so the access plan
// decides what it shows, scans included (the tiles are asked with the same credentials, and
// every overlay is removed when the caller changes); nothing builds HTML from text.

const number = new Intl.NumberFormat('vi-VN', { maximumFractionDigits: 2 });

function element(tag, text = '', className = '') {
  const made = document.createElement(tag);
  if (text) made.textContent = text;
  if (className) made.className = className;
  return made;
}

function row(label, value) {
  const tr = element('tr');
  tr.append(element('th', label), element('td', value));
  return tr;
}

function shown(value, unit = '') {
  return value === null || value === undefined ? '–' : `${number.format(value)}${unit}`;
}

const SCAN_PREFIX = 'planning-scan-';

export class PlanningPanel {
  constructor(panel, session, root) {
    this.panel = panel;
    this.session = session;
    this.root = root;
    this.map = null;  // set by attach() once the map exists
    this.scans = new Map();  // document id -> the scan shown over the map
    this.asked = 0;  // the latest click wins when answers arrive out of order
    session.addEventListener('change', () => this.hide());
  }

  attach(map) {
    this.map = map;
    // A new theme is a new style: the scans shown are drawn again over it.
    map.on('style.load', () => { for (const scan of this.scans.values()) this.drawScan(scan); });
  }

  hide() {
    this.asked += 1;
    this.panel.hidden = true;
    this.panel.replaceChildren();
    for (const id of [...this.scans.keys()]) this.removeScan(id);
  }

  // --- scans over the map ---------------------------------------------------------------------

  drawScan(scan) {
    const id = `${SCAN_PREFIX}${scan.id}`;
    if (!this.map || this.map.getLayer(id)) return;
    if (!this.map.getSource(id)) {
      this.map.addSource(id, { type: 'raster', tileSize: 256,
        url: new URL(scan.tilejson.replace(/^\//, ''), this.root).href });
    }
    // Under the first label, over the fills: the zones' lines and names stay readable.
    const labels = this.map.getStyle().layers.find((layer) => layer.type === 'symbol');
    this.map.addLayer({ id, type: 'raster', source: id, paint: { 'raster-opacity': 0.8 } },
      labels && labels.id);
  }

  removeScan(documentId) {
    const id = `${SCAN_PREFIX}${documentId}`;
    this.scans.delete(documentId);
    if (!this.map) return;
    if (this.map.getLayer(id)) this.map.removeLayer(id);
    if (this.map.getSource(id)) this.map.removeSource(id);
  }

  scanButton(scan) {
    const button = element('button', '', 'planning-scan');
    button.type = 'button';
    button.dataset.document = String(scan.id);
    const label = () => {
      const shown = this.scans.has(scan.id);
      button.textContent = `${shown ? 'Ẩn' : 'Hiện'} bản đồ quét: ${scan.title}`;
      button.title = shown ? 'Hide the scan' : 'Show the scan over the map';
      button.setAttribute('aria-pressed', String(shown));
    };
    button.addEventListener('click', () => {
      if (this.scans.has(scan.id)) this.removeScan(scan.id);
      else {
        this.scans.set(scan.id, scan);
        this.drawScan(scan);
      }
      label();
    });
    label();
    return button;
  }

  async show(parcelId) {
    const asked = ++this.asked;
    const url = new URL('planning/lookup', this.root);
    url.searchParams.set('parcel_id', String(parcelId));
    this.panel.replaceChildren(element('p', 'Đang tra cứu quy hoạch…'));
    this.panel.hidden = false;
    let answer;
    try {
      const response = await this.session.fetch(url);
      answer = await response.json();
      if (!response.ok) throw new Error(answer.description || `HTTP ${response.status}`);
    } catch (error) {
      if (asked !== this.asked) return;
      this.panel.replaceChildren(element('p', `Không tra cứu được quy hoạch: ${error.message}`));
      window.iocgis.planning = { error: error.message };
      return;
    }
    if (asked !== this.asked) return;
    this.draw(answer, url);
    window.iocgis.planning = answer;
  }

  draw(answer, url) {
    const close = element('button', '×');
    close.type = 'button';
    close.className = 'planning-close';
    close.setAttribute('aria-label', 'Đóng');
    close.addEventListener('click', () => this.hide());
    const parcel = answer.place.parcel || {};
    const title = element('h2', 'Thông tin quy hoạch');
    title.append(element('span', ' Planning information', 'en'));
    const where = element('p', `Thửa ${parcel.parcel_no ?? '?'}, tờ ${parcel.sheet_no ?? '?'}, `
      + `xã/phường ${parcel.commune_code ?? '?'} · ${shown(answer.place.area_m2, ' m²')} · `
      + `ngày ${answer.as_of}`);
    this.panel.replaceChildren(close, title, where);
    if (!answer.plans.length) {
      this.panel.append(element('p', 'Không có quy hoạch đã phê duyệt nào bao phủ thửa này.'));
    }
    for (const plan of answer.plans) this.panel.append(this.planBlock(plan));
    const sheet = new URL(url);
    sheet.searchParams.set('f', 'pdf');
    const link = element('a', 'Phiếu thông tin quy hoạch (PDF)', 'planning-sheet');
    link.href = sheet.href;
    link.target = '_blank';
    link.rel = 'noopener';
    this.panel.append(link);
  }

  planBlock(plan) {
    const block = element('section', '', 'planning-plan');
    block.dataset.project = plan.project_code;
    block.append(element('h3', `${plan.name || plan.project_code} (${plan.project_code})`));
    const table = element('table');
    const decision = plan.decision;
    if (decision) {
      const text = `${decision.number}${decision.date ? `, ngày ${decision.date}` : ''}`
        + `${decision.authority ? ` — ${decision.authority}` : ''}`;
      const tr = row('Quyết định', text);
      if (decision.document) {
        const file = element('a', ' (tệp)');
        file.href = new URL(decision.document.href.replace(/^\//, ''), this.root).href;
        tr.lastChild.append(file);
      }
      table.append(tr);
    }
    if (plan.newer_adjustment_pending) {
      table.append(row('Điều chỉnh', 'Có điều chỉnh quy hoạch đang chờ hiệu lực'));
    }
    for (const zone of plan.zones) {
      const use = zone.land_use ? `${zone.land_use.vi} (${zone.land_use.code})` : '–';
      const tr = row(`Ô ${zone.zone_code}`, use);
      tr.dataset.zone = zone.zone_code;
      table.append(tr, row('Hệ số SDĐ / mật độ XD', `${shown(zone.far_max)} / `
        + `${shown(zone.density_max_pct, ' %')}`),
      row('Chiều cao / số tầng', `${shown(zone.height_max_m, ' m')} / ${shown(zone.floors_max)}`),
      row('Phần diện tích thửa', zone.share === null ? '–' : `${number.format(zone.share * 100)} %`));
    }
    block.append(table);
    for (const scan of (plan.dossier && plan.dossier.scans) || []) {
      block.append(this.scanButton(scan));
    }
    return block;
  }
}
