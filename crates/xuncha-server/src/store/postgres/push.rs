//! A group of pushes written set-based: a handful of statements per round of ops, whatever its size.
//!
//! Why: written op by op, a group of N ops cost 2N round trips and 7N statements (claim, read, write,
//! history, two for photos, the stored answer), each a protocol message, an executor start and its locks,
//! one after another while every other push waited for the group. Here each kind of statement runs once per
//! round, its values bound as arrays and expanded by `unnest`, so the cost follows the rows.
//!
//! **Rounds.** Ops in one round must not depend on each other: no two in a round name the same finding,
//! op id or device slot. An op sharing any of these with an op before it waits for a later round, and so
//! does everything after it that shares one of its own: ops on a finding are applied in the order they were
//! sent, and a duplicate op id reads the answer its twin stored a round earlier. The usual group (one op per
//! phone, or a batch of new findings) is one round.
//!
//! A round is three round trips: claim the op ids and read (and lock) the findings; read the stored answers
//! of ops seen before (only if there are any); then, pipelined, every write. Decisions are made in memory
//! between the first and the last, by [`apply::decide`], exactly as the SQLite backend makes them.

use super::{current_from, to_i64};
use crate::apply::{self, Current, Rules};
use crate::store::group_commit::PendingPush;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Object, Transaction as DpTransaction};
use std::collections::{HashMap, HashSet};
use tokio_postgres::Statement;
use uuid::Uuid;
use xuncha_domain::{DeviceId, FindingId, PhotoHash, Principal, UserId};
use xuncha_proto::{OpOutcome, OpResult, Operation};

/// Commits one group of waiting pushes in one transaction (see [`crate::store::group_commit`]).
///
/// The group takes the counter row's lock first, before any op or finding row: groups of every server
/// process queue on it, so only one push transaction runs at a time, no push waits on another's
/// uncommitted op row, and no two groups can deadlock. Sequence numbers are handed out in memory from the
/// locked value, in op order, and written back once, at the end of the group.
///
/// Round trips: BEGIN; the lock with the first round's reads; each round's writes (the last round's with
/// the counter's update); COMMIT. Four for the usual group of one round. Each one waits its turn for the
/// CPU in a burst, while every push of the group waits for the commit.
pub(super) async fn commit_group(
    client: &mut Object,
    rules: &Rules,
    group: &[PendingPush],
) -> Result<Vec<Vec<OpResult>>, StoreError> {
    let tx = client.transaction().await?;
    let st = Statements::prepare(&tx).await?;
    let mut counter = None;
    let ops: Vec<GroupOp> = group
        .iter()
        .flat_map(|j| j.ops.iter().map(move |op| GroupOp { principal: &j.principal, device: j.device, op, now: j.now }))
        .collect();
    let keys: Vec<[Key; 3]> = ops.iter().map(GroupOp::keys).collect();
    let mut outcomes: Vec<Option<OpOutcome>> = vec![None; ops.len()];
    let rounds = rounds(&keys);
    for (k, round) in rounds.iter().enumerate() {
        let round_ops: Vec<&GroupOp> = round.iter().map(|&i| &ops[i]).collect();
        let last = k + 1 == rounds.len();
        for (i, outcome) in round.iter().zip(apply_round(&tx, &st, rules, &round_ops, &mut counter, last).await?) {
            outcomes[*i] = Some(outcome);
        }
    }
    tx.commit().await?;
    let mut outcomes = outcomes.into_iter();
    group
        .iter()
        .map(|j| {
            j.ops
                .iter()
                .map(|op| {
                    let outcome = outcomes.next().flatten();
                    let outcome =
                        outcome.ok_or_else(|| StoreError::Backend(format!("op {} was not applied", op.op_id)));
                    Ok(OpResult { op_id: op.op_id, outcome: outcome? })
                })
                .collect()
        })
        .collect()
}

/// One op of the group with the push it came in.
struct GroupOp<'a> {
    principal: &'a Principal,
    device: DeviceId,
    op: &'a Operation,
    now: DateTime<Utc>,
}

