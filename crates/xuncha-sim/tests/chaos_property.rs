//! Property (reliability.md §2.12 B1, on real parts): 3 devices (inspector5-1, inspector5-2, leader5)
//! and the real server; a random sequence of create (with or without a photo) / edit / submit / sync,
//! while the proxy randomly drops requests, drops responses after the server committed, replays a
//! captured request a second time, and delays. Then heal and settle: every case must converge with
//! lost = duplicated = unexpected = 0 and every device's set equal to the server's for its scope.
//! `PROPTEST_CASES` sets the number of cases (default 8: each case signs nine users in, so 8 keeps CI near 40 s; run 32+ before a release).

mod common;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::time::{Duration, Instant};
use xuncha_sim::proxy::Chaos;
use xuncha_sim::{sim, Fault, FaultProxy};

#[derive(Debug, Clone)]
enum Act {
    Create { photo: bool },
    Edit(usize),
    Submit(usize),
    Sync,
}

fn act() -> impl Strategy<Value = (usize, Act)> {
    let a = prop_oneof![
        3 => any::<bool>().prop_map(|photo| Act::Create { photo }),
        1 => (0usize..8).prop_map(Act::Edit),
        1 => (0usize..8).prop_map(Act::Submit),
        3 => Just(Act::Sync),
    ];
    (0usize..3, a)
}

#[test]
fn random_ops_under_a_chaotic_network_converge() {
    init_tracing();
    let started = Instant::now();
    let cases: u32 = std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(8);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let server = ServerProc::seeded();
    let proxy = rt.block_on(FaultProxy::start(&server.url, 99)).unwrap();
    let work = tempfile::tempdir().unwrap();
    let users: Vec<String> = ["inspector5-1", "inspector5-2", "leader5"].iter().map(|s| s.to_string()).collect();
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let counter = std::sync::atomic::AtomicU64::new(0);
    let totals = std::sync::Mutex::new((0usize, 0usize));
    let result = runner.run(&proptest::collection::vec(act(), 1..14), |acts| {
        let case_no = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let r = rt.block_on(async {
            proxy.set(Fault::Pass);
            let base = sim::baseline(&server.url, &users).await.unwrap();
            let mut devs = Vec::new();
            for (i, u) in users.iter().enumerate() {
                devs.push(sim::Device::new(i, u, &proxy.url(), work.path(), fast_engine(), case_no).await.unwrap());
            }
            proxy.set(Fault::Chaos(Chaos {
                drop_request: 0.15,
                drop_response: 0.15,
                duplicate: 0.2,
                max_delay: Duration::from_millis(40),
            }));
            for (who, a) in &acts {
                let d = &mut devs[*who];
                let leader = d.is_leader();
                match a {
                    Act::Create { photo } if !leader => {
                        let p = photo.then(|| tiny_jpeg(case_no * 100 + d.created.len() as u64 + 10 * *who as u64));
                        d.create(p).await.unwrap();
                    }
                    Act::Edit(k) if !d.created.is_empty() => {
                        let k = k % d.created.len();
                        d.edit(k).await.unwrap();
                    }
                    Act::Submit(k) if !d.created.is_empty() => {
                        let k = k % d.created.len();
                        d.submit(k).await.unwrap();
                    }
                    _ => {
                        d.sync().await.unwrap();
                    }
                }
            }
            proxy.set(Fault::Pass);
            sim::settle(&devs, Duration::from_secs(30)).await.unwrap();
            sim::check(&server.url, &devs, &base).await.unwrap()
        });
        {
            let mut t = totals.lock().unwrap();
            t.0 += r.created;
            t.1 += r.on_server;
        }
        if !r.ok() {
            return Err(TestCaseError::fail(format!("{r}\n{:#?}", r.details)));
        }
        Ok(())
    });
    let replays = proxy.exchanges().iter().filter(|e| e.fate == xuncha_sim::proxy::Fate::Replay).count();
    let drops = proxy
        .exchanges()
        .iter()
        .filter(|e| matches!(e.fate, xuncha_sim::proxy::Fate::ResetRequest | xuncha_sim::proxy::Fate::ResetResponse))
        .count();
    let case_no = counter.load(std::sync::atomic::Ordering::SeqCst);
    let totals = *totals.lock().unwrap();
    println!(
        "chaos property: {case_no} runs ({cases} cases), created {} / on server {} / requests dropped {drops} / replayed {replays} / {:.1} s",
        totals.0,
        totals.1,
        started.elapsed().as_secs_f64()
    );
    result.unwrap();
    assert!(drops > 0 && replays > 0, "the proxy injected no faults");
}
