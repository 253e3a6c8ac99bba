//! The outbox: changes waiting for the server, in the order they were made.
//!
//! An op's body may change only while `attempts = 0`: once it has been sent, the server may have applied
//! it under its op_id, and a retry with a different body would be answered "already applied" while the
//! change in it is silently lost. Taking a batch bumps `attempts` under the same lock as folding an edit,
//! so the two can never race.

use super::{meta, now_text};
use crate::error::Result;
use rusqlite::{params, Connection, OptionalExtension};
use xuncha_domain::finding::FindingFields;
use xuncha_domain::{FieldConflict, FindingId, OpId, Status, UserId, UserMessage};
use xuncha_proto::{OpBody, Operation};

fn kind_of(body: &OpBody) -> &'static str {
    match body {
        OpBody::Create { .. } => "create",
        OpBody::Edit { .. } => "edit",
        OpBody::ChangeStatus { .. } => "change_status",
    }
}

pub fn enqueue(
    conn: &Connection,
    user: &UserId,
    finding: &FindingId,
    body: &OpBody,
    prev_status: Option<Status>,
) -> Result<OpId> {
    let op_id = OpId::new_v7();
    let device_seq = meta::take_device_seq(conn)?;
    conn.execute(
        "INSERT INTO outbox(op_id, device_seq, finding_id, user_id, kind, body_json, prev_status, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            op_id.to_string(),
            device_seq as i64,
            finding.to_string(),
            user.to_string(),
            kind_of(body),
            serde_json::to_string(body)?,
            prev_status.map(|s| s.as_str()),
            now_text()
        ],
    )?;
    tracing::debug!(%op_id, device_seq, %finding, kind = kind_of(body), "op queued");
    Ok(op_id)
}

