//! HTTP calls to a Xuncha server, speaking only `xuncha_proto` types.
//!
//! Nothing counts as an answer unless it parses as the protocol's JSON: a hotel or station Wi-Fi page
//! answers 200 with HTML to everything, and redirects are not followed (portals redirect to their
//! login page), so such an answer is "not the server", never "sent".

use crate::error::{DeviceError, Result};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use std::time::Duration;
use xuncha_domain::{PhotoHash, UserMessage};
use xuncha_proto::{
    paths, ApiError, Health, LoginRequest, LoginResponse, PullResponse, PushRequest, PushResponse, SERVICE_NAME,
};

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The shared HTTP client (connection pool) of an engine, with the default timeouts.
pub fn http_client() -> Result<reqwest::Client> {
    http_client_with(CONNECT_TIMEOUT, REQUEST_TIMEOUT)
}

/// The shared HTTP client with explicit timeouts (`request` bounds a whole call, body included).
pub fn http_client_with(connect: Duration, request: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(connect)
        .timeout(request)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("xuncha-device/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| DeviceError::Internal(format!("http client: {e}")))
}

/// Checks and normalises a server address typed by a person: scheme + host (+ port, + path prefix),
/// no trailing slash.
pub fn normalize_url(s: &str) -> Result<String> {
    let t = s.trim().trim_end_matches('/');
    let u = reqwest::Url::parse(t).map_err(|_| DeviceError::BadServerUrl(t.to_string()))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(DeviceError::BadServerUrl(t.to_string()));
    }
    Ok(t.to_string())
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

fn net(e: reqwest::Error) -> DeviceError {
    // The URL carries no secret (the token travels in a header), so the error text may be logged.
    DeviceError::Offline(e.without_url().to_string())
}

impl Client {
    pub fn new(http: reqwest::Client, base: &str) -> Self {
        Self { http, base: base.trim_end_matches('/').to_string() }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn req(&self, method: Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let rb = self.http.request(method, format!("{}{}", self.base, path));
        match token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    /// `GET /api/v1/health`: the answer must be the protocol's JSON with service "xuncha".
    pub async fn health(&self) -> Result<Health> {
        let resp = self.req(Method::GET, paths::HEALTH, None).send().await.map_err(net)?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(net)?;
        if !status.is_success() {
            return Err(DeviceError::NotXuncha(format!("health answered {status}")));
        }
        let h: Health =
            serde_json::from_slice(&body).map_err(|_| DeviceError::NotXuncha("health is not Xuncha JSON".into()))?;
        if h.service != SERVICE_NAME {
            return Err(DeviceError::NotXuncha(format!("service is {:?}", h.service)));
        }
        Ok(h)
    }

    pub async fn login(&self, req: &LoginRequest) -> Result<LoginResponse> {
        let resp = self.req(Method::POST, paths::LOGIN, None).json(req).send().await.map_err(net)?;
        // A 401 here is "wrong user name or password", with the server's own message.
        json_answer(resp, false).await
    }

    pub async fn logout(&self, token: &str) -> Result<()> {
        let resp = self.req(Method::POST, paths::LOGOUT, Some(token)).send().await.map_err(net)?;
        let status = resp.status();
        if status.is_success() || status == StatusCode::UNAUTHORIZED {
            return Ok(());
        }
        Err(error_from(status, &resp.bytes().await.map_err(net)?, true))
    }

    pub async fn push(&self, token: &str, req: &PushRequest) -> Result<PushResponse> {
        let resp = self.req(Method::POST, paths::PUSH, Some(token)).json(req).send().await.map_err(net)?;
        json_answer(resp, true).await
    }

    pub async fn pull(&self, token: &str, cursor: u64, limit: u32) -> Result<PullResponse> {
        let resp = self
            .req(Method::GET, paths::PULL, Some(token))
            .query(&[("cursor", cursor.to_string()), ("limit", limit.to_string())])
            .send()
            .await
            .map_err(net)?;
        json_answer(resp, true).await
    }

    /// Does the server hold these exact bytes? `size` guards against anything that answers 200 to
    /// every request: a length that differs from ours is not a yes.
    pub async fn photo_exists(&self, token: &str, hash: &PhotoHash, size: u64) -> Result<bool> {
        let resp = self.req(Method::HEAD, &paths::photo(hash), Some(token)).send().await.map_err(net)?;
        let status = resp.status();
        match status {
            StatusCode::OK => {
                if is_html(&resp) {
                    return Err(DeviceError::NotXuncha("HEAD photo answered HTML".into()));
                }
                let len = resp
                    .headers()
                    .get(reqwest::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
                // The Xuncha server answers HEAD with an empty body (Content-Length: 0), not the photo's
                // length: 0 says nothing about the size. Reading it as "different size" made the device
                // upload again every photo the server already had (found by xuncha-sim kill_device).
                Ok(len.is_none_or(|l| l == size || l == 0))
            }
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(error_from(status, &[], true)),
        }
    }

    /// Uploads a photo; Ok only when the server says 200/201.
    pub async fn put_photo(&self, token: &str, hash: &PhotoHash, bytes: Vec<u8>) -> Result<()> {
        let resp = self
            .req(Method::PUT, &paths::photo(hash), Some(token))
            .header(reqwest::header::CONTENT_TYPE, "image/jpeg")
            .body(bytes)
            .send()
            .await
            .map_err(net)?;
        let status = resp.status();
        if matches!(status, StatusCode::OK | StatusCode::CREATED) && !is_html(&resp) {
            return Ok(());
        }
        Err(error_from(status, &resp.bytes().await.map_err(net)?, true))
    }

    /// Downloads a photo; None when the server does not have it (yet).
    pub async fn get_photo(&self, token: &str, hash: &PhotoHash) -> Result<Option<Vec<u8>>> {
        let resp = self.req(Method::GET, &paths::photo(hash), Some(token)).send().await.map_err(net)?;
        let status = resp.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let body = resp.bytes().await.map_err(net)?;
        if !status.is_success() {
            return Err(error_from(status, &body, true));
        }
        Ok(Some(body.to_vec()))
    }
}

fn is_html(resp: &reqwest::Response) -> bool {
    resp.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("text/html"))
}

async fn json_answer<T: DeserializeOwned>(resp: reqwest::Response, authed: bool) -> Result<T> {
    let status = resp.status();
    let body = resp.bytes().await.map_err(net)?;
    if status.is_success() {
        return serde_json::from_slice(&body)
            .map_err(|_| DeviceError::NotXuncha(format!("{status} without protocol JSON")));
    }
    Err(error_from(status, &body, authed))
}

/// Maps a non-success answer. With `authed`, 401 means the token is no longer valid.
fn error_from(status: StatusCode, body: &[u8], authed: bool) -> DeviceError {
    if authed && status == StatusCode::UNAUTHORIZED {
        return DeviceError::SessionExpired;
    }
    match serde_json::from_slice::<ApiError>(body) {
        Ok(e) => DeviceError::Server { status: status.as_u16(), message: e.error },
        Err(_) if status.is_server_error() => DeviceError::Server {
            status: status.as_u16(),
            message: UserMessage::new(
                "server.unavailable",
                "服务器暂时出错，记录已保存在本机，稍后会自动重试。",
                "The server has a temporary problem; your records are saved on this phone and will be retried automatically.",
            ),
        },
        Err(_) => DeviceError::NotXuncha(format!("{status} without protocol JSON")),
    }
}
