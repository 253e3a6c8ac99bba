//! Photo tools of the `xuncha-server` binary: `photo-info` (what the ingest makes of files),
//! `import-photos` (a folder of camera photos becomes findings) and `export` (findings and photos
//! for the district office). Binary-only, so they may print.

pub mod export;
pub mod import_photos;
pub mod photo_info;
