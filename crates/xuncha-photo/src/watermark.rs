//! Watermarks for exported copies: a dark band at the bottom-left of the photo with a few lines of
//! white text (time, position, category), as Chinese inspection apps stamp their photos.
//!
//! The stored photo is evidence and is named by its hash, so it is never touched: [`watermark`] reads
//! the stored bytes and returns a new JPEG. Chinese text needs a CJK font; none is shipped (Noto Sans
//! CJK is 20 MB and has its own licence), one is found on the machine at run time. The search is
//! [`FontSource::locate`], which is handed the function that reads files, so this crate itself still
//! does no file I/O.

use crate::decode::{self, Decoded};
use crate::{encode, sniff, PhotoError, STORED_QUALITY};
use ab_glyph::{point, Font, FontVec, GlyphId, PxScale, ScaleFont};
use image::{DynamicImage, RgbImage};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where CJK fonts live, most wanted first. Bold before Regular: thin strokes of white text break up
/// in JPEG's 4:2:0 chroma and on a sunlit phone screen. Debian/Ubuntu `fonts-noto-cjk` first (what
/// `scripts/setup.sh` installs), then other Debian packages, Fedora, Android, macOS and Windows.
pub const SYSTEM_FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Medium.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/system/fonts/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "C:\\Windows\\Fonts\\msyh.ttc",
    "C:\\Windows\\Fonts\\simhei.ttf",
];

/// A character every usable font must have: the app's own name (巡查). A Latin-only font would draw
/// every Chinese character as an empty box, which is worse than an error.
const PROBE: [char; 2] = ['巡', '查'];

/// Character size (em: one Chinese character is one em wide) as a fraction of the image width: 1/40
/// gives 51 px on a 2048-px photo, about 10 px when a phone shows the whole photo across its screen.
const EM_PER_WIDTH: f32 = 1.0 / 40.0;
/// Below this, strokes of Chinese characters merge (a 320-px thumbnail is never watermarked, but a
/// small photo from an old camera may be).
const MIN_EM_PX: f32 = 14.0;
/// How much of the photo shows through the band: dark enough for white text on a white wall.
const BAND_KEEP: f32 = 0.45;

/// A parsed CJK font, ready to draw with. Load it once per export, not once per photo: parsing a
/// 20 MB collection is the slow part.
pub struct FontSource {
    font: FontVec,
    origin: String,
    family: String,
}

impl std::fmt::Debug for FontSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FontSource").field("origin", &self.origin).field("family", &self.family).finish_non_exhaustive()
    }
}

impl FontSource {
    /// A font from its bytes (.ttf, .otf or a .ttc collection). In a collection the Simplified
    /// Chinese face is chosen (Noto's `.ttc` holds JP, KR, SC, TC and HK faces whose glyphs differ
    /// for the same character). `origin` names it in logs and errors (usually the path).
    pub fn from_bytes(bytes: Vec<u8>, origin: impl Into<String>) -> Result<Self, PhotoError> {
        let origin = origin.into();
        let invalid = |detail: String| PhotoError::FontInvalid { origin: origin.clone(), detail };
        let (index, family) = simplified_chinese_face(&bytes);
        let font = FontVec::try_from_vec_and_index(bytes, index).map_err(|e| invalid(e.to_string()))?;
        if PROBE.iter().any(|&c| font.glyph_id(c) == GlyphId(0)) {
            return Err(invalid("the font has no Chinese characters".into()));
        }
        tracing::debug!(%origin, index, %family, "watermark font loaded");
        Ok(Self { font, origin, family })
    }

