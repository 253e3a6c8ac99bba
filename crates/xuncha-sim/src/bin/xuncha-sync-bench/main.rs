//! `xuncha-sync-bench`: the sync server's throughput and latency against the limits of its own database
//! on the same machine in the same run (issue 3's benchmark; a bench, not a timed test).
//!
//! Per backend (SQLite file, fresh PostgreSQL database) it starts the real `xuncha-server` binary on
//! 127.0.0.1:0, seeded with the demo world, and measures: a push of N findings, M photos of 300 KB, the
//! raw insert rate of the same database (the limit), a team leader's first pull of a scope of N
//! findings (real device engine, and raw HTTP), and D devices syncing at once. Then (PostgreSQL) the
//! growth check: an incremental pull when the server holds 10k vs 1M findings. Prints one table.
//!
//!   xuncha-sync-bench [--quick] [--out FILE] [--backends sqlite,postgres] [--no-growth] [--only-devices]
//!                     [--only-growth] [--pause S]
//!
//! See `crates/xuncha-sim/benches/sync-bench.sh`, which builds the release binaries first.

mod client;
mod devices;
mod growth;
mod measures;
mod phone;
mod raw;
mod server;

/// The push and the raw inserts alternate in this many rounds.
const PUSH_ROUNDS: usize = 5;

use anyhow::{bail, Context, Result};
use clap::Parser;
use client::{create_op, fake_jpeg, Api, Session};
use rand::rngs::StdRng;
use rand::SeedableRng;
use server::{Db, PgDb, Server};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use xuncha_domain::{PhotoHash, Taxonomy};

#[derive(Parser)]
#[command(name = "xuncha-sync-bench", about = "Sync server throughput and latency against the raw database")]
struct Cli {
    /// Small sizes (500 findings, 20 photos, 50 devices, growth 1k vs 10k): a smoke run for CI.
    #[arg(long)]
    quick: bool,
    /// Also write the table (with its header) to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The server binary (default: xuncha-server next to this binary).
    #[arg(long, env = "XUNCHA_SERVER_BIN")]
    server_bin: Option<PathBuf>,
    /// A PostgreSQL database to connect to for creating (and dropping) the bench's own databases.
    #[arg(long, env = "XUNCHA_BENCH_PG_URL", default_value = "postgres://postgres@127.0.0.1:5432/test")]
    pg_url: String,
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    backends: Vec<String>,
    /// Skip the PostgreSQL growth measurement (10k vs 1M findings).
    #[arg(long)]
    no_growth: bool,
    /// After the growth measurement, create this index and measure the large size again ("with proposed
    /// index"). Never part of the server's migrations: a proposal to evaluate.
    #[arg(long)]
    proposed_index: Option<String>,
    /// The server's log level (its log goes to a file in its temp folder).
    #[arg(long, default_value = "warn")]
    server_log: String,
    /// Folder of demo JPEGs; the smallest one is the demo world's only photo.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/demo-photos"))]
    demo_photos: PathBuf,
    #[arg(long)]
    findings: Option<usize>,
    #[arg(long)]
    photos: Option<usize>,
    #[arg(long)]
    devices: Option<usize>,
    /// Only the many-devices phase (no push, photos or first pull): for working on that figure.
    #[arg(long)]
    only_devices: bool,
    /// Only the PostgreSQL growth check: for working on that figure.
    #[arg(long, conflicts_with_all = ["only_devices", "no_growth"])]
    only_growth: bool,
    /// Before each many-devices run, print the two process ids and wait this many seconds (to attach a
    /// profiler such as `perf record -p`).
    #[arg(long, default_value_t = 0)]
    pause: u64,
}

#[derive(Debug, Clone)]
struct Sizes {
    findings: usize,
    photos: usize,
    photo_bytes: usize,
    devices: usize,
    /// Clients pushing / uploading at once: the five inspectors of team 1.
    clients: usize,
    /// Repeats of the first pull (median).
    pull_runs: usize,
    growth: (i64, i64),
    growth_teams: i32,
    growth_runs: usize,
}

