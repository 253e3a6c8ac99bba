//! The sync client (research/sync.md §A.9): probe → photos up → push the outbox → pull → photos down.
//!
//! Every step is idempotent and every local change is already durable before it starts, so a sync
//! that stops anywhere (no signal, app killed, 5xx) loses nothing and the next one resumes.
//!
//! When the next attempt happens is the retry policy of `docs/sync-protocol.md` ("Retry policy"):
//! [`classify`] turns an outcome into a [`After`], [`wait_for`] into a duration (exponential back-off
//! with full jitter for transient failures, the server's `Retry-After` when it gave one).

pub mod client;
pub mod photos;
pub mod pull;
pub mod push;
pub mod scope;

use crate::engine::Inner;
use crate::error::{DeviceError, Result};
use crate::store::{meta, now_text, outbox};
use client::Client;
use rand::{Rng, SeedableRng};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Sync period while online.
pub const PERIOD: Duration = Duration::from_secs(180);
/// Health probe period while offline.
pub const PROBE_PERIOD: Duration = Duration::from_secs(20);
/// Back-off after the first failure: the wait is drawn from `0..=BACKOFF_BASE`, doubling per failure.
pub const BACKOFF_BASE: Duration = Duration::from_secs(20);
/// Longest back-off while online; also the wait after a refusal (403, other 4xx) so it is not hammered.
pub const BACKOFF_CAP: Duration = Duration::from_secs(180);
/// Shortest wait drawn, so full jitter never turns into a busy loop.
pub const BACKOFF_MIN: Duration = Duration::from_secs(1);
/// Longest `Retry-After` honoured: a misconfigured server cannot silence a phone for days (a person's
/// "sync now" always goes at once).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// What the loop does after a sync attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    /// Done, or nothing to retry sooner (a photo refused for good, a damaged file): the regular period.
    Period,
    /// Transient (no answer, not the server, 5xx, 409, 429/503 without `Retry-After`, local I/O):
    /// exponential back-off with full jitter.
    Backoff,
    /// The server said how long (429/503 with `Retry-After`), capped at [`MAX_RETRY_AFTER`].
    ServerSaid(Duration),
    /// Refused (403, 400, 404, 413 of a single op, server changed): wait the cap, do not hammer.
    Cap,
    /// Needs the person (sign in): wait for a wake-up (the sign-in sends one), the period at most.
    Person,
}

/// The retry policy's table, as code.
pub(crate) fn classify(result: &Result<()>) -> After {
    match result {
        Ok(()) => After::Period,
        Err(e) => match e {
            DeviceError::Offline(_) | DeviceError::NotXuncha(_) => After::Backoff,
            DeviceError::Busy { retry_after, .. } => After::ServerSaid((*retry_after).min(MAX_RETRY_AFTER)),
            DeviceError::SessionExpired | DeviceError::NotSignedIn => After::Person,
            DeviceError::PhotoRefused { .. } | DeviceError::PhotoDamaged(_) => After::Period,
            DeviceError::Server { status, .. } if *status >= 500 || matches!(*status, 408 | 409 | 429) => {
                After::Backoff
            }
            DeviceError::Server { .. } | DeviceError::ServerChanged { .. } | DeviceError::UnsentForOtherServer(_) => {
                After::Cap
            }
            // Local trouble (storage, internal): try again, gently.
            _ => After::Backoff,
        },
    }
}

/// Full-jitter exponential back-off: uniform in `[BACKOFF_MIN, min(BACKOFF_CAP, BACKOFF_BASE · 2^(failures-1))]`.
/// `failures` counts consecutive failed attempts (1 after the first).
pub(crate) fn backoff(failures: u32, rng: &mut impl Rng) -> Duration {
    let window = backoff_window(failures);
    let ms = rng.random_range(BACKOFF_MIN.as_millis() as u64..=window.as_millis() as u64);
    Duration::from_millis(ms)
}

/// The upper bound of [`backoff`] after `failures` consecutive failures.
pub(crate) fn backoff_window(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    BACKOFF_BASE.saturating_mul(1u32 << doublings).min(BACKOFF_CAP)
}

/// How long to wait after an attempt classified as `after`.
pub(crate) fn wait_for(after: After, failures: u32, rng: &mut impl Rng) -> Duration {
    match after {
        After::Period | After::Person => PERIOD,
        After::Backoff => backoff(failures.max(1), rng),
        After::ServerSaid(d) => d.min(MAX_RETRY_AFTER),
        After::Cap => BACKOFF_CAP,
    }
}

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
        // A photo refused for good, or a 429 on photos, does not hold back the findings: reported at the end.
        let deferred = photos::upload(inner, &ctx).await?;
        push::push_all(inner, &ctx).await?;
        pull::pull_all(inner, &ctx).await?;
        photos::download(inner, &ctx).await?;
        deferred.map_or(Ok(()), Err)
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

/// One full sync attempt; records its outcome (last_sync_at or last_error), publishes the status and says
/// when the loop should try again.
pub(crate) async fn run(inner: &Arc<Inner>) -> After {
    let _one_at_a_time = inner.sync_lock.lock().await;
    inner.set_live(|l| l.syncing = true);
    let _ = inner.publish().await;
    let started = std::time::Instant::now();
    let result = sync_once(inner).await;
    let after = classify(&result);
    let msg = result.as_ref().err().map(|e| e.user_message());
    match &result {
        Ok(()) => tracing::info!(ms = started.elapsed().as_millis() as u64, "sync complete"),
        Err(e) if e.is_network() => tracing::info!(error = %e, "sync: server not reachable"),
        Err(e) => tracing::warn!(error = %e, "sync failed"),
    }
    if result.as_ref().is_err_and(|e| e.is_network()) {
        inner.set_live(|l| l.online = false);
    }
    // A photo refused for good does not make the rest of the sync less done.
    let ok = result.is_ok() || after == After::Period;
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
    after
}

