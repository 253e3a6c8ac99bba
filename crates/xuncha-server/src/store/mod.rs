//! Server storage behind one trait, so a PostgreSQL backend can sit beside SQLite (Atuin's pattern).
//!
//! Backends: [`SqliteStore`] (one file, the default) and [`PostgresStore`] (`--database-url postgres://…`);
//! [`open`] picks one from the [`Config`]. Both pass the same story tests (`tests/conformance/`).
//!
//! **Invariant:** nothing in this module names rusqlite or tokio-postgres; only `sqlite.rs` and `postgres.rs`
//! do. Every data method that reads or changes findings takes the authenticated [`Principal`], so scope is
//! part of the signature and cannot be forgotten by a handler.
//!
//! The decisions (is this op allowed, what is the new state) are pure and live in [`crate::apply`];
//! a backend only loads the current state, calls them, and writes the result in one transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use xuncha_domain::{
    DeviceId, DistrictId, Finding, FindingId, HistoryEntry, PhotoHash, Principal, Role, Status, SubDistrictId, TeamId,
    UserId,
};
use xuncha_proto::{FindingRecord, OpResult, Operation, PullResponse, UserProfile};

pub mod group_commit;
pub mod postgres;
pub mod sqlite;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use crate::apply::Rules;
use crate::config::Config;
use std::sync::Arc;

/// Opens (creating and migrating) the database the config names: PostgreSQL when it has a database URL,
/// else the SQLite file.
pub async fn open(config: &Config, rules: Arc<Rules>) -> Result<Arc<dyn ServerStore>, StoreError> {
    Ok(match &config.database_url {
        Some(url) => Arc::new(PostgresStore::open(url, rules).await?),
        None => Arc::new(SqliteStore::open(&config.db, rules).await?),
    })
}

/// Names what a principal may see; it changes exactly when their visible set's rule changes (role, team,
/// district). Devices store it and re-download their scope when it differs (`PullResponse::scope`).
pub fn scope_key(p: &Principal) -> String {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    match p.role {
        Role::Admin => "admin".into(),
        Role::Inspector | Role::TeamLeader => {
            format!("{}:user={},team={}", p.role.as_str(), p.user, opt(p.team.map(|t| t.to_string())))
        }
        Role::DistrictOffice => format!("district_office:district={}", opt(p.district.map(|d| d.to_string()))),
    }
}

/// A finding row as either backend reads it, ids already typed, text not yet parsed: the one place where
/// stored JSON, status codes and counters become a [`FindingRecord`], so both backends read alike.
pub(crate) struct StoredFinding<'a> {
    pub id: FindingId,
    pub author: UserId,
    pub team: TeamId,
    pub district: Option<DistrictId>,
    pub sub_district: Option<SubDistrictId>,
    pub status: &'a str,
    pub fields_json: &'a str,
    pub version: i64,
    pub server_seq: i64,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub author_name: String,
    pub team_name: String,
}

impl StoredFinding<'_> {
    pub fn into_record<'h>(self, history_json: impl IntoIterator<Item = &'h str>) -> Result<FindingRecord, StoreError> {
        let status =
            Status::parse(self.status).ok_or_else(|| StoreError::Corrupt(format!("status {:?}", self.status)))?;
        let counter = |v: i64, what: &str| {
            u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v} of finding {} is negative", self.id)))
        };
        let history = history_json
            .into_iter()
            .map(|j| serde_json::from_str::<HistoryEntry>(j).map_err(|e| StoreError::Corrupt(format!("history: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FindingRecord {
            finding: Finding {
                id: self.id,
                author: self.author,
                team: self.team,
                fields: serde_json::from_str(self.fields_json)
                    .map_err(|e| StoreError::Corrupt(format!("fields of finding {}: {e}", self.id)))?,
                status,
            },
            version: counter(self.version, "version")?,
            server_seq: counter(self.server_seq, "server_seq")?,
            received_at: self.received_at,
            updated_at: self.updated_at,
            author_name: self.author_name,
            team_name: self.team_name,
            district: self.district,
            sub_district: self.sub_district,
            history,
        })
    }
}

/// SHA-256 of a bearer token; the only form in which tokens are stored.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl std::fmt::Debug for TokenHash {
    // Even the hash stays out of logs: it is the lookup key for a session.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed (I/O, lock timeout, constraint we did not expect). Text only, so no driver type leaks.
    #[error("database error: {0}")]
    Backend(String),
    /// A stored row could not be read back (bad JSON, unknown enum value): a bug or a hand-edited file.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("storage task failed: {0}")]
    Task(String),
}

