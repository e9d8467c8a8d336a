//! Built-in alert rules and the alert state machine (Prometheus `for`/`keep_firing_for`
//! semantics, plus recovery thresholds for hysteresis). Pure: time comes in as arguments.

use crate::model::{AlertState, Millis, Severity};

/// What a rule looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// A polled target's last poll failed (one instance per target of that class).
    TargetDown(TargetClass),
    /// A host vital above a threshold.
    Above(VitalRef),
    /// Share of unanswered echo requests of an ICMP target, in percent.
    PingLoss,
    /// 1 while a checked TCP port is not open (one instance per port).
    PortClosed,
    /// 1 while an HTTP check fails: status outside the expected set, no response, body
    /// mismatch or a certificate that does not verify.
    HttpFailing,
    /// Days until a TLS certificate expires; fires BELOW the threshold.
    CertExpiry,
    /// 1 while an interface is administratively up but operationally down.
    InterfaceDown,
    /// Days until the vital's linear trend reaches 100 %; fires BELOW the threshold. Only
    /// `Mem` and `Disk` (the host's fullest disk) have forecasts.
    FillsWithin(VitalRef),
    /// 1 while a vital's anomaly score is over its model's threshold (one instance per vital).
    AnomalySustained,
}

/// Which targets a `TargetDown` rule watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetClass {
    Exporter,
    Snmp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VitalRef {
    Cpu,
    Mem,
    Swap,
    /// One instance per mount point.
    Disk,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub name: String,
    pub check: Check,
    /// Fires while the value is above this…
    pub threshold: f64,
    /// …and, once active, stays active until the value drops to or below this (hysteresis, like
    /// a Zabbix recovery expression), so a value hovering at the threshold does not flap.
    pub clear: f64,
    pub for_ms: i64,
    pub keep_firing_for_ms: i64,
    pub severity: Severity,
}

/// The defaults a sysadmin expects on day one. Issue #2: exporter down 2m → critical,
/// memory > 75% 2m → critical, > 60% 2m → minor, CPU > 80% 2m → critical, disk > 90% → major.
/// Issue #5: unreachable by ping (100% loss for 1m) → critical, loss > 20% → minor, TCP port
/// closed → major, HTTP status outside the expected set → major, certificate < 14 days →
/// minor, < 3 days → major, interface oper down while admin up → major, SNMP agent not
/// answering → critical.
pub fn default_rules() -> Vec<Rule> {
    const MIN: i64 = 60_000;
    let above = |name: &str, v, threshold, clear, for_ms, severity| Rule {
        name: name.to_string(),
        check: Check::Above(v),
        threshold,
        clear,
        for_ms,
        keep_firing_for_ms: 0,
        severity,
    };
    let flag = |name: &str, check, for_ms, severity| Rule {
        name: name.to_string(),
        check,
        threshold: 0.5,
        clear: 0.5,
        for_ms,
        keep_firing_for_ms: 0,
        severity,
    };
    vec![
        flag(
            "ExporterDown",
            Check::TargetDown(TargetClass::Exporter),
            2 * MIN,
            Severity::Critical,
        ),
        // The collector already retries each request, so one failed poll is a real silence.
        flag(
            "SnmpAgentDown",
            Check::TargetDown(TargetClass::Snmp),
            MIN,
            Severity::Critical,
        ),
        Rule {
            name: "HostUnreachable".to_string(),
            check: Check::PingLoss,
            threshold: 99.99,
            clear: 99.99,
            for_ms: MIN,
            keep_firing_for_ms: 0,
            severity: Severity::Critical,
        },
        Rule {
            name: "PingPacketLoss".to_string(),
            check: Check::PingLoss,
            threshold: 20.0,
            clear: 10.0,
            for_ms: 0,
            keep_firing_for_ms: 0,
            severity: Severity::Minor,
        },
        flag("TcpPortClosed", Check::PortClosed, 0, Severity::Major),
        flag("HttpCheckFailing", Check::HttpFailing, 0, Severity::Major),
        Rule {
            name: "CertificateExpiringSoon".to_string(),
            check: Check::CertExpiry,
            threshold: 14.0,
            clear: 14.0,
            for_ms: 0,
            keep_firing_for_ms: 0,
            severity: Severity::Minor,
        },
        Rule {
            name: "CertificateExpiring".to_string(),
            check: Check::CertExpiry,
            threshold: 3.0,
            clear: 3.0,
            for_ms: 0,
            keep_firing_for_ms: 0,
            severity: Severity::Major,
        },
        flag("InterfaceDown", Check::InterfaceDown, 0, Severity::Major),
        above(
            "HostCpuHigh",
            VitalRef::Cpu,
            80.0,
            75.0,
            2 * MIN,
            Severity::Critical,
        ),
        above(
            "HostMemoryCritical",
            VitalRef::Mem,
            75.0,
            72.0,
            2 * MIN,
            Severity::Critical,
        ),
        above(
            "HostMemoryHigh",
            VitalRef::Mem,
            60.0,
            57.0,
            2 * MIN,
            Severity::Minor,
        ),
        above(
            "HostDiskFull",
            VitalRef::Disk,
            90.0,
            88.0,
            0,
            Severity::Major,
        ),
        // node-mixin's NodeFilesystemSpaceFillingUp: predict_linear over 6 h, 24 h ahead, held
        // for 1 h. The hour is what keeps a burst of writes (a backup, a log storm) that the
        // trend briefly extrapolates to "full tomorrow" from paging anyone; the 6 h window of
        // the forecast means the trend itself moves slowly. Clears at 1.5 days so a forecast
        // wobbling around 24 h does not flap.
        Rule {
            name: "DiskFillsSoon".to_string(),
            check: Check::FillsWithin(VitalRef::Disk),
            threshold: 1.0,
            clear: 1.5,
            for_ms: 60 * MIN,
            keep_firing_for_ms: 0,
            severity: Severity::Major,
        },
    ]
}

