//! `xuncha-server export --user NAME --out DIR`: the findings a person may see, as files a district
//! office clerk opens in Excel or WPS: `findings.xlsx`, `findings.csv` (UTF-8 with a byte-order mark,
//! so Chinese is not garbled) and `photos/<id>-<n>.jpg`, optionally watermarked with time, position and
//! category.
//!
//! Scope is the user's, exactly as their device's sync gets it: the findings come from
//! [`ServerStore::pull`] with the user's principal, so export can never show more than the app would.
//! The stored photos are only read: a watermark goes on a new copy in DIR, never on the blob.

use chrono::{DateTime, FixedOffset, NaiveDate, Timelike};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use xuncha_domain::{Finding, FindingId, PhotoHash, Severity, Status, Taxonomy};
use xuncha_photo::{FontSource, PhotoError};
use xuncha_proto::FindingRecord;
use xuncha_server::apply::Rules;
use xuncha_server::blobs::BlobStore;
use xuncha_server::store::ServerStore;

/// Findings per pull page: big enough that a few thousand findings take a handful of queries.
const PAGE: u32 = 500;

/// Language of headers and labels in the files (the watermark's category line is always Chinese:
/// the photos are evidence for Chinese offices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub username: String,
    pub out: PathBuf,
    /// First and last observed day (inclusive), in the time zone the finding was recorded in.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub watermark: bool,
    /// Font for the watermark; `None` searches the system (see [`xuncha_photo::SYSTEM_FONT_PATHS`]).
    pub font: Option<PathBuf>,
    pub lang: Lang,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExportSummary {
    pub findings: usize,
    pub photos: usize,
    /// Photos a finding names that the server does not hold (the device has not uploaded them yet).
    pub missing_photos: usize,
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no user named {0:?}")]
    UnknownUser(String),
    #[error("--from {from} is after --to {to}")]
    BadRange { from: NaiveDate, to: NaiveDate },
    #[error("the photo folder {} does not exist (check --blobs)", .0.display())]
    NoBlobs(PathBuf),
    #[error("cannot write to the output folder {}: {source}", path.display())]
    Output { path: PathBuf, source: std::io::Error },
    /// No usable CJK font for `--watermark`; the message says what to install.
    #[error("{}", .0.user_message().en)]
    Font(PhotoError),
    #[error("watermarking photo {hash}: {source}")]
    Watermark { hash: String, source: PhotoError },
    #[error("writing findings.xlsx: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error(transparent)]
    Store(#[from] xuncha_server::store::StoreError),
    #[error(transparent)]
    Blob(#[from] xuncha_server::blobs::BlobError),
    #[error("export task failed: {0}")]
    Task(String),
}

impl ExportError {
    /// Both languages where a translated message exists (the font errors), else the English text.
    pub fn message(&self) -> String {
        match self {
            Self::Font(e) | Self::Watermark { source: e, .. } => {
                let m = e.user_message();
                format!("{}\n{}", m.zh, m.en)
            }
            other => other.to_string(),
        }
    }
}

/// Checks the blob folder exists (so a wrong `--blobs` is an error, not an export without photos).
pub fn check_blobs(dir: &Path) -> Result<(), ExportError> {
    if dir.is_dir() {
        Ok(())
    } else {
        Err(ExportError::NoBlobs(dir.to_path_buf()))
    }
}

pub async fn run(
    store: &dyn ServerStore,
    blobs: &dyn BlobStore,
    opts: &ExportOptions,
    out: &mut (impl Write + Send),
) -> Result<ExportSummary, ExportError> {
    let t0 = Instant::now();
    if let (Some(from), Some(to)) = (opts.from, opts.to) {
        if from > to {
            return Err(ExportError::BadRange { from, to });
        }
    }
    let creds =
        store.credentials(&opts.username).await?.ok_or_else(|| ExportError::UnknownUser(opts.username.clone()))?;
    let principal =
        store.principal_of(creds.user).await?.ok_or_else(|| ExportError::UnknownUser(opts.username.clone()))?;
    // The font first: a missing one should stop the export before anything is written.
    let font = if opts.watermark {
        let explicit = opts.font.clone();
        let font = tokio::task::spawn_blocking(move || FontSource::locate(explicit.as_deref(), std::fs::read))
            .await
            .map_err(|e| ExportError::Task(e.to_string()))?
            .map_err(ExportError::Font)?;
        tracing::info!(font = font.origin(), family = font.family(), "watermark font");
        Some(Arc::new(font))
    } else {
        None
    };
    let photo_dir = opts.out.join("photos");
    std::fs::create_dir_all(&photo_dir).map_err(|source| ExportError::Output { path: opts.out.clone(), source })?;

    // Everything in scope, each finding once in its latest state (a change during the export could
    // bring a finding twice; the later page wins).
    let mut latest: HashMap<FindingId, FindingRecord> = HashMap::new();
    let mut cursor = 0;
    loop {
        let page = store.pull(&principal, cursor, PAGE).await?;
        for r in page.changes {
            latest.insert(r.finding.id, r);
        }
        cursor = page.cursor;
        if !page.has_more {
            break;
        }
    }
    let mut records: Vec<FindingRecord> = latest
        .into_values()
        .filter(|r| {
            let day = r.finding.fields.observed_at.date_naive();
            opts.from.is_none_or(|f| day >= f) && opts.to.is_none_or(|t| day <= t)
        })
        .collect();
    records.sort_by(|a, b| {
        (a.finding.fields.observed_at, a.finding.id.0).cmp(&(b.finding.fields.observed_at, b.finding.id.0))
    });
    let short = short_ids(records.iter().map(|r| r.finding.id));

    let rules = Rules::builtin();
    let mut rows = Vec::with_capacity(records.len());
    let mut jobs = Vec::new();
    for r in &records {
        let sid = short[&r.finding.id].clone();
        let files: Vec<String> = (1..=r.finding.fields.photos.len()).map(|n| format!("{sid}-{n}.jpg")).collect();
        let lines = watermark_lines(&r.finding, &rules.taxonomy);
        for (hash, file) in r.finding.fields.photos.iter().zip(&files) {
            jobs.push(PhotoJob { hash: *hash, dest: photo_dir.join(file), lines: lines.clone() });
        }
        rows.push(Row::of(r, sid, files, &rules, opts.lang));
    }
    let written = copy_photos(blobs, jobs, font).await?;
    let missing: std::collections::HashSet<PathBuf> = written.missing.iter().cloned().collect();
    for row in &mut rows {
        let before = row.photos.len();
        row.photos.retain(|f| !missing.contains(&photo_dir.join(f)));
        row.missing = before - row.photos.len();
    }

    let xlsx = opts.out.join("findings.xlsx");
    write_xlsx(&rows, opts.lang, &xlsx)?;
    let csv = opts.out.join("findings.csv");
    std::fs::write(&csv, csv_bytes(&rows, opts.lang)).map_err(|source| ExportError::Output { path: csv, source })?;

    let summary = ExportSummary {
        findings: rows.len(),
        photos: written.copied,
        missing_photos: written.missing.len(),
        seconds: t0.elapsed().as_secs_f64(),
    };
    let (wm_zh, wm_en) = if opts.watermark { ("（已加水印）", " (watermarked)") } else { ("", "") };
    let (miss_zh, miss_en) = if summary.missing_photos > 0 {
        (
            format!("，{} 张照片尚未上传", summary.missing_photos),
            format!(", {} photos not uploaded yet", summary.missing_photos),
        )
    } else {
        (String::new(), String::new())
    };
    writeln!(
        out,
        "导出 {} 条问题、{} 张照片{wm_zh}{miss_zh}，用时 {:.1} 秒 / exported {} findings, {} photos{wm_en}{miss_en} in {:.1} s → {}",
        summary.findings,
        summary.photos,
        summary.seconds,
        summary.findings,
        summary.photos,
        summary.seconds,
        opts.out.display()
    )
    .map_err(|source| ExportError::Output { path: opts.out.clone(), source })?;
    Ok(summary)
}

/// Short, stable ids for a clerk to quote on the phone: the last 8 hex digits of the finding id
/// (the random end; a UUIDv7 starts with its timestamp, so the start is shared by a morning's
/// findings). 12 digits for everyone if 8 would collide within this export.
fn short_ids(ids: impl Iterator<Item = FindingId> + Clone) -> HashMap<FindingId, String> {
    for len in [8, 12, 32] {
        let map: HashMap<FindingId, String> = ids
            .clone()
            .map(|id| {
                let hex = id.0.simple().to_string().to_uppercase();
                (id, hex[hex.len() - len..].to_string())
            })
            .collect();
        let distinct: std::collections::HashSet<&String> = map.values().collect();
        if distinct.len() == map.len() {
            return map;
        }
    }
    unreachable!("32 hex digits are the whole id")
}

/// Time, position and category, as stamped on a watermarked photo.
pub fn watermark_lines(f: &Finding, taxonomy: &Taxonomy) -> Vec<String> {
    let position = match &f.fields.position {
        Some(p) => {
            let (lat, lon) = (p.point.lat.value(), p.point.lon.value());
            let ns = if lat >= 0.0 { 'N' } else { 'S' };
            let ew = if lon >= 0.0 { 'E' } else { 'W' };
            let acc = p.accuracy_m.map(|a| format!(" ±{:.0} m", a.value())).unwrap_or_default();
            format!("{:.5}°{ns} {:.5}°{ew}{acc}", lat.abs(), lon.abs())
        }
        None => "无定位 / no position".into(),
    };
    let (cat, sub) = category_names(taxonomy, f, Lang::Zh);
    vec![local_time(&f.fields.observed_at), position, format!("{cat} · {sub}")]
}

/// "2026-11-20 09:30 (UTC+8)": the wall-clock time where the finding was observed, and its offset.
fn local_time(t: &DateTime<FixedOffset>) -> String {
    format!("{} ({})", t.format("%Y-%m-%d %H:%M"), utc_offset(t.offset()))
}

/// "UTC+8", "UTC+5:30", "UTC-3", "UTC+0".
fn utc_offset(o: &FixedOffset) -> String {
    let secs = o.local_minus_utc();
    let sign = if secs < 0 { '-' } else { '+' };
    let (h, m) = (secs.abs() / 3600, secs.abs() % 3600 / 60);
    if m == 0 {
        format!("UTC{sign}{h}")
    } else {
        format!("UTC{sign}{h}:{m:02}")
    }
}

fn category_names(taxonomy: &Taxonomy, f: &Finding, lang: Lang) -> (String, String) {
    let (c, s) = (&f.fields.category, &f.fields.subcategory);
    // A code the built-in taxonomy does not know (an administrator's extension) is shown as the code.
    let Some(cat) = taxonomy.category(c) else { return (c.to_string(), s.to_string()) };
    let sub = cat.subcategories.iter().find(|x| &x.code == s);
    match lang {
        Lang::Zh => (cat.zh.clone(), sub.map_or_else(|| s.to_string(), |x| x.zh.clone())),
        Lang::En => (cat.en.clone(), sub.map_or_else(|| s.to_string(), |x| x.en.clone())),
    }
}

fn severity_name(s: Severity, lang: Lang) -> &'static str {
    // The app's own words (ui/src/lib/i18n.ts, severity.*).
    match (s, lang) {
        (Severity::Low, Lang::Zh) => "轻微",
        (Severity::Normal, Lang::Zh) => "一般",
        (Severity::High, Lang::Zh) => "严重",
        (Severity::Low, Lang::En) => "Minor",
        (Severity::Normal, Lang::En) => "Normal",
        (Severity::High, Lang::En) => "Serious",
    }
}

fn status_name(s: Status, lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => xuncha_domain::status::status_zh(s.as_str()),
        Lang::En => xuncha_domain::status::status_en(s.as_str()),
    }
}

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
const HEADERS_EN: [&str; 15] = [
    "ID",
    "Category",
    "Subcategory",
    "Description",
    "Address",
    "Severity",
    "Status",
    "Observed at",
    "Latitude (WGS-84)",
    "Longitude (WGS-84)",
    "Accuracy (m)",
    "Sub-district",
    "Team",
    "Inspector",
    "Photos",
];
/// Column widths in characters (a Chinese character counts about two).
const WIDTHS: [f64; 15] = [11.0, 10.0, 16.0, 40.0, 30.0, 9.0, 12.0, 24.0, 12.0, 12.0, 10.0, 12.0, 18.0, 10.0, 30.0];

