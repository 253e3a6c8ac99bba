//! Start-up: where the data lives, the engine, the sync loop and its events.

use std::path::PathBuf;
use tauri::{Emitter, Manager};
use xuncha_device::Engine;

/// Logs go to stderr; `RUST_LOG` overrides. Passwords and tokens are never logged (the engine skips them).
pub fn init_tracing() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,xuncha_device=debug".into());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// WebKitGTK ≥ 2.42 shows a blank window on some GPUs and under Xvfb with the DMA-BUF renderer.
pub fn work_around_webkit_blank_window() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_DMABUF_RENDERER").is_none() {
        // Called first thing in `run`, before any other thread exists, so nothing reads the
        // environment concurrently.
        std::env::set_var("WEBKIT_DISABLE_DMABUF_RENDERER", "1");
    }
}

/// The data folder: `XUNCHA_DATA_DIR` (tests, the demo) or the platform's app data folder.
fn data_dir(app: &tauri::App) -> Result<PathBuf, Box<dyn std::error::Error>> {
    match std::env::var_os("XUNCHA_DATA_DIR") {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => Ok(app.path().app_data_dir()?),
    }
}

pub fn open_engine(app: &mut tauri::App) -> Result<(), Box<dyn std::error::Error>> {
    let dir = data_dir(app)?;
    tracing::info!(data_dir = %dir.display(), "opening the device store");
    let engine = Engine::open(&dir)?;
    app.manage(engine.clone());

    // Push every sync-status change to the UI so the status bar is never stale.
    let handle = app.handle().clone();
    let mut rx = engine.subscribe();
    tauri::async_runtime::spawn(async move {
        while rx.changed().await.is_ok() {
            let status = rx.borrow_and_update().clone();
            let _ = handle.emit("sync-status", status);
        }
    });

    tauri::async_runtime::spawn(demo_autologin(engine.clone()));
    // The loop uses `tokio::spawn`, so start it from inside Tauri's runtime.
    tauri::async_runtime::spawn(async move { engine.spawn_sync_loop() });
    Ok(())
}

/// The demo script starts the app signed in (`XUNCHA_AUTOLOGIN=user:password`, `XUNCHA_SERVER_URL`).
/// Only when no one is signed in yet, so it never replaces a real session.
async fn demo_autologin(engine: Engine) {
    let (Ok(spec), Ok(url)) = (std::env::var("XUNCHA_AUTOLOGIN"), std::env::var("XUNCHA_SERVER_URL")) else {
        return;
    };
    let Some((user, password)) = spec.split_once(':') else { return };
    match engine.app_state().await {
        Ok(state) if state.session.is_some() => {}
        _ => {
            if let Err(e) = engine.login(&url, user, password).await {
                tracing::warn!(code = %e.user_message().code, "demo sign-in failed");
            }
        }
    }
}
