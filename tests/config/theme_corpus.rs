//! Table test over tests/data/theme/*.toml (parents they inherit live in parts/): each file's
//! problems, one per line, must equal its sibling `.expected` exactly; an empty `.expected` means
//! the theme is valid and has no warnings either.
//! Set NOCSCOPE_BLESS=1 to write the `.expected` files, then review the diff by hand.

use std::path::{Path, PathBuf};

use nocscope::config::theme::Theme;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/theme")
}

fn render(file: &Path, dir: &Path) -> String {
    let shown = match Theme::load_checked(file) {
        Ok(loaded) => loaded
            .warnings
            .iter()
            .map(|w| format!("warning: {w}\n"))
            .collect(),
        Err(e) => format!("{e}\n"),
    };
    // Paths are absolute; make the messages machine-independent.
    shown.replace(&dir.display().to_string(), "<dir>")
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
    assert!(files.len() >= 18, "corpus went missing: {files:?}");

    let mut failures = Vec::new();
    for file in &files {
        let got = render(file, &dir);
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

/// Every invalid file names its position, and problems come sorted within each file.
#[test]
fn every_problem_has_a_position() {
    let dir = corpus_dir();
    for name in ["bad_colors.toml", "unknown_scope.toml", "bad_types.toml"] {
        let err = Theme::load(&dir.join(name)).expect_err(name);
        assert!(err.problems.len() >= 3, "{name}: {err}");
        assert!(
            err.problems.iter().all(|p| p.line > 0 && p.col > 0),
            "{err}"
        );
        let positions: Vec<(u32, u32)> = err.problems.iter().map(|p| (p.line, p.col)).collect();
        let mut sorted = positions.clone();
        sorted.sort();
        assert_eq!(positions, sorted, "{name}");
    }
}
