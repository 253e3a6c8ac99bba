//! The SQLite backend: one file in WAL mode, one writer connection and a few readers.
//!
//! Why one writer: SQLite allows one writer at a time anyway, and serialising writes here makes
//! `server_seq` (max + 1 inside an IMMEDIATE transaction) strictly increasing in commit order, so a
//! reader never sees seq 7 committed before seq 6 and a pull cursor can never skip a change.
//! Every rusqlite call runs on the thread that owns its connection (`sqlite/conn_threads.rs`), never on
//! the async executor.

mod conn_threads;

use super::group_commit::{self, PushQueue};
use super::{
    Credentials, NewDistrict, NewSubDistrict, NewUser, PhotoRecorded, ServerStore, Session, StoreError, StoredFinding,
    Team, TokenHash,
};
use crate::apply::{self, Current, Rules};
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use conn_threads::ConnThreads;
use rusqlite::config::DbConfig;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use rusqlite_migration::{Migrations, M};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;
use xuncha_domain::finding::FindingFields;
use xuncha_domain::{
    DeviceId, DistrictId, Finding, FindingId, PhotoHash, Principal, Role, Status, SubDistrictId, TeamId, UserId,
};
use xuncha_proto::{DistrictRef, OpOutcome, OpResult, Operation, PullResponse, TeamRef, UserProfile};

const READERS: usize = 3;
/// Prepared statements kept per connection (rusqlite's default of 16 is fewer than the hot ones).
const STATEMENT_CACHE: usize = 64;
/// How long a connection waits for a lock held by another process (an admin command) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

static MIGRATION_STEPS: &[M<'static>] = &[M::up(include_str!("../../migrations/sqlite/0001_initial.sql"))];

/// The schema history. Append new steps; never edit a released one.
pub fn migrations() -> Migrations<'static> {
    Migrations::from_slice(MIGRATION_STEPS)
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The one writer connection's thread.
    writer: ConnThreads,
    /// [`READERS`] reader connections' threads, sharing one queue.
    readers: ConnThreads,
    rules: Arc<Rules>,
    /// Pushes waiting for the writer (group commit).
    pending: PushQueue,
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database file.
    pub async fn open(path: &Path, rules: Arc<Rules>) -> Result<Self, StoreError> {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(&path, rules))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    pub fn open_blocking(path: &Path, rules: Arc<Rules>) -> Result<Self, StoreError> {
        let mut writer = connect(path)?;
        migrations().to_latest(&mut writer).map_err(|e| StoreError::Backend(format!("migration failed: {e}")))?;
        // The server id is made once, on first open, and never changes afterwards.
        writer.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('server_id', ?1)",
            params![Uuid::now_v7().to_string()],
        )?;
        // The boundaries in force are the rules' (the compiled-in demo ones until an administrator can load
        // others); mirror them into the tables so findings can reference them by foreign key.
        let tx = writer.transaction()?;
        for d in &rules.boundaries.districts {
            tx.execute(
                "INSERT OR IGNORE INTO districts(id, code, zh, en) VALUES (?1, ?2, ?3, ?4)",
                params![d.id.to_string(), d.code, d.zh, d.en],
            )?;
        }
        for sd in &rules.boundaries.sub_districts {
            tx.execute(
                "INSERT OR IGNORE INTO sub_districts(id, district_id, code, zh, en) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![sd.id.to_string(), sd.district.to_string(), sd.code, sd.zh, sd.en],
            )?;
        }
        tx.commit()?;
        let readers = (0..READERS).map(|_| connect(path)).collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            inner: Arc::new(Inner {
                writer: ConnThreads::start("sqlite-writer", vec![writer])?,
                readers: ConnThreads::start("sqlite-reader", readers)?,
                rules,
                pending: PushQueue::default(),
            }),
        })
    }

    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &Rules) -> Result<T, StoreError> + Send + 'static,
    {
        let rules = self.inner.rules.clone();
        self.inner.writer.run(move |conn| f(conn, &rules)).await
    }

    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.inner.readers.run(move |conn| f(conn)).await
    }
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") && path != Path::new(":memory:") {
        return Err(StoreError::Backend(format!("could not switch to WAL (journal_mode = {mode})")));
    }
    // FULL: an acknowledged push survives a power cut, which is the promise the device relies on
    // when it deletes the op from its outbox.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Plans must not depend on bound values: without this, SQLite (built with STAT4) marks a statement
    // whose LIMIT is a parameter as stale at every bind and re-prepares it — a quarter of a pull's CPU.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // The hot statements (push, pull per role, session, history) all stay prepared.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("time {s:?}: {e}")))
}

