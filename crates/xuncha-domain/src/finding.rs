//! A finding (问题/隐患): what an inspector saw, where, when, with photos; and its append-only history.

use crate::geo_point::{GeoPoint, Position, PositionSource};
use crate::ids::{FindingId, PhotoHash, TeamId, UserId};
use crate::message::DomainError;
use crate::status::{Action, Status};
use crate::taxonomy::{CategoryCode, Taxonomy};
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};

pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// A close-up and a wide shot are the norm; nine fills a phone's 3×3 grid.
pub const MAX_PHOTOS: usize = 9;

/// Free text, trimmed, at most [`MAX_DESCRIPTION_CHARS`] characters (not bytes: Chinese counts per character).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Description(String);

impl TryFrom<String> for Description {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, DomainError> {
        let t = s.trim();
        let n = t.chars().count();
        if n > MAX_DESCRIPTION_CHARS {
            return Err(DomainError::DescriptionTooLong(n));
        }
        Ok(Self(t.to_string()))
    }
}

impl From<Description> for String {
    fn from(d: Description) -> String {
        d.0
    }
}

impl Description {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    #[default]
    Normal,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Low, Self::Normal, Self::High].into_iter().find(|x| x.as_str() == s)
    }
}

/// A position as a person or a sensor typed it: raw numbers, checked by [`FindingDraft::validate`] so a
/// wrong value gets its own message instead of a generic parse error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RawPosition {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: Option<f64>,
    pub source: PositionSource,
}

impl RawPosition {
    pub fn validate(self) -> Result<Position, DomainError> {
        Ok(Position {
            point: GeoPoint::new(self.lat, self.lon)?,
            accuracy_m: self.accuracy_m.map(TryInto::try_into).transpose()?,
            source: self.source,
        })
    }
}

/// What the capture or edit screen sends. Unchecked; [`FindingDraft::validate`] turns it into fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingDraft {
    pub category: String,
    pub subcategory: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub severity: Severity,
    pub position: Option<RawPosition>,
    #[serde(default)]
    pub photos: Vec<PhotoHash>,
    pub observed_at: DateTime<FixedOffset>,
}

/// The checked, editable fields of a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingFields {
    pub category: CategoryCode,
    pub subcategory: CategoryCode,
    pub description: Description,
    pub address: String,
    pub severity: Severity,
    pub position: Option<Position>,
    pub photos: Vec<PhotoHash>,
    pub observed_at: DateTime<FixedOffset>,
}

impl FindingDraft {
    pub fn validate(self, taxonomy: &Taxonomy) -> Result<FindingFields, DomainError> {
        let category = CategoryCode::try_from(self.category)?;
        let subcategory = CategoryCode::try_from(self.subcategory)?;
        taxonomy.check(&category, &subcategory)?;
        let position = self.position.map(RawPosition::validate).transpose()?;
        if self.photos.len() > MAX_PHOTOS {
            return Err(DomainError::TooManyPhotos(MAX_PHOTOS));
        }
        let mut seen = std::collections::HashSet::new();
        if !self.photos.iter().all(|p| seen.insert(*p)) {
            return Err(DomainError::DuplicatePhoto);
        }
        let address: String = self.address.trim().chars().take(200).collect();
        Ok(FindingFields {
            category,
            subcategory,
            description: self.description.try_into()?,
            address,
            severity: self.severity,
            position,
            photos: self.photos,
            observed_at: self.observed_at,
        })
    }
}

/// A finding as both ends hold it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub id: FindingId,
    pub author: UserId,
    pub team: TeamId,
    #[serde(flatten)]
    pub fields: FindingFields,
    pub status: Status,
}

impl Finding {
    pub fn new(id: FindingId, author: UserId, team: TeamId, fields: FindingFields) -> Self {
        Self { id, author, team, fields, status: Status::Recorded }
    }

    /// Replaces the editable fields: only the author, only before review or after a return.
    pub fn edit(&mut self, editor: UserId, fields: FindingFields) -> Result<(), DomainError> {
        if editor != self.author {
            return Err(DomainError::NotAuthor);
        }
        if !self.status.editable_by_author() {
            return Err(DomainError::NotEditable(self.status.as_str()));
        }
        self.fields = fields;
        Ok(())
    }

