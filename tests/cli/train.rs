//! `nocscope train` end to end through the real binary (CSV, recording, history store written
//! by `check --for` against a real node_exporter and through the store API), its error
//! messages, the shipped models, and the background trainer with a fake history source.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use nocscope::detect::{FORMAT_VERSION, LstmAutoencoder, LstmConfig, META_FILE, WEIGHTS_FILE};
use nocscope::model::CycleBatch;
use nocscope::model::Vital;
use nocscope::store::{Store, StoreOptions};
use nocscope::trainer::{Trainer, TrainerConfig, TrainerEvent, model_dir};

/// Small enough that a debug build trains a few epochs in seconds.
const TINY: &str = r#"{ "window": 5, "encoder_units": [6, 3], "decoder_units": [3, 6],
  "batch_size": 16, "max_epochs": 3, "grad_shards": 1 }"#;
/// window 5 + 64 windows − 1.
const TINY_MIN_POINTS: usize = 68;

fn tiny() -> LstmConfig {
    serde_json::from_str(TINY).expect("tiny config")
}

fn nocscope(args: &[&str], home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nocscope"))
        .args(args)
        // No user config or data dir of the machine running the tests may leak in.
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .output()
        .expect("run the nocscope binary")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).expect("write file");
    p.display().to_string()
}

/// A deterministic wavy series with a little hash noise.
fn wave(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let noise =
                ((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as f64 / 16_777_216.0;
            50.0 + 20.0 * (i as f64 * 0.3).sin() + 2.0 * noise
        })
        .collect()
}

fn assert_ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn csv_end_to_end_saves_a_model_that_loads_and_scores() {
    let dir = tempfile::tempdir().expect("tempdir");
    let values = wave(200);
    let mut csv = String::from("timestamp,value\n");
    for (i, v) in values.iter().enumerate() {
        csv.push_str(&format!("{},{v}\n", 1_700_000_000 + 15 * i as i64));
    }
    let csv = write(dir.path(), "cpu.csv", &csv);
    let cfg = write(dir.path(), "tiny.json", TINY);
    let out_dir = dir.path().join("model");
    let out = nocscope(
        &[
            "train",
            "--csv",
            &csv,
            "--lstm-config",
            &cfg,
            "--threads",
            "1",
            "--threshold-policy",
            "quantile:0.99",
            "--out",
            &out_dir.display().to_string(),
        ],
        dir.path(),
    );
    assert_ok(&out);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("trained on 200 points"), "{stdout}");
    assert!(stdout.contains("quantile:0.99"), "{stdout}");
    assert!(
        stdout.contains(&format!("saved to {}", out_dir.display())),
        "{stdout}"
    );
    // Not a terminal: one plain progress line per epoch.
    let stderr = text(&out.stderr);
    for e in 1..=3 {
        assert!(stderr.contains(&format!("epoch {e}/3  loss")), "{stderr}");
    }
    assert!(!stderr.contains('\r'), "{stderr:?}");

    let model = LstmAutoencoder::load(&out_dir).expect("load the saved model");
    let report = model.train_report().expect("training summary");
    assert_eq!(report.points, 200);
    assert!(report.epochs <= 3);
    let range = model.data_range().expect("data range");
    assert_eq!(
        (range.start_ms, range.end_ms),
        (1_700_000_000_000, 1_700_000_000_000 + 15_000 * 199)
    );
    let series: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    let scores = model.score_series(&series).expect("score");
    assert_eq!(scores.len(), 196);
    assert!(scores.iter().all(|s| s.is_finite() && *s >= 0.0));
    // A quantile threshold sits inside the training errors' range by construction.
    let t = model.threshold().expect("threshold");
    assert!(
        t <= report.max_error && t > 0.0,
        "{t} vs {}",
        report.max_error
    );
    // A spike far outside anything trained on scores above it.
    let mut spiked = series.clone();
    spiked[100] = 500.0;
    let spiked_scores = model.score_series(&spiked).expect("score");
    assert_eq!(model.is_anomaly(spiked_scores[98]), Some(true));
}

