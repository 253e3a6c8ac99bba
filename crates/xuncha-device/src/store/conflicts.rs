//! Edit conflicts the server handed back: a field this device changed that had meanwhile been changed on
//! the server to another value. Nothing is dropped: the server kept its value, this table keeps the
//! person's, and the detail screen shows both until the person chooses.

use super::now_text;
use crate::error::{DeviceError, Result};
use crate::views::ConflictView;
use rusqlite::{params, Connection, OptionalExtension};
use xuncha_domain::{Field, FieldConflict, FindingId, OpId};

/// Records the conflicts of one applied op. A later conflict on the same field replaces the earlier one:
/// the newer "yours" is what the person typed last.
pub fn record(conn: &Connection, finding: &FindingId, op: &OpId, conflicts: &[FieldConflict]) -> Result<()> {
    let mut st = conn.prepare_cached(
        "INSERT INTO conflicts(finding_id, field, yours_json, theirs_json, op_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(finding_id, field) DO UPDATE SET yours_json = excluded.yours_json,
            theirs_json = excluded.theirs_json, op_id = excluded.op_id, created_at = excluded.created_at",
    )?;
    for c in conflicts {
        st.execute(params![
            finding.to_string(),
            c.field.as_str(),
            serde_json::to_string(&c.yours)?,
            serde_json::to_string(&c.theirs)?,
            op.to_string(),
            now_text()
        ])?;
        tracing::info!(%finding, field = c.field.as_str(), "edit conflict kept for the person to resolve");
    }
    Ok(())
}

pub fn for_finding(conn: &Connection, finding: &FindingId) -> Result<Vec<ConflictView>> {
    let mut st = conn.prepare_cached(
        "SELECT field, yours_json, theirs_json, created_at FROM conflicts WHERE finding_id = ?1 ORDER BY field",
    )?;
    let rows = st
        .query_map([finding.to_string()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(field, yours, theirs, at)| {
            Ok(ConflictView { field, yours: serde_json::from_str(&yours)?, theirs: serde_json::from_str(&theirs)?, at })
        })
        .collect()
}

/// The person's value of one conflicting field, removing the conflict.
pub fn take(conn: &Connection, finding: &FindingId, field: Field) -> Result<(serde_json::Value, serde_json::Value)> {
    let row: Option<(String, String)> = conn
        .query_row(
            "SELECT yours_json, theirs_json FROM conflicts WHERE finding_id = ?1 AND field = ?2",
            params![finding.to_string(), field.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (yours, theirs) = row.ok_or_else(|| DeviceError::ConflictNotFound(field.as_str().to_string()))?;
    conn.execute(
        "DELETE FROM conflicts WHERE finding_id = ?1 AND field = ?2",
        params![finding.to_string(), field.as_str()],
    )?;
    Ok((serde_json::from_str(&yours)?, serde_json::from_str(&theirs)?))
}

pub fn count(conn: &Connection) -> Result<u64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM conflicts", [], |r| r.get::<_, i64>(0))? as u64)
}
