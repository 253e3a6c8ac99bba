//! Sessions remembered by one server process, and forgotten on every change that could alter one.
//!
//! Every request needs its session (principal and device). Read from PostgreSQL each time, that was two
//! of every phone's three round trips to the database in a burst. Here a session read once is kept, as is
//! one just signed in (the phone's first sync follows at once), and every write that can end a session or
//! change a principal (a logout, revoking a user's sign-ins, moving a user) sends `NOTIFY xuncha_sessions`
//! in its own transaction. Each server process LISTENs on a connection of its own and empties its cache
//! when a notification arrives, so another server's change takes effect here within the notification's
//! trip (milliseconds) — and this process's own changes at once, as it empties its cache itself after
//! committing. The rules that keep it honest:
//! - The cache is used only while the listener is connected. When that connection drops, the cache is
//!   emptied and every request reads the database again until LISTEN is back: a change made meanwhile
//!   would send a notification nobody hears.
//! - A session read from the database before a notification is not kept after it (the generation): the
//!   read may predate the change.
//! - An entry lives [`SessionCache::TTL`] at most: a backstop for a change made in SQL by hand, without a
//!   notification (the admin commands notify). Longer than a phone's sync period (3 min), so a phone's
//!   next sync finds its session still kept.
//! - At most [`SessionCache::MAX_ENTRIES`] entries; past that the cache starts again from empty.

use super::super::{Session, TokenHash};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio_postgres::{AsyncMessage, NoTls};

/// The channel every session-changing write notifies, inside its transaction (delivered only if it commits).
pub(super) const CHANNEL: &str = "xuncha_sessions";

#[derive(Debug, Default)]
pub struct SessionCache {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<[u8; 32], (Session, Instant)>,
    /// Bumped by every notification and every change of `live`.
    generation: u64,
    /// The listener is connected and listening.
    live: bool,
}

impl SessionCache {
    pub const TTL: Duration = Duration::from_secs(10 * 60);
    pub const MAX_ENTRIES: usize = 100_000;

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A remembered session younger than the TTL, while the listener is live.
    pub fn get(&self, token: &TokenHash, now: Instant) -> Option<Session> {
        let inner = self.lock();
        if !inner.live {
            return None;
        }
        let (session, at) = inner.entries.get(&token.0)?;
        (now.saturating_duration_since(*at) < Self::TTL).then(|| session.clone())
    }

    /// Call before reading a session from the database; hand the answer to [`SessionCache::put`]. `None`
    /// while the listener is down (nothing may be kept then).
    pub fn generation(&self) -> Option<u64> {
        let inner = self.lock();
        inner.live.then_some(inner.generation)
    }

    /// Keeps a session read from the database, unless something changed since `generation` was taken.
    pub fn put(&self, token: &TokenHash, session: &Session, generation: u64, now: Instant) {
        let mut inner = self.lock();
        if !inner.live || inner.generation != generation {
            return;
        }
        if inner.entries.len() >= Self::MAX_ENTRIES {
            inner.entries.clear();
        }
        inner.entries.insert(token.0, (session.clone(), now));
    }

    /// Forgets every session (a notification, or this process's own change).
    pub fn forget_all(&self) {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.generation += 1;
    }

    fn set_live(&self, live: bool) {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.generation += 1;
        inner.live = live;
    }
}

/// Aborts the listener when the store's last clone is dropped.
#[derive(Debug)]
pub(super) struct Listener(tokio::task::AbortHandle);

