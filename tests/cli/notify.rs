//! Differential tests against the real `amtool` (Debian package `prometheus-alertmanager`):
//! every alertmanager.yml of tests/notify/corpus goes through `amtool check-config` and
//! `nocscope notify check`, and every case of corpus/routes.txt through `amtool config
//! routes test` and `nocscope notify routes`. Reports must be the same bytes and exit codes,
//! except where a file's header says why not (`# differs: …`); then the verdict must still
//! be the same unless the header says nocscope refuses what Alertmanager accepts.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const AMTOOL_MISSING: &str =
    "amtool is not installed: run scripts/test or apt-get install prometheus-alertmanager";

fn amtool() -> PathBuf {
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/bin"])
    {
        let p = Path::new(dir).join("amtool");
        if p.is_file() {
            return p;
        }
    }
    panic!("{AMTOOL_MISSING}");
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/notify/corpus")
}

fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(corpus())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn differs(path: &Path) -> Option<String> {
    let t = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    t.lines()
        .take_while(|l| l.starts_with('#'))
        .find_map(|l| l.strip_prefix("# differs:").map(|r| r.trim().to_string()))
}

#[test]
fn check_config_reports_as_amtool_does() {
    let am = amtool();
    let ns = Path::new(env!("CARGO_BIN_EXE_nocscope"));
    let mut files: Vec<String> = std::fs::read_dir(corpus())
        .unwrap_or_else(|e| panic!("corpus: {e}"))
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "{files:?}");
    for f in &files {
        let a = run(&am, &["check-config", f]);
        let b = run(ns, &["notify", "check", f]);
        let (ta, tb) = (text(&a.stdout), text(&b.stdout));
        match differs(&corpus().join(f)) {
            None => {
                assert_eq!(tb, ta, "{f}: report");
                assert_eq!(b.status.code(), a.status.code(), "{f}: exit code");
            }
            Some(why) if why.contains("refuses") => {
                // nocscope refuses on purpose what Alertmanager loads: said by name.
                assert_eq!(a.status.code(), Some(0), "{f}: {ta}");
                assert_eq!(b.status.code(), Some(1), "{f}: {tb}");
                assert!(tb.contains("not supported by nocscope"), "{f}: {tb}");
            }
            Some(_) => {
                assert_eq!(
                    b.status.code(),
                    a.status.code(),
                    "{f}: exit code\n{ta}\n{tb}"
                );
                assert_eq!(
                    tb.contains("SUCCESS"),
                    ta.contains("SUCCESS"),
                    "{f}: verdict\n{ta}\n{tb}"
                );
            }
        }
    }
}

#[test]
fn routes_test_picks_the_receivers_amtool_picks() {
    let am = amtool();
    let ns = Path::new(env!("CARGO_BIN_EXE_nocscope"));
    let cases = std::fs::read_to_string(corpus().join("routes.txt"))
        .unwrap_or_else(|e| panic!("routes.txt: {e}"));
    let mut n = 0;
    for line in cases
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (file, labels) = line.split_once('|').unwrap_or((line, ""));
        let file = file.trim();
        let labels: Vec<&str> = labels.split_whitespace().collect();
        let config = format!("--config.file={file}");
        let mut am_args = vec!["config", "routes", "test", config.as_str()];
        am_args.extend(&labels);
        let mut ns_args = vec!["notify", "routes", file];
        ns_args.extend(&labels);
        let a = run(&am, &am_args);
        let b = run(ns, &ns_args);
        assert_eq!(text(&b.stdout), text(&a.stdout), "{line}");
        assert_eq!(b.status.code(), a.status.code(), "{line}");
        n += 1;
    }
    assert!(n >= 15, "{n} cases");
}

#[test]
fn the_shipped_example_loads_in_both() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/alertmanager.yml");
    let example = example.to_string_lossy();
    let a = run(&amtool(), &["check-config", &example]);
    let b = run(
        Path::new(env!("CARGO_BIN_EXE_nocscope")),
        &["notify", "check", &example],
    );
    assert_eq!(a.status.code(), Some(0), "{}", text(&a.stdout));
    assert_eq!(text(&b.stdout), text(&a.stdout));
}
