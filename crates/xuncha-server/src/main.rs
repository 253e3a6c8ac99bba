//! `xuncha-server`: the command line. Thin on purpose; everything it calls is in the library.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use xuncha_domain::Role;
use xuncha_server::{admin, seed, AppState, Config};

mod tools;

#[derive(Parser)]
#[command(name = "xuncha-server", version, about = "巡查 Xuncha sync server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct DbArg {
    /// SQLite database file (created and migrated if missing).
    #[arg(long, env = "XUNCHA_DB", default_value = Config::DEFAULT_DB)]
    db: PathBuf,
    /// PostgreSQL instead of the SQLite file: postgres://user:password@host:port/db (migrated on start).
    #[arg(long, env = "XUNCHA_DATABASE_URL", hide_env_values = true)]
    database_url: Option<xuncha_server::config::DatabaseUrl>,
}

impl DbArg {
    fn config(&self, blobs: PathBuf) -> Config {
        Config {
            db: self.db.clone(),
            database_url: self.database_url.clone(),
            blobs,
            s3: None,
            body_idle_timeout: Config::DEFAULT_BODY_IDLE_TIMEOUT,
        }
    }
}

#[derive(Args)]
struct StorageArgs {
    #[command(flatten)]
    db: DbArg,
    /// Directory for photo files (with --s3: for unfinished uploads only).
    #[arg(long, env = "XUNCHA_BLOBS", default_value = Config::DEFAULT_BLOBS)]
    blobs: PathBuf,
    /// Photos in an S3-compatible bucket: s3://BUCKET/PREFIX?endpoint=http://HOST:PORT&region=REGION
    /// (no endpoint: AWS). Keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. See docs/blob-store.md.
    #[arg(long, env = "XUNCHA_S3")]
    s3: Option<xuncha_server::config::S3Location>,
}