fn headers(lang: Lang) -> &'static [&'static str; 15] {
    match lang {
        Lang::Zh => &HEADERS_ZH,
        Lang::En => &HEADERS_EN,
    }
}

/// One spreadsheet row.
struct Row {
    id: String,
    category: String,
    subcategory: String,
    description: String,
    address: String,
    severity: &'static str,
    status: &'static str,
    observed_at: DateTime<FixedOffset>,
    lat: Option<f64>,
    lon: Option<f64>,
    accuracy: Option<f64>,
    sub_district: String,
    team: String,
    inspector: String,
    photos: Vec<String>,
    missing: usize,
}

impl Row {
    fn of(r: &FindingRecord, id: String, photos: Vec<String>, rules: &Rules, lang: Lang) -> Self {
        let f = &r.finding;
        let (category, subcategory) = category_names(&rules.taxonomy, f, lang);
        let pos = f.fields.position.as_ref();
        let sub_district = r
            .sub_district
            .map(|id| match rules.boundaries.sub_district(id) {
                Some(s) if lang == Lang::Zh => s.zh.clone(),
                Some(s) => s.en.clone(),
                // Not in the built-in boundaries (added by an administrator): its id is all we know here.
                None => id.0.to_string(),
            })
            .unwrap_or_default();
        Self {
            id,
            category,
            subcategory,
            description: f.fields.description.as_str().to_string(),
            address: f.fields.address.clone(),
            severity: severity_name(f.fields.severity, lang),
            status: status_name(f.status, lang),
            observed_at: f.fields.observed_at,
            lat: pos.map(|p| p.point.lat.value()),
            lon: pos.map(|p| p.point.lon.value()),
            accuracy: pos.and_then(|p| p.accuracy_m).map(|a| a.value()),
            sub_district,
            team: r.team_name.clone(),
            inspector: r.author_name.clone(),
            photos,
            missing: 0,
        }
    }

