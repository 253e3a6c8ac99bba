//! The storage conformance stories: what every `ServerStore` backend must do, written once against the
//! trait (Atuin's `tests-database`). Each `story_*` takes a freshly opened, empty store; [`stories!`]
//! turns them into one `#[tokio::test]` per story for a backend, given an async `open()` returning
//! [`Opened`]. `tests/store_conformance.rs` runs them on SQLite and on PostgreSQL.
#![allow(dead_code)]

use chrono::Utc;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use xuncha_domain::finding::FindingFields;
use xuncha_domain::{
    Action, Boundaries, DeviceId, DistrictId, FindingId, GeoPoint, OpId, PhotoHash, Position, PositionSource,
    Principal, Role, Severity, Status, TeamId, UserId,
};
use xuncha_proto::{OpBody, OpOutcome, Operation};
use xuncha_server::store::{NewDistrict, NewUser, PhotoRecorded, ServerStore, StoreError, Team, TokenHash};

pub type Store = Arc<dyn ServerStore>;

/// A store and whatever must outlive it (a temp dir, a test database that is dropped afterwards).
pub struct Opened {
    pub store: Store,
    pub keep: Box<dyn std::any::Any + Send>,
}

/// One test per story for the backend that `$open` (an async fn returning [`Opened`]) opens.
#[macro_export]
macro_rules! stories {
    ($open:path) => {
        $crate::stories!(@each $open;
            sessions_and_revocation,
            an_op_applies_once_and_a_rejection_is_remembered,
            edits_and_status_changes_with_replays_and_conflicts,
            pull_scope_matches_can_see_for_every_role,
            pages_are_contiguous_without_gaps_or_repeats,
            a_photo_is_visible_to_its_uploader_and_to_whoever_sees_its_finding,
            duplicate_names_are_already_exists,
            concurrent_duplicates_apply_once,
            text_round_trips_and_names_ignore_case,
            scope_versions_moves_and_field_merges
        );
    };
    (@each $open:path; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let opened = $open().await;
                $crate::conformance::$name(opened.store.clone()).await;
                drop(opened);
            }
        )*
    };
}

