//! Prometheus rule files inside the engine: the series their selectors read, fed from every
//! poll into an in-memory head (stale markers when a series leaves a good poll), groups
//! evaluated at aligned multiples of their interval as time advances, recording results
//! written back, and alerts mirrored into the engine's alert table so hosts, snapshots,
//! events and the store treat them like any other. Pure: time comes with inputs.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::rules::{Check, Instance, Rule};
use super::{Engine, SpecKind, TargetSpec, push_labels};
use crate::model::{AlertState, AlertTransition, CycleBatch, Millis, Severity};
use crate::promql::{Head, Labels, STALE_NAN};
use crate::rules::eval::{self as reval, EvalContext, GroupState};
use crate::rules::file::{RuleKind, load_rule_file};

/// Prometheus's lookback for instant selectors.
const LOOKBACK_MS: i64 = 5 * 60_000;

/// The rule groups and everything they keep between evaluations.
#[derive(Clone, Debug)]
pub struct PromRules {
    groups: Vec<GroupState>,
    next_eval: Vec<Millis>,
    /// The engine rule index of each alerting rule, by group and rule.
    slots: Vec<Vec<Option<usize>>>,
    /// By group and rule: the rule reads nothing but `up`, which a failed poll sets (real
    /// data), so its alerts are never marked as held on old data.
    only_up: Vec<Vec<bool>>,
    head: Head,
    /// Metric names some rule reads (`None`: a selector without a name, so all).
    names: Option<BTreeSet<String>>,
    keep_ms: i64,
    feeds: Vec<Feed>,
    cx: EvalContext,
    /// The interval of groups without one.
    interval_ms: i64,
    /// Alerts whose labels name no host (an aggregation dropped it): shown and announced,
    /// never counted against a host.
    unattached: BTreeMap<(usize, String), Instance>,
    /// Subexpressions the rules share (a threshold's warning and critical variants read the
    /// same `rate(...)`): evaluated once per instant. Cleared before each cycle, since polls
    /// change the head between cycles.
    memo: crate::promql::Memo,
    /// Host name → engine host index, for alerts' `host` labels (thousands per cycle).
    host_index: std::collections::HashMap<String, usize>,
    /// Recording rules' results go to the store as series of `rules/<host>` (or `rules`
    /// when they name no host), so the metric browser lists and charts them; the series
    /// index of each of those sources.
    recorded: BTreeMap<String, super::SeriesIndex>,
}

/// One target's series as rules see them.
#[derive(Clone, Debug, Default)]
struct Feed {
    /// By the target's series index: the labels rules see, `None` when no rule reads it.
    labels: Vec<Option<Labels>>,
    /// Series indexes written by the last good poll, for stale markers.
    seen: Vec<u32>,
}

/// Why rule files could not be installed: `file: problem` lines.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct RuleFilesError(pub Vec<String>);

/// A Prometheus alert's class from its `severity` label (DESIGN's mapping, plus the
/// community rules' `page` and `none`); one without a label we know is major (it was worth
/// writing a rule for).
fn severity_of(label: Option<&str>) -> Severity {
    match label {
        Some("page") => Severity::Critical,
        Some("none") => Severity::Ok,
        Some(s) => Severity::from_label(s).unwrap_or(Severity::Major),
        None => Severity::Major,
    }
}

fn kind_name(k: &SpecKind) -> &'static str {
    match k {
        SpecKind::Exporter => "exporter",
        SpecKind::Snmp { .. } => "snmp",
        SpecKind::Icmp => "icmp",
        SpecKind::Tcp => "tcp",
        SpecKind::Http { .. } => "http",
    }
}

/// The value of `instance` a target's series carry.
fn instance_of(spec: &TargetSpec) -> &str {
    spec.labels
        .get("instance")
        .map(String::as_str)
        .unwrap_or(&spec.name)
}

impl PromRules {
    /// The engine removed rule `ri`: later indexes move down by one.
    pub(super) fn shift_slots_after(&mut self, ri: usize) {
        for g in &mut self.slots {
            for s in g.iter_mut().flatten() {
                if *s > ri {
                    *s -= 1;
                }
            }
        }
        self.unattached = std::mem::take(&mut self.unattached)
            .into_iter()
            .filter(|((r, _), _)| *r != ri)
            .map(|((r, l), i)| ((if r > ri { r - 1 } else { r }, l), i))
            .collect();
    }

