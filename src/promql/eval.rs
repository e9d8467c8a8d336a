//! The evaluator: walks a parsed expression at one instant, reading series through a
//! [`Source`]. Selectors, offsets, `@`, subqueries and dispatch live here; operators,
//! aggregations and functions have their own files. Never reads a clock.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{
    AtModifier, Expr, MatrixSelector, Offset, SubqueryExpr, VectorSelector,
};

use super::labels::{Labels, METRIC_NAME};
use super::memo::Memo;
use super::value::{EachWindow, Sample, Series, Source, Value, is_stale};
use super::{aggr, binop, funcs, ms};

/// What a query needs besides the expression and the time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvalOptions {
    /// How far back an instant selector looks for a sample (Prometheus: 5 minutes).
    pub lookback_ms: i64,
    /// The step of a subquery written without one (Prometheus: the global evaluation interval).
    pub default_step_ms: i64,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            lookback_ms: 5 * 60 * 1000,
            default_step_ms: 60 * 1000,
        }
    }
}

/// Why a query failed at run time. The messages are Prometheus's own where it has one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("vector cannot contain metrics with the same labelset")]
    DuplicateLabelset,
    #[error(
        "found duplicate series for the match group {group} on the {side} hand-side of the operation: [{a}, {b}];many-to-many matching not allowed: matching labels must be unique on one side"
    )]
    ManyToMany {
        group: String,
        side: &'static str,
        a: String,
        b: String,
    },
    #[error(
        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
    )]
    ImplicitManyToOne,
    #[error("multiple matches for labels: grouping labels must ensure unique matches")]
    GroupingNotUnique,
    #[error("invalid label name {0:?}")]
    InvalidLabelName(String),
    #[error("{0}")]
    Other(String),
}

/// Evaluate `expr` as an instant query at `t` (milliseconds since the epoch).
pub fn instant(
    expr: &Expr,
    source: &dyn Source,
    t: i64,
    opts: &EvalOptions,
) -> Result<Value, EvalError> {
    instant_memo(expr, source, t, opts, None)
}

/// [`instant`], reusing the values of subexpressions `memo` knows that were already
/// evaluated at this instant (by another rule). The result is the same either way.
pub fn instant_memo(
    expr: &Expr,
    source: &dyn Source,
    t: i64,
    opts: &EvalOptions,
    memo: Option<&Memo>,
) -> Result<Value, EvalError> {
    let ev = Evaluator {
        source,
        opts,
        query_time: t,
        memo,
    };
    ev.eval(expr, t)
}

/// A range-vector argument: its series (points inside the window) and the window itself,
/// which `rate` and friends extrapolate to.
pub(super) struct Range {
    pub series: Vec<Series>,
    /// Window length.
    pub range_ms: i64,
    /// Window end (after `offset` and `@`).
    pub end: i64,
}

pub(super) struct Evaluator<'a> {
    source: &'a dyn Source,
    pub opts: &'a EvalOptions,
    /// The query's own time: what `@ start()` and `@ end()` mean for an instant query.
    query_time: i64,
    memo: Option<&'a Memo>,
}

pub(super) fn system_time_ms(t: &SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => ms(d),
        Err(e) => -ms(e.duration()),
    }
}

fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => ms(*d),
        Some(Offset::Neg(d)) => -ms(*d),
    }
}

/// The selector's matchers, its metric name included as a `__name__` matcher.
pub(super) fn matchers_of(vs: &VectorSelector) -> Vec<Matcher> {
    let mut out = Vec::with_capacity(vs.matchers.matchers.len() + 1);
    if let Some(name) = &vs.name {
        out.push(Matcher::new(MatchOp::Equal, METRIC_NAME, name));
    }
    out.extend(vs.matchers.matchers.iter().cloned());
    out
}

/// Whether every label set carries the same metric name (or none does). Evaluation keeps
/// each vector's label sets distinct, so when this holds for an input, dropping the name
/// from each cannot make two equal, and the duplicate check can be skipped: it hashes every
/// label of every sample, the largest cost of a `rate` over many series.
pub(super) fn one_name<'a>(labels: impl IntoIterator<Item = &'a Labels>) -> bool {
    let mut it = labels.into_iter();
    let Some(first) = it.next() else {
        return true;
    };
    let name = first.metric_name();
    it.all(|l| l.metric_name() == name)
}

