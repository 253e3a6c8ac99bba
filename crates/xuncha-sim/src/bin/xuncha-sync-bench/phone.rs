//! One phone of the burst on the wire: its own TCP connection, opened when it wakes, and HTTP/1.1 by
//! hyper's bare client connection, its requests built before the barrier.
//!
//! Why not reqwest, as elsewhere in the bench: the bench client shares the server's two cores, and in a
//! burst every CPU millisecond it spends delays the server. Per request reqwest parses a URL, checks a
//! connection pool out and in, runs its connector and its timeout layers; a thousand phones doing that
//! cost about as much CPU as the server's own handling (perf, issue 3's notes). A real fleet spends that
//! on a thousand phones' own CPUs. In alternating runs on one machine this client took 0.38–0.71 s of
//! CPU for three bursts where reqwest took 0.64–1.13 s: 40 % less, in the machine's fast and slow phases
//! alike. What a phone does that costs the server stays: a new connection per phone, a real HTTP request
//! with its bearer token, the whole answer read and checked.

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use std::net::SocketAddr;
use xuncha_proto::{paths, PushResponse};

/// What a phone needs to reach the server: its address and the `Host` header.
#[derive(Debug, Clone)]
pub struct Target {
    addr: SocketAddr,
    host: String,
}

impl Target {
    /// `base`: the server's URL, `http://IP:PORT` (the bench's servers listen on 127.0.0.1).
    pub fn new(base: &str) -> Result<Self> {
        let host = base.trim_end_matches('/').strip_prefix("http://").context("the burst speaks plain HTTP")?;
        let addr = host.parse().with_context(|| format!("{host} is not IP:PORT"))?;
        Ok(Self { addr, host: host.to_string() })
    }
}

/// A pull page as the burst reads it: counted and its cursor taken, its findings not decoded (a phone
/// decodes on its own CPU; here the bench would take it from the server's).
pub struct PageSummary {
    pub changes: usize,
    pub cursor: u64,
    pub has_more: bool,
}

/// A phone's requests, built before the barrier: its bearer header and its push body.
pub struct Phone {
    bearer: String,
    push_body: Bytes,
    ops: usize,
}

/// A phone that woke: its connection to the server, open until this is dropped.
pub struct Awake {
    phone: Phone,
    host: String,
    send: SendRequest<Full<Bytes>>,
}

impl Phone {
    pub fn new(token: &str, push: &xuncha_proto::PushRequest) -> Result<Self> {
        Ok(Self { bearer: format!("Bearer {token}"), push_body: serde_json::to_vec(push)?.into(), ops: push.ops.len() })
    }

    /// Opens the phone's connection.
    pub async fn wake(self, target: &Target) -> Result<Awake> {
        let tcp = tokio::net::TcpStream::connect(target.addr).await?;
        tcp.set_nodelay(true)?;
        let (send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await?;
        // Drives the connection; ends when `send` is dropped or the server closes it.
        tokio::spawn(conn);
        Ok(Awake { phone: self, host: target.host.clone(), send })
    }
}

impl Awake {
    async fn call(&mut self, method: Method, uri: &str, body: Bytes) -> Result<Bytes> {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header(HOST, &self.host)
            .header(AUTHORIZATION, &self.phone.bearer);
        if !body.is_empty() {
            req = req.header(CONTENT_TYPE, "application/json");
        }
        let resp = self.send.send_request(req.body(Full::new(body))?).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        if status != StatusCode::OK {
            bail!("{uri}: {status}: {}", String::from_utf8_lossy(&body[..body.len().min(300)]))
        }
        Ok(body)
    }

    /// Pushes the phone's ops; fails unless every one was applied (`client::all_applied`).
    pub async fn push(&mut self) -> Result<()> {
        let body = self.call(Method::POST, paths::PUSH, self.phone.push_body.clone()).await?;
        crate::client::all_applied(&serde_json::from_slice::<PushResponse>(&body)?, self.phone.ops)
    }

    /// One pull page from `cursor`.
    pub async fn pull(&mut self, cursor: u64, limit: u32) -> Result<PageSummary> {
        #[derive(serde::Deserialize)]
        struct Page {
            changes: Vec<serde::de::IgnoredAny>,
            cursor: u64,
            has_more: bool,
        }
        let uri = format!("{}?cursor={cursor}&limit={limit}", paths::PULL);
        let page: Page = serde_json::from_slice(&self.call(Method::GET, &uri, Bytes::new()).await?)?;
        Ok(PageSummary { changes: page.changes.len(), cursor: page.cursor, has_more: page.has_more })
    }
}
