//! The deterministic engine: folds observations into series, vitals, rule and alert state,
//! anomaly scores and capacity forecasts, host severities and snapshots. Pure given its inputs: no clock, socket, terminal or SQLite.
//! Time only moves forward with `Observation::at` and `Input::Tick`.

pub mod anomaly;
pub mod checks;
pub mod flap;
pub mod forecast;
mod ingest;
pub mod prom;
pub mod rate;
pub mod rules;
mod snapshot;
pub mod snmp;
pub mod vitals;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use crate::config::{self, Config, CustomOid, TargetKind};
use crate::expo::{self, Format, Label};
use crate::human::human_duration;
use crate::model::{
    AlertState, AlertTransition, AlertView, AnomalyEvent, ChartThreshold, CycleBatch, HostStatus,
    Input, Millis, Observation, Payload, PollRecord, SPARK_POINTS, Scrape, ScrapeOutcome, Severity,
    Snapshot, SnmpOutcome, TargetId, TargetStatus, Vital, Vitals,
};

pub use anomaly::{BindError, ModelBinding};
use forecast::HostCapacity;
use rules::{Check, Instance, Rule};
use vitals::{Prev, VitalsAcc};

/// Points of vital history kept in memory per host and vital (1 h at 15 s); older history
/// comes from the store on demand.
pub const HISTORY_POINTS: usize = 240;

/// What the engine needs to know about one target.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetSpec {
    pub name: String,
    pub host: String,
    pub interval_ms: i64,
    pub timeout_ms: i64,
    /// 0 = no limit.
    pub sample_limit: u32,
    pub kind: SpecKind,
    /// The target's `labels`: added to its series as rules see them (and may replace the
    /// `job` and `instance` the engine gives them).
    pub labels: BTreeMap<String, String>,
}

/// The per-kind facts the engine needs to judge a target's observations.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum SpecKind {
    #[default]
    Exporter,
    Snmp {
        custom: Vec<CustomOid>,
    },
    Icmp,
    Tcp,
    Http {
        url: String,
        expect_status: Vec<u16>,
    },
}

impl TargetSpec {
    pub fn from_config(config: &Config) -> Vec<TargetSpec> {
        config
            .targets
            .iter()
            .map(|t| TargetSpec {
                name: t.name.clone(),
                host: t.host.clone(),
                labels: t.labels.clone(),
                interval_ms: t.interval.as_millis() as i64,
                timeout_ms: t.timeout.as_millis() as i64,
                sample_limit: match &t.kind {
                    TargetKind::Exporter(e) => e.sample_limit,
                    _ => 0,
                },
                kind: match &t.kind {
                    TargetKind::Exporter(_) => SpecKind::Exporter,
                    TargetKind::Snmp(s) => SpecKind::Snmp {
                        custom: s.custom.clone(),
                    },
                    TargetKind::Icmp(_) => SpecKind::Icmp,
                    TargetKind::Tcp(_) => SpecKind::Tcp,
                    TargetKind::Http(h) => SpecKind::Http {
                        url: h.url.to_string(),
                        expect_status: h.expect_status.clone(),
                    },
                },
            })
            .collect()
    }
}

/// A change worth telling a human about (printed by `check --for`, shown in the console).
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Alert(AlertTransition),
    Host {
        at: Millis,
        host: String,
        from: Severity,
        to: Severity,
        reason: String,
    },
    /// An anomaly run opened (`end` is `None`) or closed.
    Anomaly(AnomalyEvent),
}

#[derive(Clone, Copy, Debug)]
struct SeriesState {
    last_ts: Millis,
    last_value: f64,
    has_last: bool,
    /// Poll sequence number that last wrote this series (duplicate detection).
    last_poll: u32,
}

/// Session-local numbering of series for one store source.
#[derive(Clone, Debug, Default)]
struct SeriesIndex {
    ids: HashMap<Box<str>, u32, foldhash::fast::RandomState>,
}

impl SeriesIndex {
    /// Index of `key`, registering it in `new_series` the first time it is seen.
    fn get_or_insert(&mut self, key: &str, new_series: &mut Vec<(u32, Box<str>)>) -> u32 {
        if let Some(&i) = self.ids.get(key) {
            return i;
        }
        let i = self.ids.len() as u32;
        let boxed: Box<str> = key.into();
        new_series.push((i, boxed.clone()));
        self.ids.insert(boxed, i);
        i
    }
}

