//! The photo tools as a person runs them: `photo-info` over the shared fixtures (every line is JSON,
//! bad files do not stop the run), and `import-photos` into a running server, after which the trainee
//! pulls the findings over HTTP like their phone would.

mod common;

use common::{login, Server, BIN};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use xuncha_domain::{PositionSource, Status};
use xuncha_proto::paths;

fn fixtures() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/photos"))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read fixtures") {
        let p = entry.expect("entry").path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn photo_info(files: &[PathBuf]) -> (Output, Vec<Value>) {
    let out = Command::new(BIN).arg("photo-info").args(files).env("XUNCHA_LOG", "warn").output().expect("run");
    let lines = String::from_utf8(out.stdout.clone()).expect("utf-8 stdout");
    let parsed =
        lines.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}"))).collect();
    (out, parsed)
}

fn by_file<'a>(lines: &'a [Value], suffix: &str) -> &'a Value {
    lines.iter().find(|l| l["file"].as_str().is_some_and(|f| f.ends_with(suffix))).unwrap_or_else(|| panic!("{suffix}"))
}

#[test]
fn photo_info_reports_every_fixture_as_json() {
    let mut files = Vec::new();
    walk(&fixtures(), &mut files);
    files.sort();
    files.push(PathBuf::from("/nonexistent/missing.jpg"));
    let (out, lines) = photo_info(&files);
    assert_eq!(lines.len(), files.len(), "one line per file; stderr: {}", String::from_utf8_lossy(&out.stderr));
    // README.md and the missing file at least fail, so the exit code says so.
    assert_eq!(out.status.code(), Some(1));
    for l in &lines {
        let ok = l["ok"].as_bool().expect("ok is a bool");
        assert!(l["ms"]["total"].as_f64().is_some(), "{l}");
        if ok {
            assert!(l.get("error").is_none(), "{l}");
            assert_eq!(l["hash"].as_str().map(str::len), Some(64), "{l}");
            let (w, h) = (l["width"].as_u64().unwrap(), l["height"].as_u64().unwrap());
            assert!(w.max(h) <= 2048 && w > 0 && h > 0, "{l}");
            assert!(l["stored_bytes"].as_u64().unwrap() > 0 && l["thumb_bytes"].as_u64().unwrap() > 0, "{l}");
            for stage in ["decode", "resize", "encode"] {
                assert!(l["ms"][stage].as_f64().is_some(), "{stage}: {l}");
            }
        } else {
            let e = &l["error"];
            assert!(e["code"].as_str().unwrap().starts_with("photo."), "{l}");
            assert!(e["zh"].as_str().unwrap().chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{l}");
            assert!(!e["en"].as_str().unwrap().is_empty(), "{l}");
        }
    }
    let nikon = by_file(&lines, "gps/DSCN0010.jpg");
    assert_eq!(nikon["ok"], true);
    assert_eq!(nikon["format"], "JPEG");
    assert_eq!(nikon["make"], "NIKON");
    assert_eq!(nikon["taken_at"], "2008-10-22T16:28:39");
    assert!((nikon["gps"]["lat"].as_f64().unwrap() - 43.467448).abs() < 1e-5, "{nikon}");
    assert!((nikon["gps"]["lon"].as_f64().unwrap() - 11.885127).abs() < 1e-5, "{nikon}");
    assert_eq!((nikon["width"].as_u64(), nikon["height"].as_u64()), (Some(640), Some(480)));
    let iphone = by_file(&lines, "iphone_12mp.jpg");
    assert_eq!((iphone["source_width"].as_u64(), iphone["source_height"].as_u64()), (Some(3264), Some(2448)));
    assert_eq!(iphone["width"].as_u64().unwrap().max(iphone["height"].as_u64().unwrap()), 2048);
    let portrait = by_file(&lines, "orientation/portrait_6.jpg");
    assert_eq!(portrait["orientation"], 6);
    assert!(portrait["height"].as_u64() > portrait["width"].as_u64(), "upright: {portrait}");
    let readme = by_file(&lines, "README.md");
    assert_eq!(readme["error"]["code"], "photo.unsupported_format");
    assert_eq!(readme["format"], "text");
    assert_eq!(by_file(&lines, "missing.jpg")["error"]["code"], "photo.read_failed");

    // Only good files: exit code 0.
    let good = [fixtures().join("Canon_40D.jpg"), fixtures().join("gps/DSCN0012.jpg")];
    let (out, lines) = photo_info(&good);
    assert_eq!(out.status.code(), Some(0));
    assert!(lines.iter().all(|l| l["ok"] == true));
}

fn import(server: &Server, dir: &Path) -> (Output, String) {
    let out = Command::new(BIN)
        .arg("import-photos")
        .arg(dir)
        .args(["--user", "inspector2-3", "--category", "living_environment/illegal_ads", "--db"])
        .arg(server.db())
        .arg("--blobs")
        .arg(server.blobs())
        .env("XUNCHA_LOG", "warn")
        .output()
        .expect("run import-photos");
    let stdout = String::from_utf8(out.stdout.clone()).expect("utf-8");
    (out, stdout)
}

#[tokio::test]
async fn import_photos_makes_findings_the_trainee_pulls() {
    let server = Server::seeded();
    let dir = tempfile::tempdir().unwrap();
    let copy = |from: &str, to: &str| std::fs::copy(fixtures().join(from), dir.path().join(to)).unwrap();
    // Named against their time order, so the sort by EXIF time is visible.
    copy("gps/DSCN0012.jpg", "a_later.jpg");
    copy("gps/DSCN0010.jpg", "b_earlier.JPG");
    copy("Canon_40D.jpg", "c_canon_no_gps.jpg");
    let nikon = std::fs::read(fixtures().join("gps/DSCN0021.jpg")).unwrap();
    std::fs::write(dir.path().join("d_broken.jpg"), &nikon[..nikon.len() / 2]).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "巡查笔记").unwrap();

    let (out, stdout) = import(&server, dir.path());
    assert_eq!(
        out.status.code(),
        Some(1),
        "a photo failed; stdout:\n{stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("failed    d_broken.jpg  photo.truncated"), "{stdout}");
    let summary = stdout.lines().last().unwrap();
    assert!(summary.contains("imported 3, already there 0, failed 1, skipped (not photos) 1"), "{summary}");
    let imported: Vec<&str> = stdout.lines().filter(|l| l.starts_with("imported  ")).collect();
    assert!(imported[0].contains("c_canon_no_gps.jpg"), "2008-05 first: {stdout}");
    assert!(imported[1].contains("b_earlier.JPG") && imported[2].contains("a_later.jpg"), "{stdout}");

    // Twice: nothing new.
    std::fs::remove_file(dir.path().join("d_broken.jpg")).unwrap();
    let (out, again) = import(&server, dir.path());
    assert_eq!(out.status.code(), Some(0), "{again}");
    assert!(again.lines().last().unwrap().contains("imported 0, already there 3, failed 0"), "{again}");

    let phone = login(&server, "inspector2-3").await;
    let mine: Vec<_> = phone
        .pull_all()
        .await
        .into_iter()
        .filter(|r| r.finding.fields.description.as_str().starts_with("相机导入："))
        .collect();
    assert_eq!(mine.len(), 3, "{mine:#?}");
    for r in &mine {
        assert_eq!(r.finding.author, phone.user.id);
        assert_eq!(r.finding.status, Status::Recorded);
        assert_eq!(r.version, 1);
        assert_eq!(r.history.len(), 1);
        assert!(r.server_seq > 0);
        assert_eq!(r.finding.fields.category.as_str(), "living_environment");
        assert_eq!(r.finding.fields.photos.len(), 1);
        // The stored photo is there for the phone to download.
        let photo =
            phone.get(&format!("{}/{}", paths::PHOTOS, r.finding.fields.photos[0].to_hex())).send().await.unwrap();
        assert_eq!(photo.status(), 200);
        let bytes = photo.bytes().await.unwrap();
        assert_eq!(xuncha_photo::sha256(&bytes), r.finding.fields.photos[0]);
    }
    let find = |name: &str| {
        mine.iter().find(|r| r.finding.fields.description.as_str() == format!("相机导入：{name}")).expect(name)
    };
    let earlier = find("b_earlier.JPG");
    let p = earlier.finding.fields.position.expect("EXIF GPS gives a position");
    assert_eq!(p.source, PositionSource::PhotoExif);
    assert!((p.point.lat.value() - 43.467448).abs() < 1e-5 && (p.point.lon.value() - 11.885127).abs() < 1e-5);
    // No offset in these cameras' EXIF: China Standard Time.
    assert_eq!(earlier.finding.fields.observed_at.to_rfc3339(), "2008-10-22T16:28:39+08:00");
    let canon = find("c_canon_no_gps.jpg");
    assert_eq!(canon.finding.fields.position, None, "no EXIF GPS: position missing");
    assert_eq!(canon.finding.fields.observed_at.to_rfc3339(), "2008-05-30T15:56:01+08:00");
    // Time order of the patrol is the server's change order.
    assert!(canon.server_seq < earlier.server_seq && earlier.server_seq < find("a_later.jpg").server_seq);

    // Unknown user and unknown category are refused before anything is written.
    let bad = Command::new(BIN)
        .arg("import-photos")
        .arg(dir.path())
        .args(["--user", "nobody", "--category", "living_environment/illegal_ads", "--db"])
        .arg(server.db())
        .arg("--blobs")
        .arg(server.blobs())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no user named"));
}