#[test]
fn default_out_dir_is_under_the_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut csv = String::new();
    for (i, v) in wave(100).iter().enumerate() {
        csv.push_str(&format!("2026-11-21T13:{:02}:{:02}Z,{v}\n", i / 60, i % 60));
    }
    let csv = write(dir.path(), "mem.csv", &csv);
    let cfg = write(dir.path(), "tiny.json", TINY);
    let out = nocscope(
        &[
            "train",
            "--csv",
            &csv,
            "--lstm-config",
            &cfg,
            "--epochs",
            "1",
        ],
        dir.path(),
    );
    assert_ok(&out);
    let want = model_dir(&dir.path().join(".local/share/nocscope"), "csv", "mem");
    assert!(want.join(META_FILE).is_file(), "{}", text(&out.stdout));
    assert!(want.join(WEIGHTS_FILE).is_file());
}

#[test]
fn from_the_demo_recording_matches_the_engines_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write(dir.path(), "tiny.json", TINY);
    let out_dir = dir.path().join("m");
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo-v1.nsr");
    let out = nocscope(
        &[
            "train",
            "--replay",
            demo,
            "--series",
            "host=web1,vital=cpu",
            "--lstm-config",
            &cfg,
            "--epochs",
            "2",
            "--out",
            &out_dir.display().to_string(),
        ],
        dir.path(),
    );
    assert_ok(&out);
    let model = LstmAutoencoder::load(&out_dir).expect("load");

    // The same recording through the console's player: web1's CPU ring holds every point
    // (the demo has fewer polls than the ring's capacity), and it must be what was trained on.
    let data = std::fs::read(demo).expect("read demo");
    let mut player =
        nocscope::replay::Player::open(data, nocscope::replay::Limits::default()).expect("open");
    player.set_speed(nocscope::replay::Speed::Max);
    while !player.is_finished() {
        player.advance(Duration::from_secs(1));
    }
    let ring = player
        .engine()
        .history("web1", Vital::Cpu)
        .expect("web1 cpu history");
    assert!(ring.len() < nocscope::engine::HISTORY_POINTS);
    let report = model.train_report().expect("report");
    assert_eq!(report.points, ring.len());
    let range = model.data_range().expect("range");
    assert_eq!(range.start_ms, ring.front().map(|p| p.0).unwrap_or(0));
    assert_eq!(range.end_ms, ring.back().map(|p| p.0).unwrap_or(0));
    let mean = ring.iter().map(|p| f64::from(p.1)).sum::<f64>() / ring.len() as f64;
    assert!((f64::from(model.scaler().mean) - mean).abs() < 1e-3 * mean.abs().max(1.0));
}

fn config_with_data_dir(dir: &Path, targets: &str) -> String {
    let body = format!(
        "[defaults]\ninterval = \"1s\"\ntimeout = \"1s\"\ndata_dir = \"{}\"\n\n{targets}",
        dir.join("data").display()
    );
    write(dir, "config.toml", &body)
}

#[test]
fn store_written_by_check_against_a_real_node_exporter_is_too_short() {
    let ne = support::NodeExporter::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config_with_data_dir(
        dir.path(),
        &format!(
            "[[target]]\nname = \"local\"\nkind = \"exporter\"\nurl = \"{}\"\n",
            ne.url()
        ),
    );
    let out = nocscope(&["check", "--config", &cfg, "--for", "3s"], dir.path());
    assert!(out.status.code().is_some(), "{}", text(&out.stderr));
    let tiny = write(dir.path(), "tiny.json", TINY);
    let out = nocscope(
        &[
            "train",
            "--config",
            &cfg,
            "--series",
            "host=local,vital=mem",
            "--lstm-config",
            &tiny,
        ],
        dir.path(),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("too little data"), "{stderr}");
    assert!(
        stderr.contains(&format!("needs at least {TINY_MIN_POINTS}")),
        "{stderr}"
    );
    // The points it found are the ones `check` stored: at least one poll, fewer than needed.
    assert!(stderr.contains("local/mem_pct: "), "{stderr}");
    assert!(!stderr.contains("local/mem_pct: 0"), "{stderr}");
}