struct TargetState {
    spec: TargetSpec,
    host: usize,
    source: Arc<str>,
    index: SeriesIndex,
    states: Vec<SeriesState>,
    poll_seq: u32,
    last_poll: Option<Millis>,
    up: Option<bool>,
    duration_ms: Option<f64>,
    error: Option<String>,
    warning: Option<String>,
    samples: u32,
    dropped: u32,
    vitals: Vitals,
    snmp: snmp::SnmpState,
}

impl TargetState {
    /// No poll result for longer than two intervals plus the timeout: the collector or the
    /// queue lost it. What we last knew is no longer shown as current.
    fn is_stale(&self, now: Millis) -> bool {
        match self.last_poll {
            Some(t) => now - t > 2 * self.spec.interval_ms + self.spec.timeout_ms,
            None => false,
        }
    }
}

struct HostState {
    name: String,
    source: Arc<str>,
    targets: Vec<usize>,
    vitals: Vitals,
    severity: Severity,
    since: Millis,
    reason: String,
    index: SeriesIndex,
    history: Vec<VecDeque<(Millis, f32)>>,
}

type AlertKey = (usize, usize, String);

/// The engine. Feed it `Input`s in time order; read `snapshot()`, `take_batches()` and
/// `take_events()`.
pub struct Engine {
    targets: Vec<TargetState>,
    hosts: Vec<HostState>,
    rules: Vec<Rule>,
    alerts: BTreeMap<AlertKey, Instance>,
    now: Millis,
    batches: Vec<CycleBatch>,
    events: Vec<Event>,
    dropped_observations: u64,
    ignored_observations: u64,
    key_buf: String,
    scoring: anomaly::Scoring,
    /// Per host, in host order.
    capacity: Vec<HostCapacity>,
    settings: config::Anomaly,
    /// Prometheus rule files, when the config names any.
    prom: Option<Box<prom::PromRules>>,
    /// State-change history of alert instances that changed recently (flap detection).
    flaps: BTreeMap<AlertKey, flap::Flap>,
    /// How the last reload of the rule files went.
    rule_reload: Option<crate::model::RuleReloadStatus>,
}

impl Engine {
    pub fn new(specs: Vec<TargetSpec>, rules: Vec<Rule>) -> Engine {
        let mut hosts: Vec<HostState> = Vec::new();
        let mut targets = Vec::with_capacity(specs.len());
        for (ti, spec) in specs.into_iter().enumerate() {
            let hi = match hosts.iter().position(|h| h.name == spec.host) {
                Some(i) => i,
                None => {
                    hosts.push(HostState {
                        name: spec.host.clone(),
                        source: format!("host/{}", spec.host).into(),
                        targets: Vec::new(),
                        vitals: Vitals::default(),
                        severity: Severity::NoData,
                        since: 0,
                        reason: "waiting for the first poll".to_string(),
                        index: SeriesIndex::default(),
                        history: vec![VecDeque::new(); Vital::ALL.len()],
                    });
                    hosts.len() - 1
                }
            };
            hosts[hi].targets.push(ti);
            targets.push(TargetState {
                source: spec.name.as_str().into(),
                spec,
                host: hi,
                index: SeriesIndex::default(),
                states: Vec::new(),
                poll_seq: 0,
                last_poll: None,
                up: None,
                duration_ms: None,
                error: None,
                warning: None,
                samples: 0,
                dropped: 0,
                vitals: Vitals::default(),
                snmp: snmp::SnmpState::default(),
            });
        }
        let settings = config::Anomaly::default();
        Engine {
            scoring: anomaly::Scoring::new(settings.warmup_points as usize),
            capacity: hosts.iter().map(|_| HostCapacity::default()).collect(),
            settings,
            targets,
            hosts,
            rules,
            alerts: BTreeMap::new(),
            now: 0,
            batches: Vec::new(),
            events: Vec::new(),
            dropped_observations: 0,
            ignored_observations: 0,
            key_buf: String::with_capacity(256),
            prom: None,
            flaps: BTreeMap::new(),
            rule_reload: None,
        }
    }

    pub fn from_config(config: &Config) -> Engine {
        let mut e = Engine::new(
            TargetSpec::from_config(config),
            rules::rules_from_specs(&config.rules),
        );
        e.set_anomaly_settings(&config.anomaly);
        let files: Vec<(String, String)> = config
            .rule_files
            .iter()
            .map(|f| (f.path.display().to_string(), f.text.clone()))
            .collect();
        // The config check parsed these already; a failure here cannot happen short of a
        // file changing between the check and this line, and then the rules are left out
        // and logged rather than the console refusing to start.
        if let Err(e2) = e.set_rule_files(&files, config.defaults.interval.as_millis() as i64) {
            tracing::warn!("rule files not loaded: {e2}");
        }
        e
    }