/// Labels equal to the duplicate check Prometheus runs on every function and operator output.
pub(super) fn check_unique(v: &[Sample]) -> Result<(), EvalError> {
    if v.len() < 2 {
        return Ok(());
    }
    // Hashing each label set once beats sorting them (a comparison per step, each a string
    // compare per label); this runs on every function and operator result.
    let mut seen: std::collections::HashSet<&Labels, foldhash::fast::FixedState> =
        std::collections::HashSet::with_capacity_and_hasher(v.len(), Default::default());
    for s in v {
        if !seen.insert(&s.labels) {
            return Err(EvalError::DuplicateLabelset);
        }
    }
    Ok(())
}

impl Evaluator<'_> {
    fn reference(&self, t: i64, offset: &Option<Offset>, at: &Option<AtModifier>) -> i64 {
        let base = match at {
            None => t,
            Some(AtModifier::Start) | Some(AtModifier::End) => self.query_time,
            Some(AtModifier::At(st)) => system_time_ms(st),
        };
        base - offset_ms(offset)
    }

    pub fn eval(&self, e: &Expr, t: i64) -> Result<Value, EvalError> {
        let Some((memo, id)) = self.memo.and_then(|m| Some((m, m.id(e)?))) else {
            return self.eval_node(e, t);
        };
        let key = (id, t, self.query_time);
        if let Some(v) = memo.get(key) {
            return Ok(v);
        }
        let v = self.eval_node(e, t)?;
        memo.put(key, &v);
        Ok(v)
    }

    fn eval_node(&self, e: &Expr, t: i64) -> Result<Value, EvalError> {
        match e {
            Expr::NumberLiteral(n) => Ok(Value::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Value::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, t),
            Expr::Unary(u) => match self.eval(&u.expr, t)? {
                Value::Scalar(v) => Ok(Value::Scalar(-v)),
                Value::Vector(v) => Ok(Value::Vector(
                    v.into_iter()
                        .map(|s| Sample {
                            labels: s.labels.without_name(),
                            t: s.t,
                            v: -s.v,
                        })
                        .collect(),
                )),
                other => Err(EvalError::Other(format!(
                    "unary expression only allowed on expressions of type scalar or instant vector, got {:?}",
                    other.type_name()
                ))),
            },
            Expr::VectorSelector(vs) => Ok(Value::Vector(
                self.select_instant(vs, t)
                    .into_iter()
                    .map(|(labels, _, v)| Sample { labels, t, v })
                    .collect(),
            )),
            Expr::MatrixSelector(_) | Expr::Subquery(_) => {
                Ok(Value::Matrix(self.eval_range(e, t)?.series))
            }
            Expr::Binary(b) => binop::eval(self, b, t),
            Expr::Aggregate(a) => aggr::eval(self, a, t),
            Expr::Call(c) => funcs::eval(self, c, t),
            Expr::Extension(_) => Err(EvalError::Other(
                "extension expressions are not PromQL".into(),
            )),
        }
    }

    /// Evaluate to an instant vector (a scalar where Prometheus's types allow one is an error
    /// the parser already caught; this is the last line).
    pub fn vector(&self, e: &Expr, t: i64) -> Result<Vec<Sample>, EvalError> {
        match self.eval(e, t)? {
            Value::Vector(v) => Ok(v),
            other => Err(EvalError::Other(format!(
                "expected an instant vector, got {}",
                other.type_name()
            ))),
        }
    }

    pub fn scalar(&self, e: &Expr, t: i64) -> Result<f64, EvalError> {
        match self.eval(e, t)? {
            Value::Scalar(v) => Ok(v),
            other => Err(EvalError::Other(format!(
                "expected a scalar, got {}",
                other.type_name()
            ))),
        }
    }

    pub fn string(&self, e: &Expr, t: i64) -> Result<String, EvalError> {
        match self.eval(e, t)? {
            Value::String(s) => Ok(s),
            other => Err(EvalError::Other(format!(
                "expected a string, got {}",
                other.type_name()
            ))),
        }
    }

    /// The newest sample of every selected series within the lookback window, unless that
    /// sample is a staleness marker: (labels, the sample's own time, value).
    pub fn select_instant(&self, vs: &VectorSelector, t: i64) -> Vec<(Labels, i64, f64)> {
        let reference = self.reference(t, &vs.offset, &vs.at);
        let matchers = matchers_of(vs);
        self.source
            .select_last(&matchers, reference - self.opts.lookback_ms, reference)
            .into_iter()
            .filter(|(_, _, v)| !is_stale(*v))
            .collect()
    }

    /// A matrix selector's window at `t`: (length, end), after `offset` and `@`.
    pub fn matrix_window(&self, m: &MatrixSelector, t: i64) -> (i64, i64) {
        (ms(m.range), self.reference(t, &m.vs.offset, &m.vs.at))
    }

    /// A matrix selector's windows without copying them: `f` gets each series' points with
    /// stale markers dropped (a window with none left is skipped).
    pub fn matrix_each(&self, m: &MatrixSelector, t: i64, f: &mut EachWindow<'_>) {
        let (range_ms, end) = self.matrix_window(m, t);
        let matchers = matchers_of(&m.vs);
        let mut fresh: Vec<(i64, f64)> = Vec::new();
        self.source
            .select_each(&matchers, end - range_ms, end, &mut |labels, points| {
                if points.iter().any(|p| is_stale(p.1)) {
                    fresh.clear();
                    fresh.extend(points.iter().filter(|p| !is_stale(p.1)));
                    if !fresh.is_empty() {
                        f(labels, &fresh);
                    }
                } else if !points.is_empty() {
                    f(labels, points);
                }
            });
    }

    /// A range vector: a matrix selector's raw points (stale markers dropped) or a
    /// subquery's evaluated steps.
    pub fn eval_range(&self, e: &Expr, t: i64) -> Result<Range, EvalError> {
        match e {
            Expr::Paren(p) => self.eval_range(&p.expr, t),
            Expr::MatrixSelector(m) => {
                let (range_ms, end) = self.matrix_window(m, t);
                let mut series = Vec::new();
                self.matrix_each(m, t, &mut |labels, points| {
                    series.push(Series {
                        labels: labels.clone(),
                        points: points.to_vec(),
                    })
                });
                Ok(Range {
                    series,
                    range_ms,
                    end,
                })
            }
            Expr::Subquery(sq) => self.subquery(sq, t),
            other => Err(EvalError::Other(format!(
                "expected a range vector, got {}",
                self.eval(other, t)?.type_name()
            ))),
        }
    }

    fn subquery(&self, sq: &SubqueryExpr, t: i64) -> Result<Range, EvalError> {
        let range_ms = ms(sq.range);
        let step = sq
            .step
            .map(ms)
            .filter(|s| *s > 0)
            .unwrap_or(self.opts.default_step_ms)
            .max(1);
        let end = self.reference(t, &sq.offset, &sq.at);
        let from = end - range_ms;
        // Steps sit on multiples of the step (absolute time), from the first one inside the
        // window, so a subquery gives the same points whatever time it is evaluated at.
        let mut ts = from.div_euclid(step) * step;
        if ts < from {
            ts += step;
        }
        let mut by_labels: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
        let mut order: Vec<Labels> = Vec::new();
        while ts <= end {
            for s in self.vector(&sq.expr, ts)? {
                let points = by_labels.entry(s.labels.clone()).or_insert_with(|| {
                    order.push(s.labels.clone());
                    Vec::new()
                });
                points.push((ts, s.v));
            }
            ts += step;
        }
        let series = order
            .into_iter()
            .filter_map(|labels| {
                let points = by_labels.remove(&labels)?;
                Some(Series { labels, points })
            })
            .collect();
        Ok(Range {
            series,
            range_ms,
            end,
        })
    }
}