    /// Each Prometheus rule as the rules view shows it.
    pub fn rule_statuses(&self) -> Vec<crate::model::RuleStatus> {
        let mut out = Vec::new();
        for g in &self.groups {
            let group = format!("{};{}", g.group.file, g.group.name);
            for (i, r) in g.group.rules.iter().enumerate() {
                let (mut firing, mut pending) = (0u32, 0u32);
                for a in g.alerts(i) {
                    match a.state {
                        reval::AlertState::Firing => firing += 1,
                        reval::AlertState::Pending => pending += 1,
                        reval::AlertState::Inactive => {}
                    }
                }
                let h = g.health.get(i);
                let spec = match &r.kind {
                    RuleKind::Alert(s) => Some(s),
                    RuleKind::Record => None,
                };
                out.push(crate::model::RuleStatus {
                    group: group.clone(),
                    name: r.name.clone(),
                    kind: match r.kind {
                        RuleKind::Alert(_) => "alert",
                        RuleKind::Record => "record",
                    }
                    .to_string(),
                    expr: r.expr_text.clone(),
                    firing,
                    pending,
                    last_eval: h.and_then(|h| h.last_eval),
                    error: h.and_then(|h| h.last_error.clone()),
                    matched: h.map(|h| h.last_count as u32).unwrap_or(0),
                    for_ms: spec.map(|s| s.for_ms).unwrap_or(0),
                    keep_firing_for_ms: spec.map(|s| s.keep_firing_for_ms).unwrap_or(0),
                    labels: r.labels.clone(),
                    annotations: spec
                        .map(|s| {
                            s.annotations
                                .iter()
                                .map(|(k, t)| (k.clone(), t.source().to_string()))
                                .collect()
                        })
                        .unwrap_or_default(),
                });
            }
        }
        out
    }

    /// Series and points held for rules.
    pub fn head_size(&self) -> (usize, usize) {
        (self.head.len(), self.head.points())
    }

    /// The labels a series gets: its own, then `job` (the target kind), `instance` (the
    /// target name) and `host`, then the target's configured labels over those.
    fn series_labels(&self, key: &str, spec: &TargetSpec) -> Option<Labels> {
        let (name, rest) = match key.find('{') {
            Some(i) => (key.get(..i)?, key.get(i..)?),
            None => (key, ""),
        };
        if let Some(names) = &self.names
            && !names.contains(name)
        {
            return None;
        }
        let mut l = Labels::new(super::rules::parse_label_string(rest));
        l.set("__name__".into(), name.to_string());
        for (k, v) in [
            ("job", kind_name(&spec.kind)),
            ("instance", spec.name.as_str()),
            ("host", spec.host.as_str()),
        ] {
            if l.get(k).is_none() {
                l.set(k.to_string(), v.to_string());
            }
        }
        for (k, v) in &spec.labels {
            l.set(k.clone(), v.clone());
        }
        Some(l)
    }

    /// Fold one poll's batch into the head.
    fn feed(&mut self, ti: usize, spec: &TargetSpec, batch: &CycleBatch, up: bool) {
        if self.feeds.len() <= ti {
            self.feeds.resize_with(ti + 1, Feed::default);
        }
        for (idx, key) in &batch.new_series {
            let labels = self.series_labels(key, spec);
            let Some(feed) = self.feeds.get_mut(ti) else {
                return;
            };
            let i = *idx as usize;
            if feed.labels.len() <= i {
                feed.labels.resize(i + 1, None);
            }
            if let Some(slot) = feed.labels.get_mut(i) {
                *slot = labels;
            }
        }
        let Some(feed) = self.feeds.get_mut(ti) else {
            return;
        };
        let mut now_seen = Vec::new();
        for (idx, t, v) in &batch.samples {
            if let Some(Some(l)) = feed.labels.get(*idx as usize) {
                self.head.push(l, *t, *v);
                now_seen.push(*idx);
            }
        }
        if up {
            now_seen.sort_unstable();
            now_seen.dedup();
            for idx in &feed.seen {
                if now_seen.binary_search(idx).is_err()
                    && let Some(Some(l)) = feed.labels.get(*idx as usize)
                {
                    self.head.push(l, batch.at, STALE_NAN);
                }
            }
            feed.seen = now_seen;
        }
        // A failed poll writes no stale markers: its series hold (the documented difference;
        // `up` is 0 all the same).
    }
}

