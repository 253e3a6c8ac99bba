//! Sign-in, sign-out and "who am I".

use super::ApiJson;
use crate::auth::{new_token, verify_against_dummy, verify_password, Auth};
use crate::error::AppError;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use std::time::Instant;
use xuncha_proto::{LoginRequest, LoginResponse, UserProfile};

/// Longer names are refused without a lookup (and without growing the throttle map).
const MAX_USERNAME_CHARS: usize = 64;

#[tracing::instrument(skip_all, fields(username = tracing::field::Empty, user = tracing::field::Empty))]
pub async fn login(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, AppError> {
    let LoginRequest { username, password, device_id, device_name } = req;
    let username = username.trim().to_string();
    if username.is_empty() || username.chars().count() > MAX_USERNAME_CHARS {
        return Err(AppError::BadCredentials);
    }
    tracing::Span::current().record("username", username.as_str());
    if let Err(retry_after_secs) = s.throttle.check(&username, Instant::now()) {
        tracing::warn!("sign-in refused: locked after repeated failures");
        return Err(AppError::LoginLocked { retry_after_secs });
    }
    let creds = s.store.credentials(&username).await?;
    // argon2 takes tens of milliseconds of CPU: off the async executor.
    let user = tokio::task::spawn_blocking(move || match creds {
        Some(c) if verify_password(&password, &c.password_hash) => Some(c.user),
        Some(_) => None,
        None => {
            verify_against_dummy(&password);
            None
        }
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let Some(user) = user else {
        s.throttle.failure(&username, Instant::now());
        tracing::warn!("sign-in failed");
        return Err(AppError::BadCredentials);
    };
    s.throttle.success(&username);
    tracing::Span::current().record("user", tracing::field::display(user));

    let (token, hash) = new_token();
    s.store.insert_token(user, device_id, &device_name, hash, Utc::now()).await?;
    let principal = s.store.principal_of(user).await?.ok_or(AppError::BadCredentials)?;
    let profile = s.store.profile(&principal).await?;
    let server_id = s.store.server_id().await?;
    tracing::info!(role = principal.role.as_str(), device = %device_id, "signed in");
    Ok(Json(LoginResponse { token, user: profile, server_id }))
}

/// Revokes the token of this request. Local data on the device stays; it just cannot sync any more.
#[tracing::instrument(skip_all, fields(user = %auth.session.principal.user))]
pub async fn logout(State(s): State<AppState>, auth: Auth) -> Result<StatusCode, AppError> {
    s.store.revoke_token(auth.token, Utc::now()).await?;
    tracing::info!("signed out");
    Ok(StatusCode::NO_CONTENT)
}

#[tracing::instrument(skip_all, fields(user = %auth.session.principal.user))]
pub async fn me(State(s): State<AppState>, auth: Auth) -> Result<Json<UserProfile>, AppError> {
    Ok(Json(s.store.profile(&auth.session.principal).await?))
}