    fn photos_cell(&self, lang: Lang) -> String {
        let mut s = self.photos.join("; ");
        if self.missing > 0 {
            if !s.is_empty() {
                s.push_str("; ");
            }
            s.push_str(&match lang {
                Lang::Zh => format!("{} 张未上传", self.missing),
                Lang::En => format!("{} not uploaded", self.missing),
            });
        }
        s
    }
}

fn write_xlsx(rows: &[Row], lang: Lang, path: &Path) -> Result<(), ExportError> {
    use rust_xlsxwriter::{ExcelDateTime, Format, FormatAlign, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(match lang {
        Lang::Zh => "问题清单",
        Lang::En => "Findings",
    })?;
    let head = Format::new().set_bold().set_background_color("D9E1F2").set_align(FormatAlign::Center);
    let text = Format::new().set_text_wrap().set_align(FormatAlign::Top);
    let coord = Format::new().set_num_format("0.000000").set_align(FormatAlign::Top);
    let metres = Format::new().set_num_format("0").set_align(FormatAlign::Top);
    // One date format per offset, so the cell is a real date (sorts, filters by day) and still says
    // which zone its wall-clock time is in.
    let mut time_formats: HashMap<i32, Format> = HashMap::new();
    for (c, (h, w)) in headers(lang).iter().zip(WIDTHS).enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &head)?;
        ws.set_column_width(c as u16, w)?;
    }
    for (i, r) in rows.iter().enumerate() {
        let y = i as u32 + 1;
        let texts = [
            (0, r.id.as_str()),
            (1, &r.category),
            (2, &r.subcategory),
            (3, &r.description),
            (4, &r.address),
            (5, r.severity),
            (6, r.status),
            (11, &r.sub_district),
            (12, &r.team),
            (13, &r.inspector),
        ];
        // Strings are written as strings: a description starting with "=" stays text, never a formula.
        for (c, v) in texts {
            ws.write_string_with_format(y, c, v, &text)?;
        }
        let t = r.observed_at;
        let fmt = time_formats.entry(t.offset().local_minus_utc()).or_insert_with(|| {
            Format::new()
                .set_num_format(format!("yyyy-mm-dd hh:mm \"({})\"", utc_offset(t.offset())))
                .set_align(FormatAlign::Top)
        });
        let naive = t.naive_local();
        let date = naive.date();
        let when = ExcelDateTime::from_ymd(
            u16::try_from(chrono::Datelike::year(&date)).unwrap_or(1900),
            chrono::Datelike::month(&date) as u8,
            chrono::Datelike::day(&date) as u8,
        )?
        .and_hms(naive.hour() as u16, naive.minute() as u8, naive.second())?;
        ws.write_datetime_with_format(y, 7, &when, fmt)?;
        for (c, v, f) in [(8, r.lat, &coord), (9, r.lon, &coord), (10, r.accuracy, &metres)] {
            if let Some(v) = v {
                ws.write_number_with_format(y, c, v, f)?;
            }
        }
        ws.write_string_with_format(y, 14, r.photos_cell(lang), &text)?;
    }
    ws.set_freeze_panes(1, 0)?;
    ws.autofilter(0, 0, rows.len() as u32, 14)?;
    wb.save(path).map_err(|e| match e {
        rust_xlsxwriter::XlsxError::IoError(source) => ExportError::Output { path: path.to_path_buf(), source },
        other => ExportError::Xlsx(other),
    })
}