    /// Applies an `[anomaly]` section: warm-up length, forecast window and horizon, and the
    /// `AnomalySustained` rule (added when `alert_after` is set, removed when not). Meant to be
    /// called before the first input; a replay must be given the same settings as the live run.
    pub fn set_anomaly_settings(&mut self, settings: &config::Anomaly) {
        self.settings = settings.clone();
        self.scoring.set_warmup(settings.warmup_points as usize);
        let existing = self
            .rules
            .iter()
            .position(|r| r.check == Check::AnomalySustained);
        match (settings.alert_after, existing) {
            (Some(d), Some(ri)) => {
                if let Some(r) = self.rules.get_mut(ri) {
                    r.for_ms = d.as_millis().min(i64::MAX as u128) as i64;
                }
            }
            (Some(d), None) => self.rules.push(rules::anomaly_rule(
                d.as_millis().min(i64::MAX as u128) as i64,
            )),
            (None, Some(ri)) => {
                self.rules.remove(ri);
                // Alert keys hold rule indices: drop the removed rule's, shift the later ones.
                self.alerts = std::mem::take(&mut self.alerts)
                    .into_iter()
                    .filter(|((r, _, _), _)| *r != ri)
                    .map(|((r, h, l), i)| ((if r > ri { r - 1 } else { r }, h, l), i))
                    .collect();
                if let Some(p) = self.prom.as_mut() {
                    p.shift_slots_after(ri);
                }
            }
            (None, None) => {}
        }
    }

    /// The anomaly settings in force.
    pub fn anomaly_settings(&self) -> &config::Anomaly {
        &self.settings
    }

    /// Gives the engine its anomaly models (it never loads them itself). Replaces any earlier
    /// models and restarts every series' warm-up and window. Returns the bindings that could not
    /// be used (untrained, unknown host), one sentence each; the others are bound.
    pub fn set_models(&mut self, bindings: Vec<ModelBinding>) -> Vec<BindError> {
        let names: Vec<&str> = self.hosts.iter().map(|h| h.name.as_str()).collect();
        self.scoring.bind(bindings, &names)
    }

    /// Swaps in one host's own model (e.g. retrained in the background) and restarts scoring of
    /// that one series; every other series keeps its state. `Err` says why it was refused.
    pub fn replace_model(&mut self, binding: ModelBinding) -> Result<(), BindError> {
        let names: Vec<&str> = self.hosts.iter().map(|h| h.name.as_str()).collect();
        if let Some(ev) = self.scoring.replace(binding, &names, self.now)? {
            self.events.push(Event::Anomaly(ev));
        }
        Ok(())
    }

    pub fn now(&self) -> Millis {
        self.now
    }

    /// Observations lost upstream (a full queue); shown in the header and snapshots.
    pub fn set_dropped_observations(&mut self, n: u64) {
        self.dropped_observations = n;
    }

    /// Observations naming a target this engine does not have (a fixture from another config).
    pub fn ignored_observations(&self) -> u64 {
        self.ignored_observations
    }

    pub fn apply(&mut self, input: &Input) {
        match input {
            Input::Observation(o) => self.ingest(o),
            Input::Tick { now } => self.tick(*now),
            Input::Rules(r) => self.reload_rules(r),
            Input::History(h) => self.load_rule_history(h),
        }
    }

    /// Record one evaluation of an alert instance for flap detection.
    pub(super) fn observe_flap(&mut self, key: &AlertKey, active: bool) {
        match self.flaps.get_mut(key) {
            Some(f) => {
                f.observe(active);
                if f.is_quiet() {
                    self.flaps.remove(key);
                }
            }
            // A history starts at the first change away from inactive.
            None if active => {
                let mut f = flap::Flap::new(false);
                f.observe(true);
                self.flaps.insert(key.clone(), f);
            }
            None => {}
        }
    }

    /// Whether an alert instance is flapping.
    pub(super) fn is_flapping(&self, key: &AlertKey) -> bool {
        self.flaps.get(key).is_some_and(|f| f.flapping)
    }

