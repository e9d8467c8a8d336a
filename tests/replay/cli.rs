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

// ---------------------------------------------------------------------------------------------
// Anomaly events in the headless reports, with a model trained here (the shipped models are
// loaded elsewhere; the engine only ever receives bindings).

mod anomaly {
    use bytes::Bytes;
    use nocscope::cli::{OutputFormat, replay_report_with};
    use nocscope::detect::{FitOptions, LstmAutoencoder, LstmConfig, ThresholdPolicy};
    use nocscope::engine::{ModelBinding, TargetSpec};
    use nocscope::model::Vital;
    use nocscope::model::{Input, Observation, Payload, Scrape, ScrapeOutcome, TargetId};
    use nocscope::replay::{self, Limits, Recorder};

    const T0: i64 = 1_790_000_000_000;
    const STEP: i64 = 15_000;
    const SPIKE: i64 = 150;

    fn level(i: i64) -> f64 {
        let v = 3.0 + (i as f64 * std::f64::consts::TAU / 20.0).sin();
        if i == SPIKE { v + 12.0 } else { v }
    }

    /// 200 polls of one exporter whose load follows a 5-minute cycle, with one spike.
    fn recording() -> Vec<u8> {
        let spec = TargetSpec {
            labels: Default::default(),
            name: "web1".into(),
            host: "web1".into(),
            interval_ms: STEP,
            timeout_ms: 10_000,
            sample_limit: 0,
            kind: Default::default(),
        };
        let header = replay::header_for(&[spec], "test".into(), T0);
        let mut rec = Recorder::new(Vec::new(), &header).expect("recorder");
        for i in 0..200 {
            let at = T0 + i * STEP;
            let body = format!("# TYPE node_load1 gauge\nnode_load1 {}\n", level(i));
            let obs = Input::Observation(Observation {
                target: TargetId(0),
                at,
                payload: Payload::Scrape(Scrape {
                    duration_ms: 2.0,
                    outcome: ScrapeOutcome::Body {
                        content_type: Some("text/plain; version=0.0.4".into()),
                        body: Bytes::from(body),
                    },
                }),
            });
            rec.input(at + 2, &obs).expect("record");
            rec.input(at + 5_000, &Input::Tick { now: at + 5_000 })
                .expect("record");
        }
        rec.finish().expect("finish")
    }

    fn model() -> LstmAutoencoder {
        let cfg = LstmConfig {
            window: 10,
            encoder_units: vec![8, 4],
            decoder_units: vec![4, 8],
            batch_size: 16,
            max_epochs: 30,
            patience: 30,
            dropout: 0.0,
            threshold: ThresholdPolicy::MaxScaled { factor: 2.0 },
            ..Default::default()
        };
        // Trained on the shape alone (another level and scale than the recording's): the
        // engine's warm-up scaler does the rest.
        let series: Vec<f32> = (0..400)
            .map(|i| (i as f32 * std::f32::consts::TAU / 20.0).sin() * 5.0 + 40.0)
            .collect();
        let mut m = LstmAutoencoder::new(&cfg, 3).expect("config");
        m.fit(&series, &FitOptions::default(), |_| {}).expect("fit");
        m
    }

    fn bindings(m: &LstmAutoencoder) -> Vec<ModelBinding> {
        vec![ModelBinding {
            vital: Vital::Load1,
            host: None,
            model: m.clone(),
        }]
    }

    fn report(data: &[u8], format: OutputFormat, m: &LstmAutoencoder) -> String {
        let mut out = Vec::new();
        let code = replay_report_with(data, "spike.nsr", format, bindings(m), &mut out);
        assert_eq!(code, 0);
        String::from_utf8(out).expect("utf-8")
    }

