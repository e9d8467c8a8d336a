//! The collect tests, one binary: each file is a module (ripgrep's tests/tests.rs layout), so
//! the suite links one executable per area instead of one per file.

mod exporter;
mod http;
mod http_tls;
mod icmp;
mod limits;
mod scheduler;
mod snmp;
mod snmp_crafted;
#[path = "../support/mod.rs"]
mod support;
#[path = "../support_net/mod.rs"]
mod support_net;
#[path = "../support_snmp/mod.rs"]
mod support_snmp;
mod tcp;
