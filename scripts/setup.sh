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
  build-essential pkg-config curl ca-certificates
  libwebkit2gtk-4.1-dev libsoup-3.0-dev libgtk-3-dev librsvg2-dev libssl-dev libayatana-appindicator3-dev
  xvfb webkit2gtk-driver chromium fonts-noto-cjk
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
