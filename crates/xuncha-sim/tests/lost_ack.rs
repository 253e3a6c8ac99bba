//! Lost acknowledgement ×100 (reliability.md §2.12 C4): the proxy lets each push reach the server and
//! resets the connection as soon as the answer starts (the server committed, the phone hears nothing).
//! Proves that the retry after healing applies nothing twice: at the end the server holds exactly the
//! 100 findings once each and the device holds the same 100, all acknowledged. It fails if the device
//! treated the reset as success (server count < 100 / lost > 0), or if a retry created a second copy
//! (duplicated > 0), or if the server never committed (no replayed push: counted from the proxy log).

mod common;

use common::*;
use std::time::Instant;
use xuncha_sim::proxy::Fate;
use xuncha_sim::{sim, Fault, FaultProxy, Match};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_lost_acknowledgements_create_no_duplicate() {
    init_tracing();
    let started = Instant::now();
    let server = ServerProc::seeded();
    let proxy = FaultProxy::start(&server.url, 7).await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let user = "inspector2-1".to_string();
    let base = sim::baseline(&server.url, std::slice::from_ref(&user)).await.unwrap();
    let mut dev = sim::Device::new(0, &user, &proxy.url(), work.path(), fast_engine(), 42).await.unwrap();
    dev.sync().await.unwrap();

    for round in 0..100 {
        dev.create(None).await.unwrap();
        proxy.set_for(Fault::ResetAfterResponseBytes(0), Match::new("POST", "/api/v1/sync/push"));
        let st = dev.sync().await.unwrap();
        assert_eq!(st.pending_ops, 1, "round {round}: the lost answer must leave the op queued: {st:?}");
        assert!(!st.all_synced);
        proxy.set(Fault::Pass);
        let st = dev.sync().await.unwrap();
        assert!(st.all_synced, "round {round}: {st:?}");
    }

    let resets = proxy
        .exchanges()
        .iter()
        .filter(|e| e.path == "/api/v1/sync/push" && e.fate == Fate::ResetResponse && e.status == Some(200))
        .count();
    // At least once a round; the device resends once at once when a connection dies before the answer
    // (client.rs `send`), and that resend is cut too while the fault is on.
    assert!(
        (100..=200).contains(&resets),
        "every round the server answered 200 (committed) and the answer was cut: {resets}"
    );

    let devices = vec![dev];
    sim::settle(&devices, std::time::Duration::from_secs(30)).await.unwrap();
    let report = sim::check(&server.url, &devices, &base).await.unwrap();
    let server_count = xuncha_sim::ServerView::login(&server.url, &user)
        .await
        .unwrap()
        .findings()
        .await
        .unwrap()
        .values()
        .filter(|r| sim::marker_of(r.finding.fields.description.as_str()).is_some())
        .count();
    let device_count = devices[0]
        .engine
        .list_findings(None, xuncha_device::Scope::Mine)
        .await
        .unwrap()
        .iter()
        .filter(|f| sim::marker_of(&f.description).is_some())
        .count();
    println!(
        "lost-ack ×100: {} / server count {server_count} / device count {device_count} / resets {resets} / {:.1} s",
        report.line(),
        started.elapsed().as_secs_f64()
    );
    assert!(report.ok(), "{report}\n{:#?}", report.details);
    assert_eq!((server_count, device_count, report.acked, report.duplicated), (100, 100, 100, 0));
}
