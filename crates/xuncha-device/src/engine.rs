//! `Engine`: the device's whole API, one method per command of `docs/ipc.md`.
//!
//! Cheap to clone (an `Arc` inside), `Send + Sync`. SQLite is synchronous, so every store access runs
//! on tokio's blocking pool under one `Mutex<Store>`: the UI's async runtime never blocks on disk.

use crate::error::{DeviceError, Result};
use crate::files::{Kind, PhotoFiles};
use crate::store::findings::Viewer;
use crate::store::meta::StoredSession;
use crate::store::{conflicts, findings, meta, outbox, photos, Store};
use crate::sync::client::{self, Client};
use crate::views::*;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use xuncha_domain::{
    Action, Boundaries, DeviceId, Field, Finding, FindingDraft, FindingId, HistoryKind, PhotoHash, Taxonomy, TeamId,
};
use xuncha_proto::{LoginRequest, OpBody};

#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) data_dir: PathBuf,
    pub(crate) store: Mutex<Store>,
    pub(crate) files: PhotoFiles,
    pub(crate) http: reqwest::Client,
    pub(crate) taxonomy: Taxonomy,
    pub(crate) boundaries: Option<Boundaries>,
    pub(crate) device_id: DeviceId,
    pub(crate) status_tx: watch::Sender<SyncStatus>,
    /// What only memory knows: the last probe's verdict and whether a sync runs now.
    pub(crate) live: Mutex<Live>,
    /// One sync at a time (the loop and `sync_now` share it).
    pub(crate) sync_lock: tokio::sync::Mutex<()>,
    /// Wakes the sync loop early (a new record to send, a sign-in).
    pub(crate) wake: Notify,
    pub(crate) options: EngineOptions,
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Live {
    pub online: bool,
    pub syncing: bool,
}

impl Inner {
    /// Runs `f` on the store, on the blocking pool.
    pub(crate) async fn db<T, F>(self: &Arc<Self>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T> + Send + 'static,
    {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock rolled its transaction back (rusqlite's Drop), so the
            // connection is still consistent: keep using it.
            let mut s = me.store.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut s)
        })
        .await
        .map_err(|e| DeviceError::Internal(format!("store task: {e}")))?
    }

    pub(crate) fn live(&self) -> Live {
        *self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set_live(&self, f: impl FnOnce(&mut Live)) {
        f(&mut self.live.lock().unwrap_or_else(|p| p.into_inner()));
    }

    pub(crate) fn compute_status(&self, s: &Store) -> Result<SyncStatus> {
        let c = s.conn();
        let (pending_ops, rejected_ops) = outbox::counts(c)?;
        let pending_photos = photos::count_pending_uploads(c)?;
        let last_error = meta::last_error(c)?;
        let conflicts = conflicts::count(c)?;
        let live = self.live();
        Ok(SyncStatus {
            online: live.online,
            syncing: live.syncing,
            pending_ops,
            pending_photos,
            rejected_ops,
            last_sync_at: meta::get(c, meta::LAST_SYNC_AT)?,
            conflicts,
            // A conflict is applied on the server, but this person's value is not: not "all synced".
            all_synced: pending_ops == 0 && pending_photos == 0 && conflicts == 0 && last_error.is_none(),
            last_error,
        })
    }

    /// Recomputes the status and tells subscribers when it changed.
    pub(crate) async fn publish(self: &Arc<Self>) -> Result<SyncStatus> {
        let me = self.clone();
        let st = self.db(move |s| me.compute_status(s)).await?;
        self.status_tx.send_if_modified(|cur| {
            let changed = *cur != st;
            *cur = st.clone();
            changed
        });
        Ok(st)
    }

    pub(crate) fn sub_district_zh(&self, id: Option<xuncha_domain::SubDistrictId>) -> Option<String> {
        let id = id?;
        self.boundaries.as_ref()?.sub_districts.iter().find(|s| s.id == id).map(|s| s.zh.clone())
    }
}

fn session_view(s: &StoredSession) -> Session {
    Session { user: s.profile.clone(), server_url: s.server_url.clone(), offline: s.token.is_none() }
}

fn photo_error(e: xuncha_photo::PhotoError) -> DeviceError {
    DeviceError::Photo(e.user_message())
}

