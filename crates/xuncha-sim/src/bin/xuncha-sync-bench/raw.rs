//! The limits: what the same database (and the same disk) does on this machine in this run without the
//! server in front of it.
//!
//! Findings: one transaction per row, as the server commits one transaction per op, holding one
//! findings row and its history row, copied from a row the server itself wrote (same columns, same
//! JSON sizes), with the server's durability settings: SQLite in WAL with `synchronous=FULL` and
//! foreign keys on (`store/sqlite.rs` `connect`); PostgreSQL with the database's defaults
//! (`synchronous_commit` as configured, the server sets nothing) and the same indexes and foreign keys.
//! One connection, serial: the server commits changes to findings one at a time too (one writer in
//! SQLite, the change-counter row lock in PostgreSQL), so that is the ceiling of its design.
//!
//! Run in rounds alternating with the server's push (same rows per round), so both see the same
//! background load on a shared machine.
//!
//! Photos: the blob store's own steps (temp file, write, fsync, rename, fsync the folder).

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};
use xuncha_domain::PhotoHash;

/// Raw inserts into a copy of the server's SQLite database (made when opened: same schema, indexes,
/// foreign-key parents and rows so far), with the server's connection settings.
pub struct SqliteRaw {
    conn: rusqlite::Connection,
    /// author, team, district, sub-district, status, fields, version, received_at of a server-written row.
    row: (String, String, Option<String>, Option<String>, String, String, i64, String),
    history: String,
    next_seq: i64,
}

impl SqliteRaw {
    pub fn open(server_db: &Path, scratch: &Path) -> Result<Self> {
        {
            let src = rusqlite::Connection::open(server_db)?;
            src.execute("VACUUM INTO ?1", [scratch.to_string_lossy()]).context("copying the server database")?;
        }
        let conn = rusqlite::Connection::open(scratch)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        anyhow::ensure!(mode.eq_ignore_ascii_case("wal"), "scratch database not in WAL ({mode})");
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let (id, row) = conn.query_row(
            "SELECT id, author_id, team_id, district_id, sub_district_id, status, fields_json, version, received_at
             FROM findings ORDER BY server_seq DESC LIMIT 1",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?),
                ))
            },
        )?;
        let history: String = conn.query_row(
            "SELECT entry_json FROM finding_history WHERE finding_id = ?1 ORDER BY n LIMIT 1",
            [&id],
            |r| r.get(0),
        )?;
        let next_seq: i64 =
            conn.query_row("SELECT COALESCE(MAX(server_seq), 0) + 1 FROM findings", [], |r| r.get(0))?;
        Ok(Self { conn, row, history, next_seq })
    }

    /// Inserts `n` findings (+ history), one IMMEDIATE transaction each; returns the time.
    pub fn insert(&mut self, n: usize) -> Result<Duration> {
        let ids: Vec<String> = (0..n).map(|_| uuid::Uuid::now_v7().to_string()).collect();
        let t = &self.row;
        let start = Instant::now();
        for id in &ids {
            let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.prepare_cached(
                "INSERT INTO findings(id, author_id, team_id, district_id, sub_district_id, status, fields_json,
                                      version, server_seq, received_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
            )?
            .execute(rusqlite::params![id, t.0, t.1, t.2, t.3, t.4, t.5, t.6, self.next_seq, t.7])?;
            tx.prepare_cached("INSERT INTO finding_history(finding_id, n, entry_json) VALUES (?1, 1, ?2)")?
                .execute(rusqlite::params![id, self.history])?;
            tx.commit()?;
            self.next_seq += 1;
        }
        Ok(start.elapsed())
    }
}

/// Raw inserts into scratch copies of `findings` and `finding_history` (same columns, indexes and
/// foreign keys) in the server's PostgreSQL database; [`PgRaw::close`] drops them.
pub struct PgRaw {
    c: tokio_postgres::Client,
    ins_f: tokio_postgres::Statement,
    ins_h: tokio_postgres::Statement,
    author: uuid::Uuid,
    team: uuid::Uuid,
    district: Option<uuid::Uuid>,
    sub: Option<uuid::Uuid>,
    status: String,
    fields: String,
    version: i64,
    received: chrono::DateTime<chrono::Utc>,
    history: String,
    next_seq: i64,
}

