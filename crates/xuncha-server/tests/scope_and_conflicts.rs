//! Conflicts, scope changes and drift through real parts: the server binary (demo world, SQLite file)
//! and real device engines with their own SQLite files.
//!
//! - One inspector, two phones, the same field edited on both: neither value is lost; the second phone
//!   shows both and the person's choice wins; a field only one side changed merges without asking.
//! - A leader moved to another team (`xuncha-server set-user`) holds, after the next sync, exactly the
//!   new team's findings: the old team's rows and photo files are gone, unsent work is kept.
//! - A phone whose copy drifted (a row lost, a foreign row added) repairs itself from the scope digest.

mod common;

use common::{Server, PASSWORD};
use std::collections::BTreeSet;
use std::time::Duration;
use xuncha_device::{Engine, EngineOptions, Keep, Scope};
use xuncha_domain::finding::RawPosition;
use xuncha_domain::{FindingDraft, PositionSource, Severity};

fn engine(dir: &tempfile::TempDir) -> Engine {
    // Digest on every sync, so drift shows at once.
    Engine::open_with(dir.path(), EngineOptions { digest_period: Duration::ZERO, ..EngineOptions::default() }).unwrap()
}

fn draft(description: &str) -> FindingDraft {
    xuncha_testkit::bin_draft(description.into(), 0, vec![], xuncha_testkit::demo_morning())
}

fn draft_of(v: &xuncha_device::FindingView) -> FindingDraft {
    let p = v.position.as_ref().unwrap();
    FindingDraft {
        category: v.summary.category.clone(),
        subcategory: v.summary.subcategory.clone(),
        description: v.summary.description.clone(),
        address: v.address.clone(),
        severity: Severity::parse(&v.severity).unwrap(),
        position: Some(RawPosition {
            lat: p.lat,
            lon: p.lon,
            accuracy_m: p.accuracy_m,
            source: PositionSource::parse(&p.source).unwrap(),
        }),
        photos: v.photos.iter().map(|p| p.hash.parse().unwrap()).collect(),
        observed_at: v.summary.observed_at.parse().unwrap(),
    }
}

