//! Per-photo refusals do not hold up the rest, lose nothing and are not hammered:
//! - 413 (the server's limit): the finding's data still reaches the server, the photo stays on the phone
//!   as pending with the server's message shown, and it is not offered again at the next sync (24 h rule);
//! - 422 (the bytes the server assembled do not match the name): the phone re-checks its copy and sends it
//!   once more in the same sync; a second 422 leaves it pending with the message for a later sync.

mod common;

use common::*;

fn uploads(fake: &Fake) -> usize {
    fake.state.lock().unwrap().requests.iter().filter(|r| r.starts_with("PUT /api/v1/photos/")).count()
}

#[tokio::test]
async fn a_photo_refused_as_too_large_is_kept_shown_and_not_hammered() {
    let fake = Fake::start().await;
    let (dir, engine) = signed_in(&fake).await;
    let (_, bytes) = gps_fixtures().remove(0);
    let info = engine.ingest_photo(bytes).await.unwrap();
    fake.state.lock().unwrap().photo_answer = Some(("413 Payload Too Large", "photo.too_large"));
    engine.save_finding(None, draft("2026-11-20", vec![info.hash.parse().unwrap()])).await.unwrap();

    let st = engine.sync_status().await.unwrap();
    assert_eq!(st.pending_photos, 1);
    let _ = engine.sync_now().await;
    let st = engine.sync_status().await.unwrap();
    assert_eq!(st.pending_ops, 0, "the finding's data went: {st:?}");
    assert_eq!(fake.state.lock().unwrap().pushed.len(), 1);
    assert_eq!(st.pending_photos, 1, "the photo is kept as pending");
    assert!(!st.all_synced);
    assert_eq!(st.last_error.as_ref().map(|m| m.code.as_str()), Some("sync.photo_refused"), "{st:?}");
    assert_eq!(uploads(&fake), 1);
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM photos WHERE uploaded_at IS NULL"), 1);

    let _ = engine.sync_now().await;
    assert_eq!(uploads(&fake), 1, "not offered again within the day");
    let st = engine.sync_status().await.unwrap();
    assert_eq!(st.last_error.as_ref().map(|m| m.code.as_str()), Some("sync.photo_refused"), "still shown");
    assert!(engine.photo(&info.hash, xuncha_device::PhotoSize::Full).await.is_ok(), "the file is still here");
}

#[tokio::test]
async fn a_hash_mismatch_is_sent_once_more_then_left_pending() {
    let fake = Fake::start().await;
    let (_dir, engine) = signed_in(&fake).await;
    let (_, bytes) = gps_fixtures().remove(1);
    let info = engine.ingest_photo(bytes).await.unwrap();
    fake.state.lock().unwrap().photo_answer = Some(("422 Unprocessable Entity", "photo.hash_mismatch"));
    engine.save_finding(None, draft("2026-11-20", vec![info.hash.parse().unwrap()])).await.unwrap();
    let _ = engine.sync_now().await;
    assert_eq!(uploads(&fake), 2, "checked and sent once more in the same sync, not in a loop");
    let st = engine.sync_status().await.unwrap();
    assert_eq!((st.pending_ops, st.pending_photos), (0, 1), "{st:?}");
    assert!(st.last_error.is_some());

    // The server heals: the next sync sends it and everything is confirmed.
    fake.state.lock().unwrap().photo_answer = None;
    let st = engine.sync_now().await.unwrap();
    assert!(st.all_synced, "{st:?}");
    assert_eq!(uploads(&fake), 3);
}
