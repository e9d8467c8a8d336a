//! Config loading end to end: the shipped example, every option into the runtime type, secret
//! handling, defaults, and property tests that no input panics or leaks a secret.

use std::collections::HashMap;
use std::env::VarError;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nocscope::config::{
    Auth, Config, ConfigError, DEFAULT_BODY_LIMIT, DEFAULT_FPS, DEFAULT_REFRESH, DEFAULT_RETENTION,
    DEFAULT_SAMPLE_LIMIT, MAX_FILE_SIZE, TargetKind, Ui, default_path_with_env, load_with_env,
    parse_with_env,
};
use proptest::prelude::*;

/// A fixed environment built from pairs; everything else is unset.
fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Result<String, VarError> + use<> {
    let vars: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| vars.get(name).cloned().ok_or(VarError::NotPresent)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn exporter(config: &Config, name: &str) -> nocscope::config::ExporterTarget {
    let target = config
        .targets
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no target {name}"));
    let TargetKind::Exporter(e) = &target.kind else {
        panic!("{name} is not an exporter target");
    };
    e.clone()
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

#[test]
fn example_localhost_loads() {
    let env = env_of(&[("HOME", "/home/tester")]);
    let path = examples_dir().join("localhost.toml");
    let config = load_with_env(&path, &env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.source.as_deref(), Some(path.as_path()));
    assert_eq!(config.targets.len(), 1);
    let target = &config.targets[0];
    assert_eq!(target.name, "localhost");
    assert_eq!(target.host, "localhost");
    assert_eq!(target.id.index(), 0);
    assert_eq!(target.interval, secs(15));
    assert_eq!(target.timeout, secs(10));
    let e = exporter(&config, "localhost");
    assert_eq!(e.url.as_str(), "http://127.0.0.1:9100/metrics");
    assert!(e.auth.is_none());
    assert_eq!(e.body_limit, DEFAULT_BODY_LIMIT);
    assert_eq!(e.sample_limit, DEFAULT_SAMPLE_LIMIT);
    assert_eq!(
        config.defaults.data_dir,
        Path::new("/home/tester/.local/share/nocscope")
    );
    assert_eq!(config.storage.retention, DEFAULT_RETENTION);
    assert_eq!(config.storage.max_size, 0);
}

/// Every commented `key = value` line of the example, uncommented on its own, must still load:
/// the documentation cannot drift from what the parser accepts.
#[test]
fn every_commented_example_option_is_valid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".config/nocscope")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("secrets")).expect("mkdir");
    std::fs::write(home.join(".config/nocscope/token"), "t0ken\n").expect("write");
    std::fs::write(dir.path().join("secrets/node_exporter"), "pw\n").expect("write");
    let home_str = home.display().to_string();
    let env = env_of(&[
        ("HOME", &home_str),
        ("NODE_EXPORTER_PASSWORD", "pw"),
        ("NODE_EXPORTER_TOKEN", "t0ken"),
    ]);

    let text = std::fs::read_to_string(examples_dir().join("localhost.toml")).expect("example");
    let lines: Vec<&str> = text.lines().collect();
    let mut tried = 0;
    for (i, line) in lines.iter().enumerate() {
        let Some(option) = line.strip_prefix("# ") else {
            continue;
        };
        let Some((key, _)) = option.split_once(" = ") else {
            continue;
        };
        if !key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            continue;
        }
        let mut edited = lines.clone();
        edited[i] = option;
        let edited = edited.join("\n");
        if let Err(e) = parse_with_env(&edited, "localhost.toml", dir.path(), &env) {
            panic!(
                "uncommenting line {} ({option}) breaks the example:\n{e}",
                i + 1
            );
        }
        tried += 1;
    }
    assert!(tried >= 19, "only {tried} commented options found");
}

const FULL: &str = r#"
[defaults]
interval = "20s"
timeout = "7s"
data_dir = "state"
body_limit = "10MiB"
sample_limit = 1234

[storage]
retention = "3d12h"
max_size = "2GiB"

