//! The PostgreSQL backend: a small pool of `tokio-postgres` connections (deadpool), no TLS, embedded
//! migrations in a versioned `schema_migrations` table. Several server processes may share one database.
//!
//! **Why a counter row and not a SEQUENCE for `server_seq`:** a sequence hands out numbers at `nextval`,
//! but transactions commit in any order: writer A takes 5, writer B takes 6 and commits first, a pull
//! then returns 6 and moves the device's cursor past 5, which commits a moment later and is never pulled.
//! Here a push transaction first locks the `change_counter` row (`SELECT … FOR UPDATE`), hands out the
//! numbers after its value in memory, and writes the last one back before commit. The row lock is held
//! until commit, so the next writer gets its numbers only after the previous transaction is committed (and
//! visible): numbers become visible in order, and a snapshot that sees seq N sees every seq below it. The
//! cost: push transactions run one at a time across all processes.
//!
//! **Group commit:** pushes waiting in a process are committed together, one transaction and one WAL flush
//! per group (`group_commit.rs`). Because a group locks the counter row before any op or finding row,
//! groups cannot deadlock.
//!
//! **Idempotency:** each op first claims its op id (and device slot) by inserting the `applied_ops` row; a
//! duplicate (a retry, or the same op twice in a group) finds the row and reads the stored answer. A group
//! is written set-based, a few statements per round of independent ops (`postgres/push.rs`).

mod pull;
mod push;
mod sessions;

use super::group_commit::{self, PushQueue};
use super::{
    Credentials, NewDistrict, NewSubDistrict, NewUser, PhotoRecorded, ServerStore, Session, StoreError, StoredFinding,
    Team, TokenHash,
};
use crate::apply::{Current, Rules};
use crate::config::DatabaseUrl;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, QueueMode, RecyclingMethod, Runtime};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};
use uuid::Uuid;
use xuncha_domain::finding::FindingFields;
use xuncha_domain::{
    DeviceId, DistrictId, Finding, FindingId, PhotoHash, Principal, Role, Status, SubDistrictId, TeamId, UserId,
};
use xuncha_proto::{DistrictRef, OpResult, Operation, PullResponse, TeamRef, UserProfile};

/// Shared connections per server process (the writer has one more of its own), all opened at start:
/// twice this machine's cores and one, from 4 to 16 (HikariCP's rule, with this machine's cores standing
/// in for the database's, which is usually beside it). More is slower, not faster: on 2 cores, 16
/// connections cost PostgreSQL 2.0–2.2 s of CPU over the sync bench's three bursts of a thousand phones
/// and 4–6 connections 1.2–1.8 s, and the bursts' p99 fell by a tenth to a fifth.
fn pool_size() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    (2 * cores + 1).clamp(4, 16)
}
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request waits for a free connection before failing (as a 5xx: the device retries later).
const POOL_WAIT: Duration = Duration::from_secs(30);
/// Any constant shared by every Xuncha process: serialises migrations when two servers start at once.
const MIGRATION_LOCK: i64 = 0x5855_4e43_4841; // "XUNCHA"

/// One step of the schema history.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

static MIGRATIONS: &[Migration] =
    &[Migration { version: 1, name: "initial", sql: include_str!("../../migrations/postgres/0001_initial.sql") }];

/// The schema history. Append new steps; never edit a released one.
pub fn migrations() -> &'static [Migration] {
    MIGRATIONS
}

