//! Keeping this phone's copy equal to the person's scope: re-download on a scope change or on drift,
//! and removal of what left the scope.
//!
//! Why a re-download rather than server-sent removals: the server does not remember what each phone
//! holds, and a phone can be offline for days across several changes. Every pull answer names the
//! scope it was computed for (`PullResponse::scope`); when that differs from the one stored here, the
//! person's team or role changed, and the phone pulls its new scope from cursor 0, marking every row it
//! receives with this re-download's generation. When the last page arrives, rows the server did not
//! send are outside the scope and are removed — unless they are only on this phone or still have ops to
//! send (those stay until sent or refused, and are shown as such). Photos no remaining finding uses are
//! deleted with them: a phone that moved teams keeps nothing of the old team.
//!
//! Drift (a row lost or changed by anything the protocol does not see — a restored backup, a bug) is
//! found by the scope digest: after catching up, at most every [`DIGEST_PERIOD`], the phone compares
//! count and checksum over (id, version) with the server's and re-downloads on a difference.
//!
//! Every step is checkpointed in the store (the generation, the cursor per page), so a re-download cut
//! off by a dead network or a killed app resumes where it stopped.

use super::Ctx;
use crate::engine::Inner;
use crate::error::{DeviceError, Result};
use crate::files::Kind;
use crate::store::{findings, meta};
use rusqlite::Connection;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;
use xuncha_domain::UserId;
use xuncha_proto::{paths, ApiError, ScopeDigest, UserProfile};

/// How often a caught-up phone checks its copy against the server's digest.
pub const DIGEST_PERIOD: Duration = Duration::from_secs(3600);

fn scope_key(user: &UserId) -> String {
    format!("scope:{user}")
}
fn rescan_key(user: &UserId) -> String {
    format!("rescan_gen:{user}")
}
fn digest_at_key(user: &UserId) -> String {
    format!("digest_at:{user}")
}
const GEN_COUNTER: &str = "seen_gen_counter";

/// Where a user's pull stands.
#[derive(Debug, Clone, PartialEq)]
pub struct PullState {
    pub cursor: u64,
    /// The scope the stored rows were pulled for (None before the first answer naming one).
    pub scope: Option<String>,
    /// Set while a re-download runs: rows received are marked with it.
    pub rescan_gen: Option<i64>,
}

pub fn state(conn: &Connection, user: &UserId) -> Result<PullState> {
    Ok(PullState {
        cursor: meta::get(conn, &meta::pull_cursor_key(user))?.and_then(|v| v.parse().ok()).unwrap_or(0),
        scope: meta::get(conn, &scope_key(user))?,
        rescan_gen: meta::get(conn, &rescan_key(user))?.and_then(|v| v.parse().ok()),
    })
}

/// True when an answer names a different scope than the rows here were pulled for. An empty name
/// (a server before scope names) never counts as a change.
pub fn changed(st: &PullState, answered: &str) -> bool {
    !answered.is_empty() && st.scope.as_deref().is_some_and(|s| s != answered)
}

/// Records the scope name when none is stored yet (first pull, or an upgrade from a build without it).
pub fn remember(conn: &Connection, user: &UserId, st: &mut PullState, answered: &str) -> Result<()> {
    if st.scope.is_none() && !answered.is_empty() {
        meta::set(conn, &scope_key(user), answered)?;
        st.scope = Some(answered.to_string());
    }
    Ok(())
}

/// Starts (or restarts) a re-download of `user`'s scope from cursor 0 under a new generation.
pub fn start_rescan(conn: &mut Connection, user: &UserId, scope: &str, why: &str) -> Result<PullState> {
    let tx = conn.transaction()?;
    let gen = meta::get(&tx, GEN_COUNTER)?.and_then(|v| v.parse::<i64>().ok()).unwrap_or(0) + 1;
    meta::set(&tx, GEN_COUNTER, &gen.to_string())?;
    meta::set(&tx, &rescan_key(user), &gen.to_string())?;
    meta::set(&tx, &meta::pull_cursor_key(user), "0")?;
    if !scope.is_empty() {
        meta::set(&tx, &scope_key(user), scope)?;
    }
    tx.commit()?;
    tracing::info!(%user, gen, why, "downloading the whole scope again");
    state(conn, user)
}

/// Ends a re-download: removes what it did not see, returns the photo files to delete. Other accounts'
/// cursors on this phone are reset when rows were removed (their rows may have been among them), so
/// they download their own scope again at their next sign-in.
fn finish_rescan(conn: &mut Connection, user: &UserId, gen: i64) -> Result<(usize, Vec<xuncha_domain::PhotoHash>)> {
    let tx = conn.transaction()?;
    let (removed, orphans) = findings::sweep_unseen(&tx, gen)?;
    meta::delete(&tx, &rescan_key(user))?;
    if removed > 0 {
        tx.execute("DELETE FROM meta WHERE key LIKE 'pull_cursor:%' AND key <> ?1", [meta::pull_cursor_key(user)])?;
    }
    tx.commit()?;
    Ok((removed, orphans))
}

