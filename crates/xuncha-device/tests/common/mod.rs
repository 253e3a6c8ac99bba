//! Test support: fixtures, drafts, and a tiny fake server on a raw TcpListener that can play a
//! Xuncha server (just enough of the protocol), a captive portal (200 HTML to everything), or die.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use xuncha_device::Engine;
use xuncha_domain::finding::{RawPosition, Severity};
use xuncha_domain::{FindingDraft, PhotoHash, PositionSource, Role, UserId};
use xuncha_proto::*;

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/photos");

pub fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(FIXTURES).join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

pub fn gps_fixtures() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(PathBuf::from(FIXTURES).join("gps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("jpg")))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    v.sort();
    v
}

pub fn draft(day: &str, photos: Vec<PhotoHash>) -> FindingDraft {
    FindingDraft {
        category: "fire_safety".into(),
        subcategory: "blocked_fire_lane".into(),
        description: "小区东门消防通道被三轮车堵塞".into(),
        address: "延安路与庆春路交叉口向西50米路南".into(),
        severity: Severity::High,
        position: Some(RawPosition {
            lat: 30.2596,
            lon: 120.1650,
            accuracy_m: Some(8.0),
            source: PositionSource::DeviceGps,
        }),
        photos,
        observed_at: format!("{day}T09:30:00+08:00").parse().unwrap(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Xuncha,
    /// A hotel/station Wi-Fi login page: 200 + HTML to every request.
    Portal,
    /// The token has been revoked: every authenticated call answers 401.
    Expired,
}

pub struct FakeState {
    pub mode: Mode,
    pub server_id: uuid::Uuid,
    pub user: UserProfile,
    pub password: String,
    pub pushed: Vec<Operation>,
    pub versions: HashMap<String, u64>,
    pub photos: HashMap<String, Vec<u8>>,
    pub changes: Vec<FindingRecord>,
    /// Ops whose description contains this are refused.
    pub reject_marker: String,
    pub requests: Vec<String>,
    /// A push with more ops than this is answered 413 (batch too large).
    pub max_push_ops: Option<usize>,
    /// Op counts of the pushes that were answered 413.
    pub refused_push_sizes: Vec<usize>,
    /// Answer HEAD on a photo as the real server does: 200 with `Content-Length: 0`.
    pub head_length_zero: bool,
    /// Answer every photo upload with this status line (and an `ApiError` with `photo_answer_code`).
    pub photo_answer: Option<(&'static str, &'static str)>,
}

pub struct Fake {
    pub url: String,
    pub state: Arc<Mutex<FakeState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Fake {
    pub async fn start() -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let team = TeamRef { id: xuncha_domain::TeamId::new_v7(), name: "上城一组".into() };
        let state = Arc::new(Mutex::new(FakeState {
            mode: Mode::Xuncha,
            server_id: uuid::Uuid::now_v7(),
            user: UserProfile {
                id: UserId::new_v7(),
                username: "li".into(),
                display_name: "李明".into(),
                role: Role::Inspector,
                team: Some(team),
                district: None,
            },
            password: "pw-123456".into(),
            pushed: Vec::new(),
            versions: HashMap::new(),
            photos: HashMap::new(),
            changes: Vec::new(),
            reject_marker: "REJECT-ME".into(),
            requests: Vec::new(),
            max_push_ops: None,
            refused_push_sizes: Vec::new(),
            head_length_zero: false,
            photo_answer: None,
        }));
        let st = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else { break };
                let st = st.clone();
                tokio::spawn(async move {
                    let Some((method, path, headers, body)) = read_request(&mut sock).await else { return };
                    let (status, ctype, out) = respond(&st, &method, &path, &headers, &body);
                    let head = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        out.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    if method != "HEAD" {
                        let _ = sock.write_all(&out).await;
                    }
                    let _ = sock.shutdown().await;
                });
            }
        });
        Fake { url, state, task }
    }

    pub fn set_mode(&self, m: Mode) {
        self.state.lock().unwrap().mode = m;
    }

    /// Closes the port: afterwards connections are refused, as with no signal.
    pub async fn stop(self) -> String {
        self.task.abort();
        let _ = self.task.await;
        self.url
    }
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<(String, String, String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let head_end = loop {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.lines();
    let first = lines.next()?.to_string();
    let mut parts = first.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let len: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&tmp[..n]);
    }
    Some((method, path, head, body))
}

fn json<T: serde::Serialize>(status: &str, v: &T) -> (String, String, Vec<u8>) {
    (status.into(), "application/json".into(), serde_json::to_vec(v).unwrap())
}

fn api_error(status: &str, code: &str) -> (String, String, Vec<u8>) {
    json(status, &ApiError { error: xuncha_domain::UserMessage::new(code, "错误", "error") })
}

