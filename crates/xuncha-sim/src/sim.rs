//! Simulated devices and the Jepsen-style set check (research/reliability.md §2.4, §2.12 C).
//!
//! Each device is a real [`Engine`] with its own SQLite store in a temp folder, signed in as a demo user.
//! Every finding it creates carries a unique marker `[sim <seed> d<device> #<n>]` at the start of its
//! description (edits keep it), so "the same content twice on the server" is visible. After a final
//! sync of everyone, [`check`] compares: created on devices / acknowledged by them / on the server
//! (pulled over HTTP as each user), lost, duplicated, unexpected (on the server, in scope, created by
//! nobody in this run and not there before it), and whether each device's set equals the server's set
//! for its user's scope, finding by finding (description and status).

use crate::server_view::{ServerView, DEMO_PASSWORD};
use crate::SimError;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use xuncha_device::{Engine, EngineOptions, Scope, SyncState};
use xuncha_domain::finding::RawPosition;
use xuncha_domain::{FindingDraft, PositionSource, Severity};

/// The demo user of device `i`: per team, five inspectors then the team leader.
pub fn demo_user(i: usize) -> String {
    let team = (i / 6) % 8 + 1;
    match i % 6 {
        5 => format!("leader{team}"),
        k => format!("inspector{team}-{}", k + 1),
    }
}

/// A finding this run created.
#[derive(Debug, Clone)]
pub struct Created {
    pub id: String,
    pub marker: String,
    pub photos: Vec<String>,
    pub edits: u32,
}

/// One simulated phone.
pub struct Device {
    pub index: usize,
    pub username: String,
    pub dir: PathBuf,
    pub engine: Engine,
    pub options: EngineOptions,
    pub rng: StdRng,
    pub seed: u64,
    pub created: Vec<Created>,
    /// Kept alive for as long as the device (the folder is removed on drop).
    _tmp: Option<tempfile::TempDir>,
}

fn marker(seed: u64, device: usize, n: usize) -> String {
    format!("[sim {seed} d{device} #{n}]")
}

/// The marker at the start of a description, if it has one.
pub fn marker_of(description: &str) -> Option<&str> {
    let end = description.find(']')?;
    description.starts_with("[sim ").then(|| &description[..=end])
}

/// A plausible finding as a phone sends it: an overflowing bin somewhere in team 1's area (湖滨), with
/// `text` as description and the given photo hashes. Also the shape the sync benchmark pushes.
pub fn draft(text: String, photos: Vec<String>, rng: &mut StdRng) -> Result<FindingDraft, SimError> {
    let photos = photos.iter().map(|h| h.parse()).collect::<Result<Vec<_>, _>>()?;
    Ok(FindingDraft {
        category: "living_environment".into(),
        subcategory: "overflowing_bin".into(),
        description: text,
        address: format!("湖滨路 {} 号", rng.random_range(1..300)),
        severity: if rng.random_bool(0.2) { Severity::High } else { Severity::Normal },
        position: Some(RawPosition {
            lat: 30.2600 + rng.random_range(0.0..0.01),
            lon: 120.1650 + rng.random_range(0.0..0.01),
            accuracy_m: Some(6.0),
            source: PositionSource::DeviceGps,
        }),
        photos,
        observed_at: chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("offset")),
    })
}