pub fn fields(point: Option<GeoPoint>) -> FindingFields {
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

/// Two districts, two teams in the first and one in the second, and these people (index: who):
/// 0 inspector of team 0, 1 inspector of team 1, 2 inspector of team 2 (second district), 3 leader of
/// team 0, 4 district office of the first district, 5 of the second, 6 admin. Usernames are `u{i}`.
pub struct World {
    pub store: Store,
    pub people: Vec<Principal>,
    pub teams: Vec<Team>,
}

pub async fn world(store: Store) -> World {
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
    assert_eq!(store.user_count().await.unwrap(), 7);
    // The district of an inspector is their team's.
    assert_eq!(people[0].district, Some(d0));
    assert_eq!(people[6].district, None);
    World { store, people, teams }
}

pub fn create(seq: u64) -> Operation {
    Operation {
        op_id: OpId::new_v7(),
        device_seq: seq,
        finding_id: FindingId::new_v7(),
        body: OpBody::Create { fields: fields(None) },
    }
}

fn op(seq: u64, finding_id: FindingId, body: OpBody) -> Operation {
    Operation { op_id: OpId::new_v7(), device_seq: seq, finding_id, body }
}

fn code(o: &OpOutcome) -> &str {
    match o {
        OpOutcome::Rejected { error } => &error.code,
        OpOutcome::Applied { .. } => "applied",
    }
}

fn token(byte: u8) -> TokenHash {
    let mut t = [byte; 32];
    t[0] = rand_byte();
    TokenHash(t)
}

fn rand_byte() -> u8 {
    (uuid::Uuid::now_v7().as_u128() & 0xff) as u8
}

pub async fn sessions_and_revocation(store: Store) {
    let w = world(store).await;
    let p = &w.people[0];
    let (t1, t2, t3) = (token(1), token(2), token(3));
    let (dev1, dev2) = (DeviceId::new_v7(), DeviceId::new_v7());
    w.store.insert_token(p.user, dev1, "phone", t1, Utc::now()).await.unwrap();
    w.store.insert_token(p.user, dev2, "tablet", t2, Utc::now()).await.unwrap();
    w.store.insert_token(w.people[1].user, dev1, "other", t3, Utc::now()).await.unwrap();
    let s = w.store.session(t1).await.unwrap().unwrap();
    assert_eq!((&s.principal, s.device), (p, dev1));
    assert_eq!(w.store.session(t2).await.unwrap().unwrap().device, dev2);
    assert!(w.store.session(token(9)).await.unwrap().is_none(), "an unknown token has no session");

    // Sign-out revokes one token; the admin tool revokes all of a user's, and no one else's.
    w.store.revoke_token(t2, Utc::now()).await.unwrap();
    assert!(w.store.session(t2).await.unwrap().is_none());
    w.store.revoke_token(t2, Utc::now()).await.unwrap();
    assert_eq!(w.store.revoke_user_tokens("u0", Utc::now()).await.unwrap(), Some(1));
    assert!(w.store.session(t1).await.unwrap().is_none());
    assert!(w.store.session(t3).await.unwrap().is_some());
    assert_eq!(w.store.revoke_user_tokens("u0", Utc::now()).await.unwrap(), Some(0));
    assert_eq!(w.store.revoke_user_tokens("nobody", Utc::now()).await.unwrap(), None);

    // Credentials and profile come from the tables.
    let c = w.store.credentials("u0").await.unwrap().unwrap();
    assert_eq!((c.user, c.password_hash.as_str()), (p.user, "x"));
    assert!(w.store.credentials("nobody").await.unwrap().is_none());
    let prof = w.store.profile(p).await.unwrap();
    assert_eq!((prof.username.as_str(), prof.role), ("u0", Role::Inspector));
    assert_eq!(prof.team.map(|t| t.name), Some("甲组".to_string()));
    assert_eq!(prof.district.map(|d| d.id), p.district);
    let admin = w.store.profile(&w.people[6]).await.unwrap();
    assert!(admin.team.is_none() && admin.district.is_none());
    let office = w.store.profile(&w.people[5]).await.unwrap();
    assert_eq!(office.district.map(|d| d.id), w.people[5].district);

    // The server id is stable.
    assert_eq!(w.store.server_id().await.unwrap(), w.store.server_id().await.unwrap());
}

pub async fn an_op_applies_once_and_a_rejection_is_remembered(store: Store) {
    let w = world(store).await;
    let (p, dev) = (&w.people[0], DeviceId::new_v7());
    let op0 = create(1);
    let r = w.store.push(p, dev, vec![op0.clone(), op0.clone()], Utc::now()).await.unwrap();
    assert_eq!(r[0].outcome, OpOutcome::Applied { version: 1, replayed: false, conflicts: vec![] });
    assert_eq!(r[1].outcome, OpOutcome::Applied { version: 1, replayed: true, conflicts: vec![] });
    assert_eq!(w.store.pull(p, 0, 100).await.unwrap().changes.len(), 1);

    let approve = op(2, op0.finding_id, OpBody::ChangeStatus { base_version: 1, action: Action::Approve });
    let a = w.store.push(p, dev, vec![approve.clone()], Utc::now()).await.unwrap();
    assert_eq!(code(&a[0].outcome), "auth.not_permitted");
    let b = w.store.push(p, dev, vec![approve], Utc::now()).await.unwrap();
    assert_eq!(a, b, "a rejection is remembered and answered again");

    // Another op in a used (device, seq) slot is refused; another user replaying an op_id learns nothing.
    let clash = Operation { device_seq: 2, ..create(0) };
    let c = w.store.push(p, dev, vec![clash.clone()], Utc::now()).await.unwrap();
    assert_eq!(code(&c[0].outcome), "sync.sequence_reused");
    let d = w.store.push(&w.people[1], DeviceId::new_v7(), vec![op0.clone()], Utc::now()).await.unwrap();
    assert_eq!(code(&d[0].outcome), "sync.op_id_reused");
    // The clash was not recorded: the same op in a free slot of another device applies.
    let e = w.store.push(p, DeviceId::new_v7(), vec![clash], Utc::now()).await.unwrap();
    assert_eq!(e[0].outcome, OpOutcome::Applied { version: 1, replayed: false, conflicts: vec![] });
    // A create for an existing id is refused (and that answer is kept too).
    let again = op(3, op0.finding_id, OpBody::Create { fields: fields(None) });
    let f = w.store.push(p, dev, vec![again.clone()], Utc::now()).await.unwrap();
    assert_eq!(code(&f[0].outcome), "sync.finding_exists");
    assert_eq!(w.store.push(p, dev, vec![again], Utc::now()).await.unwrap(), f);

    // The author and team are the principal's; only the two creates exist.
    let all = w.store.pull(&w.people[6], 0, 100).await.unwrap().changes;
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|r| r.finding.author == p.user && Some(r.finding.team) == p.team));
    assert!(all.iter().all(|r| r.author_name == "用户0" && r.team_name == "甲组"));
}

