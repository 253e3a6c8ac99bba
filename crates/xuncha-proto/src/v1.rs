//! Protocol version 1.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use xuncha_domain::{
    finding::FindingFields, Action, DeviceId, DistrictId, Finding, FindingId, HistoryEntry, OpId, Role, SubDistrictId,
    TeamId, UserId, UserMessage,
};

pub const PROTOCOL_VERSION: u32 = 1;
/// What `/api/v1/health` must say in `service`. A captive portal or any other server answering 200
/// does not say it, so the device never counts such an answer as "reached the server".
pub const SERVICE_NAME: &str = "xuncha";
/// Longest batch a device sends in one push.
pub const MAX_OPS_PER_PUSH: usize = 200;
/// Largest photo the server accepts (the device stores ≤2048-px JPEGs, far smaller).
pub const MAX_PHOTO_BYTES: usize = 8 * 1024 * 1024;
/// Largest page a pull returns.
pub const MAX_PULL_LIMIT: u32 = 500;

pub mod paths {
    pub const HEALTH: &str = "/api/v1/health";
    pub const LOGIN: &str = "/api/v1/auth/login";
    pub const LOGOUT: &str = "/api/v1/auth/logout";
    pub const ME: &str = "/api/v1/me";
    pub const PUSH: &str = "/api/v1/sync/push";
    pub const PULL: &str = "/api/v1/sync/pull";
    /// `PUT`, `HEAD` and `GET` on `/api/v1/photos/{sha256}` (64 lowercase hex digits).
    pub const PHOTOS: &str = "/api/v1/photos";

    pub fn photo(hash: &xuncha_domain::PhotoHash) -> String {
        format!("{PHOTOS}/{hash}")
    }
}

/// `GET /api/v1/health`, unauthenticated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub service: String,
    pub protocol: u32,
    /// Stable per server database; a device remembers it and refuses to sync its data into another server.
    pub server_id: Uuid,
    pub version: String,
}

/// `POST /api/v1/auth/login`.
#[derive(Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    pub device_id: DeviceId,
    #[serde(default)]
    pub device_name: String,
}

impl std::fmt::Debug for LoginRequest {
    // Never print the password, even in a debug log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("device_id", &self.device_id)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamRef {
    pub id: TeamId,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistrictRef {
    pub id: DistrictId,
    pub zh: String,
    pub en: String,
}

/// Who the server says you are. The device shows it and uses it for the UI only; the server
/// re-derives all of it from the token on every request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserProfile {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub team: Option<TeamRef>,
    pub district: Option<DistrictRef>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct LoginResponse {
    /// Bearer token; the server keeps only its hash and can revoke it.
    pub token: String,
    pub user: UserProfile,
    pub server_id: Uuid,
}

impl std::fmt::Debug for LoginResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginResponse").field("token", &"<redacted>").field("user", &self.user).finish()
    }
}

/// One change made on a device, written to its outbox in the same transaction as the change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// UUIDv7 made on the device; the server applies each op_id at most once.
    pub op_id: OpId,
    /// 1, 2, 3 … per device, in the order the device made them.
    pub device_seq: u64,
    pub finding_id: FindingId,
    pub body: OpBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OpBody {
    /// A new finding. Author and team are the authenticated user's, whatever the device thinks.
    Create { fields: FindingFields },
    /// New field values, based on the version the device last saw (0 = its own unsynced create).
    Edit { base_version: u64, fields: FindingFields },
    /// A status change, checked against the server's state machine and the user's role.
    ChangeStatus { base_version: u64, action: Action },
}

/// `POST /api/v1/sync/push`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushRequest {
    pub device_id: DeviceId,
    pub ops: Vec<Operation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushResponse {
    /// One result per op, in request order.
    pub results: Vec<OpResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpResult {
    pub op_id: OpId,
    #[serde(flatten)]
    pub outcome: OpOutcome,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum OpOutcome {
    /// Committed. `replayed` is true when this op_id had already been applied (a retry): same effect, once.
    Applied { version: u64, replayed: bool },
    /// Refused for good (not permitted, invalid transition, invalid data). The device keeps the op and
    /// shows the reason; it is not retried.
    Rejected { error: UserMessage },
}

/// `GET /api/v1/sync/pull?cursor=N&limit=M`: changes after the cursor, within the user's scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullQuery {
    pub cursor: u64,
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullResponse {
    pub changes: Vec<FindingRecord>,
    /// Store this after applying `changes`, in the same local transaction.
    pub cursor: u64,
    pub has_more: bool,
}

/// A finding as the server holds it, with what only the server knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingRecord {
    pub finding: Finding,
    /// Bumped on every accepted change to this finding.
    pub version: u64,
    /// Position of the latest change in the server's change order.
    pub server_seq: u64,
    /// When the server first received the finding.
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub author_name: String,
    pub team_name: String,
    pub district: Option<DistrictId>,
    pub sub_district: Option<SubDistrictId>,
    pub history: Vec<HistoryEntry>,
}

/// Body of every non-2xx answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: UserMessage,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_not_in_debug_output() {
        let r = LoginRequest {
            username: "li".into(),
            password: "hunter2-secret".into(),
            device_id: DeviceId::new_v7(),
            device_name: String::new(),
        };
        assert!(!format!("{r:?}").contains("hunter2"));
    }

    #[test]
    fn outcomes_are_tagged() {
        let r = OpResult { op_id: OpId::new_v7(), outcome: OpOutcome::Applied { version: 3, replayed: false } };
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["outcome"], "applied");
        assert_eq!(serde_json::from_value::<OpResult>(j).unwrap(), r);
    }
}
