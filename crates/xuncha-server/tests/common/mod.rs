//! Helpers for black-box tests: the real `xuncha-server` binary on a free port in a temp dir, and a
//! small protocol client. Reusable from other test files with `mod common;`.
#![allow(dead_code)]

use reqwest::StatusCode;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::OnceLock;
use tempfile::TempDir;
use xuncha_domain::finding::FindingFields;
use xuncha_domain::{CategoryCode, DeviceId, FindingId, GeoPoint, OpId, PhotoHash, Position, PositionSource, Severity};
use xuncha_proto::{
    paths, FindingRecord, LoginRequest, LoginResponse, OpBody, OpResult, Operation, PullResponse, PushRequest,
    PushResponse, UserProfile,
};

pub const BIN: &str = env!("CARGO_BIN_EXE_xuncha-server");
pub const PASSWORD: &str = "xuncha2026";

pub fn demo_photos_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/demo-photos")
}

/// A running server. Killed on drop; a server in a `static` stops when the test process exits because
/// it is started with `--stop-on-stdin-close` and this process holds its stdin.
pub struct Server {
    pub url: String,
    pub dir: TempDir,
    child: Child,
    _stdin: ChildStdin,
}

impl Server {
    pub fn db(&self) -> PathBuf {
        self.dir.path().join("server.sqlite3")
    }

    pub fn blobs(&self) -> PathBuf {
        self.dir.path().join("blobs")
    }

    /// A server on an empty database.
    pub fn fresh() -> Self {
        Self::start(tempfile::tempdir().unwrap())
    }

    /// A server on the demo world (seeded for a fixed date).
    pub fn seeded() -> Self {
        let dir = tempfile::tempdir().unwrap();
        seed(&dir, &Launch::default());
        Self::start(dir)
    }

    /// A server on the PostgreSQL database at `url`, in a fresh folder, logging to `log` there.
    pub fn on_postgres(url: &str, log: &str) -> Self {
        Self::launch(
            tempfile::tempdir().unwrap(),
            &Launch { database_url: Some(url), log: Some(log), ..Launch::default() },
        )
    }

    /// The demo world seeded into the PostgreSQL database at `url`, then a server on it, logging to `log`.
    pub fn seeded_on_postgres(url: &str, log: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        seed(&dir, &Launch { database_url: Some(url), log: Some("seed.log"), ..Launch::default() });
        Self::launch(dir, &Launch { database_url: Some(url), log: Some(log), ..Launch::default() })
    }

    /// One seeded server shared by the tests of a binary (seeding takes seconds in a debug build).
    /// Tests on it use their own users so they do not disturb each other.
    pub fn shared() -> &'static Server {
        static S: OnceLock<Server> = OnceLock::new();
        S.get_or_init(Server::seeded)
    }

    /// The server on the SQLite file and photo folder in `dir`, on a free port.
    pub fn start(dir: TempDir) -> Self {
        Self::launch(dir, &Launch::default())
    }

    /// The server on `dir` with explicit options (a fixed address, PostgreSQL, its own log file).
    pub fn launch(dir: TempDir, l: &Launch) -> Self {
        let log_path = dir.path().join(l.log.unwrap_or("server.log"));
        let stderr = std::fs::File::create(&log_path).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", l.listen.unwrap_or("127.0.0.1:0"), "--stop-on-stdin-close"]);
        storage_args(&mut cmd, dir.path(), l);
        if let Some(secs) = l.body_idle_secs {
            cmd.args(["--body-idle-secs", &secs.to_string()]);
        }
        let mut child = cmd
            .env("XUNCHA_LOG", l.log_level.unwrap_or("info"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start xuncha-server");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                panic!("unexpected first line {line:?}; server log:\n{log}")
            })
            .to_string();
        Server { url, dir, child, _stdin: stdin }
    }

    /// Stops the process and hands back its directory (to restart on the same data).
    pub fn stop(mut self) -> TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        cli(&self.dir, args)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How to start a server beyond the defaults (SQLite file and photo folder in its directory, a free port).
#[derive(Default)]
pub struct Launch<'a> {
    /// `IP:PORT`; default `127.0.0.1:0`.
    pub listen: Option<&'a str>,
    /// PostgreSQL instead of the SQLite file.
    pub database_url: Option<&'a str>,
    /// Log file name inside the directory; default `server.log`.
    pub log: Option<&'a str>,
    /// `--body-idle-secs`; default the server's own.
    pub body_idle_secs: Option<u64>,
    /// `XUNCHA_LOG`; default `info`.
    pub log_level: Option<&'a str>,
}

fn storage_args(cmd: &mut Command, dir: &Path, l: &Launch) {
    match l.database_url {
        Some(url) => cmd.env("XUNCHA_DATABASE_URL", url),
        None => cmd.arg("--db").arg(dir.join("server.sqlite3")),
    };
    cmd.arg("--blobs").arg(dir.join("blobs"));
}