pub async fn edits_and_status_changes_with_replays_and_conflicts(store: Store) {
    let w = world(store).await;
    let (author, leader, stranger) = (&w.people[0], &w.people[3], &w.people[1]);
    let dev = DeviceId::new_v7();
    let c = create(1);
    let id = c.finding_id;
    // Edit based on the unsynced create (base 0), then a stale edit on version 1.
    let mut moved = fields(Some(GeoPoint::new(30.27, 120.175).unwrap()));
    moved.description = "楼道堆物，已拍照".to_string().try_into().unwrap();
    let edit = op(2, id, OpBody::Edit { base_version: 0, fields: moved.clone(), base: None });
    let stale = op(3, id, OpBody::Edit { base_version: 1, fields: fields(None), base: None });
    let submit = op(4, id, OpBody::ChangeStatus { base_version: 2, action: Action::Submit });
    let r = w.store.push(author, dev, vec![c, edit.clone(), stale, submit.clone()], Utc::now()).await.unwrap();
    let got: Vec<&str> = r.iter().map(|r| code(&r.outcome)).collect();
    assert_eq!(got, ["applied", "applied", "sync.conflict", "applied"]);
    assert_eq!(r[3].outcome, OpOutcome::Applied { version: 3, replayed: false, conflicts: vec![] });

    // A replay of the edit answers what it answered then, not the current version.
    let again = w.store.push(author, dev, vec![edit, submit], Utc::now()).await.unwrap();
    assert_eq!(again[0].outcome, OpOutcome::Applied { version: 2, replayed: true, conflicts: vec![] });
    assert_eq!(again[1].outcome, OpOutcome::Applied { version: 3, replayed: true, conflicts: vec![] });

    // A stranger cannot see it to change it; the inspector cannot approve; the leader can.
    let approve = |seq| op(seq, id, OpBody::ChangeStatus { base_version: 3, action: Action::Approve });
    let s = w.store.push(stranger, DeviceId::new_v7(), vec![approve(1)], Utc::now()).await.unwrap();
    assert_eq!(code(&s[0].outcome), "sync.unknown_finding");
    let i = w.store.push(author, dev, vec![approve(5)], Utc::now()).await.unwrap();
    assert_eq!(code(&i[0].outcome), "auth.not_permitted");
    let l = w.store.push(leader, DeviceId::new_v7(), vec![approve(1)], Utc::now()).await.unwrap();
    assert_eq!(l[0].outcome, OpOutcome::Applied { version: 4, replayed: false, conflicts: vec![] });

    let rec = w.store.pull(leader, 0, 10).await.unwrap().changes.pop().unwrap();
    assert_eq!((rec.finding.id, rec.version, rec.finding.status), (id, 4, Status::Approved));
    assert_eq!(rec.finding.fields, moved, "the edit's fields are stored whole");
    assert_eq!(rec.history.len(), 4, "created, edited, submitted, approved: {:?}", rec.history);
    assert_eq!(rec.history[3].actor, leader.user);
    // The moved point lies in 湖滨街道: the server located it.
    let hubin = &Boundaries::demo().sub_districts[0];
    assert_eq!((rec.district, rec.sub_district), (Some(hubin.district), Some(hubin.id)));
    assert!(rec.updated_at >= rec.received_at);
}

