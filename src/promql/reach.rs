//! What an expression can read: the metric names its selectors ask for (or "any", for a
//! selector without a fixed name) and how far back from the evaluation time it looks, so
//! the engine keeps exactly the series and the window its rules need. Reads the syntax tree
//! only; evaluates nothing.

use std::collections::BTreeSet;

use promql_parser::label::MatchOp;
use promql_parser::parser::{Expr, Offset};

use super::labels::METRIC_NAME;

/// Names and window an expression needs. `names == None` means any metric.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reach {
    pub names: Option<BTreeSet<String>>,
    /// Milliseconds before the evaluation time the oldest point read can be (offsets,
    /// ranges and subquery ranges added up, the 5-minute lookback not included).
    pub window_ms: i64,
}

fn off(o: &Option<Offset>) -> i64 {
    match o {
        Some(Offset::Pos(d)) => super::ms(*d),
        // A negative offset reads the future, which is never older.
        Some(Offset::Neg(_)) | None => 0,
    }
}

/// The reach of `e`.
pub fn reach(e: &Expr) -> Reach {
    let mut names = Some(BTreeSet::new());
    let window_ms = walk(e, &mut names);
    Reach { names, window_ms }
}

fn selector(vs: &promql_parser::parser::VectorSelector, names: &mut Option<BTreeSet<String>>) {
    let fixed = vs.name.clone().or_else(|| {
        vs.matchers
            .matchers
            .iter()
            .find(|m| m.name == METRIC_NAME && matches!(m.op, MatchOp::Equal))
            .map(|m| m.value.clone())
    });
    match (fixed, names.as_mut()) {
        (Some(n), Some(set)) => {
            set.insert(n);
        }
        (None, _) => *names = None,
        (Some(_), None) => {}
    }
}

fn walk(e: &Expr, names: &mut Option<BTreeSet<String>>) -> i64 {
    match e {
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => 0,
        Expr::Paren(p) => walk(&p.expr, names),
        Expr::Unary(u) => walk(&u.expr, names),
        Expr::VectorSelector(vs) => {
            selector(vs, names);
            off(&vs.offset)
        }
        Expr::MatrixSelector(m) => {
            selector(&m.vs, names);
            off(&m.vs.offset) + super::ms(m.range)
        }
        Expr::Subquery(s) => {
            // The inner expression runs at steps across the range; each step reads its own
            // window back from there.
            off(&s.offset) + super::ms(s.range) + walk(&s.expr, names)
        }
        Expr::Binary(b) => walk(&b.lhs, names).max(walk(&b.rhs, names)),
        Expr::Aggregate(a) => {
            let p = a.param.as_ref().map(|p| walk(p, names)).unwrap_or(0);
            p.max(walk(&a.expr, names))
        }
        Expr::Call(c) => c
            .args
            .args
            .iter()
            .map(|a| walk(a, names))
            .max()
            .unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(q: &str) -> Reach {
        reach(&promql_parser::parser::parse(q).unwrap())
    }

    #[test]
    fn names_and_windows() {
        let x = r("rate(a[5m] offset 1m) / on() group_left max_over_time(b[10m:1m])");
        assert_eq!(x.names, Some(["a".to_string(), "b".to_string()].into()));
        assert_eq!(x.window_ms, 600_000);
        let y = r("sum(rate(a[5m] offset 10m))");
        assert_eq!(y.window_ms, 900_000);
        assert_eq!(r("{job=\"x\"}").names, None);
        assert_eq!(
            r("{__name__=\"up\"} == 0").names,
            Some(["up".to_string()].into())
        );
        assert_eq!(r("vector(1)").names, Some(BTreeSet::new()));
    }
}
