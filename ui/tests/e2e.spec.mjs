// The built UI (dist/) in Chromium, served with the CSP of tauri.conf.json, against the TEST-ONLY fake
// backend in tests/fake-backend.js. Fails on any console error, page error or CSP violation.
// Screenshots: ../target/ui-screenshots/. Run: npm run test:e2e (builds first).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
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
async function newPage(viewport, { role = 'inspector', geo = true, touch = false } = {}) {
  const ctx = await browser.newContext({
    viewport,
    hasTouch: touch,
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

// --- photo annotation helpers -----------------------------------------------------------------
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');
/** A command of the (fake) backend, called from the page. */
const invoke = (page, cmd, args) => page.evaluate(([c, a]) => window.__TAURI_INTERNALS__.invoke(c, a), [cmd, args]);
/** A stored photo: SHA-256 of its bytes, its size, and the RGB at some image points. */
const photoFacts = (page, hash, points = []) =>
  page.evaluate(
    async ([h, pts]) => {
      const buf = await window.__TAURI_INTERNALS__.invoke('photo', { hash: h, size: 'full' });
      const sha = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', buf)), (b) => b.toString(16).padStart(2, '0')).join('');
      const bmp = await createImageBitmap(new Blob([buf], { type: 'image/jpeg' }));
      const c = new OffscreenCanvas(bmp.width, bmp.height);
      const g = c.getContext('2d', { willReadFrequently: true });
      g.drawImage(bmp, 0, 0);
      const rgb = pts.map(([x, y]) => Array.from(g.getImageData(Math.round(x), Math.round(y), 1, 1).data.slice(0, 3)));
      return { sha, width: bmp.width, height: bmp.height, rgb };
    },
    [hash, points],
  );
/** Where the editor shows the photo: image px ↔ page px (the same contain-fit as lib/annotate.ts). */
async function editorFit(page, imgW, imgH) {
  await page.waitForSelector('[data-testid="annotate-canvas"][data-ready="true"]');
  const b = await tid(page, 'annotate-canvas').boundingBox();
  const scale = Math.min(b.width / imgW, b.height / imgH);
  const ox = b.x + (b.width - imgW * scale) / 2;
  const oy = b.y + (b.height - imgH * scale) / 2;
  return { scale, toPage: ([x, y]) => ({ x: ox + x * scale, y: oy + y * scale }) };
}
async function mouseDrag(page, a, b, steps = 8) {
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  await page.mouse.move(b.x, b.y, { steps });
  await page.mouse.up();
}
/** A finger drag: real touch events, which the browser turns into pointer events of type "touch". */
async function touchDrag(cdp, a, b, steps = 8) {
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ x: a.x, y: a.y }] });
  for (let i = 1; i <= steps; i++) {
    const x = a.x + ((b.x - a.x) * i) / steps;
    const y = a.y + ((b.y - a.y) * i) / steps;
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ x, y }] });
  }
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
}
const marksShown = (page) => tid(page, 'annotate-canvas').getAttribute('data-marks').then(Number);
const isRed = ([r, g, b]) => r > 180 && g < 100 && b < 100;
const isYellow = ([r, g, b]) => r > 180 && g > 170 && b < 110;
const isWhite = ([r, g, b]) => r > 200 && g > 200 && b > 200;

