//! Evaluation against the Numenta Anomaly Benchmark (NAB) format: loading `timestamp,value`
//! CSVs and `combined_windows.json`, event-level precision/recall/F1 and NAB's sweep score with
//! cost profiles. Reads files only; must not know about models (it scores boolean flags).

use std::ops::Range;
use std::path::Path;

use super::error::DetectError;

/// A NAB data file: Unix seconds (UTC, as NAB's naive timestamps are treated) and values.
#[derive(Debug, Clone, PartialEq)]
pub struct NabSeries {
    /// Timestamps, seconds since 1970-01-01 00:00:00.
    pub timestamps: Vec<i64>,
    /// Values, same length.
    pub values: Vec<f32>,
}

/// Largest file we read; NAB's biggest series is ~2 MB.
const MAX_FILE_BYTES: u64 = 256 << 20;

fn read_text(path: &Path) -> Result<String, DetectError> {
    use crate::capped::{CappedError, read_file};
    let io = |source| DetectError::Io {
        path: path.to_path_buf(),
        source,
    };
    let bytes = read_file(path, MAX_FILE_BYTES).map_err(|e| match e {
        CappedError::Open(source) | CappedError::Read(source) => io(source),
        CappedError::TooLarge { cap } => DetectError::Data(format!(
            "{}: larger than {cap} bytes, the most accepted",
            path.display()
        )),
    })?;
    String::from_utf8(bytes)
        .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}

/// Parses `YYYY-MM-DD HH:MM:SS` with an optional `.ffffff` (ignored: NAB steps are ≥ 1 s).
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    let main = s.split('.').next()?;
    let (date, time) = main.split_once([' ', 'T'])?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, mo, da) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (h, mi, se) = (t.next()??, t.next()??, t.next()??);
    let ok = (1..=12).contains(&mo)
        && (1..=31).contains(&da)
        && (0..24).contains(&h)
        && (0..60).contains(&mi)
        && (0..=60).contains(&se)
        && (0..=9999).contains(&y);
    ok.then(|| crate::civil::days_from_civil(y, mo, da) * 86_400 + h * 3600 + mi * 60 + se)
}

/// Loads a NAB CSV (`timestamp,value` header, one row per line). Errors name file and line.
pub fn load_csv(path: &Path) -> Result<NabSeries, DetectError> {
    let text = read_text(path)?;
    let mut out = NabSeries {
        timestamps: Vec::new(),
        values: Vec::new(),
    };
    for (no, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |what: &str| {
            DetectError::Data(format!(
                "{}:{}: {what} in {line:?}; expected `YYYY-MM-DD HH:MM:SS,<finite number>`",
                path.display(),
                no + 1
            ))
        };
        let (ts, v) = line.split_once(',').ok_or_else(|| bad("no comma"))?;
        let ts = parse_timestamp(ts).ok_or_else(|| bad("bad timestamp"))?;
        let v: f32 = v.trim().parse().map_err(|_| bad("bad value"))?;
        if !v.is_finite() {
            return Err(bad("non-finite value"));
        }
        out.timestamps.push(ts);
        out.values.push(v);
    }
    Ok(out)
}

/// Reads the windows of `file` (e.g. `realKnownCause/cpu_utilization_asg_misconfiguration.csv`)
/// from a NAB `combined_windows.json`, as inclusive (start, end) Unix seconds.
pub fn load_windows(path: &Path, file: &str) -> Result<Vec<(i64, i64)>, DetectError> {
    let text = read_text(path)?;
    let all: std::collections::HashMap<String, Vec<(String, String)>> = serde_json::from_str(&text)
        .map_err(|e| {
            DetectError::Data(format!(
                "{}: {e}; expected {{\"<file>\": [[\"start\", \"end\"], ...]}}",
                path.display()
            ))
        })?;
    let ws = all
        .get(file)
        .ok_or_else(|| DetectError::Data(format!("{}: no entry for {file:?}", path.display())))?;
    ws.iter()
        .map(|(a, b)| match (parse_timestamp(a), parse_timestamp(b)) {
            (Some(a), Some(b)) if a <= b => Ok((a, b)),
            _ => Err(DetectError::Data(format!(
                "{}: window [{a:?}, {b:?}] of {file:?} is not two ordered timestamps",
                path.display()
            ))),
        })
        .collect()
}

/// Index ranges (half-open) of the rows whose timestamps fall inside each window; empty windows
/// (no rows inside) are dropped.
pub fn window_ranges(timestamps: &[i64], windows: &[(i64, i64)]) -> Vec<Range<usize>> {
    windows
        .iter()
        .filter_map(|&(a, b)| {
            let lo = timestamps.partition_point(|&t| t < a);
            let hi = timestamps.partition_point(|&t| t <= b);
            (lo < hi).then_some(lo..hi)
        })
        .collect()
}