async fn ids(e: &Engine) -> BTreeSet<String> {
    e.list_findings(None, Scope::Team).await.unwrap().into_iter().map(|f| f.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_field_edited_on_two_phones_keeps_both_values_until_the_person_chooses() {
    let server = Server::seeded();
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (engine(&da), engine(&db));
    a.login(&server.url, "inspector1-2", PASSWORD).await.unwrap();
    b.login(&server.url, "inspector1-2", PASSWORD).await.unwrap();
    let id = a.save_finding(None, draft("原始描述")).await.unwrap().summary.id;
    assert!(a.sync_now().await.unwrap().all_synced);
    b.sync_now().await.unwrap();

    // Phone A changes description and address; phone B, not yet synced, changes description and severity.
    let mut on_a = draft_of(&a.get_finding(&id).await.unwrap());
    on_a.description = "A 机：垃圾桶满溢，已通知物业".into();
    on_a.address = "湖滨路 1 号东侧".into();
    a.save_finding(Some(&id), on_a).await.unwrap();
    a.sync_now().await.unwrap();
    let mut on_b = draft_of(&b.get_finding(&id).await.unwrap());
    on_b.description = "B 机：垃圾桶满溢三天".into();
    on_b.severity = Severity::High;
    b.save_finding(Some(&id), on_b).await.unwrap();
    let st = b.sync_now().await.unwrap();

    assert_eq!((st.pending_ops, st.conflicts), (0, 1), "{st:?}");
    assert!(!st.all_synced, "a conflict waiting for a choice is not 'all synced'");
    let v = b.get_finding(&id).await.unwrap();
    assert_eq!(v.summary.sync_state, xuncha_device::SyncState::Conflict);
    assert_eq!(v.conflicts.len(), 1, "{:?}", v.conflicts);
    assert_eq!(v.conflicts[0].field, "description");
    assert_eq!(v.conflicts[0].yours, serde_json::json!("B 机：垃圾桶满溢三天"));
    assert_eq!(v.conflicts[0].theirs, serde_json::json!("A 机：垃圾桶满溢，已通知物业"));
    assert_eq!(v.summary.description, "A 机：垃圾桶满溢，已通知物业", "the server's value until the person chooses");
    assert_eq!((v.severity.as_str(), v.address.as_str()), ("high", "湖滨路 1 号东侧"), "other fields merged");

    // The person keeps their own description: it reaches the server and phone A.
    let v = b.resolve_conflict(&id, "description", Keep::Mine).await.unwrap();
    assert!(v.conflicts.is_empty());
    let st = b.sync_now().await.unwrap();
    assert!(st.all_synced, "{st:?}");
    a.sync_now().await.unwrap();
    let on_a = a.get_finding(&id).await.unwrap();
    assert_eq!(on_a.summary.description, "B 机：垃圾桶满溢三天");
    assert_eq!((on_a.severity.as_str(), on_a.address.as_str()), ("high", "湖滨路 1 号东侧"));
    assert!(a.resolve_conflict(&id, "description", Keep::Theirs).await.is_err(), "nothing left to resolve");
    println!("conflict: 1 field kept with both values, resolved to the person's choice, 2 fields merged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_moved_to_another_team_holds_exactly_the_new_teams_findings() {
    let server = Server::seeded();
    let (dl, dref) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = engine(&dl);
    leader.login(&server.url, "leader1", PASSWORD).await.unwrap();
    leader.sync_now().await.unwrap();
    let old_team = ids(&leader).await;
    assert!(!old_team.is_empty());
    let photo_files = |dir: &std::path::Path| walk(&dir.join("photos")).len();
    let old_photos = photo_files(dl.path());
    assert!(old_photos > 0, "the demo findings have photos");

    // Recorded before the move and not yet sent: must survive it.
    let unsent = leader.save_finding(None, draft("调岗前记录，尚未上传")).await.unwrap().summary.id;

    let out = server.cli(&["set-user", "--user", "leader1", "--role", "team_leader", "--team", "上城区清波一组"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let st = leader.sync_now().await.unwrap();
    assert!(st.all_synced, "{st:?}");

    // What the new team's own leader holds is the reference.
    let reference = engine(&dref);
    reference.login(&server.url, "leader2", PASSWORD).await.unwrap();
    reference.sync_now().await.unwrap();
    let mut expected = ids(&reference).await;
    expected.insert(unsent.clone());
    let now = ids(&leader).await;
    assert_eq!(now, expected, "exactly the new team's findings, plus the unsent one (now sent to the new team)");
    assert!(old_team.is_disjoint(&now), "nothing of the old team remains");
    let photos_now = photo_files(dl.path());
    let ref_photos = photo_files(dref.path());
    assert_eq!(photos_now, ref_photos, "the old team's photo files are deleted, the new team's downloaded");
    println!(
        "scope change: old team {} findings / {old_photos} photos removed; new team {} findings / {photos_now} photos",
        old_team.len(),
        now.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drifted_copy_is_found_by_the_digest_and_repaired() {
    let server = Server::seeded();
    let dl = tempfile::tempdir().unwrap();
    let leader = engine(&dl);
    leader.login(&server.url, "leader3", PASSWORD).await.unwrap();
    leader.sync_now().await.unwrap();
    let good = ids(&leader).await;
    let lost = good.iter().next().unwrap().clone();
    drop(leader);

    // Damage the copy behind the engine's back: one row lost, one foreign row that the server never sent.
    {
        let c = rusqlite::Connection::open(dl.path().join("xuncha.sqlite3")).unwrap();
        c.execute("DELETE FROM findings WHERE id = ?1", [&lost]).unwrap();
        c.execute(
            "INSERT INTO findings(id, author, team, fields_json, status, category, observed_at, observed_utc,
                                  observed_day, version, author_name, team_name, updated_at)
             SELECT '0190a000-0000-7000-8000-000000000001', author, team, fields_json, status, category, observed_at,
                    observed_utc, observed_day, 7, author_name, team_name, updated_at FROM findings LIMIT 1",
            [],
        )
        .unwrap();
    }
    let leader = engine(&dl);
    let st = leader.sync_now().await.unwrap();
    assert!(st.all_synced, "{st:?}");
    assert_eq!(ids(&leader).await, good, "the lost row is back and the foreign one is gone");
    println!("drift: 1 lost + 1 foreign row repaired from the scope digest ({} findings)", good.len());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else if p.extension().is_some_and(|x| x == "jpg") {
                out.push(p);
            }
        }
    }
    out
}
