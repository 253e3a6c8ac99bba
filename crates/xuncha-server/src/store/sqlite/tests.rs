//! SQLite-only checks. What every backend must do (accounts, push, pull scope, paging, photos) is in the
//! conformance stories, `tests/conformance/`, run on SQLite and PostgreSQL by `tests/store_conformance.rs`.

use super::*;

#[test]
fn migrations_are_valid() {
    migrations().validate().unwrap();
}

#[tokio::test]
async fn reopening_keeps_the_server_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sqlite3");
    let first = SqliteStore::open(&path, Arc::new(Rules::builtin())).await.unwrap().server_id().await.unwrap();
    let again = SqliteStore::open(&path, Arc::new(Rules::builtin())).await.unwrap().server_id().await.unwrap();
    assert_eq!(first, again);
}

/// A pull reads its scope's own indexes from the cursor, whatever statistics SQLite holds: its cost follows
/// the changes in scope, not the history. Written as `server_seq > ? AND (a OR b)`, with the statistics of
/// an `ANALYZE` of a district of eight teams SQLite walked the `server_seq` index from the cursor through
/// every other team's changes.
#[tokio::test]
async fn a_pull_reads_its_scope_by_index_even_after_analyze() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sqlite3");
    drop(SqliteStore::open(&path, Arc::new(Rules::builtin())).await.unwrap());
    let c = Connection::open(&path).unwrap();
    c.execute_batch(
        "PRAGMA foreign_keys = OFF;
         WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < 39)
         INSERT INTO users SELECT 'a' || n, 'u' || n, 'u', 'inspector', 't' || (n % 8), NULL, 'x', 'x' FROM g;
         WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < 7)
         INSERT INTO teams SELECT 't' || n, 't' || n, 'd' || (n % 2), NULL FROM g;
         WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 200000)
         INSERT INTO findings SELECT 'f' || n, 'a' || (n % 40), 't' || (n % 8), 'd' || (n % 2), NULL, 'reported',
                                     '{}', 1, n, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z' FROM g;
         ANALYZE;
         DROP TABLE sqlite_stat4;",
    )
    .unwrap();
    // The statistics an operator's `sqlite3 xuncha.sqlite3 ANALYZE` leaves with Debian's SQLite (built
    // without STAT4: only `sqlite_stat1`), read afresh.
    drop(c);
    let c = Connection::open(&path).unwrap();
    let principal = |role| Principal {
        user: UserId(Uuid::now_v7()),
        role,
        team: Some(TeamId(Uuid::now_v7())),
        district: Some(DistrictId(Uuid::now_v7())),
    };
    for (role, indexes) in [
        (Role::Inspector, vec!["findings_by_author", "findings_by_team"]),
        (Role::TeamLeader, vec!["findings_by_author", "findings_by_team"]),
        (Role::DistrictOffice, vec!["findings_by_district"]),
    ] {
        let (sql, _) = pull_sql(&principal(role));
        let mut explain = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let nulls = vec![rusqlite::types::Value::Null; explain.parameter_count()];
        let plan: Vec<String> = explain
            .query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let ranges: Vec<&String> = plan.iter().filter(|l| l.contains("server_seq>?")).collect();
        assert_eq!(ranges.len(), indexes.len(), "{role:?}: {plan:#?}");
        for (line, index) in ranges.iter().zip(&indexes) {
            assert!(line.contains(index) && line.contains("=? AND server_seq>?"), "{role:?} reads {line}: {plan:#?}");
        }
    }
}