#[test]
fn from_a_store_written_through_the_store_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config_with_data_dir(dir.path(), "");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let values = wave(150);
    let t0 = 1_790_000_000_000i64;
    {
        let store = Store::open(&data.join("history.db"), StoreOptions::default()).expect("open");
        let tx = store.sender();
        for (i, v) in values.iter().enumerate() {
            let at = t0 + 15_000 * i as i64;
            let batch = CycleBatch {
                source: "host/db1".into(),
                at,
                new_series: if i == 0 {
                    vec![(0, "load1".into())]
                } else {
                    Vec::new()
                },
                samples: vec![(0, at, *v)],
                ..CycleBatch::default()
            };
            tx.try_send(batch).expect("queue a batch");
            if i % 50 == 0 {
                store.flush().expect("flush");
            }
        }
        store.close().expect("close");
    }
    // The trainer's adapter reads the same points.
    let mut source = nocscope::trainer::store_source(data.join("history.db"));
    let points =
        nocscope::trainer::HistorySource::history(&mut source, "db1", "load1", 0, i64::MAX)
            .expect("store source");
    assert_eq!(points.len(), 150);
    assert_eq!(points.first().copied(), Some((t0, values[0])));
    let mut missing = nocscope::trainer::store_source(dir.path().join("nope.db"));
    assert!(nocscope::trainer::HistorySource::history(&mut missing, "db1", "load1", 0, 1).is_err());

    let tiny = write(dir.path(), "tiny.json", TINY);
    let out = nocscope(
        &[
            "train",
            "--config",
            &cfg,
            "--series",
            "host=db1,vital=load1",
            "--from",
            &(t0 + 15_000 * 10).to_string(),
            "--lstm-config",
            &tiny,
        ],
        dir.path(),
    );
    assert_ok(&out);
    let saved = model_dir(&data, "db1", "load1");
    let model = LstmAutoencoder::load(&saved).expect("load");
    let report = model.train_report().expect("report");
    assert_eq!(report.points, 140, "--from drops the first 10 points");
    assert_eq!(
        model.data_range().map(|r| (r.start_ms, r.end_ms)),
        Some((t0 + 150_000, t0 + 15_000 * 149))
    );
}

#[test]
fn bad_input_is_refused_with_where_and_what() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tiny = write(dir.path(), "tiny.json", TINY);
    let bad_line = write(dir.path(), "bad.csv", "t,v\n1,2\n2,3\n3,oops\n");
    let bad_time = write(dir.path(), "badt.csv", "1,2\nyesterday,3\n");
    let extra = write(dir.path(), "extra.csv", "1,2\n2,3,4\n");
    let backwards = write(dir.path(), "back.csv", "5,2\n4,3\n");
    let short = write(
        dir.path(),
        "short.csv",
        &(0..20).map(|i| format!("{i},{i}\n")).collect::<String>(),
    );
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo-v1.nsr");
    let out = dir.path().join("o").display().to_string();
    let cases: Vec<(Vec<&str>, Vec<String>)> = vec![
        (
            vec!["--csv", &bad_line],
            vec![format!(
                "{bad_line}:4: value \"oops\" is not a finite number"
            )],
        ),
        (
            vec!["--csv", &bad_time],
            vec![
                format!("{bad_time}:2: timestamp \"yesterday\""),
                "RFC 3339".into(),
            ],
        ),
        (
            vec!["--csv", &extra],
            vec![format!("{extra}:2: expected 2 fields")],
        ),
        (
            vec!["--csv", &backwards],
            vec![format!("{backwards}:2: timestamp 4 is before")],
        ),
        (
            vec!["--csv", &short],
            vec![
                "too little data: 20 points".into(),
                format!("needs at least {TINY_MIN_POINTS}"),
            ],
        ),
        (
            vec!["--replay", demo, "--series", "host=web1,vital=temperature"],
            vec![
                "unknown vital \"temperature\"".into(),
                "cpu (cpu_pct)".into(),
            ],
        ),
        (
            vec!["--replay", demo, "--series", "host=web9,vital=cpu"],
            vec![
                "no recording has cpu_pct of host \"web9\"".into(),
                "cache1, db1, web1, web2".into(),
            ],
        ),
        (
            vec!["--replay", demo, "--series", "web1"],
            vec!["is not key=value".into()],
        ),
        (
            vec!["--csv", &short, "--series", "host=a,vital=cpu"],
            vec!["--series does not apply to --csv".into()],
        ),
        (vec![], vec!["nothing to train on".into()]),
        (
            vec!["--csv", &short, "--threshold-policy", "quantile:7"],
            vec!["threshold.q".into()],
        ),
    ];
    for (args, wants) in cases {
        let mut full = vec!["train", "--lstm-config", &tiny, "--out", &out];
        full.extend(&args);
        let o = nocscope(&full, dir.path());
        let stderr = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        for want in wants {
            assert!(
                stderr.contains(&want),
                "{args:?}: want {want:?} in {stderr}"
            );
        }
        assert!(!Path::new(&out).exists(), "{args:?} saved a model");
    }
}

