//! Inputs that are not usable photos: each gets its own error code and a bilingual message.

mod common;

fn code_of(bytes: &[u8]) -> String {
    let err = match xuncha_photo::ingest(bytes) {
        Ok(_) => panic!("ingest accepted bad input"),
        Err(e) => e,
    };
    let m = err.user_message();
    common::assert_bilingual(&m);
    m.code
}

#[test]
fn empty_file() {
    assert_eq!(code_of(&[]), "photo.empty");
    assert_eq!(xuncha_photo::thumbnail(&[]).unwrap_err().user_message().code, "photo.empty");
}

#[test]
fn text_file() {
    assert_eq!(code_of("巡查日志\n第一条：消防通道堵塞。\n".as_bytes()), "photo.unsupported_format");
    let m = xuncha_photo::ingest(b"hello").unwrap_err().user_message();
    assert!(m.en.contains("text") && m.en.contains("JPEG"), "{m:?}");
}

#[test]
fn pdf_is_named() {
    let m = xuncha_photo::ingest(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj").unwrap_err().user_message();
    assert_eq!(m.code, "photo.unsupported_format");
    assert!(m.zh.contains("PDF") && m.en.contains("PDF"), "{m:?}");
}

#[test]
fn truncated_jpeg() {
    let full = common::fixture("gps/DSCN0010.jpg");
    assert_eq!(code_of(&full[..full.len() / 2]), "photo.truncated");
    // Cut inside the headers, and just before EOI.
    assert_eq!(code_of(&full[..300]), "photo.truncated");
    assert_eq!(code_of(&full[..full.len() - 2]), "photo.truncated");
}

#[test]
fn truncated_png() {
    let img =
        image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(200, 200, |x, y| image::Rgb([x as u8, y as u8, 7])));
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    let code = code_of(&png[..png.len() / 2]);
    assert!(code == "photo.truncated" || code == "photo.corrupt", "{code}");
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A PNG whose header claims `w`×`h` RGB pixels, followed by a tiny IDAT: a decompression bomb's shape.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, adaptive filter, no interlace
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(&mut out, b"IDAT", &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

#[test]
fn crc_matches_the_png_spec() {
    // The IEND chunk's CRC is fixed by the specification.
    assert_eq!(crc32(b"IEND"), 0xAE42_6082);
}

#[test]
fn png_header_claiming_30000_squared() {
    let bytes = png_claiming(30_000, 30_000);
    assert_eq!(code_of(&bytes), "photo.dimensions_too_large");
    let m = xuncha_photo::ingest(&bytes).unwrap_err().user_message();
    assert!(m.en.contains("30000×30000"), "{m:?}");
}

#[test]
fn over_100_megapixels_with_sides_under_20000() {
    // 15000 × 7000 = 105 MP.
    assert_eq!(code_of(&png_claiming(15_000, 7_000)), "photo.dimensions_too_large");
    // One side over 20,000 although only 20 MP.
    assert_eq!(code_of(&png_claiming(20_001, 1_000)), "photo.dimensions_too_large");
}

#[test]
fn heic_ftyp_header() {
    let mut heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic".to_vec();
    heic.extend_from_slice(&[0; 64]);
    // Android phones often write the generic HEIF major brand.
    let mut mif1 = b"\0\0\0\x1cftypmif1\0\0\0\0mif1heicmiaf".to_vec();
    mif1.extend_from_slice(&[0; 64]);
    if cfg!(feature = "heic") {
        // Recognised as HEIC, handed to libheif, which finds no image in it.
        assert_eq!(code_of(&heic), "photo.heic_decode_failed");
        assert_eq!(code_of(&mif1), "photo.heic_decode_failed");
        assert_eq!(xuncha_photo::format_name(&heic), Some("HEIC"));
    } else {
        assert_eq!(code_of(&heic), "photo.heic_unsupported");
        let m = xuncha_photo::ingest(&heic).unwrap_err().user_message();
        assert!(m.zh.contains("兼容性最佳") && m.en.contains("Most Compatible"), "{m:?}");
        assert_eq!(code_of(&mif1), "photo.heic_unsupported");
    }
}

#[test]
fn file_over_40_mib() {
    let mut big = common::fixture("Canon_40D.jpg");
    big.resize(40 * 1024 * 1024 + 1, 0);
    assert_eq!(code_of(&big), "photo.file_too_large");
}

#[test]
fn corrupt_jpeg_data() {
    // A well-formed marker structure around garbage: SOI, SOF0 claiming 0×0, EOI.
    let bytes = [0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, 0, 0, 0, 0, 1, 1, 0x11, 0, 0xFF, 0xD9];
    let code = code_of(&bytes);
    assert!(code == "photo.corrupt" || code == "photo.truncated", "{code}");
}
