//! Pull: pages of changes after the stored cursor. Each page and its cursor commit in one local
//! transaction (checkpoint after a durable write). A finding with pending local ops is not overwritten:
//! the local change wins here and is re-sent; the server's answer to it comes back in a later pull.

use super::Ctx;
use crate::engine::Inner;
use crate::error::Result;
use crate::store::{findings, meta, outbox};
use std::sync::Arc;
use xuncha_proto::MAX_PULL_LIMIT;

pub(crate) async fn pull_all(inner: &Arc<Inner>, ctx: &Ctx) -> Result<()> {
    let key = meta::pull_cursor_key(&ctx.user);
    let mut cursor: u64 = {
        let k = key.clone();
        inner.db(move |s| Ok(meta::get(s.conn(), &k)?.and_then(|v| v.parse().ok()).unwrap_or(0))).await?
    };
    let mut pages = 0u32;
    loop {
        let page = ctx.client.pull(&ctx.token, cursor, MAX_PULL_LIMIT).await?;
        let (n, next, more) = (page.changes.len(), page.cursor, page.has_more);
        if next < cursor {
            // Only possible if the server was restored from a backup; the server's cursor is the truth.
            tracing::warn!(cursor, next, "server cursor went backwards");
        }
        let me = inner.clone();
        let k = key.clone();
        let kept_local = inner
            .db(move |s| {
                let tx = s.conn.transaction()?;
                let mut kept = 0usize;
                for rec in &page.changes {
                    if outbox::has_pending(&tx, &rec.finding.id)? {
                        kept += 1;
                        continue;
                    }
                    findings::upsert_from_server(&tx, rec, me.sub_district_zh(rec.sub_district).as_deref())?;
                }
                meta::set(&tx, &k, &page.cursor.to_string())?;
                tx.commit()?;
                Ok(kept)
            })
            .await?;
        pages += 1;
        tracing::debug!(changes = n, kept_local, cursor = next, "pull page applied");
        cursor = next;
        if !more || n == 0 {
            break;
        }
    }
    tracing::info!(pages, cursor, "pull done");
    Ok(())
}
