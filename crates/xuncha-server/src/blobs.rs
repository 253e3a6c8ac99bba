//! Photo bytes, addressed by their SHA-256. Behind a trait so an object store can replace the disk.
//!
//! The filesystem layout is `DIR/ab/<hash>.jpg` (two-letter fan-out keeps directories small). A photo is
//! written to `DIR/tmp/`, fsynced, renamed into place and the directory fsynced: after a crash a name
//! either holds the whole photo or does not exist, so "acknowledged but never stored" cannot happen.
//!
//! Resumable uploads keep what has arrived so far in `DIR/partial/<user>/<hash>.part` (the declared length
//! next to it in `<hash>.len`): per uploading user, so nobody can append to, or learn about, someone else's
//! upload. Each chunk is written as it arrives, so the bytes before a cut connection stay. A complete
//! partial is hash-checked, fsynced and renamed into place by the same step as a put. Partials untouched for
//! [`PARTIAL_MAX_AGE_SECS`] are deleted on start and whenever a new one is opened.

use async_trait::async_trait;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use xuncha_domain::{PhotoHash, UserId};
use xuncha_proto::upload::{MAX_PARTIALS_PER_USER, PARTIAL_MAX_AGE_SECS};

/// How long a PATCH waits for another request still writing the same partial (typically the server has
/// not yet noticed that the phone's previous connection died) before answering 409.
const PARTIAL_LOCK_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    #[error("photo storage I/O error at {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("photo storage task failed: {0}")]
    Task(String),
    /// The store cannot be reached now (an object store that is down or timing out): answered 503 with
    /// `Retry-After`, so devices come back later; nothing was acknowledged.
    #[error("photo storage unavailable: {0}")]
    Unavailable(String),
}

/// Whether a put stored new bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    New,
    AlreadyThere,
}

/// What the server holds of an unfinished upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialInfo {
    /// Bytes received so far (the offset the next PATCH must start at).
    pub held: u64,
    /// The length declared when the upload began, when known.
    pub total: Option<u64>,
}

/// The answer to "let me append at this offset".
pub enum OpenPartial {
    Ready(Box<dyn PartialUpload>),
    /// The partial holds another number of bytes than the client assumed.
    OffsetMismatch {
        held: u64,
    },
    /// Another request is still writing this partial.
    Busy {
        held: u64,
    },
    /// The user has [`MAX_PARTIALS_PER_USER`] unfinished uploads; one frees up in about this long.
    TooMany {
        retry_after: Duration,
    },
}

/// How a complete partial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    Stored(Stored),
    /// The bytes do not hash to the photo's name; the partial is deleted.
    HashMismatch,
}

/// An open partial upload. Holds the partial's lock until dropped.
#[async_trait]
pub trait PartialUpload: Send {
    fn held(&self) -> u64;
    /// Appends and writes through (not fsynced: the hash check at the end catches a torn tail).
    async fn append(&mut self, chunk: axum::body::Bytes) -> Result<(), BlobError>;
    /// Once `held` is the whole length: fsync, verify the SHA-256 (off the async threads) and move the bytes
    /// into place like a put. The partial is gone afterwards either way.
    async fn finish(self: Box<Self>, hash: PhotoHash) -> Result<Finished, BlobError>;
}

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// The stored photo's size in bytes, or `None` when the server does not have it. Devices compare it
    /// with their own copy before deciding not to upload.
    async fn len(&self, hash: PhotoHash) -> Result<Option<u64>, BlobError>;
    /// Stores bytes whose hash the caller has checked.
    async fn put(&self, hash: PhotoHash, bytes: Vec<u8>) -> Result<Stored, BlobError>;
    async fn get(&self, hash: PhotoHash) -> Result<Option<Vec<u8>>, BlobError>;
    /// This user's unfinished upload of `hash`, if any. Other users' partials are invisible. Read once a
    /// request still writing it has finished (or after a short wait), so the offset a device resumes from
    /// is not one that grows a moment later.
    async fn partial(&self, owner: UserId, hash: PhotoHash) -> Result<Option<PartialInfo>, BlobError>;
    /// Opens this user's partial of `hash` to append at `offset` (0 starts one) for a photo of `total` bytes.
    async fn open_partial(
        &self,
        owner: UserId,
        hash: PhotoHash,
        offset: u64,
        total: u64,
    ) -> Result<OpenPartial, BlobError>;
    /// Forgets this user's partial of `hash` (the photo arrived another way).
    async fn discard_partial(&self, owner: UserId, hash: PhotoHash) -> Result<(), BlobError>;
}

