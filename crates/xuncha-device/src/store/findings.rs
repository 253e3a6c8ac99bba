//! Findings, their history lines and their photo references, plus the list/detail views.

use super::{now_text, ts_text};
use crate::error::{DeviceError, Result};
use crate::views::{FindingSummary, FindingView, HistoryView, PhotoRef, PositionView, Scope, SyncState};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::BTreeSet;
use xuncha_domain::finding::FindingFields;
use xuncha_domain::{
    Action, Finding, FindingId, HistoryEntry, HistoryKind, PhotoHash, Status, TeamId, UserId, UserMessage,
};
use xuncha_proto::FindingRecord;

/// A finding as stored here, with what the server told us about it.
#[derive(Debug, Clone)]
pub struct FindingRow {
    pub finding: Finding,
    pub version: u64,
    pub author_name: String,
    pub team_name: String,
    pub sub_district: Option<String>,
    pub received_at: Option<String>,
    pub rejection: Option<UserMessage>,
    pub sync_state: SyncState,
}

/// Derived rather than stored, so it can never disagree with the outbox.
const SYNC_STATE_SQL: &str = "CASE
    WHEN EXISTS (SELECT 1 FROM outbox o WHERE o.finding_id = f.id AND o.state = 'rejected') THEN 'rejected'
    WHEN EXISTS (SELECT 1 FROM conflicts c WHERE c.finding_id = f.id) THEN 'conflict'
    WHEN EXISTS (SELECT 1 FROM outbox o WHERE o.finding_id = f.id AND o.state = 'pending')
        THEN CASE WHEN f.version = 0 THEN 'local' ELSE 'pending' END
    ELSE 'synced' END";

fn select_cols() -> String {
    format!(
        "f.id, f.author, f.team, f.fields_json, f.status, f.version, f.author_name, f.team_name, f.sub_district,
         f.received_at, f.rejection_json, {SYNC_STATE_SQL}"
    )
}

type RawRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

fn raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
    ))
}

fn corrupt(what: &str) -> DeviceError {
    DeviceError::Storage(format!("corrupt finding row: {what}"))
}

fn to_row(t: RawRow) -> Result<FindingRow> {
    let fields: FindingFields = serde_json::from_str(&t.3)?;
    let finding = Finding {
        id: t.0.parse().map_err(|_| corrupt("id"))?,
        author: t.1.parse().map_err(|_| corrupt("author"))?,
        team: t.2.parse().map_err(|_| corrupt("team"))?,
        fields,
        status: Status::parse(&t.4).ok_or_else(|| corrupt("status"))?,
    };
    Ok(FindingRow {
        finding,
        version: t.5 as u64,
        author_name: t.6,
        team_name: t.7,
        sub_district: t.8,
        received_at: t.9,
        rejection: t.10.and_then(|j| serde_json::from_str(&j).ok()),
        sync_state: SyncState::parse(&t.11),
    })
}

pub fn get(conn: &Connection, id: &FindingId) -> Result<Option<FindingRow>> {
    let t = conn
        .query_row(&format!("SELECT {} FROM findings f WHERE f.id = ?1", select_cols()), [id.to_string()], raw)
        .optional()?;
    t.map(to_row).transpose()
}

pub fn exists(conn: &Connection, id: &FindingId) -> Result<bool> {
    Ok(conn.query_row("SELECT 1 FROM findings WHERE id = ?1", [id.to_string()], |_| Ok(())).optional()?.is_some())
}

fn observed_cols(fields: &FindingFields) -> (String, String, String) {
    let at = fields.observed_at;
    // The day a person sees is the calendar day where (and when) they recorded it.
    (at.to_rfc3339(), ts_text(at.with_timezone(&chrono::Utc)), at.date_naive().format("%Y-%m-%d").to_string())
}

/// A finding made on this device (version 0 until the server confirms it).
pub fn insert_local(conn: &Connection, f: &Finding, author_name: &str, team_name: &str) -> Result<()> {
    let (at, utc, day) = observed_cols(&f.fields);
    conn.execute(
        "INSERT INTO findings(id, author, team, fields_json, status, category, observed_at, observed_utc, observed_day,
                              version, author_name, team_name, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, ?10, ?11, ?12)",
        params![
            f.id.to_string(),
            f.author.to_string(),
            f.team.to_string(),
            serde_json::to_string(&f.fields)?,
            f.status.as_str(),
            f.fields.category.as_str(),
            at,
            utc,
            day,
            author_name,
            team_name,
            now_text()
        ],
    )?;
    set_photos(conn, &f.id, &f.fields.photos)
}

