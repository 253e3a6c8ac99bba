//! Pulls on PostgreSQL (`store/postgres/pull.rs`): pulls that wait for a connection are answered together
//! by one statement, and that statement's cost follows the page asked for, not the history the server
//! holds, also once PostgreSQL has statistics to plan with (autovacuum analyses every table of a real
//! server; this machine's PostgreSQL runs without it).

mod common;
mod pgtest;

use common::{fields, login, Client, Launch, Server, HUBIN};
use pgtest::TestDb;
use serde_json::Value;
use std::time::Duration;
use xuncha_domain::FindingId;
use xuncha_proto::{OpBody, PullResponse};

/// The server's own statement, as it prepares it.
const PULL_SQL: &str = include_str!("../src/store/postgres/pull.sql");
const PULL_TYPES: &str = "int4[], uuid[], uuid[], int8[], int4[], uuid[], int8[], int4[], int8[], int8, int8[]";

/// Pushes `n` new findings as `c`, in batches of 200.
async fn push_findings(c: &mut Client, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(200) {
        let ops: Vec<_> = chunk
            .iter()
            .map(|_| c.op(FindingId::new_v7(), OpBody::Create { fields: fields(Some(HUBIN), vec![]) }))
            .collect();
        c.push(&ops).await;
    }
}

/// What a page says, to compare two answers to the same pull.
fn summary(p: &PullResponse) -> (Vec<(FindingId, u64)>, u64, bool, String) {
    (p.changes.iter().map(|c| (c.finding.id, c.server_seq)).collect(), p.cursor, p.has_more, p.scope.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_answered_together_each_get_their_own_scope_and_page() {
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    common::seed(&dir, &Launch { database_url: Some(db.url.expose()), log: Some("seed.log"), ..Launch::default() });
    let server = Server::launch(
        dir,
        &Launch {
            database_url: Some(db.url.expose()),
            log_level: Some("info,xuncha_server=debug"),
            ..Launch::default()
        },
    );
    let pg = db.connect().await;
    let office: String = pg
        .query_one("SELECT username FROM users WHERE role = 'district_office' ORDER BY username LIMIT 1", &[])
        .await
        .unwrap()
        .get(0);
    let mut people = Vec::new();
    for name in ["admin", office.as_str(), "leader1", "leader2", "inspector1-1", "inspector2-1", "inspector3-2"] {
        people.push(login(&server, name).await);
    }
    // Scopes that overlap and differ: new findings in teams 1 and 2, besides the demo day's.
    push_findings(&mut people[4], 30).await;
    push_findings(&mut people[5], 12).await;

    // Each person's pulls: from the start, in small pages and large, from the middle, and from a cursor
    // past any number PostgreSQL holds (a device's bug, or a forged request), which must not fail the
    // others of its group. What each answers alone, one after the other, is the expected answer.
    let mut pulls = Vec::new();
    for (k, c) in people.iter().enumerate() {
        let middle = c.pull_page(0, Some(7)).await.cursor;
        for (cursor, limit) in [(0, Some(5)), (0, None), (middle, Some(3)), (middle, Some(500)), (u64::MAX, None)] {
            pulls.push((k, cursor, limit));
        }
    }
    let mut expected = Vec::new();
    for &(k, cursor, limit) in &pulls {
        expected.push(summary(&people[k].pull_page(cursor, limit).await));
    }

    // Another session locks the findings table, so the pulls that get a connection wait inside PostgreSQL
    // and every other pull waits for a connection: when the lock goes, those are answered in groups.
    pg.batch_execute("BEGIN; LOCK TABLE findings IN ACCESS EXCLUSIVE MODE").await.unwrap();
    let people = std::sync::Arc::new(people);
    let tasks: Vec<_> = pulls
        .iter()
        .map(|&(k, cursor, limit)| {
            let people = people.clone();
            tokio::spawn(async move { summary(&people[k].pull_page(cursor, limit).await) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(800)).await;
    pg.batch_execute("ROLLBACK").await.unwrap();
    for (i, t) in tasks.into_iter().enumerate() {
        let (k, cursor, limit) = pulls[i];
        assert_eq!(
            t.await.unwrap(),
            expected[i],
            "pull {i}: {} from {cursor}, limit {limit:?}",
            people[k].user.username
        );
    }

    let log = server.log();
    let largest = log
        .lines()
        .filter(|l| l.contains("pulls answered together"))
        .filter_map(|l| l.split("pulls=").nth(1)?.split_whitespace().next()?.parse::<usize>().ok())
        .max()
        .unwrap_or(0);
    eprintln!("{} pulls, the largest group {largest}", pulls.len());
    assert!(largest >= 10, "the waiting pulls were not answered together (largest group {largest}):\n{log}");
}

/// Rows of `findings` that a plan's nodes read: those they returned and those their filters dropped.
fn findings_rows_read(node: &Value) -> f64 {
    let here = if node["Relation Name"] == "findings" {
        let loops = node["Actual Loops"].as_f64().unwrap_or(1.0);
        let rows = node["Actual Rows"].as_f64().unwrap_or(0.0) + node["Rows Removed by Filter"].as_f64().unwrap_or(0.0);
        rows * loops
    } else {
        0.0
    };
    let below: f64 = node["Plans"].as_array().map_or(0.0, |ps| ps.iter().map(findings_rows_read).sum());
    here + below
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_pull_reads_a_few_rows_also_with_statistics_and_a_generic_plan() {
    let db = TestDb::create().await;
    let server = Server::seeded_on_postgres(db.url.expose(), "server.log");
    let mut inspector = login(&server, "inspector1-1").await;
    push_findings(&mut inspector, 2000).await;
    let leader = login(&server, "leader2").await;
    push_findings(&mut login(&server, "inspector2-1").await, 3).await;

    let pg = db.connect().await;
    // What autovacuum does on a real server soon after such an ingest.
    pg.batch_execute("VACUUM (ANALYZE)").await.unwrap();
    let held: i64 = pg.query_one("SELECT count(*) FROM findings", &[]).await.unwrap().get(0);
    let page = leader.pull_page(0, None).await;
    let cursor = page.changes[page.changes.len() - 4].server_seq;
    // The page the server answers from `cursor`: the team's last three findings.
    assert_eq!(leader.pull_page(cursor, None).await.changes.len(), 3);

    // The plan the server's connections use after five runs: planned once, without the values.
    pg.batch_execute("SET plan_cache_mode = force_generic_plan").await.unwrap();
    pg.batch_execute(&format!("PREPARE pull({PULL_TYPES}) AS {PULL_SQL}")).await.unwrap();
    let (user, team) = (leader.user.id.0, leader.user.team.unwrap().id.0);
    let args = format!(
        "ARRAY[1], ARRAY['{user}'::uuid], ARRAY['{team}'::uuid], ARRAY[{cursor}::int8], '{{}}', '{{}}', '{{}}', '{{}}', \
         '{{}}', 501, ARRAY[501::int8]"
    );
    let explain = format!("EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE pull({args})");
    // The text protocol, which hands back the JSON plan as text.
    let text = pg.simple_query(&explain).await.unwrap().into_iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
        _ => None,
    });
    let json: Value = serde_json::from_str(&text.expect("a plan")).unwrap();
    let plan = &json[0]["Plan"];
    let read = findings_rows_read(plan);
    eprintln!("findings held {held}; rows of findings the generic plan read for a page of 3: {read}");
    assert!(
        read <= 20.0,
        "a page of 3 read {read} rows of findings out of {held}: the plan reads the history, not the page\n{json:#}"
    );
}
