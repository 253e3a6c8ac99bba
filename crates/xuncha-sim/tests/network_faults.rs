//! Network faults through the in-process proxy (reliability.md §2.12 D1): latency, 16 KB/s, blackhole,
//! reset mid-upload (after N request bytes), reset mid-download (after N response bytes) and 1–64-byte
//! segments, each applied to one kind of request — push, photo upload (PATCH), pull — while device A
//! (inspector3-1) records a finding with a new photo and device B (inspector3-2, same team) pulls it.
//! Proves: slow or sliced links still sync completely; a blackhole makes the device time out and report
//! offline with everything still queued, and it recovers once the link passes; a reset loses nothing;
//! and after healing the photo is byte-identical (SHA-256) on A, on the server and on B, with
//! lost = duplicated = unexpected = 0 and both devices' sets equal to the server's.
//!
//! And the resumable upload: a 5 MiB photo whose PATCH is reset after 80 % of it went through the proxy
//! resumes from what the server kept, so the proxy forwards well under 1.3 × 5 MiB in all, not 1.8 ×.

mod common;

use xuncha_testkit::fake_jpeg;

use common::*;
use std::time::{Duration, Instant};
use xuncha_device::sync::client::{http_client_with, Client};
use xuncha_device::PhotoSize;
use xuncha_domain::DeviceId;
use xuncha_proto::LoginRequest;
use xuncha_sim::{sim, Fault, FaultProxy, Match, ServerView};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Push,
    PhotoUpload,
    Pull,
}

