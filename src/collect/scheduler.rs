//! Per-target polling schedules: a stable phase per target, never two polls of one target at
//! once, and a bounded queue to the engine that drops (and counts) rather than blocks.
//! Must not read engine state, the store or the UI; the only clock the engine sees is the
//! `at` stamped here.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::collect::exporter;
use crate::collect::http::{HttpChecker, SetupError};
use crate::collect::icmp::{self, IcmpClients};
use crate::collect::snmp::SnmpPoller;
use crate::collect::tcp;
use crate::config::{Config, Target, TargetKind};
use crate::model::{
    HttpError, HttpPhases, HttpProbe, Input, Millis, Observation, Payload, PollError, Scrape,
    ScrapeOutcome,
};

/// Shortest period a loop will run at. Config validation should never let a zero interval
/// through, but `tokio::time::interval` panics on zero, and the scheduler must not.
pub const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// Wall-clock source for observation timestamps (the engine itself never reads a clock).
pub fn wall_clock_ms() -> Millis {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(Millis::MAX),
        // A clock set before 1970 is a broken clock; negative stamps still order correctly.
        Err(e) => i64::try_from(e.duration().as_millis()).map_or(Millis::MIN, |ms| -ms),
    }
}

/// Slots per interval that phases are spread over.
const PHASE_SLOTS: u64 = 10;
/// Widest phase slot.
const MAX_PHASE_SLOT_MS: u64 = 1000;

/// Delay before a target's first poll: FNV-1a of its name picks one of the slots the interval
/// is cut into (a tenth of it, at most a second wide). FNV (not `DefaultHasher`) because the
/// phase must be the same on every run and every Rust version, so restarts keep targets where
/// they were; whole milliseconds because tokio's timer wheel has millisecond resolution and ticks
/// then land exactly on the grid. Slots rather than any millisecond: targets that share a slot
/// are polled in one wake-up of the console, and their results reach the engine and the store
/// together, where 50 targets at 15 s spread over 50 distinct instants woke everything 3.3
/// times a second. A slot never holds more than about a tenth of the targets.
pub fn phase_offset(name: &str, interval: Duration) -> Duration {
    let interval_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
    if interval_ms == 0 {
        return Duration::ZERO;
    }
    let slot_ms = (interval_ms / PHASE_SLOTS).clamp(1, MAX_PHASE_SLOT_MS);
    let slots = (interval_ms / slot_ms).max(1);
    Duration::from_millis(fnv1a64(name.as_bytes()) % slots * slot_ms)
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET_BASIS, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// What polls of one target keep between runs: the shared HTTP client and ICMP sockets, and
/// per-target state (an SNMP session, an HTTP check's own client).
pub struct Prober {
    target: Arc<Target>,
    kind: ProberKind,
}

enum ProberKind {
    Exporter(reqwest::Client),
    Snmp(tokio::sync::Mutex<SnmpPoller>),
    Icmp(IcmpClients),
    Tcp,
    Http(Result<HttpChecker, SetupError>),
}

impl Prober {
    /// `icmp` is only used by ICMP targets; it is created once and shared by all of them.
    pub fn new(
        target: &Target,
        client: &reqwest::Client,
        icmp: &mut Option<IcmpClients>,
    ) -> Prober {
        let kind = match &target.kind {
            TargetKind::Exporter(_) => ProberKind::Exporter(client.clone()),
            TargetKind::Snmp(s) => {
                ProberKind::Snmp(tokio::sync::Mutex::new(SnmpPoller::new(target, s)))
            }
            TargetKind::Icmp(_) => {
                ProberKind::Icmp(icmp.get_or_insert_with(IcmpClients::new).clone())
            }
            TargetKind::Tcp(_) => ProberKind::Tcp,
            TargetKind::Http(h) => ProberKind::Http(HttpChecker::new(target, h)),
        };
        Prober {
            target: Arc::new(target.clone()),
            kind,
        }
    }

    /// Poll once, stamped with the wall clock at poll start (Prometheus semantics).
    pub async fn poll(&self) -> Observation {
        let at = wall_clock_ms();
        let target = &*self.target;
        let payload = match (&self.kind, &target.kind) {
            (ProberKind::Exporter(client), TargetKind::Exporter(exp)) => {
                Payload::Scrape(exporter::scrape(client, target, exp).await)
            }
            (ProberKind::Snmp(poller), TargetKind::Snmp(_)) => {
                Payload::Snmp(poller.lock().await.poll().await)
            }
            (ProberKind::Icmp(clients), TargetKind::Icmp(cfg)) => {
                Payload::Icmp(icmp::probe(clients, target, cfg).await)
            }
            (ProberKind::Tcp, TargetKind::Tcp(cfg)) => Payload::Tcp(tcp::probe(target, cfg).await),
            (ProberKind::Http(Ok(checker)), TargetKind::Http(_)) => {
                Payload::Http(Box::new(checker.probe().await))
            }
            (ProberKind::Http(Err(e)), _) => Payload::Http(Box::new(HttpProbe {
                duration_ms: 0.0,
                status: None,
                redirects: 0,
                phases: HttpPhases::default(),
                body_bytes: 0,
                body_match: None,
                tls: None,
                error: Some(HttpError::Other(e.to_string())),
            })),
            // `new` builds the prober from the same target, so the kinds always agree.
            _ => Payload::Scrape(Scrape {
                duration_ms: 0.0,
                outcome: ScrapeOutcome::Failed(PollError::Other(
                    "internal: prober and target kinds differ".to_string(),
                )),
            }),
        };
        Observation {
            target: target.id,
            at,
            payload,
        }
    }
}

/// Poll one target once, stamped with the wall clock at poll start (Prometheus semantics).
pub async fn poll_target(client: &reqwest::Client, target: &Target) -> Observation {
    Prober::new(target, client, &mut None).poll().await
}

/// Poll every target once, concurrently, and return the observations in target order.
pub async fn poll_all_once(config: &Config, client: &reqwest::Client) -> Vec<Observation> {
    let mut icmp = None;
    let probers: Vec<Prober> = config
        .targets
        .iter()
        .map(|t| Prober::new(t, client, &mut icmp))
        .collect();
    // join_all keeps input order and drives every poll at once, so one hanging target costs
    // its own deadline and nothing more.
    futures_util::future::join_all(probers.iter().map(|p| p.poll())).await
}

/// Start one polling loop per target. Observations go straight to the engine's input queue
/// `tx` with `try_send`; when the queue is full the observation is dropped and `dropped`
/// incremented (the only drop counter), so a slow engine can never stall collection. The
/// loops end when `tx` is closed.
pub fn spawn(
    config: Arc<Config>,
    client: reqwest::Client,
    tx: mpsc::Sender<Input>,
    dropped: Arc<AtomicU64>,
) -> Vec<JoinHandle<()>> {
    let mut icmp = None;
    config
        .targets
        .iter()
        .map(|target| {
            let schedule = Schedule::for_target(target);
            let prober = Arc::new(Prober::new(target, &client, &mut icmp));
            let poll = move || {
                let prober = Arc::clone(&prober);
                async move { prober.poll().await }
            };
            spawn_loop(schedule, tx.clone(), Arc::clone(&dropped), poll)
        })
        .collect()
}

/// When one target is polled: first after `offset`, then on the grid `offset + k·interval`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub offset: Duration,
    pub interval: Duration,
}