#[test]
fn shipped_models_load_and_are_valid() {
    let models = nocscope::detect::shipped::shipped_models();
    let vital_keys: Vec<&str> = Vital::ALL.iter().map(|v| v.key()).collect();
    assert!(models.len() >= 5, "{}", models.len());
    let mut total_bytes = 0u64;
    for (key, model) in models {
        let model = model.unwrap_or_else(|e| panic!("shipped model {key}: {e}"));
        assert!(vital_keys.contains(&key), "{key} is not a vital key");
        let c = model.config();
        assert_eq!(c.window, 10, "{key}");
        assert_eq!(c.encoder_units, vec![32, 16], "{key}");
        assert_eq!(c.decoder_units, vec![16, 32], "{key}");
        let t = model.threshold().unwrap_or(f32::NAN);
        assert!(t.is_finite() && t > 0.0, "{key}: threshold {t}");
        let r = model
            .train_report()
            .unwrap_or_else(|| panic!("{key}: no report"));
        assert!(t <= r.max_error * 1.0001, "{key}: {t} vs {}", r.max_error);
        // Trained on pooled standardised series: the scaler is (close to) the identity.
        let s = model.scaler();
        assert!(
            s.mean.abs() < 0.05 && (s.std - 1.0).abs() < 0.05,
            "{key}: {s:?}"
        );
        // Files on disk: current format version, same bytes as embedded.
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("models")
            .join(key);
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(META_FILE)).expect("model.json"))
                .expect("json");
        assert_eq!(meta["format_version"], FORMAT_VERSION, "{key}");
        let from_disk = LstmAutoencoder::load(&dir).expect("load from disk");
        assert_eq!(from_disk.params(), model.params(), "{key}");
        for f in [META_FILE, WEIGHTS_FILE] {
            total_bytes += std::fs::metadata(dir.join(f)).map(|m| m.len()).unwrap_or(0);
        }
        // Scores standardised input without trouble.
        let z: Vec<f32> = (0..40).map(|i| (i as f32 * 0.4).sin()).collect();
        let scores = model.score_series(&z).expect("score");
        assert!(scores.iter().all(|s| s.is_finite()), "{key}");
    }
    assert!(total_bytes < 600_000, "models/ holds {total_bytes} bytes");
}

fn trainer_config(data_dir: PathBuf, min_points: usize) -> TrainerConfig {
    TrainerConfig {
        min_points,
        check_every: Duration::from_millis(20),
        lstm: tiny(),
        ..TrainerConfig::new(data_dir, 15_000)
    }
}

/// Waits (bounded, so a broken trainer fails instead of hanging) for the next event matching `f`.
fn next_event(
    rx: &mpsc::Receiver<TrainerEvent>,
    f: impl Fn(&TrainerEvent) -> bool,
) -> TrainerEvent {
    loop {
        match rx.recv_timeout(Duration::from_secs(300)) {
            Ok(e) if f(&e) => return e,
            Ok(_) => {}
            Err(e) => panic!("no trainer event: {e}"),
        }
    }
}

