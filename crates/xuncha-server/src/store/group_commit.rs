//! Group commit for pushes, shared by both backends.
//!
//! Why: every applied op must be durable before its answer leaves (the device deletes the op on
//! `applied`), and a durable commit costs an fsync (SQLite) or a WAL flush (PostgreSQL), a few ms on a
//! phone-grade VM disk. One commit per op made a thousand phones syncing at once wait for a thousand
//! flushes in a row. Instead a push is queued and starts a writer pass; the first pass to get the writer
//! commits everything waiting, in arrival order, in one transaction: one flush for the group. A pass runs
//! apart from the request that started it (on SQLite's writer thread, in a task of its own on
//! PostgreSQL), so a phone that hangs up cannot stop a pass that holds other phones' pushes.
//!
//! Nothing else changes: ops are decided in arrival order in that transaction exactly as before
//! (idempotency, the state machine, the commit-ordered `server_seq`; PostgreSQL writes independent ops
//! together, see `postgres/push.rs`), and a failure rolls the whole group back and answers every push in
//! it with the error — nothing is half-applied, and the devices send the same ops again, which are
//! idempotent.

use super::StoreError;
use chrono::{DateTime, Utc};
use std::sync::Mutex;
use xuncha_domain::{DeviceId, Principal};
use xuncha_proto::{OpResult, Operation};

/// Most ops in one group: long enough to share the flush, short enough that the first push of a group is
/// not kept waiting long.
pub const MAX_GROUP_OPS: usize = 2000;

/// A push waiting for the writer.
pub struct PendingPush {
    pub principal: Principal,
    pub device: DeviceId,
    pub ops: Vec<Operation>,
    pub now: DateTime<Utc>,
    reply: tokio::sync::oneshot::Sender<Result<Vec<OpResult>, StoreError>>,
}

/// The queue of pushes waiting for the writer.
#[derive(Default)]
pub struct PushQueue(Mutex<Vec<PendingPush>>);

/// Where a queued push's answer arrives.
pub type Answer = tokio::sync::oneshot::Receiver<Result<Vec<OpResult>, StoreError>>;

impl PushQueue {
    /// Queues a push. The caller must then run a writer pass ([`PushQueue::take`] + [`answer`]), so no
    /// push waits for a pass that never comes.
    pub fn enqueue(&self, principal: Principal, device: DeviceId, ops: Vec<Operation>, now: DateTime<Utc>) -> Answer {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(PendingPush { principal, device, ops, now, reply });
        answer
    }

    /// The next group: the oldest waiting pushes up to [`MAX_GROUP_OPS`] ops (at least one push). Empty
    /// when an earlier pass already took them.
    pub fn take(&self) -> Vec<PendingPush> {
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut n = 0;
        let fit = q
            .iter()
            .take_while(|j| {
                n += j.ops.len();
                n <= MAX_GROUP_OPS
            })
            .count();
        let k = fit.max(1).min(q.len());
        q.drain(..k).collect()
    }
}

/// Sends each push of a group its answer: its results, or the group's error.
pub fn answer(group: Vec<PendingPush>, result: Result<Vec<Vec<OpResult>>, StoreError>) {
    let ops: usize = group.iter().map(|j| j.ops.len()).sum();
    match result {
        Ok(answers) => {
            tracing::debug!(pushes = group.len(), ops, "group committed");
            for (j, a) in group.into_iter().zip(answers) {
                let _ = j.reply.send(Ok(a));
            }
        }
        Err(e) => {
            tracing::warn!(pushes = group.len(), ops, error = %e, "group rolled back; every push in it gets the error");
            for j in group {
                let _ = j.reply.send(Err(StoreError::Backend(e.to_string())));
            }
        }
    }
}

/// Waits for a queued push's answer.
pub async fn wait(answer: Answer) -> Result<Vec<OpResult>, StoreError> {
    answer.await.map_err(|_| StoreError::Task("the writer dropped a push".into()))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use xuncha_domain::{FindingId, OpId, Role, UserId};

    fn push(q: &PushQueue, n: usize) -> Answer {
        let p = Principal { user: UserId::new_v7(), role: Role::Inspector, team: None, district: None };
        let ops = (0..n)
            .map(|i| Operation {
                op_id: OpId::new_v7(),
                device_seq: i as u64 + 1,
                finding_id: FindingId::new_v7(),
                body: xuncha_proto::OpBody::ChangeStatus { base_version: 1, action: xuncha_domain::Action::Submit },
            })
            .collect();
        q.enqueue(p, DeviceId::new_v7(), ops, Utc::now())
    }

    #[test]
    fn groups_take_the_oldest_pushes_up_to_the_limit_and_never_split_one() {
        let q = PushQueue::default();
        let _a = push(&q, 1500);
        let _b = push(&q, 400);
        let _c = push(&q, 200);
        assert_eq!(q.take().iter().map(|j| j.ops.len()).collect::<Vec<_>>(), [1500, 400]);
        assert_eq!(q.take().len(), 1);
        assert!(q.take().is_empty());
        let _big = push(&q, MAX_GROUP_OPS + 5);
        assert_eq!(q.take().len(), 1, "a push larger than the limit still goes, alone");
    }

    #[tokio::test]
    async fn every_push_of_a_group_gets_the_groups_error() {
        let q = PushQueue::default();
        let (a, b) = (push(&q, 1), push(&q, 1));
        answer(q.take(), Err(StoreError::Backend("disk full".into())));
        for r in [wait(a).await, wait(b).await] {
            assert!(matches!(r, Err(StoreError::Backend(m)) if m.contains("disk full")));
        }
    }
}