fn faults_for(op: Op) -> Vec<(&'static str, Fault)> {
    let cut_up = match op {
        Op::Push => 300,
        Op::PhotoUpload => 600,
        Op::Pull => 40,
    };
    vec![
        ("latency 300 ms", Fault::Latency(Duration::from_millis(300))),
        ("16 KB/s", Fault::Bandwidth { bytes_per_sec: 16 * 1024 }),
        ("blackhole", Fault::Blackhole),
        ("reset mid-upload", Fault::ResetAfterRequestBytes(cut_up)),
        ("reset mid-download", Fault::ResetAfterResponseBytes(20)),
        ("1-64 B segments", Fault::Segments { min: 1, max: 64 }),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_on_push_upload_and_pull_lose_and_corrupt_nothing() {
    init_tracing();
    let started = Instant::now();
    let server = ServerProc::seeded();
    let proxy = FaultProxy::start(&server.url, 3).await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let users = vec!["inspector3-1".to_string(), "inspector3-2".to_string()];
    let base = sim::baseline(&server.url, &users).await.unwrap();
    let mut devs = vec![
        sim::Device::new(0, &users[0], &proxy.url(), work.path(), fast_engine(), 5).await.unwrap(),
        sim::Device::new(1, &users[1], &proxy.url(), work.path(), fast_engine(), 5).await.unwrap(),
    ];
    // Initial pulls of the demo data, unthrottled.
    for d in &devs {
        assert!(d.sync().await.unwrap().all_synced);
    }
    let checker = ServerView::login(&server.url, &users[1]).await.unwrap();

    let mut cells = 0;
    for op in [Op::Push, Op::PhotoUpload, Op::Pull] {
        let only = match op {
            Op::Push => Match::new("POST", "/api/v1/sync/push"),
            Op::PhotoUpload => Match::new("PATCH", "/api/v1/photos/"),
            Op::Pull => Match::new("GET", "/api/v1/sync/pull"),
        };
        for (name, fault) in faults_for(op) {
            let cell = Instant::now();
            cells += 1;
            let k = devs[0].create(Some(tiny_jpeg(cells))).await.unwrap();
            let created = devs[0].created[k].clone();
            let hash = created.photos[0].clone();
            let disruptive = matches!(
                fault,
                Fault::Blackhole | Fault::ResetAfterRequestBytes(_) | Fault::ResetAfterResponseBytes(_)
            );
            proxy.set_for(fault.clone(), only.clone());
            let sa = devs[0].sync().await.unwrap();
            let sb = devs[1].sync().await.unwrap();
            let ctx = format!("{op:?} × {name}");
            if !disruptive {
                assert!(sa.all_synced, "{ctx}: A {sa:?}");
                assert!(sb.all_synced, "{ctx}: B {sb:?}");
            } else {
                let hit = if op == Op::Pull { &sb } else { &sa };
                assert!(!hit.all_synced && hit.last_error.is_some(), "{ctx}: the failure is reported: {hit:?}");
                if op != Op::Pull {
                    assert_eq!(sa.pending_ops, 1, "{ctx}: the finding stays queued: {sa:?}");
                }
                if fault == Fault::Blackhole {
                    assert!(!hit.online, "{ctx}: a timed-out device reports offline: {hit:?}");
                    assert_eq!(hit.last_error.as_ref().unwrap().code, "network.offline", "{ctx}");
                }
            }
            proxy.set(Fault::Pass);
            sim::settle(&devs, Duration::from_secs(30)).await.unwrap();
            // Byte-identical photo on A, the server and B.
            let on_a = devs[0].engine.photo(&hash, PhotoSize::Full).await.unwrap();
            let on_b = devs[1].engine.photo(&hash, PhotoSize::Full).await.unwrap();
            let on_server = checker.photo(&hash).await.unwrap().expect("the server has the photo");
            for (who, bytes) in [("A", &on_a), ("B", &on_b), ("server", &on_server)] {
                assert_eq!(xuncha_photo::sha256(bytes).to_hex(), hash, "{ctx}: photo on {who} is corrupt");
            }
            let fb = devs[1].engine.get_finding(&created.id).await.unwrap();
            assert_eq!(sim::marker_of(&fb.summary.description), Some(created.marker.as_str()), "{ctx}");
            println!("  {ctx}: ok in {:.1} s", cell.elapsed().as_secs_f64());
        }
    }
    let report = sim::check(&server.url, &devs, &base).await.unwrap();
    println!("network faults ({cells} cells): {report} / {:.1} s", started.elapsed().as_secs_f64());
    assert!(report.ok(), "{report}\n{:#?}", report.details);
    assert_eq!(report.created, cells as usize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5_mb_photo_upload_cut_at_80_percent_resumes_instead_of_restarting() {
    init_tracing();
    let server = ServerProc::seeded();
    let proxy = FaultProxy::start(&server.url, 11).await.unwrap();
    // The engine's own client code, driven directly: what `photos::upload` calls for each pending photo.
    let client = Client::new(http_client_with(Duration::from_secs(2), Duration::from_secs(60)).unwrap(), &proxy.url());
    let user = "inspector3-3";
    let login = client
        .login(&LoginRequest {
            username: user.into(),
            password: xuncha_sim::server_view::DEMO_PASSWORD.into(),
            device_id: DeviceId::new_v7(),
            device_name: "network_faults".into(),
        })
        .await
        .unwrap();
    const SIZE: u64 = 5 * 1024 * 1024;
    let bytes = fake_jpeg(SIZE as usize, 0x2545_F491);
    let hash = xuncha_photo::sha256(&bytes);

    // The connection dies once 80 % of the photo went up (the head's few hundred bytes included).
    proxy.set_for(Fault::ResetAfterRequestBytes(SIZE * 8 / 10), Match::new("PATCH", "/api/v1/photos/"));
    let started = Instant::now();
    let first = client.upload_photo(&login.token, &hash, &bytes).await;
    assert!(first.as_ref().is_err_and(|e| e.is_network()), "the cut is a network error: {first:?}");
    proxy.set(Fault::Pass);
    let second = client.upload_photo(&login.token, &hash, &bytes).await.unwrap();

    let patches: Vec<_> =
        proxy.exchanges().into_iter().filter(|e| e.method == "PATCH" && e.path.ends_with(&hash.to_hex())).collect();
    let forwarded: u64 = patches.iter().map(|e| e.req_bytes).sum();
    println!(
        "5 MiB upload cut at 80 %: resumed from {} B ({:.1} %), {} PATCHes, {} B forwarded upstream = {:.2} × the photo, {:.1} s",
        second.resumed_from,
        100.0 * second.resumed_from as f64 / SIZE as f64,
        patches.len(),
        forwarded,
        forwarded as f64 / SIZE as f64,
        started.elapsed().as_secs_f64()
    );
    for e in &patches {
        println!("    PATCH {:?} status {:?} {} B", e.fate, e.status, e.req_bytes);
    }
    assert!(!second.already_there && second.resumed_from > 0, "resumed, not restarted: {second:?}");
    assert!(forwarded < SIZE * 13 / 10, "{forwarded} B forwarded for a {SIZE} B photo: the upload restarted");
    assert!(patches.iter().any(|e| matches!(e.status, Some(201))), "{patches:?}");

    let on_server = ServerView::login(&server.url, user)
        .await
        .unwrap()
        .photo(&hash.to_hex())
        .await
        .unwrap()
        .expect("the server has the photo");
    assert_eq!(on_server.len() as u64, SIZE);
    assert_eq!(xuncha_photo::sha256(&on_server), hash, "the photo on the server is the one sent");
}