/// Brings the database up to the last of `steps`, in one transaction under an advisory lock (so two
/// servers starting together migrate once, and a failing step leaves nothing behind). Returns how many
/// steps ran. A database newer than `steps` is refused rather than used.
pub async fn run_migrations(client: &mut tokio_postgres::Client, steps: &[Migration]) -> Result<usize, StoreError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
    // Not the "already exists, skipping" NOTICE on every start.
    tx.batch_execute("SET LOCAL client_min_messages = warning").await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    integer PRIMARY KEY,
             name       text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let current: i32 =
        tx.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[]).await?.try_get(0)?;
    let latest = steps.last().map_or(0, |m| m.version);
    if current > latest {
        return Err(StoreError::Backend(format!(
            "the database schema is version {current}, newer than this server knows ({latest}); use a newer server"
        )));
    }
    let mut ran = 0;
    for m in steps.iter().filter(|m| m.version > current) {
        tx.batch_execute(m.sql).await.map_err(|e| {
            StoreError::Backend(format!("migration {} ({}) failed: {}", m.version, m.name, db_text(&e)))
        })?;
        tx.execute("INSERT INTO schema_migrations(version, name) VALUES ($1, $2)", &[&m.version, &m.name]).await?;
        ran += 1;
    }
    tx.commit().await?;
    Ok(ran)
}

/// The driver's message, with the server's detail when there is one.
fn db_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        // "error connecting to server" alone does not say why: add the cause (an I/O error, never the URL).
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        StoreError::Backend(db_text(&e))
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => StoreError::Backend(format!("connection pool: {other}")),
        }
    }
}

#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    rules: Arc<Rules>,
    /// Pushes waiting for this process's writer (group commit), and that writer.
    pending: Arc<PushQueue>,
    writer: Arc<tokio::sync::Mutex<()>>,
    /// The writer's own connection (a pool of one, for its reconnecting). From the shared pool, a group
    /// queued for a connection behind every request of a burst (a thousand session lookups and pulls), and
    /// all its pushes with it.
    writer_conn: Pool,
    /// Pulls waiting for a connection (`postgres/pull.rs`).
    pulls: Arc<pull::PullQueue>,
    /// Sessions read before, kept while this process listens for changes to them (`postgres/sessions.rs`).
    sessions: Arc<sessions::SessionCache>,
    _listener: Arc<sessions::Listener>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("pool", &self.pool.status()).finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects, migrates, and makes the server id and the rules' districts on first use.
    #[tracing::instrument(skip_all)]
    pub async fn open(url: &DatabaseUrl, rules: Arc<Rules>) -> Result<Self, StoreError> {
        let mut pg: tokio_postgres::Config = url
            .expose()
            .parse()
            .map_err(|e: tokio_postgres::Error| StoreError::Backend(format!("bad database URL {url}: {e}")))?;
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(CONNECT_TIMEOUT);
        }
        if pg.get_application_name().is_none() {
            pg.application_name("xuncha-server");
        }
        let server_pg = with_settings(pg.clone(), &[NO_JIT, GENERIC_PLANS]);
        let pool = new_pool(server_pg.clone(), pool_size())?;
        let writer_conn = new_pool(server_pg, 1)?;
        let sessions = Arc::<sessions::SessionCache>::default();
        let listener = Arc::new(sessions::listen(&sessions, pg));
        let store = Self {
            pool,
            rules,
            pending: Arc::default(),
            writer: Arc::default(),
            writer_conn,
            pulls: Arc::default(),
            sessions,
            _listener: listener,
        };
        let mut client = store.client().await?;
        let ran = run_migrations(&mut client, migrations()).await?;
        if ran > 0 {
            tracing::info!(steps = ran, "migrated the PostgreSQL schema");
        }
        let tx = client.transaction().await?;
        // The server id is made once, on first open, and never changes afterwards.
        tx.execute(
            "INSERT INTO meta(key, value) VALUES ('server_id', $1) ON CONFLICT (key) DO NOTHING",
            &[&Uuid::now_v7().to_string()],
        )
        .await?;
        // The boundaries in force are the rules' (see the SQLite backend): mirrored so findings can
        // reference them by foreign key.
        for d in &store.rules.boundaries.districts {
            tx.execute(
                "INSERT INTO districts(id, code, zh, en) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&d.id.0, &d.code, &d.zh, &d.en],
            )
            .await?;
        }
        for sd in &store.rules.boundaries.sub_districts {
            tx.execute(
                "INSERT INTO sub_districts(id, district_id, code, zh, en) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT DO NOTHING",
                &[&sd.id.0, &sd.district.0, &sd.code, &sd.zh, &sd.en],
            )
            .await?;
        }
        tx.commit().await?;
        drop(client);
        store.warm().await?;
        Ok(store)
    }

    /// Opens every connection and prepares the writer's statements now, not in the first burst of
    /// requests: a new connection is a PostgreSQL process to start, and a fleet syncing at once waited for a
    /// dozen of them and for the push statements' first preparation (the first of the sync bench's bursts
    /// was its slowest). Production pools keep full for the same reason (HikariCP's default).
    ///
    /// Each shared connection also prepares the statements every request runs (the session lookup, a pull of
    /// each scope shape): a pull that met a connection without them paid 1–3 ms more, which made the growth
    /// bench's median swing by half.
    async fn warm(&self) -> Result<(), StoreError> {
        let all = futures_util::future::try_join_all((0..self.pool.status().max_size).map(|_| self.pool.get())).await?;
        for c in &all {
            c.prepare_cached(&session_sql()).await?;
            pull::prepare(c).await?;
        }
        drop(all);
        let writer = self.writer_conn.get().await?;
        push::prepare(&writer).await
    }

    /// Commits a change that may end a session or alter a principal: every server process (this one too)
    /// hears of it and forgets the sessions it kept; this one also at once, not waiting for the notice.
    async fn commit_session_change(&self, tx: deadpool_postgres::Transaction<'_>) -> Result<(), StoreError> {
        tx.batch_execute(&format!("NOTIFY {}", sessions::CHANNEL)).await?;
        tx.commit().await?;
        self.sessions.forget_all();
        Ok(())
    }

    /// Reads a session from the database and keeps it, unless a session changed since `generation` (taken
    /// before anything that might have been read earlier).
    async fn read_session(
        &self,
        c: &Object,
        token: &TokenHash,
        generation: Option<u64>,
    ) -> Result<Option<Session>, StoreError> {
        // Prepared on every connection at start (`warm`): one round trip.
        let stmt = c.prepare_cached(&session_sql()).await?;
        let Some(r) = c.query_opt(&stmt, &[&&token.0[..]]).await? else { return Ok(None) };
        let session = Session { principal: principal_from(&r, 1)?, device: DeviceId(r.try_get(0)?) };
        if let Some(g) = generation {
            self.sessions.put(token, &session, g, Instant::now());
        }
        Ok(Some(session))
    }

    async fn client(&self) -> Result<Object, StoreError> {
        Ok(self.pool.get().await?)
    }
}