    pub fn tick(&mut self, now: Millis) {
        self.now = self.now.max(now);
        self.run_rule_groups(self.now);
        for h in 0..self.hosts.len() {
            self.update_host_status(h, self.now);
        }
    }

    pub fn ingest(&mut self, obs: &Observation) {
        let ti = obs.target.index();
        if ti >= self.targets.len() {
            self.ignored_observations += 1;
            return;
        }
        self.now = self.now.max(obs.at);
        match &obs.payload {
            Payload::Scrape(scrape) => self.ingest_scrape(ti, obs.at, scrape),
            other => {
                let t = &mut self.targets[ti];
                let (duration_ms, r) = match (other, &t.spec.kind) {
                    (Payload::Snmp(p), SpecKind::Snmp { custom }) => match &p.outcome {
                        SnmpOutcome::Varbinds(vbs) => {
                            let d = snmp::decode(&mut t.snmp, vbs, obs.at, custom);
                            t.dropped = d.discontinuities;
                            let r = checks::ProbeResult {
                                up: true,
                                error: None,
                                vitals: d.vitals,
                                series: d.series,
                            };
                            (p.duration_ms, r)
                        }
                        SnmpOutcome::Failed(e) => (
                            p.duration_ms,
                            checks::ProbeResult {
                                up: false,
                                error: Some(e.to_string()),
                                ..Default::default()
                            },
                        ),
                    },
                    (Payload::Icmp(p), SpecKind::Icmp) => (0.0, checks::icmp(p)),
                    (Payload::Tcp(p), SpecKind::Tcp) => (0.0, checks::tcp(&t.spec.name, p)),
                    (Payload::Http(p), SpecKind::Http { url, expect_status }) => (
                        p.duration_ms,
                        checks::http(&t.spec.name, url, expect_status, p, obs.at),
                    ),
                    // A recording made with another config can name a target of another kind.
                    _ => {
                        self.ignored_observations += 1;
                        return;
                    }
                };
                self.ingest_result(ti, obs.at, duration_ms, r);
            }
        }
        let h = self.targets[ti].host;
        self.feed_rules(ti);
        self.refresh_host_vitals(h, ti, obs.at);
        self.evaluate_rules(h, obs.at);
        if self.run_rule_groups(self.now) {
            // Prometheus rules can change any host.
            for other in 0..self.hosts.len() {
                self.update_host_status(other, obs.at);
            }
        } else {
            self.update_host_status(h, obs.at);
        }
    }

    /// Fold a non-exporter check result into the target: its vitals, its series (plus `up`,
    /// as for scrapes) and a poll record, all in one store batch.
    fn ingest_result(&mut self, ti: usize, at: Millis, duration_ms: f64, r: checks::ProbeResult) {
        let t = &mut self.targets[ti];
        let mut batch = CycleBatch {
            source: t.source.clone(),
            at,
            ..CycleBatch::default()
        };
        t.poll_seq = t.poll_seq.wrapping_add(1);
        t.last_poll = Some(at);
        t.duration_ms = Some(duration_ms);
        t.warning = None;
        t.up = Some(r.up);
        t.error = r.error;
        t.vitals = r.vitals;
        t.vitals.up = Some(r.up);
        t.samples = r.series.len() as u32;
        let up = ("up".to_string(), if r.up { 1.0 } else { 0.0 });
        for (key, v) in r.series.iter().chain(std::iter::once(&up)) {
            let i = t.index.get_or_insert(key, &mut batch.new_series);
            ensure_state(&mut t.states, i as usize);
            batch.samples.push((i, at, *v));
        }
        batch.poll = Some(PollRecord {
            up: r.up,
            duration_ms,
            samples_scraped: t.samples,
            bytes: 0,
            error: t.error.clone(),
        });
        self.batches.push(batch);
    }

