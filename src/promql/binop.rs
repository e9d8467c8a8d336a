//! Binary operators: arithmetic, comparisons (filtering or `bool`), the set operators and
//! vector matching (`on`, `ignoring`, `group_left`, `group_right`) with Prometheus's
//! cardinality errors and result labels.

use std::collections::{HashMap, HashSet};

/// Matching hashes a signature per sample per side; a fast hasher matters here, and the
/// keys are our own strings, not an attacker's choice of collisions.
type Fast = foldhash::fast::FixedState;

use promql_parser::label::Labels as LabelList;
use promql_parser::parser::token::{
    T_ADD, T_ATAN2, T_DIV, T_EQLC, T_GTE, T_GTR, T_LAND, T_LOR, T_LSS, T_LTE, T_LUNLESS, T_MOD,
    T_MUL, T_NEQ, T_POW, T_SUB, TokenId,
};
use promql_parser::parser::{BinModifier, BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::eval::{EvalError, Evaluator, check_unique, one_name};
use super::labels::{Labels, METRIC_NAME};
use super::value::{Sample, Value};

fn names(l: &LabelList) -> Vec<String> {
    l.labels.clone()
}

pub(super) fn is_comparison(op: TokenId) -> bool {
    matches!(op, T_EQLC | T_NEQ | T_GTR | T_LSS | T_GTE | T_LTE)
}

fn is_set(op: TokenId) -> bool {
    matches!(op, T_LAND | T_LOR | T_LUNLESS)
}

/// Arithmetic drops the metric name; comparisons and set operators keep it.
fn drops_name(op: TokenId) -> bool {
    matches!(op, T_ADD | T_SUB | T_MUL | T_DIV | T_MOD | T_POW | T_ATAN2)
}

/// `(value, keep)`: arithmetic always keeps; a comparison keeps the left value when it holds.
fn elem(op: TokenId, l: f64, r: f64) -> (f64, bool) {
    match op {
        T_ADD => (l + r, true),
        T_SUB => (l - r, true),
        T_MUL => (l * r, true),
        T_DIV => (l / r, true),
        // Go's math.Mod and Rust's `%` agree: the result takes the dividend's sign.
        T_MOD => (l % r, true),
        T_POW => (l.powf(r), true),
        T_ATAN2 => (l.atan2(r), true),
        T_EQLC => (l, l == r),
        T_NEQ => (l, l != r),
        T_GTR => (l, l > r),
        T_LSS => (l, l < r),
        T_GTE => (l, l >= r),
        T_LTE => (l, l <= r),
        _ => (f64::NAN, false),
    }
}

pub(super) fn eval(ev: &Evaluator<'_>, b: &BinaryExpr, t: i64) -> Result<Value, EvalError> {
    let op = b.op.id();
    let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
    let lhs = ev.eval(&b.lhs, t)?;
    let rhs = ev.eval(&b.rhs, t)?;
    match (lhs, rhs) {
        (Value::Scalar(l), Value::Scalar(r)) => {
            let (v, keep) = elem(op, l, r);
            let v = if is_comparison(op) {
                if keep { 1.0 } else { 0.0 }
            } else {
                v
            };
            Ok(Value::Scalar(v))
        }
        (Value::Vector(l), Value::Scalar(r)) => {
            vector_scalar(op, l, r, false, return_bool).map(Value::Vector)
        }
        (Value::Scalar(l), Value::Vector(r)) => {
            vector_scalar(op, r, l, true, return_bool).map(Value::Vector)
        }
        (Value::Vector(l), Value::Vector(r)) => {
            let default = BinModifier {
                card: if is_set(op) {
                    VectorMatchCardinality::ManyToMany
                } else {
                    VectorMatchCardinality::OneToOne
                },
                matching: None,
                return_bool: false,
                fill_values: Default::default(),
            };
            let m = b.modifier.as_ref().unwrap_or(&default);
            let out = match op {
                T_LAND => set_and(l, r, m),
                T_LOR => set_or(l, r, m),
                T_LUNLESS => set_unless(l, r, m),
                _ => vector_vector(op, l, r, m, return_bool)?,
            };
            check_unique(&out)?;
            Ok(Value::Vector(out))
        }
        (l, r) => Err(EvalError::Other(format!(
            "binary expression must contain only scalar and instant vector types, got {} and {}",
            l.type_name(),
            r.type_name()
        ))),
    }
}

fn vector_scalar(
    op: TokenId,
    vec: Vec<Sample>,
    scalar: f64,
    scalar_left: bool,
    return_bool: bool,
) -> Result<Vec<Sample>, EvalError> {
    // A filter keeps distinct label sets distinct; only dropping names can merge two.
    let check = (drops_name(op) || return_bool) && !one_name(vec.iter().map(|s| &s.labels));
    let mut out = Vec::with_capacity(vec.len());
    for s in vec {
        let (l, r) = if scalar_left {
            (scalar, s.v)
        } else {
            (s.v, scalar)
        };
        let (mut v, keep) = elem(op, l, r);
        // A comparison always returns the vector's value, even when the scalar is on the left.
        if is_comparison(op) && scalar_left {
            v = r;
        }
        if return_bool {
            v = if keep { 1.0 } else { 0.0 };
        } else if !keep {
            continue;
        }
        let labels = if drops_name(op) || return_bool {
            s.labels.without_name()
        } else {
            s.labels
        };
        out.push(Sample { labels, t: s.t, v });
    }
    if check {
        check_unique(&out)?;
    }
    Ok(out)
}

/// How series are keyed for matching: `on(…)` keeps the listed labels, anything else drops the
/// `ignoring(…)` labels and the metric name.
fn sig_fn(m: &BinModifier) -> (bool, Vec<String>) {
    match &m.matching {
        Some(LabelModifier::Include(l)) => (true, names(l)),
        Some(LabelModifier::Exclude(l)) => (false, names(l)),
        None => (false, Vec::new()),
    }
}

fn set_and(l: Vec<Sample>, r: Vec<Sample>, m: &BinModifier) -> Vec<Sample> {
    if l.is_empty() || r.is_empty() {
        return Vec::new();
    }
    let (on, names) = sig_fn(m);
    let right: HashSet<String, Fast> = r.iter().map(|s| s.labels.signature(on, &names)).collect();
    l.into_iter()
        .filter(|s| right.contains(&s.labels.signature(on, &names)))
        .collect()
}

fn set_or(l: Vec<Sample>, r: Vec<Sample>, m: &BinModifier) -> Vec<Sample> {
    if l.is_empty() {
        return r;
    }
    if r.is_empty() {
        return l;
    }
    let (on, names) = sig_fn(m);
    let left: HashSet<String, Fast> = l.iter().map(|s| s.labels.signature(on, &names)).collect();
    let mut out = l;
    out.extend(
        r.into_iter()
            .filter(|s| !left.contains(&s.labels.signature(on, &names))),
    );
    out
}

fn set_unless(l: Vec<Sample>, r: Vec<Sample>, m: &BinModifier) -> Vec<Sample> {
    if l.is_empty() || r.is_empty() {
        return l;
    }
    let (on, names) = sig_fn(m);
    let right: HashSet<String, Fast> = r.iter().map(|s| s.labels.signature(on, &names)).collect();
    l.into_iter()
        .filter(|s| !right.contains(&s.labels.signature(on, &names)))
        .collect()
}

fn vector_vector(
    op: TokenId,
    lhs: Vec<Sample>,
    rhs: Vec<Sample>,
    m: &BinModifier,
    return_bool: bool,
) -> Result<Vec<Sample>, EvalError> {
    // Nothing can match, and Prometheus returns before it looks for duplicates on either
    // side (found by the property test against its VectorBinop).
    if lhs.is_empty() || rhs.is_empty() {
        return Ok(Vec::new());
    }
    let (on, match_names) = sig_fn(m);
    let (one_to_many, include) = match &m.card {
        VectorMatchCardinality::OneToMany(l) => (true, Some(names(l))),
        VectorMatchCardinality::ManyToOne(l) => (false, Some(names(l))),
        _ => (false, None),
    };
    let one_to_one = include.is_none();
    // The "one" side goes on the right; group_right swaps the operands.
    let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let mut right: HashMap<String, &Sample, Fast> =
        HashMap::with_capacity_and_hasher(one.len(), Fast::default());
    for s in &one {
        let sig = s.labels.signature(on, &match_names);
        if let Some(dup) = right.get(&sig) {
            let group = if on {
                s.labels.keep(&match_names)
            } else {
                s.labels.drop_with_name(&match_names)
            };
            return Err(EvalError::ManyToMany {
                group: group.to_string(),
                side: if one_to_many { "left" } else { "right" },
                a: s.labels.to_string(),
                b: dup.labels.to_string(),
            });
        }
        right.insert(sig, s);
    }
    let mut matched: HashMap<String, Option<Vec<Labels>>, Fast> = HashMap::default();
    let mut out = Vec::new();
    for ls in &many {
        let sig = ls.labels.signature(on, &match_names);
        let Some(rs) = right.get(&sig) else {
            continue;
        };
        let (vl, vr) = if one_to_many {
            (rs.v, ls.v)
        } else {
            (ls.v, rs.v)
        };
        let (mut v, keep) = elem(op, vl, vr);
        if return_bool {
            v = if keep { 1.0 } else { 0.0 };
        } else if !keep {
            continue;
        }
        let mut labels = ls.labels.clone();
        if drops_name(op) {
            labels.remove(METRIC_NAME);
        }
        if one_to_one {
            labels = if on {
                labels.keep(&match_names)
            } else {
                let mut l = labels.clone();
                for n in &match_names {
                    l.remove(n);
                }
                l
            };
        }
        if let Some(include) = &include {
            // Labels named in group_x(…) come from the "one" side.
            for n in include {
                labels.set(n.clone(), rs.labels.value(n).to_string());
            }
        }
        if return_bool {
            labels.remove(METRIC_NAME);
        }
        match matched.get_mut(&sig) {
            Some(_) if one_to_one => return Err(EvalError::ImplicitManyToOne),
            Some(Some(inserted)) => {
                if inserted.contains(&labels) {
                    return Err(EvalError::GroupingNotUnique);
                }
                inserted.push(labels.clone());
            }
            Some(None) => {}
            None => {
                matched.insert(sig, (!one_to_one).then(|| vec![labels.clone()]));
            }
        }
        out.push(Sample { labels, t: ls.t, v });
    }
    Ok(out)
}
