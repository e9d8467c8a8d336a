//! A deterministic engine state for console tests and benches: node_exporter-shaped bodies at
//! fixed timestamps fed through the real parser and engine, so the snapshot is what a live
//! session with these hosts would show.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use nocscope::config::keymap::{Key, Keymap};
use nocscope::engine::rules::default_rules;
use nocscope::engine::{Engine, TargetSpec};
use nocscope::model::{
    AnomalyEvent, AnomalyMark, Forecast, Input, Observation, Payload, PollError, Scrape,
    ScrapeOutcome, Snapshot, TargetId,
};
use nocscope::ui::{UiState, dispatch};

pub const S: i64 = 1000;
pub const T0: i64 = 1_700_000_000_000;
const CT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Cumulative counters of one fake node.
#[derive(Clone)]
pub struct Node {
    busy: f64,
    idle: f64,
    rx: f64,
}

impl Node {
    pub fn new() -> Node {
        Node {
            busy: 1000.0,
            idle: 9000.0,
            rx: 1e6,
        }
    }

    /// Advance 15 s at this CPU busy fraction and return the body.
    pub fn body(&mut self, busy: f64, mem_used: f64, disk_used: f64) -> String {
        self.busy += 15.0 * busy;
        self.idle += 15.0 * (1.0 - busy);
        self.rx += 150_000.0;
        let total = 16e9;
        let size = 200e9;
        format!(
            "# TYPE node_cpu_seconds_total counter\n\
             node_cpu_seconds_total{{cpu=\"0\",mode=\"idle\"}} {idle}\n\
             node_cpu_seconds_total{{cpu=\"0\",mode=\"user\"}} {busy}\n\
             # TYPE node_memory_MemTotal_bytes gauge\n\
             node_memory_MemTotal_bytes {total}\n\
             # TYPE node_memory_MemAvailable_bytes gauge\n\
             node_memory_MemAvailable_bytes {avail}\n\
             # TYPE node_load1 gauge\n\
             node_load1 {load}\n\
             # TYPE node_filesystem_size_bytes gauge\n\
             node_filesystem_size_bytes{{device=\"/dev/vda1\",fstype=\"ext4\",mountpoint=\"/\"}} {size}\n\
             # TYPE node_filesystem_free_bytes gauge\n\
             node_filesystem_free_bytes{{device=\"/dev/vda1\",fstype=\"ext4\",mountpoint=\"/\"}} {free}\n\
             # TYPE node_filesystem_avail_bytes gauge\n\
             node_filesystem_avail_bytes{{device=\"/dev/vda1\",fstype=\"ext4\",mountpoint=\"/\"}} {free}\n\
             # TYPE node_network_receive_bytes_total counter\n\
             node_network_receive_bytes_total{{device=\"eth0\"}} {rx}\n",
            idle = self.idle,
            busy = self.busy,
            avail = total * (1.0 - mem_used),
            load = busy * 4.0,
            free = size * (1.0 - disk_used),
            rx = self.rx,
        )
    }
}

pub fn spec(name: &str, host: &str) -> TargetSpec {
    TargetSpec {
        labels: Default::default(),
        name: name.into(),
        host: host.into(),
        interval_ms: 15 * S,
        timeout_ms: 10 * S,
        sample_limit: 0,
        kind: Default::default(),
    }
}

pub fn scrape(target: u32, at: i64, body: String) -> Input {
    Input::Observation(Observation {
        target: TargetId(target),
        at,
        payload: Payload::Scrape(Scrape {
            duration_ms: 12.0 + f64::from(target),
            outcome: ScrapeOutcome::Body {
                content_type: Some(CT.to_string()),
                body: Bytes::from(body),
            },
        }),
    })
}

pub fn failed(target: u32, at: i64) -> Input {
    Input::Observation(Observation {
        target: TargetId(target),
        at,
        payload: Payload::Scrape(Scrape {
            duration_ms: 10_000.0,
            outcome: ScrapeOutcome::Failed(PollError::Connect("connection refused".into())),
        }),
    })
}

/// Five hosts over 20 minutes: web1 CPU-bound (critical), db1 disk full and memory high,
/// cache1 whose exporter stopped answering, edge1 whose memory just crossed 60 % (pending),
/// app1 healthy.
pub fn engine() -> Engine {
    let names = [
        ("web1-node", "web1"),
        ("db1-node", "db1"),
        ("cache1-node", "cache1"),
        ("edge1-node", "edge1"),
        ("app1-node", "app1"),
    ];
    let mut e = Engine::new(
        names.iter().map(|(n, h)| spec(n, h)).collect(),
        default_rules(),
    );
    let mut nodes = vec![Node::new(); names.len()];
    let steps = 80;
    for step in 0..steps {
        let at = T0 + step * 15 * S;
        let late = step >= steps - 4;
        let wave = (step as f64 / 6.0).sin() * 0.05;
        let plans: [(f64, f64, f64); 5] = [
            (
                if step > 40 {
                    0.93 + wave / 2.0
                } else {
                    0.30 + wave
                },
                0.45,
                0.55,
            ),
            (0.20 + wave, 0.66, 0.95),
            (0.10, 0.30, 0.40),
            (0.15 + wave, if late { 0.63 } else { 0.50 }, 0.30),
            (0.05 + wave / 2.0, 0.25, 0.20),
        ];
        for (i, (node, plan)) in nodes.iter_mut().zip(plans).enumerate() {
            let body = node.body(plan.0, plan.1, plan.2);
            let id = i as u32;
            if i == 2 && step > 60 {
                e.apply(&failed(id, at + 2 * S));
            } else {
                e.apply(&scrape(id, at + id as i64 * 100, body));
            }
        }
        e.apply(&Input::Tick { now: at + 14 * S });
    }
    e.set_dropped_observations(3);
    e
}

