//! Photo tools of the `xuncha-server` binary: `photo-info` (what the ingest makes of files) and
//! `import-photos` (a folder of camera photos becomes findings). Binary-only, so they may print.

pub mod import_photos;
pub mod photo_info;
