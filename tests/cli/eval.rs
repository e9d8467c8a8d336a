//! `nocscope eval` and the evaluation driver: exact counts on a hand-made NAB directory with a
//! detector whose verdicts are known, the JSON schema and result CSVs through the real binary,
//! every bad input ending in exit code 2 with a clear message, the LSTM adapter's causality, and
//! one run on a real NAB file.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};

use nocscope::detect::eval::{self as ev, EvalOptions, Labels, LstmDetector};
use nocscope::detect::{DetectError, Detector, LstmConfig};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Flags values above the largest training value: score = value, threshold = max(train).
/// Its verdict on every row is known in advance, so the metrics can be asserted exactly.
struct AboveMax(Option<f32>);

impl Detector for AboveMax {
    fn name(&self) -> &'static str {
        "abovemax"
    }
    fn fit(&mut self, train: &[f32]) -> Result<(), DetectError> {
        if train.len() < 3 {
            return Err(DetectError::Data(format!(
                "{} points; at least 3 are needed",
                train.len()
            )));
        }
        self.0 = train.iter().copied().reduce(f32::max);
        Ok(())
    }
    fn score(&self, series: &[f32], from: usize) -> Result<Vec<f32>, DetectError> {
        Ok(series.get(from..).unwrap_or_default().to_vec())
    }
    fn threshold(&self) -> Option<f32> {
        self.0
    }
}

const T0: i64 = 1_577_836_800; // 2020-01-01 00:00:00
const STEP: i64 = 300;

fn ts(row: i64) -> String {
    ev::format_timestamp(T0 + row * STEP)
}

/// Writes `n` rows of value 1 with value 5 at `spikes`.
fn write_csv(path: &Path, n: usize, spikes: &[usize]) -> std::io::Result<()> {
    let mut s = String::from("timestamp,value\n");
    for i in 0..n {
        let v = if spikes.contains(&i) { 5.0 } else { 1.0 };
        let _ = writeln!(s, "{},{v}", ts(i as i64));
    }
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    std::fs::write(path, s)
}

/// Two files in NAB layout with windows (inclusive row ranges):
/// - `cat/a.csv`, 100 rows: windows 5..=9 (inside training at fraction 0.2), 45..=59 (spikes
///   50–52: one TP), 85..=94 (nothing: one FN); spikes at 30 and 70–71 outside: two FP runs.
/// - `cat/b.csv`, 50 rows: window 38..=44 with a spike at 40: one TP.
fn fixture(dir: &Path) -> std::io::Result<()> {
    write_csv(&dir.join("data/cat/a.csv"), 100, &[30, 50, 51, 52, 70, 71])?;
    write_csv(&dir.join("data/cat/b.csv"), 50, &[40])?;
    let w = |a: i64, b: i64| format!("[\"{}.000000\", \"{}.000000\"]", ts(a), ts(b));
    let labels = format!(
        "{{\"cat/a.csv\": [{}, {}, {}], \"cat/b.csv\": [{}]}}",
        w(5, 9),
        w(45, 59),
        w(85, 94),
        w(38, 44)
    );
    std::fs::write(dir.join("windows.json"), labels)
}

fn run_above_max(dir: &Path, opts: &EvalOptions) -> Result<ev::EvalReport, DetectError> {
    let labels = Labels::load(&dir.join("windows.json"))?;
    let files = nocscope::cli::nab_data::list_files(&dir.join("data"), None)?;
    let mut make = || Ok(Box::new(AboveMax(None)) as Box<dyn Detector>);
    nocscope::cli::nab_data::run(
        &dir.join("data"),
        &labels,
        &files,
        &mut make,
        opts,
        &mut |_| {},
    )
}

