//! HTTP calls to a Xuncha server, speaking only `xuncha_proto` types.
//!
//! Nothing counts as an answer unless it parses as the protocol's JSON: a hotel or station Wi-Fi page
//! answers 200 with HTML to everything, and redirects are not followed (portals redirect to their
//! login page), so such an answer is "not the server", never "sent".
//!
//! Photos go up resumably (`xuncha_proto::upload`): HEAD says what the server holds, PATCH sends the rest
//! from there. PUT stays for servers that do not resume (their HEAD has no `Upload-Offset`).

use crate::error::{DeviceError, Result};
use reqwest::header::{HeaderMap, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use std::time::Duration;
use xuncha_domain::{PhotoHash, UserMessage};
use xuncha_proto::upload::{OFFSET_OCTET_STREAM, UPLOAD_LENGTH, UPLOAD_OFFSET};
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

/// Sends a request, once more at once when it failed before any answer on a reused connection that had
/// gone stale (a keep-alive connection the server, a proxy or a NAT closed while idle: "error sending
/// request"). Safe because every request sent this way is idempotent — reads, op ids the server applies
/// once, content-addressed photos. Not for `PATCH`, whose retry logic follows the server's offset.
async fn send(rb: reqwest::RequestBuilder) -> Result<reqwest::Response> {
    let again = rb.try_clone();
    match rb.send().await {
        Ok(r) => Ok(r),
        Err(e) if e.is_request() && !e.is_connect() && !e.is_timeout() => match again {
            Some(rb) => {
                tracing::debug!(error = %e.without_url(), "request failed on a stale connection; sending it once more");
                rb.send().await.map_err(net)
            }
            None => Err(net(e)),
        },
        Err(e) => Err(net(e)),
    }
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
        let resp = send(self.req(Method::GET, paths::HEALTH, None)).await?;
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
        let resp = send(self.req(Method::POST, paths::LOGIN, None).json(req)).await?;
        // A 401 here is "wrong user name or password", with the server's own message. A 429/503 stays a plain
        // server refusal: sign-in is a person's action (their own message, or the offline sign-in for 5xx),
        // not the sync loop's to schedule.
        json_answer(resp, false).await.map_err(|e| match e {
            DeviceError::Busy { status, message: Some(message), .. } => DeviceError::Server { status, message },
            DeviceError::Busy { status, message: None, .. } => {
                DeviceError::Server { status, message: server_unavailable() }
            }
            e => e,
        })
    }

    pub async fn logout(&self, token: &str) -> Result<()> {
        let resp = send(self.req(Method::POST, paths::LOGOUT, Some(token))).await?;
        let status = resp.status();
        if status.is_success() || status == StatusCode::UNAUTHORIZED {
            return Ok(());
        }
        let headers = resp.headers().clone();
        Err(error_from(status, &headers, &resp.bytes().await.map_err(net)?, true))
    }

    pub async fn push(&self, token: &str, req: &PushRequest) -> Result<PushResponse> {
        let resp = send(self.req(Method::POST, paths::PUSH, Some(token)).json(req)).await?;
        json_answer(resp, true).await
    }

    pub async fn pull(&self, token: &str, cursor: u64, limit: u32) -> Result<PullResponse> {
        let resp = send(
            self.req(Method::GET, paths::PULL, Some(token))
                .query(&[("cursor", cursor.to_string()), ("limit", limit.to_string())]),
        )
        .await?;
        json_answer(resp, true).await
    }

    /// What the server holds of a photo (`HEAD`). `size` guards against anything that answers 200 to every
    /// request: a length that differs from ours is not "stored".
    pub async fn photo_on_server(&self, token: &str, hash: &PhotoHash, size: u64) -> Result<PhotoOnServer> {
        let resp = send(self.req(Method::HEAD, &paths::photo(hash), Some(token))).await?;
        let status = resp.status();
        let h = resp.headers();
        match status {
            StatusCode::OK => {
                if is_html(&resp) {
                    return Err(DeviceError::NotXuncha("HEAD photo answered HTML".into()));
                }
                // `Upload-Length` is the server's own statement; `Content-Length` is what older servers send.
                // The Xuncha server's HEAD used to carry `Content-Length: 0` (the empty body's, not the
                // photo's): 0 says nothing about the size. Reading it as "different size" made the device
                // upload again every photo the server already had (found by xuncha-sim kill_device).
                let len = header_u64(h, UPLOAD_LENGTH).or_else(|| header_u64(h, CONTENT_LENGTH.as_str()));
                Ok(if len.is_none_or(|l| l == size || l == 0) { PhotoOnServer::Stored } else { PhotoOnServer::Missing })
            }
            StatusCode::NOT_FOUND => Ok(match header_u64(h, UPLOAD_OFFSET) {
                Some(offset) => PhotoOnServer::Partial { offset, total: header_u64(h, UPLOAD_LENGTH) },
                // A server that does not resume uploads (an older release).
                None => PhotoOnServer::Missing,
            }),
            _ => Err(error_from(status, h, &[], true)),
        }
    }

    /// Uploads a photo as a whole (servers without resumable uploads); Ok only when the server says 200/201.
    pub async fn put_photo(&self, token: &str, hash: &PhotoHash, bytes: Vec<u8>) -> Result<()> {
        let resp = send(
            self.req(Method::PUT, &paths::photo(hash), Some(token)).header(CONTENT_TYPE, "image/jpeg").body(bytes),
        )
        .await?;
        let status = resp.status();
        if matches!(status, StatusCode::OK | StatusCode::CREATED) && !is_html(&resp) {
            return Ok(());
        }
        let headers = resp.headers().clone();
        Err(error_from(status, &headers, &resp.bytes().await.map_err(net)?, true))
    }

    /// One `PATCH`: the bytes of `photo` from `offset` on. Stored only on 200/201 that confirm the whole
    /// length in `Upload-Offset` (a portal's 200 does not).
    pub async fn patch_photo(&self, token: &str, hash: &PhotoHash, photo: &[u8], offset: u64) -> Result<PatchAnswer> {
        let total = photo.len() as u64;
        let from = usize::try_from(offset)
            .ok()
            .filter(|&o| o <= photo.len())
            .ok_or_else(|| DeviceError::Internal(format!("upload offset {offset} beyond the photo's {total} bytes")))?;
        let resp = self
            .req(Method::PATCH, &paths::photo(hash), Some(token))
            .header(CONTENT_TYPE, OFFSET_OCTET_STREAM)
            .header(UPLOAD_OFFSET, offset)
            .header(UPLOAD_LENGTH, total)
            .body(photo[from..].to_vec())
            .send()
            .await
            .map_err(net)?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let held = header_u64(&headers, UPLOAD_OFFSET);
        let body = resp.bytes().await.map_err(net)?;
        match status {
            StatusCode::OK | StatusCode::CREATED if held == Some(total) => Ok(PatchAnswer::Stored),
            StatusCode::OK | StatusCode::CREATED => {
                Err(DeviceError::NotXuncha(format!("{status} to a photo upload without the server's confirmation")))
            }
            StatusCode::NO_CONTENT | StatusCode::CONFLICT => match held {
                Some(held) => Ok(PatchAnswer::Resume {
                    held,
                    message: serde_json::from_slice::<ApiError>(&body).ok().map(|e| e.error),
                }),
                None => Err(error_from(status, &headers, &body, true)),
            },
            _ => Err(error_from(status, &headers, &body, true)),
        }
    }

    /// Uploads a photo, resuming what the server already holds of it: HEAD; stored → done; a partial → PATCH
    /// from its offset; else PATCH from 0. A 409 (the server holds another offset) is followed once, from the
    /// offset it returned. Servers without resumable uploads get a PUT. Ok only on the server's 200/201.
    pub async fn upload_photo(&self, token: &str, hash: &PhotoHash, photo: &[u8]) -> Result<Uploaded> {
        let size = photo.len() as u64;
        let mut from = match self.photo_on_server(token, hash, size).await? {
            PhotoOnServer::Stored => return Ok(Uploaded { already_there: true, resumed_from: size, sent: 0 }),
            PhotoOnServer::Partial { offset, total } if offset <= size && total.is_none_or(|t| t == size) => offset,
            PhotoOnServer::Partial { .. } => 0,
            PhotoOnServer::Missing => {
                self.put_photo(token, hash, photo.to_vec()).await?;
                return Ok(Uploaded { already_there: false, resumed_from: 0, sent: size });
            }
        };
        let resumed_from = from;
        let mut sent = 0;
        let mut followed = false;
        loop {
            sent += size - from;
            match self.patch_photo(token, hash, photo, from).await? {
                PatchAnswer::Stored => return Ok(Uploaded { already_there: false, resumed_from, sent }),
                PatchAnswer::Resume { held, .. } if !followed && held <= size => {
                    tracing::info!(%hash, from, held, "photo upload: server holds another offset; resuming from it");
                    followed = true;
                    from = held;
                }
                PatchAnswer::Resume { held, message } => {
                    // Twice in a row (another connection still writing it): the next sync goes on.
                    tracing::info!(%hash, held, "photo upload not complete; left for the next sync");
                    return Err(DeviceError::Server {
                        status: 409,
                        message: message.unwrap_or_else(upload_incomplete),
                    });
                }
            }
        }
    }
    /// Downloads a photo; None when the server does not have it (yet).
    pub async fn get_photo(&self, token: &str, hash: &PhotoHash) -> Result<Option<Vec<u8>>> {
        let resp = send(self.req(Method::GET, &paths::photo(hash), Some(token))).await?;
        let status = resp.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(net)?;
        if !status.is_success() {
            return Err(error_from(status, &headers, &body, true));
        }
        Ok(Some(body.to_vec()))
    }
}

