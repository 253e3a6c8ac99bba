//! An iPhone-style HEIC: pixels stored sideways with the turn in the container (`irot`) *and* EXIF
//! Orientation 6 saying the same thing. libheif applies `irot` while decoding, so the EXIF tag must not be
//! applied a second time (that would leave the photo upside down or sideways). No real iPhone file can be
//! fetched on this machine, so the file is made here with libheif's encoder, which writes `irot` for an
//! orientation, plus an EXIF block like an iPhone's.
#![cfg(feature = "heic")]

use libheif_rs::{
    Channel, ColorSpace, CompressionFormat, EncoderQuality, EncodingOptions, HeifContext, Image, ImageOrientation,
    LibHeif, RgbChroma,
};

/// A big-endian TIFF block with one tag: Orientation = 6 (rotate 90° clockwise to display).
const EXIF_ORIENTATION_6: [u8; 26] = [
    b'M', b'M', 0, 42, 0, 0, 0, 8, // header, first IFD at 8
    0, 1, // one entry
    0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, // Orientation, SHORT, 1, value 6
    0, 0, 0, 0, // no next IFD
];

/// 320×240 stored pixels: left half red, right half blue. Displayed turned 90° clockwise, the red half is
/// on top of a 240×320 portrait.
fn iphone_like_heic(orientation: ImageOrientation, exif: bool) -> Option<Vec<u8>> {
    let lib = LibHeif::new();
    let Ok(mut encoder) = lib.encoder_for_format(CompressionFormat::Hevc) else {
        return None;
    };
    encoder.set_quality(EncoderQuality::Lossy(90)).unwrap();
    let (w, h) = (320u32, 240u32);
    let mut image = Image::new(w, h, ColorSpace::Rgb(RgbChroma::Rgb)).unwrap();
    image.create_plane(Channel::Interleaved, w, h, 8).unwrap();
    {
        let planes = image.planes_mut();
        let p = planes.interleaved.unwrap();
        for y in 0..h as usize {
            for x in 0..w as usize {
                let px = &mut p.data[y * p.stride + x * 3..][..3];
                px.copy_from_slice(if x < w as usize / 2 { &[220, 20, 20] } else { &[20, 20, 220] });
            }
        }
    }
    let mut ctx = HeifContext::new().unwrap();
    let mut options = EncodingOptions::new().unwrap();
    options.set_image_orientation(orientation);
    let handle = ctx.encode_image(&image, &mut encoder, Some(options)).unwrap();
    if exif {
        ctx.add_exif_metadata(&handle, &EXIF_ORIENTATION_6).unwrap();
    }
    Some(ctx.write_to_bytes().unwrap())
}

fn mean_rgb(img: &image::RgbImage, y0: u32, y1: u32) -> [u32; 3] {
    let mut sum = [0u64; 3];
    let mut n = 0u64;
    for y in y0..y1 {
        for x in 0..img.width() {
            let p = img.get_pixel(x, y);
            for c in 0..3 {
                sum[c] += u64::from(p[c]);
            }
            n += 1;
        }
    }
    sum.map(|s| (s / n) as u32)
}

#[test]
fn irot_and_exif_orientation_together_turn_the_photo_once() {
    let Some(heic) = iphone_like_heic(ImageOrientation::Rotate90Cw, true) else {
        panic!(
            "libheif was built without an HEVC encoder (install libx265-dev and rebuild): cannot make the test file"
        );
    };
    assert!(heic.windows(4).any(|w| w == b"irot"), "libheif wrote no irot box");
    let photo = xuncha_photo::ingest(&heic).unwrap();
    assert_eq!(photo.exif.orientation, 6, "the EXIF tag is read (and reported)");
    let img = image::load_from_memory(&photo.stored).unwrap().to_rgb8();
    assert!(img.height() > img.width(), "portrait once turned: {}×{}", img.width(), img.height());
    let (top, bottom) = (mean_rgb(&img, 0, img.height() / 3), mean_rgb(&img, img.height() * 2 / 3, img.height()));
    assert!(top[0] > 150 && top[2] < 100, "red on top (turned once, clockwise): {top:?}");
    assert!(bottom[2] > 150 && bottom[0] < 100, "blue at the bottom: {bottom:?}");
}

#[test]
fn irot_alone_is_applied() {
    let Some(heic) = iphone_like_heic(ImageOrientation::Rotate90Cw, false) else {
        panic!("libheif was built without an HEVC encoder");
    };
    let photo = xuncha_photo::ingest(&heic).unwrap();
    let img = image::load_from_memory(&photo.stored).unwrap().to_rgb8();
    assert!(img.height() > img.width());
    assert!(mean_rgb(&img, 0, img.height() / 3)[0] > 150);
}
