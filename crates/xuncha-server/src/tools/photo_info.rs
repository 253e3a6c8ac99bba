//! `xuncha-server photo-info FILE…`: ingests each file exactly as a phone would and prints one JSON
//! line per file — the EXIF facts, the output sizes, the hash and the time of each stage — so an
//! administrator can see why a photo was refused and what a device will do with it.

use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::time::Instant;
use xuncha_domain::UserMessage;

/// Why a file could not be read at all (before the ingest sees any byte).
pub fn read_failed(path: &Path, e: &std::io::Error) -> UserMessage {
    UserMessage::new(
        "photo.read_failed",
        format!("无法读取文件 {}：{e}", path.display()),
        format!("Cannot read the file {}: {e}", path.display()),
    )
}

/// The report line of one file; `ok` is false when the file cannot become a stored photo.
pub fn report(path: &Path) -> Value {
    let t0 = Instant::now();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return failed(path, None, read_failed(path, &e), t0),
    };
    let read_ms = ms(t0);
    match xuncha_photo::ingest_with_stats(&bytes) {
        Ok((p, s)) => json!({
            "file": path.display().to_string(),
            "ok": true,
            "format": s.format,
            "gps": p.exif.gps,
            "taken_at": p.exif.taken_at,
            "orientation": p.exif.orientation,
            "make": p.exif.make,
            "model": p.exif.model,
            "source_width": s.source_width,
            "source_height": s.source_height,
            "decoded_width": s.decoded_width,
            "decoded_height": s.decoded_height,
            "width": p.width,
            "height": p.height,
            "input_bytes": bytes.len(),
            "stored_bytes": p.stored.len(),
            "thumb_bytes": p.thumbnail.len(),
            "hash": p.hash.to_hex(),
            "ms": {
                "total": ms(t0),
                "read": read_ms,
                "decode": s.decode_ms,
                "resize": s.resize_ms,
                "encode": s.encode_ms,
            },
        }),
        Err(e) => {
            tracing::debug!(file = %path.display(), error = %e, "photo refused");
            failed(path, xuncha_photo::format_name(&bytes), e.user_message(), t0)
        }
    }
}

fn failed(path: &Path, format: Option<&str>, m: UserMessage, t0: Instant) -> Value {
    json!({
        "file": path.display().to_string(),
        "ok": false,
        "error": { "code": m.code, "zh": m.zh, "en": m.en },
        "format": format,
        "ms": { "total": ms(t0) },
    })
}

/// Prints one line per file to `out`, in the order given; true when every file was ok.
pub fn run(files: &[std::path::PathBuf], out: &mut impl Write) -> std::io::Result<bool> {
    let mut all_ok = true;
    for f in files {
        let line = report(f);
        all_ok &= line["ok"] == Value::Bool(true);
        writeln!(out, "{line}")?;
        // A script reading the lines sees each file as soon as it is done.
        out.flush()?;
    }
    Ok(all_ok)
}

fn ms(t0: Instant) -> f64 {
    // Two decimals are plenty for a person and keep the lines short.
    (t0.elapsed().as_secs_f64() * 100_000.0).round() / 100.0
}