impl GroupOp<'_> {
    fn keys(&self) -> [Key; 3] {
        [Key::Finding(self.op.finding_id.0), Key::Op(self.op.op_id.0), Key::Slot(self.device.0, self.op.device_seq)]
    }
}

/// What two ops in one round must not share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Finding(Uuid),
    Op(Uuid),
    Slot(Uuid, u64),
}

/// Splits ops (by their keys, in group order) into rounds of independent ops, each round in group order.
/// An op waits if any of its keys belongs to an op in this round or to one that already waits.
fn rounds<K: Copy + Eq + std::hash::Hash>(keys: &[[K; 3]]) -> Vec<Vec<usize>> {
    let mut rounds = Vec::new();
    let mut remaining: Vec<usize> = (0..keys.len()).collect();
    while !remaining.is_empty() {
        let (mut round, mut later) = (Vec::new(), Vec::new());
        let mut claimed = HashSet::new();
        for i in remaining {
            let free = keys[i].iter().all(|k| !claimed.contains(k));
            claimed.extend(keys[i]);
            if free {
                round.push(i)
            } else {
                later.push(i)
            }
        }
        rounds.push(round);
        remaining = later;
    }
    rounds
}

/// The stored answer of an op id seen before.
struct Seen {
    user: UserId,
    result: Option<String>,
}

/// The change counter as a group holds it: the value it locked, and the last number it handed out.
#[derive(Clone, Copy)]
struct Counter {
    locked: i64,
    last: i64,
}

