//! Running rule groups the way Prometheus's rule manager does at one timestamp: each rule in
//! order, recording results and `ALERTS`/`ALERTS_FOR_STATE` appended so later rules see them,
//! stale markers for series a rule stopped producing, and the alert state machine (`inactive →
//! pending → firing`, `for`, `keep_firing_for`, 15 minutes of resolved retention, `limit`).
//! Time is an argument; series are read and written through [`Store`]; never reads a clock.

use std::collections::{BTreeMap, BTreeSet};

use crate::promql::{self, EvalOptions, Labels, MemSource, STALE_NAN, Sample, Source, Value};

use super::file::{Group, Rule, RuleKind};
use super::template::AlertData;

/// How long a resolved alert is kept so it can be reported as resolved.
const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// Where rule results go: a source the next rule can read, that can also take new samples.
pub trait Store: Source {
    fn append(&mut self, labels: &Labels, t: i64, v: f64);
}

impl Store for MemSource {
    fn append(&mut self, labels: &Labels, t: i64, v: f64) {
        self.push(labels, t, v);
    }
}

impl Store for promql::Head {
    fn append(&mut self, labels: &Labels, t: i64, v: f64) {
        self.push(labels, t, v);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Identity: result labels without `__name__`, plus the rule's labels, plus `alertname`.
    pub labels: Labels,
    pub annotations: Vec<(String, String)>,
    pub state: AlertState,
    pub active_at: i64,
    pub fired_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub keep_firing_since: Option<i64>,
    pub value: f64,
}

/// What a rule evaluation sees besides the data.
#[derive(Clone, Debug, Default)]
pub struct EvalContext {
    pub external_labels: Labels,
    pub external_url: String,
    pub query: EvalOptions,
}

/// A rule's last outcome, for the rules view and `rules test`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleHealth {
    pub last_eval: Option<i64>,
    pub last_error: Option<String>,
    /// Series (recording) or alerts (alerting) the last evaluation produced.
    pub last_count: usize,
}

/// A group and everything Prometheus keeps between its evaluations.
#[derive(Clone, Debug)]
pub struct GroupState {
    pub group: Group,
    alerts: Vec<BTreeMap<Labels, Alert>>,
    previous: Vec<BTreeSet<Labels>>,
    pub health: Vec<RuleHealth>,
}

impl GroupState {
    pub fn new(group: Group) -> GroupState {
        let n = group.rules.len();
        GroupState {
            group,
            alerts: vec![BTreeMap::new(); n],
            previous: vec![BTreeSet::new(); n],
            health: vec![RuleHealth::default(); n],
        }
    }

    /// Alerts of rule `i` in label order (pending, firing and retained resolved ones).
    pub fn alerts(&self, i: usize) -> impl Iterator<Item = &Alert> {
        self.alerts.get(i).into_iter().flat_map(|m| m.values())
    }

    /// Every rule's alerts, by rule (empty for recording rules).
    pub fn alert_maps(&self) -> &[BTreeMap<Labels, Alert>] {
        &self.alerts
    }

    /// Put back what rule `i` knew of one alert before an evaluation (`None`: it did not
    /// exist). The engine does this for alerts whose target could not be polled: no data
    /// is not "the condition is false" (the console's documented difference).
    pub fn restore(&mut self, i: usize, labels: &Labels, before: Option<Alert>) {
        let Some(map) = self.alerts.get_mut(i) else {
            return;
        };
        match before {
            Some(a) => {
                map.insert(labels.clone(), a);
            }
            None => {
                map.remove(labels);
            }
        }
    }

    /// Evaluate every rule at `t`, in order, writing results into `store`.
    pub fn eval(&mut self, t: i64, store: &mut dyn Store, cx: &EvalContext) {
        for i in 0..self.group.rules.len() {
            let Some(rule) = self.group.rules.get(i) else {
                continue;
            };
            let result = match &rule.kind {
                RuleKind::Record => eval_recording(rule, t, &*store, cx, self.group.limit),
                RuleKind::Alert(_) => {
                    let active = self.alerts.get_mut(i);
                    match active {
                        Some(a) => eval_alerting(rule, t, &*store, cx, self.group.limit, a),
                        None => Ok(Vec::new()),
                    }
                }
            };
            let health = self.health.get_mut(i);
            let samples = match result {
                Ok(s) => s,
                Err(e) => {
                    if let Some(h) = health {
                        h.last_eval = Some(t);
                        h.last_error = Some(e);
                    }
                    continue;
                }
            };
            if let Some(h) = health {
                h.last_eval = Some(t);
                h.last_error = None;
                h.last_count = match &rule.kind {
                    RuleKind::Record => samples.len(),
                    RuleKind::Alert(_) => self
                        .alerts
                        .get(i)
                        .map(|m| {
                            m.values()
                                .filter(|a| a.state != AlertState::Inactive)
                                .count()
                        })
                        .unwrap_or(0),
                };
            }
            let mut returned = BTreeSet::new();
            for s in &samples {
                store.append(&s.labels, t, s.v);
                returned.insert(s.labels.clone());
            }
            if let Some(prev) = self.previous.get_mut(i) {
                for gone in prev.difference(&returned) {
                    store.append(gone, t, STALE_NAN);
                }
                *prev = returned;
            }
        }
    }
}