impl Engine {
    /// Install Prometheus rule files (name, text): each alerting rule becomes an engine rule
    /// whose alerts prom.rs keeps. `interval_ms` is the evaluation interval of groups without
    /// one. Replaces any installed before; meant to be called before the first input.
    pub fn set_rule_files(
        &mut self,
        files: &[(String, String)],
        interval_ms: i64,
    ) -> Result<(), RuleFilesError> {
        // Drop earlier Prometheus rules (always the last ones) and their alerts.
        if let Some(first) = self.rules.iter().position(|r| r.check == Check::Prometheus) {
            self.rules.truncate(first);
            self.alerts.retain(|(ri, _, _), _| *ri < first);
        }
        self.prom = None;
        if files.is_empty() {
            return Ok(());
        }
        let mut problems = Vec::new();
        let mut groups = Vec::new();
        for (name, text) in files {
            match load_rule_file(name, text) {
                Ok(f) => groups.extend(f.groups),
                Err(ps) => problems.extend(ps.iter().map(|p| p.to_string())),
            }
        }
        if !problems.is_empty() {
            return Err(RuleFilesError(problems));
        }
        let interval_ms = interval_ms.max(1000);
        let mut names = Some(BTreeSet::new());
        let mut reads_alerts = false;
        let mut keep_ms = 0i64;
        let mut slots = Vec::new();
        let mut only_up = Vec::new();
        let mut states = Vec::new();
        for g in groups {
            let iv = g.interval_ms.unwrap_or(interval_ms).max(1000);
            let mut gs = Vec::new();
            let mut ups = Vec::new();
            for r in &g.rules {
                let reach = crate::promql::reach(&r.expr);
                ups.push(
                    reach
                        .names
                        .as_ref()
                        .is_some_and(|n| n.len() == 1 && n.contains("up")),
                );
                reads_alerts |= reach
                    .names
                    .as_ref()
                    .is_none_or(|n| n.contains("ALERTS") || n.contains("ALERTS_FOR_STATE"));
                match (&mut names, reach.names) {
                    (Some(all), Some(n)) => all.extend(n),
                    (n, None) => *n = None,
                    (None, Some(_)) => {}
                }
                // The window, the lookback, and two intervals of slack so a point just
                // outside the window at one evaluation is still there for the next.
                keep_ms = keep_ms.max(reach.window_ms + LOOKBACK_MS + 2 * iv);
                gs.push(match &r.kind {
                    RuleKind::Alert(spec) => {
                        let sev = r
                            .labels
                            .iter()
                            .find(|(k, _)| k == "severity")
                            .map(|(_, v)| v.as_str());
                        self.rules.push(Rule {
                            name: r.name.clone(),
                            check: Check::Prometheus,
                            threshold: f64::NAN,
                            clear: f64::NAN,
                            for_ms: spec.for_ms,
                            keep_firing_for_ms: spec.keep_firing_for_ms,
                            severity: severity_of(sev),
                            labels: Vec::new(),
                            annotations: Vec::new(),
                            below: false,
                            series: None,
                        });
                        Some(self.rules.len() - 1)
                    }
                    RuleKind::Record => None,
                });
            }
            // Recording results are series later rules may read by name.
            if let Some(all) = &mut names {
                all.extend(
                    g.rules
                        .iter()
                        .filter(|r| matches!(r.kind, RuleKind::Record))
                        .map(|r| r.name.clone()),
                );
                all.extend(["ALERTS".to_string(), "ALERTS_FOR_STATE".to_string()]);
            }
            slots.push(gs);
            only_up.push(ups);
            states.push(GroupState::new(g));
        }
        for g in &mut states {
            g.alert_series = reads_alerts;
        }
        let next_eval = vec![Millis::MIN; states.len()];
        let memo = crate::promql::Memo::new(
            states
                .iter()
                .flat_map(|g| g.group.rules.iter().map(|r| r.expr.clone()))
                .collect(),
        );
        let mut p = PromRules {
            recorded: BTreeMap::new(),
            memo,
            host_index: self
                .hosts
                .iter()
                .enumerate()
                .map(|(i, h)| (h.name.clone(), i))
                .collect(),
            groups: states,
            next_eval,
            slots,
            only_up,
            head: Head::new(),
            names,
            keep_ms,
            feeds: Vec::new(),
            cx: EvalContext::default(),
            interval_ms,
            unattached: BTreeMap::new(),
        };
        // The interval of a group without one, for `rate` over subqueries without a step.
        p.cx.query.default_step_ms = interval_ms;
        self.prom = Some(Box::new(p));
        Ok(())
    }

