//! Pull: pages of changes after the stored cursor. Each page and its cursor commit in one local
//! transaction (checkpoint after a durable write). A finding with pending local ops is not overwritten:
//! the local change wins here and is re-sent; the server's answer to it comes back in a later pull.
//!
//! A pull also keeps the copy equal to the scope (see [`super::scope`]): an answer naming another scope
//! starts a re-download from cursor 0, and a caught-up phone whose digest differs from the server's
//! re-downloads too; the end of a re-download removes what the server no longer sent.

use super::{scope, Ctx};
use crate::engine::Inner;
use crate::error::Result;
use crate::store::{findings, meta, outbox};
use std::sync::Arc;
use xuncha_domain::FindingId;
use xuncha_proto::MAX_PULL_LIMIT;

pub(crate) async fn pull_all(inner: &Arc<Inner>, ctx: &Ctx) -> Result<()> {
    pull_pages(inner, ctx).await?;
    if scope::drifted(inner, ctx).await? {
        let user = ctx.user;
        inner.db(move |s| scope::start_rescan(&mut s.conn, &user, "", "digest differs")).await?;
        pull_pages(inner, ctx).await?;
    }
    Ok(())
}

async fn pull_pages(inner: &Arc<Inner>, ctx: &Ctx) -> Result<()> {
    let user = ctx.user;
    let mut st = inner.db(move |s| scope::state(s.conn(), &user)).await?;
    if st.rescan_gen.is_some() {
        // A re-download cut off earlier (its profile refresh may have been cut off too).
        scope::refresh_profile(inner, ctx).await?;
    }
    let mut pages = 0u32;
    loop {
        let page = ctx.client.pull(&ctx.token, st.cursor, MAX_PULL_LIMIT).await?;
        if scope::changed(&st, &page.scope) {
            // Team or role changed since these rows were pulled: this page is of the new scope but the
            // cursor is of the old one. Start over from 0 and sweep at the end.
            let answered = page.scope.clone();
            st = inner.db(move |s| scope::start_rescan(&mut s.conn, &user, &answered, "scope changed")).await?;
            scope::refresh_profile(inner, ctx).await?;
            continue;
        }
        let (n, next, more) = (page.changes.len(), page.cursor, page.has_more);
        if next < st.cursor {
            // Only possible if the server was restored from a backup; the server's cursor is the truth.
            tracing::warn!(cursor = st.cursor, next, "server cursor went backwards");
        }
        let me = inner.clone();
        let mut st2 = st.clone();
        let (kept_local, st_after) = inner
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
                if let Some(gen) = st2.rescan_gen {
                    let ids: Vec<FindingId> = page.changes.iter().map(|r| r.finding.id).collect();
                    findings::mark_seen(&tx, &ids, gen)?;
                }
                scope::remember(&tx, &user, &mut st2, &page.scope)?;
                meta::set(&tx, &meta::pull_cursor_key(&user), &page.cursor.to_string())?;
                tx.commit()?;
                st2.cursor = page.cursor;
                Ok((kept, st2))
            })
            .await?;
        st = st_after;
        pages += 1;
        tracing::debug!(changes = n, kept_local, cursor = next, "pull page applied");
        if !more || n == 0 {
            break;
        }
    }
    if let Some(gen) = st.rescan_gen {
        scope::finish(inner, user, gen).await?;
    }
    tracing::info!(pages, cursor = st.cursor, "pull done");
    Ok(())
}