/// An instant query as a rule sees it: a scalar becomes one sample without labels, anything
/// but a vector or scalar is an error.
fn query(rule: &Rule, t: i64, store: &dyn Source, cx: &EvalContext) -> Result<Vec<Sample>, String> {
    match promql::instant(&rule.expr, store, t, &cx.query).map_err(|e| e.to_string())? {
        Value::Vector(v) => Ok(v),
        Value::Scalar(x) => Ok(vec![Sample {
            labels: Labels::default(),
            t,
            v: x,
        }]),
        _ => Err("rule result is not a vector or scalar".into()),
    }
}

fn eval_recording(
    rule: &Rule,
    t: i64,
    store: &dyn Source,
    cx: &EvalContext,
    limit: usize,
) -> Result<Vec<Sample>, String> {
    let mut v = query(rule, t, store, cx)?;
    for s in &mut v {
        s.labels.set("__name__".into(), rule.name.clone());
        for (k, val) in &rule.labels {
            s.labels.set(k.clone(), val.clone());
        }
    }
    let distinct: BTreeSet<&Labels> = v.iter().map(|s| &s.labels).collect();
    if distinct.len() != v.len() {
        return Err(
            "vector contains metrics with the same labelset after applying rule labels".into(),
        );
    }
    if limit > 0 && v.len() > limit {
        return Err(format!("exceeded limit of {limit} with {} series", v.len()));
    }
    Ok(v)
}

