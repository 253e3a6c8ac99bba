//! Resumable photo uploads (tus-like, `docs/sync-protocol.md` "Photos"): the header names and limits that
//! the server and the device must agree on. A photo is still named by the SHA-256 of its bytes; a PATCH
//! appends bytes at an offset to a partial copy the server keeps per (user, photo), so an upload cut at
//! 80 % goes on from there instead of starting again.
//!
//! - `HEAD /api/v1/photos/{hash}`: 200 with [`UPLOAD_LENGTH`] (and `Content-Length`) when stored; 404 with
//!   [`UPLOAD_OFFSET`] (bytes this user's partial holds, 0 when none) and, when known, [`UPLOAD_LENGTH`].
//!   A server without resumable uploads sends no [`UPLOAD_OFFSET`]: the device then uses `PUT`.
//! - `PATCH /api/v1/photos/{hash}` with [`UPLOAD_OFFSET`] and [`UPLOAD_LENGTH`], body = the bytes from the
//!   offset: 201/200 once complete and verified, 204 while incomplete, 409 + [`UPLOAD_OFFSET`] when the
//!   offset is not what the server holds, 413 over the declared or the maximum length, 422 hash mismatch
//!   (the partial is discarded), 429 + `Retry-After` with too many unfinished uploads.

/// Request: where the body starts in the photo. Answers (204, 409, 404 to HEAD, 200/201): bytes held.
pub const UPLOAD_OFFSET: &str = "upload-offset";
/// The photo's whole length in bytes (request: declared by the device; answer: known to the server).
pub const UPLOAD_LENGTH: &str = "upload-length";
/// Content type of a PATCH body (as in tus): raw bytes from an offset, not a whole JPEG.
pub const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";
/// Unfinished uploads a user may have on the server at once; more get 429.
pub const MAX_PARTIALS_PER_USER: usize = 32;
/// An unfinished upload untouched this long is deleted (on server start and when a new one is opened).
pub const PARTIAL_MAX_AGE_SECS: u64 = 24 * 60 * 60;
