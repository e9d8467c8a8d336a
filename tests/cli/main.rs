//! The cli tests, one binary: each file is a module (ripgrep's tests/tests.rs layout), so
//! the suite links one executable per area instead of one per file.

mod check;
mod eval;
mod network_checks;
mod notify;
mod notify_dispatch;
#[path = "../support/mod.rs"]
mod support;
#[path = "../support_snmp/mod.rs"]
mod support_snmp;
mod train;
