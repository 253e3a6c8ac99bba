//! The engine end to end, against a fake server (no real server needed).

mod common;

use common::*;
use xuncha_device::{Engine, PhotoSize, Scope, SyncState};
use xuncha_domain::{PhotoHash, Status};

async fn one_photo(engine: &Engine) -> PhotoHash {
    let info = engine.ingest_photo(fixture("gps/DSCN0010.jpg")).await.unwrap();
    info.hash.parse().unwrap()
}

#[tokio::test]
async fn save_writes_finding_history_and_outbox_in_one_transaction() {
    let fake = Fake::start().await;
    let (dir, engine) = signed_in(&fake).await;
    let h = one_photo(&engine).await;
    let v = engine.save_finding(None, draft("2026-11-20", vec![h])).await.unwrap();
    assert_eq!(v.summary.sync_state, SyncState::Local);
    assert_eq!(v.summary.status, "recorded");
    assert_eq!(v.history.len(), 1);
    assert!(v.photos[0].present);
    let d = dir.path();
    assert_eq!(count(d, "SELECT COUNT(*) FROM findings"), 1);
    assert_eq!(count(d, "SELECT COUNT(*) FROM history"), 1);
    assert_eq!(count(d, "SELECT COUNT(*) FROM outbox WHERE kind = 'create'"), 1);

    // A failure in the middle of the transaction leaves nothing partial: no finding, history or op.
    for point in ["save.after_finding", "save.before_commit"] {
        engine.set_fail_point(Some(point));
        let e = engine.save_finding(None, draft("2026-11-20", vec![h])).await.unwrap_err();
        assert_eq!(e.user_message().code, "device.storage", "{point}");
        engine.set_fail_point(None);
        assert_eq!(count(d, "SELECT COUNT(*) FROM findings"), 1, "{point}");
        assert_eq!(count(d, "SELECT COUNT(*) FROM history"), 1, "{point}");
        assert_eq!(count(d, "SELECT COUNT(*) FROM outbox"), 1, "{point}");
    }
    // An edit that fails mid-way leaves the finding as it was.
    engine.set_fail_point(Some("save.before_commit"));
    let mut d2 = draft("2026-11-20", vec![h]);
    d2.description = "改过的描述".into();
    assert!(engine.save_finding(Some(&v.summary.id), d2).await.is_err());
    engine.set_fail_point(None);
    assert_eq!(engine.get_finding(&v.summary.id).await.unwrap().summary.description, v.summary.description);
    assert_eq!(count(d, "SELECT COUNT(*) FROM history"), 1);
    // The next device_seq was not consumed by the failed attempts either (same transaction).
    assert_eq!(count(d, "SELECT MAX(device_seq) FROM outbox"), 1);
}

#[tokio::test]
async fn editing_before_sync_folds_into_the_pending_create() {
    let fake = Fake::start().await;
    let (dir, engine) = signed_in(&fake).await;
    let v = engine.save_finding(None, draft("2026-11-20", vec![])).await.unwrap();
    let mut d = draft("2026-11-20", vec![]);
    d.description = "第二次修改".into();
    let v2 = engine.save_finding(Some(&v.summary.id), d).await.unwrap();
    assert_eq!(v2.summary.description, "第二次修改");
    assert_eq!(v2.history.iter().map(|h| h.kind.as_str()).collect::<Vec<_>>(), ["created", "edited"]);
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM outbox"), 1, "one op, not create + edit");
    let body: String = rusqlite::Connection::open(dir.path().join("xuncha.sqlite3"))
        .unwrap()
        .query_row("SELECT body_json FROM outbox", [], |r| r.get(0))
        .unwrap();
    assert!(body.contains("\"type\":\"create\"") && body.contains("第二次修改"), "{body}");

    // After the create was sent, an edit becomes an Edit op based on the server's version.
    engine.sync_now().await.unwrap();
    let mut d = draft("2026-11-20", vec![]);
    d.description = "同步后修改".into();
    let v3 = engine.save_finding(Some(&v.summary.id), d).await.unwrap();
    assert_eq!(v3.version, 1);
    assert_eq!(v3.summary.sync_state, SyncState::Pending);
    let body: String = rusqlite::Connection::open(dir.path().join("xuncha.sqlite3"))
        .unwrap()
        .query_row("SELECT body_json FROM outbox", [], |r| r.get(0))
        .unwrap();
    assert!(body.contains("\"type\":\"edit\"") && body.contains("\"base_version\":1"), "{body}");
}

