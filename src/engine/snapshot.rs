//! The engine's read-only picture: hosts sorted worst first, alerts, targets, anomaly runs and
//! the rules' chart thresholds, built on demand for the UI and the reports. Reads engine state,
//! never changes it.

use super::*;
use crate::model::RuleStatus;

impl Engine {
    /// The vital that tells most about a host right now: the one behind its worst firing
    /// alert, else CPU.
    pub(super) fn spark_vital(&self, h: usize) -> Vital {
        let mut best: Option<(Severity, Vital)> = None;
        for ((ri, ah, _), inst) in &self.alerts {
            if *ah != h || inst.state != AlertState::Firing {
                continue;
            }
            let rule = &self.rules[*ri];
            let Check::Above(v) = rule.check else {
                continue;
            };
            let vital = v.vital();
            if best.is_none_or(|(s, _)| rule.severity > s) {
                best = Some((rule.severity, vital));
            }
        }
        best.map(|b| b.1).unwrap_or(Vital::Cpu)
    }

    pub fn snapshot(&self) -> Snapshot {
        let horizon_days = self.settings.forecast_horizon.as_secs_f64() / 86_400.0;
        let mut hosts: Vec<HostStatus> = self
            .hosts
            .iter()
            .enumerate()
            .map(|(hi, h)| {
                let mut firing: Vec<(Severity, String)> = self
                    .alerts
                    .iter()
                    .filter(|((_, ah, _), i)| *ah == hi && i.state == AlertState::Firing)
                    .map(|((ri, _, _), _)| (self.rules[*ri].severity, self.rules[*ri].name.clone()))
                    .collect();
                firing.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
                firing.dedup();
                let spark = self.spark_vital(hi);
                let ring = Vital::ALL
                    .iter()
                    .position(|v| *v == spark)
                    .and_then(|i| h.history.get(i));
                let sparkline = ring
                    .map(|r| {
                        r.iter()
                            .skip(r.len().saturating_sub(SPARK_POINTS))
                            .map(|p| p.1)
                            .collect()
                    })
                    .unwrap_or_default();
                HostStatus {
                    name: h.name.clone(),
                    severity: h.severity,
                    since: h.since,
                    reason: h.reason.clone(),
                    vitals: h.vitals.clone(),
                    firing: firing.into_iter().map(|f| f.1).collect(),
                    targets: h.targets.iter().map(|&t| TargetId(t as u32)).collect(),
                    spark_vital: spark.key().to_string(),
                    sparkline,
                    anomaly: self.scoring.mark(hi),
                    forecasts: self
                        .capacity
                        .get(hi)
                        .map(|c| c.published(horizon_days))
                        .unwrap_or_default(),
                }
            })
            .collect();
        // Worst first; among equals the one that has been bad longest; then by name.
        hosts.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.since.cmp(&b.since))
                .then_with(|| a.name.cmp(&b.name))
        });
        let mut alerts: Vec<AlertView> = self
            .alerts
            .iter()
            .filter(|(_, i)| i.is_active())
            .map(|(key, i)| (key, i, self.is_flapping(key)))
            .map(|((ri, hi, labels), i, flapping)| AlertView {
                flapping,
                held: i.held,
                rule: self.rules[*ri].name.clone(),
                host: self.hosts[*hi].name.clone(),
                labels: labels.clone(),
                state: i.state,
                severity: self.rules[*ri].severity,
                active_at: i.active_at,
                fired_at: i.fired_at,
                value: i.value,
                summary: i.summary.clone(),
                annotations: (*i.annotations).clone(),
            })
            .collect();
        alerts.extend(
            self.unattached_alerts()
                .into_iter()
                .map(|(rule, labels, i)| AlertView {
                    flapping: false,
                    held: i.held,
                    rule: rule.name.clone(),
                    host: String::new(),
                    labels: labels.to_string(),
                    state: i.state,
                    severity: rule.severity,
                    active_at: i.active_at,
                    fired_at: i.fired_at,
                    value: i.value,
                    summary: i.summary.clone(),
                    annotations: (*i.annotations).clone(),
                }),
        );
        alerts.sort_by(|a, b| {
            b.state
                .cmp(&a.state)
                .then(b.severity.cmp(&a.severity))
                .then(a.active_at.cmp(&b.active_at))
                .then_with(|| (&a.host, &a.rule, &a.labels).cmp(&(&b.host, &b.rule, &b.labels)))
        });
        let targets = self
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| TargetStatus {
                id: TargetId(i as u32),
                name: t.spec.name.clone(),
                host: self.hosts[t.host].name.clone(),
                last_poll: t.last_poll,
                up: t.up,
                duration_ms: t.duration_ms,
                error: t.error.clone(),
                warning: t.warning.clone(),
                samples: t.samples,
                dropped_samples: t.dropped,
                series: t.states.len() as u32,
            })
            .collect();
        Snapshot {
            now: self.now,
            hosts,
            alerts,
            targets,
            dropped_observations: self.dropped_observations,
            anomalies: self.scoring.events(),
            thresholds: self.chart_thresholds(),
            rules: self.rule_statuses(),
            rule_reload: self.rule_reload.clone(),
        }
    }

    /// Every rule in force with its alerts and, for Prometheus rules, its last evaluation.
    fn rule_statuses(&self) -> Vec<RuleStatus> {
        let mut counts: Vec<(u32, u32)> = vec![(0, 0); self.rules.len()];
        for ((ri, _, _), inst) in &self.alerts {
            if let Some(c) = counts.get_mut(*ri) {
                match inst.state {
                    AlertState::Firing => c.0 += 1,
                    AlertState::Pending => c.1 += 1,
                    AlertState::Inactive => {}
                }
            }
        }
        let mut out: Vec<RuleStatus> = self
            .rules
            .iter()
            .zip(&counts)
            .filter(|(r, _)| r.check != Check::Prometheus)
            .map(|(r, c)| RuleStatus {
                group: "own".to_string(),
                name: r.name.clone(),
                kind: "own".to_string(),
                expr: rules::describe(r),
                firing: c.0,
                pending: c.1,
                last_eval: None,
                error: None,
                matched: c.0 + c.1,
                for_ms: r.for_ms,
                keep_firing_for_ms: r.keep_firing_for_ms,
                labels: r
                    .labels
                    .iter()
                    .map(|(k, t)| (k.clone(), t.source().to_string()))
                    .collect(),
                annotations: r
                    .annotations
                    .iter()
                    .map(|(k, t)| (k.clone(), t.source().to_string()))
                    .collect(),
            })
            .collect();
        if let Some(p) = self.prom_rules() {
            out.extend(p.rule_statuses());
        }
        out
    }

    /// Every vital threshold of the rules in force, lowest first per vital.
    fn chart_thresholds(&self) -> Vec<ChartThreshold> {
        let mut out: Vec<ChartThreshold> = self
            .rules
            .iter()
            .filter_map(|r| match r.check {
                Check::Above(v) => Some(ChartThreshold {
                    vital: v.vital().key().to_string(),
                    rule: r.name.clone(),
                    value: r.threshold,
                }),
                _ => None,
            })
            .collect();
        out.sort_by(|a, b| a.vital.cmp(&b.vital).then(a.value.total_cmp(&b.value)));
        out
    }
}
