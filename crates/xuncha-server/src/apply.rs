//! What a pushed operation does to a finding: pure decisions, no I/O, shared by every storage backend.
//! The backend loads the current finding, calls [`decide`] and writes the [`Decision`] in the same
//! transaction; the device's claims (author, team, time) are never taken over: the principal and the
//! server's clock are.

use chrono::{DateTime, Utc};
use std::collections::HashSet;
use xuncha_domain::finding::FindingFields;
use xuncha_domain::{
    Boundaries, DistrictId, DomainError, FieldConflict, Finding, HistoryEntry, HistoryKind, Principal, SubDistrictId,
    Taxonomy, UserMessage, MAX_PHOTOS,
};
use xuncha_proto::{OpBody, OpOutcome, Operation};

/// The server's rule tables: the category list and the sub-district boundaries.
#[derive(Debug, Clone)]
pub struct Rules {
    pub taxonomy: Taxonomy,
    pub boundaries: Boundaries,
}

impl Rules {
    pub fn builtin() -> Self {
        Self { taxonomy: Taxonomy::builtin(), boundaries: Boundaries::demo() }
    }
}

/// A finding as the store holds it, for deciding.
#[derive(Debug, Clone, PartialEq)]
pub struct Current {
    pub finding: Finding,
    pub version: u64,
    pub district: Option<DistrictId>,
    pub sub_district: Option<SubDistrictId>,
}

/// The new state to write, with its history line.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub finding: Finding,
    pub version: u64,
    pub district: Option<DistrictId>,
    pub sub_district: Option<SubDistrictId>,
    pub history: HistoryEntry,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Insert(Change),
    /// A new version; `conflicts` are fields of a stale edit the server kept its own value for.
    Update(Change, Vec<FieldConflict>),
    /// Applied, but nothing to write: the edit changed nothing, or every field it changed conflicted.
    Unchanged {
        version: u64,
        conflicts: Vec<FieldConflict>,
    },
    Reject(UserMessage),
}

impl Decision {
    /// What the backend must write in the op's transaction: the change and whether it is a new finding.
    pub fn to_write(&self) -> Option<(&Change, bool)> {
        match self {
            Decision::Insert(c) => Some((c, true)),
            Decision::Update(c, _) => Some((c, false)),
            Decision::Unchanged { .. } | Decision::Reject(_) => None,
        }
    }

    /// The answer for the device, stored with the op id so a retry gets it again.
    pub fn into_outcome(self) -> OpOutcome {
        match self {
            Decision::Insert(c) => OpOutcome::Applied { version: c.version, replayed: false, conflicts: vec![] },
            Decision::Update(c, conflicts) => OpOutcome::Applied { version: c.version, replayed: false, conflicts },
            Decision::Unchanged { version, conflicts } => OpOutcome::Applied { version, replayed: false, conflicts },
            Decision::Reject(error) => OpOutcome::Rejected { error },
        }
    }
}

/// The stored answer to an op id seen before, as a retry receives it: same effect, marked replayed.
pub fn replayed(stored: OpOutcome) -> OpOutcome {
    match stored {
        OpOutcome::Applied { version, conflicts, .. } => OpOutcome::Applied { version, replayed: true, conflicts },
        rejected => rejected,
    }
}

/// Decides one operation. `current` is the stored finding named by `op.finding_id`, if any.
pub fn decide(
    rules: &Rules,
    principal: &Principal,
    current: Option<&Current>,
    op: &Operation,
    now: DateTime<Utc>,
) -> Decision {
    match decide_inner(rules, principal, current, op, now) {
        Ok(d) => d,
        Err(msg) => Decision::Reject(msg),
    }
}

