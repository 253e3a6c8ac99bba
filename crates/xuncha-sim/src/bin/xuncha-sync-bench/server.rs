//! The real `xuncha-server` process under test, one per backend: seeded with the demo world, serving on
//! 127.0.0.1:0, stopped (stdin closed, then killed if it lingers) on drop. Also the throw-away PostgreSQL
//! databases the bench creates and drops.

use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use xuncha_sim::server_view::DEMO_PASSWORD;

/// Trainees per load-test team (`xuncha-server seed-fleet`): with the leader, six phones per team.
pub const FLEET_INSPECTORS: usize = 5;

/// The account of load-test member `k` of team `t` (both 1-based; member 0 is the leader), as
/// `xuncha-server seed-fleet` names them.
pub fn fleet_user(t: usize, k: usize) -> String {
    if k == 0 {
        format!("fleet{t}-leader")
    } else {
        format!("fleet{t}-{k}")
    }
}

/// Which database a server runs on.
#[derive(Debug, Clone)]
pub enum Db {
    /// A SQLite file in the server's temp folder.
    Sqlite,
    /// A PostgreSQL database (already created) at this URL.
    Postgres(String),
}

impl Db {
    pub fn label(&self) -> &'static str {
        match self {
            Db::Sqlite => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }
}

pub struct Server {
    pub dir: TempDir,
    pub url: String,
    pub db: Db,
    child: Option<(Child, ChildStdin)>,
}

impl Server {
    /// Links (or copies) the binary into a fresh temp folder, so a colleague rebuilding
    /// `target/release/xuncha-server` during the run cannot change it under us; seeds the demo world and
    /// `fleet_teams` load-test teams of a leader and five trainees (`seed-fleet`); starts.
    pub fn start(bin: &Path, db: Db, demo_photo: &Path, log_level: &str, fleet_teams: usize) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("xuncha-sync-bench-").tempdir().context("temp folder")?;
        let own_bin = dir.path().join("xuncha-server");
        if std::fs::hard_link(bin, &own_bin).is_err() {
            std::fs::copy(bin, &own_bin).with_context(|| format!("copying {}", bin.display()))?;
        }
        // One demo photo only: every demo finding then shows the same photo, so a leader's first sync
        // downloads one photo, and the pull is what gets measured.
        let photos = dir.path().join("demo-photos");
        std::fs::create_dir_all(&photos)?;
        let name = demo_photo.file_name().context("demo photo has no file name")?;
        std::fs::copy(demo_photo, photos.join(name)).with_context(|| format!("copying {}", demo_photo.display()))?;
        let mut me = Self { dir, url: String::new(), db, child: None };
        let out = Command::new(&own_bin)
            .args(["seed-demo", "--date", "2026-11-20"])
            .args(me.storage_args())
            .arg("--demo-photos")
            .arg(&photos)
            .env("XUNCHA_LOG", "warn")
            .output()
            .context("running seed-demo")?;
        if !out.status.success() {
            bail!("seed-demo failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let out = Command::new(&own_bin)
            .args(["seed-fleet", "--teams", &fleet_teams.to_string(), "--inspectors", &FLEET_INSPECTORS.to_string()])
            .args(me.db_args())
            .env("XUNCHA_NEW_PASSWORD", DEMO_PASSWORD)
            .env("XUNCHA_LOG", "warn")
            .output()
            .context("running seed-fleet")?;
        if !out.status.success() {
            bail!("seed-fleet failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let log = std::fs::File::create(me.dir.path().join("server.log"))?;
        let mut child = Command::new(&own_bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--stop-on-stdin-close"])
            .args(me.storage_args())
            .env("XUNCHA_LOG", log_level)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .context("starting xuncha-server")?;
        let stdin = child.stdin.take().context("server stdin")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("server stdout")?).read_line(&mut line)?;
        match line.trim().strip_prefix("listening on ") {
            Some(url) => me.url = url.to_string(),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("server did not start: {line:?}; log:\n{}", me.log());
            }
        }
        me.child = Some((child, stdin));
        Ok(me)
    }

    fn db_args(&self) -> Vec<OsString> {
        match &self.db {
            Db::Sqlite => vec!["--db".into(), self.sqlite_path().into()],
            Db::Postgres(url) => vec!["--database-url".into(), url.into()],
        }
    }

    fn storage_args(&self) -> Vec<OsString> {
        let mut v = self.db_args();
        v.push("--blobs".into());
        v.push(self.blobs().into());
        v
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.dir.path().join("server.sqlite3")
    }

    pub fn blobs(&self) -> PathBuf {
        self.dir.path().join("blobs")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|(child, _)| child.id())
    }

    /// CPU seconds the server process has used so far (Linux; `None` elsewhere or once stopped).
    pub fn cpu_seconds(&self) -> Option<f64> {
        crate::devices::cpu_seconds(&self.pid()?.to_string())
    }

    /// CPU seconds PostgreSQL's processes on this machine have used so far (Linux; `None` for SQLite, which
    /// runs inside the server and is counted with it). Read before and after a burst while the server's
    /// pool keeps its backends alive, the difference is the database's share of the burst.
    pub fn database_cpu_seconds(&self) -> Option<f64> {
        match self.db {
            Db::Sqlite => None,
            Db::Postgres(_) => {
                let procs = std::fs::read_dir("/proc").ok()?.flatten();
                let pids = procs.filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok());
                let postgres = pids.filter(|pid| {
                    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres")
                });
                Some(postgres.filter_map(|pid| crate::devices::cpu_seconds(&pid.to_string())).sum())
            }
        }
    }

