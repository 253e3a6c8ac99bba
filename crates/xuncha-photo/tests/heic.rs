//! HEIC/HEIF input (the `heic` feature): decoded by libheif, EXIF read like a JPEG's, upright, and
//! through the same resize/encode as every other format. Fixtures in tests/data (see its README).
#![cfg(feature = "heic")]

mod common;

fn data(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn grey(jpeg: &[u8]) -> Vec<f64> {
    common::grey_of(&image::load_from_memory(jpeg).expect("decode output"))
}

#[test]
fn heic_with_gps_exif_ingests_like_its_jpeg() {
    let (p, stats) = xuncha_photo::ingest_with_stats(&data("DSCN0010.heic")).expect("HEIC ingests");
    assert_eq!(stats.format, "HEIC");
    assert_eq!((p.width, p.height), (640, 480));
    let gps = p.exif.gps.expect("heif-enc kept the GPS EXIF");
    assert!((gps.lat - 43.467448).abs() < 1e-5 && (gps.lon - 11.885127).abs() < 1e-5, "{gps:?}");
    assert_eq!(p.exif.taken_at.as_deref(), Some("2008-10-22T16:28:39"));
    assert_eq!(p.exif.make.as_deref(), Some("NIKON"));
    assert!(!common::has_exif_app1(&p.stored) && !common::has_exif_app1(&p.thumbnail));
    let thumb = image::load_from_memory(&p.thumbnail).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (320, 240));
    // Same picture as the JPEG it was made from (HEVC at q35 and our JPEG differ a little).
    let jpeg = xuncha_photo::ingest(&common::fixture("gps/DSCN0010.jpg")).unwrap();
    let d = common::mad(&grey(&jpeg.stored), &grey(&p.stored));
    assert!(d < 6.0, "HEIC output differs from the JPEG's by {d}");
    // Deterministic name.
    assert_eq!(xuncha_photo::ingest(&data("DSCN0010.heic")).unwrap().hash, p.hash);
}

#[test]
fn heic_with_exif_orientation_and_no_irot_comes_out_upright() {
    let p = xuncha_photo::ingest(&data("portrait_6.heic")).expect("HEIC ingests");
    assert_eq!(p.exif.orientation, 6);
    let upright = xuncha_photo::ingest(&common::fixture("orientation/portrait_1.jpg")).unwrap();
    assert_eq!((p.width, p.height), (upright.width, upright.height), "turned to portrait");
    let d = common::mad(&grey(&upright.stored), &grey(&p.stored));
    assert!(d < 12.0, "not upright: differs from portrait_1 by {d}");
}

#[test]
fn broken_heic_has_its_own_message() {
    let full = data("DSCN0010.heic");
    for bytes in [&full[..full.len() / 2], &full[..200]] {
        let e = xuncha_photo::ingest(bytes).expect_err("a cut HEIC is refused");
        let m = e.user_message();
        common::assert_bilingual(&m);
        assert_eq!(m.code, "photo.heic_decode_failed", "{e}");
    }
}