#[tokio::test]
async fn bad_drafts_return_the_domain_message_and_store_nothing() {
    let fake = Fake::start().await;
    let (dir, engine) = signed_in(&fake).await;
    let mut no_cat = draft("2026-11-20", vec![]);
    no_cat.category = "".into();
    let mut lat = draft("2026-11-20", vec![]);
    lat.position.as_mut().unwrap().lat = 200.0;
    let mut long = draft("2026-11-20", vec![]);
    long.description = "字".repeat(501);
    let mut missing_photo = draft("2026-11-20", vec![PhotoHash::from_bytes([7; 32])]);
    missing_photo.description = "照片不存在".into();
    for (d, code) in [
        (no_cat, "finding.category_required"),
        (lat, "position.latitude_out_of_range"),
        (long, "finding.description_too_long"),
        (missing_photo, "photo.not_found"),
    ] {
        let m = engine.save_finding(None, d).await.unwrap_err().user_message();
        assert_eq!(m.code, code);
        assert!(!m.zh.is_empty() && !m.en.is_empty());
    }
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM findings"), 0);
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM outbox"), 0);
}

#[tokio::test]
async fn ingest_writes_content_addressed_files_whose_sha256_is_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let all = gps_fixtures();
    assert!(all.len() >= 9, "{}", all.len());
    for (name, bytes) in all {
        let info = engine.ingest_photo(bytes).await.unwrap_or_else(|e| panic!("{name}: {}", e.user_message()));
        let hex = &info.hash;
        let full = dir.path().join("photos").join(&hex[..2]).join(format!("{hex}.jpg"));
        let thumb = dir.path().join("thumbs").join(&hex[..2]).join(format!("{hex}.jpg"));
        let stored = std::fs::read(&full).unwrap();
        assert_eq!(xuncha_photo::sha256(&stored).to_hex(), *hex, "{name}");
        assert_eq!(stored.len() as u64, info.bytes);
        assert!(std::fs::metadata(&thumb).unwrap().len() > 0, "{name}");
        assert!(info.gps.is_some(), "{name}: the GPS fixtures carry a position");
        assert_eq!(engine.photo(hex, PhotoSize::Full).await.unwrap(), stored);
        assert!(!engine.photo(hex, PhotoSize::Thumb).await.unwrap().is_empty());
    }
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM photos"), 9);
}

#[tokio::test]
async fn a_non_image_or_truncated_jpeg_gives_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let m = engine.ingest_photo(b"this is not a photo".to_vec()).await.unwrap_err().user_message();
    assert!(m.code.starts_with("photo."), "{m:?}");
    let jpeg = fixture("gps/DSCN0010.jpg");
    let m = engine.ingest_photo(jpeg[..jpeg.len() / 3].to_vec()).await.unwrap_err().user_message();
    assert!(m.code.starts_with("photo."), "{m:?}");
    assert!(m.zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)));
    let m = engine.ingest_photo(Vec::new()).await.unwrap_err().user_message();
    assert_eq!(m.code, "photo.empty");
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM photos"), 0);
    assert!(!dir.path().join("photos").exists() || std::fs::read_dir(dir.path().join("photos")).unwrap().count() == 0);
}

