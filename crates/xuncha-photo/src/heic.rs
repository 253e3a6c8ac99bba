//! HEIC/HEIF, the iPhone's default format (and many Androids'), decoded with libheif.
//!
//! The EXIF facts come from the same `exif::read` as for JPEG (kamadak-exif reads the HEIF container).
//! Orientation is the subtle part: libheif applies the container's `irot`/`imir` transforms while
//! decoding, and a HEIF writer that sets them (Apple's) may leave the same turn in EXIF too; turning
//! again by EXIF would rotate the photo twice. So EXIF orientation is applied only to a file without
//! those transforms (older `heif-enc` copies a JPEG's EXIF orientation and keeps its pixels sideways).

use crate::decode::Decoded;
use crate::{PhotoError, MAX_PIXELS, MAX_SIDE};
use image::DynamicImage;
use libheif_rs::{ColorSpace, HeifContext, LibHeif, RgbChroma};

pub(crate) fn decode(bytes: &[u8]) -> Result<Decoded, PhotoError> {
    let err = |e: libheif_rs::HeifError| PhotoError::HeicDecode(e.to_string());
    let lib = LibHeif::new();
    let ctx = HeifContext::read_from_bytes(bytes).map_err(err)?;
    let handle = ctx.primary_image_handle().map_err(err)?;
    // Size after the container's transforms, read before any pixel is allocated.
    let (width, height) = (handle.width(), handle.height());
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(PhotoError::DimensionsTooLarge { width, height });
    }
    if width == 0 || height == 0 {
        return Err(PhotoError::HeicDecode("zero-sized image".into()));
    }
    let icc = handle.color_profile_raw().map(|p| p.data).filter(|d| !d.is_empty());
    // 8-bit interleaved RGB whatever the file's depth (iPhones write 8 bits, some Androids 10).
    let image = lib.decode(&handle, ColorSpace::Rgb(RgbChroma::Rgb), None).map_err(err)?;
    let plane = image.planes().interleaved.ok_or_else(|| PhotoError::HeicDecode("no interleaved plane".into()))?;
    let (w, h) = (plane.width, plane.height);
    let row = w as usize * 3;
    let mut rgb = Vec::with_capacity(row * h as usize);
    for y in 0..h as usize {
        let start = y * plane.stride;
        let line = plane
            .data
            .get(start..start + row)
            .ok_or_else(|| PhotoError::HeicDecode("decoded plane shorter than its size".into()))?;
        rgb.extend_from_slice(line);
    }
    let img = image::RgbImage::from_raw(w, h, rgb)
        .ok_or_else(|| PhotoError::HeicDecode("decoded buffer has the wrong size".into()))?;
    Ok(Decoded {
        img: DynamicImage::ImageRgb8(img),
        icc,
        source_width: width,
        source_height: height,
        upright: has_transform_property(bytes),
    })
}

/// Whether the file's `meta` box holds an `irot` or `imir` property, i.e. libheif turned the pixels.
/// Both are 9-byte boxes (size 9, fourcc, one byte); looking only inside `meta` keeps image data from
/// matching by chance.
fn has_transform_property(bytes: &[u8]) -> bool {
    let Some(meta) = top_level_box(bytes, b"meta") else { return false };
    meta.windows(8).any(|w| w[..4] == [0, 0, 0, 9] && (&w[4..] == b"irot" || &w[4..] == b"imir"))
}

/// The content of the first top-level ISO-BMFF box of type `kind`.
fn top_level_box<'a>(bytes: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    let mut i = 0usize;
    while i + 8 <= bytes.len() {
        let size32 = u32::from_be_bytes(bytes[i..i + 4].try_into().ok()?) as usize;
        let (header, size) = match size32 {
            0 => (8, bytes.len() - i),
            1 => (16, usize::try_from(u64::from_be_bytes(bytes.get(i + 8..i + 16)?.try_into().ok()?)).ok()?),
            n => (8, n),
        };
        if size < header || i + size > bytes.len() {
            return None;
        }
        if &bytes[i + 4..i + 8] == kind {
            return Some(&bytes[i + header..i + size]);
        }
        i += size;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], content: &[u8]) -> Vec<u8> {
        let mut b = u32::try_from(content.len() + 8).unwrap().to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(content);
        b
    }

    #[test]
    fn transforms_are_found_only_in_meta() {
        let ftyp = boxed(b"ftyp", b"heic\0\0\0\0mif1heic");
        let irot = boxed(b"irot", &[1]);
        let with = [ftyp.clone(), boxed(b"meta", &boxed(b"iprp", &boxed(b"ipco", &irot)))].concat();
        assert!(has_transform_property(&with));
        // The same bytes in image data do not count.
        let in_mdat = [ftyp.clone(), boxed(b"meta", b"nothing"), boxed(b"mdat", &irot)].concat();
        assert!(!has_transform_property(&in_mdat));
        assert!(!has_transform_property(&ftyp[..10]));
    }
}