pub fn update_fields(conn: &Connection, id: &FindingId, fields: &FindingFields) -> Result<()> {
    let (at, utc, day) = observed_cols(fields);
    conn.execute(
        "UPDATE findings SET fields_json = ?2, category = ?3, observed_at = ?4, observed_utc = ?5, observed_day = ?6,
                updated_at = ?7 WHERE id = ?1",
        params![id.to_string(), serde_json::to_string(fields)?, fields.category.as_str(), at, utc, day, now_text()],
    )?;
    set_photos(conn, id, &fields.photos)
}

pub fn set_status(conn: &Connection, id: &FindingId, status: Status) -> Result<()> {
    conn.execute(
        "UPDATE findings SET status = ?2, updated_at = ?3 WHERE id = ?1",
        params![id.to_string(), status.as_str(), now_text()],
    )?;
    Ok(())
}

pub fn set_version(conn: &Connection, id: &FindingId, version: u64) -> Result<()> {
    conn.execute(
        "UPDATE findings SET version = MAX(version, ?2) WHERE id = ?1",
        params![id.to_string(), version as i64],
    )?;
    Ok(())
}

pub fn set_rejection(conn: &Connection, id: &FindingId, rejection: Option<&UserMessage>) -> Result<()> {
    let j = rejection.map(serde_json::to_string).transpose()?;
    conn.execute("UPDATE findings SET rejection_json = ?2 WHERE id = ?1", params![id.to_string(), j])?;
    Ok(())
}

fn set_photos(conn: &Connection, id: &FindingId, photos: &[PhotoHash]) -> Result<()> {
    conn.execute("DELETE FROM finding_photos WHERE finding_id = ?1", [id.to_string()])?;
    let mut st = conn.prepare_cached("INSERT INTO finding_photos(finding_id, idx, hash) VALUES (?1, ?2, ?3)")?;
    for (i, h) in photos.iter().enumerate() {
        st.execute(params![id.to_string(), i as i64, h.to_hex()])?;
    }
    Ok(())
}

/// A local history line (device time; replaced by the server's lines on the next pull).
pub fn add_history(conn: &Connection, id: &FindingId, actor: &UserId, kind: &HistoryKind) -> Result<()> {
    let (k, detail) = history_kind_text(kind);
    conn.execute(
        "INSERT INTO history(finding_id, at, actor, kind, detail, from_server) VALUES (?1, ?2, ?3, ?4, ?5, 0)",
        params![id.to_string(), now_text(), actor.to_string(), k, detail],
    )?;
    Ok(())
}

/// `kind` is `created`, `edited`, or the action's name (`submit`, `return`, …); `detail` says
/// "from → to" and the reason, note or department when the action carries one.
fn history_kind_text(kind: &HistoryKind) -> (String, Option<String>) {
    match kind {
        HistoryKind::Created => ("created".into(), None),
        HistoryKind::Edited => ("edited".into(), None),
        HistoryKind::StatusChanged { from, to, action } => {
            let text = match action {
                Action::Return { reason } | Action::MarkInvalid { reason } | Action::Reopen { reason } => {
                    Some(reason.clone())
                }
                Action::ResolveOnSpot { note } | Action::MarkHandled { note } => Some(note.clone()),
                Action::Transfer { department } => Some(department.clone()),
                Action::MarkDuplicate { of } => Some(of.to_string()),
                _ => None,
            };
            let mut d = format!("{} → {}", from.as_str(), to.as_str());
            if let Some(t) = text.filter(|t| !t.is_empty()) {
                d.push_str(": ");
                d.push_str(&t);
            }
            (action.name().into(), Some(d))
        }
    }
}

