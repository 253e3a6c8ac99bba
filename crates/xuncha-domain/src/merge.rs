//! Field-level three-way merge of a stale edit: what the editing device saw (`base`), what it wants
//! (`yours`) and what the server holds now (`theirs`).
//!
//! Why per field: two phones of one inspector (or one phone that was offline for a day) edit the same
//! finding. Whole-record "last writer wins" silently drops one side; whole-record rejection makes the
//! person retype everything. Per field, only a field that *both* sides changed to different values is a
//! conflict — and then neither value is dropped: the server keeps its own, hands back both, and the person
//! chooses. Photos merge as a set (both sides' additions kept, both sides' removals applied), because "I
//! added a close-up" and "I added a wide shot" do not contradict each other.
//!
//! Pure: no clock, no I/O. Device clocks never take part — only what each side saw and wants.

use crate::finding::{FindingFields, MAX_PHOTOS};
use crate::ids::PhotoHash;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An editable field, as the user sees it. Category and sub-category are one choice, so one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Category,
    Description,
    Address,
    Severity,
    Position,
    Photos,
    ObservedAt,
}

impl Field {
    pub const ALL: [Field; 7] = [
        Field::Category,
        Field::Description,
        Field::Address,
        Field::Severity,
        Field::Position,
        Field::Photos,
        Field::ObservedAt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Category => "category",
            Field::Description => "description",
            Field::Address => "address",
            Field::Severity => "severity",
            Field::Position => "position",
            Field::Photos => "photos",
            Field::ObservedAt => "observed_at",
        }
    }

    pub fn parse(s: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// The field's value as JSON (category: `{category, subcategory}`), for showing both sides.
    pub fn value(self, f: &FindingFields) -> Value {
        let v = match self {
            Field::Category => serde_json::to_value(serde_json::json!({
                "category": f.category, "subcategory": f.subcategory
            })),
            Field::Description => serde_json::to_value(&f.description),
            Field::Address => serde_json::to_value(&f.address),
            Field::Severity => serde_json::to_value(f.severity),
            Field::Position => serde_json::to_value(f.position),
            Field::Photos => serde_json::to_value(&f.photos),
            Field::ObservedAt => serde_json::to_value(f.observed_at),
        };
        // Every field type serialises infallibly (no maps with non-string keys, no NaN positions: a
        // GeoPoint is range-checked), so Null is unreachable; it is still a safe thing to show.
        v.unwrap_or(Value::Null)
    }

    fn same(self, a: &FindingFields, b: &FindingFields) -> bool {
        match self {
            Field::Category => a.category == b.category && a.subcategory == b.subcategory,
            Field::Description => a.description == b.description,
            Field::Address => a.address == b.address,
            Field::Severity => a.severity == b.severity,
            Field::Position => a.position == b.position,
            Field::Photos => a.photos == b.photos,
            Field::ObservedAt => a.observed_at == b.observed_at,
        }
    }

    /// Sets this field of `into` from a value produced by [`Field::value`] (a conflict's side).
    pub fn set_value(self, into: &mut FindingFields, v: &Value) -> Result<(), serde_json::Error> {
        use serde_json::from_value as from;
        match self {
            Field::Category => {
                #[derive(Deserialize)]
                struct Pair {
                    category: crate::taxonomy::CategoryCode,
                    subcategory: crate::taxonomy::CategoryCode,
                }
                let p: Pair = from(v.clone())?;
                into.category = p.category;
                into.subcategory = p.subcategory;
            }
            Field::Description => into.description = from(v.clone())?,
            Field::Address => into.address = from(v.clone())?,
            Field::Severity => into.severity = from(v.clone())?,
            Field::Position => into.position = from(v.clone())?,
            Field::Photos => into.photos = from(v.clone())?,
            Field::ObservedAt => into.observed_at = from(v.clone())?,
        }
        Ok(())
    }

    /// Sets this field of `into` to its value in `from`.
    pub fn copy(self, from: &FindingFields, into: &mut FindingFields) {
        match self {
            Field::Category => {
                into.category = from.category.clone();
                into.subcategory = from.subcategory.clone();
            }
            Field::Description => into.description = from.description.clone(),
            Field::Address => into.address = from.address.clone(),
            Field::Severity => into.severity = from.severity,
            Field::Position => into.position = from.position,
            Field::Photos => into.photos = from.photos.clone(),
            Field::ObservedAt => into.observed_at = from.observed_at,
        }
    }
}

/// A field both sides changed to different values. The server kept `theirs`; `yours` is the editing
/// device's value, handed back so the person can choose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldConflict {
    pub field: Field,
    pub yours: Value,
    pub theirs: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub fields: FindingFields,
    pub conflicts: Vec<FieldConflict>,
}

