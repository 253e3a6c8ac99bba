//! The server as a process, over HTTP: sign-in, tokens, idempotent push, roles, pull scope, photos,
//! limits. Most tests share one seeded server and each uses its own demo users.

mod common;

use common::*;
use reqwest::StatusCode;
use xuncha_domain::{Action, FindingId, Role, Status};
use xuncha_proto::{paths, ApiError, Health, OpBody, OpOutcome, MAX_OPS_PER_PUSH};

fn has_chinese(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

async fn api_error(resp: reqwest::Response) -> ApiError {
    resp.json().await.expect("an ApiError body")
}

fn applied(r: &OpOutcome) -> (u64, bool) {
    match r {
        OpOutcome::Applied { version, replayed, .. } => (*version, *replayed),
        OpOutcome::Rejected { error } => panic!("rejected: {error:?}"),
    }
}

fn rejected_code(r: &OpOutcome) -> String {
    match r {
        OpOutcome::Rejected { error } => error.code.clone(),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn health_names_the_service_and_the_server_id_survives_a_restart() {
    let s = Server::fresh();
    let h: Health = reqwest::get(url(&s, paths::HEALTH)).await.unwrap().json().await.unwrap();
    assert_eq!((h.service.as_str(), h.protocol), ("xuncha", 1));
    let s2 = Server::start(s.stop());
    let h2: Health = reqwest::get(url(&s2, paths::HEALTH)).await.unwrap().json().await.unwrap();
    assert_eq!(h.server_id, h2.server_id);
}

#[tokio::test]
async fn login_works_and_wrong_password_and_unknown_user_get_the_same_401() {
    let s = Server::shared();
    let c = login(s, "inspector1-1").await;
    assert_eq!(c.user.role, Role::Inspector);
    assert_eq!(c.user.team.as_ref().unwrap().name, "上城区湖滨一组");
    let me: xuncha_proto::UserProfile = c.get(paths::ME).send().await.unwrap().json().await.unwrap();
    assert_eq!(me, c.user);

    let wrong = try_login(s, "inspector1-2", "not-the-password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let wrong = api_error(wrong).await;
    assert!(has_chinese(&wrong.error.zh), "{wrong:?}");
    assert!(!wrong.error.en.is_empty());
    let unknown = try_login(s, "nobody-here", "xuncha2026").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(api_error(unknown).await, wrong, "no hint whether the user exists");
}

#[tokio::test]
async fn five_failures_lock_the_username() {
    let s = Server::shared();
    for _ in 0..5 {
        assert_eq!(try_login(s, "inspector8-5", "bad").await.status(), StatusCode::UNAUTHORIZED);
    }
    let locked = try_login(s, "inspector8-5", PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers().contains_key("retry-after"));
    assert_eq!(api_error(locked).await.error.code, "auth.locked");
}

#[tokio::test]
async fn forged_logged_out_and_revoked_tokens_get_401() {
    let s = Server::shared();
    let http = reqwest::Client::new();
    let me = |token: String| http.get(url(s, paths::ME)).bearer_auth(token).send();
    let forged = me("A".repeat(43)).await.unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    assert!(has_chinese(&api_error(forged).await.error.zh));
    assert_eq!(http.get(url(s, paths::ME)).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    let c = login(s, "inspector7-4").await;
    assert_eq!(me(c.token.clone()).await.unwrap().status(), StatusCode::OK);
    let out = http.post(url(s, paths::LOGOUT)).bearer_auth(&c.token).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_eq!(me(c.token.clone()).await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // A lost phone: the administrator revokes every token of the user.
    let c1 = login(s, "inspector7-5").await;
    let c2 = login(s, "inspector7-5").await;
    let out = s.cli(&["revoke-tokens", "--user", "inspector7-5"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for c in [c1, c2] {
        assert_eq!(me(c.token.clone()).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn a_replayed_batch_applies_once() {
    let s = Server::shared();
    let mut c = login(s, "inspector1-3").await;
    let id = FindingId::new_v7();
    let ops = vec![c.op(id, OpBody::Create { fields: fields(Some(HUBIN), vec![]) })];
    let first = c.push(&ops).await;
    assert_eq!(applied(&first[0].outcome), (1, false));
    let again = c.push(&ops).await;
    assert_eq!(again[0].op_id, ops[0].op_id);
    assert_eq!(applied(&again[0].outcome), (1, true));
    let mine: Vec<_> = c.pull_all().await.into_iter().filter(|r| r.finding.id == id).collect();
    assert_eq!(mine.len(), 1);
    assert_eq!((mine[0].version, mine[0].history.len()), (1, 1));
    assert_eq!(mine[0].finding.author, c.user.id, "author is the principal");
    assert_eq!(mine[0].team_name, "上城区湖滨一组");
    assert!(mine[0].sub_district.is_some(), "located from the position");
}

#[tokio::test]
async fn two_identical_pushes_at_once_create_one_finding() {
    let s = Server::shared();
    let mut c = login(s, "inspector1-4").await;
    let id = FindingId::new_v7();
    let ops = vec![c.op(id, OpBody::Create { fields: fields(Some(HUBIN), vec![]) })];
    let (a, b) = tokio::join!(c.push(&ops), c.push(&ops));
    let (a, b) = (applied(&a[0].outcome), applied(&b[0].outcome));
    assert_eq!((a.0, b.0), (1, 1));
    assert!(a.1 ^ b.1, "exactly one of the two is a replay: {a:?} {b:?}");
    assert_eq!(c.pull_all().await.iter().filter(|r| r.finding.id == id).count(), 1);
}

#[tokio::test]
async fn inspector_cannot_approve_but_the_team_leader_can_and_another_leader_cannot_see_it() {
    let s = Server::shared();
    let mut ins = login(s, "inspector1-5").await;
    // A photo is required to submit.
    let photo = std::fs::read(demo_photos_dir().join("DSCN0010.jpg")).unwrap();
    let hash = sha256(&photo);
    let put = ins.http.put(url(s, &paths::photo(&hash))).bearer_auth(&ins.token).body(photo).send().await.unwrap();
    assert!(put.status().is_success());
    let id = FindingId::new_v7();
    let ops = vec![
        ins.op(id, OpBody::Create { fields: fields(Some(HUBIN), vec![hash]) }),
        ins.op(id, OpBody::ChangeStatus { base_version: 0, action: Action::Submit }),
    ];
    let r = ins.push(&ops).await;
    assert_eq!(applied(&r[1].outcome), (2, false));
    let approve = ins.op(id, OpBody::ChangeStatus { base_version: 2, action: Action::Approve });
    let r = ins.push(std::slice::from_ref(&approve)).await;
    assert_eq!(rejected_code(&r[0].outcome), "auth.not_permitted");
    // A rejection is remembered: the retry gets the same answer.
    assert_eq!(ins.push(&[approve]).await[0].outcome, r[0].outcome);

    let mut other = login(s, "leader2").await;
    let op = other.op(id, OpBody::ChangeStatus { base_version: 2, action: Action::Approve });
    assert_eq!(rejected_code(&other.push(&[op]).await[0].outcome), "sync.unknown_finding");

    let mut leader = login(s, "leader1").await;
    // The state machine decides on arrival, not the version the leader saw: a stale approve of a
    // submitted finding applies; a second approve is refused as a transition, with the reason.
    let stale = leader.op(id, OpBody::ChangeStatus { base_version: 1, action: Action::Approve });
    assert_eq!(applied(&leader.push(&[stale]).await[0].outcome), (3, false));
    let again = leader.op(id, OpBody::ChangeStatus { base_version: 3, action: Action::Approve });
    assert_eq!(rejected_code(&leader.push(&[again]).await[0].outcome), "status.transition_not_allowed");
    let rec = leader.pull_all().await.into_iter().find(|r| r.finding.id == id).unwrap();
    assert_eq!(rec.finding.status, Status::Approved);
    assert_eq!(rec.history.len(), 3);

    // Approved: the author can no longer edit.
    let edit = ins.op(id, OpBody::Edit { base_version: 3, fields: fields(Some(HUBIN), vec![hash]), base: None });
    assert_eq!(rejected_code(&ins.push(&[edit]).await[0].outcome), "finding.not_editable");
}

#[tokio::test]
async fn pull_never_leaves_the_principals_scope() {
    let s = Server::shared();
    let mut team2 = login(s, "inspector2-2").await;
    let mut team4 = login(s, "inspector4-2").await; // 拱墅区
    let t2_finding = FindingId::new_v7();
    let t4_finding = FindingId::new_v7();
    let op = team2.op(t2_finding, OpBody::Create { fields: fields(None, vec![]) });
    applied(&team2.push(&[op]).await[0].outcome);
    let op = team4.op(t4_finding, OpBody::Create { fields: fields(None, vec![]) });
    applied(&team4.push(&[op]).await[0].outcome);

    let ins1 = login(s, "inspector1-2").await;
    let seen = ins1.pull_all().await;
    assert!(!seen.is_empty());
    let team1 = ins1.user.team.as_ref().unwrap().id;
    assert!(seen.iter().all(|r| r.finding.team == team1 || r.finding.author == ins1.user.id));
    assert!(!seen.iter().any(|r| r.finding.id == t2_finding));
    // Cursor pages are contiguous and ordered.
    assert!(seen.windows(2).all(|w| w[0].server_seq < w[1].server_seq));

    let office = login(s, "office-shangcheng").await;
    let district = office.user.district.as_ref().unwrap().id;
    let seen = office.pull_all().await;
    assert!(seen.iter().all(|r| r.district == Some(district)));
    assert!(seen.iter().any(|r| r.finding.id == t2_finding), "no position: the team's district");
    assert!(!seen.iter().any(|r| r.finding.id == t4_finding));

    let admin = login(s, "admin").await;
    let all = admin.pull_all().await;
    assert!(all.iter().any(|r| r.finding.id == t2_finding) && all.iter().any(|r| r.finding.id == t4_finding));
}

#[tokio::test]
async fn seeded_leader_sees_only_team_one() {
    let s = Server::shared();
    let leader = login(s, "leader1").await;
    let seen = leader.pull_all().await;
    assert!(seen.len() >= 7, "team 1 has about 7 demo findings, got {}", seen.len());
    assert!(seen.iter().all(|r| r.team_name == "上城区湖滨一组"));
    assert!(seen.iter().all(|r| !r.history.is_empty()));
    // Small pages walk the same set.
    let mut cursor = 0;
    let mut paged = Vec::new();
    loop {
        let p = leader.pull_page(cursor, Some(2)).await;
        assert!(p.changes.len() <= 2);
        paged.extend(p.changes.into_iter().map(|r| r.finding.id));
        cursor = p.cursor;
        if !p.has_more {
            break;
        }
    }
    let first: Vec<_> = seen.iter().map(|r| r.finding.id).collect();
    assert_eq!(paged[..first.len().min(paged.len())], first[..first.len().min(paged.len())]);
}

#[tokio::test]
async fn photos_check_their_hash_and_scope() {
    let s = Server::shared();
    let mut owner = login(s, "inspector3-1").await;
    let bytes = std::fs::read(demo_photos_dir().join("DSCN0025.jpg")).unwrap();
    // Make it unique to this test, so 201 is certain.
    let mut bytes = bytes;
    bytes.extend_from_slice(FindingId::new_v7().to_string().as_bytes());
    let hash = sha256(&bytes);
    let path = url(s, &paths::photo(&hash));
    let http = &owner.http;

    let mut damaged = bytes.clone();
    damaged[100] ^= 0xff;
    let r = http.put(&path).bearer_auth(&owner.token).body(damaged).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(api_error(r).await.error.code, "photo.hash_mismatch");
    assert_eq!(http.head(&path).bearer_auth(&owner.token).send().await.unwrap().status(), StatusCode::NOT_FOUND);

    let r = http.put(&path).bearer_auth(&owner.token).body(bytes.clone()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = http.put(&path).bearer_auth(&owner.token).body(bytes.clone()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let head = http.head(&path).bearer_auth(&owner.token).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    // The real length: a device compares it with its copy before it skips an upload.
    assert_eq!(head.headers()[reqwest::header::CONTENT_LENGTH], bytes.len().to_string().as_str());
    let got = http.get(&path).bearer_auth(&owner.token).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap().as_ref(), &bytes[..]);
    assert_eq!(http.put(&path).body(bytes.clone()).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    let stranger = login(s, "inspector5-1").await;
    let teammate = login(s, "inspector3-2").await;
    assert_eq!(stranger.get(&paths::photo(&hash)).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(teammate.get(&paths::photo(&hash)).send().await.unwrap().status(), StatusCode::NOT_FOUND);

    // Attached to a finding, the team may read it; another team still may not.
    let op = owner.op(FindingId::new_v7(), OpBody::Create { fields: fields(None, vec![hash]) });
    applied(&owner.push(&[op]).await[0].outcome);
    assert_eq!(teammate.get(&paths::photo(&hash)).send().await.unwrap().status(), StatusCode::OK);
    let r = stranger.get(&paths::photo(&hash)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(has_chinese(&api_error(r).await.error.zh));

    let bad = stranger.get(&format!("{}/NOT-A-HASH", paths::PHOTOS)).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn too_many_ops_or_a_foreign_device_id_are_refused() {
    let s = Server::shared();
    let mut c = login(s, "inspector6-1").await;
    let ops: Vec<_> = (0..=MAX_OPS_PER_PUSH)
        .map(|_| c.op(FindingId::new_v7(), OpBody::Create { fields: fields(None, vec![]) }))
        .collect();
    let r = c.push_raw(&ops).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(has_chinese(&api_error(r).await.error.zh));

    // Its own client: the server answers 413 without reading the body and closes that connection,
    // which a pooled connection reused by the next request would trip over.
    let big = vec![b'x'; 3 * 1024 * 1024];
    let r = reqwest::Client::new()
        .post(url(s, paths::PUSH))
        .bearer_auth(&c.token)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(api_error(r).await.error.code.starts_with("sync."));

    let op = c.op(FindingId::new_v7(), OpBody::Create { fields: fields(None, vec![]) });
    c.device = xuncha_domain::DeviceId::new_v7();
    let r = c.push_raw(&[op]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(api_error(r).await.error.code, "sync.device_mismatch");
}

#[tokio::test]
async fn seed_demo_refuses_to_run_twice_and_add_user_works() {
    let s = Server::shared();
    let again = s.cli(&["seed-demo", "--demo-photos", demo_photos_dir().to_str().unwrap()]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing was changed"));

    let out = std::process::Command::new(BIN)
        .args(["add-user", "--username", "inspector1-6", "--role", "inspector", "--team", "上城区湖滨一组", "--db"])
        .arg(s.db())
        .env("XUNCHA_NEW_PASSWORD", "another-secret")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(try_login(s, "inspector1-6", "another-secret").await.status(), StatusCode::OK);
    assert!(!s.log().contains("another-secret"), "passwords never reach the log");
}

#[tokio::test]
async fn seed_fleet_adds_teams_of_a_leader_and_five_trainees_and_only_what_is_missing() {
    let s = Server::fresh();
    let fleet = |teams: &str| {
        let (sub, rest) = (["seed-fleet"], ["--teams", teams]);
        let mut cmd = std::process::Command::new(BIN);
        cmd.args(sub).arg("--db").arg(s.db()).args(rest).env("XUNCHA_NEW_PASSWORD", "fleet-secret-1");
        cmd.output().unwrap()
    };
    let out = fleet("2");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("added 2 teams and 12 accounts"));
    let out = fleet("3");
    assert!(String::from_utf8_lossy(&out.stdout).contains("added 1 teams and 6 accounts"), "only team 3 is new");

    let leader = {
        let r = try_login(&s, "fleet2-leader", "fleet-secret-1").await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json::<xuncha_proto::LoginResponse>().await.unwrap().user
    };
    assert_eq!(leader.role, Role::TeamLeader);
    assert_eq!(leader.team.as_ref().unwrap().name, "压测0002组");
    let trainee =
        try_login(&s, "fleet2-5", "fleet-secret-1").await.json::<xuncha_proto::LoginResponse>().await.unwrap();
    assert_eq!(trainee.user.role, Role::Inspector);
    assert_eq!(trainee.user.team.unwrap().id, leader.team.unwrap().id);
    assert_eq!(try_login(&s, "fleet2-6", "fleet-secret-1").await.status(), StatusCode::UNAUTHORIZED);

    let out = fleet("0");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--teams must be between 1 and"));
    assert!(!s.log().contains("fleet-secret-1"), "passwords never reach the log");
}