/// What `HEAD /api/v1/photos/{hash}` said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoOnServer {
    /// The server has the whole photo.
    Stored,
    /// Not stored; this user's unfinished upload holds `offset` bytes (0: none yet) of `total`.
    Partial { offset: u64, total: Option<u64> },
    /// Not stored, and the server does not resume uploads.
    Missing,
}

/// The server's answer to one PATCH that is not an error.
#[derive(Debug, Clone, PartialEq)]
pub enum PatchAnswer {
    /// Complete, hash-checked and stored (201, or 200 when it was already there).
    Stored,
    /// 409 (another offset held) or 204 (incomplete): the server holds `held` bytes.
    Resume { held: u64, message: Option<UserMessage> },
}

/// What [`Client::upload_photo`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uploaded {
    /// The server already had it; nothing was sent.
    pub already_there: bool,
    /// Where the upload started (> 0: resumed).
    pub resumed_from: u64,
    /// Photo bytes put on the wire by this call.
    pub sent: u64,
}

fn header_u64(h: &HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// `Retry-After` as delta-seconds or an HTTP date (RFC 9110 §10.2.3), relative to `now`. A date in the past
/// is "now" (0 s); anything else unreadable is None.
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    Some((at.with_timezone(&chrono::Utc) - now).to_std().unwrap_or(Duration::ZERO))
}