[[target]]
name = "web1"
kind = "exporter"
url = "https://10.0.0.5:9100/metrics?collect[]=cpu"
host = "rack1.web"
interval = "1m"
timeout = "30s"
body_limit = 4096
sample_limit = 0
labels = { role = "web", _dc = "fra1" }
basic_auth = { username = "scraper", password = "inline-pass-1" }

[[target]]
name = "web1:node"
kind = "exporter"
url = "http://[::1]:9100/metrics"
basic_auth = { username = "u2", password_env = "PASS_VAR" }

[[target]]
name = "db.1"
kind = "exporter"
url = "http://127.0.0.1:9187/metrics"
interval = "5s"
basic_auth = { username = "u3", password_file = "secrets/pass" }

[[target]]
name = "tok-inline"
kind = "exporter"
url = "http://127.0.0.1:9101/metrics"
bearer_token = "inline-token-2"

[[target]]
name = "tok-env"
kind = "exporter"
url = "http://127.0.0.1:9102/metrics"
bearer_token_env = "TOKEN_VAR"

[[target]]
name = "tok-file"
kind = "exporter"
url = "http://127.0.0.1:9103/metrics"
bearer_token_file = "~/token"
"#;

const FULL_SECRETS: &[&str] = &[
    "inline-pass-1",
    "env-pass-3",
    "file-pass-4",
    "inline-token-2",
    "env-token-5",
    "file-token-6",
];

struct Fixture {
    dir: tempfile::TempDir,
    home: String,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("secrets")).expect("mkdir");
    // Only one trailing newline is trimmed; the CR of a CRLF ending goes with it.
    std::fs::write(dir.path().join("secrets/pass"), "file-pass-4\r\n").expect("write");
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).expect("mkdir");
    std::fs::write(home.join("token"), "file-token-6\n\n").expect("write");
    let home = home.display().to_string();
    Fixture { dir, home }
}

fn full_env(fx: &Fixture) -> impl Fn(&str) -> Result<String, VarError> + use<> {
    env_of(&[
        ("HOME", &fx.home),
        ("PASS_VAR", "env-pass-3"),
        ("TOKEN_VAR", "env-token-5"),
    ])
}

#[test]
fn every_option_reaches_the_runtime_type() {
    let fx = fixture();
    let config = parse_with_env(FULL, "full.toml", fx.dir.path(), &full_env(&fx))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(config.source.is_none());

    let d = &config.defaults;
    assert_eq!(d.interval, secs(20));
    assert_eq!(d.timeout, secs(7));
    assert_eq!(d.data_dir, fx.dir.path().join("state"));
    assert_eq!(d.body_limit, 10 << 20);
    assert_eq!(d.sample_limit, 1234);
    assert_eq!(config.storage.retention, secs(3 * 86_400 + 12 * 3600));
    assert_eq!(config.storage.max_size, 2 << 30);

    let names: Vec<&str> = config.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "web1",
            "web1:node",
            "db.1",
            "tok-inline",
            "tok-env",
            "tok-file"
        ]
    );
    for (i, t) in config.targets.iter().enumerate() {
        assert_eq!(t.id.index(), i, "ids index Config::targets");
    }

    let web1 = &config.targets[0];
    assert_eq!(web1.host, "rack1.web");
    assert_eq!(web1.interval, secs(60));
    assert_eq!(web1.timeout, secs(30));
    let labels: Vec<(&str, &str)> = web1
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(labels, [("_dc", "fra1"), ("role", "web")]);
    let e = exporter(&config, "web1");
    assert_eq!(
        e.url.as_str(),
        "https://10.0.0.5:9100/metrics?collect[]=cpu"
    );
    assert_eq!(e.body_limit, 4096);
    assert_eq!(e.sample_limit, 0);

    // Targets without overrides inherit [defaults]; the inherited timeout shrinks to a
    // shorter interval.
    let node = &config.targets[1];
    assert_eq!(node.host, "web1:node");
    assert_eq!((node.interval, node.timeout), (secs(20), secs(7)));
    assert!(node.labels.is_empty());
    let e = exporter(&config, "web1:node");
    assert_eq!((e.body_limit, e.sample_limit), (10 << 20, 1234));
    let db = &config.targets[2];
    assert_eq!((db.interval, db.timeout), (secs(5), secs(5)));

    let basic = |name: &str| match exporter(&config, name).auth {
        Some(Auth::Basic { username, password }) => (username, password.expose().to_string()),
        other => panic!("{name}: expected basic auth, got {other:?}"),
    };
    let bearer = |name: &str| match exporter(&config, name).auth {
        Some(Auth::Bearer { token }) => token.expose().to_string(),
        other => panic!("{name}: expected a bearer token, got {other:?}"),
    };
    assert_eq!(basic("web1"), ("scraper".into(), "inline-pass-1".into()));
    assert_eq!(basic("web1:node"), ("u2".into(), "env-pass-3".into()));
    assert_eq!(basic("db.1"), ("u3".into(), "file-pass-4".into()));
    assert_eq!(bearer("tok-inline"), "inline-token-2");
    assert_eq!(bearer("tok-env"), "env-token-5");
    assert_eq!(bearer("tok-file"), "file-token-6\n");
}