/// Stores the server's state of a finding (the caller has checked that no local change is pending).
pub fn upsert_from_server(conn: &Connection, rec: &FindingRecord, sub_district_zh: Option<&str>) -> Result<()> {
    let f = &rec.finding;
    let (at, utc, day) = observed_cols(&f.fields);
    conn.execute(
        "INSERT INTO findings(id, author, team, fields_json, status, category, observed_at, observed_utc, observed_day,
                              version, server_seq, author_name, team_name, sub_district, received_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
         ON CONFLICT(id) DO UPDATE SET author = excluded.author, team = excluded.team,
            fields_json = excluded.fields_json, status = excluded.status, category = excluded.category,
            observed_at = excluded.observed_at, observed_utc = excluded.observed_utc,
            observed_day = excluded.observed_day, version = excluded.version, server_seq = excluded.server_seq,
            author_name = excluded.author_name, team_name = excluded.team_name,
            sub_district = excluded.sub_district, received_at = excluded.received_at,
            updated_at = excluded.updated_at",
        params![
            f.id.to_string(),
            f.author.to_string(),
            f.team.to_string(),
            serde_json::to_string(&f.fields)?,
            f.status.as_str(),
            f.fields.category.as_str(),
            at,
            utc,
            day,
            rec.version as i64,
            rec.server_seq as i64,
            rec.author_name,
            rec.team_name,
            sub_district_zh,
            ts_text(rec.received_at),
            now_text()
        ],
    )?;
    set_photos(conn, &f.id, &f.fields.photos)?;
    replace_history(conn, &f.id, &rec.history)
}

fn replace_history(conn: &Connection, id: &FindingId, history: &[HistoryEntry]) -> Result<()> {
    conn.execute("DELETE FROM history WHERE finding_id = ?1", [id.to_string()])?;
    let mut st = conn.prepare_cached(
        "INSERT INTO history(finding_id, at, actor, kind, detail, from_server) VALUES (?1, ?2, ?3, ?4, ?5, 1)",
    )?;
    for h in history {
        let (k, detail) = history_kind_text(&h.kind);
        st.execute(params![id.to_string(), ts_text(h.at), h.actor.to_string(), k, detail])?;
    }
    Ok(())
}

fn summary(row: &FindingRow) -> FindingSummary {
    let f = &row.finding.fields;
    FindingSummary {
        id: row.finding.id.to_string(),
        category: f.category.to_string(),
        subcategory: f.subcategory.to_string(),
        description: f.description.as_str().to_string(),
        status: row.finding.status.as_str().to_string(),
        observed_at: f.observed_at.to_rfc3339(),
        author_name: row.author_name.clone(),
        thumb: f.photos.first().map(|h| h.to_hex()),
        photo_count: f.photos.len() as u32,
        has_position: f.position.is_some(),
        imprecise: f.position.is_some_and(|p| p.is_imprecise()),
        sync_state: row.sync_state,
    }
}

/// Who is asking, for scope filtering.
pub struct Viewer {
    pub user: UserId,
    pub team: Option<TeamId>,
}

/// Newest first. `day` is `YYYY-MM-DD` (already checked by the caller).
pub fn list(conn: &Connection, day: Option<&str>, scope: Scope, viewer: &Viewer) -> Result<Vec<FindingSummary>> {
    let mut sql = format!("SELECT {} FROM findings f WHERE 1 = 1", select_cols());
    let mut args: Vec<String> = Vec::new();
    if let Some(d) = day {
        args.push(d.to_string());
        sql.push_str(&format!(" AND f.observed_day = ?{}", args.len()));
    }
    match (scope, viewer.team) {
        (Scope::Mine, _) => {
            args.push(viewer.user.to_string());
            sql.push_str(&format!(" AND f.author = ?{}", args.len()));
        }
        // The server only sends what this person may see; on a shared phone, show only this person's team.
        (Scope::Team, Some(team)) => {
            args.push(team.to_string());
            args.push(viewer.user.to_string());
            sql.push_str(&format!(" AND (f.team = ?{} OR f.author = ?{})", args.len() - 1, args.len()));
        }
        (Scope::Team, None) => {}
    }
    sql.push_str(" ORDER BY f.observed_utc DESC, f.id DESC");
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map(rusqlite::params_from_iter(args.iter()), raw)?.collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(|t| to_row(t).map(|r| summary(&r))).collect()
}

