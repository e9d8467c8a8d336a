//! Module boundaries as strict as crate boundaries (DESIGN.md): fails when a module uses what
//! it must not — the terminal outside ui/term, SQLite outside store/, sockets or clocks in the
//! engine — or when a source file does not open with its `//!` ownership line.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Source lines without `//` comments, so a comment that names a crate does not count.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, l)| {
        let code = l.split("//").next().unwrap_or("");
        (!code.trim().is_empty()).then_some((i + 1, code))
    })
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn module_of(path: &Path) -> String {
    let rel = path.strip_prefix(src()).unwrap_or(path);
    let first = rel
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().to_string());
    first
        .unwrap_or_default()
        .trim_end_matches(".rs")
        .to_string()
}

/// (module, forbidden token, why)
const RULES: &[(&str, &str, &str)] = &[
    ("engine", "ratatui", "the engine never touches the terminal"),
    (
        "engine",
        "crossterm",
        "the engine never touches the terminal",
    ),
    ("engine", "rusqlite", "SQLite lives in store/"),
    ("engine", "reqwest", "the engine never does network I/O"),
    ("engine", "tokio", "the engine is synchronous and pure"),
    ("engine", "std::net", "the engine never does network I/O"),
    ("engine", "SystemTime", "the engine never reads a clock"),
    ("engine", "Instant", "the engine never reads a clock"),
    (
        "engine",
        "crate::store",
        "the engine hands batches out; it does not write them",
    ),
    (
        "engine",
        "crate::collect",
        "collectors feed the engine, not the reverse",
    ),
    (
        "detect",
        "crate::engine",
        "detect/ is maths on ndarray only",
    ),
    ("detect", "crate::store", "detect/ is maths on ndarray only"),
    ("detect", "ratatui", "detect/ is maths on ndarray only"),
    (
        "detect",
        "read_dir",
        "detect/ is maths: folder walking lives beside the eval command",
    ),
    ("expo", "reqwest", "parsing is pure"),
    ("expo", "tokio", "parsing is pure"),
    (
        "expo",
        "crate::engine",
        "the parser knows nothing of the engine",
    ),
    ("model", "std::fs", "the vocabulary does no I/O"),
    ("model", "std::net", "the vocabulary does no I/O"),
    (
        "model",
        "crate::",
        "the vocabulary depends on no other module",
    ),
    ("config", "reqwest", "config never opens sockets"),
    ("config", "ratatui", "config never touches the terminal"),
    (
        "collect",
        "crate::engine",
        "collectors never touch engine state",
    ),
    (
        "collect",
        "crate::store",
        "collectors never touch the store",
    ),
    ("collect", "ratatui", "collectors never touch the UI"),
    (
        "ui",
        "crate::engine",
        "the UI draws the model's vocabulary, never the engine's internals",
    ),
    ("ui", "crate::store", "the UI asks the app for history"),
    (
        "ui",
        "crate::app",
        "the UI sends Commands; it does not call the app",
    ),
    ("ui", "reqwest", "the UI never does network I/O"),
    (
        "config",
        "crate::ui",
        "config is below the UI: no arrow runs back up",
    ),
    ("config", "crate::app", "config is below the wiring"),
    ("app", "crate::cli", "cli imports app, never the reverse"),
    (
        "engine",
        "crate::app",
        "the engine knows nothing of its pump",
    ),
    ("engine", "crate::ui", "the engine knows nothing of the UI"),
    (
        "engine",
        "crate::config::theme",
        "the engine knows nothing of themes",
    ),
    ("engine", "chrono", "the engine never reads a clock"),
    ("engine", "wall_clock", "the engine never reads a clock"),
    (
        "store",
        "crate::engine",
        "the store keeps batches, not engine state",
    ),
    ("store", "crate::ui", "the store knows nothing of the UI"),
    (
        "replay",
        "crate::ui",
        "the recording format knows nothing of the UI",
    ),
    (
        "replay",
        "crate::app",
        "the player is driven by the app, not the reverse",
    ),
    ("human", "crate::", "formatting depends on no other module"),
    (
        "action",
        "crate::",
        "the action vocabulary depends on no other module",
    ),
    ("action", "std::fs", "the action vocabulary does no I/O"),
    (
        "promql",
        "SystemTime::now",
        "the evaluator is handed its time; it never reads a clock",
    ),
    (
        "promql",
        "Instant::now",
        "the evaluator is handed its time; it never reads a clock",
    ),
    ("promql", "tokio", "the evaluator is synchronous and pure"),
    ("promql", "reqwest", "the evaluator never does network I/O"),
    ("promql", "std::net", "the evaluator never does network I/O"),
    (
        "promql",
        "crate::ui",
        "the evaluator knows nothing of the UI",
    ),
    (
        "promql",
        "crate::store",
        "the evaluator reads a Source, not the store",
    ),
    (
        "promql",
        "crate::engine",
        "the engine calls the evaluator, not the reverse",
    ),
    (
        "rules",
        "SystemTime::now",
        "rules are evaluated at a time they are given",
    ),
    (
        "rules",
        "Instant::now",
        "rules are evaluated at a time they are given",
    ),
    (
        "rules",
        "std::fs",
        "rule files arrive as text; reading them is the caller's",
    ),
    ("rules", "tokio", "rule evaluation is synchronous and pure"),
    ("rules", "reqwest", "rule evaluation never does network I/O"),
    (
        "rules",
        "TcpStream",
        "rule evaluation never does network I/O",
    ),
    (
        "rules",
        "crate::store",
        "rules read a Store trait, not SQLite",
    ),
    ("rules", "crate::ui", "rules know nothing of the UI"),
    (
        "rules",
        "crate::engine",
        "the engine calls rules, not the reverse",
    ),
    ("rules", "crate::app", "rules know nothing of their pump"),
    (
        "yaml",
        "std::fs",
        "the YAML reader parses text; reading files is the caller's",
    ),
    (
        "yaml",
        "crate::",
        "the YAML tree depends on no other module",
    ),
];

