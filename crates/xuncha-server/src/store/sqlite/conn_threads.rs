//! Each SQLite connection lives on a thread of its own and runs the jobs sent to it, one at a time.
//!
//! Why not `spawn_blocking` and a mutex per connection: under a burst (a thousand phones syncing at
//! once) every request became a blocking task, tokio started a thread for each — hundreds, each with its
//! stack to map and fault in — and they all queued on three mutexes. That cost a third of the server's
//! CPU in the 1,000-device benchmark. Here the threads are made once; a burst waits in a channel.
//!
//! Readers share one channel (crossbeam's, many consumers): an idle reader takes the next job, so a long
//! query on one reader does not hold up the jobs behind it as a fixed round-robin would.

use super::super::StoreError;
use rusqlite::Connection;
use std::panic::{catch_unwind, AssertUnwindSafe};

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Threads that own connections to one database. Dropping the pool ends them once their queue is empty.
pub struct ConnThreads {
    jobs: crossbeam_channel::Sender<Job>,
}

impl ConnThreads {
    /// One thread per connection, named `{name}-{i}`.
    pub fn start(name: &str, conns: Vec<Connection>) -> Result<Self, StoreError> {
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        for (i, mut conn) in conns.into_iter().enumerate() {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || {
                    for job in queue {
                        // A panicking job must not take the connection's thread with it. Its caller sees the
                        // reply channel closed; rusqlite has already rolled back any open transaction while
                        // unwinding (a `Transaction` rolls back on drop).
                        if catch_unwind(AssertUnwindSafe(|| job(&mut conn))).is_err() {
                            tracing::error!("a database job panicked");
                        }
                    }
                })
                .map_err(|e| StoreError::Task(format!("cannot start a database thread: {e}")))?;
        }
        Ok(Self { jobs })
    }

    /// Runs `f` on the next free connection and waits (asynchronously) for its answer. The caller's
    /// tracing span goes along.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let span = tracing::Span::current();
        let job: Job = Box::new(move |conn| {
            let _g = span.enter();
            let _ = reply.send(f(conn));
        });
        self.jobs.send(job).map_err(|_| StoreError::Task("the database threads have stopped".into()))?;
        answer.await.map_err(|_| StoreError::Task("a database job failed without an answer (panic)".into()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(n: usize) -> ConnThreads {
        ConnThreads::start("test-db", (0..n).map(|_| Connection::open_in_memory().unwrap()).collect()).unwrap()
    }

    #[tokio::test]
    async fn a_job_runs_on_a_connection_and_answers() {
        let p = pool(2);
        let v: i64 = p.run(|c| Ok(c.query_row("SELECT 40 + 2", [], |r| r.get(0))?)).await.unwrap();
        assert_eq!(v, 42);
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_the_thread_keeps_serving() {
        let p = pool(1);
        let r: Result<(), _> = p.run(|_| panic!("boom")).await;
        assert!(matches!(r, Err(StoreError::Task(_))), "{r:?}");
        let v: i64 = p.run(|c| Ok(c.query_row("SELECT 7", [], |r| r.get(0))?)).await.unwrap();
        assert_eq!(v, 7, "the one connection's thread survived the panic");
    }

    #[tokio::test]
    async fn a_busy_reader_does_not_hold_up_the_jobs_behind_it_when_another_is_free() {
        let p = std::sync::Arc::new(pool(2));
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (started, has_started) = tokio::sync::oneshot::channel::<()>();
        let busy = {
            let p = p.clone();
            tokio::spawn(async move {
                p.run(move |_| {
                    let _ = started.send(());
                    held.recv().ok(); // busy until the test says so
                    Ok(())
                })
                .await
            })
        };
        has_started.await.unwrap();
        // Round-robin would put every other one of these behind the busy reader, forever.
        let others = async {
            for _ in 0..20 {
                p.run(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?)).await.unwrap();
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(30), others)
            .await
            .expect("the free reader answers while the other is busy");
        release.send(()).unwrap();
        busy.await.unwrap().unwrap();
    }
}
