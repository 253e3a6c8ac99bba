//! Xuncha's domain: what a finding is, where it is, who may see and change it.
//!
//! **Architecture invariant:** this crate does no I/O (no files, no network, no clock, no database).
//! Everything that needs "now" takes it as an argument; built-in data (the taxonomy, the demo boundaries)
//! is compiled in with `include_str!`. A test in `tests/no_io.rs` checks the sources for forbidden names.

pub mod boundaries;
pub mod finding;
pub mod geo_point;
pub mod ids;
pub mod merge;
pub mod message;
pub mod role;
pub mod status;
pub mod taxonomy;

pub use boundaries::{Boundaries, SubDistrict};
pub use finding::{Description, Finding, FindingDraft, HistoryEntry, HistoryKind, Severity, MAX_PHOTOS};
pub use geo_point::{Accuracy, GeoPoint, Latitude, Longitude, Position, PositionSource, ACCURACY_WARNING_M};
pub use ids::{DeviceId, DistrictId, FindingId, OpId, PhotoHash, SubDistrictId, TeamId, UserId};
pub use merge::{Field, FieldConflict, Merged};
pub use message::{DomainError, UserMessage};
pub use role::{Principal, Role};
pub use status::{Action, Status};
pub use taxonomy::{Category, CategoryCode, Subcategory, Taxonomy};