#[test]
fn modules_respect_their_boundaries() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    assert!(files.len() > 5, "found no sources under {:?}", src());
    let mut violations = Vec::new();
    for f in &files {
        let module = module_of(f);
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        for (n, code) in code_lines(&text) {
            for (m, token, why) in RULES {
                if module == *m && code.contains(token) {
                    violations.push(format!("{}:{n}: uses `{token}`: {why}", f.display()));
                }
            }
            if code.contains("rusqlite") && module != "store" {
                violations.push(format!("{}:{n}: uses rusqlite outside store/", f.display()));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "boundary violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn every_module_file_opens_with_its_ownership_line() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            std::fs::read_to_string(f)
                .map(|t| !t.trim_start().starts_with("//!"))
                .unwrap_or(true)
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a `//!` first line: {missing:?}"
    );
}

#[test]
fn the_checker_itself_catches_a_violation() {
    // Guard against a checker that can never fail: a line using rusqlite in the engine must
    // be reported by the same matching the real test uses.
    let text = "//! x\nuse rusqlite::Connection;\n// rusqlite in a comment is fine\n";
    let hits: Vec<usize> = code_lines(text)
        .filter(|(_, c)| c.contains("rusqlite"))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(hits, vec![2]);
}

/// Top-level modules and the other top-level modules each one names through `crate::`.
fn module_graph() -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut graph: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for f in &files {
        let module = module_of(f);
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        let deps = graph.entry(module.clone()).or_default();
        for (_, code) in code_lines(&text) {
            for (i, _) in code.match_indices("crate::") {
                let rest = &code[i + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module {
                    deps.insert(name);
                }
            }
        }
    }
    graph
}

/// A path of modules that leads from `from` back to itself, if there is one.
fn cycle_from(
    graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
    from: &str,
) -> Option<Vec<String>> {
    let mut stack = vec![(from.to_string(), vec![from.to_string()])];
    let mut seen = std::collections::BTreeSet::new();
    while let Some((at, path)) = stack.pop() {
        for next in graph.get(&at).into_iter().flatten() {
            if next == from {
                let mut p = path.clone();
                p.push(next.clone());
                return Some(p);
            }
            if seen.insert(next.clone()) {
                let mut p = path.clone();
                p.push(next.clone());
                stack.push((next.clone(), p));
            }
        }
    }
    None
}

#[test]
fn top_level_modules_form_no_import_circle() {
    let graph = module_graph();
    assert!(
        graph.get("cli").is_some_and(|d| d.contains("app")),
        "the graph reader found no cli → app arrow: {graph:?}"
    );
    let circles: Vec<String> = graph
        .keys()
        .filter_map(|m| cycle_from(&graph, m))
        .map(|p| p.join(" → "))
        .collect();
    assert!(circles.is_empty(), "import circles: {circles:?}");
}

#[test]
fn the_circle_finder_finds_a_circle() {
    let mut graph: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    graph.entry("a".into()).or_default().insert("b".into());
    graph.entry("b".into()).or_default().insert("c".into());
    graph.entry("c".into()).or_default().insert("a".into());
    graph.entry("d".into()).or_default().insert("a".into());
    assert_eq!(
        cycle_from(&graph, "a"),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert_eq!(cycle_from(&graph, "d"), None);
}
