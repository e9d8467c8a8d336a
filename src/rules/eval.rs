//! Running rule groups the way Prometheus's rule manager does at one timestamp: each rule in
//! order, recording results and `ALERTS`/`ALERTS_FOR_STATE` appended so later rules see them,
//! stale markers for series a rule stopped producing, and the alert state machine (`inactive →
//! pending → firing`, `for`, `keep_firing_for`, 15 minutes of resolved retention, `limit`).
//! Time is an argument; series are read and written through [`Store`]; never reads a clock.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::promql::{self, EvalOptions, Labels, MemSource, STALE_NAN, Sample, Source, Value};

use super::file::{Group, Rule, RuleKind};
use super::template::AlertData;

type LabelSet = HashSet<Labels, foldhash::fast::FixedState>;

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
    /// Shared: the engine's alert table and snapshots hold the same list.
    pub annotations: std::sync::Arc<Vec<(String, String)>>,
    pub state: AlertState,
    pub active_at: i64,
    pub fired_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub keep_firing_since: Option<i64>,
    pub value: f64,
    /// The label sets of its `ALERTS` series (pending, firing) and `ALERTS_FOR_STATE`,
    /// made on first use: they depend only on the labels and the rule, and building them
    /// each evaluation was most of an alert's cost.
    pub series: Option<Box<[Labels; 3]>>,
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
    /// The series each rule wrote last time, for stale markers (hashed: a rule over many
    /// hosts writes thousands, every evaluation).
    previous: Vec<LabelSet>,
    pub health: Vec<RuleHealth>,
    /// Whether alerting rules write their `ALERTS` / `ALERTS_FOR_STATE` series. Prometheus
    /// always does (and `rules test` must, a test may query them); the engine turns it off
    /// when no rule reads them, since its head exists only for rules to read.
    pub alert_series: bool,
}

impl GroupState {
    pub fn new(group: Group) -> GroupState {
        let n = group.rules.len();
        GroupState {
            group,
            alerts: vec![BTreeMap::new(); n],
            previous: vec![LabelSet::default(); n],
            health: vec![RuleHealth::default(); n],
            alert_series: true,
        }
    }

    /// Where rule `i` of this group was in `old` (the same group before a reload): the rule
    /// of the same kind, name and labels, as Prometheus matches rules across a reload.
    pub fn match_in(&self, i: usize, old: &GroupState) -> Option<usize> {
        let r = self.group.rules.get(i)?;
        old.group.rules.iter().position(|o| {
            o.name == r.name
                && o.labels == r.labels
                && matches!(
                    (&o.kind, &r.kind),
                    (RuleKind::Record, RuleKind::Record) | (RuleKind::Alert(_), RuleKind::Alert(_))
                )
        })
    }

    /// Take over what `old` (this group before a reload) knew of each matching rule: its
    /// alerts, so `for` is not re-armed and nothing fires twice; the series it wrote, for
    /// stale markers; its last outcome.
    pub fn adopt(&mut self, old: &GroupState) {
        for i in 0..self.group.rules.len() {
            let Some(j) = self.match_in(i, old) else {
                continue;
            };
            if let (Some(to), Some(from)) = (self.alerts.get_mut(i), old.alerts.get(j)) {
                *to = from.clone();
                // Their series labels depended on the old rule; made again on first use.
                for a in to.values_mut() {
                    a.series = None;
                }
            }
            if let (Some(to), Some(from)) = (self.previous.get_mut(i), old.previous.get(j)) {
                *to = from.clone();
            }
            if let (Some(to), Some(from)) = (self.health.get_mut(i), old.health.get(j)) {
                *to = from.clone();
            }
        }
    }

    /// The series rule `i` wrote at its last evaluation (recording rules' results), in
    /// label order.
    pub fn written(&self, i: usize) -> Vec<&Labels> {
        let mut out: Vec<&Labels> = self.previous.get(i).into_iter().flatten().collect();
        out.sort();
        out
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
        self.eval_memo(t, store, cx, None);
    }

