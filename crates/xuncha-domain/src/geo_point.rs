//! Positions. Stored and synced in WGS-84 (what phones give); conversion to GCJ-02 for Chinese web maps
//! happens only on display or export, never in storage.

use crate::message::DomainError;
use serde::{Deserialize, Serialize};

/// Above this accuracy radius the UI warns the inspector (the brief: "a warning above ~30 m"),
/// because a 3 km first fix is the classic peer bug.
pub const ACCURACY_WARNING_M: f64 = 30.0;

/// WGS-84 latitude in degrees, finite and within -90..=90.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Latitude(f64);

/// WGS-84 longitude in degrees, finite and within -180..=180.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Longitude(f64);

/// Radius of the 68 % confidence circle, in metres; finite and non-negative.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Accuracy(f64);

impl TryFrom<f64> for Latitude {
    type Error = DomainError;
    fn try_from(v: f64) -> Result<Self, DomainError> {
        if !v.is_finite() {
            Err(DomainError::CoordinateNotFinite)
        } else if !(-90.0..=90.0).contains(&v) {
            Err(DomainError::LatitudeOutOfRange(v))
        } else {
            Ok(Self(v))
        }
    }
}

impl TryFrom<f64> for Longitude {
    type Error = DomainError;
    fn try_from(v: f64) -> Result<Self, DomainError> {
        if !v.is_finite() {
            Err(DomainError::CoordinateNotFinite)
        } else if !(-180.0..=180.0).contains(&v) {
            Err(DomainError::LongitudeOutOfRange(v))
        } else {
            Ok(Self(v))
        }
    }
}

impl TryFrom<f64> for Accuracy {
    type Error = DomainError;
    fn try_from(v: f64) -> Result<Self, DomainError> {
        if v.is_finite() && v >= 0.0 {
            Ok(Self(v))
        } else {
            Err(DomainError::InvalidAccuracy(v))
        }
    }
}

macro_rules! float_value {
    ($t:ty) => {
        impl From<$t> for f64 {
            fn from(v: $t) -> f64 {
                v.0
            }
        }
        impl $t {
            pub fn value(self) -> f64 {
                self.0
            }
        }
    };
}
float_value!(Latitude);
float_value!(Longitude);
float_value!(Accuracy);

/// A WGS-84 point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    pub lat: Latitude,
    pub lon: Longitude,
}

impl GeoPoint {
    pub fn new(lat: f64, lon: f64) -> Result<Self, DomainError> {
        Ok(Self { lat: lat.try_into()?, lon: lon.try_into()? })
    }

    /// Great-circle distance in metres (haversine on the mean Earth radius), for duplicate hints.
    pub fn distance_m(&self, other: &GeoPoint) -> f64 {
        use geo::{Distance, Haversine, Point};
        Haversine.distance(Point::new(self.lon.0, self.lat.0), Point::new(other.lon.0, other.lat.0))
    }
}

/// Where a position came from; shown beside the point so a reviewer knows how far to trust it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionSource {
    DeviceGps,
    PhotoExif,
    Map,
    Typed,
}

impl PositionSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeviceGps => "device_gps",
            Self::PhotoExif => "photo_exif",
            Self::Map => "map",
            Self::Typed => "typed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::DeviceGps, Self::PhotoExif, Self::Map, Self::Typed].into_iter().find(|p| p.as_str() == s)
    }
}

/// A point with its accuracy (unknown for typed points and most EXIF) and its source.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub point: GeoPoint,
    pub accuracy_m: Option<Accuracy>,
    pub source: PositionSource,
}

impl Position {
    /// True when the UI should warn that the point may be far off.
    pub fn is_imprecise(&self) -> bool {
        self.accuracy_m.is_some_and(|a| a.0 > ACCURACY_WARNING_M)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_non_finite_are_refused() {
        assert!(GeoPoint::new(30.25, 120.16).is_ok());
        assert_eq!(GeoPoint::new(91.0, 0.0), Err(DomainError::LatitudeOutOfRange(91.0)));
        assert_eq!(GeoPoint::new(0.0, -180.5), Err(DomainError::LongitudeOutOfRange(-180.5)));
        assert_eq!(GeoPoint::new(f64::NAN, 0.0), Err(DomainError::CoordinateNotFinite));
        assert_eq!(GeoPoint::new(0.0, f64::INFINITY), Err(DomainError::CoordinateNotFinite));
        assert!(Accuracy::try_from(-1.0).is_err());
    }

    #[test]
    fn deserialising_checks_ranges() {
        let bad = r#"{"lat": 120.1, "lon": 30.2}"#; // swapped, a common mistake
        assert!(serde_json::from_str::<GeoPoint>(bad).is_err());
        let good = r#"{"lat": 30.2, "lon": 120.1}"#;
        assert!(serde_json::from_str::<GeoPoint>(good).is_ok());
    }

    #[test]
    fn distance_is_plausible() {
        // West Lake's Broken Bridge to Leifeng Pagoda: about 2.9 km.
        let a = GeoPoint::new(30.2590, 120.1510).unwrap();
        let b = GeoPoint::new(30.2318, 120.1487).unwrap();
        let d = a.distance_m(&b);
        assert!((2_900.0..3_200.0).contains(&d), "{d}");
    }

    #[test]
    fn imprecise_above_threshold() {
        let p = |a: f64| Position {
            point: GeoPoint::new(30.0, 120.0).unwrap(),
            accuracy_m: Some(a.try_into().unwrap()),
            source: PositionSource::DeviceGps,
        };
        assert!(!p(12.0).is_imprecise());
        assert!(p(3_000.0).is_imprecise());
    }
}
