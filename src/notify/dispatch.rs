//! Alertmanager's dispatcher as a deterministic state machine: the alert store (with its
//! merge of re-sent alerts), one aggregation group per route and group-label set, the
//! `group_wait` / `group_interval` / `repeat_interval` timers, inhibition, the notification
//! log's deduplication and `send_resolved`. Time is an input (`advance(now)`, `put(.., now)`);
//! nothing here reads a clock, opens a socket or renders a payload — the caller delivers each
//! `Notification` and reports the outcome back (`delivered`), as Alertmanager's pipeline
//! would have returned it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use super::config::{AmConfig, GroupBy, InhibitRule, Route};
use super::matchers::LabelMatcher;
use super::silence::Silence;
use crate::model::Millis;

pub use super::labels::LabelSet;
/// Annotations: sorted by name, each name once. A list rather than a map because most alerts
/// carry one or two, and a map's node costs half a kilobyte whatever it holds.
pub type Pairs = Vec<(String, String)>;

/// Alertmanager cleans up empty aggregation groups on this cadence, counted from its start;
/// an alert arriving in an emptied group before then joins it without a new `group_wait`.
pub const MAINTENANCE_MS: i64 = 30_000;

/// An alert as Alertmanager holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub labels: LabelSet,
    pub annotations: Pairs,
    pub starts_at: Millis,
    /// When it stops firing. `None`: until told otherwise (alerts from our own engine,
    /// which resolves them explicitly).
    pub ends_at: Option<Millis>,
    pub generator_url: String,
}

impl Alert {
    pub fn resolved_at(&self, t: Millis) -> bool {
        self.ends_at.is_some_and(|e| e <= t)
    }
}

/// Prometheus's label-set fingerprint (FNV-1a over sorted names and values, each followed by
/// the 0xff separator): the `fingerprint` of the webhook payload, printed as 16 hex digits.
pub fn fingerprint(labels: &LabelSet) -> u64 {
    let mut h = Fnv::new();
    for (k, v) in labels {
        h.field(k.as_bytes());
        h.field(v.as_bytes());
    }
    h.finish()
}

/// FNV-1a, 64 bits, over fields each followed by the 0xff separator (Prometheus's label
/// hashing; also how the feed names alerts).
pub struct Fnv(u64);

impl Fnv {
    pub fn new() -> Fnv {
        Fnv(14_695_981_039_346_656_037)
    }

    pub fn field(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().chain(&[0xff]) {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(1_099_511_628_211);
        }
    }

    pub fn finish(&self) -> u64 {
        self.0
    }
}

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv::new()
    }
}

/// Go's `%q` of a label set as `model.LabelSet.String()` prints it: `{a="1", b="2"}`.
pub fn label_set_string(labels: &LabelSet) -> String {
    let parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::promql::go_quote(v)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// One alert of a notification, as the flush saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct SentAlert {
    pub fingerprint: u64,
    pub resolved: bool,
    /// The alert; a firing one has its `ends_at` cleared, as Alertmanager's flush does.
    pub alert: Arc<Alert>,
}

/// Identifies one flush of one group, for reporting its deliveries.
pub type FlushId = u64;

/// What one integration (one `webhook_configs` entry of a receiver) is to be sent.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    pub at: Millis,
    pub flush: FlushId,
    pub receiver: String,
    /// Index into the receiver's webhooks.
    pub integration: usize,
    pub group_key: String,
    pub group_labels: LabelSet,
    /// In Alertmanager's order (job, instance, then label sets); resolved alerts are absent
    /// when the integration does not `send_resolved`.
    pub alerts: Vec<SentAlert>,
}

impl Notification {
    pub fn firing(&self) -> bool {
        self.alerts.iter().any(|a| !a.resolved)
    }
}

/// What the notification log remembers of the last successful notification of a group to
/// one integration.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    pub at: Millis,
    pub firing: BTreeSet<u64>,
    pub resolved: BTreeSet<u64>,
    /// Forgotten after this (Alertmanager keeps an entry for twice the repeat interval).
    pub expires: Millis,
}

/// Key of the notification log: group key, receiver name, integration index.
pub type LogKey = (String, String, usize);

#[derive(Clone, Debug)]
struct Stored {
    alert: Arc<Alert>,
    /// Alertmanager gave it an end because it came without one (`resolve_timeout`).
    timeout: bool,
    /// A sequence number standing in for `UpdatedAt`: which put last wrote it.
    updated: u64,
}

