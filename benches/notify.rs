//! Notification cost (issue #14): a fleet-wide outage — 10,000 alerts over 500 hosts
//! changing to firing at once — through the notifier's engine-side path: the snapshot's
//! alerts into Alertmanager alerts (`Feed`), routing (a severity child route with
//! `continue`), grouping by alertname and cluster, inhibition (each down host mutes its other
//! alerts) and the first flush after `group_wait`; and the webhook bodies of that flush. The
//! memory each held alert costs is printed first (live heap bytes, counted by this file's
//! allocator). `scripts/bench-notify-alertmanager` posts the same alerts to a real
//! Alertmanager for comparison.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

use nocscope::model::{AlertState, AlertView, Severity, Snapshot};
use nocscope::notify::dispatch::Dispatcher;
use nocscope::notify::feed::Feed;
use nocscope::notify::load_config;
use nocscope::notify::webhook::payload;

/// The system allocator, counting live bytes (for the memory per alert).
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: `p` came from `alloc` with this layout.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        // SAFETY: as `GlobalAlloc::realloc` requires, forwarded unchanged.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const HOSTS: usize = 500;
const PER_HOST: usize = 20;
const NOW: i64 = 1_800_000_000_000;

const CONFIG: &str = "route:
  receiver: team
  group_by: [alertname, cluster]
  group_wait: 30s
  group_interval: 5m
  routes:
    - matchers: [severity=critical]
      receiver: pager
      continue: true
receivers:
  - name: team
    webhook_configs: [{url: 'http://127.0.0.1:9/team'}]
  - name: pager
    webhook_configs: [{url: 'http://127.0.0.1:9/pager'}]
inhibit_rules:
  - source_matchers: [alertname=HostDown]
    target_matchers: [alertname!=HostDown]
    equal: [host]
";

/// 500 hosts in 10 clusters with 20 firing alerts each; every tenth host is down.
fn outage() -> Snapshot {
    let mut alerts = Vec::with_capacity(HOSTS * PER_HOST);
    for h in 0..HOSTS {
        for a in 0..PER_HOST {
            let (rule, severity) = match a {
                0 if h % 10 == 0 => ("HostDown".to_string(), Severity::Critical),
                0 => ("HostCpuHigh".to_string(), Severity::Major),
                a => (format!("Check{a:02}"), Severity::Minor),
            };
            alerts.push(AlertView {
                flapping: false,
                held: false,
                rule,
                host: format!("node{h:03}"),
                labels: format!(
                    "{{cluster=\"c{}\",instance=\"10.0.{}.{}:9100\",job=\"node\"}}",
                    h % 10,
                    h / 250,
                    h % 250
                ),
                state: AlertState::Firing,
                severity,
                active_at: NOW - 120_000,
                fired_at: Some(NOW),
                value: 97.5,
                summary: format!("node{h:03}: check {a} over its threshold for 2m (97.5 %)"),
                annotations: vec![(
                    "summary".to_string(),
                    format!("node{h:03}: check {a} over its threshold for 2m (97.5 %)"),
                )],
            });
        }
    }
    Snapshot {
        now: NOW,
        alerts,
        ..Snapshot::default()
    }
}

fn dispatcher() -> Dispatcher {
    let c = Arc::new(load_config(CONFIG).expect("bench config loads"));
    let mut d = Dispatcher::new(c, NOW - 1_000).expect("dispatcher");
    d.assume_delivered(true);
    d
}

fn main() {
    let snap = outage();
    let before = LIVE.load(Ordering::Relaxed);
    let mut d = dispatcher();
    let mut feed = Feed::default();
    feed.update(&snap, &mut d);
    let held = LIVE.load(Ordering::Relaxed) - before;
    let n = d.advance(NOW + 30_000);
    println!(
        "held: {} alerts, {} groups, {held} live heap bytes = {:.0} bytes per alert (dispatcher and feed); first flush: {} notifications",
        d.stats().alerts,
        d.stats().groups,
        held as f64 / snap.alerts.len() as f64,
        n.len()
    );
    drop((d, feed, n));
    divan::main();
}

/// The whole engine-side path for the outage: feed, route, group, inhibit, first flush.
#[divan::bench(sample_count = 20)]
fn outage_feed_route_flush(b: divan::Bencher) {
    let snap = outage();
    b.with_inputs(|| (dispatcher(), Feed::default()))
        .bench_local_values(|(mut d, mut feed)| {
            feed.update(&snap, &mut d);
            let n = d.advance(NOW + 30_000);
            (d, feed, n)
        });
}

/// The next snapshot of the same outage, nothing changed: what each second costs after.
#[divan::bench(sample_count = 20)]
fn unchanged_snapshot(b: divan::Bencher) {
    let mut snap = outage();
    let mut d = dispatcher();
    let mut feed = Feed::default();
    feed.update(&snap, &mut d);
    d.advance(NOW + 30_000);
    snap.now = NOW + 31_000;
    b.bench_local(|| {
        feed.update(&snap, &mut d);
        d.advance(snap.now).len()
    });
}

/// Rendering the webhook bodies of the outage's first flush.
#[divan::bench(sample_count = 20)]
fn webhook_bodies(b: divan::Bencher) {
    let snap = outage();
    let mut d = dispatcher();
    let mut feed = Feed::default();
    feed.update(&snap, &mut d);
    let n = d.advance(NOW + 30_000);
    b.bench_local(|| n.iter().map(|n| payload(n, "", 0).len()).sum::<usize>());
}
