//! Times `ingest` on one file: `cargo run --release -p xuncha-photo --example ingest_timing -- PATH [RUNS]`.
//! Reports the median of RUNS (default 10) after one warm-up, plus the output sizes.

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: ingest_timing PATH [RUNS]");
    let runs: usize = args.next().map_or(10, |s| s.parse().expect("RUNS is a number"));
    let bytes = std::fs::read(&path).expect("read input");
    // RUST_LOG=xuncha_photo=debug shows the per-stage timings of each run.
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let first = xuncha_photo::ingest(&bytes).expect("ingest");
    // INGEST_OUT=dir writes stored.jpg and thumb.jpg there, to look at them.
    if let Ok(dir) = std::env::var("INGEST_OUT") {
        std::fs::write(format!("{dir}/stored.jpg"), &first.stored).expect("write stored");
        std::fs::write(format!("{dir}/thumb.jpg"), &first.thumbnail).expect("write thumb");
    }
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let p = xuncha_photo::ingest(&bytes).expect("ingest");
            std::hint::black_box(p);
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "{path}: {} bytes in; stored {}x{} {} bytes; thumbnail {} bytes; median {:.1} ms (min {:.1}, max {:.1}, {runs} runs)",
        bytes.len(),
        first.width,
        first.height,
        first.stored.len(),
        first.thumbnail.len(),
        times[runs / 2],
        times[0],
        times[runs - 1]
    );
}