/// A route of the tree, flattened, with the key Alertmanager derives for it.
#[derive(Clone, Debug)]
struct RouteNode {
    key: String,
    receiver: String,
    group_by: GroupBy,
    group_wait_ms: i64,
    group_interval_ms: i64,
    repeat_interval_ms: i64,
}

struct InFlight {
    id: FlushId,
    waiting: usize,
    failed: bool,
    /// Each alert of the flush: fingerprint, its sequence number then, whether resolved.
    alerts: Vec<(u64, u64, bool)>,
    /// Log entries to write for each integration that succeeds.
    logs: Vec<(usize, LogEntry)>,
}

struct Group {
    route: usize,
    key: String,
    labels: LabelSet,
    alerts: BTreeMap<u64, (Arc<Alert>, u64)>,
    next: Millis,
    has_flushed: bool,
    in_flight: Option<InFlight>,
}

/// A source alert of an inhibition rule: when it ends, and whether it also matches the
/// target side (then it cannot mute alerts that match both sides).
type Source = (Option<Millis>, bool);

/// Per inhibition rule, the alerts matching its source side, by their `equal` label values.
#[derive(Default)]
struct SourceCache {
    by_equal: HashMap<Vec<String>, BTreeMap<u64, Source>>,
}

/// Counts for the console and `check`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DispatchStats {
    pub alerts: usize,
    pub groups: usize,
    pub flushes: u64,
    pub notifications: u64,
    pub failed_deliveries: u64,
}

pub struct Dispatcher {
    config: Arc<AmConfig>,
    routes: Vec<RouteNode>,
    alerts: HashMap<u64, Stored>,
    groups: HashMap<u64, Group>,
    group_ids: HashMap<(usize, u64), u64>,
    deadlines: BTreeSet<(Millis, u64)>,
    next_group: u64,
    next_flush: FlushId,
    flush_owner: HashMap<FlushId, u64>,
    seq: u64,
    inhibit: Vec<SourceCache>,
    silences: Vec<Silence>,
    log: HashMap<LogKey, LogEntry>,
    next_maintenance: Millis,
    /// Deliveries are reported successful at once (dry runs, replays, simulations).
    assume_delivered: bool,
    stats: DispatchStats,
}

impl Dispatcher {
    /// A dispatcher started at `now` (the phase of its maintenance). Refuses what it would
    /// otherwise ignore: time intervals are not evaluated yet, so a route using one is an
    /// error rather than a route that silently ignores its schedule; likewise a webhook's
    /// `url_file` and `http_config`.
    pub fn new(config: Arc<AmConfig>, now: Millis) -> Result<Dispatcher, String> {
        let mut routes = Vec::new();
        flatten(&config.route, None, &mut routes)?;
        for r in &config.receivers {
            for w in &r.webhooks {
                let refuse = if w.url_file.is_some() {
                    Some("url_file is not read yet; give the url")
                } else if w.http_config {
                    Some(
                        "http_config (auth, TLS, proxy) is not applied yet; remove it or forward to an Alertmanager",
                    )
                } else {
                    None
                };
                if let Some(why) = refuse {
                    return Err(format!(
                        "line {}: receiver {:?}: a webhook's {why}",
                        r.pos.line, r.name
                    ));
                }
            }
        }
        let inhibit = config
            .inhibit_rules
            .iter()
            .map(|_| SourceCache::default())
            .collect();
        Ok(Dispatcher {
            config,
            routes,
            alerts: HashMap::new(),
            groups: HashMap::new(),
            group_ids: HashMap::new(),
            deadlines: BTreeSet::new(),
            next_group: 0,
            next_flush: 0,
            flush_owner: HashMap::new(),
            seq: 0,
            inhibit,
            silences: Vec::new(),
            log: HashMap::new(),
            next_maintenance: now + MAINTENANCE_MS,
            assume_delivered: false,
            stats: DispatchStats::default(),
        })
    }

    /// Report every delivery as successful the moment it is due (dry runs).
    pub fn assume_delivered(&mut self, yes: bool) {
        self.assume_delivered = yes;
    }

    pub fn stats(&self) -> DispatchStats {
        DispatchStats {
            alerts: self.alerts.len(),
            groups: self.groups.len(),
            ..self.stats
        }
    }