fn parse_id<T: FromStr>(s: &str) -> Result<T, StoreError> {
    s.parse().map_err(|_| StoreError::Corrupt(format!("id {s:?}")))
}

fn opt_id<T: FromStr>(s: Option<String>) -> Result<Option<T>, StoreError> {
    s.as_deref().map(parse_id).transpose()
}

fn to_i64(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v} is out of range")))
}

fn parse_role(s: &str) -> Result<Role, StoreError> {
    Role::parse(s).ok_or_else(|| StoreError::Corrupt(format!("role {s:?}")))
}

/// Maps a UNIQUE violation to `AlreadyExists(what)`; everything else stays a backend error.
fn unique(what: String) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) if e.to_string().contains("UNIQUE") => {
            StoreError::AlreadyExists(what)
        }
        _ => e.into(),
    }
}

/// The principal of a user row (columns 0–3, read by [`principal_row`]): the district of an inspector or
/// leader is their team's.
const PRINCIPAL_COLUMNS: &str = "u.id, u.role, u.team_id, COALESCE(t.district_id, u.district_id)";
const PRINCIPAL_FROM: &str = "FROM users u LEFT JOIN teams t ON t.id = u.team_id";

fn principal_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, Option<String>, Option<String>)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn principal_from(row: (String, String, Option<String>, Option<String>)) -> Result<Principal, StoreError> {
    Ok(Principal { user: parse_id(&row.0)?, role: parse_role(&row.1)?, team: opt_id(row.2)?, district: opt_id(row.3)? })
}

fn load_current(conn: &Connection, id: FindingId) -> Result<Option<Current>, StoreError> {
    const SQL: &str =
        "SELECT author_id, team_id, district_id, sub_district_id, status, fields_json, version FROM findings WHERE id = ?1";
    let row = conn
        .prepare_cached(SQL)?
        .query_row(params![id.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })
        .optional()?;
    let Some((author, team, district, sub_district, status, fields, version)) = row else { return Ok(None) };
    let fields: FindingFields = serde_json::from_str(&fields)?;
    let status = Status::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("status {status:?}")))?;
    let finding = Finding { id, author: parse_id(&author)?, team: parse_id(&team)?, fields, status };
    Ok(Some(Current {
        finding,
        version: version as u64,
        district: opt_id(district)?,
        sub_district: opt_id(sub_district)?,
    }))
}

