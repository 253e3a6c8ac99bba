//! What leaves the crate: no EXIF at all, deterministic names, every input format, thumbnail().

mod common;

use std::io::Cursor;

fn no_exif(jpeg: &[u8], what: &str) {
    assert!(!common::has_exif_app1(jpeg), "{what} has an Exif APP1 segment");
    let found = exif::Reader::new().read_from_container(&mut Cursor::new(jpeg));
    assert!(
        matches!(found, Err(exif::Error::NotFound(_))),
        "{what}: kamadak-exif found {:?}",
        found.map(|e| e.fields().count())
    );
}

#[test]
fn outputs_carry_no_exif() {
    // The richest EXIF blocks in the fixtures: GPS, maker notes, a camera serial.
    for f in ["iphone_12mp.jpg", "Canon_40D.jpg", "gps/DSCN0010.jpg", "orientation/portrait_6.jpg"] {
        let p = xuncha_photo::ingest(&common::fixture(f)).expect(f);
        no_exif(&p.stored, &format!("{f} stored"));
        no_exif(&p.thumbnail, &format!("{f} thumbnail"));
        // Nothing recognisable from the camera leaks as text either.
        // (The ICC colour profile kept for colour fidelity names "Apple Computer" as its maker:
        // a display profile, not the camera.)
        for needle in [&b"Canon"[..], b"EOS 40D", b"NIKON", b"COOLPIX", b"iPhone"] {
            assert!(!p.stored.windows(needle.len()).any(|w| w == needle), "{f}: stored contains {needle:?}");
        }
    }
}

#[test]
fn same_input_same_hash() {
    let bytes = common::fixture("gps/DSCN0021.jpg");
    let a = xuncha_photo::ingest(&bytes).unwrap();
    let b = xuncha_photo::ingest(&bytes).unwrap();
    assert_eq!(a.hash, b.hash);
    assert_eq!(a.stored, b.stored);
    assert_eq!(a.thumbnail, b.thumbnail);
    assert_eq!(a.hash, xuncha_photo::sha256(&a.stored));
    let other = xuncha_photo::ingest(&common::fixture("gps/DSCN0025.jpg")).unwrap();
    assert_ne!(a.hash, other.hash);
}

#[test]
fn sha256_of_known_bytes() {
    assert_eq!(
        xuncha_photo::sha256(b"abc").to_hex(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn stored_is_a_baseline_jpeg() {
    let p = xuncha_photo::ingest(&common::fixture("gps/DSCN0010.jpg")).unwrap();
    assert!(p.stored.starts_with(&[0xFF, 0xD8]) && p.stored.ends_with(&[0xFF, 0xD9]));
    // SOF0 (baseline DCT) present, SOF2 (progressive) absent.
    assert!(p.stored.windows(2).any(|w| w == [0xFF, 0xC0]));
    assert!(!p.stored.windows(2).any(|w| w == [0xFF, 0xC2]));
    assert_eq!((p.width, p.height), (640, 480), "no upscaling");
}

fn encode(img: &image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

#[test]
fn png_and_webp_ingest() {
    let src = image::load_from_memory(&common::fixture("gps/DSCN0010.jpg")).unwrap();
    let base = common::grey_of(&src);
    for format in [image::ImageFormat::Png, image::ImageFormat::WebP] {
        let p = xuncha_photo::ingest(&encode(&src, format)).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!((p.width, p.height), (640, 480), "{format:?}");
        let d = common::mad(&base, &common::grey_of(&image::load_from_memory(&p.stored).unwrap()));
        assert!(d < 3.0, "{format:?} output differs by {d}");
        assert_eq!(p.exif, xuncha_photo::PhotoExif::default());
    }
}

#[test]
fn transparent_png_is_flattened_on_white_and_big_png_is_scaled() {
    // 3000×1000 RGBA, fully transparent left half, opaque black right half.
    let img = image::RgbaImage::from_fn(3000, 1000, |x, _| {
        if x < 1500 {
            image::Rgba([0, 0, 0, 0])
        } else {
            image::Rgba([0, 0, 0, 255])
        }
    });
    let p = xuncha_photo::ingest(&encode(&image::DynamicImage::ImageRgba8(img), image::ImageFormat::Png)).unwrap();
    assert_eq!((p.width, p.height), (2048, 683));
    let out = image::load_from_memory(&p.stored).unwrap().to_rgb8();
    assert!(out.get_pixel(100, 300).0.iter().all(|&c| c > 245), "transparent became {:?}", out.get_pixel(100, 300));
    assert!(out.get_pixel(1900, 300).0.iter().all(|&c| c < 10));
    let t = image::load_from_memory(&p.thumbnail).unwrap();
    assert_eq!((t.width(), t.height()), (320, 107));
}

#[test]
fn grey_photo_stays_grey() {
    let img = image::DynamicImage::ImageLuma8(image::GrayImage::from_fn(300, 200, |x, y| image::Luma([(x ^ y) as u8])));
    let p = xuncha_photo::ingest(&encode(&img, image::ImageFormat::Png)).unwrap();
    assert_eq!((p.width, p.height), (300, 200));
    assert_eq!(image::load_from_memory(&p.stored).unwrap().color(), image::ColorType::L8);
}

#[test]
fn thumbnail_from_stored_jpeg() {
    let p = xuncha_photo::ingest(&common::fixture("orientation/portrait_6.jpg")).unwrap();
    let t = xuncha_photo::thumbnail(&p.stored).expect("thumbnail");
    let img = image::load_from_memory(&t).unwrap();
    assert_eq!((img.width(), img.height()), (240, 320));
    no_exif(&t, "thumbnail()");
    // Same picture as the ingest-time thumbnail.
    let d = common::mad(&common::grey_of(&img), &common::grey_of(&image::load_from_memory(&p.thumbnail).unwrap()));
    assert!(d < 3.0, "differs by {d}");
    // Small stored photos are not upscaled.
    let small = xuncha_photo::ingest(&common::fixture("Canon_40D.jpg")).unwrap();
    let ts = image::load_from_memory(&xuncha_photo::thumbnail(&small.stored).unwrap()).unwrap();
    assert_eq!((ts.width(), ts.height()), (100, 68));
    // It wants a JPEG.
    let png = encode(&image::DynamicImage::new_rgb8(10, 10), image::ImageFormat::Png);
    assert_eq!(xuncha_photo::thumbnail(&png).unwrap_err().user_message().code, "photo.unsupported_format");
}