/// Event-level counts: a window with at least one flagged row is one true positive, a window
/// without is one false negative, and each maximal run of flagged rows outside all windows is one
/// false positive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventMetrics {
    /// Windows detected.
    pub tp: usize,
    /// Flagged runs outside windows.
    pub fp: usize,
    /// Windows missed.
    pub fn_: usize,
    /// tp / (tp + fp); 0 when nothing was flagged.
    pub precision: f64,
    /// tp / (tp + fn); 1 when there are no windows.
    pub recall: f64,
    /// Harmonic mean of precision and recall; 0 when both are 0.
    pub f1: f64,
}

fn in_window(i: usize, windows: &[Range<usize>]) -> bool {
    windows.iter().any(|w| w.contains(&i))
}

/// See [`EventMetrics`]. `flags[i]` is the detector's verdict at row i.
pub fn event_metrics(flags: &[bool], windows: &[Range<usize>]) -> EventMetrics {
    let tp = windows
        .iter()
        .filter(|w| {
            let n = flags.len();
            flags
                .get(w.start.min(n)..w.end.min(n))
                .is_some_and(|f| f.iter().any(|&x| x))
        })
        .count();
    let fn_ = windows.len() - tp;
    let mut fp = 0;
    let mut in_run = false;
    for (i, &f) in flags.iter().enumerate() {
        let outside = f && !in_window(i, windows);
        if outside && !in_run {
            fp += 1;
        }
        in_run = outside;
    }
    metrics_from_counts(tp, fp, fn_)
}

/// Precision, recall and F1 from counts, with [`event_metrics`]'s conventions: precision 0 when
/// nothing was flagged, recall 1 when there was nothing to find.
pub fn metrics_from_counts(tp: usize, fp: usize, fn_: usize) -> EventMetrics {
    let precision = if tp + fp == 0 {
        0.0
    } else {
        tp as f64 / (tp + fp) as f64
    };
    let recall = if tp + fn_ == 0 {
        1.0
    } else {
        tp as f64 / (tp + fn_) as f64
    };
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    EventMetrics {
        tp,
        fp,
        fn_,
        precision,
        recall,
        f1,
    }
}

/// NAB application profile: weights of true positives, false positives and false negatives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostProfile {
    /// A_TP.
    pub tp: f64,
    /// A_FP.
    pub fp: f64,
    /// A_FN.
    pub fn_: f64,
}

impl CostProfile {
    /// NAB's standard profile.
    pub const STANDARD: Self = Self {
        tp: 1.0,
        fp: 0.11,
        fn_: 1.0,
    };
    /// NAB's "reward low false positives" profile.
    pub const LOW_FP: Self = Self {
        tp: 1.0,
        fp: 0.22,
        fn_: 1.0,
    };
    /// NAB's "reward low false negatives" profile.
    pub const LOW_FN: Self = Self {
        tp: 1.0,
        fp: 0.11,
        fn_: 2.0,
    };
}

/// NAB sweep score of one file; add several with `+` and normalise once (NAB normalises over
/// the whole corpus, not per file).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NabScore {
    /// The detector's raw score.
    pub raw: f64,
    /// Raw score of the detector that never fires (every window missed).
    pub null: f64,
    /// Raw score of the perfect detector (fires on the first row of every window, nowhere else).
    pub perfect: f64,
}

impl NabScore {
    /// 100 × (raw − null) / (perfect − null): 0 = null detector, 100 = perfect.
    pub fn normalised(&self) -> f64 {
        let span = self.perfect - self.null;
        if span.abs() < f64::EPSILON {
            0.0
        } else {
            100.0 * (self.raw - self.null) / span
        }
    }
}

impl std::ops::Add for NabScore {
    type Output = Self;

    fn add(self, o: Self) -> Self {
        Self {
            raw: self.raw + o.raw,
            null: self.null + o.null,
            perfect: self.perfect + o.perfect,
        }
    }
}

/// NAB's scaled sigmoid: +0.987 at the left edge of a window (y = −1), 0 at its right edge
/// (y = 0), tending to −1 further right; −1 beyond y = 3.
fn scaled_sigmoid(y: f64) -> f64 {
    if y > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * y).exp()) - 1.0
    }
}

fn sweep(flags: &[bool], windows: &[Range<usize>], p: CostProfile) -> f64 {
    let mut windows: Vec<Range<usize>> = windows.to_vec();
    windows.sort_by_key(|w| w.start);
    let mut score = 0.0;
    let mut detected = vec![false; windows.len()];
    for (i, _) in flags.iter().enumerate().filter(|(_, f)| **f) {
        if let Some((k, w)) = windows.iter().enumerate().find(|(_, w)| w.contains(&i)) {
            // Only the earliest detection in a window counts, rewarded by how early it is.
            if let Some(d) = detected.get_mut(k)
                && !*d
            {
                *d = true;
                let width = w.len() as f64;
                let y = -((w.end - i) as f64) / width;
                score += p.tp * scaled_sigmoid(y);
            }
        } else {
            // Outside: a false positive, penalised less when it trails a window closely.
            match windows.iter().rev().find(|w| w.end <= i) {
                Some(w) => {
                    let width = (w.len() as f64 - 1.0).max(1.0);
                    let y = (i + 1 - w.end) as f64 / width;
                    score += p.fp * scaled_sigmoid(y);
                }
                None => score -= p.fp,
            }
        }
    }
    let missed = detected.iter().filter(|d| !**d).count();
    score - p.fn_ * missed as f64
}