/// One async lock per partial file, so two requests never append to it at once. Entries are dropped
/// when their last user is done.
type PartialLocks = Arc<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>>;

#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
    locks: PartialLocks,
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> BlobError {
    let path = path.to_path_buf();
    move |source| BlobError::Io { path, source }
}

fn not_found_is_none<T>(r: std::io::Result<T>, path: &Path) -> Result<Option<T>, BlobError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(BlobError::Io { path: path.to_path_buf(), source }),
    }
}

impl FsBlobStore {
    /// Opens (creating) the directory and deletes partial uploads older than a day.
    pub fn open(root: &Path) -> Result<Self, BlobError> {
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&tmp).map_err(|source| BlobError::Io { path: tmp.clone(), source })?;
        let me = Self { root: root.to_path_buf(), locks: PartialLocks::default() };
        let swept = me.sweep_partials(SystemTime::now())?;
        if swept > 0 {
            tracing::info!(swept, "deleted stale partial photo uploads");
        }
        Ok(me)
    }

    fn partial_root(&self) -> PathBuf {
        self.root.join("partial")
    }

    /// `DIR/partial/<user>/<hash>.part` and the `.len` file beside it.
    fn partial_paths(&self, owner: UserId, hash: PhotoHash) -> (PathBuf, PathBuf) {
        let dir = self.partial_root().join(owner.to_string());
        let hex = hash.to_hex();
        (dir.join(format!("{hex}.part")), dir.join(format!("{hex}.len")))
    }

    /// Deletes partials (and their `.len`) last written before `now - PARTIAL_MAX_AGE_SECS`; returns how
    /// many. A user directory empty and unchanged for as long is removed too: one made a moment ago is
    /// about to receive its first partial (another user's request, or another server on the same folder,
    /// had it removed between its making and its first file, and that upload failed).
    pub fn sweep_partials(&self, now: SystemTime) -> Result<usize, BlobError> {
        let max_age = Duration::from_secs(PARTIAL_MAX_AGE_SECS);
        let root = self.partial_root();
        let Some(users) = not_found_is_none(std::fs::read_dir(&root), &root)? else { return Ok(0) };
        let mut swept = 0;
        for user in users.flatten() {
            let dir = user.path();
            let Ok(files) = std::fs::read_dir(&dir) else { continue };
            for f in files.flatten() {
                let path = f.path();
                if path.extension().is_none_or(|e| e != "part") {
                    continue;
                }
                let modified = f.metadata().and_then(|m| m.modified()).unwrap_or(now);
                if now.duration_since(modified).unwrap_or_default() > max_age {
                    // Another request may hold this one open; on Unix its writes then go to an unlinked file
                    // and its finish fails cleanly, which is fine for a day-old upload.
                    let _ = std::fs::remove_file(&path);
                    let _ = std::fs::remove_file(path.with_extension("len"));
                    swept += 1;
                }
            }
            let idle = user
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|m| now.duration_since(m).unwrap_or_default() > max_age);
            if idle {
                // Fails (harmlessly) unless empty.
                let _ = std::fs::remove_dir(&dir);
            }
        }
        Ok(swept)
    }

    fn partial_info_blocking(&self, owner: UserId, hash: PhotoHash) -> Result<Option<PartialInfo>, BlobError> {
        let (part, len) = self.partial_paths(owner, hash);
        let Some(meta) = not_found_is_none(std::fs::metadata(&part), &part)? else { return Ok(None) };
        let total = std::fs::read_to_string(&len).ok().and_then(|t| t.trim().parse().ok());
        Ok(Some(PartialInfo { held: meta.len(), total }))
    }

    /// Under the partial's lock: decides whether the client may append at `offset`, creating the partial
    /// when it starts at 0.
    fn open_partial_blocking(
        &self,
        owner: UserId,
        hash: PhotoHash,
        offset: u64,
        total: u64,
    ) -> Result<Result<(std::fs::File, u64), OpenPartial>, BlobError> {
        let (part, len) = self.partial_paths(owner, hash);
        let mut info = self.partial_info_blocking(owner, hash)?;
        if let Some(i) = info {
            // One name, one content, one length: a different length (or more bytes than it) means this
            // partial is not the photo being sent now. Start over rather than get stuck.
            if i.total.is_some_and(|t| t != total) || i.held > total {
                tracing::warn!(held = i.held, old_total = ?i.total, total, "partial upload had another length; restarting it");
                let _ = std::fs::remove_file(&part);
                let _ = std::fs::remove_file(&len);
                info = None;
            }
        }
        match info {
            Some(i) if i.held != offset => Ok(Err(OpenPartial::OffsetMismatch { held: i.held })),
            Some(i) => {
                if i.total.is_none() {
                    std::fs::write(&len, total.to_string()).map_err(io_at(&len))?;
                }
                let f = std::fs::OpenOptions::new().append(true).open(&part).map_err(io_at(&part))?;
                Ok(Ok((f, i.held)))
            }
            None if offset != 0 => Ok(Err(OpenPartial::OffsetMismatch { held: 0 })),
            None => {
                let now = SystemTime::now();
                self.sweep_partials(now)?;
                let dir = part.parent().expect("a partial path has a parent");
                std::fs::create_dir_all(dir).map_err(io_at(dir))?;
                // An old folder counts as new from now: no sweep removes it before its partial is written.
                let _ = std::fs::File::open(dir).and_then(|d| d.set_modified(now));
                let mut oldest: Option<SystemTime> = None;
                let mut count = 0usize;
                for f in std::fs::read_dir(dir).map_err(io_at(dir))?.flatten() {
                    if f.path().extension().is_some_and(|e| e == "part") {
                        count += 1;
                        let m = f.metadata().and_then(|m| m.modified()).unwrap_or(now);
                        oldest = Some(oldest.map_or(m, |o| o.min(m)));
                    }
                }
                if count >= MAX_PARTIALS_PER_USER {
                    let age = oldest.and_then(|o| now.duration_since(o).ok()).unwrap_or_default();
                    let retry_after = Duration::from_secs(PARTIAL_MAX_AGE_SECS).saturating_sub(age);
                    return Ok(Err(OpenPartial::TooMany { retry_after }));
                }
                std::fs::write(&len, total.to_string()).map_err(io_at(&len))?;
                let f = std::fs::OpenOptions::new().create(true).append(true).open(&part).map_err(io_at(&part))?;
                Ok(Ok((f, 0)))
            }
        }
    }

    /// Moves a complete, fsynced file at `tmp` to `hash`'s place and makes the rename durable. The one way
    /// bytes get a photo's name, for puts and for finished partial uploads alike.
    fn install(&self, hash: PhotoHash, tmp: &Path) -> Result<Stored, BlobError> {
        let dest = self.path_of(hash);
        if dest.exists() {
            let _ = std::fs::remove_file(tmp);
            return Ok(Stored::AlreadyThere);
        }
        let dir = dest.parent().expect("a blob path has a parent");
        std::fs::create_dir_all(dir).map_err(io_at(dir))?;
        std::fs::rename(tmp, &dest).map_err(io_at(&dest))?;
        // Make the rename itself durable.
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io_at(dir))?;
        Ok(Stored::New)
    }

    pub fn path_of(&self, hash: PhotoHash) -> PathBuf {
        let hex = hash.to_hex();
        self.root.join(&hex[..2]).join(format!("{hex}.jpg"))
    }

    fn put_blocking(&self, hash: PhotoHash, bytes: &[u8]) -> Result<Stored, BlobError> {
        if self.path_of(hash).exists() {
            return Ok(Stored::AlreadyThere);
        }
        // A unique temp name, so two uploads of one photo at once do not write into the same file.
        let tmp = self.root.join("tmp").join(format!("{}.{}.part", hash.to_hex(), uuid::Uuid::now_v7()));
        let result = (|| {
            let mut f = std::fs::File::create(&tmp).map_err(io_at(&tmp))?;
            f.write_all(bytes).map_err(io_at(&tmp))?;
            f.sync_all().map_err(io_at(&tmp))?;
            drop(f);
            self.install(hash, &tmp)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// What the partial holds at this moment, whoever is writing it.
    async fn partial_now(&self, owner: UserId, hash: PhotoHash) -> Result<Option<PartialInfo>, BlobError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.partial_info_blocking(owner, hash))
            .await
            .map_err(|e| BlobError::Task(e.to_string()))?
    }

    /// Takes the partial's lock, waiting a little for a request that is still finishing with it.
    async fn lock_partial(&self, part: &Path) -> Option<PartialGuard> {
        let lock = {
            let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(part.to_path_buf()).or_default().clone()
        };
        let guard = tokio::time::timeout(PARTIAL_LOCK_WAIT, lock.lock_owned()).await.ok();
        let guard = PartialGuard { key: part.to_path_buf(), locks: self.locks.clone(), guard };
        guard.guard.is_some().then_some(guard)
    }
}

