//! Engine behaviour from observations to snapshots: vitals, default rules, alert timing,
//! severities, sorting, bad bodies and determinism. Bodies are exposition text, so the real
//! parser runs too.

use bytes::Bytes;
use nocscope::engine::rules::default_rules;
use nocscope::engine::{Engine, Event, TargetSpec};
use nocscope::model::{
    AlertState, Input, Observation, Payload, PollError, Scrape, ScrapeOutcome, Severity, TargetId,
};

const S: i64 = 1000;
const T0: i64 = 1_700_000_000_000;
const CT: &str = "text/plain; version=0.0.4; charset=utf-8";

fn spec(name: &str, host: &str) -> TargetSpec {
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

fn engine(specs: &[(&str, &str)]) -> Engine {
    Engine::new(
        specs.iter().map(|(n, h)| spec(n, h)).collect(),
        default_rules(),
    )
}

/// A node_exporter-shaped body. `cpu_busy` and `cpu_idle` are cumulative seconds.
struct Node {
    busy: f64,
    idle: f64,
    mem_total: f64,
    mem_avail: f64,
    fs_size: f64,
    fs_free: f64,
    rx: f64,
}

impl Node {
    fn new() -> Node {
        Node {
            busy: 1000.0,
            idle: 9000.0,
            mem_total: 8e9,
            mem_avail: 6e9,
            fs_size: 100e9,
            fs_free: 50e9,
            rx: 1e6,
        }
    }
    /// Advance 15 s with the given CPU busy fraction (2 CPUs).
    fn step(&mut self, busy_frac: f64) {
        self.busy += 30.0 * busy_frac;
        self.idle += 30.0 * (1.0 - busy_frac);
        self.rx += 15_000.0;
    }
    fn body(&self) -> String {
        format!(
            "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n\
             # TYPE node_cpu_seconds_total counter\n\
             node_cpu_seconds_total{{cpu=\"0\",mode=\"idle\"}} {idle}\n\
             node_cpu_seconds_total{{cpu=\"0\",mode=\"user\"}} {busy}\n\
             # TYPE node_memory_MemTotal_bytes gauge\n\
             node_memory_MemTotal_bytes {mt}\n\
             # TYPE node_memory_MemAvailable_bytes gauge\n\
             node_memory_MemAvailable_bytes {ma}\n\
             # TYPE node_load1 gauge\n\
             node_load1 0.42\n\
             # TYPE node_filesystem_size_bytes gauge\n\
             node_filesystem_size_bytes{{device=\"/dev/vda1\",fstype=\"ext4\",mountpoint=\"/\"}} {fs}\n\
             # TYPE node_filesystem_free_bytes gauge\n\
             node_filesystem_free_bytes{{device=\"/dev/vda1\",fstype=\"ext4\",mountpoint=\"/\"}} {ff}\n\
             # TYPE node_filesystem_avail_bytes gauge\n\
             node_filesystem_avail_bytes{{device=\"/dev/vda1\",fstype=\"ext4\",mountpoint=\"/\"}} {ff}\n\
             # TYPE node_network_receive_bytes_total counter\n\
             node_network_receive_bytes_total{{device=\"eth0\"}} {rx}\n",
            idle = self.idle / 2.0,
            busy = self.busy / 2.0,
            mt = self.mem_total,
            ma = self.mem_avail,
            fs = self.fs_size,
            ff = self.fs_free,
            rx = self.rx,
        )
    }
}

fn scrape(target: u32, at: i64, body: &str) -> Input {
    scrape_ct(target, at, body, Some(CT))
}

fn scrape_ct(target: u32, at: i64, body: &str, ct: Option<&str>) -> Input {
    Input::Observation(Observation {
        target: TargetId(target),
        at,
        payload: Payload::Scrape(Scrape {
            duration_ms: 12.0,
            outcome: ScrapeOutcome::Body {
                content_type: ct.map(str::to_string),
                body: Bytes::from(body.to_string()),
            },
        }),
    })
}

fn failed(target: u32, at: i64) -> Input {
    Input::Observation(Observation {
        target: TargetId(target),
        at,
        payload: Payload::Scrape(Scrape {
            duration_ms: 10_000.0,
            outcome: ScrapeOutcome::Failed(PollError::Timeout { after_ms: 10_000 }),
        }),
    })
}

fn host_sev(e: &Engine, host: &str) -> Severity {
    e.snapshot()
        .hosts
        .iter()
        .find(|h| h.name == host)
        .map(|h| h.severity)
        .unwrap_or_else(|| panic!("no host {host}"))
}

#[test]
fn vitals_from_two_scrapes() {
    let mut e = engine(&[("web1", "web1")]);
    let mut n = Node::new();
    e.apply(&scrape(0, T0, &n.body()));
    let v = &e.snapshot().hosts[0].vitals;
    assert_eq!(v.cpu_pct, None, "a rate needs two scrapes");
    assert_eq!(v.mem_pct, Some(25.0));
    assert_eq!(v.load1, Some(0.42));
    assert_eq!(v.disks.len(), 1);
    assert!((v.disks[0].used_pct - 50.0).abs() < 1e-9);
    assert_eq!(v.up, Some(true));

    n.step(0.4);
    e.apply(&scrape(0, T0 + 15 * S, &n.body()));
    let snap = e.snapshot();
    let v = &snap.hosts[0].vitals;
    assert!((v.cpu_pct.unwrap() - 40.0).abs() < 1e-6, "{:?}", v.cpu_pct);
    assert!((v.net_rx_bps.unwrap() - 1000.0).abs() < 1e-6);
    assert_eq!(snap.hosts[0].severity, Severity::Ok);
    assert_eq!(snap.targets[0].samples, 9);
    assert_eq!(snap.hosts[0].spark_vital, "cpu_pct");
    assert_eq!(
        snap.hosts[0].sparkline.len(),
        1,
        "CPU has one point after two scrapes"
    );
}

#[test]
fn high_memory_goes_pending_then_fires_after_two_minutes() {
    let mut e = engine(&[("web1", "web1")]);
    let mut n = Node::new();
    n.mem_avail = 1.6e9; // 80 % used: above both memory thresholds
    let mut t = T0;
    e.apply(&scrape(0, t, &n.body()));
    let snap = e.snapshot();
    let pending: Vec<_> = snap
        .alerts
        .iter()
        .map(|a| (a.rule.as_str(), a.state))
        .collect();
    assert!(pending.contains(&("HostMemoryCritical", AlertState::Pending)));
    assert!(pending.contains(&("HostMemoryHigh", AlertState::Pending)));
    assert_eq!(
        snap.hosts[0].severity,
        Severity::Ok,
        "pending does not change severity"
    );
    for _ in 0..7 {
        t += 15 * S;
        n.step(0.1);
        e.apply(&scrape(0, t, &n.body()));
    }
    // 105 s after the first breach: still pending.
    assert_eq!(host_sev(&e, "web1"), Severity::Ok);
    t += 15 * S;
    n.step(0.1);
    e.apply(&scrape(0, t, &n.body()));
    let snap = e.snapshot();
    assert_eq!(snap.hosts[0].severity, Severity::Critical);
    assert_eq!(
        snap.hosts[0].firing,
        vec!["HostMemoryCritical", "HostMemoryHigh"]
    );
    // The row's sparkline follows the vital behind the worst alert.
    assert_eq!(snap.hosts[0].spark_vital, "mem_pct");
    assert_eq!(snap.hosts[0].sparkline.len(), 9);
    assert!(
        snap.hosts[0]
            .sparkline
            .iter()
            .all(|&v| (v - 80.0).abs() < 1e-3)
    );
    let fired: Vec<_> = e
        .take_events()
        .into_iter()
        .filter_map(|ev| match ev {
            Event::Alert(tr) if tr.to == AlertState::Firing => {
                Some((tr.rule, tr.at - tr.active_at))
            }
            _ => None,
        })
        .collect();
    assert_eq!(fired.len(), 2);
    assert!(fired.iter().all(|(_, d)| *d == 120 * S));

    // Recovery below the clear threshold resolves both.
    n.mem_avail = 6e9;
    t += 15 * S;
    e.apply(&scrape(0, t, &n.body()));
    assert_eq!(host_sev(&e, "web1"), Severity::Ok);
    assert!(e.snapshot().alerts.is_empty());
}

#[test]
fn exporter_down_is_unknown_first_then_critical_after_two_minutes() {
    let mut e = engine(&[("web1", "web1")]);
    let n = Node::new();
    e.apply(&scrape(0, T0, &n.body()));
    let mut t = T0;
    for i in 0..9 {
        t += 15 * S;
        e.apply(&failed(0, t));
        let sev = host_sev(&e, "web1");
        if i < 8 {
            assert_eq!(
                sev,
                Severity::Unknown,
                "poll {i}: a failed poll means we cannot see"
            );
        }
    }
    // First failure at T0+15s; at T0+135s it has been failing for 2 minutes.
    let snap = e.snapshot();
    assert_eq!(snap.hosts[0].severity, Severity::Critical);
    assert!(
        snap.hosts[0].reason.contains("ExporterDown"),
        "{}",
        snap.hosts[0].reason
    );
    assert_eq!(snap.targets[0].up, Some(false));
    assert!(
        snap.targets[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("timeout")
    );
    assert_eq!(
        snap.hosts[0].vitals.mem_pct, None,
        "nothing stale is shown as current"
    );
}

#[test]
fn a_failed_poll_during_pending_holds_the_for_clock() {
    let mut e = engine(&[("web1", "web1")]);
    let mut n = Node::new();
    n.mem_avail = 1.6e9;
    e.apply(&scrape(0, T0, &n.body()));
    e.apply(&failed(0, T0 + 60 * S));
    e.apply(&failed(0, T0 + 75 * S));
    let snap = e.snapshot();
    assert!(
        snap.alerts.iter().any(|a| a.rule == "HostMemoryCritical"
            && a.state == AlertState::Pending
            && a.active_at == T0),
        "pending alert held through the failed polls: {:?}",
        snap.alerts
    );
    e.apply(&scrape(0, T0 + 120 * S, &n.body()));
    assert_eq!(host_sev(&e, "web1"), Severity::Critical);
}

#[test]
fn disk_full_fires_at_once_per_mount() {
    let mut e = engine(&[("db1", "db1")]);
    let mut n = Node::new();
    n.fs_free = 5e9;
    e.apply(&scrape(0, T0, &n.body()));
    let snap = e.snapshot();
    assert_eq!(snap.hosts[0].severity, Severity::Major);
    let a = &snap.alerts[0];
    assert_eq!(a.rule, "HostDiskFull");
    assert_eq!(a.labels, "{mountpoint=\"/\"}");
    assert_eq!(a.state, AlertState::Firing);
}

#[test]
fn status_list_sorts_by_severity_then_time_in_state() {
    let mut e = engine(&[("a", "a"), ("b", "b"), ("c", "c"), ("d", "d")]);
    let ok = Node::new();
    let mut full = Node::new();
    full.fs_free = 1e9;
    e.apply(&scrape(0, T0, &ok.body()));
    e.apply(&scrape(1, T0, &ok.body()));
    e.apply(&scrape(2, T0 + 5 * S, &full.body())); // major since T0+5
    e.apply(&scrape(3, T0 + S, &full.body())); // major since T0+1: longer, so first
    let names: Vec<_> = e.snapshot().hosts.iter().map(|h| h.name.clone()).collect();
    assert_eq!(names, vec!["d", "c", "a", "b"]);
}

#[test]
fn targets_sharing_a_host_are_one_row() {
    let mut e = engine(&[("web1-node", "web1"), ("web1-app", "web1")]);
    e.apply(&scrape(0, T0, &Node::new().body()));
    e.apply(&failed(1, T0 + S));
    let snap = e.snapshot();
    assert_eq!(snap.hosts.len(), 1);
    assert_eq!(snap.hosts[0].targets.len(), 2);
    assert_eq!(snap.hosts[0].severity, Severity::Unknown);
    assert!(snap.hosts[0].reason.starts_with("web1-app"));
    assert_eq!(snap.hosts[0].vitals.mem_pct, Some(25.0));
}

#[test]
fn never_polled_is_nodata_and_silence_becomes_unknown() {
    let mut e = engine(&[("web1", "web1")]);
    e.tick(T0);
    assert_eq!(host_sev(&e, "web1"), Severity::NoData);
    e.apply(&scrape(0, T0, &Node::new().body()));
    e.tick(T0 + 30 * S);
    assert_eq!(host_sev(&e, "web1"), Severity::Ok);
    // 2 × interval + timeout = 40 s without a poll result.
    e.tick(T0 + 41 * S);
    let snap = e.snapshot();
    assert_eq!(snap.hosts[0].severity, Severity::Unknown);
    assert!(
        snap.hosts[0].reason.contains("no data"),
        "{}",
        snap.hosts[0].reason
    );
}

#[test]
fn a_malformed_body_fails_the_poll_and_ingests_nothing() {
    let mut e = engine(&[("web1", "web1")]);
    let n = Node::new();
    e.apply(&scrape(0, T0, &n.body()));
    e.take_batches();
    let series_before = e.series_count();
    let bad = format!("{}node_bad{{a=\"x}} 1\n", n.body());
    e.apply(&scrape(0, T0 + 15 * S, &bad));
    let snap = e.snapshot();
    assert_eq!(snap.targets[0].up, Some(false));
    let err = snap.targets[0].error.clone().unwrap_or_default();
    assert!(err.starts_with("parse error: line "), "{err}");
    assert_eq!(
        e.series_count(),
        series_before,
        "no series created from a bad body"
    );
    let batches = e.take_batches();
    let target_batch = batches.iter().find(|b| &*b.source == "web1").unwrap();
    // Only the synthetic up / scrape_duration_seconds / scrape_samples_scraped.
    assert_eq!(target_batch.samples.len(), 3);
    assert_eq!(target_batch.poll.as_ref().map(|p| p.up), Some(false));
}

#[test]
fn duplicates_are_dropped_and_counted_and_the_poll_succeeds() {
    let mut e = engine(&[("web1", "web1")]);
    let body = "m{a=\"1\"} 1\nm{a=\"1\"} 2\nm{a=\"2\"} 3\n";
    e.apply(&scrape(0, T0, body));
    let snap = e.snapshot();
    assert_eq!(snap.targets[0].up, Some(true));
    assert_eq!(snap.targets[0].dropped_samples, 1);
    let b = e.take_batches();
    let vals: Vec<f64> = b[0].samples.iter().map(|s| s.2).collect();
    assert_eq!(
        &vals[..2],
        &[1.0, 3.0],
        "the first of a duplicate pair wins"
    );
}

#[test]
fn labels_in_any_order_are_one_series() {
    let mut e = engine(&[("web1", "web1")]);
    e.apply(&scrape(0, T0, "m{b=\"2\",a=\"1\"} 1\n"));
    e.apply(&scrape(0, T0 + 15 * S, "m{a=\"1\",b=\"2\"} 2\n"));
    let b = e.take_batches();
    let keys: Vec<&str> = b
        .iter()
        .flat_map(|b| b.new_series.iter().map(|s| &*s.1))
        .collect();
    assert_eq!(keys.iter().filter(|k| k.starts_with("m{")).count(), 1);
    assert!(keys.contains(&"m{a=\"1\",b=\"2\"}"));
}

#[test]
fn a_counter_going_backwards_is_a_reset_not_a_negative_rate() {
    let mut e = engine(&[("web1", "web1")]);
    let mut n = Node::new();
    e.apply(&scrape(0, T0, &n.body()));
    // The exporter restarted: counters start again near zero.
    n.busy = 10.0;
    n.idle = 20.0;
    n.rx = 15_000.0;
    e.apply(&scrape(0, T0 + 15 * S, &n.body()));
    let v = e.snapshot().hosts[0].vitals.clone();
    let cpu = v.cpu_pct.unwrap();
    assert!((0.0..=100.0).contains(&cpu), "{cpu}");
    assert!((cpu - 100.0 * 5.0 / 15.0).abs() < 1e-6, "{cpu}");
    assert!((v.net_rx_bps.unwrap() - 1000.0).abs() < 1e-6);
}

#[test]
fn special_values_are_values() {
    let mut e = engine(&[("web1", "web1")]);
    e.apply(&scrape(0, T0, "a NaN\nb +Inf\nc -Inf\n"));
    let b = e.take_batches();
    let vals: Vec<f64> = b[0].samples.iter().take(3).map(|s| s.2).collect();
    assert!(vals[0].is_nan());
    assert_eq!(vals[1], f64::INFINITY);
    assert_eq!(vals[2], f64::NEG_INFINITY);
    assert_eq!(e.snapshot().targets[0].up, Some(true));
}

#[test]
fn sample_limit_fails_the_whole_poll() {
    let mut s = spec("web1", "web1");
    s.sample_limit = 2;
    let mut e = Engine::new(vec![s], default_rules());
    e.apply(&scrape(0, T0, "a 1\nb 2\nc 3\n"));
    let snap = e.snapshot();
    assert_eq!(snap.targets[0].up, Some(false));
    assert!(
        snap.targets[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("sample limit")
    );
}

#[test]
fn missing_content_type_is_parsed_with_a_warning() {
    let mut e = engine(&[("web1", "web1")]);
    e.apply(&scrape_ct(0, T0, "a 1\n", None));
    let t = &e.snapshot().targets[0];
    assert_eq!(t.up, Some(true));
    assert!(
        t.warning.as_deref().unwrap_or("").contains("content-type"),
        "{:?}",
        t.warning
    );
}

#[test]
fn far_future_and_backwards_timestamps_are_dropped() {
    let mut e = engine(&[("web1", "web1")]);
    let future = T0 + 3_600_000;
    e.apply(&scrape(0, T0, &format!("a 1 {future}\nb 1 {T0}\n")));
    assert_eq!(e.snapshot().targets[0].dropped_samples, 1);
    e.apply(&scrape(0, T0 + 15 * S, &format!("b 2 {}\n", T0 - 1000)));
    assert_eq!(e.snapshot().targets[0].dropped_samples, 1);
}

#[test]
fn openmetrics_bodies_by_content_type() {
    let mut e = engine(&[("web1", "web1")]);
    let om = "# TYPE node_load1 gauge\nnode_load1 1.5\n# EOF\n";
    e.apply(&scrape_ct(
        0,
        T0,
        om,
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    ));
    assert_eq!(e.snapshot().hosts[0].vitals.load1, Some(1.5));
    // The same body without `# EOF` is rejected as a whole.
    e.apply(&scrape_ct(
        0,
        T0 + 15 * S,
        "node_load1 2\n",
        Some("application/openmetrics-text; version=1.0.0"),
    ));
    let t = &e.snapshot().targets[0];
    assert_eq!(t.up, Some(false));
}

#[test]
fn unknown_target_ids_are_ignored_not_a_panic() {
    let mut e = engine(&[("web1", "web1")]);
    e.apply(&scrape(7, T0, "a 1\n"));
    assert_eq!(e.ignored_observations(), 1);
}

#[test]
fn same_inputs_give_the_same_outputs() {
    let mut inputs = Vec::new();
    let mut n = Node::new();
    n.mem_avail = 1.0e9;
    for i in 0..20 {
        n.step(if i > 5 { 0.95 } else { 0.2 });
        if i == 9 || i == 10 {
            inputs.push(failed(0, T0 + i * 15 * S));
        } else {
            inputs.push(scrape(0, T0 + i * 15 * S, &n.body()));
        }
        inputs.push(Input::Tick {
            now: T0 + i * 15 * S + 7 * S,
        });
    }
    let run = || {
        let mut e = engine(&[("web1", "web1")]);
        for i in &inputs {
            e.apply(i);
        }
        (
            format!("{:?}", e.snapshot()),
            format!("{:?}", e.take_batches()),
            format!("{:?}", e.take_events()),
        )
    };
    assert_eq!(run(), run());
}

#[test]
fn windows_exporter_bodies_give_vitals() {
    let mut e = engine(&[("win1", "win1")]);
    let body = |idle: f64| {
        format!(
            "windows_cpu_time_total{{core=\"0,0\",mode=\"idle\"}} {idle}\n\
             windows_cpu_time_total{{core=\"0,0\",mode=\"user\"}} 100\n\
             windows_cs_physical_memory_bytes 1000\n\
             windows_os_physical_memory_free_bytes 100\n\
             windows_logical_disk_size_bytes{{volume=\"C:\"}} 200\n\
             windows_logical_disk_free_bytes{{volume=\"C:\"}} 10\n"
        )
    };
    e.apply(&scrape(0, T0, &body(1000.0)));
    e.apply(&scrape(0, T0 + 15 * S, &body(1015.0)));
    let snap = e.snapshot();
    let v = &snap.hosts[0].vitals;
    assert_eq!(v.cpu_pct, Some(0.0));
    assert_eq!(v.mem_pct, Some(90.0));
    assert_eq!(v.disks[0].used_pct, 95.0);
    // 95 % full → HostDiskFull (major), memory 90 % is still pending.
    assert_eq!(snap.hosts[0].severity, Severity::Major);
}

/// Rules from a config's `[[rule]]` sections, merged over the built-in ones.
fn rules_from(toml: &str) -> Vec<nocscope::engine::rules::Rule> {
    let config = nocscope::config::parse(toml, "test.toml", std::path::Path::new("."))
        .unwrap_or_else(|e| panic!("{e}"));
    nocscope::engine::rules::rules_from_specs(&config.rules)
}

#[test]
fn the_built_in_rules_are_the_documented_ones() {
    // Issues #2 and #5 name these thresholds; the embedded file must still say them.
    let rules = default_rules();
    let summary: Vec<(&str, f64, f64, i64, Severity)> = rules
        .iter()
        .map(|r| (r.name.as_str(), r.threshold, r.clear, r.for_ms, r.severity))
        .collect();
    let m = 60 * S;
    assert_eq!(
        summary,
        vec![
            ("ExporterDown", 0.5, 0.5, 2 * m, Severity::Critical),
            ("SnmpAgentDown", 0.5, 0.5, m, Severity::Critical),
            ("HostUnreachable", 99.99, 99.99, m, Severity::Critical),
            ("PingPacketLoss", 20.0, 10.0, 0, Severity::Minor),
            ("TcpPortClosed", 0.5, 0.5, 0, Severity::Major),
            ("HttpCheckFailing", 0.5, 0.5, 0, Severity::Major),
            ("CertificateExpiringSoon", 14.0, 14.0, 0, Severity::Minor),
            ("CertificateExpiring", 3.0, 3.0, 0, Severity::Major),
            ("InterfaceDown", 0.5, 0.5, 0, Severity::Major),
            ("HostCpuHigh", 80.0, 75.0, 2 * m, Severity::Critical),
            ("HostMemoryCritical", 75.0, 72.0, 2 * m, Severity::Critical),
            ("HostMemoryHigh", 60.0, 57.0, 2 * m, Severity::Minor),
            ("HostDiskFull", 90.0, 88.0, 0, Severity::Major),
            ("DiskFillsSoon", 1.0, 1.5, 60 * m, Severity::Major),
        ]
    );
}

#[test]
fn own_rules_override_disable_and_add() {
    let rules = rules_from(
        r#"
[[rule]]
name = "HostMemoryCritical"
above = 90
for = "0s"

[[rule]]
name = "HostMemoryHigh"
disabled = true

[[rule]]
name = "MemoryWatch"
watch = "mem"
above = 70
severity = "warning"
labels = { team = "db-{{ $labels.host }}" }
annotations = { summary = "memory {{ printf \"%.0f\" $value }}% on {{ $labels.host }}", runbook = "https://runbooks.example/{{ $labels.host }}/memory" }
"#,
    );
    let mut e = Engine::new(vec![spec("web1", "web1")], rules);
    let mut n = Node::new();
    n.mem_avail = 1.6e9; // 80 % used
    e.apply(&scrape(0, T0, &n.body()));
    let snap = e.snapshot();
    let active: Vec<(&str, &str, AlertState, &str)> = snap
        .alerts
        .iter()
        .map(|a| {
            (
                a.rule.as_str(),
                a.labels.as_str(),
                a.state,
                a.summary.as_str(),
            )
        })
        .collect();
    // 80 % is under the raised critical threshold, the minor default is off, and the new
    // rule fires at once with its own label and summary.
    assert_eq!(
        active,
        vec![(
            "MemoryWatch",
            "{team=\"db-web1\"}",
            AlertState::Firing,
            "memory 80% on web1"
        )]
    );
    // Every annotation is rendered for the alert's detail, not only the summary.
    assert_eq!(
        snap.alerts[0].annotations,
        vec![
            (
                "runbook".to_string(),
                "https://runbooks.example/web1/memory".to_string()
            ),
            ("summary".to_string(), "memory 80% on web1".to_string()),
        ]
    );
    assert_eq!(snap.hosts[0].severity, Severity::Minor);
    n.mem_avail = 0.4e9; // 95 %
    e.apply(&scrape(0, T0 + 15 * S, &n.body()));
    assert_eq!(
        host_sev(&e, "web1"),
        Severity::Critical,
        "for = 0s fires at once"
    );
}

#[test]
fn printed_rules_read_back_to_the_same_rules() {
    use nocscope::config::rules::{default_rule_specs, rules_toml};
    let config = nocscope::config::parse(
        "[[rule]]\nname = \"Odd\"\nwatch = \"cert_days\"\nbelow = 7.5\nclear = 9\nkeep_firing_for = \"90s\"\nseverity = \"info\"\nlabels = { \"x\" = \"a \\\"q\\\" \\\\ b\" }\n\n[[rule]]\nname = \"S\"\nseries = 'up{job=\"a\"}'\nbelow = 1\nseverity = \"major\"\n",
        "t.toml",
        std::path::Path::new("."),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for specs in [default_rule_specs(), config.rules.clone()] {
        let text = rules_toml(&specs, &[]);
        let back = nocscope::config::check_rule_sections(&text, "printed", &[])
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, specs, "{text}");
    }
}

const PROM_RULES: &str = r#"
groups:
  - name: node
    interval: 15s
    rules:
      - record: host:load1:max
        expr: max by (host) (node_load1)
      - alert: LoadHigh
        expr: host:load1:max > 0.4
        for: 30s
        labels:
          severity: warning
        annotations:
          summary: "load {{ $value }} on {{ $labels.host }}"
      - alert: ExporterGone
        expr: up == 0
        labels:
          severity: critical
      - alert: NoLoadAnywhere
        expr: absent(node_load1)
"#;

fn prom_engine() -> Engine {
    let mut e = engine(&[("web1", "web1")]);
    e.set_rule_files(&[("node.yml".to_string(), PROM_RULES.to_string())], 15 * S)
        .unwrap_or_else(|e| panic!("{e}"));
    e
}

/// Rules sharing subexpressions (warning and critical over the same aggregation, a recording
/// read by rules before and after it in the same group): sharing values within an instant
/// must give exactly what evaluating each rule alone gives.
#[test]
fn shared_subexpressions_change_no_result() {
    const SHARED: &str = r#"
groups:
  - name: shared
    interval: 15s
    rules:
      - alert: BusyBefore
        expr: host:busy:rate > 0.3
      - record: host:busy:rate
        expr: sum by (host) (rate(node_cpu_seconds_total{mode="user"}[1m]))
      - alert: BusyWarn
        expr: host:busy:rate > 0.3
        labels: {severity: warning}
        annotations: {summary: "{{ $value }}"}
      - alert: BusyCrit
        expr: host:busy:rate > 0.5
        for: 30s
        labels: {severity: critical}
        annotations: {summary: "{{ $value }}"}
      - alert: Alerting
        expr: count(ALERTS{alertstate="firing"}) > 0
        annotations: {summary: "{{ $value }}"}
      - alert: AlertingAgain
        expr: count(ALERTS{alertstate="firing"}) > 0
        annotations: {summary: "{{ $value }}"}
  - name: again
    interval: 15s
    rules:
      - alert: BusyWarnToo
        expr: sum by (host) (rate(node_cpu_seconds_total{mode="user"}[1m])) > 0.3
        annotations: {summary: "{{ $value }}"}
"#;
    let run = |sharing: bool| {
        let mut e = engine(&[("web1", "web1")]);
        e.set_rule_files(&[("s.yml".to_string(), SHARED.to_string())], 15 * S)
            .unwrap_or_else(|e| panic!("{e}"));
        e.set_rule_sharing(sharing);
        let mut n = Node::new();
        let mut t = T0 - T0 % (15 * S);
        let mut seen = Vec::new();
        for i in 0..12 {
            if i == 8 {
                e.apply(&failed(0, t));
            } else {
                // Busy, then easing off: values change, alerts rise and resolve.
                n.step([0.9, 0.9, 0.95, 0.9, 0.7, 0.5, 0.2, 0.1][i % 8]);
                e.apply(&scrape(0, t, &n.body()));
            }
            let snap = e.snapshot();
            let alerts: Vec<String> = snap
                .alerts
                .iter()
                .map(|a| format!("{} {} {:?} {}", a.rule, a.labels, a.state, a.summary))
                .collect();
            seen.push((format!("{:?}", e.take_events()), alerts));
            t += 15 * S;
        }
        seen
    };
    let shared = run(true);
    assert_eq!(shared, run(false));
    // Not vacuous: the warning, critical and ALERTS-reading rules were all active along the
    // way, and resolved (events) as the load eased.
    let all: Vec<&String> = shared.iter().flat_map(|(_, a)| a).collect();
    for rule in [
        "BusyBefore",
        "BusyWarn",
        "BusyCrit",
        "AlertingAgain",
        "BusyWarnToo",
    ] {
        assert!(
            all.iter().any(|a| a.starts_with(&format!("{rule} "))),
            "{rule} never active: {all:?}"
        );
    }
}

fn alert_states(e: &Engine) -> Vec<(String, String, String, AlertState)> {
    e.snapshot()
        .alerts
        .iter()
        .map(|a| (a.rule.clone(), a.host.clone(), a.labels.clone(), a.state))
        .collect()
}

#[test]
fn prometheus_rules_evaluate_over_polled_series() {
    let mut e = prom_engine();
    let mut n = Node::new();
    // Aligned to the 15 s evaluation grid, as the evaluation times are.
    let t0 = T0 - T0 % (15 * S);
    let mut t = t0;
    let mut events = Vec::new();
    for _ in 0..4 {
        n.step(0.1);
        e.apply(&scrape(0, t, &n.body()));
        events.extend(e.take_events());
        t += 15 * S;
    }
    // load 0.42 > 0.4: pending at t0, firing once 30 s have passed.
    let states = alert_states(&e);
    assert_eq!(
        states,
        vec![(
            "LoadHigh".into(),
            "web1".into(),
            "{severity=\"warning\"}".into(),
            AlertState::Firing
        )]
    );
    let snap = e.snapshot();
    let load = snap.alerts.iter().find(|a| a.rule == "LoadHigh").unwrap();
    assert_eq!(load.summary, "load 0.42 on web1");
    // The detail's material: rendered annotations on the alert, templates on the rule.
    assert_eq!(
        load.annotations,
        vec![("summary".to_string(), "load 0.42 on web1".to_string())]
    );
    let rule = snap.rules.iter().find(|r| r.name == "LoadHigh").unwrap();
    assert_eq!(rule.for_ms, 30 * S);
    assert_eq!(rule.labels, vec![("severity".into(), "warning".into())]);
    assert_eq!(
        rule.annotations,
        vec![(
            "summary".to_string(),
            "load {{ $value }} on {{ $labels.host }}".to_string()
        )]
    );
    assert_eq!(load.severity, Severity::Minor, "warning maps to minor");
    assert_eq!(load.host, "web1");
    assert_eq!(snap.hosts[0].severity, Severity::Minor);
    let firing_at: Vec<i64> = events
        .iter()
        .filter_map(|ev| match ev {
            Event::Alert(tr) if tr.rule == "LoadHigh" && tr.to == AlertState::Firing => Some(tr.at),
            _ => None,
        })
        .collect();
    assert_eq!(firing_at, vec![t0 + 30 * S]);
    // absent() of a present series is empty; nothing else fired.
    assert!(
        !states
            .iter()
            .any(|s| s.0 == "NoLoadAnywhere" || s.0 == "ExporterGone"),
        "{states:?}"
    );

    // A failed poll: up == 0 fires at once (real data); LoadHigh holds rather than resolve.
    e.apply(&failed(0, t));
    t += 15 * S;
    e.apply(&failed(0, t));
    let states = alert_states(&e);
    assert!(
        states
            .iter()
            .any(|s| s.0 == "ExporterGone" && s.3 == AlertState::Firing),
        "{states:?}"
    );
    assert!(
        states
            .iter()
            .any(|s| s.0 == "LoadHigh" && s.3 == AlertState::Firing),
        "held: {states:?}"
    );
    let held: Vec<(String, bool)> = e
        .snapshot()
        .alerts
        .iter()
        .map(|a| (a.rule.clone(), a.held))
        .collect();
    // up == 0 is real data; LoadHigh still reads its last samples within the lookback, data
    // from before the failed poll: held, shown as unknown (its alert names the host, not the
    // target, after `max by (host)`).
    assert!(
        held.contains(&("ExporterGone".to_string(), false)),
        "real data: {held:?}"
    );
    assert!(held.contains(&("LoadHigh".to_string(), true)), "{held:?}");

    // Back, without node_load1 in the body: its series goes stale, LoadHigh resolves and
    // the host-less absent() alert fires (shown without a host).
    t += 15 * S;
    let body: String = n
        .body()
        .lines()
        .filter(|l| !l.contains("node_load1"))
        .map(|l| format!("{l}\n"))
        .collect();
    e.apply(&scrape(0, t, &body));
    let states = alert_states(&e);
    assert!(!states.iter().any(|s| s.0 == "LoadHigh"), "{states:?}");
    assert!(!states.iter().any(|s| s.0 == "ExporterGone"), "{states:?}");
    assert!(
        states.contains(&(
            "NoLoadAnywhere".into(),
            String::new(),
            String::new(),
            AlertState::Firing
        )),
        "{states:?}"
    );
}

#[test]
fn prometheus_rule_files_with_problems_are_refused() {
    let mut e = engine(&[("web1", "web1")]);
    let err = e
        .set_rule_files(
            &[(
                "bad.yml".to_string(),
                "groups:\n- name: g\n  rules:\n  - alert: X\n    expr: rate(up\n".to_string(),
            )],
            15 * S,
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("bad.yml: 5:11: group \"g\", rule 1, \"X\""),
        "{err}"
    );
}

/// An alert the last run left pending resumes with its `for` clock: HostMemoryHigh, pending
/// for 90 s before the restart, fires 30 s after it rather than 2 minutes after.
#[test]
fn a_resumed_pending_alert_keeps_its_for_clock() {
    use nocscope::model::AlertTransition;
    let mut e = engine(&[("web1", "web1")]);
    let t = T0;
    let resumed = e.restore_alerts(&[AlertTransition {
        at: t - 90 * S,
        rule: "HostMemoryHigh".into(),
        host: "web1".into(),
        labels: String::new(),
        from: AlertState::Inactive,
        to: AlertState::Pending,
        severity: Severity::Minor,
        value: 65.0,
        active_at: t - 90 * S,
        summary: String::new(),
    }]);
    assert_eq!(resumed, 1);
    let mut n = Node::new();
    n.mem_avail = 3.0e9; // 62.5 % used: over 60, under 75
    e.apply(&scrape(0, t, &n.body()));
    let pending = |e: &Engine| {
        e.snapshot()
            .alerts
            .iter()
            .find(|a| a.rule == "HostMemoryHigh")
            .map(|a| (a.state, a.active_at))
    };
    assert_eq!(pending(&e), Some((AlertState::Pending, t - 90 * S)));
    e.apply(&scrape(0, t + 15 * S, &n.body()));
    assert_eq!(pending(&e).map(|p| p.0), Some(AlertState::Pending));
    e.apply(&scrape(0, t + 30 * S, &n.body()));
    assert_eq!(pending(&e), Some((AlertState::Firing, t - 90 * S)));
    // A rule or host no longer configured is skipped.
    let mut e2 = engine(&[("web1", "web1")]);
    let gone = AlertTransition {
        at: t,
        rule: "NoSuchRule".into(),
        host: "web1".into(),
        labels: String::new(),
        from: AlertState::Inactive,
        to: AlertState::Firing,
        severity: Severity::Minor,
        value: 1.0,
        active_at: t,
        summary: String::new(),
    };
    assert_eq!(e2.restore_alerts(&[gone]), 0);
}

/// A Prometheus alert resumes in its group too: pending for 20 s of a 30 s `for` before the
/// restart, it fires at the first evaluation 10 s later.
#[test]
fn a_resumed_prometheus_alert_keeps_its_for_clock() {
    use nocscope::model::AlertTransition;
    let mut e = prom_engine();
    let t0 = T0 - T0 % (15 * S);
    let resumed = e.restore_alerts(&[AlertTransition {
        at: t0 - 15 * S,
        rule: "LoadHigh".into(),
        host: "web1".into(),
        labels: "{severity=\"warning\"}".into(),
        from: AlertState::Inactive,
        to: AlertState::Pending,
        severity: Severity::Minor,
        value: 0.42,
        active_at: t0 - 30 * S,
        summary: String::new(),
    }]);
    assert_eq!(resumed, 1);
    let mut n = Node::new();
    n.step(0.1);
    e.apply(&scrape(0, t0, &n.body()));
    let state = e
        .snapshot()
        .alerts
        .iter()
        .find(|a| a.rule == "LoadHigh")
        .map(|a| (a.state, a.active_at));
    assert_eq!(state, Some((AlertState::Firing, t0 - 30 * S)));
}

/// An own rule whose condition flips at every poll is marked flapping once its percent state
/// change passes 30 %, and unmarked when it has been steady long enough to fall under 25 %.
#[test]
fn an_alert_that_keeps_flipping_is_marked_flapping() {
    let rules = rules_from(
        "[[rule]]\nname = \"MemFlip\"\nwatch = \"mem\"\nabove = 50\nseverity = \"minor\"\n\n[[rule]]\nname = \"HostMemoryHigh\"\ndisabled = true\n\n[[rule]]\nname = \"HostMemoryCritical\"\ndisabled = true\n",
    );
    let mut e = Engine::new(vec![spec("web1", "web1")], rules);
    let mut n = Node::new();
    let mut t = T0;
    let flapping = |e: &Engine| {
        e.snapshot()
            .alerts
            .iter()
            .find(|a| a.rule == "MemFlip")
            .map(|a| a.flapping)
    };
    let mut marked_at = None;
    for i in 0..12 {
        n.mem_avail = if i % 2 == 0 { 2.0e9 } else { 6.0e9 }; // 75 % / 25 % used
        e.apply(&scrape(0, t, &n.body()));
        t += 15 * S;
        if marked_at.is_none() && flapping(&e) == Some(true) {
            marked_at = Some(i);
        }
    }
    assert!(marked_at.is_some_and(|i| i >= 4), "{marked_at:?}");
    // Steady above the threshold: still firing, no longer flapping after a while.
    n.mem_avail = 2.0e9;
    let mut cleared = false;
    for _ in 0..20 {
        e.apply(&scrape(0, t, &n.body()));
        t += 15 * S;
        if flapping(&e) == Some(false) {
            cleared = true;
            break;
        }
    }
    assert!(cleared, "{:?}", flapping(&e));
}

/// An own rule over a raw series: one instance per matching series, its labels those of the
/// series, hysteresis as for vitals, and `below` when the rule says so.
#[test]
fn own_rules_over_raw_series() {
    let rules = rules_from(
        r#"
[[rule]]
name = "LoadHigh"
series = "node_load1"
above = 0.4
clear = 0.3
severity = "major"

[[rule]]
name = "RootFreeLow"
series = 'node_filesystem_avail_bytes{mountpoint="/"}'
below = 60e9
severity = "minor"
"#,
    );
    let mut e = Engine::new(vec![spec("web1", "web1")], rules);
    let mut n = Node::new();
    e.apply(&scrape(0, T0, &n.body()));
    let active: Vec<(String, String, AlertState)> = e
        .snapshot()
        .alerts
        .iter()
        .filter(|a| a.rule == "LoadHigh" || a.rule == "RootFreeLow")
        .map(|a| (a.rule.clone(), a.labels.clone(), a.state))
        .collect();
    assert_eq!(
        active,
        vec![
            (
                "LoadHigh".into(),
                "{target=\"web1\"}".into(),
                AlertState::Firing
            ),
            (
                "RootFreeLow".into(),
                "{target=\"web1\",device=\"/dev/vda1\",fstype=\"ext4\",mountpoint=\"/\"}".into(),
                AlertState::Firing
            ),
        ]
    );
    let summary = e
        .snapshot()
        .alerts
        .iter()
        .find(|a| a.rule == "LoadHigh")
        .map(|a| a.summary.clone());
    assert_eq!(summary.as_deref(), Some("node_load1 = 0.42 (> 0.4)"));
    // 50 GB free → 70 GB: over the 60 GB threshold, so it resolves.
    n.fs_free = 70e9;
    e.apply(&scrape(0, T0 + 15 * S, &n.body()));
    assert!(!e.snapshot().alerts.iter().any(|a| a.rule == "RootFreeLow"));
    // The series leaves the body: its instance resolves while the target answers.
    let body: String = n
        .body()
        .lines()
        .filter(|l| !l.contains("node_load1"))
        .map(|l| format!("{l}\n"))
        .collect();
    e.apply(&scrape(0, T0 + 30 * S, &body));
    assert!(!e.snapshot().alerts.iter().any(|a| a.rule == "LoadHigh"));
}

/// While a target cannot be polled, its pending alerts hold and say so (unknown), and the
/// mark goes when data comes back.
#[test]
fn alerts_without_data_are_held_and_marked() {
    let mut e = engine(&[("web1", "web1")]);
    let mut n = Node::new();
    n.mem_avail = 3.0e9; // 62.5 %: HostMemoryHigh pending
    e.apply(&scrape(0, T0, &n.body()));
    let mem = |e: &Engine| {
        e.snapshot()
            .alerts
            .iter()
            .find(|a| a.rule == "HostMemoryHigh")
            .map(|a| (a.state, a.held))
    };
    assert_eq!(mem(&e), Some((AlertState::Pending, false)));
    e.apply(&failed(0, T0 + 15 * S));
    assert_eq!(mem(&e), Some((AlertState::Pending, true)));
    e.apply(&scrape(0, T0 + 30 * S, &n.body()));
    assert_eq!(mem(&e), Some((AlertState::Pending, false)));
}

/// Past the 5-minute lookback an unseen target's series give nothing, and a Prometheus alert
/// over them would resolve; it holds instead, marked as held.
#[test]
fn a_prometheus_alert_of_an_unseen_target_holds_past_the_lookback() {
    let mut e = engine(&[("web1", "web1")]);
    let rules = "groups:\n- name: g\n  interval: 15s\n  rules:\n  - alert: Load\n    expr: node_load1 > 0.4\n";
    e.set_rule_files(&[("g.yml".to_string(), rules.to_string())], 15 * S)
        .unwrap_or_else(|e| panic!("{e}"));
    let t0 = T0 - T0 % (15 * S);
    let n = Node::new();
    e.apply(&scrape(0, t0, &n.body()));
    let load = |e: &Engine| {
        e.snapshot()
            .alerts
            .iter()
            .find(|a| a.rule == "Load")
            .map(|a| (a.state, a.held))
    };
    assert_eq!(load(&e), Some((AlertState::Firing, false)));
    for k in 1..=26 {
        e.apply(&failed(0, t0 + k * 15 * S));
    }
    assert_eq!(
        load(&e),
        Some((AlertState::Firing, true)),
        "6.5 minutes without data"
    );
    e.apply(&scrape(0, t0 + 27 * 15 * S, &n.body()));
    assert_eq!(load(&e), Some((AlertState::Firing, false)));
}

fn reload(e: &mut Engine, at: i64, text: &str) {
    e.apply(&Input::Rules(nocscope::model::RuleReload {
        at,
        files: vec![("node.yml".to_string(), text.to_string())],
        interval_ms: 15 * S,
        error: None,
    }));
}

/// A reload keeps what stayed: a pending alert keeps its `for` clock (fires when it would
/// have), a firing one does not fire again, a rule that went resolves with the reason; a new
/// rule over series no old rule read has them from the next poll on.
#[test]
fn reloaded_rules_carry_on_where_the_old_ones_were() {
    let mut e = prom_engine();
    let mut n = Node::new();
    let t0 = T0 - T0 % (15 * S);
    let mut t = t0;
    let mut events = Vec::new();
    // Two evaluations: LoadHigh pending since t0 (for 30 s), ExporterGone not active.
    for _ in 0..2 {
        n.step(0.5);
        e.apply(&scrape(0, t, &n.body()));
        events.extend(e.take_events());
        t += 15 * S;
    }
    assert_eq!(
        alert_states(&e).first().map(|a| a.3),
        Some(AlertState::Pending)
    );
    let changed = PROM_RULES.replace(
        "      - alert: NoLoadAnywhere\n        expr: absent(node_load1)\n",
        "      - alert: BusyNow\n        expr: sum by (host) (rate(node_cpu_seconds_total{mode=\"user\"}[1m])) > 0.1\n",
    );
    assert_ne!(changed, PROM_RULES);
    reload(&mut e, t - 5 * S, &changed);
    let status = e.snapshot().rule_reload.expect("a reload status");
    assert!(status.ok, "{status:?}");
    assert_eq!(status.message, "rules reloaded: 1 file, 4 rules");
    for _ in 0..2 {
        n.step(0.5);
        e.apply(&scrape(0, t, &n.body()));
        events.extend(e.take_events());
        t += 15 * S;
    }
    t -= 15 * S;
    let firing_at: Vec<(String, i64)> = events
        .iter()
        .filter_map(|ev| match ev {
            Event::Alert(tr) if tr.to == AlertState::Firing => Some((tr.rule.clone(), tr.at)),
            _ => None,
        })
        .collect();
    // LoadHigh fires 30 s after t0, as without the reload; BusyNow once two polls after
    // the reload give its rate two points.
    assert_eq!(
        firing_at,
        vec![
            ("LoadHigh".to_string(), t0 + 30 * S),
            ("BusyNow".to_string(), t0 + 45 * S)
        ]
    );
    // Reloading again without LoadHigh resolves it, saying why; BusyNow keeps firing and
    // is not announced again.
    let without = changed.replace(
        "      - alert: LoadHigh\n        expr: host:load1:max > 0.4\n        for: 30s\n",
        "      - alert: LoadHighRenamed\n        expr: host:load1:max > 0.4\n        for: 30s\n",
    );
    reload(&mut e, t + 5 * S, &without);
    let evs = e.take_events();
    let gone: Vec<String> = evs
        .iter()
        .filter_map(|ev| match ev {
            Event::Alert(tr) => Some(format!("{} {:?} {}", tr.rule, tr.to, tr.summary)),
            _ => None,
        })
        .collect();
    assert_eq!(
        gone,
        vec!["LoadHigh Inactive rule removed by a reload".to_string()]
    );
    t += 15 * S;
    n.step(0.5);
    e.apply(&scrape(0, t, &n.body()));
    let again: Vec<String> = e
        .take_events()
        .iter()
        .filter_map(|ev| match ev {
            Event::Alert(tr) => Some(format!("{} {:?}", tr.rule, tr.to)),
            _ => None,
        })
        .collect();
    // The renamed rule is new: pending from now, its `for` starts over.
    assert_eq!(again, vec!["LoadHighRenamed Pending".to_string()]);
    let states = alert_states(&e);
    assert!(
        states
            .iter()
            .any(|s| s.0 == "BusyNow" && s.3 == AlertState::Firing),
        "{states:?}"
    );
}

/// A reload that does not load (here a rule file with a syntax error, or files that could
/// not be read) changes nothing and says so, with the file and line.
#[test]
fn a_broken_reload_keeps_the_last_good_rules() {
    let mut e = prom_engine();
    let mut n = Node::new();
    let t0 = T0 - T0 % (15 * S);
    let mut t = t0;
    for _ in 0..4 {
        n.step(0.1);
        e.apply(&scrape(0, t, &n.body()));
        t += 15 * S;
    }
    e.take_events();
    let before = alert_states(&e);
    assert_eq!(before.len(), 1, "{before:?}");
    reload(
        &mut e,
        t,
        "groups:\n  - name: node\n    rules:\n      - alert: X\n        expr: sum(\n",
    );
    let status = e.snapshot().rule_reload.expect("a reload status");
    assert!(!status.ok);
    assert!(
        status
            .message
            .starts_with("rule reload failed, the last good rules keep running: node.yml: 5:15:"),
        "{}",
        status.message
    );
    e.apply(&Input::Rules(nocscope::model::RuleReload {
        at: t,
        files: Vec::new(),
        interval_ms: 15 * S,
        error: Some("examples/x.toml:3:1: unknown key".to_string()),
    }));
    assert!(
        e.snapshot()
            .rule_reload
            .is_some_and(|s| !s.ok && s.message.ends_with("unknown key"))
    );
    n.step(0.1);
    e.apply(&scrape(0, t, &n.body()));
    assert_eq!(alert_states(&e), before);
    assert!(e.take_events().is_empty());
    let rules: Vec<String> = e.snapshot().rules.iter().map(|r| r.name.clone()).collect();
    assert!(rules.contains(&"LoadHigh".to_string()), "{rules:?}");
}

/// Recording rules' results are series in the store (source `rules/<host>`), so the metric
/// browser lists and charts them like scraped ones.
#[test]
fn recording_results_go_to_the_store_under_their_host() {
    let mut e = prom_engine();
    let mut n = Node::new();
    let t0 = T0 - T0 % (15 * S);
    let mut rows = Vec::new();
    for i in 0..3 {
        n.step(0.1);
        e.apply(&scrape(0, t0 + i * 15 * S, &n.body()));
        for b in e.take_batches() {
            if b.source.starts_with("rules") {
                let keys: Vec<String> = b.new_series.iter().map(|(_, k)| k.to_string()).collect();
                rows.push((b.source.to_string(), b.at, keys, b.samples.clone()));
            }
        }
    }
    assert_eq!(rows.len(), 3, "{rows:?}");
    let (source, at, keys, samples) = &rows[0];
    assert_eq!(source, "rules/web1");
    assert_eq!(*at, t0);
    assert_eq!(keys, &vec!["host:load1:max{host=\"web1\"}".to_string()]);
    assert_eq!(samples, &vec![(0, t0, 0.42)]);
    // Later evaluations add samples to the same series without announcing it again.
    assert!(rows[2].2.is_empty());
    assert_eq!(rows[2].3, vec![(0, t0 + 30 * S, 0.42)]);
}

/// Stored history given at start fills the rules' windows: a `[10m]` count sees the points
/// from before the start; without them it sees only the new poll.
#[test]
fn stored_history_fills_rule_windows_before_the_first_poll() {
    let rules = "groups:\n  - name: g\n    interval: 15s\n    rules:\n      - alert: LongSeen\n        expr: count_over_time(node_load1[10m]) > 5\n";
    let run = |with_history: bool| {
        let mut e = engine(&[("web1", "web1")]);
        e.set_rule_files(&[("g.yml".to_string(), rules.to_string())], 15 * S)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(e.rule_history_ms().is_some_and(|w| w >= 10 * 60 * S));
        let t0 = T0 - T0 % (15 * S);
        if with_history {
            e.apply(&Input::History(nocscope::model::RuleHistory {
                target: TargetId(0),
                series: vec![
                    (
                        "node_load1".to_string(),
                        (1..=8).map(|i| (t0 - i * 15 * S, 0.5)).rev().collect(),
                    ),
                    // A series no rule reads is not kept.
                    (
                        "node_memory_MemTotal_bytes".to_string(),
                        vec![(t0 - 15 * S, 1.0)],
                    ),
                ],
            }));
        }
        e.apply(&scrape(0, t0, &Node::new().body()));
        alert_states(&e)
            .into_iter()
            .map(|a| a.0)
            .collect::<Vec<String>>()
    };
    assert_eq!(run(true), vec!["LongSeen".to_string()]);
    assert!(run(false).is_empty());
}