    /// Apply a reload of the rule files: the new rules replace the old, keeping what the old
    /// knew of rules that stayed (by group, name and labels, as Prometheus does); a reload
    /// that failed, or rules that do not load, change nothing. Either way the outcome is kept
    /// for the console.
    pub(super) fn reload_rules(&mut self, r: &crate::model::RuleReload) {
        let outcome = match &r.error {
            Some(e) => Err(e.clone()),
            None => self
                .reload_rule_files(&r.files, r.interval_ms)
                .map_err(|e| e.to_string()),
        };
        let (ok, message) = match outcome {
            Ok(()) => {
                let rules = self
                    .prom
                    .as_ref()
                    .map(|p| p.groups.iter().map(|g| g.group.rules.len()).sum::<usize>())
                    .unwrap_or(0);
                let files = r.files.len();
                (
                    true,
                    format!(
                        "rules reloaded: {files} file{}, {rules} rule{}",
                        if files == 1 { "" } else { "s" },
                        if rules == 1 { "" } else { "s" }
                    ),
                )
            }
            Err(e) => (
                false,
                format!("rule reload failed, the last good rules keep running: {e}"),
            ),
        };
        self.rule_reload = Some(crate::model::RuleReloadStatus {
            at: r.at,
            ok,
            message,
        });
    }

    /// Replace the Prometheus rules while running. Alerts of rules that stayed carry on
    /// (pending keeps its `for` clock, firing keeps firing); those of rules that went are
    /// resolved and announced; the series held for rules are kept, so rates do not restart.
    /// On error nothing changes.
    pub fn reload_rule_files(
        &mut self,
        files: &[(String, String)],
        interval_ms: i64,
    ) -> Result<(), RuleFilesError> {
        let first = self
            .rules
            .iter()
            .position(|r| r.check == Check::Prometheus)
            .unwrap_or(self.rules.len());
        let old_rules = self.rules.split_off(first);
        let old_alerts = self.alerts.split_off(&(first, 0, String::new()));
        let old_flaps = self.flaps.split_off(&(first, 0, String::new()));
        let old = self.prom.take();
        if let Err(e) = self.set_rule_files(files, interval_ms) {
            self.rules.truncate(first);
            self.rules.extend(old_rules);
            self.alerts.extend(old_alerts);
            self.flaps.extend(old_flaps);
            self.prom = old;
            return Err(e);
        }
        // Old engine rule index → new, for the alerting rules that stayed.
        let mut moved: BTreeMap<usize, usize> = BTreeMap::new();
        let mut gone_loose = Vec::new();
        if let (Some(old), Some(new)) = (old.as_deref(), self.prom.as_deref_mut()) {
            for (ng, group) in new.groups.iter_mut().enumerate() {
                let Some(og) = old.groups.iter().position(|o| {
                    o.group.file == group.group.file && o.group.name == group.group.name
                }) else {
                    continue;
                };
                let (Some(old_group), Some(old_slots)) = (old.groups.get(og), old.slots.get(og))
                else {
                    continue;
                };
                group.adopt(old_group);
                if let (Some(n), Some(o)) = (new.next_eval.get_mut(ng), old.next_eval.get(og)) {
                    *n = *o;
                }
                for (i, slot) in new.slots.get(ng).into_iter().flatten().enumerate() {
                    let (Some(ri), Some(j)) = (*slot, group.match_in(i, old_group)) else {
                        continue;
                    };
                    if let Some(Some(old_ri)) = old_slots.get(j) {
                        moved.insert(*old_ri, ri);
                    }
                }
            }
            for ((ri, l), inst) in &old.unattached {
                match moved.get(ri) {
                    Some(&to) => {
                        new.unattached.insert((to, l.clone()), inst.clone());
                    }
                    None => gone_loose.push((*ri, l.clone(), inst.clone())),
                }
            }
        }
        for (ri, labels, inst) in gone_loose {
            let Some(rule) = old_rules.get(ri - first) else {
                continue;
            };
            let mut tr = transition(
                &rule.name,
                "",
                labels,
                &inst,
                AlertState::Inactive,
                rule.severity,
                self.now,
            );
            tr.summary = "rule removed by a reload".to_string();
            self.record_transition(None, tr);
        }
        if let Some(mut old) = old
            && let Some(new) = self.prom.as_deref_mut()
        {
            // The series held for rules stay (a rate over them goes on); series only the new
            // rules read start with the next poll. Each target's labels are worked out again
            // for the new rules' names, from the series the engine already knows.
            new.head = std::mem::take(&mut old.head);
            new.recorded = std::mem::take(&mut old.recorded);
            let mut feeds = Vec::with_capacity(self.targets.len());
            for (ti, t) in self.targets.iter().enumerate() {
                let mut feed = Feed {
                    labels: vec![None; t.index.ids.len()],
                    seen: old
                        .feeds
                        .get(ti)
                        .map(|f| f.seen.clone())
                        .unwrap_or_default(),
                };
                for (key, idx) in &t.index.ids {
                    if let Some(slot) = feed.labels.get_mut(*idx as usize) {
                        *slot = new.series_labels(key, &t.spec);
                    }
                }
                feeds.push(feed);
            }
            new.feeds = feeds;
        }
        for ((ri, h, labels), inst) in old_alerts {
            match moved.get(&ri) {
                Some(&to) => {
                    self.alerts.insert((to, h, labels), inst);
                }
                None if inst.is_active() => {
                    let Some(rule) = old_rules.get(ri - first) else {
                        continue;
                    };
                    let host = self
                        .hosts
                        .get(h)
                        .map(|x| x.name.clone())
                        .unwrap_or_default();
                    let mut tr = transition(
                        &rule.name,
                        &host,
                        labels,
                        &inst,
                        AlertState::Inactive,
                        rule.severity,
                        self.now,
                    );
                    tr.summary = "rule removed by a reload".to_string();
                    self.record_transition(Some(h), tr);
                }
                None => {}
            }
        }
        for ((ri, h, labels), f) in old_flaps {
            if let Some(&to) = moved.get(&ri) {
                self.flaps.insert((to, h, labels), f);
            }
        }
        Ok(())
    }

