//! Helpers shared by the integration tests: fixture paths and pixel comparison.
#![allow(dead_code)] // each test file uses a different subset

use image::imageops::FilterType;
use std::path::PathBuf;

/// The project's shared photo fixtures (real camera files, see their README for the licence).
pub fn fixtures() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/photos"))
}

pub fn fixture(rel: &str) -> Vec<u8> {
    let p = fixtures().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("read fixture {}: {e}", p.display()))
}

/// A 32×32 grey thumbnail: small enough that JPEG noise and resampling differences mostly vanish,
/// large enough that a rotation or a mirror changes it (16×16 blurred the mirror of a nearly
/// symmetric scene into the noise).
///
/// Brightness and contrast are normalised (zero mean, fixed spread) because the orientation
/// fixtures' `_1` files were saved with a different tone curve than `_2`–`_8` (mean 0.36 against
/// 0.31 in ImageMagick too): we compare where things are, not how bright they are.
pub fn grey_of(img: &image::DynamicImage) -> Vec<f64> {
    let g = img.resize_exact(32, 32, FilterType::Triangle).to_luma8().into_raw();
    let n = g.len() as f64;
    let mean = g.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let sd = (g.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n).sqrt().max(1.0);
    // Scaled so that a typical photo spans roughly the 0–255 range again.
    g.iter().map(|&v| (f64::from(v) - mean) / sd * 50.0).collect()
}

/// Mean absolute difference of two normalised grey thumbnails (about 0–255 scale).
pub fn mad(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len() as f64
}

/// Whether a JPEG has an APP1 segment starting with "Exif\0\0" (walks the header segments).
pub fn has_exif_app1(jpeg: &[u8]) -> bool {
    assert!(jpeg.starts_with(&[0xFF, 0xD8]), "not a JPEG");
    let mut i = 2;
    while i + 4 <= jpeg.len() && jpeg[i] == 0xFF {
        let marker = jpeg[i + 1];
        if marker == 0xDA || marker == 0xD9 {
            break; // image data starts: no more metadata segments
        }
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        if marker == 0xE1 && jpeg[i + 4..].starts_with(b"Exif\0\0") {
            return true;
        }
        i += 2 + len;
    }
    // Belt and braces: the signature must not appear anywhere in the header area either.
    jpeg.windows(6).take(i).any(|w| w == b"Exif\0\0")
}

/// A message fit for a person: a dotted code, Chinese text, English text.
pub fn assert_bilingual(m: &xuncha_domain::UserMessage) {
    assert!(m.code.starts_with("photo."), "{m:?}");
    assert!(m.zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "zh has no Chinese: {m:?}");
    assert!(m.en.chars().filter(|c| c.is_ascii_alphabetic()).count() > 10, "en has no English: {m:?}");
    assert_ne!(m.zh, m.en);
}
