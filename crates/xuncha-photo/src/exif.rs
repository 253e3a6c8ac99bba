//! The few EXIF facts a finding uses: where, when, which way up, which camera.
//!
//! Everything else in the block (maker notes, serial numbers, owner names) is read by nobody and
//! never leaves this module; the stored JPEG carries no EXIF at all.

use exif::{In, Reader, Tag, Value};
use serde::Serialize;
use std::io::Cursor;

/// EXIF facts of an ingested photo. A photo without EXIF, or with a malformed block, gives
/// [`PhotoExif::default()`]: nothing known, orientation 1.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhotoExif {
    pub gps: Option<ExifGps>,
    /// RFC 3339 with offset when OffsetTimeOriginal is present, else local "YYYY-MM-DDTHH:MM:SS".
    pub taken_at: Option<String>,
    /// EXIF orientation 1–8 of the original (the stored JPEG is already upright).
    pub orientation: u16,
    pub make: Option<String>,
    pub model: Option<String>,
}

impl Default for PhotoExif {
    fn default() -> Self {
        Self { gps: None, taken_at: None, orientation: 1, make: None, model: None }
    }
}

/// WGS-84 position from EXIF GPS tags.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ExifGps {
    pub lat: f64,
    pub lon: f64,
    /// Metres above sea level (negative below).
    pub altitude_m: Option<f64>,
}

/// Reads the EXIF facts. Never fails: a photo's pixels matter more than its metadata, so a broken
/// block is logged and reported as absent rather than rejecting the evidence.
pub(crate) fn read(bytes: &[u8]) -> PhotoExif {
    match Reader::new().read_from_container(&mut Cursor::new(bytes)) {
        Ok(exif) => from_exif(&exif),
        Err(exif::Error::NotFound(_)) => PhotoExif::default(),
        Err(e) => {
            tracing::warn!(error = %e, "malformed EXIF block ignored; photo ingested without EXIF facts");
            PhotoExif::default()
        }
    }
}

fn from_exif(exif: &exif::Exif) -> PhotoExif {
    let field = |tag| exif.get_field(tag, In::PRIMARY).map(|f| &f.value);
    let orientation =
        field(Tag::Orientation).and_then(|v| v.get_uint(0)).filter(|o| (1..=8).contains(o)).map_or(1, |o| o as u16);
    PhotoExif {
        gps: gps(&field),
        taken_at: taken_at(&field),
        orientation,
        make: field(Tag::Make).and_then(text),
        model: field(Tag::Model).and_then(text),
    }
}

fn gps<'a>(field: &impl Fn(Tag) -> Option<&'a Value>) -> Option<ExifGps> {
    // A coordinate without its hemisphere reference is dropped rather than guessed: a point on the
    // wrong side of the world is worse than none (the inspector then uses device GPS or the map).
    let lat = signed(field(Tag::GPSLatitude)?, field(Tag::GPSLatitudeRef)?, b'N', b'S')?;
    let lon = signed(field(Tag::GPSLongitude)?, field(Tag::GPSLongitudeRef)?, b'E', b'W')?;
    let in_range = lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0;
    // 0/0 is what cameras write when they had no fix.
    if !in_range || (lat == 0.0 && lon == 0.0) {
        return None;
    }
    let altitude_m = field(Tag::GPSAltitude).and_then(|v| match v {
        Value::Rational(r) if !r.is_empty() && r[0].denom != 0 => {
            // Ref 1 = below sea level; absent ref means above (EXIF default 0).
            let below = field(Tag::GPSAltitudeRef).and_then(|v| v.get_uint(0)) == Some(1);
            let m = r[0].to_f64();
            Some(if below { -m } else { m })
        }
        _ => None,
    });
    Some(ExifGps { lat, lon, altitude_m: altitude_m.filter(|m| m.is_finite()) })
}

/// Degrees/minutes/seconds with a hemisphere letter → signed decimal degrees.
fn signed(dms: &Value, reference: &Value, pos: u8, neg: u8) -> Option<f64> {
    let Value::Rational(parts) = dms else { return None };
    if parts.is_empty() || parts.len() > 3 || parts.iter().any(|r| r.denom == 0) {
        return None;
    }
    let deg = parts.iter().zip([1.0, 60.0, 3600.0]).map(|(r, div)| r.to_f64() / div).sum::<f64>();
    match ascii(reference)?.trim().as_bytes().first().map(u8::to_ascii_uppercase) {
        Some(c) if c == pos => Some(deg),
        Some(c) if c == neg => Some(-deg),
        _ => None,
    }
}

fn taken_at<'a>(field: &impl Fn(Tag) -> Option<&'a Value>) -> Option<String> {
    let Some(Value::Ascii(v)) = field(Tag::DateTimeOriginal) else { return None };
    let mut dt = exif::DateTime::from_ascii(v.first()?).ok()?;
    let naive = chrono::NaiveDate::from_ymd_opt(dt.year.into(), dt.month.into(), dt.day.into())?.and_hms_opt(
        dt.hour.into(),
        dt.minute.into(),
        dt.second.into(),
    )?;
    if let Some(Value::Ascii(o)) = field(Tag::OffsetTimeOriginal) {
        if let Some(first) = o.first() {
            // A malformed offset only loses the zone, not the time.
            let _ = dt.parse_offset(first);
        }
    }
    let local = naive.format("%Y-%m-%dT%H:%M:%S").to_string();
    match dt.offset.and_then(|m| chrono::FixedOffset::east_opt(i32::from(m) * 60)) {
        Some(off) => {
            naive.and_local_timezone(off).single().map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
        }
        None => Some(local),
    }
}

fn ascii(v: &Value) -> Option<String> {
    let Value::Ascii(parts) = v else { return None };
    Some(String::from_utf8_lossy(parts.first()?).into_owned())
}

/// Make/Model: trimmed (cameras pad with spaces and NULs); empty means unknown.
fn text(v: &Value) -> Option<String> {
    let s = ascii(v)?;
    let s = s.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!s.is_empty()).then(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use exif::Rational;

    fn r(n: u32, d: u32) -> Rational {
        Rational { num: n, denom: d }
    }

    #[test]
    fn dms_with_hemisphere() {
        let dms = Value::Rational(vec![r(30, 1), r(15, 1), r(36, 1)]);
        let s = Value::Ascii(vec![b"S".to_vec()]);
        assert!((signed(&dms, &s, b'N', b'S').unwrap() + 30.26).abs() < 1e-9);
        let none = Value::Ascii(vec![b"X".to_vec()]);
        assert_eq!(signed(&dms, &none, b'N', b'S'), None);
        let zero_denom = Value::Rational(vec![r(30, 0)]);
        assert_eq!(signed(&zero_denom, &s, b'N', b'S'), None);
    }

    #[test]
    fn text_is_trimmed() {
        assert_eq!(text(&Value::Ascii(vec![b"Canon\0\0  ".to_vec()])).as_deref(), Some("Canon"));
        assert_eq!(text(&Value::Ascii(vec![b"   ".to_vec()])), None);
    }
}
