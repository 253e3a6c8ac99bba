//! On PostgreSQL, a push is committed by a writer pass that takes every push waiting (group commit,
//! `store/group_commit.rs`). A phone that loses its connection while its request is waiting must not take
//! down the pushes of the phones waiting with it: in a burst of a thousand phones on mobile networks, one
//! of them hanging up is ordinary.

mod common;
mod pgtest;

use common::{fields, login, Client, Server, HUBIN};
use pgtest::TestDb;
use reqwest::StatusCode;
use std::time::Duration;
use xuncha_domain::FindingId;
use xuncha_proto::{OpBody, OpOutcome, PushResponse};

/// Long enough for a request sent over loopback to reach the server and queue there.
const SETTLE: Duration = Duration::from_millis(400);

/// Sends one new finding from `c` in a task of its own (aborting the task hangs up the connection).
fn push_one(mut c: Client) -> (FindingId, tokio::task::JoinHandle<reqwest::Response>) {
    let id = FindingId::new_v7();
    let op = c.op(id, OpBody::Create { fields: fields(Some(HUBIN), vec![]) });
    (id, tokio::spawn(async move { c.push_raw(&[op]).await }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_hanging_up_mid_commit_does_not_fail_the_pushes_waiting_with_it() {
    let db = TestDb::create().await;
    let server = Server::seeded_on_postgres(db.url.expose(), "server.log");
    let phones = [
        login(&server, "inspector1-1").await,
        login(&server, "inspector1-2").await,
        login(&server, "inspector1-3").await,
        login(&server, "inspector1-4").await,
        login(&server, "inspector1-5").await,
    ];
    let reader = login(&server, "leader1").await;
    let before = reader.pull_all().await.len();

    // Another session holds the change counter's row lock, which every push transaction takes first: a
    // writer pass that has taken its group waits there, inside its transaction.
    let holder = db.connect().await;
    holder.batch_execute("BEGIN; SELECT last_seq FROM change_counter FOR UPDATE").await.unwrap();

    let [a, b, rest @ ..] = phones;
    // 1. Phone A's push becomes a writer pass (of its own op) and waits on the lock.
    let (a_id, a_push) = push_one(a);
    tokio::time::sleep(SETTLE).await;
    // 2. Phone B's push queues for the writer next; then three more phones push and wait in the queue.
    let (b_id, b_push) = push_one(b);
    tokio::time::sleep(SETTLE).await;
    let waiting: Vec<_> = rest.into_iter().map(push_one).collect();
    tokio::time::sleep(SETTLE).await;
    // 3. A hangs up. B's pass is next: it takes every waiting push and waits on the lock. Then B hangs up.
    a_push.abort();
    tokio::time::sleep(SETTLE).await;
    b_push.abort();
    tokio::time::sleep(SETTLE).await;
    holder.batch_execute("ROLLBACK").await.unwrap();

    for (id, push) in waiting {
        let resp = tokio::time::timeout(Duration::from_secs(30), push).await.expect("push answered").unwrap();
        let status = resp.status();
        assert_eq!(status, StatusCode::OK, "a waiting phone's push: {}", resp.text().await.unwrap());
        let results = resp.json::<PushResponse>().await.unwrap().results;
        assert!(matches!(results[0].outcome, OpOutcome::Applied { .. }), "finding {id}: {:?}", results[0].outcome);
    }
    // The phones that hung up lose nothing either: their ops were committed (their answers were lost, and
    // a retry would be answered from the stored result).
    let after = reader.pull_all().await;
    assert_eq!(after.len(), before + 5, "every phone's finding is on the server");
    for id in [a_id, b_id] {
        assert!(after.iter().any(|r| r.finding.id == id), "the finding of a phone that hung up: {id}");
    }
    println!("5 pushes, 2 of their phones hung up while their requests held the writer: 5 committed, 3 answered");
}
