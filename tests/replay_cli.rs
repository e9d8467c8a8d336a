//! `nocscope replay` and the bare `nocscope` through the real binary: the bundled demo with no
//! config, exit codes, and the messages for missing, damaged and wrong-version files.

use std::path::Path;
use std::process::{Command, Output};

use nocscope::replay;

fn nocscope(args: &[&str], home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nocscope"))
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("NO_COLOR", "1")
        .output()
        .expect("run the nocscope binary")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn golden_demo() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/demo.txt"
    ))
    .expect("tests/golden/demo.txt")
}

#[test]
fn bare_nocscope_without_a_config_replays_the_bundled_demo() {
    let home = tempfile::tempdir().expect("tempdir");
    // From a directory with nothing in it: the demo is inside the binary.
    let out = Command::new(env!("CARGO_BIN_EXE_nocscope"))
        .current_dir(home.path())
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), golden_demo());
}

#[test]
fn bare_nocscope_with_a_config_keeps_checking_it() {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path().join("config/nocscope");
    std::fs::create_dir_all(&dir).expect("mkdir");
    // A target nobody listens on: the check runs (and fails), which proves it is not the demo.
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[defaults]\ndata_dir = \"{}\"\n[[target]]\nname = \"gone\"\nkind = \"exporter\"\nurl = \"http://127.0.0.1:9/metrics\"\n",
            home.path().join("data").display()
        ),
    )
    .expect("write config");
    let out = nocscope(&[], home.path());
    // Exit 1 with the target's line once the store exists; while src/store is a stub the
    // check panics there. Either way it ran the check, not the demo.
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("web1"), "{}", text(&out.stdout));
    if out.status.code() == Some(1) {
        assert!(text(&out.stdout).contains("gone"), "{}", text(&out.stdout));
    }
}

#[test]
fn headless_replay_prints_the_golden_text_and_json() {
    let home = tempfile::tempdir().expect("tempdir");
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo.nsr");
    let out = nocscope(&["replay", "--headless", fixture], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), golden_demo());
    let out = nocscope(
        &["replay", "--headless", "--format", "json", fixture],
        home.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(doc["timeline"].as_array().is_some_and(|t| !t.is_empty()));
    assert_eq!(doc["final"].as_array().map(Vec::len), Some(7));
    assert!(doc["damage"].is_null());
}

#[test]
fn playing_at_max_speed_prints_the_same_transitions_as_headless() {
    let home = tempfile::tempdir().expect("tempdir");
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo.nsr");
    let out = nocscope(&["replay", "--speed", "max", fixture], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let (banner, rest) = stdout.split_once('\n').expect("banner line");
    assert!(banner.starts_with("REPLAY "), "{banner}");
    assert_eq!(rest, golden_demo());
}

#[test]
fn damaged_missing_and_foreign_files_are_clear_errors() {
    let home = tempfile::tempdir().expect("tempdir");
    let demo = replay::DEMO;

    let cut = home.path().join("cut.nsr");
    std::fs::write(&cut, &demo[..demo.len() / 2]).expect("write");
    let out = nocscope(
        &["replay", "--headless", cut.to_str().expect("utf-8")],
        home.path(),
    );
    assert_eq!(out.status.code(), Some(1), "damaged: exit 1");
    let err = text(&out.stderr);
    assert!(
        err.contains("cut.nsr: record ") && err.contains(" at byte ") && err.contains("truncated"),
        "{err}"
    );
    // What could be read was still printed, and it is the start of the whole timeline.
    let partial = text(&out.stdout);
    let first = partial.lines().next().expect("some output");
    assert!(golden_demo().starts_with(first), "{first}");

    let flipped = home.path().join("flipped.nsr");
    let mut bad = demo.to_vec();
    let at = bad.len() / 3;
    bad[at] ^= 0x10;
    std::fs::write(&flipped, &bad).expect("write");
    let out = nocscope(
        &["replay", "--headless", flipped.to_str().expect("utf-8")],
        home.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("checksum mismatch"),
        "{}",
        text(&out.stderr)
    );

    let v9 = home.path().join("v9.nsr");
    let mut bad = demo.to_vec();
    bad[8..12].copy_from_slice(&9u32.to_le_bytes());
    std::fs::write(&v9, &bad).expect("write");
    let out = nocscope(
        &["replay", "--headless", v9.to_str().expect("utf-8")],
        home.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("format version 9 is not supported"),
        "{}",
        text(&out.stderr)
    );

    let out = nocscope(&["replay", "--headless", "/nonexistent/x.nsr"], home.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/x.nsr"));

    let toml = home.path().join("config.toml");
    std::fs::write(&toml, "[defaults]\n").expect("write");
    let out = nocscope(
        &["replay", "--headless", toml.to_str().expect("utf-8")],
        home.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not a nocscope recording"),
        "{}",
        text(&out.stderr)
    );

    let out = nocscope(&["replay", "--speed", "0", "x.nsr"], home.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("1 to 1000"));
}