pub(crate) async fn finish(inner: &Arc<Inner>, user: UserId, gen: i64) -> Result<()> {
    let (removed, orphans) = inner.db(move |s| finish_rescan(&mut s.conn, &user, gen)).await?;
    let files = inner.files.clone();
    let n = orphans.len();
    tokio::task::spawn_blocking(move || {
        for h in &orphans {
            for kind in [Kind::Full, Kind::Thumb] {
                // A file already gone is fine: the row, the thing that counts, is removed.
                let _ = std::fs::remove_file(files.path(kind, h));
            }
        }
    })
    .await
    .map_err(|e| DeviceError::Internal(e.to_string()))?;
    tracing::info!(removed, photos = n, "scope re-download finished");
    Ok(())
}

/// Compares this phone's copy with the server's digest when due and nothing is waiting to be sent.
/// Returns true when they differ (the caller re-downloads).
pub(crate) async fn drifted(inner: &Arc<Inner>, ctx: &Ctx) -> Result<bool> {
    let user = ctx.user;
    let period = inner.options.digest_period;
    let due = inner
        .db(move |s| {
            let c = s.conn();
            // With ops in flight the phone's versions legitimately lag the server's.
            let (pending, _) = crate::store::outbox::counts(c)?;
            let last: Option<i64> = meta::get(c, &digest_at_key(&user))?.and_then(|v| v.parse().ok());
            let now = chrono::Utc::now().timestamp();
            // The device clock only spaces out checks here; it never orders data.
            let due = last.is_none_or(|t| now < t || now - t >= period.as_secs() as i64);
            Ok(pending == 0 && due)
        })
        .await?;
    if !due {
        return Ok(false);
    }
    let theirs = fetch_digest(inner, ctx).await?;
    let mine = inner.db(|s| findings::server_versions(s.conn())).await?;
    let mine = ScopeDigest::of(&theirs.scope, mine.iter().map(|(id, v)| (id, *v)));
    inner.db(move |s| meta::set(s.conn(), &digest_at_key(&user), &chrono::Utc::now().timestamp().to_string())).await?;
    let differs = mine != theirs;
    if differs {
        tracing::warn!(mine = mine.count, server = theirs.count, "this phone's copy differs from the server's scope");
    } else {
        tracing::debug!(count = mine.count, "scope digest matches");
    }
    Ok(differs)
}

async fn fetch_digest(inner: &Arc<Inner>, ctx: &Ctx) -> Result<ScopeDigest> {
    get_json(inner, ctx, paths::DIGEST).await
}

/// After a scope change: the person's new role and team, so lists and screens follow them at once.
pub(crate) async fn refresh_profile(inner: &Arc<Inner>, ctx: &Ctx) -> Result<()> {
    let profile: UserProfile = get_json(inner, ctx, paths::ME).await?;
    if profile.id != ctx.user {
        return Err(DeviceError::NotXuncha("profile of another user".into()));
    }
    tracing::info!(role = profile.role.as_str(), "profile refreshed after a scope change");
    inner.db(move |s| meta::update_active_profile(s.conn(), &profile)).await
}

async fn get_json<T: DeserializeOwned>(inner: &Arc<Inner>, ctx: &Ctx, path: &str) -> Result<T> {
    let net = |e: reqwest::Error| DeviceError::Offline(e.without_url().to_string());
    let resp =
        inner.http.get(format!("{}{}", ctx.client.base(), path)).bearer_auth(&ctx.token).send().await.map_err(net)?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(net)?;
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(DeviceError::SessionExpired);
    }
    if !status.is_success() {
        return Err(match serde_json::from_slice::<ApiError>(&body) {
            Ok(e) => DeviceError::Server { status: status.as_u16(), message: e.error },
            Err(_) => DeviceError::NotXuncha(format!("{path} answered {status}")),
        });
    }
    serde_json::from_slice(&body).map_err(|_| DeviceError::NotXuncha(format!("{path}: not Xuncha JSON")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(scope: Option<&str>) -> PullState {
        PullState { cursor: 7, scope: scope.map(Into::into), rescan_gen: None }
    }

    #[test]
    fn only_a_different_named_scope_is_a_change() {
        assert!(changed(&st(Some("team_leader:user=a,team=b")), "team_leader:user=a,team=c"));
        assert!(!changed(&st(Some("x")), "x"));
        assert!(!changed(&st(Some("x")), ""), "an old server names no scope");
        assert!(!changed(&st(None), "x"), "nothing stored yet: remember, do not re-download");
    }
}
