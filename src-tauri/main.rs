//! The desktop entry point; everything lives in lib.rs so the mobile entry point shares it.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    xuncha_app::run()
}
