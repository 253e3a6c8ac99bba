//! Regression (found by `xuncha-sim`'s kill_device test): the real server answers `HEAD /photos/{hash}`
//! with 200 and `Content-Length: 0`. The device read that 0 as "the server's copy has another size" and
//! PUT the photo again — after an interrupted sync, and for every photo another phone had already sent.
//! Here the fake server already holds the photo and answers HEAD like the real one: no PUT may follow,
//! and the photo still counts as uploaded.

mod common;

use common::*;

#[tokio::test]
async fn a_photo_the_server_already_has_is_not_uploaded_again_when_head_says_length_zero() {
    let fake = Fake::start().await;
    let (_dir, engine) = signed_in(&fake).await;
    let (_, bytes) = gps_fixtures().remove(0);
    let info = engine.ingest_photo(bytes).await.unwrap();
    let stored = engine.photo(&info.hash, xuncha_device::PhotoSize::Full).await.unwrap();
    {
        let mut s = fake.state.lock().unwrap();
        s.photos.insert(info.hash.clone(), stored);
        s.head_length_zero = true;
    }
    engine.save_finding(None, draft("2026-11-20", vec![info.hash.parse().unwrap()])).await.unwrap();
    let st = engine.sync_now().await.unwrap();
    assert!(st.all_synced, "{st:?}");
    let reqs = fake.state.lock().unwrap().requests.clone();
    assert!(reqs.iter().any(|r| r.starts_with("HEAD /api/v1/photos/")), "{reqs:?}");
    assert!(!reqs.iter().any(|r| r.starts_with("PUT ")), "uploaded again: {reqs:?}");
}
