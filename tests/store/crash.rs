//! Kill -9 a process in the middle of writing, reopen, and check that every cycle it reported
//! as committed is there, bit for bit, and that SQLite's quick_check passes.
//!
//! The child is this test binary again (`current_exe()`), selected by an environment variable,
//! so the writer really dies with SIGKILL instead of unwinding.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use nocscope::model::{CycleBatch, Millis, PollRecord};
use nocscope::store::{Reader, Store, StoreOptions};

const CHILD_ENV: &str = "NOCSCOPE_STORE_CRASH_CHILD";
const START_ENV: &str = "NOCSCOPE_STORE_CRASH_START";
const T0: Millis = 1_795_257_051_095;
const SERIES: u32 = 1500;

fn opts() -> StoreOptions {
    StoreOptions {
        retention_ms: 365 * 24 * 3600 * 1000,
        max_size_bytes: 0,
        // Small windows so that compaction transactions are also in flight when the kill lands.
        chunk_window_ms: 2 * 60_000,
        queue_capacity: 64,
    }
}

fn at(cycle: i64) -> Millis {
    T0 + cycle * 15_000
}

fn value(series: u32, cycle: i64) -> f64 {
    if series == 0 {
        return f64::NAN;
    }
    (cycle as f64) * 1.5 + f64::from(series) / 7.0
}

fn key(series: u32) -> String {
    format!("node_thing{{n=\"{series}\"}}")
}

fn batch(cycle: i64, first: bool) -> CycleBatch {
    CycleBatch {
        source: Arc::from("victim"),
        at: at(cycle),
        poll: Some(PollRecord {
            up: true,
            duration_ms: 2.0,
            samples_scraped: SERIES,
            bytes: 4096,
            error: None,
        }),
        new_series: if first {
            (0..SERIES).map(|s| (s, key(s).into_boxed_str())).collect()
        } else {
            Vec::new()
        },
        samples: (0..SERIES)
            .map(|s| (s, at(cycle), value(s, cycle)))
            .collect(),
        alerts: Vec::new(),
    }
}

/// Child role: write cycles forever, printing each one after its flush returned.
fn child(path: &Path, start: i64) {
    let Ok(store) = Store::open(path, opts()) else {
        println!("open failed");
        return;
    };
    let tx = store.sender();
    for cycle in start.. {
        let mut b = batch(cycle, cycle == start);
        // Several batches between flushes, so uncommitted work is queued when the kill lands.
        loop {
            match tx.try_send(b) {
                Ok(()) => break,
                Err(back) => {
                    b = back;
                    std::thread::yield_now();
                }
            }
        }
        if cycle % 4 == 3 {
            if store.flush().is_err() {
                println!("flush failed");
                return;
            }
            println!("committed {cycle}");
        }
    }
}

#[test]
fn crash_child() {
    // Only does something when re-executed by `kill_9_mid_ingest_loses_nothing_committed`.
    if let Ok(path) = std::env::var(CHILD_ENV) {
        let start = std::env::var(START_ENV)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        child(Path::new(&path), start);
    }
}

#[test]
fn kill_9_mid_ingest_loses_nothing_committed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("crash.db");
    let exe = std::env::current_exe().expect("current_exe");
    // Cycles each child reported committed, over all rounds.
    let mut ranges: Vec<(i64, i64)> = Vec::new();
    for round in 0..3 {
        let mut proc = Command::new(&exe)
            .args([
                "--exact",
                "crash::crash_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .env(START_ENV, (round * 1000).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = proc.stdout.take().expect("child stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut committed: Option<i64> = None;
        // Kill at a different depth each round; later rounds append to the same file, so
        // recovery is also tested on a file that has already survived a kill.
        let start = round * 1000;
        let kill_after = start + 20 + round * 17;
        while let Some(Ok(line)) = lines.next() {
            if let Some(c) = line.strip_prefix("committed ") {
                committed = c.trim().parse().ok();
                if committed.is_some_and(|c| c >= kill_after) {
                    break;
                }
            }
            assert!(!line.contains("failed"), "child: {line}");
        }
        // Let the child run on a little, so the kill lands while batches are queued, being
        // committed or compacted rather than right after a flush.
        std::thread::sleep(std::time::Duration::from_millis(3 + 11 * round as u64));
        // Child::kill sends SIGKILL on Unix: no destructor, no flush, no checkpoint.
        proc.kill().expect("kill");
        // Lines the child printed before dying still count as committed.
        for line in lines.map_while(Result::ok) {
            if let Some(c) = line.strip_prefix("committed ") {
                committed = c.trim().parse().ok().max(committed);
            }
        }
        let _ = proc.wait();
        let committed = committed.expect("child reported no commit");
        ranges.push((start, committed));

        let r = Reader::open(&path).expect("reopen after kill");
        assert_eq!(r.quick_check().expect("quick_check"), "ok");
        for s in [0, 1, SERIES / 2, SERIES - 1] {
            let got = r
                .query("victim", &key(s), Millis::MIN, Millis::MAX)
                .expect("query");
            // Every committed cycle is present with its exact value; cycles after it may or
            // may not be, but never half of one (checked by the count per timestamp below).
            for c in ranges.iter().flat_map(|&(a, b)| a..=b) {
                let want = value(s, c).to_bits();
                let hits: Vec<u64> = got
                    .iter()
                    .filter(|p| p.0 == at(c))
                    .map(|p| p.1.to_bits())
                    .collect();
                assert!(
                    hits.contains(&want),
                    "round {round}: committed cycle {c} of series {s} lost"
                );
            }
        }
        // Each cycle was written whole or not at all: every timestamp has every series.
        let per_series: Vec<usize> = (0..SERIES)
            .map(|s| {
                r.query("victim", &key(s), Millis::MIN, Millis::MAX)
                    .map_or(0, |v| v.len())
            })
            .collect();
        let first = per_series.first().copied().unwrap_or(0);
        assert!(
            per_series.iter().all(|&n| n == first),
            "torn cycle: {per_series:?}"
        );
        drop(r);
        // The writer can open it too (the next round's child does), and it migrates nothing.
        let store = Store::open(&path, opts()).expect("writer reopen");
        store.close().expect("close");
    }
}
