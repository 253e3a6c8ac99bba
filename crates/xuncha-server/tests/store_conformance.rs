//! The storage conformance stories (`conformance/`) on both backends: `sqlite::*` on a temp file,
//! `postgres::*` each on its own fresh database at 127.0.0.1:5432. Then what only PostgreSQL needs: the
//! migrations, several processes opening one database at once, and the pull cursor under 8 concurrent
//! writers (every committed finding seen exactly once).

mod conformance;
mod pgtest;

use conformance::Opened;
use std::sync::Arc;
use xuncha_server::apply::Rules;
use xuncha_server::store::{PostgresStore, SqliteStore};

mod sqlite {
    use super::*;

    async fn open() -> Opened {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.sqlite3"), Arc::new(Rules::builtin())).await.unwrap();
        Opened { store: Arc::new(store), keep: Box::new(dir) }
    }

    stories!(open);
}

mod postgres {
    use super::*;
    use crate::conformance::{create, world};
    use chrono::Utc;
    use pgtest::TestDb;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};
    use xuncha_domain::{DeviceId, FindingId};
    use xuncha_proto::OpOutcome;
    use xuncha_server::store::postgres::{migrations, run_migrations, Migration};
    use xuncha_server::store::ServerStore;

    async fn open() -> Opened {
        let db = TestDb::create().await;
        let store = PostgresStore::open(&db.url, Arc::new(Rules::builtin())).await.unwrap();
        Opened { store: Arc::new(store), keep: Box::new(db) }
    }

    stories!(open);

    #[tokio::test]
    async fn migrations_run_once_in_a_transaction_and_a_newer_schema_is_refused() {
        let db = TestDb::create().await;
        let mut c = db.connect().await;
        assert_eq!(run_migrations(&mut c, migrations()).await.unwrap(), migrations().len());
        assert_eq!(run_migrations(&mut c, migrations()).await.unwrap(), 0, "already up to date");
        let versions: Vec<i32> = c
            .query("SELECT version FROM schema_migrations ORDER BY version", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(versions, migrations().iter().map(|m| m.version).collect::<Vec<_>>());

        // A failing step leaves nothing behind: not its first statement, not its row.
        let broken = Migration {
            version: 1000,
            name: "broken",
            sql: "CREATE TABLE half_done (x int); SELECT * FROM no_such_table;",
        };
        let steps: Vec<Migration> = migrations().iter().copied().chain([broken]).collect();
        let e = run_migrations(&mut c, &steps).await.unwrap_err();
        assert!(e.to_string().contains("migration 1000 (broken) failed"), "{e}");
        let half: Option<String> = c.query_one("SELECT to_regclass('half_done')::text", &[]).await.unwrap().get(0);
        assert_eq!(half, None);
        let max: i32 = c.query_one("SELECT MAX(version) FROM schema_migrations", &[]).await.unwrap().get(0);
        assert_eq!(max, migrations().last().unwrap().version);

        // A database migrated by a newer server is refused, not used.
        let newer = Migration { version: 1001, name: "newer", sql: "SELECT 1" };
        let steps: Vec<Migration> = migrations().iter().copied().chain([newer]).collect();
        run_migrations(&mut c, &steps).await.unwrap();
        let e = PostgresStore::open(&db.url, Arc::new(Rules::builtin())).await.unwrap_err();
        assert!(e.to_string().contains("newer than this server"), "{e}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn several_processes_open_one_database_at_once_and_share_its_server_id() {
        let db = TestDb::create().await;
        let opens: Vec<_> = (0..4)
            .map(|_| {
                let url = db.url.clone();
                tokio::spawn(async move { PostgresStore::open(&url, Arc::new(Rules::builtin())).await })
            })
            .collect();
        let mut ids = Vec::new();
        for o in opens {
            ids.push(o.await.unwrap().unwrap().server_id().await.unwrap());
        }
        assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
        let c = db.connect().await;
        let n: i64 = c.query_one("SELECT COUNT(*) FROM schema_migrations", &[]).await.unwrap().get(0);
        assert_eq!(n as usize, migrations().len());
    }

    /// 8 writers (each push on its own pool connection) create findings while a reader pulls from its
    /// cursor in a loop. Every committed finding must reach the reader exactly once: with a plain
    /// SEQUENCE for server_seq a slower writer's lower number commits after the reader moved past it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_cursor_sees_every_committed_finding_exactly_once_under_8_concurrent_writers() {
        const WRITERS: usize = 8;
        const PER_WRITER: u64 = 75;
        let db = TestDb::create().await;
        let store: Arc<dyn ServerStore> =
            Arc::new(PostgresStore::open(&db.url, Arc::new(Rules::builtin())).await.unwrap());
        let w = Arc::new(world(store).await);
        let done = Arc::new(AtomicBool::new(false));
        let started = Instant::now();

        let writers: Vec<_> = (0..WRITERS)
            .map(|i| {
                let w = w.clone();
                tokio::spawn(async move {
                    let who = [0, 1, 2, 3][i % 4];
                    let dev = DeviceId::new_v7();
                    let mut committed = Vec::new();
                    for seq in 1..=PER_WRITER {
                        let c = create(seq);
                        let r = w.store.push(&w.people[who], dev, vec![c.clone()], Utc::now()).await.unwrap();
                        assert_eq!(r[0].outcome, OpOutcome::Applied { version: 1, replayed: false, conflicts: vec![] });
                        committed.push(c.finding_id);
                    }
                    committed
                })
            })
            .collect();

        let reader = {
            let (w, done) = (w.clone(), done.clone());
            tokio::spawn(async move {
                let admin = &w.people[6];
                let (mut cursor, mut seen, mut pulls) = (0u64, HashMap::<FindingId, u32>::new(), 0u32);
                loop {
                    // Read the flag first: a pull that starts after every writer finished sees everything.
                    let finished = done.load(Ordering::SeqCst);
                    let page = w.store.pull(admin, cursor, 20).await.unwrap();
                    pulls += 1;
                    for r in &page.changes {
                        *seen.entry(r.finding.id).or_default() += 1;
                    }
                    cursor = page.cursor;
                    if finished && page.changes.is_empty() {
                        return (seen, pulls);
                    }
                    if page.changes.is_empty() {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            })
        };

        let mut committed = Vec::new();
        for t in writers {
            committed.extend(t.await.unwrap());
        }
        done.store(true, Ordering::SeqCst);
        let (seen, pulls) = reader.await.unwrap();
        let elapsed = started.elapsed();

        let missed = committed.iter().filter(|id| !seen.contains_key(id)).count();
        let repeated = seen.values().filter(|n| **n > 1).count();
        let unknown = seen.keys().filter(|id| !committed.contains(id)).count();
        let full = w.store.pull(&w.people[6], 0, 10_000).await.unwrap().changes.len();
        println!(
            "cursor completeness (PostgreSQL): {WRITERS} writers x {PER_WRITER} creates = {} committed in {:.2?} \
             ({:.0} commits/s); reader: {pulls} incremental pulls, {} distinct seen, {missed} missed, {repeated} \
             repeated, {unknown} unknown; full pull from 0: {full}",
            committed.len(),
            elapsed,
            committed.len() as f64 / elapsed.as_secs_f64(),
            seen.len(),
        );
        assert_eq!(committed.len(), WRITERS * PER_WRITER as usize);
        assert_eq!(full, committed.len());
        assert_eq!((missed, repeated, unknown), (0, 0, 0), "the reader's cursor skipped or repeated findings");
    }
}
