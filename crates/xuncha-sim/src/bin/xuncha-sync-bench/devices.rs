//! Phase e: many devices syncing at once — all released at one barrier, then the same devices each on
//! its own timer — with the latency of every request, the errors, and the CPU the server and the
//! bench client spent (both share this machine's cores).

use crate::client::{create_op, Api};
use crate::phone::{Awake, Phone, Target};
use crate::server::{fleet_user, Db, Server, FLEET_INSPECTORS};
use crate::{ms, row, secs, Ctx, Row};
use anyhow::{Context, Result};
use rand::rngs::StdRng;
use std::sync::Arc;
use std::time::{Duration, Instant};
use xuncha_domain::PhotoHash;
use xuncha_proto::PushRequest;

/// Simulated device `i`: one person each, in load-test teams of a leader and five trainees (the brief's
/// teams have three to five). Returns (username, team number, is the leader).
fn device_user(i: usize) -> (String, usize, bool) {
    let per_team = FLEET_INSPECTORS + 1;
    let (t, k) = (i / per_team + 1, i % per_team);
    (fleet_user(t, k), t, k == 0)
}

/// The load-test teams `n` devices need.
pub fn fleet_teams(n: usize) -> usize {
    n.div_ceil(FLEET_INSPECTORS + 1)
}

/// A device that has not finished its sync by then counts as an error.
const DEVICE_TIMEOUT: Duration = Duration::from_secs(60);

/// Bursts measured one after the other; the p99 is over all their requests.
const BURSTS: usize = 3;

/// The phones' own timers spread a real fleet's syncs over minutes; here all of them fall within this,
/// still a burst 18× denser than a 3-minute period.
const SPREAD: Duration = Duration::from_secs(10);

pub async fn phase(
    ctx: &Ctx,
    server: &Server,
    api: &Api,
    rng: &mut StdRng,
    demo_photo: Option<PhotoHash>,
) -> Result<Vec<Row>> {
    let (n, b) = (ctx.sizes.devices, server.db.label());
    let mut rows = Vec::new();
    eprintln!("[{b}] signing in {n} devices (not timed)…");
    let dev_users: Vec<(String, usize, bool)> = (0..n).map(device_user).collect();
    let names: Vec<String> = dev_users.iter().map(|(u, _, _)| u.clone()).collect();
    let mut sessions = crate::login_many(api, &names, 4).await?;
    // Each device has synced before: its cursor is its team's latest (the leader's pull, not timed).
    let mut team_cursor = std::collections::HashMap::new();
    for (s, (_, team, leader)) in sessions.iter().zip(&dev_users) {
        if *leader {
            team_cursor.insert(*team, api.pull_all(&s.token, 0).await?.2);
        }
    }
    for (s, (_, team, _)) in sessions.iter_mut().zip(&dev_users) {
        s.cursor = team_cursor.get(team).copied().unwrap_or(0);
    }

    if let Db::Postgres(url) = &server.db {
        // A production PostgreSQL's autovacuum vacuums and analyses the tables within a minute of the
        // ingest before this phase (10,000 rows pass its thresholds many times over); this machine's runs
        // with autovacuum off. Done here, untimed, so the burst meets the tables a server would meet.
        eprintln!("[{b}] VACUUM (ANALYZE), as autovacuum would after the ingest (not timed)…");
        crate::server::pg_connect(url).await?.batch_execute("VACUUM (ANALYZE)").await?;
    }
    let target = Target::new(&server.url)?;
    for (spread, runs) in [(Duration::ZERO, BURSTS), (SPREAD, 1)] {
        let how = if spread.is_zero() { "at once".to_string() } else { format!("within {} s", spread.as_secs()) };
        let mut all = DeviceStats::default();
        let (mut server_cpu, mut db_cpu, mut own_cpu) = (Some(0.0), Some(0.0), Some(0.0));
        for run in 1..=runs {
            // A phone's request exists before it syncs: built here, outside the timing and the CPU figures.
            let mut phones = Vec::with_capacity(n);
            for s in sessions.iter_mut() {
                let op = create_op(&ctx.taxonomy, s, rng, demo_photo)?;
                phones.push(Phone::new(&s.token, &PushRequest { device_id: s.device, ops: vec![op] })?);
            }
            if !ctx.pause.is_zero() {
                eprintln!("[{b}] pause {} s: bench pid {}, server pid {}", ctx.pause.as_secs(), std::process::id(), {
                    server.pid().map_or("?".into(), |p| p.to_string())
                });
                tokio::time::sleep(ctx.pause).await;
            }
            eprintln!("[{b}] {n} devices sync {how} (run {run} of {runs})…");
            let (server_before, db_before, own_before) =
                (server.cpu_seconds(), server.database_cpu_seconds(), cpu_seconds("self"));
            let cursors = sessions.iter().map(|s| s.cursor).collect();
            let (st, connections) = devices(&target, phones, cursors, spread).await?;
            let used = |after: Option<f64>, before: Option<f64>, sum: Option<f64>| Some(sum? + after? - before?);
            server_cpu = used(server.cpu_seconds(), server_before, server_cpu);
            db_cpu = used(server.database_cpu_seconds(), db_before, db_cpu);
            own_cpu = used(cpu_seconds("self"), own_before, own_cpu);
            drop(connections);
            // Every device ends at the cursor it pulled to: carry it into the next run.
            for (s, cursor) in sessions.iter_mut().zip(&st.cursors) {
                s.cursor = *cursor;
            }
            if let Some(e) = &st.first_error {
                eprintln!("[{b}] first device error: {e}");
            }
            all.add(st);
        }
        rows.extend(all.rows(n, &how, b, [server_cpu, db_cpu, own_cpu]));
    }
    Ok(rows)
}