#[test]
fn debug_output_never_shows_secrets() {
    let fx = fixture();
    let config = parse_with_env(FULL, "full.toml", fx.dir.path(), &full_env(&fx))
        .unwrap_or_else(|e| panic!("{e}"));
    let shown = format!("{config:?} {config:#?}");
    assert!(shown.contains("Secret(<redacted>)"));
    for secret in FULL_SECRETS {
        assert!(!shown.contains(secret), "Debug shows {secret}");
    }
}

/// (defaults interval, defaults timeout, target interval, target timeout) → effective timeout.
#[test]
fn timeout_defaults_table() {
    type Row = (
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        Duration,
    );
    let rows: &[Row] = &[
        (None, None, None, None, secs(10)),
        (Some("5s"), None, None, None, secs(5)),
        (Some("1m"), None, None, None, secs(10)),
        // Unset defaults timeout: min(10s, the target's own interval).
        (Some("5s"), None, Some("1m"), None, secs(10)),
        (None, Some("3s"), Some("1m"), None, secs(3)),
        // An inherited explicit timeout shrinks to fit a shorter target interval.
        (Some("1m"), Some("30s"), Some("10s"), None, secs(10)),
        (None, None, Some("2s"), None, secs(2)),
        (None, None, Some("2s"), Some("2s"), secs(2)),
        (None, None, None, Some("15s"), secs(15)),
        (
            None,
            None,
            Some("1s"),
            Some("500ms"),
            Duration::from_millis(500),
        ),
    ];
    let env = env_of(&[("HOME", "/h")]);
    for (di, dt, ti, tt, want) in rows {
        let mut text = String::from("[defaults]\n");
        if let Some(v) = di {
            text.push_str(&format!("interval = \"{v}\"\n"));
        }
        if let Some(v) = dt {
            text.push_str(&format!("timeout = \"{v}\"\n"));
        }
        text.push_str("[[target]]\nname = \"t\"\nkind = \"exporter\"\nurl = \"http://h/\"\n");
        if let Some(v) = ti {
            text.push_str(&format!("interval = \"{v}\"\n"));
        }
        if let Some(v) = tt {
            text.push_str(&format!("timeout = \"{v}\"\n"));
        }
        let config = parse_with_env(&text, "t.toml", Path::new("/"), &env)
            .unwrap_or_else(|e| panic!("{text}\n{e}"));
        assert_eq!(config.targets[0].timeout, *want, "{text}");
    }
}

#[test]
fn empty_file_is_valid_with_no_targets() {
    let env = env_of(&[("HOME", "/home/a")]);
    for text in ["", "\n\n", "# only a comment\n", "[defaults]\n[storage]\n"] {
        let config = parse_with_env(text, "e.toml", Path::new("/etc"), &env)
            .unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert!(config.targets.is_empty());
        assert_eq!(config.defaults.interval, secs(15));
        assert_eq!(config.defaults.timeout, secs(10));
    }
}