fn hash_arg(s: &str) -> Result<PhotoHash> {
    Ok(s.parse()?)
}

fn id_arg(s: &str) -> Result<FindingId> {
    Ok(s.parse()?)
}

/// How an engine talks to the server. `Default` is what the app uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineOptions {
    /// Longest wait for a TCP connection to the server.
    pub connect_timeout: Duration,
    /// Longest wait for a whole request (sending, server work, answer).
    pub request_timeout: Duration,
    /// How often a caught-up device compares its copy with the server's scope digest (drift repair).
    pub digest_period: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            connect_timeout: client::CONNECT_TIMEOUT,
            request_timeout: client::REQUEST_TIMEOUT,
            digest_period: crate::sync::scope::DIGEST_PERIOD,
        }
    }
}

impl Engine {
    /// Opens (or creates) the store in `data_dir`, with the default [`EngineOptions`].
    pub fn open(data_dir: &Path) -> Result<Engine> {
        Self::open_with(data_dir, EngineOptions::default())
    }

    /// Opens (or creates) the store in `data_dir` with explicit options (tests use short timeouts).
    pub fn open_with(data_dir: &Path, options: EngineOptions) -> Result<Engine> {
        let store = Store::open(data_dir)?;
        let device_id = meta::ensure_device_id(store.conn())?;
        let boundaries = Boundaries::from_json(xuncha_domain::boundaries::DEMO_BOUNDARIES_JSON)
            .inspect_err(|e| tracing::warn!(error = %e, "built-in boundaries unreadable"))
            .ok();
        let (status_tx, _) = watch::channel(SyncStatus::default());
        let inner = Arc::new(Inner {
            data_dir: data_dir.to_path_buf(),
            store: Mutex::new(store),
            files: PhotoFiles::new(data_dir),
            http: client::http_client_with(options.connect_timeout, options.request_timeout)?,
            taxonomy: Taxonomy::builtin(),
            boundaries,
            device_id,
            status_tx,
            live: Mutex::new(Live::default()),
            sync_lock: tokio::sync::Mutex::new(()),
            wake: Notify::new(),
            options,
        });
        {
            let s = inner.store.lock().unwrap_or_else(|p| p.into_inner());
            let st = inner.compute_status(&s)?;
            inner.status_tx.send_replace(st);
        }
        tracing::info!(%device_id, dir = %data_dir.display(), "engine opened");
        Ok(Engine { inner })
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    pub fn device_id(&self) -> DeviceId {
        self.inner.device_id
    }

    /// Status changes, for the shell to forward as the `sync-status` event.
    pub fn subscribe(&self) -> watch::Receiver<SyncStatus> {
        self.inner.status_tx.subscribe()
    }

    /// Test hook: makes the named step of a transaction fail (see `Store::set_fail_point`).
    #[doc(hidden)]
    pub fn set_fail_point(&self, name: Option<&str>) {
        self.inner.store.lock().unwrap_or_else(|p| p.into_inner()).set_fail_point(name);
    }

    pub async fn app_state(&self) -> Result<AppState> {
        let me = self.inner.clone();
        let (session, last_url, sync) = self
            .inner
            .db(move |s| {
                let c = s.conn();
                Ok((meta::active_session(c)?, meta::get(c, meta::SERVER_URL)?, me.compute_status(s)?))
            })
            .await?;
        Ok(AppState {
            session: session.as_ref().map(session_view),
            device_id: self.inner.device_id.to_string(),
            last_server_url: last_url,
            sync,
        })
    }

    pub async fn taxonomy(&self) -> Result<Taxonomy> {
        Ok(self.inner.taxonomy.clone())
    }

    // ---- session ----------------------------------------------------------------------------

    /// Online sign-in; if the server cannot be reached, offline sign-in against the verifier made at
    /// this account's last online sign-in on this device.
    pub async fn login(&self, server_url: &str, username: &str, password: &str) -> Result<Session> {
        let url = client::normalize_url(server_url)?;
        let username = username.trim().to_string();
        let client = Client::new(self.inner.http.clone(), &url);
        let req = LoginRequest {
            username: username.clone(),
            password: password.to_string(),
            device_id: self.inner.device_id,
            device_name: device_name(),
        };
        match client.login(&req).await {
            Ok(resp) => {
                let server_id = resp.server_id.to_string();
                // Refuse to mix servers while this phone still holds data for another one.
                let me = self.inner.clone();
                let check = {
                    let server_id = server_id.clone();
                    self.inner
                        .db(move |s| {
                            let c = s.conn();
                            let old = meta::get(c, meta::SERVER_ID)?;
                            let (pending, _) = outbox::counts(c)?;
                            let photos = photos::count_pending_uploads(c)?;
                            if old.as_deref().is_some_and(|o| o != server_id) && (pending > 0 || photos > 0) {
                                return Err(DeviceError::UnsentForOtherServer(
                                    meta::get(c, meta::SERVER_URL)?.unwrap_or_default(),
                                ));
                            }
                            Ok(())
                        })
                        .await
                };
                if let Err(e) = check {
                    let _ = client.logout(&resp.token).await;
                    return Err(e);
                }
                let password = password.to_string();
                let verifier = tokio::task::spawn_blocking(move || crate::password::make_verifier(&password))
                    .await
                    .map_err(|e| DeviceError::Internal(e.to_string()))??;
                let stored = StoredSession {
                    server_url: url.clone(),
                    username,
                    profile: resp.user.clone(),
                    token: Some(resp.token.clone()),
                    verifier,
                };
                let view = session_view(&stored);
                me.db(move |s| {
                    let tx = s.conn.transaction()?;
                    if meta::get(&tx, meta::SERVER_ID)?.as_deref() != Some(server_id.as_str()) {
                        // Another server: its change order starts afresh for everyone on this phone.
                        tx.execute("DELETE FROM meta WHERE key LIKE 'pull_cursor:%'", [])?;
                        meta::set(&tx, meta::SERVER_ID, &server_id)?;
                    }
                    meta::set(&tx, meta::SERVER_URL, &stored.server_url)?;
                    meta::save_active_session(&tx, &stored)?;
                    meta::set_last_error(&tx, None)?;
                    tx.commit()?;
                    Ok(())
                })
                .await?;
                tracing::info!(server = %url, user = %view.user.username, "signed in online");
                self.inner.set_live(|l| l.online = true);
                self.inner.publish().await?;
                self.inner.wake.notify_one();
                Ok(view)
            }
            // No answer, a Wi-Fi portal, or a server that is down (5xx): the same person may sign in offline.
            Err(e) if e.is_network() || matches!(e, DeviceError::Server { status: 500.., .. }) => {
                tracing::info!(server = %url, error = %e, "server unreachable; trying offline sign-in");
                let found = {
                    let (u, n) = (url.clone(), username.clone());
                    self.inner.db(move |s| meta::find_session(s.conn(), &u, &n)).await?
                };
                let Some(stored) = found else {
                    return Err(DeviceError::OfflineLoginUnavailable);
                };
                let (verifier, password) = (stored.verifier.clone(), password.to_string());
                let ok = tokio::task::spawn_blocking(move || crate::password::check(&verifier, &password))
                    .await
                    .map_err(|e| DeviceError::Internal(e.to_string()))?;
                if !ok {
                    return Err(DeviceError::WrongOfflinePassword);
                }
                let (u, n) = (url.clone(), username.clone());
                self.inner
                    .db(move |s| {
                        meta::activate_session(s.conn(), &u, &n)?;
                        meta::set(s.conn(), meta::SERVER_URL, &u)
                    })
                    .await?;
                self.inner.set_live(|l| l.online = false);
                self.inner.publish().await?;
                tracing::info!(server = %url, user = %username, "signed in offline");
                // A token kept from before (no logout since) still works once online again.
                Ok(Session { offline: true, ..session_view(&stored) })
            }
            Err(e) => Err(e),
        }
    }

    /// Ends the session on this phone (and revokes the token on the server when reachable).
    /// Local data stays.
    pub async fn logout(&self) -> Result<()> {
        let sess = self.inner.db(|s| meta::active_session(s.conn())).await?;
        if let Some(StoredSession { token: Some(token), server_url, .. }) = &sess {
            if let Err(e) = Client::new(self.inner.http.clone(), server_url).logout(token).await {
                tracing::info!(error = %e, "could not revoke the token on the server; it expires there on its own");
            }
        }
        self.inner.db(|s| meta::end_active_session(s.conn())).await?;
        self.inner.publish().await?;
        Ok(())
    }

    async fn require_session(&self) -> Result<StoredSession> {
        self.inner.db(|s| meta::active_session(s.conn())).await?.ok_or(DeviceError::NotSignedIn)
    }

    // ---- photos -----------------------------------------------------------------------------

    /// Ingests camera bytes: upright ≤2048-px JPEG and thumbnail written durably, then the row.
    pub async fn ingest_photo(&self, bytes: Vec<u8>) -> Result<PhotoInfo> {
        let inner = self.inner.clone();
        let (info, exif_json) = tokio::task::spawn_blocking(move || -> Result<(PhotoInfo, String)> {
            let p = xuncha_photo::ingest(&bytes).map_err(photo_error)?;
            // Files first, fsynced; the row that makes them visible commits after.
            inner.files.write(Kind::Full, &p.hash, &p.stored)?;
            inner.files.write(Kind::Thumb, &p.hash, &p.thumbnail)?;
            let info = PhotoInfo {
                hash: p.hash.to_hex(),
                width: p.width,
                height: p.height,
                bytes: p.stored.len() as u64,
                gps: p.exif.gps.as_ref().map(|g| ExifGps { lat: g.lat, lon: g.lon, altitude_m: g.altitude_m }),
                taken_at: p.exif.taken_at.clone(),
                orientation: p.exif.orientation,
                make: p.exif.make.clone(),
                model: p.exif.model.clone(),
            };
            let j = serde_json::to_string(&info)?;
            Ok((info, j))
        })
        .await
        .map_err(|e| DeviceError::Internal(format!("ingest task: {e}")))??;
        let hash: PhotoHash = info.hash.parse()?;
        let (w, h, n) = (info.width, info.height, info.bytes);
        self.inner
            .db(move |s| {
                photos::insert(
                    s.conn(),
                    &photos::NewPhoto {
                        hash: &hash,
                        width: w,
                        height: h,
                        bytes: n,
                        exif_json: Some(exif_json),
                        uploaded: false,
                    },
                )
            })
            .await?;
        tracing::info!(hash = %info.hash, width = w, height = h, bytes = n, "photo ingested");
        Ok(info)
    }

    /// JPEG bytes of a photo or its thumbnail (the full photo stands in for a missing thumbnail).
    pub async fn photo(&self, hash: &str, size: PhotoSize) -> Result<Vec<u8>> {
        let hash = hash_arg(hash)?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let kinds: &[Kind] = match size {
                PhotoSize::Thumb => &[Kind::Thumb, Kind::Full],
                PhotoSize::Full => &[Kind::Full],
            };
            for k in kinds {
                match inner.files.read(*k, &hash) {
                    Ok(b) => return Ok(b),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            Err(DeviceError::PhotoNotFound(hash.to_hex()))
        })
        .await
        .map_err(|e| DeviceError::Internal(e.to_string()))?
    }

    // ---- findings ---------------------------------------------------------------------------

    /// Creates (`id` = None) or edits a finding. The finding row, its history line and its outbox entry
    /// commit in one transaction.
    pub async fn save_finding(&self, id: Option<&str>, draft: FindingDraft) -> Result<FindingView> {
        let fields = draft.validate(&self.inner.taxonomy)?;
        let id = id.map(id_arg).transpose()?;
        let sess = self.require_session().await?;
        let fid = self
            .inner
            .db(move |s| {
                let user = sess.profile.id;
                let fp = s.fail_points();
                let tx = s.conn.transaction()?;
                let fid = match id {
                    None => {
                        require_photos(&tx, &fields.photos, &[])?;
                        let team = sess.profile.team.as_ref().map(|t| t.id).unwrap_or(TeamId(uuid::Uuid::nil()));
                        let team_name = sess.profile.team.as_ref().map(|t| t.name.as_str()).unwrap_or("");
                        let f = Finding::new(FindingId::new_v7(), user, team, fields.clone());
                        findings::insert_local(&tx, &f, &sess.profile.display_name, team_name)?;
                        findings::add_history(&tx, &f.id, &user, &HistoryKind::Created)?;
                        fp.check("save.after_finding")?;
                        outbox::enqueue(&tx, &user, &f.id, &OpBody::Create { fields }, None)?;
                        f.id
                    }
                    Some(fid) => {
                        let row =
                            findings::get(&tx, &fid)?.ok_or_else(|| DeviceError::FindingNotFound(fid.to_string()))?;
                        require_photos(&tx, &fields.photos, &row.finding.fields.photos)?;
                        let mut f = row.finding;
                        let before = f.fields.clone();
                        f.edit(user, fields.clone())?;
                        findings::update_fields(&tx, &fid, &f.fields)?;
                        findings::add_history(&tx, &fid, &user, &HistoryKind::Edited)?;
                        fp.check("save.after_finding")?;
                        // Acting again after a refusal supersedes the refused ops.
                        outbox::clear_rejected(&tx, &fid)?;
                        findings::set_rejection(&tx, &fid, None)?;
                        outbox::queue_fields(&tx, &user, &fid, row.version, &before, &fields)?;
                        fid
                    }
                };
                fp.check("save.before_commit")?;
                tx.commit()?;
                Ok(fid)
            })
            .await?;
        tracing::info!(finding = %fid, "finding saved");
        let view = self.get_finding_id(fid).await?;
        self.inner.publish().await?;
        self.inner.wake.notify_one();
        Ok(view)
    }

    /// Settles one conflicting field of a finding: `Mine` sends this person's value again as a new edit
    /// (based on the server's current state, so it applies), `Theirs` takes the server's value here.
    /// Either way the conflict is gone and both the choice and the edit are in the finding's history.
    pub async fn resolve_conflict(&self, id: &str, field: &str, keep: Keep) -> Result<FindingView> {
        let fid = id_arg(id)?;
        let field = Field::parse(field).ok_or_else(|| DeviceError::ConflictNotFound(field.to_string()))?;
        let sess = self.require_session().await?;
        self.inner
            .db(move |s| {
                let user = sess.profile.id;
                let tx = s.conn.transaction()?;
                let row = findings::get(&tx, &fid)?.ok_or_else(|| DeviceError::FindingNotFound(fid.to_string()))?;
                let (yours, theirs) = conflicts::take(&tx, &fid, field)?;
                let before = row.finding.fields.clone();
                let mut after = before.clone();
                let chosen = if keep == Keep::Mine { &yours } else { &theirs };
                field
                    .set_value(&mut after, chosen)
                    .map_err(|e| DeviceError::Internal(format!("conflict value: {e}")))?;
                if keep == Keep::Mine {
                    let mut f = row.finding;
                    f.edit(user, after.clone())?;
                    findings::update_fields(&tx, &fid, &after)?;
                    findings::add_history(&tx, &fid, &user, &HistoryKind::Edited)?;
                    outbox::clear_rejected(&tx, &fid)?;
                    findings::set_rejection(&tx, &fid, None)?;
                    outbox::queue_fields(&tx, &user, &fid, row.version, &before, &after)?;
                } else if after != before {
                    // The server already holds this value; show it now rather than after the next pull.
                    findings::update_fields(&tx, &fid, &after)?;
                }
                tx.commit()?;
                tracing::info!(finding = %fid, field = field.as_str(), ?keep, "conflict resolved");
                Ok(())
            })
            .await?;
        let view = self.get_finding_id(fid).await?;
        self.inner.publish().await?;
        self.inner.wake.notify_one();
        Ok(view)
    }

    /// Queues "submit" for each finding that passes the local checks; reports the others with why.
    pub async fn submit_findings(&self, ids: Vec<String>) -> Result<SubmitReport> {
        let sess = self.require_session().await?;
        let report = self
            .inner
            .db(move |s| {
                let mut report = SubmitReport::default();
                for id in ids {
                    match submit_one(s, &sess, &id) {
                        Ok(()) => report.submitted.push(id),
                        Err(e @ (DeviceError::Storage(_) | DeviceError::Io(_) | DeviceError::Internal(_))) => {
                            return Err(e)
                        }
                        Err(e) => report.refused.push(Refusal { id, error: e.user_message() }),
                    }
                }
                Ok(report)
            })
            .await?;
        tracing::info!(submitted = report.submitted.len(), refused = report.refused.len(), "submit");
        self.inner.publish().await?;
        if !report.submitted.is_empty() {
            self.inner.wake.notify_one();
        }
        Ok(report)
    }

    /// Newest first; `day` is `YYYY-MM-DD` in the zone the finding was recorded in; None = all days.
    pub async fn list_findings(&self, day: Option<&str>, scope: Scope) -> Result<Vec<FindingSummary>> {
        let day = match day {
            Some(d) => Some(
                chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
                    .map_err(|_| DeviceError::InvalidDay(d.chars().take(20).collect()))?
                    .format("%Y-%m-%d")
                    .to_string(),
            ),
            None => None,
        };
        self.inner
            .db(move |s| {
                // Signed out: show nothing (a phone left lying around must not show the team's work).
                let Some(sess) = meta::active_session(s.conn())? else { return Ok(Vec::new()) };
                let viewer = Viewer { user: sess.profile.id, team: sess.profile.team.as_ref().map(|t| t.id) };
                findings::list(s.conn(), day.as_deref(), scope, &viewer)
            })
            .await
    }

    pub async fn get_finding(&self, id: &str) -> Result<FindingView> {
        self.get_finding_id(id_arg(id)?).await
    }

    async fn get_finding_id(&self, id: FindingId) -> Result<FindingView> {
        self.inner.db(move |s| findings::view(s.conn(), &id)).await
    }

    // ---- sync -------------------------------------------------------------------------------

    /// One full sync attempt (probe, photos up, push, pull, photos down); returns the status after it.
    pub async fn sync_now(&self) -> Result<SyncStatus> {
        crate::sync::run(&self.inner).await;
        self.inner.publish().await
    }

    pub async fn sync_status(&self) -> Result<SyncStatus> {
        self.inner.publish().await
    }

    /// Starts the background loop: sync now, every 3 minutes, when woken (new record, sign-in), and a
    /// health probe every 20 s while offline so that coming back online syncs at once.
    /// Needs a tokio runtime; stops by itself when the last `Engine` clone is dropped.
    pub fn spawn_sync_loop(&self) {
        crate::sync::spawn_loop(Arc::downgrade(&self.inner));
    }
}

fn require_photos(conn: &rusqlite::Connection, photos_now: &[PhotoHash], already: &[PhotoHash]) -> Result<()> {
    // A photo already on the finding may be one pulled and not downloaded yet; a new one must be here.
    for h in photos_now.iter().filter(|h| !already.contains(h)) {
        if !photos::exists(conn, h)? {
            return Err(DeviceError::PhotoNotFound(h.to_hex()));
        }
    }
    Ok(())
}

fn submit_one(s: &mut Store, sess: &StoredSession, id: &str) -> Result<()> {
    let fid = id_arg(id)?;
    let user = sess.profile.id;
    let tx = s.conn.transaction()?;
    let row = findings::get(&tx, &fid)?.ok_or_else(|| DeviceError::FindingNotFound(id.to_string()))?;
    if row.finding.author != user {
        return Err(xuncha_domain::DomainError::NotAuthor.into());
    }
    let action = Action::Submit;
    let to = action.apply(row.finding.status, sess.profile.role)?;
    row.finding.check_submittable()?;
    let from = row.finding.status;
    outbox::clear_rejected(&tx, &fid)?;
    findings::set_rejection(&tx, &fid, None)?;
    outbox::ensure_created(&tx, &user, &fid, row.version, &row.finding.fields)?;
    findings::set_status(&tx, &fid, to)?;
    findings::add_history(&tx, &fid, &user, &HistoryKind::StatusChanged { from, to, action: action.clone() })?;
    outbox::enqueue(&tx, &user, &fid, &OpBody::ChangeStatus { base_version: row.version, action }, Some(from))?;
    tx.commit()?;
    Ok(())
}

fn device_name() -> String {
    format!("{} {}", std::env::consts::OS, std::env::consts::ARCH)
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync + Clone + 'static>() {}
    is::<Engine>();
}