impl Schedule {
    pub fn for_target(target: &Target) -> Schedule {
        let interval = target.interval.max(MIN_INTERVAL);
        Schedule {
            offset: phase_offset(&target.name, interval),
            interval,
        }
    }
}

/// The loop behind `spawn`, generic over the poll so its timing can be tested on tokio's paused
/// clock.
pub fn spawn_loop<F, Fut>(
    schedule: Schedule,
    tx: mpsc::Sender<Input>,
    dropped: Arc<AtomicU64>,
    mut poll: F,
) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Observation> + Send + 'static,
{
    tokio::spawn(async move {
        let period = schedule.interval.max(MIN_INTERVAL);
        let mut slot = later(Instant::now(), schedule.offset);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(slot) => {}
                _ = tx.closed() => return,
            }
            // The poll runs inside the loop, so two polls of one target can never overlap.
            let observation = tokio::select! {
                o = poll() => o,
                _ = tx.closed() => return,
            };
            match tx.try_send(Input::Observation(observation)) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    dropped.fetch_add(1, Ordering::Relaxed);
                }
                Err(TrySendError::Closed(_)) => return,
            }
            slot = next_slot(slot, period, Instant::now());
        }
    })
}

/// The first slot on the grid `prev + k·period` (k ≥ 1) that is not in the past.
///
/// This is `MissedTickBehavior::Skip` done strictly: tokio's `Interval` (like Go's ticker in
/// Prometheus) still fires one missed tick at once after an overrun, so a target slower than its
/// interval would be polled back-to-back, doubling the load on a host that is already
/// struggling. Here missed slots are dropped and the phase never drifts.
pub fn next_slot(prev: Instant, period: Duration, now: Instant) -> Instant {
    let period = period.max(MIN_INTERVAL);
    let next = later(prev, period);
    if next >= now {
        return next;
    }
    let behind = now.duration_since(next).as_nanos();
    let step = period.as_nanos();
    let missed = behind.div_ceil(step);
    // Only a monotonic clock gap of centuries could overflow; then wait one period from now.
    match u32::try_from(missed)
        .ok()
        .and_then(|k| period.checked_mul(k))
        .and_then(|d| next.checked_add(d))
    {
        Some(slot) => slot,
        None => later(now, period),
    }
}