/// `pg` with these settings for PostgreSQL, besides whatever options the URL sets.
fn with_settings(mut pg: tokio_postgres::Config, settings: &[&str]) -> tokio_postgres::Config {
    let given = pg.get_options().map(str::trim).filter(|o| !o.is_empty()).map(str::to_string);
    let options: Vec<String> = given.into_iter().chain(settings.iter().map(|s| format!("-c {s}"))).collect();
    pg.options(options.join(" "));
    pg
}

/// No JIT compilation: every statement of the server is short, and compiling one costs more than running it.
/// Without statistics (a new database, before autovacuum's first visit) the pull's estimated cost passed
/// PostgreSQL's threshold, and compiling its plan took 335 ms of each page of a leader's first pull.
const NO_JIT: &str = "jit=off";

/// Each prepared statement planned once, for any values (its generic plan).
///
/// Why: the pull's statement takes its pulls as arrays, and a plan made for the values knows their
/// lengths, so it always looked cheaper than the generic plan and PostgreSQL planned the statement afresh
/// on every run (about 1 ms, more than running it; pgbench on the sync bench's database). A plan for any
/// values loses nothing here: every statement of the server reads by an index on equality, or reads a
/// whole scope, whatever the values (the pull's plan is tested with statistics in
/// `tests/postgres_pulls.rs`). The writer's statements join their arrays to a table by its key, which the
/// generic plan does by probing the index whatever the group's size.
const GENERIC_PLANS: &str = "plan_cache_mode=force_generic_plan";

