//! Property on real parts: one inspector on two phones, the same findings edited on both while the
//! chaotic proxy drops requests, drops answers after the server committed, replays and delays. Every
//! value either phone writes is unique, so the checks can tell exactly where each one went:
//! - convergence: after healing, both phones show exactly the server's findings and field values;
//! - honest conflicts: every conflict a phone shows pairs a value *that phone* wrote ("yours") with a
//!   different value the other phone wrote ("theirs"); no conflict is invented, none hides a value;
//! - "all synced" is never shown while a conflict waits for a choice;
//! - the choice wins: after each open conflict is resolved with "keep mine" and both phones sync, the
//!   server and both phones hold the chosen value (when both phones insisted on different values for the
//!   same field, the second choice meets the first and is shown as a conflict again: that is correct);
//! - lost = duplicated = 0 for the findings created.
//!
//! `PROPTEST_CASES` sets the number of cases (default 6).

mod common;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use xuncha_device::{Engine, Keep, Scope};
use xuncha_domain::FindingDraft;
use xuncha_sim::proxy::Chaos;
use xuncha_sim::{sim, Fault, FaultProxy, ServerView};

const USER: &str = "inspector6-1";

#[derive(Debug, Clone)]
enum Act {
    Create(usize),
    /// (phone, which finding, which field: 0 description, 1 address)
    Edit(usize, usize, u8),
    Sync(usize),
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        1 => (0usize..2).prop_map(Act::Create),
        4 => (0usize..2, 0usize..4, 0u8..2).prop_map(|(p, k, f)| Act::Edit(p, k, f)),
        2 => (0usize..2).prop_map(Act::Sync),
    ]
}

fn draft(description: String, address: String) -> FindingDraft {
    FindingDraft { address, ..xuncha_testkit::bin_draft(description, 0, vec![], xuncha_testkit::demo_morning()) }
}

async fn mine(e: &Engine) -> Vec<String> {
    let mut v: Vec<String> = e.list_findings(None, Scope::Mine).await.unwrap().into_iter().map(|f| f.id).collect();
    v.sort();
    v
}

/// (description, address) of each finding a phone holds.
async fn values(e: &Engine) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for id in mine(e).await {
        let v = e.get_finding(&id).await.unwrap();
        out.insert(id, (v.summary.description, v.address));
    }
    out
}

async fn heal(phones: &[sim::Device]) {
    for _ in 0..2 {
        for p in phones {
            p.sync().await.unwrap();
        }
    }
}

