#!/usr/bin/env bash
# Installs everything Xuncha needs on Debian 12 and builds the UI. Idempotent: a second run on a ready
# machine checks and returns in seconds. Used by scripts/demo.sh, scripts/test.sh and CI.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

# --- System packages --------------------------------------------------------------------------------
# Build: WebKitGTK and friends for Tauri. Test: Xvfb + WebKitWebDriver (real app), Chromium (second engine),
# CJK fonts so Chinese renders in screenshots, pkg-config/cmake/clang for -sys crates.
PACKAGES=(
  build-essential pkg-config curl ca-certificates cmake
  libwebkit2gtk-4.1-dev libsoup-3.0-dev libgtk-3-dev librsvg2-dev libssl-dev libayatana-appindicator3-dev
  libheif-dev libde265-dev libnuma-dev nasm
  xvfb webkit2gtk-driver chromium fonts-noto-cjk
  libvips-tools imagemagick time
  postgresql-client
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  log "installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "system packages: all present"
fi

# --- PostgreSQL -------------------------------------------------------------------------------------
# The conformance suite and the two-server test need a PostgreSQL at 127.0.0.1:5432 with trust auth and a
# database `test`. Use the one that answers; else install Debian's, allow trust on loopback (test machines
# only) and start it (no systemd in containers, so pg_ctlcluster).
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  if ! dpkg -s postgresql >/dev/null 2>&1; then
    log "installing PostgreSQL"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  fi
  version=$(ls /etc/postgresql | sort -n | tail -1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  if ! $SUDO grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    $SUDO sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  fi
  log "starting PostgreSQL $version"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main restart || $SUDO pg_ctlcluster "$version" main restart
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -qc 'CREATE DATABASE test'

# --- Rust and Node ----------------------------------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    log "installing Rust with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi
if ! command -v node >/dev/null 2>&1 || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "Node.js 20 or newer is required (https://nodejs.org or Debian's nodejs from backports)." >&2
  exit 1
fi

# --- tauri-driver (drives the real app window in end-to-end tests) ----------------------------------
if ! command -v tauri-driver >/dev/null 2>&1; then
  log "installing tauri-driver"
  cargo install tauri-driver --version '^2' --locked --quiet
fi

# --- s3s-fs (a real S3-compatible server for the S3 photo-store tests; the demo does not need it) -----
if [ "${XUNCHA_SKIP_S3:-0}" != 1 ]; then
  bash scripts/install-s3-server.sh
fi

# --- UI ---------------------------------------------------------------------------------------------
# `npm ci` only when the lockfile changed since the last install (it wipes node_modules otherwise).
stamp=ui/node_modules/.xuncha-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s ui/package-lock.json "$stamp"; then
  log "installing UI packages (npm ci)"
  (cd ui && npm ci --no-audit --no-fund --loglevel=error)
  cp ui/package-lock.json "$stamp"
fi
log "building the UI"
(cd ui && npm run --silent build >/dev/null)
log "ready"
