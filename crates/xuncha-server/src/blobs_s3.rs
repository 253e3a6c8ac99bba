//! Photo bytes in an S3-compatible object store (AWS S3, MinIO, Ceph RGW, Garage, s3s-fs …): the second
//! [`BlobStore`] backend, chosen with `--s3 s3://BUCKET/PREFIX?endpoint=…&region=…` (docs/blob-store.md).
//!
//! Objects are named `<prefix>photos/ab/<hash>.jpg`, the filesystem store's layout under a prefix. Requests
//! use path-style addressing (`ENDPOINT/BUCKET/KEY`), which every self-hosted server understands, and are
//! signed with SigV4 from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (never logged, redacted in `Debug`).
//!
//! - `put` HEADs first: a photo is named by its content, so an existing object is the same bytes and the
//!   answer is [`Stored::AlreadyThere`] without sending 8 MiB again. A whole-object PUT is atomic in S3:
//!   readers see the old state or the complete object, never a part, so nothing is acknowledged before it
//!   is stored.
//! - `get` checks the SHA-256 of what came back: an object store (or a proxy in front of it) can serve a
//!   truncated or damaged object, and a photo that does not hash to its name is evidence that lies.
//! - Resumable uploads stay on local disk (a [`FsBlobStore`] in `<--blobs>/s3-spool`): appending to an
//!   object is not an S3 operation, and S3 multipart parts must be ≥ 5 MiB, larger than a phone's chunk.
//!   `finish` verifies the bytes locally (the filesystem store's own step), uploads them as one object and
//!   only then answers; the local copy is deleted afterwards either way.
//!
//! Requests have bounded timeouts and retries, so an unreachable store turns into an error within
//! [`WORST_CASE`] instead of a hung upload; the device retries later per its retry policy.

use crate::blobs::{
    hash_of, BlobError, BlobStore, Finished, FsBlobStore, OpenPartial, PartialInfo, PartialUpload, Stored,
};
use crate::config::S3Location;
use async_trait::async_trait;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use xuncha_domain::{PhotoHash, UserId};
use xuncha_proto::MAX_PHOTO_BYTES;

/// One request (connect, send, receive) may take this long: 8 MiB at a slow 1 MB/s is 8 s.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Retries of a failed request (5xx, connection errors, timeouts), started within [`RETRY_WINDOW`].
const MAX_RETRIES: usize = 2;
const RETRY_WINDOW: Duration = Duration::from_secs(15);
/// The longest a store call can take before it fails: a retry starts within the window and then runs to
/// its timeout. A phone's request waits at most this long for an answer.
pub const WORST_CASE: Duration = Duration::from_secs(RETRY_WINDOW.as_secs() + REQUEST_TIMEOUT.as_secs());

/// The local directory (under `--blobs`) for unfinished uploads when photos live in S3. A subdirectory, so a
/// server switched from the filesystem store to S3 never confuses the old photo files with staged uploads.
pub const SPOOL_DIR: &str = "s3-spool";

/// Why the S3 store could not be opened or a request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum S3Error {
    #[error("S3 credentials missing: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")]
    MissingCredentials,
    #[error("S3 client for {location}: {source}")]
    Client { location: String, source: object_store::Error },
    #[error("S3 bucket {location} is not usable: {source}")]
    Bucket { location: String, source: object_store::Error },
    #[error("S3 request for {key} failed: {source}")]
    Request { key: String, source: object_store::Error },
    #[error("S3 object {key} is {size} bytes, more than a photo can be")]
    TooLarge { key: String, size: u64 },
    #[error("S3 object {key} does not hash to its name (got {actual}): refusing to serve it")]
    Corrupt { key: String, actual: PhotoHash },
    #[error("local staging file {path} of a finished upload is gone and the object is not in S3")]
    StagingGone { path: PathBuf },
}

