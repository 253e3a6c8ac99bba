//! A device killed mid-sync resumes from its checkpoint (reliability.md §2.12 C3): 50 times, device A
//! records a finding with a new photo, starts a sync, and after a random 0–60 ms the sync task is
//! aborted and the engine dropped; the same data folder is reopened. At the end, after a final sync:
//! nothing lost or duplicated, A's set equals the server's, and — counted from the proxy's log of every
//! request and the status the server gave it — no photo is uploaded again (PUT or PATCH) after the server
//! confirmed that hash (201/200 to a PUT or PATCH, or 200 to a HEAD) on a response that reached the device.

mod common;

use common::*;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use xuncha_sim::{sim, FaultProxy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_killed_mid_sync_fifty_times_resumes_without_loss_or_reupload() {
    init_tracing();
    let seed: u64 = std::env::var("SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(11);
    println!("SEED={seed}");
    let started = Instant::now();
    let server = ServerProc::seeded();
    let proxy = FaultProxy::start(&server.url, seed).await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let user = "inspector4-1".to_string();
    let base = sim::baseline(&server.url, std::slice::from_ref(&user)).await.unwrap();
    let mut dev = sim::Device::new(0, &user, &proxy.url(), work.path(), fast_engine(), seed).await.unwrap();
    dev.sync().await.unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (mut interrupted, mut completed) = (0, 0);
    for i in 0..50u64 {
        let k = dev.create(Some(tiny_jpeg(1000 + i))).await.unwrap();
        if rng.random_bool(0.3) {
            dev.edit(k).await.unwrap();
        }
        let engine = dev.engine.clone();
        let task = tokio::spawn(async move { engine.sync_now().await });
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..=60))).await;
        task.abort();
        match task.await {
            Err(e) if e.is_cancelled() => interrupted += 1,
            _ => completed += 1,
        }
        // The app is gone: every handle dropped, the folder opened afresh (session and outbox on disk).
        dev.reopen().unwrap();
    }
    let devices = vec![dev];
    sim::settle(&devices, Duration::from_secs(30)).await.unwrap();
    let report = sim::check(&server.url, &devices, &base).await.unwrap();

    // PUTs after the server had confirmed the hash to the device.
    let log = proxy.exchanges();
    let mut confirmed: HashMap<String, usize> = HashMap::new();
    let (mut puts, mut reuploads) = (0, 0);
    for (i, e) in log.iter().enumerate() {
        let Some(hash) = e.path.strip_prefix("/api/v1/photos/") else { continue };
        // An upload is a PUT (servers before resumable uploads) or a PATCH (resumable).
        if e.method == "PUT" || e.method == "PATCH" {
            puts += 1;
            if confirmed.contains_key(hash) {
                reuploads += 1;
                println!("re-upload of {hash} (confirmed at exchange {})", confirmed[hash]);
                for (j, x) in log.iter().enumerate().filter(|(_, x)| x.path.ends_with(hash)) {
                    println!("    #{j} {x:?}");
                }
            }
        }
        let ok = match e.method.as_str() {
            "PUT" | "PATCH" => matches!(e.status, Some(200 | 201)),
            "HEAD" => e.status == Some(200),
            _ => false,
        };
        if ok && e.delivered {
            confirmed.entry(hash.to_string()).or_insert(i);
        }
    }
    println!(
        "device killed mid-sync ×50 ({interrupted} interrupted, {completed} finished first): {report} / uploads (PUT/PATCH) {puts} for {} photos / re-uploads after confirmation {reuploads} / {:.1} s",
        confirmed.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(report.ok(), "{report}\n{:#?}", report.details);
    assert_eq!(report.created, 50);
    assert_eq!(reuploads, 0, "a photo the server had confirmed was uploaded again");
    assert!(interrupted > 0, "no sync was interrupted: the test tested nothing");
    assert!(puts >= confirmed.len(), "every photo was uploaded at least once: the upload counter saw them");
}
