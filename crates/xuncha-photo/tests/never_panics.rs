//! Every fixture file, photo or not, either ingests or gives a PhotoError with a message.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read fixtures dir") {
        let p = entry.expect("dir entry").path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn every_fixture_ingests_or_fails_with_a_message() {
    let mut files = Vec::new();
    walk(&common::fixtures(), &mut files);
    files.sort();
    assert!(files.len() >= 30, "fixtures missing: {}", files.len());
    let (mut ok, mut failed) = (0, 0);
    for f in &files {
        let bytes = std::fs::read(f).expect("read");
        let result = catch_unwind(AssertUnwindSafe(|| xuncha_photo::ingest(&bytes)));
        match result {
            Ok(Ok(p)) => {
                ok += 1;
                assert!(p.width.max(p.height) <= 2048 && p.width > 0 && p.height > 0, "{}", f.display());
                assert!(!p.stored.is_empty() && !p.thumbnail.is_empty(), "{}", f.display());
            }
            Ok(Err(e)) => {
                failed += 1;
                common::assert_bilingual(&e.user_message());
            }
            Err(_) => panic!("ingest panicked on {}", f.display()),
        }
        // thumbnail() must not panic either, whatever it is given.
        let t = catch_unwind(AssertUnwindSafe(|| xuncha_photo::thumbnail(&bytes)));
        assert!(t.is_ok(), "thumbnail panicked on {}", f.display());
    }
    // All real photos (the README is the only non-photo) are expected to ingest, malformed EXIF or not.
    assert_eq!(failed, 1, "only README.md should fail; {ok} ingested");
}

#[test]
fn malformed_exif_photos_ingest_without_exif_facts() {
    let mut files = Vec::new();
    walk(&common::fixtures().join("invalid"), &mut files);
    assert!(!files.is_empty());
    for f in files {
        let bytes = std::fs::read(&f).expect("read");
        let p = xuncha_photo::ingest(&bytes).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(p.exif.gps, None, "{}", f.display());
    }
}
