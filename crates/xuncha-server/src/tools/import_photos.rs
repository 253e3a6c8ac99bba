//! `xuncha-server import-photos DIR --user NAME --category CAT/SUB`: a trainee who patrolled with a
//! camera instead of the app. Every photo in DIR becomes a `recorded` finding of that user, placed by
//! its EXIF GPS and dated by its EXIF time, with the photo ingested exactly as a phone would.
//!
//! Findings go through [`ServerStore::push`], the path a phone's upload takes, so history, server
//! sequence, scope and the rules all apply and the trainee's phone pulls them like its own.
//! Idempotent: op and finding ids are derived from the user and the photo's hash, so the store's
//! op-id deduplication turns a second import of the same folder into replays.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use uuid::Uuid;
use xuncha_domain::finding::FindingFields;
use xuncha_domain::{
    CategoryCode, DeviceId, FindingId, GeoPoint, OpId, Position, PositionSource, Severity, UserMessage,
};
use xuncha_photo::IngestedPhoto;
use xuncha_proto::{OpBody, OpOutcome, Operation};
use xuncha_server::apply::Rules;
use xuncha_server::blobs::BlobStore;
use xuncha_server::store::ServerStore;

/// File name endings taken as photos; anything else in the folder (notes, videos) is skipped, not failed.
const PHOTO_EXTENSIONS: [&str; 6] = ["jpg", "jpeg", "png", "webp", "heic", "heif"];

/// Offset assumed for an EXIF time without OffsetTimeOriginal (most cameras): the project works in
/// China Standard Time.
const DEFAULT_OFFSET_SECS: i32 = 8 * 3600;

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub dir: PathBuf,
    pub username: String,
    /// `category/subcategory` codes of the taxonomy, e.g. `living_environment/illegal_ads`.
    pub category: String,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct ImportSummary {
    pub imported: usize,
    /// Photos whose finding exists from an earlier import (or a second copy in this folder).
    pub already: usize,
    pub failed: usize,
    /// Files whose name does not end like a photo.
    pub skipped: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("no user named {0:?}")]
    UnknownUser(String),
    #[error("--category must be CATEGORY/SUBCATEGORY, e.g. living_environment/illegal_ads: {0}")]
    BadCategory(String),
    #[error("cannot read the folder {}: {source}", path.display())]
    ReadDir { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] xuncha_server::store::StoreError),
    #[error(transparent)]
    Blob(#[from] xuncha_server::blobs::BlobError),
    #[error("output: {0}")]
    Output(#[from] std::io::Error),
    #[error("photo task failed: {0}")]
    Task(String),
}

/// One photo ready to become a finding.
struct Ready {
    name: String,
    photo: IngestedPhoto,
    observed_at: DateTime<FixedOffset>,
    /// Whether `observed_at` came from EXIF (else from the file's modification time).
    from_exif: bool,
}

pub async fn run(
    store: &dyn ServerStore,
    blobs: &dyn BlobStore,
    opts: &ImportOptions,
    out: &mut (impl Write + Send),
) -> Result<ImportSummary, ImportError> {
    let rules = Rules::builtin();
    let (category, subcategory) = parse_category(&rules, &opts.category)?;
    let creds =
        store.credentials(&opts.username).await?.ok_or_else(|| ImportError::UnknownUser(opts.username.clone()))?;
    let principal =
        store.principal_of(creds.user).await?.ok_or_else(|| ImportError::UnknownUser(opts.username.clone()))?;

    let (files, skipped) = list_photos(&opts.dir)?;
    let mut summary = ImportSummary { skipped, ..ImportSummary::default() };
    let mut ready = Vec::new();
    for path in files {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        match ingest_file(path.clone()).await? {
            Ok(r) => ready.push(r),
            Err(m) => {
                summary.failed += 1;
                writeln!(out, "failed    {name}  {}  {} / {}", m.code, m.zh, m.en)?;
            }
        }
    }
    // Oldest first, as they were taken: the server sequence then follows the patrol. Photos without an
    // EXIF time go after those with one, by name.
    ready.sort_by(|a, b| (!a.from_exif, a.observed_at, &a.name).cmp(&(!b.from_exif, b.observed_at, &b.name)));

    // A device of its own per run: ops are deduplicated by op id before the (device, seq) slot is
    // looked at, so replays need no stable device, and new photos never collide with old slots.
    let device = DeviceId::new_v7();
    for (seq, r) in ready.into_iter().enumerate() {
        let now = Utc::now();
        let size = r.photo.stored.len() as u64;
        blobs.put(r.photo.hash, r.photo.stored.clone()).await?;
        store.record_photo_upload(&principal, r.photo.hash, size, now).await?;
        let position = r.photo.exif.gps.and_then(|g| GeoPoint::new(g.lat, g.lon).ok()).map(|point| Position {
            point,
            accuracy_m: None,
            source: PositionSource::PhotoExif,
        });
        let place = match position {
            Some(p) => format!("{:.6},{:.6}", p.point.lat.value(), p.point.lon.value()),
            None => "位置缺失/position missing".into(),
        };
        let description = format!("相机导入：{}", r.name);
        let fields = FindingFields {
            category: category.clone(),
            subcategory: subcategory.clone(),
            description: description.try_into().map_err(|e: xuncha_domain::DomainError| {
                ImportError::BadCategory(format!("description of {}: {e}", r.name))
            })?,
            address: String::new(),
            severity: Severity::Normal,
            position,
            photos: vec![r.photo.hash],
            observed_at: r.observed_at,
        };
        let key = format!("{}/{}", principal.user, r.photo.hash.to_hex());
        let finding_id = FindingId(derived_id("xuncha import-photos finding", &key));
        let op = Operation {
            op_id: OpId(derived_id("xuncha import-photos op", &key)),
            device_seq: seq as u64 + 1,
            finding_id,
            body: OpBody::Create { fields },
        };
        let when = if r.from_exif { "exif" } else { "file time" };
        let results = store.push(&principal, device, vec![op], now).await?;
        match results.first().map(|r| &r.outcome) {
            Some(OpOutcome::Applied { replayed: false, .. }) => {
                summary.imported += 1;
                writeln!(out, "imported  {}  {finding_id}  {} ({when})  {place}", r.name, r.observed_at.to_rfc3339())?;
            }
            Some(OpOutcome::Applied { replayed: true, .. }) => {
                summary.already += 1;
                writeln!(out, "already   {}  {finding_id}", r.name)?;
            }
            Some(OpOutcome::Rejected { error }) => {
                summary.failed += 1;
                writeln!(out, "failed    {}  {}  {} / {}", r.name, error.code, error.zh, error.en)?;
            }
            None => return Err(ImportError::Task("the store answered no result".into())),
        }
    }
    writeln!(
        out,
        "导入 {} 张，已存在 {} 张，失败 {} 张，跳过非照片文件 {} 个 / imported {}, already there {}, failed {}, skipped (not photos) {}",
        summary.imported,
        summary.already,
        summary.failed,
        summary.skipped,
        summary.imported,
        summary.already,
        summary.failed,
        summary.skipped
    )?;
    Ok(summary)
}

fn parse_category(rules: &Rules, s: &str) -> Result<(CategoryCode, CategoryCode), ImportError> {
    let bad = |why: String| ImportError::BadCategory(why);
    let (c, sub) = s.split_once('/').ok_or_else(|| bad(format!("{s:?} has no '/'")))?;
    let c = CategoryCode::try_from(c).map_err(|e| bad(e.to_string()))?;
    let sub = CategoryCode::try_from(sub).map_err(|e| bad(e.to_string()))?;
    rules.taxonomy.check(&c, &sub).map_err(|e| bad(e.user_message().en))?;
    Ok((c, sub))
}

/// The folder's photo files by name (not recursive), and how many other files were skipped.
fn list_photos(dir: &Path) -> Result<(Vec<PathBuf>, usize), ImportError> {
    let read_err = |source| ImportError::ReadDir { path: dir.to_path_buf(), source };
    let mut photos = Vec::new();
    let mut skipped = 0;
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if !path.is_file() {
            continue;
        }
        let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        if PHOTO_EXTENSIONS.contains(&ext.as_str()) {
            photos.push(path);
        } else {
            skipped += 1;
        }
    }
    photos.sort();
    Ok((photos, skipped))
}

