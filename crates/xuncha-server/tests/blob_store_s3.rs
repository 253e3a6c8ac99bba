//! The photo stores behind `BlobStore`, held to one behaviour: each check is a function over
//! `&dyn BlobStore`, run on the filesystem store and on the S3 store against a real S3-compatible server
//! (s3s-fs, installed by `scripts/install-s3-server.sh`) started as a process on 127.0.0.1 with a temp
//! directory. Plus what only S3 has (a damaged object is refused, an unreachable store fails within bounds)
//! and the real `xuncha-server serve --s3` taking photos over HTTP.
//!
//! Without s3s-fs the S3 tests fail with a message saying how to install it: a silently skipped test would
//! let the S3 backend rot unnoticed.

mod common;

use xuncha_testkit::fake_jpeg as photo;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};
use reqwest::StatusCode;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use xuncha_domain::{DeviceId, PhotoHash, UserId};
use xuncha_proto::upload::{OFFSET_OCTET_STREAM, UPLOAD_LENGTH, UPLOAD_OFFSET};
use xuncha_proto::{paths, LoginRequest, LoginResponse};
use xuncha_server::blobs::{hash_of, BlobStore, Finished, FsBlobStore, OpenPartial, PartialUpload, Stored};
use xuncha_server::blobs_s3::{S3BlobStore, S3Credentials, SPOOL_DIR, WORST_CASE};
use xuncha_server::config::S3Location;

const BUCKET: &str = "xuncha-test";
const PREFIX: &str = "site-a";
// Test-only keys for a throwaway server.
const ACCESS_KEY: &str = "xuncha-test-access";
const SECRET_KEY: &str = "xuncha-test-secret-key-0123456789";

// ---------------------------------------------------------------------------------------------------
// The S3 server

/// `s3s-fs`: `$XUNCHA_S3S_FS`, else on PATH, else in ~/.cargo/bin. Panics with the fix when missing.
fn s3s_fs_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("XUNCHA_S3S_FS") {
        return PathBuf::from(p);
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|d| d.join("s3s-fs")).collect::<Vec<_>>())
        .unwrap_or_default();
    let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/s3s-fs"));
    on_path.into_iter().chain(home).find(|p| p.is_file()).unwrap_or_else(|| {
        panic!(
            "s3s-fs (the S3-compatible server these tests run against) is not installed: \
             run scripts/install-s3-server.sh (or set XUNCHA_S3S_FS to its path)"
        )
    })
}

/// A running s3s-fs over a temp directory with one bucket. Killed on drop.
struct S3Server {
    endpoint: String,
    dir: TempDir,
    child: Child,
}

impl S3Server {
    fn start() -> Self {
        let bin = s3s_fs_binary();
        let dir = tempfile::tempdir().unwrap();
        // s3s-fs serves each directory under its root as a bucket: making one is creating the bucket.
        std::fs::create_dir(dir.path().join(BUCKET)).unwrap();
        // A free port: bind :0, read it, let go. Another process could take it in between; unlikely on a
        // test machine, and the readiness check below would then fail loudly.
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = std::fs::File::create(dir.path().join("s3s-fs.log")).unwrap();
        let child = Command::new(&bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(dir.path())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let me = Self { endpoint: format!("http://127.0.0.1:{port}"), dir, child };
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not listen on {addr}; log:\n{}", me.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        me
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("s3s-fs.log")).unwrap_or_default()
    }

    fn location(&self) -> S3Location {
        S3Location::parse(&format!("s3://{BUCKET}/{PREFIX}?endpoint={}&region=us-east-1", self.endpoint)).unwrap()
    }