#[tokio::test]
async fn list_by_day_and_scope_newest_first() {
    let fake = Fake::start().await;
    let (dir, engine) = signed_in(&fake).await;
    let a = engine.save_finding(None, draft("2026-11-20", vec![])).await.unwrap();
    let mut later = draft("2026-11-20", vec![]);
    later.observed_at = "2026-11-20T15:00:00+08:00".parse().unwrap();
    let b = engine.save_finding(None, later).await.unwrap();
    // 23:30 on the 21st in China is still the 21st there, though it is the 21st 15:30 UTC.
    let mut late = draft("2026-11-21", vec![]);
    late.observed_at = "2026-11-21T23:30:00+08:00".parse().unwrap();
    let c = engine.save_finding(None, late).await.unwrap();

    // A teammate's finding arrives by pull.
    let (team, teammate) = {
        let s = fake.state.lock().unwrap();
        (s.user.team.as_ref().unwrap().id, xuncha_domain::UserId::new_v7())
    };
    let fields = draft("2026-11-20", vec![]).validate(&xuncha_domain::Taxonomy::builtin()).unwrap();
    let mut f = xuncha_domain::Finding::new(xuncha_domain::FindingId::new_v7(), teammate, team, fields);
    f.fields.observed_at = "2026-11-20T12:00:00+08:00".parse().unwrap();
    let other_id = f.id.to_string();
    fake.state.lock().unwrap().changes.push(xuncha_proto::FindingRecord {
        finding: f,
        version: 3,
        server_seq: 10,
        received_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
        author_name: "王芳".into(),
        team_name: "上城一组".into(),
        district: None,
        sub_district: None,
        history: vec![],
    });
    let st = engine.sync_now().await.unwrap();
    assert!(st.all_synced, "{st:?}");

    let ids = |v: Vec<xuncha_device::FindingSummary>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
    let mine20 = ids(engine.list_findings(Some("2026-11-20"), Scope::Mine).await.unwrap());
    assert_eq!(mine20, [b.summary.id.clone(), a.summary.id.clone()], "newest first");
    let team20 = ids(engine.list_findings(Some("2026-11-20"), Scope::Team).await.unwrap());
    assert_eq!(team20, [b.summary.id.clone(), other_id.clone(), a.summary.id.clone()]);
    assert_eq!(
        ids(engine.list_findings(Some("2026-11-21"), Scope::Mine).await.unwrap()),
        std::slice::from_ref(&c.summary.id)
    );
    assert_eq!(engine.list_findings(None, Scope::Team).await.unwrap().len(), 4);
    let other = engine.get_finding(&other_id).await.unwrap();
    assert_eq!((other.summary.author_name.as_str(), other.version), ("王芳", 3));
    assert_eq!(other.summary.sync_state, SyncState::Synced);
    assert_eq!(
        engine.list_findings(Some("20-11-2026"), Scope::Mine).await.unwrap_err().user_message().code,
        "request.invalid_day"
    );
    // Signed out: nothing is listed, but nothing is deleted.
    engine.logout().await.unwrap();
    assert!(engine.list_findings(None, Scope::Team).await.unwrap().is_empty());
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM findings"), 4);
}

#[tokio::test]
async fn reopening_the_store_keeps_everything() {
    let fake = Fake::start().await;
    let (dir, engine) = signed_in(&fake).await;
    let h = one_photo(&engine).await;
    let v = engine.save_finding(None, draft("2026-11-20", vec![h])).await.unwrap();
    let before = engine.app_state().await.unwrap();
    drop(engine);
    let engine = Engine::open(dir.path()).unwrap();
    let after = engine.app_state().await.unwrap();
    assert_eq!(after.device_id, before.device_id);
    assert_eq!(after.session.as_ref().unwrap().user.username, "li");
    assert_eq!(after.sync.pending_ops, 1);
    assert_eq!(after.sync.pending_photos, 1);
    let again = engine.get_finding(&v.summary.id).await.unwrap();
    assert_eq!(again, v);
    assert_eq!(engine.list_findings(Some("2026-11-20"), Scope::Mine).await.unwrap().len(), 1);
}