impl Sizes {
    fn of(cli: &Cli) -> Self {
        let mut s = if cli.quick {
            Sizes {
                findings: 500,
                photos: 20,
                photo_bytes: 300 * 1024,
                devices: 50,
                clients: 5,
                pull_runs: 1,
                growth: (1_000, 10_000),
                growth_teams: 100,
                growth_runs: 15,
            }
        } else {
            Sizes {
                findings: 10_000,
                photos: 500,
                photo_bytes: 300 * 1024,
                devices: 1_000,
                clients: 5,
                pull_runs: 3,
                growth: (10_000, 1_000_000),
                growth_teams: 1_000,
                growth_runs: 31,
            }
        };
        s.findings = cli.findings.unwrap_or(s.findings);
        s.photos = cli.photos.unwrap_or(s.photos);
        s.devices = cli.devices.unwrap_or(s.devices);
        s
    }
}

/// One line of the result table.
#[derive(Debug, Clone)]
struct Row {
    measure: String,
    backend: String,
    ours: String,
    limit: String,
    ratio: String,
    target: String,
    verdict: String,
}

fn row(measure: impl Into<String>, backend: &str, ours: impl Into<String>, limit: impl Into<String>) -> Row {
    Row {
        measure: measure.into(),
        backend: backend.into(),
        ours: ours.into(),
        limit: limit.into(),
        ratio: String::new(),
        target: String::new(),
        verdict: "info".into(),
    }
}

impl Row {
    fn judged(mut self, ratio: impl Into<String>, target: &str, met: bool) -> Self {
        self.ratio = ratio.into();
        self.target = target.into();
        self.verdict = if met { "met" } else { "MISSED" }.into();
        self
    }

    fn ratio(mut self, ratio: impl Into<String>) -> Self {
        self.ratio = ratio.into();
        self
    }
}