    /// A finding goes to review only with a position and at least one photo.
    pub fn check_submittable(&self) -> Result<(), DomainError> {
        if self.fields.position.is_none() {
            return Err(DomainError::PositionRequired);
        }
        if self.fields.photos.is_empty() {
            return Err(DomainError::PhotoRequired);
        }
        Ok(())
    }
}

/// One line of a finding's history: who did what, when (server receipt time on the server; device
/// time until then). Never updated or deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub actor: UserId,
    #[serde(flatten)]
    pub kind: HistoryKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HistoryKind {
    Created,
    Edited,
    StatusChanged { from: Status, to: Status, action: Action },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> FindingDraft {
        FindingDraft {
            category: "fire_safety".into(),
            subcategory: "blocked_fire_lane".into(),
            description: "  小区东门消防通道被三轮车堵塞  ".into(),
            address: "延安路与庆春路交叉口向西50米路南".into(),
            severity: Severity::High,
            position: Some(RawPosition {
                lat: 30.2596,
                lon: 120.1650,
                accuracy_m: Some(8.0),
                source: PositionSource::DeviceGps,
            }),
            photos: vec![PhotoHash::from_bytes([1; 32])],
            observed_at: "2026-11-20T09:30:00+08:00".parse().unwrap(),
        }
    }

    #[test]
    fn a_good_draft_validates_and_trims() {
        let f = draft().validate(&Taxonomy::builtin()).unwrap();
        assert_eq!(f.description.as_str(), "小区东门消防通道被三轮车堵塞");
        assert_eq!(f.observed_at.offset().local_minus_utc(), 8 * 3600, "zone is kept");
    }

    #[test]
    fn each_bad_field_has_its_own_error() {
        let t = Taxonomy::builtin();
        let mut d = draft();
        d.category = "".into();
        assert_eq!(d.validate(&t), Err(DomainError::EmptyCategory));
        let mut d = draft();
        d.position.as_mut().unwrap().lat = 300.0;
        assert_eq!(d.validate(&t), Err(DomainError::LatitudeOutOfRange(300.0)));
        let mut d = draft();
        d.description = "字".repeat(MAX_DESCRIPTION_CHARS + 1);
        assert_eq!(d.validate(&t), Err(DomainError::DescriptionTooLong(MAX_DESCRIPTION_CHARS + 1)));
        let mut d = draft();
        d.photos.push(d.photos[0]);
        assert_eq!(d.validate(&t), Err(DomainError::DuplicatePhoto));
        let mut d = draft();
        d.photos = (0..=MAX_PHOTOS as u8).map(|i| PhotoHash::from_bytes([i; 32])).collect();
        assert_eq!(d.validate(&t), Err(DomainError::TooManyPhotos(MAX_PHOTOS)));
    }

    #[test]
    fn exactly_the_description_limit_is_accepted() {
        let mut d = draft();
        d.description = "字".repeat(MAX_DESCRIPTION_CHARS);
        assert!(d.validate(&Taxonomy::builtin()).is_ok());
    }

    #[test]
    fn only_the_author_edits_and_only_while_editable() {
        let t = Taxonomy::builtin();
        let author = UserId::new_v7();
        let mut f = Finding::new(FindingId::new_v7(), author, TeamId::new_v7(), draft().validate(&t).unwrap());
        assert_eq!(f.edit(UserId::new_v7(), draft().validate(&t).unwrap()), Err(DomainError::NotAuthor));
        assert!(f.edit(author, draft().validate(&t).unwrap()).is_ok());
        f.status = Status::Submitted;
        assert_eq!(f.edit(author, draft().validate(&t).unwrap()), Err(DomainError::NotEditable("submitted")));
    }

    #[test]
    fn submit_needs_position_and_photo() {
        let t = Taxonomy::builtin();
        let mut d = draft();
        d.position = None;
        let f = Finding::new(FindingId::new_v7(), UserId::new_v7(), TeamId::new_v7(), d.validate(&t).unwrap());
        assert_eq!(f.check_submittable(), Err(DomainError::PositionRequired));
    }

    #[test]
    fn finding_json_round_trips() {
        let t = Taxonomy::builtin();
        let f = Finding::new(FindingId::new_v7(), UserId::new_v7(), TeamId::new_v7(), draft().validate(&t).unwrap());
        let j = serde_json::to_string(&f).unwrap();
        assert_eq!(serde_json::from_str::<Finding>(&j).unwrap(), f);
    }
}
