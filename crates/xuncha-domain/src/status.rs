//! The lifecycle of a finding, as one pure transition function. The server applies it to every status
//! change a device sends; the device applies it to show which buttons make sense. Device clocks never
//! order anything here: the server's sequence does.
//!
//! recorded → submitted → (returned → submitted … | invalid | duplicate | approved)
//! approved/submitted → resolved_on_spot | transferred → in_handling → handled → closed | reopened → in_handling

use crate::message::DomainError;
use crate::role::Role;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Recorded,
    Submitted,
    Returned,
    Invalid,
    Duplicate,
    Approved,
    ResolvedOnSpot,
    Transferred,
    InHandling,
    Handled,
    Closed,
    Reopened,
}

pub const ALL_STATUSES: [Status; 12] = [
    Status::Recorded,
    Status::Submitted,
    Status::Returned,
    Status::Invalid,
    Status::Duplicate,
    Status::Approved,
    Status::ResolvedOnSpot,
    Status::Transferred,
    Status::InHandling,
    Status::Handled,
    Status::Closed,
    Status::Reopened,
];

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recorded => "recorded",
            Self::Submitted => "submitted",
            Self::Returned => "returned",
            Self::Invalid => "invalid",
            Self::Duplicate => "duplicate",
            Self::Approved => "approved",
            Self::ResolvedOnSpot => "resolved_on_spot",
            Self::Transferred => "transferred",
            Self::InHandling => "in_handling",
            Self::Handled => "handled",
            Self::Closed => "closed",
            Self::Reopened => "reopened",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        ALL_STATUSES.into_iter().find(|x| x.as_str() == s)
    }

    /// The author may still fix their own mistakes (before review, or when returned for correction).
    pub fn editable_by_author(self) -> bool {
        matches!(self, Self::Recorded | Self::Returned)
    }
}

/// Something a person does to a finding's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Submit,
    Return { reason: String },
    MarkInvalid { reason: String },
    MarkDuplicate { of: crate::ids::FindingId },
    Approve,
    ResolveOnSpot { note: String },
    Transfer { department: String },
    StartHandling,
    MarkHandled { note: String },
    Verify,
    Reopen { reason: String },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Submit => "submit",
            Self::Return { .. } => "return",
            Self::MarkInvalid { .. } => "mark_invalid",
            Self::MarkDuplicate { .. } => "mark_duplicate",
            Self::Approve => "approve",
            Self::ResolveOnSpot { .. } => "resolve_on_spot",
            Self::Transfer { .. } => "transfer",
            Self::StartHandling => "start_handling",
            Self::MarkHandled { .. } => "mark_handled",
            Self::Verify => "verify",
            Self::Reopen { .. } => "reopen",
        }
    }

    fn allowed_roles(&self) -> &'static [Role] {
        use Role::*;
        match self {
            Self::Submit => &[Inspector, TeamLeader],
            Self::Return { .. } | Self::MarkInvalid { .. } | Self::MarkDuplicate { .. } | Self::Approve => {
                &[TeamLeader, Admin]
            }
            Self::ResolveOnSpot { .. } | Self::Transfer { .. } => &[TeamLeader, Admin],
            Self::StartHandling | Self::MarkHandled { .. } => &[DistrictOffice, Admin],
            Self::Verify | Self::Reopen { .. } => &[DistrictOffice, TeamLeader, Admin],
        }
    }

    fn reason(&self) -> Option<&str> {
        match self {
            Self::Return { reason } | Self::MarkInvalid { reason } | Self::Reopen { reason } => Some(reason),
            Self::Transfer { department } => Some(department),
            _ => None,
        }
    }

    /// The status after this action, or why it cannot happen. Scope (may this person see the finding at
    /// all, is it their own) is checked by the caller with [`crate::Principal`]; this checks role and state.
    pub fn apply(&self, from: Status, role: Role) -> Result<Status, DomainError> {
        use Status::*;
        if !self.allowed_roles().contains(&role) {
            return Err(DomainError::NotPermitted { role: role.as_str(), action: self.name() });
        }
        if self.reason().is_some_and(|r| r.trim().is_empty()) {
            return Err(DomainError::ReasonRequired);
        }
        let to = match (self, from) {
            (Self::Submit, Recorded | Returned) => Submitted,
            (Self::Return { .. }, Submitted | Approved) => Returned,
            (Self::MarkInvalid { .. }, Submitted) => Invalid,
            (Self::MarkDuplicate { .. }, Submitted) => Duplicate,
            (Self::Approve, Submitted) => Approved,
            (Self::ResolveOnSpot { .. }, Submitted | Approved) => ResolvedOnSpot,
            (Self::Transfer { .. }, Submitted | Approved) => Transferred,
            (Self::StartHandling, Transferred | Reopened) => InHandling,
            (Self::MarkHandled { .. }, InHandling) => Handled,
            (Self::Verify, Handled) => Closed,
            (Self::Reopen { .. }, Handled | Closed) => Reopened,
            _ => return Err(DomainError::TransitionNotAllowed { from: from.as_str(), action: self.name() }),
        };
        Ok(to)
    }
}

