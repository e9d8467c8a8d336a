//! Aggregation operators (`sum avg min max count group stddev stdvar topk bottomk quantile
//! count_values`) with `by`/`without`, computed the way Prometheus does (its running mean, its
//! Welford variance, its heap for `topk`) so results and tie-breaks agree with it.

use std::collections::HashMap;

use promql_parser::parser::token::{
    T_AVG, T_BOTTOMK, T_COUNT, T_COUNT_VALUES, T_GROUP, T_MAX, T_MIN, T_QUANTILE, T_STDDEV,
    T_STDVAR, T_SUM, T_TOPK, TokenId,
};
use promql_parser::parser::{AggregateExpr, LabelModifier};

use super::eval::{EvalError, Evaluator};
use super::labels::Labels;
use super::value::{Sample, Value, go_float_f};

/// Prometheus's `quantile` over values: linear interpolation between closest ranks, NaN sorted
/// first, −Inf/+Inf outside [0, 1].
pub(super) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    let at = |i: f64| values.get(i as usize).copied().unwrap_or(f64::NAN);
    at(lower) * (1.0 - weight) + at(upper) * weight
}

struct Group {
    labels: Labels,
    value: f64,
    mean: f64,
    count: u64,
    /// topk/bottomk: a binary heap in Go's container/heap layout.
    heap: Vec<Sample>,
    values: Vec<f64>,
}

fn valid_label_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

pub(super) fn eval(ev: &Evaluator<'_>, a: &AggregateExpr, t: i64) -> Result<Value, EvalError> {
    let op = a.op.id();
    let mut input = ev.vector(&a.expr, t)?;
    let mut k: i64 = 0;
    let mut q = 0.0;
    match op {
        T_TOPK | T_BOTTOMK => {
            let p = a
                .param
                .as_ref()
                .map(|p| ev.scalar(p, t))
                .transpose()?
                .unwrap_or(f64::NAN);
            if !(p.is_finite() && p.abs() < 9.2e18) {
                return Err(EvalError::Other(format!(
                    "Scalar value {p} overflows int64"
                )));
            }
            k = p as i64;
            if k < 1 {
                return Ok(Value::Vector(Vec::new()));
            }
        }
        T_QUANTILE => {
            q = a
                .param
                .as_ref()
                .map(|p| ev.scalar(p, t))
                .transpose()?
                .unwrap_or(f64::NAN);
        }
        T_COUNT_VALUES => {
            let label = a
                .param
                .as_ref()
                .map(|p| ev.string(p, t))
                .transpose()?
                .unwrap_or_default();
            if !valid_label_name(&label) {
                return Err(EvalError::InvalidLabelName(label));
            }
            for s in &mut input {
                s.labels.set(label.clone(), go_float_f(s.v));
            }
            // The value label joins the grouping: `by` lists it, `without` keeps it anyway.
            let modifier = match &a.modifier {
                Some(LabelModifier::Include(l)) => {
                    let mut l = l.clone();
                    l.labels.push(label.clone());
                    Some(LabelModifier::Include(l))
                }
                None => Some(LabelModifier::Include(promql_parser::label::Labels::new(
                    vec![label.as_str()],
                ))),
                other => other.clone(),
            };
            return Ok(Value::Vector(groups(op, input, &modifier, t, 0, 0.0)));
        }
        _ => {}
    }
    Ok(Value::Vector(groups(op, input, &a.modifier, t, k, q)))
}

fn key_labels(labels: &Labels, modifier: &Option<LabelModifier>) -> Labels {
    match modifier {
        Some(LabelModifier::Include(l)) => labels.keep(&l.labels),
        Some(LabelModifier::Exclude(l)) => labels.drop_with_name(&l.labels),
        None => Labels::default(),
    }
}

/// Go's container/heap `up` with the given "less".
fn heap_up(h: &mut [Sample], mut j: usize, less: &dyn Fn(&Sample, &Sample) -> bool) {
    while j > 0 {
        let i = (j - 1) / 2;
        if !less(&h[j], &h[i]) {
            break;
        }
        h.swap(i, j);
        j = i;
    }
}

/// Go's container/heap `down`; true when the element moved.
fn heap_down(h: &mut [Sample], i0: usize, less: &dyn Fn(&Sample, &Sample) -> bool) -> bool {
    let n = h.len();
    let mut i = i0;
    loop {
        let j1 = 2 * i + 1;
        if j1 >= n {
            break;
        }
        let mut j = j1;
        let j2 = j1 + 1;
        if j2 < n && less(&h[j2], &h[j1]) {
            j = j2;
        }
        if !less(&h[j], &h[i]) {
            break;
        }
        h.swap(i, j);
        i = j;
    }
    i > i0
}

