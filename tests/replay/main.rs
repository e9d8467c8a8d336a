//! The replay tests, one binary: each file is a module (ripgrep's tests/tests.rs layout), so
//! the suite links one executable per area instead of one per file.

mod cli;
mod format;
mod golden;
mod network_checks;
mod player;
mod roundtrip;
#[path = "../support/mod.rs"]
mod support;
#[path = "../support_snmp/mod.rs"]
mod support_snmp;
