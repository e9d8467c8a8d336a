//! The evaluation driver behind `nocscope eval`: finds labelled NAB-layout CSVs, trains a fresh
//! [`Detector`] on each file's prefix, scores the rest causally, turns scores into event-level and
//! NAB metrics, writes NAB-style result CSVs and adds up totals. Also the adapter that makes the
//! LSTM autoencoder a [`Detector`]. Must not print, parse command lines, or touch engine/UI types.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ae::{EpochReport, FitOptions, LstmAutoencoder};
use super::config::{LstmConfig, ThresholdPolicy};
use super::detector::Detector;
use super::error::DetectError;
use super::nab::{
    CostProfile, EventMetrics, NabScore, NabSeries, event_metrics, nab_score, parse_timestamp,
    window_ranges,
};

/// Names the command line accepts for `--detector`, in the order they are listed in errors.
pub const DETECTOR_NAMES: [&str; 4] = ["lstm", "zscore", "kmeans", "iforest"];

/// Makes a fresh, untrained detector for each file.
pub type DetectorFactory<'a> = dyn FnMut() -> Result<Box<dyn Detector>, DetectError> + 'a;

/// Callback receiving each training epoch of the LSTM (for a progress line).
pub type EpochCallback = Box<dyn FnMut(&EpochReport) + Send>;

/// The LSTM autoencoder as a [`Detector`]. A point's score is the reconstruction error of the
/// window that ends at it (the moment a live scorer would know it), optionally averaged over the
/// last `smooth` windows; the threshold comes from the same scores over the training data, so
/// smoothing never compares smoothed test scores against an unsmoothed threshold.
pub struct LstmDetector {
    model: LstmAutoencoder,
    threads: usize,
    smooth: usize,
    threshold: Option<f32>,
    on_epoch: Option<EpochCallback>,
}

impl LstmDetector {
    /// An untrained detector; `smooth` ≥ 1 windows are averaged (1 = the raw window error).
    pub fn new(
        config: &LstmConfig,
        seed: u64,
        threads: usize,
        smooth: usize,
    ) -> Result<Self, DetectError> {
        if !(1..=10_000).contains(&smooth) {
            return Err(DetectError::Data(format!(
                "smoothing over {smooth} windows; accepted: 1..=10000"
            )));
        }
        Ok(Self {
            model: LstmAutoencoder::new(config, seed)?,
            threads: threads.max(1),
            smooth,
            threshold: None,
            on_epoch: None,
        })
    }

    /// Calls `f` after every training epoch.
    pub fn on_epoch(mut self, f: EpochCallback) -> Self {
        self.on_epoch = Some(f);
        self
    }

    /// The wrapped model (trained after a successful `fit`).
    pub fn model(&self) -> &LstmAutoencoder {
        &self.model
    }

    /// Point scores for `series[from..]` given window errors `errs[j]` of the windows starting at
    /// `ctx + j`. Windows are averaged over those that exist (at most `smooth`), never over a
    /// later one.
    fn point_scores(&self, errs: &[f32], ctx: usize, from: usize, n: usize) -> Vec<f32> {
        let t = self.model.config().window;
        // Prefix sums in f64 keep long averages exact enough and make each point O(1).
        let mut prefix = Vec::with_capacity(errs.len() + 1);
        prefix.push(0.0f64);
        let mut acc = 0.0f64;
        for &e in errs {
            acc += f64::from(e);
            prefix.push(acc);
        }
        (from..n)
            .map(|i| {
                // The window ending at i starts at i + 1 − T; none before T − 1 points exist.
                let Some(start) = (i + 1).checked_sub(t) else {
                    return 0.0;
                };
                let Some(hi) = start.checked_sub(ctx).map(|j| j + 1) else {
                    return 0.0;
                };
                let lo = hi.saturating_sub(self.smooth);
                match (prefix.get(hi), prefix.get(lo)) {
                    (Some(a), Some(b)) if hi > lo => ((a - b) / (hi - lo) as f64) as f32,
                    _ => 0.0,
                }
            })
            .collect()
    }
}