#[test]
fn known_detector_gives_exact_counts() -> TestResult {
    let dir = tempfile::tempdir()?;
    fixture(dir.path())?;
    // (persist, file a (tp, fp, fn), file b, total)
    let cases = [
        (1, (1, 2, 1), (1, 0, 0), (2, 2, 1)),
        // Two in a row: the lone spikes at 30 (a) and 40 (b) no longer count, 70–71 still does.
        (2, (1, 1, 1), (0, 0, 1), (1, 1, 2)),
        (3, (1, 0, 1), (0, 0, 1), (1, 0, 2)),
        (4, (0, 0, 2), (0, 0, 1), (0, 0, 3)),
    ];
    for (persist, a, b, total) in cases {
        let opts = EvalOptions {
            train_fraction: 0.2,
            persist,
            onset: false,
            results_out: None,
        };
        let r = run_above_max(dir.path(), &opts)?;
        let got: Vec<(usize, usize, usize)> = r
            .files
            .iter()
            .map(|f| (f.metrics.tp, f.metrics.fp, f.metrics.fn_))
            .collect();
        assert_eq!(got, vec![a, b], "persist {persist}");
        let t = r.total.metrics;
        assert_eq!((t.tp, t.fp, t.fn_), total, "persist {persist}");
        assert_eq!(r.detector, "abovemax");
    }
    let r = run_above_max(
        dir.path(),
        &EvalOptions {
            train_fraction: 0.2,
            ..Default::default()
        },
    )?;
    let a = r.files.first().ok_or("no file a")?;
    assert_eq!(
        (
            a.file.as_str(),
            a.points,
            a.train_points,
            a.windows,
            a.windows_in_train
        ),
        ("cat/a.csv", 100, 20, 2, 1)
    );
    assert_eq!(a.flagged, 6);
    assert_eq!(a.threshold, 1.0);
    assert!((r.total.metrics.precision - 0.5).abs() < 1e-12);
    assert!((r.total.metrics.recall - 2.0 / 3.0).abs() < 1e-12);
    assert!((r.total.metrics.f1 - 4.0 / 7.0).abs() < 1e-12);
    // NAB: detections in both windows of b and the middle one of a beat the null detector, but
    // the missed window and two false positives keep the total below perfect.
    let nab = r.total.nab.normalised();
    assert!(nab > 0.0 && nab < 100.0, "{nab}");
    // Onset flags the first point of each run: the same events, one flagged point fewer outside
    // the windows (71 of the run 70–71), so the NAB score rises and nothing else changes.
    let on = run_above_max(
        dir.path(),
        &EvalOptions {
            train_fraction: 0.2,
            onset: true,
            ..Default::default()
        },
    )?;
    let t = on.total.metrics;
    assert_eq!((t.tp, t.fp, t.fn_), (2, 2, 1));
    assert_eq!(on.files.first().map(|f| f.flagged), Some(3));
    assert!(on.total.nab.normalised() > nab);
    Ok(())
}

#[test]
fn label_points_keep_each_label_one_event() -> TestResult {
    let dir = tempfile::tempdir()?;
    fixture(dir.path())?;
    // Labels at rows 50 and 53 in a: their NAB windows (width 100/10/2 = 5) would overlap and
    // merge into one; cut at the midpoint they are 48..52 and 52..56, and the spikes at 50–52
    // hit both.
    let labels = format!(
        "{{\"cat/a.csv\": [\"{}\", \"{}\"], \"cat/b.csv\": []}}",
        ts(50),
        ts(53)
    );
    std::fs::write(dir.path().join("labels.json"), labels)?;
    let labels = Labels::load(&dir.path().join("labels.json"))?;
    let files = nocscope::cli::nab_data::list_files(&dir.path().join("data"), None)?;
    let mut make = || Ok(Box::new(AboveMax(None)) as Box<dyn Detector>);
    let opts = EvalOptions {
        train_fraction: 0.2,
        ..Default::default()
    };
    let r = nocscope::cli::nab_data::run(
        &dir.path().join("data"),
        &labels,
        &files,
        &mut make,
        &opts,
        &mut |_| {},
    )?;
    let got: Vec<(usize, usize, usize)> = r
        .files
        .iter()
        .map(|f| (f.metrics.tp, f.metrics.fp, f.metrics.fn_))
        .collect();
    // b has no labels: its spike at 40 is a false positive and recall is vacuously 1.
    assert_eq!(got, vec![(2, 2, 0), (0, 1, 0)]);
    Ok(())
}