/// Applies one round of independent ops; their outcomes in the round's order. The first round (no
/// `counter` yet) locks the counter; the `last` one writes it back.
async fn apply_round(
    tx: &DpTransaction<'_>,
    st: &Statements,
    rules: &Rules,
    ops: &[&GroupOp<'_>],
    counter: &mut Option<Counter>,
    last: bool,
) -> Result<Vec<OpOutcome>, StoreError> {
    // 1. Claim every op id and device slot, and read (and lock) the findings, pipelined, behind the
    //    counter's lock in the first round (sent first, so PostgreSQL takes it first). An op whose claim
    //    inserted nothing was seen before (a retry), or its slot is another op's.
    let mut claim = ClaimColumns::default();
    for o in ops {
        claim.push(o)?;
    }
    let finding_ids: Vec<Uuid> = ops.iter().map(|o| o.op.finding_id.0).collect();
    let lock = counter.is_none();
    let (locked, claimed, rows) = futures_util::try_join!(
        async {
            if lock {
                Ok(Some(tx.query_one(&st.lock_counter, &[]).await?.try_get::<_, i64>(0)?))
            } else {
                Ok(None)
            }
        },
        async {
            let c = &claim;
            tx.query(&st.claim, &[&c.op_ids, &c.devices, &c.device_seqs, &c.users, &c.finding_ids, &c.times]).await
        },
        async { tx.query(&st.load, &[&finding_ids]).await },
    )?;
    let mut c = match (*counter, locked) {
        (Some(c), _) => c,
        (None, Some(v)) => Counter { locked: v, last: v },
        (None, None) => return Err(StoreError::Backend("the change counter was not locked".into())),
    };
    let claimed: HashSet<Uuid> = claimed.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?;
    let mut current: HashMap<Uuid, Current> = HashMap::with_capacity(rows.len());
    for r in &rows {
        let id: Uuid = r.try_get(7)?;
        current.insert(id, current_from(FindingId(id), r)?);
    }

    // 2. The stored answers of the ops seen before.
    let unclaimed: Vec<Uuid> = claim.op_ids.iter().copied().filter(|id| !claimed.contains(id)).collect();
    let mut seen: HashMap<Uuid, Seen> = HashMap::new();
    if !unclaimed.is_empty() {
        for r in tx.query(&st.seen, &[&unclaimed]).await? {
            seen.insert(r.try_get(0)?, Seen { user: UserId(r.try_get(1)?), result: r.try_get(2)? });
        }
    }

    // 3. Decide in memory, in order, then send every write at once.
    let mut writes = Writes::default();
    let mut outcomes = Vec::with_capacity(ops.len());
    for o in ops {
        let outcome = if claimed.contains(&o.op.op_id.0) {
            let decision = apply::decide(rules, o.principal, current.get(&o.op.finding_id.0), o.op, o.now);
            if let Some((change, insert)) = decision.to_write() {
                c.last += 1;
                writes.change(change, insert, o.now, c.last)?;
            }
            let outcome = decision.into_outcome();
            writes.result(o.op, &outcome)?;
            outcome
        } else {
            replay(o, seen.get(&o.op.op_id.0))?
        };
        outcomes.push(outcome);
    }
    *counter = Some(c);
    let new_counter = (last && c.last != c.locked).then_some(c.last);
    writes.send(tx, st, new_counter).await?;
    Ok(outcomes)
}

/// The answer to an op whose claim found its id or its device slot taken.
fn replay(o: &GroupOp<'_>, seen: Option<&Seen>) -> Result<OpOutcome, StoreError> {
    let Some(seen) = seen else {
        // Not recorded: the (device, seq) slot belongs to another op.
        return Ok(OpOutcome::Rejected { error: apply::messages::sequence_reused() });
    };
    if seen.user != o.principal.user {
        return Ok(OpOutcome::Rejected { error: apply::messages::op_id_reused() });
    }
    let result = seen.result.as_deref();
    let result = result.ok_or_else(|| StoreError::Corrupt(format!("op {} has no stored result", o.op.op_id)))?;
    Ok(apply::replayed(serde_json::from_str::<OpOutcome>(result)?))
}

/// The claim's columns, one array each.
#[derive(Default)]
struct ClaimColumns {
    op_ids: Vec<Uuid>,
    devices: Vec<Uuid>,
    device_seqs: Vec<i64>,
    users: Vec<Uuid>,
    finding_ids: Vec<Uuid>,
    times: Vec<DateTime<Utc>>,
}

impl ClaimColumns {
    fn push(&mut self, o: &GroupOp<'_>) -> Result<(), StoreError> {
        self.op_ids.push(o.op.op_id.0);
        self.devices.push(o.device.0);
        self.device_seqs.push(to_i64(o.op.device_seq, "device_seq")?);
        self.users.push(o.principal.user.0);
        self.finding_ids.push(o.op.finding_id.0);
        self.times.push(o.now);
        Ok(())
    }
}

/// A round's decided changes, one array per column.
#[derive(Default)]
struct Writes {
    inserts: FindingColumns,
    updates: FindingColumns,
    /// The findings changed, in order: each gets the history line at the same index, and its photo list
    /// replaced as a whole by its (finding, photo) pairs.
    changed: Vec<Uuid>,
    history: Vec<String>,
    photo_findings: Vec<Uuid>,
    photos: Vec<String>,
    /// Every claimed op's answer, stored for its retries.
    result_ops: Vec<Uuid>,
    results: Vec<String>,
}

/// The columns of `findings` a change writes.
#[derive(Default)]
struct FindingColumns {
    ids: Vec<Uuid>,
    authors: Vec<Uuid>,
    teams: Vec<Uuid>,
    districts: Vec<Option<Uuid>>,
    sub_districts: Vec<Option<Uuid>>,
    statuses: Vec<&'static str>,
    fields: Vec<String>,
    versions: Vec<i64>,
    seqs: Vec<i64>,
    times: Vec<DateTime<Utc>>,
}

impl Writes {
    fn change(&mut self, c: &apply::Change, insert: bool, now: DateTime<Utc>, seq: i64) -> Result<(), StoreError> {
        let f = &c.finding;
        let cols = if insert { &mut self.inserts } else { &mut self.updates };
        cols.ids.push(f.id.0);
        cols.authors.push(f.author.0);
        cols.teams.push(f.team.0);
        cols.districts.push(c.district.map(|d| d.0));
        cols.sub_districts.push(c.sub_district.map(|d| d.0));
        cols.statuses.push(f.status.as_str());
        cols.fields.push(serde_json::to_string(&f.fields)?);
        cols.versions.push(to_i64(c.version, "version")?);
        cols.seqs.push(seq);
        cols.times.push(now);
        self.changed.push(f.id.0);
        self.history.push(serde_json::to_string(&c.history)?);
        for p in &f.fields.photos {
            self.photo_findings.push(f.id.0);
            self.photos.push(PhotoHash::to_hex(p));
        }
        Ok(())
    }

    fn result(&mut self, op: &Operation, outcome: &OpOutcome) -> Result<(), StoreError> {
        self.result_ops.push(op.op_id.0);
        self.results.push(serde_json::to_string(outcome)?);
        Ok(())
    }

    /// Sends every write pipelined: in this order on the connection, run in this order by the server (the
    /// history and photo rows refer to findings inserted just before them), then the counter's new value,
    /// if given.
    async fn send(&self, tx: &DpTransaction<'_>, st: &Statements, counter: Option<i64>) -> Result<(), StoreError> {
        let (i, u) = (&self.inserts, &self.updates);
        let insert = skip_if(i.ids.is_empty(), async {
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 10] = [
                &i.ids,
                &i.authors,
                &i.teams,
                &i.districts,
                &i.sub_districts,
                &i.statuses,
                &i.fields,
                &i.versions,
                &i.seqs,
                &i.times,
            ];
            tx.execute(&st.insert_findings, &params).await
        });
        let update = skip_if(u.ids.is_empty(), async {
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 8] =
                [&u.ids, &u.districts, &u.sub_districts, &u.statuses, &u.fields, &u.versions, &u.seqs, &u.times];
            tx.execute(&st.update_findings, &params).await
        });
        let changed = !self.changed.is_empty();
        let (inserted, updated, _, _, _, _, _) = futures_util::try_join!(
            insert,
            update,
            skip_if(!changed, async { tx.execute(&st.add_history, &[&self.changed, &self.history]).await }),
            skip_if(!changed, async { tx.execute(&st.clear_photos, &[&self.changed]).await }),
            skip_if(self.photos.is_empty(), async {
                tx.execute(&st.add_photos, &[&self.photo_findings, &self.photos]).await
            }),
            skip_if(self.result_ops.is_empty(), async {
                tx.execute(&st.set_results, &[&self.result_ops, &self.results]).await
            }),
            skip_if(counter.is_none(), async { tx.execute(&st.set_counter, &[&counter]).await }),
        )?;
        if inserted != i.ids.len() as u64 || updated != u.ids.len() as u64 {
            // Cannot happen: push transactions run one at a time and every finding was read (and locked) in
            // this one. Refuse rather than write over something else; the group rolls back.
            return Err(StoreError::Backend(format!(
                "{inserted} of {} new and {updated} of {} changed findings written",
                i.ids.len(),
                u.ids.len()
            )));
        }
        Ok(())
    }
}

