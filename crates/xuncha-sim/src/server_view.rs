//! The server's side of the set check: sign in over HTTP as a user and pull everything in their scope
//! (following `has_more`), or fetch a photo. Talks to the server directly, never through a proxy.

use crate::SimError;
use std::collections::BTreeMap;
use xuncha_domain::DeviceId;
use xuncha_proto::{paths, FindingRecord, LoginRequest, LoginResponse, PullResponse, MAX_PULL_LIMIT};

pub const DEMO_PASSWORD: &str = "xuncha2026";

/// A signed-in HTTP view of the server as one user.
pub struct ServerView {
    http: reqwest::Client,
    base: String,
    token: String,
    pub username: String,
}

async fn check(resp: reqwest::Response, what: &str) -> Result<reqwest::Response, SimError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let body = resp.text().await.unwrap_or_default();
    Err(SimError::Server(format!("{what}: {status}: {}", body.chars().take(300).collect::<String>())))
}

impl ServerView {
    pub async fn login(base: &str, username: &str) -> Result<Self, SimError> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| SimError::Server(e.to_string()))?;
        let base = base.trim_end_matches('/').to_string();
        let req = LoginRequest {
            username: username.to_string(),
            password: DEMO_PASSWORD.to_string(),
            device_id: DeviceId::new_v7(),
            device_name: "xuncha-sim checker".into(),
        };
        let resp = http.post(format!("{base}{}", paths::LOGIN)).json(&req).send().await?;
        let body: LoginResponse = check(resp, "login").await?.json().await?;
        Ok(Self { http, base, token: body.token, username: username.to_string() })
    }

    /// Every finding in this user's scope, by id (each appears once: its latest state).
    pub async fn findings(&self) -> Result<BTreeMap<String, FindingRecord>, SimError> {
        let mut cursor = 0u64;
        let mut all = BTreeMap::new();
        loop {
            let resp = self
                .http
                .get(format!("{}{}", self.base, paths::PULL))
                .bearer_auth(&self.token)
                .query(&[("cursor", cursor.to_string()), ("limit", MAX_PULL_LIMIT.to_string())])
                .send()
                .await?;
            let page: PullResponse = check(resp, "pull").await?.json().await?;
            for rec in page.changes {
                all.insert(rec.finding.id.to_string(), rec);
            }
            cursor = page.cursor;
            if !page.has_more {
                return Ok(all);
            }
        }
    }

    /// The photo's bytes as the server holds them (None: not there or not visible to this user).
    pub async fn photo(&self, hash: &str) -> Result<Option<Vec<u8>>, SimError> {
        let resp =
            self.http.get(format!("{}{}/{hash}", self.base, paths::PHOTOS)).bearer_auth(&self.token).send().await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Ok(Some(check(resp, "photo").await?.bytes().await?.to_vec()))
    }
}
