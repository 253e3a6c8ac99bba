//! The sync client (research/sync.md §A.9): probe → photos up → push the outbox → pull → photos down.
//!
//! Every step is idempotent and every local change is already durable before it starts, so a sync
//! that stops anywhere (no signal, app killed, 5xx) loses nothing and the next one resumes.

pub mod client;
pub mod photos;
pub mod pull;
pub mod push;

use crate::engine::Inner;
use crate::error::{DeviceError, Result};
use crate::store::{meta, now_text, outbox};
use client::Client;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Sync period while online.
pub const PERIOD: Duration = Duration::from_secs(180);
/// Health probe period while offline.
pub const PROBE_PERIOD: Duration = Duration::from_secs(20);

/// What one sync needs to talk to the server.
pub(crate) struct Ctx {
    pub client: Client,
    pub token: String,
    pub user: xuncha_domain::UserId,
}

/// Probes the server and remembers the verdict. Online only when the answer is the protocol's JSON,
/// service "xuncha", and the server_id remembered at sign-in.
pub(crate) async fn probe(inner: &Arc<Inner>) -> Result<Option<Client>> {
    let (url, expected) = inner
        .db(|s| {
            let c = s.conn();
            let url = match meta::active_session(c)? {
                Some(sess) => Some(sess.server_url),
                None => meta::get(c, meta::SERVER_URL)?,
            };
            Ok((url, meta::get(c, meta::SERVER_ID)?))
        })
        .await?;
    let Some(url) = url else {
        return Ok(None);
    };
    let client = Client::new(inner.http.clone(), &url);
    let verdict = match client.health().await {
        Ok(h) => match expected {
            Some(exp) if exp != h.server_id.to_string() => {
                Err(DeviceError::ServerChanged { expected: exp, got: h.server_id.to_string() })
            }
            _ => Ok(()),
        },
        Err(e) => Err(e),
    };
    let online = verdict.is_ok();
    inner.set_live(|l| l.online = online);
    tracing::debug!(server = %url, online, "health probe");
    verdict.map(|()| Some(client))
}

async fn sync_once(inner: &Arc<Inner>) -> Result<()> {
    let Some(client) = probe(inner).await? else {
        // Never signed in anywhere: nothing can be sent yet.
        let (pending, _) = inner.db(|s| outbox::counts(s.conn())).await?;
        return if pending > 0 { Err(DeviceError::NotSignedIn) } else { Ok(()) };
    };
    inner.publish().await?;
    let sess = inner.db(|s| meta::active_session(s.conn())).await?;
    let Some(sess) = sess else {
        let (pending, _) = inner.db(|s| outbox::counts(s.conn())).await?;
        return if pending > 0 { Err(DeviceError::NotSignedIn) } else { Ok(()) };
    };
    let Some(token) = sess.token.clone() else {
        // Signed in offline, or the server revoked the token: sign in again online.
        return Err(DeviceError::SessionExpired);
    };
    let ctx = Ctx { client, token, user: sess.profile.id };
    let r = async {
        photos::upload(inner, &ctx).await?;
        push::push_all(inner, &ctx).await?;
        pull::pull_all(inner, &ctx).await?;
        photos::download(inner, &ctx).await
    }
    .await;
    if let Err(DeviceError::SessionExpired) = &r {
        // Keep everything; just forget the dead token so the UI asks for a sign-in.
        inner.db(|s| meta::drop_token(s.conn())).await?;
    }
    r?;
    let others = {
        let u = ctx.user;
        inner.db(move |s| outbox::pending_for_others(s.conn(), &u)).await?
    };
    if others > 0 {
        tracing::info!(others, "ops of another account on this phone wait for that account to sign in");
    }
    Ok(())
}

/// One full sync attempt; records its outcome (last_sync_at or last_error) and publishes the status.
pub(crate) async fn run(inner: &Arc<Inner>) {
    let _one_at_a_time = inner.sync_lock.lock().await;
    inner.set_live(|l| l.syncing = true);
    let _ = inner.publish().await;
    let started = std::time::Instant::now();
    let result = sync_once(inner).await;
    let msg = result.as_ref().err().map(|e| e.user_message());
    match &result {
        Ok(()) => tracing::info!(ms = started.elapsed().as_millis() as u64, "sync complete"),
        Err(e) if e.is_network() => tracing::info!(error = %e, "sync: server not reachable"),
        Err(e) => tracing::warn!(error = %e, "sync failed"),
    }
    if result.as_ref().is_err_and(|e| e.is_network()) {
        inner.set_live(|l| l.online = false);
    }
    let ok = result.is_ok();
    let stored = inner
        .db(move |s| {
            let c = s.conn();
            if ok {
                meta::set(c, meta::LAST_SYNC_AT, &now_text())?;
            }
            meta::set_last_error(c, msg.as_ref())
        })
        .await;
    if let Err(e) = stored {
        tracing::error!(error = %e, "could not record the sync outcome");
    }
    inner.set_live(|l| l.syncing = false);
    let _ = inner.publish().await;
}

pub(crate) fn spawn_loop(weak: Weak<Inner>) {
    tokio::spawn(async move {
        let mut failures: u32 = 0;
        loop {
            let Some(inner) = weak.upgrade() else { break };
            run(&inner).await;
            let status = inner.status_tx.borrow().clone();
            drop(inner);
            if status.last_error.is_none() {
                failures = 0;
            } else {
                failures = failures.saturating_add(1);
            }
            if !status.online {
                // Offline: probe every 20 s; the first good answer (or a wake-up) triggers a sync.
                loop {
                    let Some(inner) = weak.upgrade() else { return };
                    let woke = tokio::select! {
                        _ = inner.wake.notified() => true,
                        _ = tokio::time::sleep(PROBE_PERIOD) => false,
                    };
                    if woke || matches!(probe(&inner).await, Ok(Some(_))) {
                        break;
                    }
                    let _ = inner.publish().await;
                }
            } else {
                // Online: every 3 minutes, sooner after an error (backing off), or when woken.
                let wait =
                    if failures == 0 { PERIOD } else { (PROBE_PERIOD * 2u32.saturating_pow(failures - 1)).min(PERIOD) };
                let Some(inner) = weak.upgrade() else { break };
                tokio::select! {
                    _ = inner.wake.notified() => {},
                    _ = tokio::time::sleep(wait) => {},
                }
            }
        }
        tracing::debug!("sync loop ended (engine dropped)");
    });
}