/// The detail view. `photo_state` answers (present, uploaded) for a hash.
pub fn view(conn: &Connection, id: &FindingId) -> Result<FindingView> {
    let row = get(conn, id)?.ok_or_else(|| DeviceError::FindingNotFound(id.to_string()))?;
    let f = &row.finding.fields;
    let mut photos = Vec::with_capacity(f.photos.len());
    for h in &f.photos {
        let (present, uploaded) = super::photos::state(conn, h)?;
        photos.push(PhotoRef { hash: h.to_hex(), present, uploaded });
    }
    let mut st =
        conn.prepare_cached("SELECT at, actor, kind, detail FROM history WHERE finding_id = ?1 ORDER BY at, id")?;
    let history = st
        .query_map([id.to_string()], |r| {
            Ok(HistoryView { at: r.get(0)?, actor: r.get(1)?, kind: r.get(2)?, detail: r.get(3)? })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(FindingView {
        summary: summary(&row),
        author: row.finding.author.to_string(),
        team: row.finding.team.to_string(),
        team_name: row.team_name.clone(),
        address: f.address.clone(),
        severity: f.severity.as_str().to_string(),
        position: f.position.map(|p| PositionView {
            lat: p.point.lat.value(),
            lon: p.point.lon.value(),
            accuracy_m: p.accuracy_m.map(|a| a.value()),
            source: p.source.as_str().to_string(),
        }),
        photos,
        sub_district: row.sub_district.clone(),
        version: row.version,
        received_at: row.received_at.clone(),
        rejection: row.rejection.clone(),
        conflicts: super::conflicts::for_finding(conn, id)?,
        history,
    })
}

pub fn count(conn: &Connection) -> Result<u64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM findings", [], |r| r.get::<_, i64>(0))? as u64)
}

/// Marks findings as received during scope re-download number `gen`.
pub fn mark_seen(conn: &Connection, ids: &[FindingId], gen: i64) -> Result<()> {
    let mut st = conn.prepare_cached("UPDATE findings SET seen_gen = ?2 WHERE id = ?1")?;
    for id in ids {
        st.execute(params![id.to_string(), gen])?;
    }
    Ok(())
}

/// After re-download `gen` finished: removes the findings the server no longer sent, i.e. those that left
/// this person's scope (team or role changed, or drift). Never one that is only on this phone (version 0)
/// or has ops in the outbox: unsent or refused work stays until it is sent or the person drops it.
/// Returns how many were removed and the photos no remaining finding references (to delete their files).
pub fn sweep_unseen(conn: &Connection, gen: i64) -> Result<(usize, Vec<PhotoHash>)> {
    let gone: Vec<String> = conn
        .prepare(
            "SELECT f.id FROM findings f WHERE f.version > 0 AND f.seen_gen < ?1
             AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.finding_id = f.id)",
        )?
        .query_map([gen], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut photos = BTreeSet::new();
    for id in &gone {
        let mut st = conn.prepare_cached("SELECT hash FROM finding_photos WHERE finding_id = ?1")?;
        for h in st.query_map([id], |r| r.get::<_, String>(0))? {
            photos.insert(h?);
        }
        // History, photo references and conflicts go with the row (ON DELETE CASCADE).
        conn.execute("DELETE FROM findings WHERE id = ?1", [id])?;
    }
    let mut orphans = Vec::new();
    for h in photos {
        let used: bool =
            conn.query_row("SELECT EXISTS(SELECT 1 FROM finding_photos WHERE hash = ?1)", [&h], |r| r.get(0))?;
        if !used {
            conn.execute("DELETE FROM photos WHERE hash = ?1", [&h])?;
            orphans.push(h.parse()?);
        }
    }
    Ok((gone.len(), orphans))
}

/// (id, version) of every finding this phone holds as the server sent it: the local side of the scope
/// digest. Version 0 rows (never confirmed) are not the server's.
pub fn server_versions(conn: &Connection) -> Result<Vec<(FindingId, u64)>> {
    let rows: Vec<(String, i64)> = conn
        .prepare("SELECT id, version FROM findings WHERE version > 0")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    rows.into_iter().map(|(id, v)| Ok((id.parse().map_err(|_| corrupt("id"))?, v as u64))).collect()
}