#[test]
fn ui_section_reaches_the_console_options() {
    let env = env_of(&[("HOME", "/home/a")]);
    let config = parse_with_env("", "e.toml", Path::new("/etc"), &env).expect("empty config");
    assert_eq!(config.ui, Ui::default());
    assert_eq!(config.ui.refresh, DEFAULT_REFRESH);
    assert_eq!(config.ui.fps, DEFAULT_FPS);
    let text = "[ui]\nrefresh = \"750ms\"\nfps = 5\n";
    let config =
        parse_with_env(text, "e.toml", Path::new("/etc"), &env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.ui.refresh, Duration::from_millis(750));
    assert_eq!(config.ui.fps, 5);
}

/// Environment variables for one table row.
type Vars = &'static [(&'static str, &'static str)];

#[test]
fn data_dir_table() {
    let rows: &[(Vars, Option<&str>, Result<&str, &str>)] = &[
        (
            &[("HOME", "/home/a")],
            None,
            Ok("/home/a/.local/share/nocscope"),
        ),
        (
            &[("HOME", "/home/a"), ("XDG_DATA_HOME", "/xdg")],
            None,
            Ok("/xdg/nocscope"),
        ),
        // A relative XDG value is invalid per the spec and ignored.
        (
            &[("HOME", "/home/a"), ("XDG_DATA_HOME", "rel")],
            None,
            Ok("/home/a/.local/share/nocscope"),
        ),
        (&[("HOME", "/home/a")], Some("~"), Ok("/home/a")),
        (&[("HOME", "/home/a")], Some("~/d"), Ok("/home/a/d")),
        (&[("HOME", "/home/a")], Some("d/e"), Ok("/etc/noc/d/e")),
        (&[("HOME", "/home/a")], Some("/var/lib/n"), Ok("/var/lib/n")),
        (&[], None, Err("c.toml: cannot choose a default `data_dir`")),
        (
            &[],
            Some("~/d"),
            Err("c.toml:2:12: cannot expand `~` in `data_dir`"),
        ),
        (
            &[("HOME", "/home/a")],
            Some(""),
            Err("c.toml:2:12: `data_dir` must not be empty"),
        ),
    ];
    for (vars, data_dir, want) in rows {
        let env = env_of(vars);
        let text = match data_dir {
            Some(d) => format!("[defaults]\ndata_dir = \"{d}\"\n"),
            None => String::new(),
        };
        let got = parse_with_env(&text, "c.toml", Path::new("/etc/noc"), &env);
        match (got, want) {
            (Ok(c), Ok(path)) => assert_eq!(c.defaults.data_dir, Path::new(path), "{vars:?}"),
            (Err(e), Err(prefix)) => {
                assert_eq!(e.problems.len(), 1, "{e}");
                assert!(e.to_string().starts_with(prefix), "{e}");
            }
            (got, want) => panic!("{vars:?} {data_dir:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn default_path_table() {
    let rows: &[(Vars, Option<&str>)] = &[
        (
            &[("HOME", "/home/a")],
            Some("/home/a/.config/nocscope/config.toml"),
        ),
        (
            &[("HOME", "/home/a"), ("XDG_CONFIG_HOME", "/cfg")],
            Some("/cfg/nocscope/config.toml"),
        ),
        (
            &[("HOME", "/home/a"), ("XDG_CONFIG_HOME", "relative")],
            Some("/home/a/.config/nocscope/config.toml"),
        ),
        (
            &[("XDG_CONFIG_HOME", "/cfg")],
            Some("/cfg/nocscope/config.toml"),
        ),
        (&[("HOME", "")], None),
        (&[], None),
    ];
    for (vars, want) in rows {
        assert_eq!(
            default_path_with_env(&env_of(vars)),
            want.map(PathBuf::from),
            "{vars:?}"
        );
    }
}

#[test]
fn load_reports_unreadable_files_without_a_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = env_of(&[("HOME", "/h")]);
    let missing = dir.path().join("nope.toml");
    let err = load_with_env(&missing, &env).expect_err("missing file");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: cannot open the config file: no such file",
            missing.display()
        )
    );

    let binary = dir.path().join("bin.toml");
    std::fs::write(&binary, b"[defaults]\ninterval = \"1\xff5s\"\n").expect("write");
    let err = load_with_env(&binary, &env).expect_err("not UTF-8");
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2:14: the file is not valid UTF-8; TOML files must be UTF-8 text",
            binary.display()
        )
    );

    let huge = dir.path().join("huge.toml");
    let size = usize::try_from(MAX_FILE_SIZE + 1).expect("fits");
    std::fs::write(&huge, vec![b'\n'; size]).expect("write");
    let err = load_with_env(&huge, &env).expect_err("too large");
    assert!(err.to_string().contains("larger than"), "{err}");
}

