//! EXIF facts read from real camera files, checked against an independent reader (exiftool).

mod common;

/// `exiftool -n -GPSLatitude -GPSLongitude FILE` (ExifTool 12.57, Debian 12).
const GPS: &[(&str, f64, f64)] = &[
    ("DSCN0010.jpg", 43.4674483333333, 11.8851266666639),
    ("DSCN0012.jpg", 43.4671566666639, 11.8853949999972),
    ("DSCN0021.jpg", 43.4670816666639, 11.8845383333306),
    ("DSCN0025.jpg", 43.468365, 11.8816349999722),
    ("DSCN0027.jpg", 43.4684416666667, 11.881515),
    ("DSCN0029.jpg", 43.4682433333306, 11.8801716666389),
    ("DSCN0038.jpg", 43.4672549999972, 11.8792133333333),
    ("DSCN0040.jpg", 43.4660116666389, 11.8791116666389),
    ("DSCN0042.jpg", 43.464455, 11.8814783333333),
];

#[test]
fn gps_coordinates_match_exiftool() {
    for &(file, lat, lon) in GPS {
        let p = xuncha_photo::ingest(&common::fixture(&format!("gps/{file}"))).expect(file);
        let gps = p.exif.gps.unwrap_or_else(|| panic!("{file}: no GPS"));
        assert!((gps.lat - lat).abs() < 1e-5, "{file}: lat {} vs {lat}", gps.lat);
        assert!((gps.lon - lon).abs() < 1e-5, "{file}: lon {} vs {lon}", gps.lon);
        // These Nikons write GPSAltitudeRef but no GPSAltitude.
        assert_eq!(gps.altitude_m, None, "{file}");
        assert_eq!(p.exif.make.as_deref(), Some("NIKON"), "{file}");
        assert_eq!(p.exif.model.as_deref(), Some("COOLPIX P6000"), "{file}");
    }
    let p = xuncha_photo::ingest(&common::fixture("gps/DSCN0010.jpg")).unwrap();
    assert_eq!(p.exif.taken_at.as_deref(), Some("2008-10-22T16:28:39"));
}

#[test]
fn canon_40d_has_make_and_time_but_no_gps() {
    let p = xuncha_photo::ingest(&common::fixture("Canon_40D.jpg")).expect("ingest");
    assert_eq!(p.exif.gps, None);
    assert_eq!(p.exif.make.as_deref(), Some("Canon"));
    assert_eq!(p.exif.model.as_deref(), Some("Canon EOS 40D"));
    // No OffsetTimeOriginal in this file: local time without an offset.
    assert_eq!(p.exif.taken_at.as_deref(), Some("2008-05-30T15:56:01"));
    assert_eq!(p.exif.orientation, 1);
    // Small photos are never upscaled.
    assert_eq!((p.width, p.height), (100, 68));
}

#[test]
fn iphone_12mp_is_scaled_to_2048_and_small() {
    let p = xuncha_photo::ingest(&common::fixture("iphone_12mp.jpg")).expect("ingest");
    assert_eq!((p.width, p.height), (2048, 1536));
    assert!(p.stored.len() <= 400 * 1024, "stored is {} bytes", p.stored.len());
    let t = image::load_from_memory(&p.thumbnail).expect("thumbnail decodes");
    assert_eq!((t.width(), t.height()), (320, 240));
    let s = image::load_from_memory(&p.stored).expect("stored decodes");
    assert_eq!((s.width(), s.height()), (p.width, p.height));
    // exiftool -n: 40.4469722222222, -3.72475277777778 (W), altitude 639.5878788 m above sea level.
    let gps = p.exif.gps.expect("gps");
    assert!((gps.lat - 40.4469722222222).abs() < 1e-5, "{gps:?}");
    assert!((gps.lon - -3.72475277777778).abs() < 1e-5, "{gps:?}");
    assert!((gps.altitude_m.expect("altitude") - 639.5878788).abs() < 1e-3, "{gps:?}");
    assert_eq!(p.exif.make.as_deref(), Some("Apple"));
    assert_eq!(p.exif.model.as_deref(), Some("iPhone 6"));
    assert_eq!(p.exif.taken_at.as_deref(), Some("2015-04-10T20:12:23"));
}

#[test]
fn exif_serialises_for_the_ui() {
    let p = xuncha_photo::ingest(&common::fixture("gps/DSCN0010.jpg")).unwrap();
    let v = serde_json::to_value(&p.exif).unwrap();
    assert_eq!(v["make"], "NIKON");
    assert!(v["gps"]["lat"].as_f64().is_some());
    assert_eq!(v["orientation"], 1);
}