impl Drop for Listener {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the listener: connects, LISTENs, empties `cache` on every notification, and reconnects (the
/// cache bypassed meanwhile) when the connection ends. Stops with the cache or the returned handle.
pub(super) fn listen(cache: &Arc<SessionCache>, pg: tokio_postgres::Config) -> Listener {
    let weak = Arc::downgrade(cache);
    Listener(tokio::spawn(keep_listening(weak, pg)).abort_handle())
}

async fn keep_listening(cache: Weak<SessionCache>, pg: tokio_postgres::Config) {
    const RETRY: Duration = Duration::from_secs(1);
    loop {
        if let Err(e) = listen_once(&cache, &pg).await {
            tracing::warn!(error = %super::db_text(&e), "session listener lost its connection; sessions are read from the database until it is back");
        }
        match cache.upgrade() {
            Some(c) => c.set_live(false),
            None => return,
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// One connection's life: returns when it ends.
async fn listen_once(cache: &Weak<SessionCache>, pg: &tokio_postgres::Config) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = pg.connect(NoTls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // The connection is driven here; notifications go to the loop below, and its end ends the channel.
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(m) = messages.next().await {
            match m {
                Ok(AsyncMessage::Notification(_)) => {
                    if tx.send(()).is_err() {
                        return Ok(());
                    }
                }
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    // Only now: a change committed before LISTEN was not heard, but nothing read before is kept either.
    match cache.upgrade() {
        Some(c) => c.set_live(true),
        None => return Ok(()),
    }
    while rx.recv().await.is_some() {
        match cache.upgrade() {
            Some(c) => c.forget_all(),
            None => return Ok(()),
        }
    }
    drop(client);
    driver.await.unwrap_or(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;
    use xuncha_domain::{DeviceId, Principal, Role, UserId};

    fn session() -> Session {
        Session {
            principal: Principal { user: UserId(Uuid::now_v7()), role: Role::Inspector, team: None, district: None },
            device: DeviceId(Uuid::now_v7()),
        }
    }

    fn live() -> SessionCache {
        let c = SessionCache::default();
        c.set_live(true);
        c
    }

    #[test]
    fn a_session_put_is_got_until_its_ttl() {
        let (c, t, s, now) = (live(), TokenHash([1; 32]), session(), Instant::now());
        c.put(&t, &s, c.generation().unwrap(), now);
        assert_eq!(c.get(&t, now + SessionCache::TTL / 2).map(|x| x.device), Some(s.device));
        assert!(c.get(&t, now + SessionCache::TTL).is_none());
        assert!(c.get(&TokenHash([2; 32]), now).is_none());
    }

    #[test]
    fn a_read_that_started_before_a_notification_is_not_kept() {
        let (c, t, s, now) = (live(), TokenHash([1; 32]), session(), Instant::now());
        let g = c.generation().unwrap();
        c.forget_all();
        c.put(&t, &s, g, now);
        assert!(c.get(&t, now).is_none());
    }

    #[test]
    fn a_notification_forgets_every_session() {
        let (c, t, s, now) = (live(), TokenHash([1; 32]), session(), Instant::now());
        c.put(&t, &s, c.generation().unwrap(), now);
        c.forget_all();
        assert!(c.get(&t, now).is_none());
    }

    #[test]
    fn nothing_is_kept_or_served_while_the_listener_is_down() {
        let (c, t, s, now) = (live(), TokenHash([1; 32]), session(), Instant::now());
        c.put(&t, &s, c.generation().unwrap(), now);
        c.set_live(false);
        assert!(c.get(&t, now).is_none(), "what was kept is gone");
        assert!(c.generation().is_none(), "and nothing new may be kept");
        let down = SessionCache::default();
        down.put(&t, &s, 0, now);
        down.set_live(true);
        assert!(down.get(&t, now).is_none());
    }

    #[test]
    fn past_the_maximum_it_starts_again_from_empty() {
        let (c, s, now) = (live(), session(), Instant::now());
        let g = c.generation().unwrap();
        for i in 0..SessionCache::MAX_ENTRIES as u32 {
            let mut t = [0; 32];
            t[..4].copy_from_slice(&i.to_le_bytes());
            c.put(&TokenHash(t), &s, g, now);
        }
        c.put(&TokenHash([9; 32]), &s, g, now);
        assert_eq!(c.lock().entries.len(), 1);
    }
}
