//! A fresh PostgreSQL database per test on the local server (127.0.0.1:5432, user postgres, trust auth,
//! database `test`), dropped when the guard drops, also when the test panics. No PostgreSQL is a failure
//! with directions, never a silent skip.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use tokio_postgres::NoTls;
use xuncha_server::config::DatabaseUrl;

pub const HOST_PORT: &str = "127.0.0.1:5432";
const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database `xuncha_test_<pid>_<uuid>` that exists for the guard's lifetime.
pub struct TestDb {
    pub name: String,
    pub url: DatabaseUrl,
}

async fn admin() -> tokio_postgres::Client {
    match tokio_postgres::connect(ADMIN_URL, NoTls).await {
        Ok((client, conn)) => {
            tokio::spawn(conn);
            client
        }
        Err(e) => panic!(
            "no PostgreSQL answers at {HOST_PORT} as user postgres, database test ({e}). \
             The PostgreSQL tests need it: run scripts/setup.sh (it installs and starts PostgreSQL), then retry."
        ),
    }
}

/// Drops, once per test process, the databases of earlier test processes that were killed before their
/// guards could drop them (a timed-out CI job, Ctrl-C): their names hold a pid no process has any more.
async fn drop_abandoned(client: &tokio_postgres::Client) {
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, Ordering::SeqCst) {
        return;
    }
    let rows = client
        .query("SELECT datname FROM pg_database WHERE datname LIKE 'xuncha\\_test\\_%'", &[])
        .await
        .expect("list test databases");
    for row in rows {
        let name: String = row.get(0);
        let pid = name.strip_prefix("xuncha_test_").and_then(|rest| rest.split('_').next()?.parse::<u32>().ok());
        let Some(pid) = pid else { continue };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let dropped = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
            eprintln!("dropped {name}, left by a killed test process: {dropped:?}");
        }
    }
}

impl TestDb {
    pub async fn create() -> TestDb {
        let client = admin().await;
        drop_abandoned(&client).await;
        let name = format!("xuncha_test_{}_{}", std::process::id(), uuid::Uuid::now_v7().simple());
        client.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("CREATE DATABASE");
        let url = DatabaseUrl::parse(&format!("postgres://postgres@{HOST_PORT}/{name}")).unwrap();
        TestDb { name, url }
    }

    /// A plain connection to this database (for checks the trait does not offer).
    pub async fn connect(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(self.url.expose(), NoTls).await.expect("connect to the test db");
        tokio::spawn(conn);
        client
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Its own thread and runtime: drop may run inside a runtime, or while unwinding from a panic.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let (client, conn) = tokio_postgres::connect(ADMIN_URL, NoTls).await?;
                tokio::spawn(conn);
                // FORCE ends the connections a store's pool or a server process still holds.
                client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {dropped:?}", self.name);
        }
    }
}
