//! Wire types of the sync protocol (see `docs/sync-protocol.md`). Devices in the field run old builds
//! for weeks, so every change here must stay readable by the previous version: add optional fields,
//! never rename or remove. Paths live in [`paths`]; bodies are JSON except photo bytes.
//!
//! **Architecture invariant:** the server and the device engine speak only these types to each other.

pub mod upload;
pub mod v1;
pub use v1::*;
