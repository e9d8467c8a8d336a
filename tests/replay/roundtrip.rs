//! Record → replay round trip against a real node_exporter on a loopback port: the replayed
//! engine ends in exactly the live engine's state, in-process (whole snapshot) and through the
//! binary (`check --for --record` output equals `replay --speed max` output).

use crate::support;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use nocscope::collect::{exporter, scheduler};
use nocscope::engine::{Engine, TargetSpec};
use nocscope::model::Input;
use nocscope::replay::{self, Limits, Player, Recorder, Speed};

fn config_text(dir: &std::path::Path, url: &str) -> String {
    format!(
        "[defaults]\ninterval = \"1s\"\ntimeout = \"1s\"\ndata_dir = \"{}\"\n\n[[target]]\nname = \"node\"\nkind = \"exporter\"\nurl = \"{url}\"\n",
        dir.join("data").display()
    )
}

#[test]
fn replay_ends_in_the_live_engines_state() {
    let ne = support::NodeExporter::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config =
        nocscope::config::parse(&config_text(dir.path(), &ne.url()), "test.toml", dir.path())
            .expect("config");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (live, data) = runtime.block_on(async {
        let mut engine = Engine::from_config(&config);
        let header = replay::header_for(&TargetSpec::from_config(&config), "test".into(), 0);
        let mut rec = Recorder::new(Vec::new(), &header).expect("recorder");
        let client = exporter::http_client().expect("client");
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let tasks = scheduler::spawn(
            Arc::new(config.clone()),
            client,
            tx,
            Arc::new(AtomicU64::new(0)),
        );
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut polls = 0;
        // Until a few real polls went through the engine (no wall-clock assertion).
        while polls < 4 {
            let input = tokio::select! {
                Some(i) = rx.recv() => { polls += 1; i }
                _ = tick.tick() => Input::Tick { now: scheduler::wall_clock_ms() },
            };
            rec.input(scheduler::wall_clock_ms(), &input)
                .expect("record");
            engine.apply(&input);
            engine.take_batches();
        }
        for t in tasks {
            t.abort();
        }
        (engine.snapshot(), rec.finish().expect("finish"))
    });
    assert!(live.targets[0].samples > 100, "real scrapes went in");
    let live = serde_json::to_string(&live).expect("json");

    let scan = replay::scan(&data, Limits::default()).expect("scan");
    assert!(scan.damage.is_none());
    assert_eq!(serde_json::to_string(&scan.snapshot).expect("json"), live);

    let mut p = Player::open(data, Limits::default()).expect("open");
    p.set_speed(Speed::Factor(1.0));
    while !p.is_finished() {
        p.advance(Duration::from_millis(50));
    }
    assert_eq!(serde_json::to_string(&p.snapshot()).expect("json"), live);
}

#[test]
fn check_record_then_replay_prints_the_same_through_the_binary() {
    let ne = support::NodeExporter::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, config_text(dir.path(), &ne.url())).expect("write config");
    let rec = dir.path().join("run.nsr");
    let bin = env!("CARGO_BIN_EXE_nocscope");
    let live = Command::new(bin)
        .args(["--config", cfg.to_str().expect("utf-8"), "--record"])
        .arg(&rec)
        .args(["check", "--for", "4s", "--no-store", "--format", "json"])
        .output()
        .expect("run check");
    assert_eq!(
        live.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&live.stderr)
    );
    let replayed = Command::new(bin)
        .args(["replay", "--speed", "max", "--format", "json"])
        .arg(&rec)
        .output()
        .expect("run replay");
    assert_eq!(
        replayed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    let out = String::from_utf8_lossy(&replayed.stdout).into_owned();
    let (_banner, rest) = out.split_once('\n').expect("banner");
    let live_out = String::from_utf8_lossy(&live.stdout);
    assert!(live_out.contains("\"node\""), "{live_out}");
    assert_eq!(rest, live_out);
}