#[test]
fn two_phones_of_one_inspector_converge_without_losing_a_value() {
    init_tracing();
    let started = Instant::now();
    let cases: u32 = std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(6);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let server = ServerProc::seeded();
    let proxy = rt.block_on(FaultProxy::start(&server.url, 7)).unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let counter = std::sync::atomic::AtomicU64::new(0);
    let totals = std::sync::Mutex::new((0usize, 0usize, 0usize));
    let result = runner.run(&proptest::collection::vec(act(), 4..24), |acts| {
        let case = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        rt.block_on(async {
            proxy.set(Fault::Pass);
            let mut phones = Vec::new();
            for i in 0..2 {
                phones.push(sim::Device::new(i, USER, &proxy.url(), work.path(), fast_engine(), case).await.unwrap());
            }
            // Both phones start from the same state; earlier cases' findings are left alone.
            heal(&phones).await;
            let before: BTreeSet<String> = mine(&phones[0].engine).await.into_iter().collect();
            // Two findings both phones know, so that both can edit them offline.
            let mut created = Vec::new();
            for i in 0..2 {
                let d = draft(format!("c{case}-s{i} 新建"), format!("c{case}-s{i} 地址"));
                created.push(phones[0].engine.save_finding(None, d).await.unwrap().summary.id);
            }
            heal(&phones).await;
            proxy.set(Fault::Chaos(Chaos {
                drop_request: 0.15,
                drop_response: 0.15,
                duplicate: 0.2,
                max_delay: Duration::from_millis(30),
            }));
            // Every value written, by phone: (finding, field) → values in the order written.
            let mut written: [BTreeMap<(String, u8), Vec<String>>; 2] = [BTreeMap::new(), BTreeMap::new()];
            let mut n = 0u32;
            for a in &acts {
                n += 1;
                match a {
                    Act::Create(p) => {
                        let d = draft(format!("c{case}-{n} 新建"), format!("c{case}-{n} 地址"));
                        let v = phones[*p].engine.save_finding(None, d).await.unwrap();
                        created.push(v.summary.id);
                    }
                    Act::Edit(p, k, field) => {
                        let ids: Vec<String> =
                            mine(&phones[*p].engine).await.into_iter().filter(|id| !before.contains(id)).collect();
                        if ids.is_empty() {
                            continue;
                        }
                        let id = &ids[k % ids.len()];
                        let v = phones[*p].engine.get_finding(id).await.unwrap();
                        let mut d = draft(v.summary.description.clone(), v.address.clone());
                        let value = format!("c{case}-{n} 手机{p}");
                        if *field == 0 {
                            d.description = value.clone();
                        } else {
                            d.address = value.clone();
                        }
                        phones[*p].engine.save_finding(Some(id), d).await.unwrap();
                        written[*p].entry((id.clone(), *field)).or_default().push(value);
                    }
                    Act::Sync(p) => {
                        phones[*p].sync().await.unwrap();
                    }
                }
            }
            proxy.set(Fault::Pass);
            heal(&phones).await;

            // Honest conflicts, and no "all synced" while one waits.
            let mut open = Vec::new();
            for (p, phone) in phones.iter().enumerate() {
                let st = phone.engine.sync_status().await.unwrap();
                let mut count = 0;
                for id in mine(&phone.engine).await {
                    for c in phone.engine.get_finding(&id).await.unwrap().conflicts {
                        count += 1;
                        let f = if c.field == "description" { 0 } else { 1 };
                        let yours = c.yours.as_str().unwrap_or_default().to_string();
                        let theirs = c.theirs.as_str().unwrap_or_default().to_string();
                        let mine_vals = written[p].get(&(id.clone(), f)).cloned().unwrap_or_default();
                        let other_vals = written[1 - p].get(&(id.clone(), f)).cloned().unwrap_or_default();
                        if !mine_vals.contains(&yours) || !other_vals.contains(&theirs) || yours == theirs {
                            return Err(TestCaseError::fail(format!(
                                "phone {p}: dishonest conflict on {id} {}: yours {yours:?} theirs {theirs:?}",
                                c.field
                            )));
                        }
                        open.push((p, id.clone(), c.field.clone(), yours));
                    }
                }
                if count > 0 && st.all_synced {
                    return Err(TestCaseError::fail(format!("phone {p} says all synced with {count} open conflicts")));
                }
            }

            // Convergence before any choice: both phones show the server's values.
            let server_view = ServerView::login(&server.url, USER).await.unwrap();
            let on_server: BTreeMap<String, (String, String)> = server_view
                .findings()
                .await
                .unwrap()
                .into_iter()
                .filter(|(_, r)| r.finding.fields.description.as_str().starts_with('c'))
                .map(|(id, r)| (id, (r.finding.fields.description.as_str().to_string(), r.finding.fields.address)))
                .collect();
            for (p, phone) in phones.iter().enumerate() {
                let held: BTreeMap<_, _> =
                    values(&phone.engine).await.into_iter().filter(|(id, _)| on_server.contains_key(id)).collect();
                if held != on_server {
                    return Err(TestCaseError::fail(format!(
                        "phone {p} diverged:\n{held:#?}\nserver:\n{on_server:#?}"
                    )));
                }
            }
            let lost = created.iter().filter(|id| !on_server.contains_key(*id)).count();
            if lost > 0 {
                return Err(TestCaseError::fail(format!("{lost} created findings lost")));
            }

            // The person's choice wins.
            let opened = open.len();
            for (p, id, field, _) in &open {
                phones[*p].engine.resolve_conflict(id, field, Keep::Mine).await.unwrap();
            }
            heal(&phones).await;
            let after = ServerView::login(&server.url, USER).await.unwrap().findings().await.unwrap();
            // A field both phones insisted on with different values is a conflict again (correctly): the
            // second choice met the first. Every other choice must be on the server, with nothing left open.
            let both = |id: &String, field: &String| {
                open.iter()
                    .filter(|(_, i, f, _)| i == id && f == field)
                    .map(|(q, ..)| *q)
                    .collect::<BTreeSet<_>>()
                    .len()
                    == 2
            };
            for (p, id, field, yours) in &open {
                let r = &after[id];
                let got = if field == "description" {
                    r.finding.fields.description.as_str().to_string()
                } else {
                    r.finding.fields.address.clone()
                };
                if got != *yours && !both(id, field) {
                    return Err(TestCaseError::fail(format!(
                        "phone {p} kept {yours:?} for {id} {field}, server has {got:?}"
                    )));
                }
            }
            for (p, phone) in phones.iter().enumerate() {
                for id in mine(&phone.engine).await {
                    for c in phone.engine.get_finding(&id).await.unwrap().conflicts {
                        if !both(&id, &c.field) {
                            return Err(TestCaseError::fail(format!("phone {p}: conflict left on {id} {}", c.field)));
                        }
                    }
                }
            }
            let (a, b) = (values(&phones[0].engine).await, values(&phones[1].engine).await);
            if a != b {
                return Err(TestCaseError::fail("the phones differ after resolving".to_string()));
            }
            let mut t = totals.lock().unwrap();
            t.0 += created.len();
            t.1 += written.iter().map(|w| w.values().map(Vec::len).sum::<usize>()).sum::<usize>();
            t.2 += opened;
            Ok(())
        })
    });
    let totals = *totals.lock().unwrap();
    println!(
        "two phones property: {} cases, created {} / edits {} / conflicts shown and resolved {} / lost 0 / {:.1} s",
        counter.load(std::sync::atomic::Ordering::SeqCst),
        totals.0,
        totals.1,
        totals.2,
        started.elapsed().as_secs_f64()
    );
    result.unwrap();
}