impl S3Error {
    /// The nearest `io::ErrorKind`, so callers of [`BlobError`] can tell "store unreachable" from
    /// "store holds bad data".
    fn kind(&self) -> std::io::ErrorKind {
        use std::io::ErrorKind;
        match self {
            S3Error::MissingCredentials => ErrorKind::PermissionDenied,
            S3Error::Corrupt { .. } | S3Error::TooLarge { .. } => ErrorKind::InvalidData,
            S3Error::StagingGone { .. } => ErrorKind::NotFound,
            S3Error::Client { .. } | S3Error::Bucket { .. } | S3Error::Request { .. } => ErrorKind::Other,
        }
    }

    fn location(&self) -> PathBuf {
        match self {
            S3Error::Request { key, .. } | S3Error::TooLarge { key, .. } | S3Error::Corrupt { key, .. } => {
                PathBuf::from(key)
            }
            S3Error::Client { location, .. } | S3Error::Bucket { location, .. } => PathBuf::from(location),
            S3Error::StagingGone { path } => path.clone(),
            S3Error::MissingCredentials => PathBuf::from("s3"),
        }
    }
}

/// A failed request is `Unavailable` (503 + Retry-After); anything else is an I/O error at the object's key,
/// keeping the cause and its kind, and maps to the same HTTP answer as a failing disk.
impl From<S3Error> for BlobError {
    fn from(e: S3Error) -> Self {
        // A request that failed (after the bounded retries) means the store is down or slow: a 503 with
        // Retry-After tells devices to come back later rather than that something broke for good.
        if matches!(e, S3Error::Request { .. }) {
            return BlobError::Unavailable(e.to_string());
        }
        BlobError::Io { path: e.location(), source: std::io::Error::new(e.kind(), e) }
    }
}

/// An access key pair. `Debug` shows neither half.
#[derive(Clone)]
pub struct S3Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<String>,
}

impl S3Credentials {
    /// From the standard `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (and optional `AWS_SESSION_TOKEN`).
    pub fn from_env() -> Result<Self, S3Error> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(access_key_id), Some(secret_access_key)) => {
                Ok(Self { access_key_id, secret_access_key, session_token: var("AWS_SESSION_TOKEN") })
            }
            _ => Err(S3Error::MissingCredentials),
        }
    }
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("S3Credentials(***)")
    }
}

/// Photos in an S3 bucket; unfinished uploads on local disk.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    s3: Arc<AmazonS3>,
    location: S3Location,
    /// Partials and the staged copy of a finished one (see the module docs).
    spool: FsBlobStore,
}

impl S3BlobStore {
    /// Opens the store with credentials from the environment and checks that the bucket answers (so a
    /// wrong endpoint, bucket or key fails at start-up, not at the first photo).
    pub async fn open(location: &S3Location, local_dir: &Path) -> Result<Self, BlobError> {
        Self::open_with(location, S3Credentials::from_env()?, local_dir).await
    }

