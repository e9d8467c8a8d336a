//! Built-in alert rules, the alert state machine (Prometheus `for`/`keep_firing_for`
//! semantics, plus recovery thresholds for hysteresis) and their evaluation over a host's
//! state. Pure: time comes in as arguments.

use super::forecast::Fill;
use super::{Engine, Event, SpecKind, TargetState, push_labels};
use crate::config::rules::{RuleSpec, Watch};
use crate::human::human_days;
use crate::model::{AlertState, AlertTransition, CycleBatch, Millis, Severity, Vital};
use crate::rules::template::{AlertData, Template};

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
    /// An alerting rule from a Prometheus rule file: prom.rs evaluates it and mirrors its
    /// alerts here; the per-host evaluation skips it.
    Prometheus,
    /// The last value of each raw series of the host's targets that matches the rule's
    /// selector (one instance per series).
    Series,
}

/// A `series` rule's selector: the metric name and the other matchers.
#[derive(Clone, Debug)]
pub struct SeriesSelector {
    pub text: String,
    pub name: String,
    pub matchers: Vec<promql_parser::label::Matcher>,
}

impl PartialEq for SeriesSelector {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl SeriesSelector {
    /// Config validation parsed it already; `None` only for text that is not a selector.
    pub fn parse(text: &str) -> Option<SeriesSelector> {
        let crate::promql::Expr::VectorSelector(vs) = crate::promql::parse(text).ok()? else {
            return None;
        };
        Some(SeriesSelector {
            text: text.to_string(),
            name: vs.name.clone()?,
            matchers: vs.matchers.matchers.clone(),
        })
    }
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

impl VitalRef {
    /// The host vital a chart draws this rule's threshold on (a disk rule: the fullest disk).
    pub fn vital(self) -> Vital {
        match self {
            VitalRef::Cpu => Vital::Cpu,
            VitalRef::Mem => Vital::Mem,
            VitalRef::Swap => Vital::Swap,
            VitalRef::Disk => Vital::DiskMax,
        }
    }
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
    /// Extra labels on every instance, Go templates as in Prometheus (mostly plain text).
    pub labels: Vec<(String, Template)>,
    /// `summary` replaces the built-in summary; the others are kept for the alert's detail.
    pub annotations: Vec<(String, Template)>,
    /// Fires below the threshold instead of above.
    pub below: bool,
    /// The selector of a `Series` rule.
    pub series: Option<SeriesSelector>,
}

/// The engine's reading of a validated `[[rule]]`.
pub fn rule_from_spec(spec: &RuleSpec) -> Rule {
    let check = match spec.watch {
        Watch::ExporterDown => Check::TargetDown(TargetClass::Exporter),
        Watch::SnmpDown => Check::TargetDown(TargetClass::Snmp),
        Watch::PingLoss => Check::PingLoss,
        Watch::PortClosed => Check::PortClosed,
        Watch::HttpFailing => Check::HttpFailing,
        Watch::CertDays => Check::CertExpiry,
        Watch::InterfaceDown => Check::InterfaceDown,
        Watch::Cpu => Check::Above(VitalRef::Cpu),
        Watch::Mem => Check::Above(VitalRef::Mem),
        Watch::Swap => Check::Above(VitalRef::Swap),
        Watch::Disk => Check::Above(VitalRef::Disk),
        Watch::DiskFillDays => Check::FillsWithin(VitalRef::Disk),
        Watch::MemFillDays => Check::FillsWithin(VitalRef::Mem),
        Watch::Series => Check::Series,
    };
    // Config validation parsed every template already; one that fails now is dropped
    // rather than taking the rule down with it.
    let templates = |m: &std::collections::BTreeMap<String, String>| {
        m.iter()
            .filter_map(|(k, v)| Some((k.clone(), Template::parse_alert(&spec.name, v).ok()?)))
            .collect()
    };
    Rule {
        name: spec.name.clone(),
        check,
        threshold: spec.threshold,
        clear: spec.clear,
        for_ms: i64::try_from(spec.for_.as_millis()).unwrap_or(i64::MAX),
        keep_firing_for_ms: i64::try_from(spec.keep_firing_for.as_millis()).unwrap_or(i64::MAX),
        severity: spec.severity,
        labels: templates(&spec.labels),
        annotations: templates(&spec.annotations),
        below: spec.below,
        series: spec.series.as_deref().and_then(SeriesSelector::parse),
    }
}

pub fn rules_from_specs(specs: &[RuleSpec]) -> Vec<Rule> {
    specs.iter().map(rule_from_spec).collect()
}

/// The defaults a sysadmin expects on day one, from the embedded rules file
/// (`src/config/default-rules.toml`). Issue #2: exporter down 2m → critical, memory > 75% 2m
/// → critical, > 60% 2m → minor, CPU > 80% 2m → critical, disk > 90% → major. Issue #5:
/// unreachable by ping (100% loss for 1m) → critical, loss > 20% → minor, TCP port closed →
/// major, HTTP status outside the expected set → major, certificate < 14 days → minor, < 3
/// days → major, interface oper down while admin up → major, SNMP agent not answering →
/// critical.
pub fn default_rules() -> Vec<Rule> {
    rules_from_specs(&crate::config::rules::default_rule_specs())
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
        labels: Vec::new(),
        annotations: Vec::new(),
        below: false,
        series: None,
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
        if self.below {
            value < limit
        } else {
            value > limit
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
    /// Every annotation rendered at the last evaluation with data (shared with the rule
    /// evaluator's copy: thousands of alerts are mirrored each cycle).
    pub annotations: std::sync::Arc<Vec<(String, String)>>,
    /// Its last evaluation had no data (the target could not be seen): the state is held,
    /// and shown as unknown rather than believed.
    pub held: bool,
}

impl Instance {
    pub fn new() -> Self {
        Instance {
            held: false,
            state: AlertState::Inactive,
            active_at: 0,
            fired_at: None,
            last_true: 0,
            value: f64::NAN,
            summary: String::new(),
            annotations: Default::default(),
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

/// One rule instance's reading in one evaluation: which rule, the instance's labels, its value
/// (`None`: no data, so the instance holds where it is) and the summary a human reads.
struct Evaluation {
    rule: usize,
    labels: String,
    value: Option<f64>,
    summary: String,
}

impl Engine {
    /// A transition as an event and, for a host's alert, a store row in that host's batch.
    pub(super) fn record_transition(&mut self, h: Option<usize>, tr: AlertTransition) {
        self.events.push(Event::Alert(tr.clone()));
        let Some(host) = h.and_then(|h| self.hosts.get(h)) else {
            return;
        };
        let source = host.source.clone();
        let at = tr.at;
        match self.batches.iter_mut().rev().find(|b| b.source == source) {
            Some(b) => b.alerts.push(tr),
            None => self.batches.push(CycleBatch {
                source,
                at,
                alerts: vec![tr],
                ..CycleBatch::default()
            }),
        }
    }

    /// Evaluate every rule on host `h` at `now` and step each instance's state machine;
    /// transitions become events and store rows.
    pub(super) fn evaluate_rules(&mut self, h: usize, now: Millis) {
        let host = &self.hosts[h];
        let fresh_up = host.targets.iter().any(|&ti| {
            let t = &self.targets[ti];
            t.up == Some(true) && !t.is_stale(now)
        });
        let mut evals: Vec<Evaluation> = Vec::new();
        for (ri, rule) in self.rules.iter().enumerate() {
            match rule.check {
                Check::TargetDown(class) => {
                    for &ti in &host.targets {
                        let t = &self.targets[ti];
                        let watched = matches!(
                            (class, &t.spec.kind),
                            (TargetClass::Exporter, SpecKind::Exporter)
                                | (TargetClass::Snmp, SpecKind::Snmp { .. })
                        );
                        if t.last_poll.is_none() || !watched {
                            continue;
                        }
                        let mut labels = String::new();
                        push_labels(&mut labels, [("target", t.spec.name.as_str())]);
                        let value = if t.is_stale(now) {
                            None
                        } else {
                            Some(if t.up == Some(true) { 0.0 } else { 1.0 })
                        };
                        let summary = format!(
                            "{} down: {}",
                            t.spec.name,
                            t.error.as_deref().unwrap_or("no answer")
                        );
                        evals.push(Evaluation {
                            rule: ri,
                            labels,
                            value,
                            summary,
                        });
                    }
                }
                Check::Above(VitalRef::Disk) => {
                    let mut seen: Vec<String> = Vec::new();
                    for d in &host.vitals.disks {
                        let mut labels = String::new();
                        push_labels(&mut labels, [("mountpoint", d.mount.as_str())]);
                        seen.push(labels.clone());
                        let summary = format!("disk {} {:.1}% full", d.mount, d.used_pct);
                        evals.push(Evaluation {
                            rule: ri,
                            labels,
                            value: Some(d.used_pct),
                            summary,
                        });
                    }
                    // Active instances whose mount vanished: resolved if the host is up and
                    // simply no longer has it, held if we cannot see the host.
                    let range = (ri, h, String::new())..(ri, h + 1, String::new());
                    for ((_, _, labels), inst) in self.alerts.range(range) {
                        if !seen.contains(labels) {
                            let v = if fresh_up {
                                Some(f64::NEG_INFINITY)
                            } else {
                                None
                            };
                            evals.push(Evaluation {
                                rule: ri,
                                labels: labels.clone(),
                                value: v,
                                summary: inst.summary.clone(),
                            });
                        }
                    }
                }
                Check::Above(v) => {
                    let (value, what) = match v {
                        VitalRef::Cpu => (host.vitals.cpu_pct, "CPU"),
                        VitalRef::Mem => (host.vitals.mem_pct, "memory"),
                        VitalRef::Swap => (host.vitals.swap_pct, "swap"),
                        VitalRef::Disk => (None, "disk"),
                    };
                    let summary = match value {
                        Some(x) => format!("{what} {x:.1}% (> {:.0}%)", rule.threshold),
                        None => format!("{what} unknown"),
                    };
                    evals.push(Evaluation {
                        rule: ri,
                        labels: String::new(),
                        value,
                        summary,
                    });
                }
                Check::FillsWithin(v) => {
                    let (vital, level, what) = match v {
                        VitalRef::Mem => (Vital::Mem, host.vitals.mem_pct, "memory"),
                        VitalRef::Disk => (
                            Vital::DiskMax,
                            Vital::DiskMax.get(&host.vitals),
                            "fullest disk",
                        ),
                        // No forecasts for these.
                        VitalRef::Cpu | VitalRef::Swap => continue,
                    };
                    let fill = self
                        .capacity
                        .get(h)
                        .map(|c| c.fill(vital))
                        .unwrap_or(Fill::Unknown);
                    let (value, summary) = match (fill, level) {
                        (Fill::Unknown, _) | (_, None) => (None, format!("{what} trend unknown")),
                        (Fill::Never, Some(_)) => {
                            (Some(f64::INFINITY), format!("{what} not filling"))
                        }
                        (Fill::Days { days, low, high }, Some(l)) => {
                            let summary = format!(
                                "{what} {l:.1}% full, fills in {} ({} to {})",
                                human_days(days),
                                human_days(low),
                                human_days(high)
                            );
                            // Below the floor a steep fill is noise, not a capacity problem.
                            let v = if l >= FILL_ALERT_MIN_PCT {
                                days
                            } else {
                                f64::INFINITY
                            };
                            (Some(v), summary)
                        }
                    };
                    evals.push(Evaluation {
                        rule: ri,
                        labels: String::new(),
                        value,
                        summary,
                    });
                }
                Check::AnomalySustained => {
                    for v in Vital::ALL {
                        if !self.scoring.scores(h, v) {
                            continue;
                        }
                        let mut labels = String::new();
                        push_labels(&mut labels, [("vital", v.key())]);
                        let (value, summary) = match self.scoring.anomalous(h, v) {
                            None => (None, format!("{} not scored yet", v.key())),
                            Some((open, score, threshold)) => (
                                Some(if open { 1.0 } else { 0.0 }),
                                format!(
                                    "{} anomalous: score {score:.3} (threshold {threshold:.3})",
                                    v.key()
                                ),
                            ),
                        };
                        evals.push(Evaluation {
                            rule: ri,
                            labels,
                            value,
                            summary,
                        });
                    }
                }
                Check::Prometheus => {}
                Check::Series => {
                    let Some(sel) = &rule.series else { continue };
                    for &ti in &host.targets {
                        let t = &self.targets[ti];
                        if t.last_poll.is_none() {
                            continue;
                        }
                        let visible = t.up == Some(true) && !t.is_stale(now);
                        let mut prefix = String::new();
                        push_labels(&mut prefix, [("target", t.spec.name.as_str())]);
                        prefix.pop();
                        let mut seen = Vec::new();
                        // The index is a hash map: sort, so instances are evaluated (and their
                        // transitions announced) in the same order on every run and replay.
                        let mut keys: Vec<(&str, u32)> = t
                            .index
                            .ids
                            .iter()
                            .filter(|(k, _)| k.starts_with(sel.name.as_str()))
                            .map(|(k, i)| (&**k, *i))
                            .collect();
                        keys.sort_unstable();
                        for (key, idx) in keys {
                            let Some(rest) = key.strip_prefix(sel.name.as_str()) else {
                                continue;
                            };
                            if !(rest.is_empty() || rest.starts_with('{')) {
                                continue;
                            }
                            let pairs = parse_label_string(rest);
                            let value_of = |n: &str| {
                                pairs
                                    .iter()
                                    .find(|(k, _)| k == n)
                                    .map(|(_, v)| v.as_str())
                                    .unwrap_or("")
                            };
                            if !sel.matchers.iter().all(|m| m.is_match(value_of(&m.name))) {
                                continue;
                            }
                            // Only series the last poll carried count; the rest are gone.
                            let Some(st) = t
                                .states
                                .get(idx as usize)
                                .filter(|st| st.has_last && st.last_poll == t.poll_seq)
                            else {
                                continue;
                            };
                            let mut labels = prefix.clone();
                            for (k, v) in &pairs {
                                let mut one = String::new();
                                push_labels(&mut one, [(k.as_str(), v.as_str())]);
                                labels.push(',');
                                labels.push_str(one.get(1..one.len() - 1).unwrap_or(""));
                            }
                            labels.push('}');
                            seen.push(labels.clone());
                            let cmp = if rule.below { "<" } else { ">" };
                            let summary = format!(
                                "{key} = {} ({cmp} {})",
                                crate::promql::go_float(st.last_value),
                                rule.threshold
                            );
                            evals.push(Evaluation {
                                rule: ri,
                                labels,
                                value: visible.then_some(st.last_value),
                                summary,
                            });
                        }
                        // A series that left the exporter resolves once the target is seen.
                        let gone = if rule.below {
                            f64::INFINITY
                        } else {
                            f64::NEG_INFINITY
                        };
                        let range = (ri, h, String::new())..(ri, h + 1, String::new());
                        for ((_, _, labels), inst) in self.alerts.range(range) {
                            let mine = labels.starts_with(&prefix)
                                && matches!(labels.as_bytes().get(prefix.len()), Some(b',' | b'}'));
                            if mine && !seen.contains(labels) {
                                evals.push(Evaluation {
                                    rule: ri,
                                    labels: labels.clone(),
                                    value: visible.then_some(gone),
                                    summary: inst.summary.clone(),
                                });
                            }
                        }
                    }
                }
                Check::PingLoss
                | Check::PortClosed
                | Check::HttpFailing
                | Check::CertExpiry
                | Check::InterfaceDown => {
                    for &ti in &host.targets {
                        let t = &self.targets[ti];
                        if t.last_poll.is_none() {
                            continue;
                        }
                        // What a target that cannot be seen says is held, not believed.
                        let visible = t.up == Some(true) && !t.is_stale(now);
                        let mut prefix = String::new();
                        push_labels(&mut prefix, [("target", t.spec.name.as_str())]);
                        prefix.pop();
                        let mut seen = Vec::new();
                        for (labels, value, summary) in target_items(rule.check, t, &prefix) {
                            seen.push(labels.clone());
                            evals.push(Evaluation {
                                rule: ri,
                                labels,
                                value: visible.then_some(value),
                                summary,
                            });
                        }
                        // An active instance whose item vanished (a port no longer checked, an
                        // interface gone) resolves when the target is visible.
                        let gone = if rule.check == Check::CertExpiry {
                            f64::INFINITY
                        } else {
                            f64::NEG_INFINITY
                        };
                        let range = (ri, h, String::new())..(ri, h + 1, String::new());
                        for ((_, _, labels), inst) in self.alerts.range(range) {
                            let mine = labels.starts_with(&prefix)
                                && matches!(labels.as_bytes().get(prefix.len()), Some(b',' | b'}'));
                            if mine && !seen.contains(labels) {
                                evals.push(Evaluation {
                                    rule: ri,
                                    labels: labels.clone(),
                                    value: visible.then_some(gone),
                                    summary: inst.summary.clone(),
                                });
                            }
                        }
                    }
                }
            }
        }
        for Evaluation {
            rule: ri,
            labels,
            value,
            summary,
        } in evals
        {
            let rule = &self.rules[ri];
            let (labels, summary, annotations) =
                if rule.labels.is_empty() && rule.annotations.is_empty() {
                    (labels, summary, Vec::new())
                } else {
                    templated(rule, &self.hosts[h].name, labels, value, summary)
                };
            let key = (ri, h, labels);
            let inst = self.alerts.entry(key.clone()).or_default();
            let cond = value.map(|x| rule.condition(x, inst.is_active()));
            inst.held = value.is_none();
            if let Some(x) = value {
                inst.value = x;
                if x.is_finite() {
                    inst.summary = summary;
                    if !annotations.is_empty() {
                        inst.annotations = std::sync::Arc::new(annotations);
                    }
                }
            }
            if let Some((from, to)) = inst.step(cond, now, rule.for_ms, rule.keep_firing_for_ms) {
                let tr = AlertTransition {
                    at: now,
                    rule: rule.name.clone(),
                    host: self.hosts[h].name.clone(),
                    labels: key.2.clone(),
                    from,
                    to,
                    severity: rule.severity,
                    value: inst.value,
                    active_at: inst.active_at,
                    summary: inst.summary.clone(),
                };
                let active = inst.is_active();
                self.record_transition(Some(h), tr);
                if value.is_some() {
                    self.observe_flap(&key, active);
                }
                if !active {
                    self.alerts.remove(&key);
                }
                continue;
            }
            let active = inst.is_active();
            // No data is no evaluation: a held instance's history does not move.
            if value.is_some() {
                self.observe_flap(&key, active);
            }
            if !active {
                self.alerts.remove(&key);
            }
        }
    }
}

/// What an own rule watches and when it fires, in the words of its TOML (`cpu > 80 (clears
/// at 75) for 2m`).
pub fn describe(r: &Rule) -> String {
    use crate::human::human_duration;
    let what = match r.check {
        Check::TargetDown(TargetClass::Exporter) => "exporter_down",
        Check::TargetDown(TargetClass::Snmp) => "snmp_down",
        Check::Above(VitalRef::Cpu) => "cpu",
        Check::Above(VitalRef::Mem) => "mem",
        Check::Above(VitalRef::Swap) => "swap",
        Check::Above(VitalRef::Disk) => "disk",
        Check::PingLoss => "ping_loss",
        Check::PortClosed => "port_closed",
        Check::HttpFailing => "http_failing",
        Check::CertExpiry => "cert_days",
        Check::InterfaceDown => "interface_down",
        Check::FillsWithin(VitalRef::Mem) => "mem_fill_days",
        Check::FillsWithin(_) => "disk_fill_days",
        Check::AnomalySustained => "anomaly",
        Check::Prometheus => "promql",
        Check::Series => r
            .series
            .as_ref()
            .map(|s| s.text.as_str())
            .unwrap_or("series"),
    };
    let mut s = match r.check {
        Check::TargetDown(_)
        | Check::PortClosed
        | Check::HttpFailing
        | Check::InterfaceDown
        | Check::AnomalySustained => what.to_string(),
        _ if r.below => format!("{what} < {}", r.threshold),
        _ => format!("{what} > {}", r.threshold),
    };
    if r.clear != r.threshold && r.clear.is_finite() {
        s.push_str(&format!(" (clears at {})", r.clear));
    }
    if r.for_ms > 0 {
        s.push_str(&format!(" for {}", human_duration(r.for_ms)));
    }
    s
}

/// The inverse of `push_labels`: `{a="x",b="y\\"z"}` → pairs.
pub fn parse_label_string(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let inner = s
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .unwrap_or("");
    let mut chars = inner.chars().peekable();
    loop {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if name.is_empty() {
            break;
        }
        if chars.next() != Some('"') {
            break;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(c) => value.push(c),
                    None => break,
                },
                c => value.push(c),
            }
        }
        out.push((name, value));
        if chars.next() != Some(',') {
            break;
        }
    }
    out
}

/// A rule's own labels joined to the instance's, and its `summary` annotation (when it has
/// one) in place of the built-in summary. Templates see the instance's labels with `host`,
/// and its value, as Prometheus's see the sample's.
fn templated(
    rule: &Rule,
    host: &str,
    labels: String,
    value: Option<f64>,
    summary: String,
) -> (String, String, Vec<(String, String)>) {
    let mut pairs = parse_label_string(&labels);
    let mut data = AlertData {
        labels: pairs.iter().cloned().collect(),
        value: value.unwrap_or(f64::NAN),
        ..AlertData::default()
    };
    data.labels.insert("host".to_string(), host.to_string());
    let expand = |t: &Template| t.expand(&data).unwrap_or_else(|e| format!("<error: {e}>"));
    for (k, t) in &rule.labels {
        let v = expand(t);
        pairs.retain(|(n, _)| n != k);
        // An empty label is no label, as in Prometheus.
        if !v.is_empty() {
            pairs.push((k.clone(), v));
        }
    }
    pairs.sort();
    let mut out = String::new();
    if !pairs.is_empty() {
        push_labels(
            &mut out,
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
    }
    let summary = match rule.annotations.iter().find(|(k, _)| k == "summary") {
        Some((_, t)) if value.is_some_and(f64::is_finite) => expand(t),
        _ => summary,
    };
    let mut annotations: Vec<(String, String)> = rule
        .annotations
        .iter()
        .map(|(k, t)| {
            let v = if k == "summary" {
                summary.clone()
            } else {
                expand(t)
            };
            (k.clone(), v)
        })
        .collect();
    annotations.sort();
    (out, summary, annotations)
}

/// Per-item values of a per-target check: (labels, value, summary). `prefix` is the target's
/// label set without its closing brace, so items extend it.
fn target_items(check: Check, t: &TargetState, prefix: &str) -> Vec<(String, f64, String)> {
    let name = &t.spec.name;
    let v = &t.vitals;
    let close = |extra: &[(&str, &str)]| {
        let mut l = prefix.to_string();
        for (k, val) in extra {
            let mut one = String::new();
            push_labels(&mut one, [(*k, *val)]);
            l.push(',');
            l.push_str(&one[1..one.len() - 1]);
        }
        l.push('}');
        l
    };
    match check {
        Check::PingLoss if t.spec.kind == SpecKind::Icmp => v
            .ping_loss_pct
            .map(|loss| {
                let summary = if loss >= 100.0 {
                    format!("{name}: no echo replies (100% loss)")
                } else {
                    format!("{name}: {loss:.0}% packet loss")
                };
                vec![(close(&[]), loss, summary)]
            })
            .unwrap_or_default(),
        Check::PortClosed => v
            .ports
            .iter()
            .map(|p| {
                let port = p.port.to_string();
                let value = if p.state == "open" { 0.0 } else { 1.0 };
                (
                    close(&[("port", &port)]),
                    value,
                    format!("port {} {}", p.port, p.state),
                )
            })
            .collect(),
        Check::HttpFailing => v
            .http
            .iter()
            .map(|c| {
                let value = if c.ok { 0.0 } else { 1.0 };
                (close(&[]), value, format!("{}: {}", c.target, c.reason))
            })
            .collect(),
        Check::CertExpiry => v
            .tls_days_left
            .map(|d| {
                let summary = if d < 0.0 {
                    format!("{name}: certificate expired {:.1} days ago", -d)
                } else {
                    format!("{name}: certificate expires in {d:.1} days")
                };
                vec![(close(&[]), d, summary)]
            })
            .unwrap_or_default(),
        Check::InterfaceDown => v
            .interfaces
            .iter()
            .map(|i| {
                let value = if i.admin_up && !i.oper_up { 1.0 } else { 0.0 };
                let alias = if i.alias.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", i.alias)
                };
                (
                    close(&[("interface", &i.name)]),
                    value,
                    format!("interface {}{alias} down", i.name),
                )
            })
            .collect(),
        _ => Vec::new(),
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