    /// Add a silence (validated as Alertmanager validates a new one). A silence with the
    /// id of an existing one replaces it.
    pub fn add_silence(&mut self, s: Silence, now: Millis) -> Result<(), String> {
        s.validate(now)?;
        self.silences.retain(|x| x.id != s.id);
        self.silences.push(s);
        Ok(())
    }

    /// End a silence now; false when there is none with this id.
    pub fn expire_silence(&mut self, id: &str, now: Millis) -> bool {
        match self.silences.iter_mut().find(|s| s.id == id) {
            Some(s) => {
                s.ends_at = s.ends_at.min(now);
                true
            }
            None => false,
        }
    }

    pub fn silences(&self) -> &[Silence] {
        &self.silences
    }

    /// Whether an active silence mutes these labels at `t`.
    pub fn silenced(&self, labels: &LabelSet, t: Millis) -> bool {
        self.silences.iter().any(|s| s.mutes(labels, t))
    }

    /// An alert as Alertmanager's push API receives it: one without an end gets
    /// `resolve_timeout` from now and must be re-sent to stay firing.
    pub fn put_api(&mut self, mut alert: Alert, now: Millis) {
        let timeout = alert.ends_at.is_none();
        if timeout {
            alert.ends_at = Some(now + self.config.resolve_timeout_ms);
        }
        self.put_inner(alert, timeout, now);
    }

    /// An alert from our own engine: firing until it is put again with an end.
    pub fn put(&mut self, alert: Alert, now: Millis) {
        self.put_inner(alert, false, now);
    }

    /// The alert with this fingerprint, resolved at `now` (the engine's "no longer firing").
    /// Returns whether there was one.
    pub fn resolve(&mut self, fp: u64, now: Millis) -> bool {
        let Some(old) = self.alerts.get(&fp) else {
            return false;
        };
        let alert = Alert {
            ends_at: Some(now),
            ..(*old.alert).clone()
        };
        self.put_inner(alert, false, now);
        true
    }

    fn put_inner(&mut self, alert: Alert, timeout: bool, now: Millis) {
        let fp = fingerprint(&alert.labels);
        self.seq += 1;
        let mut stored = Stored {
            alert: Arc::new(alert),
            timeout,
            updated: self.seq,
        };
        if let Some(old) = self.alerts.get(&fp)
            && overlaps(&old.alert, &stored.alert)
        {
            stored = merge(old, stored, now);
        }
        for (i, rule) in self.config.inhibit_rules.iter().enumerate() {
            if !all_match(&rule.source, &stored.alert.labels) {
                continue;
            }
            let key = equal_values(rule, &stored.alert.labels);
            let two_sided = all_match(&rule.target, &stored.alert.labels);
            self.inhibit[i]
                .by_equal
                .entry(key)
                .or_default()
                .insert(fp, (stored.alert.ends_at, two_sided));
        }
        let routes = self.matching(&stored.alert.labels);
        for r in routes {
            self.insert_into_group(r, fp, &stored, now);
        }
        self.alerts.insert(fp, stored);
    }

    fn matching(&self, labels: &LabelSet) -> Vec<usize> {
        let mut out = Vec::new();
        let mut idx = 0;
        match_walk(&self.config.route, labels, &mut idx, &mut out);
        out
    }

    fn insert_into_group(&mut self, route: usize, fp: u64, stored: &Stored, now: Millis) {
        let node = &self.routes[route];
        let labels: LabelSet = match &node.group_by {
            GroupBy::All => stored.alert.labels.clone(),
            GroupBy::Labels(names) => names
                .iter()
                .filter_map(|n| stored.alert.labels.get(n).map(|v| (n.clone(), v.clone())))
                .collect(),
        };
        let gfp = fingerprint(&labels);
        let id = match self.group_ids.get(&(route, gfp)) {
            Some(&id) => id,
            None => {
                let id = self.next_group;
                self.next_group += 1;
                let next = now + node.group_wait_ms;
                self.groups.insert(
                    id,
                    Group {
                        route,
                        key: format!("{}:{}", node.key, label_set_string(&labels)),
                        labels,
                        alerts: BTreeMap::new(),
                        next,
                        has_flushed: false,
                        in_flight: None,
                    },
                );
                self.group_ids.insert((route, gfp), id);
                self.deadlines.insert((next, id));
                id
            }
        };
        let gw = node.group_wait_ms;
        let Some(g) = self.groups.get_mut(&id) else {
            return;
        };
        g.alerts
            .insert(fp, (Arc::clone(&stored.alert), stored.updated));
        // An alert older than the wait flushes a group that has not flushed yet at once.
        if !g.has_flushed && stored.alert.starts_at + gw < now && g.next > now {
            self.deadlines.remove(&(g.next, id));
            g.next = now;
            self.deadlines.insert((now, id));
        }
    }