impl StorageArgs {
    fn config(&self) -> Config {
        Config { s3: self.s3.clone(), ..self.db.config(self.blobs.clone()) }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API; prints `listening on http://IP:PORT` once bound (use port 0 for any free port).
    Serve {
        #[command(flatten)]
        storage: StorageArgs,
        #[arg(long, env = "XUNCHA_LISTEN", default_value = Config::DEFAULT_LISTEN)]
        listen: String,
        /// Also stop when stdin reaches end of file: a supervising process (a test, a desktop app) that
        /// dies closes the pipe, and the server does not outlive it.
        #[arg(long)]
        stop_on_stdin_close: bool,
        /// Seconds a request body may send nothing before the server gives up on it (what arrived of a
        /// photo is kept).
        #[arg(
            long,
            env = "XUNCHA_BODY_IDLE_SECS",
            default_value_t = Config::DEFAULT_BODY_IDLE_TIMEOUT.as_secs(),
            value_parser = clap::value_parser!(u64).range(1..)
        )]
        body_idle_secs: u64,
    },
    /// Create the demo world (districts, teams, users, a day of findings). Does nothing if users exist.
    SeedDemo {
        #[command(flatten)]
        storage: StorageArgs,
        /// Day of the demo findings (default: today in China).
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// Directory with the demo JPEGs.
        #[arg(long, env = "XUNCHA_DEMO_PHOTOS", default_value = "assets/demo-photos")]
        demo_photos: PathBuf,
    },
    /// Add an account. The password is read from XUNCHA_NEW_PASSWORD, or else the first line of stdin
    /// (never from a flag: flags are visible to every user of the machine).
    AddUser {
        #[command(flatten)]
        db: DbArg,
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "")]
        display_name: String,
        /// inspector, team_leader, district_office or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Team name, for inspector and team_leader (e.g. 上城区湖滨一组).
        #[arg(long)]
        team: Option<String>,
        /// District code, for district_office (shangcheng, gongshu, xihu).
        #[arg(long)]
        district: Option<String>,
    },
    /// Add load-test accounts (test servers): TEAMS teams named 压测0001组…, each with a leader
    /// `fleetT-leader` and INSPECTORS trainees `fleetT-1`…, spread over the sub-districts, all with the
    /// password from XUNCHA_NEW_PASSWORD or the first line of stdin. Adds only what is missing.
    SeedFleet {
        #[command(flatten)]
        db: DbArg,
        #[arg(long)]
        teams: usize,
        #[arg(long, default_value_t = 5)]
        inspectors: usize,
    },
    /// Ingest photo files as a phone would and print one JSON line per file: EXIF facts (gps, taken_at,
    /// orientation, make, model), stored size and bytes, thumbnail bytes, hash and the time of each stage.
    /// A file that fails prints its error line ({code, zh, en}) and the next file is tried.
    /// Exit code 0 when every file was ok, 1 otherwise.
    PhotoInfo {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Turn a folder of camera photos into findings with status `recorded`, authored by --user: one
    /// finding per photo (*.jpg, *.jpeg, *.png, *.webp, *.heic, *.heif; other files are skipped), in
    /// order of EXIF time, then file name. Position from EXIF GPS (source photo_exif; none → no
    /// position, shown as "position missing"). Time from EXIF DateTimeOriginal with its OffsetTimeOriginal,
    /// or +08:00 (China Standard Time) when the camera wrote no offset; without an EXIF time, the file's
    /// modification time. Description "相机导入：<file name>". Photos that fail are listed and skipped.
    /// Running it again on the same folder creates nothing new. Exit code 1 if any photo failed.
    ImportPhotos {
        /// Folder with the photos (not searched recursively).
        dir: PathBuf,
        /// Username of the trainee who took them.
        #[arg(long)]
        user: String,
        /// Taxonomy codes CATEGORY/SUBCATEGORY, e.g. living_environment/illegal_ads.
        #[arg(long)]
        category: String,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Move a user to another role and team or district (a trainee changes teams, an inspector becomes a
    /// leader). Their devices download the new scope at their next sync and remove what they may no
    /// longer hold; their unsent work stays on the phone and is sent (or refused, with the reason).
    SetUser {
        #[command(flatten)]
        db: DbArg,
        #[arg(long)]
        user: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[arg(long)]
        team: Option<String>,
        #[arg(long)]
        district: Option<String>,
    },
    /// Export the findings --user may see (the same scope as their device) to --out: findings.xlsx,
    /// findings.csv (UTF-8 with BOM) and photos/<id>-<n>.jpg. --from/--to filter by the day observed.
    /// With --watermark each photo copy carries its time, position and category (needs a CJK font:
    /// fonts-noto-cjk, or --font). The stored photos are only read, never changed.
    Export {
        /// Username whose view is exported (a team leader gets the team, a district office the district).
        #[arg(long)]
        user: String,
        /// Output folder (created if missing; files in it are overwritten).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        storage: StorageArgs,
        /// First day observed, YYYY-MM-DD (inclusive).
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Last day observed, YYYY-MM-DD (inclusive).
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
        /// Stamp time, position and category on the photo copies.
        #[arg(long)]
        watermark: bool,
        /// CJK font file (.ttc/.otf/.ttf) for --watermark; default: the first of the usual system paths.
        #[arg(long, env = "XUNCHA_WATERMARK_FONT")]
        font: Option<PathBuf>,
        /// Language of headers and labels.
        #[arg(long, value_enum, default_value = "zh")]
        lang: tools::export::Lang,
    },
    /// Revoke every sign-in of a user (a lost or stolen phone).
    RevokeTokens {
        #[command(flatten)]
        db: DbArg,
        #[arg(long)]
        user: String,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("unknown role {s:?}: use inspector, team_leader, district_office or admin"))
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("XUNCHA_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // stderr: stdout carries only the "listening on" line that scripts and tests read. Colours only on a
    // terminal: a log file or journal read later, or searched with grep, gets plain text.
    use std::io::IsTerminal;
    let ansi = std::io::stderr().is_terminal();
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).init();
}

/// Resolves when stdin is closed. A plain thread, not tokio's stdin: a blocked read there would keep
/// the runtime from shutting down on a signal.
async fn stdin_closed() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        let _ = tx.send(());
    });
    let _ = rx.await;
}

async fn shutdown_signal(stop_on_stdin_close: bool) {
    let stdin = async {
        if stop_on_stdin_close {
            stdin_closed().await
        } else {
            std::future::pending::<()>().await
        }
    };
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {}, _ = stdin => {} }
    tracing::info!("shutting down");
}

async fn open_store(config: &Config) -> Result<Arc<dyn xuncha_server::store::ServerStore>> {
    let rules = Arc::new(xuncha_server::apply::Rules::builtin());
    xuncha_server::store::open(config, rules).await.with_context(|| format!("opening {}", config.database_label()))
}

