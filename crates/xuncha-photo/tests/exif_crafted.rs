//! EXIF cases no fixture has: a time-zone offset, southern/western hemispheres, altitude below sea
//! level, the 0/0 "no fix" point and out-of-range coordinates. The EXIF block is written with
//! kamadak-exif's writer into a JPEG made here, so the test needs no extra files.

use exif::experimental::Writer;
use exif::{Field, In, Rational, Tag, Value};

fn ascii(tag: Tag, s: &str) -> Field {
    Field { tag, ifd_num: In::PRIMARY, value: Value::Ascii(vec![s.as_bytes().to_vec()]) }
}

fn dms(tag: Tag, deg: u32, min: u32, sec_x100: u32) -> Field {
    let r = |num, denom| Rational { num, denom };
    Field { tag, ifd_num: In::PRIMARY, value: Value::Rational(vec![r(deg, 1), r(min, 1), r(sec_x100, 100)]) }
}

/// A 64×48 grey JPEG with the given EXIF fields in an APP1 segment right after SOI.
fn jpeg_with(fields: &[Field]) -> Vec<u8> {
    let img =
        image::DynamicImage::ImageLuma8(image::GrayImage::from_fn(64, 48, |x, y| image::Luma([(x * 3 + y) as u8])));
    let mut plain = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut plain), image::ImageFormat::Jpeg).unwrap();
    let mut w = Writer::new();
    for f in fields {
        w.push_field(f);
    }
    let mut tiff = std::io::Cursor::new(Vec::new());
    w.write(&mut tiff, false).expect("write EXIF");
    let tiff = tiff.into_inner();
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&u16::try_from(2 + 6 + tiff.len()).unwrap().to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(&tiff);
    out.extend_from_slice(&plain[2..]);
    out
}

#[test]
fn offset_time_gives_rfc3339_with_offset() {
    let bytes = jpeg_with(&[
        ascii(Tag::DateTimeOriginal, "2026:11:22 09:30:05"),
        ascii(Tag::OffsetTimeOriginal, "+08:00"),
        ascii(Tag::Make, "  HUAWEI  "),
    ]);
    let p = xuncha_photo::ingest(&bytes).expect("ingest");
    assert_eq!(p.exif.taken_at.as_deref(), Some("2026-11-22T09:30:05+08:00"));
    assert_eq!(p.exif.make.as_deref(), Some("HUAWEI"));
    assert_eq!(p.exif.model, None);
    chrono::DateTime::parse_from_rfc3339(p.exif.taken_at.as_deref().unwrap()).expect("valid RFC 3339");
}

#[test]
fn impossible_date_is_absent() {
    let p = xuncha_photo::ingest(&jpeg_with(&[ascii(Tag::DateTimeOriginal, "0000:00:00 00:00:00")])).unwrap();
    assert_eq!(p.exif.taken_at, None);
}

#[test]
fn south_west_and_below_sea_level() {
    let bytes = jpeg_with(&[
        dms(Tag::GPSLatitude, 33, 52, 1234),
        ascii(Tag::GPSLatitudeRef, "S"),
        dms(Tag::GPSLongitude, 151, 12, 3000),
        ascii(Tag::GPSLongitudeRef, "W"),
        Field {
            tag: Tag::GPSAltitude,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![Rational { num: 125, denom: 10 }]),
        },
        Field { tag: Tag::GPSAltitudeRef, ifd_num: In::PRIMARY, value: Value::Byte(vec![1]) },
    ]);
    let gps = xuncha_photo::ingest(&bytes).unwrap().exif.gps.expect("gps");
    assert!((gps.lat - -(33.0 + 52.0 / 60.0 + 12.34 / 3600.0)).abs() < 1e-9, "{gps:?}");
    assert!((gps.lon - -(151.0 + 12.0 / 60.0 + 30.0 / 3600.0)).abs() < 1e-9, "{gps:?}");
    assert_eq!(gps.altitude_m, Some(-12.5));
}

#[test]
fn zero_zero_and_out_of_range_are_absent() {
    let zero = jpeg_with(&[
        dms(Tag::GPSLatitude, 0, 0, 0),
        ascii(Tag::GPSLatitudeRef, "N"),
        dms(Tag::GPSLongitude, 0, 0, 0),
        ascii(Tag::GPSLongitudeRef, "E"),
    ]);
    assert_eq!(xuncha_photo::ingest(&zero).unwrap().exif.gps, None);
    let out_of_range = jpeg_with(&[
        dms(Tag::GPSLatitude, 95, 0, 0),
        ascii(Tag::GPSLatitudeRef, "N"),
        dms(Tag::GPSLongitude, 120, 0, 0),
        ascii(Tag::GPSLongitudeRef, "E"),
    ]);
    assert_eq!(xuncha_photo::ingest(&out_of_range).unwrap().exif.gps, None);
    let no_ref = jpeg_with(&[dms(Tag::GPSLatitude, 30, 15, 0), dms(Tag::GPSLongitude, 120, 10, 0)]);
    assert_eq!(xuncha_photo::ingest(&no_ref).unwrap().exif.gps, None);
}

#[test]
fn garbage_exif_block_keeps_the_pixels() {
    let mut bytes = jpeg_with(&[ascii(Tag::Make, "Canon")]);
    // Corrupt the TIFF header's byte-order mark: the block is unreadable, the photo is fine.
    let pos = bytes.windows(6).position(|w| w == b"Exif\0\0").unwrap() + 6;
    bytes[pos..pos + 4].copy_from_slice(b"XXXX");
    let log = LogBuf::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .finish();
    let p =
        tracing::subscriber::with_default(subscriber, || xuncha_photo::ingest(&bytes)).expect("photo still ingests");
    assert_eq!(p.exif, xuncha_photo::PhotoExif::default());
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("WARN") && text.contains("malformed EXIF"), "no warning logged: {text:?}");
    assert_eq!((p.width, p.height), (64, 48));
}

/// Collects what the tracing subscriber writes.
#[derive(Clone, Default)]
struct LogBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
