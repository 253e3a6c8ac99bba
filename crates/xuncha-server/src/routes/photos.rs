//! `/api/v1/photos/{sha256}`: PUT stores bytes whose SHA-256 is their name; HEAD says whether the server
//! has them; GET returns them only to someone who uploaded them or may see a finding that shows them.

use crate::auth::Auth;
use crate::blobs::{hash_of, Stored};
use crate::error::AppError;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use xuncha_domain::{DomainError, PhotoHash, UserMessage};
use xuncha_proto::MAX_PHOTO_BYTES;

fn parse_hash(s: &str) -> Result<PhotoHash, AppError> {
    s.parse().map_err(|e: DomainError| AppError::BadRequest(e.user_message()))
}

#[tracing::instrument(skip_all, fields(user = %auth.session.principal.user, photo = %hash, size = tracing::field::Empty))]
pub async fn put_photo(
    State(s): State<AppState>,
    auth: Auth,
    Path(hash): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, AppError> {
    let hash = parse_hash(&hash)?;
    let body = body.map_err(|rej| match rej.status() {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::TooLarge(crate::error::messages::photo_too_large(MAX_PHOTO_BYTES)),
        _ => AppError::BadRequest(crate::error::messages::bad_body(&rej.body_text())),
    })?;
    tracing::Span::current().record("size", body.len());
    if body.is_empty() {
        return Err(AppError::BadRequest(UserMessage::new("photo.empty", "照片内容为空。", "The photo is empty.")));
    }
    let bytes = body.to_vec();
    let (actual, bytes) = tokio::task::spawn_blocking(move || (hash_of(&bytes), bytes))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    if actual != hash {
        tracing::warn!("photo hash mismatch");
        return Err(AppError::PhotoHashMismatch);
    }
    let size = bytes.len() as u64;
    // Bytes first, then the record: a record never names a photo the disk does not hold.
    let stored = s.blobs.put(hash, bytes).await?;
    s.store.record_photo_upload(&auth.session.principal, hash, size, Utc::now()).await?;
    Ok(match stored {
        Stored::New => StatusCode::CREATED,
        Stored::AlreadyThere => StatusCode::OK,
    })
}

#[tracing::instrument(skip_all, fields(user = %auth.session.principal.user, photo = %hash))]
pub async fn head_photo(State(s): State<AppState>, auth: Auth, Path(hash): Path<String>) -> Result<Response, AppError> {
    let _ = &auth;
    let hash = parse_hash(&hash)?;
    // The real length, so a device can tell a complete copy from an interrupted one before skipping its upload.
    match s.blobs.len(hash).await? {
        Some(len) => Ok(([(header::CONTENT_LENGTH, len.to_string())], StatusCode::OK).into_response()),
        None => Err(AppError::NotFound),
    }
}

#[tracing::instrument(skip_all, fields(user = %auth.session.principal.user, photo = %hash))]
pub async fn get_photo(State(s): State<AppState>, auth: Auth, Path(hash): Path<String>) -> Result<Response, AppError> {
    let hash = parse_hash(&hash)?;
    // Out of scope answers exactly like missing, so photo names cannot be probed.
    if !s.store.photo_visible(&auth.session.principal, hash).await? {
        return Err(AppError::NotFound);
    }
    let bytes = s.blobs.get(hash).await?.ok_or(AppError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            // Content-addressed, so it never changes; private because it is scoped per user.
            (header::CACHE_CONTROL, "private, max-age=31536000, immutable"),
        ],
        bytes,
    )
        .into_response())
}
