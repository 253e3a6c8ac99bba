//! Districts (区) and sub-districts (街道) with their polygons, and which one a point falls in.
//! The demo world's boundaries ship as `assets/boundaries.json` (approximate, for the demo only);
//! an administrator loads real ones in the same format.

use crate::geo_point::GeoPoint;
use crate::ids::{DistrictId, SubDistrictId};
use crate::message::DomainError;
use geo::{Contains, LineString, Point, Polygon};
use serde::{Deserialize, Serialize};

pub const DEMO_BOUNDARIES_JSON: &str = include_str!("../../../assets/boundaries.json");

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SubDistrictFile {
    id: SubDistrictId,
    code: String,
    zh: String,
    en: String,
    /// Closed ring of `[lon, lat]` pairs (GeoJSON order), WGS-84.
    polygon: Vec<[f64; 2]>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DistrictFile {
    id: DistrictId,
    code: String,
    zh: String,
    en: String,
    sub_districts: Vec<SubDistrictFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct BoundariesFile {
    districts: Vec<DistrictFile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct District {
    pub id: DistrictId,
    pub code: String,
    pub zh: String,
    pub en: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubDistrict {
    pub id: SubDistrictId,
    pub district: DistrictId,
    pub code: String,
    pub zh: String,
    pub en: String,
    pub polygon: Polygon<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Boundaries {
    pub districts: Vec<District>,
    pub sub_districts: Vec<SubDistrict>,
}

impl Boundaries {
    pub fn from_json(json: &str) -> Result<Self, DomainError> {
        let f: BoundariesFile =
            serde_json::from_str(json).map_err(|e| DomainError::InvalidBoundaries(e.to_string()))?;
        let mut districts = Vec::new();
        let mut sub_districts = Vec::new();
        for d in f.districts {
            for s in d.sub_districts {
                if s.polygon.len() < 4 {
                    return Err(DomainError::InvalidBoundaries(format!("{} has fewer than 3 corners", s.code)));
                }
                for [lon, lat] in &s.polygon {
                    GeoPoint::new(*lat, *lon)?;
                }
                let ring: LineString<f64> = s.polygon.iter().map(|[x, y]| (*x, *y)).collect();
                sub_districts.push(SubDistrict {
                    id: s.id,
                    district: d.id,
                    code: s.code,
                    zh: s.zh,
                    en: s.en,
                    polygon: Polygon::new(ring, vec![]),
                });
            }
            districts.push(District { id: d.id, code: d.code, zh: d.zh, en: d.en });
        }
        Ok(Self { districts, sub_districts })
    }

    pub fn demo() -> Self {
        Self::from_json(DEMO_BOUNDARIES_JSON).expect("assets/boundaries.json is checked by a test")
    }

    /// The sub-district a point lies in, if any (first match: boundaries should not overlap).
    pub fn locate(&self, p: &GeoPoint) -> Option<&SubDistrict> {
        let pt = Point::new(p.lon.value(), p.lat.value());
        self.sub_districts.iter().find(|s| s.polygon.contains(&pt))
    }

    pub fn district(&self, id: DistrictId) -> Option<&District> {
        self.districts.iter().find(|d| d.id == id)
    }

    pub fn sub_district(&self, id: SubDistrictId) -> Option<&SubDistrict> {
        self.sub_districts.iter().find(|s| s.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_world_has_three_districts_and_twelve_sub_districts() {
        let b = Boundaries::demo();
        assert_eq!(b.districts.len(), 3);
        assert_eq!(b.sub_districts.len(), 12);
    }

    #[test]
    fn a_point_near_hubin_is_located_and_the_sea_is_not() {
        let b = Boundaries::demo();
        let hubin = b.locate(&GeoPoint::new(30.2600, 120.1650).unwrap()).expect("in Shangcheng");
        assert_eq!(hubin.zh, "湖滨街道");
        assert_eq!(b.district(hubin.district).unwrap().zh, "上城区");
        assert!(b.locate(&GeoPoint::new(30.0, 122.5).unwrap()).is_none());
    }
}
