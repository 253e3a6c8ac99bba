//! A fault-injecting TCP proxy for tests (research/reliability.md §2.6): in-process, tokio, listening on
//! 127.0.0.1:0 and forwarding to the server. It follows HTTP/1.1 requests on each connection (request
//! line + `Content-Length`; the device never pipelines), so a fault can target one kind of request
//! (`POST /api/v1/sync/push`, `PATCH /api/v1/photos/…`) while the health probe passes, and every
//! exchange is logged with the status the server answered and the request bytes forwarded.
//!
//! Faults, switchable at run time with [`FaultProxy::set`] (they apply from the next chunk on, also on
//! pooled keep-alive connections): pass, latency, bandwidth cap, blackhole (accept, never answer),
//! reset after N bytes of the request (an interrupted upload: nothing committed, though a resumable
//! photo upload keeps the bytes that got through) or of the response
//! (after the server committed: a lost acknowledgement), tiny segments, and a seeded chaos mode that
//! drops requests or responses, delays them, or replays a captured request a second time.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What happens to the requests a [`Rule`] matches.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    Pass,
    /// Each request and each response is held this long before it is forwarded.
    Latency(Duration),
    /// Both directions at most this many bytes per second.
    Bandwidth {
        bytes_per_sec: u64,
    },
    /// The request is swallowed; no answer ever comes (the client must time out).
    Blackhole,
    /// The connection is reset after this many bytes of the request reached the server.
    ResetAfterRequestBytes(u64),
    /// The connection is reset after this many bytes of the response reached the client (0: the server
    /// answered, so it committed, but the client hears nothing).
    ResetAfterResponseBytes(u64),
    /// Both directions written in segments of `min..=max` bytes, each flushed on its own.
    Segments {
        min: usize,
        max: usize,
    },
    /// Each request independently, by a seeded coin.
    Chaos(Chaos),
}

/// Probabilities of the chaos mode; the remainder passes.
#[derive(Debug, Clone, PartialEq)]
pub struct Chaos {
    /// Reset before the request reaches the server.
    pub drop_request: f64,
    /// Forward the request, reset when the response starts (a lost acknowledgement).
    pub drop_response: f64,
    /// Forward the request, and send a captured copy of it once more on another connection.
    pub duplicate: f64,
    /// Hold the request up to this long.
    pub max_delay: Duration,
}

/// Which requests a fault applies to; `None` fields match anything.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Match {
    pub method: Option<String>,
    pub path_prefix: Option<String>,
}

impl Match {
    pub fn new(method: &str, path_prefix: &str) -> Self {
        Self { method: Some(method.to_string()), path_prefix: Some(path_prefix.to_string()) }
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
    }
}

/// A fault and the requests it applies to (the others pass).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub fault: Fault,
    pub only: Match,
}

/// What the proxy did with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Passed,
    Delayed,
    Throttled,
    Sliced,
    Blackholed,
    ResetRequest,
    ResetResponse,
    Duplicated,
    /// The second copy of a duplicated request.
    Replay,
}

/// One request seen by the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub method: String,
    pub path: String,
    pub fate: Fate,
    /// The status line the server sent (None: no answer passed through).
    pub status: Option<u16>,
    /// The whole response reached the client... as far as the proxy knows: its head was forwarded and
    /// the connection was not reset by the proxy.
    pub delivered: bool,
    /// Bytes of this request (head and body) the proxy wrote towards the server: what an interrupted
    /// upload cost on the wire, so a test can tell a resumed upload from a restarted one.
    pub req_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("proxy: {0}")]
    Io(#[from] std::io::Error),
    #[error("proxy: bad upstream address {0:?}")]
    BadUpstream(String),
}

struct Shared {
    upstream: SocketAddr,
    rule: Mutex<Rule>,
    rng: Mutex<StdRng>,
    log: Mutex<Vec<Exchange>>,
}

/// The running proxy; stops when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `http://127.0.0.1:1234` → the socket address.
pub fn socket_addr_of(url: &str) -> Result<SocketAddr, ProxyError> {
    let rest = url.trim_start_matches("http://").trim_end_matches('/');
    rest.parse().map_err(|_| ProxyError::BadUpstream(url.to_string()))
}