/// Queues new field values for a finding. Folds them into the finding's last op when that op is a
/// never-sent Create or Edit (one op instead of many; a never-synced finding stays one Create).
/// `version` is the last server version seen (0 if never synced); `before` is the finding's fields just
/// before this edit: the base the server merges against, so only what the person changed is applied.
pub fn queue_fields(
    conn: &Connection,
    user: &UserId,
    finding: &FindingId,
    version: u64,
    before: &FindingFields,
    fields: &FindingFields,
) -> Result<()> {
    let last: Option<(i64, String, i64, String)> = conn
        .query_row(
            "SELECT seq, kind, attempts, body_json FROM outbox WHERE finding_id = ?1 AND state = 'pending'
             ORDER BY seq DESC LIMIT 1",
            [finding.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    if let Some((seq, kind, 0, body_json)) = &last {
        let folded = match serde_json::from_str::<OpBody>(body_json)? {
            OpBody::Create { .. } if kind == "create" => Some(OpBody::Create { fields: fields.clone() }),
            // The folded edit keeps the base of its first part: together they changed base → fields.
            OpBody::Edit { base_version, base, .. } if kind == "edit" => {
                Some(OpBody::Edit { base_version, fields: fields.clone(), base })
            }
            _ => None,
        };
        if let Some(body) = folded {
            conn.execute(
                "UPDATE outbox SET body_json = ?2 WHERE seq = ?1",
                params![seq, serde_json::to_string(&body)?],
            )?;
            tracing::debug!(%finding, "edit folded into unsent op");
            return Ok(());
        }
    }
    let body = if version == 0 && !has_pending_create(conn, finding)? {
        // The server never accepted a Create for it (e.g. the Create was refused and is being redone).
        OpBody::Create { fields: fields.clone() }
    } else {
        OpBody::Edit { base_version: version, fields: fields.clone(), base: Some(before.clone()) }
    };
    enqueue(conn, user, finding, &body, None)?;
    Ok(())
}

/// Before a status change on a finding the server never accepted, make sure a Create goes first.
pub fn ensure_created(
    conn: &Connection,
    user: &UserId,
    finding: &FindingId,
    version: u64,
    fields: &FindingFields,
) -> Result<()> {
    if version == 0 && !has_pending_create(conn, finding)? {
        enqueue(conn, user, finding, &OpBody::Create { fields: fields.clone() }, None)?;
    }
    Ok(())
}

fn has_pending_create(conn: &Connection, finding: &FindingId) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM outbox WHERE finding_id = ?1 AND kind = 'create' AND state = 'pending'",
            [finding.to_string()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// The person acted on the finding again after seeing the refusal: the refused ops are superseded.
pub fn clear_rejected(conn: &Connection, finding: &FindingId) -> Result<usize> {
    Ok(conn.execute("DELETE FROM outbox WHERE finding_id = ?1 AND state = 'rejected'", [finding.to_string()])?)
}

pub fn has_pending(conn: &Connection, finding: &FindingId) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM outbox WHERE finding_id = ?1 AND state = 'pending' LIMIT 1",
            [finding.to_string()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// One op taken for sending.
#[derive(Debug, Clone)]
pub struct Taken {
    pub op: Operation,
    pub prev_status: Option<Status>,
}

/// A pending outbox row as stored.
struct PendingRow {
    seq: i64,
    op_id: String,
    device_seq: i64,
    finding_id: String,
    body_json: String,
    attempts: i64,
    prev_status: Option<String>,
}

/// The next batch for `user`: the longest prefix of their pending ops (in order) holding at most one
/// op per finding, at most `max`. One op per finding per batch means each op's `base_version` can be
/// set from the server's answer to the op before it — exact, whatever the server's conflict rule.
/// Marks each taken op as attempted (freezing its body) in the same transaction.
pub fn take_batch(conn: &mut Connection, user: &UserId, max: usize) -> Result<Vec<Taken>> {
    let tx = conn.transaction()?;
    let rows: Vec<PendingRow> = {
        let mut st = tx.prepare(
            "SELECT o.seq, o.op_id, o.device_seq, o.finding_id, o.body_json, o.attempts, o.prev_status
             FROM outbox o WHERE o.state = 'pending' AND o.user_id = ?1 ORDER BY o.seq LIMIT ?2",
        )?;
        let v = st
            .query_map(params![user.to_string(), max as i64], |r| {
                Ok(PendingRow {
                    seq: r.get(0)?,
                    op_id: r.get(1)?,
                    device_seq: r.get(2)?,
                    finding_id: r.get(3)?,
                    body_json: r.get(4)?,
                    attempts: r.get(5)?,
                    prev_status: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        v
    };
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for PendingRow { seq, op_id, device_seq, finding_id, body_json, attempts, prev_status: prev } in rows {
        if !seen.insert(finding_id.clone()) {
            break;
        }
        let finding: FindingId = finding_id.parse()?;
        let mut body: OpBody = serde_json::from_str(&body_json)?;
        if attempts == 0 {
            // Never sent: base it on the version our earlier ops produced (a pull never changes the
            // version of a finding with pending ops, so this is exactly "what the person edited").
            let version: i64 =
                tx.query_row("SELECT version FROM findings WHERE id = ?1", [&finding_id], |r| r.get(0))?;
            match &mut body {
                OpBody::Edit { base_version, .. } | OpBody::ChangeStatus { base_version, .. } => {
                    *base_version = version as u64
                }
                OpBody::Create { .. } => {}
            }
            tx.execute("UPDATE outbox SET body_json = ?2 WHERE seq = ?1", params![seq, serde_json::to_string(&body)?])?;
        }
        tx.execute("UPDATE outbox SET attempts = attempts + 1 WHERE seq = ?1", [seq])?;
        out.push(Taken {
            op: Operation { op_id: op_id.parse()?, device_seq: device_seq as u64, finding_id: finding, body },
            prev_status: prev.as_deref().and_then(Status::parse),
        });
    }
    tx.commit()?;
    Ok(out)
}

/// The server committed the op: it leaves the outbox, the finding learns its new version, and the fields
/// the server kept its own value for are recorded with both values for the person to choose.
pub fn applied(conn: &Connection, op: &Operation, version: u64, conflicts: &[FieldConflict]) -> Result<()> {
    conn.execute("DELETE FROM outbox WHERE op_id = ?1", [op.op_id.to_string()])?;
    super::conflicts::record(conn, &op.finding_id, &op.op_id, conflicts)?;
    super::findings::set_version(conn, &op.finding_id, version)
}

/// The server refused the op for good: keep it, with its reason, and show the reason on the finding.
/// A refused status change puts the status back to what it was.
pub fn rejected(conn: &Connection, taken: &Taken, error: &UserMessage) -> Result<()> {
    conn.execute(
        "UPDATE outbox SET state = 'rejected', error_json = ?2 WHERE op_id = ?1",
        params![taken.op.op_id.to_string(), serde_json::to_string(error)?],
    )?;
    super::findings::set_rejection(conn, &taken.op.finding_id, Some(error))?;
    if let (OpBody::ChangeStatus { .. }, Some(prev)) = (&taken.op.body, taken.prev_status) {
        super::findings::set_status(conn, &taken.op.finding_id, prev)?;
    }
    Ok(())
}

/// (pending, rejected) op counts, for the sync status.
pub fn counts(conn: &Connection) -> Result<(u64, u64)> {
    Ok(conn.query_row(
        "SELECT COALESCE(SUM(state = 'pending'), 0), COALESCE(SUM(state = 'rejected'), 0) FROM outbox",
        [],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
    )?)
}

/// Ops still to be sent for any user other than `user` (a shared phone): they wait for their author.
pub fn pending_for_others(conn: &Connection, user: &UserId) -> Result<u64> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND user_id <> ?1",
        [user.to_string()],
        |r| r.get::<_, i64>(0),
    )? as u64)
}