impl Detector for LstmDetector {
    fn name(&self) -> &'static str {
        "lstm"
    }

    fn fit(&mut self, train: &[f32]) -> Result<(), DetectError> {
        let opts = FitOptions {
            threads: self.threads,
            ..Default::default()
        };
        let mut cb = self.on_epoch.take();
        let result = self.model.fit(train, &opts, |e| {
            if let Some(f) = cb.as_mut() {
                f(e);
            }
        });
        self.on_epoch = cb;
        result?;
        self.threshold = if self.smooth == 1 {
            self.model.threshold()
        } else {
            let errs = self.model.score_series_threads(train, self.threads)?;
            let scores = self.point_scores(&errs, 0, 0, train.len());
            let t = self.model.config().window;
            // Points before the first full window score 0 by convention, not by the model.
            let real = scores.get(t.saturating_sub(1)..).unwrap_or_default();
            self.model.config().threshold.threshold(real)
        };
        Ok(())
    }

    fn score(&self, series: &[f32], from: usize) -> Result<Vec<f32>, DetectError> {
        let n = series.len();
        if from >= n {
            return Ok(Vec::new());
        }
        let t = self.model.config().window;
        // Enough history before `from` for its own window and the smoothing span, no more.
        let ctx = from.saturating_sub(t - 1 + self.smooth - 1);
        let errs = self
            .model
            .score_series_threads(series.get(ctx..).unwrap_or_default(), self.threads)?;
        Ok(self.point_scores(&errs, ctx, from, n))
    }

    fn threshold(&self) -> Option<f32> {
        self.threshold
    }
}

const POLICY_ACCEPTED: &str = "accepted: max:<factor> (e.g. max:0.78), mean-std:<k> (e.g. mean-std:3), \
                               quantile:<q> (e.g. quantile:0.99)";

/// Why a `--threshold` policy was refused; each message ends with the accepted forms.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("threshold policy {text:?} has no `:`; {POLICY_ACCEPTED}")]
    NoColon { text: String },
    #[error("threshold policy {text:?}: {value:?} is not a number; {POLICY_ACCEPTED}")]
    NotANumber { text: String, value: String },
    #[error("unknown threshold policy {kind:?}; {POLICY_ACCEPTED}")]
    Unknown { kind: String },
    /// The form is right but the number is out of range.
    #[error("{0}")]
    Range(DetectError),
}

/// Parses `max:F`, `mean-std:K` or `quantile:Q` (the three [`ThresholdPolicy`] variants).
pub fn parse_threshold_policy(s: &str) -> Result<ThresholdPolicy, PolicyError> {
    let (kind, v) = s.split_once(':').ok_or_else(|| PolicyError::NoColon {
        text: s.to_string(),
    })?;
    let v: f32 = v.trim().parse().map_err(|_| PolicyError::NotANumber {
        text: s.to_string(),
        value: v.to_string(),
    })?;
    let p = match kind.trim() {
        "max" | "max_scaled" => ThresholdPolicy::MaxScaled { factor: v },
        "mean-std" | "mean_std" => ThresholdPolicy::MeanStd { k: v },
        "quantile" => ThresholdPolicy::Quantile { q: v },
        other => {
            return Err(PolicyError::Unknown {
                kind: other.to_string(),
            });
        }
    };
    p.validate().map_err(PolicyError::Range)?;
    Ok(p)
}

/// Largest label file read; NAB's is ~20 KB, and a hostile path (a device, a huge file) must
/// not exhaust memory.
const MAX_LABEL_BYTES: u64 = 64 << 20;

/// Reads a text file of at most [`MAX_LABEL_BYTES`]; errors name `what` and the path (the
/// generic I/O error of this module would call it a model file).
fn read_capped(path: &Path, what: &str) -> Result<String, DetectError> {
    use crate::capped::{CappedError, read_file};
    let bytes = read_file(path, MAX_LABEL_BYTES).map_err(|e| match e {
        CappedError::Open(e) | CappedError::Read(e) => {
            DetectError::Data(format!("{what} {}: {e}", path.display()))
        }
        CappedError::TooLarge { cap } => DetectError::Data(format!(
            "{what} {}: larger than {cap} bytes; NAB label files are a few KB",
            path.display()
        )),
    })?;
    String::from_utf8(bytes)
        .map_err(|e| DetectError::Data(format!("{what} {}: not UTF-8 text: {e}", path.display())))
}