    /// The font at `explicit`, or else the first usable one of [`SYSTEM_FONT_PATHS`]. `read` reads a
    /// file (pass `std::fs::read`); it is a parameter so that this crate stays free of file I/O.
    /// An explicit path that cannot be used is an error, not a reason to quietly take another font.
    pub fn locate(
        explicit: Option<&Path>,
        mut read: impl FnMut(PathBuf) -> std::io::Result<Vec<u8>>,
    ) -> Result<Self, PhotoError> {
        if let Some(path) = explicit {
            let bytes = read(path.to_path_buf()).map_err(|e| {
                tracing::warn!(path = %path.display(), error = %e, "watermark font not readable");
                PhotoError::FontNotFound { searched: vec![path.to_path_buf()] }
            })?;
            return Self::from_bytes(bytes, path.display().to_string());
        }
        for p in SYSTEM_FONT_PATHS {
            let path = Path::new(p);
            let Ok(bytes) = read(path.to_path_buf()) else { continue };
            match Self::from_bytes(bytes, *p) {
                Ok(f) => return Ok(f),
                Err(e) => tracing::warn!(path = p, error = %e, "skipping unusable font"),
            }
        }
        Err(PhotoError::FontNotFound { searched: SYSTEM_FONT_PATHS.iter().map(PathBuf::from).collect() })
    }

    /// Where the font came from (a path, or what the caller named it).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The chosen face's family name, e.g. "Noto Sans CJK SC" (empty if the font names none).
    pub fn family(&self) -> &str {
        &self.family
    }
}

/// The face of a collection whose family name says Simplified Chinese ("… SC", "… CN", "… GB"),
/// else the first face, with its family name. A single font is face 0.
fn simplified_chinese_face(bytes: &[u8]) -> (u32, String) {
    let family = |i: u32| -> Vec<String> {
        let Ok(face) = ttf_parser::Face::parse(bytes, i) else { return Vec::new() };
        face.names()
            .into_iter()
            .filter(|n| n.name_id == ttf_parser::name_id::FAMILY)
            .filter_map(|n| n.to_string())
            .collect()
    };
    let count = ttf_parser::fonts_in_collection(bytes).unwrap_or(1);
    for i in 0..count {
        let names = family(i);
        if let Some(sc) = names.into_iter().find(|n| n.ends_with(" SC") || n.ends_with(" CN") || n.ends_with(" GB")) {
            return (i, sc);
        }
    }
    (0, family(0).into_iter().next().unwrap_or_default())
}

/// A copy of a stored JPEG with `lines` drawn in white on a semi-transparent dark band at the
/// bottom-left; the same size, encoded like the stored photo. `jpeg` is only read. Text scales with
/// the image width and shrinks further if the longest line would not fit. Empty `lines` (or only
/// empty strings) return the input bytes unchanged: re-encoding without a band only loses quality.
pub fn watermark(jpeg: &[u8], lines: &[String], font: &FontSource) -> Result<Vec<u8>, PhotoError> {
    let _span = tracing::debug_span!("photo.watermark", input_bytes = jpeg.len(), lines = lines.len()).entered();
    let t0 = Instant::now();
    let format = crate::check_input(jpeg)?;
    if format != sniff::Format::Jpeg {
        return Err(PhotoError::UnsupportedFormat { kind: Some(format.name()) });
    }
    if lines.iter().all(|l| l.trim().is_empty()) {
        return Ok(jpeg.to_vec());
    }
    let Decoded { img, icc, .. } = decode::decode(jpeg, format, None)?;
    // Grey photos become colour: the band is neutral, so nothing shifts, and one drawing path suffices.
    let mut rgb = match img {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.to_rgb8(),
    };
    draw_band(&mut rgb, lines, &font.font);
    let out = encode::jpeg(&DynamicImage::ImageRgb8(rgb), STORED_QUALITY, icc.as_deref())?;
    tracing::debug!(output_bytes = out.len(), ms = t0.elapsed().as_secs_f64() * 1000.0, "watermarked");
    Ok(out)
}