/// NAB score of binary detections `flags` against `windows` (row ranges) under `profile`.
pub fn nab_score(flags: &[bool], windows: &[Range<usize>], profile: CostProfile) -> NabScore {
    let mut perfect_flags = vec![false; flags.len()];
    for w in windows {
        if let Some(f) = perfect_flags.get_mut(w.start) {
            *f = true;
        }
    }
    NabScore {
        raw: sweep(flags, windows, profile),
        null: sweep(&vec![false; flags.len()], windows, profile),
        perfect: sweep(&perfect_flags, windows, profile),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_table() {
        let cases = [
            ("1970-01-01 00:00:00", Some(0)),
            ("2014-07-12 02:04:00", Some(1_405_130_640)),
            ("2014-07-10 12:29:00.000000", Some(1_404_995_340)),
            ("2000-02-29 12:00:00", Some(951_825_600)),
            ("1969-12-31 23:59:59", Some(-1)),
            ("2014-13-01 00:00:00", None),
            ("2014-07-10", None),
            ("garbage", None),
            ("", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_timestamp(s), want, "{s}");
        }
    }

    #[test]
    fn event_metrics_table() {
        let w = vec![2..5, 10..12];
        let f = |idx: &[usize]| {
            let mut v = vec![false; 15];
            for &i in idx {
                if let Some(x) = v.get_mut(i) {
                    *x = true;
                }
            }
            v
        };
        // (flags, tp, fp, fn)
        let cases = [
            (f(&[]), 0, 0, 2),
            (f(&[2, 3, 4]), 1, 0, 1),
            (f(&[3, 11]), 2, 0, 0),
            (f(&[0, 1, 3, 7, 8, 9, 13]), 1, 3, 1),
            // A run that enters a window is split: the part outside is one FP.
            (f(&[5, 6, 10]), 1, 1, 1),
        ];
        for (flags, tp, fp, fn_) in cases {
            let m = event_metrics(&flags, &w);
            assert_eq!((m.tp, m.fp, m.fn_), (tp, fp, fn_), "{flags:?}");
        }
        let m = event_metrics(&f(&[3, 7, 11]), &w);
        assert!((m.precision - 2.0 / 3.0).abs() < 1e-12 && (m.recall - 1.0).abs() < 1e-12);
        assert!((m.f1 - 0.8).abs() < 1e-12);
    }

    #[test]
    fn nab_score_properties() {
        let w = vec![10..20, 50..60];
        let none = vec![false; 100];
        let s = nab_score(&none, &w, CostProfile::STANDARD);
        assert_eq!(s.raw, -2.0);
        assert_eq!(s.normalised(), 0.0);
        let mut perfect = none.clone();
        perfect[10] = true;
        perfect[50] = true;
        assert!((nab_score(&perfect, &w, CostProfile::STANDARD).normalised() - 100.0).abs() < 1e-9);
        // Earlier detection inside a window scores more than a later one.
        let at = |i: usize| {
            let mut v = none.clone();
            v[i] = true;
            nab_score(&v, &w, CostProfile::STANDARD).raw
        };
        assert!(at(10) > at(15) && at(15) > at(19));
        // A false positive far from any window costs the full A_FP; one right after a window less.
        assert!((at(0) - (-2.0 - 0.11)).abs() < 1e-12);
        assert!(at(21) > at(40));
        assert!((at(40) - (-2.0 - 0.11)).abs() < 1e-4);
        assert!((at(90) - (-2.0 - 0.11)).abs() < 1e-12);
        // Low-FN profile punishes misses twice as hard.
        assert_eq!(nab_score(&none, &w, CostProfile::LOW_FN).raw, -4.0);
        let total = s + nab_score(&perfect, &w, CostProfile::STANDARD);
        assert!((total.normalised() - 50.0).abs() < 1e-9);
    }

    #[test]
    fn loads_the_thesis_series_and_its_window() -> Result<(), DetectError> {
        let root = Path::new("/work/shared/datasets/nab");
        if !root.exists() {
            return Ok(());
        }
        let s =
            load_csv(&root.join("data/realKnownCause/cpu_utilization_asg_misconfiguration.csv"))?;
        assert_eq!(s.values.len(), 18_050);
        let w = load_windows(
            &root.join("labels/combined_windows.json"),
            "realKnownCause/cpu_utilization_asg_misconfiguration.csv",
        )?;
        assert_eq!(w.len(), 1);
        let r = window_ranges(&s.timestamps, &w);
        assert_eq!(r.len(), 1);
        // NAB windows are 10 % of the file shared among labels, merged into one here; it runs to
        // the end of the file, inside the thesis's test part (the last 10 %).
        assert_eq!(r, vec![16_551..18_050]);
        let bad = load_windows(&root.join("labels/combined_windows.json"), "nope.csv");
        assert!(
            bad.err()
                .map(|e| e.to_string())
                .unwrap_or_default()
                .contains("no entry")
        );
        Ok(())
    }
}
