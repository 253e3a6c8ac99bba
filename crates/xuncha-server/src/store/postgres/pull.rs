//! A pull page: one statement, prepared once per connection.
//!
//! Why the names are looked up per row and the statement is prepared once per connection: with joins,
//! PostgreSQL planned every pull afresh (0.5 ms) and, expecting a few dozen rows, hashed the whole users
//! table for them (0.4 ms). A burst of a thousand phones, each pulling its team's handful of new findings,
//! cost PostgreSQL 0.76 s of CPU; 0.30 s since (sync bench). Looked up per row, a name is one index probe,
//! and only for the rows of the page; the statement is parsed once per connection and scope shape, and
//! PostgreSQL keeps a generic plan for it after five runs when that plan costs no more than the custom ones
//! (the growth bench checks it).

use super::{scope_sql, to_i64, StoreError, StoredFinding};
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use uuid::Uuid;
use xuncha_domain::{DistrictId, FindingId, Principal, Role, SubDistrictId, TeamId, UserId};
use xuncha_proto::PullResponse;

/// The statement, with `{scope}` for the principal's condition; the sync bench EXPLAINs this same text.
const PULL_SQL: &str = include_str!("pull.sql");

fn sql(p: &Principal) -> (String, Vec<Option<Uuid>>) {
    let (scope, params) = scope_sql(p, 3);
    (PULL_SQL.replace("{scope}", &scope), params)
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
