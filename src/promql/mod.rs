//! PromQL over the console's own series: parsing (the `promql-parser` crate), a check that
//! refuses what we do not evaluate, and an evaluator with Prometheus's semantics (5-minute
//! lookback, staleness markers, `rate` extrapolation, vector matching). Pure: data comes in
//! through [`Source`], time as an argument; it must not read a clock, the store or the network.

mod aggr;
mod binop;
mod check;
mod eval;
mod funcs;
mod head;
mod labels;
mod memo;
mod reach;
mod value;

pub use check::{Unsupported, check_supported};
pub use eval::{EvalError, EvalOptions, instant, instant_memo};
pub use head::Head;
pub use labels::{Labels, go_quote};
pub use memo::Memo;
pub use reach::{Reach, reach};
pub use value::{MemSource, STALE_NAN, Sample, Series, Source, Value, go_float, is_stale};

pub use promql_parser::parser::Expr;

/// An expression the parser refused, with its message as the crate gives it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid PromQL: {0}")]
pub struct ParseError(pub String);

/// Parse an expression and refuse constructs the evaluator does not implement, so a rule
/// file fails at load instead of silently evaluating to nothing.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let expr = promql_parser::parser::parse(text).map_err(ParseError)?;
    check_supported(&expr).map_err(|u| ParseError(u.to_string()))?;
    Ok(expr)
}

/// Milliseconds of a `Duration` as PromQL counts them.
fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
