//! Declares the app's own commands so Tauri generates `allow-…` permissions for them and checks every
//! call against the capabilities in tauri.conf.json (without an app manifest, app commands bypass the ACL).

/// Every `#[tauri::command]` in src-tauri/commands.rs; a test keeps the two lists equal.
pub const COMMANDS: &[&str] = &[
    "app_state",
    "login",
    "logout",
    "taxonomy",
    "ingest_photo",
    "save_finding",
    "submit_findings",
    "resolve_conflict",
    "list_findings",
    "get_finding",
    "photo",
    "sync_now",
    "sync_status",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build failed");
}
