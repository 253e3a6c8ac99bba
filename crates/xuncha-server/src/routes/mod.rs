//! The router: one file per endpoint group, the layers, and extractors whose rejections speak
//! `ApiError` like every other failure.

mod auth;
mod health;
mod photos;
mod sync;

use crate::error::{messages, AppError};
use crate::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Request};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use xuncha_proto::{paths, MAX_PHOTO_BYTES};

/// Largest push body. 200 ops of a few KiB each fit with room; anything bigger is a bug or an attack.
pub const MAX_PUSH_BYTES: usize = 2 * 1024 * 1024;

pub fn router(state: AppState) -> Router {
    let photo_path = format!("{}/{{hash}}", paths::PHOTOS);
    let body_idle_timeout = state.body_idle_timeout;
    Router::new()
        .route(paths::HEALTH, get(health::health))
        .route(paths::LOGIN, post(auth::login))
        .route(paths::LOGOUT, post(auth::logout))
        .route(paths::ME, get(auth::me))
        .route(paths::PUSH, post(sync::push).layer(DefaultBodyLimit::max(MAX_PUSH_BYTES)))
        .route(paths::PULL, get(sync::pull))
        .route(paths::DIGEST, get(sync::digest))
        .route(
            &photo_path,
            // An explicit HEAD handler: HEAD answers "are the bytes here", GET also checks scope.
            put(photos::put_photo)
                .patch(photos::patch_photo)
                .head(photos::head_photo)
                .get(photos::get_photo)
                .layer(DefaultBodyLimit::max(MAX_PHOTO_BYTES)),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        // A body that goes silent ends in an error its handler sees (a PATCH keeps what arrived and
        // frees the upload) instead of holding the request, and its upload's lock, until the socket dies.
        .layer(RequestBodyTimeoutLayer::new(body_idle_timeout))
        .layer(CatchPanicLayer::custom(|_panic: Box<dyn std::any::Any + Send>| AppError::Panic.into_response()))
        // Outermost, so its span covers everything below. No headers are recorded: they carry tokens.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let path = req.extensions().get::<MatchedPath>().map_or("<unmatched>", MatchedPath::as_str);
                    tracing::info_span!("http", method = %req.method(), path)
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
}

async fn not_found() -> AppError {
    AppError::NotFound
}

async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}

/// `Json<T>` whose rejections are `ApiError`s (400 unreadable, 413 too large, 415 not JSON).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rej) => Err(json_rejection(rej)),
        }
    }
}

fn json_rejection(rej: JsonRejection) -> AppError {
    match rej.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::TooLarge(messages::push_too_large(xuncha_proto::MAX_OPS_PER_PUSH, MAX_PUSH_BYTES))
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => AppError::UnsupportedMediaType,
        _ => AppError::BadRequest(messages::bad_body(&rej.body_text())),
    }
}
