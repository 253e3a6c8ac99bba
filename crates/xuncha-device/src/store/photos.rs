//! Photo rows: one per file present on this device, with whether the server confirmed it.

use super::now_text;
use crate::error::Result;
use rusqlite::{params, Connection, OptionalExtension};
use xuncha_domain::PhotoHash;

pub struct NewPhoto<'a> {
    pub hash: &'a PhotoHash,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub exif_json: Option<String>,
    /// Downloaded photos came from the server, so it has them.
    pub uploaded: bool,
}

/// Inserts the row (the files are already durable). Ingesting the same photo twice keeps the first row,
/// including its `uploaded_at`.
pub fn insert(conn: &Connection, p: &NewPhoto<'_>) -> Result<()> {
    let now = now_text();
    conn.execute(
        "INSERT INTO photos(hash, width, height, bytes, exif_json, created_at, uploaded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(hash) DO NOTHING",
        params![p.hash.to_hex(), p.width, p.height, p.bytes as i64, p.exif_json, now, p.uploaded.then_some(&now)],
    )?;
    Ok(())
}

pub fn exists(conn: &Connection, hash: &PhotoHash) -> Result<bool> {
    Ok(conn.query_row("SELECT 1 FROM photos WHERE hash = ?1", [hash.to_hex()], |_| Ok(())).optional()?.is_some())
}

/// (present on this device, confirmed by the server).
pub fn state(conn: &Connection, hash: &PhotoHash) -> Result<(bool, bool)> {
    let up: Option<Option<String>> =
        conn.query_row("SELECT uploaded_at FROM photos WHERE hash = ?1", [hash.to_hex()], |r| r.get(0)).optional()?;
    Ok(match up {
        None => (false, false),
        Some(u) => (true, u.is_some()),
    })
}

fn hashes(conn: &Connection, sql: &str) -> Result<Vec<PhotoHash>> {
    let mut st = conn.prepare_cached(sql)?;
    let v = st.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(v.into_iter().filter_map(|h| h.parse().ok()).collect())
}

const PENDING_UPLOADS: &str = "SELECT DISTINCT p.hash FROM photos p JOIN finding_photos fp ON fp.hash = p.hash
     WHERE p.uploaded_at IS NULL ORDER BY p.created_at";

/// Photos attached to some finding and not yet confirmed by the server.
pub fn pending_uploads(conn: &Connection) -> Result<Vec<PhotoHash>> {
    hashes(conn, PENDING_UPLOADS)
}

pub fn count_pending_uploads(conn: &Connection) -> Result<u64> {
    Ok(conn.query_row(&format!("SELECT COUNT(*) FROM ({PENDING_UPLOADS})"), [], |r| r.get::<_, i64>(0))? as u64)
}

pub fn mark_uploaded(conn: &Connection, hash: &PhotoHash) -> Result<()> {
    conn.execute(
        "UPDATE photos SET uploaded_at = ?2 WHERE hash = ?1 AND uploaded_at IS NULL",
        params![hash.to_hex(), now_text()],
    )?;
    Ok(())
}

/// Photos referenced by findings (pulled ones, mostly) whose files are not on this device.
pub fn missing(conn: &Connection) -> Result<Vec<PhotoHash>> {
    hashes(
        conn,
        "SELECT DISTINCT fp.hash FROM finding_photos fp LEFT JOIN photos p ON p.hash = fp.hash WHERE p.hash IS NULL",
    )
}

pub fn size(conn: &Connection, hash: &PhotoHash) -> Result<Option<u64>> {
    Ok(conn
        .query_row("SELECT bytes FROM photos WHERE hash = ?1", [hash.to_hex()], |r| r.get::<_, i64>(0))
        .optional()?
        .map(|b| b as u64))
}