    /// `ti` is the target whose poll triggered the refresh: only the vitals it measured are new
    /// points for anomaly scoring and forecasts. (The history rings take every refresh, as the
    /// sparklines always have.)
    fn refresh_host_vitals(&mut self, h: usize, ti: usize, at: Millis) {
        // Which vitals this poll measured; a ping poll on a host with an exporter repeats the
        // exporter's last CPU, and a repeated value is not a new point of that series.
        let measured: [bool; Vital::ALL.len()] = Vital::ALL.map(|v| {
            self.targets
                .get(ti)
                .is_some_and(|t| v.get(&t.vitals).is_some())
        });
        let host = &self.hosts[h];
        // Merge the host's targets: the first target (config order) that has a vital wins.
        let mut merged = Vitals::default();
        for &ti in &host.targets {
            let t = &self.targets[ti];
            if t.is_stale(at) {
                continue;
            }
            let v = &t.vitals;
            merged.up = match (merged.up, v.up) {
                (Some(a), Some(b)) => Some(a && b),
                (a, b) => a.or(b),
            };
            merged.cpu_pct = merged.cpu_pct.or(v.cpu_pct);
            merged.mem_pct = merged.mem_pct.or(v.mem_pct);
            merged.swap_pct = merged.swap_pct.or(v.swap_pct);
            merged.load1 = merged.load1.or(v.load1);
            merged.load5 = merged.load5.or(v.load5);
            merged.load15 = merged.load15.or(v.load15);
            if merged.disks.is_empty() {
                merged.disks = v.disks.clone();
            }
            merged.disk_read_bps = merged.disk_read_bps.or(v.disk_read_bps);
            merged.disk_write_bps = merged.disk_write_bps.or(v.disk_write_bps);
            merged.net_rx_bps = merged.net_rx_bps.or(v.net_rx_bps);
            merged.net_tx_bps = merged.net_tx_bps.or(v.net_tx_bps);
            merged.uptime_s = merged.uptime_s.or(v.uptime_s);
            merged.ping_rtt_ms = merged.ping_rtt_ms.or(v.ping_rtt_ms);
            merged.ping_loss_pct = merged.ping_loss_pct.or(v.ping_loss_pct);
            // The certificate that expires first is the one to worry about.
            merged.tls_days_left = match (merged.tls_days_left, v.tls_days_left) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if merged.interfaces.is_empty() {
                merged.interfaces = v.interfaces.clone();
            }
            merged.ports.extend(v.ports.iter().cloned());
            merged.http.extend(v.http.iter().cloned());
        }
        let host = &mut self.hosts[h];
        let mut batch = CycleBatch {
            source: host.source.clone(),
            at,
            ..CycleBatch::default()
        };
        for (vi, vital) in Vital::ALL.iter().enumerate() {
            if let Some(v) = vital.get(&merged) {
                let ring = &mut host.history[vi];
                if ring.len() == HISTORY_POINTS {
                    ring.pop_front();
                }
                ring.push_back((at, v as f32));
                let i = host.index.get_or_insert(vital.key(), &mut batch.new_series);
                batch.samples.push((i, at, v));
                if !measured.get(vi).copied().unwrap_or(false) {
                    continue;
                }
                if let Some(c) = self.capacity.get_mut(h) {
                    c.observe(*vital, at, v, window_ms(&self.settings));
                }
                if self.scoring.is_active() {
                    match self.scoring.observe(h, &host.name, *vital, at, v as f32) {
                        Some(anomaly::Change::Opened(ev)) | Some(anomaly::Change::Closed(ev)) => {
                            self.events.push(Event::Anomaly(ev));
                        }
                        None => {}
                    }
                }
            }
        }
        for d in &merged.disks {
            self.key_buf.clear();
            self.key_buf.push_str("disk_used_pct");
            push_labels(&mut self.key_buf, [("mountpoint", d.mount.as_str())]);
            let i = host
                .index
                .get_or_insert(&self.key_buf, &mut batch.new_series);
            batch.samples.push((i, at, d.used_pct));
        }
        host.vitals = merged;
        if !batch.samples.is_empty() {
            self.batches.push(batch);
        }
    }

    fn host_check(&self, h: usize) -> (Severity, String) {
        let host = &self.hosts[h];
        let mut worst = (Severity::NoData, "waiting for the first poll".to_string());
        for &ti in &host.targets {
            let t = &self.targets[ti];
            let s = match t.last_poll {
                None => continue,
                Some(last) if t.is_stale(self.now) => (
                    Severity::Unknown,
                    format!(
                        "no data from {} for {}",
                        t.spec.name,
                        human_duration(self.now - last)
                    ),
                ),
                Some(_) if t.up != Some(true) => (
                    // A failed poll means we cannot see; it is "down" only once the
                    // ExporterDown rule has held for its `for` duration.
                    Severity::Unknown,
                    format!(
                        "{}: {}",
                        t.spec.name,
                        t.error.as_deref().unwrap_or("poll failed")
                    ),
                ),
                Some(_) => (Severity::Ok, String::new()),
            };
            if s.0 > worst.0 {
                worst = s;
            }
        }
        for ((ri, ah, _), inst) in &self.alerts {
            if *ah != h || inst.state != AlertState::Firing {
                continue;
            }
            let sev = self.rules[*ri].severity;
            if sev > worst.0 {
                worst = (sev, format!("{}: {}", self.rules[*ri].name, inst.summary));
            }
        }
        worst
    }

