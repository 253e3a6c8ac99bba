//! Push (device → server operations), pull (server → device changes within the user's scope) and the
//! scope digest a device checks its copy against.

use super::{ApiJson, MAX_PUSH_BYTES};
use crate::auth::Auth;
use crate::error::{messages, AppError};
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use chrono::Utc;
use xuncha_proto::{PullQuery, PullResponse, PushRequest, PushResponse, ScopeDigest, MAX_OPS_PER_PUSH, MAX_PULL_LIMIT};

#[tracing::instrument(skip_all, fields(user = %auth.session.principal.user, ops = tracing::field::Empty))]
pub async fn push(
    State(s): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<PushRequest>,
) -> Result<Json<PushResponse>, AppError> {
    tracing::Span::current().record("ops", req.ops.len());
    if req.ops.len() > MAX_OPS_PER_PUSH {
        return Err(AppError::TooLarge(messages::push_too_large(MAX_OPS_PER_PUSH, MAX_PUSH_BYTES)));
    }
    // The (device, seq) dedup key must be the device the token was issued to, not any the body names.
    if req.device_id != auth.session.device {
        return Err(AppError::BadRequest(messages::device_mismatch()));
    }
    let results = s.store.push(&auth.session.principal, auth.session.device, req.ops, Utc::now()).await?;
    let rejected = results.iter().filter(|r| matches!(r.outcome, xuncha_proto::OpOutcome::Rejected { .. })).count();
    tracing::info!(rejected, "push applied");
    Ok(Json(PushResponse { results }))
}

#[tracing::instrument(skip_all, fields(user = %auth.session.principal.user))]
pub async fn pull(
    State(s): State<AppState>,
    auth: Auth,
    query: Result<Query<PullQuery>, QueryRejection>,
) -> Result<Json<PullResponse>, AppError> {
    let Query(q) = query.map_err(|rej| AppError::BadRequest(messages::bad_body(&rej.body_text())))?;
    // Asking for more than the maximum is not an error: the device gets a full page and `has_more`.
    let limit = q.limit.unwrap_or(MAX_PULL_LIMIT).clamp(1, MAX_PULL_LIMIT);
    let page = s.store.pull(&auth.session.principal, q.cursor, limit).await?;
    tracing::debug!(changes = page.changes.len(), cursor = page.cursor, has_more = page.has_more, "pull");
    Ok(Json(page))
}

/// Count and checksum of the caller's whole scope. Costs one scan of the scope's (id, version) pairs, so
/// devices ask for it after catching up, not on every pull.
#[tracing::instrument(skip_all, fields(user = %auth.session.principal.user))]
pub async fn digest(State(s): State<AppState>, auth: Auth) -> Result<Json<ScopeDigest>, AppError> {
    let p = &auth.session.principal;
    let versions = s.store.scope_versions(p).await?;
    let d = ScopeDigest::of(&crate::store::scope_key(p), versions.iter().map(|(id, v)| (id, *v)));
    tracing::debug!(count = d.count, "scope digest");
    Ok(Json(d))
}