/// A pool of up to `size` connections; a request waits [`POOL_WAIT`] for one at most.
fn new_pool(pg: tokio_postgres::Config, size: usize) -> Result<Pool, StoreError> {
    let manager = Manager::from_config(pg, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    // Last in, first out: under light load requests keep to the connection used last, whose PostgreSQL
    // process and caches are warm; in a burst every connection is busy either way.
    Pool::builder(manager)
        .max_size(size)
        .queue_mode(QueueMode::Lifo)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(POOL_WAIT))
        .build()
        .map_err(|e| StoreError::Backend(format!("connection pool: {e}")))
}

fn to_i64(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v} is out of range")))
}

fn to_u64(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v} is negative")))
}

fn parse_role(s: &str) -> Result<Role, StoreError> {
    Role::parse(s).ok_or_else(|| StoreError::Corrupt(format!("role {s:?}")))
}

fn parse_status(s: &str) -> Result<Status, StoreError> {
    Status::parse(s).ok_or_else(|| StoreError::Corrupt(format!("status {s:?}")))
}

/// PostgreSQL text cannot hold NUL. A name with one cannot be stored, so it cannot match anything either.
fn has_nul(s: &str) -> bool {
    s.contains('\0')
}

/// Maps a unique violation to `AlreadyExists(what)`; everything else stays a backend error.
fn unique(what: String) -> impl FnOnce(tokio_postgres::Error) -> StoreError {
    move |e| match e.code() {
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => StoreError::AlreadyExists(what),
        _ => e.into(),
    }
}

/// The principal of a user row: the district of an inspector or leader is their team's.
const PRINCIPAL_SELECT: &str = "SELECT u.id, u.role, u.team_id, COALESCE(t.district_id, u.district_id)
     FROM users u LEFT JOIN teams t ON t.id = u.team_id";

/// A session's principal and device by token hash ($1). The device id is read in the same statement as the
/// principal (one snapshot).
fn session_sql() -> String {
    let sql = format!(
        "{PRINCIPAL_SELECT} JOIN tokens k ON k.user_id = u.id WHERE k.token_hash = $1 AND k.revoked_at IS NULL"
    );
    sql.replacen("SELECT ", "SELECT k.device_id, ", 1)
}

/// The principal from the four columns of [`PRINCIPAL_SELECT`], starting at column `first`.
fn principal_from(r: &Row, first: usize) -> Result<Principal, StoreError> {
    Ok(Principal {
        user: UserId(r.try_get(first)?),
        role: parse_role(r.try_get(first + 1)?)?,
        team: r.try_get::<_, Option<Uuid>>(first + 2)?.map(TeamId),
        district: r.try_get::<_, Option<Uuid>>(first + 3)?.map(DistrictId),
    })
}

/// The stored finding, locked until the end of the transaction.
fn current_from(id: FindingId, r: &Row) -> Result<Current, StoreError> {
    let fields: FindingFields = serde_json::from_str(r.try_get(5)?)?;
    let finding = Finding {
        id,
        author: UserId(r.try_get(0)?),
        team: TeamId(r.try_get(1)?),
        fields,
        status: parse_status(r.try_get(4)?)?,
    };
    Ok(Current {
        finding,
        version: to_u64(r.try_get(6)?, "version")?,
        district: r.try_get::<_, Option<Uuid>>(2)?.map(DistrictId),
        sub_district: r.try_get::<_, Option<Uuid>>(3)?.map(SubDistrictId),
    })
}

/// The part of a WHERE clause that limits findings (alias `f`) to what `p` may see, with its parameters
/// from `$first` on. It mirrors `Principal::can_see` exactly; the conformance stories compare the two (the
/// pull's statement, `postgres/pull.sql`, takes the same conditions as arrays).
fn scope_sql(p: &Principal, first: usize) -> (String, Vec<Option<Uuid>>) {
    match p.role {
        Role::Admin => ("TRUE".into(), vec![]),
        // A NULL team compares as unknown, so a teamless inspector sees only their own.
        Role::Inspector | Role::TeamLeader => (
            format!("(f.author_id = ${first} OR f.team_id = ${})", first + 1),
            vec![Some(p.user.0), p.team.map(|t| t.0)],
        ),
        Role::DistrictOffice => (format!("f.district_id = ${first}"), vec![p.district.map(|d| d.0)]),
    }
}