/// A user's password hash, for the login check only.
#[derive(Clone)]
pub struct Credentials {
    pub user: UserId,
    pub password_hash: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("user", &self.user).field("password_hash", &"<redacted>").finish()
    }
}

/// What a valid token stands for, derived from the tables (kept between requests only while every change
/// to it is heard: `postgres/sessions.rs`).
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub principal: Principal,
    pub device: DeviceId,
}

#[derive(Debug, Clone)]
pub struct NewDistrict {
    pub id: DistrictId,
    pub code: String,
    pub zh: String,
    pub en: String,
}

#[derive(Debug, Clone)]
pub struct NewSubDistrict {
    pub id: SubDistrictId,
    pub district: DistrictId,
    pub code: String,
    pub zh: String,
    pub en: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    pub district: DistrictId,
    pub sub_district: Option<SubDistrictId>,
}

#[derive(Clone)]
pub struct NewUser {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub team: Option<TeamId>,
    pub district: Option<DistrictId>,
    pub password_hash: String,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("team", &self.team)
            .field("district", &self.district)
            .finish_non_exhaustive()
    }
}

/// Whether a photo upload added bytes the server did not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoRecorded {
    New,
    Known,
}

#[async_trait]
pub trait ServerStore: Send + Sync + 'static {
    /// Stable for the life of the database; devices refuse to sync into a different one.
    async fn server_id(&self) -> Result<Uuid, StoreError>;

    // ---- accounts and sessions ----
    async fn credentials(&self, username: &str) -> Result<Option<Credentials>, StoreError>;
    async fn insert_token(
        &self,
        user: UserId,
        device: DeviceId,
        device_name: &str,
        token: TokenHash,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The session of an unrevoked token, with role, team and district as the tables hold them now (a backend
    /// that keeps sessions must forget them on every change: `revoke_*` and `set_user_scope`).
    async fn session(&self, token: TokenHash) -> Result<Option<Session>, StoreError>;
    async fn revoke_token(&self, token: TokenHash, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Revokes every token of a user (a lost phone). `None` when there is no such user.
    async fn revoke_user_tokens(&self, username: &str, now: DateTime<Utc>) -> Result<Option<usize>, StoreError>;
    async fn profile(&self, principal: &Principal) -> Result<UserProfile, StoreError>;

    // ---- set-up (seed, admin tools) ----
    async fn user_count(&self) -> Result<u64, StoreError>;
    async fn add_district(&self, d: NewDistrict) -> Result<(), StoreError>;
    async fn add_sub_district(&self, s: NewSubDistrict) -> Result<(), StoreError>;
    async fn add_team(&self, t: Team) -> Result<(), StoreError>;
    async fn team_by_name(&self, name: &str) -> Result<Option<Team>, StoreError>;
    async fn district_by_code(&self, code: &str) -> Result<Option<DistrictId>, StoreError>;
    async fn add_user(&self, u: NewUser, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// The principal of a user, as a token for them would give (used by seeding, which has no token).
    async fn principal_of(&self, user: UserId) -> Result<Option<Principal>, StoreError>;
    /// Moves a user to another role, team or district (scopes change at their next request: the server
    /// re-derives the principal each time). `None` when there is no such user.
    async fn set_user_scope(
        &self,
        username: &str,
        role: Role,
        team: Option<TeamId>,
        district: Option<DistrictId>,
    ) -> Result<Option<UserId>, StoreError>;

    // ---- sync ----
    /// Applies each op at most once, each in its own transaction, and answers one result per op in order.
    async fn push(
        &self,
        principal: &Principal,
        device: DeviceId,
        ops: Vec<Operation>,
        now: DateTime<Utc>,
    ) -> Result<Vec<OpResult>, StoreError>;
    /// Findings changed after `cursor` that the principal may see, oldest change first; `limit` ≥ 1.
    async fn pull(&self, principal: &Principal, cursor: u64, limit: u32) -> Result<PullResponse, StoreError>;
    /// (id, version) of every finding the principal may see, in no particular order: the input of the
    /// scope digest a device compares with what it holds.
    async fn scope_versions(&self, principal: &Principal) -> Result<Vec<(FindingId, u64)>, StoreError>;

    // ---- photos ----
    async fn record_photo_upload(
        &self,
        principal: &Principal,
        hash: PhotoHash,
        size: u64,
        now: DateTime<Utc>,
    ) -> Result<PhotoRecorded, StoreError>;
    /// True when the principal uploaded the photo or may see a finding that shows it.
    async fn photo_visible(&self, principal: &Principal, hash: PhotoHash) -> Result<bool, StoreError>;
}