/// One writer pass: commits the next group of waiting pushes in one IMMEDIATE transaction (see
/// [`super::group_commit`]).
fn commit_group(conn: &mut Connection, rules: &Rules, queue: &PushQueue) {
    let group = queue.take();
    if group.is_empty() {
        return; // an earlier pass took this push with its group
    }
    let result = (|| {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut answers = Vec::with_capacity(group.len());
        for j in &group {
            let r = j
                .ops
                .iter()
                .map(|op| {
                    Ok(OpResult { op_id: op.op_id, outcome: apply_op(&tx, rules, &j.principal, j.device, op, j.now)? })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            answers.push(r);
        }
        tx.commit()?;
        Ok(answers)
    })();
    group_commit::answer(group, result);
}

/// Applies one op inside the writer's IMMEDIATE transaction (the write lock is taken before reading, so
/// two identical ops racing on separate connections still apply once).
fn apply_op(
    tx: &rusqlite::Transaction<'_>,
    rules: &Rules,
    principal: &Principal,
    device: DeviceId,
    op: &Operation,
    now: DateTime<Utc>,
) -> Result<OpOutcome, StoreError> {
    let op_id = op.op_id.to_string();
    let seen: Option<(String, String)> = tx
        .prepare_cached("SELECT user_id, result_json FROM applied_ops WHERE op_id = ?1")?
        .query_row(params![op_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((user, result)) = seen {
        if user != principal.user.to_string() {
            return Ok(OpOutcome::Rejected { error: apply::messages::op_id_reused() });
        }
        return Ok(apply::replayed(serde_json::from_str::<OpOutcome>(&result)?));
    }
    let device_seq = to_i64(op.device_seq, "device_seq")?;
    let slot_taken: bool = tx
        .prepare_cached("SELECT EXISTS(SELECT 1 FROM applied_ops WHERE device_id = ?1 AND device_seq = ?2)")?
        .query_row(params![device.to_string(), device_seq], |r| r.get(0))?;
    if slot_taken {
        // Not recorded: the (device, seq) slot belongs to the other op.
        return Ok(OpOutcome::Rejected { error: apply::messages::sequence_reused() });
    }

    let current = load_current(tx, op.finding_id)?;
    let decision = apply::decide(rules, principal, current.as_ref(), op, now);
    if let Some((c, insert)) = decision.to_write() {
        write_change(tx, c, insert, now)?;
    }
    let outcome = decision.into_outcome();
    tx.prepare_cached(
        "INSERT INTO applied_ops(op_id, device_id, device_seq, user_id, finding_id, result_json, applied_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        op_id,
        device.to_string(),
        device_seq,
        principal.user.to_string(),
        op.finding_id.to_string(),
        serde_json::to_string(&outcome)?,
        ts(now)
    ])?;
    Ok(outcome)
}

fn write_change(
    tx: &rusqlite::Transaction<'_>,
    c: &apply::Change,
    insert: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let seq: i64 =
        tx.prepare_cached("SELECT COALESCE(MAX(server_seq), 0) + 1 FROM findings")?.query_row([], |r| r.get(0))?;
    let f = &c.finding;
    let id = f.id.to_string();
    let fields = serde_json::to_string(&f.fields)?;
    let district = c.district.map(|d| d.to_string());
    let sub_district = c.sub_district.map(|d| d.to_string());
    let version = to_i64(c.version, "version")?;
    if insert {
        tx.prepare_cached(
            "INSERT INTO findings(id, author_id, team_id, district_id, sub_district_id, status, fields_json, version,
                                  server_seq, received_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
        )?
        .execute(params![
            id,
            f.author.to_string(),
            f.team.to_string(),
            district,
            sub_district,
            f.status.as_str(),
            fields,
            version,
            seq,
            ts(now)
        ])?;
    } else {
        let n = tx
            .prepare_cached(
                "UPDATE findings SET district_id = ?2, sub_district_id = ?3, status = ?4, fields_json = ?5, version = ?6,
                                 server_seq = ?7, updated_at = ?8
             WHERE id = ?1 AND version = ?6 - 1",
            )?
            .execute(params![id, district, sub_district, f.status.as_str(), fields, version, seq, ts(now)])?;
        if n != 1 {
            // Cannot happen under the single writer; refuse rather than write over a newer version.
            return Err(StoreError::Backend(format!("finding {id} changed during the transaction")));
        }
    }
    tx.prepare_cached(
        "INSERT INTO finding_history(finding_id, n, entry_json)
         VALUES (?1, (SELECT COALESCE(MAX(n), 0) + 1 FROM finding_history WHERE finding_id = ?1), ?2)",
    )?
    .execute(params![id, serde_json::to_string(&c.history)?])?;
    tx.prepare_cached("DELETE FROM finding_photos WHERE finding_id = ?1")?.execute(params![id])?;
    let mut add_photo = tx.prepare_cached("INSERT INTO finding_photos(finding_id, hash) VALUES (?1, ?2)")?;
    for p in &f.fields.photos {
        add_photo.execute(params![id, p.to_hex()])?;
    }
    Ok(())
}

/// The part of a WHERE clause that limits findings (alias `f`) to what `p` may see, with its parameters
/// after `first` (1-based index of the first placeholder). It mirrors `Principal::can_see` exactly; a
/// unit test compares the two.
fn scope_sql(p: &Principal, first: usize) -> (String, Vec<Option<String>>) {
    let (conditions, params) = scope_conditions(p, first);
    (format!("({})", conditions.join(" OR ")), params)
}

/// The scope as conditions any one of which lets a finding in, each an equality on a column indexed with
/// `server_seq` (or `1 = 1`), with their parameters from `?first` on.
fn scope_conditions(p: &Principal, first: usize) -> (Vec<String>, Vec<Option<String>>) {
    let user = Some(p.user.to_string());
    let team = p.team.map(|t| t.to_string());
    let district = p.district.map(|d| d.to_string());
    match p.role {
        Role::Admin => (vec!["1 = 1".into()], vec![]),
        // A NULL team compares false, so a teamless inspector sees only their own.
        Role::Inspector | Role::TeamLeader => {
            (vec![format!("f.author_id = ?{first}"), format!("f.team_id = ?{}", first + 1)], vec![user, team])
        }
        Role::DistrictOffice => (vec![format!("f.district_id = ?{first}")], vec![district]),
    }
}

/// One page of `p`'s pull: `?1` the cursor, `?2` the page size, the scope's parameters from `?3` on.
///
/// Each condition of the scope is its own branch, read from its `(column, server_seq)` index from the
/// cursor and limited to a page, and the branches are joined by UNION: the pull's cost follows the changes
/// in scope, not the history. Written as `server_seq > ?1 AND (a OR b)`, the plan depended on statistics:
/// none (the server never runs ANALYZE) gave a multi-index OR, but with those an operator's `ANALYZE` of a
/// district of few teams leaves (Debian's `sqlite3`, built without STAT4) SQLite walked the `server_seq`
/// index from the cursor through every other team's changes: 200,000 rows read for 10 new, 32 ms instead
/// of under 1. PostgreSQL's pull has the same shape for the same reason (`postgres/pull.sql`).
fn pull_sql(p: &Principal) -> (String, Vec<Option<String>>) {
    let (conditions, params) = scope_conditions(p, 3);
    let branches: Vec<String> = conditions
        .iter()
        .map(|c| {
            format!(
                "SELECT server_seq FROM (SELECT f.server_seq FROM findings f WHERE {c} AND f.server_seq > ?1
                                        ORDER BY f.server_seq LIMIT ?2)"
            )
        })
        .collect();
    let sql = format!(
        "SELECT f.id, f.author_id, f.team_id, f.district_id, f.sub_district_id, f.status, f.fields_json, f.version,
                f.server_seq, f.received_at, f.updated_at, u.display_name, t.name
         FROM ({}) AS page
         JOIN findings f ON f.server_seq = page.server_seq
         JOIN users u ON u.id = f.author_id JOIN teams t ON t.id = f.team_id
         ORDER BY f.server_seq
         LIMIT ?2",
        branches.join(" UNION ")
    );
    (sql, params)
}

fn pull_page(conn: &Connection, p: &Principal, cursor: u64, limit: u32) -> Result<PullResponse, StoreError> {
    let (sql, scope_params) = pull_sql(p);
    let mut stmt = conn.prepare_cached(&sql)?;
    // One more than asked tells whether another page follows.
    let mut values: Vec<rusqlite::types::Value> = vec![to_i64(cursor, "cursor")?.into(), (i64::from(limit) + 1).into()];
    values.extend(scope_params.into_iter().map(|v| v.map_or(rusqlite::types::Value::Null, Into::into)));
    let rows = stmt
        .query_map(rusqlite::params_from_iter(values), |r| {
            Ok((
                (r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?),
                (r.get::<_, Option<String>>(3)?, r.get::<_, Option<String>>(4)?),
                (r.get::<_, String>(5)?, r.get::<_, String>(6)?, r.get::<_, i64>(7)?, r.get::<_, i64>(8)?),
                (r.get::<_, String>(9)?, r.get::<_, String>(10)?, r.get::<_, String>(11)?, r.get::<_, String>(12)?),
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let has_more = rows.len() > limit as usize;
    let mut history_stmt =
        conn.prepare_cached("SELECT entry_json FROM finding_history WHERE finding_id = ?1 ORDER BY n")?;
    let mut changes = Vec::with_capacity(rows.len().min(limit as usize));
    for (
        (id, author, team),
        (district, sub_district),
        (status, fields, version, seq),
        (received, updated, author_name, team_name),
    ) in rows.into_iter().take(limit as usize)
    {
        let history = history_stmt.query_map(params![id], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
        let row = StoredFinding {
            id: parse_id(&id)?,
            author: parse_id(&author)?,
            team: parse_id(&team)?,
            district: opt_id::<DistrictId>(district)?,
            sub_district: opt_id::<SubDistrictId>(sub_district)?,
            status: &status,
            fields_json: &fields,
            version,
            server_seq: seq,
            received_at: parse_ts(&received)?,
            updated_at: parse_ts(&updated)?,
            author_name,
            team_name,
        };
        changes.push(row.into_record(history.iter().map(String::as_str))?);
    }
    let cursor = changes.last().map_or(cursor, |c| c.server_seq);
    Ok(PullResponse { changes, cursor, has_more, scope: super::scope_key(p) })
}

#[async_trait]
impl ServerStore for SqliteStore {
    async fn server_id(&self) -> Result<Uuid, StoreError> {
        self.read(|c| {
            let s: String = c.query_row("SELECT value FROM meta WHERE key = 'server_id'", [], |r| r.get(0))?;
            parse_id(&s)
        })
        .await
    }

    async fn credentials(&self, username: &str) -> Result<Option<Credentials>, StoreError> {
        let username = username.to_string();
        self.read(move |c| {
            let row: Option<(String, String)> = c
                .query_row("SELECT id, password_hash FROM users WHERE username = ?1", params![username], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            row.map(|(id, password_hash)| Ok(Credentials { user: parse_id(&id)?, password_hash })).transpose()
        })
        .await
    }

    async fn insert_token(
        &self,
        user: UserId,
        device: DeviceId,
        device_name: &str,
        token: TokenHash,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let device_name: String = device_name.chars().take(100).collect();
        self.write(move |c, _| {
            c.execute(
                "INSERT INTO tokens(token_hash, user_id, device_id, device_name, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![&token.0[..], user.to_string(), device.to_string(), device_name, ts(now)],
            )?;
            Ok(())
        })
        .await
    }

    async fn session(&self, token: TokenHash) -> Result<Option<Session>, StoreError> {
        self.read(move |c| {
            // Every request asks: one cached statement, principal and device in one row.
            let sql = format!(
                "SELECT {PRINCIPAL_COLUMNS}, k.device_id {PRINCIPAL_FROM}
                 JOIN tokens k ON k.user_id = u.id WHERE k.token_hash = ?1 AND k.revoked_at IS NULL"
            );
            let row = c
                .prepare_cached(&sql)?
                .query_row(params![&token.0[..]], |r| Ok((principal_row(r)?, r.get::<_, String>(4)?)))
                .optional()?;
            let Some((row, device)) = row else { return Ok(None) };
            Ok(Some(Session { principal: principal_from(row)?, device: parse_id(&device)? }))
        })
        .await
    }

    async fn revoke_token(&self, token: TokenHash, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.write(move |c, _| {
            c.execute(
                "UPDATE tokens SET revoked_at = ?2 WHERE token_hash = ?1 AND revoked_at IS NULL",
                params![&token.0[..], ts(now)],
            )?;
            Ok(())
        })
        .await
    }

    async fn revoke_user_tokens(&self, username: &str, now: DateTime<Utc>) -> Result<Option<usize>, StoreError> {
        let username = username.to_string();
        self.write(move |c, _| {
            let user: Option<String> =
                c.query_row("SELECT id FROM users WHERE username = ?1", params![username], |r| r.get(0)).optional()?;
            let Some(user) = user else { return Ok(None) };
            let n = c.execute(
                "UPDATE tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
                params![user, ts(now)],
            )?;
            Ok(Some(n))
        })
        .await
    }

    async fn profile(&self, principal: &Principal) -> Result<UserProfile, StoreError> {
        let p = principal.clone();
        self.read(move |c| {
            let (username, display_name, team_id, team_name): (String, String, Option<String>, Option<String>) = c
                .query_row(
                    "SELECT u.username, u.display_name, t.id, t.name FROM users u LEFT JOIN teams t ON t.id = u.team_id
                     WHERE u.id = ?1",
                    params![p.user.to_string()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?
                .ok_or_else(|| StoreError::NotFound(format!("user {}", p.user)))?;
            let team = match (team_id, team_name) {
                (Some(id), Some(name)) => Some(TeamRef { id: parse_id(&id)?, name }),
                _ => None,
            };
            let district = match p.district {
                Some(d) => c
                    .query_row("SELECT zh, en FROM districts WHERE id = ?1", params![d.to_string()], |r| {
                        Ok(DistrictRef { id: d, zh: r.get(0)?, en: r.get(1)? })
                    })
                    .optional()?,
                None => None,
            };
            Ok(UserProfile { id: p.user, username, display_name, role: p.role, team, district })
        })
        .await
    }

    async fn user_count(&self) -> Result<u64, StoreError> {
        self.read(|c| Ok(c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get::<_, i64>(0))? as u64)).await
    }

    async fn add_district(&self, d: NewDistrict) -> Result<(), StoreError> {
        self.write(move |c, _| {
            c.execute(
                "INSERT INTO districts(id, code, zh, en) VALUES (?1, ?2, ?3, ?4)",
                params![d.id.to_string(), d.code, d.zh, d.en],
            )
            .map_err(unique(format!("district {}", d.code)))?;
            Ok(())
        })
        .await
    }

    async fn add_sub_district(&self, s: NewSubDistrict) -> Result<(), StoreError> {
        self.write(move |c, _| {
            c.execute(
                "INSERT INTO sub_districts(id, district_id, code, zh, en) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![s.id.to_string(), s.district.to_string(), s.code, s.zh, s.en],
            )
            .map_err(unique(format!("sub-district {}", s.code)))?;
            Ok(())
        })
        .await
    }

    async fn add_team(&self, t: Team) -> Result<(), StoreError> {
        self.write(move |c, _| {
            c.execute(
                "INSERT INTO teams(id, name, district_id, sub_district_id) VALUES (?1, ?2, ?3, ?4)",
                params![t.id.to_string(), t.name, t.district.to_string(), t.sub_district.map(|s| s.to_string())],
            )
            .map_err(unique(format!("team {}", t.name)))?;
            Ok(())
        })
        .await
    }

    async fn team_by_name(&self, name: &str) -> Result<Option<Team>, StoreError> {
        let name = name.to_string();
        self.read(move |c| {
            let row: Option<(String, String, Option<String>)> = c
                .query_row("SELECT id, district_id, sub_district_id FROM teams WHERE name = ?1", params![name], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?;
            row.map(|(id, d, s)| {
                Ok(Team { id: parse_id(&id)?, name: name.clone(), district: parse_id(&d)?, sub_district: opt_id(s)? })
            })
            .transpose()
        })
        .await
    }

    async fn district_by_code(&self, code: &str) -> Result<Option<DistrictId>, StoreError> {
        let code = code.to_string();
        self.read(move |c| {
            let id: Option<String> =
                c.query_row("SELECT id FROM districts WHERE code = ?1", params![code], |r| r.get(0)).optional()?;
            opt_id(id)
        })
        .await
    }

    async fn add_user(&self, u: NewUser, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.write(move |c, _| {
            c.execute(
                "INSERT INTO users(id, username, display_name, role, team_id, district_id, password_hash, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    u.id.to_string(),
                    u.username,
                    u.display_name,
                    u.role.as_str(),
                    u.team.map(|t| t.to_string()),
                    u.district.map(|d| d.to_string()),
                    u.password_hash,
                    ts(now)
                ],
            )
            .map_err(unique(format!("user {}", u.username)))?;
            Ok(())
        })
        .await
    }

    async fn principal_of(&self, user: UserId) -> Result<Option<Principal>, StoreError> {
        self.read(move |c| {
            let sql = format!("SELECT {PRINCIPAL_COLUMNS} {PRINCIPAL_FROM} WHERE u.id = ?1");
            c.query_row(&sql, params![user.to_string()], principal_row).optional()?.map(principal_from).transpose()
        })
        .await
    }

    async fn set_user_scope(
        &self,
        username: &str,
        role: Role,
        team: Option<TeamId>,
        district: Option<DistrictId>,
    ) -> Result<Option<UserId>, StoreError> {
        let username = username.to_string();
        self.write(move |c, _| {
            let id: Option<String> = c
                .query_row(
                    "UPDATE users SET role = ?2, team_id = ?3, district_id = ?4 WHERE username = ?1 RETURNING id",
                    params![username, role.as_str(), team.map(|t| t.to_string()), district.map(|d| d.to_string())],
                    |r| r.get(0),
                )
                .optional()?;
            opt_id(id)
        })
        .await
    }

    async fn push(
        &self,
        principal: &Principal,
        device: DeviceId,
        ops: Vec<Operation>,
        now: DateTime<Utc>,
    ) -> Result<Vec<OpResult>, StoreError> {
        let answer = self.inner.pending.enqueue(principal.clone(), device, ops, now);
        let inner = self.inner.clone();
        // Every push runs one writer pass; the first pass to get the writer commits whatever is waiting.
        self.write(move |c, rules| {
            commit_group(c, rules, &inner.pending);
            Ok(())
        })
        .await?;
        group_commit::wait(answer).await
    }

    async fn pull(&self, principal: &Principal, cursor: u64, limit: u32) -> Result<PullResponse, StoreError> {
        let principal = principal.clone();
        self.read(move |c| pull_page(c, &principal, cursor, limit.max(1))).await
    }

    async fn scope_versions(&self, principal: &Principal) -> Result<Vec<(FindingId, u64)>, StoreError> {
        let p = principal.clone();
        self.read(move |c| {
            let (scope, scope_params) = scope_sql(&p, 1);
            let mut stmt = c.prepare_cached(&format!("SELECT f.id, f.version FROM findings f WHERE {scope}"))?;
            let values: Vec<rusqlite::types::Value> =
                scope_params.into_iter().map(|v| v.map_or(rusqlite::types::Value::Null, Into::into)).collect();
            let rows = stmt
                .query_map(rusqlite::params_from_iter(values), |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(|(id, v)| Ok((parse_id(&id)?, v as u64))).collect()
        })
        .await
    }

    async fn record_photo_upload(
        &self,
        principal: &Principal,
        hash: PhotoHash,
        size: u64,
        now: DateTime<Utc>,
    ) -> Result<PhotoRecorded, StoreError> {
        let user = principal.user;
        self.write(move |c, _| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let new = tx.execute(
                "INSERT OR IGNORE INTO photos(hash, size, received_at) VALUES (?1, ?2, ?3)",
                params![hash.to_hex(), to_i64(size, "size")?, ts(now)],
            )? == 1;
            tx.execute(
                "INSERT OR IGNORE INTO photo_uploads(hash, user_id, uploaded_at) VALUES (?1, ?2, ?3)",
                params![hash.to_hex(), user.to_string(), ts(now)],
            )?;
            tx.commit()?;
            Ok(if new { PhotoRecorded::New } else { PhotoRecorded::Known })
        })
        .await
    }

    async fn photo_visible(&self, principal: &Principal, hash: PhotoHash) -> Result<bool, StoreError> {
        let p = principal.clone();
        self.read(move |c| {
            let (scope, scope_params) = scope_sql(&p, 3);
            let sql = format!(
                "SELECT EXISTS(SELECT 1 FROM photo_uploads WHERE hash = ?1 AND user_id = ?2)
                     OR EXISTS(SELECT 1 FROM finding_photos fp JOIN findings f ON f.id = fp.finding_id
                               WHERE fp.hash = ?1 AND {scope})"
            );
            let mut values: Vec<rusqlite::types::Value> = vec![hash.to_hex().into(), p.user.to_string().into()];
            values.extend(scope_params.into_iter().map(|v| v.map_or(rusqlite::types::Value::Null, Into::into)));
            Ok(c.query_row(&sql, rusqlite::params_from_iter(values), |r| r.get(0))?)
        })
        .await
    }
}

#[cfg(test)]
mod tests;