fn groups(
    op: TokenId,
    input: Vec<Sample>,
    modifier: &Option<LabelModifier>,
    t: i64,
    k: i64,
    q: f64,
) -> Vec<Sample> {
    // topk keeps a min-heap of the k largest, bottomk a max-heap of the k smallest; NaN is
    // "less" in both, so it is the first thing evicted.
    let top_less = |a: &Sample, b: &Sample| a.v.is_nan() || a.v < b.v;
    let bottom_less = |a: &Sample, b: &Sample| a.v.is_nan() || a.v > b.v;
    let less: &dyn Fn(&Sample, &Sample) -> bool = if op == T_BOTTOMK {
        &bottom_less
    } else {
        &top_less
    };
    let k = usize::try_from(k).unwrap_or(usize::MAX);
    // Groups in the order they were first seen (Prometheus's output order), found by their
    // label set.
    let mut groups: Vec<Group> = Vec::new();
    let mut by_key: HashMap<Labels, usize, foldhash::fast::FixedState> = HashMap::default();
    for s in input {
        let labels = key_labels(&s.labels, modifier);
        let Some(g) = by_key.get(&labels).and_then(|&i| groups.get_mut(i)) else {
            by_key.insert(labels.clone(), groups.len());
            let mut g = Group {
                labels,
                value: s.v,
                mean: s.v,
                count: 1,
                heap: Vec::new(),
                values: Vec::new(),
            };
            match op {
                T_GROUP => g.value = 1.0,
                T_STDDEV | T_STDVAR => g.value = 0.0,
                T_COUNT | T_COUNT_VALUES => g.value = 1.0,
                T_QUANTILE => g.values.push(s.v),
                T_TOPK | T_BOTTOMK => g.heap.push(s),
                _ => {}
            }
            groups.push(g);
            continue;
        };
        match op {
            T_SUM => g.value += s.v,
            T_AVG => {
                g.count += 1;
                let n = g.count as f64;
                if g.mean.is_infinite() {
                    if s.v.is_infinite() && (g.mean > 0.0) == (s.v > 0.0) {
                        continue;
                    }
                    if !s.v.is_infinite() && !s.v.is_nan() {
                        continue;
                    }
                }
                // Dividing each side first keeps large values from overflowing.
                g.mean += s.v / n - g.mean / n;
            }
            T_GROUP => {}
            T_COUNT | T_COUNT_VALUES => g.value += 1.0,
            T_MAX if g.value < s.v || g.value.is_nan() => g.value = s.v,
            T_MIN if g.value > s.v || g.value.is_nan() => g.value = s.v,
            T_STDDEV | T_STDVAR => {
                g.count += 1;
                let delta = s.v - g.mean;
                g.mean += delta / g.count as f64;
                g.value += delta * (s.v - g.mean);
            }
            T_TOPK | T_BOTTOMK => {
                if g.heap.len() < k {
                    g.heap.push(s);
                    let last = g.heap.len() - 1;
                    heap_up(&mut g.heap, last, less);
                } else if let Some(top) = g.heap.first() {
                    let replace = if op == T_TOPK {
                        top.v < s.v || (top.v.is_nan() && !s.v.is_nan())
                    } else {
                        top.v > s.v || (top.v.is_nan() && !s.v.is_nan())
                    };
                    if replace {
                        g.heap[0] = s;
                        if k > 1 && !heap_down(&mut g.heap, 0, less) {
                            heap_up(&mut g.heap, 0, less);
                        }
                    }
                }
            }
            T_QUANTILE => g.values.push(s.v),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for mut g in groups {
        let v = match op {
            T_AVG => g.mean,
            T_STDVAR => g.value / g.count as f64,
            T_STDDEV => (g.value / g.count as f64).sqrt(),
            T_QUANTILE => quantile(q, &mut g.values),
            T_TOPK | T_BOTTOMK => {
                let mut heap = std::mem::take(&mut g.heap);
                // Best first, as Prometheus's sort.Reverse of the heap gives them.
                heap.sort_by(|a, b| {
                    if less(b, a) {
                        std::cmp::Ordering::Less
                    } else if less(a, b) {
                        std::cmp::Ordering::Greater
                    } else {
                        std::cmp::Ordering::Equal
                    }
                });
                out.extend(heap.into_iter().map(|s| Sample { t, ..s }));
                continue;
            }
            _ => g.value,
        };
        out.push(Sample {
            labels: g.labels,
            t,
            v,
        });
    }
    out
}