pub async fn pull_scope_matches_can_see_for_every_role(store: Store) {
    let w = world(store).await;
    let hubin = Boundaries::demo().sub_districts[0].clone();
    let in_hubin = GeoPoint::new(30.27, 120.175).unwrap();
    assert_eq!(Boundaries::demo().locate(&in_hubin).map(|s| s.id), Some(hubin.id));
    // Each of the three inspectors and the leader records findings, with and without a position.
    for (k, author) in [0, 1, 2, 3].into_iter().enumerate() {
        let p = &w.people[author];
        let dev = DeviceId::new_v7();
        let ops = vec![create(1), op(2, FindingId::new_v7(), OpBody::Create { fields: fields(Some(in_hubin)) })];
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
    // A principal without a team (as a token could give after a move) sees only their own.
    let teamless = Principal { team: None, ..w.people[0].clone() };
    let own: Vec<_> = w.store.pull(&teamless, 0, 500).await.unwrap().changes;
    assert!(own.iter().all(|r| r.finding.author == teamless.user) && own.len() == 2);
}

pub async fn pages_are_contiguous_without_gaps_or_repeats(store: Store) {
    let w = world(store).await;
    let mut devs: HashMap<usize, (DeviceId, u64)> = HashMap::new();
    let mut ids = Vec::new();
    // 30 findings by four authors in turn, then edits of every third: updates move to the end.
    for i in 0..30 {
        let who = [0, 1, 2, 3][i % 4];
        let (dev, seq) = devs.entry(who).or_insert((DeviceId::new_v7(), 0));
        *seq += 1;
        let c = create(*seq);
        ids.push((who, c.finding_id));
        let r = w.store.push(&w.people[who], *dev, vec![c], Utc::now()).await.unwrap();
        assert!(matches!(r[0].outcome, OpOutcome::Applied { .. }));
    }
    for (who, id) in ids.iter().step_by(3) {
        let (dev, seq) = devs.get_mut(who).unwrap();
        *seq += 1;
        let mut changed = fields(None);
        changed.address = "补充的地址".into();
        let e = op(*seq, *id, OpBody::Edit { base_version: 1, fields: changed, base: None });
        let r = w.store.push(&w.people[*who], *dev, vec![e], Utc::now()).await.unwrap();
        assert_eq!(r[0].outcome, OpOutcome::Applied { version: 2, replayed: false, conflicts: vec![] });
    }
    for p in &w.people {
        let whole = w.store.pull(p, 0, 1000).await.unwrap();
        assert!(!whole.has_more);
        for limit in [1, 4, 7] {
            let (mut cursor, mut paged, mut pages) = (0, Vec::new(), 0);
            loop {
                let page = w.store.pull(p, cursor, limit).await.unwrap();
                assert!(page.changes.len() <= limit as usize);
                assert!(page.cursor >= cursor, "the cursor never goes back");
                paged.extend(page.changes);
                cursor = page.cursor;
                pages += 1;
                if !page.has_more {
                    break;
                }
            }
            assert_eq!(paged, whole.changes, "{:?} limit {limit}", p.role);
            assert!(pages <= whole.changes.len() / limit as usize + 1);
            let empty = w.store.pull(p, cursor, limit).await.unwrap();
            assert_eq!((empty.changes.len(), empty.cursor, empty.has_more), (0, cursor, false));
        }
        let seqs: Vec<u64> = whole.changes.iter().map(|r| r.server_seq).collect();
        assert!(seqs.windows(2).all(|s| s[0] < s[1]), "ordered by server_seq: {seqs:?}");
        let distinct: HashSet<FindingId> = whole.changes.iter().map(|r| r.finding.id).collect();
        assert_eq!(distinct.len(), whole.changes.len(), "each finding once, at its latest change");
    }
    // The admin sees the 10 edited ones last, at version 2.
    let all = w.store.pull(&w.people[6], 0, 1000).await.unwrap().changes;
    assert_eq!(all.len(), 30);
    assert!(all[20..].iter().all(|r| r.version == 2) && all[..20].iter().all(|r| r.version == 1));
    // A cursor taken before the edits gets exactly the edited findings.
    let before_edits = all[19].server_seq;
    let after = w.store.pull(&w.people[6], before_edits, 1000).await.unwrap().changes;
    let edited: Vec<FindingId> = ids.iter().step_by(3).map(|(_, id)| *id).collect();
    assert_eq!(after.iter().map(|r| r.finding.id).collect::<Vec<_>>(), edited);
}

pub async fn a_photo_is_visible_to_its_uploader_and_to_whoever_sees_its_finding(store: Store) {
    let w = world(store).await;
    let h = PhotoHash::from_bytes([3; 32]);
    let (author, teammate_leader, other_team) = (&w.people[0], &w.people[3], &w.people[1]);
    assert_eq!(w.store.record_photo_upload(author, h, 10, Utc::now()).await.unwrap(), PhotoRecorded::New);
    assert_eq!(w.store.record_photo_upload(author, h, 10, Utc::now()).await.unwrap(), PhotoRecorded::Known);
    assert_eq!(w.store.record_photo_upload(other_team, h, 10, Utc::now()).await.unwrap(), PhotoRecorded::Known);
    assert!(w.store.photo_visible(author, h).await.unwrap());
    assert!(w.store.photo_visible(other_team, h).await.unwrap(), "the other uploader");
    assert!(!w.store.photo_visible(teammate_leader, h).await.unwrap());
    assert!(!w.store.photo_visible(&w.people[6], h).await.unwrap(), "no finding shows it yet");
    w.store.push(author, DeviceId::new_v7(), vec![create(1)], Utc::now()).await.unwrap();
    assert!(w.store.photo_visible(teammate_leader, h).await.unwrap());
    assert!(!w.store.photo_visible(&w.people[2], h).await.unwrap());
    assert!(w.store.photo_visible(&w.people[4], h).await.unwrap(), "the district office of the team's district");
    assert!(!w.store.photo_visible(&w.people[5], h).await.unwrap());
    assert!(w.store.photo_visible(&w.people[6], h).await.unwrap());
    assert!(!w.store.photo_visible(&w.people[6], PhotoHash::from_bytes([4; 32])).await.unwrap());
}

pub async fn duplicate_names_are_already_exists(store: Store) {
    let w = world(store).await;
    let b = Boundaries::demo();
    let d = &b.districts[0];
    let e = w
        .store
        .add_district(NewDistrict { id: DistrictId::new_v7(), code: d.code.clone(), zh: "x".into(), en: "x".into() })
        .await;
    assert!(matches!(e, Err(StoreError::AlreadyExists(_))), "{e:?}");
    let t = Team { id: TeamId::new_v7(), ..w.teams[0].clone() };
    assert!(matches!(w.store.add_team(t).await, Err(StoreError::AlreadyExists(_))));
    let u = NewUser {
        id: UserId::new_v7(),
        username: "U0".into(),
        display_name: String::new(),
        role: Role::Admin,
        team: None,
        district: None,
        password_hash: "x".into(),
    };
    let e = w.store.add_user(u, Utc::now()).await;
    assert!(matches!(e, Err(StoreError::AlreadyExists(_))), "user names ignore case: {e:?}");
    assert_eq!(w.store.team_by_name("甲组").await.unwrap(), Some(w.teams[0].clone()));
    assert_eq!(w.store.team_by_name("无此组").await.unwrap(), None);
    assert_eq!(w.store.district_by_code(&d.code).await.unwrap(), Some(d.id));
    assert_eq!(w.store.district_by_code("nowhere").await.unwrap(), None);
}

/// The same op sent many times at once applies once; edits racing on one version: one wins.
pub async fn concurrent_duplicates_apply_once(store: Store) {
    let w = Arc::new(world(store).await);
    let dev = DeviceId::new_v7();
    let c = create(1);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (w, c) = (w.clone(), c.clone());
            tokio::spawn(async move { w.store.push(&w.people[0], dev, vec![c], Utc::now()).await.unwrap() })
        })
        .collect();
    let mut fresh = 0;
    for t in tasks {
        match t.await.unwrap()[0].outcome {
            OpOutcome::Applied { version: 1, replayed, .. } => fresh += usize::from(!replayed),
            ref o => panic!("{o:?}"),
        }
    }
    assert_eq!(fresh, 1, "exactly one push applied it");

    // Eight different edits, all based on version 1, from eight devices of the author.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (w, id) = (w.clone(), c.finding_id);
            tokio::spawn(async move {
                let mut f = fields(None);
                f.address = format!("第 {i} 版");
                let e = op(1, id, OpBody::Edit { base_version: 1, fields: f, base: None });
                w.store.push(&w.people[0], DeviceId::new_v7(), vec![e], Utc::now()).await.unwrap()
            })
        })
        .collect();
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(code(&t.await.unwrap()[0].outcome).to_string());
    }
    codes.sort();
    assert_eq!(codes.iter().filter(|c| *c == "applied").count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| *c == "sync.conflict").count(), 7, "{codes:?}");

    // Creates of one finding id by different ops: one finding, one refusal each for the others.
    let id = FindingId::new_v7();
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let w = w.clone();
            tokio::spawn(async move {
                let c = op(1, id, OpBody::Create { fields: fields(None) });
                w.store.push(&w.people[0], DeviceId::new_v7(), vec![c], Utc::now()).await.unwrap()
            })
        })
        .collect();
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(code(&t.await.unwrap()[0].outcome).to_string());
    }
    assert_eq!(codes.iter().filter(|c| *c == "applied").count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| *c == "sync.finding_exists").count(), 5, "{codes:?}");
    let all = w.store.pull(&w.people[6], 0, 100).await.unwrap().changes;
    assert_eq!(all.len(), 2);
    assert_eq!(all.iter().find(|r| r.finding.id == c.finding_id).unwrap().history.len(), 2);
}