/// Name of the rule that turns a sustained anomaly into an alert.
pub const ANOMALY_RULE: &str = "AnomalySustained";

/// The optional rule for `[anomaly] alert_after`: a vital anomalous for `for_ms` alerts, minor
/// because a model's opinion is a reason to look, not proof of an outage.
pub fn anomaly_rule(for_ms: i64) -> Rule {
    Rule {
        name: ANOMALY_RULE.to_string(),
        check: Check::AnomalySustained,
        threshold: 0.5,
        clear: 0.5,
        for_ms: for_ms.max(0),
        keep_firing_for_ms: 0,
        severity: Severity::Minor,
    }
}

/// A disk or memory forecast only alerts once it is at least this full: node-mixin's
/// "less than 40 % available" guard, so a near-empty disk with a steep but short-lived fill
/// does not page anyone.
pub const FILL_ALERT_MIN_PCT: f64 = 60.0;

impl Rule {
    /// The condition for a value: above `threshold` to start, above `clear` to stay active.
    pub fn condition(&self, value: f64, active: bool) -> bool {
        let limit = if active { self.clear } else { self.threshold };
        match self.check {
            Check::CertExpiry | Check::FillsWithin(_) => value < limit,
            _ => value > limit,
        }
    }
}

/// One alert instance (rule × host × labels).
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    pub state: AlertState,
    pub active_at: Millis,
    pub fired_at: Option<Millis>,
    /// Last evaluation at which the condition held (for `keep_firing_for`).
    pub last_true: Millis,
    pub value: f64,
    pub summary: String,
}

impl Instance {
    pub fn new() -> Self {
        Instance {
            state: AlertState::Inactive,
            active_at: 0,
            fired_at: None,
            last_true: 0,
            value: f64::NAN,
            summary: String::new(),
        }
    }

    pub fn is_active(&self) -> bool {
        self.state != AlertState::Inactive
    }

    /// Advance the state machine with one evaluation at `now`.
    /// `cond` is `None` when there is no data to decide: the instance is held as it is (its
    /// `for` clock keeps running and is never reset by a failed poll), and it resolves only on
    /// real data showing the condition is false. Returns `(from, to)` on a change.
    pub fn step(
        &mut self,
        cond: Option<bool>,
        now: Millis,
        for_ms: i64,
        keep_firing_for_ms: i64,
    ) -> Option<(AlertState, AlertState)> {
        let from = self.state;
        match (self.state, cond) {
            (_, None) => return None,
            (AlertState::Inactive, Some(true)) => {
                self.active_at = now;
                self.last_true = now;
                self.fired_at = None;
                if for_ms <= 0 {
                    self.state = AlertState::Firing;
                    self.fired_at = Some(now);
                } else {
                    self.state = AlertState::Pending;
                }
            }
            (AlertState::Pending, Some(true)) => {
                self.last_true = now;
                if now - self.active_at >= for_ms {
                    self.state = AlertState::Firing;
                    self.fired_at = Some(now);
                }
            }
            (AlertState::Firing, Some(true)) => self.last_true = now,
            (AlertState::Pending, Some(false)) => {
                // Prometheus drops a pending alert at once: its `for` clock restarts from zero.
                self.state = AlertState::Inactive;
            }
            (AlertState::Firing, Some(false)) => {
                if now - self.last_true >= keep_firing_for_ms {
                    self.state = AlertState::Inactive;
                }
            }
            (AlertState::Inactive, Some(false)) => {}
        }
        (from != self.state).then_some((from, self.state))
    }
}

