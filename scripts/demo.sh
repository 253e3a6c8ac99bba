#!/usr/bin/env bash
# The main job: set up, seed a demo server (SQLite, embedded default), start it on 127.0.0.1:8600 and
# open the desktop app signed in to it as a trainee. Ctrl-C stops both. Data lives in .data/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
XUNCHA_SKIP_S3=1 bash scripts/setup.sh

DATA=.data/demo
mkdir -p "$DATA"
cargo build --quiet -p xuncha-server --bin xuncha-server
cargo build --quiet --bin xuncha
SERVER=target/debug/xuncha-server

if [ ! -f "$DATA/server.sqlite3" ]; then
  "$SERVER" seed-demo --db "$DATA/server.sqlite3" --blobs "$DATA/blobs" --demo-photos assets/demo-photos
fi
"$SERVER" serve --db "$DATA/server.sqlite3" --blobs "$DATA/blobs" --listen 127.0.0.1:8600 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT

# Without a display (a server over SSH) run the app under a virtual one.
run_app() {
  XUNCHA_DATA_DIR="$DATA/app" XUNCHA_SERVER_URL="http://127.0.0.1:8600" \
  XUNCHA_AUTOLOGIN="${XUNCHA_DEMO_USER:-inspector1-1}:xuncha2026" target/debug/xuncha
}
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then run_app; else xvfb-run -a -s "-screen 0 1280x900x24" bash -c "$(declare -f run_app); run_app"; fi
