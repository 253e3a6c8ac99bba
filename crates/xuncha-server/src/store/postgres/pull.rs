//! Pull pages. Pulls that wait for a connection are answered together: one statement, prepared once per
//! connection, gives every page of the group from one snapshot.
//!
//! Why grouped: a thousand phones syncing at once sent a thousand pulls of a handful of rows each, and each
//! statement cost PostgreSQL more to start, bind, snapshot and end than to read its rows. A pull now waits
//! for a connection as before; whoever gets one takes every pull waiting by then (up to
//! [`MAX_GROUP_PULLS`]), so under light load a pull is a group of one and waits for nothing more.
//!
//! Why the names are looked up per row and the statement is prepared once: with joins, PostgreSQL planned
//! every pull afresh (0.5 ms) and, expecting a few dozen rows, hashed the whole users table for them
//! (0.4 ms). Looked up per row, a name is one index probe, and only for the rows of the pages.
//!
//! Why one lateral read per condition of a scope, not `server_seq > cursor AND (author = … OR team = …)`:
//! a prepared statement gets PostgreSQL's generic plan after five runs, planned without the values. With
//! few teams (a real district has eight or so) that plan walked the `server_seq` index from the cursor and
//! filtered every later change of every team: a leader's pull of 10 new findings read 9,000 rows at 10,000
//! findings held, twice the time of 1,000 (sync bench, quick run). Each read is an equality on a column
//! indexed together with `server_seq`, ordered by it and cut at a page, so any plan reads its index from
//! the cursor on and stops after a page: the cost follows the page, not the history.

use super::{StoreError, StoredFinding};
use deadpool_postgres::GenericClient;
use std::sync::Mutex;
use tokio::sync::oneshot;
use tokio_postgres::Row;
use uuid::Uuid;
use xuncha_domain::{DistrictId, FindingId, Principal, Role, SubDistrictId, TeamId, UserId};
use xuncha_proto::PullResponse;

/// The statement; the sync bench EXPLAINs this file.
pub const PULL_SQL: &str = include_str!("pull.sql");

/// Most pulls in one group: a full page is up to 501 findings with their histories, and a group's rows
/// are held in memory until its pages are sent.
pub const MAX_GROUP_PULLS: usize = 32;

/// A pull waiting for a connection.
pub(super) struct PendingPull {
    principal: Principal,
    cursor: u64,
    limit: u32,
    reply: oneshot::Sender<Result<PullResponse, StoreError>>,
}

/// The pulls waiting for a connection, oldest first.
#[derive(Default)]
pub(super) struct PullQueue(Mutex<Vec<PendingPull>>);

impl PullQueue {
    /// Queues a pull. The caller must then run a pass ([`PullQueue::take`] + [`answer`]) once it has a
    /// connection, so no pull waits for a pass that never comes.
    pub fn enqueue(
        &self,
        principal: Principal,
        cursor: u64,
        limit: u32,
    ) -> oneshot::Receiver<Result<PullResponse, StoreError>> {
        let (reply, answer) = oneshot::channel();
        let pull = PendingPull { principal, cursor, limit: limit.max(1), reply };
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(pull);
        answer
    }

    /// The oldest waiting pulls, up to [`MAX_GROUP_PULLS`]; empty when earlier passes took them all.
    pub fn take(&self) -> Vec<PendingPull> {
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = q.len().min(MAX_GROUP_PULLS);
        q.drain(..n).collect()
    }
}

/// Prepares the statement on `client`, so that no pull pays for it.
pub(super) async fn prepare(client: &impl GenericClient) -> Result<(), StoreError> {
    client.prepare_cached(PULL_SQL).await?;
    Ok(())
}

/// Sends each pull of `group` its page, read on `client`, or the error that stopped the statement.
pub(super) async fn answer(client: &impl GenericClient, group: Vec<PendingPull>) {
    tracing::debug!(pulls = group.len(), "pulls answered together");
    match pages(client, &group).await {
        Ok(pages) => {
            for (pull, page) in group.into_iter().zip(pages) {
                let _ = pull.reply.send(page);
            }
        }
        Err(e) => fail(group, &e),
    }
}

/// Sends every pull of `group` the error.
pub(super) fn fail(group: Vec<PendingPull>, e: &StoreError) {
    tracing::warn!(pulls = group.len(), error = %e, "a group of pulls failed; every pull in it gets the error");
    for pull in group {
        let _ = pull.reply.send(Err(StoreError::Backend(e.to_string())));
    }
}