#[async_trait]
impl ServerStore for PostgresStore {
    async fn server_id(&self) -> Result<Uuid, StoreError> {
        let c = self.client().await?;
        let s: String = c.query_one("SELECT value FROM meta WHERE key = 'server_id'", &[]).await?.try_get(0)?;
        s.parse().map_err(|_| StoreError::Corrupt(format!("server id {s:?}")))
    }

    async fn credentials(&self, username: &str) -> Result<Option<Credentials>, StoreError> {
        if has_nul(username) {
            return Ok(None);
        }
        let c = self.client().await?;
        let row =
            c.query_opt("SELECT id, password_hash FROM users WHERE lower(username) = lower($1)", &[&username]).await?;
        row.map(|r| Ok(Credentials { user: UserId(r.try_get(0)?), password_hash: r.try_get(1)? })).transpose()
    }

    async fn insert_token(
        &self,
        user: UserId,
        device: DeviceId,
        device_name: &str,
        token: TokenHash,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let device_name: String = device_name.chars().filter(|c| *c != '\0').take(100).collect();
        let generation = self.sessions.generation();
        let c = self.client().await?;
        c.execute(
            "INSERT INTO tokens(token_hash, user_id, device_id, device_name, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[&&token.0[..], &user.0, &device.0, &device_name, &now],
        )
        .await?;
        // A phone syncs right after signing in: keep its session now, so that a thousand phones signing in
        // after a server start do not each read theirs again on their first sync.
        self.read_session(&c, &token, generation).await?;
        Ok(())
    }

    async fn session(&self, token: TokenHash) -> Result<Option<Session>, StoreError> {
        if let Some(s) = self.sessions.get(&token, Instant::now()) {
            return Ok(Some(s));
        }
        let generation = self.sessions.generation();
        let c = self.client().await?;
        self.read_session(&c, &token, generation).await
    }

    async fn revoke_token(&self, token: TokenHash, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        tx.execute(
            "UPDATE tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
            &[&&token.0[..], &now],
        )
        .await?;
        self.commit_session_change(tx).await
    }

    async fn revoke_user_tokens(&self, username: &str, now: DateTime<Utc>) -> Result<Option<usize>, StoreError> {
        if has_nul(username) {
            return Ok(None);
        }
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let Some(user) = tx.query_opt("SELECT id FROM users WHERE lower(username) = lower($1)", &[&username]).await?
        else {
            return Ok(None);
        };
        let user: Uuid = user.try_get(0)?;
        let n = tx
            .execute("UPDATE tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL", &[&user, &now])
            .await?;
        self.commit_session_change(tx).await?;
        Ok(Some(n as usize))
    }

    async fn profile(&self, principal: &Principal) -> Result<UserProfile, StoreError> {
        let p = principal.clone();
        let c = self.client().await?;
        let r = c
            .query_opt(
                "SELECT u.username, u.display_name, t.id, t.name, d.zh, d.en
                 FROM users u LEFT JOIN teams t ON t.id = u.team_id LEFT JOIN districts d ON d.id = $2
                 WHERE u.id = $1",
                &[&p.user.0, &p.district.map(|d| d.0)],
            )
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {}", p.user)))?;
        let team = match (r.try_get::<_, Option<Uuid>>(2)?, r.try_get::<_, Option<String>>(3)?) {
            (Some(id), Some(name)) => Some(TeamRef { id: TeamId(id), name }),
            _ => None,
        };
        let district = match (p.district, r.try_get::<_, Option<String>>(4)?, r.try_get::<_, Option<String>>(5)?) {
            (Some(id), Some(zh), Some(en)) => Some(DistrictRef { id, zh, en }),
            _ => None,
        };
        Ok(UserProfile {
            id: p.user,
            username: r.try_get(0)?,
            display_name: r.try_get(1)?,
            role: p.role,
            team,
            district,
        })
    }

