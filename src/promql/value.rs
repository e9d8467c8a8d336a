//! The values PromQL passes around (scalar, instant vector, range vector, string), where
//! series come from ([`Source`]) and Go's float formatting. No evaluation logic lives here.

use promql_parser::label::Matcher;

use super::labels::Labels;

/// Prometheus's staleness marker: a NaN with this exact bit pattern ends a series.
pub const STALE_NAN: f64 = f64::from_bits(0x7ff0_0000_0000_0002);

pub fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN.to_bits()
}

/// One element of an instant vector. `t` is the evaluation time, except for a bare selector
/// under `timestamp()`, where it is the sample's own time.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub t: i64,
    pub v: f64,
}

/// A series with its points in time order (milliseconds, value).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Series {
    pub labels: Labels,
    pub points: Vec<(i64, f64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(f64),
    Vector(Vec<Sample>),
    Matrix(Vec<Series>),
    String(String),
}

impl Value {
    /// The type name Prometheus uses in its messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar(_) => "scalar",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
            Value::String(_) => "string",
        }
    }
}

/// What [`Source::select_each`] calls with each series' window.
pub type EachWindow<'a> = dyn FnMut(&Labels, &[(i64, f64)]) + 'a;

/// Where the evaluator reads series. Implementations return every series whose labels satisfy
/// all `matchers` with its points in `[mint, maxt]`, stale markers included, in time order.
pub trait Source {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Series>;

    /// [`Source::select`] without copying: `f` sees each matching series' points in place
    /// (those with none in the window are skipped), in the same order. Range functions use
    /// it, since they reduce each window to one number.
    fn select_each(&self, matchers: &[Matcher], mint: i64, maxt: i64, f: &mut EachWindow<'_>) {
        for s in self.select(matchers, mint, maxt) {
            f(&s.labels, &s.points);
        }
    }

    /// Each matching series' last point in `[mint, maxt]` (stale markers included): what an
    /// instant selector reads. A source can answer it without copying whole windows.
    fn select_last(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<(Labels, i64, f64)> {
        self.select(matchers, mint, maxt)
            .into_iter()
            .filter_map(|s| {
                let (t, v) = *s.points.last()?;
                Some((s.labels, t, v))
            })
            .collect()
    }
}

/// Series held in memory: `rules test` input, tests, and small replays.
#[derive(Clone, Debug, Default)]
pub struct MemSource {
    series: Vec<Series>,
}

impl MemSource {
    pub fn new(mut series: Vec<Series>) -> MemSource {
        for s in &mut series {
            s.points.sort_by_key(|p| p.0);
        }
        MemSource { series }
    }

    pub fn series(&self) -> &[Series] {
        &self.series
    }

    /// Adds points to the series with exactly `labels`, creating it if needed.
    pub fn push(&mut self, labels: &Labels, t: i64, v: f64) {
        match self.series.iter_mut().find(|s| s.labels == *labels) {
            Some(s) => {
                let at = s.points.partition_point(|p| p.0 <= t);
                // A second value at the same instant replaces the first, as an append would.
                if at > 0 && s.points.get(at - 1).is_some_and(|p| p.0 == t) {
                    if let Some(p) = s.points.get_mut(at - 1) {
                        p.1 = v;
                    }
                } else {
                    s.points.insert(at, (t, v));
                }
            }
            None => self.series.push(Series {
                labels: labels.clone(),
                points: vec![(t, v)],
            }),
        }
    }
}

impl Source for MemSource {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Series> {
        self.series
            .iter()
            .filter(|s| matchers.iter().all(|m| m.is_match(s.labels.value(&m.name))))
            .filter_map(|s| {
                let lo = s.points.partition_point(|p| p.0 < mint);
                let hi = s.points.partition_point(|p| p.0 <= maxt);
                let points = s.points.get(lo..hi).unwrap_or_default().to_vec();
                (!points.is_empty()).then(|| Series {
                    labels: s.labels.clone(),
                    points,
                })
            })
            .collect()
    }
}

/// Go's `%v` / `strconv.FormatFloat(v, 'g', -1, 64)`, which templates print `$value` with: the
/// shortest digits that round-trip, in exponent form (two-digit exponent) when the decimal
/// exponent is below -4 or at least 6 — Go decides with precision 6 for shortest output.
pub fn go_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Rust's `{:e}` gives the same shortest round-trip digits Go picks, as "d.ddde±x".
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{v}")
    }
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)` (count_values, the HTTP API): never an exponent.
pub fn go_float_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_float_matches_go_g_shortest() {
        for (v, want) in [
            (1.0, "1"),
            (0.5, "0.5"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (1e6, "1e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-7, "-2.5e-07"),
            (1e100, "1e+100"),
            (f64::INFINITY, "+Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(go_float(v), want, "{v:e}");
        }
    }

    #[test]
    fn stale_markers_are_one_nan_only() {
        assert!(is_stale(STALE_NAN));
        assert!(!is_stale(f64::NAN));
    }
}
