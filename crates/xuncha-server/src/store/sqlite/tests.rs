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
