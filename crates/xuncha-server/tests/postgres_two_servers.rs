//! Two server processes (the real binary) on one PostgreSQL database and one photo directory, as behind a
//! load balancer. Two device engines of one team alternate between them while recording, editing and
//! submitting; both end with the same findings. An op pushed through one server and replayed through the
//! other is `replayed: true`; one op sent to both at once applies once.

mod common;
mod pgtest;

use common::{gps_photos, phone_draft, seed, Launch, Server, PASSWORD};
use pgtest::TestDb;
use xuncha_device::{Engine, Scope};
use xuncha_proto::{OpBody, OpOutcome, Operation, PushRequest, PushResponse};

fn draft(tag: &str, i: usize, photo: String) -> xuncha_domain::FindingDraft {
    phone_draft(format!("{tag} 第 {i} 条：垃圾桶满溢"), i, vec![photo.parse().unwrap()])
}

/// What must be equal on both devices: id, text, status, version, photos, sub-district.
async fn state(e: &Engine) -> Vec<(String, String, String, u64, Vec<String>, Option<String>)> {
    let mut out = Vec::new();
    for s in e.list_findings(None, Scope::Team).await.unwrap() {
        let f = e.get_finding(&s.id).await.unwrap();
        let photos = f.photos.iter().map(|p| p.hash.clone()).collect();
        out.push((s.id, s.description, s.status, f.version, photos, f.sub_district));
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_database_converge_and_replays_stay_replays() {
    let db = TestDb::create().await;
    // One database and one photo folder, two processes (each Server owns a directory: share the photos
    // folder through a link so both serve the same files, as behind a load balancer).
    let shared = tempfile::tempdir().unwrap();
    let url = db.url.expose().to_string();
    let on_db = |log| Launch { database_url: Some(&url), log: Some(log), ..Launch::default() };
    seed(&shared, &on_db("seed.log"));
    let second = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(shared.path().join("blobs"), second.path().join("blobs")).unwrap();
    let servers = [Server::launch(shared, &on_db("one.log")), Server::launch(second, &on_db("two.log"))];

    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Engine::open(dir_a.path()).unwrap();
    let b = Engine::open(dir_b.path()).unwrap();
    let photos = gps_photos();
    let mut created = 0;
    for round in 0..4 {
        // A talks to one server, B to the other; next round they swap.
        let (sa, sb) = (&servers[round % 2], &servers[(round + 1) % 2]);
        a.login(&sa.url, "inspector1-1", PASSWORD).await.unwrap();
        b.login(&sb.url, "inspector1-2", PASSWORD).await.unwrap();
        for (k, (e, tag)) in [(&a, "A"), (&b, "B")].into_iter().enumerate() {
            let photo = e.ingest_photo(std::fs::read(&photos[(2 * round + k) % photos.len()]).unwrap()).await.unwrap();
            let saved = e.save_finding(None, draft(tag, round, photo.hash.clone())).await.unwrap();
            created += 1;
            if round % 2 == 1 {
                // Edit it, then submit it: three ops for one finding, across the sync.
                let mut d = draft(tag, round, photo.hash);
                d.description = format!("{tag} 第 {round} 条：已改");
                e.save_finding(Some(&saved.summary.id), d).await.unwrap();
                let r = e.submit_findings(vec![saved.summary.id.clone()]).await.unwrap();
                assert_eq!(r.submitted.len(), 1, "{r:?}");
            }
        }
        let (x, y) = tokio::join!(a.sync_now(), b.sync_now());
        let (x, y) = (x.unwrap(), y.unwrap());
        assert!(x.all_synced && y.all_synced, "round {round}:\n{x:?}\n{y:?}");
    }
    // A last pull for both, each from the server it did not use last.
    a.login(&servers[0].url, "inspector1-1", PASSWORD).await.unwrap();
    b.login(&servers[1].url, "inspector1-2", PASSWORD).await.unwrap();
    let (x, y) = tokio::join!(a.sync_now(), b.sync_now());
    let (x, y) = (x.unwrap(), y.unwrap());
    assert!(x.all_synced && y.all_synced, "{x:?} {y:?}");
    assert_eq!((x.rejected_ops, y.rejected_ops), (0, 0));
    let (sa, sb) = (state(&a).await, state(&b).await);
    assert_eq!(sa, sb, "both devices hold the same findings");
    let ours: Vec<_> = sa.iter().filter(|f| f.1.starts_with("A ") || f.1.starts_with("B ")).collect();
    assert_eq!(ours.len(), created);
    // The device folds an edit of an unsent create into that create: created+edited is version 1, submitted 2.
    let edited: Vec<_> = ours.iter().filter(|f| f.1.ends_with("已改")).collect();
    assert_eq!(edited.len(), 4);
    assert!(edited.iter().all(|f| f.2 == "submitted" && f.3 == 2), "{ours:?}");
    // Photos uploaded through either server are readable on both devices.
    for f in &ours {
        for h in &f.4 {
            let (pa, pb) = (a.photo(h, xuncha_device::PhotoSize::Full), b.photo(h, xuncha_device::PhotoSize::Full));
            assert!(pa.await.unwrap() == pb.await.unwrap());
        }
    }
    println!(
        "two servers, one PostgreSQL: {} findings in the team on each device, {} ours, identical: {}",
        sa.len(),
        ours.len(),
        sa == sb
    );

    // Raw pushes: through one server, replayed through the other with the same token (one database).
    let http = reqwest::Client::new();
    let device_id = xuncha_domain::DeviceId::new_v7();
    let login: serde_json::Value = http
        .post(format!("{}/api/v1/auth/login", servers[0].url))
        .json(&serde_json::json!({"username": "inspector1-3", "password": PASSWORD, "device_id": device_id}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_string();
    let photo = xuncha_photo::ingest(&std::fs::read(&photos[0]).unwrap()).unwrap();
    let fields = draft("R", 1, photo.hash.to_hex()).validate(&xuncha_domain::Taxonomy::builtin()).unwrap();
    let push = |seq: u64| PushRequest {
        device_id,
        ops: vec![Operation {
            op_id: xuncha_domain::OpId::new_v7(),
            device_seq: seq,
            finding_id: xuncha_domain::FindingId::new_v7(),
            body: OpBody::Create { fields: fields.clone() },
        }],
    };
    let send = |server: usize, req: PushRequest| {
        let (http, token, url) = (http.clone(), token.clone(), servers[server].url.clone());
        async move {
            let r = http.post(format!("{url}/api/v1/sync/push")).bearer_auth(&token).json(&req).send().await.unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            r.json::<PushResponse>().await.unwrap().results[0].outcome.clone()
        }
    };
    let first = push(1);
    assert_eq!(send(0, first.clone()).await, OpOutcome::Applied { version: 1, replayed: false, conflicts: vec![] });
    assert_eq!(send(1, first.clone()).await, OpOutcome::Applied { version: 1, replayed: true, conflicts: vec![] });
    assert_eq!(send(0, first).await, OpOutcome::Applied { version: 1, replayed: true, conflicts: vec![] });
    // One new op to both servers at the same moment: applied once.
    let both = push(2);
    let (x, y) = tokio::join!(send(0, both.clone()), send(1, both));
    let fresh =
        [x, y].iter().filter(|o| **o == OpOutcome::Applied { version: 1, replayed: false, conflicts: vec![] }).count();
    assert_eq!(fresh, 1);
    println!("replayed through the other server: replayed=true; simultaneous on both: applied once");
}