/// Reads and ingests one file off the async threads; a file the ingest refuses is an `Err` message.
async fn ingest_file(path: PathBuf) -> Result<Result<Ready, UserMessage>, ImportError> {
    tokio::task::spawn_blocking(move || {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let bytes = std::fs::read(&path).map_err(|e| crate::tools::photo_info::read_failed(&path, &e))?;
        let photo = xuncha_photo::ingest(&bytes).map_err(|e| e.user_message())?;
        let exif_time = photo.exif.taken_at.as_deref().and_then(parse_taken_at);
        let (observed_at, from_exif) = match exif_time {
            Some(t) => (t, true),
            None => (file_time(&path), false),
        };
        Ok(Ready { name, photo, observed_at, from_exif })
    })
    .await
    .map_err(|e| ImportError::Task(e.to_string()))
}

/// EXIF time as `xuncha_photo` reports it: RFC 3339 with its offset, or local time taken as +08:00.
pub fn parse_taken_at(s: &str) -> Option<DateTime<FixedOffset>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t);
    }
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").ok()?;
    cst().from_local_datetime(&naive).single()
}

/// A photo without an EXIF time is dated by its file (cameras and card readers keep the capture time
/// there), in China Standard Time; "now" only if even that is unreadable.
fn file_time(path: &Path) -> DateTime<FixedOffset> {
    let t =
        std::fs::metadata(path).and_then(|m| m.modified()).map(DateTime::<Utc>::from).unwrap_or_else(|_| Utc::now());
    t.with_timezone(&cst())
}

fn cst() -> FixedOffset {
    FixedOffset::east_opt(DEFAULT_OFFSET_SECS).expect("+08:00 is a valid offset")
}

/// A stable id from a purpose and a key: the first 16 bytes of SHA-256 as a version-8 (custom) UUID.
/// Same user and photo, same ids, on any run and any machine.
fn derived_id(purpose: &str, key: &str) -> Uuid {
    let digest = Sha256::new().chain_update(purpose).chain_update([0]).chain_update(key).finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exif_times_keep_their_offset_or_get_cst() {
        assert_eq!(parse_taken_at("2026-11-20T09:15:00+09:00").unwrap().to_rfc3339(), "2026-11-20T09:15:00+09:00");
        assert_eq!(parse_taken_at("2008-10-22T16:28:39").unwrap().to_rfc3339(), "2008-10-22T16:28:39+08:00");
        assert_eq!(parse_taken_at("yesterday"), None);
    }

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let a = derived_id("op", "u/h");
        assert_eq!(a, derived_id("op", "u/h"));
        assert_ne!(a, derived_id("finding", "u/h"));
        assert_eq!(a.get_version_num(), 8);
    }
}