fn decide_inner(
    rules: &Rules,
    principal: &Principal,
    current: Option<&Current>,
    op: &Operation,
    now: DateTime<Utc>,
) -> Result<Decision, UserMessage> {
    let entry = |kind| HistoryEntry { at: now, actor: principal.user, kind };
    match &op.body {
        OpBody::Create { fields } => {
            if current.is_some() {
                return Err(messages::finding_exists());
            }
            // Author and team are the authenticated user's, whatever the device wrote.
            let team = principal.team.ok_or_else(messages::no_team)?;
            check_fields(rules, fields).map_err(|e| e.user_message())?;
            let (district, sub_district) = place(rules, fields, principal.district);
            let finding = Finding::new(op.finding_id, principal.user, team, fields.clone());
            Ok(Decision::Insert(Change {
                finding,
                version: 1,
                district,
                sub_district,
                history: entry(HistoryKind::Created),
            }))
        }
        OpBody::Edit { base_version, fields, base } => {
            let cur = visible(principal, current)?;
            check_fields(rules, fields).map_err(|e| e.user_message())?;
            let (target, conflicts) = match base {
                // Field by field: only what this device changed, and never over someone else's change.
                Some(base) => {
                    let m = xuncha_domain::merge::merge(base, fields, &cur.finding.fields);
                    (m.fields, m.conflicts)
                }
                // A build without the merge: the whole edit stands on the version it saw.
                None => {
                    check_version(*base_version, cur.version)?;
                    (fields.clone(), vec![])
                }
            };
            // Permission first, even for an edit that changes nothing: the answer must not depend on it.
            let mut finding = cur.finding.clone();
            finding.edit(principal.user, target.clone()).map_err(|e| e.user_message())?;
            if target == cur.finding.fields {
                return Ok(Decision::Unchanged { version: cur.version, conflicts });
            }
            check_fields(rules, &target).map_err(|e| e.user_message())?;
            // A moved point may fall in another sub-district; without one, keep the district it had.
            let (district, sub_district) = place(rules, &target, cur.district);
            Ok(Decision::Update(
                Change {
                    finding,
                    version: cur.version + 1,
                    district,
                    sub_district,
                    history: entry(HistoryKind::Edited),
                },
                conflicts,
            ))
        }
        // No version check: the state machine decides from the status the finding has when the op
        // arrives (two leaders acting on one finding: the second gets "not allowed from …", shown to them).
        OpBody::ChangeStatus { base_version: _, action } => {
            let cur = visible(principal, current)?;
            let from = cur.finding.status;
            let to = action.apply(from, principal.role).map_err(|e| e.user_message())?;
            if matches!(action, xuncha_domain::Action::Submit) {
                if cur.finding.author != principal.user {
                    return Err(DomainError::NotAuthor.user_message());
                }
                cur.finding.check_submittable().map_err(|e| e.user_message())?;
            }
            let mut finding = cur.finding.clone();
            finding.status = to;
            Ok(Decision::Update(
                Change {
                    finding,
                    version: cur.version + 1,
                    district: cur.district,
                    sub_district: cur.sub_district,
                    history: entry(HistoryKind::StatusChanged { from, to, action: action.clone() }),
                },
                vec![],
            ))
        }
    }
}

/// The finding, if it exists and the principal may see it. A finding the principal may not see is
/// answered exactly like a missing one, so ids cannot be probed.
fn visible<'a>(principal: &Principal, current: Option<&'a Current>) -> Result<&'a Current, UserMessage> {
    match current {
        Some(c) if principal.can_see(c.finding.author, c.finding.team, c.district) => Ok(c),
        _ => Err(messages::unknown_finding()),
    }
}

/// For edits without a `base` only. `base_version` 0 means "based on my own create that had not synced
/// yet" (see `OpBody::Edit`): that create, applied earlier in the same outbox order, produced version 1.
fn check_version(base_version: u64, current: u64) -> Result<(), UserMessage> {
    let base = base_version.max(1);
    if base == current {
        Ok(())
    } else {
        Err(messages::conflict(base_version, current))
    }
}

/// Checks what serde cannot: the taxonomy pair, the photo count, no photo twice.
pub fn check_fields(rules: &Rules, fields: &FindingFields) -> Result<(), DomainError> {
    rules.taxonomy.check(&fields.category, &fields.subcategory)?;
    if fields.photos.len() > MAX_PHOTOS {
        return Err(DomainError::TooManyPhotos(MAX_PHOTOS));
    }
    let mut seen = HashSet::new();
    if !fields.photos.iter().all(|p| seen.insert(*p)) {
        return Err(DomainError::DuplicatePhoto);
    }
    Ok(())
}

/// District and sub-district of a finding: from its point when it lies in a known sub-district,
/// else the fallback district (the team's) with no sub-district.
fn place(
    rules: &Rules,
    fields: &FindingFields,
    fallback: Option<DistrictId>,
) -> (Option<DistrictId>, Option<SubDistrictId>) {
    match fields.position.and_then(|p| rules.boundaries.locate(&p.point)) {
        Some(s) => (Some(s.district), Some(s.id)),
        None => (fallback, None),
    }
}

/// Rejection messages that are about sync rather than the domain.
pub mod messages {
    use xuncha_domain::UserMessage;

    pub fn conflict(base: u64, current: u64) -> UserMessage {
        UserMessage::new(
            "sync.conflict",
            format!("这条问题已在服务器上被更改（服务器版本 {current}，本机修改基于版本 {base}）。请先同步查看最新内容，再重新操作。"),
            format!(
                "This finding was changed on the server (server version {current}, your change was based on version {base}). Sync to see the latest and try again."
            ),
        )
    }

