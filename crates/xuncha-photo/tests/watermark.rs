//! Watermarks on exported copies: a new JPEG of the same size whose pixels differ from the stored
//! photo only in the bottom-left band, where light text sits on a darkened background; the stored
//! bytes are never touched; and a machine without a CJK font gets a clear error instead of boxes.
//!
//! Needs a CJK font installed (`fonts-noto-cjk`, installed by scripts/setup.sh).

mod common;

use common::{assert_bilingual, fixture, has_exif_app1};
use image::{GrayImage, RgbImage};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;
use xuncha_photo::{watermark, FontSource, PhotoError};

fn font() -> &'static FontSource {
    static F: OnceLock<FontSource> = OnceLock::new();
    F.get_or_init(|| {
        FontSource::locate(None, std::fs::read)
            .unwrap_or_else(|e| panic!("a CJK font must be installed (apt-get install fonts-noto-cjk): {e}"))
    })
}

/// The 2048×1536 stored copy of a 12-MP phone photo: what an export reads from the blob store.
fn stored() -> &'static [u8] {
    static S: OnceLock<Vec<u8>> = OnceLock::new();
    S.get_or_init(|| xuncha_photo::ingest(&fixture("iphone_12mp.jpg")).expect("ingest").stored)
}

fn luma(jpeg: &[u8]) -> GrayImage {
    image::load_from_memory(jpeg).expect("a decodable JPEG").to_luma8()
}

fn rgb(jpeg: &[u8]) -> RgbImage {
    image::load_from_memory(jpeg).expect("a decodable JPEG").to_rgb8()
}

/// Mean absolute difference of two images over a rectangle.
fn mean_diff(a: &GrayImage, b: &GrayImage, x: std::ops::Range<u32>, y: std::ops::Range<u32>) -> f64 {
    let mut sum = 0u64;
    let mut n = 0u64;
    for yy in y {
        for xx in x.clone() {
            sum += u64::from(a.get_pixel(xx, yy).0[0].abs_diff(b.get_pixel(xx, yy).0[0]));
            n += 1;
        }
    }
    sum as f64 / n as f64
}

/// Pixels in the rectangle that are near-white in `out` although the band darkened the original
/// there to at most 45 % (plus JPEG noise): text strokes.
fn text_pixels(orig: &GrayImage, out: &GrayImage, x: std::ops::Range<u32>, y: std::ops::Range<u32>) -> usize {
    let mut n = 0;
    for yy in y {
        for xx in x.clone() {
            let darkened = f64::from(orig.get_pixel(xx, yy).0[0]) * 0.45;
            let v = f64::from(out.get_pixel(xx, yy).0[0]);
            if v > 200.0 && v > darkened + 80.0 {
                n += 1;
            }
        }
    }
    n
}

/// With XUNCHA_WATERMARK_DUMP=DIR the outputs are written there, to look at.
fn dump(name: &str, jpeg: &[u8]) {
    if let Some(dir) = std::env::var_os("XUNCHA_WATERMARK_DUMP") {
        std::fs::write(Path::new(&dir).join(name), jpeg).unwrap();
    }
}

fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_copy_differs_only_in_the_band_and_the_input_is_untouched() {
    let input = stored().to_vec();
    let before = input.clone();
    let t = Instant::now();
    let out = watermark(
        &input,
        &lines(&["2026-11-20 09:30 (UTC+8)", "30.26012°N 120.16503°E ±5 m", "消防安全 · 消防通道堵塞"]),
        font(),
    )
    .expect("watermark");
    dump("three_lines_2048.jpg", &out);
    eprintln!("watermark of a 2048×1536 photo: {:.0} ms (this build's profile)", t.elapsed().as_secs_f64() * 1000.0);
    assert_eq!(input, before, "the stored bytes are only read");
    assert_ne!(out, input, "a new JPEG");
    assert!(out.starts_with(&[0xFF, 0xD8]) && out.ends_with(&[0xFF, 0xD9]), "a complete JPEG");
    assert!(!has_exif_app1(&out), "exported copies carry no EXIF either");

    let (a, b) = (luma(&input), luma(&out));
    assert_eq!(a.dimensions(), b.dimensions(), "same size");
    let (w, h) = a.dimensions();
    assert_eq!((w, h), (2048, 1536));

    // Top half: only re-encoding noise.
    let top = mean_diff(&a, &b, 0..w, 0..h / 2);
    assert!(top < 2.5, "top half changed by {top:.2} on average");
    // The right half of the bottom strip is beyond these short lines' band: unchanged too.
    let right = mean_diff(&a, &b, w * 3 / 4..w, h - 100..h);
    assert!(right < 2.5, "bottom-right changed by {right:.2} on average");

    // The corner of the band (inside its padding, no text) is darkened to about 45 %.
    let corner = |img: &GrayImage| {
        let mut s = 0.0;
        for y in h - 10..h {
            for x in 0..10 {
                s += f64::from(img.get_pixel(x, y).0[0]);
            }
        }
        s / 100.0
    };
    let (ca, cb) = (corner(&a), corner(&b));
    assert!((cb - ca * 0.45).abs() < 12.0, "band corner: {ca:.0} before, {cb:.0} after (expected ~45 %)");
    let band = mean_diff(&a, &b, 0..w / 2, h - 250..h);
    assert!(band > 20.0, "the band region barely changed ({band:.1})");
    // Three lines of 51-px characters (1/40 of the width): text strokes in the band.
    let strokes = text_pixels(&a, &b, 0..w / 2, h - 280..h);
    assert!(strokes > 3000, "only {strokes} text pixels in the band");
}

