//! `/api/v1/photos/{sha256}`: PUT stores bytes whose SHA-256 is their name; PATCH does the same in
//! resumable pieces (`xuncha_proto::upload`); HEAD says whether the server has them, or how much of this
//! user's unfinished upload it holds; GET returns them only to someone who uploaded them or may see a
//! finding that shows them.

use crate::auth::Auth;
use crate::blobs::{hash_of, Finished, OpenPartial, Stored};
use crate::error::{messages, AppError};
use crate::AppState;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures_util::StreamExt;
use xuncha_domain::{DomainError, PhotoHash, UserMessage};
use xuncha_proto::upload::{UPLOAD_LENGTH, UPLOAD_OFFSET};
use xuncha_proto::MAX_PHOTO_BYTES;

/// Longest `Retry-After` given for "too many unfinished uploads": a slot may free up sooner (a finished
/// upload), and a retry is one small request.
const MAX_TOO_MANY_RETRY_SECS: u64 = 3600;

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
    // An unfinished resumable upload of the same photo is not needed any more.
    if let Err(e) = s.blobs.discard_partial(auth.session.principal.user, hash).await {
        tracing::warn!(error = %e, "could not discard a partial upload");
    }
    Ok(match stored {
        Stored::New => StatusCode::CREATED,
        Stored::AlreadyThere => StatusCode::OK,
    })
}

/// A required `Upload-Offset` / `Upload-Length` header as a number.
fn upload_header(headers: &HeaderMap, name: &'static str) -> Result<u64, AppError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
        .ok_or_else(|| AppError::BadRequest(messages::upload_header(name)))
}

fn set_header(resp: &mut Response, name: &'static str, value: u64) {
    resp.headers_mut().insert(HeaderName::from_static(name), HeaderValue::from(value));
}

/// `PATCH /api/v1/photos/{hash}` with `Upload-Offset: N`, `Upload-Length: TOTAL`, body = bytes from N.
#[tracing::instrument(
    skip_all,
    fields(user = %auth.session.principal.user, photo = %hash, offset = tracing::field::Empty,
           total = tracing::field::Empty, held = tracing::field::Empty)
)]
pub async fn patch_photo(
    State(s): State<AppState>,
    auth: Auth,
    Path(hash): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match patch_inner(&s, &auth, &hash, &headers, body).await {
        Ok(resp) => resp,
        Err(e) => {
            // The answers a client acts on carry the number it needs.
            let (offset, retry) = match &e {
                AppError::UploadOffsetMismatch { held, .. } | AppError::UploadBusy { held } => (Some(*held), None),
                AppError::TooManyUploads { retry_after_secs } => (None, Some(*retry_after_secs)),
                _ => (None, None),
            };
            let mut resp = e.into_response();
            if let Some(held) = offset {
                set_header(&mut resp, UPLOAD_OFFSET, held);
            }
            if let Some(secs) = retry {
                resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            resp
        }
    }
}

async fn patch_inner(
    s: &AppState,
    auth: &Auth,
    hash: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let hash = parse_hash(hash)?;
    let offset = upload_header(headers, UPLOAD_OFFSET)?;
    let total = upload_header(headers, UPLOAD_LENGTH)?;
    let span = tracing::Span::current();
    span.record("offset", offset);
    span.record("total", total);
    if total == 0 {
        return Err(AppError::BadRequest(UserMessage::new("photo.empty", "照片内容为空。", "The photo is empty.")));
    }
    if total > MAX_PHOTO_BYTES as u64 {
        return Err(AppError::TooLarge(messages::photo_too_large(MAX_PHOTO_BYTES)));
    }
    if offset > total {
        return Err(AppError::BadRequest(messages::upload_header(UPLOAD_OFFSET)));
    }
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| offset.saturating_add(n) > total) {
        return Err(AppError::TooLarge(messages::upload_over_length(total)));
    }
    let principal = &auth.session.principal;
    let mut up = match s.blobs.open_partial(principal.user, hash, offset, total).await? {
        OpenPartial::Ready(up) => up,
        OpenPartial::OffsetMismatch { held } => return Err(AppError::UploadOffsetMismatch { offset, held }),
        OpenPartial::Busy { held } => return Err(AppError::UploadBusy { held }),
        OpenPartial::TooMany { retry_after } => {
            tracing::warn!("too many unfinished photo uploads");
            let retry_after_secs = retry_after.as_secs().clamp(60, MAX_TOO_MANY_RETRY_SECS);
            return Err(AppError::TooManyUploads { retry_after_secs });
        }
    };
    // Streamed, chunk by chunk, into the partial: what arrived before a cut connection stays.
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                span.record("held", up.held());
                tracing::info!(error = %e, "photo upload interrupted; the bytes received are kept");
                return Err(AppError::BadRequest(messages::bad_body("upload interrupted")));
            }
        };
        if up.held() + chunk.len() as u64 > total {
            span.record("held", up.held());
            return Err(AppError::TooLarge(messages::upload_over_length(total)));
        }
        up.append(chunk).await?;
    }
    let held = up.held();
    span.record("held", held);
    if held < total {
        let mut resp = StatusCode::NO_CONTENT.into_response();
        set_header(&mut resp, UPLOAD_OFFSET, held);
        return Ok(resp);
    }
    let stored = match up.finish(hash).await? {
        Finished::Stored(stored) => stored,
        Finished::HashMismatch => {
            tracing::warn!("photo hash mismatch on a completed upload; partial discarded");
            return Err(AppError::PhotoHashMismatch);
        }
    };
    // Bytes first, then the record, as for PUT.
    s.store.record_photo_upload(principal, hash, total, Utc::now()).await?;
    tracing::info!(resumed = offset > 0, "photo upload complete");
    let mut resp = match stored {
        Stored::New => StatusCode::CREATED,
        Stored::AlreadyThere => StatusCode::OK,
    }
    .into_response();
    set_header(&mut resp, UPLOAD_OFFSET, total);
    set_header(&mut resp, UPLOAD_LENGTH, total);
    Ok(resp)
}

#[tracing::instrument(skip_all, fields(user = %auth.session.principal.user, photo = %hash))]
pub async fn head_photo(State(s): State<AppState>, auth: Auth, Path(hash): Path<String>) -> Result<Response, AppError> {
    let hash = parse_hash(&hash)?;
    // The real length, so a device can tell a complete copy from an interrupted one before skipping its upload.
    // `Upload-Length` too: on a HEAD answer `Content-Length` may be rewritten on the way. Only for a photo this
    // user uploaded or may see (as GET): to anyone else a stored photo answers as missing, so nobody can learn
    // that someone holds a picture they have; they upload it, which records it as theirs too.
    let visible = match s.blobs.len(hash).await? {
        Some(len) if s.store.photo_visible(&auth.session.principal, hash).await? => Some(len),
        _ => None,
    };
    if let Some(len) = visible {
        let mut resp = ([(header::CONTENT_LENGTH, len.to_string())], StatusCode::OK).into_response();
        set_header(&mut resp, UPLOAD_LENGTH, len);
        return Ok(resp);
    }
    // Not stored: how much of this user's own upload is held (0 when none), which also tells the device
    // that this server resumes uploads.
    let partial = s.blobs.partial(auth.session.principal.user, hash).await?;
    let mut resp = AppError::NotFound.into_response();
    set_header(&mut resp, UPLOAD_OFFSET, partial.map_or(0, |p| p.held));
    if let Some(total) = partial.and_then(|p| p.total) {
        set_header(&mut resp, UPLOAD_LENGTH, total);
    }
    Ok(resp)
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