/// Names of statuses (code, zh-CN, English), used in messages and exports. The app shows the same names
/// (`ui/src/lib/i18n.ts`, `status_name.*`); a test in xuncha-tidy keeps the two equal.
pub const STATUS_NAMES: [(&str, &str, &str); 12] = [
    ("recorded", "已记录", "Recorded"),
    ("submitted", "已提交", "Submitted"),
    ("returned", "已退回修改", "Returned for correction"),
    ("invalid", "无效", "Invalid"),
    ("duplicate", "重复", "Duplicate"),
    ("approved", "已通过", "Approved"),
    ("resolved_on_spot", "已协同解决", "Resolved on the spot"),
    ("transferred", "已移交", "Transferred"),
    ("in_handling", "处置中", "In handling"),
    ("handled", "已处置", "Handled"),
    ("closed", "已结案", "Closed"),
    ("reopened", "已重开", "Reopened"),
];

/// Chinese name of a status code.
pub fn status_zh(s: &str) -> &'static str {
    STATUS_NAMES.iter().find(|(c, ..)| *c == s).map_or("未知状态", |(_, zh, _)| zh)
}

/// English name of a status code.
pub fn status_en(s: &str) -> &'static str {
    STATUS_NAMES.iter().find(|(c, ..)| *c == s).map_or("Unknown status", |(.., en)| en)
}

/// Chinese names for actions.
pub fn action_zh(a: &str) -> &'static str {
    match a {
        "submit" => "提交",
        "return" => "退回修改",
        "mark_invalid" => "标记无效",
        "mark_duplicate" => "标记重复",
        "approve" => "审核通过",
        "resolve_on_spot" => "现场解决",
        "transfer" => "移交部门",
        "start_handling" => "开始处置",
        "mark_handled" => "处置完成",
        "verify" => "核查销号",
        "reopen" => "重新打开",
        "edit" => "修改",
        _ => "未知操作",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::*;

    #[test]
    fn inspector_submits_recorded_and_returned_only() {
        assert_eq!(Action::Submit.apply(Status::Recorded, Inspector), Ok(Status::Submitted));
        assert_eq!(Action::Submit.apply(Status::Returned, Inspector), Ok(Status::Submitted));
        assert!(matches!(
            Action::Submit.apply(Status::Approved, Inspector),
            Err(DomainError::TransitionNotAllowed { .. })
        ));
    }

    #[test]
    fn inspector_cannot_approve_and_leader_needs_a_reason_to_return() {
        assert!(matches!(Action::Approve.apply(Status::Submitted, Inspector), Err(DomainError::NotPermitted { .. })));
        assert_eq!(
            Action::Return { reason: "  ".into() }.apply(Status::Submitted, TeamLeader),
            Err(DomainError::ReasonRequired)
        );
    }

    #[test]
    fn the_whole_transfer_loop_closes() {
        let mut s = Status::Recorded;
        let steps: Vec<(Action, Role)> = vec![
            (Action::Submit, Inspector),
            (Action::Approve, TeamLeader),
            (Action::Transfer { department: "区城管局".into() }, TeamLeader),
            (Action::StartHandling, DistrictOffice),
            (Action::MarkHandled { note: "已清理".into() }, DistrictOffice),
            (Action::Reopen { reason: "复查仍有堆物".into() }, DistrictOffice),
            (Action::StartHandling, DistrictOffice),
            (Action::MarkHandled { note: "再次清理".into() }, DistrictOffice),
            (Action::Verify, DistrictOffice),
        ];
        for (a, r) in steps {
            s = a.apply(s, r).unwrap_or_else(|e| panic!("{a:?} from {s:?}: {e}"));
        }
        assert_eq!(s, Status::Closed);
    }

    #[test]
    fn no_action_leaves_a_terminal_state_except_reopen() {
        for a in [Action::Submit, Action::Approve, Action::StartHandling, Action::Verify] {
            for r in [Inspector, TeamLeader, DistrictOffice, Admin] {
                assert!(a.apply(Status::Invalid, r).is_err());
                assert!(a.apply(Status::Duplicate, r).is_err());
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for s in ALL_STATUSES {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_ne!(status_zh(s.as_str()), "未知状态");
        }
    }
}
