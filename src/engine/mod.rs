//! The deterministic engine: folds observations into series, vitals, rule and alert state,
//! anomaly scores and capacity forecasts, host severities and snapshots. Pure given its inputs: no clock, socket, terminal or SQLite.
//! Time only moves forward with `Observation::at` and `Input::Tick`.

pub mod anomaly;
pub mod checks;
pub mod forecast;
pub mod rate;
pub mod rules;
pub mod snmp;
pub mod vitals;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Arc;

use crate::config::{self, Config, CustomOid, TargetKind};
use crate::expo::{self, Format, Label};
use crate::model::{
    AlertState, AlertTransition, AlertView, AnomalyEvent, CycleBatch, HostStatus, Input, Millis,
    Observation, Payload, PollRecord, SPARK_POINTS, Scrape, ScrapeOutcome, Severity, Snapshot,
    SnmpOutcome, TargetId, TargetStatus, Vitals,
};

pub use anomaly::ModelBinding;
use forecast::{Fill, HostCapacity};
use rules::{Check, Instance, Rule, TargetClass, VitalRef};
use vitals::{Prev, VitalsAcc};

/// Samples stamped further than this into the future (relative to the poll) are dropped, as
/// Prometheus drops out-of-bounds samples: a broken exporter clock must not poison history.
const MAX_FUTURE_MS: i64 = 10 * 60_000;

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

/// Vitals kept as history rings, in the order of `Vital::ALL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Vital {
    Cpu,
    Mem,
    Swap,
    Load1,
    /// The fullest disk of the host.
    DiskMax,
    DiskRead,
    DiskWrite,
    NetRx,
    NetTx,
}

impl Vital {
    pub const ALL: [Vital; 9] = [
        Vital::Cpu,
        Vital::Mem,
        Vital::Swap,
        Vital::Load1,
        Vital::DiskMax,
        Vital::DiskRead,
        Vital::DiskWrite,
        Vital::NetRx,
        Vital::NetTx,
    ];

