//! The eight EXIF orientations all come out upright: same size and nearly the same pixels as the
//! orientation-1 photo of their set, while a wrongly turned or mirrored copy is clearly different.

mod common;

use common::{grey_of, mad};
use image::DynamicImage;

/// On the normalised 32×32 grey grid, upright outputs differ from `_1` by about 3–4 (the fixtures'
/// own re-compression, the different digit painted on each, our resampling); wrong transforms of
/// `_1` differ by 27 (a left-right mirror of these nearly symmetric waterfall scenes) to 66.
const SAME: f64 = 12.0;

/// The seven ways to get it wrong, applied to the upright photo.
fn wrong_transforms(img: &DynamicImage) -> Vec<(&'static str, DynamicImage)> {
    vec![
        ("rotate90", img.rotate90()),
        ("rotate180", img.rotate180()),
        ("rotate270", img.rotate270()),
        ("fliph", img.fliph()),
        ("flipv", img.flipv()),
        ("transpose", img.rotate90().fliph()),
        ("transverse", img.rotate270().fliph()),
    ]
}

fn check_set(set: &str) {
    let base = xuncha_photo::ingest(&common::fixture(&format!("orientation/{set}_1.jpg"))).expect("ingest _1");
    assert_eq!(base.exif.orientation, 1);
    let upright = image::load_from_memory(&base.stored).expect("decode");
    let base_grey = grey_of(&upright);
    let wrong: Vec<_> = wrong_transforms(&upright).into_iter().map(|(n, i)| (n, grey_of(&i))).collect();

    // The threshold must catch mistakes: every wrong transform of the upright photo fails it.
    for (name, g) in &wrong {
        let d = mad(&base_grey, g);
        assert!(d > SAME, "{set}: a {name} copy differs only by {d:.1}; the test could not catch it");
    }

    for n in 2..=8 {
        let p = xuncha_photo::ingest(&common::fixture(&format!("orientation/{set}_{n}.jpg"))).expect("ingest");
        assert_eq!(p.exif.orientation, n, "{set}_{n}");
        assert_eq!((p.width, p.height), (base.width, base.height), "{set}_{n} size");
        let out = grey_of(&image::load_from_memory(&p.stored).expect("decode"));
        let d = mad(&base_grey, &out);
        assert!(d < SAME, "{set}_{n} is not upright: differs from {set}_1 by {d:.1}");
        // And it is closer to the upright photo than to any wrong transform of it.
        for (name, g) in &wrong {
            let dw = mad(g, &out);
            assert!(d < dw, "{set}_{n} looks more like a {name} of {set}_1 ({dw:.1}) than like it ({d:.1})");
        }
        // The thumbnail is upright too.
        let thumb = image::load_from_memory(&p.thumbnail).expect("decode thumbnail");
        assert_eq!(thumb.width() > thumb.height(), p.width > p.height, "{set}_{n} thumbnail shape");
        let dt = mad(&grey_of(&image::load_from_memory(&base.thumbnail).unwrap()), &grey_of(&thumb));
        assert!(dt < SAME, "{set}_{n} thumbnail differs by {dt:.1}");
    }
}

#[test]
fn landscape_orientations_come_out_upright() {
    check_set("landscape");
}

#[test]
fn portrait_orientations_come_out_upright() {
    check_set("portrait");
}