pub fn snapshot() -> Snapshot {
    with_anomalies(engine().snapshot())
}

fn event(
    host: &str,
    vital: &str,
    detector: &str,
    start_step: i64,
    end_step: Option<i64>,
    peak: f32,
    threshold: f32,
) -> AnomalyEvent {
    AnomalyEvent {
        host: host.into(),
        vital: vital.into(),
        detector: detector.into(),
        start: T0 + start_step * 15 * S,
        end: end_step.map(|e| T0 + e * 15 * S),
        peak_score: peak,
        threshold,
    }
}

fn forecast(vital: &str, days: f64, days_low: f64, days_high: f64) -> Forecast {
    Forecast {
        vital: vital.into(),
        days,
        days_low,
        days_high,
    }
}

/// The fixture's anomalies and forecasts, set by hand so every view shows them whatever the
/// engine's detectors make of the fixture: web1's CPU jump (closed), app1's short rx burst
/// (closed), db1's and edge1's memory (ongoing, so they carry the status-list marker); db1's
/// disk fills in days, edge1's memory in hours, app1's disk beyond the 30-day cap.
pub fn with_anomalies(mut snap: Snapshot) -> Snapshot {
    snap.anomalies = vec![
        event("edge1", "mem_pct", "lstm", 76, None, 2.1, 1.6),
        event("db1", "mem_pct", "zscore", 70, None, 3.4, 3.0),
        event("web1", "cpu_pct", "lstm", 41, Some(50), 4.2, 1.6),
        event("app1", "net_rx_bps", "zscore", 20, Some(22), 3.1, 3.0),
    ];
    for h in &mut snap.hosts {
        h.anomaly = snap
            .anomalies
            .iter()
            .find(|a| a.host == h.name && a.end.is_none())
            .map(|a| AnomalyMark {
                vital: a.vital.clone(),
                score: a.peak_score,
                threshold: a.threshold,
                since: a.start,
            });
        h.forecasts = match h.name.as_str() {
            "db1" => vec![
                forecast("disk:/", 3.2, 2.1, 5.0),
                forecast("mem_pct", 12.0, 11.0, 14.0),
            ],
            "edge1" => vec![forecast("mem_pct", 0.4, 0.25, 0.6)],
            "app1" => vec![forecast("disk:/", 45.0, 30.0, 90.0)],
            _ => Vec::new(),
        };
    }
    snap
}

/// `n` healthy-ish hosts for the render benchmark.
pub fn big_snapshot(n: usize) -> Snapshot {
    let mut e = Engine::new(
        (0..n)
            .map(|i| spec(&format!("node{i:04}"), &format!("host{i:04}")))
            .collect(),
        default_rules(),
    );
    let mut nodes = vec![Node::new(); n];
    for step in 0..3 {
        let at = T0 + step * 15 * S;
        for (i, node) in nodes.iter_mut().enumerate() {
            let busy = (i % 97) as f64 / 100.0;
            let body = node.body(
                busy,
                0.3 + (i % 7) as f64 / 10.0,
                0.5 + (i % 11) as f64 / 25.0,
            );
            e.apply(&scrape(i as u32, at, body));
        }
        e.apply(&Input::Tick { now: at + 14 * S });
    }
    let mut snap = e.snapshot();
    // Every seventh host anomalous and every fifth with a forecast, so the bench draws the
    // marker column and the list holds a realistic bounded number of runs.
    for (i, h) in snap.hosts.iter_mut().enumerate() {
        if i % 7 == 0 {
            let ev = event(&h.name, "cpu_pct", "lstm", 1, None, 2.5, 1.6);
            h.anomaly = Some(AnomalyMark {
                vital: ev.vital.clone(),
                score: ev.peak_score,
                threshold: ev.threshold,
                since: ev.start,
            });
            snap.anomalies.push(ev);
        }
        if i % 5 == 0 {
            h.forecasts = vec![forecast("disk:/", 3.0 + (i % 9) as f64, 2.0, 20.0)];
        }
    }
    snap
}

pub fn labels() -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (t, job, dc) in [
        ("web1-node", "node", "fra"),
        ("db1-node", "node", "ams"),
        ("cache1-node", "redis", "fra"),
        ("edge1-node", "node", "ams"),
        ("app1-node", "node", "fra"),
    ] {
        let mut l = BTreeMap::new();
        l.insert("job".to_string(), job.to_string());
        l.insert("dc".to_string(), dc.to_string());
        out.insert(t.to_string(), l);
    }
    out
}

/// A UiState that has seen `snap`, with the default keymap and the fixture's labels.
pub fn state(snap: &Snapshot) -> UiState {
    let mut s = UiState::new(Arc::new(Keymap::embedded_default()));
    s.target_labels = labels();
    s.sync(snap);
    s
}

/// Press keys written in keymap notation ("j j <Enter>").
pub fn press(state: &mut UiState, keys: &str) {
    let keys = Key::parse_seq(keys).unwrap_or_else(|e| panic!("bad key sequence {keys:?}: {e}"));
    for k in keys {
        dispatch(state, k);
    }
}
