//! PromQL functions: the range-vector ones (`rate` with Prometheus's extrapolation, `irate`,
//! `deriv`, `predict_linear`, every `*_over_time`…) and the instant ones (maths, `clamp`,
//! `label_replace`, `histogram_quantile`, `absent`…). The check in check.rs lists the same
//! names; anything else never reaches here.

use promql_parser::label::MatchOp;
use promql_parser::parser::{Call, Expr};

use super::aggr::quantile;
use super::eval::{EvalError, Evaluator, Range, check_unique, matchers_of, one_name};
use super::labels::{Labels, METRIC_NAME};
use super::value::{Sample, Value};

/// Functions whose first argument is a range vector.
pub(super) const RANGE_FUNCTIONS: &[&str] = &[
    "rate",
    "irate",
    "increase",
    "delta",
    "idelta",
    "deriv",
    "predict_linear",
    "changes",
    "resets",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "sum_over_time",
    "count_over_time",
    "quantile_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "last_over_time",
    "present_over_time",
    "absent_over_time",
];

/// Functions over an instant vector, a scalar or nothing.
pub(super) const INSTANT_FUNCTIONS: &[&str] = &[
    "abs",
    "ceil",
    "floor",
    "round",
    "sqrt",
    "ln",
    "log2",
    "log10",
    "exp",
    "sgn",
    "clamp",
    "clamp_min",
    "clamp_max",
    "absent",
    "time",
    "timestamp",
    "vector",
    "scalar",
    "label_replace",
    "label_join",
    "histogram_quantile",
    "sort",
    "sort_desc",
    "pi",
    "deg",
    "rad",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "sinh",
    "cosh",
    "tanh",
    "asinh",
    "acosh",
    "atanh",
];

/// Neumaier's compensated sum step, as Prometheus's `kahanSumInc`.
fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

fn arg(c: &Call, i: usize) -> Result<&Expr, EvalError> {
    c.args
        .args
        .get(i)
        .map(|b| b.as_ref())
        .ok_or_else(|| EvalError::Other(format!("{}: missing argument {}", c.func.name, i + 1)))
}