#[test]
fn trainer_trains_saves_waits_and_retrains_on_schedule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let values = wave(120);
    let calls = Arc::new(AtomicUsize::new(0));
    let calls_in = calls.clone();
    let source = move |host: &str, vital: &str, from: i64, to: i64| {
        calls_in.fetch_add(1, Ordering::Relaxed);
        assert!(from < to);
        match (host, vital) {
            ("web1", "cpu_pct") => Ok(values
                .iter()
                .enumerate()
                .map(|(i, &v)| (1_000 * i as i64, v))
                .collect()),
            ("web2", "cpu_pct") => Ok(vec![(0, 1.0); 10]),
            _ => Err("no such series".to_string()),
        }
    };
    let now = Arc::new(AtomicI64::new(1_000_000_000));
    let clock_now = now.clone();
    let cfg = trainer_config(dir.path().to_path_buf(), 100);
    let (trainer, rx) =
        Trainer::spawn(cfg, source, move || clock_now.load(Ordering::Relaxed)).expect("spawn");
    trainer.watch("web1", "cpu_pct");
    trainer.watch("web2", "cpu_pct");
    trainer.watch("db1", "mem_pct");

    let ev = next_event(&rx, |e| matches!(e, TrainerEvent::Trained(_)));
    let TrainerEvent::Trained(t) = ev else {
        unreachable!()
    };
    assert_eq!((t.host.as_str(), t.vital.as_str()), ("web1", "cpu_pct"));
    assert_eq!(t.report.points, 120);
    assert_eq!(t.dir, model_dir(dir.path(), "web1", "cpu_pct"));
    let loaded = LstmAutoencoder::load(&t.dir).expect("saved model loads");
    assert_eq!(loaded.params(), t.model.params());

    let ev = next_event(&rx, |e| matches!(e, TrainerEvent::Waiting { .. }));
    let TrainerEvent::Waiting {
        host,
        points,
        needed,
        ..
    } = ev
    else {
        unreachable!()
    };
    assert_eq!((host.as_str(), points, needed), ("web2", 10, 100));
    let ev = next_event(&rx, |e| matches!(e, TrainerEvent::Failed { .. }));
    let TrainerEvent::Failed { host, error, .. } = ev else {
        unreachable!()
    };
    assert_eq!(host, "db1");
    assert!(error.contains("no such series"), "{error}");

    // Not due yet: no second training while the clock stands still (several checks pass).
    let seen = calls.load(Ordering::Relaxed);
    while calls.load(Ordering::Relaxed) < seen + 6 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let retrained = rx
        .try_iter()
        .filter(|e| matches!(e, TrainerEvent::Trained(_)))
        .count();
    assert_eq!(retrained, 0);
    now.fetch_add(24 * 3_600_000, Ordering::Relaxed);
    let ev = next_event(&rx, |e| matches!(e, TrainerEvent::Trained(_)));
    let TrainerEvent::Trained(t2) = ev else {
        unreachable!()
    };
    assert_eq!(t2.host, "web1");
    // Seeded and the same data: the retrained model is the same model.
    assert_eq!(t2.model.params(), t.model.params());
    trainer.shutdown();
}

#[test]
fn trainer_runs_niced_and_shutdown_cancels_a_long_training() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (started_tx, started_rx) = mpsc::channel();
    let source = move |_: &str, _: &str, _: i64, _: i64| {
        let _ = started_tx.send(());
        // A series and architecture that would train for many minutes in a debug build.
        Ok(wave(20_000)
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i as i64, v))
            .collect())
    };
    let cfg = TrainerConfig {
        lstm: LstmConfig {
            max_epochs: 1000,
            patience: 1000,
            ..LstmConfig::default()
        },
        ..trainer_config(dir.path().to_path_buf(), 100)
    };
    let (trainer, rx) = Trainer::spawn(cfg, source, || 0).expect("spawn");
    trainer.watch("web1", "cpu_pct");
    started_rx
        .recv_timeout(Duration::from_secs(300))
        .expect("trainer asked for history");

    // The thread named "trainer" runs at nice 19.
    let mut nice = None;
    for task in std::fs::read_dir("/proc/self/task")
        .expect("proc")
        .flatten()
    {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() == "trainer" {
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            // Fields after the parenthesised name: state is field 3, nice field 19.
            let after = stat.rsplit_once(')').map(|s| s.1).unwrap_or("");
            nice = after
                .split_whitespace()
                .nth(16)
                .and_then(|n| n.parse::<i32>().ok());
        }
    }
    assert_eq!(nice, Some(19));

    trainer.shutdown();
    assert!(
        rx.try_iter()
            .all(|e| !matches!(e, TrainerEvent::Trained(_)))
    );
    assert!(!model_dir(dir.path(), "web1", "cpu_pct").exists());
}

