//! Push: send the outbox in order, in batches; an op leaves the outbox only when the server's JSON
//! answer says it is applied. Refused ops stay, with their reason, shown on their finding.
//! A 413 (batch too large) halves the batch and tries again, down to a single op.

use super::Ctx;
use crate::engine::Inner;
use crate::error::{DeviceError, Result};
use crate::store::outbox;
use std::collections::HashMap;
use std::sync::Arc;
use xuncha_proto::{OpOutcome, PushRequest, MAX_OPS_PER_PUSH};

pub(crate) async fn push_all(inner: &Arc<Inner>, ctx: &Ctx) -> Result<()> {
    let mut sent = 0usize;
    // Shrinks on a 413 and stays small for the rest of this sync.
    let mut limit = MAX_OPS_PER_PUSH;
    loop {
        let user = ctx.user;
        let batch = inner.db(move |s| outbox::take_batch(&mut s.conn, &user, limit)).await?;
        if batch.is_empty() {
            break;
        }
        let req = PushRequest { device_id: inner.device_id, ops: batch.iter().map(|t| t.op.clone()).collect() };
        tracing::debug!(ops = req.ops.len(), first_seq = req.ops[0].device_seq, "push");
        let resp = match ctx.client.push(&ctx.token, &req).await {
            // Nothing of a refused request was applied: the same ops go again, in smaller batches.
            Err(DeviceError::Server { status: 413, .. }) if batch.len() > 1 => {
                limit = batch.len() / 2;
                tracing::info!(ops = batch.len(), limit, "push batch too large for the server; halving it");
                continue;
            }
            r => r?,
        };
        // Answers are matched by op_id; an answer that does not cover the batch is not trusted at all.
        let by_id: HashMap<_, _> = resp.results.into_iter().map(|r| (r.op_id, r.outcome)).collect();
        if batch.iter().any(|t| !by_id.contains_key(&t.op.op_id)) {
            return Err(DeviceError::NotXuncha("push answer does not cover the batch".into()));
        }
        let (mut applied, mut rejected) = (0usize, 0usize);
        for t in &batch {
            match &by_id[&t.op.op_id] {
                OpOutcome::Applied { replayed, .. } => {
                    applied += 1;
                    if *replayed {
                        tracing::info!(op = %t.op.op_id, "op had already been applied (lost answer); not applied twice");
                    }
                }
                OpOutcome::Rejected { error } => {
                    rejected += 1;
                    tracing::warn!(op = %t.op.op_id, finding = %t.op.finding_id, code = %error.code, "op refused by the server");
                }
            }
        }
        inner
            .db(move |s| {
                let tx = s.conn.transaction()?;
                for t in &batch {
                    match &by_id[&t.op.op_id] {
                        OpOutcome::Applied { version, conflicts, .. } => {
                            outbox::applied(&tx, &t.op, *version, conflicts)?
                        }
                        OpOutcome::Rejected { error } => outbox::rejected(&tx, t, error)?,
                    }
                }
                tx.commit()?;
                Ok(())
            })
            .await?;
        sent += applied + rejected;
        tracing::info!(applied, rejected, "push batch done");
        inner.publish().await?;
    }
    if sent > 0 {
        tracing::info!(sent, "outbox pushed");
    }
    Ok(())
}