#[tokio::test]
async fn sync_against_a_dead_port_is_offline_and_loses_nothing() {
    let fake = Fake::start().await;
    let (dir, engine) = signed_in(&fake).await;
    let h = one_photo(&engine).await;
    let v = engine.save_finding(None, draft("2026-11-20", vec![h])).await.unwrap();
    fake.stop().await;
    let st = engine.sync_now().await.unwrap();
    assert!(!st.online);
    assert!(!st.all_synced);
    assert_eq!(st.last_error.as_ref().unwrap().code, "network.offline");
    assert!(st.last_error.as_ref().unwrap().zh.contains("记录已保存在本机"));
    assert_eq!((st.pending_ops, st.pending_photos), (1, 1));
    assert_eq!(engine.get_finding(&v.summary.id).await.unwrap().summary.sync_state, SyncState::Local);
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM photos WHERE uploaded_at IS NOT NULL"), 0);

    // Port 1 on localhost: nothing listens there either.
    let dir2 = tempfile::tempdir().unwrap();
    let e2 = Engine::open(dir2.path()).unwrap();
    let m = e2.login("http://127.0.0.1:1", "li", "pw").await.unwrap_err().user_message();
    assert_eq!(m.code, "session.offline_login_unavailable");
}

#[tokio::test]
async fn a_captive_portal_is_not_online_and_nothing_is_marked_sent() {
    let fake = Fake::start().await;
    let (dir, engine) = signed_in(&fake).await;
    let h = one_photo(&engine).await;
    let v = engine.save_finding(None, draft("2026-11-20", vec![h])).await.unwrap();
    engine.submit_findings(vec![v.summary.id.clone()]).await.unwrap();
    fake.set_mode(Mode::Portal);
    let st = engine.sync_now().await.unwrap();
    assert!(!st.online, "{st:?}");
    assert_eq!(st.last_error.as_ref().unwrap().code, "network.not_xuncha_server");
    assert_eq!((st.pending_ops, st.pending_photos, st.all_synced), (2, 1, false));
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM photos WHERE uploaded_at IS NOT NULL"), 0);
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM findings WHERE version > 0"), 0);
    assert!(fake.state.lock().unwrap().pushed.is_empty());

    // The portal goes away (the person signed in to the Wi-Fi): everything goes up.
    fake.set_mode(Mode::Xuncha);
    let st = engine.sync_now().await.unwrap();
    assert!(st.online && st.all_synced, "{st:?}");
    assert_eq!(fake.state.lock().unwrap().photos.len(), 1);
    let v = engine.get_finding(&v.summary.id).await.unwrap();
    assert_eq!((v.version, v.summary.status.as_str()), (2, "submitted"));
    assert!(v.photos[0].uploaded);
    // Create went first, the submit second, based on the version the create produced.
    let pushed = fake.state.lock().unwrap().pushed.clone();
    assert_eq!(pushed.len(), 2);
    assert!(matches!(pushed[1].body, xuncha_proto::OpBody::ChangeStatus { base_version: 1, .. }), "{:?}", pushed[1]);
    assert!(pushed[0].device_seq < pushed[1].device_seq);
}

#[tokio::test]
async fn a_refused_op_is_kept_with_its_reason_and_an_expired_session_keeps_everything() {
    let fake = Fake::start().await;
    let (dir, engine) = signed_in(&fake).await;
    let mut d = draft("2026-11-20", vec![]);
    d.description = "REJECT-ME please".into();
    let v = engine.save_finding(None, d).await.unwrap();
    let st = engine.sync_now().await.unwrap();
    assert_eq!((st.pending_ops, st.rejected_ops), (0, 1));
    let v = engine.get_finding(&v.summary.id).await.unwrap();
    assert_eq!(v.summary.sync_state, SyncState::Rejected);
    assert_eq!(v.rejection.as_ref().unwrap().code, "finding.refused");
    // Fixing it re-queues a fresh create (the server never accepted one).
    let v = engine.save_finding(Some(&v.summary.id), draft("2026-11-20", vec![])).await.unwrap();
    assert_eq!(v.summary.sync_state, SyncState::Local);
    assert!(v.rejection.is_none());

    fake.set_mode(Mode::Expired);
    let st = engine.sync_now().await.unwrap();
    assert_eq!(st.last_error.as_ref().unwrap().code, "session.expired");
    assert_eq!(st.pending_ops, 1);
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM findings"), 1);
    assert!(engine.app_state().await.unwrap().session.unwrap().offline, "asked to sign in again");
    fake.set_mode(Mode::Xuncha);
    let pw = fake.state.lock().unwrap().password.clone();
    engine.login(&fake.url, "li", &pw).await.unwrap();
    let st = engine.sync_now().await.unwrap();
    assert!(st.all_synced, "{st:?}");
}

