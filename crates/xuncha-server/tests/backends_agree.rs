//! The same pushes give the same answers and the same findings on SQLite and on PostgreSQL.
//!
//! Why beside the conformance stories: the two backends write a push differently — SQLite op by op,
//! PostgreSQL set-based in rounds of independent ops (`store/postgres/push.rs`) — and a story checks only
//! what its author thought of. Here long pushes mix creates, edits and status changes of findings made
//! earlier in the same push, stale bases, replays, reused device slots, creates of existing ids and op ids
//! replayed by someone else, from a seeded generator; every answer and every stored finding must match.
//! Only `server_seq` may differ: within one commit the backends may number changes in another order.

mod conformance;
mod pgtest;

use chrono::{DateTime, Duration, TimeZone, Utc};
use conformance::{fields, world, Store};
use std::sync::Arc;
use xuncha_domain::{Action, DeviceId, FindingId, OpId};
use xuncha_proto::{OpBody, Operation};
use xuncha_server::apply::Rules;
use xuncha_server::store::{PostgresStore, SqliteStore};

/// A push: who sends it (index into the conformance world's people), from which device, when.
struct Push {
    person: usize,
    device: DeviceId,
    at: DateTime<Utc>,
    ops: Vec<Operation>,
}

/// xorshift64*: the same pushes on every run and both backends, without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

/// Pushes from an inspector and a leader of one team and an inspector of another.
fn pushes(seed: u64) -> Vec<Push> {
    let mut rng = Rng(seed);
    let people = [0, 3, 1];
    let devices: Vec<DeviceId> = people.iter().map(|_| DeviceId::new_v7()).collect();
    let mut next_seq = vec![1u64; people.len()];
    let mut findings: Vec<FindingId> = Vec::new();
    let mut sent: Vec<(usize, Operation)> = Vec::new();
    let start = Utc.with_ymd_and_hms(2026, 11, 20, 2, 0, 0).unwrap();
    let mut out = Vec::new();
    for n in 0..10 {
        let who = rng.below(people.len());
        let mut ops = Vec::new();
        for _ in 0..20 + rng.below(100) {
            let mut fresh = |body| {
                let seq = next_seq[who];
                next_seq[who] += 1;
                Operation { op_id: OpId::new_v7(), device_seq: seq, finding_id: FindingId::new_v7(), body }
            };
            let known = |rng: &mut Rng| findings.get(rng.below(findings.len().max(1))).copied();
            let op = match rng.below(20) {
                0..=6 => {
                    let op = fresh(OpBody::Create { fields: fields(None) });
                    findings.push(op.finding_id);
                    op
                }
                7..=11 => {
                    let Some(id) = known(&mut rng) else { continue };
                    let mut f = fields(None);
                    f.address = format!("地址 {}", rng.below(5));
                    Operation {
                        finding_id: id,
                        ..fresh(OpBody::Edit { base_version: rng.below(4) as u64, fields: f, base: None })
                    }
                }
                12..=14 => {
                    let Some(id) = known(&mut rng) else { continue };
                    let action = if rng.below(2) == 0 { Action::Submit } else { Action::Approve };
                    let base_version = rng.below(5) as u64;
                    Operation { finding_id: id, ..fresh(OpBody::ChangeStatus { base_version, action }) }
                }
                // The same op again, from the device that sent it: a replay.
                15 | 16 => {
                    let mine: Vec<&Operation> = sent.iter().filter(|(d, _)| *d == who).map(|(_, op)| op).collect();
                    if mine.is_empty() {
                        continue;
                    }
                    mine[rng.below(mine.len())].clone()
                }
                // Another op in a device slot already used.
                17 => {
                    let op = fresh(OpBody::Create { fields: fields(None) });
                    Operation { device_seq: 1 + rng.below(next_seq[who] as usize) as u64, ..op }
                }
                // A create of an id that exists.
                18 => {
                    let Some(id) = known(&mut rng) else { continue };
                    Operation { finding_id: id, ..fresh(OpBody::Create { fields: fields(None) }) }
                }
                // Someone else's op id.
                _ => match sent.iter().find(|(d, _)| *d != who) {
                    Some((_, op)) => Operation { device_seq: next_seq[who], ..op.clone() },
                    None => continue,
                },
            };
            sent.push((who, op.clone()));
            ops.push(op);
        }
        out.push(Push { person: people[who], device: devices[who], at: start + Duration::minutes(n), ops });
    }
    out
}

/// Every answer in order, then every finding the admin sees (sorted: pulls come in `server_seq` order),
/// as JSON with the world's own ids (people, teams) replaced by their index and `server_seq` left out.
async fn run(store: Store, pushes: &[Push]) -> Vec<String> {
    let w = world(store).await;
    let mut ids: Vec<(String, String)> =
        w.people.iter().enumerate().map(|(i, p)| (p.user.0.to_string(), format!("person{i}"))).collect();
    ids.extend(w.teams.iter().enumerate().map(|(i, t)| (t.id.0.to_string(), format!("team{i}"))));
    let plain = |json: String| ids.iter().fold(json, |s, (id, name)| s.replace(id, name));
    let mut answers = Vec::new();
    for p in pushes {
        let got = w.store.push(&w.people[p.person], p.device, p.ops.clone(), p.at).await.unwrap();
        answers.extend(got.iter().map(|a| plain(serde_json::to_string(a).unwrap())));
    }
    let (admin, mut findings) = (&w.people[6], Vec::new());
    let (mut cursor, mut more) = (0, true);
    while more {
        let page = w.store.pull(admin, cursor, 50).await.unwrap();
        for mut r in page.changes {
            r.server_seq = 0;
            findings.push(plain(serde_json::to_string(&r).unwrap()));
        }
        (cursor, more) = (page.cursor, page.has_more);
    }
    findings.sort();
    answers.extend(findings);
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_pushes_get_the_same_answers_and_findings_on_sqlite_and_postgresql() {
    for seed in [0x5855_4e43_4841, 7, 2026] {
        let pushes = pushes(seed);
        let ops: usize = pushes.iter().map(|p| p.ops.len()).sum();

        let dir = tempfile::tempdir().unwrap();
        let sqlite = SqliteStore::open(&dir.path().join("t.sqlite3"), Arc::new(Rules::builtin())).await.unwrap();
        let on_sqlite = run(Arc::new(sqlite), &pushes).await;

        let db = pgtest::TestDb::create().await;
        let postgres = PostgresStore::open(&db.url, Arc::new(Rules::builtin())).await.unwrap();
        let on_postgres = run(Arc::new(postgres), &pushes).await;

        let codes = |v: &[String], code: &str| v.iter().filter(|s| s.contains(code)).count();
        for code in
            ["\"replayed\":true", "sync.sequence_reused", "sync.finding_exists", "sync.op_id_reused", "sync.conflict"]
        {
            assert!(codes(&on_sqlite, code) > 0, "seed {seed}: the pushes never produce {code}");
        }
        println!(
            "seed {seed}: {} pushes, {ops} ops, {} answers and findings compared; {} replays, {} conflicts",
            pushes.len(),
            on_sqlite.len(),
            codes(&on_sqlite, "\"replayed\":true"),
            codes(&on_sqlite, "sync.conflict")
        );
        assert_eq!(on_sqlite.len(), on_postgres.len(), "seed {seed}");
        for (s, p) in on_sqlite.iter().zip(&on_postgres) {
            assert_eq!(s, p, "seed {seed}: SQLite (left) and PostgreSQL (right) differ");
        }
    }
}