    /// The file s3s-fs keeps an object's bytes in.
    fn object_file(&self, key: &str) -> PathBuf {
        self.dir.path().join(BUCKET).join(key)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn credentials() -> S3Credentials {
    S3Credentials { access_key_id: ACCESS_KEY.into(), secret_access_key: SECRET_KEY.into(), session_token: None }
}

// ---------------------------------------------------------------------------------------------------
// The backends

/// A store under test and what keeps it alive.
struct Backend {
    store: Arc<dyn BlobStore>,
    local: TempDir,
    s3: Option<(S3Server, S3BlobStore)>,
}

async fn fs_backend() -> Backend {
    let local = tempfile::tempdir().unwrap();
    let store = FsBlobStore::open(local.path()).unwrap();
    Backend { store: Arc::new(store), local, s3: None }
}

async fn s3_backend() -> Backend {
    let server = S3Server::start();
    let local = tempfile::tempdir().unwrap();
    let store = S3BlobStore::open_with(&server.location(), credentials(), local.path())
        .await
        .unwrap_or_else(|e| panic!("opening the S3 store: {e}; s3s-fs log:\n{}", server.log()));
    Backend { store: Arc::new(store.clone()), local, s3: Some((server, store)) }
}

fn ready(o: OpenPartial) -> Box<dyn PartialUpload> {
    match o {
        OpenPartial::Ready(p) => p,
        OpenPartial::OffsetMismatch { held } => panic!("offset mismatch, held {held}"),
        OpenPartial::Busy { held } => panic!("busy, held {held}"),
        OpenPartial::TooMany { .. } => panic!("too many"),
    }
}

// ---------------------------------------------------------------------------------------------------
// The behaviours, one function each, for any backend

async fn put_len_get_round_trip(b: &Backend) {
    let bytes = photo(700_000, 1);
    let h = hash_of(&bytes);
    assert_eq!(b.store.len(h).await.unwrap(), None);
    assert_eq!(b.store.put(h, bytes.clone()).await.unwrap(), Stored::New);
    assert_eq!(b.store.len(h).await.unwrap(), Some(bytes.len() as u64));
    assert_eq!(b.store.get(h).await.unwrap().as_deref(), Some(&bytes[..]));
}

async fn put_twice_is_already_there(b: &Backend) {
    let bytes = photo(10_000, 2);
    let h = hash_of(&bytes);
    assert_eq!(b.store.put(h, bytes.clone()).await.unwrap(), Stored::New);
    assert_eq!(b.store.put(h, bytes.clone()).await.unwrap(), Stored::AlreadyThere);
    assert_eq!(b.store.get(h).await.unwrap().as_deref(), Some(&bytes[..]));
}

async fn a_missing_photo_is_none(b: &Backend) {
    let h = hash_of(b"never stored");
    assert_eq!(b.store.len(h).await.unwrap(), None);
    assert_eq!(b.store.get(h).await.unwrap(), None);
}

async fn a_partial_in_two_parts_finishes_into_the_store(b: &Backend) {
    let bytes = photo(300_000, 3);
    let (h, total) = (hash_of(&bytes), bytes.len() as u64);
    let user = UserId::new_v7();
    let mut p = ready(b.store.open_partial(user, h, 0, total).await.unwrap());
    p.append(bytes[..120_000].to_vec().into()).await.unwrap();
    drop(p);
    let info = b.store.partial(user, h).await.unwrap().expect("the partial is kept");
    assert_eq!((info.held, info.total), (120_000, Some(total)));
    assert_eq!(b.store.len(h).await.unwrap(), None, "not visible before it is complete");

    let mut p = ready(b.store.open_partial(user, h, 120_000, total).await.unwrap());
    p.append(bytes[120_000..].to_vec().into()).await.unwrap();
    assert_eq!(p.held(), total);
    assert_eq!(p.finish(h).await.unwrap(), Finished::Stored(Stored::New));
    assert_eq!(b.store.len(h).await.unwrap(), Some(total));
    assert_eq!(b.store.get(h).await.unwrap().as_deref(), Some(&bytes[..]));
    assert_eq!(b.store.partial(user, h).await.unwrap(), None, "the partial is gone");

    // The same photo again by another user: already there.
    let other = UserId::new_v7();
    let mut p = ready(b.store.open_partial(other, h, 0, total).await.unwrap());
    p.append(bytes.clone().into()).await.unwrap();
    assert_eq!(p.finish(h).await.unwrap(), Finished::Stored(Stored::AlreadyThere));
}

async fn a_partial_with_wrong_bytes_is_refused_and_never_visible(b: &Backend) {
    let bytes = photo(50_000, 4);
    let h = hash_of(&bytes);
    let mut wrong = bytes.clone();
    wrong[1000] ^= 1;
    let user = UserId::new_v7();
    let mut p = ready(b.store.open_partial(user, h, 0, bytes.len() as u64).await.unwrap());
    p.append(wrong.into()).await.unwrap();
    assert_eq!(p.finish(h).await.unwrap(), Finished::HashMismatch);
    assert_eq!(b.store.len(h).await.unwrap(), None);
    assert_eq!(b.store.partial(user, h).await.unwrap(), None);
}

/// One `#[tokio::test]` per behaviour and backend, so a failure names both.
macro_rules! conformance {
    ($($behaviour:ident),* $(,)?) => {
        mod fs {
            $(#[tokio::test]
            async fn $behaviour() {
                super::$behaviour(&super::fs_backend().await).await;
            })*
        }
        mod s3 {
            $(#[tokio::test]
            async fn $behaviour() {
                super::$behaviour(&super::s3_backend().await).await;
            })*
        }
    };
}

conformance!(
    put_len_get_round_trip,
    put_twice_is_already_there,
    a_missing_photo_is_none,
    a_partial_in_two_parts_finishes_into_the_store,
    a_partial_with_wrong_bytes_is_refused_and_never_visible,
);

// ---------------------------------------------------------------------------------------------------
// S3 only

#[tokio::test]
async fn s3_objects_are_named_by_hash_under_the_prefix_and_leave_nothing_local() {
    let b = s3_backend().await;
    let (server, store) = b.s3.as_ref().unwrap();
    let bytes = photo(20_000, 5);
    let h = hash_of(&bytes);
    store.put(h, bytes.clone()).await.unwrap();
    let hex = h.to_hex();
    let key = format!("{PREFIX}/photos/{}/{hex}.jpg", &hex[..2]);
    assert_eq!(store.key_of(h), key);
    assert_eq!(std::fs::read(server.object_file(&key)).unwrap(), bytes, "the object holds the photo");

    // A finished partial is uploaded and its staged copy deleted.
    let more = photo(30_000, 6);
    let h2 = hash_of(&more);
    let mut p = ready(store.open_partial(UserId::new_v7(), h2, 0, more.len() as u64).await.unwrap());
    p.append(more.into()).await.unwrap();
    p.finish(h2).await.unwrap();
    let spool = b.local.path().join(SPOOL_DIR);
    let left: Vec<_> = walk(&spool).into_iter().filter(|p| p.extension().is_some_and(|e| e == "jpg")).collect();
    assert!(left.is_empty(), "staged copies left behind: {left:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn fs_a_damaged_file_is_refused_not_served() {
    let b = fs_backend().await;
    let bytes = photo(200_000, 9);
    let h = hash_of(&bytes);
    b.store.put(h, bytes.clone()).await.unwrap();
    let fs = FsBlobStore::open(b.local.path()).unwrap();
    std::fs::write(fs.path_of(h), &bytes[..150_000]).unwrap();
    assert!(b.store.get(h).await.is_err(), "a truncated file must not be served");
}

#[tokio::test]
async fn s3_a_damaged_object_is_refused_not_served() {
    let b = s3_backend().await;
    let (server, store) = b.s3.as_ref().unwrap();

    // Truncated on the server's disk.
    let bytes = photo(200_000, 7);
    let h = hash_of(&bytes);
    store.put(h, bytes.clone()).await.unwrap();
    std::fs::write(server.object_file(&store.key_of(h)), &bytes[..150_000]).unwrap();
    let err = store.get(h).await.expect_err("a truncated object must not be served");
    assert!(err.to_string().contains("does not hash to its name"), "{err}");

    // Replaced by other bytes through the S3 API itself (a raw signed PUT, as a buggy writer would).
    let other = photo(40_000, 8);
    let h2 = hash_of(&other);
    let raw = AmazonS3Builder::new()
        .with_endpoint(&server.endpoint)
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_bucket_name(BUCKET)
        .with_access_key_id(ACCESS_KEY)
        .with_secret_access_key(SECRET_KEY)
        .build()
        .unwrap();
    let mut forged = other.clone();
    forged[0] ^= 0xff;
    raw.put(&ObjectPath::parse(store.key_of(h2)).unwrap(), PutPayload::from(forged)).await.unwrap();
    assert_eq!(store.len(h2).await.unwrap(), Some(other.len() as u64), "HEAD cannot tell");
    assert!(store.get(h2).await.is_err(), "GET checks the hash");
    // A put does not repair it (content addressing trusts an existing name), which is why get must check.
    assert_eq!(store.put(h2, other.clone()).await.unwrap(), Stored::AlreadyThere);
    assert!(store.get(h2).await.is_err());
}

#[tokio::test]
async fn s3_refuses_wrong_credentials_and_a_missing_bucket_at_open() {
    let server = S3Server::start();
    let local = tempfile::tempdir().unwrap();
    let wrong = S3Credentials { secret_access_key: "not-the-secret".into(), ..credentials() };
    let err = S3BlobStore::open_with(&server.location(), wrong, local.path()).await.expect_err("wrong secret");
    assert!(!err.to_string().contains("not-the-secret"), "the secret is never in a message: {err}");
    let mut missing = server.location();
    missing.bucket = "no-such-bucket".into();
    assert!(S3BlobStore::open_with(&missing, credentials(), local.path()).await.is_err());
    let debug = format!("{:?}", credentials());
    assert!(!debug.contains(SECRET_KEY) && !debug.contains(ACCESS_KEY), "{debug}");
}

#[tokio::test]
async fn s3_down_fails_within_bounds_and_acknowledges_nothing() {
    let mut b = s3_backend().await;
    let store = b.s3.as_ref().unwrap().1.clone();
    b.s3.as_mut().unwrap().0.stop();
    let bytes = photo(10_000, 9);
    let h = hash_of(&bytes);
    let started = Instant::now();
    assert!(store.put(h, bytes.clone()).await.is_err(), "a put to an unreachable store is not acknowledged");
    assert!(store.len(h).await.is_err(), "unknown is not 'absent'");
    assert!(store.get(h).await.is_err());
    // A finished partial whose upload fails is an error too, and the device starts over.
    let user = UserId::new_v7();
    let mut p = ready(store.open_partial(user, h, 0, bytes.len() as u64).await.unwrap());
    p.append(bytes.into()).await.unwrap();
    assert!(p.finish(h).await.is_err());
    assert!(started.elapsed() < 4 * WORST_CASE, "took {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------------------
// End to end: the real binary with `--s3`

/// `xuncha-server serve --s3 …` on a free port; killed on drop (and stops when this process dies, via
/// `--stop-on-stdin-close`).
struct XunchaServer {
    url: String,
    child: Child,
    _stdin: ChildStdin,
}

impl Drop for XunchaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn xuncha(dir: &Path, s3: &S3Server, sub: &str) -> Command {
    let mut cmd = Command::new(common::BIN);
    cmd.arg(sub)
        .arg("--db")
        .arg(dir.join("server.sqlite3"))
        .arg("--blobs")
        .arg(dir.join("blobs"))
        .arg("--s3")
        .arg(s3.location().to_string())
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("XUNCHA_LOG", "info");
    cmd
}

async fn login(server: &XunchaServer, username: &str) -> (reqwest::Client, String) {
    let http = reqwest::Client::new();
    let req = LoginRequest {
        username: username.into(),
        password: common::PASSWORD.into(),
        device_id: DeviceId::new_v7(),
        device_name: "test".into(),
    };
    let resp = http.post(format!("{}{}", server.url, paths::LOGIN)).json(&req).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: LoginResponse = resp.json().await.unwrap();
    (http, body.token)
}

#[tokio::test]
async fn the_server_binary_stores_photos_in_s3() {
    let s3 = S3Server::start();
    let dir = tempfile::tempdir().unwrap();
    // The demo world, its photos going to S3 as well.
    let seeded = xuncha(dir.path(), &s3, "seed-demo")
        .args(["--date", "2026-11-20", "--demo-photos"])
        .arg(common::demo_photos_dir())
        .output()
        .unwrap();
    assert!(seeded.status.success(), "seed-demo --s3: {}", String::from_utf8_lossy(&seeded.stderr));
    let in_bucket = walk(&s3.dir.path().join(BUCKET).join(PREFIX).join("photos"));
    assert!(in_bucket.iter().any(|p| p.extension().is_some_and(|e| e == "jpg")), "demo photos in the bucket");

    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let mut child = xuncha(dir.path(), &s3, "serve")
        .args(["--listen", "127.0.0.1:0", "--stop-on-stdin-close"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let server_log = || std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
    let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("{line:?}\n{}", server_log()));
    let server = XunchaServer { url: url.to_string(), child, _stdin: stdin };
    assert!(!server_log().contains(SECRET_KEY), "the secret key is never logged");

    let (http, token) = login(&server, "inspector1-1").await;
    let photo_url = |h: &PhotoHash| format!("{}{}", server.url, paths::photo(h));

    // Whole-body PUT, then GET back byte-identical.
    let mut bytes = std::fs::read(common::demo_photos_dir().join("DSCN0010.jpg")).unwrap();
    bytes.extend_from_slice(uuid::Uuid::now_v7().as_bytes());
    let h = hash_of(&bytes);
    let put = http.put(photo_url(&h)).bearer_auth(&token).body(bytes.clone()).send().await.unwrap();
    assert_eq!(put.status(), StatusCode::CREATED, "{}", server_log());
    let again = http.put(photo_url(&h)).bearer_auth(&token).body(bytes.clone()).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    let head = http.head(photo_url(&h)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()[UPLOAD_LENGTH], bytes.len().to_string().as_str());
    let got = http.get(photo_url(&h)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap().as_ref(), &bytes[..], "byte-identical");
    let hex = h.to_hex();
    assert!(s3.object_file(&format!("{PREFIX}/photos/{}/{hex}.jpg", &hex[..2])).is_file(), "the object is in S3");
    assert!(!dir.path().join("blobs").join(&hex[..2]).exists(), "nothing in the local photo directory");

    // Resumable: two PATCHes, the second finishing into S3.
    let more = photo(400_000, 10);
    let (h2, total) = (hash_of(&more), more.len() as u64);
    let patch = |from: usize, to: usize| {
        http.patch(photo_url(&h2))
            .bearer_auth(&token)
            .header("content-type", OFFSET_OCTET_STREAM)
            .header(UPLOAD_OFFSET, from)
            .header(UPLOAD_LENGTH, total)
            .body(more[from..to].to_vec())
            .send()
    };
    assert_eq!(patch(0, 150_000).await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(patch(150_000, more.len()).await.unwrap().status(), StatusCode::CREATED, "{}", server_log());
    let got = http.get(photo_url(&h2)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(got.bytes().await.unwrap().as_ref(), &more[..]);

    // S3 gone: an upload is not acknowledged; the answer is 503 with Retry-After, which the device honours
    // (docs/sync-protocol.md, "Retry policy").
    drop(s3);
    let late = photo(5_000, 11);
    let r = http.put(photo_url(&hash_of(&late))).bearer_auth(&token).body(late).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "the device backs off and retries: {}", r.status());
    assert_eq!(r.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("60"));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "server.photo_store_unavailable");
}
