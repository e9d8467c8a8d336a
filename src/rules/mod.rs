//! Alerting and recording rules as Prometheus defines them: rule files (groups, `interval`,
//! `record`/`alert`, `for`, `keep_firing_for`, labels, annotations) read with file:line:col
//! problems, Go templates for labels and annotations, the alert state machine, group
//! evaluation over a [`crate::promql::Source`], and promtool's unit-test format. Pure: time is
//! an argument and files arrive as text; it must not read a clock, the network or the store.

pub mod duration;
pub mod eval;
pub mod file;
pub mod template;
pub mod unittest;