#[test]
fn load_resolves_paths_against_the_file_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sub = dir.path().join("conf");
    std::fs::create_dir_all(&sub).expect("mkdir");
    std::fs::write(sub.join("tok"), "abc\n").expect("write");
    let path = sub.join("c.toml");
    std::fs::write(
        &path,
        "[defaults]\ndata_dir = \"data\"\n[[target]]\nname = \"a\"\nkind = \"exporter\"\n\
         url = \"http://127.0.0.1:1/\"\nbearer_token_file = \"tok\"\n",
    )
    .expect("write");
    let config = load_with_env(&path, &env_of(&[])).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.defaults.data_dir, sub.join("data"));
    match &exporter(&config, "a").auth {
        Some(Auth::Bearer { token }) => assert_eq!(token.expose(), "abc"),
        other => panic!("{other:?}"),
    }
}

/// The credentials a loaded config holds; their values must not show in its `Debug`.
fn held_secrets(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let mut auth = |a: &Option<Auth>| match a {
        Some(Auth::Basic { password, .. }) => out.push(password.expose().to_string()),
        Some(Auth::Bearer { token }) => out.push(token.expose().to_string()),
        None => {}
    };
    let mut extra = Vec::new();
    for t in &config.targets {
        match &t.kind {
            TargetKind::Exporter(e) => auth(&e.auth),
            TargetKind::Http(h) => auth(&h.auth),
            TargetKind::Snmp(s) => {
                extra.extend(s.community.iter().map(|c| c.expose().to_string()));
                if let Some(v3) = &s.v3 {
                    extra.extend(v3.auth.iter().map(|(_, p)| p.expose().to_string()));
                    extra.extend(v3.privacy.iter().map(|(_, p)| p.expose().to_string()));
                }
            }
            TargetKind::Icmp(_) | TargetKind::Tcp(_) => {}
        }
    }
    out.extend(extra);
    out
}

/// The secrets of `original` that a mutation left under a credential key. A mutation can
/// splice an inline credential into another value (say, the end of a URL); it is then
/// ordinary text the user wrote there, and may be echoed like any other value. Values that
/// come from the environment or files never appear in the text and are always checked.
fn still_secret<'s>(text: &str, original: &str, secrets: &[&'s str]) -> Vec<&'s str> {
    const KEYS: [&str; 5] = [
        "password",
        "bearer_token",
        "community",
        "auth_password",
        "priv_password",
    ];
    secrets
        .iter()
        .copied()
        .filter(|s| {
            !original.contains(s)
                || KEYS
                    .iter()
                    .any(|k| text.contains(&format!("{k} = \"{s}\"")))
        })
        .collect()
}

fn check_problem_shape(text: &str, err: &ConfigError) -> Result<(), TestCaseError> {
    prop_assert!(!err.problems.is_empty());
    let lines = u32::try_from(text.lines().count()).unwrap_or(u32::MAX);
    let mut last = (0, 0);
    for p in &err.problems {
        prop_assert!(p.line >= 1 && p.col >= 1, "{p}");
        prop_assert!(p.line <= lines + 1, "{p} beyond {lines} lines");
        prop_assert!((p.line, p.col) >= last, "unsorted: {err}");
        last = (p.line, p.col);
    }
    Ok(())
}

