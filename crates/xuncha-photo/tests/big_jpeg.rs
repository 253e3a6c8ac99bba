//! A 48-MP phone photo (8000×6000) goes through shrink-on-load: decoded at half size by the scaled
//! IDCT, never held at full size. Its own test binary, so the process's peak RSS is this test's alone.

use jpeg_encoder::{Encoder, ImageBuffer, JpegColorType, SamplingFactor};

const W: u16 = 8000;
const H: u16 = 6000;

/// Photo-like pixels made row by row (no 144-MB source buffer): gradients for large shapes, a
/// hashed noise for sensor grain and texture so the file compresses like a photo (~1 bit a pixel
/// is far too little for a test of memory), and a dark bar in the top-left quadrant so orientation
/// and scaling mistakes show.
struct Synthetic;

fn noise(x: u32, y: u32) -> u8 {
    let mut h = x.wrapping_mul(0x9E37_79B1) ^ y.wrapping_mul(0x85EB_CA77);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    (h >> 24) as u8
}

impl ImageBuffer for Synthetic {
    fn get_jpeg_color_type(&self) -> JpegColorType {
        JpegColorType::Ycbcr
    }
    fn width(&self) -> u16 {
        W
    }
    fn height(&self) -> u16 {
        H
    }
    fn fill_buffers(&self, y: u16, buffers: &mut [Vec<u8>; 4]) {
        let y32 = u32::from(y);
        for x in 0..u32::from(W) {
            let bar = x < 2000 && (1000..1400).contains(&y32);
            let base = if bar { 20 } else { 60 + (x * 120 / u32::from(W)) + (y32 * 60 / u32::from(H)) };
            buffers[0].push((base + u32::from(noise(x, y32)) / 8) as u8);
            buffers[1].push((108 + x * 40 / u32::from(W)) as u8);
            buffers[2].push((148 - y32 * 40 / u32::from(H)) as u8);
        }
    }
}

fn synthetic_48mp() -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out, 90);
    enc.set_sampling_factor(SamplingFactor::R_4_2_0);
    enc.encode_image(Synthetic).expect("encode the synthetic photo");
    // jpeg-encoder writes no EXIF: the photo is upright as stored.
    out
}

/// Peak resident memory of this process, in KiB (Linux).
fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM line");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("VmHWM value")
}

/// Resets the peak to the current RSS (Linux ≥ 4.0), so the next reading is the ingest's own peak.
fn reset_hwm() {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
}

#[test]
fn a_48_megapixel_jpeg_is_shrunk_on_load() {
    let bytes = synthetic_48mp();
    assert!(bytes.len() > 4_000_000, "synthetic photo compresses unlike a photo: {} bytes", bytes.len());
    reset_hwm();
    let before = vm_hwm_kib();
    let (p, stats) = xuncha_photo::ingest_with_stats(&bytes).expect("ingest 48 MP");
    let peak_growth_mib = (vm_hwm_kib() - before) / 1024;

    assert_eq!((stats.source_width, stats.source_height), (8000, 6000));
    // Half scale: 1/4 would give a 2000-px long edge, under the 2048 px we store.
    assert_eq!((stats.decoded_width, stats.decoded_height), (4000, 3000), "{stats:?}");
    assert_eq!((p.width, p.height), (2048, 1536));
    let thumb = image::load_from_memory(&p.thumbnail).expect("thumbnail decodes");
    assert_eq!((thumb.width(), thumb.height()), (320, 240));

    // The dark bar is where it was: top-left quadrant, at the scaled position.
    let stored = image::load_from_memory(&p.stored).expect("stored decodes").to_luma8();
    let at = |x: u32, y: u32| stored.get_pixel(x, y).0[0];
    assert!(at(500, 307) < 40, "bar missing: {}", at(500, 307));
    assert!(at(500, 100) > 60 && at(1500, 307) > 60, "bar in the wrong place");

    // A full-size decode alone is 144 MB of RGB; the half-scale one is 36 MB.
    assert!(peak_growth_mib < 100, "ingest of 48 MP raised the peak RSS by {peak_growth_mib} MiB");

    // Deterministic: the same bytes, the same name.
    let again = xuncha_photo::ingest(&bytes).expect("second ingest");
    assert_eq!(again.hash, p.hash);
    assert_eq!(again.stored, p.stored);
}
