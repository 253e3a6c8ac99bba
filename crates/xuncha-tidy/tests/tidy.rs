//! Invariants of the repository that no single crate can check about itself. Each test names the
//! invariant from ARCHITECTURE.md it enforces.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Invariant: libraries and the server never link Tauri, WebKit or GTK.
#[test]
fn no_library_crate_depends_on_tauri_or_webkit() {
    let lock: toml::Table = read("Cargo.lock").parse().unwrap();
    let packages = lock["package"].as_array().unwrap();
    let deps: HashMap<&str, Vec<&str>> = packages
        .iter()
        .map(|p| {
            let name = p["name"].as_str().unwrap();
            let d = p.get("dependencies").and_then(|d| d.as_array()).map(|a| {
                // "name version" when several versions exist; the name is enough here.
                a.iter().map(|x| x.as_str().unwrap().split(' ').next().unwrap()).collect()
            });
            (name, d.unwrap_or_default())
        })
        .collect();
    let forbidden =
        |n: &str| n.starts_with("tauri") || n == "wry" || n.starts_with("webkit2gtk") || n.starts_with("gtk");
    for member in std::fs::read_dir(root().join("crates")).unwrap() {
        let name = member.unwrap().file_name().into_string().unwrap();
        let mut stack = vec![name.as_str()];
        let mut seen = BTreeSet::new();
        while let Some(n) = stack.pop() {
            if !seen.insert(n) {
                continue;
            }
            assert!(!forbidden(n) || n == name, "crates/{name} depends (transitively) on {n}");
            stack.extend(deps.get(n).into_iter().flatten().copied());
        }
    }
}

fn command_names_in_commands_rs() -> BTreeSet<String> {
    let src = read("src-tauri/commands.rs");
    let mut names = BTreeSet::new();
    let mut after_attr = false;
    for line in src.lines() {
        let l = line.trim();
        if l == "#[tauri::command]" {
            after_attr = true;
        } else if after_attr && l.starts_with("pub async fn ") {
            names.insert(l["pub async fn ".len()..].split('(').next().unwrap().to_string());
            after_attr = false;
        }
    }
    assert!(!names.is_empty());
    names
}

/// Invariant: every command is declared in build.rs (so it is under the ACL), allowed explicitly in the
/// main window's capability, registered in lib.rs and documented in docs/ipc.md — and nothing else is allowed.
#[test]
fn commands_are_declared_allowed_registered_and_documented() {
    let names = command_names_in_commands_rs();
    let build = read("src-tauri/build.rs");
    let lib = read("src-tauri/lib.rs");
    let ipc = read("docs/ipc.md");
    let conf: serde_json::Value = serde_json::from_str(&read("tauri.conf.json")).unwrap();
    let caps = conf["app"]["security"]["capabilities"].as_array().unwrap();
    let main = caps.iter().find(|c| c["identifier"] == "main-window").unwrap();
    let allowed: BTreeSet<String> =
        main["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect();
    for n in &names {
        assert!(build.contains(&format!("\"{n}\"")), "{n} missing from build.rs COMMANDS");
        assert!(lib.contains(&format!("commands::{n},")), "{n} not registered in lib.rs");
        assert!(ipc.contains(&format!("`{n}`")), "{n} not documented in docs/ipc.md");
        assert!(allowed.contains(&format!("allow-{}", n.replace('_', "-"))), "{n} not allowed in the capability");
    }
    let expected: BTreeSet<String> = names
        .iter()
        .map(|n| format!("allow-{}", n.replace('_', "-")))
        .chain(["core:event:allow-listen".to_string(), "core:event:allow-unlisten".to_string()])
        .collect();
    assert_eq!(allowed, expected, "the main window may do exactly its commands and listen to events");
    assert_eq!(main["windows"], serde_json::json!(["main"]));
}

/// Invariant: a real CSP — no eval, no inline script, no remote origins — and a frozen prototype.
#[test]
fn tauri_security_config_is_strict() {
    let conf: serde_json::Value = serde_json::from_str(&read("tauri.conf.json")).unwrap();
    let sec = &conf["app"]["security"];
    let csp = sec["csp"].as_object().expect("csp is set");
    let all = serde_json::to_string(csp).unwrap();
    for bad in ["unsafe-eval", "unsafe-inline", "http://*", "https://*", " * ", "\"*\""] {
        assert!(!all.contains(bad), "CSP contains {bad}: {all}");
    }
    assert_eq!(csp["default-src"], "'self'");
    assert_eq!(csp["object-src"], "'none'");
    assert_eq!(sec["freezePrototype"], true);
    assert!(conf["app"].get("withGlobalTauri").is_none_or(|v| v == false), "no global __TAURI__ object");
    for plat in ["tauri.android.conf.json", "tauri.ios.conf.json"] {
        let o: serde_json::Value = serde_json::from_str(&read(plat)).unwrap();
        let caps = o["app"]["security"]["capabilities"].as_array().unwrap();
        assert_eq!(caps[0], sec["capabilities"][0], "{plat} repeats the main capability unchanged");
    }
}

/// Style: every Rust source file opens with a `//!` comment saying what it is for.
#[test]
fn every_rust_file_says_what_it_is_for() {
    let mut missing = Vec::new();
    let mut dirs = vec![root().join("crates"), root().join("src-tauri"), root().join("tests")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                let first = text.lines().find(|l| !l.trim().is_empty() && !l.starts_with("#!")).unwrap_or("");
                if !first.starts_with("//!") {
                    missing.push(p.strip_prefix(root()).unwrap().display().to_string());
                }
            }
        }
    }
    assert!(missing.is_empty(), "files without a //! header: {missing:?}");
}

/// Invariant: secrets never reach the logs — no tracing call names a password or token field.
#[test]
fn no_log_line_names_a_secret() {
    let mut dirs = vec![root().join("crates"), root().join("src-tauri")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") && !p.to_string_lossy().contains("xuncha-tidy") {
                for (i, line) in std::fs::read_to_string(&p).unwrap().lines().enumerate() {
                    let l = line.to_lowercase();
                    let logs = ["info!(", "debug!(", "warn!(", "error!(", "trace!("].iter().any(|m| l.contains(m));
                    if logs {
                        assert!(
                            !(l.contains("password")
                                || l.contains("%token")
                                || l.contains("?token")
                                || l.contains("token =")),
                            "{}:{} may log a secret: {line}",
                            p.display(),
                            i + 1
                        );
                    }
                }
            }
        }
    }
}

/// The app's status names (`ui/src/lib/i18n.ts`, `status_name.*`) are the domain's (`STATUS_NAMES`), which
/// messages and exports use: a clerk's spreadsheet and a leader's phone must call a status the same.
#[test]
fn the_apps_status_names_are_the_domains() {
    let i18n = read("ui/src/lib/i18n.ts");
    // The zh table comes first in the file, the en table second.
    for (code, zh, en) in xuncha_domain::status::STATUS_NAMES {
        let key = format!("'status_name.{code}': ");
        let hits: Vec<&str> = i18n
            .lines()
            .filter_map(|l| l.trim().strip_prefix(key.as_str()))
            .map(|v| v.trim_end_matches(',').trim_matches('\''))
            .collect();
        assert_eq!(hits, [zh, en], "status {code}: app says {hits:?}, domain says ({zh}, {en})");
    }
}