#[tokio::main]
async fn main() -> Result<()> {
    init_tracing();
    match Cli::parse().command {
        Command::Serve { storage, listen, stop_on_stdin_close, body_idle_secs } => {
            let config =
                Config { body_idle_timeout: std::time::Duration::from_secs(body_idle_secs), ..storage.config() };
            let state =
                AppState::open(&config).await.with_context(|| format!("opening {}", config.database_label()))?;
            let listener =
                xuncha_server::listen::bind(&listen).await.with_context(|| format!("cannot listen on {listen}"))?;
            let addr = listener.local_addr()?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on http://{addr}")?;
            out.flush()?;
            drop(out);
            tracing::info!(%addr, db = %config.database_label(), blobs = %config.blobs_label(), "serving");
            xuncha_server::serve_state(listener, state, shutdown_signal(stop_on_stdin_close)).await?;
        }
        Command::SeedDemo { storage, date, demo_photos } => {
            let config = storage.config();
            let store = open_store(&config).await?;
            let blobs = xuncha_server::open_blobs(&config).await?;
            let date = date.unwrap_or_else(|| {
                chrono::Utc::now()
                    .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset"))
                    .date_naive()
            });
            match seed::seed_demo(&*store, &*blobs, &seed::SeedOptions { date, demo_photos }).await? {
                seed::SeedOutcome::AlreadySeeded => {
                    println!("{} already has users; nothing was changed.", config.database_label());
                }
                seed::SeedOutcome::Seeded(s) => print_summary(&s, date),
            }
        }
        Command::AddUser { db, username, display_name, role, team, district } => {
            let password = new_password()?;
            let store = open_store(&db.config(PathBuf::new())).await?;
            let id = admin::add_user(
                &*store,
                admin::AddUser { username: username.clone(), display_name, role, team, district, password },
            )
            .await?;
            println!("added {username} ({}) id {id}", role.as_str());
        }
        Command::SeedFleet { db, teams, inspectors } => {
            let password = new_password()?;
            let store = open_store(&db.config(PathBuf::new())).await?;
            let s = xuncha_server::fleet::seed_fleet(
                &*store,
                xuncha_server::fleet::FleetOptions { teams, inspectors, password },
            )
            .await?;
            println!(
                "added {} teams and {} accounts ({teams} teams of 1 leader + {inspectors})",
                s.teams_added, s.users_added
            );
        }
        Command::PhotoInfo { files } => {
            let all_ok = tokio::task::spawn_blocking(move || tools::photo_info::run(&files, &mut std::io::stdout()))
                .await
                .context("photo-info task")??;
            if !all_ok {
                std::process::exit(1);
            }
        }
        Command::ImportPhotos { dir, user, category, storage } => {
            let config = storage.config();
            let store = open_store(&config).await?;
            let blobs = xuncha_server::open_blobs(&config).await?;
            let opts = tools::import_photos::ImportOptions { dir, username: user, category };
            let summary = tools::import_photos::run(&*store, &*blobs, &opts, &mut std::io::stdout()).await?;
            if summary.failed > 0 {
                std::process::exit(1);
            }
        }
        Command::SetUser { db, user, role, team, district } => {
            let store = open_store(&db.config(PathBuf::new())).await?;
            let scope = team.clone().or(district.clone()).unwrap_or_default();
            admin::set_user(&*store, &user, role, team, district).await?;
            println!("{user} is now {} {scope}; their devices switch scope at the next sync", role.as_str());
        }
        Command::Export { user, out, storage, from, to, watermark, font, lang } => {
            let config = storage.config();
            if config.s3.is_none() {
                tools::export::check_blobs(&config.blobs).map_err(|e| anyhow::anyhow!(e.message()))?;
            }
            let store = open_store(&config).await?;
            let blobs = xuncha_server::open_blobs(&config).await?;
            let opts = tools::export::ExportOptions { username: user, out, from, to, watermark, font, lang };
            tools::export::run(&*store, &*blobs, &opts, &mut std::io::stdout())
                .await
                .map_err(|e| anyhow::anyhow!(e.message()))?;
        }
        Command::RevokeTokens { db, user } => {
            let store = open_store(&db.config(PathBuf::new())).await?;
            let n = admin::revoke_tokens(&*store, &user).await?;
            println!("revoked {n} active sign-in(s) of {user}; their devices must sign in again");
        }
    }
    Ok(())
}

fn print_summary(s: &seed::SeedSummary, date: chrono::NaiveDate) {
    println!("Demo world seeded for {date}:");
    println!(
        "  {} districts, {} sub-districts, {} teams, {} users, {} findings, {} photos",
        s.districts, s.sub_districts, s.teams, s.users, s.findings, s.photos
    );
    if s.photos_raw > 0 {
        println!("  ({} photos stored unprocessed: the photo ingest refused them)", s.photos_raw);
    }
    let counts: Vec<String> = s.status_counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!("  statuses: {}", counts.join(", "));
    println!("Logins (password for all: {}):", seed::DEMO_PASSWORD);
    for l in s.logins.iter().filter(|l| !l.username.starts_with("inspector") || l.username.ends_with("-1")) {
        println!("  {:<16} {:<16} {:<10} {}", l.username, l.role.as_str(), l.display_name, l.scope);
    }
    println!("  … and inspector1-2 … inspector8-5 (five per team)");
}

/// A new account's password: XUNCHA_NEW_PASSWORD, else the first line of stdin (never a flag: flags are
/// visible to every user of the machine).
fn new_password() -> anyhow::Result<String> {
    let password = match std::env::var("XUNCHA_NEW_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).context("reading the password from stdin")?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    if password.is_empty() {
        bail!("no password: set XUNCHA_NEW_PASSWORD or pipe it on stdin");
    }
    Ok(password)
}
