//! Downscaling and JPEG encoding of the stored photo and its thumbnail.

use crate::PhotoError;
use fast_image_resize::{images::Image, images::ImageRef, FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::DynamicImage;

/// Scales so the long edge is at most `max_edge`; never upscales: `None` means the image already
/// fits, so the caller uses it as is instead of copying it. Input is Rgb8 or Luma8 (see `decode`).
pub(crate) fn fit_within(img: &DynamicImage, max_edge: u32) -> Result<Option<DynamicImage>, PhotoError> {
    let (w, h) = (img.width(), img.height());
    let long = w.max(h);
    if long <= max_edge {
        return Ok(None);
    }
    let scale = f64::from(max_edge) / f64::from(long);
    let nw = ((f64::from(w) * scale).round() as u32).clamp(1, max_edge);
    let nh = ((f64::from(h) * scale).round() as u32).clamp(1, max_edge);
    let pixel_type = match img {
        DynamicImage::ImageRgb8(_) => PixelType::U8x3,
        DynamicImage::ImageLuma8(_) => PixelType::U8,
        other => return Err(PhotoError::Encode(format!("unexpected pixel layout {:?}", other.color()))),
    };
    let src = ImageRef::new(w, h, img.as_bytes(), pixel_type).map_err(|e| PhotoError::Encode(e.to_string()))?;
    let mut dst = Image::new(nw, nh, pixel_type);
    // Catmull-Rom: sharp enough that sign text stays legible, without Lanczos' ringing around it.
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::CatmullRom));
    Resizer::new().resize(&src, &mut dst, &options).map_err(|e| PhotoError::Encode(e.to_string()))?;
    let buf = dst.into_vec();
    let out = match pixel_type {
        PixelType::U8 => image::GrayImage::from_raw(nw, nh, buf).map(DynamicImage::ImageLuma8),
        _ => image::RgbImage::from_raw(nw, nh, buf).map(DynamicImage::ImageRgb8),
    };
    out.map(Some).ok_or_else(|| PhotoError::Encode("resized buffer has the wrong size".into()))
}

/// Baseline JPEG (4:2:0 below quality 90), JFIF header, no EXIF. The ICC profile (colour only)
/// is kept when given.
pub(crate) fn jpeg(img: &DynamicImage, quality: u8, icc: Option<&[u8]>) -> Result<Vec<u8>, PhotoError> {
    let err = |e: jpeg_encoder::EncodingError| PhotoError::Encode(e.to_string());
    let (w, h) = (img.width(), img.height());
    let (w16, h16) = (u16::try_from(w), u16::try_from(h));
    let (Ok(w16), Ok(h16)) = (w16, h16) else {
        return Err(PhotoError::Encode(format!("{w}×{h} is too large for JPEG")));
    };
    let color = match img {
        DynamicImage::ImageRgb8(_) => jpeg_encoder::ColorType::Rgb,
        DynamicImage::ImageLuma8(_) => jpeg_encoder::ColorType::Luma,
        other => return Err(PhotoError::Encode(format!("unexpected pixel layout {:?}", other.color()))),
    };
    let mut out = Vec::with_capacity((w as usize * h as usize) / 8);
    let mut enc = jpeg_encoder::Encoder::new(&mut out, quality);
    enc.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    // Standard Huffman tables, not optimised ones: jpeg-encoder 0.7.1's optimised tables decode
    // to wrong colours in zune-jpeg 0.5 (the decoder behind `image`, used by `thumbnail` on a
    // team leader's device), though libjpeg reads them; they saved only ~1 % here anyway.
    // tests/output.rs checks our JPEGs through zune-jpeg.
    enc.set_optimized_huffman_tables(false);
    if let Some(icc) = icc {
        // A profile that does not fit is dropped: colours shift slightly, the photo survives.
        if let Err(e) = enc.add_icc_profile(icc) {
            tracing::warn!(error = %e, "ICC profile not embedded");
        }
    }
    enc.encode(img.as_bytes(), w16, h16, color).map_err(err)?;
    Ok(out)
}