#[test]
fn result_csvs_hold_every_row_with_mapped_scores() -> TestResult {
    let dir = tempfile::tempdir()?;
    fixture(dir.path())?;
    let out = dir.path().join("results");
    let opts = EvalOptions {
        train_fraction: 0.2,
        persist: 1,
        onset: false,
        results_out: Some(out.clone()),
    };
    run_above_max(dir.path(), &opts)?;
    let text = std::fs::read_to_string(out.join("abovemax/cat/abovemax_a.csv"))?;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.first(), Some(&"timestamp,value,anomaly_score,label"));
    assert_eq!(lines.len(), 101);
    let row = |i: usize| lines.get(i + 1).copied().unwrap_or_default();
    // Training rows are not scored; label marks windows even there.
    assert_eq!(row(0), format!("{},1,0,0", ts(0)));
    assert_eq!(row(5), format!("{},1,0,1", ts(5)));
    // Threshold 1 maps to 0.5 and value 5 to 5 / (5 + 1).
    assert_eq!(row(20), format!("{},1,0.5,0", ts(20)));
    assert_eq!(row(30), format!("{},5,{},0", ts(30), 5.0f32 / 6.0));
    assert_eq!(row(50), format!("{},5,{},1", ts(50), 5.0f32 / 6.0));
    assert_eq!(row(59), format!("{},1,0.5,1", ts(59)));
    assert_eq!(row(60), format!("{},1,0.5,0", ts(60)));
    assert!(out.join("abovemax/cat/abovemax_b.csv").is_file());
    Ok(())
}

fn nocscope(args: &[&str]) -> std::io::Result<Output> {
    Command::new(env!("CARGO_BIN_EXE_nocscope"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A small LSTM so the binary trains in a moment even in a debug build.
fn tiny_config(dir: &Path) -> std::io::Result<String> {
    let p = dir.join("tiny.json");
    std::fs::write(
        &p,
        r#"{"window": 4, "encoder_units": [6, 3], "decoder_units": [3, 6], "batch_size": 16,
            "max_epochs": 3, "patience": 2}"#,
    )?;
    Ok(p.display().to_string())
}

#[test]
fn json_output_schema_and_result_csvs_through_the_binary() -> TestResult {
    let dir = tempfile::tempdir()?;
    fixture(dir.path())?;
    let d = dir.path();
    let (data, labels) = (d.join("data"), d.join("windows.json"));
    let results = d.join("out");
    let cfg = tiny_config(d)?;
    let o = nocscope(&[
        "eval",
        "--data",
        &data.display().to_string(),
        "--labels",
        &labels.display().to_string(),
        "--train-fraction",
        "0.3",
        "--lstm-config",
        &cfg,
        "--format",
        "json",
        "--results-out",
        &results.display().to_string(),
        "--quiet",
    ])?;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout)?;
    assert_eq!(j["detector"], "lstm");
    assert_eq!(j["train_fraction"], 0.3);
    let files = j["files"].as_array().ok_or("files is not an array")?;
    assert_eq!(files.len(), 2);
    let metric_keys = [
        "tp",
        "fp",
        "fn",
        "precision",
        "recall",
        "f1",
        "nab_standard",
    ];
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    for (f, (name, points)) in files.iter().zip([("cat/a.csv", 100), ("cat/b.csv", 50)]) {
        assert_eq!(f["file"], name);
        assert_eq!(f["points"], points);
        for k in metric_keys
            .iter()
            .chain(&["train_points", "windows", "flagged"])
        {
            assert!(f[k].is_number(), "{name}: {k} = {}", f[k]);
        }
        for k in ["precision", "recall", "f1"] {
            let v = f[k].as_f64().ok_or(k)?;
            assert!((0.0..=1.0).contains(&v), "{k} {v}");
        }
        let n = |k: &str| f[k].as_u64().unwrap_or(u64::MAX);
        assert_eq!(n("tp") + n("fn"), n("windows"), "{name}");
        tp += n("tp");
        fp += n("fp");
        fn_ += n("fn");
        // The CSV agrees with the JSON: rows above 0.5 are exactly the flagged ones (persist 1),
        // and none of the training rows is scored.
        let (cat, base) = name.split_once('/').ok_or("no category")?;
        let csv =
            std::fs::read_to_string(results.join("lstm").join(cat).join(format!("lstm_{base}")))?;
        let scores: Vec<f64> = csv
            .lines()
            .skip(1)
            .map(|l| {
                l.rsplit(',')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(f64::NAN)
            })
            .collect();
        assert_eq!(scores.len() as u64, n("points"));
        assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)), "{name}");
        let train = n("train_points") as usize;
        assert!(scores.iter().take(train).all(|&s| s == 0.0));
        assert_eq!(
            scores.iter().filter(|&&s| s > 0.5).count() as u64,
            n("flagged")
        );
    }
    let t = &j["total"];
    for k in metric_keys {
        assert!(t[k].is_number(), "total {k}");
    }
    assert_eq!(t["files"], 2);
    assert_eq!(
        (t["tp"].as_u64(), t["fp"].as_u64(), t["fn"].as_u64()),
        (Some(tp), Some(fp), Some(fn_))
    );
    Ok(())
}