    /// After a poll: feed its batch to the rules' head.
    pub(super) fn feed_rules(&mut self, ti: usize) {
        let Some(p) = self.prom.as_mut() else {
            return;
        };
        let Some(t) = self.targets.get(ti) else {
            return;
        };
        let Some(batch) = self.batches.iter().rev().find(|b| b.source == t.source) else {
            return;
        };
        p.feed(ti, &t.spec, batch, t.up == Some(true));
    }

    /// Evaluate every group at `t` now, whatever their schedule: a forced cycle (the rules
    /// benchmark measures one cycle over the same data again and again with it).
    pub fn evaluate_rule_groups_at(&mut self, t: Millis) {
        if let Some(p) = self.prom.as_mut() {
            for n in &mut p.next_eval {
                *n = Millis::MIN;
            }
        }
        self.run_rule_groups(t);
    }

    /// Evaluate every group whose time has come, at the latest multiple of its interval.
    /// Returns whether any group ran.
    pub(super) fn run_rule_groups(&mut self, now: Millis) -> bool {
        let Some(p) = self.prom.as_ref() else {
            return false;
        };
        if !p.next_eval.iter().any(|n| *n <= now) {
            return false;
        }
        // Targets that cannot be seen: their alerts hold instead of resolving.
        let down: HashSet<String> = self
            .targets
            .iter()
            .filter(|t| t.up == Some(false))
            .map(|t| instance_of(&t.spec).to_string())
            .collect();
        // Hosts with a target that could not be polled, for alerts that name the host but
        // not the target (an aggregation `by (host)` kept only that).
        let down_hosts: HashSet<String> = self
            .targets
            .iter()
            .filter(|t| t.up == Some(false))
            .filter_map(|t| self.hosts.get(t.host).map(|h| h.name.clone()))
            .collect();
        let unseen = Unseen {
            targets: &down,
            hosts: &down_hosts,
        };
        let Some(mut p) = self.prom.take() else {
            return false;
        };
        p.memo.clear();
        for g in 0..p.groups.len() {
            let (Some(next), Some(group)) = (p.next_eval.get(g).copied(), p.groups.get_mut(g))
            else {
                continue;
            };
            if now < next {
                continue;
            }
            let iv = group.group.interval_ms.unwrap_or(p.interval_ms).max(1000);
            let t = now - now.rem_euclid(iv);
            if let Some(n) = p.next_eval.get_mut(g) {
                *n = t + iv;
            }
            let before = (!down.is_empty()).then(|| group.alert_maps().to_vec());
            group.eval_memo(t, &mut p.head, &p.cx, Some(&p.memo));
            let only_up = p.only_up.get(g).map(Vec::as_slice).unwrap_or_default();
            let held = match before {
                Some(before) => hold(group, &before, &unseen, only_up),
                None => HashSet::new(),
            };
            self.batches.extend(recorded_batches(&mut p, g, t));
            self.mirror(&mut p, g, t, &held);
        }
        // Values are only valid for this cycle's head; do not hold their memory until the next.
        p.memo.clear();
        p.head.trim(now - p.keep_ms);
        self.prom = Some(p);
        true
    }