    pub async fn open_with(
        location: &S3Location,
        credentials: S3Credentials,
        local_dir: &Path,
    ) -> Result<Self, BlobError> {
        let label = location.to_string();
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(3),
                ..Default::default()
            },
            max_retries: MAX_RETRIES,
            retry_timeout: RETRY_WINDOW,
        };
        let options = ClientOptions::new()
            .with_timeout(REQUEST_TIMEOUT)
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_content_type_for_suffix("jpg", "image/jpeg")
            .with_allow_http(location.endpoint.as_deref().is_some_and(|e| e.starts_with("http://")));
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&location.bucket)
            .with_region(&location.region)
            .with_access_key_id(credentials.access_key_id)
            .with_secret_access_key(credentials.secret_access_key)
            // Path-style (`ENDPOINT/BUCKET/KEY`): self-hosted servers rarely have a DNS name per bucket.
            .with_virtual_hosted_style_request(false)
            .with_retry(retry)
            .with_client_options(options);
        if let Some(token) = credentials.session_token {
            builder = builder.with_token(token);
        }
        if let Some(endpoint) = &location.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        let s3 = builder.build().map_err(|source| S3Error::Client { location: label.clone(), source })?;
        let spool_dir = local_dir.join(SPOOL_DIR);
        let spool = FsBlobStore::open(&spool_dir)?;
        clear_staged(&spool_dir);
        let me = Self { s3: Arc::new(s3), location: location.clone(), spool };
        me.check_bucket().await?;
        tracing::info!(location = %label, spool = %spool_dir.display(), "photos in S3");
        Ok(me)
    }

    /// Lists (at most one page of) the photo prefix: fails when the bucket is missing, the credentials are
    /// refused or the endpoint does not answer.
    async fn check_bucket(&self) -> Result<(), S3Error> {
        let prefix = ObjectPath::parse(format!("{}photos", self.location.prefix))
            .map_err(|e| S3Error::Bucket { location: self.location.to_string(), source: e.into() })?;
        self.s3
            .list_with_delimiter(Some(&prefix))
            .await
            .map(drop)
            .map_err(|source| S3Error::Bucket { location: self.location.to_string(), source })
    }

    /// The object key of a photo: `<prefix>photos/ab/<hash>.jpg`.
    pub fn key_of(&self, hash: PhotoHash) -> String {
        let hex = hash.to_hex();
        format!("{}photos/{}/{hex}.jpg", self.location.prefix, &hex[..2])
    }

    fn path_of(&self, hash: PhotoHash) -> Result<ObjectPath, S3Error> {
        let key = self.key_of(hash);
        // The prefix is checked when the location is parsed, so this does not fail in practice.
        ObjectPath::parse(&key).map_err(|e| S3Error::Request { key, source: e.into() })
    }

    async fn head_len(&self, hash: PhotoHash) -> Result<Option<u64>, S3Error> {
        let path = self.path_of(hash)?;
        match self.s3.head(&path).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(source) => Err(S3Error::Request { key: self.key_of(hash), source }),
        }
    }

    /// HEAD, then PUT the whole object when it is not there yet.
    async fn put_bytes(&self, hash: PhotoHash, bytes: Vec<u8>) -> Result<Stored, S3Error> {
        if self.head_len(hash).await?.is_some() {
            return Ok(Stored::AlreadyThere);
        }
        let path = self.path_of(hash)?;
        let size = bytes.len();
        self.s3
            .put(&path, PutPayload::from(bytes))
            .await
            .map_err(|source| S3Error::Request { key: self.key_of(hash), source })?;
        tracing::debug!(photo = %hash, size, "stored in S3");
        Ok(Stored::New)
    }

    async fn get_verified(&self, hash: PhotoHash) -> Result<Option<Vec<u8>>, S3Error> {
        let key = self.key_of(hash);
        let path = self.path_of(hash)?;
        let got = match self.s3.get(&path).await {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(source) => return Err(S3Error::Request { key, source }),
        };
        // Do not read a runaway object into memory: no photo is larger than this.
        if got.meta.size > MAX_PHOTO_BYTES as u64 {
            return Err(S3Error::TooLarge { key, size: got.meta.size });
        }
        let bytes = got.bytes().await.map_err(|source| S3Error::Request { key: key.clone(), source })?;
        let (actual, bytes) = tokio::task::spawn_blocking(move || (hash_of(&bytes), bytes))
            .await
            .map_err(|e| S3Error::Request { key: key.clone(), source: object_store::Error::JoinError { source: e } })?;
        if actual != hash {
            tracing::error!(photo = %hash, %actual, size = bytes.len(), "S3 object does not match its hash");
            return Err(S3Error::Corrupt { key, actual });
        }
        Ok(Some(bytes.to_vec()))
    }

    /// Uploads a finished partial that the spool verified and placed at `staged`, then deletes the local copy
    /// (also when the upload failed: the partial is gone, so the device sends the photo again from 0).
    async fn upload_staged(&self, hash: PhotoHash, staged: PathBuf) -> Result<Stored, BlobError> {
        let read = {
            let staged = staged.clone();
            tokio::task::spawn_blocking(move || std::fs::read(&staged))
                .await
                .map_err(|e| BlobError::Task(e.to_string()))?
        };
        let result = match read {
            Ok(bytes) => self.put_bytes(hash, bytes).await.map_err(BlobError::from),
            // Another user's finish of the same photo staged it at the same name and has uploaded (and
            // deleted) it already, or failed. S3 tells which.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match self.head_len(hash).await? {
                Some(_) => Ok(Stored::AlreadyThere),
                None => Err(S3Error::StagingGone { path: staged.clone() }.into()),
            },
            Err(source) => Err(BlobError::Io { path: staged.clone(), source }),
        };
        if let Err(e) = tokio::fs::remove_file(&staged).await {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(error = %e, path = %staged.display(), "could not delete a staged upload");
            }
        }
        result
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn len(&self, hash: PhotoHash) -> Result<Option<u64>, BlobError> {
        Ok(self.head_len(hash).await?)
    }

    async fn put(&self, hash: PhotoHash, bytes: Vec<u8>) -> Result<Stored, BlobError> {
        Ok(self.put_bytes(hash, bytes).await?)
    }

    async fn get(&self, hash: PhotoHash) -> Result<Option<Vec<u8>>, BlobError> {
        Ok(self.get_verified(hash).await?)
    }

    async fn partial(&self, owner: UserId, hash: PhotoHash) -> Result<Option<PartialInfo>, BlobError> {
        self.spool.partial(owner, hash).await
    }

    async fn open_partial(
        &self,
        owner: UserId,
        hash: PhotoHash,
        offset: u64,
        total: u64,
    ) -> Result<OpenPartial, BlobError> {
        Ok(match self.spool.open_partial(owner, hash, offset, total).await? {
            OpenPartial::Ready(inner) => OpenPartial::Ready(Box::new(S3Partial { inner, store: self.clone() })),
            other => other,
        })
    }

    async fn discard_partial(&self, owner: UserId, hash: PhotoHash) -> Result<(), BlobError> {
        self.spool.discard_partial(owner, hash).await
    }
}

