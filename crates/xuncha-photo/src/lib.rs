//! Photo ingest: camera bytes in; an upright, EXIF-free JPEG of at most 2048 px, a 320-px
//! thumbnail, the EXIF facts a finding uses and the SHA-256 that names the photo out.
//!
//! Pure: no file or network I/O, no clock. The caller reads and writes files; this crate only
//! transforms bytes, so the phone, the desktop and the server all ingest identically. (Exported
//! copies can carry a watermark, [`watermark()`]; its font search is handed the caller's file reader.)

mod decode;
mod encode;
mod error;
mod exif;
#[cfg(feature = "heic")]
mod heic;
mod orient;
mod shrink;
mod sniff;
mod watermark;

pub use error::PhotoError;
pub use exif::{ExifGps, PhotoExif};
pub use watermark::{watermark, FontSource, SYSTEM_FONT_PATHS};

use sha2::{Digest, Sha256};
use std::time::Instant;
use xuncha_domain::PhotoHash;

/// Largest input accepted. Camera JPEGs are 3–12 MB; 40 MiB leaves room for 50-MP phones.
pub const MAX_FILE_BYTES: usize = 40 * 1024 * 1024;
/// Longest side accepted, checked from the header before decoding.
pub const MAX_SIDE: u32 = 20_000;
/// Most pixels accepted (100 megapixels), checked from the header before decoding.
pub const MAX_PIXELS: u64 = 100_000_000;
/// Long edge of the stored photo: legible sign text, about 300 KB.
pub const STORED_MAX_EDGE: u32 = 2048;
/// Long edge of the thumbnail shown in lists and the review queue.
pub const THUMB_MAX_EDGE: u32 = 320;
/// JPEG quality of the stored photo (see the crate tests for the size it gives on a 12-MP photo).
pub const STORED_QUALITY: u8 = 72;
/// Thumbnails are small on screen; artefacts there cost nothing, bytes on mobile data do.
pub const THUMB_QUALITY: u8 = 75;

/// The result of ingesting one photo.
#[derive(Debug, Clone)]
pub struct IngestedPhoto {
    /// Upright baseline JPEG, long edge ≤ 2048, no EXIF.
    pub stored: Vec<u8>,
    /// JPEG, long edge ≤ 320, made from `stored`'s pixels.
    pub thumbnail: Vec<u8>,
    /// SHA-256 of `stored`: the photo's name everywhere.
    pub hash: PhotoHash,
    /// Of `stored`.
    pub width: u32,
    /// Of `stored`.
    pub height: u32,
    pub exif: PhotoExif,
}

/// How one ingest went: what the bytes were and where the time went (for `photo-info` and the bench).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IngestStats {
    /// "JPEG", "PNG", "WebP", …, from the magic numbers.
    pub format: &'static str,
    /// Size in the file's header (before orientation).
    pub source_width: u32,
    pub source_height: u32,
    /// Size the decoder produced: smaller than the source when a big JPEG was decoded at reduced scale.
    pub decoded_width: u32,
    pub decoded_height: u32,
    /// Header checks, EXIF and decoding.
    pub decode_ms: f64,
    /// Downscale to 2048 px and orientation.
    pub resize_ms: f64,
    /// Stored JPEG, thumbnail and hash.
    pub encode_ms: f64,
    pub total_ms: f64,
}

/// Ingests a JPEG, PNG, WebP or (with the default `heic` feature) HEIC/HEIF photo.
pub fn ingest(bytes: &[u8]) -> Result<IngestedPhoto, PhotoError> {
    ingest_with_stats(bytes).map(|(p, _)| p)
}