/// `at + d`, saturating at a point decades away: an absurd interval (from a config that slipped
/// past validation) then means "not again in this process's life" instead of a panic.
fn later(at: Instant, d: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);
    at.checked_add(d)
        .or_else(|| at.checked_add(FAR))
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PollError, Scrape, ScrapeOutcome, TargetId};
    use proptest::prelude::*;
    use std::sync::Mutex;

    fn fake_observation(at: Millis) -> Observation {
        Observation {
            target: TargetId(0),
            at,
            payload: Payload::Scrape(Scrape {
                duration_ms: 0.0,
                outcome: ScrapeOutcome::Failed(PollError::Other("fake".into())),
            }),
        }
    }

    /// A poll that takes `busy` of (virtual) time and records when it started and whether it
    /// overlapped another poll.
    fn recording_poll(
        busy: Duration,
        starts: Arc<Mutex<Vec<Instant>>>,
        in_flight: Arc<AtomicU64>,
        overlaps: Arc<AtomicU64>,
    ) -> impl FnMut() -> std::pin::Pin<Box<dyn Future<Output = Observation> + Send>> + Send + 'static
    {
        move || {
            let starts = Arc::clone(&starts);
            let in_flight = Arc::clone(&in_flight);
            let overlaps = Arc::clone(&overlaps);
            Box::pin(async move {
                if in_flight.fetch_add(1, Ordering::SeqCst) > 0 {
                    overlaps.fetch_add(1, Ordering::SeqCst);
                }
                if let Ok(mut s) = starts.lock() {
                    s.push(Instant::now());
                }
                tokio::time::sleep(busy).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                fake_observation(0)
            })
        }
    }

    struct Run {
        starts: Vec<Duration>,
        overlaps: u64,
        received: usize,
        dropped: u64,
    }

    /// Run one loop on the paused clock for `window`, receiving everything, and report poll
    /// start times relative to the loop's start.
    async fn run(
        schedule: Schedule,
        busy: Duration,
        window: Duration,
        capacity: usize,
        drain: bool,
    ) -> Run {
        let (tx, mut rx) = mpsc::channel(capacity);
        let dropped = Arc::new(AtomicU64::new(0));
        let starts = Arc::new(Mutex::new(Vec::new()));
        let overlaps = Arc::new(AtomicU64::new(0));
        let t0 = Instant::now();
        let handle = spawn_loop(
            schedule,
            tx,
            Arc::clone(&dropped),
            recording_poll(
                busy,
                Arc::clone(&starts),
                Arc::new(AtomicU64::new(0)),
                Arc::clone(&overlaps),
            ),
        );
        let mut received = 0;
        let end = t0 + window;
        if drain {
            while let Ok(Some(_)) = tokio::time::timeout_at(end, rx.recv()).await {
                received += 1;
            }
        } else {
            tokio::time::sleep_until(end).await;
            while rx.try_recv().is_ok() {
                received += 1;
            }
        }
        drop(rx);
        // The loop must notice the closed queue and end by itself.
        assert!(handle.await.is_ok());
        let starts = starts
            .lock()
            .map(|s| s.iter().map(|i| i.duration_since(t0)).collect())
            .unwrap_or_default();
        Run {
            starts,
            overlaps: overlaps.load(Ordering::SeqCst),
            received,
            dropped: dropped.load(Ordering::SeqCst),
        }
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[tokio::test(start_paused = true)]
    async fn fast_poll_runs_on_the_grid_after_the_phase_offset() {
        let s = Schedule {
            offset: ms(37),
            interval: ms(100),
        };
        let r = run(s, ms(10), ms(1000), 64, true).await;
        let want: Vec<Duration> = (0..10).map(|k| ms(37 + 100 * k)).collect();
        assert_eq!(r.starts, want);
        assert_eq!(r.received, 10);
        assert_eq!(r.dropped, 0);
        assert_eq!(r.overlaps, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_poll_skips_missed_ticks_instead_of_stacking() {
        // Each poll takes 2.5 intervals: the next poll waits for the next grid slot (every 3rd
        // tick). Stacking or catching up would start polls back-to-back at 250, 500, …
        let s = Schedule {
            offset: ms(0),
            interval: ms(100),
        };
        let r = run(s, ms(250), ms(1000), 64, true).await;
        assert_eq!(r.starts, vec![ms(0), ms(300), ms(600), ms(900)]);
        assert_eq!(r.overlaps, 0);
        // The poll that started at 900 is still running at the end of the window.
        assert_eq!(r.received, 3);
        assert_eq!(r.dropped, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn full_queue_drops_and_counts_instead_of_blocking() {
        let s = Schedule {
            offset: ms(0),
            interval: ms(50),
        };
        // Nobody reads during the window: one fits in the queue, the rest must be dropped,
        // and the loop must keep its cadence (20 polls in 1 s) rather than wait for room.
        let r = run(s, ms(1), ms(975), 1, false).await;
        assert_eq!(r.starts.len(), 20);
        assert_eq!(r.received, 1);
        assert_eq!(r.dropped, 19);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_interval_does_not_panic() {
        let s = Schedule {
            offset: ms(0),
            interval: Duration::ZERO,
        };
        let r = run(s, ms(0), ms(5), 1024, true).await;
        assert!(!r.starts.is_empty());
    }

    #[test]
    fn phase_offsets_are_known_values() {
        // Pinned so that a change of hash (which would move every target's phase after an
        // upgrade) is a visible decision, not an accident.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(phase_offset("anything", Duration::ZERO), Duration::ZERO);
        assert_eq!(phase_offset("anything", ms(1)), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn absurd_interval_does_not_panic() {
        let s = Schedule {
            offset: Duration::MAX,
            interval: Duration::MAX,
        };
        let r = run(s, ms(0), ms(100), 4, true).await;
        assert!(r.starts.is_empty());
        let now = Instant::now();
        assert!(next_slot(now, Duration::MAX, now) > now);
        assert!(phase_offset("x", Duration::MAX) < Duration::MAX);
    }

    #[test]
    fn wall_clock_is_after_2020() {
        assert!(wall_clock_ms() > 1_577_836_800_000);
    }

    proptest! {
        #[test]
        fn next_slot_is_the_first_grid_point_not_in_the_past(
            period_ms in 1u64..10_000,
            late_ms in 0u64..100_000,
        ) {
            let prev = Instant::now();
            let period = ms(period_ms);
            let now = prev + ms(late_ms);
            let next = next_slot(prev, period, now);
            prop_assert!(next > prev);
            prop_assert!(next >= now);
            let gap = next.duration_since(prev).as_nanos();
            prop_assert_eq!(gap % period.as_nanos(), 0);
            // The first such point: one period earlier is either `prev` or already past.
            prop_assert!(gap == period.as_nanos() || next - period < now);
        }

        #[test]
        fn phase_offset_is_stable_and_inside_the_interval(name in ".{0,40}", interval_ms in 1u64..3_600_000) {
            let interval = ms(interval_ms);
            let a = phase_offset(&name, interval);
            prop_assert_eq!(a, phase_offset(&name, interval));
            prop_assert!(a < interval);
            prop_assert_eq!(a.subsec_nanos() % 1_000_000, 0);
        }
    }

    #[test]
    fn phase_offsets_land_on_slots() {
        // (interval, slot width): a tenth of the interval, at most a second, at least 1 ms.
        for (interval_ms, slot_ms) in [
            (15_000u64, 1_000u64),
            (60_000, 1_000),
            (5_000, 500),
            (1_000, 100),
            (100, 10),
            (7, 1),
        ] {
            let mut seen = std::collections::BTreeSet::new();
            for i in 0..200 {
                let off = phase_offset(&format!("node-{i:03}:9100"), ms(interval_ms));
                let off_ms = u64::try_from(off.as_millis()).unwrap_or(u64::MAX);
                assert_eq!(off_ms % slot_ms, 0, "{interval_ms} ms: {off_ms}");
                assert!(off_ms < interval_ms);
                seen.insert(off_ms);
            }
            // 200 names fill every slot of a 10-slot interval, and no more slots than exist.
            let slots = interval_ms / slot_ms;
            assert!(seen.len() as u64 <= slots, "{interval_ms}: {seen:?}");
            assert!(
                seen.len() as u64 >= slots.min(10),
                "{interval_ms}: {seen:?}"
            );
        }
    }

    #[test]
    fn phase_offsets_spread_across_the_interval() {
        // 100 targets over 10 buckets of a 10 s interval: a constant or badly mixed hash
        // would pile them into a few buckets.
        let interval = Duration::from_secs(10);
        let mut buckets = [0u32; 10];
        for i in 0..100 {
            let off = phase_offset(&format!("node-{i:03}:9100"), interval);
            let b = usize::try_from(off.as_secs()).unwrap_or(0).min(9);
            if let Some(slot) = buckets.get_mut(b) {
                *slot += 1;
            }
        }
        assert!(buckets.iter().all(|&n| n >= 2), "{buckets:?}");
    }
}
