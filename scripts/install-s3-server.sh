#!/usr/bin/env bash
# Installs s3s-fs, the S3-compatible server the S3 photo-store tests run against
# (crates/xuncha-server/tests/blob_store_s3.rs; docs/blob-store.md). A real S3 server over a directory that
# checks SigV4 signatures, built from crates.io, so nothing binary is committed. Idempotent: skips when the
# pinned version is already on PATH or in ~/.cargo/bin. Takes about 3.5 minutes on 2 cores when it builds.
#
# 0.14.1 is the newest s3s-fs that builds with Rust < 1.96 (0.15+ declare rust-version 1.96). It is a tool,
# built with the machine's toolchain, so it is not bound to the workspace's rust-version.
set -euo pipefail

VERSION=0.14.1
log() { printf '\033[1;34m[s3-server]\033[0m %s\n' "$*"; }

for bin in "$(command -v s3s-fs 2>/dev/null || true)" "$HOME/.cargo/bin/s3s-fs"; do
  if [ -n "$bin" ] && [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -qF " $VERSION"; then
    log "s3s-fs $VERSION: present ($bin)"
    exit 0
  fi
done

if ! command -v cargo >/dev/null 2>&1; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
log "installing s3s-fs $VERSION (cargo install, a few minutes)"
start=$(date +%s)
# --locked: the versions s3s-fs was released with (it warns that one of them, spin, was yanked since; harmless).
cargo install s3s-fs --version "=$VERSION" --features binary --locked --quiet
log "s3s-fs $VERSION installed in $(( $(date +%s) - start )) s: $(command -v s3s-fs || echo "$HOME/.cargo/bin/s3s-fs")"