    /// Closes stdin (the server shuts down gracefully), kills it after 10 s.
    pub fn stop(&mut self) {
        if let Some((mut child, stdin)) = self.child.take() {
            drop(stdin);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The URL of database `name` on the server of `admin_url` (same user, host and port).
pub fn pg_url_for(admin_url: &str, name: &str) -> Result<String> {
    let mut u = reqwest::Url::parse(admin_url).context("PostgreSQL URL")?;
    u.set_path(&format!("/{name}"));
    Ok(u.to_string())
}

pub async fn pg_connect(url: &str) -> Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "postgres connection ended");
        }
    });
    Ok(client)
}

/// A database created for this run; [`PgDb::drop_db`] removes it (call it also after a failure).
pub struct PgDb {
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl PgDb {
    pub async fn create(admin_url: &str, purpose: &str) -> Result<Self> {
        let name = format!("xuncha_bench_{purpose}_{}_{}", std::process::id(), rand::random::<u32>());
        let admin = pg_connect(admin_url).await.context("connecting to PostgreSQL")?;
        admin.batch_execute(&format!("CREATE DATABASE {name}")).await.context("CREATE DATABASE")?;
        Ok(Self { admin_url: admin_url.to_string(), url: pg_url_for(admin_url, &name)?, name })
    }

    /// Drops the databases of earlier runs of this bench that were killed before they could drop their own
    /// (Ctrl-C, a crash): their names hold the pid of the run, and no process of that pid exists any more.
    /// A growth run leaves a gigabyte behind. Returns the names dropped.
    pub async fn drop_abandoned(admin_url: &str) -> Result<Vec<String>> {
        let admin = pg_connect(admin_url).await.context("connecting to PostgreSQL")?;
        let rows = admin.query("SELECT datname FROM pg_database WHERE datname LIKE 'xuncha\\_bench\\_%'", &[]).await?;
        let mut dropped = Vec::new();
        for r in rows {
            let name: String = r.get(0);
            // xuncha_bench_{purpose}_{pid}_{random}
            let pid = name.rsplit('_').nth(1).and_then(|p| p.parse::<u32>().ok());
            let Some(pid) = pid else { continue };
            if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
                continue;
            }
            admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
            dropped.push(name);
        }
        Ok(dropped)
    }

    pub async fn drop_db(&self) -> Result<()> {
        let admin = pg_connect(&self.admin_url).await?;
        // WITH (FORCE): a server that did not stop in time must not keep the database alive.
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).await?;
        Ok(())
    }
}
