//! `nocscope rules check` and `nocscope rules test`: promtool's `check rules` and `test rules`
//! on the command line — the same output on the same streams and the same exit codes. Reads
//! the files and globs `rule_files`; the checking and testing live in `crate::rules`.

use std::path::{Path, PathBuf};

use super::{EXIT_OK, EXIT_PROBLEM, clean_lines};
use crate::rules::file::parse_rule_file;
use crate::rules::unittest::run_test_file;

/// Largest rule or test file read; larger is refused rather than read into memory.
const MAX_FILE: u64 = 64 << 20;

#[derive(Debug, clap::Subcommand)]
pub enum RulesCommand {
    /// Check Prometheus rule files as `promtool check rules` does: exit 0 valid (lint
    /// findings are printed but do not fail), 1 when a file has problems (file:line:col)
    Check {
        /// Rule files (YAML)
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run promtool unit-test files as `promtool test rules` does: exit 0 when every test
    /// passes, 1 on a failure, with the expected and got alerts or samples
    Test {
        /// Test files (YAML), each naming its `rule_files`
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub fn run(cmd: &RulesCommand) -> i32 {
    match cmd {
        RulesCommand::Check { files } => check(files),
        RulesCommand::Test { files } => test(files),
    }
}

/// A rule or test file as UTF-8 text, refused past the cap.
pub(super) fn read(path: &Path) -> Result<String, String> {
    let name = path.display();
    let bytes = crate::capped::read_file(path, MAX_FILE).map_err(|e| match e {
        crate::capped::CappedError::TooLarge { cap } => {
            format!("{name}: larger than the {cap}-byte cap")
        }
        crate::capped::CappedError::Open(e) | crate::capped::CappedError::Read(e) => {
            format!("open {name}: {e}")
        }
    })?;
    String::from_utf8(bytes)
        .map_err(|e| format!("{name}: not UTF-8 (byte {})", e.utf8_error().valid_up_to()))
}

// Text from files goes through `sanitize` (a rule file can hold escape sequences); the
// report's own line breaks and tabs are kept.
fn out(s: &str) {
    println!("{}", clean_lines(s));
}

fn err(s: &str) {
    eprintln!("{}", clean_lines(s));
}

fn check(files: &[PathBuf]) -> i32 {
    let mut has_errors = false;
    for path in files {
        let name = path.display().to_string();
        out(&format!("Checking {name}"));
        let result = read(path).map(|text| parse_rule_file(&name, &text));
        match result {
            Err(e) => {
                err("  FAILED:");
                err(&e);
                has_errors = true;
            }
            Ok(Err(problems)) => {
                err("  FAILED:");
                for p in &problems {
                    err(&p.to_string());
                }
                has_errors |= problems.iter().any(|p| !p.lint);
            }
            Ok(Ok(rf)) if rf.warnings.iter().any(|w| w.is_promtool_lint()) => {
                // promtool's lint: reported as promtool reports it, but the file is valid.
                err("  FAILED:");
                for p in rf.warnings.iter().filter(|w| w.is_promtool_lint()) {
                    err(&p.to_string());
                }
            }
            Ok(Ok(rf)) => {
                out(&format!("  SUCCESS: {} rules found", rf.rule_count()));
                // nocscope's own lint, which promtool lacks: a warning, so stdout and the
                // verdict stay promtool's.
                for p in &rf.warnings {
                    err(&format!("  WARNING: {p}"));
                }
            }
        }
        out("");
    }
    if has_errors { EXIT_PROBLEM } else { EXIT_OK }
}

fn test(files: &[PathBuf]) -> i32 {
    let mut failed = false;
    for path in files {
        let name = path.display().to_string();
        out(&format!("Unit Testing:  {name}"));
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut loader = |pattern: &str| -> Result<Vec<(String, String)>, String> {
            let p = Path::new(pattern);
            let full = if pattern.is_empty() || p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            };
            let found = crate::pathglob::glob(&full)?;
            if found.is_empty() {
                err(&format!(
                    "  WARNING: no file match pattern {}",
                    full.display()
                ));
            }
            found
                .iter()
                .map(|f| Ok((f.display().to_string(), read(f)?)))
                .collect()
        };
        let report = match read(path) {
            Ok(text) => run_test_file(&name, &text, &mut loader),
            Err(e) => crate::rules::unittest::FileReport {
                file: name.clone(),
                errors: vec![e],
            },
        };
        if report.passed() {
            out("  SUCCESS");
        } else {
            err("  FAILED:");
            for e in &report.errors {
                err(e);
                out("");
            }
            failed = true;
        }
        out("");
    }
    if failed { EXIT_PROBLEM } else { EXIT_OK }
}