pub(crate) fn spawn_loop(weak: Weak<Inner>) {
    tokio::spawn(async move {
        let mut rng = rand::rngs::StdRng::from_os_rng();
        let mut failures: u32 = 0;
        loop {
            let Some(inner) = weak.upgrade() else { break };
            let after = run(&inner).await;
            let online = inner.live().online;
            drop(inner);
            failures = if after == After::Period { 0 } else { failures.saturating_add(1) };
            let wait = wait_for(after, failures, &mut rng);
            let until = tokio::time::Instant::now() + wait;
            tracing::debug!(?after, failures, wait_s = wait.as_secs_f32(), online, "next sync");
            if !online {
                // Offline: probe every 20 s; the first good answer (or a wake-up) ends the wait, but a sync
                // that failed goes again no sooner than its back-off allows.
                loop {
                    let Some(inner) = weak.upgrade() else { return };
                    let woke = tokio::select! {
                        _ = inner.wake.notified() => true,
                        _ = tokio::time::sleep(PROBE_PERIOD) => false,
                    };
                    if woke {
                        break;
                    }
                    if matches!(probe(&inner).await, Ok(Some(_))) {
                        let _ = inner.publish().await;
                        drop(inner);
                        sleep_until_or_wake(&weak, until).await;
                        break;
                    }
                    let _ = inner.publish().await;
                }
            } else if let After::ServerSaid(_) = after {
                // The server asked for this wait: new records do not cut it short (they wait with the rest);
                // "sync now" from the person does, as it does not go through this loop.
                tokio::time::sleep_until(until).await;
            } else {
                sleep_until_or_wake(&weak, until).await;
            }
        }
        tracing::debug!("sync loop ended (engine dropped)");
    });
}

/// Sleeps until `until`, or less when the engine is woken (a new record, a sign-in).
async fn sleep_until_or_wake(weak: &Weak<Inner>, until: tokio::time::Instant) {
    let Some(inner) = weak.upgrade() else { return };
    tokio::select! {
        _ = inner.wake.notified() => {},
        _ = tokio::time::sleep_until(until) => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xuncha_domain::UserMessage;

    #[test]
    fn backoff_is_full_jitter_doubling_from_20_s_to_the_180_s_cap() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let windows: Vec<u64> = (1..=7).map(|f| backoff_window(f).as_secs()).collect();
        assert_eq!(windows, [20, 40, 80, 160, 180, 180, 180]);
        assert_eq!(backoff_window(u32::MAX), BACKOFF_CAP, "no overflow after very many failures");
        for failures in 1..=8 {
            let window = backoff_window(failures);
            let draws: Vec<Duration> = (0..2000).map(|_| backoff(failures, &mut rng)).collect();
            let (lo, hi) = (draws.iter().min().unwrap(), draws.iter().max().unwrap());
            assert!(*lo >= BACKOFF_MIN && *hi <= window, "failures {failures}: {lo:?}..{hi:?} outside 1 s..{window:?}");
            // Full jitter: the draws spread over the whole window, not around one value.
            assert!(*lo < window / 10 && *hi > window * 9 / 10, "failures {failures}: {lo:?}..{hi:?} in {window:?}");
            let mean = draws.iter().sum::<Duration>() / draws.len() as u32;
            assert!(mean > window * 4 / 10 && mean < window * 6 / 10, "failures {failures}: mean {mean:?}");
        }
    }

    fn server(status: u16) -> Result<()> {
        Err(DeviceError::Server { status, message: UserMessage::new("x", "x", "x") })
    }

    #[test]
    fn each_answer_gets_its_retry_rule() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert_eq!(classify(&Ok(())), After::Period);
        assert_eq!(classify(&Err(DeviceError::Offline("x".into()))), After::Backoff);
        assert_eq!(classify(&Err(DeviceError::NotXuncha("portal".into()))), After::Backoff);
        assert_eq!(classify(&server(500)), After::Backoff);
        assert_eq!(classify(&server(503)), After::Backoff);
        assert_eq!(classify(&server(429)), After::Backoff, "429 without Retry-After");
        assert_eq!(classify(&server(409)), After::Backoff);
        assert_eq!(classify(&server(403)), After::Cap);
        assert_eq!(classify(&server(400)), After::Cap);
        assert_eq!(classify(&Err(DeviceError::SessionExpired)), After::Person);
        assert_eq!(classify(&Err(DeviceError::PhotoDamaged("h".into()))), After::Period);
        let busy = |secs| DeviceError::Busy { status: 429, retry_after: Duration::from_secs(secs), message: None };
        assert_eq!(classify(&Err(busy(90))), After::ServerSaid(Duration::from_secs(90)));
        assert_eq!(classify(&Err(busy(7 * 24 * 3600))), After::ServerSaid(MAX_RETRY_AFTER), "capped");
        assert_eq!(wait_for(After::ServerSaid(Duration::from_secs(90)), 3, &mut rng), Duration::from_secs(90));
        assert_eq!(wait_for(After::Cap, 1, &mut rng), BACKOFF_CAP, "403 is not hammered even the first time");
        assert_eq!(wait_for(After::Period, 0, &mut rng), PERIOD);
        assert!(wait_for(After::Backoff, 1, &mut rng) <= BACKOFF_BASE);
    }
}
