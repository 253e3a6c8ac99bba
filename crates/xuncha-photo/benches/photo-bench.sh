#!/usr/bin/env bash
# Photo ingest against vipsthumbnail and ImageMagick, on the 12-MP fixture and a synthetic 48-MP JPEG.
#
#   crates/xuncha-photo/benches/photo-bench.sh            # 7 runs each, prints a markdown table
#   crates/xuncha-photo/benches/photo-bench.sh --runs 15
#   crates/xuncha-photo/benches/photo-bench.sh --smoke    # 1 run each (CI: proves the bench still works)
#
# Every contender makes the same two files from the input: the stored copy (long edge ≤ 2048, JPEG
# q72, 4:2:0, metadata stripped, upright) and a 320-px thumbnail (q75). Each is one process tree
# timed from outside (wall clock around it; peak RSS from /usr/bin/time %M, the largest of its
# processes), so start-up and file I/O count for all of them alike:
#   xuncha   target/release/examples/ingest_once IN STORED THUMB (built once, before timing)
#   vips     vipsthumbnail twice, on the original each time: -s 2048 and -s 320 (vips' own way of making
#            two sizes; each run uses its JPEG shrink-on-load, and vips auto-rotates by default)
#   magick   one `convert` run that decodes once, writes the 2048 copy and resizes that to 320
#            (the way we do it; default settings, so no jpeg:size shrink-on-load hint)
# Each tool uses its default threading (vips: all cores; ours: jpeg-decoder's rayon for big JPEGs).
# Also measured: our peak RSS on a decompression bomb (PNG header claiming 30000×30000) and a
# truncated JPEG, which must be refused in < 256 MiB.
set -euo pipefail

RUNS=7
while [[ $# -gt 0 ]]; do
  case "$1" in
    --smoke) RUNS=1 ;;
    --runs) RUNS="$2"; shift ;;
    *) echo "unknown argument $1" >&2; exit 64 ;;
  esac
  shift
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
FIXTURES=${XUNCHA_FIXTURES:-$ROOT/../shared/fixtures/photos}
OUT=$ROOT/target/bench
mkdir -p "$OUT/out"