    fn golden(ext: &str, actual: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(format!("anomaly-spike.{ext}"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, actual).expect("write golden");
            return;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run UPDATE_GOLDEN=1 cargo test --test replay_cli",
                path.display()
            )
        });
        assert!(want == actual, "{} differs from the replay", path.display());
    }

    #[test]
    fn a_replayed_spike_is_an_anomaly_event_in_text_and_json() {
        let data = recording();
        let m = model();
        let threshold = m.threshold().expect("trained");
        let text = report(&data, OutputFormat::Text, &m);
        let json = report(&data, OutputFormat::Json, &m);

        let spike_at = humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis((T0 + SPIKE * STEP) as u64),
        )
        .to_string();
        let opened: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("anomaly load1 opened"))
            .collect();
        assert_eq!(opened.len(), 1, "{text}");
        assert!(opened[0].starts_with(&spike_at), "{text}");
        assert!(text.contains("anomaly load1 closed after"), "{text}");

        let doc: serde_json::Value = serde_json::from_str(&json).expect("json");
        let events = doc["anomalies"].as_array().expect("anomalies");
        assert_eq!(events.len(), 1, "{json}");
        let e = &events[0];
        assert_eq!(e["host"], "web1");
        assert_eq!(e["vital"], "load1");
        assert_eq!(e["detector"], "lstm");
        assert_eq!(e["start"], T0 + SPIKE * STEP);
        // The spike leaves the 10-point window at the latest 10 polls later.
        let end = e["end"].as_i64().expect("closed");
        assert!(end > T0 + SPIKE * STEP && end <= T0 + (SPIKE + 10) * STEP);
        let peak = e["peak_score"].as_f64().expect("peak");
        assert!(peak > f64::from(threshold));
        assert!((e["threshold"].as_f64().expect("threshold") - f64::from(threshold)).abs() < 1e-6);
        let timeline = doc["timeline"].as_array().expect("timeline");
        assert_eq!(
            timeline.iter().filter(|t| t["event"] == "anomaly").count(),
            2,
            "opened and closed"
        );

        // Same recording, same model: the same report, byte for byte.
        assert_eq!(report(&data, OutputFormat::Text, &m), text);
        golden("txt", &text);
        golden("json", &json);
    }

    /// The console's player binds the same models: it reaches the same anomaly runs as the
    /// headless scan, and `]` can jump to the spike (anomaly starts are marks like alerts).
    #[test]
    fn the_player_marks_and_replays_the_same_anomalies() {
        let data = recording();
        let m = model();
        let scan = replay::scan_with(&data, Limits::default(), &bindings(&m)).expect("scan");
        assert_eq!(scan.snapshot.anomalies.len(), 1);
        let mut p =
            replay::Player::open_with(data.clone(), Limits::default(), bindings(&m)).expect("open");
        let spike = scan.snapshot.anomalies[0].start;
        let mark = p
            .alert_marks()
            .iter()
            .copied()
            .find(|&t| t >= spike)
            .expect("the anomaly start is a mark");
        assert!(
            mark - spike < STEP,
            "mark {mark} for a run starting at {spike}"
        );
        p.set_speed(replay::Speed::Max);
        while !p.is_finished() {
            p.advance(std::time::Duration::ZERO);
        }
        assert_eq!(p.snapshot().anomalies, scan.snapshot.anomalies);
        // Without models the same file has no such mark and no runs.
        let plain = replay::Player::open(data, Limits::default()).expect("open");
        assert!(
            plain
                .alert_marks()
                .iter()
                .all(|&t| t < spike || t - spike >= STEP)
        );
    }

    #[test]
    fn without_models_the_report_is_the_plain_scan() {
        let data = recording();
        let with_none = replay::scan_with(&data, Limits::default(), &[]).expect("scan");
        let plain = replay::scan(&data, Limits::default()).expect("scan");
        assert_eq!(
            nocscope::cli::render_scan(&with_none, OutputFormat::Json),
            nocscope::cli::render_scan(&plain, OutputFormat::Json)
        );
        assert!(with_none.snapshot.anomalies.is_empty());
    }
}

/// `replay --rules` replays old inputs against new rules: a TOML file changes the built-in
/// rules (here HostCpuHigh off), a Prometheus rule file adds its own alerts.
#[test]
fn replay_against_new_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo.nsr");
    let own = dir.path().join("quiet.toml");
    std::fs::write(&own, "[[rule]]\nname = \"HostCpuHigh\"\ndisabled = true\n").expect("write");
    let prom = dir.path().join("load.yml");
    std::fs::write(
        &prom,
        "groups:\n- name: g\n  rules:\n  - alert: AnyScrape\n    expr: up{job=\"exporter\"} == 1\n    labels: {severity: info}\n",
    )
    .expect("write");
    let demo_s = demo.to_str().expect("utf-8");
    let before = nocscope(&["replay", "--headless", demo_s], dir.path());
    assert!(text(&before.stdout).contains("HostCpuHigh"));
    let after = nocscope(
        &[
            "replay",
            "--headless",
            "--rules",
            own.to_str().expect("utf-8"),
            "--rules",
            prom.to_str().expect("utf-8"),
            demo_s,
        ],
        dir.path(),
    );
    assert_eq!(after.status.code(), Some(0), "{}", text(&after.stderr));
    let out = text(&after.stdout);
    assert!(!out.contains("HostCpuHigh"), "{out}");
    assert!(out.contains("AnyScrape"), "{out}");
    // A broken rule file is refused with its position, before anything replays.
    std::fs::write(
        &prom,
        "groups:\n- name: g\n  rules:\n  - alert: X\n    expr: up ==\n",
    )
    .expect("write");
    let bad = nocscope(
        &[
            "replay",
            "--headless",
            "--rules",
            prom.to_str().expect("utf-8"),
            demo_s,
        ],
        dir.path(),
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("load.yml: 5:11: group \"g\", rule 1, \"X\""),
        "{}",
        text(&bad.stderr)
    );
}

