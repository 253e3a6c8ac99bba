//! What the server needs to start. The binary fills it from flags and `XUNCHA_*` environment variables.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Config {
    /// The SQLite database file (created and migrated on start).
    pub db: PathBuf,
    /// The directory for photo bytes.
    pub blobs: PathBuf,
}

impl Config {
    pub const DEFAULT_DB: &'static str = "./xuncha-server.sqlite3";
    pub const DEFAULT_BLOBS: &'static str = "./xuncha-blobs";
    pub const DEFAULT_LISTEN: &'static str = "127.0.0.1:8600";
}