    /// Run everything due up to `now`, in time order, and return the notifications to
    /// deliver. Each flush happens at its own due time, so the result does not depend on how
    /// often this is called.
    pub fn advance(&mut self, now: Millis) -> Vec<Notification> {
        let mut out = Vec::new();
        loop {
            let group = self.deadlines.first().copied().filter(|(t, _)| *t <= now);
            let maint = (self.next_maintenance <= now).then_some(self.next_maintenance);
            match (group, maint) {
                (Some((t, id)), m) if m.is_none_or(|m| t < m) => {
                    self.deadlines.remove(&(t, id));
                    self.tick(id, t, &mut out);
                }
                (_, Some(m)) => {
                    self.maintain(m);
                    self.next_maintenance = m + MAINTENANCE_MS;
                }
                _ => break,
            }
        }
        out
    }

    fn maintain(&mut self, now: Millis) {
        let empty: Vec<u64> = self
            .groups
            .iter()
            .filter(|(_, g)| g.alerts.is_empty() && g.in_flight.is_none())
            .map(|(id, _)| *id)
            .collect();
        for id in empty {
            if let Some(g) = self.groups.remove(&id) {
                self.deadlines.remove(&(g.next, id));
                self.group_ids.remove(&(g.route, fingerprint(&g.labels)));
            }
        }
        // Resolved alerts no group holds any more, and resolved inhibition sources.
        let held: HashSet<u64> = self
            .groups
            .values()
            .flat_map(|g| g.alerts.keys().copied())
            .collect();
        self.alerts
            .retain(|fp, s| !s.alert.resolved_at(now) || held.contains(fp));
        for c in &mut self.inhibit {
            for m in c.by_equal.values_mut() {
                m.retain(|_, (ends, _)| !ends.is_some_and(|e| e <= now));
            }
            c.by_equal.retain(|_, m| !m.is_empty());
        }
        self.log.retain(|_, e| e.expires > now);
    }

