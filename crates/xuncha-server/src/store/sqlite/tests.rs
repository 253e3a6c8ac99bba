use super::*;
use crate::store::{NewDistrict, NewUser, Team};
use xuncha_domain::{Action, Boundaries, GeoPoint, OpId, Position, PositionSource, Severity, TeamId};
use xuncha_proto::OpBody;

#[test]
fn migrations_are_valid() {
    migrations().validate().unwrap();
}

struct World {
    store: SqliteStore,
    _dir: tempfile::TempDir,
    people: Vec<Principal>,
}

fn fields(point: Option<GeoPoint>) -> FindingFields {
    FindingFields {
        category: "living_environment".to_string().try_into().unwrap(),
        subcategory: "piled_goods".to_string().try_into().unwrap(),
        description: "楼道堆物".to_string().try_into().unwrap(),
        address: String::new(),
        severity: Severity::Normal,
        position: point.map(|point| Position { point, accuracy_m: None, source: PositionSource::Map }),
        photos: vec![PhotoHash::from_bytes([3; 32])],
        observed_at: "2026-11-20T10:00:00+08:00".parse().unwrap(),
    }
}

/// Two districts, two teams in the first and one in the second, an inspector per team, a leader of
/// team 0, a district office per district and an admin.
async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.sqlite3"), Arc::new(Rules::builtin())).await.unwrap();
    let b = Boundaries::demo();
    let now = Utc::now();
    // The districts of the rules are mirrored into the tables on open.
    assert!(store.district_by_code(&b.districts[0].code).await.unwrap().is_some());
    let (d0, d1) = (b.districts[0].id, b.districts[1].id);
    let teams: Vec<Team> = [(d0, "甲组"), (d0, "乙组"), (d1, "丙组")]
        .into_iter()
        .map(|(district, name)| Team { id: TeamId::new_v7(), name: name.into(), district, sub_district: None })
        .collect();
    for t in &teams {
        store.add_team(t.clone()).await.unwrap();
    }
    let mut people = Vec::new();
    let specs: Vec<(Role, Option<TeamId>, Option<DistrictId>)> = vec![
        (Role::Inspector, Some(teams[0].id), None),
        (Role::Inspector, Some(teams[1].id), None),
        (Role::Inspector, Some(teams[2].id), None),
        (Role::TeamLeader, Some(teams[0].id), None),
        (Role::DistrictOffice, None, Some(d0)),
        (Role::DistrictOffice, None, Some(d1)),
        (Role::Admin, None, None),
    ];
    for (i, (role, team, district)) in specs.into_iter().enumerate() {
        let id = UserId::new_v7();
        let u = NewUser {
            id,
            username: format!("u{i}"),
            display_name: format!("用户{i}"),
            role,
            team,
            district,
            password_hash: "x".into(),
        };
        store.add_user(u, now).await.unwrap();
        people.push(store.principal_of(id).await.unwrap().unwrap());
    }
    World { store, _dir: dir, people }
}

fn create(seq: u64) -> Operation {
    Operation {
        op_id: OpId::new_v7(),
        device_seq: seq,
        finding_id: FindingId::new_v7(),
        body: OpBody::Create { fields: fields(None) },
    }
}

#[tokio::test]
async fn principal_of_takes_the_district_from_the_team() {
    let w = world().await;
    assert!(w.people[0].district.is_some());
    assert_eq!(w.people[0].district, w.people[4].district);
    assert_eq!(w.people[6].district, None);
}

#[tokio::test]
async fn an_op_applies_once_and_a_rejection_is_remembered() {
    let w = world().await;
    let (p, dev) = (&w.people[0], DeviceId::new_v7());
    let op = create(1);
    let r = w.store.push(p, dev, vec![op.clone(), op.clone()], Utc::now()).await.unwrap();
    assert_eq!(r[0].outcome, OpOutcome::Applied { version: 1, replayed: false });
    assert_eq!(r[1].outcome, OpOutcome::Applied { version: 1, replayed: true });
    assert_eq!(w.store.pull(p, 0, 100).await.unwrap().changes.len(), 1);

    let approve = Operation {
        op_id: OpId::new_v7(),
        device_seq: 2,
        finding_id: op.finding_id,
        body: OpBody::ChangeStatus { base_version: 1, action: Action::Approve },
    };
    let a = w.store.push(p, dev, vec![approve.clone()], Utc::now()).await.unwrap();
    assert!(matches!(&a[0].outcome, OpOutcome::Rejected { error } if error.code == "auth.not_permitted"));
    let b = w.store.push(p, dev, vec![approve], Utc::now()).await.unwrap();
    assert_eq!(a, b);

    // Another op in a used (device, seq) slot is refused; another user replaying an op_id learns nothing.
    let clash = Operation { device_seq: 2, ..create(0) };
    let c = w.store.push(p, dev, vec![clash], Utc::now()).await.unwrap();
    assert!(matches!(&c[0].outcome, OpOutcome::Rejected { error } if error.code == "sync.sequence_reused"));
    let d = w.store.push(&w.people[1], DeviceId::new_v7(), vec![op], Utc::now()).await.unwrap();
    assert!(matches!(&d[0].outcome, OpOutcome::Rejected { error } if error.code == "sync.op_id_reused"));
}