impl PgRaw {
    pub async fn open(db_url: &str) -> Result<Self> {
        let c = crate::server::pg_connect(db_url).await?;
        c.batch_execute(
            "DROP TABLE IF EXISTS bench_raw_history; DROP TABLE IF EXISTS bench_raw_findings;
             CREATE TABLE bench_raw_findings (LIKE findings INCLUDING ALL);
             CREATE TABLE bench_raw_history (LIKE finding_history INCLUDING ALL);",
        )
        .await?;
        // LIKE copies no foreign keys; the server's rows pay for theirs, so these must too.
        for (table, copy) in [("findings", "bench_raw_findings"), ("finding_history", "bench_raw_history")] {
            let fks = c
                .query(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint
                     WHERE conrelid = $1::text::regclass AND contype = 'f'",
                    &[&table],
                )
                .await?;
            for fk in fks {
                let def: String = fk.get(0);
                let def = def.replace("REFERENCES findings(", "REFERENCES bench_raw_findings(");
                c.batch_execute(&format!("ALTER TABLE {copy} ADD {def}")).await?;
            }
        }
        let t = c
            .query_one(
                "SELECT author_id, team_id, district_id, sub_district_id, status, fields_json, version, received_at, id
                 FROM findings ORDER BY server_seq DESC LIMIT 1",
                &[],
            )
            .await?;
        let template_id: uuid::Uuid = t.get(8);
        let history: String = c
            .query_one(
                "SELECT entry_json FROM finding_history WHERE finding_id = $1 ORDER BY n LIMIT 1",
                &[&template_id],
            )
            .await?
            .get(0);
        let ins_f = c
            .prepare(
                "INSERT INTO bench_raw_findings(id, author_id, team_id, district_id, sub_district_id, status,
                                                fields_json, version, server_seq, received_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
            )
            .await?;
        let ins_h = c.prepare("INSERT INTO bench_raw_history(finding_id, n, entry_json) VALUES ($1, 1, $2)").await?;
        Ok(Self {
            ins_f,
            ins_h,
            author: t.get(0),
            team: t.get(1),
            district: t.get(2),
            sub: t.get(3),
            status: t.get(4),
            fields: t.get(5),
            version: t.get(6),
            received: t.get(7),
            history,
            next_seq: 1,
            c,
        })
    }

    /// Inserts `n` findings (+ history), one transaction each; returns the time.
    pub async fn insert(&mut self, n: usize) -> Result<Duration> {
        let ids: Vec<uuid::Uuid> = (0..n).map(|_| uuid::Uuid::now_v7()).collect();
        let start = Instant::now();
        for id in &ids {
            let tx = self.c.transaction().await?;
            tx.execute(
                &self.ins_f,
                &[
                    id,
                    &self.author,
                    &self.team,
                    &self.district,
                    &self.sub,
                    &self.status,
                    &self.fields,
                    &self.version,
                    &self.next_seq,
                    &self.received,
                ],
            )
            .await?;
            tx.execute(&self.ins_h, &[id, &self.history]).await?;
            tx.commit().await?;
            self.next_seq += 1;
        }
        Ok(start.elapsed())
    }

    pub async fn close(self) -> Result<()> {
        self.c.batch_execute("DROP TABLE bench_raw_history; DROP TABLE bench_raw_findings;").await?;
        Ok(())
    }
}

/// Writes the photos as the blob store does, `parallel` at a time; returns the time.
pub fn photo_files(root: &Path, photos: &[(PhotoHash, Vec<u8>)], parallel: usize) -> Result<Duration> {
    let tmp = root.join("tmp");
    std::fs::create_dir_all(&tmp)?;
    let start = Instant::now();
    let chunk = photos.len().div_ceil(parallel.max(1)).max(1);
    std::thread::scope(|s| -> Result<()> {
        let handles: Vec<_> = photos
            .chunks(chunk)
            .map(|part| {
                let (root, tmp) = (root, &tmp);
                s.spawn(move || -> Result<()> {
                    for (hash, bytes) in part {
                        let hex = hash.to_hex();
                        let dir = root.join(&hex[..2]);
                        std::fs::create_dir_all(&dir)?;
                        let t = tmp.join(format!("{hex}.part"));
                        let mut f = std::fs::File::create(&t)?;
                        f.write_all(bytes)?;
                        f.sync_all()?;
                        drop(f);
                        std::fs::rename(&t, dir.join(format!("{hex}.jpg")))?;
                        std::fs::File::open(&dir)?.sync_all()?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| anyhow::anyhow!("photo writer panicked"))??;
        }
        Ok(())
    })?;
    Ok(start.elapsed())
}