/// Labels as read from a NAB label file: either scoring windows (`combined_windows.json`) or
/// label points (`combined_labels.json`), per file name relative to the data directory.
#[derive(Debug, Clone, PartialEq)]
pub enum Labels {
    /// Inclusive (start, end) Unix seconds per file.
    Windows(HashMap<String, Vec<(i64, i64)>>),
    /// Label timestamps per file; each gets its own window (see [`point_windows`]).
    Points(HashMap<String, Vec<i64>>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawLabel {
    Point(String),
    Window(String, String),
}

impl Labels {
    /// Reads a label file; the kind is told by its entries (strings or pairs of strings).
    pub fn load(path: &Path) -> Result<Self, DetectError> {
        let text = read_capped(path, "label file")?;
        let expected = "expected {\"<category>/<file>.csv\": [[\"start\", \"end\"], ...]} \
                        (combined_windows.json) or {\"<file>\": [\"timestamp\", ...]} \
                        (combined_labels.json)";
        let raw: HashMap<String, Vec<RawLabel>> = serde_json::from_str(&text)
            .map_err(|e| DetectError::Data(format!("{}: {e}; {expected}", path.display())))?;
        let ts = |file: &str, s: &str| {
            parse_timestamp(s).ok_or_else(|| {
                DetectError::Data(format!(
                    "{}: {file:?} has timestamp {s:?}; expected YYYY-MM-DD HH:MM:SS",
                    path.display()
                ))
            })
        };
        let points = raw
            .values()
            .flatten()
            .any(|l| matches!(l, RawLabel::Point(_)));
        let windows = raw
            .values()
            .flatten()
            .any(|l| matches!(l, RawLabel::Window(..)));
        if points && windows {
            return Err(DetectError::Data(format!(
                "{}: mixes label points and windows; {expected}",
                path.display()
            )));
        }
        if points {
            let mut out = HashMap::new();
            for (file, ls) in &raw {
                let mut v = Vec::with_capacity(ls.len());
                for l in ls {
                    if let RawLabel::Point(s) = l {
                        v.push(ts(file, s)?);
                    }
                }
                v.sort_unstable();
                out.insert(file.clone(), v);
            }
            return Ok(Self::Points(out));
        }
        let mut out = HashMap::new();
        for (file, ls) in &raw {
            let mut v = Vec::with_capacity(ls.len());
            for l in ls {
                if let RawLabel::Window(a, b) = l {
                    let (a, b) = (ts(file, a)?, ts(file, b)?);
                    if a > b {
                        return Err(DetectError::Data(format!(
                            "{}: window of {file:?} ends before it starts",
                            path.display()
                        )));
                    }
                    v.push((a, b));
                }
            }
            out.insert(file.clone(), v);
        }
        Ok(Self::Windows(out))
    }

    /// Whether `file` has an entry (an empty list counts: a file known to have no anomaly).
    pub fn contains(&self, file: &str) -> bool {
        match self {
            Self::Windows(m) => m.contains_key(file),
            Self::Points(m) => m.contains_key(file),
        }
    }

    /// Row ranges of `file`'s windows over `timestamps`, sorted; `None` without an entry.
    pub fn ranges(&self, file: &str, timestamps: &[i64]) -> Option<Vec<Range<usize>>> {
        let mut r = match self {
            Self::Windows(m) => window_ranges(timestamps, m.get(file)?),
            Self::Points(m) => point_windows(timestamps, m.get(file)?),
        };
        r.sort_by_key(|w| w.start);
        Some(r)
    }
}

/// One window per label point, NAB's width (10 % of the rows shared among the file's labels)
/// centred on the label's row. Where two windows would overlap they are cut at the midpoint
/// between the labels instead of merged, so each label stays one event: that is how the thesis
/// counted two true positives on a file whose NAB windows merge into one.
pub fn point_windows(timestamps: &[i64], labels: &[i64]) -> Vec<Range<usize>> {
    let n = timestamps.len();
    if labels.is_empty() || n == 0 {
        return Vec::new();
    }
    let width = (n / 10 / labels.len()).max(1);
    let rows: Vec<usize> = labels
        .iter()
        .map(|&l| timestamps.partition_point(|&t| t < l).min(n - 1))
        .collect();
    let mut out: Vec<Range<usize>> = Vec::with_capacity(rows.len());
    for (k, &c) in rows.iter().enumerate() {
        let mut lo = c.saturating_sub(width / 2);
        let mut hi = (c + width.div_ceil(2)).min(n);
        if let Some(&prev) = k.checked_sub(1).and_then(|p| rows.get(p)) {
            lo = lo.max(prev + (c - prev).div_ceil(2));
        }
        if let Some(&next) = rows.get(k + 1) {
            hi = hi.min(c + (next - c).div_ceil(2));
        }
        if lo < hi {
            out.push(lo..hi);
        }
    }
    out
}

/// How each file is split, flagged and where results go.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOptions {
    /// Fraction of each file's rows used for training, in (0, 1); the rest is scored.
    pub train_fraction: f64,
    /// A point is flagged only after this many consecutive scores above the threshold (≥ 1).
    pub persist: usize,
    /// Flag only the point where a run above the threshold (after `persist`) begins, not every
    /// point of it: one alert per incident, and NAB charges every flagged point outside a
    /// window as a false positive, so a long run costs far more than the event it is.
    pub onset: bool,
    /// Directory for NAB-style result CSVs (`<dir>/<detector>/<category>/<detector>_<file>`).
    pub results_out: Option<PathBuf>,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            train_fraction: 0.15,
            persist: 1,
            onset: false,
            results_out: None,
        }
    }
}

