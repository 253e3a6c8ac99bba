//! Growth (PostgreSQL only): does an incremental pull cost the same when the server holds 100× more
//! history? The findings table is bulk-loaded in SQL (`INSERT … SELECT generate_series`) with copies of
//! a row the server itself wrote — `jsonb_populate_record(row, overrides)` keeps every column, also
//! ones added later with defaults — spread over many bulk teams, each with one author. Then team 1
//! (the demo team, a small history) gets 10 new findings over HTTP and its leader pulls them.
//!
//! The leader's cursor is the one the server handed back on its last pull: the `server_seq` of the last
//! change *in its scope* (`pull_page` returns `changes.last().server_seq`, or the old cursor). Other
//! teams' changes never move it, so after the bulk load the leader's cursor is still from before the
//! whole bulk history: the pull must skip that history by index (the scope indexes end in
//! `server_seq`) rather than read through it. That is the case measured; EXPLAIN ANALYZE of the
//! server's statement (the same file) is kept for the report.

use crate::client::{create_op, Api, Session};
use anyhow::{ensure, Context, Result};
use rand::rngs::StdRng;
use std::time::{Duration, Instant};
use xuncha_domain::Taxonomy;

/// The server's pull statement (its own files, read by both), with the scope of an inspector or team leader
/// as `store/postgres.rs` `scope_conditions` writes it.
fn pull_sql_of_a_leader() -> String {
    let branch = include_str!("../../../../xuncha-server/src/store/postgres/pull_branch.sql").trim();
    let branches = ["f.author_id = $3", "f.team_id = $4"].map(|c| branch.replace("{condition}", c));
    include_str!("../../../../xuncha-server/src/store/postgres/pull.sql")
        .replace("{branches}", &branches.join(" UNION "))
}

/// Medians of the leader's incremental pull at one size.
#[derive(Debug, Clone)]
pub struct Level {
    pub findings: i64,
    /// Median of the leader's pull of the 10 new findings.
    pub pull: Duration,
    pub load_secs: f64,
    /// The leader's cursor for that pull.
    pub cursor: u64,
}

pub struct Growth<'a> {
    pub db: tokio_postgres::Client,
    pub api: &'a Api,
    pub leader: Session,
    pub inspector: Session,
    pub taxonomy: Taxonomy,
    pub rng: StdRng,
    pub runs: usize,
    pub teams: i32,
    /// EXPLAIN ANALYZE of the pull statement per step, for the report.
    pub plans: String,
}