/// Deletes staged copies (`SPOOL/ab/<hash>.jpg`) that a crash left between a finished partial and its S3
/// upload. Their uploads were never acknowledged, so the devices send them again; keeping them would only
/// let them pile up. Best effort: a leftover costs disk, not correctness.
fn clear_staged(spool_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(spool_dir) else { return };
    let mut cleared = 0usize;
    for dir in entries.flatten() {
        // The fan-out directories are the two-letter ones; `tmp` and `partial` are the spool's own.
        let name = dir.file_name();
        if name.len() != 2 || !dir.path().is_dir() {
            continue;
        }
        let Ok(files) = std::fs::read_dir(dir.path()) else { continue };
        for f in files.flatten() {
            if f.path().extension().is_some_and(|e| e == "jpg") && std::fs::remove_file(f.path()).is_ok() {
                cleared += 1;
            }
        }
        let _ = std::fs::remove_dir(dir.path());
    }
    if cleared > 0 {
        tracing::info!(cleared, "deleted staged uploads that never reached S3");
    }
}

/// A local partial whose `finish` ends in S3.
struct S3Partial {
    inner: Box<dyn PartialUpload>,
    store: S3BlobStore,
}

#[async_trait]
impl PartialUpload for S3Partial {
    fn held(&self) -> u64 {
        self.inner.held()
    }

    async fn append(&mut self, chunk: axum::body::Bytes) -> Result<(), BlobError> {
        self.inner.append(chunk).await
    }

    async fn finish(self: Box<Self>, hash: PhotoHash) -> Result<Finished, BlobError> {
        let S3Partial { inner, store } = *self;
        // The spool fsyncs, hash-checks and renames the bytes to its own photo path: a verified, complete file.
        match inner.finish(hash).await? {
            Finished::HashMismatch => Ok(Finished::HashMismatch),
            Finished::Stored(_) => {
                let staged = store.spool.path_of(hash);
                store.upload_staged(hash, staged).await.map(Finished::Stored)
            }
        }
    }
}