    /// Copy group `g`'s alerts into the engine's table, announcing each change.
    fn mirror(&mut self, p: &mut PromRules, g: usize, t: Millis, held: &HashSet<(usize, Labels)>) {
        let (Some(group), Some(slots)) = (p.groups.get(g), p.slots.get(g)) else {
            return;
        };
        for (i, slot) in slots.iter().enumerate() {
            let Some(ri) = *slot else { continue };
            let mut now_active: BTreeMap<(Option<usize>, String), Instance> = BTreeMap::new();
            for a in group.alerts(i) {
                let state = match a.state {
                    reval::AlertState::Pending => AlertState::Pending,
                    reval::AlertState::Firing => AlertState::Firing,
                    reval::AlertState::Inactive => continue,
                };
                let host = a
                    .labels
                    .get("host")
                    .and_then(|h| p.host_index.get(h).copied());
                let mut labels = String::new();
                let shown: Vec<(&str, &str)> = a
                    .labels
                    .iter()
                    .filter(|(k, _)| *k != "alertname" && !(host.is_some() && *k == "host"))
                    .collect();
                if !shown.is_empty() {
                    push_labels(&mut labels, shown);
                }
                let summary = ["summary", "description"]
                    .iter()
                    .find_map(|k| a.annotations.iter().find(|(n, _)| n == k))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                let held = !held.is_empty() && held.contains(&(i, a.labels.clone()));
                now_active.insert(
                    (host, labels),
                    Instance {
                        held,
                        state,
                        active_at: a.active_at,
                        fired_at: a.fired_at,
                        last_true: t,
                        value: a.value,
                        summary,
                        annotations: a.annotations.clone(),
                    },
                );
            }
            let (name, severity) = match self.rules.get(ri) {
                Some(r) => (r.name.clone(), r.severity),
                None => continue,
            };
            // Looked up once per known alert below; borrowed keys, not a copy of each.
            let active_keys: HashSet<(usize, &str), foldhash::fast::FixedState> = now_active
                .keys()
                .filter_map(|(h, l)| h.map(|h| (h, l.as_str())))
                .collect();
            // Gone since the last evaluation: resolved.
            let gone_hosts: Vec<(usize, String)> = self
                .alerts
                .range((ri, 0, String::new())..(ri + 1, 0, String::new()))
                .filter(|((_, h, l), _)| !active_keys.contains(&(*h, l.as_str())))
                .map(|((_, h, l), _)| (*h, l.clone()))
                .collect();
            let gone_loose: Vec<String> = p
                .unattached
                .range((ri, String::new())..(ri + 1, String::new()))
                .filter(|((_, l), _)| !now_active.contains_key(&(None, l.clone())))
                .map(|((_, l), _)| l.clone())
                .collect();
            for (h, labels) in gone_hosts {
                if let Some(old) = self.alerts.remove(&(ri, h, labels.clone())) {
                    let tr = transition(
                        &name,
                        &self.hosts[h].name,
                        labels,
                        &old,
                        AlertState::Inactive,
                        severity,
                        t,
                    );
                    self.record_transition(Some(h), tr);
                }
            }
            for labels in gone_loose {
                if let Some(old) = p.unattached.remove(&(ri, labels.clone())) {
                    let tr = transition(&name, "", labels, &old, AlertState::Inactive, severity, t);
                    self.record_transition(None, tr);
                }
            }
            // Flap detection: every alert of this rule with a history, and every active one.
            let quiet: Vec<(usize, usize, String)> = self
                .flaps
                .range((ri, 0, String::new())..(ri + 1, 0, String::new()))
                .filter(|((_, h, l), _)| !active_keys.contains(&(*h, l.as_str())))
                .map(|(k, _)| k.clone())
                .collect();
            drop(active_keys);
            let seen: Vec<(usize, usize, String)> = now_active
                .keys()
                .filter_map(|(host, labels)| host.map(|h| (ri, h, labels.clone())))
                .collect();
            for k in &seen {
                self.observe_flap(k, true);
            }
            for k in &quiet {
                self.observe_flap(k, false);
            }
            for ((host, labels), inst) in now_active {
                // Most alerts are already in the table: update in place; only a change
                // (below) needs copies of the labels and the instance.
                let (from, labels) = match host {
                    Some(h) => {
                        let key = (ri, h, labels);
                        let from = match self.alerts.get_mut(&key) {
                            Some(slot) if slot.state == inst.state => {
                                *slot = inst;
                                continue;
                            }
                            Some(slot) => std::mem::replace(slot, inst.clone()).state,
                            None => {
                                self.alerts.insert(key.clone(), inst.clone());
                                AlertState::Inactive
                            }
                        };
                        (from, key.2)
                    }
                    None => {
                        let old = p.unattached.insert((ri, labels.clone()), inst.clone());
                        (old.map(|o| o.state).unwrap_or(AlertState::Inactive), labels)
                    }
                };
                if from != inst.state {
                    let host_name = host.map(|h| self.hosts[h].name.as_str()).unwrap_or("");
                    let mut tr =
                        transition(&name, host_name, labels, &inst, inst.state, severity, t);
                    tr.from = from;
                    self.record_transition(host, tr);
                }
            }
        }
    }