fn respond(st: &Arc<Mutex<FakeState>>, method: &str, path: &str, head: &str, body: &[u8]) -> (String, String, Vec<u8>) {
    let mut s = st.lock().unwrap();
    s.requests.push(format!("{method} {path}"));
    if s.mode == Mode::Portal {
        return (
            "200 OK".into(),
            "text/html".into(),
            b"<html><body>Welcome! Please log in to the Wi-Fi</body></html>".to_vec(),
        );
    }
    let authed = head.to_ascii_lowercase().contains("authorization: bearer tok-");
    let route = path.split('?').next().unwrap_or("");
    if route == paths::HEALTH {
        return json(
            "200 OK",
            &Health { service: "xuncha".into(), protocol: 1, server_id: s.server_id, version: "test".into() },
        );
    }
    if route == paths::LOGIN {
        let req: LoginRequest = serde_json::from_slice(body).unwrap();
        if req.username != s.user.username || req.password != s.password {
            return api_error("401 Unauthorized", "auth.bad_credentials");
        }
        return json(
            "200 OK",
            &LoginResponse { token: "tok-secret".into(), user: s.user.clone(), server_id: s.server_id },
        );
    }
    if !authed || s.mode == Mode::Expired {
        return api_error("401 Unauthorized", "auth.expired");
    }
    if route == paths::LOGOUT {
        return ("204 No Content".into(), "text/plain".into(), Vec::new());
    }
    if route == paths::PUSH {
        let req: PushRequest = serde_json::from_slice(body).unwrap();
        if s.max_push_ops.is_some_and(|m| req.ops.len() > m) {
            s.refused_push_sizes.push(req.ops.len());
            return api_error("413 Payload Too Large", "request.too_large");
        }
        let mut results = Vec::new();
        for op in req.ops {
            let fields = match &op.body {
                OpBody::Create { fields } | OpBody::Edit { fields, .. } => Some(fields.clone()),
                OpBody::ChangeStatus { .. } => None,
            };
            let outcome = if fields.is_some_and(|f| f.description.as_str().contains(&s.reject_marker)) {
                OpOutcome::Rejected {
                    error: xuncha_domain::UserMessage::new("finding.refused", "被拒绝", "refused")
                }
            } else {
                let v = s.versions.entry(op.finding_id.to_string()).or_insert(0);
                *v += 1;
                OpOutcome::Applied { version: *v, replayed: false, conflicts: vec![] }
            };
            results.push(OpResult { op_id: op.op_id, outcome });
            s.pushed.push(op);
        }
        return json("200 OK", &PushResponse { results });
    }
    if route == paths::PULL {
        let changes = std::mem::take(&mut s.changes);
        for c in &changes {
            s.versions.insert(c.finding.id.to_string(), c.version);
        }
        let cursor = changes.iter().map(|c| c.server_seq).max().unwrap_or(0);
        return json("200 OK", &PullResponse { changes, cursor, has_more: false, scope: String::new() });
    }
    if route == paths::DIGEST {
        // What this fake server "holds": every finding pushed to it or handed out by a pull.
        let held: Vec<(xuncha_domain::FindingId, u64)> =
            s.versions.iter().map(|(id, v)| (id.parse().unwrap(), *v)).collect();
        return json("200 OK", &xuncha_proto::ScopeDigest::of("", held.iter().map(|(id, v)| (id, *v))));
    }
    if let Some(hash) = route.strip_prefix(&format!("{}/", paths::PHOTOS)) {
        return match method {
            "HEAD" if s.head_length_zero && s.photos.contains_key(hash) => {
                ("200 OK".into(), "application/octet-stream".into(), Vec::new())
            }
            "HEAD" | "GET" => match s.photos.get(hash) {
                Some(b) => ("200 OK".into(), "image/jpeg".into(), b.clone()),
                None => ("404 Not Found".into(), "application/json".into(), Vec::new()),
            },
            "PUT" if s.photo_answer.is_some() => {
                let (status, code) = s.photo_answer.unwrap();
                api_error(status, code)
            }
            "PUT" => {
                s.photos.insert(hash.to_string(), body.to_vec());
                ("201 Created".into(), "application/json".into(), b"{}".to_vec())
            }
            _ => api_error("405 Method Not Allowed", "x"),
        };
    }
    api_error("404 Not Found", "not_found")
}

/// An engine in a fresh temp dir, signed in to `fake`.
pub async fn signed_in(fake: &Fake) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let pw = fake.state.lock().unwrap().password.clone();
    let s = engine.login(&fake.url, "li", &pw).await.unwrap();
    assert!(!s.offline);
    (dir, engine)
}

/// Read-only second connection for checking what is on disk.
pub fn count(dir: &std::path::Path, sql: &str) -> i64 {
    let c = rusqlite::Connection::open(dir.join("xuncha.sqlite3")).unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}