/// Releases a partial's lock and drops its map entry when nobody else waits for it.
struct PartialGuard {
    key: PathBuf,
    locks: PartialLocks,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for PartialGuard {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        // The map holds one reference; anyone else holding one is waiting for (or holds) the lock.
        if map.get(&self.key).is_some_and(|l| Arc::strong_count(l) == 1) {
            map.remove(&self.key);
        }
    }
}

/// A partial file open for appending, with its lock.
struct FsPartial {
    store: FsBlobStore,
    file: Arc<std::fs::File>,
    part: PathBuf,
    len_file: PathBuf,
    held: u64,
    _guard: PartialGuard,
}

#[async_trait]
impl PartialUpload for FsPartial {
    fn held(&self) -> u64 {
        self.held
    }

    async fn append(&mut self, chunk: axum::body::Bytes) -> Result<(), BlobError> {
        let (file, part) = (self.file.clone(), self.part.clone());
        let n = chunk.len() as u64;
        // A blocking task runs to its end even if this request is dropped, so a chunk is never half-counted.
        tokio::task::spawn_blocking(move || (&*file).write_all(&chunk).map_err(io_at(&part)))
            .await
            .map_err(|e| BlobError::Task(e.to_string()))??;
        self.held += n;
        Ok(())
    }

    async fn finish(self: Box<Self>, hash: PhotoHash) -> Result<Finished, BlobError> {
        tokio::task::spawn_blocking(move || {
            let me = *self;
            me.file.sync_all().map_err(io_at(&me.part))?;
            let actual = hash_file(&me.part)?;
            let _ = std::fs::remove_file(&me.len_file);
            if actual != hash {
                let _ = std::fs::remove_file(&me.part);
                return Ok(Finished::HashMismatch);
            }
            let stored = me.store.install(hash, &me.part);
            if stored.is_err() {
                let _ = std::fs::remove_file(&me.part);
            }
            // Remove the user's directory when this was its last partial (fails harmlessly otherwise).
            if let Some(dir) = me.part.parent() {
                let _ = std::fs::remove_dir(dir);
            }
            stored.map(Finished::Stored)
        })
        .await
        .map_err(|e| BlobError::Task(e.to_string()))?
    }
}

