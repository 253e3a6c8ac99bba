//! The Xuncha sync server: sign-in, scoped push/pull of findings, content-addressed photos.
//!
//! Code map: [`app`] builds the router from an [`AppState`]; [`serve`] runs it on a listener until a
//! shutdown future resolves. `routes/` holds one file per endpoint group, [`store`] the storage trait and
//! its SQLite and PostgreSQL backends, [`apply`] the pure decisions a push makes, [`blobs`] the photo bytes, [`auth`]
//! passwords and tokens, [`error`] the single error-to-HTTP mapping, [`seed`] the demo world and
//! [`admin`] the account commands, [`fleet`] load-test accounts, [`listen`] the listening socket.
//!
//! **Invariants:** the server never trusts a device for authorization (the principal is re-read from the
//! database on each request); tokens and passwords are never logged; nothing outside `store/sqlite.rs`
//! names rusqlite, and nothing outside `store/postgres.rs` names tokio-postgres.

pub mod admin;
pub mod apply;
pub mod auth;
pub mod blobs;
pub mod blobs_s3;
pub mod config;
pub mod error;
pub mod fleet;
pub mod listen;
pub mod routes;
pub mod seed;
pub mod store;

pub use config::Config;
pub use error::AppError;

use std::future::Future;
use std::sync::Arc;

/// Everything a handler needs, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn store::ServerStore>,
    pub blobs: Arc<dyn blobs::BlobStore>,
    pub throttle: Arc<auth::LoginThrottle>,
    /// [`Config::body_idle_timeout`].
    pub body_idle_timeout: std::time::Duration,
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("could not open the database: {0}")]
    Store(#[from] store::StoreError),
    #[error("could not open the photo store: {0}")]
    Blobs(#[from] blobs::BlobError),
    #[error("server I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl AppState {
    /// Opens (creating and migrating) the database of `config` (SQLite or PostgreSQL) and its photo directory.
    pub async fn open(config: &Config) -> Result<Self, ServeError> {
        let rules = Arc::new(apply::Rules::builtin());
        let store = store::open(config, rules).await?;
        let blobs = open_blobs(config).await?;
        Ok(Self { store, blobs, throttle: Arc::default(), body_idle_timeout: config.body_idle_timeout })
    }
}

/// The photo store of `config`, chosen once at start-up: the S3 bucket when `config.s3` is set (unfinished
/// uploads then stay under `config.blobs`), else the directory `config.blobs`.
pub async fn open_blobs(config: &Config) -> Result<Arc<dyn blobs::BlobStore>, blobs::BlobError> {
    Ok(match &config.s3 {
        Some(location) => Arc::new(blobs_s3::S3BlobStore::open(location, &config.blobs).await?),
        None => Arc::new(blobs::FsBlobStore::open(&config.blobs)?),
    })
}

/// The whole HTTP application. Tests can drive it without a socket.
pub fn app(state: AppState) -> axum::Router {
    routes::router(state)
}

/// Opens the state from `config` and serves on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let state = AppState::open(&config).await?;
    serve_state(listener, state, shutdown).await
}

/// Serves an already opened state (the binary opens it before announcing its address).
pub async fn serve_state(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await?;
    Ok(())
}
