#!/usr/bin/env bash
# Every test: set up, then the UI's unit tests, the UI in Chromium, smoke runs of the photo and sync benchmarks,
# and the whole Rust workspace — domain, store, photo fixtures, the server as a process on SQLite and
# PostgreSQL, two devices syncing through it, the fault/crash simulations, and the real Tauri app under
# Xvfb driven through tauri-driver. Screenshots land in target/e2e-screenshots/ and
# target/ui-screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== UI unit tests (vitest)"
(cd ui && npm run --silent check && npm test --silent)
echo "== UI in Chromium (playwright-core)"
(cd ui && npm run --silent test:e2e)

echo "== Photo benchmark, smoke run (the full run: crates/xuncha-photo/benches/photo-bench.sh)"
bash crates/xuncha-photo/benches/photo-bench.sh --smoke

echo "== Sync benchmark, smoke run (the full run: crates/xuncha-sim/benches/sync-bench.sh)"
bash crates/xuncha-sim/benches/sync-bench.sh --quick

echo "== Rust workspace"
# The end-to-end test runs the server binary built here.
cargo build --quiet -p xuncha-server --bin xuncha-server
cargo test --workspace --no-fail-fast 2>&1 | tee target/cargo-test.log
