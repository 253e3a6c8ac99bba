//! Shrink-on-load: a big JPEG decoded at 1/2, 1/4 or 1/8 of its size by scaling the inverse DCT.
//!
//! Why: a 48-MP phone photo decoded in full is 144 MB of RGB and most of the ingest time, only to be
//! thrown away by the resize to 2048 px. A scaled IDCT skips that work and that memory (libjpeg's
//! `scale_denom`, what vipsthumbnail does too). The Huffman decoding still reads every byte, so the
//! gain is in the IDCT, the colour conversion, the buffer and the resize that follows.

use crate::decode::Decoded;
use crate::{PhotoError, MAX_PIXELS, MAX_SIDE};
use image::DynamicImage;
use jpeg_decoder::{Decoder, PixelFormat};
use std::io::Cursor;

/// Decodes `bytes` at the smallest DCT scale whose long edge is still ≥ `min_edge`, when the JPEG is
/// at least twice that size. `None` means "use the ordinary decoder": small photos, colour layouts
/// this path does not handle (CMYK, 16-bit), sizes over the limits (the ordinary path reports them)
/// and features jpeg-decoder lacks.
pub(crate) fn decode_scaled(bytes: &[u8], min_edge: u32) -> Result<Option<Decoded>, PhotoError> {
    let mut decoder = Decoder::new(Cursor::new(bytes));
    if decoder.read_info().is_err() {
        // The ordinary decoder gives the precise error (truncated, corrupt, …).
        return Ok(None);
    }
    let Some(info) = decoder.info() else { return Ok(None) };
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    let over_limits = width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS;
    let usable = matches!(info.pixel_format, PixelFormat::RGB24 | PixelFormat::L8);
    if over_limits || !usable || width.max(height) < 2 * min_edge || width == 0 || height == 0 {
        return Ok(None);
    }
    // jpeg-decoder picks the smallest of 1/8, 1/4, 1/2, 1 that reaches the request in at least one
    // axis; asking for a square of min_edge therefore keeps the long edge ≥ min_edge.
    let edge = u16::try_from(min_edge).unwrap_or(u16::MAX);
    let (sw, sh) = match decoder.scale(edge, edge) {
        Ok(s) => s,
        Err(e) => return fallback(e),
    };
    // Both limits hold for the full-size image, so this is an upper bound, not a new limit.
    decoder.set_max_decoding_buffer_size(usize::try_from(MAX_PIXELS * 4).unwrap_or(usize::MAX));
    let icc = decoder.icc_profile();
    let pixels = match decoder.decode() {
        Ok(p) => p,
        Err(e) => return fallback(e),
    };
    let (sw, sh) = (u32::from(sw), u32::from(sh));
    let img = match info.pixel_format {
        PixelFormat::L8 => image::GrayImage::from_raw(sw, sh, pixels).map(DynamicImage::ImageLuma8),
        _ => image::RgbImage::from_raw(sw, sh, pixels).map(DynamicImage::ImageRgb8),
    };
    let Some(img) = img else {
        return Err(PhotoError::Corrupt(format!("scaled decode gave the wrong buffer size for {sw}×{sh}")));
    };
    tracing::debug!(width, height, scaled_width = sw, scaled_height = sh, "JPEG decoded with DCT scaling");
    Ok(Some(Decoded { img, icc, source_width: width, source_height: height, upright: false }))
}

/// Any failure here goes to the ordinary decoder: zune-jpeg is more lenient with damaged files that
/// cameras and editors really produce, and it names the error (truncated, corrupt) the user sees.
/// A bad big file costs a second attempt; a good one is never refused by this path alone.
fn fallback(e: jpeg_decoder::Error) -> Result<Option<Decoded>, PhotoError> {
    tracing::debug!(error = %e, "scaled JPEG decode failed; using the ordinary decoder");
    Ok(None)
}
