//! The protocol says a 413 to a push "is answered by sending smaller batches": the device halves the
//! batch and retries. Against a fake server that refuses pushes of more than 2 ops, 7 queued findings
//! must all be applied exactly once (without the split the sync fails and all 7 stay pending).

mod common;

use common::*;

#[tokio::test]
async fn a_push_answered_413_is_split_in_half_and_every_op_is_applied_once() {
    let fake = Fake::start().await;
    let (_dir, engine) = signed_in(&fake).await;
    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(engine.save_finding(None, draft("2026-11-20", vec![])).await.unwrap().summary.id);
    }
    fake.state.lock().unwrap().max_push_ops = Some(2);
    let st = engine.sync_now().await.unwrap();
    assert!(st.all_synced, "{st:?}");
    assert_eq!((st.pending_ops, st.rejected_ops), (0, 0));
    let s = fake.state.lock().unwrap();
    // 7 → refused, 3 → refused, then batches of ≤ 1 (the limit stays halved for the rest of the sync).
    assert_eq!(s.refused_push_sizes, vec![7, 3], "{:?}", s.refused_push_sizes);
    let mut pushed: Vec<String> = s.pushed.iter().map(|o| o.finding_id.to_string()).collect();
    pushed.sort();
    ids.sort();
    assert_eq!(pushed, ids, "each finding pushed (and applied) exactly once");
}

#[tokio::test]
async fn a_single_op_answered_413_stays_queued_with_the_error_shown() {
    let fake = Fake::start().await;
    let (_dir, engine) = signed_in(&fake).await;
    engine.save_finding(None, draft("2026-11-20", vec![])).await.unwrap();
    fake.state.lock().unwrap().max_push_ops = Some(0);
    let st = engine.sync_now().await.unwrap();
    assert_eq!(st.pending_ops, 1, "{st:?}");
    assert_eq!(st.last_error.as_ref().unwrap().code, "request.too_large");
    assert_eq!(fake.state.lock().unwrap().refused_push_sizes, vec![1]);
}
