//! `nocscope eval`: runs a detector over labelled NAB-layout CSVs and prints per-file and total
//! event-level scores. Wiring only: detectors, the train/score loop and scoring live in detect/.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::ValueEnum;
use serde_json::json;

use super::{EXIT_OK, EXIT_USAGE};
use crate::detect::eval::{
    DETECTOR_NAMES, DetectorFactory, EvalOptions, EvalReport, FileResult, Labels, LstmDetector,
};
use crate::detect::{DetectError, Detector, baseline};
use crate::sanitize::sanitize;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Data directory in NAB layout: <category>/<file>.csv with `timestamp,value` rows
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Labels: NAB's combined_windows.json (scoring windows), or combined_labels.json (label
    /// points; each gets its own NAB-width window, overlaps cut at the midpoint, not merged)
    #[arg(long, value_name = "FILE")]
    pub labels: PathBuf,
    /// Detector: lstm, zscore, kmeans or iforest
    #[arg(long, default_value = "lstm")]
    pub detector: String,
    /// Fraction of each file used for training, in (0, 1); the rest is scored without lookahead.
    /// 0.15 is NAB's probationary period, 0.9 the thesis's split
    #[arg(long, default_value = "0.15", value_parser = parse_fraction, allow_negative_numbers = true)]
    pub train_fraction: f64,
    /// Output format
    #[arg(long, value_enum, default_value_t = EvalFormat::Table)]
    pub format: EvalFormat,
    /// Write NAB-style result CSVs (timestamp,value,anomaly_score,label) below DIR
    #[arg(long, value_name = "DIR")]
    pub results_out: Option<PathBuf>,
    /// Only files whose path below --data matches GLOB (`*` any characters, `?` one)
    #[arg(long, value_name = "GLOB")]
    pub files: Option<String>,
    #[command(flatten)]
    pub lstm: super::lstm_args::LstmArgs,
    /// Flag a point only after this many consecutive scores above the threshold
    #[arg(long, default_value_t = 1)]
    pub persist: usize,
    /// Flag only the first point of each run above the threshold (one alert per incident;
    /// NAB charges every flagged point outside a window)
    #[arg(long)]
    pub onset: bool,
    /// LSTM: average each point's score over the last N window errors (threshold likewise)
    #[arg(long, default_value_t = 1)]
    pub smooth: usize,
    /// Print nothing on standard error while running
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EvalFormat {
    Table,
    Json,
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(f) if f > 0.0 && f < 1.0 => Ok(f),
        _ => Err(format!(
            "{s:?} is not a training fraction; accepted: a number strictly between 0 and 1 \
             (e.g. 0.15 or 0.9)"
        )),
    }
}

/// Builds detectors; checked once before any file is read so a bad name fails at once.
fn detector_factory(args: &EvalArgs) -> Result<Box<DetectorFactory<'static>>, String> {
    let name = args.detector.trim().to_owned();
    if name == "lstm" {
        let cfg = args.lstm.config()?;
        LstmDetector::new(&cfg, args.lstm.seed, eval_threads(args), args.smooth)
            .map_err(|e| e.to_string())?;
        let (seed, threads, smooth, quiet) =
            (args.lstm.seed, eval_threads(args), args.smooth, args.quiet);
        return Ok(Box::new(move || {
            let d = LstmDetector::new(&cfg, seed, threads, smooth)?;
            Ok(Box::new(if quiet {
                d
            } else {
                d.on_epoch(Box::new(|e| {
                    eprint!(
                        "\r  epoch {:3}  train {:.5}  val {:.5}   ",
                        e.epoch,
                        e.train_loss,
                        e.val_loss.unwrap_or(f32::NAN)
                    );
                }))
            }) as Box<dyn Detector>)
        }));
    }
    let available: Vec<&str> = DETECTOR_NAMES
        .iter()
        .copied()
        .filter(|n| *n == "lstm" || baseline::by_name(n).is_some())
        .collect();
    if !DETECTOR_NAMES.contains(&name.as_str()) {
        return Err(format!(
            "unknown detector {:?}; accepted: {} (available in this build: {})",
            sanitize(&name),
            DETECTOR_NAMES.join(", "),
            available.join(", ")
        ));
    }
    if baseline::by_name(&name).is_none() {
        return Err(format!(
            "detector {name:?} is not available in this build; accepted now: {}",
            available.join(", ")
        ));
    }
    let lstm_only = [
        ("--lstm-config", args.lstm.lstm_config.is_some()),
        ("--epochs", args.lstm.epochs.is_some()),
        ("--threshold-policy", args.lstm.threshold_policy.is_some()),
        ("--smooth", args.smooth != 1),
    ];
    if let Some((flag, _)) = lstm_only.iter().find(|(_, set)| *set) {
        return Err(format!(
            "{flag} applies to --detector lstm only, not {name:?}"
        ));
    }
    Ok(Box::new(move || {
        baseline::by_name(&name).ok_or_else(|| {
            DetectError::Data(format!("detector {name:?} is not available in this build"))
        })
    }))
}

