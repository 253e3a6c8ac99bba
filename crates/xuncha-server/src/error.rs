//! The one place where errors become HTTP answers. Every non-2xx body is `ApiError { error: UserMessage }`
//! in zh-CN and English; internal details are logged here and never sent (the axum error-handling example).

use crate::blobs::BlobError;
use crate::store::StoreError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use xuncha_domain::UserMessage;
use xuncha_proto::ApiError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// No token, an unknown one, or a revoked one.
    #[error("not signed in")]
    Unauthenticated,
    /// Wrong password and unknown user get this same answer, so usernames cannot be probed.
    #[error("wrong username or password")]
    BadCredentials,
    #[error("too many failed sign-ins; locked for {retry_after_secs} s")]
    LoginLocked { retry_after_secs: u64 },
    #[error("bad request: {}", .0.en)]
    BadRequest(UserMessage),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("too large: {}", .0.en)]
    TooLarge(UserMessage),
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("photo bytes do not match their hash")]
    PhotoHashMismatch,
    /// A resumable upload's offset is not what the server holds (the answer carries `Upload-Offset`).
    #[error("upload offset {offset} but {held} bytes held")]
    UploadOffsetMismatch { offset: u64, held: u64 },
    /// Another request is still writing this upload (the answer carries `Upload-Offset`).
    #[error("upload in progress on another connection")]
    UploadBusy { held: u64 },
    /// Too many unfinished uploads for this user (the answer carries `Retry-After`).
    #[error("too many unfinished uploads; retry in {retry_after_secs} s")]
    TooManyUploads { retry_after_secs: u64 },
    #[error("a handler panicked")]
    Panic,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        use AppError::*;
        match self {
            Unauthenticated | BadCredentials => StatusCode::UNAUTHORIZED,
            LoginLocked { .. } => StatusCode::TOO_MANY_REQUESTS,
            BadRequest(_) => StatusCode::BAD_REQUEST,
            NotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            PhotoHashMismatch => StatusCode::UNPROCESSABLE_ENTITY,
            UploadOffsetMismatch { .. } | UploadBusy { .. } => StatusCode::CONFLICT,
            TooManyUploads { .. } => StatusCode::TOO_MANY_REQUESTS,
            Blob(BlobError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Panic | Store(_) | Blob(_) | Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn user_message(&self) -> UserMessage {
        use AppError::*;
        match self {
            Unauthenticated => UserMessage::new(
                "auth.unauthenticated",
                "登录已失效或未登录，请重新登录。",
                "You are not signed in, or your sign-in has expired or was revoked. Sign in again.",
            ),
            BadCredentials => UserMessage::new(
                "auth.bad_credentials",
                "用户名或密码错误，请检查后重试。",
                "Wrong username or password. Check them and try again.",
            ),
            LoginLocked { retry_after_secs } => UserMessage::new(
                "auth.locked",
                format!("密码错误次数过多，请 {retry_after_secs} 秒后再试。"),
                format!("Too many wrong passwords. Try again in {retry_after_secs} seconds."),
            ),
            BadRequest(m) | TooLarge(m) => m.clone(),
            NotFound => UserMessage::new("request.not_found", "找不到请求的内容。", "Not found."),
            MethodNotAllowed => {
                UserMessage::new("request.method_not_allowed", "不支持该请求方式。", "This method is not allowed here.")
            }
            UnsupportedMediaType => UserMessage::new(
                "request.unsupported_media_type",
                "请求内容类型不正确（应为 JSON）。请更新应用。",
                "The request has the wrong content type (JSON expected). Update the app.",
            ),
            PhotoHashMismatch => UserMessage::new(
                "photo.hash_mismatch",
                "照片在传输中损坏（校验不一致），将自动重新上传。",
                "The photo was damaged in transit (checksum mismatch); it will be uploaded again.",
            ),
            UploadOffsetMismatch { held, .. } => UserMessage::new(
                "photo.upload_offset",
                format!("照片续传位置不一致（服务器已收到 {held} 字节），将从该位置继续上传。"),
                format!("The photo upload resumed at the wrong place (the server holds {held} bytes); it continues from there."),
            ),
            UploadBusy { .. } => UserMessage::new(
                "photo.upload_in_progress",
                "这张照片正在通过另一个连接上传，稍后会自动继续。",
                "This photo is still being uploaded over another connection; it will continue automatically.",
            ),
            TooManyUploads { retry_after_secs } => UserMessage::new(
                "photo.too_many_uploads",
                format!(
                    "未完成的照片上传过多（最多 {} 个），请 {} 分钟后再试。照片已保存在本机。",
                    xuncha_proto::upload::MAX_PARTIALS_PER_USER,
                    retry_after_secs.div_ceil(60)
                ),
                format!(
                    "Too many unfinished photo uploads (at most {}); try again in {} min. The photos are kept on this phone.",
                    xuncha_proto::upload::MAX_PARTIALS_PER_USER,
                    retry_after_secs.div_ceil(60)
                ),
            ),
            Blob(BlobError::Unavailable(_)) => UserMessage::new(
                "server.photo_store_unavailable",
                "服务器的照片存储暂时不可用，照片保留在本机，稍后会自动重新上传。",
                "The server's photo storage is unavailable for now; the photos stay on this phone and will upload automatically later.",
            ),
            Panic | Store(_) | Blob(_) | Internal(_) => internal_message(),
        }
    }
}

/// How long a device should wait before retrying after the photo store was unavailable.
pub const STORE_RETRY_AFTER_SECS: u64 = 60;

pub fn internal_message() -> UserMessage {
    UserMessage::new(
        "server.internal",
        "服务器内部错误，数据未丢失，请稍后重试。如持续出现请联系管理员。",
        "Internal server error. Nothing was lost; try again later. If it keeps happening, contact the administrator.",
    )
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            // Only our own Display text, which never contains tokens or passwords.
            tracing::error!(error = %self, "request failed");
        }
        let mut resp = (status, Json(ApiError { error: self.user_message() })).into_response();
        let retry_after = match self {
            AppError::LoginLocked { retry_after_secs } => Some(retry_after_secs),
            AppError::Blob(BlobError::Unavailable(_)) => Some(STORE_RETRY_AFTER_SECS),
            _ => None,
        };
        if let Some(v) = retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

/// Messages for requests that do not fit the protocol.
pub mod messages {
    use xuncha_domain::UserMessage;

    pub fn bad_body(detail: &str) -> UserMessage {
        UserMessage::new(
            "request.bad_body",
            format!("请求内容无法识别，请更新应用后重试。（{detail}）"),
            format!("The request body could not be read; update the app and retry. ({detail})"),
        )
    }

    pub fn push_too_large(max_ops: usize, max_bytes: usize) -> UserMessage {
        UserMessage::new(
            "sync.push_too_large",
            format!("一次上传的内容过多（最多 {max_ops} 条操作、{} MB），请分批上传。", max_bytes / (1024 * 1024)),
            format!(
                "Too much in one upload (at most {max_ops} operations and {} MiB); send it in batches.",
                max_bytes / (1024 * 1024)
            ),
        )
    }

    pub fn photo_too_large(max_bytes: usize) -> UserMessage {
        UserMessage::new(
            "photo.too_large",
            format!("照片超过 {} MB 上限。", max_bytes / (1024 * 1024)),
            format!("The photo is over the {} MiB limit.", max_bytes / (1024 * 1024)),
        )
    }

    pub fn upload_header(name: &str) -> UserMessage {
        UserMessage::new(
            "photo.upload_header",
            format!("照片续传请求缺少或带有无效的 {name} 头，请更新应用。"),
            format!("The photo upload has a missing or invalid {name} header; update the app."),
        )
    }

    pub fn upload_over_length(total: u64) -> UserMessage {
        UserMessage::new(
            "photo.upload_over_length",
            format!("照片上传的数据超过声明的长度（{total} 字节）。"),
            format!("The photo upload sent more than its declared length ({total} bytes)."),
        )
    }

    pub fn device_mismatch() -> UserMessage {
        UserMessage::new(
            "sync.device_mismatch",
            "上传的设备编号与登录时的设备不一致，请重新登录。",
            "The device id in this upload is not the one you signed in with. Sign in again.",
        )
    }
}