/// Darkens the band and draws the text into it.
fn draw_band(img: &mut RgbImage, lines: &[String], font: &FontVec) {
    let (w, h) = img.dimensions();
    let mut em = (w as f32 * EM_PER_WIDTH).max(MIN_EM_PX);
    // ab_glyph scales by line height (ascent − descent), which is ~1.45 em in Noto CJK.
    let height_per_em = font.height_unscaled() / font.units_per_em().unwrap_or(1000.0);
    // Long lines wrap rather than shrink: a long address at 1/40 of the width stays readable over
    // two lines. Only if the wrapped text would not fit the photo's height does the text get smaller.
    let (rows, scaled) = loop {
        let scaled = font.as_scaled(PxScale::from(em * height_per_em));
        let room = w as f32 - em; // half an em of padding each side
        let rows: Vec<String> = lines.iter().flat_map(|l| wrap(&scaled, l, room)).collect();
        let height = (scaled.height() + scaled.line_gap()) * rows.len() as f32 + em;
        if (height <= h as f32 && rows.iter().all(|r| line_width(&scaled, r) <= room)) || em <= 4.0 {
            break (rows, scaled);
        }
        em *= 0.9;
    };
    let pad = em * 0.5;
    let line_h = scaled.height() + scaled.line_gap();
    let widest = rows.iter().map(|r| line_width(&scaled, r)).fold(0.0_f32, f32::max);
    let band_w = ((widest + 2.0 * pad).ceil() as u32).min(w);
    let band_h = ((line_h * rows.len() as f32 + 2.0 * pad - scaled.line_gap()).ceil() as u32).min(h);
    let top = h - band_h;
    for y in top..h {
        for x in 0..band_w {
            let p = img.get_pixel_mut(x, y);
            for c in &mut p.0 {
                *c = (f32::from(*c) * BAND_KEEP).round() as u8;
            }
        }
    }
    let mut baseline = top as f32 + pad + scaled.ascent();
    for row in &rows {
        draw_line(img, &scaled, row, pad, baseline);
        baseline += line_h;
    }
}

/// Splits a line into rows no wider than `room`: after the last space that fits (Latin words stay
/// whole), else between any two characters (Chinese has no spaces and breaks anywhere). A character
/// wider than `room` on its own gets a row of its own; the caller then shrinks the text.
fn wrap<F: Font, S: ScaleFont<F>>(scaled: &S, line: &str, room: f32) -> Vec<String> {
    let line = line.trim_end();
    let mut rows = Vec::new();
    let mut rest = line;
    while line_width(scaled, rest) > room {
        let chars: Vec<(usize, char)> = rest.char_indices().collect();
        // The longest prefix that fits (at least one character).
        let mut fit = 1;
        while fit < chars.len() && line_width(scaled, &rest[..chars[fit].0]) <= room {
            fit += 1;
        }
        let fit = fit.saturating_sub(1).max(1);
        let cut = chars.get(fit).map_or(rest.len(), |c| c.0);
        let at_space = rest[..cut].rfind(' ').filter(|&i| i > 0);
        let (head, tail) = match at_space {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => rest.split_at(cut),
        };
        rows.push(head.trim_end().to_string());
        rest = tail.trim_start();
        if rest.is_empty() {
            break;
        }
    }
    if !rest.is_empty() || rows.is_empty() {
        rows.push(rest.to_string());
    }
    rows
}

/// Pen advance of a line, with kerning.
fn line_width<F: Font, S: ScaleFont<F>>(scaled: &S, line: &str) -> f32 {
    let mut x = 0.0;
    let mut prev: Option<GlyphId> = None;
    for c in line.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            x += scaled.kern(p, id);
        }
        x += scaled.h_advance(id);
        prev = Some(id);
    }
    x
}

/// Draws one line of white text, blending by glyph coverage (anti-aliased edges).
fn draw_line<F: Font, S: ScaleFont<F>>(img: &mut RgbImage, scaled: &S, line: &str, x0: f32, baseline: f32) {
    let (w, h) = img.dimensions();
    let mut caret = point(x0, baseline);
    let mut prev: Option<GlyphId> = None;
    for c in line.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            caret.x += scaled.kern(p, id);
        }
        let glyph = id.with_scale_and_position(scaled.scale(), caret);
        caret.x += scaled.h_advance(id);
        prev = Some(id);
        let Some(outlined) = scaled.outline_glyph(glyph) else { continue };
        let bounds = outlined.px_bounds();
        outlined.draw(|gx, gy, coverage| {
            let x = bounds.min.x as i64 + i64::from(gx);
            let y = bounds.min.y as i64 + i64::from(gy);
            if x < 0 || y < 0 || x >= i64::from(w) || y >= i64::from(h) {
                return;
            }
            let p = img.get_pixel_mut(x as u32, y as u32);
            let a = coverage.clamp(0.0, 1.0);
            for ch in &mut p.0 {
                *ch = (f32::from(*ch) * (1.0 - a) + 255.0 * a).round() as u8;
            }
        });
    }
}