impl EvalOptions {
    /// Checks ranges; errors name the option and what is accepted.
    pub fn validate(&self) -> Result<(), DetectError> {
        if !(self.train_fraction > 0.0 && self.train_fraction < 1.0) {
            return Err(DetectError::Data(format!(
                "--train-fraction {}; accepted: a number strictly between 0 and 1",
                self.train_fraction
            )));
        }
        if !(1..=10_000).contains(&self.persist) {
            return Err(DetectError::Data(format!(
                "--persist {}; accepted: 1..=10000",
                self.persist
            )));
        }
        Ok(())
    }
}

/// Outcome of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileResult {
    /// Path relative to the data directory, `/`-separated.
    pub file: String,
    /// Rows in the file.
    pub points: usize,
    /// Rows used for training (the rest were scored).
    pub train_points: usize,
    /// Labelled windows overlapping the scored part (those are what the metrics count).
    pub windows: usize,
    /// Labelled windows lying wholly inside the training part (not scored).
    pub windows_in_train: usize,
    /// Scored rows flagged anomalous.
    pub flagged: usize,
    /// The detector's threshold after training.
    pub threshold: f32,
    /// Event-level counts and ratios over the scored part.
    pub metrics: EventMetrics,
    /// NAB standard-profile score of the scored part (raw, null and perfect, for totals).
    pub nab: NabScore,
}

/// One file's outcome plus the per-row data behind it.
#[derive(Debug, Clone)]
pub struct FileRun {
    /// Metrics.
    pub result: FileResult,
    /// The series as loaded.
    pub series: NabSeries,
    /// Detector score per row; 0 for training rows (they are not scored).
    pub scores: Vec<f32>,
    /// Verdict per row; false for training rows.
    pub flags: Vec<bool>,
    /// Whether each row lies in a labelled window (all rows, training part included).
    pub labels: Vec<bool>,
}

pub use super::nab::metrics_from_counts;

/// Flags from scores: `scores[i] > threshold` for `persist` consecutive points ending at `i`;
/// with `onset`, only the first such point of each run. Looks only backwards, so it stays
/// causal.
pub fn flags_from_scores(scores: &[f32], threshold: f32, persist: usize, onset: bool) -> Vec<bool> {
    let persist = persist.max(1);
    let mut run = 0usize;
    scores
        .iter()
        .map(|&s| {
            run = if s > threshold { run + 1 } else { 0 };
            if onset {
                run == persist
            } else {
                run >= persist
            }
        })
        .collect()
}

/// Maps a score into [0, 1] for result CSVs, monotonically, with the threshold at exactly 0.5.
/// With a positive threshold and non-negative scores (every reconstruction error and distance)
/// it is `s / (s + t)`: 0 at 0, 0.5 at t, 2/3 at 2t, tending to 1; negative scores clamp to 0.
/// Otherwise (threshold ≤ 0) a logistic `1 / (1 + e^(t − s))` keeps the same properties.
pub fn unit_score(score: f32, threshold: f32) -> f32 {
    let (s, t) = (f64::from(score), f64::from(threshold));
    let v = if !s.is_finite() {
        if s > 0.0 { 1.0 } else { 0.0 }
    } else if t > 0.0 {
        if s <= 0.0 { 0.0 } else { s / (s + t) }
    } else {
        1.0 / (1.0 + (t - s).exp())
    };
    if v.is_finite() {
        v.clamp(0.0, 1.0) as f32
    } else {
        0.5
    }
}