impl Default for Instance {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AlertState::*;

    const S: i64 = 1000;

    #[test]
    fn pending_then_firing_after_for() {
        let mut i = Instance::new();
        assert_eq!(i.step(Some(true), 0, 120 * S, 0), Some((Inactive, Pending)));
        assert_eq!(i.step(Some(true), 60 * S, 120 * S, 0), None);
        assert_eq!(
            i.step(Some(true), 120 * S, 120 * S, 0),
            Some((Pending, Firing))
        );
        assert_eq!(i.fired_at, Some(120 * S));
        assert_eq!(i.active_at, 0);
        assert_eq!(
            i.step(Some(false), 135 * S, 120 * S, 0),
            Some((Firing, Inactive))
        );
    }

    #[test]
    fn zero_for_fires_at_once() {
        let mut i = Instance::new();
        assert_eq!(i.step(Some(true), 5, 0, 0), Some((Inactive, Firing)));
    }

    #[test]
    fn a_false_evaluation_resets_pending() {
        let mut i = Instance::new();
        i.step(Some(true), 0, 120 * S, 0);
        i.step(Some(false), 60 * S, 120 * S, 0);
        assert_eq!(i.state, Inactive);
        i.step(Some(true), 90 * S, 120 * S, 0);
        assert_eq!(i.active_at, 90 * S, "a new ActiveAt after the reset");
        assert_eq!(i.step(Some(true), 180 * S, 120 * S, 0), None);
    }

    #[test]
    fn missing_data_holds_pending_without_resetting_for() {
        // Fault case 23: a failed poll during `for` must not restart the clock.
        let mut i = Instance::new();
        i.step(Some(true), 0, 120 * S, 0);
        assert_eq!(i.step(None, 60 * S, 120 * S, 0), None);
        assert_eq!(i.state, Pending);
        assert_eq!(
            i.step(Some(true), 120 * S, 120 * S, 0),
            Some((Pending, Firing))
        );
        // And missing data never resolves a firing alert.
        assert_eq!(i.step(None, 600 * S, 120 * S, 0), None);
        assert_eq!(i.state, Firing);
    }

    #[test]
    fn keep_firing_for_holds_through_short_dips() {
        let mut i = Instance::new();
        i.step(Some(true), 0, 0, 60 * S);
        assert_eq!(i.step(Some(false), 30 * S, 0, 60 * S), None);
        assert_eq!(i.step(Some(false), 59 * S, 0, 60 * S), None);
        assert_eq!(
            i.step(Some(false), 60 * S, 0, 60 * S),
            Some((Firing, Inactive))
        );
    }

    #[test]
    fn hysteresis_uses_clear_threshold_once_active() {
        let r = default_rules()
            .into_iter()
            .find(|r| r.name == "HostCpuHigh")
            .unwrap();
        assert!(!r.condition(79.0, false));
        assert!(r.condition(81.0, false));
        assert!(r.condition(77.0, true), "still above the clear threshold");
        assert!(!r.condition(75.0, true));
    }

    #[test]
    fn fill_rules_fire_below_and_clear_with_hysteresis() {
        let r = default_rules()
            .into_iter()
            .find(|r| r.name == "DiskFillsSoon")
            .unwrap();
        assert!(r.condition(0.9, false));
        assert!(!r.condition(1.2, false));
        assert!(r.condition(1.2, true), "held until 1.5 days");
        assert!(!r.condition(1.6, true));
        assert!(
            !r.condition(f64::INFINITY, true),
            "no rising trend clears it"
        );
    }
}