/// [`ingest`], also saying what the input was and how long each stage took.
pub fn ingest_with_stats(bytes: &[u8]) -> Result<(IngestedPhoto, IngestStats), PhotoError> {
    let _span = tracing::debug_span!("photo.ingest", input_bytes = bytes.len()).entered();
    let t0 = Instant::now();
    let format = check_input(bytes)?;
    let exif = exif::read(bytes);

    let decoded = decode::decode(bytes, format, Some(STORED_MAX_EDGE))?;
    let (source_width, source_height) = (decoded.source_width, decoded.source_height);
    let already_upright = decoded.upright;
    let (img, icc) = (decoded.img, decoded.icc);
    let (decoded_width, decoded_height) = (img.width(), img.height());
    let t_decode = t0.elapsed();
    tracing::debug!(width = img.width(), height = img.height(), ?format, ms = ms(t_decode), "decoded");

    // The camera-sized buffer is the biggest allocation: it is dropped here, before encoding.
    let mut stored_img = encode::fit_within(&img, STORED_MAX_EDGE)?.unwrap_or(img);
    if !already_upright {
        orient::upright(&mut stored_img, exif.orientation);
    }
    let t_resize = t0.elapsed();
    tracing::debug!(ms = ms(t_resize - t_decode), "resized and oriented");

    let stored = encode::jpeg(&stored_img, STORED_QUALITY, icc.as_deref())?;
    // From the 2048-px copy, not the original: a quarter to a half of the pixels to filter.
    let thumb_img = encode::fit_within(&stored_img, THUMB_MAX_EDGE)?;
    let thumbnail = encode::jpeg(thumb_img.as_ref().unwrap_or(&stored_img), THUMB_QUALITY, icc.as_deref())?;
    let hash = sha256(&stored);
    let total = t0.elapsed();
    tracing::debug!(
        stored_bytes = stored.len(),
        thumb_bytes = thumbnail.len(),
        ms = ms(total - t_resize),
        total_ms = ms(total),
        "encoded"
    );
    let stats = IngestStats {
        format: format.name(),
        source_width,
        source_height,
        decoded_width,
        decoded_height,
        decode_ms: ms(t_decode),
        resize_ms: ms(t_resize - t_decode),
        encode_ms: ms(total - t_resize),
        total_ms: ms(total),
    };
    let photo = IngestedPhoto { width: stored_img.width(), height: stored_img.height(), stored, thumbnail, hash, exif };
    Ok((photo, stats))
}

/// What the bytes look like ("JPEG", "HEIC", "PDF", …) from their magic numbers, or `None` if
/// unknown. For reports about files that failed, where [`IngestStats`] does not exist.
pub fn format_name(bytes: &[u8]) -> Option<&'static str> {
    match sniff::detect(bytes) {
        Ok(f) => Some(f.name()),
        Err(PhotoError::HeicUnsupported) => Some("HEIC"),
        Err(PhotoError::UnsupportedFormat { kind }) => kind,
        Err(_) => None,
    }
}

/// A 320-px thumbnail from an already stored JPEG (a team leader's device makes thumbnails of
/// photos it downloads). Honours an EXIF orientation if one is present, though stored JPEGs have none.
pub fn thumbnail(stored_jpeg: &[u8]) -> Result<Vec<u8>, PhotoError> {
    let _span = tracing::debug_span!("photo.thumbnail", input_bytes = stored_jpeg.len()).entered();
    let t0 = Instant::now();
    let format = check_input(stored_jpeg)?;
    if format != sniff::Format::Jpeg {
        return Err(PhotoError::UnsupportedFormat { kind: Some(format.name()) });
    }
    let decode::Decoded { img, icc, .. } = decode::decode(stored_jpeg, format, None)?;
    let mut small = encode::fit_within(&img, THUMB_MAX_EDGE)?.unwrap_or(img);
    orient::upright(&mut small, exif::read(stored_jpeg).orientation);
    let out = encode::jpeg(&small, THUMB_QUALITY, icc.as_deref())?;
    tracing::debug!(thumb_bytes = out.len(), ms = ms(t0.elapsed()), "thumbnail made");
    Ok(out)
}

/// SHA-256 of bytes, as the photo's name.
pub fn sha256(bytes: &[u8]) -> PhotoHash {
    PhotoHash::from_bytes(Sha256::digest(bytes).into())
}

/// The checks that need no decoding, cheapest first.
fn check_input(bytes: &[u8]) -> Result<sniff::Format, PhotoError> {
    if bytes.is_empty() {
        return Err(PhotoError::Empty);
    }
    if bytes.len() > MAX_FILE_BYTES {
        return Err(PhotoError::FileTooLarge { size: bytes.len(), limit: MAX_FILE_BYTES });
    }
    let format = sniff::detect(bytes)?;
    if format == sniff::Format::Jpeg && !sniff::jpeg_is_complete(bytes) {
        return Err(PhotoError::Truncated);
    }
    Ok(format)
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