fn render(rows: &[Row]) -> String {
    let head = ["measure", "backend", "ours", "limit / peer", "ratio", "target", "verdict"];
    let cells: Vec<[&str; 7]> = rows
        .iter()
        .map(|r| [&*r.measure, &*r.backend, &*r.ours, &*r.limit, &*r.ratio, &*r.target, &*r.verdict])
        .collect();
    let width =
        |i: usize| cells.iter().map(|c| c[i].chars().count()).chain([head[i].chars().count()]).max().unwrap_or(0);
    let w: Vec<usize> = (0..7).map(width).collect();
    let line = |c: [&str; 7]| {
        let parts: Vec<String> =
            c.iter().enumerate().map(|(i, s)| format!("{s}{}", " ".repeat(w[i] - s.chars().count()))).collect();
        parts.join("  ").trim_end().to_string()
    };
    let mut out = line(head) + "\n";
    out += &(w.iter().map(|n| "-".repeat(*n)).collect::<Vec<_>>().join("  ") + "\n");
    for c in cells {
        out += &(line(c) + "\n");
    }
    out
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn ms(d: Duration) -> String {
    let m = d.as_secs_f64() * 1000.0;
    if m < 10.0 {
        format!("{m:.2} ms")
    } else {
        format!("{m:.0} ms")
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// The smallest JPEG of the folder (the seed ingests it: the smaller, the faster).
fn smallest_jpeg(dir: &Path) -> Result<PathBuf> {
    std::fs::read_dir(dir)
        .with_context(|| dir.display().to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("jpg") || x.eq_ignore_ascii_case("jpeg")))
        .min_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(u64::MAX))
        .with_context(|| format!("no JPEG in {}", dir.display()))
}

struct Ctx {
    only_devices: bool,
    pause: Duration,
    bin: PathBuf,
    demo_photo: PathBuf,
    sizes: Sizes,
    server_log: String,
    taxonomy: Taxonomy,
}

/// Signs in `users` with at most `parallel` sign-ins at once (argon2 is slow on purpose; not timed).
async fn login_many(api: &Api, users: &[String], parallel: usize) -> Result<Vec<Session>> {
    let sem = Arc::new(tokio::sync::Semaphore::new(parallel));
    let tasks: Vec<_> = users
        .iter()
        .map(|u| {
            let (api, u, sem) = (api.clone(), u.clone(), sem.clone());
            tokio::spawn(async move {
                let _permit = sem.acquire_owned().await?;
                api.login(&u).await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await??);
    }
    Ok(out)
}

async fn run_backend(ctx: &Ctx, db: Db) -> Result<Vec<Row>> {
    let sz = &ctx.sizes;
    let b = db.label();
    let mut rows = Vec::new();
    let mut server = {
        let (bin, photo, log, db) = (ctx.bin.clone(), ctx.demo_photo.clone(), ctx.server_log.clone(), db.clone());
        let teams = devices::fleet_teams(ctx.sizes.devices);
        tokio::task::spawn_blocking(move || Server::start(&bin, db, &photo, &log, teams)).await??
    };
    eprintln!("[{b}] server at {} (data in {})", server.url, server.dir.path().display());
    let api = Api::new(&server.url, Duration::from_secs(120))?;
    let mut rng = StdRng::seed_from_u64(3);

    let users: Vec<String> = (1..=sz.clients).map(|k| format!("inspector1-{}", (k - 1) % 5 + 1)).collect();
    let pushers = login_many(&api, &users, 4).await?;
    // Every finding shows the demo world's photo, as a real finding shows one: the server writes its
    // finding_photos row too.
    let demo_photo: Option<PhotoHash> =
        api.pull(&pushers[0].token, 0, 50).await?.changes.iter().find_map(|r| r.finding.fields.photos.first().copied());
    if !ctx.only_devices {
        rows.extend(throughput(ctx, &server, &api, &mut rng, pushers, demo_photo).await?);
    }

    // ---- e. many devices at once ----
    rows.extend(devices::phase(ctx, &server, &api, &mut rng, demo_photo).await?);
    server.stop();
    Ok(rows)
}

/// One database of the growth check with its own server process: what a [`growth::Growth`] borrows.
struct GrowthSide {
    pg: PgDb,
    server: Server,
    api: Api,
}

impl GrowthSide {
    async fn start(ctx: &Ctx, admin_url: &str, purpose: &str) -> Result<Self> {
        let pg = PgDb::create(admin_url, purpose).await?;
        let (bin, photo, log, url) = (ctx.bin.clone(), ctx.demo_photo.clone(), ctx.server_log.clone(), pg.url.clone());
        let server =
            match tokio::task::spawn_blocking(move || Server::start(&bin, Db::Postgres(url), &photo, &log, 1)).await? {
                Ok(s) => s,
                Err(e) => {
                    drop_quietly(&pg).await;
                    return Err(e);
                }
            };
        let api = Api::new(&server.url, Duration::from_secs(120))?;
        Ok(Self { pg, server, api })
    }

    async fn growth(&self, ctx: &Ctx, seed: u64) -> Result<growth::Growth<'_>> {
        let g = growth::Growth {
            db: server::pg_connect(&self.pg.url).await?,
            api: &self.api,
            leader: self.api.login("leader1").await?,
            inspector: self.api.login("inspector1-1").await?,
            taxonomy: ctx.taxonomy.clone(),
            rng: StdRng::seed_from_u64(seed),
            teams: ctx.sizes.growth_teams,
            plans: String::new(),
        };
        g.create_bulk_teams().await?;
        Ok(g)
    }

    async fn stop(mut self) {
        self.server.stop();
        drop_quietly(&self.pg).await;
    }
}

async fn drop_quietly(pg: &PgDb) {
    if let Err(e) = pg.drop_db().await {
        eprintln!("could not drop {}: {e:#}", pg.name);
    }
}

async fn run_growth(ctx: &Ctx, admin_url: &str, proposed_index: Option<&str>) -> Result<(Vec<Row>, String)> {
    let small_side = GrowthSide::start(ctx, admin_url, "growth_small").await?;
    let large_side = match GrowthSide::start(ctx, admin_url, "growth_large").await {
        Ok(l) => l,
        Err(e) => {
            small_side.stop().await;
            return Err(e);
        }
    };
    let r = growth_on(ctx, &small_side, &large_side, proposed_index).await;
    small_side.stop().await;
    large_side.stop().await;
    r
}

/// The growth check on two databases of the two sizes (see `growth.rs`).
async fn growth_on(
    ctx: &Ctx,
    small_side: &GrowthSide,
    large_side: &GrowthSide,
    proposed_index: Option<&str>,
) -> Result<(Vec<Row>, String)> {
    let sz = &ctx.sizes;
    let (mut gs, mut gl) = (small_side.growth(ctx, 11).await?, large_side.growth(ctx, 11).await?);
    eprintln!("[growth] loading one database to {} findings, the other to {}…", sz.growth.0, sz.growth.1);
    let small = gs.level(sz.growth.0).await?;
    let large = gl.level(sz.growth.1).await?;
    eprintln!("[growth] {small:?}, {large:?}; timing {} pulls of each in alternation", sz.growth_runs);
    let (small_t, large_t) =
        growth::interleaved_medians((&mut gs, &small), (&mut gl, &large), sz.growth_runs, "").await?;
    let indexed = match proposed_index {
        Some(sql) => {
            gl.add_index(sql).await?;
            let label = "with proposed index: ";
            Some(growth::interleaved_medians((&mut gs, &small), (&mut gl, &large), sz.growth_runs, label).await?)
        }
        None => None,
    };
    let k = |n: i64| if n >= 1_000_000 { format!("{}M", n / 1_000_000) } else { format!("{}k", n / 1000) };
    let (s, l) = (k(small.findings), k(large.findings));
    let mut rows = Vec::new();
    let judge = |label: &str, big: Duration, little: Duration| {
        let ratio = big.as_secs_f64() / little.as_secs_f64();
        row(label, "postgres", format!("{} @{l}", ms(big)), format!("{} @{s}", ms(little))).judged(
            format!("{ratio:.2}"),
            "≤ 1.2",
            ratio <= 1.2,
        )
    };
    rows.push(judge(
        &format!("growth: leader pulls 10 new, server holds {l} vs {s} (medians of {}, alternating)", sz.growth_runs),
        large_t,
        small_t,
    ));
    if let Some((small_ix, large_ix)) = indexed {
        rows.push(judge("growth with proposed index (on the large one)", large_ix, small_ix));
    }
    rows.push(row(
        format!("growth: bulk load to {s} / to {l} ({} teams)", sz.growth_teams),
        "postgres",
        format!("{:.1} s / {:.1} s", small.load_secs, large.load_secs),
        "",
    ));
    let plans = std::mem::take(&mut gs.plans) + &std::mem::take(&mut gl.plans);
    Ok((rows, plans))
}

async fn header(cli: &Cli, ctx: &Ctx) -> String {
    let mut h = String::new();
    let now = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("offset"));
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    h += &format!(
        "xuncha-sync-bench{} — {} — commit {commit} (working tree may hold uncommitted changes)\n",
        if cli.quick { " --quick" } else { "" },
        now.format("%Y-%m-%d %H:%M %:z")
    );
    h += &format!(
        "machine: {} cores, load average {} at start; server {} (log level {})\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg(),
        ctx.bin.display(),
        ctx.server_log
    );
    h += &format!("sqlite {} (server: WAL, synchronous=FULL, one writer)\n", rusqlite::version());
    if cli.backends.iter().any(|b| b == "postgres") {
        match server::pg_connect(&cli.pg_url).await {
            Ok(c) => {
                let mut v = Vec::new();
                for s in ["server_version", "synchronous_commit", "fsync", "wal_sync_method", "shared_buffers"] {
                    if let Ok(r) = c.query_one(&format!("SHOW {s}"), &[]).await {
                        v.push(format!("{s}={}", r.get::<_, String>(0)));
                    }
                }
                h += &format!("postgres: {}\n", v.join(", "));
            }
            Err(e) => h += &format!("postgres: not reachable ({e:#})\n"),
        }
    }
    h
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let bin = match &cli.server_bin {
        Some(b) => b.clone(),
        None => std::env::current_exe()?.parent().context("binary folder")?.join("xuncha-server"),
    };
    if !bin.exists() {
        bail!("{} is missing: cargo build --release -p xuncha-server (or --server-bin)", bin.display());
    }
    let ctx = Ctx {
        only_devices: cli.only_devices,
        pause: Duration::from_secs(cli.pause),
        bin,
        demo_photo: smallest_jpeg(&cli.demo_photos)?,
        sizes: Sizes::of(&cli),
        server_log: cli.server_log.clone(),
        taxonomy: Taxonomy::builtin(),
    };
    let head = header(&cli, &ctx).await;
    eprint!("{head}");
    if cli.backends.iter().any(|b| b == "postgres") {
        match PgDb::drop_abandoned(&cli.pg_url).await {
            Ok(names) if !names.is_empty() => eprintln!("dropped databases of killed bench runs: {}", names.join(", ")),
            Ok(_) => {}
            Err(e) => eprintln!("could not look for databases of killed bench runs: {e:#}"),
        }
    }
    let mut rows = Vec::new();
    let mut plans = String::new();
    for b in cli.backends.iter().filter(|_| !cli.only_growth) {
        let result = match b.as_str() {
            "sqlite" => run_backend(&ctx, Db::Sqlite).await,
            "postgres" => match PgDb::create(&cli.pg_url, "main").await {
                Ok(pg) => {
                    let r = run_backend(&ctx, Db::Postgres(pg.url.clone())).await;
                    if let Err(e) = pg.drop_db().await {
                        eprintln!("could not drop {}: {e:#}", pg.name);
                    }
                    r
                }
                Err(e) => Err(e),
            },
            other => bail!("unknown backend {other:?} (sqlite, postgres)"),
        };
        match result {
            Ok(r) => rows.extend(r),
            Err(e) => {
                eprintln!("[{b}] failed: {e:#}");
                rows.push(row("run", b, "FAILED", format!("{e:#}").chars().take(100).collect::<String>()));
            }
        }
    }
    if !cli.no_growth && cli.backends.iter().any(|b| b == "postgres") {
        match run_growth(&ctx, &cli.pg_url, cli.proposed_index.as_deref()).await {
            Ok((r, p)) => {
                rows.extend(r);
                plans = p;
            }
            Err(e) => {
                eprintln!("[growth] failed: {e:#}");
                rows.push(row("growth", "postgres", "FAILED", format!("{e:#}").chars().take(100).collect::<String>()));
            }
        }
    }
    let mut text = head;
    text += &format!("load average at end: {}\n\n", loadavg());
    text += &render(&rows);
    text += "\nours = through the real server over loopback HTTP; limit = the same database (or disk) directly, \
             same durability, one transaction per finding, serial. Photos are random bytes behind a JPEG marker \
             (the server checks the SHA-256 only). Devices: one person each, in load-test teams of a leader and five \
             trainees (seed-fleet), each with a new connection per run; their pull pages are counted, not decoded \
             (a phone decodes on its own CPU, the bench shares the server's).\n";
    print!("{text}");
    if !plans.is_empty() {
        eprintln!("\nPostgreSQL plans of the leader's pull (EXPLAIN ANALYZE):\n{plans}");
        text += &format!("\nPostgreSQL plans of the leader's pull (EXPLAIN ANALYZE):\n{plans}");
    }
    if let Some(out) = &cli.out {
        std::fs::write(out, &text).with_context(|| out.display().to_string())?;
    }
    if rows.iter().any(|r| r.ours == "FAILED") {
        std::process::exit(1);
    }
    Ok(())
}

/// Phases a–d: a push of N findings beside the raw insert rate, M photos, a leader's first pull.
async fn throughput(
    ctx: &Ctx,
    server: &Server,
    api: &Api,
    rng: &mut StdRng,
    mut pushers: Vec<Session>,
    demo_photo: Option<PhotoHash>,
) -> Result<Vec<Row>> {
    let sz = &ctx.sizes;
    let db = &server.db;
    let b = db.label();
    let mut rows = Vec::new();
    let mut per_client = Vec::new();
    for (k, s) in pushers.iter_mut().enumerate() {
        let n = sz.findings / sz.clients + usize::from(k < sz.findings % sz.clients);
        let ops = (0..n).map(|_| create_op(&ctx.taxonomy, s, rng, demo_photo)).collect::<Result<Vec<_>>>()?;
        per_client.push((s.clone(), ops));
    }

    // ---- a. push, alternating with c. the raw insert rate of the same database ----
    // Rounds, so that a compile starting on this shared machine slows both alike. The raw side opens
    // after the first round: its template row is one the server wrote for this push.
    eprintln!(
        "[{b}] pushing {} findings ({} clients, batches of 200), raw inserts in between…",
        sz.findings, sz.clients
    );
    enum Raw {
        Sqlite(raw::SqliteRaw),
        Postgres(raw::PgRaw),
    }
    let mut raw_side: Option<Raw> = None;
    let (mut push_t, mut raw_t, mut raw_n) = (Duration::ZERO, Duration::ZERO, 0usize);
    for r in 0..PUSH_ROUNDS {
        let work: Vec<_> = per_client
            .iter()
            .map(|(s, ops)| {
                let per = ops.len().div_ceil(PUSH_ROUNDS);
                (s.clone(), ops.iter().skip(r * per).take(per).cloned().collect::<Vec<_>>())
            })
            .collect();
        let n: usize = work.iter().map(|(_, ops)| ops.len()).sum();
        push_t += measures::push(api, work).await?;
        let side = match raw_side.take() {
            Some(x) => x,
            None => match &db {
                Db::Sqlite => Raw::Sqlite(tokio::task::block_in_place(|| {
                    raw::SqliteRaw::open(&server.sqlite_path(), &server.dir.path().join("raw.sqlite3"))
                })?),
                Db::Postgres(url) => Raw::Postgres(raw::PgRaw::open(url).await?),
            },
        };
        let side = match side {
            Raw::Sqlite(mut x) => {
                raw_t += tokio::task::block_in_place(|| x.insert(n))?;
                Raw::Sqlite(x)
            }
            Raw::Postgres(mut x) => {
                raw_t += x.insert(n).await?;
                Raw::Postgres(x)
            }
        };
        raw_n += n;
        raw_side = Some(side);
    }
    if let Some(Raw::Postgres(x)) = raw_side {
        x.close().await?;
    }
    let ours_rate = sz.findings as f64 / push_t.as_secs_f64();
    let raw_rate = raw_n as f64 / raw_t.as_secs_f64();
    let pct = 100.0 * ours_rate / raw_rate;
    rows.push(
        row(
            format!("push {} findings (lean HTTP, {} clients, 200/batch)", sz.findings, sz.clients),
            b,
            format!("{ours_rate:.0} findings/s ({})", secs(push_t)),
            format!("raw {raw_rate:.0} rows/s ({})", secs(raw_t)),
        )
        .judged(format!("{pct:.0} %"), "≥ 50 %", pct >= 50.0),
    );

    // ---- b. photos ----
    let photos: Vec<(PhotoHash, Vec<u8>)> = (0..sz.photos).map(|_| fake_jpeg(rng, sz.photo_bytes)).collect();
    let photos = Arc::new(photos);
    let tokens: Vec<String> = pushers.iter().map(|s| s.token.clone()).collect();
    eprintln!("[{b}] uploading {} photos…", sz.photos);
    let photo_t = measures::photos(api, &tokens, photos.clone()).await?;
    let raw_photo_t = {
        let (root, photos, k) = (server.dir.path().join("raw-blobs"), photos.clone(), sz.clients);
        tokio::task::spawn_blocking(move || raw::photo_files(&root, &photos, k)).await??
    };
    let mb = (sz.photos * sz.photo_bytes) as f64 / 1e6;
    let (ours_mbs, raw_mbs) = (mb / photo_t.as_secs_f64(), mb / raw_photo_t.as_secs_f64());
    rows.push(
        row(
            format!("{} photos × {} KB (HEAD+PUT, {} clients)", sz.photos, sz.photo_bytes / 1024, sz.clients),
            b,
            format!("{:.0} photos/s, {ours_mbs:.0} MB/s", sz.photos as f64 / photo_t.as_secs_f64()),
            format!("raw files {raw_mbs:.0} MB/s"),
        )
        .ratio(format!("{:.0} %", 100.0 * ours_mbs / raw_mbs)),
    );

    // ---- d. a leader's first pull ----
    eprintln!("[{b}] leader's first pull…");
    let leader = api.login("leader1").await?;
    let mut http_runs = Vec::new();
    let (mut records, mut pages) = (0, 0);
    for _ in 0..sz.pull_runs {
        let (t, r, p) = measures::first_pull_http(api, &leader.token).await?;
        http_runs.push(t);
        (records, pages) = (r, p);
    }
    let http_t = median(http_runs);
    let mut engine_runs = Vec::new();
    let mut on_device = 0;
    for _ in 0..sz.pull_runs {
        let (t, n) = measures::first_sync_engine(&server.url, "leader1").await?;
        engine_runs.push(t);
        on_device = n;
    }
    // Not fatal: the figure stands, the table says what the device ended up holding.
    let held = if on_device == records { String::new() } else { format!(", device lists {on_device}") };
    let engine_t = median(engine_runs);
    rows.push(
        row(
            format!("leader first sync, device engine ({records} findings, {pages} pages{held})"),
            b,
            secs(engine_t),
            format!("raw HTTP pull {}", secs(http_t)),
        )
        .judged(
            format!("{:.1}×", engine_t.as_secs_f64() / http_t.as_secs_f64()),
            "< 3 s",
            engine_t < Duration::from_secs(3),
        ),
    );
    rows.push(row("leader first pull, raw HTTP (no device store)", b, secs(http_t), "").judged(
        "",
        "< 3 s",
        http_t < Duration::from_secs(3),
    ));

    Ok(rows)
}
