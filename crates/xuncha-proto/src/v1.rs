//! Protocol version 1.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use xuncha_domain::{
    finding::FindingFields, Action, DeviceId, DistrictId, FieldConflict, Finding, FindingId, HistoryEntry, OpId, Role,
    SubDistrictId, TeamId, UserId, UserMessage,
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
    /// `GET`: count and checksum of everything in the caller's scope ([`super::ScopeDigest`]).
    pub const DIGEST: &str = "/api/v1/sync/digest";
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
    /// `base` holds the fields as the device had them before this edit: with it the server merges field
    /// by field (only fields the device changed are applied; a field changed on both sides comes back as
    /// a conflict). Without it (builds before the merge) a stale `base_version` is refused as a whole.
    Edit {
        base_version: u64,
        fields: FindingFields,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base: Option<FindingFields>,
    },
    /// A status change, checked against the server's state machine and the user's role at the time it
    /// arrives. `base_version` is informative: the state machine, not the version, decides.
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
    /// `conflicts` lists the fields of an edit that had been changed on the server to other values since
    /// the device's base: the server kept its values and hands both back for the person to choose.
    Applied {
        version: u64,
        replayed: bool,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        conflicts: Vec<FieldConflict>,
    },
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
    /// Names what the caller may see (role, team, district). When it differs from the one a device
    /// stored, the person's team or role changed: the device downloads its scope again from cursor 0 and
    /// removes what it no longer may hold. Empty from servers before this field.
    #[serde(default)]
    pub scope: String,
}

/// `GET /api/v1/sync/digest`: what a device holding the caller's whole scope must hold, as a count and
/// a checksum over (finding id, version). A device that differs re-downloads its scope (drift repair).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeDigest {
    pub scope: String,
    pub count: u64,
    pub checksum: u64,
}

impl ScopeDigest {
    /// The digest of a set of (id, version) pairs, order-independent: both ends compute it the same way.
    pub fn of<'a>(scope: &str, items: impl IntoIterator<Item = (&'a FindingId, u64)>) -> Self {
        let (mut count, mut checksum) = (0u64, 0u64);
        for (id, version) in items {
            count += 1;
            checksum = checksum.wrapping_add(record_digest(id, version));
        }
        Self { scope: scope.to_string(), count, checksum }
    }
}

/// A 64-bit digest of one finding at one version: SHA-256 of `"<uuid>:<version>"`, first 8 bytes.
/// Summed (wrapping), so adding or removing a finding changes the sum whatever the order.
pub fn record_digest(id: &FindingId, version: u64) -> u64 {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("{id}:{version}").as_bytes());
    u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]])
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
        let r = OpResult {
            op_id: OpId::new_v7(),
            outcome: OpOutcome::Applied { version: 3, replayed: false, conflicts: vec![] },
        };
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["outcome"], "applied");
        assert!(j.get("conflicts").is_none(), "an empty list stays off the wire, as before");
        assert_eq!(serde_json::from_value::<OpResult>(j).unwrap(), r);
    }

    #[test]
    fn the_previous_versions_bodies_still_parse() {
        let old_pull = serde_json::json!({"changes": [], "cursor": 5, "has_more": false});
        assert_eq!(serde_json::from_value::<PullResponse>(old_pull).unwrap().scope, "");
        let old_edit = serde_json::json!({"type": "change_status", "base_version": 2, "action": {"action": "submit"}});
        assert!(serde_json::from_value::<OpBody>(old_edit).is_ok());
    }

    #[test]
    fn the_digest_ignores_order_and_sees_versions() {
        let (a, b) = (FindingId::new_v7(), FindingId::new_v7());
        let d1 = ScopeDigest::of("s", [(&a, 1), (&b, 2)]);
        let d2 = ScopeDigest::of("s", [(&b, 2), (&a, 1)]);
        assert_eq!(d1, d2);
        assert_ne!(d1, ScopeDigest::of("s", [(&a, 1), (&b, 3)]));
        assert_eq!(ScopeDigest::of("s", [(&a, 1)]).count, 1);
    }
}