    pub fn unknown_finding() -> UserMessage {
        UserMessage::new(
            "sync.unknown_finding",
            "服务器上没有这条问题，或您无权查看。",
            "The server has no such finding, or you may not see it.",
        )
    }

    pub fn finding_exists() -> UserMessage {
        UserMessage::new(
            "sync.finding_exists",
            "服务器上已有相同编号的问题，本次新建未保存。",
            "A finding with this id already exists on the server; this new finding was not saved.",
        )
    }

    pub fn no_team() -> UserMessage {
        UserMessage::new(
            "auth.no_team",
            "您的账号不属于任何巡查小组，不能记录问题。请联系管理员。",
            "Your account is not in an inspection team, so it cannot record findings. Contact the administrator.",
        )
    }

    pub fn op_id_reused() -> UserMessage {
        UserMessage::new(
            "sync.op_id_reused",
            "该操作编号已被其他账号使用，操作未执行。",
            "This operation id was already used by another account; the operation was not applied.",
        )
    }

    pub fn sequence_reused() -> UserMessage {
        UserMessage::new(
            "sync.sequence_reused",
            "本设备的操作序号与已上传的另一操作重复，操作未执行。请更新应用后重试。",
            "This device already sent a different operation with the same sequence number; it was not applied. Update the app and retry.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xuncha_domain::finding::RawPosition;
    use xuncha_domain::{
        Action, FindingDraft, FindingId, OpId, PhotoHash, PositionSource, Role, Severity, Status, TeamId, UserId,
    };

    fn fields(rules: &Rules, photo: bool) -> FindingFields {
        FindingDraft {
            category: "fire_safety".into(),
            subcategory: "blocked_fire_lane".into(),
            description: "消防通道堵塞".into(),
            address: String::new(),
            severity: Severity::Normal,
            position: Some(RawPosition {
                lat: 30.26,
                lon: 120.165,
                accuracy_m: Some(5.0),
                source: PositionSource::DeviceGps,
            }),
            photos: if photo { vec![PhotoHash::from_bytes([7; 32])] } else { vec![] },
            observed_at: "2026-11-20T09:30:00+08:00".parse().unwrap(),
        }
        .validate(&rules.taxonomy)
        .unwrap()
    }

    fn op(body: OpBody) -> Operation {
        Operation { op_id: OpId::new_v7(), device_seq: 1, finding_id: FindingId::new_v7(), body }
    }

    fn inspector(team: TeamId) -> Principal {
        Principal { user: UserId::new_v7(), role: Role::Inspector, team: Some(team), district: None }
    }

    fn created(rules: &Rules, p: &Principal, photo: bool) -> Current {
        let d = decide(rules, p, None, &op(OpBody::Create { fields: fields(rules, photo) }), Utc::now());
        match d {
            Decision::Insert(c) => {
                Current { finding: c.finding, version: c.version, district: c.district, sub_district: c.sub_district }
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn create_takes_author_and_team_from_the_principal_and_locates_the_point() {
        let rules = Rules::builtin();
        let p = inspector(TeamId::new_v7());
        let Decision::Insert(c) =
            decide(&rules, &p, None, &op(OpBody::Create { fields: fields(&rules, true) }), Utc::now())
        else {
            panic!()
        };
        assert_eq!((c.finding.author, Some(c.finding.team), c.version), (p.user, p.team, 1));
        let hubin = rules.boundaries.sub_districts.iter().find(|s| s.code == "hubin").unwrap();
        assert_eq!(c.sub_district, Some(hubin.id));
        assert_eq!(c.district, Some(hubin.district));
    }

    #[test]
    fn a_user_without_team_cannot_create() {
        let rules = Rules::builtin();
        let admin = Principal { user: UserId::new_v7(), role: Role::Admin, team: None, district: None };
        let d = decide(&rules, &admin, None, &op(OpBody::Create { fields: fields(&rules, true) }), Utc::now());
        assert!(matches!(d, Decision::Reject(m) if m.code == "auth.no_team"));
    }

    #[test]
    fn stale_base_version_is_a_conflict_and_zero_means_own_create() {
        let rules = Rules::builtin();
        let p = inspector(TeamId::new_v7());
        let cur = created(&rules, &p, true);
        let mut changed = fields(&rules, true);
        changed.address = "改过的地址".into();
        let edit = |base| op(OpBody::Edit { base_version: base, fields: changed.clone(), base: None });
        assert!(
            matches!(decide(&rules, &p, Some(&cur), &edit(0), Utc::now()), Decision::Update(c, _) if c.version == 2)
        );
        assert!(matches!(decide(&rules, &p, Some(&cur), &edit(1), Utc::now()), Decision::Update(..)));
        assert!(
            matches!(decide(&rules, &p, Some(&cur), &edit(5), Utc::now()), Decision::Reject(m) if m.code == "sync.conflict")
        );
    }

    #[test]
    fn inspector_cannot_approve_and_other_teams_cannot_see() {
        let rules = Rules::builtin();
        let team = TeamId::new_v7();
        let p = inspector(team);
        let mut cur = created(&rules, &p, true);
        cur.finding.status = Status::Submitted;
        let approve = op(OpBody::ChangeStatus { base_version: 1, action: Action::Approve });
        assert!(
            matches!(decide(&rules, &p, Some(&cur), &approve, Utc::now()), Decision::Reject(m) if m.code == "auth.not_permitted")
        );
        let stranger = Principal { role: Role::TeamLeader, ..inspector(TeamId::new_v7()) };
        assert!(
            matches!(decide(&rules, &stranger, Some(&cur), &approve, Utc::now()), Decision::Reject(m) if m.code == "sync.unknown_finding")
        );
        let leader = Principal { role: Role::TeamLeader, ..inspector(team) };
        assert!(
            matches!(decide(&rules, &leader, Some(&cur), &approve, Utc::now()), Decision::Update(c, _) if c.finding.status == Status::Approved)
        );
    }

    #[test]
    fn a_stale_edit_merges_per_field_and_hands_back_the_conflicting_one() {
        let rules = Rules::builtin();
        let p = inspector(TeamId::new_v7());
        let mut cur = created(&rules, &p, true);
        let base = cur.finding.fields.clone();
        // Meanwhile on the server (the same inspector's other phone): description and severity changed.
        cur.finding.fields.description = "服务器描述".to_string().try_into().unwrap();
        cur.finding.fields.severity = Severity::High;
        cur.version = 3;
        let mut yours = base.clone();
        yours.description = "本机描述".to_string().try_into().unwrap();
        yours.address = "本机补充的地址".into();
        let e = op(OpBody::Edit { base_version: 1, fields: yours, base: Some(base.clone()) });
        let Decision::Update(c, conflicts) = decide(&rules, &p, Some(&cur), &e, Utc::now()) else { panic!() };
        assert_eq!(c.version, 4);
        assert_eq!(c.finding.fields.address, "本机补充的地址", "a field only this side changed is applied");
        assert_eq!(c.finding.fields.severity, Severity::High, "a field only the server changed stays");
        assert_eq!(c.finding.fields.description.as_str(), "服务器描述", "the server keeps its value…");
        assert_eq!(conflicts.len(), 1, "…and hands both back");
        assert_eq!(conflicts[0].yours, serde_json::Value::from("本机描述"));
        // The same edit changing only the conflicting field writes nothing but still answers.
        let mut only_desc = base.clone();
        only_desc.description = "本机描述".to_string().try_into().unwrap();
        let e = op(OpBody::Edit { base_version: 1, fields: only_desc, base: Some(base) });
        assert!(matches!(
            decide(&rules, &p, Some(&cur), &e, Utc::now()),
            Decision::Unchanged { version: 3, conflicts } if conflicts.len() == 1
        ));
    }

    #[test]
    fn a_status_change_on_a_stale_version_passes_the_state_machine_instead() {
        let rules = Rules::builtin();
        let team = TeamId::new_v7();
        let mut cur = created(&rules, &inspector(team), true);
        cur.finding.status = Status::Submitted;
        cur.version = 5;
        let leader = Principal { role: Role::TeamLeader, ..inspector(team) };
        let approve = op(OpBody::ChangeStatus { base_version: 2, action: Action::Approve });
        assert!(
            matches!(decide(&rules, &leader, Some(&cur), &approve, Utc::now()), Decision::Update(c, _) if c.version == 6)
        );
        cur.finding.status = Status::Approved;
        assert!(matches!(
            decide(&rules, &leader, Some(&cur), &approve, Utc::now()),
            Decision::Reject(m) if m.code == "status.transition_not_allowed"
        ));
    }

    #[test]
    fn submit_needs_the_author_and_a_photo() {
        let rules = Rules::builtin();
        let team = TeamId::new_v7();
        let p = inspector(team);
        let cur = created(&rules, &p, false);
        let submit = op(OpBody::ChangeStatus { base_version: 1, action: Action::Submit });
        assert!(
            matches!(decide(&rules, &p, Some(&cur), &submit, Utc::now()), Decision::Reject(m) if m.code == "finding.photo_required")
        );
        let cur = created(&rules, &p, true);
        let teammate = inspector(team);
        assert!(
            matches!(decide(&rules, &teammate, Some(&cur), &submit, Utc::now()), Decision::Reject(m) if m.code == "auth.not_author")
        );
        assert!(matches!(decide(&rules, &p, Some(&cur), &submit, Utc::now()), Decision::Update(..)));
    }
}