fn label_map(l: &Labels) -> BTreeMap<String, String> {
    l.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn expand(t: &super::template::Template, data: &AlertData) -> String {
    match t.expand(data) {
        Ok(s) => s,
        Err(e) => format!("<error expanding template: {e}>"),
    }
}

fn eval_alerting(
    rule: &Rule,
    t: i64,
    store: &dyn Source,
    cx: &EvalContext,
    limit: usize,
    active: &mut BTreeMap<Labels, Alert>,
) -> Result<Vec<Sample>, String> {
    let RuleKind::Alert(spec) = &rule.kind else {
        return Ok(Vec::new());
    };
    let res = query(rule, t, store, cx)?;
    let external = label_map(&cx.external_labels);
    let mut fresh: BTreeMap<Labels, Alert> = BTreeMap::new();
    for s in res {
        let data = AlertData {
            labels: label_map(&s.labels),
            external_labels: external.clone(),
            external_url: cx.external_url.clone(),
            value: s.v,
        };
        let mut lb = s.labels.without_name();
        for ((k, _), tpl) in rule.labels.iter().zip(&spec.label_templates) {
            lb.set(k.clone(), expand(tpl, &data));
        }
        lb.set("alertname".into(), rule.name.clone());
        let mut annotations: Vec<(String, String)> = spec
            .annotations
            .iter()
            .map(|(k, tpl)| (k.clone(), expand(tpl, &data)))
            .collect();
        annotations.sort();
        if fresh.contains_key(&lb) {
            return Err(
                "vector contains metrics with the same labelset after applying alert labels".into(),
            );
        }
        fresh.insert(
            lb.clone(),
            Alert {
                labels: lb,
                annotations,
                state: AlertState::Pending,
                active_at: t,
                fired_at: None,
                resolved_at: None,
                keep_firing_since: None,
                value: s.v,
            },
        );
    }
    for (k, a) in &fresh {
        match active.get_mut(k) {
            Some(old) if old.state != AlertState::Inactive => {
                old.value = a.value;
                old.annotations = a.annotations.clone();
            }
            _ => {
                active.insert(k.clone(), a.clone());
            }
        }
    }
    let mut out = Vec::new();
    let mut counted = 0usize;
    let mut remove = Vec::new();
    for (k, a) in active.iter_mut() {
        if !fresh.contains_key(k) {
            let mut keep_firing = false;
            if a.state == AlertState::Firing && spec.keep_firing_for_ms > 0 {
                let since = *a.keep_firing_since.get_or_insert(t);
                keep_firing = t - since < spec.keep_firing_for_ms;
            }
            if a.state == AlertState::Pending
                || a.resolved_at.is_some_and(|r| t - r > RESOLVED_RETENTION_MS)
            {
                remove.push(k.clone());
            }
            if a.state != AlertState::Inactive && !keep_firing {
                a.state = AlertState::Inactive;
                a.resolved_at = Some(t);
            }
            if !keep_firing {
                continue;
            }
        } else {
            a.keep_firing_since = None;
        }
        counted += 1;
        if a.state == AlertState::Pending && t - a.active_at >= spec.for_ms {
            a.state = AlertState::Firing;
            a.fired_at = Some(t);
        }
        out.push(alert_sample(rule, a, "ALERTS", Some(a.state), 1.0, t));
        // Prometheus stores whole seconds here.
        let active_s = a.active_at.div_euclid(1000) as f64;
        out.push(alert_sample(rule, a, "ALERTS_FOR_STATE", None, active_s, t));
    }
    for k in remove {
        active.remove(&k);
    }
    if limit > 0 && counted > limit {
        active.clear();
        return Err(format!("exceeded limit of {limit} with {counted} alerts"));
    }
    Ok(out)
}

fn alert_sample(
    rule: &Rule,
    a: &Alert,
    metric: &str,
    state: Option<AlertState>,
    v: f64,
    t: i64,
) -> Sample {
    let mut l = Labels::new(rule.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    for (k, v) in a.labels.iter() {
        l.set(k.to_string(), v.to_string());
    }
    l.set("__name__".into(), metric.to_string());
    l.set("alertname".into(), rule.name.clone());
    if let Some(s) = state {
        l.set("alertstate".into(), s.as_str().to_string());
    }
    Sample { labels: l, t, v }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::file::parse_rule_file;

    fn group(yaml: &str) -> GroupState {
        let f = parse_rule_file("t.yml", yaml).unwrap();
        GroupState::new(f.groups.into_iter().next().unwrap())
    }

    fn firing(g: &GroupState) -> Vec<String> {
        g.alerts(0)
            .map(|a| format!("{}:{}", a.labels.value("instance"), a.state.as_str()))
            .collect()
    }

    #[test]
    fn pending_then_firing_after_for_then_resolved() {
        let mut g = group(
            "groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n    for: 2m\n",
        );
        let up = Labels::new([("__name__", "up"), ("instance", "a")]);
        let mut s = MemSource::default();
        let cx = EvalContext::default();
        let vals = [0.0, 0.0, 0.0, 1.0];
        let mut seen = Vec::new();
        for (i, v) in vals.iter().enumerate() {
            let t = i as i64 * 60_000;
            s.push(&up, t, *v);
            g.eval(t, &mut s, &cx);
            seen.push(firing(&g));
        }
        assert_eq!(
            seen,
            vec![
                vec!["a:pending"],
                vec!["a:pending"],
                vec!["a:firing"],
                vec!["a:inactive"]
            ]
        );
        // ALERTS went stale when the alert resolved.
        let alerts = s
            .series()
            .iter()
            .find(|x| x.labels.value("alertstate") == "firing")
            .unwrap();
        assert!(promql::is_stale(alerts.points.last().unwrap().1));
    }

    #[test]
    fn keep_firing_for_holds_a_firing_alert() {
        let mut g = group(
            "groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n    keep_firing_for: 2m\n",
        );
        let up = Labels::new([("__name__", "up"), ("instance", "a")]);
        let mut s = MemSource::default();
        let cx = EvalContext::default();
        let mut seen = Vec::new();
        for (i, v) in [0.0, 1.0, 1.0, 1.0].iter().enumerate() {
            let t = i as i64 * 60_000;
            s.push(&up, t, *v);
            g.eval(t, &mut s, &cx);
            seen.push(firing(&g));
        }
        assert_eq!(
            seen,
            vec![
                vec!["a:firing"],
                vec!["a:firing"],
                vec!["a:firing"],
                vec!["a:inactive"]
            ]
        );
    }

    #[test]
    fn recording_rules_feed_later_rules_and_duplicates_fail() {
        let mut g = group(
            "groups:\n- name: g\n  rules:\n  - record: two\n    expr: vector(2)\n  - alert: Two\n    expr: two > 1\n  - record: dup\n    expr: up\n    labels: {instance: x}\n",
        );
        let mut s = MemSource::default();
        s.push(
            &Labels::new([("__name__", "up"), ("instance", "a")]),
            0,
            1.0,
        );
        s.push(
            &Labels::new([("__name__", "up"), ("instance", "b")]),
            0,
            1.0,
        );
        g.eval(0, &mut s, &EvalContext::default());
        assert_eq!(g.alerts(1).count(), 1);
        assert!(
            g.health[2]
                .last_error
                .as_deref()
                .unwrap()
                .contains("same labelset")
        );
        assert_eq!(g.health[0].last_count, 1);
    }

    #[test]
    fn templates_expand_into_labels_and_annotations() {
        let mut g = group(
            "groups:\n- name: g\n  rules:\n  - alert: Hot\n    expr: temp > 50\n    labels: {severity: '{{ if gt $value 90.0 }}page{{ else }}ticket{{ end }}'}\n    annotations: {summary: '{{ $labels.instance }} at {{ $value }}', broken: '{{ humanize $labels }}'}\n",
        );
        let mut s = MemSource::default();
        s.push(
            &Labels::new([("__name__", "temp"), ("instance", "a")]),
            0,
            95.5,
        );
        g.eval(0, &mut s, &EvalContext::default());
        let a = g.alerts(0).next().unwrap();
        assert_eq!(a.labels.value("severity"), "page");
        assert_eq!(
            a.annotations[1],
            ("summary".to_string(), "a at 95.5".to_string())
        );
        assert!(
            a.annotations[0]
                .1
                .starts_with("<error expanding template: error executing template __alert_Hot")
        );
    }
}
