//! Key–value facts about this installation, and the signed-in accounts.

use crate::error::{DeviceError, Result};
use rusqlite::{params, Connection, OptionalExtension};
use xuncha_domain::{DeviceId, UserId, UserMessage};
use xuncha_proto::UserProfile;

pub const DEVICE_ID: &str = "device_id";
pub const SERVER_URL: &str = "server_url";
pub const SERVER_ID: &str = "server_id";
pub const NEXT_DEVICE_SEQ: &str = "next_device_seq";
pub const LAST_SYNC_AT: &str = "last_sync_at";
pub const LAST_ERROR: &str = "last_error";

/// The pull cursor belongs to one user on one server: another user sees another scope, so reusing
/// someone else's cursor would skip findings.
pub fn pull_cursor_key(user: &UserId) -> String {
    format!("pull_cursor:{user}")
}

pub fn get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
}

pub fn set(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, key: &str) -> Result<()> {
    conn.execute("DELETE FROM meta WHERE key = ?1", [key])?;
    Ok(())
}

/// Made once, on the first start; the server knows this installation by it.
pub fn ensure_device_id(conn: &Connection) -> Result<DeviceId> {
    if let Some(v) = get(conn, DEVICE_ID)? {
        return v.parse().map_err(|_| DeviceError::Storage("corrupt device_id".into()));
    }
    let id = DeviceId::new_v7();
    set(conn, DEVICE_ID, &id.to_string())?;
    Ok(id)
}

/// Takes the next per-device operation number (1, 2, 3 …), inside the caller's transaction.
pub fn take_device_seq(conn: &Connection) -> Result<u64> {
    let next: u64 = get(conn, NEXT_DEVICE_SEQ)?.and_then(|v| v.parse().ok()).unwrap_or(1);
    set(conn, NEXT_DEVICE_SEQ, &(next + 1).to_string())?;
    Ok(next)
}

pub fn last_error(conn: &Connection) -> Result<Option<UserMessage>> {
    Ok(get(conn, LAST_ERROR)?.and_then(|j| serde_json::from_str(&j).ok()))
}

pub fn set_last_error(conn: &Connection, e: Option<&UserMessage>) -> Result<()> {
    match e {
        Some(m) => set(conn, LAST_ERROR, &serde_json::to_string(m)?),
        None => delete(conn, LAST_ERROR),
    }
}

/// One signed-in account (see the `session` table).
#[derive(Clone)]
pub struct StoredSession {
    pub server_url: String,
    pub username: String,
    pub profile: UserProfile,
    pub token: Option<String>,
    pub verifier: String,
}

impl std::fmt::Debug for StoredSession {
    // Tokens and verifiers never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSession")
            .field("server_url", &self.server_url)
            .field("username", &self.username)
            .field("has_token", &self.token.is_some())
            .finish()
    }
}

fn row_to_session(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, Option<String>, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn to_session(t: (String, String, String, Option<String>, String)) -> Result<StoredSession> {
    Ok(StoredSession {
        server_url: t.0,
        username: t.1,
        profile: serde_json::from_str(&t.2)?,
        token: t.3,
        verifier: t.4,
    })
}

const SESSION_COLS: &str = "server_url, username, profile_json, token, verifier";

pub fn active_session(conn: &Connection) -> Result<Option<StoredSession>> {
    let t = conn
        .query_row(&format!("SELECT {SESSION_COLS} FROM session WHERE active = 1"), [], row_to_session)
        .optional()?;
    t.map(to_session).transpose()
}

pub fn find_session(conn: &Connection, server_url: &str, username: &str) -> Result<Option<StoredSession>> {
    let t = conn
        .query_row(
            &format!("SELECT {SESSION_COLS} FROM session WHERE server_url = ?1 AND username = ?2"),
            params![server_url, username],
            row_to_session,
        )
        .optional()?;
    t.map(to_session).transpose()
}

/// Makes `s` the one active session (after an online sign-in).
pub fn save_active_session(conn: &Connection, s: &StoredSession) -> Result<()> {
    conn.execute("UPDATE session SET active = 0 WHERE active = 1", [])?;
    conn.execute(
        "INSERT INTO session(server_url, username, user_id, profile_json, token, verifier, active, signed_in_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7)
         ON CONFLICT(server_url, username) DO UPDATE SET user_id = excluded.user_id,
           profile_json = excluded.profile_json, token = excluded.token, verifier = excluded.verifier,
           active = 1, signed_in_at = excluded.signed_in_at",
        params![
            s.server_url,
            s.username,
            s.profile.id.to_string(),
            serde_json::to_string(&s.profile)?,
            s.token,
            s.verifier,
            super::now_text()
        ],
    )?;
    Ok(())
}

/// Re-activates an account that signed in online before (offline sign-in).
pub fn activate_session(conn: &Connection, server_url: &str, username: &str) -> Result<()> {
    conn.execute("UPDATE session SET active = 0 WHERE active = 1", [])?;
    conn.execute(
        "UPDATE session SET active = 1 WHERE server_url = ?1 AND username = ?2",
        params![server_url, username],
    )?;
    Ok(())
}

/// Logout: the token goes, the verifier stays (so the same person can sign in offline later).
pub fn end_active_session(conn: &Connection) -> Result<()> {
    conn.execute("UPDATE session SET token = NULL, active = 0 WHERE active = 1", [])?;
    Ok(())
}

/// The server said the token is no longer valid: forget it, keep the session active so the person
/// still sees their data and is asked to sign in again.
pub fn drop_token(conn: &Connection) -> Result<()> {
    conn.execute("UPDATE session SET token = NULL WHERE active = 1", [])?;
    Ok(())
}

/// The server's current profile of the active account (role, team or district changed by an
/// administrator): the lists and the UI follow the new team at once.
pub fn update_active_profile(conn: &Connection, profile: &UserProfile) -> Result<()> {
    conn.execute(
        "UPDATE session SET profile_json = ?2 WHERE active = 1 AND user_id = ?1",
        params![profile.id.to_string(), serde_json::to_string(profile)?],
    )?;
    Ok(())
}