    fn tick(&mut self, id: u64, t: Millis, out: &mut Vec<Notification>) {
        let Some(g) = self.groups.get_mut(&id) else {
            return;
        };
        let node = &self.routes[g.route];
        g.has_flushed = true;
        g.next = t + node.group_interval_ms;
        self.deadlines.insert((g.next, id));
        if g.alerts.is_empty() || g.in_flight.is_some() {
            return;
        }
        self.stats.flushes += 1;
        // The flush's copy: an alert not resolved by now has no end, so it cannot resolve
        // while the notification is on its way.
        let mut alerts: Vec<SentAlert> = g
            .alerts
            .iter()
            .map(|(fp, (a, _))| {
                let resolved = a.resolved_at(t);
                let alert = if resolved || a.ends_at.is_none() {
                    Arc::clone(a)
                } else {
                    Arc::new(Alert {
                        ends_at: None,
                        ..(**a).clone()
                    })
                };
                SentAlert {
                    fingerprint: *fp,
                    resolved,
                    alert,
                }
            })
            .collect();
        sort_alerts(&mut alerts);
        let snapshot: Vec<(u64, u64, bool)> = alerts
            .iter()
            .map(|a| {
                (
                    a.fingerprint,
                    g.alerts.get(&a.fingerprint).map_or(0, |x| x.1),
                    a.resolved,
                )
            })
            .collect();
        let key = g.key.clone();
        let group_labels = g.labels.clone();
        let route = g.route;

        // The receiver's pipeline: inhibition, silences, then per integration deduplication
        // against the log, then send_resolved.
        let alerts: Vec<SentAlert> = alerts
            .into_iter()
            .filter(|a| !self.muted(&a.alert.labels, t) && !self.silenced(&a.alert.labels, t))
            .collect();
        let node = &self.routes[route];
        let mut sends = Vec::new();
        let mut logs = Vec::new();
        if !alerts.is_empty() {
            let firing: BTreeSet<u64> = alerts
                .iter()
                .filter(|a| !a.resolved)
                .map(|a| a.fingerprint)
                .collect();
            let resolved: BTreeSet<u64> = alerts
                .iter()
                .filter(|a| a.resolved)
                .map(|a| a.fingerprint)
                .collect();
            let config = Arc::clone(&self.config);
            let hooks = config
                .receivers
                .iter()
                .find(|r| r.name == node.receiver)
                .map_or(&[][..], |r| r.webhooks.as_slice());
            for (i, hook) in hooks.iter().enumerate() {
                let lk = (key.clone(), node.receiver.clone(), i);
                let entry = self.log.get(&lk).filter(|e| e.expires > t);
                if !needs_update(
                    entry,
                    &firing,
                    &resolved,
                    hook.send_resolved,
                    node.repeat_interval_ms,
                    t,
                ) {
                    continue;
                }
                let entry = LogEntry {
                    at: t,
                    firing: firing.clone(),
                    resolved: resolved.clone(),
                    expires: t + 2 * node.repeat_interval_ms,
                };
                let sent: Vec<SentAlert> = alerts
                    .iter()
                    .filter(|a| hook.send_resolved || !a.resolved)
                    .cloned()
                    .collect();
                if sent.is_empty() {
                    // Nothing to say, but remembered, as Alertmanager logs it.
                    self.log.insert(lk, entry);
                    continue;
                }
                logs.push((i, entry));
                sends.push(Notification {
                    at: t,
                    flush: 0,
                    receiver: node.receiver.clone(),
                    integration: i,
                    group_key: key.clone(),
                    group_labels: group_labels.clone(),
                    alerts: sent,
                });
            }
        }
        let flush = self.next_flush;
        self.next_flush += 1;
        let waiting = sends.len();
        for s in &mut sends {
            s.flush = flush;
        }
        self.stats.notifications += waiting as u64;
        if let Some(g) = self.groups.get_mut(&id) {
            g.in_flight = Some(InFlight {
                id: flush,
                waiting,
                failed: false,
                alerts: snapshot,
                logs,
            });
        }
        self.flush_owner.insert(flush, id);
        if waiting == 0 {
            self.finish_flush(id);
        } else if self.assume_delivered {
            for s in &sends {
                self.delivered(s.flush, s.integration, true);
            }
        }
        out.extend(sends);
    }

    fn muted(&self, labels: &LabelSet, t: Millis) -> bool {
        for (i, rule) in self.config.inhibit_rules.iter().enumerate() {
            if !all_match(&rule.target, labels) {
                continue;
            }
            let exclude_two_sided = all_match(&rule.source, labels);
            let key = equal_values(rule, labels);
            let Some(sources) = self.inhibit[i].by_equal.get(&key) else {
                continue;
            };
            let hit = sources.values().any(|(ends, two_sided)| {
                let ended = ends.is_some_and(|e| e <= t);
                let excluded = exclude_two_sided && *two_sided;
                !ended && !excluded
            });
            if hit {
                return true;
            }
        }
        false
    }

    /// The outcome of one notification. A success writes its notification log entry; when
    /// every integration of the flush has succeeded, the resolved alerts it carried leave
    /// their group (unless they were updated since). A failure leaves both, so the next
    /// `group_interval` tries again.
    pub fn delivered(&mut self, flush: FlushId, integration: usize, ok: bool) {
        let Some(&id) = self.flush_owner.get(&flush) else {
            return;
        };
        let Some(g) = self.groups.get_mut(&id) else {
            self.flush_owner.remove(&flush);
            return;
        };
        let Some(f) = g.in_flight.as_mut().filter(|f| f.id == flush) else {
            return;
        };
        if ok {
            if let Some(pos) = f.logs.iter().position(|(i, _)| *i == integration) {
                let (_, entry) = f.logs.swap_remove(pos);
                let receiver = self.routes[g.route].receiver.clone();
                self.log
                    .insert((g.key.clone(), receiver, integration), entry);
            }
        } else {
            f.failed = true;
            self.stats.failed_deliveries += 1;
        }
        f.waiting = f.waiting.saturating_sub(1);
        if f.waiting == 0 {
            self.finish_flush(id);
        }
    }