impl Growth<'_> {
    pub async fn create_bulk_teams(&self) -> Result<()> {
        self.db
            .execute(
                "INSERT INTO teams
                 SELECT (jsonb_populate_record(t, jsonb_build_object('id', gen_random_uuid(),
                                                                    'name', 'bench-team-' || g))).*
                 FROM teams t CROSS JOIN generate_series(1, $1::int) g
                 WHERE t.id = (SELECT team_id FROM users WHERE username = 'leader1')",
                &[&self.teams],
            )
            .await
            .context("bulk teams")?;
        self.db
            .execute(
                "INSERT INTO users
                 SELECT (jsonb_populate_record(u, jsonb_build_object('id', gen_random_uuid(),
                                                                    'username', 'bench-author-' || bt.name,
                                                                    'team_id', bt.id))).*
                 FROM users u CROSS JOIN (SELECT id, name FROM teams WHERE name LIKE 'bench-team-%') bt
                 WHERE u.username = 'inspector1-1'",
                &[],
            )
            .await
            .context("bulk authors")?;
        Ok(())
    }

    pub async fn count(&self) -> Result<i64> {
        Ok(self.db.query_one("SELECT count(*) FROM findings", &[]).await?.get(0))
    }

    /// Adds findings (and one history row each) to the bulk teams until the table holds `total`.
    pub async fn load_to(&mut self, total: i64) -> Result<f64> {
        let n = i32::try_from(total - self.count().await?).context("too many rows")?;
        if n <= 0 {
            return Ok(0.0);
        }
        let start = Instant::now();
        let tx = self.db.transaction().await?;
        let base: i64 = tx.query_one("SELECT last_seq FROM change_counter FOR UPDATE", &[]).await?.get(0);
        let template: uuid::Uuid =
            tx.query_one("SELECT id FROM findings ORDER BY server_seq DESC LIMIT 1", &[]).await?.get(0);
        tx.execute(
            "WITH bu AS (SELECT id AS author, team_id, (row_number() OVER (ORDER BY id) - 1)::int AS k
                         FROM users WHERE username LIKE 'bench-author-%')
             INSERT INTO findings
             SELECT (jsonb_populate_record(f, jsonb_build_object('id', gen_random_uuid(), 'author_id', bu.author,
                                                                'team_id', bu.team_id,
                                                                'server_seq', $2::bigint + g))).*
             FROM findings f CROSS JOIN generate_series(1, $3::int) g JOIN bu ON bu.k = g % $4::int
             WHERE f.id = $1",
            &[&template, &base, &n, &self.teams],
        )
        .await
        .context("bulk findings")?;
        tx.execute(
            "INSERT INTO finding_history
             SELECT (jsonb_populate_record(h, jsonb_build_object('finding_id', f.id))).*
             FROM finding_history h CROSS JOIN findings f
             WHERE h.finding_id = $1 AND h.n = 1 AND f.server_seq > $2::bigint AND f.server_seq <= $2::bigint + $3::int",
            &[&template, &base, &n],
        )
        .await
        .context("bulk history")?;
        // The server takes its next number from here: it must be past every loaded row.
        tx.execute("UPDATE change_counter SET last_seq = $1::bigint + $2::int", &[&base, &n]).await?;
        tx.commit().await?;
        // What autovacuum would do soon anyway; done now so it does not run in the middle of a timing.
        self.db.batch_execute("VACUUM (ANALYZE) findings, finding_history, users, teams").await?;
        Ok(start.elapsed().as_secs_f64())
    }

    async fn pull_cursor(&self) -> Result<u64> {
        Ok(self.api.pull_all(&self.leader.token, self.leader.cursor).await?.2)
    }

    /// The median of `runs` timed pulls from `cursor` (after one untimed), each returning `expect`.
    async fn median_pull(&self, cursor: u64, expect: usize) -> Result<Duration> {
        let mut v = Vec::new();
        for i in 0..=self.runs {
            let start = Instant::now();
            let page = self.api.pull(&self.leader.token, cursor, xuncha_proto::MAX_PULL_LIMIT).await?;
            let took = start.elapsed();
            ensure!(
                page.changes.len() == expect,
                "pull from {cursor} gave {} changes, not {expect}",
                page.changes.len()
            );
            if i > 0 {
                v.push(took);
            }
        }
        v.sort();
        Ok(v[v.len() / 2])
    }

    /// EXPLAIN ANALYZE of the server's own pull statement, as the server runs it: prepared, and executed
    /// more than five times first, so PostgreSQL may have switched to its generic plan.
    async fn explain(&mut self, label: &str, cursor: u64) -> Result<()> {
        let r = self.db.query_one("SELECT u.id, u.team_id FROM users u WHERE u.username = 'leader1'", &[]).await?;
        let (user, team): (uuid::Uuid, uuid::Uuid) = (r.get(0), r.get(1));
        let args = format!("{cursor}, {}, '{user}'::uuid, '{team}'::uuid", xuncha_proto::MAX_PULL_LIMIT + 1);
        self.db.batch_execute(&format!("PREPARE bench_pull AS {}", pull_sql_of_a_leader())).await?;
        for _ in 0..6 {
            self.db.batch_execute(&format!("EXECUTE bench_pull({args})")).await?;
        }
        let rows =
            self.db.query(&format!("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE bench_pull({args})"), &[]).await;
        self.db.batch_execute("DEALLOCATE bench_pull").await?;
        self.plans.push_str(&format!("--- {label}\n"));
        for r in rows? {
            let line: String = r.get(0);
            self.plans.push_str(&line);
            self.plans.push('\n');
        }
        Ok(())
    }

    /// Loads to `total`, pushes 10 new team-1 findings, and times the leader's pull of them.
    pub async fn level(&mut self, total: i64) -> Result<Level> {
        let load_secs = self.load_to(total).await?;
        let findings = self.count().await?;
        // What the leader's device holds as its cursor after syncing now (the load is not in its scope).
        let cursor = self.pull_cursor().await?;
        self.leader.cursor = cursor;
        let ops = (0..10)
            .map(|_| create_op(&self.taxonomy, &mut self.inspector, &mut self.rng, None))
            .collect::<Result<Vec<_>>>()?;
        self.api.push(&self.inspector, ops).await?;
        let pull = self.median_pull(cursor, 10).await?;
        self.explain(&format!("{findings} findings, leader's cursor {cursor}"), cursor).await?;
        Ok(Level { findings, pull, load_secs, cursor })
    }

    /// The same pull as the last [`Growth::level`], after `sql` (an index) and VACUUM ANALYZE.
    pub async fn with_index(&mut self, sql: &str, last: &Level) -> Result<Level> {
        self.db.batch_execute(sql).await.with_context(|| format!("proposed index: {sql}"))?;
        self.db.batch_execute("VACUUM (ANALYZE) findings").await?;
        let pull = self.median_pull(last.cursor, 10).await?;
        self.explain("with proposed index", last.cursor).await?;
        Ok(Level { pull, load_secs: 0.0, ..last.clone() })
    }
}