/// Text the device may legally send comes back byte for byte: NUL, emoji, CJK; names ignore case.
pub async fn text_round_trips_and_names_ignore_case(store: Store) {
    let w = world(store).await;
    let p = &w.people[0];
    let mut f = fields(None);
    f.description = "NUL\u{0} 😀 消防通道\t\"引号\" \\ 'x'".to_string().try_into().unwrap();
    f.address = "\u{0}".into();
    let c = Operation { body: OpBody::Create { fields: f.clone() }, ..create(1) };
    let r = w.store.push(p, DeviceId::new_v7(), vec![c], Utc::now()).await.unwrap();
    assert_eq!(r[0].outcome, OpOutcome::Applied { version: 1, replayed: false, conflicts: vec![] });
    let rec = w.store.pull(p, 0, 10).await.unwrap().changes.pop().unwrap();
    assert_eq!(rec.finding.fields, f);

    let t = token(7);
    w.store.insert_token(p.user, DeviceId::new_v7(), "NUL\u{0}手机", t, Utc::now()).await.unwrap();
    assert!(w.store.session(t).await.unwrap().is_some());
    assert_eq!(w.store.credentials("U0").await.unwrap().map(|c| c.user), Some(p.user));
    assert!(w.store.credentials("u0\u{0}").await.unwrap().is_none());
    assert_eq!(w.store.revoke_user_tokens("U0", Utc::now()).await.unwrap(), Some(1));
    assert_eq!(w.store.revoke_user_tokens("u\u{0}", Utc::now()).await.unwrap(), None);
}