/// Runs `statement` unless there is nothing for it to do. The future is made either way, so the
/// statements that do run are still sent in order.
async fn skip_if(
    nothing_to_do: bool,
    statement: impl std::future::Future<Output = Result<u64, tokio_postgres::Error>>,
) -> Result<u64, tokio_postgres::Error> {
    if nothing_to_do {
        Ok(0)
    } else {
        statement.await
    }
}

/// Prepares the statements of a push on `client` (the writer's connection, when the server starts).
pub(super) async fn prepare(client: &impl GenericClient) -> Result<(), StoreError> {
    Statements::prepare(client).await.map(drop)
}

/// The statements of a push, prepared once per connection (deadpool caches them).
struct Statements {
    lock_counter: Statement,
    set_counter: Statement,
    claim: Statement,
    load: Statement,
    seen: Statement,
    insert_findings: Statement,
    update_findings: Statement,
    add_history: Statement,
    clear_photos: Statement,
    add_photos: Statement,
    set_results: Statement,
}

impl Statements {
    async fn prepare(tx: &impl GenericClient) -> Result<Self, StoreError> {
        let (lock_counter, set_counter, claim, load, seen, insert_findings) = futures_util::try_join!(
            tx.prepare_cached("SELECT last_seq FROM change_counter FOR UPDATE"),
            tx.prepare_cached("UPDATE change_counter SET last_seq = $1"),
            tx.prepare_cached(
                "INSERT INTO applied_ops(op_id, device_id, device_seq, user_id, finding_id, applied_at)
                 SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int8[], $4::uuid[], $5::uuid[], $6::timestamptz[])
                 ON CONFLICT DO NOTHING
                 RETURNING op_id"
            ),
            tx.prepare_cached(
                "SELECT author_id, team_id, district_id, sub_district_id, status, fields_json, version, id
                 FROM findings WHERE id = ANY($1::uuid[]) FOR UPDATE"
            ),
            tx.prepare_cached("SELECT op_id, user_id, result_json FROM applied_ops WHERE op_id = ANY($1::uuid[])"),
            tx.prepare_cached(
                "INSERT INTO findings(id, author_id, team_id, district_id, sub_district_id, status, fields_json,
                                      version, server_seq, received_at, updated_at)
                 SELECT v.*, v.at FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[],
                                              $6::text[], $7::text[], $8::int8[], $9::int8[], $10::timestamptz[])
                      AS v(id, author, team, district, sub_district, status, fields, version, seq, at)"
            ),
        )?;
        let (update_findings, add_history, clear_photos, add_photos, set_results) = futures_util::try_join!(
            tx.prepare_cached(
                "UPDATE findings f SET district_id = v.district, sub_district_id = v.sub_district, status = v.status,
                                       fields_json = v.fields, version = v.version, server_seq = v.seq,
                                       updated_at = v.at
                 FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::int8[], $7::int8[],
                             $8::timestamptz[]) AS v(id, district, sub_district, status, fields, version, seq, at)
                 WHERE f.id = v.id AND f.version + 1 = v.version"
            ),
            tx.prepare_cached(
                "INSERT INTO finding_history(finding_id, n, entry_json)
                 SELECT v.id, COALESCE((SELECT MAX(h.n) FROM finding_history h WHERE h.finding_id = v.id), 0) + 1,
                        v.entry
                 FROM unnest($1::uuid[], $2::text[]) AS v(id, entry)"
            ),
            tx.prepare_cached("DELETE FROM finding_photos WHERE finding_id = ANY($1::uuid[])"),
            tx.prepare_cached(
                "INSERT INTO finding_photos(finding_id, hash) SELECT * FROM unnest($1::uuid[], $2::text[])"
            ),
            tx.prepare_cached(
                "UPDATE applied_ops a SET result_json = v.result
                 FROM unnest($1::uuid[], $2::text[]) AS v(op_id, result)
                 WHERE a.op_id = v.op_id"
            ),
        )?;
        Ok(Self {
            lock_counter,
            set_counter,
            claim,
            load,
            seen,
            insert_findings,
            update_findings,
            add_history,
            clear_photos,
            add_photos,
            set_results,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::rounds;

    #[test]
    fn independent_ops_make_one_round_in_order() {
        let keys = [[1, 101, 201], [2, 102, 202], [3, 103, 203]];
        assert_eq!(rounds(&keys), vec![vec![0, 1, 2]]);
    }

    #[test]
    fn ops_on_one_finding_are_applied_one_round_after_another_in_order() {
        // Create, edit, edit of finding 1 from one device, and an unrelated finding 2.
        let keys = [[1, 101, 201], [1, 102, 202], [2, 103, 203], [1, 104, 204]];
        assert_eq!(rounds(&keys), vec![vec![0, 2], vec![1], vec![3]]);
    }

    #[test]
    fn an_op_behind_a_waiting_op_waits_too() {
        // Op 1 waits for op 0 (same device slot 201); op 2 shares finding 2 with op 1, so it must not
        // overtake it, although nothing in the first round holds finding 2.
        let keys = [[1, 101, 201], [2, 102, 201], [2, 103, 203]];
        assert_eq!(rounds(&keys), vec![vec![0], vec![1], vec![2]]);
    }

    #[test]
    fn a_duplicate_op_id_waits_for_its_twin() {
        let keys = [[1, 101, 201], [1, 101, 201], [3, 103, 203]];
        assert_eq!(rounds(&keys), vec![vec![0, 2], vec![1]]);
    }

    #[test]
    fn nothing_makes_no_round() {
        assert!(rounds::<u8>(&[]).is_empty());
    }
}
