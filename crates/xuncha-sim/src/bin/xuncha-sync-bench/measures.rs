//! The measured phases against one running server: push, photos, a leader's first pull (engine and raw
//! HTTP). Many devices at once: `devices.rs`.

use crate::client::{Api, Session};
use anyhow::{bail, Result};
use std::sync::Arc;
use std::time::{Duration, Instant};
use xuncha_device::{Engine, EngineOptions, Scope};
use xuncha_domain::PhotoHash;
use xuncha_proto::{Operation, MAX_OPS_PER_PUSH};
use xuncha_sim::server_view::DEMO_PASSWORD;

/// Each client pushes its ops in batches of `MAX_OPS_PER_PUSH`, one batch after the other (as a device
/// does); the clients run at once. Returns the wall time.
pub async fn push(api: &Api, work: Vec<(Session, Vec<Operation>)>) -> Result<Duration> {
    let start = Instant::now();
    let tasks: Vec<_> = work
        .into_iter()
        .map(|(s, ops)| {
            let api = api.clone();
            tokio::spawn(async move {
                let mut ops = ops.into_iter().peekable();
                while ops.peek().is_some() {
                    let batch: Vec<Operation> = ops.by_ref().take(MAX_OPS_PER_PUSH).collect();
                    api.push(&s, batch).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(start.elapsed())
}

/// Each client uploads its share of the photos one after the other (HEAD, then PUT); the clients run at
/// once. Returns the wall time.
pub async fn photos(api: &Api, tokens: &[String], photos: Arc<Vec<(PhotoHash, Vec<u8>)>>) -> Result<Duration> {
    let start = Instant::now();
    let k = tokens.len();
    let tasks: Vec<_> = tokens
        .iter()
        .enumerate()
        .map(|(i, token)| {
            let (api, token, photos) = (api.clone(), token.clone(), photos.clone());
            tokio::spawn(async move {
                for (hash, bytes) in photos.iter().skip(i).step_by(k) {
                    api.upload_photo(&token, hash, bytes.clone()).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(start.elapsed())
}

/// A leader's first pull over plain HTTP (pages decoded into the wire types, nothing stored).
pub async fn first_pull_http(api: &Api, token: &str) -> Result<(Duration, usize, usize)> {
    let start = Instant::now();
    let (records, pages, _) = api.pull_all(token, 0).await?;
    Ok((start.elapsed(), records, pages))
}

/// A leader's first sync through a real device engine on a fresh data folder: sign in (not timed),
/// then one `sync_now` (probe, push nothing, pull every page into the device's SQLite, download the
/// photos it lacks). Returns the time and how many findings the device then lists.
pub async fn first_sync_engine(url: &str, user: &str) -> Result<(Duration, usize)> {
    let dir = tempfile::Builder::new().prefix("xuncha-bench-device-").tempdir()?;
    let options = EngineOptions {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(120),
        ..EngineOptions::default()
    };
    let engine = Engine::open_with(dir.path(), options)?;
    let s = engine.login(url, user, DEMO_PASSWORD).await?;
    if s.offline {
        bail!("{user} could only sign in offline");
    }
    let start = Instant::now();
    let st = engine.sync_now().await?;
    let took = start.elapsed();
    if let Some(e) = st.last_error {
        bail!("engine sync failed: {} / {}", e.code, e.en);
    }
    let n = engine.list_findings(None, Scope::Team).await?.len();
    Ok((took, n))
}
