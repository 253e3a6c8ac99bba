//! The lean HTTP client of the bench: reqwest plus the device's wire types (`xuncha_proto`), no device
//! store. Used where a thousand engines (each a SQLite file and a blocking thread) would measure the
//! bench machine instead of the server; the leader's first pull also runs through a real engine. The
//! burst of a thousand phones is leaner still (`phone.rs`).

use anyhow::{bail, Result};
use rand::rngs::StdRng;
use rand::Rng;
use std::time::Duration;
use xuncha_domain::{DeviceId, FindingId, OpId, PhotoHash, Taxonomy};
use xuncha_proto::{
    paths, LoginRequest, LoginResponse, OpBody, OpOutcome, Operation, PullResponse, PushRequest, PushResponse,
};
use xuncha_sim::server_view::DEMO_PASSWORD;

/// One HTTP connection pool.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

/// A signed-in device: its token, its id (the server ties the token to it) and its counters.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub device: DeviceId,
    pub next_seq: u64,
    pub cursor: u64,
}

async fn ok(resp: reqwest::Response, what: &str) -> Result<reqwest::Response> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let body = resp.text().await.unwrap_or_default();
    bail!("{what}: {status}: {}", body.chars().take(300).collect::<String>())
}

impl Api {
    pub fn new(base: &str, timeout: Duration) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { http, base: base.trim_end_matches('/').to_string() })
    }

    pub async fn login(&self, username: &str) -> Result<Session> {
        let device = DeviceId::new_v7();
        let req = LoginRequest {
            username: username.to_string(),
            password: DEMO_PASSWORD.to_string(),
            device_id: device,
            device_name: "xuncha-sync-bench".into(),
        };
        let resp = self.http.post(format!("{}{}", self.base, paths::LOGIN)).json(&req).send().await?;
        let body: LoginResponse = ok(resp, "login").await?.json().await?;
        Ok(Session { token: body.token, device, next_seq: 1, cursor: 0 })
    }

    /// Pushes `ops`; fails unless every op was applied (a rejection would mean the bench measures the
    /// wrong thing).
    pub async fn push(&self, s: &Session, ops: Vec<Operation>) -> Result<PushResponse> {
        let n = ops.len();
        let req = PushRequest { device_id: s.device, ops };
        let resp =
            self.http.post(format!("{}{}", self.base, paths::PUSH)).bearer_auth(&s.token).json(&req).send().await?;
        let body: PushResponse = ok(resp, "push").await?.json().await?;
        all_applied(&body, n)?;
        Ok(body)
    }

    /// `GET` one pull page; the answer checked for success, not yet read.
    async fn pull_raw(&self, token: &str, cursor: u64, limit: u32) -> Result<reqwest::Response> {
        let resp = self
            .http
            .get(format!("{}{}", self.base, paths::PULL))
            .bearer_auth(token)
            .query(&[("cursor", cursor.to_string()), ("limit", limit.to_string())])
            .send()
            .await?;
        ok(resp, "pull").await
    }

    pub async fn pull(&self, token: &str, cursor: u64, limit: u32) -> Result<PullResponse> {
        Ok(self.pull_raw(token, cursor, limit).await?.json().await?)
    }

    /// Pulls pages from `cursor` until `has_more` is false; returns (records, pages, final cursor).
    pub async fn pull_all(&self, token: &str, mut cursor: u64) -> Result<(usize, usize, u64)> {
        let (mut records, mut pages) = (0, 0);
        loop {
            let page = self.pull(token, cursor, xuncha_proto::MAX_PULL_LIMIT).await?;
            records += page.changes.len();
            pages += 1;
            cursor = page.cursor;
            if !page.has_more || page.changes.is_empty() {
                return Ok((records, pages, cursor));
            }
        }
    }

    /// What the device does per photo: HEAD (does the server have it?), then PUT if not.
    pub async fn upload_photo(&self, token: &str, hash: &PhotoHash, bytes: Vec<u8>) -> Result<()> {
        let url = format!("{}{}", self.base, paths::photo(hash));
        let head = self.http.head(&url).bearer_auth(token).send().await?;
        if head.status().is_success() {
            return Ok(());
        }
        let resp = self
            .http
            .put(&url)
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "image/jpeg")
            .body(bytes)
            .send()
            .await?;
        ok(resp, "photo upload").await?;
        Ok(())
    }
}

/// Fails unless the answer to a push of `n` ops applied every one (a rejection would mean the bench
/// measures the wrong thing).
pub fn all_applied(answer: &PushResponse, n: usize) -> Result<()> {
    if answer.results.len() != n {
        bail!("push of {n} ops answered {} results", answer.results.len());
    }
    if let Some(r) = answer.results.iter().find(|r| !matches!(r.outcome, OpOutcome::Applied { .. })) {
        bail!("op rejected: {:?}", r.outcome);
    }
    Ok(())
}

/// A "create" op of a plausible finding (the simulator's shape: a category, a Chinese description and
/// address, a GPS position in team 1's area, one photo), validated like the device validates it.
pub fn create_op(
    taxonomy: &Taxonomy,
    s: &mut Session,
    rng: &mut StdRng,
    photo: Option<PhotoHash>,
) -> Result<Operation> {
    let text = format!("[bench {}] 垃圾桶满溢，周边有散落垃圾，需尽快清运", rng.random::<u32>());
    let draft = xuncha_sim::sim::draft(text, photo.map(|h| h.to_hex()).into_iter().collect(), rng)?;
    let fields = draft.validate(taxonomy)?;
    let op = Operation {
        op_id: OpId::new_v7(),
        device_seq: s.next_seq,
        finding_id: FindingId::new_v7(),
        body: OpBody::Create { fields },
    };
    s.next_seq += 1;
    Ok(op)
}

/// `n` bytes that the server accepts as a photo: a JPEG start-of-image marker, then random bytes (the
/// server checks the SHA-256 only, and random bytes do not compress, like a real JPEG).
pub fn fake_jpeg(rng: &mut StdRng, n: usize) -> (PhotoHash, Vec<u8>) {
    use sha2::{Digest, Sha256};
    let mut b = vec![0u8; n];
    rng.fill(&mut b[..]);
    b[..4].copy_from_slice(&[0xFF, 0xD8, 0xFF, 0xE0]);
    (PhotoHash::from_bytes(Sha256::digest(&b).into()), b)
}
