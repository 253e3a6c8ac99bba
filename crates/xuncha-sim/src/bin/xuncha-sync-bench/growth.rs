//! Growth (PostgreSQL only): does an incremental pull cost the same when the server holds 100× more
//! history? Two databases, one per size, each with its own server process: the small one and the large
//! one are timed in alternation, pull after pull, so that a machine whose speed drifts (a shared host, a
//! compile, the bulk load's aftermath) slows both alike. Measured one after the other, minutes apart,
//! the ratio of two pulls of a fraction of a millisecond moved more with the machine than with the data.
//!
//! Each findings table is bulk-loaded in SQL (`INSERT … SELECT generate_series`) with copies of a row the
//! server itself wrote — `jsonb_populate_record(row, overrides)` keeps every column, also ones added later
//! with defaults — spread over many bulk teams, each with one author. Then team 1 (the demo team, a small
//! history) gets 10 new findings over HTTP and its leader pulls them.
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

/// New findings the leader pulls.
const NEW: usize = 10;

/// The server's pull statement (its own file, read by both), as `store/postgres/pull.rs` prepares it.
fn pull_sql() -> String {
    let types = "int4[], uuid[], uuid[], int8[], int4[], uuid[], int8[], int4[], int8[], int8, int8[]";
    format!("PREPARE bench_pull({types}) AS {}", include_str!("../../../../xuncha-server/src/store/postgres/pull.sql"))
}

/// One size, ready to be timed: loaded, with 10 new findings the leader has not pulled yet.
#[derive(Debug, Clone)]
pub struct Level {
    pub findings: i64,
    pub load_secs: f64,
    /// The leader's cursor for the pull of the 10 new findings.
    pub cursor: u64,
}

/// One database (and its server) of the growth check.
pub struct Growth<'a> {
    pub db: tokio_postgres::Client,
    pub api: &'a Api,
    pub leader: Session,
    pub inspector: Session,
    pub taxonomy: Taxonomy,
    pub rng: StdRng,
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

    /// One timed pull of the 10 new findings from `cursor`.
    async fn timed_pull(&self, cursor: u64) -> Result<Duration> {
        let start = Instant::now();
        let page = self.api.pull(&self.leader.token, cursor, xuncha_proto::MAX_PULL_LIMIT).await?;
        let took = start.elapsed();
        ensure!(page.changes.len() == NEW, "pull from {cursor} gave {} changes, not {NEW}", page.changes.len());
        Ok(took)
    }

    /// EXPLAIN ANALYZE of the server's own pull statement, as the server runs it: prepared, with the
    /// settings of the server's connections (`store/postgres.rs`: its generic plan, no JIT), run a few
    /// times first.
    async fn explain(&mut self, label: &str, cursor: u64) -> Result<()> {
        self.db.batch_execute("SET plan_cache_mode = force_generic_plan; SET jit = off").await?;
        let r = self.db.query_one("SELECT u.id, u.team_id FROM users u WHERE u.username = 'leader1'", &[]).await?;
        let (user, team): (uuid::Uuid, uuid::Uuid) = (r.get(0), r.get(1));
        // A group of one pull: the leader's (the people list), from `cursor`, a full page.
        let fetch = xuncha_proto::MAX_PULL_LIMIT + 1;
        let args = format!(
            "ARRAY[1], ARRAY['{user}'::uuid], ARRAY['{team}'::uuid], ARRAY[{cursor}::int8], '{{}}', '{{}}', '{{}}', \
             '{{}}', '{{}}', {fetch}, ARRAY[{fetch}::int8]"
        );
        self.db.batch_execute(&pull_sql()).await?;
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

    /// Loads to `total` and pushes 10 new team-1 findings: the leader's pull of them is what is timed.
    pub async fn level(&mut self, total: i64) -> Result<Level> {
        let load_secs = self.load_to(total).await?;
        let findings = self.count().await?;
        // What the leader's device holds as its cursor after syncing now (the load is not in its scope).
        let cursor = self.pull_cursor().await?;
        self.leader.cursor = cursor;
        let ops = (0..NEW)
            .map(|_| create_op(&self.taxonomy, &mut self.inspector, &mut self.rng, None))
            .collect::<Result<Vec<_>>>()?;
        self.api.push(&self.inspector, ops).await?;
        Ok(Level { findings, load_secs, cursor })
    }

    /// Creates `sql` (an index) and runs VACUUM ANALYZE, for a second timing of the same pull.
    pub async fn add_index(&mut self, sql: &str) -> Result<()> {
        self.db.batch_execute(sql).await.with_context(|| format!("proposed index: {sql}"))?;
        self.db.batch_execute("VACUUM (ANALYZE) findings").await?;
        Ok(())
    }
}

/// The leader's pull timed `runs` times on each of two databases in alternation (after one untimed pull
/// each), the order swapped every round so neither always goes first; the two medians. The plans of both
/// are added to their reports.
pub async fn interleaved_medians<'a>(
    small: (&mut Growth<'a>, &Level),
    large: (&mut Growth<'a>, &Level),
    runs: usize,
    label: &str,
) -> Result<(Duration, Duration)> {
    let ((s, sl), (l, ll)) = (small, large);
    s.timed_pull(sl.cursor).await?;
    l.timed_pull(ll.cursor).await?;
    let (mut vs, mut vl) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for i in 0..runs {
        if i % 2 == 0 {
            vs.push(s.timed_pull(sl.cursor).await?);
            vl.push(l.timed_pull(ll.cursor).await?);
        } else {
            vl.push(l.timed_pull(ll.cursor).await?);
            vs.push(s.timed_pull(sl.cursor).await?);
        }
    }
    for (g, level) in [(s, sl), (l, ll)] {
        g.explain(&format!("{label}{} findings, leader's cursor {}", level.findings, level.cursor), level.cursor)
            .await?;
    }
    Ok((crate::median(vs), crate::median(vl)))
}