fn server_unavailable() -> UserMessage {
    UserMessage::new(
        "server.unavailable",
        "服务器暂时出错，记录已保存在本机，稍后会自动重试。",
        "The server has a temporary problem; your records are saved on this phone and will be retried automatically.",
    )
}

fn upload_incomplete() -> UserMessage {
    UserMessage::new(
        "photo.upload_incomplete",
        "照片尚未传完，已保存在本机，下次同步时会从中断处继续上传。",
        "The photo upload is not complete yet; the photo is kept on this phone and the next sync continues where it stopped.",
    )
}

fn is_html(resp: &reqwest::Response) -> bool {
    resp.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("text/html"))
}

async fn json_answer<T: DeserializeOwned>(resp: reqwest::Response, authed: bool) -> Result<T> {
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.map_err(net)?;
    if status.is_success() {
        return serde_json::from_slice(&body)
            .map_err(|_| DeviceError::NotXuncha(format!("{status} without protocol JSON")));
    }
    Err(error_from(status, &headers, &body, authed))
}

/// Maps a non-success answer. With `authed`, 401 means the token is no longer valid. 429 and 503 with a
/// readable `Retry-After` become [`DeviceError::Busy`], so the sync loop waits as long as the server asked.
fn error_from(status: StatusCode, headers: &HeaderMap, body: &[u8], authed: bool) -> DeviceError {
    if authed && status == StatusCode::UNAUTHORIZED {
        return DeviceError::SessionExpired;
    }
    let api = serde_json::from_slice::<ApiError>(body).ok().map(|e| e.error);
    if matches!(status, StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE) {
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        // A 503 page of a proxy in front of the server counts too; a 429 must be the server's own JSON.
        if let Some(retry_after) = retry_after.filter(|_| api.is_some() || status.is_server_error()) {
            return DeviceError::Busy { status: status.as_u16(), retry_after, message: api };
        }
    }
    match api {
        Some(message) => DeviceError::Server { status: status.as_u16(), message },
        None if status.is_server_error() => {
            DeviceError::Server { status: status.as_u16(), message: server_unavailable() }
        }
        None => DeviceError::NotXuncha(format!("{status} without protocol JSON")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = chrono::Utc.with_ymd_and_hms(2026, 11, 20, 8, 0, 0).unwrap();
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Fri, 20 Nov 2026 08:01:30 GMT", now), Some(Duration::from_secs(90)));
        assert_eq!(parse_retry_after("Fri, 20 Nov 2026 07:00:00 GMT", now), Some(Duration::ZERO), "past: now");
        for bad in ["", "-5", "1.5", "soon", "Fri, 32 Nov 2026 08:01:30 GMT"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn busy_answers_carry_their_retry_after() {
        let api = br#"{"error":{"code":"photo.too_many_uploads","zh":"\u592a\u591a","en":"too many"}}"#;
        match error_from(StatusCode::TOO_MANY_REQUESTS, &headers(&[("retry-after", "600")]), api, true) {
            DeviceError::Busy { status: 429, retry_after, message: Some(m) } => {
                assert_eq!(retry_after, Duration::from_secs(600));
                assert_eq!(m.code, "photo.too_many_uploads");
            }
            other => panic!("{other:?}"),
        }
        // A proxy's 503 page with Retry-After: busy, with the device's own message.
        let e = error_from(StatusCode::SERVICE_UNAVAILABLE, &headers(&[("retry-after", "30")]), b"<html>", true);
        assert!(matches!(e, DeviceError::Busy { status: 503, message: None, .. }), "{e:?}");
        assert_eq!(e.user_message().code, "server.busy");
        // Without Retry-After: the usual mapping (back-off by the schedule).
        let e = error_from(StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new(), b"", true);
        assert!(matches!(e, DeviceError::Server { status: 503, .. }), "{e:?}");
        // A portal's 429 page is not the server.
        let e = error_from(StatusCode::TOO_MANY_REQUESTS, &headers(&[("retry-after", "5")]), b"<html>", true);
        assert!(e.is_network(), "{e:?}");
    }
}