/// What one run of the devices saw.
#[derive(Debug, Default)]
struct DeviceStats {
    push: Vec<Duration>,
    pull: Vec<Duration>,
    /// Findings received by all the pulls together.
    pulled: usize,
    errors: usize,
    first_error: Option<String>,
    /// Each run's wall time (barrier to last answer) and p99.
    runs: Vec<(Duration, Duration)>,
    /// Each device's cursor at the end, in the order of the phones.
    cursors: Vec<u64>,
}

impl DeviceStats {
    /// Adds one run's figures to these.
    fn add(&mut self, run: DeviceStats) {
        self.push.extend(run.push);
        self.pull.extend(run.pull);
        self.pulled += run.pulled;
        self.errors += run.errors;
        self.first_error = self.first_error.take().or(run.first_error);
        self.runs.extend(run.runs);
    }

    fn all(&self) -> Vec<Duration> {
        let mut v: Vec<Duration> = self.push.iter().chain(&self.pull).copied().collect();
        v.sort();
        v
    }

    /// `cpu`: the CPU seconds of the server, the database's own processes (PostgreSQL) and the bench client.
    fn rows(&self, n: usize, how: &str, b: &str, cpu: [Option<f64>; 3]) -> Vec<Row> {
        let all = self.all();
        let q = |v: &[Duration], x| ms(quantile(v, x));
        let p99 = quantile(&all, 0.99);
        let (mut push, mut pull) = (self.push.clone(), self.pull.clone());
        push.sort();
        pull.sort();
        let [server_cpu, db_cpu, own_cpu] = cpu.map(|c| c.map_or("–".to_string(), |c| format!("{c:.2} s")));
        let runs = self.runs.len();
        let each =
            |f: &dyn Fn(&(Duration, Duration)) -> String| self.runs.iter().map(f).collect::<Vec<_>>().join(" / ");
        let (label, per_run) = if runs > 1 {
            (format!(" ({runs} runs)"), format!(" / each run's p99 {}", each(&|r| ms(r.1))))
        } else {
            (String::new(), String::new())
        };
        vec![
            row(format!("{n} devices sync {how}{label} (push 1 + pull): p99/request"), b, ms(p99), {
                format!("p50 {} / p95 {} / max {}{per_run}", q(&all, 0.5), q(&all, 0.95), q(&all, 1.0))
            })
            .judged("", "< 250 ms", p99 < Duration::from_millis(250)),
            row(
                format!("  … push p99 / pull p99 ({} + {} requests)", push.len(), pull.len()),
                b,
                format!("{} / {}", q(&push, 0.99), q(&pull, 0.99)),
                format!("done in {}, {} findings pulled", each(&|r| secs(r.0)), self.pulled),
            ),
            row(
                "  … CPU: server / PostgreSQL / bench client",
                b,
                format!("{server_cpu} / {db_cpu} / {own_cpu}"),
                format!("{} cores", std::thread::available_parallelism().map_or(0, |c| c.get())),
            ),
            row(format!("{n} devices sync {how}: errors"), b, self.errors.to_string(), "").judged(
                "",
                "0",
                self.errors == 0,
            ),
        ]
    }
}

