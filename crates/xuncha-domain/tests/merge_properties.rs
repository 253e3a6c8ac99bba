//! Properties of the field-level merge over random edits: the guarantee behind "a stale edit is neither
//! dropped nor silently overwritten". For every field a device changed, either the merged result holds
//! the device's value, or a conflict hands that value back beside the server's; a field the device did
//! not change never moves away from the server's value; and merging is a no-op when nothing is stale.

use proptest::prelude::*;
use xuncha_domain::finding::{FindingDraft, FindingFields, RawPosition};
use xuncha_domain::merge::{merge, Field};
use xuncha_domain::{PhotoHash, PositionSource, Severity, Taxonomy};

fn fields(desc: u8, addr: u8, sev: u8, pos: Option<u8>, photos: &[u8], cat: bool) -> FindingFields {
    let (category, subcategory) =
        if cat { ("fire_safety", "blocked_fire_lane") } else { ("living_environment", "overflowing_bin") };
    FindingDraft {
        category: category.into(),
        subcategory: subcategory.into(),
        description: format!("描述{desc}"),
        address: format!("地址{addr}"),
        severity: [Severity::Low, Severity::Normal, Severity::High][sev as usize % 3],
        position: pos.map(|p| RawPosition {
            lat: 30.0 + f64::from(p) / 100.0,
            lon: 120.0,
            accuracy_m: Some(5.0),
            source: PositionSource::DeviceGps,
        }),
        photos: photos.iter().map(|b| PhotoHash::from_bytes([*b; 32])).collect(),
        observed_at: "2026-11-20T09:30:00+08:00".parse().unwrap(),
    }
    .validate(&Taxonomy::builtin())
    .unwrap()
}

fn any_fields() -> impl Strategy<Value = FindingFields> {
    (0u8..3, 0u8..3, 0u8..3, proptest::option::of(0u8..3), proptest::collection::btree_set(0u8..6, 0..4), any::<bool>())
        .prop_map(|(d, a, s, p, ph, c)| fields(d, a, s, p, &ph.into_iter().collect::<Vec<_>>(), c))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_change_is_dropped_or_silently_overwritten(base in any_fields(), yours in any_fields(), theirs in any_fields()) {
        let m = merge(&base, &yours, &theirs);
        for f in Field::ALL {
            let (b, y, t, r) = (f.value(&base), f.value(&yours), f.value(&theirs), f.value(&m.fields));
            let conflict = m.conflicts.iter().find(|c| c.field == f);
            if y == b {
                prop_assert_eq!(&r, &t, "{:?}: untouched by you, the server's value stays", f);
                prop_assert!(conflict.is_none());
            } else if let Some(c) = conflict {
                prop_assert_eq!(&c.yours, &y, "{:?}: your value is handed back", f);
                prop_assert_eq!(&c.theirs, &t);
                prop_assert_eq!(&r, &t, "{:?}: the server keeps its value until you choose", f);
                prop_assert!(t != b && t != y, "{:?}: a conflict only when both changed it differently", f);
            } else if f == Field::Photos {
                // Set merge: every photo you added is there, every photo you removed is gone.
                for h in yours.photos.iter().filter(|h| !base.photos.contains(h)) {
                    prop_assert!(m.fields.photos.contains(h));
                }
                for h in base.photos.iter().filter(|h| !yours.photos.contains(h)) {
                    prop_assert!(!m.fields.photos.contains(h));
                }
            } else {
                prop_assert_eq!(&r, &y, "{:?}: your change is applied", f);
            }
        }
    }

    #[test]
    fn nothing_stale_means_nothing_to_merge(base in any_fields(), yours in any_fields()) {
        let m = merge(&base, &yours, &base);
        prop_assert!(m.conflicts.is_empty());
        prop_assert_eq!(m.fields, yours.clone());
        let again = merge(&base, &yours, &yours);
        prop_assert!(again.conflicts.is_empty(), "the same edit arriving twice conflicts with nothing");
        prop_assert_eq!(again.fields, yours);
    }
}
