//! JPEG decoding by libjpeg-turbo, with shrink-on-load: decoded at 1/8, 1/4 or 1/2 of its size (the
//! smallest whose long edge still reaches the stored copy's 2048 px) by scaling the inverse DCT.
//!
//! Why: decoding a 12-MP photo in full and throwing most of it away in the resize is most of the ingest
//! time, and a 48-MP one in full is 144 MB of RGB. libjpeg-turbo (SIMD, the decoder vipsthumbnail uses)
//! decodes a 12-MP photo in full about 30 % faster than zune-jpeg, and scales a 48-MP one by 1/2 in the
//! IDCT, so the colour conversion, the buffer and the resize that follows shrink too. The Huffman
//! decoding still reads every byte. The build compiles the libjpeg-turbo release vendored in `turbojpeg-sys` (cmake + nasm), as the
//! HEIC decoder does, so phones and servers decode alike.

use crate::decode::Decoded;
use crate::{PhotoError, MAX_PIXELS, MAX_SIDE};
use image::DynamicImage;
use std::io::Cursor;
use turbojpeg::{Colorspace, Decompressor, Image, PixelFormat, ScalingFactor};

/// Scaling factors in eighths, smallest first. Only 1/8, 1/4 and 1/2 have fast (SIMD) reduced IDCTs in
/// libjpeg-turbo; the other eighths take a slow generic path (measured: a 12-MP photo at 6/8 decoded in
/// 30 ms, in full in 20 ms), so they are not used.
const EIGHTHS: [usize; 4] = [1, 2, 4, 8];

/// Decodes `bytes` at the smallest scale whose long edge is still ≥ `min_edge` (full size when the photo
/// is smaller). `None` means "use the ordinary decoder": colour layouts this path does not handle (CMYK),
/// sizes over the limits, and any error (the ordinary decoder names it: truncated, corrupt…).
pub(crate) fn decode_scaled(bytes: &[u8], min_edge: u32) -> Result<Option<Decoded>, PhotoError> {
    let Ok(header) = turbojpeg::read_header(bytes) else {
        return Ok(None);
    };
    let (width, height) = (header.width, header.height);
    let (w32, h32) = (u32::try_from(width).unwrap_or(u32::MAX), u32::try_from(height).unwrap_or(u32::MAX));
    let over_limits = w32 > MAX_SIDE || h32 > MAX_SIDE || u64::from(w32) * u64::from(h32) > MAX_PIXELS;
    let (format, channels) = match header.colorspace {
        Colorspace::YCbCr | Colorspace::RGB => (PixelFormat::RGB, 3),
        Colorspace::Gray => (PixelFormat::GRAY, 1),
        _ => return Ok(None),
    };
    if over_limits || width == 0 || height == 0 || header.is_lossless {
        return Ok(None);
    }
    let long = width.max(height);
    let factor = EIGHTHS
        .iter()
        .map(|&n| ScalingFactor::new(n, 8))
        .find(|f| f.scale(long) >= min_edge as usize)
        .unwrap_or(ScalingFactor::ONE);
    let scaled = header.scaled(factor);
    let (sw, sh) = (scaled.width, scaled.height);
    let mut pixels = vec![0u8; sw * sh * channels];
    let result = (|| {
        let mut d = Decompressor::new()?;
        d.set_scaling_factor(factor)?;
        d.decompress(
            bytes,
            Image { pixels: pixels.as_mut_slice(), width: sw, pitch: sw * channels, height: sh, format },
        )
    })();
    if let Err(e) = result {
        tracing::debug!(error = %e, "libjpeg-turbo could not decode; using the ordinary decoder");
        return Ok(None);
    }
    let (sw32, sh32) = (sw as u32, sh as u32);
    let img = if channels == 1 {
        image::GrayImage::from_raw(sw32, sh32, pixels).map(DynamicImage::ImageLuma8)
    } else {
        image::RgbImage::from_raw(sw32, sh32, pixels).map(DynamicImage::ImageRgb8)
    };
    let Some(img) = img else {
        return Err(PhotoError::Corrupt(format!("scaled decode gave the wrong buffer size for {sw}×{sh}")));
    };
    tracing::debug!(width, height, scaled_width = sw, scaled_height = sh, %factor, "JPEG decoded by libjpeg-turbo");
    Ok(Some(Decoded { img, icc: icc_profile(bytes), source_width: w32, source_height: h32, upright: false }))
}

/// The embedded ICC profile (APP2 chunks, reassembled), read from the header only.
fn icc_profile(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut d = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    d.read_info().ok()?;
    d.icc_profile()
}