/// SHA-256 of a file, read in pieces (a photo may be 8 MiB; no need to hold it all).
fn hash_file(path: &Path) -> Result<PhotoHash, BlobError> {
    use sha2::{Digest, Sha256};
    let mut f = std::fs::File::open(path).map_err(io_at(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(io_at(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(PhotoHash::from_bytes(h.finalize().into()))
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
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(BlobError::Io { path, source }),
        };
        // A damaged disk can hand back other bytes under the name; serving them would spread the damage to
        // every phone (which would then refuse them). Same rule as the S3 store.
        let (actual, bytes) = tokio::task::spawn_blocking(move || (hash_of(&bytes), bytes))
            .await
            .map_err(|e| BlobError::Task(e.to_string()))?;
        if actual != hash {
            tracing::error!(photo = %hash, %actual, "stored photo does not hash to its name; not served");
            let source = std::io::Error::new(std::io::ErrorKind::InvalidData, format!("content hashes to {actual}"));
            return Err(BlobError::Io { path, source });
        }
        Ok(Some(bytes))
    }

    async fn partial(&self, owner: UserId, hash: PhotoHash) -> Result<Option<PartialInfo>, BlobError> {
        // A connection that died with bytes still in the server's buffers leaves its request writing them
        // for a moment: read before it ends, the offset would make the device's next PATCH a 409 that
        // sends the rest of the photo for nothing.
        let (part, _) = self.partial_paths(owner, hash);
        let _settled = self.lock_partial(&part).await;
        self.partial_now(owner, hash).await
    }

    async fn open_partial(
        &self,
        owner: UserId,
        hash: PhotoHash,
        offset: u64,
        total: u64,
    ) -> Result<OpenPartial, BlobError> {
        let (part, len_file) = self.partial_paths(owner, hash);
        let Some(guard) = self.lock_partial(&part).await else {
            let held = self.partial_now(owner, hash).await?.map_or(0, |i| i.held);
            return Ok(OpenPartial::Busy { held });
        };
        let me = self.clone();
        let opened = tokio::task::spawn_blocking(move || me.open_partial_blocking(owner, hash, offset, total))
            .await
            .map_err(|e| BlobError::Task(e.to_string()))??;
        Ok(match opened {
            Ok((file, held)) => OpenPartial::Ready(Box::new(FsPartial {
                store: self.clone(),
                file: Arc::new(file),
                part,
                len_file,
                held,
                _guard: guard,
            })),
            Err(answer) => answer,
        })
    }

    async fn discard_partial(&self, owner: UserId, hash: PhotoHash) -> Result<(), BlobError> {
        let (part, len_file) = self.partial_paths(owner, hash);
        let Some(_guard) = self.lock_partial(&part).await else { return Ok(()) };
        tokio::task::spawn_blocking(move || {
            let _ = std::fs::remove_file(&part);
            let _ = std::fs::remove_file(&len_file);
        })
        .await
        .map_err(|e| BlobError::Task(e.to_string()))
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
    use axum::body::Bytes;

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

    fn ready(o: OpenPartial) -> Box<dyn PartialUpload> {
        match o {
            OpenPartial::Ready(p) => p,
            OpenPartial::OffsetMismatch { held } => panic!("offset mismatch, held {held}"),
            OpenPartial::Busy { held } => panic!("busy, held {held}"),
            OpenPartial::TooMany { .. } => panic!("too many"),
        }
    }

    #[tokio::test]
    async fn a_partial_resumes_per_user_and_lands_like_a_put() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).unwrap();
        let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let h = hash_of(&bytes);
        let (alice, bob) = (UserId::new_v7(), UserId::new_v7());
        let mut p = ready(store.open_partial(alice, h, 0, 100_000).await.unwrap());
        p.append(Bytes::copy_from_slice(&bytes[..40_000])).await.unwrap();
        drop(p);
        assert_eq!(store.partial(alice, h).await.unwrap(), Some(PartialInfo { held: 40_000, total: Some(100_000) }));
        assert_eq!(store.partial(bob, h).await.unwrap(), None, "another user's partial is invisible");
        assert!(matches!(
            store.open_partial(bob, h, 40_000, 100_000).await.unwrap(),
            OpenPartial::OffsetMismatch { held: 0 }
        ));
        assert!(matches!(
            store.open_partial(alice, h, 10, 100_000).await.unwrap(),
            OpenPartial::OffsetMismatch { held: 40_000 }
        ));
        let mut p = ready(store.open_partial(alice, h, 40_000, 100_000).await.unwrap());
        assert!(
            matches!(store.open_partial(alice, h, 40_000, 100_000).await.unwrap(), OpenPartial::Busy { held: 40_000 }),
            "one writer at a time"
        );
        p.append(Bytes::copy_from_slice(&bytes[40_000..])).await.unwrap();
        assert_eq!(p.finish(h).await.unwrap(), Finished::Stored(Stored::New));
        assert_eq!(store.get(h).await.unwrap().unwrap(), bytes);
        assert_eq!(store.partial(alice, h).await.unwrap(), None);
        assert!(!dir.path().join("partial").join(alice.to_string()).exists(), "nothing left behind");
    }

    #[tokio::test]
    async fn the_offset_is_read_after_a_dying_request_has_written_what_it_received() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).unwrap();
        let h = hash_of(b"whatever");
        let owner = UserId::new_v7();
        let mut dying = ready(store.open_partial(owner, h, 0, 100_000).await.unwrap());
        dying.append(Bytes::from(vec![7u8; 30_000])).await.unwrap();
        let asking = tokio::spawn({
            let store = store.clone();
            async move { store.partial(owner, h).await.unwrap() }
        });
        // The request is still draining its connection's buffers when the device asks where to resume.
        tokio::time::sleep(Duration::from_millis(300)).await;
        dying.append(Bytes::from(vec![7u8; 20_000])).await.unwrap();
        drop(dying);
        assert_eq!(asking.await.unwrap(), Some(PartialInfo { held: 50_000, total: Some(100_000) }));
    }

    #[tokio::test]
    async fn a_wrong_hash_deletes_the_partial() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).unwrap();
        let h = hash_of(b"the real photo");
        let u = UserId::new_v7();
        let mut p = ready(store.open_partial(u, h, 0, 5).await.unwrap());
        p.append(Bytes::from_static(b"wrong")).await.unwrap();
        assert_eq!(p.finish(h).await.unwrap(), Finished::HashMismatch);
        assert_eq!(store.partial(u, h).await.unwrap(), None);
        assert_eq!(store.len(h).await.unwrap(), None);
    }

    #[tokio::test]
    async fn partials_are_limited_per_user_and_swept_after_a_day() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).unwrap();
        let (u, other) = (UserId::new_v7(), UserId::new_v7());
        let hashes: Vec<_> = (0..=MAX_PARTIALS_PER_USER).map(|i| hash_of(&i.to_le_bytes())).collect();
        for h in &hashes[..MAX_PARTIALS_PER_USER] {
            let mut p = ready(store.open_partial(u, *h, 0, 10).await.unwrap());
            p.append(Bytes::from_static(b"abc")).await.unwrap();
        }
        match store.open_partial(u, hashes[MAX_PARTIALS_PER_USER], 0, 10).await.unwrap() {
            OpenPartial::TooMany { retry_after } => {
                assert!(retry_after > Duration::from_secs(PARTIAL_MAX_AGE_SECS - 60), "{retry_after:?}")
            }
            _ => panic!("the limit was not applied"),
        }
        ready(store.open_partial(other, hashes[0], 0, 10).await.unwrap());
        // Age one partial past the limit: it goes on the next open, and on the next start.
        let (old, old_len) = store.partial_paths(u, hashes[0]);
        let day_ago = SystemTime::now() - Duration::from_secs(PARTIAL_MAX_AGE_SECS + 60);
        std::fs::File::options().write(true).open(&old).unwrap().set_modified(day_ago).unwrap();
        ready(store.open_partial(u, hashes[MAX_PARTIALS_PER_USER], 0, 10).await.unwrap());
        assert!(!old.exists() && !old_len.exists(), "a day-old partial is swept when a new one opens");
        let (old2, _) = store.partial_paths(u, hashes[1]);
        std::fs::File::options().write(true).open(&old2).unwrap().set_modified(day_ago).unwrap();
        drop(store);
        let _reopened = FsBlobStore::open(dir.path()).unwrap();
        assert!(!old2.exists(), "a day-old partial is swept on start");
        assert!(store_has(dir.path(), u, hashes[2]), "recent partials stay");
    }

    #[test]
    fn a_sweep_leaves_a_user_folder_just_made_and_removes_one_long_empty() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).unwrap();
        let folder = store.partial_root().join(UserId::new_v7().to_string());
        std::fs::create_dir_all(&folder).unwrap();
        store.sweep_partials(SystemTime::now()).unwrap();
        assert!(folder.exists(), "another request is about to write its first partial here");
        let day_ago = SystemTime::now() - Duration::from_secs(PARTIAL_MAX_AGE_SECS + 60);
        std::fs::File::open(&folder).unwrap().set_modified(day_ago).unwrap();
        store.sweep_partials(SystemTime::now()).unwrap();
        assert!(!folder.exists());
    }

    fn store_has(root: &Path, u: UserId, h: PhotoHash) -> bool {
        root.join("partial").join(u.to_string()).join(format!("{}.part", h.to_hex())).exists()
    }
}
