//! Photo files on disk, content-addressed: `DATA/photos/ab/<hash>.jpg` and `DATA/thumbs/ab/<hash>.jpg`.
//!
//! Each file is written to a temp file in the same directory, fsynced, renamed over its final name and
//! the directory fsynced, all BEFORE the database row that references it commits. So after any crash a
//! committed row never points at a missing or half-written file (at worst an orphan file stays behind).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use xuncha_domain::PhotoHash;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Full,
    Thumb,
}

#[derive(Debug, Clone)]
pub struct PhotoFiles {
    root: PathBuf,
}

impl PhotoFiles {
    pub fn new(data_dir: &Path) -> Self {
        Self { root: data_dir.to_path_buf() }
    }

    pub fn path(&self, kind: Kind, hash: &PhotoHash) -> PathBuf {
        let hex = hash.to_hex();
        let dir = match kind {
            Kind::Full => "photos",
            Kind::Thumb => "thumbs",
        };
        // Two-hex-digit fan-out keeps directories small on phones' file systems.
        self.root.join(dir).join(&hex[..2]).join(format!("{hex}.jpg"))
    }

    pub fn exists(&self, kind: Kind, hash: &PhotoHash) -> bool {
        self.path(kind, hash).is_file()
    }

    pub fn read(&self, kind: Kind, hash: &PhotoHash) -> std::io::Result<Vec<u8>> {
        fs::read(self.path(kind, hash))
    }

    /// Durably writes `bytes` as the file for `hash`. A file already there is complete (it was renamed
    /// into place only after fsync) and has the same content (same hash), so it is kept as is.
    pub fn write(&self, kind: Kind, hash: &PhotoHash, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.path(kind, hash);
        if path.is_file() {
            return Ok(());
        }
        let dir = path.parent().expect("photo path has a parent");
        fs::create_dir_all(dir)?;
        write_durably(dir, &path, bytes)
    }
}

/// temp file → fsync → rename → fsync(dir).
fn write_durably(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("photo"),
        uuid::Uuid::now_v7().simple()
    ));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    // On Unix a rename is durable only once the directory entry itself is flushed.
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    // Windows cannot open a directory as a file; NTFS journals the rename's metadata itself.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_under_fanout_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let files = PhotoFiles::new(dir.path());
        let hash = PhotoHash::from_bytes([0xab; 32]);
        files.write(Kind::Full, &hash, b"jpeg bytes").unwrap();
        let p = files.path(Kind::Full, &hash);
        assert!(p.to_string_lossy().contains("photos/ab/abab"));
        assert_eq!(fs::read(&p).unwrap(), b"jpeg bytes");
        let names: Vec<_> = fs::read_dir(p.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
