// The built UI (dist/) in Chromium, served with the CSP of tauri.conf.json, against the TEST-ONLY fake
// backend in tests/fake-backend.js. Fails on any console error, page error or CSP violation.
// Screenshots: ../target/ui-screenshots/. Run: npm run test:e2e (builds first).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const ui = resolve(here, '..');
const root = resolve(ui, '..');
const dist = join(ui, 'dist');
const shots = join(root, 'target', 'ui-screenshots');
mkdirSync(shots, { recursive: true });

const PHOTO = [
  '/work/shared/fixtures/photos/gps/DSCN0010.jpg',
  join(root, '..', 'shared', 'fixtures', 'photos', 'gps', 'DSCN0010.jpg'),
  join(root, 'assets', 'demo-photos', 'DSCN0010.jpg'),
].find((p) => existsSync(p));
assert.ok(PHOTO, 'fixture photo DSCN0010.jpg not found');
const PHOTO_GPS = { lat: 43.4674483, lon: 11.8851267, altitude_m: null }; // its EXIF position (Italy)

// --- the CSP header, exactly as tauri.conf.json declares it --------------------------------------
const conf = JSON.parse(readFileSync(join(root, 'tauri.conf.json'), 'utf8'));
const csp = Object.entries(conf.app.security.csp)
  .map(([k, v]) => `${k} ${v}`)
  .join('; ');

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png', '.json': 'application/json' };
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  let file = normalize(join(dist, decodeURIComponent(url.pathname)));
  if (!file.startsWith(dist) || !existsSync(file) || url.pathname === '/') file = join(dist, 'index.html');
  res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Security-Policy': csp });
  res.end(readFileSync(file));
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}/`;

const taxonomy = JSON.parse(readFileSync(join(root, 'assets', 'taxonomy.json'), 'utf8'));
const photoBytes = readFileSync(PHOTO);
const fake = readFileSync(join(here, 'fake-backend.js'), 'utf8');
const initScript = (role) =>
  `window.__FAKE_CONFIG__ = ${JSON.stringify({ taxonomy, password: 'secret', role, exif: { [photoBytes.length]: PHOTO_GPS } })};\n${fake}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});

const problems = [];
let step = 'start';
async function newPage(viewport, { role = 'inspector', geo = true } = {}) {
  const ctx = await browser.newContext({
    viewport,
    deviceScaleFactor: 1,
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    ...(geo ? { permissions: ['geolocation'], geolocation: { latitude: 30.2741, longitude: 120.1712, accuracy: 12 } } : {}),
  });
  const page = await ctx.newPage();
  await page.addInitScript(initScript(role));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`[${step}] console.${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`[${step}] page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`[${step}] request failed: ${r.url()} ${r.failure()?.errorText}`));
  return { ctx, page };
}
const tid = (page, id) => page.getByTestId(id);

async function shot(page, name) {
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: false });
}
async function noOverflow(page, what) {
  const { sw, cw } = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth }));
  assert.ok(sw <= cw, `${what}: content is ${sw}px wide in a ${cw}px viewport (horizontal overflow)`);
}
async function checkCsp(page) {
  const v = await page.evaluate(() => window.__cspViolations);
  for (const x of v) problems.push(`[${step}] CSP violation: ${x}`);
}

async function login(page, { password = 'secret' } = {}) {
  await tid(page, 'login-username').fill('wang');
  await tid(page, 'login-password').fill(password);
  await tid(page, 'login-submit').click();
}

