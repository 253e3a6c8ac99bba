//! The device engine of Xuncha (巡查): the local SQLite store, the photo files, the outbox and the
//! sync client. Knows nothing of Tauri: the app's commands are one-line adapters onto [`Engine`],
//! whose methods are exactly the commands of `docs/ipc.md`, returning the types of [`views`].
//!
//! Guarantees: a saved finding (row + history + outbox entry) is one SQLite transaction in WAL mode
//! with `synchronous=FULL`; its photo files are durable before that transaction commits; nothing is
//! marked sent unless a real Xuncha server said so in its protocol's JSON.

pub mod engine;
pub mod error;
pub mod files;
mod password;
pub mod store;
pub mod sync;
pub mod views;

pub use engine::{Engine, EngineOptions};
pub use error::DeviceError;
pub use views::*;