#[test]
fn a_recording_killed_mid_run_replays_up_to_the_last_record() {
    let ne = support::NodeExporter::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, config_text(dir.path(), &ne.url())).expect("write config");
    let rec = dir.path().join("killed.nsr");
    let bin = env!("CARGO_BIN_EXE_nocscope");
    let mut child = Command::new(bin)
        .args(["--config", cfg.to_str().expect("utf-8"), "--record"])
        .arg(&rec)
        .args(["check", "--for", "10m", "--no-store"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start check");
    // Wait (bounded) until a few scrapes are on disk, then SIGKILL: no chance to finish.
    let mut scrapes = 0;
    for _ in 0..400 {
        std::thread::sleep(Duration::from_millis(50));
        if let Ok(data) = std::fs::read(&rec)
            && let Ok(scan) = replay::scan(&data, Limits::default())
        {
            scrapes = scan.snapshot.targets.first().map_or(0, |t| t.samples);
            if scan.records >= 6 && scrapes > 0 {
                break;
            }
        }
    }
    child.kill().expect("kill -9");
    let _ = child.wait();
    assert!(scrapes > 0, "nothing was recorded before the kill");
    let out = Command::new(bin)
        .args(["replay", "--headless"])
        .arg(&rec)
        .output()
        .expect("run replay");
    assert_eq!(
        out.status.code(),
        Some(1),
        "an interrupted recording is reported"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    // Killed between records (the usual case) or, rarely, inside one.
    assert!(
        err.contains("interrupted") || err.contains("truncated"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("node"));
}

/// A non-default `[anomaly]` section travels in the recording's header, and a replay's engine
/// runs with it (warm-up, forecasts and AnomalySustained as live), not with the defaults.
#[test]
fn the_anomaly_section_is_recorded_and_replayed_with() {
    let ne = support::NodeExporter::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("config.toml");
    let text = config_text(dir.path(), &ne.url()).replace(
        "\n[[target]]",
        "[anomaly]\nwarmup_points = 7\nalert_after = \"3m\"\n\n[[target]]",
    );
    std::fs::write(&cfg, text).expect("write config");
    let rec = dir.path().join("run.nsr");
    let out = Command::new(env!("CARGO_BIN_EXE_nocscope"))
        .args(["--config", cfg.to_str().expect("utf-8"), "--record"])
        .arg(&rec)
        .args(["check", "--for", "2s", "--no-store"])
        .output()
        .expect("run check");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data = std::fs::read(&rec).expect("recording");
    let p = Player::open(data, Limits::default()).expect("open");
    let recorded = p
        .header()
        .anomaly
        .clone()
        .expect("anomaly section in the header");
    assert_eq!(recorded.warmup_points, 7);
    assert_eq!(recorded.alert_after_ms, Some(180_000));
    let settings = p.engine().anomaly_settings();
    assert_eq!(settings.warmup_points, 7);
    assert_eq!(settings.alert_after, Some(Duration::from_secs(180)));
}

/// Own rules travel in the header as `[[rule]]` TOML, and the replay raises what the live
/// run raised: a rule that the built-in set does not have fires in the replay too.
#[test]
fn own_rules_are_recorded_and_replayed_with() {
    let ne = support::NodeExporter::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("config.toml");
    let text = config_text(dir.path(), &ne.url()).replace(
        "\n[[target]]",
        "[[rule]]\nname = \"AnyMemoryUsed\"\nwatch = \"mem\"\nabove = 0\nseverity = \"minor\"\n\n[[rule]]\nname = \"HostMemoryHigh\"\ndisabled = true\n\n[[target]]",
    );
    std::fs::write(&cfg, text).expect("write config");
    let rec = dir.path().join("run.nsr");
    let out = Command::new(env!("CARGO_BIN_EXE_nocscope"))
        .args(["--config", cfg.to_str().expect("utf-8"), "--record"])
        .arg(&rec)
        .args(["check", "--for", "2s", "--no-store"])
        .output()
        .expect("run check");
    let live = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(live.contains("AnyMemoryUsed"), "{live}");
    let data = std::fs::read(&rec).expect("recording");
    let p = Player::open(data, Limits::default()).expect("open");
    let set = p.header().rule_set.clone().expect("rule set in the header");
    assert!(set.contains("name = \"AnyMemoryUsed\""), "{set}");
    assert!(!set.contains("HostMemoryHigh\""), "{set}");
    let replayed = Command::new(env!("CARGO_BIN_EXE_nocscope"))
        .args(["replay", "--headless"])
        .arg(&rec)
        .output()
        .expect("replay");
    let report = String::from_utf8_lossy(&replayed.stdout);
    assert!(report.contains("AnyMemoryUsed"), "{report}");
}

/// A Prometheus rule file named by `rule_files` is evaluated over the real node_exporter's
/// series in `check --for`, travels in the recording, and replays to the same alert.
#[test]
fn rule_files_alert_live_and_in_the_replay() {
    let ne = support::NodeExporter::start();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("rules")).expect("mkdir");
    std::fs::write(
        dir.path().join("rules/node.yml"),
        "groups:\n- name: node\n  rules:\n  - record: host:memory_available:ratio\n    expr: node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes\n  - alert: MemoryMeasured\n    expr: host:memory_available:ratio > 0\n    labels: {severity: info}\n    annotations:\n      summary: '{{ $labels.host }} has {{ $value | humanizePercentage }} available'\n",
    )
    .expect("write rules");
    let cfg = dir.path().join("config.toml");
    // A top-level key must come before the first [section].
    let text = format!(
        "rule_files = [\"rules/*.yml\"]\n{}",
        config_text(dir.path(), &ne.url())
    );
    std::fs::write(&cfg, text).expect("write config");
    let rec = dir.path().join("run.nsr");
    let out = Command::new(env!("CARGO_BIN_EXE_nocscope"))
        .args(["--config", cfg.to_str().expect("utf-8"), "--record"])
        .arg(&rec)
        .args(["check", "--for", "3s", "--no-store"])
        .output()
        .expect("run check");
    let live = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        live.contains("MemoryMeasured"),
        "{live}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(live.contains("available"), "{live}");
    let data = std::fs::read(&rec).expect("recording");
    let p = Player::open(data, Limits::default()).expect("open");
    assert_eq!(p.header().rule_files.len(), 1);
    let replayed = Command::new(env!("CARGO_BIN_EXE_nocscope"))
        .args(["replay", "--headless"])
        .arg(&rec)
        .output()
        .expect("replay");
    let report = String::from_utf8_lossy(&replayed.stdout);
    assert!(report.contains("MemoryMeasured"), "{report}");
}

/// A recording rule's results reach the history store as series of `rules/<host>` (what the
/// metric browser lists beside the host's scraped series), from a real node_exporter.
#[test]
fn recording_rule_results_are_stored_as_series() {
    let ne = support::NodeExporter::start();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("node.yml"),
        "groups:\n- name: node\n  rules:\n  - record: host:memory_available:ratio\n    expr: node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes\n",
    )
    .expect("write rules");
    let cfg = dir.path().join("config.toml");
    let text = format!(
        "rule_files = [\"node.yml\"]\n{}",
        config_text(dir.path(), &ne.url())
    );
    std::fs::write(&cfg, text).expect("write config");
    let out = Command::new(env!("CARGO_BIN_EXE_nocscope"))
        .args(["--config", cfg.to_str().expect("utf-8")])
        .args(["check", "--for", "3s"])
        .output()
        .expect("run check");
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reader =
        nocscope::store::Reader::open(&dir.path().join("data/history.db")).expect("open store");
    let series = reader.series("rules/node").expect("series");
    let key = "host:memory_available:ratio{host=\"node\",instance=\"node\",job=\"exporter\"}";
    assert_eq!(series, vec![key.to_string()]);
    let points = reader.query("rules/node", key, 0, i64::MAX).expect("query");
    assert!(!points.is_empty());
    assert!(
        points.iter().all(|(_, v)| *v > 0.0 && *v < 1.0),
        "{points:?}"
    );
}

/// A second run starts with the first run's samples in its rule windows, read from the
/// history store: a count over ten minutes that one short run cannot reach fires in the next.
#[test]
fn rule_windows_reach_back_into_the_store_across_a_restart() {
    let ne = support::NodeExporter::start();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("node.yml"),
        "groups:\n- name: node\n  rules:\n  - alert: SeenLong\n    expr: count_over_time(node_load1[10m]) > 4\n",
    )
    .expect("write rules");
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "rule_files = [\"node.yml\"]\n{}",
            config_text(dir.path(), &ne.url())
        ),
    )
    .expect("write config");
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_nocscope"))
            .args(["--config", cfg.to_str().expect("utf-8")])
            .args(["check", "--for", "3s"])
            .output()
            .expect("run check");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // One poll a second for three seconds: at most four points, never more than four.
    let first = run();
    assert!(!first.contains("SeenLong"), "{first}");
    // Two runs leave at least six points (a poll at the start and at least two more each),
    // so the third sees more than four before its own first poll is even counted.
    run();
    let third = run();
    assert!(third.contains("SeenLong"), "{third}");
}
