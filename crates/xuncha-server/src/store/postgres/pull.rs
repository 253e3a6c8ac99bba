//! A pull page: one statement, prepared once per connection.
//!
//! Why the names are looked up per row and the statement is prepared once per connection: with joins,
//! PostgreSQL planned every pull afresh (0.5 ms) and, expecting a few dozen rows, hashed the whole users
//! table for them (0.4 ms). A burst of a thousand phones, each pulling its team's handful of new findings,
//! cost PostgreSQL 0.76 s of CPU; 0.30 s since (sync bench). Looked up per row, a name is one index probe,
//! and only for the rows of the page; the statement is parsed once per connection and scope shape.
//!
//! Why one branch per condition of the scope, not `server_seq > $1 AND (author = … OR team = …)`: a
//! prepared statement gets PostgreSQL's generic plan after five runs, planned without the values. With few
//! teams (a real district has eight or so) that plan walked the `server_seq` index from the cursor and
//! filtered every later change of every team: a leader's pull of 10 new findings read 9,000 rows at 10,000
//! findings held, twice the time of 1,000 (sync bench, quick run). Each branch is an equality on a column
//! indexed together with `server_seq`, ordered by it and limited to a page, so any plan reads its index from
//! the cursor on and stops after a page: the cost follows the page, not the history.

use super::{scope_conditions, to_i64, StoreError, StoredFinding};
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use uuid::Uuid;
use xuncha_domain::{DistrictId, FindingId, Principal, Role, SubDistrictId, TeamId, UserId};
use xuncha_proto::PullResponse;

/// The statement, with `{branches}`, and one branch, with `{condition}`; the sync bench EXPLAINs these.
const PULL_SQL: &str = include_str!("pull.sql");
const BRANCH_SQL: &str = include_str!("pull_branch.sql");

fn sql(p: &Principal) -> (String, Vec<Option<Uuid>>) {
    let (conditions, params) = scope_conditions(p, 3);
    let branches: Vec<String> = conditions.iter().map(|c| BRANCH_SQL.trim().replace("{condition}", c)).collect();
    (PULL_SQL.replace("{branches}", &branches.join(" UNION ")), params)
}

/// Prepares the statement of every scope shape on `client`, so that no pull pays for it.
pub(super) async fn prepare(client: &impl GenericClient) -> Result<(), StoreError> {
    for role in [Role::Admin, Role::Inspector, Role::DistrictOffice] {
        let p = Principal { user: UserId(Uuid::nil()), role, team: None, district: None };
        client.prepare_cached(&sql(&p).0).await?;
    }
    Ok(())
}

/// One page in a single statement, so the findings and their histories come from one snapshot.
pub(super) async fn page(
    client: &impl GenericClient,
    p: &Principal,
    cursor: u64,
    limit: u32,
) -> Result<PullResponse, StoreError> {
    let (sql, scope_params) = sql(p);
    let stmt = client.prepare_cached(&sql).await?;
    let cursor_i = to_i64(cursor, "cursor")?;
    // One more than asked tells whether another page follows.
    let fetch = i64::from(limit) + 1;
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&cursor_i, &fetch];
    params.extend(scope_params.iter().map(|v| v as &(dyn ToSql + Sync)));
    let rows = client.query(&stmt, &params).await?;
    let has_more = rows.len() > limit as usize;
    let mut changes = Vec::with_capacity(rows.len().min(limit as usize));
    for r in rows.iter().take(limit as usize) {
        let history: Vec<String> = r.try_get(13)?;
        let row = StoredFinding {
            id: FindingId(r.try_get(0)?),
            author: UserId(r.try_get(1)?),
            team: TeamId(r.try_get(2)?),
            district: r.try_get::<_, Option<Uuid>>(3)?.map(DistrictId),
            sub_district: r.try_get::<_, Option<Uuid>>(4)?.map(SubDistrictId),
            status: r.try_get(5)?,
            fields_json: r.try_get(6)?,
            version: r.try_get(7)?,
            server_seq: r.try_get(8)?,
            received_at: r.try_get(9)?,
            updated_at: r.try_get(10)?,
            author_name: r.try_get(11)?,
            team_name: r.try_get(12)?,
        };
        changes.push(row.into_record(history.iter().map(String::as_str))?);
    }
    let cursor = changes.last().map_or(cursor, |c| c.server_seq);
    Ok(PullResponse { changes, cursor, has_more, scope: super::super::scope_key(p) })
}