impl FaultProxy {
    /// Listens on 127.0.0.1:0 and forwards to `upstream_url` (`http://IP:PORT`), passing everything.
    pub async fn start(upstream_url: &str, seed: u64) -> Result<Self, ProxyError> {
        let upstream = socket_addr_of(upstream_url)?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream,
            rule: Mutex::new(Rule { fault: Fault::Pass, only: Match::default() }),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            log: Mutex::new(Vec::new()),
        });
        let sh = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else { break };
                tokio::spawn(handle(sock, sh.clone()));
            }
        });
        tracing::debug!(%addr, %upstream, "fault proxy listening");
        Ok(Self { addr, shared, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Applies `fault` to every request from now on.
    pub fn set(&self, fault: Fault) {
        self.set_rule(Rule { fault, only: Match::default() });
    }

    /// Applies `fault` to the requests `only` matches; the others pass.
    pub fn set_for(&self, fault: Fault, only: Match) {
        self.set_rule(Rule { fault, only });
    }

    pub fn set_rule(&self, rule: Rule) {
        tracing::debug!(?rule, "fault proxy rule");
        *lock(&self.shared.rule) = rule;
    }

    /// Every request seen so far, in arrival order.
    pub fn exchanges(&self) -> Vec<Exchange> {
        lock(&self.shared.log).clone()
    }

    pub fn clear_log(&self) {
        lock(&self.shared.log).clear();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The fate chosen for a request, with what it needs while the request and its response pass.
#[derive(Debug, Clone)]
struct Current {
    log_idx: usize,
    fault: Fault,
    fate: Fate,
    delay: Duration,
    req_sent: u64,
    resp_seen: u64,
    capture: Option<Vec<u8>>,
}

enum Parse {
    Head(Vec<u8>),
    Body(u64),
}

/// The phone's side gets a RST (SO_LINGER 0), as when a phone loses the network mid-request or
/// mid-answer. The server's side is closed normally: every byte already forwarded still reaches the server
/// before the close. A RST there would make the server's kernel discard what the server had not read yet,
/// so "reset after N request bytes" would deliver fewer than N (seen under load: 35 % of a photo instead
/// of the 80 % the test cut at).
fn reset(client: TcpStream, server: TcpStream) {
    let _ = client.set_zero_linger();
    drop(client);
    drop(server);
}

fn parse_head(head: &[u8]) -> (String, String, u64) {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or("");
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let len = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    (method, path, len)
}

fn find_head_end(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

async fn handle(mut client: TcpStream, sh: Arc<Shared>) {
    let _ = client.set_nodelay(true);
    let Ok(mut server) = TcpStream::connect(sh.upstream).await else {
        // The server is down: the client sees its connection closed, as with a refused connection.
        return;
    };
    let _ = server.set_nodelay(true);
    let mut parse = Parse::Head(Vec::new());
    let mut cur: Option<Current> = None;
    let (mut cbuf, mut sbuf) = (vec![0u8; 16 * 1024], vec![0u8; 16 * 1024]);
    loop {
        tokio::select! {
            r = client.read(&mut cbuf) => {
                let n = match r { Ok(0) | Err(_) => break, Ok(n) => n };
                let mut data = &cbuf[..n];
                while !data.is_empty() {
                    match &mut parse {
                        Parse::Head(acc) => {
                            acc.extend_from_slice(data);
                            data = &[];
                            let Some(end) = find_head_end(acc) else { continue };
                            let all = std::mem::take(acc);
                            let (head, rest) = all.split_at(end);
                            let (method, path, len) = parse_head(head);
                            let c = choose(&sh, &method, &path);
                            parse = Parse::Body(len);
                            if c.fate == Fate::ResetRequest && matches!(c.fault, Fault::Chaos(_)) {
                                // Chaos drop: nothing of it reaches the server.
                                reset(client, server);
                                return;
                            }
                            cur = Some(c);
                            let c = cur.as_mut().expect("set above");
                            if !c.delay.is_zero() {
                                tokio::time::sleep(c.delay).await;
                            }
                            if !forward_up(&sh, c, head, &mut server).await {
                                reset(client, server);
                                return;
                            }
                            // The rest of the chunk is body (or the next request): handled by the loop.
                            let rest = rest.to_vec();
                            if !rest.is_empty() && !feed_body(&sh, &mut parse, &mut cur, &rest, &mut server).await {
                                reset(client, server);
                                return;
                            }
                            if let Parse::Body(0) = parse {
                                finish_request(&sh, &mut cur);
                                parse = Parse::Head(Vec::new());
                            }
                        }
                        Parse::Body(_) => {
                            let chunk = data.to_vec();
                            data = &[];
                            if !feed_body(&sh, &mut parse, &mut cur, &chunk, &mut server).await {
                                reset(client, server);
                                return;
                            }
                        }
                    }
                }
            }
            r = server.read(&mut sbuf) => {
                let n = match r { Ok(0) | Err(_) => break, Ok(n) => n };
                let chunk = &sbuf[..n];
                let Some(c) = cur.as_mut() else {
                    if client.write_all(chunk).await.is_err() { break }
                    continue;
                };
                if c.resp_seen == 0 {
                    let status = std::str::from_utf8(&chunk[..chunk.len().min(12)])
                        .ok()
                        .and_then(|s| s.strip_prefix("HTTP/1.1 ").or_else(|| s.strip_prefix("HTTP/1.0 ")))
                        .and_then(|s| s.get(..3)?.parse().ok());
                    lock(&sh.log)[c.log_idx].status = status;
                    if let Fault::Latency(d) = c.fault {
                        tokio::time::sleep(d).await;
                    }
                }
                let limit = match (&c.fault, c.fate) {
                    (_, Fate::ResetResponse) if !matches!(c.fault, Fault::ResetAfterResponseBytes(_)) => Some(0),
                    (Fault::ResetAfterResponseBytes(n), _) => Some(*n),
                    _ => None,
                };
                if let Some(limit) = limit {
                    let allowed = limit.saturating_sub(c.resp_seen).min(chunk.len() as u64) as usize;
                    let _ = client.write_all(&chunk[..allowed]).await;
                    if c.resp_seen + chunk.len() as u64 >= limit.max(1) || allowed < chunk.len() {
                        lock(&sh.log)[c.log_idx].fate = Fate::ResetResponse;
                        reset(client, server);
                        return;
                    }
                    c.resp_seen += chunk.len() as u64;
                    continue;
                }
                c.resp_seen += chunk.len() as u64;
                if c.fate == Fate::Blackholed {
                    continue;
                }
                let fault = c.fault.clone();
                if write_with(&sh, &fault, chunk, &mut client).await.is_err() {
                    break;
                }
                lock(&sh.log)[c.log_idx].delivered = true;
            }
        }
    }
}

/// Decides what happens to a request whose head just arrived, and logs it.
fn choose(sh: &Shared, method: &str, path: &str) -> Current {
    let rule = lock(&sh.rule).clone();
    let applies = rule.only.matches(method, path);
    let fault = if applies { rule.fault } else { Fault::Pass };
    let mut delay = Duration::ZERO;
    let fate = match &fault {
        Fault::Pass => Fate::Passed,
        Fault::Latency(d) => {
            delay = *d;
            Fate::Delayed
        }
        Fault::Bandwidth { .. } => Fate::Throttled,
        Fault::Segments { .. } => Fate::Sliced,
        Fault::Blackhole => Fate::Blackholed,
        Fault::ResetAfterRequestBytes(_) => Fate::ResetRequest,
        Fault::ResetAfterResponseBytes(_) => Fate::ResetResponse,
        Fault::Chaos(ch) => {
            let mut rng = lock(&sh.rng);
            let x: f64 = rng.random();
            if !ch.max_delay.is_zero() && rng.random_bool(0.3) {
                delay = Duration::from_millis(rng.random_range(0..=ch.max_delay.as_millis() as u64));
            }
            if x < ch.drop_request {
                Fate::ResetRequest
            } else if x < ch.drop_request + ch.drop_response {
                Fate::ResetResponse
            } else if x < ch.drop_request + ch.drop_response + ch.duplicate {
                Fate::Duplicated
            } else if delay.is_zero() {
                Fate::Passed
            } else {
                Fate::Delayed
            }
        }
    };
    let mut log = lock(&sh.log);
    log.push(Exchange {
        method: method.to_string(),
        path: path.to_string(),
        fate,
        status: None,
        delivered: false,
        req_bytes: 0,
    });
    Current {
        log_idx: log.len() - 1,
        fault,
        fate,
        delay,
        req_sent: 0,
        resp_seen: 0,
        capture: (fate == Fate::Duplicated).then(Vec::new),
    }
}

/// Forwards request bytes under the current fate; false = the connection must be reset now.
async fn forward_up(sh: &Shared, c: &mut Current, bytes: &[u8], server: &mut TcpStream) -> bool {
    if let Some(cap) = c.capture.as_mut() {
        cap.extend_from_slice(bytes);
    }
    match c.fault {
        Fault::Blackhole => true,
        Fault::ResetAfterRequestBytes(n) => {
            let allowed = n.saturating_sub(c.req_sent).min(bytes.len() as u64) as usize;
            if server.write_all(&bytes[..allowed]).await.is_err() {
                return false;
            }
            c.req_sent += allowed as u64;
            lock(&sh.log)[c.log_idx].req_bytes = c.req_sent;
            allowed == bytes.len() && c.req_sent < n
        }
        _ => {
            c.req_sent += bytes.len() as u64;
            let fault = c.fault.clone();
            let ok = write_with(sh, &fault, bytes, server).await.is_ok();
            lock(&sh.log)[c.log_idx].req_bytes = c.req_sent;
            ok
        }
    }
}

async fn feed_body(
    sh: &Arc<Shared>,
    parse: &mut Parse,
    cur: &mut Option<Current>,
    mut data: &[u8],
    server: &mut TcpStream,
) -> bool {
    while !data.is_empty() {
        match parse {
            Parse::Body(rem) => {
                let take = (*rem).min(data.len() as u64) as usize;
                let (body, rest) = data.split_at(take);
                *rem -= take as u64;
                if let Some(c) = cur.as_mut() {
                    if !forward_up(sh, c, body, server).await {
                        return false;
                    }
                } else if server.write_all(body).await.is_err() {
                    return false;
                }
                data = rest;
                if let Parse::Body(0) = parse {
                    finish_request(sh, cur);
                    *parse = Parse::Head(Vec::new());
                }
            }
            Parse::Head(acc) => {
                // A second request in the same chunk (pipelining): not done by our client; pass it on
                // by parsing it on the next read.
                acc.extend_from_slice(data);
                return true;
            }
        }
    }
    true
}

/// The whole request went up: a duplicated one is sent once more, on its own connection.
fn finish_request(sh: &Arc<Shared>, cur: &mut Option<Current>) {
    let Some(c) = cur.as_mut() else { return };
    let Some(bytes) = c.capture.take() else { return };
    let sh = sh.clone();
    tokio::spawn(async move {
        let (method, path, _) = parse_head(&bytes[..find_head_end(&bytes).unwrap_or(bytes.len())]);
        let idx = {
            let mut log = lock(&sh.log);
            let req_bytes = bytes.len() as u64;
            log.push(Exchange { method, path, fate: Fate::Replay, status: None, delivered: false, req_bytes });
            log.len() - 1
        };
        let status = tokio::time::timeout(Duration::from_secs(10), replay(sh.upstream, &bytes)).await.ok().flatten();
        lock(&sh.log)[idx].status = status;
    });
}

/// Sends a captured request on a new connection and reads its whole answer (so the server is not
/// cut off mid-request); returns the status.
async fn replay(upstream: SocketAddr, bytes: &[u8]) -> Option<u16> {
    let mut s = TcpStream::connect(upstream).await.ok()?;
    s.write_all(bytes).await.ok()?;
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let end = loop {
        let n = s.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(e) = find_head_end(&buf) {
            break e;
        }
    };
    let (_, _, len) = parse_head(&buf[..end]);
    let status = buf.get(9..12).and_then(|s| std::str::from_utf8(s).ok()?.parse().ok());
    while ((buf.len() - end) as u64) < len {
        let n = s.read(&mut tmp).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    status
}

/// Writes under a throughput fault: throttled, sliced, or at once.
async fn write_with(sh: &Shared, fault: &Fault, bytes: &[u8], to: &mut TcpStream) -> std::io::Result<()> {
    match fault {
        Fault::Bandwidth { bytes_per_sec } => {
            let bps = (*bytes_per_sec).max(1);
            // Pieces of about 1/20 s each.
            let piece = ((bps / 20).max(1)) as usize;
            for p in bytes.chunks(piece) {
                to.write_all(p).await?;
                tokio::time::sleep(Duration::from_secs_f64(p.len() as f64 / bps as f64)).await;
            }
            Ok(())
        }
        Fault::Segments { min, max } => {
            let mut rest = bytes;
            while !rest.is_empty() {
                let n = lock(&sh.rng).random_range((*min).max(1)..=(*max).max(1)).min(rest.len());
                to.write_all(&rest[..n]).await?;
                to.flush().await?;
                rest = &rest[n..];
                tokio::task::yield_now().await;
            }
            Ok(())
        }
        _ => to.write_all(bytes).await,
    }
}