/// A config that mentions `secret` in every place a secret can go, plus mistakes around it.
fn config_with_secret(secret: &str, variant: u8) -> String {
    let auth = match variant % 6 {
        0 => format!(
            "basic_auth = {{ username = \"u\", password = \"{secret}\" }}\nbearer_token = \"{secret}\""
        ),
        1 => format!("bearer_token = \"{secret}\"\nbearer_tokn = \"{secret}\""),
        2 => format!(
            "basic_auth = {{ username = \"u\", password = \"{secret}\", password_env = \"V\" }}"
        ),
        3 => format!("basic_auth = {{ usrname = \"u\", password = \"{secret}\" }}"),
        4 => format!("bearer_token = \"{secret}\"\ninterval = \"{secret}\""),
        _ => format!("bearer_token = \"{secret}\"\nurl = \"http://u:{secret}@h/\""),
    };
    format!(
        "[[target]]\nname = \"t\"\nkind = \"exporter\"\n{}\n{auth}\n",
        if variant % 6 == 5 {
            ""
        } else {
            "url = \"ftp://h/\""
        }
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        // Integration tests have no lib.rs beside them for proptest to persist failures next to.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let env = env_of(&[("HOME", "/h")]);
        if let Err(e) = parse_with_env(&text, "p.toml", Path::new("/"), &env) {
            check_problem_shape(&text, &e)?;
        }
    }

    /// Deleting or replacing any slice of a valid config never panics, and every problem has a
    /// position inside the file, sorted.
    #[test]
    fn mutated_configs_never_panic(
        start in 0usize..FULL.len(),
        len in 0usize..40,
        insert in prop::sample::select(vec!["", "\"", "=", "[", "]]", "x", "\n", "0", "{", "#", "é"]),
    ) {
        let fx = fixture();
        let end = (start + len).min(FULL.len());
        let (Some(head), Some(tail)) = (FULL.get(..start), FULL.get(end..)) else {
            return Ok(());
        };
        let text = format!("{head}{insert}{tail}");
        let result = parse_with_env(&text, "m.toml", fx.dir.path(), &full_env(&fx));
        match result {
            Ok(config) => {
                let shown = format!("{config:?}");
                // Only the known values: a mutation can shorten a token to "0", which any
                // Debug output contains.
                let held = held_secrets(&config);
                for secret in FULL_SECRETS.iter().filter(|s| held.iter().any(|h| h == *s)) {
                    prop_assert!(!shown.contains(secret), "{shown}");
                }
            }
            Err(e) => {
                check_problem_shape(&text, &e)?;
                let shown = e.to_string();
                for secret in still_secret(&text, FULL, FULL_SECRETS) {
                    prop_assert!(!shown.contains(secret), "{shown}");
                }
            }
        }
    }

    #[test]
    fn secrets_never_appear_in_problems(secret in "[A-Za-z0-9]{12,24}", variant in 0u8..6) {
        let text = config_with_secret(&secret, variant);
        let env = env_of(&[("HOME", "/h"), ("V", "other-value")]);
        let err = parse_with_env(&text, "s.toml", Path::new("/"), &env)
            .map(|c| format!("{c:?}"))
            .expect_err("every variant has a mistake");
        prop_assert!(!err.to_string().contains(&secret), "{err}");
        let debug = format!("{:?}", err);
        prop_assert!(!debug.contains(&secret));
    }
}

#[test]
fn exporter_compression_knob_loads_each_spelling() {
    use nocscope::config::Compression;
    let env = env_of(&[("HOME", "/home/tester")]);
    let cases = [
        (None, Compression::Auto),
        (Some("auto"), Compression::Auto),
        (Some("gzip"), Compression::Gzip),
        (Some("none"), Compression::None),
    ];
    for (value, want) in cases {
        let line = value.map_or(String::new(), |v| format!("compression = \"{v}\"\n"));
        let text = format!(
            "[[target]]\nname = \"n\"\nkind = \"exporter\"\nurl = \"http://10.0.0.1:9100/metrics\"\n{line}"
        );
        let config = parse_with_env(&text, "c.toml", Path::new("/"), &env)
            .unwrap_or_else(|e| panic!("{value:?}: {e}"));
        assert_eq!(exporter(&config, "n").compression, want, "{value:?}");
    }
}