need=()
command -v vipsthumbnail >/dev/null || need+=(libvips-tools)
command -v convert >/dev/null || need+=(imagemagick)
[[ -x /usr/bin/time ]] || need+=(time)
for pkg in libvips-tools imagemagick time; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [[ ${#need[@]} -gt 0 ]]; then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  echo "installing ${need[*]}" >&2
  $SUDO apt-get install -y "${need[@]}" >&2
fi

echo "building ingest_once (release)…" >&2
(cd "$ROOT" && cargo build --release --quiet -p xuncha-photo --example ingest_once)
OURS=$ROOT/target/release/examples/ingest_once

# The 48-MP input, made once: a colour gradient with Gaussian noise compresses like a photo (a flat
# image would be decoded unrealistically fast).
BIG=$OUT/synthetic_48mp.jpg
if [[ ! -s $BIG ]]; then
  echo "making $BIG (once)…" >&2
  convert -size 8000x6000 gradient:'#35506e-#d8c08a' -attenuate 0.5 +noise Gaussian \
    -sampling-factor 4:2:0 -quality 90 "$BIG"
fi
# A decompression bomb's shape: a valid PNG header claiming 30000×30000 RGB pixels, tiny data.
BOMB=$OUT/bomb_30000x30000.png
if [[ ! -s $BOMB ]]; then
  python3 - "$BOMB" <<'PY'
import struct, sys, zlib
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY
fi
TRUNC=$OUT/truncated_iphone.jpg
if [[ ! -s $TRUNC ]]; then
  src="$FIXTURES/iphone_12mp.jpg"
  head -c $(( $(stat -c %s "$src") / 2 )) "$src" > "$TRUNC"
fi

# run_tool TOOL IN -> prints "WALL_MS RSS_KIB EXIT"
run_tool() {
  local tool=$1 in=$2 s="$OUT/out/$1_stored.jpg" t="$OUT/out/$1_thumb.jpg"
  local cmd
  case $tool in
    xuncha) cmd=("$OURS" "$in" "$s" "$t") ;;
    vips) cmd=(bash -c 'vipsthumbnail "$1" -s 2048 -o "$2[Q=72,strip,subsample-mode=on]" && vipsthumbnail "$1" -s 320 -o "$3[Q=75,strip]"' _ "$in" "$s" "$t") ;;
    magick) cmd=(convert "$in" -auto-orient -resize '2048x2048>' -strip -quality 72 -sampling-factor 4:2:0 \
                   -write "$s" -resize '320x320>' -quality 75 "$t") ;;
  esac
  local start end rc=0
  start=$(date +%s%N)
  /usr/bin/time -f %M -o "$OUT/rss" "${cmd[@]}" >/dev/null 2>"$OUT/err" || rc=$?
  end=$(date +%s%N)
  echo "$(( (end - start) / 1000000 )) $(tail -n1 "$OUT/rss") $rc"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# measure TOOL IN -> sets MED_MS MED_KIB RC
measure() {
  local times=() rss=() r
  for ((i = 0; i < RUNS; i++)); do
    read -r ms kib r < <(run_tool "$1" "$2")
    times+=("$ms"); rss+=("$kib"); RC=$r
  done
  MED_MS=$(printf '%s\n' "${times[@]}" | median)
  MED_KIB=$(printf '%s\n' "${rss[@]}" | median)
}

mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f×", a / b; else print "–"}'; }
size_of() { [[ -s $1 ]] && stat -c %s "$1" || echo "–"; }
dims() { [[ -s $1 ]] && identify -format '%wx%h' "$1" 2>/dev/null || echo "–"; }

echo "| input | tool | median wall ms | peak RSS MiB | wall vs vips | RSS vs vips | stored | stored bytes | thumb bytes |"
echo "|---|---|---:|---:|---:|---:|---|---:|---:|"
for input in "$FIXTURES/iphone_12mp.jpg" "$BIG"; do
  name=$(basename "$input"); dim=$(identify -format '%wx%h' "$input")
  # vips first: its medians are the baseline of the ratios, its own row included (1.00×).
  for tool in vips xuncha magick; do
    rm -f "$OUT/out/${tool}_stored.jpg" "$OUT/out/${tool}_thumb.jpg"
    measure "$tool" "$input"
    [[ $tool == vips ]] && { VIPS_MS=$MED_MS; VIPS_KIB=$MED_KIB; }
    [[ $RC -eq 0 ]] || { echo "$tool failed on $name: $(cat "$OUT/err")" >&2; exit 1; }
    echo "| $name ($dim) | $tool | $MED_MS | $(mib "$MED_KIB") | $(ratio "$MED_MS" "$VIPS_MS") | $(ratio "$MED_KIB" "$VIPS_KIB") | $(dims "$OUT/out/${tool}_stored.jpg") | $(size_of "$OUT/out/${tool}_stored.jpg") | $(size_of "$OUT/out/${tool}_thumb.jpg") |"
  done
done
for input in "$BOMB" "$TRUNC"; do
  measure xuncha "$input"
  kib=$MED_KIB
  verdict="refused: $(tail -n1 "$OUT/err")"
  [[ $RC -eq 2 ]] || verdict="NOT REFUSED (exit $RC)"
  [[ $kib -lt $((256 * 1024)) ]] || verdict="$verdict; OVER 256 MiB"
  echo "| $(basename "$input") | xuncha | $MED_MS | $(mib "$kib") | | | $verdict | | |"
done
echo
echo "Targets: xuncha wall ≤ 0.5× vipsthumbnail, peak RSS ≤ 1.5× vipsthumbnail; bad inputs < 256 MiB. Runs per cell: $RUNS (median). $(nproc) cores."
