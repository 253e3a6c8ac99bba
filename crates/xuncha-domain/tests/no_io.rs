//! Architecture invariant: the domain crate does no I/O. Checked on the source text, so a new
//! `std::fs` or clock read fails here before review.

#[test]
fn domain_sources_name_no_io() {
    let forbidden = [
        "std::fs",
        "std::net",
        "std::process",
        "std::env",
        "SystemTime",
        "Utc::now",
        "Local::now",
        "tokio",
        "rusqlite",
        "reqwest",
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for f in forbidden {
            assert!(!text.contains(f), "{} mentions {f}: the domain must stay free of I/O", path.display());
        }
    }
}
