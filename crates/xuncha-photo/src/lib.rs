//! Photo ingest: camera bytes in; an upright, EXIF-free JPEG of at most 2048 px, a 320-px
//! thumbnail, the EXIF facts a finding uses and the SHA-256 that names the photo out.
//!
//! Pure: no file or network I/O, no clock. The caller reads and writes files; this crate only
//! transforms bytes, so the phone, the desktop and the server all ingest identically.

mod decode;
mod encode;
mod error;
mod exif;
mod orient;
mod sniff;

pub use error::PhotoError;
pub use exif::{ExifGps, PhotoExif};

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

/// Ingests a JPEG, PNG or WebP photo.
pub fn ingest(bytes: &[u8]) -> Result<IngestedPhoto, PhotoError> {
    let _span = tracing::debug_span!("photo.ingest", input_bytes = bytes.len()).entered();
    let t0 = Instant::now();
    let format = check_input(bytes)?;
    let exif = exif::read(bytes);

    let (img, icc) = decode::decode(bytes, format)?;
    let t_decode = t0.elapsed();
    tracing::debug!(width = img.width(), height = img.height(), ?format, ms = ms(t_decode), "decoded");

    // The camera-sized buffer is the biggest allocation: it is dropped here, before encoding.
    let mut stored_img = encode::fit_within(&img, STORED_MAX_EDGE)?.unwrap_or(img);
    orient::upright(&mut stored_img, exif.orientation);
    let t_resize = t0.elapsed();
    tracing::debug!(ms = ms(t_resize - t_decode), "resized and oriented");

    let stored = encode::jpeg(&stored_img, STORED_QUALITY, icc.as_deref())?;
    // From the 2048-px copy, not the original: a quarter to a half of the pixels to filter.
    let thumb_img = encode::fit_within(&stored_img, THUMB_MAX_EDGE)?;
    let thumbnail = encode::jpeg(thumb_img.as_ref().unwrap_or(&stored_img), THUMB_QUALITY, icc.as_deref())?;
    let hash = sha256(&stored);
    tracing::debug!(
        stored_bytes = stored.len(),
        thumb_bytes = thumbnail.len(),
        ms = ms(t0.elapsed() - t_resize),
        total_ms = ms(t0.elapsed()),
        "encoded"
    );
    Ok(IngestedPhoto { width: stored_img.width(), height: stored_img.height(), stored, thumbnail, hash, exif })
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
    let (img, icc) = decode::decode(stored_jpeg, format)?;
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