    /// The series key under which the store keeps this vital (source `host/<name>`).
    pub fn key(self) -> &'static str {
        match self {
            Vital::Cpu => "cpu_pct",
            Vital::Mem => "mem_pct",
            Vital::Swap => "swap_pct",
            Vital::Load1 => "load1",
            Vital::DiskMax => "disk_max_pct",
            Vital::DiskRead => "disk_read_bps",
            Vital::DiskWrite => "disk_write_bps",
            Vital::NetRx => "net_rx_bps",
            Vital::NetTx => "net_tx_bps",
        }
    }

    pub fn get(self, v: &Vitals) -> Option<f64> {
        match self {
            Vital::Cpu => v.cpu_pct,
            Vital::Mem => v.mem_pct,
            Vital::Swap => v.swap_pct,
            Vital::Load1 => v.load1,
            Vital::DiskMax => v.disks.iter().map(|d| d.used_pct).reduce(f64::max),
            Vital::DiskRead => v.disk_read_bps,
            Vital::DiskWrite => v.disk_write_bps,
            Vital::NetRx => v.net_rx_bps,
            Vital::NetTx => v.net_tx_bps,
        }
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
#[derive(Default)]
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
        }
    }

    pub fn from_config(config: &Config) -> Engine {
        let mut e = Engine::new(TargetSpec::from_config(config), rules::default_rules());
        e.set_anomaly_settings(&config.anomaly);
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
    pub fn set_models(&mut self, bindings: Vec<ModelBinding>) -> Vec<String> {
        let names: Vec<&str> = self.hosts.iter().map(|h| h.name.as_str()).collect();
        self.scoring.bind(bindings, &names)
    }

    /// Swaps in one host's own model (e.g. retrained in the background) and restarts scoring of
    /// that one series; every other series keeps its state. `Err` says why it was refused.
    pub fn replace_model(&mut self, binding: ModelBinding) -> Result<(), String> {
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
        }
    }

    pub fn tick(&mut self, now: Millis) {
        self.now = self.now.max(now);
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
        self.refresh_host_vitals(h, ti, obs.at);
        self.evaluate_rules(h, obs.at);
        self.update_host_status(h, obs.at);
    }

    fn ingest_scrape(&mut self, ti: usize, at: Millis, scrape: &Scrape) {
        let mut batch = CycleBatch {
            source: self.targets[ti].source.clone(),
            at,
            ..CycleBatch::default()
        };
        let t = &mut self.targets[ti];
        t.poll_seq = t.poll_seq.wrapping_add(1);
        t.last_poll = Some(at);
        t.duration_ms = Some(scrape.duration_ms);
        t.warning = None;
        let (outcome, bytes) = match &scrape.outcome {
            ScrapeOutcome::Failed(e) => (Err(e.to_string()), 0),
            ScrapeOutcome::Body { content_type, body } => {
                let (format, warning) = Format::from_content_type(content_type.as_deref());
                t.warning = warning;
                let r = ingest_body(t, &mut self.key_buf, body, format, at, &mut batch);
                (r, body.len() as u64)
            }
        };
        let t = &mut self.targets[ti];
        let (up, samples) = match outcome {
            Ok((samples, vitals)) => {
                t.error = None;
                t.vitals = vitals;
                (true, samples)
            }
            Err(reason) => {
                // A failed poll is an empty poll: nothing from it is kept, and nothing older
                // is presented as current.
                t.error = Some(reason);
                t.vitals = Vitals::default();
                t.dropped = 0;
                batch.samples.clear();
                (false, 0)
            }
        };
        t.up = Some(up);
        t.vitals.up = Some(up);
        t.samples = samples;
        // Prometheus writes these for every scrape, failed or not.
        let synth = [
            if up { 1.0 } else { 0.0 },
            scrape.duration_ms / 1000.0,
            samples as f64,
        ];
        let synth = SYNTHETIC.into_iter().zip(synth);
        for (key, v) in synth {
            let i = t.index.get_or_insert(key, &mut batch.new_series);
            ensure_state(&mut t.states, i as usize);
            batch.samples.push((i, at, v));
        }
        batch.poll = Some(PollRecord {
            up,
            duration_ms: scrape.duration_ms,
            samples_scraped: samples,
            bytes,
            error: t.error.clone(),
        });
        self.batches.push(batch);
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

    fn evaluate_rules(&mut self, h: usize, now: Millis) {
        let host = &self.hosts[h];
        let fresh_up = host.targets.iter().any(|&ti| {
            let t = &self.targets[ti];
            t.up == Some(true) && !t.is_stale(now)
        });
        // (rule, labels, condition or None = no data, value, summary)
        let mut evals: Vec<(usize, String, Option<f64>, String)> = Vec::new();
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
                        evals.push((ri, labels, value, summary));
                    }
                }
                Check::Above(VitalRef::Disk) => {
                    let mut seen: Vec<String> = Vec::new();
                    for d in &host.vitals.disks {
                        let mut labels = String::new();
                        push_labels(&mut labels, [("mountpoint", d.mount.as_str())]);
                        seen.push(labels.clone());
                        let summary = format!("disk {} {:.1}% full", d.mount, d.used_pct);
                        evals.push((ri, labels, Some(d.used_pct), summary));
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
                            evals.push((ri, labels.clone(), v, inst.summary.clone()));
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
                    evals.push((ri, String::new(), value, summary));
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
                            let v = if l >= rules::FILL_ALERT_MIN_PCT {
                                days
                            } else {
                                f64::INFINITY
                            };
                            (Some(v), summary)
                        }
                    };
                    evals.push((ri, String::new(), value, summary));
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
                        evals.push((ri, labels, value, summary));
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
                            evals.push((ri, labels, visible.then_some(value), summary));
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
                                evals.push((
                                    ri,
                                    labels.clone(),
                                    visible.then_some(gone),
                                    inst.summary.clone(),
                                ));
                            }
                        }
                    }
                }
            }
        }
        for (ri, labels, value, summary) in evals {
            let rule = &self.rules[ri];
            let key = (ri, h, labels);
            let inst = self.alerts.entry(key.clone()).or_default();
            let cond = value.map(|x| rule.condition(x, inst.is_active()));
            if let Some(x) = value {
                inst.value = x;
                if x.is_finite() {
                    inst.summary = summary;
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
                self.events.push(Event::Alert(tr.clone()));
                let source = self.hosts[h].source.clone();
                match self.batches.iter_mut().rev().find(|b| b.source == source) {
                    Some(b) => b.alerts.push(tr),
                    None => self.batches.push(CycleBatch {
                        source,
                        at: now,
                        alerts: vec![tr],
                        ..CycleBatch::default()
                    }),
                }
            }
            if !inst.is_active() {
                self.alerts.remove(&key);
            }
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

    /// The vital that tells most about a host right now: the one behind its worst firing
    /// alert, else CPU.
    fn spark_vital(&self, h: usize) -> Vital {
        let mut best: Option<(Severity, Vital)> = None;
        for ((ri, ah, _), inst) in &self.alerts {
            if *ah != h || inst.state != AlertState::Firing {
                continue;
            }
            let rule = &self.rules[*ri];
            let vital = match rule.check {
                Check::Above(VitalRef::Cpu) => Vital::Cpu,
                Check::Above(VitalRef::Mem) => Vital::Mem,
                Check::Above(VitalRef::Swap) => Vital::Swap,
                Check::Above(VitalRef::Disk) => Vital::DiskMax,
                _ => continue,
            };
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
            .map(|((ri, hi, labels), i)| AlertView {
                rule: self.rules[*ri].name.clone(),
                host: self.hosts[*hi].name.clone(),
                labels: labels.clone(),
                state: i.state,
                severity: self.rules[*ri].severity,
                active_at: i.active_at,
                fired_at: i.fired_at,
                value: i.value,
                summary: i.summary.clone(),
            })
            .collect();
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
        }
    }
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

/// Series the engine writes for every poll, as Prometheus does.
const SYNTHETIC: [&str; 3] = ["up", "scrape_duration_seconds", "scrape_samples_scraped"];

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

/// Parse a body and fold it into the target's series. Either the whole body is applied or
/// nothing is: every check that can fail runs before the first series is touched.
fn ingest_body(
    t: &mut TargetState,
    key_buf: &mut String,
    body: &[u8],
    format: Format,
    at: Millis,
    batch: &mut CycleBatch,
) -> Result<(u32, Vitals), String> {
    let parsed = expo::parse(body, format).map_err(|e| format!("parse error: {e}"))?;
    let n = parsed.samples.len();
    if t.spec.sample_limit > 0 && n > t.spec.sample_limit as usize {
        return Err(format!(
            "sample limit exceeded: {n} samples > limit {}",
            t.spec.sample_limit
        ));
    }
    let seq = t.poll_seq;
    let mut acc = VitalsAcc::default();
    let mut dropped = 0u32;
    batch.samples.reserve(n + 3);
    for s in &parsed.samples {
        let labels = parsed.labels_of(s);
        canonical_key(key_buf, s.name, labels);
        if labels.is_empty() && SYNTHETIC.contains(&s.name) {
            // These names are ours, written for every poll; a body must not overwrite them.
            dropped += 1;
            continue;
        }
        let idx = t.index.get_or_insert(key_buf, &mut batch.new_series) as usize;
        ensure_state(&mut t.states, idx);
        let Some(st) = t.states.get_mut(idx) else {
            continue;
        };
        if st.last_poll == seq {
            // Duplicate series in one body: the first wins, the rest are counted.
            dropped += 1;
            continue;
        }
        let ts = s.timestamp.unwrap_or(at);
        if s.timestamp.is_some() {
            if ts > at + MAX_FUTURE_MS {
                dropped += 1;
                continue;
            }
            if st.has_last && ts <= st.last_ts {
                // Exporters that stamp their samples repeat the timestamp until the value
                // changes; only a real step back in time is worth counting.
                if ts < st.last_ts {
                    dropped += 1;
                }
                st.last_poll = seq;
                continue;
            }
        }
        let prev = st.has_last.then_some(Prev {
            ts: st.last_ts,
            value: st.last_value,
        });
        acc.observe(s.name, labels, s.value, ts, prev);
        st.last_ts = ts;
        st.last_value = s.value;
        st.has_last = true;
        st.last_poll = seq;
        batch.samples.push((idx as u32, ts, s.value));
    }
    t.dropped = dropped;
    Ok((n as u32, acc.finish()))
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

/// `0.6` days → `14h24m`, `∞` → `never`; for forecast summaries.
pub fn human_days(days: f64) -> String {
    if !days.is_finite() {
        return "never".to_string();
    }
    // Clamped so a century-long forecast does not overflow the millisecond count.
    human_duration((days.clamp(0.0, 36_500.0) * 86_400_000.0) as i64)
}

/// `95s` → `1m35s`; coarse on purpose: it is for status lines.
pub fn human_duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let mut out = String::new();
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        let _ = write!(out, "{d}d{h}h");
    } else if h > 0 {
        let _ = write!(out, "{h}h{m}m");
    } else if m > 0 {
        let _ = write!(out, "{m}m{sec}s");
    } else {
        let _ = write!(out, "{sec}s");
    }
    out
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

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(95_000), "1m35s");
        assert_eq!(human_duration(3 * 3_600_000 + 60_000), "3h1m");
        assert_eq!(human_duration(2 * 86_400_000), "2d0h");
        assert_eq!(human_duration(-5), "0s");
    }
}