#[test]
fn ascii_and_chinese_lines_both_render() {
    let input = stored();
    let a = luma(input);
    let (w, h) = a.dimensions();
    for line in ["2026-11-20 09:30 (UTC+8)", "生活环境 · 垃圾满溢"] {
        let out = watermark(input, &lines(&[line]), font()).expect("watermark");
        dump(&format!("one_line_{}.jpg", line.is_ascii()), &out);
        let b = luma(&out);
        let strokes = text_pixels(&a, &b, 0..w, h - 140..h);
        assert!(strokes > 1000, "{line:?}: only {strokes} text pixels");
        // One line: the band is one row (~74 px) and an em (51 px) of padding tall; nothing above changes.
        let above = mean_diff(&a, &b, 0..w, 0..h - 140);
        assert!(above < 2.5, "{line:?}: above the band changed by {above:.2}");
    }
}

#[test]
fn the_text_is_white_not_coloured() {
    let out = watermark(stored(), &lines(&["巡查 XUNCHA"]), font()).expect("watermark");
    let img = rgb(&out);
    let (_, h) = img.dimensions();
    let mut whites = 0;
    for y in h - 80..h {
        for x in 0..400 {
            let [r, g, b] = img.get_pixel(x, y).0;
            if r > 220 && g > 220 && b > 220 {
                whites += 1;
            }
        }
    }
    assert!(whites > 300, "only {whites} white pixels");
}

#[test]
fn a_long_line_wraps_on_a_narrow_photo() {
    // A 640×480 photo: 16-px characters. A long address does not fit on one row, so it wraps to a second
    // row at the same size instead of shrinking into illegibility.
    let small = xuncha_photo::ingest(&fixture("gps/DSCN0010.jpg")).expect("ingest").stored;
    let long = "上城区湖滨街道延安路与庆春路交叉口向西五十米路南，东坡路菜场北门旁 · 消防安全 · 消防通道堵塞 · 楼道内电动车充电";
    let out = watermark(&small, &lines(&[long]), font()).expect("watermark");
    dump("long_line_640.jpg", &out);
    let (a, b) = (luma(&small), luma(&out));
    assert_eq!(a.dimensions(), b.dimensions());
    let (w, h) = a.dimensions();
    assert_eq!(w, 640);
    // Band: 8 px padding, two rows of ~23 px (16-px characters), 8 px padding. Text in both rows,
    // the first across most of the width.
    let row2 = text_pixels(&a, &b, 0..w, h - 31..h - 6);
    let row1 = text_pixels(&a, &b, 0..w, h - 56..h - 31);
    let right = text_pixels(&a, &b, w / 2..w, h - 56..h - 31);
    assert!(row1 > 150 && row2 > 50 && right > 50, "rows: {row1} / {row2}, right half of row 1: {right}");
    let above = mean_diff(&a, &b, 0..w, 0..h - 70);
    assert!(above < 3.0, "the band is taller than two rows ({above:.2})");
}

#[test]
fn no_lines_returns_the_bytes_as_they_are() {
    let out = watermark(stored(), &[], font()).expect("watermark");
    assert_eq!(out, stored());
    let out = watermark(stored(), &lines(&["", "  "]), font()).expect("watermark");
    assert_eq!(out, stored());
}

#[test]
fn only_jpegs_are_watermarked() {
    let png = {
        let mut buf = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(RgbImage::new(64, 64)).write_to(&mut buf, image::ImageFormat::Png).unwrap();
        buf.into_inner()
    };
    let err = watermark(&png, &lines(&["x"]), font()).unwrap_err();
    assert!(matches!(err, PhotoError::UnsupportedFormat { kind: Some("PNG") }), "{err:?}");
    let err = watermark(&[], &lines(&["x"]), font()).unwrap_err();
    assert!(matches!(err, PhotoError::Empty), "{err:?}");
}

#[test]
fn a_missing_font_is_a_clear_error() {
    let err = FontSource::locate(Some(Path::new("/nonexistent/NotoSansCJK-Regular.ttc")), std::fs::read).unwrap_err();
    let m = err.user_message();
    assert_eq!(m.code, "photo.font_not_found");
    assert_bilingual(&m);
    assert!(m.zh.contains("fonts-noto-cjk") && m.en.contains("/nonexistent/NotoSansCJK-Regular.ttc"), "{m:?}");

    // A machine with no font at all: every known place is tried and named.
    let mut tried = Vec::new();
    let err = FontSource::locate(None, |p: PathBuf| {
        tried.push(p);
        Err(std::io::Error::from(std::io::ErrorKind::NotFound))
    })
    .unwrap_err();
    assert_eq!(tried.len(), xuncha_photo::SYSTEM_FONT_PATHS.len());
    let PhotoError::FontNotFound { searched } = &err else { panic!("{err:?}") };
    assert_eq!(searched, &tried);
}

#[test]
fn a_file_that_is_not_a_chinese_font_is_refused() {
    let err = FontSource::from_bytes(b"not a font at all".to_vec(), "notes.txt").unwrap_err();
    let m = err.user_message();
    assert_eq!(m.code, "photo.font_invalid");
    assert_bilingual(&m);
    assert!(m.en.contains("notes.txt"), "{m:?}");
    // An explicit path is used or refused, never swapped for another font behind the user's back.
    let err = FontSource::locate(Some(Path::new("bad.ttf")), |_: PathBuf| Ok(b"junk".to_vec())).unwrap_err();
    assert!(matches!(err, PhotoError::FontInvalid { .. }), "{err:?}");
}

#[test]
fn the_simplified_chinese_face_of_a_collection_is_chosen() {
    // Noto's collection holds JP, KR, SC, TC and HK faces (JP first); Chinese glyph forms need SC.
    let f = font();
    if f.origin().contains("NotoSansCJK") || f.origin().contains("NotoSerifCJK") {
        assert!(f.family().ends_with(" SC"), "{f:?}");
    }
}