    /// Resume alerts a previous run left pending or firing (their latest stored transitions),
    /// so a restart does not re-arm `for`: each goes back into its rule with its `active_at`,
    /// and the next evaluation carries on from there — or resolves it if its condition no
    /// longer holds. Alerts of rules or hosts no longer configured are skipped. Call before
    /// the first input. Returns how many were resumed.
    pub fn restore_alerts(&mut self, active: &[AlertTransition]) -> usize {
        let mut restored = 0;
        for tr in active {
            if tr.to == AlertState::Inactive {
                continue;
            }
            let Some(h) = self.hosts.iter().position(|x| x.name == tr.host) else {
                continue;
            };
            let Some(ri) = self.rules.iter().position(|r| r.name == tr.rule) else {
                continue;
            };
            let inst = Instance {
                held: false,
                state: tr.to,
                active_at: tr.active_at,
                fired_at: (tr.to == AlertState::Firing).then_some(tr.at),
                last_true: tr.at,
                value: tr.value,
                summary: tr.summary.clone(),
                annotations: Default::default(),
            };
            let is_prom = self
                .rules
                .get(ri)
                .is_some_and(|r| r.check == Check::Prometheus);
            if is_prom && !self.restore_prom_alert(ri, tr, &inst) {
                continue;
            }
            self.alerts.insert((ri, h, tr.labels.clone()), inst);
            restored += 1;
        }
        restored
    }

    /// Put a stored alert back into the Prometheus group that owns rule `ri`.
    fn restore_prom_alert(&mut self, ri: usize, tr: &AlertTransition, inst: &Instance) -> bool {
        let Some(p) = self.prom.as_mut() else {
            return false;
        };
        let mut labels = Labels::new(super::rules::parse_label_string(&tr.labels));
        labels.set("alertname".into(), tr.rule.clone());
        labels.set("host".into(), tr.host.clone());
        for (g, slots) in p.slots.iter().enumerate() {
            let Some(i) = slots.iter().position(|s| *s == Some(ri)) else {
                continue;
            };
            let Some(group) = p.groups.get_mut(g) else {
                return false;
            };
            let alert = reval::Alert {
                labels: labels.clone(),
                annotations: Default::default(),
                state: match inst.state {
                    AlertState::Firing => reval::AlertState::Firing,
                    _ => reval::AlertState::Pending,
                },
                active_at: inst.active_at,
                fired_at: inst.fired_at,
                resolved_at: None,
                keep_firing_since: None,
                value: inst.value,
                series: None,
            };
            group.restore(i, &labels, Some(alert));
            return true;
        }
        false
    }

    /// Alerts not tied to a host, as the snapshot shows them.
    pub(super) fn unattached_alerts(&self) -> Vec<(&Rule, &str, &Instance)> {
        let Some(p) = &self.prom else {
            return Vec::new();
        };
        p.unattached
            .iter()
            .filter_map(|((ri, l), i)| Some((self.rules.get(*ri)?, l.as_str(), i)))
            .collect()
    }

    /// Whether some installed Prometheus rule reads series named `name`.
    pub fn rule_reads(&self, name: &str) -> bool {
        match &self.prom {
            None => false,
            Some(p) => p.names.as_ref().is_none_or(|n| n.contains(name)),
        }
    }

    /// How far back rules read (their longest window, the lookback and slack), when there
    /// are Prometheus rules: what the history store should give the head at start.
    pub fn rule_history_ms(&self) -> Option<i64> {
        self.prom.as_ref().map(|p| p.keep_ms)
    }

    /// Put one target's stored history into the rules' head. Only for series rules read,
    /// only points older than what the head holds (it is meant for the start, before the
    /// first poll; a later point of a series wins), stale markers as stored.
    pub(super) fn load_rule_history(&mut self, h: &crate::model::RuleHistory) {
        let Some(t) = self.targets.get(h.target.index()) else {
            return;
        };
        let Some(p) = self.prom.as_deref_mut() else {
            return;
        };
        for (key, points) in &h.series {
            let Some(labels) = p.series_labels(key, &t.spec) else {
                continue;
            };
            for &(at, v) in points {
                p.head.push(&labels, at, v);
            }
        }
    }

