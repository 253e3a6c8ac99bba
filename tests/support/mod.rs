//! Harness for the end-to-end tests: the server binary, Xvfb, tauri-driver and a WebDriver session on
//! the real app binary, each a real process killed on drop.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use thirtyfour::prelude::*;

/// A child process that is killed when the test ends, pass or fail.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> PathBuf {
    repo().join("../shared/fixtures/photos").join(rel).canonicalize().expect("shared photo fixtures beside the repo")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn require(tool: &str) -> PathBuf {
    which(tool).unwrap_or_else(|| panic!("{tool} is not installed: run scripts/setup.sh"))
}

fn which(tool: &str) -> Option<PathBuf> {
    let home_cargo = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin"));
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(home_cargo)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// The real `xuncha-server` binary on 127.0.0.1:0 with the demo world in a temporary folder.
pub struct Server {
    pub url: String,
    _proc: Proc,
    _dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl Server {
    pub async fn start_seeded() -> Self {
        let bin = Path::new(env!("CARGO_BIN_EXE_xuncha")).with_file_name("xuncha-server");
        assert!(bin.is_file(), "{} missing: run `cargo build -p xuncha-server` (scripts/test.sh does)", bin.display());
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("server.sqlite3");
        let blobs = dir.path().join("blobs");
        let status = Command::new(&bin)
            .args(["seed-demo", "--db"])
            .arg(&db)
            .arg("--blobs")
            .arg(&blobs)
            .arg("--demo-photos")
            .arg(repo().join("assets/demo-photos"))
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "seed-demo failed");
        let mut child = Command::new(&bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(&db)
            .arg("--blobs")
            .arg(&blobs)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url =
            line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected: {line:?}")).to_string();
        Server { url, _proc: Proc(child), _dir: dir, http: reqwest::Client::new() }
    }

    pub async fn token(&self, user: &str, password: &str) -> String {
        let body = serde_json::json!({
            "username": user, "password": password,
            "device_id": uuid::Uuid::now_v7(), "device_name": "e2e-check"
        });
        let r: serde_json::Value = self
            .http
            .post(format!("{}/api/v1/auth/login", self.url))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["token"].as_str().unwrap_or_else(|| panic!("login failed: {r}")).to_string()
    }

    /// Pulls the user's whole scope until the finding appears, or panics after `timeout`.
    pub async fn wait_for_finding(&self, user: &str, password: &str, id: &str, timeout: Duration) -> serde_json::Value {
        let token = self.token(user, password).await;
        let start = Instant::now();
        loop {
            let mut cursor = 0u64;
            loop {
                let page: serde_json::Value = self
                    .http
                    .get(format!("{}/api/v1/sync/pull", self.url))
                    .query(&[("cursor", cursor.to_string()), ("limit", "500".into())])
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                if let Some(r) = page["changes"].as_array().unwrap().iter().find(|r| r["finding"]["id"] == id) {
                    return r.clone();
                }
                cursor = page["cursor"].as_u64().unwrap();
                if !page["has_more"].as_bool().unwrap() {
                    break;
                }
            }
            assert!(start.elapsed() < timeout, "finding {id} never reached the server for {user}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    pub async fn photo(&self, user: &str, password: &str, hash: &str) -> Vec<u8> {
        let token = self.token(user, password).await;
        let r = self.http.get(format!("{}/api/v1/photos/{hash}", self.url)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200, "photo {hash}");
        r.bytes().await.unwrap().to_vec()
    }
}

/// Xvfb + tauri-driver + a WebDriver session on the real app binary with its own data folder.
pub struct App {
    pub driver: WebDriver,
    _driver_proc: Proc,
    _xvfb: Proc,
    _data: tempfile::TempDir,
}

impl App {
    pub async fn launch() -> Self {
        let (xvfb, display) = start_xvfb();
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        let native_port = free_port();
        let driver_proc = Command::new(require("tauri-driver"))
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .env("DISPLAY", &display)
            .env("XUNCHA_DATA_DIR", data.path())
            .env_remove("XUNCHA_AUTOLOGIN")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let driver_proc = Proc(driver_proc);
        wait_port(port, Duration::from_secs(20));
        let mut caps = Capabilities::new();
        caps.set("browserName", "wry").unwrap();
        caps.set("tauri:options", serde_json::json!({ "application": env!("CARGO_BIN_EXE_xuncha") })).unwrap();
        // tauri-driver listens at once but starts WebKitWebDriver in the background, and drops a session
        // request that comes before it is up: on a new machine, with WebKit not yet in the page cache, the
        // first request did (a CI run, 2026-12-01). Asked again until it answers; a real error still fails.
        let start = Instant::now();
        let driver = loop {
            match WebDriver::new(format!("http://127.0.0.1:{port}"), caps.clone()).await {
                Ok(driver) => break driver,
                Err(e)
                    if matches!(&*e, thirtyfour::error::WebDriverErrorInner::HttpError(_))
                        && start.elapsed() < Duration::from_secs(60) =>
                {
                    eprintln!("tauri-driver not ready yet ({e}); asking again");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => panic!("WebDriver session on the app: {e:?}"),
            }
        };
        App { driver, _driver_proc: driver_proc, _xvfb: xvfb, _data: data }
    }

    pub async fn wait(&self, testid: &str, timeout: Duration) -> WebElement {
        let by = By::Css(format!("[data-testid='{testid}']"));
        let start = Instant::now();
        loop {
            if let Ok(e) = self.driver.find(by.clone()).await {
                if e.is_displayed().await.unwrap_or(false) || testid == "photo-input" {
                    return e;
                }
            }
            if start.elapsed() > timeout {
                self.screenshot(&format!("timeout-{testid}")).await;
                panic!("[data-testid={testid}] did not appear within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn wait_text(&self, testid: &str, timeout: Duration) -> String {
        self.wait_text_matching(testid, timeout, |t| !t.trim().is_empty()).await
    }

    pub async fn wait_text_matching(&self, testid: &str, timeout: Duration, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let text = self.wait(testid, timeout).await.text().await.unwrap_or_default();
            if ok(&text) {
                return text;
            }
            if start.elapsed() > timeout {
                self.screenshot(&format!("timeout-text-{testid}")).await;
                panic!("[data-testid={testid}] never had the expected text; last: {text:?}");
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// The list item (`finding-item`) whose text contains `needle` (matched on `textContent` in the page,
    /// which does not depend on how the driver renders wrapped lines).
    pub async fn wait_item_containing(&self, needle: &str, timeout: Duration) -> WebElement {
        const FIND: &str = "const el = [...document.querySelectorAll(\"[data-testid='finding-item']\")]\
            .find(e => e.textContent.includes(arguments[0])); return el ? el.dataset.id : null;";
        let start = Instant::now();
        loop {
            let id = self
                .driver
                .execute(FIND, vec![serde_json::json!(needle)])
                .await
                .ok()
                .and_then(|r| r.json().as_str().map(String::from));
            if let Some(id) = id {
                if let Ok(e) = self.driver.find(By::Css(format!("[data-testid='finding-item'][data-id='{id}']"))).await
                {
                    return e;
                }
            }
            if start.elapsed() > timeout {
                self.screenshot("timeout-item").await;
                panic!("no finding-item contains {needle:?} within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    pub async fn click(&self, testid: &str) {
        self.wait(testid, Duration::from_secs(15)).await.click().await.unwrap();
    }

    pub async fn fill(&self, testid: &str, text: &str) {
        let e = self.wait(testid, Duration::from_secs(15)).await;
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    pub async fn screenshot(&self, name: &str) {
        let dir = repo().join("target/e2e-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let _ = self.driver.screenshot(&dir.join(format!("{name}.png"))).await;
    }

    pub async fn quit(self) {
        let App { driver, .. } = self;
        let _ = driver.quit().await;
    }
}

fn start_xvfb() -> (Proc, String) {
    let xvfb = require("Xvfb");
    for n in 90..140 {
        if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() || Path::new(&format!("/tmp/.X{n}-lock")).exists() {
            continue;
        }
        // Owned at once: an Xvfb that never comes up is killed before the next display is tried.
        let child = Proc(
            Command::new(&xvfb)
                .args([&format!(":{n}"), "-screen", "0", "1280x900x24", "-nolisten", "tcp"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                return (child, format!(":{n}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    panic!("could not start Xvfb");
}

fn wait_port(port: u16, timeout: Duration) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < timeout, "tauri-driver did not listen on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