/// Merges `yours` (based on `base`) into `theirs`, field by field:
/// unchanged by you → theirs; changed by you only, or both to the same value → yours;
/// changed by both to different values → theirs, and a [`FieldConflict`].
pub fn merge(base: &FindingFields, yours: &FindingFields, theirs: &FindingFields) -> Merged {
    let mut fields = theirs.clone();
    let mut conflicts = Vec::new();
    for field in Field::ALL {
        if field.same(yours, base) || field.same(yours, theirs) {
            continue;
        }
        if field.same(theirs, base) {
            field.copy(yours, &mut fields);
            continue;
        }
        if field == Field::Photos {
            if let Some(photos) = merge_photos(&base.photos, &yours.photos, &theirs.photos) {
                fields.photos = photos;
                continue;
            }
        }
        conflicts.push(FieldConflict { field, yours: field.value(yours), theirs: field.value(theirs) });
    }
    Merged { fields, conflicts }
}

/// Set merge: theirs, minus what you removed, plus what you added (in your order). `None` when the
/// result would exceed [`MAX_PHOTOS`]: then the person decides which to keep.
fn merge_photos(base: &[PhotoHash], yours: &[PhotoHash], theirs: &[PhotoHash]) -> Option<Vec<PhotoHash>> {
    let removed: Vec<&PhotoHash> = base.iter().filter(|h| !yours.contains(h)).collect();
    let mut out: Vec<PhotoHash> = theirs.iter().filter(|h| !removed.contains(h)).copied().collect();
    for h in yours {
        if !base.contains(h) && !out.contains(h) {
            out.push(*h);
        }
    }
    (out.len() <= MAX_PHOTOS).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{FindingDraft, RawPosition, Severity};
    use crate::geo_point::PositionSource;
    use crate::taxonomy::Taxonomy;

    fn fields(description: &str, photos: &[u8]) -> FindingFields {
        FindingDraft {
            category: "fire_safety".into(),
            subcategory: "blocked_fire_lane".into(),
            description: description.into(),
            address: "延安路".into(),
            severity: Severity::Normal,
            position: Some(RawPosition {
                lat: 30.26,
                lon: 120.165,
                accuracy_m: Some(5.0),
                source: PositionSource::DeviceGps,
            }),
            photos: photos.iter().map(|b| PhotoHash::from_bytes([*b; 32])).collect(),
            observed_at: "2026-11-20T09:30:00+08:00".parse().unwrap(),
        }
        .validate(&Taxonomy::builtin())
        .unwrap()
    }

    #[test]
    fn different_fields_both_survive() {
        let base = fields("旧", &[1]);
        let mut yours = base.clone();
        yours.severity = Severity::High;
        let theirs = fields("新描述", &[1]);
        let m = merge(&base, &yours, &theirs);
        assert!(m.conflicts.is_empty());
        assert_eq!((m.fields.description.as_str(), m.fields.severity), ("新描述", Severity::High));
    }

    #[test]
    fn same_field_changed_twice_is_a_conflict_and_theirs_is_kept() {
        let base = fields("旧", &[1]);
        let yours = fields("我的描述", &[1]);
        let theirs = fields("服务器上的描述", &[1]);
        let m = merge(&base, &yours, &theirs);
        assert_eq!(m.fields, theirs);
        assert_eq!(
            m.conflicts,
            vec![FieldConflict {
                field: Field::Description,
                yours: Value::from("我的描述"),
                theirs: Value::from("服务器上的描述")
            }]
        );
    }

    #[test]
    fn the_same_change_on_both_sides_is_no_conflict() {
        let base = fields("旧", &[1]);
        let yours = fields("一样", &[1]);
        let m = merge(&base, &yours, &yours.clone());
        assert!(m.conflicts.is_empty());
        assert_eq!(m.fields, yours);
    }

    #[test]
    fn photos_merge_as_a_set() {
        let base = fields("x", &[1, 2]);
        let yours = fields("x", &[1, 2, 3]); // added 3
        let theirs = fields("x", &[2, 4]); // removed 1, added 4
        let m = merge(&base, &yours, &theirs);
        assert!(m.conflicts.is_empty());
        let want: Vec<_> = [2u8, 4, 3].iter().map(|b| PhotoHash::from_bytes([*b; 32])).collect();
        assert_eq!(m.fields.photos, want);
    }

    #[test]
    fn too_many_photos_after_merging_is_a_conflict() {
        let base = fields("x", &[1]);
        let yours = fields("x", &[1, 2, 3, 4, 5, 6]);
        let theirs = fields("x", &[1, 10, 11, 12, 13, 14]);
        let m = merge(&base, &yours, &theirs);
        assert_eq!(m.conflicts.len(), 1);
        assert_eq!(m.conflicts[0].field, Field::Photos);
        assert_eq!(m.fields.photos, theirs.photos);
    }

    #[test]
    fn a_conflict_side_sets_the_field_back() {
        let a = fields("甲", &[1]);
        let mut b = fields("乙", &[2, 3]);
        b.severity = Severity::High;
        let mut out = a.clone();
        for f in Field::ALL {
            f.set_value(&mut out, &f.value(&b)).unwrap();
        }
        assert_eq!(out, b);
    }

    #[test]
    fn field_names_round_trip() {
        for f in Field::ALL {
            assert_eq!(Field::parse(f.as_str()), Some(f));
            assert_eq!(serde_json::to_value(f).unwrap(), Value::from(f.as_str()));
        }
    }
}
