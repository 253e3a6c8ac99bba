//! Test support: the real `xuncha-server` binary (built by `cargo test -p xuncha-sim`, found next to
//! the test binary), seeded with the demo world, killable and restartable on the same port and data;
//! tiny generated JPEGs (unique per index) so photo faults stay fast.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;
use xuncha_device::EngineOptions;

/// …/target/debug/deps/<test> → …/target/debug/xuncha-server.
pub fn server_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let bin = exe.parent().and_then(Path::parent).expect("target dir").join("xuncha-server");
    assert!(bin.exists(), "{} is missing: run `cargo build -p xuncha-server` first", bin.display());
    bin
}

pub fn demo_photos_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/demo-photos")
}

/// Short timeouts so blackholes and dead servers cost seconds, not minutes.
pub fn fast_engine() -> EngineOptions {
    EngineOptions {
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(3),
        ..EngineOptions::default()
    }
}

pub struct ServerProc {
    pub dir: TempDir,
    /// A private link (or copy) of the binary: others rebuilding `target/debug/xuncha-server` while
    /// this test restarts its server must not pull it from under the test.
    bin: PathBuf,
    pub url: String,
    pub listen: String,
    child: Option<(Child, ChildStdin)>,
    pub starts: u32,
}

impl ServerProc {
    /// A fresh server on the demo world, on 127.0.0.1:0.
    pub fn seeded() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("xuncha-server");
        let orig = server_bin();
        if std::fs::hard_link(&orig, &bin).is_err() {
            std::fs::copy(&orig, &bin).expect("copy the server binary");
        }
        let out = Command::new(&bin)
            .args(["seed-demo", "--date", "2026-11-20", "--db"])
            .arg(dir.path().join("server.sqlite3"))
            .arg("--blobs")
            .arg(dir.path().join("blobs"))
            .arg("--demo-photos")
            .arg(demo_photos_dir())
            .env("XUNCHA_LOG", "warn")
            .output()
            .unwrap();
        assert!(out.status.success(), "seed-demo failed: {}", String::from_utf8_lossy(&out.stderr));
        let mut s = ServerProc { dir, bin, url: String::new(), listen: "127.0.0.1:0".into(), child: None, starts: 0 };
        s.start();
        s.listen = s.url.trim_start_matches("http://").to_string();
        s
    }

    /// Starts the process on `self.listen` (retrying while the port is still held).
    pub fn start(&mut self) {
        for attempt in 0..50 {
            let log =
                std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("server.log")).unwrap();
            let mut child = Command::new(&self.bin)
                .args(["serve", "--listen", &self.listen, "--stop-on-stdin-close", "--db"])
                .arg(self.dir.path().join("server.sqlite3"))
                .arg("--blobs")
                .arg(self.dir.path().join("blobs"))
                .env("XUNCHA_LOG", "info")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(log)
                .spawn()
                .expect("start xuncha-server");
            let stdin = child.stdin.take().unwrap();
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
            if let Some(url) = line.trim().strip_prefix("listening on ") {
                self.url = url.to_string();
                self.child = Some((child, stdin));
                self.starts += 1;
                return;
            }
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(50 + attempt * 10));
        }
        panic!("server did not start on {}; log:\n{}", self.listen, self.log());
    }

    /// SIGKILL (no clean shutdown).
    pub fn kill(&mut self) {
        if let Some((mut c, _)) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A small JPEG (64×48), different for every `i`, so each has its own hash.
pub fn tiny_jpeg(i: u64) -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        let v = i.wrapping_mul(2654435761).wrapping_add((x * 7 + y * 13) as u64);
        image::Rgb([(v & 0xff) as u8, ((v >> 8) & 0xff) as u8, ((x + y) as u64 ^ (i >> 3)) as u8])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(&img).unwrap();
    out
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}
