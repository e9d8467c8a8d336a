//! Table test over tests/data/config/*.toml: each file's problems, printed one per line, must
//! equal its sibling `.expected` file exactly (an empty `.expected` means the file is valid).
//! Set NOCSCOPE_BLESS=1 to write the `.expected` files, then review the diff by hand.

use std::collections::HashMap;
use std::env::VarError;
use std::path::{Path, PathBuf};

use nocscope::config::parse_with_env;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/config")
}

/// A fixed environment, so results do not depend on who runs the tests.
fn env(name: &str) -> Result<String, VarError> {
    let vars: HashMap<&str, &str> = [
        ("HOME", "/home/tester"),
        ("SCRAPE_TOKEN", "env-secret-value-1"),
        ("EMPTY_VAR", ""),
        ("SNMP_COMMUNITY", "env-community-secret-11"),
        ("SNMP_AUTH", "env-auth-secret-12"),
    ]
    .into_iter()
    .collect();
    vars.get(name)
        .map(|v| v.to_string())
        .ok_or(VarError::NotPresent)
}

/// Every secret that appears in the corpus or its environment; none may appear in a message.
const SECRETS: &[&str] = &[
    "env-secret-value-1",
    "file-secret-value-2",
    "url-secret-value-3",
    "conflict-secret-value-4",
    "conflict-secret-value-5",
    "conflict-secret-value-6",
    "hunter2-inline-secret",
    "community-secret-7",
    "auth-secret-value-8",
    "priv-secret-value-9",
    "file-community-secret-10",
    "env-community-secret-11",
    "env-auth-secret-12",
];

fn render(file: &Path, dir: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let origin = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match parse_with_env(&text, &origin, dir, &env) {
        Ok(_) => String::new(),
        Err(e) => {
            // Resolved secret-file paths are absolute; make them machine-independent.
            let shown = e.to_string().replace(&dir.display().to_string(), "<dir>");
            format!("{shown}\n")
        }
    }
}

#[test]
fn corpus_matches_expected() {
    let dir = corpus_dir();
    let bless = std::env::var_os("NOCSCOPE_BLESS").is_some();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "corpus went missing: {files:?}");

    let mut failures = Vec::new();
    for file in &files {
        let got = render(file, &dir);
        for secret in SECRETS {
            assert!(
                !got.contains(secret),
                "{}: a message leaks a secret:\n{got}",
                file.display()
            );
        }
        let expected_path = file.with_extension("expected");
        if bless {
            std::fs::write(&expected_path, &got).expect("write .expected");
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Ok(want) if want == got => {}
            Ok(want) => failures.push(format!(
                "{}:\n--- expected\n{want}--- got\n{got}",
                file.display()
            )),
            Err(e) => failures.push(format!("{}: {e}", expected_path.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Problems come back sorted by position, whatever order the walk found them in.
#[test]
fn problems_are_sorted_by_position() {
    let dir = corpus_dir();
    let text = std::fs::read_to_string(dir.join("many_problems.toml")).expect("corpus file");
    let err = parse_with_env(&text, "many_problems.toml", &dir, &env).expect_err("invalid");
    let positions: Vec<(u32, u32)> = err.problems.iter().map(|p| (p.line, p.col)).collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted);
    assert!(positions.len() >= 6, "{err}");
}
