//! The whole loop through real parts: the server binary on 127.0.0.1 (demo world, SQLite file), and two
//! device engines with their own SQLite files. Device A (trainee inspector1-1) records 20 findings with
//! photos while the server is down, then syncs; device B (team 1's leader) pulls and holds exactly those
//! 20, with byte-identical photos. A replayed push creates no duplicate.

mod common;

use common::{phone_draft, Launch, Server, PASSWORD};
use std::path::{Path, PathBuf};
use xuncha_device::{Engine, PhotoSize, Scope};
use xuncha_domain::FindingDraft;

/// Twenty distinct real photos: the GPS set and the orientation set.
fn twenty_photos() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/photos");
    let mut files: Vec<PathBuf> = ["gps", "orientation"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).unwrap().map(|e| e.unwrap().path()))
        .collect();
    files.sort();
    files.truncate(20);
    assert_eq!(files.len(), 20);
    files
}

fn draft(i: usize, photo: String) -> FindingDraft {
    phone_draft(format!("离线记录第 {i} 条：垃圾桶满溢"), i, vec![photo.parse().unwrap()])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_offline_findings_reach_the_leader_exactly_once_with_identical_photos() {
    let server = Server::seeded();
    let url = server.url.clone();
    let listen = url.trim_start_matches("http://").to_string();

    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Engine::open(dir_a.path()).unwrap();
    let b = Engine::open(dir_b.path()).unwrap();
    a.login(&url, "inspector1-1", PASSWORD).await.unwrap();
    b.login(&url, "leader1", PASSWORD).await.unwrap();
    b.sync_now().await.unwrap();
    let before: std::collections::HashSet<String> =
        b.list_findings(None, Scope::Team).await.unwrap().into_iter().map(|f| f.id).collect();

    // The server goes down; A keeps working.
    let server_dir = server.stop();
    let mut ids = Vec::new();
    for (i, path) in twenty_photos().iter().enumerate() {
        let photo = a.ingest_photo(std::fs::read(path).unwrap()).await.unwrap();
        ids.push(a.save_finding(None, draft(i, photo.hash)).await.unwrap().summary.id);
    }
    let offline = a.sync_now().await;
    let status = match offline {
        Ok(s) => s,
        Err(_) => a.sync_status().await.unwrap(),
    };
    assert!(!status.online, "the server is down");
    assert!(!status.all_synced);
    assert_eq!(status.pending_ops, 20, "every finding waits in the outbox: {status:?}");
    assert!(status.last_error.is_some(), "the failure is shown");
    println!("offline: {status:?}");

    // Back up on the same address: A syncs everything, twice over to prove a repeat does nothing.
    let _server = Server::launch(server_dir, &Launch { listen: Some(&listen), ..Launch::default() });
    let status = a.sync_now().await.unwrap();
    assert!(status.all_synced, "{status:?}");
    assert_eq!((status.pending_ops, status.pending_photos, status.rejected_ops), (0, 0, 0));
    a.sync_now().await.unwrap();

    b.sync_now().await.unwrap();
    let after = b.list_findings(None, Scope::Team).await.unwrap();
    let new: std::collections::HashSet<String> =
        after.iter().map(|f| f.id.clone()).filter(|id| !before.contains(id)).collect();
    let expected: std::collections::HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(new, expected, "the leader holds exactly A's 20 findings");

    for id in &ids {
        let fa = a.get_finding(id).await.unwrap();
        let fb = b.get_finding(id).await.unwrap();
        assert_eq!(fa.summary.description, fb.summary.description);
        assert_eq!(fb.photos.len(), 1);
        let hash = &fb.photos[0].hash;
        let bytes_a = a.photo(hash, PhotoSize::Full).await.unwrap();
        let bytes_b = b.photo(hash, PhotoSize::Full).await.unwrap();
        assert!(bytes_a == bytes_b, "photo {hash} differs between devices");
        assert_eq!(xuncha_photo::sha256(&bytes_b).to_hex(), *hash);
    }
    println!("two devices: created 20 / on leader {} / duplicated 0 / photos identical", new.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_push_creates_no_duplicate() {
    use xuncha_proto::{OpBody, OpOutcome, Operation, PushRequest, PushResponse};
    let server = Server::seeded();
    let http = reqwest::Client::new();
    let device_id = xuncha_domain::DeviceId::new_v7();
    let login: serde_json::Value = http
        .post(format!("{}/api/v1/auth/login", server.url))
        .json(&serde_json::json!({"username": "inspector1-2", "password": PASSWORD, "device_id": device_id}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_string();
    let photo = xuncha_photo::ingest(&std::fs::read(&twenty_photos()[0]).unwrap()).unwrap();
    let fields = draft(1, photo.hash.to_hex()).validate(&xuncha_domain::Taxonomy::builtin()).unwrap();
    let push = PushRequest {
        device_id,
        ops: vec![Operation {
            op_id: xuncha_domain::OpId::new_v7(),
            device_seq: 1,
            finding_id: xuncha_domain::FindingId::new_v7(),
            body: OpBody::Create { fields },
        }],
    };
    let send = || async {
        let r =
            http.post(format!("{}/api/v1/sync/push", server.url)).bearer_auth(&token).json(&push).send().await.unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        r.json::<PushResponse>().await.unwrap()
    };
    let first = send().await;
    let (second, third) = tokio::join!(send(), send());
    assert_eq!(first.results[0].outcome, OpOutcome::Applied { version: 1, replayed: false, conflicts: vec![] });
    for r in [second, third] {
        assert_eq!(r.results[0].outcome, OpOutcome::Applied { version: 1, replayed: true, conflicts: vec![] });
    }

    // The leader sees it once.
    let leader_dir = tempfile::tempdir().unwrap();
    let leader = Engine::open(leader_dir.path()).unwrap();
    leader.login(&server.url, "leader1", PASSWORD).await.unwrap();
    leader.sync_now().await.unwrap();
    let id = push.ops[0].finding_id.to_string();
    let count = leader.list_findings(None, Scope::Team).await.unwrap().iter().filter(|f| f.id == id).count();
    assert_eq!(count, 1);
}
