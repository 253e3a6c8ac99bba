//! The local SQLite store: one file, `DATA/xuncha.sqlite3`.
//!
//! Saved means saved: WAL with `synchronous=FULL` (with NORMAL the last commits "might roll back
//! following a power loss", and field phones lose power), foreign keys on, and every user action is one
//! transaction that writes the finding, its history line and its outbox entry together.

pub mod conflicts;
pub mod findings;
pub mod meta;
pub mod migrations;
pub mod outbox;
pub mod photos;

use crate::error::{DeviceError, Result};
use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

pub const DB_FILE: &str = "xuncha.sqlite3";

pub struct Store {
    pub(crate) conn: Connection,
    /// Test hook: the named step fails with an error, to prove a transaction leaves nothing partial.
    fail_point: Option<String>,
}

impl Store {
    pub fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let mut conn = Connection::open(data_dir.join(DB_FILE))?;
        // PRAGMAs outside the migrations: journal_mode cannot change inside a transaction.
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(mode, "SQLite refused WAL mode");
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(Duration::from_secs(5))?;
        migrations::MIGRATIONS.to_latest(&mut conn)?;
        meta::ensure_device_id(&conn)?;
        tracing::debug!(dir = %data_dir.display(), "store opened");
        Ok(Self { conn, fail_point: None })
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    #[doc(hidden)]
    pub fn set_fail_point(&mut self, name: Option<&str>) {
        self.fail_point = name.map(str::to_string);
    }

    /// The armed fail point, copied so it can be checked while a transaction borrows the connection.
    pub(crate) fn fail_points(&self) -> FailPoint {
        FailPoint(self.fail_point.clone())
    }
}

pub(crate) struct FailPoint(Option<String>);

impl FailPoint {
    pub(crate) fn check(&self, name: &str) -> Result<()> {
        if self.0.as_deref() == Some(name) {
            return Err(DeviceError::Storage(format!("fail point {name}")));
        }
        Ok(())
    }
}

/// Timestamps are stored as RFC 3339 UTC with milliseconds, so text order is time order.
pub fn now_text() -> String {
    ts_text(chrono::Utc::now())
}

pub fn ts_text(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