let failed = false;
try {
  // ------------------------------------------------------------------ phone, 390×844
  const phone = { width: 390, height: 844 };
  const { ctx, page } = await newPage(phone, { touch: true });
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

  step = 'annotate in detail: arrow (finger), circle, text; undo; save as a new photo';
  {
    const fid = await tid(page, 'finding-detail').getAttribute('data-id');
    const before = await invoke(page, 'get_finding', { id: fid });
    assert.equal(before.photos.length, 1);
    const original = before.photos[0].hash;
    assert.equal(original, sha256(photoBytes), 'the stored original is the fixture photo');
    const [W, H] = [640, 480];

    await tid(page, 'annotate-open').first().click();
    await tid(page, 'annotate-editor').waitFor();
    assert.match(await tid(page, 'annotate-original-kept').innerText(), /原图已保留/);
    const fit = await editorFit(page, W, H);
    assert.equal(await tid(page, 'annotate-tool-arrow').getAttribute('aria-pressed'), 'true');
    assert.equal(await tid(page, 'annotate-color-red').getAttribute('aria-pressed'), 'true');

    // an arrow, drawn with a finger (red, the default), from bottom-left up to the right
    const cdp = await ctx.newCDPSession(page);
    const A0 = [90, 400];
    const A1 = [330, 200];
    await touchDrag(cdp, fit.toPage(A0), fit.toPage(A1));
    await page.waitForFunction(() => document.querySelector('[data-testid="annotate-canvas"]')?.getAttribute('data-marks') === '1');
    // a tap is not a mark
    await page.mouse.click(fit.toPage([500, 100]).x, fit.toPage([500, 100]).y);
    assert.equal(await marksShown(page), 1);

    // a yellow circle, with the mouse
    await tid(page, 'annotate-tool-circle').click();
    await tid(page, 'annotate-color-yellow').click();
    const C0 = [380, 120];
    const C1 = [600, 300];
    await mouseDrag(page, fit.toPage(C0), fit.toPage(C1));
    assert.equal(await marksShown(page), 2);

    // one more arrow, then undo it
    await tid(page, 'annotate-tool-arrow').click();
    await mouseDrag(page, fit.toPage([100, 100]), fit.toPage([250, 60]));
    assert.equal(await marksShown(page), 3);
    await tid(page, 'annotate-undo').click();
    assert.equal(await marksShown(page), 2);

    // white Chinese text: tap where it goes, type, Enter
    await tid(page, 'annotate-tool-text').click();
    await tid(page, 'annotate-color-white').click();
    const T = [200, 60];
    await page.mouse.click(fit.toPage(T).x, fit.toPage(T).y);
    await assert.doesNotReject(page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'annotate-text-input'));
    await tid(page, 'annotate-text-input').fill('消防通道被占');
    await tid(page, 'annotate-text-input').press('Enter');
    assert.equal(await marksShown(page), 3);
    assert.equal(await tid(page, 'annotate-text-input').inputValue(), '');
    await noOverflow(page, 'annotation editor');
    // every control is a big enough target
    for (const id of ['annotate-tool-arrow', 'annotate-tool-circle', 'annotate-tool-text', 'annotate-color-red', 'annotate-color-yellow',
      'annotate-color-white', 'annotate-undo', 'annotate-save', 'annotate-cancel', 'annotate-text-input']) {
      const b = await tid(page, id).boundingBox();
      assert.ok(b.width >= 44 && b.height >= 44, `${id} is ${b.width}×${b.height}, smaller than 44 px`);
    }
    await shot(page, 'phone-08b-annotate');

    await tid(page, 'annotate-save').click();
    await tid(page, 'annotate-editor').waitFor({ state: 'detached' });
    await page.waitForFunction(() => {
      const imgs = document.querySelectorAll('img[data-testid="detail-photo"]');
      return imgs.length === 2 && [...imgs].every((i) => i.complete && i.naturalWidth > 0);
    });
    assert.match(await tid(page, 'notice').innerText(), /原图已保留/);
    const after = await invoke(page, 'get_finding', { id: fid });
    assert.equal(after.photos.length, 2, 'the finding has the original and the annotated copy');
    assert.equal(after.photos[0].hash, original, 'the original is still first, same hash');
    assert.notEqual(after.photos[1].hash, original, 'the annotated copy is a new photo');

    const mid = (a, b, k = 0.4) => [a[0] + (b[0] - a[0]) * k, a[1] + (b[1] - a[1]) * k];
    const probes = [
      mid(A0, A1), // on the arrow's shaft
      [(C0[0] + C1[0]) / 2, C1[1]], // bottom of the ellipse
      [30, 30], // far from every mark
    ];
    const orig = await photoFacts(page, original, probes);
    assert.equal(orig.sha, original, 'the original bytes are unchanged');
    const ann = await photoFacts(page, after.photos[1].hash, probes);
    assert.deepEqual([ann.width, ann.height], [orig.width, orig.height], 'annotated at the full stored resolution');
    assert.ok(isRed(ann.rgb[0]), `arrow pixel ${ann.rgb[0]} is not red`);
    assert.ok(isYellow(ann.rgb[1]), `ellipse pixel ${ann.rgb[1]} is not yellow`);
    assert.ok(!isRed(orig.rgb[0]) && !isYellow(orig.rgb[1]), 'the marks are not in the original');
    assert.ok(orig.rgb[2].every((v, i) => Math.abs(v - ann.rgb[2][i]) < 40), 'the rest of the photo is the same');
    await shot(page, 'phone-08c-detail-annotated');
  }
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
  // the editor in English: strings fit; cancel with no marks just closes it
  await tid(page, 'annotate-open').first().click();
  const efit = await editorFit(page, 640, 480);
  assert.match(await tid(page, 'annotate-original-kept').innerText(), /Original kept/);
  await mouseDrag(page, efit.toPage([120, 380]), efit.toPage([330, 220]));
  await tid(page, 'annotate-tool-text').click();
  await tid(page, 'annotate-text-input').fill('Fire lane blocked');
  await shot(page, 'phone-11b-annotate-en');
  await noOverflow(page, 'annotation editor (en)');
  await tid(page, 'annotate-cancel').click();
  await tid(page, 'annotate-discard').waitFor();
  await page.keyboard.press('Escape'); // closes the question, keeps the marks
  assert.equal(await marksShown(page), 1);
  await tid(page, 'annotate-clear').click();
  assert.equal(await marksShown(page), 0);
  await tid(page, 'annotate-cancel').click();
  await tid(page, 'annotate-editor').waitFor({ state: 'detached' });
  assert.equal(await tid(page, 'photo-thumb').count(), 1);
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

  step = 'desktop: annotate on the capture screen (cancel once, then save)';
  await tid(d.page, 'annotate-open').first().click();
  let dfit = await editorFit(d.page, 640, 480);
  await mouseDrag(d.page, dfit.toPage([100, 100]), dfit.toPage([300, 300]));
  await tid(d.page, 'annotate-cancel').click();
  await tid(d.page, 'annotate-discard').click();
  await tid(d.page, 'annotate-editor').waitFor({ state: 'detached' });
  assert.equal(await tid(d.page, 'photo-thumb').count(), 1);
  await tid(d.page, 'annotate-open').first().click();
  dfit = await editorFit(d.page, 640, 480);
  await mouseDrag(d.page, dfit.toPage([560, 80]), dfit.toPage([330, 250]));
  await tid(d.page, 'annotate-tool-text').click();
  await tid(d.page, 'annotate-text-input').fill('违停');
  await mouseDrag(d.page, dfit.toPage([300, 300]), dfit.toPage([420, 360]), 4); // drag the text into place
  await shot(d.page, 'desktop-02a-annotate');
  await noOverflow(d.page, 'desktop annotation editor');
  await tid(d.page, 'annotate-save').click(); // the text not yet added is saved too
  await tid(d.page, 'annotate-editor').waitFor({ state: 'detached' });
  await d.page.waitForFunction(() => document.querySelectorAll('[data-testid="photo-thumb"]').length === 2);
  const dOriginal = sha256(photoBytes);

  await tid(d.page, 'category-road_order').click();
  await tid(d.page, 'subcategory-illegal_parking').click();
  await shot(d.page, 'desktop-02-capture');
  await noOverflow(d.page, 'desktop capture');
  await tid(d.page, 'save-finding').click();
  await tid(d.page, 'finding-item').first().waitFor();
  {
    const [mine] = await invoke(d.page, 'list_findings', { day: null, scope: 'mine' });
    const saved = await invoke(d.page, 'get_finding', { id: mine.id });
    assert.equal(saved.photos.length, 2);
    assert.equal(saved.photos[0].hash, dOriginal);
    const facts = await photoFacts(d.page, saved.photos[1].hash, [[330 + (560 - 330) * 0.3, 250 + (80 - 250) * 0.3]]);
    assert.deepEqual([facts.width, facts.height], [640, 480]);
    assert.ok(isRed(facts.rgb[0]), `arrow pixel ${facts.rgb[0]} is not red`);
    assert.equal((await photoFacts(d.page, dOriginal)).sha, dOriginal);
  }
  await shot(d.page, 'desktop-03-today');

  step = 'desktop: a conflicting edit shows both values until the person chooses';
  {
    const [mine] = await invoke(d.page, 'list_findings', { day: null, scope: 'mine' });
    await invoke(d.page, '__test_conflict', { id: mine.id, field: 'description', yours: '本机：路口违停两辆', theirs: '另一台手机：路口违停' });
    await d.page.reload();
    await tid(d.page, 'status-conflicts').waitFor();
    assert.match(await tid(d.page, 'status-conflicts').innerText(), /1 处修改冲突/);
    await d.page.locator(`[data-testid="finding-item"][data-id="${mine.id}"]`).click();
    await tid(d.page, 'conflict').waitFor();
    assert.equal(await tid(d.page, 'conflict-yours').innerText(), '本机：路口违停两辆');
    assert.equal(await tid(d.page, 'conflict-theirs').innerText(), '另一台手机：路口违停');
    await shot(d.page, 'desktop-03b-conflict');
    await noOverflow(d.page, 'desktop conflict');
    await tid(d.page, 'conflict-keep-mine').click();
    await tid(d.page, 'conflicts').waitFor({ state: 'detached' });
    assert.equal((await invoke(d.page, 'get_finding', { id: mine.id })).description, '本机：路口违停两辆');
    await tid(d.page, 'status-conflicts').waitFor({ state: 'detached' });
    await tid(d.page, 'back').click();
  }
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