impl Device {
    /// Opens a fresh store in a new temp folder under `parent` and signs in online at `url`.
    pub async fn new(
        index: usize,
        username: &str,
        url: &str,
        parent: &Path,
        options: EngineOptions,
        seed: u64,
    ) -> Result<Self, SimError> {
        let tmp = tempfile::Builder::new().prefix(&format!("device{index}-")).tempdir_in(parent)?;
        let dir = tmp.path().to_path_buf();
        let engine = Engine::open_with(&dir, options)?;
        let s = engine.login(url, username, DEMO_PASSWORD).await?;
        if s.offline {
            return Err(SimError::Server(format!("{username} could only sign in offline at {url}")));
        }
        Ok(Self {
            index,
            username: username.to_string(),
            dir,
            engine,
            options,
            rng: StdRng::seed_from_u64(seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            seed,
            created: Vec::new(),
            _tmp: Some(tmp),
        })
    }

    /// Drops the engine and opens the same folder again (a phone whose app was killed).
    pub fn reopen(&mut self) -> Result<(), SimError> {
        self.engine = Engine::open_with(&self.dir, self.options)?;
        Ok(())
    }

    pub fn is_leader(&self) -> bool {
        self.username.starts_with("leader")
    }

    /// Creates a finding (with the given camera photo bytes, if any); returns its index in `created`.
    pub async fn create(&mut self, photo: Option<Vec<u8>>) -> Result<usize, SimError> {
        let photos = match photo {
            Some(bytes) => vec![self.engine.ingest_photo(bytes).await?.hash],
            None => Vec::new(),
        };
        let n = self.created.len();
        let m = marker(self.seed, self.index, n);
        let d = draft(format!("{m} 垃圾桶满溢"), photos.clone(), &mut self.rng)?;
        let v = self.engine.save_finding(None, d).await?;
        self.created.push(Created { id: v.summary.id, marker: m, photos, edits: 0 });
        Ok(n)
    }

    /// Edits created finding `k` (the marker stays). A local refusal (already submitted) is not an error.
    pub async fn edit(&mut self, k: usize) -> Result<bool, SimError> {
        let c = self.created[k].clone();
        let d = draft(format!("{} 垃圾桶满溢（修改 {}）", c.marker, c.edits + 1), c.photos.clone(), &mut self.rng)?;
        match self.engine.save_finding(Some(&c.id), d).await {
            Ok(_) => {
                self.created[k].edits += 1;
                Ok(true)
            }
            Err(xuncha_device::DeviceError::Validation(e)) => {
                tracing::debug!(error = %e, "edit refused locally");
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Queues "submit" for created finding `k`; true when it was queued.
    pub async fn submit(&mut self, k: usize) -> Result<bool, SimError> {
        let id = self.created[k].id.clone();
        Ok(!self.engine.submit_findings(vec![id]).await?.submitted.is_empty())
    }

    /// One sync attempt; a network failure is recorded in the status, not returned.
    pub async fn sync(&self) -> Result<xuncha_device::SyncStatus, SimError> {
        Ok(self.engine.sync_now().await?)
    }
}

/// What the simulation does.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where the devices connect (the server, or a proxy in front of it).
    pub device_url: String,
    /// Where the checker pulls from (the server itself).
    pub server_url: String,
    pub devices: usize,
    pub findings_per_device: usize,
    /// Every k-th finding of a device gets a photo (0: none).
    pub photo_every: usize,
    /// Camera photos (JPEG bytes) to pick from.
    pub photos: Vec<Vec<u8>>,
    pub seed: u64,
    /// The activity phase stops after this long even if not every finding was created.
    pub duration: Duration,
    pub engine: EngineOptions,
    /// Pause between two actions of a device, in ms (uniform).
    pub think_ms: (u64, u64),
    /// How long the final sync may take to reach quiescence.
    pub settle_timeout: Duration,
}

impl SimConfig {
    pub fn new(server_url: &str) -> Self {
        Self {
            device_url: server_url.to_string(),
            server_url: server_url.to_string(),
            devices: 4,
            findings_per_device: 20,
            photo_every: 10,
            photos: Vec::new(),
            seed: 1,
            duration: Duration::from_secs(60),
            engine: EngineOptions::default(),
            think_ms: (0, 50),
            settle_timeout: Duration::from_secs(60),
        }
    }
}

/// The figures of a run. `ok()` when nothing was lost, duplicated, unexpected or diverged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub created: usize,
    pub acked: usize,
    pub on_server: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub unexpected: usize,
    /// Findings in which a device's set differs from the server's set for its scope (missing, extra,
    /// or another description/status), summed over devices.
    pub diverged: usize,
    pub devices: usize,
    /// Ops the server refused for good (kept on the devices).
    pub rejected_ops: u64,
    pub details: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.unexpected == 0 && self.diverged == 0
    }

    /// The one line the binary prints.
    pub fn line(&self) -> String {
        format!(
            "created {} / acked {} / on server {} / lost {} / duplicated {} / unexpected {}",
            self.created, self.acked, self.on_server, self.lost, self.duplicated, self.unexpected
        )
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} / diverged {} over {} devices / rejected ops {}",
            self.line(),
            self.diverged,
            self.devices,
            self.rejected_ops
        )
    }
}

/// What the server held for each user before the run (seed data and earlier runs).
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    pub ids: BTreeSet<String>,
}

pub async fn baseline(server_url: &str, users: &[String]) -> Result<Baseline, SimError> {
    let mut ids = BTreeSet::new();
    let users: BTreeSet<&String> = users.iter().collect();
    for u in users {
        ids.extend(ServerView::login(server_url, u).await?.findings().await?.into_keys());
    }
    Ok(Baseline { ids })
}

