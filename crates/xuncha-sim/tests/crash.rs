//! Crash the server mid-sync (reliability.md §2.12 C1, the Jepsen "set" test on loopback): the real
//! server process is SIGKILLed every 0.5–3 s for 60 s and restarted on the same port and database,
//! while 4 devices create findings (a real photo every 10th), edit, submit and sync at random moments.
//! Then heal, final sync, and the set check. Proves that no finding a device made is lost, none is on
//! the server twice, nothing appears that nobody made, and every device's set equals the server's set
//! for its scope. Seed from `SEED` (default 1); the kill count is printed so a run that never crashed
//! the server cannot pass unnoticed (asserted ≥ 10).

mod common;

use common::*;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use xuncha_sim::{sim, SimConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_server_loses_and_duplicates_nothing() {
    init_tracing();
    let seed: u64 = std::env::var("SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let secs: u64 = std::env::var("CRASH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    println!("SEED={seed}");
    let started = Instant::now();
    let server = Arc::new(Mutex::new(ServerProc::seeded()));
    let url = server.lock().unwrap().url.clone();
    let mut cfg = SimConfig::new(&url);
    cfg.devices = 4;
    cfg.findings_per_device = 100_000; // bounded by the duration
    cfg.photo_every = 10;
    cfg.photos = sim::read_photos(&demo_photos_dir()).unwrap();
    cfg.seed = seed;
    cfg.duration = Duration::from_secs(secs);
    cfg.engine = fast_engine();
    cfg.think_ms = (10, 120);
    cfg.settle_timeout = Duration::from_secs(30);
    let work = tempfile::tempdir().unwrap();
    let (base, devices) = sim::prepare(&cfg, work.path()).await.unwrap();

    // The nemesis: kill -9 at random moments, restart on the same port and files.
    let stop = Arc::new(AtomicBool::new(false));
    let nemesis = {
        let (server, stop) = (server.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let mut kills = 0u32;
            let end = Instant::now() + Duration::from_secs(secs);
            while Instant::now() < end && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(rng.random_range(500..=3000)));
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let mut s = server.lock().unwrap();
                s.kill();
                kills += 1;
                std::thread::sleep(Duration::from_millis(rng.random_range(0..=300)));
                s.start();
            }
            kills
        })
    };
    let devices = sim::live_phase(&cfg, devices).await.unwrap();
    // Heal before checking: the nemesis stops (its last kill is always followed by a restart), then the
    // final syncs and the set check run against a server that stays up.
    stop.store(true, Ordering::SeqCst);
    let kills = nemesis.join().unwrap();
    let (report, _devices) = sim::heal_and_check(&cfg, &base, devices).await.unwrap();
    let restarts = server.lock().unwrap().starts;
    println!(
        "crash ×{kills} (server started {restarts} times): {} / diverged {} / rejected ops {} / {:.1} s",
        report.line(),
        report.diverged,
        report.rejected_ops,
        started.elapsed().as_secs_f64()
    );
    assert!(report.ok(), "{report}\n{:#?}", report.details);
    assert!(report.created > 50, "the devices kept working: {report}");
    assert!(kills >= 10 || secs < 60, "the nemesis killed the server only {kills} times");
}