/// Seeds the demo world (fixed date) into the storage `l` names in `dir`.
pub fn seed(dir: &TempDir, l: &Launch) {
    let mut cmd = Command::new(BIN);
    cmd.args(["seed-demo", "--date", "2026-11-20", "--demo-photos"]).arg(demo_photos_dir());
    storage_args(&mut cmd, dir.path(), l);
    let out = cmd.env("XUNCHA_LOG", "warn").output().unwrap();
    assert!(out.status.success(), "seed-demo failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Real camera photos with GPS (`shared/fixtures/photos/gps`), sorted by name.
pub fn gps_photos() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/photos/gps");
    let mut files: Vec<PathBuf> = std::fs::read_dir(root).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

/// What a phone's capture screen sends: a bin overflowing on 湖滨路, `i` steps apart, observed now (UTC+8).
pub fn phone_draft(description: String, i: usize, photos: Vec<PhotoHash>) -> xuncha_domain::FindingDraft {
    xuncha_testkit::bin_draft(description, i, photos, xuncha_testkit::now_in_china())
}

/// Runs a subcommand against the database and blob directory in `dir`.
pub fn cli(dir: &TempDir, args: &[&str]) -> Output {
    let (sub, rest) = args.split_first().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg(sub).arg("--db").arg(dir.path().join("server.sqlite3"));
    if matches!(*sub, "seed-demo") {
        cmd.arg("--blobs").arg(dir.path().join("blobs"));
    }
    cmd.args(rest).env("XUNCHA_LOG", "warn").output().unwrap()
}

pub fn url(server: &Server, path: &str) -> String {
    format!("{}{}", server.url, path)
}

/// A signed-in device.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
    pub device: DeviceId,
    pub seq: u64,
    pub user: UserProfile,
}

pub async fn try_login(server: &Server, username: &str, password: &str) -> reqwest::Response {
    let req = LoginRequest {
        username: username.into(),
        password: password.into(),
        device_id: DeviceId::new_v7(),
        device_name: "test phone".into(),
    };
    reqwest::Client::new().post(url(server, paths::LOGIN)).json(&req).send().await.unwrap()
}

pub async fn login(server: &Server, username: &str) -> Client {
    let device = DeviceId::new_v7();
    let req = LoginRequest {
        username: username.into(),
        password: PASSWORD.into(),
        device_id: device,
        device_name: "test".into(),
    };
    let http = reqwest::Client::new();
    let resp = http.post(url(server, paths::LOGIN)).json(&req).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "login {username}: {}", resp.text().await.unwrap());
    let body: LoginResponse = resp.json().await.unwrap();
    Client { http, base: server.url.clone(), token: body.token, device, seq: 0, user: body.user }
}

impl Client {
    pub fn op(&mut self, finding_id: FindingId, body: OpBody) -> Operation {
        self.seq += 1;
        Operation { op_id: OpId::new_v7(), device_seq: self.seq, finding_id, body }
    }

    pub async fn push_raw(&self, ops: &[Operation]) -> reqwest::Response {
        let req = PushRequest { device_id: self.device, ops: ops.to_vec() };
        self.http
            .post(format!("{}{}", self.base, paths::PUSH))
            .bearer_auth(&self.token)
            .json(&req)
            .send()
            .await
            .unwrap()
    }

    pub async fn push(&self, ops: &[Operation]) -> Vec<OpResult> {
        let resp = self.push_raw(ops).await;
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json::<PushResponse>().await.unwrap().results
    }

    pub async fn pull_page(&self, cursor: u64, limit: Option<u32>) -> PullResponse {
        let mut q = vec![("cursor", cursor.to_string())];
        if let Some(l) = limit {
            q.push(("limit", l.to_string()));
        }
        let resp = self
            .http
            .get(format!("{}{}", self.base, paths::PULL))
            .bearer_auth(&self.token)
            .query(&q)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.unwrap()
    }

    /// Every change in scope, following `has_more`.
    pub async fn pull_all(&self) -> Vec<FindingRecord> {
        let mut cursor = 0;
        let mut all = Vec::new();
        loop {
            let page = self.pull_page(cursor, Some(100)).await;
            all.extend(page.changes);
            cursor = page.cursor;
            if !page.has_more {
                return all;
            }
        }
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}{}", self.base, path)).bearer_auth(&self.token)
    }
}

/// Valid fields: a blocked fire lane at `point` (None: no position) with the given photos.
pub fn fields(point: Option<(f64, f64)>, photos: Vec<PhotoHash>) -> FindingFields {
    FindingFields {
        category: CategoryCode::try_from("fire_safety").unwrap(),
        subcategory: CategoryCode::try_from("blocked_fire_lane").unwrap(),
        description: "测试：消防通道被堵".to_string().try_into().unwrap(),
        address: "延安路与庆春路交叉口".into(),
        severity: Severity::High,
        position: point.map(|(lat, lon)| Position {
            point: GeoPoint::new(lat, lon).unwrap(),
            accuracy_m: Some(8.0.try_into().unwrap()),
            source: PositionSource::DeviceGps,
        }),
        photos,
        observed_at: "2026-11-20T09:30:00+08:00".parse().unwrap(),
    }
}

/// A point inside 湖滨街道 (team 1's sub-district).
pub const HUBIN: (f64, f64) = (30.27, 120.175);

pub fn sha256(bytes: &[u8]) -> PhotoHash {
    use sha2::{Digest, Sha256};
    PhotoHash::from_bytes(Sha256::digest(bytes).into())
}
