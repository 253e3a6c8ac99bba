//! End-to-end: the real Xuncha desktop app (WebKitGTK) under Xvfb, driven through tauri-driver, against
//! the real server binary seeded with the demo world. An inspector signs in (after a wrong password),
//! records a finding with a real photo, sees it in today's list, syncs, and the team leader's account on
//! the server then holds it with the byte-identical photo. Screenshots at phone and desktop size are
//! written to target/e2e-screenshots/ — look at them.

mod support;

use std::time::Duration;
use support::{App, Server};

const PASSWORD: &str = "xuncha2026";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspector_records_a_finding_offline_first_and_it_reaches_the_leader() {
    let server = Server::start_seeded().await;
    let app = App::launch().await;
    let d = &app.driver;
    d.set_window_rect(0, 0, 390, 844).await.unwrap();

    // Wrong password: a clear message in Chinese, and the form keeps what was typed.
    app.fill("login-server", &server.url).await;
    app.fill("login-username", "inspector1-1").await;
    app.fill("login-password", "wrong-password").await;
    app.click("login-submit").await;
    let err = app.wait_text("login-error", Duration::from_secs(20)).await;
    assert!(err.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "login error not in Chinese: {err:?}");
    app.screenshot("phone-login-error").await;

    app.fill("login-password", PASSWORD).await;
    app.click("login-submit").await;
    app.wait("capture-button", Duration::from_secs(20)).await;
    app.wait("status-bar", Duration::from_secs(5)).await;

    // Capture: a photo with EXIF GPS (the desktop webview has no geolocation, so the photo places it).
    app.click("capture-button").await;
    let photo = support::fixture("gps/DSCN0010.jpg");
    app.wait("photo-input", Duration::from_secs(10)).await.send_keys(photo.to_str().unwrap()).await.unwrap();
    app.wait("photo-thumb", Duration::from_secs(30)).await;
    app.click("category-fire_safety").await;
    app.click("subcategory-blocked_fire_lane").await;
    app.fill("description", "端到端测试：消防通道被三轮车堵塞").await;
    app.wait_text("position-summary", Duration::from_secs(15)).await;
    app.screenshot("phone-capture").await;
    app.click("save-finding").await;

    // The demo world already holds this trainee's earlier findings of the day: find ours by its text.
    let item = app.wait_item_containing("端到端测试", Duration::from_secs(20)).await;
    let id = item.attr("data-id").await.unwrap().expect("finding-item has data-id");
    assert!(item.text().await.unwrap().contains("消防通道堵塞"), "list shows the sub-category");
    app.screenshot("phone-today").await;

    // Sync on demand; the server must then hold the finding for the team leader, photo byte-identical.
    app.click("sync-now").await;
    let record = server.wait_for_finding("leader1", PASSWORD, &id, Duration::from_secs(60)).await;
    assert_eq!(record["finding"]["description"], "端到端测试：消防通道被三轮车堵塞");
    assert_eq!(record["finding"]["position"]["source"], "photo_exif");
    let hash = record["finding"]["photos"][0].as_str().expect("one photo").to_string();
    let bytes = server.photo("leader1", PASSWORD, &hash).await;
    assert_eq!(support::sha256_hex(&bytes), hash, "the server's photo is the device's photo, byte for byte");

    // The status bar says so once the server confirmed everything ("已全部上传" only when all_synced).
    let pending = app.wait_text_matching("status-pending", Duration::from_secs(60), |t| t.contains("已全部上传")).await;
    println!("status bar after sync: {pending}");

    item_detail_and_desktop_screenshots(&app).await;
    app.quit().await;
}

async fn item_detail_and_desktop_screenshots(app: &App) {
    app.wait_item_containing("端到端测试", Duration::from_secs(10)).await.click().await.unwrap();
    app.wait("finding-detail", Duration::from_secs(10)).await;
    app.screenshot("phone-detail").await;
    app.driver.set_window_rect(0, 0, 1280, 800).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.screenshot("desktop-detail").await;
    app.click("back").await;
    app.wait("finding-list", Duration::from_secs(10)).await;
    app.screenshot("desktop-today").await;
}
