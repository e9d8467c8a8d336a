//! The polling loops against real loopback servers: no overlapping polls of one target, a slow
//! target does not hold up others, a full queue drops and counts, loops end with the receiver.
//! Exact tick timing is tested on tokio's paused clock in `collect::scheduler`'s unit tests;
//! here only counts and orderings are asserted, never elapsed time.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nocscope::collect::{exporter, scheduler};
use nocscope::model::{Input, Observation, Payload, ScrapeOutcome, TargetId};
use support::{Behaviour, serve};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

fn client() -> reqwest::Client {
    match exporter::http_client() {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

/// Receive until `done` says so; bounded so a broken scheduler fails instead of hanging.
async fn recv_until(
    rx: &mut mpsc::Receiver<Input>,
    mut done: impl FnMut(&[Observation]) -> bool,
) -> Vec<Observation> {
    let mut seen = Vec::new();
    for _ in 0..400 {
        if done(&seen) {
            return seen;
        }
        match tokio::time::timeout(Duration::from_millis(50), rx.recv()).await {
            Ok(Some(Input::Observation(o))) => seen.push(o),
            Ok(Some(Input::Tick { .. } | Input::Rules(_) | Input::History(_))) => {
                panic!("the scheduler sends observations, never ticks or rules")
            }
            Ok(None) => break,
            Err(_) => {}
        }
    }
    panic!("condition not reached; got {} observations", seen.len());
}

/// Every loop must end once the receiver is gone (hang guard, not a timing assertion).
async fn assert_all_end(handles: Vec<JoinHandle<()>>) {
    for h in handles {
        match tokio::time::timeout(Duration::from_secs(10), h).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("polling task failed: {e}"),
            Err(_) => panic!("polling task still running after its receiver closed"),
        }
    }
}

fn ok_body(o: &Observation) -> bool {
    matches!(
        &o.payload,
        Payload::Scrape(s) if matches!(s.outcome, ScrapeOutcome::Body { .. })
    )
}

#[test]
fn phase_offsets_are_stable_and_inside_the_interval() {
    let intervals = [50, 200, 1000, 15_000, 60_000, 3_600_000];
    let names = ["node-a:9100", "node-b:9100", "router-1", "", "ünïcode-host"];
    for ms in intervals {
        let interval = Duration::from_millis(ms);
        let mut offsets = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let mut t = support::exporter_target(i as u32, name, "http://127.0.0.1:9/metrics");
            t.interval = interval;
            let a = scheduler::Schedule::for_target(&t);
            let b = scheduler::Schedule::for_target(&t.clone());
            assert_eq!(a, b, "{name} @ {ms} ms");
            assert!(
                a.offset < interval,
                "{name} @ {ms} ms: offset {:?}",
                a.offset
            );
            assert_eq!(a.interval, interval);
            offsets.push(a.offset);
        }
        offsets.sort();
        offsets.dedup();
        // Spread: five names should not share a phase once the interval has room for them.
        if ms >= 1000 {
            assert_eq!(offsets.len(), names.len(), "{ms} ms: {offsets:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_target_is_never_polled_twice_at_once_and_does_not_hold_up_others() {
    // The slow target takes 2.5 intervals per poll; the hanging one never answers.
    let slow = serve(Behaviour::Slow {
        delay: Duration::from_millis(250),
        len: 100,
    });
    let hang = serve(Behaviour::Hang);
    let fast = serve(Behaviour::Body { len: 50 });
    let mut t0 = support::exporter_target(0, "slow", &slow.url());
    t0.interval = Duration::from_millis(100);
    t0.timeout = Duration::from_secs(2);
    let mut t1 = support::exporter_target(1, "hang", &hang.url());
    t1.interval = Duration::from_millis(100);
    t1.timeout = Duration::from_secs(30);
    let mut t2 = support::exporter_target(2, "fast", &fast.url());
    t2.interval = Duration::from_millis(50);
    let config = Arc::new(support::config_with(vec![t0, t1, t2]));

    let (tx, mut rx) = mpsc::channel(1024);
    let dropped = Arc::new(AtomicU64::new(0));
    let handles = scheduler::spawn(config, client(), tx, Arc::clone(&dropped));
    assert_eq!(handles.len(), 3);

    let count =
        |seen: &[Observation], id: u32| seen.iter().filter(|o| o.target == TargetId(id)).count();
    let seen = recv_until(&mut rx, |seen| count(seen, 0) >= 4 && count(seen, 2) >= 4).await;
    drop(rx);
    assert_all_end(handles).await;

    assert_eq!(slow.max_in_flight(), 1, "polls of one target overlapped");
    assert_eq!(fast.max_in_flight(), 1, "polls of one target overlapped");
    // The hanging target holds one poll open for its 30 s deadline and starts no other.
    assert_eq!(hang.hits(), 1);
    assert_eq!(count(&seen, 1), 0);
    assert!(seen.iter().filter(|o| o.target != TargetId(1)).all(ok_body));
    assert_eq!(dropped.load(Ordering::SeqCst), 0);
    // Each target's observations are stamped in poll order.
    for id in [0, 2] {
        let stamps: Vec<i64> = seen
            .iter()
            .filter(|o| o.target == TargetId(id))
            .map(|o| o.at)
            .collect();
        assert!(
            stamps.windows(2).all(|w| w[0] <= w[1]),
            "target {id}: {stamps:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_drops_and_counts_instead_of_blocking() {
    let server = serve(Behaviour::Body { len: 20 });
    let mut t0 = support::exporter_target(0, "flood", &server.url());
    t0.interval = Duration::from_millis(50);
    let config = Arc::new(support::config_with(vec![t0]));
    let (tx, mut rx) = mpsc::channel(1);
    let dropped = Arc::new(AtomicU64::new(0));
    let handles = scheduler::spawn(config, client(), tx, Arc::clone(&dropped));

    // Nobody reads; a blocking send would stop polling after the first observation.
    for _ in 0..400 {
        if dropped.load(Ordering::SeqCst) >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let queued = {
        let mut n = 0u64;
        while rx.try_recv().is_ok() {
            n += 1;
        }
        n
    };
    drop(rx);
    assert_all_end(handles).await;
    let dropped = dropped.load(Ordering::SeqCst);
    assert!(dropped >= 5, "dropped {dropped}");
    assert_eq!(queued, 1);
    // Every finished poll was either queued or counted; at most one was still in flight when
    // the queue closed (or finished between our reads).
    let hits = server.hits() as u64;
    assert!(
        hits >= queued + dropped && hits <= queued + dropped + 2,
        "hits {hits}, queued {queued}, dropped {dropped}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loops_end_when_the_receiver_closes_even_mid_poll() {
    let hang = serve(Behaviour::Hang);
    let mut t0 = support::exporter_target(0, "hang", &hang.url());
    t0.interval = Duration::from_millis(50);
    t0.timeout = Duration::from_secs(60);
    let config = Arc::new(support::config_with(vec![t0]));
    let (tx, rx) = mpsc::channel(4);
    let handles = scheduler::spawn(config, client(), tx, Arc::new(AtomicU64::new(0)));
    for _ in 0..400 {
        if hang.hits() >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(hang.hits(), 1);
    drop(rx);
    assert_all_end(handles).await;
}
