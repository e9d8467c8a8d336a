//! ui/ draws and decides but never does I/O: no tokio, terminal library, SQLite, sockets, files
//! or collectors under src/ui/ (app.rs and term.rs do that). Fails when one creeps in.

use std::path::Path;

const FORBIDDEN: &[(&str, &str)] = &[
    ("tokio", "the UI core is synchronous; app.rs runs the tasks"),
    ("crossterm", "terminal I/O belongs to term.rs"),
    (
        "crate::store",
        "history arrives as Commands answered by app.rs",
    ),
    ("rusqlite", "SQLite lives in store/"),
    ("std::fs", "the UI core reads no files"),
    ("std::net", "the UI core opens no sockets"),
    ("crate::collect", "collectors feed the engine, not the UI"),
    ("Instant::now", "rendering is a pure function; no clocks"),
    ("SystemTime", "rendering is a pure function; no clocks"),
];

#[test]
fn ui_core_does_no_io() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ui");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut checked = 0;
    let mut bad = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        checked += 1;
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for (token, why) in FORBIDDEN {
                if code.contains(token) {
                    bad.push(format!("{}:{}: `{token}`: {why}", path.display(), n + 1));
                }
            }
        }
    }
    assert!(checked >= 5, "only {checked} files under {}", dir.display());
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
