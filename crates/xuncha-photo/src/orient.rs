//! Making a photo upright from its EXIF orientation.
//!
//! Why here and not in the viewer: the stored JPEG carries no EXIF, so a viewer would have no way
//! to know; the pixels themselves must be upright.

use image::metadata::Orientation;
use image::DynamicImage;

/// Applies EXIF orientation 1–8 (anything else is treated as 1, "as stored").
/// Done after the downscale, so the rotation copies 2048-px pixels, not camera-sized ones.
pub(crate) fn upright(img: &mut DynamicImage, exif_orientation: u16) {
    let o = u8::try_from(exif_orientation).ok().and_then(Orientation::from_exif);
    if let Some(o) = o {
        img.apply_orientation(o);
    }
}