/// The same table as CSV: UTF-8 with a byte-order mark (Excel reads BOM-less CSV as the system code
/// page, GBK on a Chinese Windows, and garbles it), CRLF line ends, RFC 4180 quoting.
fn csv_bytes(rows: &[Row], lang: Lang) -> Vec<u8> {
    let mut out = String::from("\u{FEFF}");
    let mut line = |cells: Vec<String>| {
        out.push_str(&cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    };
    line(headers(lang).iter().map(|h| h.to_string()).collect());
    for r in rows {
        let num = |v: Option<f64>, digits: usize| v.map(|v| format!("{v:.digits$}")).unwrap_or_default();
        line(vec![
            text_cell(&r.id),
            text_cell(&r.category),
            text_cell(&r.subcategory),
            text_cell(&r.description),
            text_cell(&r.address),
            text_cell(r.severity),
            text_cell(r.status),
            local_time(&r.observed_at),
            num(r.lat, 6),
            num(r.lon, 6),
            num(r.accuracy, 0),
            text_cell(&r.sub_district),
            text_cell(&r.team),
            text_cell(&r.inspector),
            text_cell(&r.photos_cell(lang)),
        ]);
    }
    out.into_bytes()
}

/// Free text that Excel would run as a formula (=, +, -, @ first) gets a leading apostrophe: an
/// inspector's description must not become a live formula on a clerk's desk (CSV injection).
fn text_cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

struct PhotoJob {
    hash: PhotoHash,
    dest: PathBuf,
    lines: Vec<String>,
}

struct Written {
    copied: usize,
    /// Destinations whose photo the server does not hold.
    missing: Vec<PathBuf>,
}

/// Copies (or watermarks) every photo, one blocking task per core: decoding and encoding a 2048-px
/// JPEG is tens of milliseconds of CPU, and exports of thousands of findings must not take hours.
async fn copy_photos(
    blobs: &dyn BlobStore,
    jobs: Vec<PhotoJob>,
    font: Option<Arc<FontSource>>,
) -> Result<Written, ExportError> {
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut running = tokio::task::JoinSet::new();
    let mut written = Written { copied: 0, missing: Vec::new() };
    for job in jobs {
        while running.len() >= parallel {
            finish(&mut running, &mut written).await?;
        }
        let Some(bytes) = blobs.get(job.hash).await? else {
            tracing::warn!(hash = %job.hash.to_hex(), "photo not on the server; skipped");
            written.missing.push(job.dest);
            continue;
        };
        let font = font.clone();
        running.spawn_blocking(move || -> Result<(), ExportError> {
            let out = match &font {
                Some(font) => xuncha_photo::watermark(&bytes, &job.lines, font)
                    .map_err(|source| ExportError::Watermark { hash: job.hash.to_hex(), source })?,
                None => bytes,
            };
            std::fs::write(&job.dest, out).map_err(|source| ExportError::Output { path: job.dest, source })
        });
    }
    while !running.is_empty() {
        finish(&mut running, &mut written).await?;
    }
    Ok(written)
}

async fn finish(
    running: &mut tokio::task::JoinSet<Result<(), ExportError>>,
    written: &mut Written,
) -> Result<(), ExportError> {
    if let Some(done) = running.join_next().await {
        done.map_err(|e| ExportError::Task(e.to_string()))??;
        written.copied += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_read_like_a_clock() {
        let o = |s| FixedOffset::east_opt(s).unwrap();
        assert_eq!(utc_offset(&o(8 * 3600)), "UTC+8");
        assert_eq!(utc_offset(&o(0)), "UTC+0");
        assert_eq!(utc_offset(&o(-3 * 3600)), "UTC-3");
        assert_eq!(utc_offset(&o(5 * 3600 + 1800)), "UTC+5:30");
        let t = DateTime::parse_from_rfc3339("2026-11-20T09:30:41+08:00").unwrap();
        assert_eq!(local_time(&t), "2026-11-20 09:30 (UTC+8)");
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\"\nthen"), "\"say \"\"hi\"\"\nthen\"");
        assert_eq!(csv_cell("消防通道"), "消防通道");
        assert_eq!(text_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(text_cell("-3 m"), "'-3 m");
        assert_eq!(text_cell("堆物"), "堆物");
    }

    #[test]
    fn short_ids_take_the_random_end_and_grow_on_collision() {
        let a = FindingId(uuid::Uuid::parse_str("01890000-0000-7000-8000-0000aaaabbbb").unwrap());
        let b = FindingId(uuid::Uuid::parse_str("01890000-0000-7000-8000-1111aaaabbbb").unwrap());
        let c = FindingId(uuid::Uuid::parse_str("01890000-0000-7000-8000-1111aaaacccc").unwrap());
        let one = short_ids([a, c].into_iter());
        assert_eq!(one[&a], "AAAABBBB");
        let both = short_ids([a, b, c].into_iter());
        assert_eq!((both[&a].as_str(), both[&b].as_str()), ("0000AAAABBBB", "1111AAAABBBB"));
    }
}