    /// [`GroupState::eval`], sharing subexpression values through `memo` (which must index
    /// these rules' expressions to help; results are the same without it). Writes tell the
    /// memo which metric names changed, so later rules never see a value from before.
    pub fn eval_memo(
        &mut self,
        t: i64,
        store: &mut dyn Store,
        cx: &EvalContext,
        memo: Option<&promql::Memo>,
    ) {
        for i in 0..self.group.rules.len() {
            let Some(rule) = self.group.rules.get(i) else {
                continue;
            };
            let result = match &rule.kind {
                RuleKind::Record => {
                    let q = Query {
                        store: &*store,
                        cx,
                        memo,
                    };
                    eval_recording(rule, t, &q, self.group.limit)
                }
                RuleKind::Alert(_) => {
                    let active = self.alerts.get_mut(i);
                    match active {
                        Some(a) => {
                            let limit = self.group.limit;
                            let series = self.alert_series;
                            let q = Query {
                                store: &*store,
                                cx,
                                memo,
                            };
                            eval_alerting(rule, t, &q, limit, series, a)
                        }
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
            let mut returned =
                LabelSet::with_capacity_and_hasher(samples.len(), Default::default());
            let mut names: BTreeSet<&str> = BTreeSet::new();
            for s in &samples {
                store.append(&s.labels, t, s.v);
                returned.insert(s.labels.clone());
                names.extend(s.labels.metric_name());
            }
            if let Some(prev) = self.previous.get_mut(i) {
                for gone in prev.difference(&returned) {
                    store.append(gone, t, STALE_NAN);
                    names.extend(gone.metric_name());
                }
                if let Some(m) = memo {
                    for n in names {
                        m.written(n);
                    }
                }
                *prev = returned;
            }
        }
    }
}

/// An instant query as a rule sees it: a scalar becomes one sample without labels, anything
/// but a vector or scalar is an error.
/// Where a rule's query reads: the series, the context, and the memo of shared values.
struct Query<'a> {
    store: &'a dyn Source,
    cx: &'a EvalContext,
    memo: Option<&'a promql::Memo>,
}

fn query(rule: &Rule, t: i64, q: &Query<'_>) -> Result<Vec<Sample>, String> {
    match promql::instant_memo(&rule.expr, q.store, t, &q.cx.query, q.memo)
        .map_err(|e| e.to_string())?
    {
        Value::Vector(v) => Ok(v),
        Value::Scalar(x) => Ok(vec![Sample {
            labels: Labels::default(),
            t,
            v: x,
        }]),
        _ => Err("rule result is not a vector or scalar".into()),
    }
}

fn eval_recording(rule: &Rule, t: i64, q: &Query<'_>, limit: usize) -> Result<Vec<Sample>, String> {
    let mut v = query(rule, t, q)?;
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
    q: &Query<'_>,
    limit: usize,
    write_series: bool,
    active: &mut BTreeMap<Labels, Alert>,
) -> Result<Vec<Sample>, String> {
    let RuleKind::Alert(spec) = &rule.kind else {
        return Ok(Vec::new());
    };
    let res = query(rule, t, q)?;
    let cx = q.cx;
    // Template data is built only for a sample that needs a template expanded: most
    // evaluations of an active alert see the value it had last time, and an annotation is
    // a function of the labels and the value alone (`query` is refused), so it is kept.
    let mut external: Option<BTreeMap<String, String>> = None;
    let mut data_of = |s: &Sample| AlertData {
        labels: label_map(&s.labels),
        external_labels: external
            .get_or_insert_with(|| label_map(&cx.external_labels))
            .clone(),
        external_url: cx.external_url.clone(),
        value: s.v,
    };
    let mut seen = LabelSet::with_capacity_and_hasher(res.len(), Default::default());
    let mut fresh: Vec<(Labels, Sample, Option<AlertData>)> = Vec::with_capacity(res.len());
    for s in res {
        let mut data: Option<AlertData> = None;
        let mut lb = s.labels.without_name();
        for ((k, _), tpl) in rule.labels.iter().zip(&spec.label_templates) {
            let v = match tpl.literal() {
                Some(text) => text,
                None => expand(tpl, data.get_or_insert_with(|| data_of(&s))),
            };
            lb.set(k.clone(), v);
        }
        lb.set("alertname".into(), rule.name.clone());
        if !seen.insert(lb.clone()) {
            return Err(
                "vector contains metrics with the same labelset after applying alert labels".into(),
            );
        }
        fresh.push((lb, s, data));
    }
    let annotate =
        |s: &Sample, data: Option<AlertData>, data_of: &mut dyn FnMut(&Sample) -> AlertData| {
            let data = data.unwrap_or_else(|| data_of(s));
            let mut a: Vec<(String, String)> = spec
                .annotations
                .iter()
                .map(|(k, tpl)| (k.clone(), expand(tpl, &data)))
                .collect();
            a.sort();
            std::sync::Arc::new(a)
        };
    for (k, s, data) in fresh {
        match active.get_mut(&k) {
            Some(old) if old.state != AlertState::Inactive => {
                if old.value.to_bits() != s.v.to_bits() {
                    old.annotations = annotate(&s, data, &mut data_of);
                }
                old.value = s.v;
            }
            _ => {
                let annotations = annotate(&s, data, &mut data_of);
                active.insert(
                    k.clone(),
                    Alert {
                        labels: k,
                        annotations,
                        state: AlertState::Pending,
                        active_at: t,
                        fired_at: None,
                        resolved_at: None,
                        keep_firing_since: None,
                        value: s.v,
                        series: None,
                    },
                );
            }
        }
    }
    let mut out = Vec::new();
    let mut counted = 0usize;
    let mut remove = Vec::new();
    for (k, a) in active.iter_mut() {
        if !seen.contains(k) {
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
        if !write_series {
            continue;
        }
        if a.series.is_none() {
            a.series = Some(Box::new([
                alert_labels(rule, a, "ALERTS", Some(AlertState::Pending)),
                alert_labels(rule, a, "ALERTS", Some(AlertState::Firing)),
                alert_labels(rule, a, "ALERTS_FOR_STATE", None),
            ]));
        }
        let Some([pending, firing, for_state]) = a.series.as_deref() else {
            continue;
        };
        let alerts = if a.state == AlertState::Firing {
            firing
        } else {
            pending
        };
        out.push(Sample {
            labels: alerts.clone(),
            t,
            v: 1.0,
        });
        // Prometheus stores whole seconds here.
        out.push(Sample {
            labels: for_state.clone(),
            t,
            v: a.active_at.div_euclid(1000) as f64,
        });
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

/// The labels of an alert's `ALERTS` (with its state) or `ALERTS_FOR_STATE` series.
fn alert_labels(rule: &Rule, a: &Alert, metric: &str, state: Option<AlertState>) -> Labels {
    let mut l = Labels::new(rule.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    for (k, v) in a.labels.iter() {
        l.set(k.to_string(), v.to_string());
    }
    l.set("__name__".into(), metric.to_string());
    l.set("alertname".into(), rule.name.clone());
    if let Some(s) = state {
        l.set("alertstate".into(), s.as_str().to_string());
    }
    l
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