#[test]
fn table_output_lists_each_file_and_a_total() -> TestResult {
    let dir = tempfile::tempdir()?;
    fixture(dir.path())?;
    let d = dir.path();
    let cfg = tiny_config(d)?;
    let o = nocscope(&[
        "eval",
        "--data",
        &d.join("data").display().to_string(),
        "--labels",
        &d.join("windows.json").display().to_string(),
        "--lstm-config",
        &cfg,
        "--files",
        "*/b.csv",
        "--train-fraction",
        "0.5",
    ])?;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.iter().any(|l| l.starts_with("file ")), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("cat/b.csv ")), "{out}");
    assert!(!out.contains("cat/a.csv"), "{out}");
    assert!(
        lines.last().is_some_and(|l| l.starts_with("total ")),
        "{out}"
    );
    Ok(())
}

#[test]
fn bad_inputs_exit_2_with_clear_messages() -> TestResult {
    let dir = tempfile::tempdir()?;
    fixture(dir.path())?;
    let d = dir.path();
    std::fs::write(
        d.join("bad.json"),
        "{\"cat/a.csv\": [[\"2020-01-01 00:00:00\"",
    )?;
    std::fs::write(
        d.join("badts.json"),
        "{\"cat/a.csv\": [[\"yesterday\", \"today\"]]}",
    )?;
    write_csv(&d.join("short/cat/a.csv"), 5, &[])?;
    write_csv(&d.join("lstmshort/cat/a.csv"), 30, &[])?;
    std::fs::create_dir_all(d.join("badcsv/cat"))?;
    std::fs::write(
        d.join("badcsv/cat/a.csv"),
        "timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:05:00,oops\n",
    )?;
    std::fs::write(d.join("cfg.json"), "{\"window\": 1}")?;
    let p = |s: &str| d.join(s).display().to_string();
    let (data, windows) = (p("data"), p("windows.json"));
    let base = |data: &str, labels: &str| {
        vec![
            "eval".to_owned(),
            "--data".into(),
            data.to_owned(),
            "--labels".into(),
            labels.to_owned(),
            "--quiet".into(),
        ]
    };
    let with = |mut v: Vec<String>, extra: &[&str]| {
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    // (arguments, what stderr must mention)
    let cases: Vec<(Vec<String>, &str)> = vec![
        (base(&p("nope"), &windows), "nope"),
        (base(&data, &p("missing.json")), "missing.json"),
        (base(&data, &p("bad.json")), "expected {"),
        (
            base(&data, &p("badts.json")),
            "expected YYYY-MM-DD HH:MM:SS",
        ),
        (
            with(base(&data, &windows), &["--train-fraction", "0"]),
            "strictly between 0 and 1",
        ),
        (
            with(base(&data, &windows), &["--train-fraction", "1"]),
            "strictly between 0 and 1",
        ),
        (
            with(base(&data, &windows), &["--train-fraction", "-0.5"]),
            "strictly between 0 and 1",
        ),
        (
            with(base(&data, &windows), &["--train-fraction", "NaN"]),
            "strictly between 0 and 1",
        ),
        (
            with(base(&data, &windows), &["--train-fraction", "x"]),
            "strictly between 0 and 1",
        ),
        (base(&p("short"), &windows), "leaves 0 for training"),
        (
            with(
                base(&p("lstmshort"), &windows),
                &["--train-fraction", "0.15"],
            ),
            "at least window + 1",
        ),
        (base(&p("badcsv"), &windows), "a.csv:3: bad value"),
        (
            with(base(&data, &windows), &["--detector", "nope"]),
            "accepted: lstm, zscore, kmeans, iforest",
        ),
        (
            with(base(&data, &windows), &["--files", "zzz*"]),
            "matches --files",
        ),
        (
            with(base(&data, &windows), &["--lstm-config", &p("cfg.json")]),
            "`window`",
        ),
        (
            with(base(&data, &windows), &["--lstm-config", &p("none.toml")]),
            "none.toml",
        ),
        (
            with(base(&data, &windows), &["--threshold-policy", "max"]),
            "accepted: max:",
        ),
        (
            with(base(&data, &windows), &["--persist", "0"]),
            "--persist 0",
        ),
        (
            with(base(&data, &windows), &["--smooth", "0"]),
            "smoothing over 0",
        ),
        (
            base(&data, &{
                std::fs::write(d.join("partial.json"), "{\"cat/a.csv\": []}")?;
                p("partial.json")
            }),
            "no labels for \"cat/b.csv\"",
        ),
    ];
    for (args, want) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = nocscope(&args)?;
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: want {want:?} in {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    Ok(())
}

fn small_lstm(smooth: usize) -> Result<LstmDetector, DetectError> {
    let cfg = LstmConfig {
        window: 5,
        encoder_units: vec![6, 3],
        decoder_units: vec![3, 6],
        batch_size: 16,
        max_epochs: 3,
        ..Default::default()
    };
    LstmDetector::new(&cfg, 7, 1, smooth)
}

#[test]
fn lstm_adapter_scores_causally_and_its_threshold_matches_its_scores() -> TestResult {
    let series: Vec<f32> = (0..400)
        .map(|i| (i as f32 * 0.2).sin() + if i == 350 { 4.0 } else { 0.0 })
        .collect();
    for smooth in [1, 3] {
        let mut d = small_lstm(smooth)?;
        let (train, _) = series.split_at(200);
        d.fit(train)?;
        let threshold = d.threshold().ok_or("no threshold")?;
        assert!(threshold.is_finite() && threshold > 0.0);
        let from = 200;
        let full = d.score(&series, from)?;
        assert_eq!(full.len(), series.len() - from);
        // A point's score must not change when later points are cut off (or altered).
        for k in [0, 1, 7, 149, 150, 199] {
            let cut = d.score(series.get(..from + k + 1).ok_or("cut")?, from)?;
            let (a, b) = (full.get(k).ok_or("k")?, cut.last().ok_or("empty")?);
            assert!(
                (a - b).abs() <= 1e-4 * a.abs().max(1e-3),
                "smooth {smooth} k {k}: {a} {b}"
            );
        }
        // The spike at 350 stands out against what the model learned.
        let spike = full.get(350 - from).copied().unwrap_or(0.0);
        assert!(spike > threshold, "smooth {smooth}: {spike} vs {threshold}");
        // The first window − 1 points of a series have no window of their own and score 0.
        assert_eq!(d.score(&series, 0)?.get(..4), Some(&[0.0f32; 4][..]));
        assert!(d.score(&series, 400)?.is_empty());
    }
    Ok(())
}

#[test]
fn real_nab_file_through_the_binary() -> TestResult {
    let root = Path::new("/work/shared/datasets/nab");
    if !root.exists() {
        eprintln!("skipped: no NAB data at {}", root.display());
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let cfg = tiny_config(dir.path())?;
    let o = nocscope(&[
        "eval",
        "--data",
        &root.join("data").display().to_string(),
        "--labels",
        &root
            .join("labels/combined_windows.json")
            .display()
            .to_string(),
        "--files",
        "artificialWithAnomaly/art_daily_jumpsup.csv",
        "--lstm-config",
        &cfg,
        "--format",
        "json",
        "--quiet",
    ])?;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout)?;
    let f = &j["files"][0];
    assert_eq!(f["points"], 4032);
    assert_eq!(f["train_points"], 604);
    assert_eq!(f["windows"], 1);
    assert_eq!(
        f["tp"].as_u64().unwrap_or(9) + f["fn"].as_u64().unwrap_or(9),
        1
    );
    let nab = f["nab_standard"].as_f64().ok_or("nab_standard")?;
    assert!((-1000.0..=100.0).contains(&nab), "{nab}");
    Ok(())
}
