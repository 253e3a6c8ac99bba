//! What the bytes are, decided from their magic numbers (never from a file name, which the
//! caller may not have and a person can rename), and whether a JPEG is complete.

use crate::PhotoError;

/// The formats we decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Jpeg,
    Png,
    WebP,
    /// HEIC/HEIF: decoded by libheif (`heic` feature), never by `image`.
    Heic,
}

impl Format {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "JPEG",
            Format::Png => "PNG",
            Format::WebP => "WebP",
            Format::Heic => "HEIC",
        }
    }

    /// The `image` crate's format; `None` for HEIC, which `image` cannot read.
    pub(crate) fn image_format(self) -> Option<image::ImageFormat> {
        match self {
            Format::Jpeg => Some(image::ImageFormat::Jpeg),
            Format::Png => Some(image::ImageFormat::Png),
            Format::WebP => Some(image::ImageFormat::WebP),
            Format::Heic => None,
        }
    }
}

/// ISO-BMFF brands that mean HEIF/HEIC (Apple writes `heic`, many Androids `mif1` + `heic`).
const HEIF_BRANDS: &[&[u8; 4]] = &[b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"];

pub(crate) fn detect(bytes: &[u8]) -> Result<Format, PhotoError> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Format::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(Format::Png);
    }
    if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Ok(Format::WebP);
    }
    if let Some(brands) = ftyp_brands(bytes) {
        // AVIF shares the container; it is not HEIC and must not get the "set camera to JPEG" advice.
        if brands.first() == Some(&b"avif") || brands.first() == Some(&b"avis") {
            return Err(PhotoError::UnsupportedFormat { kind: Some("AVIF") });
        }
        if brands.iter().any(|b| HEIF_BRANDS.contains(b)) {
            return if cfg!(feature = "heic") { Ok(Format::Heic) } else { Err(PhotoError::HeicUnsupported) };
        }
        return Err(PhotoError::UnsupportedFormat { kind: Some("MP4/QuickTime") });
    }
    Err(PhotoError::UnsupportedFormat { kind: name_other(bytes) })
}

/// The major brand followed by the compatible brands of a leading `ftyp` box, if there is one.
fn ftyp_brands(bytes: &[u8]) -> Option<Vec<&[u8; 4]>> {
    if bytes.len() < 12 || &bytes[4..8] != b"ftyp" {
        return None;
    }
    let size = u32::from_be_bytes(bytes[0..4].try_into().ok()?) as usize;
    let end = size.clamp(12, 4096).min(bytes.len());
    let mut brands: Vec<&[u8; 4]> = vec![bytes[8..12].try_into().ok()?];
    // Skip minor_version (4 bytes) after the major brand.
    let mut i = 16;
    while i + 4 <= end {
        brands.push(bytes[i..i + 4].try_into().ok()?);
        i += 4;
    }
    Some(brands)
}

/// A name for common non-photo files, so the message can say what was picked.
fn name_other(bytes: &[u8]) -> Option<&'static str> {
    const SIGS: &[(&[u8], &str)] = &[
        (b"%PDF", "PDF"),
        (b"GIF87a", "GIF"),
        (b"GIF89a", "GIF"),
        (b"BM", "BMP"),
        (b"II*\0", "TIFF"),
        (b"MM\0*", "TIFF"),
        (b"PK\x03\x04", "ZIP/Office"),
        (b"\xD0\xCF\x11\xE0", "Office"),
    ];
    if let Some((_, name)) = SIGS.iter().find(|(sig, _)| bytes.starts_with(sig)) {
        return Some(name);
    }
    let head = &bytes[..bytes.len().min(512)];
    let texty = head.iter().all(|&b| b >= 0x20 || b == b'\n' || b == b'\r' || b == b'\t');
    if texty && (std::str::from_utf8(head).is_ok() || head.len() == 512) {
        return Some("text");
    }
    None
}

/// Whether a JPEG runs all the way to its EOI marker.
///
/// Why: the JPEG decoder is lenient and paints a cut-off file's missing rows grey. A half-grey photo
/// as evidence is worse than an error that makes the inspector retake it, so a JPEG must end in
/// EOI. Walks the marker segments and entropy-coded scans (progressive files have several),
/// which is cheap: one pass over bytes already in memory.
pub(crate) fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let mut i = 2; // after SOI
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        while i < bytes.len() && bytes[i] == 0xFF && bytes.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        if i + 1 >= bytes.len() || bytes[i] != 0xFF {
            return false;
        }
        let marker = bytes[i + 1];
        i += 2;
        match marker {
            0xD9 => return true,            // EOI
            0x01 | 0xD0..=0xD7 => continue, // TEM, RSTn: no length
            _ => {}
        }
        let Some(len) = bytes.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]) as usize) else {
            return false;
        };
        if len < 2 || i + len > bytes.len() {
            return false;
        }
        i += len;
        if marker == 0xDA {
            // SOS: entropy-coded data until a marker that is not a stuffed 0xFF00 or a restart.
            loop {
                let Some(off) = bytes[i..].iter().position(|&b| b == 0xFF) else {
                    return false;
                };
                i += off;
                match bytes.get(i + 1) {
                    None => return false,
                    Some(0x00) | Some(0xD0..=0xD7) => i += 2,
                    Some(0xFF) => i += 1,
                    Some(_) => break,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heic_and_avif_are_told_apart() {
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
        if cfg!(feature = "heic") {
            assert!(matches!(detect(heic), Ok(Format::Heic)));
        } else {
            assert!(matches!(detect(heic), Err(PhotoError::HeicUnsupported)));
        }
        let avif = b"\0\0\0\x18ftypavif\0\0\0\0mif1avif";
        assert!(matches!(detect(avif), Err(PhotoError::UnsupportedFormat { kind: Some("AVIF") })));
    }

    #[test]
    fn names_common_non_photos() {
        assert!(matches!(detect(b"%PDF-1.7\n"), Err(PhotoError::UnsupportedFormat { kind: Some("PDF") })));
        assert!(matches!(detect("巡查 notes\n".as_bytes()), Err(PhotoError::UnsupportedFormat { kind: Some("text") })));
        assert!(matches!(detect(&[0x00, 0x01, 0x02]), Err(PhotoError::UnsupportedFormat { kind: None })));
    }

    #[test]
    fn jpeg_completeness() {
        // SOI, a tiny APP0, SOS with header, two data bytes incl. a stuffed FF00, EOI.
        let ok = [0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xDA, 0, 2, 0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD9];
        assert!(jpeg_is_complete(&ok));
        assert!(!jpeg_is_complete(&ok[..ok.len() - 2]));
        assert!(!jpeg_is_complete(&ok[..6]));
    }
}