    fn finish_flush(&mut self, id: u64) {
        let Some(g) = self.groups.get_mut(&id) else {
            return;
        };
        let Some(f) = g.in_flight.take() else {
            return;
        };
        self.flush_owner.remove(&f.id);
        if f.failed {
            return;
        }
        for (fp, seq, resolved) in f.alerts {
            if resolved && g.alerts.get(&fp).is_some_and(|(_, s)| *s == seq) {
                g.alerts.remove(&fp);
            }
        }
    }
}

/// Alertmanager's `needsUpdate`.
fn needs_update(
    entry: Option<&LogEntry>,
    firing: &BTreeSet<u64>,
    resolved: &BTreeSet<u64>,
    send_resolved: bool,
    repeat_ms: i64,
    now: Millis,
) -> bool {
    let Some(e) = entry else {
        return !firing.is_empty();
    };
    if !firing.is_subset(&e.firing) {
        return true;
    }
    // All resolved: said regardless of send_resolved, so the log forgets the firing ones.
    if firing.is_empty() {
        return !e.firing.is_empty();
    }
    if send_resolved && !resolved.is_subset(&e.resolved) {
        return true;
    }
    e.at < now - repeat_ms
}

/// Whether a re-sent alert overlaps the stored one in time (then the two are merged).
fn overlaps(old: &Alert, new: &Alert) -> bool {
    let far = Millis::MAX;
    let (os, oe) = (old.starts_at, old.ends_at.unwrap_or(far));
    let ne = new.ends_at.unwrap_or(far);
    (ne > os && ne < oe) || (new.starts_at > os && new.starts_at < oe)
}

/// Alertmanager's `Alert.Merge`: the newer alert, with the earlier start, and the later end
/// when that end was explicit.
fn merge(old: &Stored, new: Stored, now: Millis) -> Stored {
    let mut a = (*new.alert).clone();
    if old.alert.starts_at < a.starts_at {
        a.starts_at = old.alert.starts_at;
    }
    let later =
        |x: Option<Millis>, y: Option<Millis>| x.unwrap_or(Millis::MAX) > y.unwrap_or(Millis::MAX);
    if new.alert.resolved_at(now) {
        if old.alert.resolved_at(now) && later(old.alert.ends_at, a.ends_at) {
            a.ends_at = old.alert.ends_at;
        }
    } else if later(old.alert.ends_at, a.ends_at) && !old.timeout {
        a.ends_at = old.alert.ends_at;
    }
    Stored {
        alert: Arc::new(a),
        timeout: new.timeout,
        updated: new.updated,
    }
}

fn all_match(ms: &[LabelMatcher], labels: &LabelSet) -> bool {
    ms.iter().all(|m| m.matches(labels))
}

fn equal_values(rule: &InhibitRule, labels: &LabelSet) -> Vec<String> {
    rule.equal
        .iter()
        .map(|n| labels.get(n).cloned().unwrap_or_default())
        .collect()
}

/// Alertmanager's `AlertSlice` order: by `job`, then `instance` (an alert without the label
/// after those with it), then by label set. The two labels are looked up once per alert,
/// not once per comparison.
fn sort_alerts(alerts: &mut Vec<SentAlert>) {
    // (0, value) sorts before (1, "") — present before missing — as Alertmanager wants.
    let key = |l: Option<&String>| l.map_or((1u8, String::new()), |v| (0u8, v.clone()));
    type Present = (u8, String);
    let mut keyed: Vec<(Present, Present, SentAlert)> = alerts
        .drain(..)
        .map(|a| {
            let job = key(a.alert.labels.get("job"));
            let instance = key(a.alert.labels.get("instance"));
            (job, instance, a)
        })
        .collect();
    keyed.sort_by(|x, y| {
        x.0.cmp(&y.0)
            .then_with(|| x.1.cmp(&y.1))
            .then_with(|| label_set_before(&x.2.alert.labels, &y.2.alert.labels))
    });
    alerts.extend(keyed.into_iter().map(|(_, _, a)| a));
}

