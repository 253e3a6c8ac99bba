//! What the UI receives: the view types of `docs/ipc.md`, field for field (snake_case JSON).
//! Change a name here only together with the contract document and the UI.

use serde::{Deserialize, Serialize};
use xuncha_domain::UserMessage;
pub use xuncha_proto::{DistrictRef, TeamRef, UserProfile};

/// `user` has exactly the shape of the server's profile, so it is reused rather than copied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub user: UserProfile,
    pub server_url: String,
    pub offline: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppState {
    pub session: Option<Session>,
    pub device_id: String,
    pub last_server_url: Option<String>,
    pub sync: SyncStatus,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SyncStatus {
    /// The last probe reached a real Xuncha server (right service, right server_id).
    pub online: bool,
    pub syncing: bool,
    pub pending_ops: u64,
    pub pending_photos: u64,
    pub rejected_ops: u64,
    /// Fields of this person's edits that were changed on the server meanwhile, waiting for a choice.
    pub conflicts: u64,
    /// RFC 3339, last fully successful sync.
    pub last_sync_at: Option<String>,
    pub last_error: Option<UserMessage>,
    pub all_synced: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExifGps {
    pub lat: f64,
    pub lon: f64,
    pub altitude_m: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoInfo {
    pub hash: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub gps: Option<ExifGps>,
    pub taken_at: Option<String>,
    pub orientation: u16,
    pub make: Option<String>,
    pub model: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// Never confirmed by the server.
    Local,
    /// Known to the server, with local changes not yet confirmed.
    Pending,
    Synced,
    /// The server refused a change; the reason is in `rejection`.
    Rejected,
    /// The server applied an edit but kept its own value for a field changed there meanwhile: both
    /// values are in `conflicts`, waiting for the person to choose.
    Conflict,
}

impl SyncState {
    pub fn parse(s: &str) -> Self {
        match s {
            "local" => Self::Local,
            "pending" => Self::Pending,
            "rejected" => Self::Rejected,
            "conflict" => Self::Conflict,
            _ => Self::Synced,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingSummary {
    pub id: String,
    pub category: String,
    pub subcategory: String,
    pub description: String,
    pub status: String,
    pub observed_at: String,
    pub author_name: String,
    /// First photo's hash.
    pub thumb: Option<String>,
    pub photo_count: u32,
    pub has_position: bool,
    pub imprecise: bool,
    pub sync_state: SyncState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionView {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: Option<f64>,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoRef {
    pub hash: String,
    /// The file is on this phone.
    pub present: bool,
    /// The server confirmed it has these bytes.
    pub uploaded: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryView {
    pub at: String,
    pub actor: String,
    pub kind: String,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingView {
    #[serde(flatten)]
    pub summary: FindingSummary,
    pub author: String,
    pub team: String,
    pub team_name: String,
    pub address: String,
    pub severity: String,
    pub position: Option<PositionView>,
    pub photos: Vec<PhotoRef>,
    /// zh name when the server located it.
    pub sub_district: Option<String>,
    pub version: u64,
    pub received_at: Option<String>,
    pub rejection: Option<UserMessage>,
    pub conflicts: Vec<ConflictView>,
    pub history: Vec<HistoryView>,
}

/// One conflicting field: the value this person set (`yours`) and the server's (`theirs`), as JSON of
/// the field's type (`category`: `{category, subcategory}`; `position`: a position or null; `photos`:
/// hashes; the others: strings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictView {
    /// `category`, `description`, `address`, `severity`, `position`, `photos` or `observed_at`.
    pub field: String,
    pub yours: serde_json::Value,
    pub theirs: serde_json::Value,
    /// When the server handed it back (RFC 3339, device clock: display only).
    pub at: String,
}

/// `resolve_conflict` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Keep {
    /// Send this person's value again, based on the server's current version.
    Mine,
    /// Accept the server's value.
    Theirs,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    pub id: String,
    pub error: UserMessage,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SubmitReport {
    pub submitted: Vec<String>,
    pub refused: Vec<Refusal>,
}

/// `list_findings` scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Mine,
    Team,
}

/// `photo` size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotoSize {
    Thumb,
    Full,
}