/// The demo's web1 vital, standardised with the series' own statistics (as the engine does for
/// a shipped model), scored by the shipped model: the windows above threshold, as minutes from
/// the start of the recording.
fn demo_flags(vital: Vital) -> Vec<f64> {
    let data = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo-v1.nsr"))
        .expect("read demo");
    let mut player =
        nocscope::replay::Player::open(data, nocscope::replay::Limits::default()).expect("open");
    player.set_speed(nocscope::replay::Speed::Max);
    while !player.is_finished() {
        player.advance(Duration::from_secs(1));
    }
    let ring: Vec<(i64, f32)> = player
        .engine()
        .history("web1", vital)
        .expect("history")
        .iter()
        .copied()
        .collect();
    let values: Vec<f32> = ring.iter().map(|p| p.1).collect();
    let scaler = nocscope::detect::Scaler::fit(&values);
    let z: Vec<f32> = values.iter().map(|&x| scaler.apply(x)).collect();
    let model = nocscope::detect::shipped::shipped_model(vital.key())
        .expect("shipped")
        .expect("valid");
    let scores = model.score_series(&z).expect("score");
    let start = player.start();
    let w = model.config().window;
    scores
        .iter()
        .enumerate()
        .filter(|(_, s)| model.is_anomaly(**s) == Some(true))
        .filter_map(|(i, _)| ring.get(i + w - 1))
        .map(|(t, _)| (t - start) as f64 / 60_000.0)
        .collect()
}

/// What a fresh install shows on the demo: the shipped memory model flags web1's memory
/// incident (held at ~78 % from 8:06 for 3:00, released at 11:06; a window covers 2.5 min of
/// 15 s polls) and nothing outside it.
#[test]
fn shipped_memory_model_flags_the_demo_memory_incident() {
    let flags = demo_flags(Vital::Mem);
    assert!(!flags.is_empty(), "nothing flagged");
    assert!(
        flags.iter().all(|&m| (8.0..=11.1 + 2.6).contains(&m)),
        "{flags:?}"
    );
}

/// What the console binds at start besides the shipped models: each configured host's own
/// models from `<data_dir>/models/<host>/<vital>/`, and nothing for hosts or vitals without one.
#[test]
fn the_console_finds_hosts_own_models_in_the_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let config = nocscope::config::parse(
        &format!(
            "[defaults]\ndata_dir = \"{}\"\n[[target]]\nname = \"web1\"\nkind = \"exporter\"\nurl = \"http://127.0.0.1:9/metrics\"\n[[target]]\nname = \"db1\"\nkind = \"exporter\"\nurl = \"http://127.0.0.1:9/metrics\"\n",
            data.display()
        ),
        "test.toml",
        dir.path(),
    )
    .expect("config");
    assert!(nocscope::app::host_models(&config).is_empty());

    let cfg = LstmConfig {
        window: 5,
        encoder_units: vec![4, 2],
        decoder_units: vec![2, 4],
        max_epochs: 2,
        ..Default::default()
    };
    let series: Vec<f32> = (0..200).map(|i| (i as f32 * 0.3).sin()).collect();
    let mut m = LstmAutoencoder::new(&cfg, 1).expect("config");
    m.fit(&series, &Default::default(), |_| {}).expect("fit");
    m.save(&model_dir(&data, "web1", "load1")).expect("save");

    let found = nocscope::app::host_models(&config);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].host.as_deref(), Some("web1"));
    assert_eq!(found[0].vital, Vital::Load1);
    // The shipped models are always there too, one binding per shipped vital.
    assert_eq!(
        nocscope::app::models().len(),
        nocscope::detect::shipped::shipped_models().len()
    );
}
