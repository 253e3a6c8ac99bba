//! Photo bytes, addressed by their SHA-256. Behind a trait so an object store can replace the disk.
//!
//! The filesystem layout is `DIR/ab/<hash>.jpg` (two-letter fan-out keeps directories small). A photo is
//! written to `DIR/tmp/`, fsynced, renamed into place and the directory fsynced: after a crash a name
//! either holds the whole photo or does not exist, so "acknowledged but never stored" cannot happen.

use async_trait::async_trait;
use std::io::Write;
use std::path::{Path, PathBuf};
use xuncha_domain::PhotoHash;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    #[error("photo storage I/O error at {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("photo storage task failed: {0}")]
    Task(String),
}

/// Whether a put stored new bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    New,
    AlreadyThere,
}

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// The stored photo's size in bytes, or `None` when the server does not have it. Devices compare it
    /// with their own copy before deciding not to upload.
    async fn len(&self, hash: PhotoHash) -> Result<Option<u64>, BlobError>;
    /// Stores bytes whose hash the caller has checked.
    async fn put(&self, hash: PhotoHash, bytes: Vec<u8>) -> Result<Stored, BlobError>;
    async fn get(&self, hash: PhotoHash) -> Result<Option<Vec<u8>>, BlobError>;
}

#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    pub fn open(root: &Path) -> Result<Self, BlobError> {
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&tmp).map_err(|source| BlobError::Io { path: tmp.clone(), source })?;
        Ok(Self { root: root.to_path_buf() })
    }

    pub fn path_of(&self, hash: PhotoHash) -> PathBuf {
        let hex = hash.to_hex();
        self.root.join(&hex[..2]).join(format!("{hex}.jpg"))
    }

    fn put_blocking(&self, hash: PhotoHash, bytes: &[u8]) -> Result<Stored, BlobError> {
        let dest = self.path_of(hash);
        if dest.exists() {
            return Ok(Stored::AlreadyThere);
        }
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| BlobError::Io { path, source }
        };
        let dir = dest.parent().expect("a blob path has a parent");
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        // A unique temp name, so two uploads of one photo at once do not write into the same file.
        let tmp = self.root.join("tmp").join(format!("{}.{}.part", hash.to_hex(), uuid::Uuid::now_v7()));
        let result = (|| {
            let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(bytes).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
            drop(f);
            std::fs::rename(&tmp, &dest).map_err(io(&dest))?;
            // Make the rename itself durable.
            std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
            Ok(Stored::New)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn len(&self, hash: PhotoHash) -> Result<Option<u64>, BlobError> {
        let path = self.path_of(hash);
        match tokio::fs::metadata(&path).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(BlobError::Io { path, source }),
        }
    }

    async fn put(&self, hash: PhotoHash, bytes: Vec<u8>) -> Result<Stored, BlobError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.put_blocking(hash, &bytes))
            .await
            .map_err(|e| BlobError::Task(e.to_string()))?
    }

    async fn get(&self, hash: PhotoHash) -> Result<Option<Vec<u8>>, BlobError> {
        let path = self.path_of(hash);
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(BlobError::Io { path, source }),
        }
    }
}

/// SHA-256 of bytes as a photo name.
pub fn hash_of(bytes: &[u8]) -> PhotoHash {
    use sha2::{Digest, Sha256};
    PhotoHash::from_bytes(Sha256::digest(bytes).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_is_atomic_named_and_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).unwrap();
        let bytes = b"not really a jpeg".to_vec();
        let h = hash_of(&bytes);
        assert_eq!(store.len(h).await.unwrap(), None);
        assert_eq!(store.put(h, bytes.clone()).await.unwrap(), Stored::New);
        assert_eq!(store.put(h, bytes.clone()).await.unwrap(), Stored::AlreadyThere);
        assert_eq!(store.get(h).await.unwrap().unwrap(), bytes);
        let hex = h.to_hex();
        assert!(dir.path().join(&hex[..2]).join(format!("{hex}.jpg")).is_file());
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0, "no temp file left behind");
    }
}