pub fn run(args: &EvalArgs) -> i32 {
    let fail = |msg: &str| {
        eprintln!("nocscope eval: {}", sanitize(msg));
        EXIT_USAGE
    };
    let mut make = match detector_factory(args) {
        Ok(m) => m,
        Err(e) => return fail(&e),
    };
    let opts = EvalOptions {
        train_fraction: args.train_fraction,
        persist: args.persist,
        onset: args.onset,
        results_out: args.results_out.clone(),
    };
    if let Err(e) = opts.validate() {
        return fail(&e.to_string());
    }
    let labels = match Labels::load(&args.labels) {
        Ok(l) => l,
        Err(e) => return fail(&e.to_string()),
    };
    let files = match super::nab_data::list_files(&args.data, args.files.as_deref()) {
        Ok(f) => f,
        Err(e) => return fail(&format!("--data: {e}")),
    };
    if files.is_empty() && args.files.is_some() {
        return fail(&format!(
            "no CSV below {} matches --files {:?}",
            args.data.display(),
            args.files.as_deref().unwrap_or_default()
        ));
    }
    let started = Instant::now();
    let total = files.len();
    let mut done = 0usize;
    let quiet = args.quiet;
    let mut on_file = |r: &FileResult| {
        done += 1;
        if !quiet {
            eprintln!(
                "\r{done}/{total} {}: tp {} fp {} fn {} ({:.0} s)",
                sanitize(&r.file),
                r.metrics.tp,
                r.metrics.fp,
                r.metrics.fn_,
                started.elapsed().as_secs_f64()
            );
        }
    };
    let report =
        match super::nab_data::run(&args.data, &labels, &files, &mut make, &opts, &mut on_file) {
            Ok(r) => r,
            Err(e) => return fail(&e.to_string()),
        };
    let text = match args.format {
        EvalFormat::Json => format!("{:#}\n", report_json(&report)),
        EvalFormat::Table => report_table(&report),
    };
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an evaluation failure.
    let _ = out.write_all(text.as_bytes());
    EXIT_OK
}

/// Finite numbers as JSON numbers, the rest as null (JSON has no NaN or infinity).
fn num(v: f64) -> serde_json::Value {
    if v.is_finite() { json!(v) } else { json!(null) }
}

/// The JSON document: `detector`, the options, `files` (one object per file) and `total`.
pub fn report_json(r: &EvalReport) -> serde_json::Value {
    let metrics = |m: &crate::detect::nab::EventMetrics, nab: f64| {
        json!({
            "tp": m.tp,
            "fp": m.fp,
            "fn": m.fn_,
            "precision": num(m.precision),
            "recall": num(m.recall),
            "f1": num(m.f1),
            "nab_standard": num(nab),
        })
    };
    let files: Vec<serde_json::Value> = r
        .files
        .iter()
        .map(|f| {
            let mut o = metrics(&f.metrics, f.nab.normalised());
            if let Some(obj) = o.as_object_mut() {
                obj.insert("file".into(), json!(f.file));
                obj.insert("points".into(), json!(f.points));
                obj.insert("train_points".into(), json!(f.train_points));
                obj.insert("windows".into(), json!(f.windows));
                obj.insert("windows_in_train".into(), json!(f.windows_in_train));
                obj.insert("flagged".into(), json!(f.flagged));
                obj.insert("threshold".into(), num(f64::from(f.threshold)));
            }
            o
        })
        .collect();
    let mut total = metrics(&r.total.metrics, r.total.nab.normalised());
    if let Some(obj) = total.as_object_mut() {
        obj.insert("files".into(), json!(r.files.len()));
    }
    json!({
        "detector": r.detector,
        "train_fraction": r.options.train_fraction,
        "persist": r.options.persist,
        "onset": r.options.onset,
        "files": files,
        "total": total,
    })
}

/// A fixed-width table, one row per file and a total row.
pub fn report_table(r: &EvalReport) -> String {
    use std::fmt::Write as _;
    let width = r
        .files
        .iter()
        .map(|f| f.file.chars().count())
        .max()
        .unwrap_or(0)
        .max(5);
    let mut s = format!(
        "detector {}, training on the first {} of each file\n\n",
        r.detector, r.options.train_fraction
    );
    let _ = writeln!(
        s,
        "{:<width$}  {:>6} {:>6} {:>4} {:>3} {:>3} {:>3}  {:>5} {:>5} {:>5}  {:>6}",
        "file", "points", "train", "win", "tp", "fp", "fn", "prec", "rec", "f1", "nab"
    );
    let row = |s: &mut String,
               name: &str,
               points: String,
               train: String,
               win: String,
               m: &crate::detect::nab::EventMetrics,
               nab: f64| {
        let _ = writeln!(
            s,
            "{:<width$}  {:>6} {:>6} {:>4} {:>3} {:>3} {:>3}  {:>5.2} {:>5.2} {:>5.2}  {:>6.1}",
            name, points, train, win, m.tp, m.fp, m.fn_, m.precision, m.recall, m.f1, nab
        );
    };
    for f in &r.files {
        row(
            &mut s,
            &sanitize(&f.file),
            f.points.to_string(),
            f.train_points.to_string(),
            f.windows.to_string(),
            &f.metrics,
            f.nab.normalised(),
        );
    }
    let points: usize = r.files.iter().map(|f| f.points).sum();
    let train: usize = r.files.iter().map(|f| f.train_points).sum();
    let win: usize = r.files.iter().map(|f| f.windows).sum();
    row(
        &mut s,
        "total",
        points.to_string(),
        train.to_string(),
        win.to_string(),
        &r.total.metrics,
        r.total.nab.normalised(),
    );
    s
}

/// Two threads unless told otherwise: eval is a batch job beside whatever else runs.
fn eval_threads(args: &EvalArgs) -> usize {
    args.lstm.threads.unwrap_or(2)
}
