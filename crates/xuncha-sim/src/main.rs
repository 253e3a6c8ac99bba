//! `xuncha-sim`: N simulated devices against a running server, then the set check. Prints one line
//! `created N / acked N / on server N / lost N / duplicated N / unexpected N` and exits 1 when lost,
//! duplicated or unexpected (or a device's set differs from the server's) is not 0.

use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "xuncha-sim", about = "Simulated Xuncha devices against a server, with a convergence check")]
struct Cli {
    /// Server base URL, e.g. http://127.0.0.1:8080 (seeded with `xuncha-server seed-demo`).
    #[arg(long)]
    server: String,
    #[arg(long, default_value_t = 4)]
    devices: usize,
    #[arg(long, default_value_t = 20)]
    findings_per_device: usize,
    /// Every K-th finding of a device gets a photo (0: none).
    #[arg(long, default_value_t = 10)]
    photo_every: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The activity phase ends after this many seconds even if not all findings were made.
    #[arg(long, default_value_t = 60)]
    duration_secs: u64,
    /// Folder of real JPEGs to use as camera photos (default: the repository's demo photos, run from its root).
    #[arg(long, default_value = "assets/demo-photos")]
    photos: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let mut cfg = xuncha_sim::SimConfig::new(&cli.server);
    cfg.devices = cli.devices;
    cfg.findings_per_device = cli.findings_per_device;
    cfg.photo_every = cli.photo_every;
    cfg.seed = cli.seed;
    cfg.duration = Duration::from_secs(cli.duration_secs);
    if cli.photo_every > 0 {
        cfg.photos = xuncha_sim::sim::read_photos(&cli.photos).with_context(|| cli.photos.display().to_string())?;
    }
    let work = tempfile::tempdir().context("temp folder for the device stores")?;
    let (report, _devices) = xuncha_sim::sim::run(&cfg, work.path()).await.context("simulation")?;
    println!("{}", report.line());
    eprintln!("seed {} — {report}", cfg.seed);
    for d in report.details.iter().take(50) {
        eprintln!("  {d}");
    }
    if !report.ok() {
        std::process::exit(1);
    }
    Ok(())
}