    /// `at` is when the change happened: the observation's time, which can trail `now` a
    /// little when polls of different targets finish out of order.
    fn update_host_status(&mut self, h: usize, at: Millis) {
        let (sev, reason) = self.host_check(h);
        let host = &mut self.hosts[h];
        if sev != host.severity {
            self.events.push(Event::Host {
                at,
                host: host.name.clone(),
                from: host.severity,
                to: sev,
                reason: reason.clone(),
            });
            host.severity = sev;
            host.since = at;
        }
        host.reason = reason;
    }

    /// Store batches produced since the last call, in order.
    pub fn take_batches(&mut self) -> Vec<CycleBatch> {
        std::mem::take(&mut self.batches)
    }

    /// Alert and host-status changes since the last call, in order.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// In-memory history of one vital of a host, oldest first.
    pub fn history(&self, host: &str, vital: Vital) -> Option<&VecDeque<(Millis, f32)>> {
        let h = self.hosts.iter().find(|h| h.name == host)?;
        let vi = Vital::ALL.iter().position(|v| *v == vital)?;
        h.history.get(vi)
    }

    /// Number of raw series held across all targets.
    pub fn series_count(&self) -> usize {
        self.targets.iter().map(|t| t.states.len()).sum()
    }
}

fn ensure_state(states: &mut Vec<SeriesState>, idx: usize) {
    if idx >= states.len() {
        states.resize(
            idx + 1,
            SeriesState {
                last_ts: i64::MIN,
                last_value: f64::NAN,
                has_last: false,
                last_poll: 0,
            },
        );
    }
}

/// `name{a="x",b="y"}` with labels sorted by name and values escaped as in the text format,
/// so the same series always has the same key whatever order the exporter used.
pub fn canonical_key(buf: &mut String, name: &str, labels: &[Label<'_>]) {
    buf.clear();
    buf.push_str(name);
    if labels.is_empty() {
        return;
    }
    let sorted = labels.windows(2).all(|w| w[0].name <= w[1].name);
    if sorted {
        push_labels(buf, labels.iter().map(|l| (l.name, l.value.as_ref())));
    } else {
        let mut v: Vec<(&str, &str)> = labels.iter().map(|l| (l.name, l.value.as_ref())).collect();
        v.sort_unstable();
        push_labels(buf, v);
    }
}

fn push_labels<'a>(buf: &mut String, labels: impl IntoIterator<Item = (&'a str, &'a str)>) {
    buf.push('{');
    let mut first = true;
    for (n, v) in labels {
        if !first {
            buf.push(',');
        }
        first = false;
        buf.push_str(n);
        buf.push_str("=\"");
        if memchr::memchr3(b'\\', b'"', b'\n', v.as_bytes()).is_none() {
            // Nearly every value needs no escaping: copy it in one go.
            buf.push_str(v);
        } else {
            for c in v.chars() {
                match c {
                    '\\' => buf.push_str("\\\\"),
                    '"' => buf.push_str("\\\""),
                    '\n' => buf.push_str("\\n"),
                    c => buf.push(c),
                }
            }
        }
        buf.push('"');
    }
    buf.push('}');
}

/// The forecast window in milliseconds (saturating: a config of centuries is still a window).
fn window_ms(s: &config::Anomaly) -> i64 {
    s.forecast_window.as_millis().min(i64::MAX as u128) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn l<'a>(n: &'a str, v: &'a str) -> Label<'a> {
        Label {
            name: n,
            value: Cow::Borrowed(v),
        }
    }

    #[test]
    fn canonical_key_sorts_and_escapes() {
        let mut b = String::new();
        canonical_key(&mut b, "m", &[]);
        assert_eq!(b, "m");
        canonical_key(&mut b, "m", &[l("b", "2"), l("a", "x,y=}")]);
        assert_eq!(b, r#"m{a="x,y=}",b="2"}"#);
        canonical_key(&mut b, "m", &[l("a", "q\"b\\s\nn")]);
        assert_eq!(b, r#"m{a="q\"b\\s\nn"}"#);
    }
}