    /// Whether rules share the values of common subexpressions within an instant (on by
    /// default). Results are the same either way; off shows what each rule costs alone (the
    /// benchmark reports both) and lets tests hold the two paths to the same answers.
    pub fn set_rule_sharing(&mut self, on: bool) {
        let Some(p) = self.prom.as_mut() else { return };
        let roots = if on {
            p.groups
                .iter()
                .flat_map(|g| g.group.rules.iter().map(|r| r.expr.clone()))
                .collect()
        } else {
            Vec::new()
        };
        p.memo = crate::promql::Memo::new(roots);
    }

    /// The installed Prometheus rules, for the rules view and reports.
    pub fn prom_rules(&self) -> Option<&PromRules> {
        self.prom.as_deref()
    }
}

/// The store batches of group `g`'s recording results at `t`, one per source.
fn recorded_batches(p: &mut PromRules, g: usize, t: Millis) -> Vec<CycleBatch> {
    let Some(group) = p.groups.get(g) else {
        return Vec::new();
    };
    let mut by_source: BTreeMap<String, CycleBatch> = BTreeMap::new();
    for (i, rule) in group.group.rules.iter().enumerate() {
        if !matches!(rule.kind, RuleKind::Record) {
            continue;
        }
        for labels in group.written(i) {
            let Some((at, v)) = p.head.last(labels) else {
                continue;
            };
            if at != t || crate::promql::is_stale(v) {
                continue;
            }
            let source = match labels.get("host").filter(|h| p.host_index.contains_key(*h)) {
                Some(h) => format!("rules/{h}"),
                None => "rules".to_string(),
            };
            let mut key = labels.metric_name().unwrap_or_default().to_string();
            let rest: Vec<(&str, &str)> = labels.iter().filter(|(k, _)| *k != "__name__").collect();
            if !rest.is_empty() {
                push_labels(&mut key, rest);
            }
            let batch = by_source
                .entry(source.clone())
                .or_insert_with(|| CycleBatch {
                    source: source.as_str().into(),
                    at: t,
                    poll: None,
                    new_series: Vec::new(),
                    samples: Vec::new(),
                    alerts: Vec::new(),
                });
            let idx = p
                .recorded
                .entry(source)
                .or_default()
                .get_or_insert(&key, &mut batch.new_series);
            batch.samples.push((idx, t, v));
        }
    }
    by_source.into_values().collect()
}

fn transition(
    rule: &str,
    host: &str,
    labels: String,
    inst: &Instance,
    to: AlertState,
    severity: Severity,
    t: Millis,
) -> AlertTransition {
    AlertTransition {
        at: t,
        rule: rule.to_string(),
        host: host.to_string(),
        labels,
        from: inst.state,
        to,
        severity,
        value: inst.value,
        active_at: inst.active_at,
        summary: inst.summary.clone(),
    }
}

/// What could not be polled this cycle: targets by `instance`, and their hosts.
struct Unseen<'a> {
    targets: &'a HashSet<String>,
    hosts: &'a HashSet<String>,
}

impl Unseen<'_> {
    /// Whether an alert with these labels is about something that could not be polled.
    fn covers(&self, labels: &Labels) -> bool {
        match labels.get("instance") {
            Some(i) => self.targets.contains(i),
            None => labels.get("host").is_some_and(|h| self.hosts.contains(h)),
        }
    }
}

/// Alerts about unseen targets: those an evaluation would resolve keep their state, and
/// every one still active is marked held, since its data is from before the failed poll
/// (except for rules that read only `up`, which the failed poll set). Returns which
/// (rule, labels) are held.
fn hold(
    group: &mut GroupState,
    before: &[BTreeMap<Labels, reval::Alert>],
    unseen: &Unseen<'_>,
    only_up: &[bool],
) -> HashSet<(usize, Labels)> {
    let mut held = HashSet::new();
    for (i, prev) in before.iter().enumerate() {
        if only_up.get(i).copied().unwrap_or(false) {
            continue;
        }
        for (labels, a) in prev {
            if a.state == reval::AlertState::Inactive || !unseen.covers(labels) {
                continue;
            }
            let resolved = group
                .alert_maps()
                .get(i)
                .and_then(|m| m.get(labels))
                .is_none_or(|x| x.state == reval::AlertState::Inactive);
            if resolved {
                group.restore(i, labels, Some(a.clone()));
            }
            held.insert((i, labels.clone()));
        }
    }
    held
}
