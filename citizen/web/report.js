// The public report form: a place on the map (tap, or the phone's position), a category, a
// text, photos and an optional contact, sent as one multipart request. No inline script: the
// page's Content-Security-Policy allows scripts from this application only.
import { Map, Marker, NavigationControl } from '/map/assets/maplibre-gl.mjs';

const byId = (id) => document.getElementById(id);
const state = { ready: false, mapReady: false, errors: [], receipt: null, place: null };
window.citizen = state;
const PROVINCE = [107.05, 11.35];  // the province's middle; the map opens there

function fail(message) {
  const box = byId('error');
  box.textContent = message;
  box.hidden = false;
}

function choose(lon, lat, source) {
  state.place = { lon, lat };
  byId('lon').value = lon.toFixed(7);
  byId('lat').value = lat.toFixed(7);
  byId('location_source').value = source;
  byId('where').textContent = `Đã chọn: ${lat.toFixed(5)}, ${lon.toFixed(5)}`;
  marker.setLngLat([lon, lat]).addTo(map);
}

const map = new Map({ container: 'map', style: '/styles/basemap.json', center: PROVINCE,
                      zoom: 8, fadeDuration: 0, attributionControl: false });
map.addControl(new NavigationControl({ showCompass: false }));
const marker = new Marker({ color: '#c62828' });
map.on('click', (event) => choose(event.lngLat.lng, event.lngLat.lat, 'map'));
map.on('load', () => { state.mapReady = true; });
map.on('error', (event) => console.warn('map', event.error && event.error.message));

byId('locate').addEventListener('click', () => {
  if (!navigator.geolocation) { fail('Trình duyệt không cho biết vị trí.'); return; }
  navigator.geolocation.getCurrentPosition((position) => {
    const { longitude, latitude } = position.coords;
    choose(longitude, latitude, 'device');
    map.jumpTo({ center: [longitude, latitude], zoom: 16 });
  }, () => fail('Không lấy được vị trí; hãy chạm vào bản đồ. (Position unavailable)'),
  { enableHighAccuracy: true, timeout: 15000 });
});

byId('photos').addEventListener('change', () => {
  const previews = byId('previews');
  previews.replaceChildren();
  for (const file of [...byId('photos').files].slice(0, 3)) {
    const img = document.createElement('img');
    img.alt = file.name;
    img.src = URL.createObjectURL(file);
    previews.append(img);
  }
});

async function loadCategories() {
  const response = await fetch('/open311/v2/services.json');
  const services = await response.json();
  const select = byId('category');
  for (const service of services) {
    const option = document.createElement('option');
    option.value = service.service_code;
    option.textContent = `${service.service_name} (${service.group})`;
    select.append(option);
  }
}

byId('report').addEventListener('submit', async (event) => {
  event.preventDefault();
  byId('error').hidden = true;
  if (!state.place) { fail('Hãy chọn vị trí trên bản đồ. (Choose the place on the map)'); return; }
  if (byId('text').value.trim().length < 10) {
    fail('Hãy mô tả sự việc (ít nhất 10 ký tự). (Describe it: 10 characters or more)');
    return;
  }
  const files = [...byId('photos').files];
  if (files.length > 3) { fail('Tối đa 3 ảnh. (Up to 3 photos)'); return; }
  const body = new FormData(byId('report'));
  body.delete('photos');
  for (const file of files) body.append('photos', file, file.name);
  byId('send').disabled = true;
  try {
    const response = await fetch('/uploads/citizen/reports', { method: 'POST', body });
    const answer = await response.json();
    if (!response.ok) {
      fail(`${answer.description || 'Không gửi được'}${answer.hint ? ' – ' + answer.hint : ''}`);
      return;
    }
    state.receipt = answer;
    byId('receipt-code').textContent = answer.report_code;
    byId('receipt-unit').textContent = answer.unit;
    byId('receipt-due').textContent = new Date(answer.due_at).toLocaleDateString('vi-VN');
    const link = byId('receipt-link');
    link.href = answer.tracking_url;
    link.textContent = answer.tracking_url;
    byId('report').hidden = true;
    byId('receipt').hidden = false;
    window.scrollTo(0, 0);
  } catch (error) {
    fail('Không gửi được; hãy thử lại. (Could not send; retry)');
    state.errors.push(String(error));
  } finally {
    byId('send').disabled = false;
  }
});

loadCategories().then(() => { state.ready = true; },
                      (error) => { state.errors.push(String(error)); });