/// A recording in which the live console reloaded its rule files replays the switch where
/// it happened: the old rule's alert fires, then resolves with the reload, then the new one
/// fires. `replay --rules` replaces the rules for the whole replay, recorded reloads too.
#[test]
fn recorded_rule_reloads_replay_where_they_happened() {
    use bytes::Bytes;
    use nocscope::model::{
        Input, Observation, Payload, RuleReload, Scrape, ScrapeOutcome, TargetId,
    };
    use nocscope::replay::format::{Header, RecordedRuleFile, RecordedTarget, Recorder};
    let dir = tempfile::tempdir().expect("tempdir");
    let rule = |name: &str| {
        format!(
            "groups:\n- name: g\n  rules:\n  - alert: {name}\n    expr: up == 1\n    labels: {{severity: info}}\n"
        )
    };
    let t0: i64 = 1_700_000_000_000;
    let header = Header {
        format_version: replay::FORMAT_VERSION,
        nocscope_version: "test".into(),
        config_digest: "none".into(),
        started_at: t0,
        rules: "default".into(),
        rule_set: None,
        rule_files: vec![RecordedRuleFile {
            name: "node.yml".into(),
            text: rule("BeforeReload"),
        }],
        rule_interval_ms: Some(15_000),
        notify: None,
        targets: vec![RecordedTarget {
            labels: Default::default(),
            name: "a".into(),
            host: "a".into(),
            interval_ms: 15_000,
            timeout_ms: 10_000,
            sample_limit: 0,
            kind: Default::default(),
        }],
        anomaly: None,
    };
    let body = Bytes::from(
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/data/node_exporter.prom"
        ))
        .expect("benches/data/node_exporter.prom"),
    );
    let scrape = |at: i64| {
        Input::Observation(Observation {
            target: TargetId(0),
            at,
            payload: Payload::Scrape(Scrape {
                duration_ms: 5.0,
                outcome: ScrapeOutcome::Body {
                    content_type: Some("text/plain; version=0.0.4".into()),
                    body: body.clone(),
                },
            }),
        })
    };
    let mut rec = Recorder::new(Vec::new(), &header).expect("recorder");
    for i in 0..6 {
        let at = t0 + i * 15_000;
        if i == 3 {
            let reload = Input::Rules(RuleReload {
                at: at - 5_000,
                files: vec![("node.yml".into(), rule("AfterReload"))],
                interval_ms: 15_000,
                error: None,
            });
            rec.input(at - 5_000, &reload).expect("write");
        }
        rec.input(at, &scrape(at)).expect("write");
    }
    let path = dir.path().join("reload.nsr");
    std::fs::write(&path, rec.finish().expect("finish")).expect("write recording");
    let p = path.to_str().expect("utf-8");
    let out = nocscope(&["replay", "--headless", p], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    let at = |what: &str| {
        report
            .find(what)
            .unwrap_or_else(|| panic!("{what:?} not in\n{report}"))
    };
    assert!(
        at("BeforeReload") < at("rule removed by a reload"),
        "{report}"
    );
    assert!(
        at("rule removed by a reload") < at("AfterReload"),
        "{report}"
    );
    // New rules for the whole replay: the recorded reload does not bring the old ones back.
    let mine = dir.path().join("mine.yml");
    std::fs::write(&mine, rule("MineThroughout")).expect("write");
    let out = nocscope(
        &[
            "replay",
            "--headless",
            "--rules",
            mine.to_str().expect("utf-8"),
            p,
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(report.contains("MineThroughout"), "{report}");
    assert!(
        !report.contains("BeforeReload") && !report.contains("AfterReload"),
        "{report}"
    );
}