#[tokio::test]
async fn pull_scope_matches_can_see_for_every_role() {
    let w = world().await;
    let hubin = Boundaries::demo().sub_districts[0].clone();
    let in_hubin = GeoPoint::new(30.27, 120.175).unwrap();
    assert_eq!(Boundaries::demo().locate(&in_hubin).map(|s| s.id), Some(hubin.id));
    // Each of the three inspectors and the leader records findings, with and without a position.
    for (k, author) in [0, 1, 2, 3].into_iter().enumerate() {
        let p = &w.people[author];
        let dev = DeviceId::new_v7();
        let ops = vec![
            create(1),
            Operation {
                op_id: OpId::new_v7(),
                device_seq: 2,
                finding_id: FindingId::new_v7(),
                body: OpBody::Create { fields: fields(Some(in_hubin)) },
            },
        ];
        let r = w.store.push(p, dev, ops, Utc::now()).await.unwrap();
        assert!(r.iter().all(|r| matches!(r.outcome, OpOutcome::Applied { .. })), "{k}: {r:?}");
    }
    let admin = &w.people[6];
    let all = w.store.pull(admin, 0, 500).await.unwrap().changes;
    assert_eq!(all.len(), 8);
    for p in &w.people {
        let got: Vec<_> = w.store.pull(p, 0, 500).await.unwrap().changes.into_iter().map(|r| r.finding.id).collect();
        let want: Vec<_> = all
            .iter()
            .filter(|r| p.can_see(r.finding.author, r.finding.team, r.district))
            .map(|r| r.finding.id)
            .collect();
        assert_eq!(got, want, "{:?}", p.role);
    }
}

#[tokio::test]
async fn pages_are_contiguous_and_updates_move_to_the_end() {
    let w = world().await;
    let (p, dev) = (&w.people[0], DeviceId::new_v7());
    let ops: Vec<_> = (1..=5).map(create).collect();
    w.store.push(p, dev, ops.clone(), Utc::now()).await.unwrap();
    let page = w.store.pull(p, 0, 2).await.unwrap();
    assert_eq!((page.changes.len(), page.has_more), (2, true));
    let rest = w.store.pull(p, page.cursor, 10).await.unwrap();
    assert_eq!((rest.changes.len(), rest.has_more), (3, false));
    let empty = w.store.pull(p, rest.cursor, 10).await.unwrap();
    assert_eq!((empty.changes.len(), empty.cursor, empty.has_more), (0, rest.cursor, false));

    // Editing the first finding gives it a new, higher server_seq: it comes after the cursor.
    let edit = Operation {
        op_id: OpId::new_v7(),
        device_seq: 6,
        finding_id: ops[0].finding_id,
        body: OpBody::Edit { base_version: 1, fields: fields(None) },
    };
    w.store.push(p, dev, vec![edit], Utc::now()).await.unwrap();
    let after = w.store.pull(p, rest.cursor, 10).await.unwrap();
    assert_eq!(after.changes.len(), 1);
    assert_eq!((after.changes[0].finding.id, after.changes[0].version), (ops[0].finding_id, 2));
    assert_eq!(after.changes[0].history.len(), 2);
}

#[tokio::test]
async fn sessions_and_revocation() {
    let w = world().await;
    let p = &w.people[0];
    let (_, hash) = crate::auth::new_token();
    let dev = DeviceId::new_v7();
    w.store.insert_token(p.user, dev, "phone", hash, Utc::now()).await.unwrap();
    let s = w.store.session(hash).await.unwrap().unwrap();
    assert_eq!((&s.principal, s.device), (p, dev));
    assert_eq!(w.store.revoke_user_tokens("u0", Utc::now()).await.unwrap(), Some(1));
    assert!(w.store.session(hash).await.unwrap().is_none());
    assert_eq!(w.store.revoke_user_tokens("nobody", Utc::now()).await.unwrap(), None);
}

#[tokio::test]
async fn a_photo_is_visible_to_its_uploader_and_to_whoever_sees_its_finding() {
    let w = world().await;
    let h = PhotoHash::from_bytes([3; 32]);
    let (author, teammate_leader, other_team) = (&w.people[0], &w.people[3], &w.people[1]);
    assert_eq!(w.store.record_photo_upload(author, h, 10, Utc::now()).await.unwrap(), PhotoRecorded::New);
    assert_eq!(w.store.record_photo_upload(author, h, 10, Utc::now()).await.unwrap(), PhotoRecorded::Known);
    assert!(w.store.photo_visible(author, h).await.unwrap());
    assert!(!w.store.photo_visible(teammate_leader, h).await.unwrap());
    w.store.push(author, DeviceId::new_v7(), vec![create(1)], Utc::now()).await.unwrap();
    assert!(w.store.photo_visible(teammate_leader, h).await.unwrap());
    assert!(!w.store.photo_visible(other_team, h).await.unwrap());
    assert!(w.store.photo_visible(&w.people[4], h).await.unwrap(), "the district office of the team's district");
    assert!(!w.store.photo_visible(&w.people[5], h).await.unwrap());
}

#[tokio::test]
async fn duplicate_names_are_already_exists() {
    let w = world().await;
    let b = Boundaries::demo();
    let d = &b.districts[0];
    let e = w
        .store
        .add_district(NewDistrict { id: DistrictId::new_v7(), code: d.code.clone(), zh: "x".into(), en: "x".into() })
        .await;
    assert!(matches!(e, Err(StoreError::AlreadyExists(_))), "{e:?}");
}