    async fn user_count(&self) -> Result<u64, StoreError> {
        let c = self.client().await?;
        to_u64(c.query_one("SELECT COUNT(*) FROM users", &[]).await?.try_get(0)?, "count")
    }

    async fn add_district(&self, d: NewDistrict) -> Result<(), StoreError> {
        let c = self.client().await?;
        c.execute("INSERT INTO districts(id, code, zh, en) VALUES ($1, $2, $3, $4)", &[&d.id.0, &d.code, &d.zh, &d.en])
            .await
            .map_err(unique(format!("district {}", d.code)))?;
        Ok(())
    }

    async fn add_sub_district(&self, s: NewSubDistrict) -> Result<(), StoreError> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO sub_districts(id, district_id, code, zh, en) VALUES ($1, $2, $3, $4, $5)",
            &[&s.id.0, &s.district.0, &s.code, &s.zh, &s.en],
        )
        .await
        .map_err(unique(format!("sub-district {}", s.code)))?;
        Ok(())
    }

    async fn add_team(&self, t: Team) -> Result<(), StoreError> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO teams(id, name, district_id, sub_district_id) VALUES ($1, $2, $3, $4)",
            &[&t.id.0, &t.name, &t.district.0, &t.sub_district.map(|s| s.0)],
        )
        .await
        .map_err(unique(format!("team {}", t.name)))?;
        Ok(())
    }

    async fn team_by_name(&self, name: &str) -> Result<Option<Team>, StoreError> {
        if has_nul(name) {
            return Ok(None);
        }
        let c = self.client().await?;
        let row = c.query_opt("SELECT id, district_id, sub_district_id FROM teams WHERE name = $1", &[&name]).await?;
        row.map(|r| {
            Ok(Team {
                id: TeamId(r.try_get(0)?),
                name: name.to_string(),
                district: DistrictId(r.try_get(1)?),
                sub_district: r.try_get::<_, Option<Uuid>>(2)?.map(SubDistrictId),
            })
        })
        .transpose()
    }

    async fn district_by_code(&self, code: &str) -> Result<Option<DistrictId>, StoreError> {
        if has_nul(code) {
            return Ok(None);
        }
        let c = self.client().await?;
        let row = c.query_opt("SELECT id FROM districts WHERE code = $1", &[&code]).await?;
        row.map(|r| Ok(DistrictId(r.try_get(0)?))).transpose()
    }

    async fn add_user(&self, u: NewUser, now: DateTime<Utc>) -> Result<(), StoreError> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO users(id, username, display_name, role, team_id, district_id, password_hash, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &u.id.0,
                &u.username,
                &u.display_name,
                &u.role.as_str(),
                &u.team.map(|t| t.0),
                &u.district.map(|d| d.0),
                &u.password_hash,
                &now,
            ],
        )
        .await
        .map_err(unique(format!("user {}", u.username)))?;
        Ok(())
    }

    async fn principal_of(&self, user: UserId) -> Result<Option<Principal>, StoreError> {
        let c = self.client().await?;
        let sql = format!("{PRINCIPAL_SELECT} WHERE u.id = $1");
        c.query_opt(&sql, &[&user.0]).await?.as_ref().map(|r| principal_from(r, 0)).transpose()
    }

    async fn set_user_scope(
        &self,
        username: &str,
        role: Role,
        team: Option<TeamId>,
        district: Option<DistrictId>,
    ) -> Result<Option<UserId>, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let row = tx
            .query_opt(
                "UPDATE users SET role = $2, team_id = $3, district_id = $4 WHERE username = $1 RETURNING id",
                &[&username, &role.as_str(), &team.map(|t| t.0), &district.map(|d| d.0)],
            )
            .await?;
        self.commit_session_change(tx).await?;
        row.map(|r| Ok(UserId(r.try_get(0)?))).transpose()
    }

    async fn push(
        &self,
        principal: &Principal,
        device: DeviceId,
        ops: Vec<Operation>,
        now: DateTime<Utc>,
    ) -> Result<Vec<OpResult>, StoreError> {
        let answer = self.pending.enqueue(principal.clone(), device, ops, now);
        // Every push runs one writer pass; the first pass to get the writer commits whatever is waiting.
        // The pass is a task of its own, not part of this request: a request is dropped when its phone hangs
        // up, and a pass dropped halfway would take down every push of its group, other phones' included
        // (`tests/postgres_group_commit.rs`). SQLite's passes run on its writer thread, for the same reason.
        let (pending, writer, conn, rules) =
            (self.pending.clone(), self.writer.clone(), self.writer_conn.clone(), self.rules.clone());
        tokio::spawn(async move {
            let _writer = writer.lock().await;
            let group = pending.take();
            if !group.is_empty() {
                let result = match conn.get().await {
                    Ok(mut c) => push::commit_group(&mut c, &rules, &group).await,
                    Err(e) => Err(e.into()),
                };
                group_commit::answer(group, result);
            }
        });
        group_commit::wait(answer).await
    }

    async fn pull(&self, principal: &Principal, cursor: u64, limit: u32) -> Result<PullResponse, StoreError> {
        let answer = self.pulls.enqueue(principal.clone(), cursor, limit);
        // Every pull runs a pass, which waits for a connection and answers whatever pulls wait by then. The
        // pass is a task of its own, as a push's is: a phone that hangs up must not take down a pass that
        // holds other phones' pulls.
        let (pool, pulls) = (self.pool.clone(), self.pulls.clone());
        tokio::spawn(async move {
            let client = pool.get().await;
            let group = pulls.take();
            if group.is_empty() {
                return;
            }
            match client {
                Ok(c) => pull::answer(&c, group).await,
                Err(e) => pull::fail(group, &e.into()),
            }
        });
        answer.await.map_err(|_| StoreError::Task("a pull's pass ended without answering it".into()))?
    }

    async fn scope_versions(&self, principal: &Principal) -> Result<Vec<(FindingId, u64)>, StoreError> {
        let c = self.client().await?;
        let (scope, scope_params) = scope_sql(principal, 1);
        let params: Vec<&(dyn ToSql + Sync)> = scope_params.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let rows = c.query(&format!("SELECT f.id, f.version FROM findings f WHERE {scope}"), &params).await?;
        rows.iter().map(|r| Ok((FindingId(r.try_get(0)?), r.try_get::<_, i64>(1)? as u64))).collect()
    }

    async fn record_photo_upload(
        &self,
        principal: &Principal,
        hash: PhotoHash,
        size: u64,
        now: DateTime<Utc>,
    ) -> Result<PhotoRecorded, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let hex = hash.to_hex();
        let new = tx
            .execute(
                "INSERT INTO photos(hash, size, received_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&hex, &to_i64(size, "size")?, &now],
            )
            .await?
            == 1;
        tx.execute(
            "INSERT INTO photo_uploads(hash, user_id, uploaded_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&hex, &principal.user.0, &now],
        )
        .await?;
        tx.commit().await?;
        Ok(if new { PhotoRecorded::New } else { PhotoRecorded::Known })
    }

    async fn photo_visible(&self, principal: &Principal, hash: PhotoHash) -> Result<bool, StoreError> {
        let (scope, scope_params) = scope_sql(principal, 3);
        let sql = format!(
            "SELECT EXISTS(SELECT 1 FROM photo_uploads WHERE hash = $1 AND user_id = $2)
                 OR EXISTS(SELECT 1 FROM finding_photos fp JOIN findings f ON f.id = fp.finding_id
                           WHERE fp.hash = $1 AND {scope})"
        );
        let hex = hash.to_hex();
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&hex, &principal.user.0];
        params.extend(scope_params.iter().map(|v| v as &(dyn ToSql + Sync)));
        let c = self.client().await?;
        Ok(c.query_one(&sql, &params).await?.try_get(0)?)
    }
}
