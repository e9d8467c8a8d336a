//! Refuses, before anything runs, the PromQL constructs the evaluator does not implement
//! (functions outside its list, `limitk`, Prometheus 3's `or` inside braces and fill
//! modifiers), naming the construct. Must not evaluate anything.

use promql_parser::parser::Expr;
use promql_parser::parser::token::{T_LIMIT_RATIO, T_LIMITK};

use super::funcs::{INSTANT_FUNCTIONS, RANGE_FUNCTIONS};

/// A construct nocscope does not evaluate; the message names it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not supported by nocscope's evaluator")]
pub struct Unsupported(pub String);

pub fn check_supported(e: &Expr) -> Result<(), Unsupported> {
    match e {
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => Ok(()),
        Expr::Paren(p) => check_supported(&p.expr),
        Expr::Unary(u) => check_supported(&u.expr),
        Expr::VectorSelector(vs) => {
            if vs.matchers.or_matchers.is_empty() {
                Ok(())
            } else {
                Err(Unsupported("`or` between matchers inside braces".into()))
            }
        }
        Expr::MatrixSelector(m) => check_supported(&Expr::VectorSelector(m.vs.clone())),
        Expr::Subquery(s) => check_supported(&s.expr),
        Expr::Binary(b) => {
            if let Some(m) = &b.modifier
                && (m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some())
            {
                return Err(Unsupported("the `fill` modifier".into()));
            }
            check_supported(&b.lhs)?;
            check_supported(&b.rhs)
        }
        Expr::Aggregate(a) => {
            let id = a.op.id();
            if id == T_LIMITK || id == T_LIMIT_RATIO {
                return Err(Unsupported(format!("the `{}` aggregation", a.op)));
            }
            if let Some(p) = &a.param {
                check_supported(p)?;
            }
            check_supported(&a.expr)
        }
        Expr::Call(c) => {
            let name = c.func.name;
            if !RANGE_FUNCTIONS.contains(&name) && !INSTANT_FUNCTIONS.contains(&name) {
                return Err(Unsupported(format!("the function {name}()")));
            }
            c.args.args.iter().try_for_each(|a| check_supported(a))
        }
        Expr::Extension(_) => Err(Unsupported("an extension expression".into())),
    }
}
