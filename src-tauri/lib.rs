//! The Tauri shell: opens the device engine, forwards its sync status as events, and exposes the
//! engine's methods as commands. **Architecture invariant:** no domain or sync logic lives here; each
//! command is a one-line adapter (see commands.rs), so the same engine runs in tests without a webview.

mod commands;
mod setup;

#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    setup::init_tracing();
    setup::work_around_webkit_blank_window();
    let builder = tauri::Builder::default();
    #[cfg(mobile)]
    let builder = builder.plugin(tauri_plugin_geolocation::init());
    builder
        .setup(setup::open_engine)
        .invoke_handler(tauri::generate_handler![
            commands::app_state,
            commands::login,
            commands::logout,
            commands::taxonomy,
            commands::ingest_photo,
            commands::save_finding,
            commands::submit_findings,
            commands::resolve_conflict,
            commands::list_findings,
            commands::get_finding,
            commands::photo,
            commands::sync_now,
            commands::sync_status,
        ])
        .run(tauri::generate_context!())
        .expect("error while running the Xuncha app");
}