/// The q-quantile (nearest rank) of sorted values.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Every device (already signed in, its cursor caught up, its one new finding made) waits at a
/// barrier, then — at once, or device i after `spread × i / n` — opens its connection, pushes its op and
/// pulls from its cursor until `has_more` is false, on a connection of its own, as a phone does. The
/// connections come back open: a phone's client keeps its connection after a sync, and closing a thousand
/// here would put the server's work of closing them inside the burst's figures.
async fn devices(
    target: &Target,
    phones: Vec<Phone>,
    cursors: Vec<u64>,
    spread: Duration,
) -> Result<(DeviceStats, Vec<Awake>)> {
    let n = phones.len();
    let barrier = Arc::new(tokio::sync::Barrier::new(n + 1));
    let mut tasks = Vec::with_capacity(n);
    for (i, (phone, cursor)) in phones.into_iter().zip(cursors).enumerate() {
        let (barrier, target) = (barrier.clone(), target.clone());
        let delay = spread.mul_f64(i as f64 / n.max(1) as f64);
        tasks.push(tokio::spawn(async move {
            let mut run = DeviceRun { cursor, ..DeviceRun::default() };
            barrier.wait().await;
            tokio::time::sleep(delay).await;
            run.error = match tokio::time::timeout(DEVICE_TIMEOUT, sync_one(phone, &target, &mut run)).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(format!("{e:#}")),
                Err(_) => Some(format!("no answer within {} s", DEVICE_TIMEOUT.as_secs())),
            };
            run
        }));
    }
    barrier.wait().await;
    let start = Instant::now();
    let mut st = DeviceStats::default();
    let mut connections = Vec::with_capacity(n);
    for t in tasks {
        let run = t.await?;
        st.push.extend(run.push);
        st.pull.extend(run.pull);
        st.pulled += run.pulled;
        st.cursors.push(run.cursor);
        st.errors += usize::from(run.error.is_some());
        st.first_error = st.first_error.take().or(run.error);
        connections.extend(run.connection);
    }
    let wall = start.elapsed();
    let p99 = quantile(&st.all(), 0.99);
    st.runs.push((wall, p99));
    Ok((st, connections))
}

/// What one device saw, and its connection.
#[derive(Default)]
struct DeviceRun {
    push: Vec<Duration>,
    pull: Vec<Duration>,
    pulled: usize,
    cursor: u64,
    error: Option<String>,
    connection: Option<Awake>,
}

/// One device's sync: connect, push, pull every page.
async fn sync_one(phone: Phone, target: &Target, run: &mut DeviceRun) -> Result<()> {
    let t = Instant::now();
    let awake = run.connection.insert(phone.wake(target).await.context("connect")?);
    awake.push().await.context("push")?;
    run.push.push(t.elapsed());
    loop {
        let t = Instant::now();
        let page = awake.pull(run.cursor, xuncha_proto::MAX_PULL_LIMIT).await.context("pull")?;
        run.pull.push(t.elapsed());
        run.pulled += page.changes;
        run.cursor = page.cursor;
        if !page.has_more || page.changes == 0 {
            return Ok(());
        }
    }
}

/// User + system CPU seconds of process `pid` ("self" for this one) so far, from /proc (Linux only;
/// `None` elsewhere). The kernel counts in USER_HZ ticks, 100 per second on every Linux ABI.
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces, so split after its closing parenthesis).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let (utime, stime): (u64, u64) = (f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?);
    Some((utime + stime) as f64 / 100.0)
}
