//! `xuncha-server export` as a district office would run it, on the seeded demo world: the real
//! binary writes findings.xlsx (read back with calamine), findings.csv and the photo copies. A team
//! leader gets exactly what their phone pulls; another team's leader gets none of it; watermarked
//! copies differ from the stored photos while the stored files stay bit-identical; plain copies are
//! the stored bytes. Watermarking needs a CJK font (fonts-noto-cjk, installed by scripts/setup.sh).

mod common;

use calamine::{open_workbook, Data, Reader, Xlsx};
use common::{login, Server, BIN};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use xuncha_proto::FindingRecord;

const HEADERS_ZH: [&str; 15] = [
    "编号",
    "类别",
    "子类",
    "描述",
    "地址",
    "严重程度",
    "状态",
    "发现时间",
    "纬度 (WGS-84)",
    "经度 (WGS-84)",
    "定位精度 (米)",
    "街道",
    "小组",
    "巡查员",
    "照片",
];

fn export(server: &Server, user: &str, out: &Path, extra: &[&str]) -> Output {
    std::process::Command::new(BIN)
        .args(["export", "--user", user, "--out"])
        .arg(out)
        .arg("--db")
        .arg(server.db())
        .arg("--blobs")
        .arg(server.blobs())
        .args(extra)
        .env("XUNCHA_LOG", "warn")
        .env_remove("XUNCHA_WATERMARK_FONT")
        .output()
        .expect("run export")
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "export failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// The sheet's rows as text.
fn xlsx_rows(path: &Path) -> Vec<Vec<String>> {
    let mut wb: Xlsx<_> = open_workbook(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let range = wb.worksheet_range_at(0).expect("a sheet").expect("readable sheet");
    range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Every stored photo file and the SHA-256 of its contents.
fn blob_hashes(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    for sub in std::fs::read_dir(dir).unwrap() {
        let sub = sub.unwrap().path();
        if !sub.is_dir() || sub.ends_with("tmp") {
            continue;
        }
        for f in std::fs::read_dir(&sub).unwrap() {
            let f = f.unwrap().path();
            out.insert(f.clone(), sha256_hex(&std::fs::read(&f).unwrap()));
        }
    }
    out
}

fn short_id(r: &FindingRecord) -> String {
    let hex = r.finding.id.0.simple().to_string().to_uppercase();
    hex[hex.len() - 8..].to_string()
}

fn photo_files(out: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(out.join("photos"))
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap())
        })
        .collect()
}

#[tokio::test]
async fn a_team_leader_gets_what_the_phone_pulls_with_photos_as_stored() {
    let server = Server::shared();
    let pulled = login(server, "leader1").await.pull_all().await;
    assert!(pulled.len() >= 3, "the demo team has findings: {}", pulled.len());
    let out = tempfile::tempdir().unwrap();
    let stdout = ok(&export(server, "leader1", out.path(), &[]));
    assert!(stdout.contains(&format!("exported {} findings", pulled.len())), "{stdout}");
    assert_eq!(stdout.lines().count(), 1, "a one-line summary: {stdout}");

    let rows = xlsx_rows(&out.path().join("findings.xlsx"));
    assert_eq!(rows[0], HEADERS_ZH, "zh-CN headers by default");
    assert_eq!(rows.len(), pulled.len() + 1, "one row per finding");
    let ids: BTreeSet<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    let want: BTreeSet<String> = pulled.iter().map(short_id).collect();
    assert_eq!(ids, want.iter().map(String::as_str).collect(), "the same findings as the phone pulls");
    let team = &pulled[0].team_name;
    for r in &rows[1..] {
        assert_eq!(&r[12], team, "{r:?}");
        assert!(["消防安全", "环境污染", "生活环境", "道路秩序", "生产安全"].contains(&r[1].as_str()), "{r:?}");
        assert!(r[6].chars().all(|c| !c.is_ascii_alphabetic()), "status translated: {r:?}");
    }

    let csv = std::fs::read(out.path().join("findings.csv")).unwrap();
    assert!(csv.starts_with(&[0xEF, 0xBB, 0xBF]), "CSV starts with the UTF-8 BOM");
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.trim_start_matches('\u{FEFF}').starts_with("编号,类别,子类,描述,地址,"), "{csv}");
    assert_eq!(csv.lines().count(), pulled.len() + 1);

    // Plain copies are the stored bytes: byte for byte, so their SHA-256 is the stored photo's name.
    let copies = photo_files(out.path());
    let want_photos: usize = pulled.iter().map(|r| r.finding.fields.photos.len()).sum();
    assert_eq!(copies.len(), want_photos);
    for r in &pulled {
        for (n, hash) in r.finding.fields.photos.iter().enumerate() {
            let name = format!("{}-{}.jpg", short_id(r), n + 1);
            let hex = hash.to_hex();
            let blob = std::fs::read(server.blobs().join(&hex[..2]).join(format!("{hex}.jpg"))).unwrap();
            assert!(copies[&name] == blob, "{name} is not the stored photo {hex}");
        }
    }
}