pub(super) fn eval(ev: &Evaluator<'_>, c: &Call, t: i64) -> Result<Value, EvalError> {
    let name = c.func.name;
    if RANGE_FUNCTIONS.contains(&name) {
        return range_function(ev, c, t).map(Value::Vector);
    }
    let out = match name {
        "time" => return Ok(Value::Scalar(t as f64 / 1000.0)),
        "pi" => return Ok(Value::Scalar(std::f64::consts::PI)),
        "vector" => {
            let v = ev.scalar(arg(c, 0)?, t)?;
            vec![Sample {
                labels: Labels::default(),
                t,
                v,
            }]
        }
        "scalar" => {
            let v = ev.vector(arg(c, 0)?, t)?;
            return Ok(Value::Scalar(match v.as_slice() {
                [one] => one.v,
                _ => f64::NAN,
            }));
        }
        "absent" => {
            let e = arg(c, 0)?;
            if !ev.vector(e, t)?.is_empty() {
                return Ok(Value::Vector(Vec::new()));
            }
            vec![Sample {
                labels: absent_labels(e),
                t,
                v: 1.0,
            }]
        }
        "timestamp" => {
            let e = arg(c, 0)?;
            // A bare selector gives each sample's own time; anything else is computed now.
            let samples: Vec<(Labels, i64)> = match unparen(e) {
                Expr::VectorSelector(vs) => ev
                    .select_instant(vs, t)
                    .into_iter()
                    .map(|(l, pt, _)| (l, pt))
                    .collect(),
                other => ev
                    .vector(other, t)?
                    .into_iter()
                    .map(|s| (s.labels, s.t))
                    .collect(),
            };
            samples
                .into_iter()
                .map(|(l, pt)| Sample {
                    labels: l.without_name(),
                    t,
                    v: pt as f64 / 1000.0,
                })
                .collect()
        }
        "label_replace" => label_replace(ev, c, t)?,
        "label_join" => label_join(ev, c, t)?,
        "histogram_quantile" => {
            let q = ev.scalar(arg(c, 0)?, t)?;
            histogram_quantile(q, ev.vector(arg(c, 1)?, t)?, t)
        }
        "sort" | "sort_desc" => {
            let mut v = ev.vector(arg(c, 0)?, t)?;
            let desc = name == "sort_desc";
            // NaN goes last in both directions, as in Prometheus.
            v.sort_by(|a, b| match (a.v.is_nan(), b.v.is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                _ if desc => b.v.partial_cmp(&a.v).unwrap_or(std::cmp::Ordering::Equal),
                _ => a.v.partial_cmp(&b.v).unwrap_or(std::cmp::Ordering::Equal),
            });
            return Ok(Value::Vector(v));
        }
        "round" => {
            let to = match c.args.args.get(1) {
                Some(e) => ev.scalar(e, t)?,
                None => 1.0,
            };
            let inv = 1.0 / to;
            map_values(ev, c, t, |v| (v * inv + 0.5).floor() / inv)?
        }
        "clamp" => {
            let lo = ev.scalar(arg(c, 1)?, t)?;
            let hi = ev.scalar(arg(c, 2)?, t)?;
            if hi < lo {
                return Ok(Value::Vector(Vec::new()));
            }
            map_values(ev, c, t, |v| go_max(lo, go_min(hi, v)))?
        }
        "clamp_min" => {
            let lo = ev.scalar(arg(c, 1)?, t)?;
            map_values(ev, c, t, |v| go_max(lo, v))?
        }
        "clamp_max" => {
            let hi = ev.scalar(arg(c, 1)?, t)?;
            map_values(ev, c, t, |v| go_min(hi, v))?
        }
        _ => {
            let f: fn(f64) -> f64 = match name {
                "abs" => f64::abs,
                "ceil" => f64::ceil,
                "floor" => f64::floor,
                "sqrt" => f64::sqrt,
                "ln" => f64::ln,
                "log2" => f64::log2,
                "log10" => f64::log10,
                "exp" => f64::exp,
                "sgn" => |v: f64| {
                    if v < 0.0 {
                        -1.0
                    } else if v > 0.0 {
                        1.0
                    } else {
                        v
                    }
                },
                "deg" => f64::to_degrees,
                "rad" => f64::to_radians,
                "sin" => f64::sin,
                "cos" => f64::cos,
                "tan" => f64::tan,
                "asin" => f64::asin,
                "acos" => f64::acos,
                "atan" => f64::atan,
                "sinh" => f64::sinh,
                "cosh" => f64::cosh,
                "tanh" => f64::tanh,
                "asinh" => f64::asinh,
                "acosh" => f64::acosh,
                "atanh" => f64::atanh,
                other => {
                    return Err(EvalError::Other(format!(
                        "function {other}() is not supported"
                    )));
                }
            };
            map_values(ev, c, t, f)?
        }
    };
    check_unique(&out)?;
    Ok(Value::Vector(out))
}

/// Go's math.Max/Min: NaN wins.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

fn unparen(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => unparen(&p.expr),
        other => other,
    }
}

fn map_values(
    ev: &Evaluator<'_>,
    c: &Call,
    t: i64,
    f: impl Fn(f64) -> f64,
) -> Result<Vec<Sample>, EvalError> {
    Ok(ev
        .vector(arg(c, 0)?, t)?
        .into_iter()
        .map(|s| Sample {
            labels: s.labels.without_name(),
            t,
            v: f(s.v),
        })
        .collect())
}

/// What `absent(sel)` labels its 1 with: the selector's `=` matchers, except any label that
/// also has another matcher.
fn absent_labels(e: &Expr) -> Labels {
    let vs = match unparen(e) {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(m) => &m.vs,
        _ => return Labels::default(),
    };
    let mut out = Labels::default();
    let mut dropped = Vec::new();
    for m in matchers_of(vs) {
        if m.name == METRIC_NAME {
            continue;
        }
        if matches!(m.op, MatchOp::Equal) && out.get(&m.name).is_none() {
            out.set(m.name.clone(), m.value.clone());
        } else {
            dropped.push(m.name.clone());
        }
    }
    for d in dropped {
        out.remove(&d);
    }
    out
}