/// Syncs every device, round after round, until all of them report everything sent, then once more
/// so that everyone pulls what the last ones pushed. Fails after `timeout`.
pub async fn settle(devices: &[Device], timeout: Duration) -> Result<(), SimError> {
    let start = Instant::now();
    loop {
        let mut all = true;
        for d in devices {
            let st = d.sync().await?;
            all &= st.all_synced || (st.pending_ops == 0 && st.pending_photos == 0 && st.online);
        }
        if all {
            break;
        }
        if start.elapsed() > timeout {
            return Err(SimError::NotSettled(timeout));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for d in devices {
        d.sync().await?;
    }
    Ok(())
}

/// The set check over `devices` (after [`settle`]).
pub async fn check(server_url: &str, devices: &[Device], base: &Baseline) -> Result<Report, SimError> {
    let mut r = Report { devices: devices.len(), ..Report::default() };
    // The server's view per user, and the union of all of them.
    let mut per_user: HashMap<String, BTreeMap<String, (String, String)>> = HashMap::new();
    for d in devices {
        if per_user.contains_key(&d.username) {
            continue;
        }
        let recs = ServerView::login(server_url, &d.username).await?.findings().await?;
        let m = recs
            .into_iter()
            .map(|(id, rec)| {
                let v = (rec.finding.fields.description.as_str().to_string(), rec.finding.status.as_str().to_string());
                (id, v)
            })
            .collect();
        per_user.insert(d.username.clone(), m);
    }
    let union: BTreeMap<&String, &(String, String)> = per_user.values().flat_map(|m| m.iter()).collect();
    let created: BTreeMap<&str, &Created> =
        devices.iter().flat_map(|d| d.created.iter().map(|c| (c.id.as_str(), c))).collect();
    r.created = created.len();
    for (id, c) in &created {
        if union.contains_key(&id.to_string()) {
            r.on_server += 1;
        } else {
            r.lost += 1;
            r.details.push(format!("lost {id} {}", c.marker));
        }
    }
    let mut by_marker: HashMap<&str, usize> = HashMap::new();
    for (id, (desc, _)) in &union {
        if base.ids.contains(*id) {
            continue;
        }
        if let Some(m) = marker_of(desc) {
            *by_marker.entry(m).or_default() += 1;
        }
        if !created.contains_key(id.as_str()) {
            r.unexpected += 1;
            r.details.push(format!("unexpected {id} {desc:?}"));
        }
    }
    for (m, n) in by_marker {
        if n > 1 {
            r.duplicated += n - 1;
            r.details.push(format!("duplicated {m} ×{n}"));
        }
    }
    for d in devices {
        let st = d.engine.sync_status().await?;
        r.rejected_ops += st.rejected_ops;
        let local = d.engine.list_findings(None, Scope::Team).await?;
        let server = &per_user[&d.username];
        let mut seen = BTreeSet::new();
        for f in &local {
            seen.insert(f.id.clone());
            if created.get(f.id.as_str()).is_some_and(|_| d.created.iter().any(|c| c.id == f.id))
                && f.sync_state == SyncState::Synced
            {
                r.acked += 1;
            }
            match server.get(&f.id) {
                None => {
                    r.diverged += 1;
                    r.details.push(format!("{}: holds {} which the server does not show it", d.username, f.id));
                }
                Some((desc, status)) if *desc != f.description || *status != f.status => {
                    r.diverged += 1;
                    r.details.push(format!(
                        "{}: {} differs: device {:?}/{} server {:?}/{}",
                        d.username, f.id, f.description, f.status, desc, status
                    ));
                }
                Some(_) => {}
            }
        }
        for id in server.keys().filter(|id| !seen.contains(*id)) {
            r.diverged += 1;
            r.details.push(format!("{}: missing {id} that the server shows it", d.username));
        }
    }
    Ok(r)
}

/// Reads the JPEGs of a folder (sorted by name).
pub fn read_photos(dir: &Path) -> Result<Vec<Vec<u8>>, SimError> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("jpg") || x.eq_ignore_ascii_case("jpeg")))
        .collect();
    paths.sort();
    let v = paths.iter().map(std::fs::read).collect::<Result<Vec<_>, _>>()?;
    if v.is_empty() {
        return Err(SimError::NoPhotos(dir.to_path_buf()));
    }
    Ok(v)
}