#[tokio::test]
async fn submit_checks_locally_and_reports_each_refusal() {
    let fake = Fake::start().await;
    let (_dir, engine) = signed_in(&fake).await;
    let h = one_photo(&engine).await;
    let ok = engine.save_finding(None, draft("2026-11-20", vec![h])).await.unwrap();
    let mut nopos = draft("2026-11-20", vec![h]);
    nopos.position = None;
    let nopos = engine.save_finding(None, nopos).await.unwrap();
    let r =
        engine.submit_findings(vec![ok.summary.id.clone(), nopos.summary.id.clone(), "nonsense".into()]).await.unwrap();
    assert_eq!(r.submitted, std::slice::from_ref(&ok.summary.id));
    let codes: Vec<_> = r.refused.iter().map(|x| x.error.code.as_str()).collect();
    assert_eq!(codes, ["finding.position_required", "request.invalid_id"]);
    assert_eq!(engine.get_finding(&ok.summary.id).await.unwrap().summary.status, Status::Submitted.as_str());
    // Submitting twice is refused by the state machine, not queued twice.
    let r = engine.submit_findings(vec![ok.summary.id.clone()]).await.unwrap();
    assert_eq!(r.refused[0].error.code, "status.transition_not_allowed");
    // A submitted finding can no longer be edited by its author.
    let e = engine.save_finding(Some(&ok.summary.id), draft("2026-11-20", vec![h])).await.unwrap_err();
    assert_eq!(e.user_message().code, "finding.not_editable");
}

#[tokio::test]
async fn offline_sign_in_uses_the_verifier_from_the_last_online_sign_in() {
    let fake = Fake::start().await;
    let (_dir, engine) = signed_in(&fake).await;
    let pw = fake.state.lock().unwrap().password.clone();
    let wrong = engine.login(&fake.url, "li", "wrong").await.unwrap_err().user_message();
    assert_eq!(wrong.code, "auth.bad_credentials", "online: the server's message");
    engine.logout().await.unwrap();
    assert!(engine.app_state().await.unwrap().session.is_none());
    let url = fake.stop().await;
    let s = engine.login(&url, "li", &pw).await.unwrap();
    assert!(s.offline);
    assert_eq!(s.user.display_name, "李明");
    engine.logout().await.unwrap();
    let m = engine.login(&url, "li", "wrong").await.unwrap_err().user_message();
    assert_eq!(m.code, "session.wrong_password");
    let m = engine.login(&url, "zhang", &pw).await.unwrap_err().user_message();
    assert_eq!(m.code, "session.offline_login_unavailable");
    // Signed in offline, records can still be made.
    engine.login(&url, "li", &pw).await.unwrap();
    engine.save_finding(None, draft("2026-11-20", vec![])).await.unwrap();
}

#[tokio::test]
async fn status_is_published_to_subscribers() {
    let fake = Fake::start().await;
    let (_dir, engine) = signed_in(&fake).await;
    let mut rx = engine.subscribe();
    rx.borrow_and_update();
    engine.save_finding(None, draft("2026-11-20", vec![])).await.unwrap();
    assert!(rx.has_changed().unwrap());
    assert_eq!(rx.borrow_and_update().pending_ops, 1);
    engine.spawn_sync_loop();
    // The loop syncs at start (and was woken by the save).
    tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            rx.changed().await.unwrap();
            if rx.borrow().all_synced {
                break;
            }
        }
    })
    .await
    .expect("the loop synced");
}

#[test]
fn engine_is_send_sync_clone() {
    fn is<T: Send + Sync + Clone + 'static>() {}
    is::<Engine>();
}