fn label_name_ok(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

fn label_replace(ev: &Evaluator<'_>, c: &Call, t: i64) -> Result<Vec<Sample>, EvalError> {
    let dst = ev.string(arg(c, 1)?, t)?;
    let replacement = ev.string(arg(c, 2)?, t)?;
    let src = ev.string(arg(c, 3)?, t)?;
    let regex = ev.string(arg(c, 4)?, t)?;
    let re = regex::Regex::new(&format!("^(?:{regex})$")).map_err(|e| {
        EvalError::Other(format!(
            "invalid regular expression in label_replace(): {regex}: {e}"
        ))
    })?;
    if !label_name_ok(&dst) {
        return Err(EvalError::Other(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    let v = ev.vector(arg(c, 0)?, t)?;
    Ok(v.into_iter()
        .map(|mut s| {
            if let Some(caps) = re.captures(s.labels.value(&src)) {
                let mut out = String::new();
                caps.expand(&replacement, &mut out);
                s.labels.set(dst.clone(), out);
            }
            Sample { t, ..s }
        })
        .collect())
}

fn label_join(ev: &Evaluator<'_>, c: &Call, t: i64) -> Result<Vec<Sample>, EvalError> {
    let dst = ev.string(arg(c, 1)?, t)?;
    let sep = ev.string(arg(c, 2)?, t)?;
    let mut srcs = Vec::new();
    for e in c.args.args.iter().skip(3) {
        let s = ev.string(e, t)?;
        if !label_name_ok(&s) {
            return Err(EvalError::Other(format!(
                "invalid source label name in label_join(): {s}"
            )));
        }
        srcs.push(s);
    }
    if !label_name_ok(&dst) {
        return Err(EvalError::Other(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    let v = ev.vector(arg(c, 0)?, t)?;
    Ok(v.into_iter()
        .map(|mut s| {
            let joined: Vec<&str> = srcs.iter().map(|n| s.labels.value(n)).collect();
            let joined = joined.join(&sep);
            s.labels.set(dst.clone(), joined);
            Sample { t, ..s }
        })
        .collect())
}

/// Prometheus's `bucketQuantile` over classic `le` buckets, per series group without `le`.
fn histogram_quantile(q: f64, v: Vec<Sample>, t: i64) -> Vec<Sample> {
    let mut order: Vec<Labels> = Vec::new();
    let mut groups: std::collections::HashMap<Labels, Vec<(f64, f64)>, foldhash::fast::FixedState> =
        Default::default();
    for s in v {
        let Some(le) = s.labels.get("le").and_then(parse_go_float) else {
            continue;
        };
        let mut key = s.labels.without_name();
        key.remove("le");
        let entry = groups.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            Vec::new()
        });
        entry.push((le, s.v));
    }
    order
        .into_iter()
        .filter_map(|labels| {
            let mut buckets = groups.remove(&labels)?;
            Some(Sample {
                labels,
                t,
                v: bucket_quantile(q, &mut buckets),
            })
        })
        .collect()
}

/// Go's ParseFloat for `le` values: decimal, `+Inf`/`-Inf`/`Inf`, `NaN`, any case.
fn parse_go_float(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "+inf" | "inf" | "+infinity" | "infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        "nan" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

fn bucket_quantile(q: f64, buckets: &mut [(f64, f64)]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if !buckets.last().is_some_and(|b| b.0 == f64::INFINITY) {
        return f64::NAN;
    }
    // Buckets with the same bound (from different label sets) add up.
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for &(le, n) in buckets.iter() {
        match merged.last_mut() {
            Some(last) if last.0 == le => last.1 += n,
            _ => merged.push((le, n)),
        }
    }
    // Counts must not fall with the bound; a dip (scrape skew) is raised to the running max.
    let mut max = f64::NEG_INFINITY;
    for b in &mut merged {
        if b.1 > max {
            max = b.1;
        } else if b.1 < max {
            b.1 = max;
        }
    }
    if merged.len() < 2 {
        return f64::NAN;
    }
    let observations = merged.last().map(|b| b.1).unwrap_or(0.0);
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let n = merged.len();
    let b = merged
        .get(..n - 1)
        .unwrap_or_default()
        .partition_point(|x| x.1 < rank);
    if b == n - 1 {
        return merged.get(n - 2).map(|x| x.0).unwrap_or(f64::NAN);
    }
    if b == 0 && merged.first().is_some_and(|x| x.0 <= 0.0) {
        return merged.first().map(|x| x.0).unwrap_or(f64::NAN);
    }
    let (end, mut count) = merged.get(b).copied().unwrap_or((f64::NAN, f64::NAN));
    let mut start = 0.0;
    if b > 0
        && let Some(prev) = merged.get(b - 1)
    {
        start = prev.0;
        count -= prev.1;
        rank -= prev.1;
    }
    start + (end - start) * (rank / count)
}

fn range_function(ev: &Evaluator<'_>, c: &Call, t: i64) -> Result<Vec<Sample>, EvalError> {
    let name = c.func.name;
    // quantile_over_time takes its scalar first; predict_linear second.
    let (range_arg, scalar) = match name {
        "quantile_over_time" => (arg(c, 1)?, Some(ev.scalar(arg(c, 0)?, t)?)),
        "predict_linear" => (arg(c, 0)?, Some(ev.scalar(arg(c, 1)?, t)?)),
        _ => (arg(c, 0)?, None),
    };
    // The common case, a function of a plain matrix selector: each window is reduced where
    // it lies, without copying it out of the source first.
    if let Expr::MatrixSelector(m) = unparen(range_arg)
        && name != "absent_over_time"
    {
        let scalar = scalar.unwrap_or(f64::NAN);
        let mut out = Vec::new();
        let mut first_name: Option<Option<String>> = None;
        let mut one = true;
        let (range_ms, end) = ev.matrix_window(m, t);
        let window = Range {
            series: Vec::new(),
            range_ms,
            end,
        };
        ev.matrix_each(m, t, &mut |labels, points| {
            let n = labels.metric_name();
            match &first_name {
                None => first_name = Some(n.map(str::to_string)),
                Some(f) if f.as_deref() != n => one = false,
                Some(_) => {}
            }
            let Some(v) = over_range(name, points, &window, t, scalar) else {
                return;
            };
            let labels = if name == "last_over_time" {
                labels.clone()
            } else {
                labels.without_name()
            };
            out.push(Sample { labels, t, v });
        });
        if !one {
            check_unique(&out)?;
        }
        return Ok(out);
    }
    let range = ev.eval_range(range_arg, t)?;
    if name == "absent_over_time" {
        if range.series.is_empty() {
            return Ok(vec![Sample {
                labels: absent_labels(range_arg),
                t,
                v: 1.0,
            }]);
        }
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(range.series.len());
    for s in &range.series {
        let Some(v) = over_range(name, &s.points, &range, t, scalar.unwrap_or(f64::NAN)) else {
            continue;
        };
        let labels = if name == "last_over_time" {
            s.labels.clone()
        } else {
            s.labels.without_name()
        };
        out.push(Sample { labels, t, v });
    }
    if !one_name(range.series.iter().map(|s| &s.labels)) {
        check_unique(&out)?;
    }
    Ok(out)
}

/// One series' value for a range function; `None` drops the series (too few points).
fn over_range(name: &str, p: &[(i64, f64)], r: &Range, t: i64, scalar: f64) -> Option<f64> {
    let first = *p.first()?;
    let last = *p.last()?;
    Some(match name {
        "rate" => extrapolated(p, r, true, true)?,
        "increase" => extrapolated(p, r, true, false)?,
        "delta" => extrapolated(p, r, false, false)?,
        "irate" | "idelta" => {
            let [.., prev, last] = p else {
                return None;
            };
            let is_rate = name == "irate";
            let v = if is_rate && last.1 < prev.1 {
                last.1
            } else {
                last.1 - prev.1
            };
            let dt = last.0 - prev.0;
            if dt == 0 {
                return None;
            }
            if is_rate { v / (dt as f64 / 1000.0) } else { v }
        }
        "deriv" => {
            if p.len() < 2 {
                return None;
            }
            linear_regression(p, first.0).0
        }
        "predict_linear" => {
            if p.len() < 2 {
                return None;
            }
            let (slope, intercept) = linear_regression(p, t);
            slope * scalar + intercept
        }
        "changes" => p
            .windows(2)
            .filter(|w| w[1].1 != w[0].1 && !(w[1].1.is_nan() && w[0].1.is_nan()))
            .count() as f64,
        "resets" => p.windows(2).filter(|w| w[1].1 < w[0].1).count() as f64,
        "avg_over_time" => {
            let (mut mean, mut count, mut c) = (0.0f64, 0.0f64, 0.0f64);
            for &(_, v) in p {
                count += 1.0;
                if mean.is_infinite() {
                    if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                        continue;
                    }
                    if !v.is_infinite() && !v.is_nan() {
                        continue;
                    }
                }
                (mean, c) = kahan_inc(v / count - mean / count, mean, c);
            }
            if mean.is_infinite() { mean } else { mean + c }
        }
        "sum_over_time" => {
            let (mut sum, mut c) = (0.0, 0.0);
            for &(_, v) in p {
                (sum, c) = kahan_inc(v, sum, c);
            }
            if f64::is_infinite(sum) { sum } else { sum + c }
        }
        "min_over_time" => p.iter().fold(
            first.1,
            |m, &(_, v)| {
                if v < m || m.is_nan() { v } else { m }
            },
        ),
        "max_over_time" => p.iter().fold(
            first.1,
            |m, &(_, v)| {
                if v > m || m.is_nan() { v } else { m }
            },
        ),
        "count_over_time" => p.len() as f64,
        "last_over_time" => last.1,
        "present_over_time" => 1.0,
        "quantile_over_time" => {
            let mut values: Vec<f64> = p.iter().map(|x| x.1).collect();
            quantile(scalar, &mut values)
        }
        "stddev_over_time" | "stdvar_over_time" => {
            let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for &(_, v) in p {
                count += 1.0;
                let delta = v - (mean + c_mean);
                (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
                (aux, c_aux) = kahan_inc(delta * (v - (mean + c_mean)), aux, c_aux);
            }
            let var = (aux + c_aux) / count;
            if name == "stddev_over_time" {
                var.sqrt()
            } else {
                var
            }
        }
        _ => return None,
    })
}

/// Prometheus's `extrapolatedRate`: the change over the samples, counter resets added back,
/// extrapolated towards the window's edges (not past a counter's zero point), per second for
/// `rate`.
fn extrapolated(p: &[(i64, f64)], r: &Range, counter: bool, per_second: bool) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let first = *p.first()?;
    let last = *p.last()?;
    let range_start = r.end - r.range_ms;
    let range_end = r.end;
    let mut result = last.1 - first.1;
    if counter {
        let mut prev = 0.0;
        for &(_, v) in p {
            if v < prev {
                result += prev;
            }
            prev = v;
        }
    }
    let mut to_start = (first.0 - range_start) as f64 / 1000.0;
    let to_end = (range_end - last.0) as f64 / 1000.0;
    let sampled = (last.0 - first.0) as f64 / 1000.0;
    let avg_step = sampled / (p.len() - 1) as f64;
    if counter && result > 0.0 && first.1 >= 0.0 {
        let to_zero = sampled * (first.1 / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = avg_step * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        avg_step / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        avg_step / 2.0
    };
    // Prometheus 2.x folds the per-second division into the factor before multiplying; the
    // order changes the last bit, and results must equal Prometheus's exactly.
    let mut factor = interval / sampled;
    if per_second {
        factor /= r.range_ms as f64 / 1000.0;
    }
    Some(result * factor)
}

/// Least-squares slope and intercept (at `intercept_t`), with compensated sums as Prometheus.
fn linear_regression(p: &[(i64, f64)], intercept_t: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy, mut sxy, mut cxy, mut sx2, mut cx2) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let init_y = p.first().map(|x| x.1).unwrap_or(f64::NAN);
    let mut const_y = true;
    for (i, &(pt, v)) in p.iter().enumerate() {
        if const_y && i > 0 && v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (pt - intercept_t) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(v, sy, cy);
        (sxy, cxy) = kahan_inc(x * v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}