/// `model.LabelSet.Before`: shorter first, then by the first differing name (in sorted
/// order of both sets' names) at which one lacks the name or has the smaller value.
fn label_set_before(a: &LabelSet, b: &LabelSet) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    if a.len() != b.len() {
        return a.len().cmp(&b.len());
    }
    let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
    names.sort();
    for n in names {
        let Some(x) = a.get(n) else {
            return Ordering::Less;
        };
        let Some(y) = b.get(n) else {
            return Ordering::Greater;
        };
        match x.cmp(y) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    Ordering::Equal
}

fn route_matchers_string(r: &Route) -> String {
    let mut ms: Vec<&LabelMatcher> = r.matchers.iter().collect();
    ms.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then_with(|| a.value.cmp(&b.value))
            .then((a.op as u8).cmp(&(b.op as u8)))
    });
    let parts: Vec<String> = ms.iter().map(|m| m.to_string()).collect();
    format!("{{{}}}", parts.join(","))
}

fn flatten(r: &Route, parent: Option<&str>, out: &mut Vec<RouteNode>) -> Result<(), String> {
    if !r.mute_time_intervals.is_empty() || !r.active_time_intervals.is_empty() {
        return Err(format!(
            "line {}: the route to {:?} uses time intervals, which nocscope does not evaluate yet; remove them or forward to an Alertmanager",
            r.pos.line, r.receiver
        ));
    }
    let own = route_matchers_string(r);
    let key = match parent {
        Some(p) => format!("{p}/{own}"),
        None => own,
    };
    out.push(RouteNode {
        key: key.clone(),
        receiver: r.receiver.clone(),
        group_by: r.group_by.clone(),
        group_wait_ms: r.group_wait_ms,
        group_interval_ms: r.group_interval_ms,
        repeat_interval_ms: r.repeat_interval_ms,
    });
    for c in &r.routes {
        flatten(c, Some(&key), out)?;
    }
    Ok(())
}

/// `Route::matching` over the flattened indices (pre-order, as `flatten` numbers them).
fn match_walk(r: &Route, labels: &LabelSet, idx: &mut usize, out: &mut Vec<usize>) -> bool {
    let me = *idx;
    *idx += 1;
    if !r.matchers.iter().all(|m| m.matches(labels)) {
        *idx += count(r) - 1;
        return false;
    }
    let before = out.len();
    let mut stopped = false;
    for child in &r.routes {
        if stopped {
            *idx += count(child);
            continue;
        }
        let matched = match_walk(child, labels, idx, out);
        if matched && !child.continue_matching {
            stopped = true;
        }
    }
    if out.len() == before {
        out.push(me);
    }
    true
}

