#!/usr/bin/env bash
# Sync server throughput and latency against the raw database, per backend (issue 3's benchmark).
#
#   crates/xuncha-sim/benches/sync-bench.sh                  # full: 10k findings, 500 photos, 1,000 devices, growth 10k vs 1M
#   crates/xuncha-sim/benches/sync-bench.sh --quick          # smoke (CI): 500 findings, 20 photos, 50 devices, growth 1k vs 10k
#   crates/xuncha-sim/benches/sync-bench.sh --out FILE …     # also write the table to FILE; other flags go to the bench
#
# Builds the release binaries, then runs target/release/xuncha-sync-bench, which starts the real
# target/release/xuncha-server once per backend (a SQLite file in a temp folder; a fresh PostgreSQL
# database, created and dropped) and prints one table: measure, backend, ours, limit/peer, ratio,
# target, verdict. PostgreSQL: XUNCHA_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/test) is
# only used to create and drop the bench's own databases; `--backends sqlite` skips it.
# 1,000 devices each hold a connection (and the server one per device): the open-file limit is raised.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "building xuncha-server and xuncha-sync-bench (release)…" >&2
(cd "$ROOT" && cargo build --release --quiet -p xuncha-server -p xuncha-sim --bin xuncha-server --bin xuncha-sync-bench)

exec "$ROOT/target/release/xuncha-sync-bench" --server-bin "$ROOT/target/release/xuncha-server" "$@"
