//! `GET /api/v1/health`: unauthenticated; says "xuncha" so a captive portal's 200 is never taken for us.

use crate::error::AppError;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use xuncha_proto::{Health, PROTOCOL_VERSION, SERVICE_NAME};

pub async fn health(State(s): State<AppState>) -> Result<Json<Health>, AppError> {
    Ok(Json(Health {
        service: SERVICE_NAME.into(),
        protocol: PROTOCOL_VERSION,
        server_id: s.store.server_id().await?,
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}