fn count(r: &Route) -> usize {
    1 + r.routes.iter().map(count).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::load_config;

    fn ls(pairs: &[(&str, &str)]) -> LabelSet {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn alert(pairs: &[(&str, &str)], start: Millis, end: Option<Millis>) -> Alert {
        Alert {
            labels: ls(pairs),
            annotations: Pairs::new(),
            starts_at: start,
            ends_at: end,
            generator_url: String::new(),
        }
    }

    fn dispatcher(yaml: &str) -> Dispatcher {
        let c = load_config(yaml).expect("config");
        let mut d = Dispatcher::new(Arc::new(c), 0).expect("dispatcher");
        d.assume_delivered(true);
        d
    }

    const BASIC: &str = "route:\n  receiver: r\n  group_by: [alertname]\n  group_wait: 10s\n  group_interval: 60s\n  repeat_interval: 300s\nreceivers:\n  - name: r\n    webhook_configs:\n      - url: http://127.0.0.1:9/\n";

    #[test]
    fn fingerprints_are_prometheus_ones() {
        // Values Alertmanager 0.25 printed for these label sets.
        assert_eq!(
            format!(
                "{:016x}",
                fingerprint(&ls(&[
                    ("a", "y"),
                    ("alertname", "C"),
                    ("sev", "crit"),
                    ("zz", "q")
                ]))
            ),
            "c0368e82c3614294"
        );
        assert_eq!(
            format!(
                "{:016x}",
                fingerprint(&ls(&[
                    ("alertname", "A<b>&"),
                    ("instance", "i0"),
                    ("job", "j")
                ]))
            ),
            "dbf9bdd6bd920a6c"
        );
    }

    #[test]
    fn a_group_waits_then_ticks_and_repeats_after_the_interval() {
        let mut d = dispatcher(BASIC);
        d.put(alert(&[("alertname", "A"), ("i", "1")], 1_000, None), 1_000);
        assert!(d.advance(10_999).is_empty(), "group_wait not over");
        let n = d.advance(11_000);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].group_key, "{}:{alertname=\"A\"}");
        // A second alert joins; it is told at the next group_interval tick, not before.
        d.put(
            alert(&[("alertname", "A"), ("i", "2")], 20_000, None),
            20_000,
        );
        assert!(d.advance(70_999).is_empty());
        let n = d.advance(71_000);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].alerts.len(), 2);
        // Unchanged: repeated on the first tick after repeat_interval (strictly older).
        let mut times = Vec::new();
        for t in (131_000..=500_000).step_by(60_000) {
            times.extend(d.advance(t).into_iter().map(|n| n.at));
        }
        assert_eq!(times, [431_000]);
    }

    #[test]
    fn resolved_before_the_wait_is_never_told_and_resolution_is_told_once() {
        let mut d = dispatcher(BASIC);
        d.put(alert(&[("alertname", "A")], 0, None), 0);
        d.put(alert(&[("alertname", "A")], 0, Some(5_000)), 5_000);
        assert!(d.advance(100_000).is_empty());
        d.put(alert(&[("alertname", "B")], 100_000, None), 100_000);
        assert_eq!(d.advance(110_000).len(), 1);
        d.put(
            alert(&[("alertname", "B")], 100_000, Some(120_000)),
            120_000,
        );
        let n = d.advance(170_000);
        assert_eq!(n.len(), 1);
        assert!(!n[0].firing());
        assert_eq!(n[0].alerts[0].alert.ends_at, Some(120_000));
        assert!(d.advance(1_000_000).is_empty());
    }

    #[test]
    fn inhibition_mutes_targets_with_equal_labels_but_not_itself() {
        let yaml = format!(
            "{BASIC}inhibit_rules:\n  - source_matchers: [sev=crit]\n    target_matchers: [sev=~\"warn|crit\"]\n    equal: [host]\n"
        );
        let mut d = dispatcher(&yaml);
        d.put(
            alert(
                &[("alertname", "Down"), ("sev", "crit"), ("host", "a")],
                0,
                None,
            ),
            0,
        );
        d.put(
            alert(
                &[("alertname", "Cpu"), ("sev", "warn"), ("host", "a")],
                0,
                None,
            ),
            0,
        );
        d.put(
            alert(
                &[("alertname", "Cpu"), ("sev", "warn"), ("host", "b")],
                0,
                None,
            ),
            0,
        );
        let n = d.advance(10_000);
        let mut told: Vec<(String, String)> = n
            .iter()
            .flat_map(|n| n.alerts.iter())
            .map(|a| {
                (
                    a.alert.labels["alertname"].clone(),
                    a.alert.labels["host"].clone(),
                )
            })
            .collect();
        told.sort();
        assert_eq!(
            told,
            [("Cpu".into(), "b".into()), ("Down".into(), "a".into())]
        );
    }

    #[test]
    fn a_failed_delivery_is_retried_at_the_next_tick() {
        let mut d = dispatcher(BASIC);
        d.assume_delivered(false);
        d.put(alert(&[("alertname", "A")], 0, None), 0);
        let n = d.advance(10_000);
        assert_eq!(n.len(), 1);
        d.delivered(n[0].flush, 0, false);
        let n = d.advance(70_000);
        assert_eq!(n.len(), 1, "not logged, so said again");
        d.delivered(n[0].flush, 0, true);
        assert!(d.advance(130_000).is_empty());
        assert_eq!(d.stats().failed_deliveries, 1);
    }

    #[test]
    fn continue_and_child_route_keys() {
        let yaml = "route:\n  receiver: r\n  routes:\n    - matchers: ['b=\"2\"', 'a=~\"x\"']\n      receiver: r\n      continue: true\n    - receiver: r\nreceivers:\n  - name: r\n    webhook_configs:\n      - url: http://127.0.0.1:9/\n";
        let mut d = dispatcher(yaml);
        d.put(
            alert(&[("alertname", "A"), ("a", "x"), ("b", "2")], 0, None),
            0,
        );
        let mut keys: Vec<String> = d.advance(30_000).into_iter().map(|n| n.group_key).collect();
        keys.sort();
        assert_eq!(keys, ["{}/{a=~\"x\",b=\"2\"}:{}", "{}/{}:{}"]);
    }
}
