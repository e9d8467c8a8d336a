//! Differential tests against the real `promtool` (Debian package `prometheus`): every file of
//! the corpus goes through `promtool test rules` / `promtool check rules` and through
//! `nocscope rules test` / `rules check`; the verdicts must agree, and the reports must be the
//! same bytes except where a file's header says why they differ (`# differs: …`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PROMTOOL_MISSING: &str =
    "promtool is not installed: run scripts/test or apt-get install prometheus";

fn promtool() -> PathBuf {
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/bin"])
    {
        let p = Path::new(dir).join("promtool");
        if p.is_file() {
            return p;
        }
    }
    panic!("{PROMTOOL_MISSING}");
}

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/promql")
        .join(name)
}

/// Run in the corpus folder with a relative file name, so both print the same names.
fn run(program: &Path, args: &[&str], file: &str, cwd: &Path) -> Output {
    Command::new(program)
        .args(args)
        .arg(file)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

fn files(dir: &Path, suffix: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(suffix))
        .collect();
    out.sort();
    out
}

/// The reason a file's report may differ in wording, from its `# differs:` header line.
fn differs(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .take_while(|l| l.starts_with('#'))
        .find_map(|l| l.strip_prefix("# differs:").map(|r| r.trim().to_string()))
}

struct Verdicts {
    passed: usize,
    failed: usize,
    problems: Vec<String>,
}

fn compare(subcommand: &str, dir: &Path, names: &[String]) -> Verdicts {
    let promtool = promtool();
    let nocscope = Path::new(env!("CARGO_BIN_EXE_nocscope"));
    let mut v = Verdicts {
        passed: 0,
        failed: 0,
        problems: Vec::new(),
    };
    for name in names {
        let theirs = run(&promtool, &[subcommand, "rules"], name, dir);
        let ours = run(nocscope, &["rules", subcommand], name, dir);
        let (tc, oc) = (theirs.status.code(), ours.status.code());
        match tc {
            Some(0) => v.passed += 1,
            _ => v.failed += 1,
        }
        let show = |o: &Output| {
            format!(
                "--- stdout\n{}--- stderr\n{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        };
        if tc != oc {
            v.problems.push(format!(
                "{name}: promtool exits {tc:?}, nocscope {oc:?}\npromtool:\n{}\nnocscope:\n{}",
                show(&theirs),
                show(&ours)
            ));
            continue;
        }
        if differs(&dir.join(name)).is_some() {
            // The wording may differ, but what goes to stdout (the verdict lines) may not.
            if theirs.stdout != ours.stdout {
                v.problems.push(format!(
                    "{name}: stdout differs\npromtool:\n{}\nnocscope:\n{}",
                    show(&theirs),
                    show(&ours)
                ));
            }
            continue;
        }
        if theirs.stdout != ours.stdout || theirs.stderr != ours.stderr {
            v.problems.push(format!(
                "{name}: reports differ\npromtool:\n{}\nnocscope:\n{}",
                show(&theirs),
                show(&ours)
            ));
        }
    }
    v
}

#[test]
fn rules_test_agrees_with_promtool_on_the_corpus() {
    let corpus = dir("corpus");
    let names = files(&corpus, ".test.yml");
    let v = compare("test", &corpus, &names);
    assert!(v.problems.is_empty(), "{}", v.problems.join("\n\n"));
    // A corpus that only passes (or only fails) could not catch a runner that always says
    // the same thing.
    assert!(
        v.passed >= 3 && v.failed >= 5,
        "corpus verdicts: {} pass, {} fail",
        v.passed,
        v.failed
    );
}

#[test]
fn rules_check_agrees_with_promtool() {
    let check = dir("check");
    let mut names = files(&check, ".rules.yml");
    names.retain(|n| !n.starts_with("stricter-"));
    let v = compare("check", &check, &names);
    assert!(v.problems.is_empty(), "{}", v.problems.join("\n\n"));
    assert!(
        v.passed >= 2 && v.failed >= 2,
        "check verdicts: {} pass, {} fail",
        v.passed,
        v.failed
    );
    let corpus = dir("corpus");
    let v = compare("check", &corpus, &files(&corpus, ".rules.yml"));
    assert!(v.problems.is_empty(), "{}", v.problems.join("\n\n"));
}

/// Where nocscope is stricter on purpose: an expression that can never give a vector
/// (a string, a range vector) is refused when the file loads, where promtool accepts it and
/// every evaluation fails. Both sides are checked, so a change in either shows here.
#[test]
fn rules_check_refuses_what_can_never_evaluate() {
    let check = dir("check");
    let promtool = promtool();
    let nocscope = Path::new(env!("CARGO_BIN_EXE_nocscope"));
    for name in files(&check, ".rules.yml")
        .iter()
        .filter(|n| n.starts_with("stricter-"))
    {
        let theirs = run(&promtool, &["check", "rules"], name, &check);
        let ours = run(nocscope, &["rules", "check"], name, &check);
        assert_eq!(
            theirs.status.code(),
            Some(0),
            "{name}: promtool now refuses it"
        );
        assert_eq!(ours.status.code(), Some(1), "{name}");
        let err = String::from_utf8_lossy(&ours.stderr);
        assert!(
            err.contains("must give an instant vector or a scalar"),
            "{err}"
        );
    }
}