let failed = false;
try {
  // ------------------------------------------------------------------ phone, 390×844
  const phone = { width: 390, height: 844 };
  const { ctx, page } = await newPage(phone);
  step = 'login';
  await page.goto(base);
  await tid(page, 'login-server').waitFor();
  assert.equal(await tid(page, 'login-server').inputValue(), 'http://127.0.0.1:8600');
  await tid(page, 'status-bar').waitFor();
  assert.match(await tid(page, 'status-online').innerText(), /离线/);
  await shot(page, 'phone-01-login-zh');
  await noOverflow(page, 'login');

  await login(page, { password: 'nope' });
  await tid(page, 'login-error').waitFor();
  assert.match(await tid(page, 'login-error').innerText(), /用户名或密码不正确/);
  await shot(page, 'phone-02-login-error');

  await login(page);
  await tid(page, 'finding-list').waitFor();
  await tid(page, 'capture-button').waitFor();
  assert.match(await tid(page, 'status-online').innerText(), /在线/);
  await shot(page, 'phone-03-today-empty');
  await noOverflow(page, 'today (empty)');

  step = 'capture';
  await tid(page, 'capture-button').click();
  await tid(page, 'photo-input').setInputFiles(PHOTO);
  await tid(page, 'photo-thumb').first().waitFor();
  await page.waitForFunction(() => {
    const img = document.querySelector('img[data-testid="photo-thumb"]');
    return img instanceof HTMLImageElement && img.complete && img.naturalWidth > 0;
  });
  // GPS (granted, ±12 m) wins over the photo's EXIF position
  await page.waitForSelector('[data-testid="position-summary"][data-source="device_gps"]');
  assert.match(await tid(page, 'position-summary').innerText(), /±12 米/);
  await shot(page, 'phone-04-capture-photo');
  await noOverflow(page, 'capture');

  // save without a category: the engine's message shows next to the form, nothing is lost
  await tid(page, 'description').fill('消防通道被电动车堵塞');
  await tid(page, 'save-finding').click();
  await page.waitForSelector('[data-testid="form-error"][data-code="finding.category_required"]');
  assert.match(await tid(page, 'form-error').innerText(), /请选择问题类别/);
  assert.equal(await tid(page, 'description').inputValue(), '消防通道被电动车堵塞');

  await tid(page, 'category-fire_safety').click();
  await tid(page, 'subcategory-blocked_fire_lane').click();
  // a typed latitude out of range: the engine refuses, the form keeps everything
  await tid(page, 'lat-input').fill('95');
  await tid(page, 'lon-input').fill('120.17');
  await page.waitForSelector('[data-testid="position-summary"][data-source="typed"]');
  await tid(page, 'save-finding').click();
  await page.waitForSelector('[data-testid="form-error"][data-code="position.latitude_out_of_range"]');
  assert.equal(await tid(page, 'description').inputValue(), '消防通道被电动车堵塞');
  assert.equal(await tid(page, 'photo-thumb').count(), 1);
  await shot(page, 'phone-05-capture-error');
  // tap the map instead (Hubin, inside the demo polygons)
  await tid(page, 'map-picker').click({ position: { x: 250, y: 120 } });
  await page.waitForSelector('[data-testid="position-summary"][data-source="map"]');
  await tid(page, 'use-gps').click();
  await tid(page, 'lat-input').fill('');
  await tid(page, 'lon-input').fill('');
  await page.waitForSelector('[data-testid="position-summary"][data-source="device_gps"]');
  await shot(page, 'phone-06-capture-ready');
  await tid(page, 'save-finding').click();

  step = 'today';
  await tid(page, 'finding-item').first().waitFor();
  assert.equal(await tid(page, 'finding-item').count(), 1);
  const item = tid(page, 'finding-item').first();
  assert.match(await item.innerText(), /消防安全 · 消防通道堵塞/);
  assert.match(await item.innerText(), /仅本机/);
  assert.match(await tid(page, 'status-pending').innerText(), /1/);
  await page.waitForFunction(() => {
    const img = document.querySelector('[data-testid="finding-item"] img');
    return img instanceof HTMLImageElement && img.complete && img.naturalWidth > 0;
  });
  await shot(page, 'phone-07-today-one');
  await noOverflow(page, 'today');

  step = 'detail';
  await item.getByRole('button').first().click();
  await tid(page, 'finding-detail').waitFor();
  await page.waitForSelector('[data-testid="finding-detail"] img[data-testid="detail-photo"]');
  assert.match(await tid(page, 'detail-position').innerText(), /手机定位/);
  await shot(page, 'phone-08-detail');
  await noOverflow(page, 'detail');
  await tid(page, 'back').click();

  step = 'second finding: recent shortcut, draft survives a reload';
  await tid(page, 'capture-button').click();
  await tid(page, 'photo-input').setInputFiles(join(dirname(PHOTO), 'DSCN0012.jpg'));
  await tid(page, 'photo-thumb').first().waitFor();
  await tid(page, 'recent-fire_safety-blocked_fire_lane').waitFor();
  await tid(page, 'category-living_environment').click();
  await tid(page, 'subcategory-piled_goods').click();
  await tid(page, 'description').fill('楼道堆放杂物');
  await page.reload();
  await tid(page, 'capture-button').click();
  assert.equal(await tid(page, 'description').inputValue(), '楼道堆放杂物');
  assert.equal(await tid(page, 'photo-thumb').count(), 1);
  assert.equal(await tid(page, 'subcategory-piled_goods').getAttribute('aria-pressed'), 'true');
  await tid(page, 'save-finding').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="finding-item"]').length === 2);
  assert.equal(await page.evaluate(() => localStorage.getItem('xuncha.draft.v1')), null);

  step = 'sync and submit';
  await tid(page, 'sync-now').click();
  await page.waitForFunction(() => /已全部上传/.test(document.querySelector('[data-testid="status-pending"]')?.textContent ?? ''));
  await tid(page, 'submit-day').click();
  await tid(page, 'submit-report').waitFor();
  assert.match(await tid(page, 'submit-report').innerText(), /已提交 2 条/);
  await shot(page, 'phone-09-submitted');

  step = 'english';
  await tid(page, 'lang-toggle').click();
  await page.waitForFunction(() => /Online/.test(document.querySelector('[data-testid="status-online"]')?.textContent ?? ''));
  assert.match(await tid(page, 'submit-day').innerText(), /Submit today's log/);
  await shot(page, 'phone-10-today-en');
  await noOverflow(page, 'today (en)');
  await tid(page, 'capture-button').click();
  await tid(page, 'photo-input').setInputFiles(PHOTO);
  await tid(page, 'photo-thumb').first().waitFor();
  await shot(page, 'phone-11-capture-en');
  await noOverflow(page, 'capture (en)');
  await tid(page, 'back').click();
  await tid(page, 'tab-team').click();
  await tid(page, 'team-list').waitFor();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="team-list"] [data-testid="finding-item"]').length === 3);
  await shot(page, 'phone-12-team-en');
  await noOverflow(page, 'team (en)');
  // the language choice is remembered
  await page.reload();
  await tid(page, 'tab-today').waitFor();
  assert.match(await tid(page, 'tab-today').innerText(), /Today/);
  await checkCsp(page);
  await ctx.close();

  // ------------------------------------------------------------------ desktop, 1280×800, team leader, no GPS
  step = 'desktop';
  const d = await newPage({ width: 1280, height: 800 }, { role: 'team_leader', geo: false });
  await d.page.goto(base);
  await shot(d.page, 'desktop-01-login');
  await login(d.page);
  await tid(d.page, 'capture-button').click();
  await tid(d.page, 'photo-input').setInputFiles(PHOTO);
  await tid(d.page, 'photo-thumb').first().waitFor();
  // no GPS here: the photo's EXIF position is used
  await d.page.waitForSelector('[data-testid="position-summary"][data-source="photo_exif"]');
  await tid(d.page, 'category-road_order').click();
  await tid(d.page, 'subcategory-illegal_parking').click();
  await shot(d.page, 'desktop-02-capture');
  await noOverflow(d.page, 'desktop capture');
  await tid(d.page, 'save-finding').click();
  await tid(d.page, 'finding-item').first().waitFor();
  await shot(d.page, 'desktop-03-today');
  await tid(d.page, 'tab-team').click();
  await d.page.waitForFunction(() => document.querySelectorAll('[data-testid="team-list"] [data-testid="finding-item"]').length === 2);
  await d.page.waitForTimeout(300);
  await shot(d.page, 'desktop-04-team');
  await noOverflow(d.page, 'desktop team');
  await checkCsp(d.page);
  await d.ctx.close();
} catch (e) {
  failed = true;
  console.error(`FAILED at step "${step}":`, e);
} finally {
  await browser.close();
  server.close();
}

if (problems.length) {
  failed = true;
  console.error('Console errors / CSP violations:\n  ' + problems.join('\n  '));
}
if (failed) process.exit(1);
console.log(`e2e: all steps passed; screenshots in ${shots}`);