/// Trains `det` on the first `train_fraction` of `series` and scores the rest against the
/// windows `ranges` (rows of the whole file). `file` only names the file in errors and results.
pub fn evaluate_series(
    det: &mut dyn Detector,
    file: &str,
    series: NabSeries,
    ranges: &[Range<usize>],
    opts: &EvalOptions,
) -> Result<FileRun, DetectError> {
    opts.validate()?;
    let n = series.values.len();
    let split = (n as f64 * opts.train_fraction).floor() as usize;
    if split == 0 || split >= n {
        return Err(DetectError::Data(format!(
            "{file}: {n} points; --train-fraction {} leaves {split} for training and {} to \
             score, and both must be at least 1",
            opts.train_fraction,
            n.saturating_sub(split)
        )));
    }
    let train = series.values.get(..split).unwrap_or_default();
    det.fit(train).map_err(|e| {
        DetectError::Data(format!(
            "{file}: training {} on the first {split} of {n} points: {e}",
            det.name()
        ))
    })?;
    let threshold = det.threshold().ok_or_else(|| {
        DetectError::Data(format!(
            "{file}: detector {} set no threshold after training",
            det.name()
        ))
    })?;
    let test_scores = det
        .score(&series.values, split)
        .map_err(|e| DetectError::Data(format!("{file}: scoring {}: {e}", det.name())))?;
    if test_scores.len() != n - split {
        return Err(DetectError::Data(format!(
            "{file}: detector {} returned {} scores for {} points",
            det.name(),
            test_scores.len(),
            n - split
        )));
    }
    let test_flags = flags_from_scores(&test_scores, threshold, opts.persist, opts.onset);
    // Windows are clipped to the scored part: the detector cannot be asked about rows it trained
    // on, so a window wholly inside training is neither found nor missed.
    let test_ranges: Vec<Range<usize>> = ranges
        .iter()
        .filter(|w| w.end > split)
        .map(|w| w.start.max(split) - split..w.end - split)
        .collect();
    let metrics = event_metrics(&test_flags, &test_ranges);
    let nab = nab_score(&test_flags, &test_ranges, CostProfile::STANDARD);
    let mut scores = vec![0.0; split];
    scores.extend_from_slice(&test_scores);
    let mut flags = vec![false; split];
    flags.extend_from_slice(&test_flags);
    let mut labels = vec![false; n];
    for w in ranges {
        for l in labels
            .get_mut(w.start.min(n)..w.end.min(n))
            .unwrap_or_default()
        {
            *l = true;
        }
    }
    Ok(FileRun {
        result: FileResult {
            file: file.to_owned(),
            points: n,
            train_points: split,
            windows: test_ranges.len(),
            windows_in_train: ranges.len() - test_ranges.len(),
            flagged: test_flags.iter().filter(|f| **f).count(),
            threshold,
            metrics,
            nab,
        },
        series,
        scores,
        flags,
        labels,
    })
}

/// Formats Unix seconds as NAB's `YYYY-MM-DD HH:MM:SS` (inverse of [`parse_timestamp`]).
pub fn format_timestamp(t: i64) -> String {
    let (y, m, d) = crate::civil::civil_from_days(t.div_euclid(86_400));
    let secs = t.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Totals over files: counts added up, ratios recomputed from them, NAB normalised over the sum
/// (as NAB does over a corpus, rather than averaging per-file scores).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Totals {
    /// Event metrics from the summed counts.
    pub metrics: EventMetrics,
    /// Summed NAB raw, null and perfect scores.
    pub nab: NabScore,
}

impl Totals {
    /// Adds up `files`.
    pub fn of(files: &[FileResult]) -> Self {
        let (tp, fp, fn_) = files.iter().fold((0, 0, 0), |(a, b, c), f| {
            (a + f.metrics.tp, b + f.metrics.fp, c + f.metrics.fn_)
        });
        Self {
            metrics: metrics_from_counts(tp, fp, fn_),
            nab: files.iter().fold(NabScore::default(), |acc, f| acc + f.nab),
        }
    }
}

