//! Collectors: poll targets on their schedules and turn what crossed the wire into
//! `Observation`s. Owns timeouts, size caps and scheduling; must not touch engine state,
//! the store or the UI.

pub mod exporter;
pub mod http;
pub mod icmp;
pub mod scheduler;
pub mod snmp;
pub mod tcp;
