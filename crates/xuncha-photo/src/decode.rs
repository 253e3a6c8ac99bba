//! Decoding with bounded memory: the header is read and checked before any pixel is allocated.

use crate::sniff::Format;
use crate::{PhotoError, MAX_PIXELS, MAX_SIDE};
use image::{DynamicImage, ImageDecoder, ImageError, ImageReader, Limits};
use std::io::Cursor;

/// Upper bound for the decoded buffer: 100 MP at 4 bytes a pixel (RGBA8). A 16-bit-per-channel PNG
/// that large is refused too; cameras do not produce one.
const MAX_ALLOC: u64 = MAX_PIXELS * 4;

/// Decoded pixels and what came with them.
pub(crate) struct Decoded {
    /// 8-bit RGB or grey.
    pub img: DynamicImage,
    /// The embedded ICC profile, so colours survive re-encoding (a Display-P3 iPhone photo reads as
    /// washed-out sRGB without it); ICC profiles carry no location or identity.
    pub icc: Option<Vec<u8>>,
    /// Size in the file's header; `img` is smaller when a big JPEG was decoded at reduced scale.
    pub source_width: u32,
    pub source_height: u32,
    /// The decoder already turned the pixels upright (HEIF `irot`/`imir`): EXIF orientation must
    /// not be applied again.
    pub upright: bool,
}

/// Decodes to 8-bit RGB or grey (what JPEG stores), with alpha flattened onto white.
/// With `shrink_to`, a JPEG is decoded by libjpeg-turbo at the smallest eighth of its size (see `shrink`)
/// whose long edge stays ≥ `shrink_to`.
pub(crate) fn decode(bytes: &[u8], format: Format, shrink_to: Option<u32>) -> Result<Decoded, PhotoError> {
    if let (Format::Jpeg, Some(edge)) = (format, shrink_to) {
        if let Some(d) = crate::shrink::decode_scaled(bytes, edge)? {
            return Ok(d);
        }
    }
    #[cfg(feature = "heic")]
    if format == Format::Heic {
        return crate::heic::decode(bytes);
    }
    let Some(image_format) = format.image_format() else {
        return Err(PhotoError::HeicUnsupported);
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
    // Width/height limits are left to our own check below, so the error can say what the size is.
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits.clone());
    let mut decoder = reader.into_decoder().map_err(|e| map_err(e, None))?;

    let (width, height) = decoder.dimensions();
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(PhotoError::DimensionsTooLarge { width, height });
    }
    if width == 0 || height == 0 {
        return Err(PhotoError::Corrupt("zero-sized image".into()));
    }
    if decoder.total_bytes() > MAX_ALLOC {
        return Err(PhotoError::DimensionsTooLarge { width, height });
    }
    // Strict limits as a second line of defence inside the decoder itself.
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    let dims = Some((width, height));
    decoder.set_limits(limits).map_err(|e| map_err(e, dims))?;
    let icc = decoder.icc_profile().ok().flatten();

    let img = DynamicImage::from_decoder(decoder).map_err(|e| map_err(e, dims))?;
    Ok(Decoded { img: to_jpeg_colour(img), icc, source_width: width, source_height: height, upright: false })
}

fn to_jpeg_colour(img: DynamicImage) -> DynamicImage {
    match img {
        DynamicImage::ImageRgb8(_) | DynamicImage::ImageLuma8(_) => img,
        DynamicImage::ImageLuma16(_) => DynamicImage::ImageLuma8(img.to_luma8()),
        i if i.color().has_alpha() => DynamicImage::ImageRgb8(flatten_on_white(&i.to_rgba8())),
        i => DynamicImage::ImageRgb8(i.to_rgb8()),
    }
}

/// Transparent pixels often hold black or junk colour; on paper and in the review queue they should
/// look like the white background a person saw in the original app.
fn flatten_on_white(rgba: &image::RgbaImage) -> image::RgbImage {
    image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let a = u16::from(a);
        let mix = |c: u8| ((u16::from(c) * a + 255 * (255 - a) + 127) / 255) as u8;
        image::Rgb([mix(r), mix(g), mix(b)])
    })
}

/// `dims` is known once the header has been read; a limit hit after that means "too big".
fn map_err(e: ImageError, dims: Option<(u32, u32)>) -> PhotoError {
    match e {
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => PhotoError::Truncated,
        ImageError::Limits(l) => match dims {
            Some((width, height)) => PhotoError::DimensionsTooLarge { width, height },
            // Before the dimensions: a header chunk (e.g. PNG text or ICC) wanted too much memory.
            None => PhotoError::Corrupt(format!("header over memory limit: {l}")),
        },
        ImageError::Unsupported(u) => PhotoError::Corrupt(format!("unsupported variant: {u}")),
        other => {
            let text = other.to_string();
            // The PNG and WebP decoders report a cut-off file as a decoding error mentioning EOF.
            if text.contains("EOF") || text.contains("end of file") || text.contains("UnexpectedEof") {
                PhotoError::Truncated
            } else {
                PhotoError::Corrupt(text)
            }
        }
    }
}
