//! Test-only helpers used by several crates' tests (a dev-dependency only; nothing ships with it):
//! photo-like bytes for protocol and storage tests, and the drafts a phone's capture screen sends.

use chrono::{DateTime, FixedOffset};
use xuncha_domain::finding::RawPosition;
use xuncha_domain::{FindingDraft, PhotoHash, PositionSource, Severity};

/// `n` bytes that start (FF D8) and end (FF D9) like a JPEG and differ per `seed`; the rest is noise, so
/// they do not compress. The server and the blob stores check only the SHA-256, never decode.
pub fn fake_jpeg(n: usize, seed: u64) -> Vec<u8> {
    assert!(n >= 4, "a fake JPEG needs its start and end markers");
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v: Vec<u8> = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    v[..2].copy_from_slice(&[0xFF, 0xD8]);
    v[n - 2..].copy_from_slice(&[0xFF, 0xD9]);
    v
}

/// What a phone sends for an overflowing bin on 湖滨路 (inside the demo's 湖滨街道), `i` × 11 m north of
/// its corner, with the given description, photos and observation time.
pub fn bin_draft(
    description: String,
    i: usize,
    photos: Vec<PhotoHash>,
    observed_at: DateTime<FixedOffset>,
) -> FindingDraft {
    FindingDraft {
        category: "living_environment".into(),
        subcategory: "overflowing_bin".into(),
        description,
        address: format!("湖滨路 {i} 号"),
        severity: Severity::Normal,
        position: Some(RawPosition {
            lat: 30.2600 + i as f64 * 0.0001,
            lon: 120.1650,
            accuracy_m: Some(6.0),
            source: PositionSource::DeviceGps,
        }),
        photos,
        observed_at,
    }
}

/// 2026-11-20 09:30 in Hangzhou: a fixed day for tests that list by day.
pub fn demo_morning() -> DateTime<FixedOffset> {
    "2026-11-20T09:30:00+08:00".parse().expect("a valid time")
}

/// Now, as a phone in China records it (UTC+8).
pub fn now_in_china() -> DateTime<FixedOffset> {
    chrono::Utc::now().with_timezone(&FixedOffset::east_opt(8 * 3600).expect("a valid offset"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn fake_jpegs_differ_by_seed_and_keep_their_markers() {
        let (a, b) = (super::fake_jpeg(1000, 1), super::fake_jpeg(1000, 2));
        assert_ne!(a, b);
        assert_eq!((&a[..2], &a[998..]), (&[0xFF, 0xD8][..], &[0xFF, 0xD9][..]));
        assert_eq!(a, super::fake_jpeg(1000, 1));
    }
}