/// One device's random life: create (a photo every k-th), edit, submit, sync, at random moments.
/// Team leaders only sync (and watch), until every creating device is done.
async fn live(
    mut d: Device,
    cfg: SimConfig,
    deadline: Instant,
    creators: Arc<AtomicUsize>,
) -> Result<Device, SimError> {
    let can_create = !d.is_leader();
    let r = live_inner(&mut d, &cfg, deadline, &creators, can_create).await;
    if can_create {
        creators.fetch_sub(1, Ordering::SeqCst);
    }
    r.map(|()| d)
}

async fn live_inner(
    d: &mut Device,
    cfg: &SimConfig,
    deadline: Instant,
    creators: &AtomicUsize,
    can_create: bool,
) -> Result<(), SimError> {
    loop {
        let done =
            if can_create { d.created.len() >= cfg.findings_per_device } else { creators.load(Ordering::SeqCst) == 0 };
        if done || Instant::now() >= deadline {
            break;
        }
        let x: u32 = d.rng.random_range(0..100);
        match x {
            0..50 if can_create && d.created.len() < cfg.findings_per_device => {
                let n = d.created.len() + 1;
                let photo = (cfg.photo_every > 0 && n.is_multiple_of(cfg.photo_every) && !cfg.photos.is_empty())
                    .then(|| cfg.photos[d.rng.random_range(0..cfg.photos.len())].clone());
                d.create(photo).await?;
            }
            50..65 if !d.created.is_empty() => {
                let k = d.rng.random_range(0..d.created.len());
                d.edit(k).await?;
            }
            65..75 if !d.created.is_empty() => {
                let k = d.rng.random_range(0..d.created.len());
                d.submit(k).await?;
            }
            _ => {
                d.sync().await?;
            }
        }
        let (lo, hi) = cfg.think_ms;
        if hi > 0 {
            tokio::time::sleep(Duration::from_millis(d.rng.random_range(lo..=hi))).await;
        }
    }
    Ok(())
}

/// Captures the baseline and opens the signed-in devices (under `work_dir`).
pub async fn prepare(cfg: &SimConfig, work_dir: &Path) -> Result<(Baseline, Vec<Device>), SimError> {
    let users: Vec<String> = (0..cfg.devices).map(demo_user).collect();
    let base = baseline(&cfg.server_url, &users).await?;
    let mut devices = Vec::new();
    for (i, u) in users.iter().enumerate() {
        devices.push(Device::new(i, u, &cfg.device_url, work_dir, cfg.engine, cfg.seed).await?);
    }
    Ok((base, devices))
}

/// The activity phase (every device at once), then [`settle`] and [`check`].
pub async fn run_prepared(
    cfg: &SimConfig,
    base: &Baseline,
    devices: Vec<Device>,
) -> Result<(Report, Vec<Device>), SimError> {
    tracing::info!(devices = devices.len(), baseline = base.ids.len(), "simulation starts");
    let devices = live_phase(cfg, devices).await?;
    heal_and_check(cfg, base, devices).await
}

/// The activity phase only: every device creates, edits, submits and syncs until `cfg.duration` ends.
/// A fault injector stops between this and [`heal_and_check`] (the check must see a healed server).
pub async fn live_phase(cfg: &SimConfig, devices: Vec<Device>) -> Result<Vec<Device>, SimError> {
    let deadline = Instant::now() + cfg.duration;
    let creators = Arc::new(AtomicUsize::new(devices.iter().filter(|d| !d.is_leader()).count()));
    let tasks: Vec<_> =
        devices.into_iter().map(|d| tokio::spawn(live(d, cfg.clone(), deadline, creators.clone()))).collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.map_err(|e| SimError::Task(e.to_string()))??);
    }
    out.sort_by_key(|d| d.index);
    Ok(out)
}

/// Final syncs until quiet, then the set check.
pub async fn heal_and_check(
    cfg: &SimConfig,
    base: &Baseline,
    devices: Vec<Device>,
) -> Result<(Report, Vec<Device>), SimError> {
    settle(&devices, cfg.settle_timeout).await?;
    let report = check(&cfg.server_url, &devices, base).await?;
    Ok((report, devices))
}

/// [`prepare`] then [`run_prepared`]: the whole simulation.
pub async fn run(cfg: &SimConfig, work_dir: &Path) -> Result<(Report, Vec<Device>), SimError> {
    let (base, devices) = prepare(cfg, work_dir).await?;
    run_prepared(cfg, &base, devices).await
}
