//! `xuncha-sim`: many simulated phones (real device engines, each with its own SQLite store) against a
//! Xuncha server, a fault-injecting TCP proxy to put between them, and the Jepsen-style set check
//! (created / acked / on server / lost / duplicated / unexpected) after a final sync.
//!
//! The `xuncha-sim` binary runs [`sim::run`] against a server URL; the tests in `tests/` run the real
//! server process and add the faults: lost acknowledgements, server crashes, network faults, devices
//! killed mid-sync, and a property test with a chaotic proxy.

pub mod proxy;
pub mod server_view;
pub mod sim;

pub use proxy::{Fault, FaultProxy, Match};
pub use server_view::ServerView;
pub use sim::{Device, Report, SimConfig};

/// Why a simulation could not run or check (not a failed check: that is a [`Report`]).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("device engine: {0}")]
    Device(#[from] xuncha_device::DeviceError),
    #[error("server: {0}")]
    Server(String),
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    #[error("file: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid value: {0}")]
    Domain(#[from] xuncha_domain::DomainError),
    #[error("no JPEG photos in {0}")]
    NoPhotos(std::path::PathBuf),
    #[error("devices did not reach quiescence within {0:?}")]
    NotSettled(std::time::Duration),
    #[error("device task: {0}")]
    Task(String),
}
