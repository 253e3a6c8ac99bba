//! The app's commands: each one line onto `xuncha_device::Engine` (contract: docs/ipc.md).
//! Errors cross IPC as `UserMessage { code, zh, en }`; the UI picks the language.

use tauri::ipc::{InvokeBody, Request, Response};
use tauri::State;
use xuncha_device::{
    AppState, Engine, FindingSummary, FindingView, Keep, PhotoInfo, PhotoSize, Scope, Session, SubmitReport, SyncStatus,
};
use xuncha_domain::{FindingDraft, Taxonomy, UserMessage};

type Res<T> = Result<T, UserMessage>;

fn msg(e: xuncha_device::DeviceError) -> UserMessage {
    e.user_message()
}

#[tauri::command]
pub async fn app_state(engine: State<'_, Engine>) -> Res<AppState> {
    engine.app_state().await.map_err(msg)
}

#[tauri::command]
pub async fn login(engine: State<'_, Engine>, server_url: String, username: String, password: String) -> Res<Session> {
    engine.login(&server_url, &username, &password).await.map_err(msg)
}

#[tauri::command]
pub async fn logout(engine: State<'_, Engine>) -> Res<()> {
    engine.logout().await.map_err(msg)
}

#[tauri::command]
pub async fn taxonomy(engine: State<'_, Engine>) -> Res<Taxonomy> {
    engine.taxonomy().await.map_err(msg)
}

/// The photo's bytes come as the raw request body: no base64 round trip for a 5 MB photo.
#[tauri::command]
pub async fn ingest_photo(engine: State<'_, Engine>, request: Request<'_>) -> Res<PhotoInfo> {
    engine.ingest_photo(raw_body(&request)?).await.map_err(msg)
}

#[tauri::command]
pub async fn save_finding(engine: State<'_, Engine>, id: Option<String>, draft: FindingDraft) -> Res<FindingView> {
    engine.save_finding(id.as_deref(), draft).await.map_err(msg)
}

#[tauri::command]
pub async fn submit_findings(engine: State<'_, Engine>, ids: Vec<String>) -> Res<SubmitReport> {
    engine.submit_findings(ids).await.map_err(msg)
}

#[tauri::command]
pub async fn resolve_conflict(engine: State<'_, Engine>, id: String, field: String, keep: Keep) -> Res<FindingView> {
    engine.resolve_conflict(&id, &field, keep).await.map_err(msg)
}

#[tauri::command]
pub async fn list_findings(engine: State<'_, Engine>, day: Option<String>, scope: Scope) -> Res<Vec<FindingSummary>> {
    engine.list_findings(day.as_deref(), scope).await.map_err(msg)
}

#[tauri::command]
pub async fn get_finding(engine: State<'_, Engine>, id: String) -> Res<FindingView> {
    engine.get_finding(&id).await.map_err(msg)
}

/// JPEG bytes as a raw response (the UI makes a blob: URL of them).
#[tauri::command]
pub async fn photo(engine: State<'_, Engine>, hash: String, size: PhotoSize) -> Res<Response> {
    engine.photo(&hash, size).await.map(Response::new).map_err(msg)
}

#[tauri::command]
pub async fn sync_now(engine: State<'_, Engine>) -> Res<SyncStatus> {
    engine.sync_now().await.map_err(msg)
}

#[tauri::command]
pub async fn sync_status(engine: State<'_, Engine>) -> Res<SyncStatus> {
    engine.sync_status().await.map_err(msg)
}

fn raw_body(request: &Request<'_>) -> Res<Vec<u8>> {
    match request.body() {
        InvokeBody::Raw(bytes) => Ok(bytes.clone()),
        InvokeBody::Json(_) => Err(UserMessage::new(
            "photo.bad_request",
            "照片数据格式不对，请重新选择照片。",
            "The photo did not arrive as bytes. Choose the photo again.",
        )),
    }
}