#[tokio::test]
async fn watermarked_copies_differ_and_the_stored_photos_do_not_change() {
    let server = Server::shared();
    let before = blob_hashes(&server.blobs());
    assert!(!before.is_empty());
    let pulled = login(server, "leader1").await.pull_all().await;
    let out = tempfile::tempdir().unwrap();
    let stdout = ok(&export(server, "leader1", out.path(), &["--watermark"]));
    assert!(stdout.contains("watermarked"), "{stdout}");

    let copies = photo_files(out.path());
    assert!(!copies.is_empty());
    let stored: BTreeSet<&String> = before.values().collect();
    for (name, bytes) in &copies {
        assert!(bytes.starts_with(&[0xFF, 0xD8]), "{name} is a JPEG");
        assert!(!stored.contains(&sha256_hex(bytes)), "{name} is a stored photo, not a watermarked copy");
        // Same size as the stored photo it came from (the ingest reports the size and keeps ≤ 2048 px).
        let copy = xuncha_photo::ingest(bytes).expect("the copy decodes");
        let orig = xuncha_photo::ingest(&std::fs::read(source_of(server, &pulled, name)).unwrap()).unwrap();
        assert_eq!((copy.width, copy.height), (orig.width, orig.height), "{name}");
    }
    // The stored photos: the same files with the same bytes.
    assert_eq!(blob_hashes(&server.blobs()), before, "the blob store was modified");
    // Each stored file is still named by its own hash.
    for (path, hash) in &before {
        assert_eq!(path.file_stem().unwrap().to_string_lossy(), hash.as_str());
    }
}

/// The stored photo a copy was made from: `<short id>-<n>.jpg` is photo n of that finding.
fn source_of(server: &Server, pulled: &[FindingRecord], name: &str) -> PathBuf {
    let (sid, n) = name.trim_end_matches(".jpg").rsplit_once('-').unwrap();
    let n: usize = n.parse().unwrap();
    let r = pulled.iter().find(|r| short_id(r) == sid).unwrap_or_else(|| panic!("{name}: no such finding"));
    let hex = r.finding.fields.photos[n - 1].to_hex();
    server.blobs().join(&hex[..2]).join(format!("{hex}.jpg"))
}

#[tokio::test]
async fn another_team_gets_none_of_the_first_teams_findings() {
    let server = Server::shared();
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    ok(&export(server, "leader1", one.path(), &[]));
    ok(&export(server, "leader2", two.path(), &[]));
    let (a, b) = (xlsx_rows(&one.path().join("findings.xlsx")), xlsx_rows(&two.path().join("findings.xlsx")));
    assert!(a.len() > 1 && b.len() > 1, "both teams have findings");
    let ids_a: BTreeSet<&String> = a[1..].iter().map(|r| &r[0]).collect();
    let ids_b: BTreeSet<&String> = b[1..].iter().map(|r| &r[0]).collect();
    assert!(ids_a.is_disjoint(&ids_b), "team 2 sees team 1's findings: {:?}", ids_a.intersection(&ids_b));
    let team_a = &a[1][12];
    assert!(b[1..].iter().all(|r| &r[12] != team_a), "a row of {team_a} in team 2's export");
    let photos_a: BTreeSet<String> = photo_files(one.path()).into_keys().collect();
    let photos_b: BTreeSet<String> = photo_files(two.path()).into_keys().collect();
    assert!(photos_a.is_disjoint(&photos_b));
    // An inspector of team 1 sees no more than their leader.
    let three = tempfile::tempdir().unwrap();
    ok(&export(server, "inspector1-1", three.path(), &[]));
    let c = xlsx_rows(&three.path().join("findings.xlsx"));
    assert!(c[1..].iter().all(|r| ids_a.contains(&r[0])));
}

#[tokio::test]
async fn days_filter_and_english_labels() {
    let server = Server::shared();
    let out = tempfile::tempdir().unwrap();
    // The demo day is 2026-11-20.
    ok(&export(server, "leader1", out.path(), &["--from", "2026-11-21"]));
    assert_eq!(xlsx_rows(&out.path().join("findings.xlsx")).len(), 1, "only the header after the demo day");
    assert!(photo_files(out.path()).is_empty());

    let all = xlsx_rows(&{
        let d = out.path().join("all");
        ok(&export(server, "leader1", &d, &["--from", "2026-11-20", "--to", "2026-11-20", "--lang", "en"]));
        d.join("findings.xlsx")
    });
    assert!(all.len() > 1);
    assert_eq!(all[0][0..3], ["ID", "Category", "Subcategory"]);
    assert_eq!(all[0][8], "Latitude (WGS-84)");
    assert!(all[1..].iter().all(|r| r[1].is_ascii() && r[6].is_ascii()), "English labels: {:?}", all[1]);
}

#[test]
fn mistakes_give_a_clear_message_and_a_non_zero_exit() {
    let server = Server::shared();
    let dir = tempfile::tempdir().unwrap();

    let out = export(server, "nobody", &dir.path().join("a"), &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user named \"nobody\""), "{out:?}");

    let target = dir.path().join("b");
    let out = export(server, "leader1", &target, &["--watermark", "--font", "/nonexistent/font.ttc"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("找不到中文字体") && err.contains("fonts-noto-cjk"), "{err}");
    assert!(!target.exists(), "nothing is written when the font is missing");

    // A folder below a regular file cannot be created, even by root.
    let file = dir.path().join("file.txt");
    std::fs::write(&file, "x").unwrap();
    let out = export(server, "leader1", &file.join("out"), &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write to the output folder"), "{out:?}");

    let out = export(server, "leader1", &dir.path().join("c"), &["--from", "2026-11-21", "--to", "2026-11-20"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is after"), "{out:?}");
}