/// A whole evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalReport {
    /// Detector name.
    pub detector: String,
    /// Options used.
    pub options: EvalOptions,
    /// Per file, in file order.
    pub files: Vec<FileResult>,
    /// Over all files.
    pub total: Totals,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn threshold_policy_specs() {
        assert_eq!(
            parse_threshold_policy("max:0.78").ok(),
            Some(ThresholdPolicy::MaxScaled { factor: 0.78 })
        );
        assert_eq!(
            parse_threshold_policy("mean-std:3").ok(),
            Some(ThresholdPolicy::MeanStd { k: 3.0 })
        );
        assert_eq!(
            parse_threshold_policy("quantile:0.99").ok(),
            Some(ThresholdPolicy::Quantile { q: 0.99 })
        );
        assert_eq!(
            parse_threshold_policy("max_scaled:0.5").ok(),
            Some(ThresholdPolicy::MaxScaled { factor: 0.5 })
        );
        for bad in [
            "max",
            "max:x",
            "median:3",
            "quantile:1.5",
            "quantile:2",
            "max:-1",
        ] {
            let e = parse_threshold_policy(bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains("accepted"), "{bad}: {e}");
        }
    }

    #[test]
    fn flags_need_persistence() {
        let s = [0.0, 2.0, 2.0, 0.0, 2.0, 2.0, 2.0];
        let f = |p| flags_from_scores(&s, 1.0, p, false);
        assert_eq!(f(1), [false, true, true, false, true, true, true]);
        assert_eq!(f(2), [false, false, true, false, false, true, true]);
        assert_eq!(f(3), [false, false, false, false, false, false, true]);
        let o = |p| flags_from_scores(&s, 1.0, p, true);
        assert_eq!(o(1), [false, true, false, false, true, false, false]);
        assert_eq!(o(2), [false, false, true, false, false, true, false]);
        assert_eq!(o(3), [false, false, false, false, false, false, true]);
        // Equal to the threshold is not above it.
        assert_eq!(flags_from_scores(&[1.0], 1.0, 1, false), [false]);
    }

    #[test]
    fn point_windows_cut_overlaps_at_the_midpoint() {
        let ts: Vec<i64> = (0..1000).collect();
        // Width 1000/10/2 = 50; labels 20 apart would overlap, so they split at 110.
        assert_eq!(point_windows(&ts, &[100, 120]), vec![75..110, 110..145]);
        assert_eq!(point_windows(&ts, &[500]), vec![450..550]);
        assert_eq!(point_windows(&ts, &[2]), vec![0..52]);
        assert_eq!(point_windows(&ts, &[]), Vec::<Range<usize>>::new());
        assert_eq!(point_windows(&[], &[5]), Vec::<Range<usize>>::new());
    }

    #[test]
    fn totals_add_counts_not_ratios() {
        let f = |tp, fp, fn_| FileResult {
            file: String::new(),
            points: 0,
            train_points: 0,
            windows: tp + fn_,
            windows_in_train: 0,
            flagged: 0,
            threshold: 1.0,
            metrics: metrics_from_counts(tp, fp, fn_),
            nab: NabScore {
                raw: 1.0,
                null: -1.0,
                perfect: 2.0,
            },
        };
        let t = Totals::of(&[f(1, 0, 0), f(0, 3, 1)]);
        assert_eq!((t.metrics.tp, t.metrics.fp, t.metrics.fn_), (1, 3, 1));
        assert!((t.metrics.precision - 0.25).abs() < 1e-12);
        assert!((t.metrics.recall - 0.5).abs() < 1e-12);
        assert!((t.nab.normalised() - 100.0 * 4.0 / 6.0).abs() < 1e-9);
        let none = metrics_from_counts(0, 0, 0);
        assert_eq!((none.precision, none.recall, none.f1), (0.0, 1.0, 0.0));
    }

    proptest! {
        #[test]
        fn unit_score_is_monotone_with_threshold_at_half(
            a in -1e6f32..1e6, b in -1e6f32..1e6, t in -1e3f32..1e3,
        ) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let (ul, uh) = (unit_score(lo, t), unit_score(hi, t));
            prop_assert!((0.0..=1.0).contains(&ul) && (0.0..=1.0).contains(&uh));
            prop_assert!(ul <= uh, "{lo}->{ul} {hi}->{uh} t={t}");
            prop_assert!((unit_score(t, t) - 0.5).abs() < 1e-6);
            if hi > t { prop_assert!(uh >= 0.5); }
            if lo < t { prop_assert!(ul <= 0.5); }
        }

        #[test]
        fn timestamps_round_trip(t in -62_000_000_000i64..253_000_000_000) {
            prop_assert_eq!(parse_timestamp(&format_timestamp(t)), Some(t));
        }

    }
}
