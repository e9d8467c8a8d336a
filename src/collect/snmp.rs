//! SNMP poller: a wrapper around snmp2 that adds what it lacks — per-request timeouts,
//! retries, session recreation after a timeout or id mismatch, GETBULK/GETNEXT walks with the
//! OID-increasing check, truncation detection and named errors. Returns raw varbinds; turning
//! them into series is the engine's job.

use crate::config::{SnmpTarget, Target};
use crate::model::SnmpPoll;

/// One device's SNMP state (its session survives between polls; a broken one is recreated).
pub struct SnmpPoller {
    _private: (),
}

impl SnmpPoller {
    pub fn new(target: &Target, snmp: &SnmpTarget) -> SnmpPoller {
        let _ = (target, snmp);
        todo!("snmp helper")
    }

    /// Poll every configured profile and custom OID once, within the target's deadline.
    pub async fn poll(&mut self) -> SnmpPoll {
        todo!("snmp helper")
    }
}