/// The digest's input equals the pull's set for every role; a move changes the principal, the scope
/// name and the set at once; a stale edit with a base merges per field and hands back the conflict.
pub async fn scope_versions_moves_and_field_merges(store: Store) {
    use xuncha_server::store::scope_key;
    let w = world(store).await;
    for author in [0, 1, 2, 3] {
        let r = w.store.push(&w.people[author], DeviceId::new_v7(), vec![create(1), create(2)], Utc::now()).await;
        assert!(r.unwrap().iter().all(|r| matches!(r.outcome, OpOutcome::Applied { .. })));
    }
    for p in &w.people {
        let page = w.store.pull(p, 0, 500).await.unwrap();
        assert_eq!(page.scope, scope_key(p));
        let mut pulled: Vec<_> = page.changes.iter().map(|r| (r.finding.id, r.version)).collect();
        let mut versions = w.store.scope_versions(p).await.unwrap();
        pulled.sort();
        versions.sort();
        assert_eq!(pulled, versions, "{:?}", p.role);
    }

    // Inspector 1 moves to team 0: their principal, scope name and visible set follow.
    let before = w.people[1].clone();
    let moved = w.store.set_user_scope("u1", Role::Inspector, Some(w.teams[0].id), None).await.unwrap();
    assert_eq!(moved, Some(before.user));
    let after = w.store.principal_of(before.user).await.unwrap().unwrap();
    assert_eq!(after.team, Some(w.teams[0].id));
    assert_ne!(scope_key(&after), scope_key(&before));
    let seen: HashSet<_> = w.store.scope_versions(&after).await.unwrap().into_iter().map(|(id, _)| id).collect();
    let leader0: HashSet<_> =
        w.store.scope_versions(&w.people[3]).await.unwrap().into_iter().map(|(id, _)| id).collect();
    assert!(leader0.is_subset(&seen), "the new team's findings are visible");
    assert_eq!(seen.len(), leader0.len() + 2, "plus their own two from the old team");
    assert_eq!(w.store.set_user_scope("nobody", Role::Admin, None, None).await.unwrap(), None);

    // A stale edit with a base: the field only it changed applies, the one changed on both sides
    // comes back with both values and the server's value stays.
    let author = &w.people[0];
    let dev = DeviceId::new_v7();
    let c = create(10);
    let id = c.finding_id;
    w.store.push(author, dev, vec![c], Utc::now()).await.unwrap();
    let base = fields(None);
    let mut first = base.clone();
    first.description = "第一台手机".to_string().try_into().unwrap();
    let mut second = base.clone();
    second.description = "第二台手机".to_string().try_into().unwrap();
    second.address = "补充地址".into();
    let e1 = op(11, id, OpBody::Edit { base_version: 1, fields: first, base: Some(base.clone()) });
    let e2 = op(12, id, OpBody::Edit { base_version: 1, fields: second, base: Some(base) });
    let r = w.store.push(author, dev, vec![e1, e2.clone()], Utc::now()).await.unwrap();
    assert!(matches!(&r[0].outcome, OpOutcome::Applied { version: 2, conflicts, .. } if conflicts.is_empty()));
    let OpOutcome::Applied { version: 3, conflicts, replayed: false } = &r[1].outcome else { panic!("{r:?}") };
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].theirs, serde_json::json!("第一台手机"));
    // A retry gets the same conflicts back.
    let again = w.store.push(author, dev, vec![e2], Utc::now()).await.unwrap();
    assert!(
        matches!(&again[0].outcome, OpOutcome::Applied { version: 3, conflicts: c, replayed: true } if c.len() == 1)
    );
    let rec = w.store.pull(author, 0, 500).await.unwrap().changes.into_iter().find(|r| r.finding.id == id).unwrap();
    assert_eq!(rec.finding.fields.description.as_str(), "第一台手机");
    assert_eq!(rec.finding.fields.address, "补充地址");
}
