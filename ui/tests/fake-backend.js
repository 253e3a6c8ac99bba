// TEST-ONLY fake of the Tauri IPC, injected with page.addInitScript by tests/e2e.spec.mjs. It lets the
// built UI run in a second engine (Chromium) with the commands of docs/ipc.md implemented in memory
// (kept in sessionStorage so a reload keeps the "device" state, like the real app's database).
// The real app is tested elsewhere, against the real engine.
(() => {
  const cfg = window.__FAKE_CONFIG__;
  const KEY = 'fake-backend-db';
  const emptyDb = () => ({
    session: null,
    lastServer: null,
    findings: [],
    photos: {},
    sync: { online: false, syncing: false, pending_ops: 0, pending_photos: 0, rejected_ops: 0, conflicts: 0, last_sync_at: null, last_error: null, all_synced: false },
  });
  let db;
  try {
    db = JSON.parse(sessionStorage.getItem(KEY)) || emptyDb();
  } catch {
    db = emptyDb();
  }
  const persist = () => sessionStorage.setItem(KEY, JSON.stringify(db));

  const callbacks = new Map();
  const listeners = new Map(); // eventId -> { event, handler }
  let nextId = 1;

  const err = (code, zh, en) => Promise.reject({ code, zh, en });
  const pad = (n) => String(n).padStart(2, '0');
  const localDay = (iso) => {
    const d = new Date(iso);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  };
  const b64 = (u8) => {
    let s = '';
    for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000));
    return btoa(s);
  };
  const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

  function emit(event, payload) {
    for (const [eventId, l] of listeners)
      if (l.event === event) {
        const cb = callbacks.get(l.handler);
        if (cb) cb({ event, id: eventId, payload });
      }
  }
  function recount() {
    const pending = db.findings.filter((f) => f.sync_state !== 'synced' && f.author === db.session?.user.id);
    db.sync.pending_ops = pending.length;
    db.sync.pending_photos = new Set(pending.flatMap((f) => f.photos)).size;
    db.sync.conflicts = db.findings.reduce((n, f) => n + (f.conflicts?.length ?? 0), 0);
    db.sync.all_synced =
      db.sync.pending_ops === 0 && db.sync.pending_photos === 0 && db.sync.conflicts === 0 && !!db.sync.last_sync_at;
    persist();
    emit('sync-status', { ...db.sync });
  }

  const summary = (f) => ({
    id: f.id, category: f.category, subcategory: f.subcategory, description: f.description, status: f.status,
    observed_at: f.observed_at, author_name: f.author_name, thumb: f.photos[0] ?? null, photo_count: f.photos.length,
    has_position: !!f.position, imprecise: !!f.position && f.position.accuracy_m !== null && f.position.accuracy_m > 30,
    sync_state: f.conflicts?.length ? 'conflict' : f.sync_state,
  });
  const view = (f) => ({
    ...summary(f), author: f.author, team: 't-3', team_name: '第三组', address: f.address, severity: f.severity,
    position: f.position, photos: f.photos.map((h) => ({ hash: h, present: !!db.photos[h], uploaded: f.sync_state === 'synced' })),
    sub_district: f.position && f.sync_state === 'synced' ? '湖滨街道' : null, version: f.version,
    received_at: f.sync_state === 'synced' ? f.synced_at : null, rejection: null, conflicts: f.conflicts ?? [], history: f.history,
  });

  function validate(d) {
    if (!d.category) return ['finding.category_required', '请选择问题类别。', 'Choose a category for the finding.'];
    const cat = cfg.taxonomy.categories.find((c) => c.code === d.category);
    if (!cat) return ['finding.unknown_category', `类别“${d.category}”不存在。`, `The category “${d.category}” does not exist.`];
    if (d.subcategory && !cat.subcategories.some((s) => s.code === d.subcategory))
      return ['finding.unknown_subcategory', '子类不存在。', 'No such sub-category.'];
    if ([...d.description].length > 500) return ['finding.description_too_long', '描述太长。', 'Too long.'];
    if (d.position) {
      const { lat, lon } = d.position;
      if (lat < -90 || lat > 90)
        return ['position.latitude_out_of_range', `纬度 ${lat} 超出范围（应在 -90 到 90 之间），请检查或在地图上重新选点。`,
          `Latitude ${lat} is out of range (it must be between -90 and 90). Check it or pick the point on the map.`];
      if (lon < -180 || lon > 180)
        return ['position.longitude_out_of_range', `经度 ${lon} 超出范围。`, `Longitude ${lon} is out of range.`];
    }
    return null;
  }

  const commands = {
    app_state: () => ({ session: db.session, device_id: 'dev-fake', last_server_url: db.lastServer, sync: { ...db.sync } }),
    login: ({ serverUrl, username, password }) => {
      if (password !== cfg.password)
        return err('auth.bad_credentials', '用户名或密码不正确。', 'Wrong username or password.');
      db.lastServer = serverUrl;
      db.session = {
        user: { id: 'u-wang', username, display_name: '王小明', role: cfg.role, team: { id: 't-3', name: '第三组' },
          district: { id: 'd-1', zh: '上城区', en: 'Shangcheng District' } },
        server_url: serverUrl, offline: false,
      };
      db.sync.online = true;
      if (!db.findings.some((f) => f.author === 'u-li')) {
        const t = new Date();
        t.setHours(9, 12, 0, 0);
        db.findings.push({
          id: 'f-li-1', author: 'u-li', author_name: '李华', category: 'road_order', subcategory: 'street_vending',
          description: '清波街早市占道经营', address: '', severity: 'normal', status: 'submitted', sync_state: 'synced',
          observed_at: t.toISOString(), photos: [], position: { lat: 30.2601, lon: 120.2011, accuracy_m: 6, source: 'device_gps' },
          version: 1, synced_at: t.toISOString(), history: [{ at: t.toISOString(), actor: '李华', kind: 'created', detail: null }],
        });
      }
      recount();
      return db.session;
    },
    logout: () => {
      db.session = null;
      persist();
      return null;
    },
    taxonomy: () => cfg.taxonomy,
    ingest_photo: async (bytes) => {
      if (!(bytes instanceof Uint8Array)) return err('photo.bad_request', '照片数据无效。', 'Bad photo data.');
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
      const hash = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
      db.photos[hash] = b64(bytes);
      persist();
      const known = cfg.exif[bytes.length] ?? null;
      return { hash, width: 640, height: 480, bytes: bytes.length, gps: known, taken_at: null, orientation: 1, make: 'NIKON', model: 'COOLPIX P6000' };
    },
    save_finding: ({ id, draft }) => {
      if (!db.session) return err('auth.signed_out', '请先登录。', 'Sign in first.');
      const bad = validate(draft);
      if (bad) return err(...bad);
      const now = new Date().toISOString();
      let f = id ? db.findings.find((x) => x.id === id) : null;
      if (id && !f) return err('finding.not_found', '找不到这条问题。', 'No such finding.');
      if (!f) {
        f = { id: crypto.randomUUID(), author: db.session.user.id, author_name: db.session.user.display_name, status: 'recorded',
          version: 0, history: [{ at: now, actor: db.session.user.display_name, kind: 'created', detail: null }] };
        db.findings.unshift(f);
      } else {
        f.history.push({ at: now, actor: db.session.user.display_name, kind: 'edited', detail: null });
      }
      Object.assign(f, { ...draft, sync_state: f.sync_state === 'synced' ? 'pending' : f.sync_state ?? 'local', version: f.version + 1 });
      f.sync_state = f.sync_state || 'local';
      recount();
      return view(f);
    },
    submit_findings: ({ ids }) => {
      const report = { submitted: [], refused: [] };
      for (const id of ids) {
        const f = db.findings.find((x) => x.id === id);
        if (!f) continue;
        if (!f.position) {
          report.refused.push({ id, error: { code: 'finding.position_required', zh: '提交前需要位置。', en: 'A position is needed before submitting.' } });
          continue;
        }
        f.status = 'submitted';
        f.sync_state = f.sync_state === 'synced' ? 'pending' : f.sync_state;
        f.history.push({ at: new Date().toISOString(), actor: db.session.user.display_name, kind: 'submit', detail: null });
        report.submitted.push(id);
      }
      recount();
      return report;
    },
    list_findings: ({ day, scope }) =>
      db.findings
        .filter((f) => (scope === 'mine' ? f.author === db.session?.user.id : true))
        .filter((f) => !day || localDay(f.observed_at) === day)
        .sort((a, b) => b.observed_at.localeCompare(a.observed_at))
        .map(summary),
    get_finding: ({ id }) => {
      const f = db.findings.find((x) => x.id === id);
      return f ? view(f) : err('finding.not_found', '找不到这条问题。', 'No such finding.');
    },
    photo: ({ hash }) => {
      const s = db.photos[hash];
      if (!s) return err('photo.not_found', '照片不在本机。', 'The photo is not on this device.');
      const u8 = unb64(s);
      return u8.buffer.slice(u8.byteOffset, u8.byteOffset + u8.byteLength);
    },
    sync_now: async () => {
      db.sync.syncing = true;
      emit('sync-status', { ...db.sync });
      await new Promise((r) => setTimeout(r, 150));
      const now = new Date().toISOString();
      for (const f of db.findings) if (f.sync_state !== 'synced') Object.assign(f, { sync_state: 'synced', synced_at: now });
      Object.assign(db.sync, { syncing: false, online: true, last_sync_at: now, last_error: null });
      recount();
      return { ...db.sync };
    },
    sync_status: () => ({ ...db.sync }),
    resolve_conflict: ({ id, field, keep }) => {
      const f = db.findings.find((x) => x.id === id);
      const c = f?.conflicts?.find((x) => x.field === field);
      if (!c) return err('conflict.not_found', '这处冲突已经处理过了，请刷新。', 'This conflict has already been resolved. Refresh.');
      f[field] = keep === 'mine' ? c.yours : c.theirs;
      f.conflicts = f.conflicts.filter((x) => x !== c);
      if (keep === 'mine') f.sync_state = 'pending';
      recount();
      return view(f);
    },
    // TEST-ONLY: what a sync that met a stale edit leaves behind (the server kept `theirs`).
    __test_conflict: ({ id, field, yours, theirs }) => {
      const f = db.findings.find((x) => x.id === id);
      f[field] = theirs;
      f.conflicts = [...(f.conflicts ?? []), { field, yours, theirs, at: new Date().toISOString() }];
      recount();
      return null;
    },
    'plugin:event|listen': ({ event, handler }) => {
      const id = nextId++;
      listeners.set(id, { event, handler });
      return id;
    },
    'plugin:event|unlisten': ({ eventId }) => {
      listeners.delete(eventId);
      return null;
    },
  };

  window.__TAURI_INTERNALS__ = {
    invoke: async (cmd, args) => {
      const fn = commands[cmd];
      if (!fn) throw { code: 'fake.unknown_command', zh: `未知命令 ${cmd}`, en: `Unknown command ${cmd}` };
      const out = await fn(args ?? {});
      // what crosses the real IPC is a copy (JSON, or raw bytes for `photo`)
      return out instanceof ArrayBuffer ? out : structuredClone(out ?? null);
    },
    transformCallback: (cb, once) => {
      const id = nextId++;
      callbacks.set(id, (p) => {
        if (once) callbacks.delete(id);
        return cb?.(p);
      });
      return id;
    },
    unregisterCallback: (id) => callbacks.delete(id),
    convertFileSrc: (p) => p,
    metadata: { currentWindow: { label: 'main' }, currentWebview: { windowLabel: 'main', label: 'main' } },
  };
  window.__TAURI_EVENT_PLUGIN_INTERNALS__ = {
    unregisterListener: (event, id) => listeners.delete(id),
  };

  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) =>
    window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`),
  );
  // like tauri.conf.json's "freezePrototype": true
  Object.freeze(Object.prototype);
})();