/// The statement's arguments: each pull in the list of its scope's shape, numbered from 1 in group order.
#[derive(Default)]
struct Arguments {
    people: (Vec<i32>, Vec<Uuid>, Vec<Option<Uuid>>, Vec<i64>),
    districts: (Vec<i32>, Vec<Option<Uuid>>, Vec<i64>),
    everything: (Vec<i32>, Vec<i64>),
    /// Each pull's page and one more, which tells whether another page follows.
    fetch: Vec<i64>,
}

impl Arguments {
    /// Mirrors `Principal::can_see` exactly, as `scope_sql` does; a NULL team or district
    /// compares as unknown, so a teamless inspector sees only their own findings.
    ///
    /// A cursor past `i64::MAX` reads from `i64::MAX`: nothing, as from any cursor past the last change.
    /// Refusing it would fail every other pull of its group.
    fn of(group: &[PendingPull]) -> Self {
        let mut a = Arguments::default();
        for (k, pull) in group.iter().enumerate() {
            let cursor = i64::try_from(pull.cursor).unwrap_or(i64::MAX);
            let (i, p) = (k as i32 + 1, &pull.principal);
            match p.role {
                Role::Inspector | Role::TeamLeader => {
                    a.people.0.push(i);
                    a.people.1.push(p.user.0);
                    a.people.2.push(p.team.map(|t| t.0));
                    a.people.3.push(cursor);
                }
                Role::DistrictOffice => {
                    a.districts.0.push(i);
                    a.districts.1.push(p.district.map(|d| d.0));
                    a.districts.2.push(cursor);
                }
                Role::Admin => {
                    a.everything.0.push(i);
                    a.everything.1.push(cursor);
                }
            }
            a.fetch.push(i64::from(pull.limit) + 1);
        }
        a
    }
}

/// Every page of `group`, from one statement (so from one snapshot), in group order.
async fn pages(
    client: &impl GenericClient,
    group: &[PendingPull],
) -> Result<Vec<Result<PullResponse, StoreError>>, StoreError> {
    let a = Arguments::of(group);
    let most = a.fetch.iter().copied().max().unwrap_or(1);
    let stmt = client.prepare_cached(PULL_SQL).await?;
    let rows = client
        .query(
            &stmt,
            &[
                &a.people.0,
                &a.people.1,
                &a.people.2,
                &a.people.3,
                &a.districts.0,
                &a.districts.1,
                &a.districts.2,
                &a.everything.0,
                &a.everything.1,
                &most,
                &a.fetch,
            ],
        )
        .await?;
    let mut per_pull: Vec<Vec<&Row>> = vec![Vec::new(); group.len()];
    for r in &rows {
        let i: i32 = r.try_get(0)?;
        let slot = usize::try_from(i - 1).ok().and_then(|k| per_pull.get_mut(k));
        slot.ok_or_else(|| StoreError::Corrupt(format!("pull number {i} in a group of {}", group.len())))?.push(r);
    }
    Ok(group.iter().zip(per_pull).map(|(pull, rows)| page(pull, &rows)).collect())
}

/// One pull's page from its rows (in `server_seq` order, at most one more than its limit).
fn page(pull: &PendingPull, rows: &[&Row]) -> Result<PullResponse, StoreError> {
    let limit = pull.limit as usize;
    let has_more = rows.len() > limit;
    let mut changes = Vec::with_capacity(rows.len().min(limit));
    for r in rows.iter().take(limit) {
        let history: Vec<String> = r.try_get(14)?;
        let row = StoredFinding {
            id: FindingId(r.try_get(1)?),
            author: UserId(r.try_get(2)?),
            team: TeamId(r.try_get(3)?),
            district: r.try_get::<_, Option<Uuid>>(4)?.map(DistrictId),
            sub_district: r.try_get::<_, Option<Uuid>>(5)?.map(SubDistrictId),
            status: r.try_get(6)?,
            fields_json: r.try_get(7)?,
            version: r.try_get(8)?,
            server_seq: r.try_get(9)?,
            received_at: r.try_get(10)?,
            updated_at: r.try_get(11)?,
            author_name: r.try_get(12)?,
            team_name: r.try_get(13)?,
        };
        changes.push(row.into_record(history.iter().map(String::as_str))?);
    }
    let cursor = changes.last().map_or(pull.cursor, |c| c.server_seq);
    Ok(PullResponse { changes, cursor, has_more, scope: super::super::scope_key(&pull.principal) })
}
