//! Store round trips through a real SQLite file: head and chunks, restarts with new session
//! indexes, retention, the size cap, refusing foreign files, and codec properties.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use nocscope::model::{AlertState, AlertTransition, CycleBatch, Millis, PollRecord, Severity};
use nocscope::store::codec;
use nocscope::store::{Reader, Store, StoreError, StoreOptions};
use proptest::prelude::*;

const MIN: Millis = 60_000;
const T0: Millis = 1_795_257_051_095;

/// Expected contents: (source, key) → samples in write order.
type Expected = BTreeMap<(String, String), Vec<(Millis, f64)>>;

fn opts(window: Millis) -> StoreOptions {
    StoreOptions {
        retention_ms: 365 * 24 * 3600 * 1000,
        max_size_bytes: 0,
        chunk_window_ms: window,
        queue_capacity: 64,
    }
}

/// A value that exercises the codec: smooth, constant, special floats and noise.
fn value(series: u32, cycle: i64) -> f64 {
    match series % 6 {
        0 => 1.0,
        1 => cycle as f64 * 1024.0,
        2 => match cycle % 4 {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => f64::NEG_INFINITY,
            _ => -0.0,
        },
        3 => f64::from_bits(0x7ff8_dead_beef_0001), // NaN with a payload
        4 => (cycle as f64 * 0.37 + series as f64).sin() * 100.0,
        _ => ((cycle * 7919 + series as i64 * 31) % 1000) as f64 / 100.0,
    }
}

/// Writes `cycles` polls of `source` at 15 s starting at `start`, numbering series with
/// `index_of` (so a restart can renumber them). Series 7 is missing from every third poll,
/// series 8 carries its own timestamps (a second behind the poll).
struct Feed<'a> {
    source: &'a str,
    n_series: u32,
    index_of: fn(u32) -> u32,
}

impl Feed<'_> {
    fn key(&self, s: u32) -> String {
        format!("m_{}{{instance=\"{}\",s=\"{s}\"}}", s % 3, self.source)
    }

    fn write(
        &self,
        store: &Store,
        start: Millis,
        cycles: std::ops::Range<i64>,
        exp: &mut Expected,
    ) {
        let tx = store.sender();
        let mut announced = false;
        for c in cycles {
            let at = start + c * 15_000 + (c * 37 % 11); // jitter, as real scrapes have
            let mut b = CycleBatch {
                source: Arc::from(self.source),
                at,
                poll: Some(PollRecord {
                    up: c % 5 != 0,
                    duration_ms: 1.5 + c as f64,
                    samples_scraped: self.n_series,
                    bytes: 1000 + c as u64,
                    error: (c % 5 == 0).then(|| format!("timeout {c}")),
                }),
                ..CycleBatch::default()
            };
            if !announced {
                b.new_series = (0..self.n_series)
                    .map(|s| ((self.index_of)(s), self.key(s).into_boxed_str()))
                    .collect();
                announced = true;
            }
            for s in 0..self.n_series {
                if s == 7 && c % 3 == 0 {
                    continue;
                }
                let ts = if s == 8 { at - 1000 } else { at };
                let v = value(s, c);
                b.samples.push(((self.index_of)(s), ts, v));
                exp.entry((self.source.to_string(), self.key(s)))
                    .or_default()
                    .push((ts, v));
            }
            // The writer drains far faster than this loop fills; a full queue here would be a
            // bug worth seeing, so retry rather than drop.
            let mut pending = b;
            loop {
                match tx.try_send(pending) {
                    Ok(()) => break,
                    Err(back) => {
                        pending = back;
                        std::thread::yield_now();
                    }
                }
            }
        }
    }
}

fn bits(v: &[(Millis, f64)]) -> Vec<(Millis, u64)> {
    v.iter().map(|(t, x)| (*t, x.to_bits())).collect()
}

fn check_all(r: &Reader, exp: &Expected, from: Millis, to: Millis) {
    for ((source, key), samples) in exp {
        let want: Vec<_> = samples
            .iter()
            .copied()
            .filter(|p| p.0 >= from && p.0 <= to)
            .collect();
        let got = r.query(source, key, from, to).expect("query");
        assert_eq!(bits(&got), bits(&want), "{source} {key} [{from}, {to}]");
    }
}

fn identity(i: u32) -> u32 {
    i
}
fn shuffled(i: u32) -> u32 {
    1000 - i * 3
}

#[test]
fn round_trip_across_head_and_chunks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h.db");
    let store = Store::open(&path, opts(5 * MIN)).expect("open");
    let mut exp = Expected::new();
    let a = Feed {
        source: "web1",
        n_series: 12,
        index_of: identity,
    };
    let b = Feed {
        source: "host/db1",
        n_series: 9,
        index_of: shuffled,
    };
    // 40 cycles = 10 minutes: several windows get sealed, the last stays in the head.
    for chunk in 0..4 {
        a.write(&store, T0, chunk * 10..(chunk + 1) * 10, &mut exp);
        b.write(&store, T0 + 5, chunk * 10..(chunk + 1) * 10, &mut exp);
        store.flush().expect("flush");
        let r = store.reader().expect("reader");
        check_all(&r, &exp, Millis::MIN, Millis::MAX);
    }
    let r = store.reader().expect("reader");
    let stats = r.chunk_stats().expect("stats");
    assert!(
        stats.chunks > 0,
        "some windows must be compacted: {stats:?}"
    );
    assert!(
        stats.head_rows > 0,
        "the open window stays in the head: {stats:?}"
    );
    // Ranges that start and end inside chunks, inside the head, and across the boundary.
    for (from, to) in [
        (T0 + 2 * MIN + 1, T0 + 7 * MIN),
        (T0 + 9 * MIN, T0 + 20 * MIN),
        (T0, T0),
        (T0 - 1000, T0 - 1000),
        (T0 + 3 * MIN, T0 + 3 * MIN + 14_999),
    ] {
        check_all(&r, &exp, from, to);
    }
    // Compacting everything changes the storage, not the answers.
    store.compact_before(Millis::MAX).expect("compact");
    let stats = r.chunk_stats().expect("stats");
    assert_eq!(stats.head_rows, 0);
    check_all(&r, &exp, Millis::MIN, Millis::MAX);
    check_all(&r, &exp, T0 + 2 * MIN + 1, T0 + 7 * MIN);

    assert_eq!(r.series("web1").expect("series").len(), 12);
    assert!(r.series("nope").expect("series").is_empty());
    assert!(
        r.query("web1", "missing", 0, Millis::MAX)
            .expect("q")
            .is_empty()
    );
    let polls = r.polls("web1", Millis::MIN, Millis::MAX).expect("polls");
    assert_eq!(polls.len(), 40);
    let (at, p) = polls.get(5).expect("poll 5");
    assert_eq!(*at, T0 + 5 * 15_000 + (5 * 37 % 11));
    assert!(!p.up);
    assert_eq!(p.error.as_deref(), Some("timeout 5"));
    assert_eq!(p.bytes, 1005);
    store.close().expect("close");
}

#[test]
fn restart_renumbers_series_but_keeps_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h.db");
    let mut exp = Expected::new();
    {
        let store = Store::open(&path, opts(2 * MIN)).expect("open");
        Feed {
            source: "web1",
            n_series: 10,
            index_of: identity,
        }
        .write(&store, T0, 0..20, &mut exp);
        store.close().expect("close");
    }
    // New session: same keys under different local indexes, and a new series.
    let store = Store::open(&path, opts(2 * MIN)).expect("reopen");
    Feed {
        source: "web1",
        n_series: 11,
        index_of: shuffled,
    }
    .write(&store, T0, 20..40, &mut exp);
    store.flush().expect("flush");
    let r = store.reader().expect("reader");
    assert_eq!(r.series("web1").expect("series").len(), 11);
    check_all(&r, &exp, Millis::MIN, Millis::MAX);
}

#[test]
fn samples_of_unannounced_series_are_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("h.db"), opts(MIN)).expect("open");
    let b = CycleBatch {
        source: Arc::from("x"),
        at: T0,
        new_series: vec![(1, "up".into())],
        samples: vec![(1, T0, 1.0), (2, T0, 2.0)],
        ..CycleBatch::default()
    };
    store.sender().try_send(b).expect("send");
    store.flush().expect("flush");
    let r = store.reader().expect("reader");
    assert_eq!(r.series("x").expect("series"), vec!["up".to_string()]);
    assert_eq!(
        r.query("x", "up", 0, Millis::MAX).expect("q"),
        vec![(T0, 1.0)]
    );
}

#[test]
fn alert_transitions_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("h.db"), opts(MIN)).expect("open");
    let alerts: Vec<AlertTransition> = (0..3)
        .map(|i| AlertTransition {
            at: T0 + i,
            rule: format!("DiskFull{i}"),
            host: "db1".into(),
            labels: "{mountpoint=\"/\"}".into(),
            from: AlertState::Pending,
            to: AlertState::Firing,
            severity: Severity::Major,
            value: if i == 1 { f64::NAN } else { 97.5 },
            active_at: T0 - 60_000,
            summary: "disk / at 97%".into(),
        })
        .collect();
    let b = CycleBatch {
        source: Arc::from("db1"),
        at: T0,
        alerts: alerts.clone(),
        ..CycleBatch::default()
    };
    store.sender().try_send(b).expect("send");
    store.flush().expect("flush");
    let got = store
        .reader()
        .expect("reader")
        .alert_transitions(T0, T0 + 1)
        .expect("alerts");
    assert_eq!(got.len(), 2);
    assert_eq!(got.first(), alerts.first());
    let second = got.get(1).expect("second");
    assert!(second.value.is_nan());
    assert_eq!(second.rule, "DiskFull1");
}

#[test]
fn retention_deletes_by_data_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h.db");
    let mut o = opts(MIN);
    o.retention_ms = 10 * MIN;
    let store = Store::open(&path, o).expect("open");
    let mut exp = Expected::new();
    // 30 minutes of data; only the last 10 (plus the chunk straddling the cut) may remain.
    Feed {
        source: "web1",
        n_series: 10,
        index_of: identity,
    }
    .write(&store, T0, 0..120, &mut exp);
    // Retention runs as windows close; run it once more at the very newest time.
    store.compact_before(Millis::MIN).expect("maintenance");
    let r = store.reader().expect("reader");
    // The newest timestamp written is the last poll's (series 8 sits a second behind it).
    let newest = exp.values().flatten().map(|p| p.0).max().expect("data");
    let cutoff = newest - 10 * MIN;
    for ((source, key), samples) in &exp {
        let got = r.query(source, key, Millis::MIN, Millis::MAX).expect("q");
        let oldest = got.first().expect("recent data stays").0;
        // A chunk straddling the cut stays whole: at most one window (and series 8's own
        // timestamps sit a second before their poll).
        assert!(
            oldest >= cutoff - MIN - 1000,
            "{key}: {oldest} older than {cutoff}"
        );
        assert!(
            oldest < cutoff + 15_000,
            "{key}: kept data must reach back to the cut"
        );
        // Everything newer than the cutoff is still there, bit for bit.
        let want: Vec<_> = samples.iter().copied().filter(|p| p.0 >= cutoff).collect();
        let got_recent: Vec<_> = got.into_iter().filter(|p| p.0 >= cutoff).collect();
        assert_eq!(bits(&got_recent), bits(&want));
    }
    let polls = r.polls("web1", Millis::MIN, Millis::MAX).expect("polls");
    assert!(polls.iter().all(|p| p.0 >= cutoff));
    assert!(!polls.is_empty());
}

#[test]
fn size_cap_drops_oldest_chunks_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h.db");
    let cap = 400 * 1024;
    let mut o = opts(MIN);
    o.max_size_bytes = cap;
    let store = Store::open(&path, o).expect("open");
    let mut exp = Expected::new();
    // Noisy series so chunks are big: ~2 hours of 200 series.
    Feed {
        source: "web1",
        n_series: 200,
        index_of: identity,
    }
    .write(&store, T0, 0..480, &mut exp);
    store.compact_before(Millis::MAX).expect("compact");
    store.close().expect("close");
    let file = std::fs::metadata(&path).expect("stat").len();
    // The cap counts pages in use; a closed store has no WAL and few free pages.
    assert!(file <= cap + 64 * 1024, "file {file} bytes over cap {cap}");
    let r = Reader::open(&path).expect("reader");
    let mut oldest_kept = Millis::MAX;
    for ((source, key), samples) in &exp {
        let got = r.query(source, key, Millis::MIN, Millis::MAX).expect("q");
        let first = got.first().map_or(Millis::MAX, |p| p.0);
        oldest_kept = oldest_kept.min(first);
        // What remains is a suffix of what was written.
        let tail = samples
            .get(samples.len().saturating_sub(got.len())..)
            .unwrap_or_default();
        assert_eq!(bits(&got), bits(tail), "{key}");
    }
    assert!(
        oldest_kept > T0,
        "the cap must have deleted the oldest data"
    );
    let newest = exp
        .values()
        .filter_map(|s| s.last())
        .map(|p| p.0)
        .max()
        .unwrap_or(0);
    assert!(
        exp.keys().all(|(s, k)| r
            .query(s, k, newest - MIN, Millis::MAX)
            .is_ok_and(|v| !v.is_empty())),
        "the newest data must survive the cap"
    );
}

fn assert_not_db(path: &Path, reason_part: &str) {
    match Store::open(path, opts(MIN)) {
        Err(StoreError::NotADatabase { path: p, reason }) => {
            assert!(p.contains(&*path.display().to_string()), "{p}");
            assert!(reason.contains(reason_part), "{reason}");
        }
        Err(e) => panic!("{}: wrong error {e}", path.display()),
        Ok(_) => panic!("{}: opened a foreign file", path.display()),
    }
    assert!(matches!(
        Reader::open(path),
        Err(StoreError::NotADatabase { .. })
    ));
}

#[test]
fn foreign_files_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "this is not a database\n".repeat(200)).expect("write");
    assert_not_db(&text, "SQLite cannot read it");

    // A real SQLite header followed by garbage pages.
    let good = dir.path().join("good.db");
    let mut exp = Expected::new();
    {
        let store = Store::open(&good, opts(MIN)).expect("open");
        Feed {
            source: "a",
            n_series: 3,
            index_of: identity,
        }
        .write(&store, T0, 0..10, &mut exp);
        store.close().expect("close");
    }
    let mut bytes = std::fs::read(&good).expect("read");
    let torn = dir.path().join("torn.db");
    for b in bytes.iter_mut().skip(100) {
        *b = 0xA5;
    }
    std::fs::write(&torn, &bytes).expect("write");
    assert_not_db(&torn, "");

    let cut = dir.path().join("cut.db");
    std::fs::write(&cut, bytes.get(..50).unwrap_or_default()).expect("write");
    assert_not_db(&cut, "");

    // Another program's SQLite file: a valid file with a different application_id (header
    // bytes 68..72, big endian).
    let other = dir.path().join("other.db");
    let mut theirs = std::fs::read(&good).expect("read");
    if let Some(id) = theirs.get_mut(68..72) {
        id.copy_from_slice(&0x1234_5678u32.to_be_bytes());
    }
    std::fs::write(&other, &theirs).expect("write");
    assert_not_db(&other, "another program");

    // Written by a newer nocscope: user_version (header bytes 60..64) beyond ours.
    let newer = dir.path().join("newer.db");
    let mut future = std::fs::read(&good).expect("read");
    if let Some(v) = future.get_mut(60..64) {
        v.copy_from_slice(&99u32.to_be_bytes());
    }
    std::fs::write(&newer, &future).expect("write");
    assert_not_db(&newer, "newer than this build");

    let nowhere = dir.path().join("no/such/dir/h.db");
    match Store::open(&nowhere, opts(MIN)) {
        Err(StoreError::Sqlite(msg)) => assert!(msg.contains("no/such/dir"), "{msg}"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("opened a file in a missing directory"),
    }

    let missing = dir.path().join("missing.db");
    assert!(matches!(
        Reader::open(&missing),
        Err(StoreError::NotADatabase { .. })
    ));
}

#[test]
fn full_queue_gives_batches_back_and_counts_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut o = opts(MIN);
    o.queue_capacity = 1;
    let store = Store::open(&dir.path().join("h.db"), o).expect("open");
    let tx = store.sender();
    let (mut accepted, mut refused) = (Vec::new(), 0u64);
    for c in 0..300i64 {
        let b = CycleBatch {
            source: Arc::from("x"),
            at: T0 + c,
            new_series: if c == 0 {
                vec![(0, "v".into())]
            } else {
                Vec::new()
            },
            samples: vec![(0, T0 + c, c as f64)],
            ..CycleBatch::default()
        };
        match tx.try_send(b) {
            Ok(()) => accepted.push(c),
            Err(back) => {
                assert_eq!(back.at, T0 + c, "the refused batch is the one sent");
                refused += 1;
                if c == 0 {
                    // The key is announced once; keep it for the next attempt.
                    let retry = CycleBatch {
                        at: back.at,
                        ..back
                    };
                    while tx.try_send(retry.clone()).is_err() {
                        std::thread::yield_now();
                    }
                    accepted.push(c);
                }
            }
        }
    }
    store.flush().expect("flush");
    assert_eq!(tx.dropped(), refused);
    let got = store
        .reader()
        .expect("reader")
        .query("x", "v", 0, Millis::MAX)
        .expect("q");
    let got_ts: Vec<Millis> = got.iter().map(|p| p.0).collect();
    let want: Vec<Millis> = accepted.iter().map(|c| T0 + c).collect();
    assert_eq!(got_ts, want);
}

proptest! {
    #[test]
    fn value_column_round_trips_bit_exact(v in prop::collection::vec(any::<u64>().prop_map(f64::from_bits), 0..600)) {
        let blob = codec::encode_values(&v);
        let back = codec::decode_values(&blob, v.len()).expect("decode");
        prop_assert_eq!(back.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), v.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
    }

    #[test]
    fn realistic_values_round_trip(start in -1e9f64..1e9, steps in prop::collection::vec(prop_oneof![Just(0.0), -10.0f64..10.0, Just(f64::NAN), Just(f64::INFINITY)], 1..400)) {
        let v: Vec<f64> = steps.iter().scan(start, |acc, s| { *acc += s; Some(*acc) }).collect();
        let back = codec::decode_values(&codec::encode_values(&v), v.len()).expect("decode");
        prop_assert_eq!(back.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), v.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
    }

    #[test]
    fn time_column_round_trips(start in any::<i64>(), gaps in prop::collection::vec(prop_oneof![Just(15_000i64), 14_970i64..15_030, any::<i64>()], 0..400)) {
        let t: Vec<i64> = std::iter::once(start).chain(gaps.iter().scan(start, |acc, g| { *acc = acc.wrapping_add(*g); Some(*acc) })).collect();
        let back = codec::decode_times(&codec::encode_times(&t), t.len()).expect("decode");
        prop_assert_eq!(back, t);
    }

    #[test]
    fn head_row_round_trips_and_looks_up(at in any::<i64>(), raw in prop::collection::vec((0u32..50, prop_oneof![Just(0i64), -5000i64..5000], any::<u64>()), 0..200)) {
        let mut samples: Vec<(u32, i64, f64)> = raw.iter().map(|(s, d, b)| (*s, at.wrapping_add(*d), f64::from_bits(*b))).collect();
        let blob = codec::encode_head(at, &mut samples);
        let row = codec::decode_head(&blob).expect("decode");
        prop_assert_eq!(&row.sids, &samples.iter().map(|s| s.0).collect::<Vec<_>>());
        for sid in 0..50u32 {
            let mut got = Vec::new();
            codec::head_lookup(&blob, at, sid, &mut got).expect("lookup");
            let want: Vec<(i64, u64)> = samples.iter().filter(|s| s.0 == sid).map(|s| (s.1, s.2.to_bits())).collect();
            prop_assert_eq!(got.iter().map(|(t, v)| (*t, v.to_bits())).collect::<Vec<_>>(), want);
        }
    }

    #[test]
    fn bitmap_round_trips(present in prop::collection::vec(any::<bool>(), 0..300)) {
        let bm = codec::encode_bitmap(&present);
        let pos = codec::decode_bitmap(&bm, present.len()).expect("decode");
        let want: Vec<usize> = present.iter().enumerate().filter(|(_, p)| **p).map(|(i, _)| i).collect();
        prop_assert_eq!(pos, want);
    }

    #[test]
    fn damaged_pco_columns_give_errors_or_values_never_panics(
        v in prop::collection::vec(-1e6f64..1e6, 2..300),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut blob = codec::encode_values(&v);
        for (i, x) in &flips {
            let at = i.index(blob.len());
            if let Some(b) = blob.get_mut(at) {
                *b ^= x | 1;
            }
        }
        // Either an error or some values; the count check catches most silent damage.
        if let Ok(back) = codec::decode_values(&blob, v.len()) {
            prop_assert_eq!(back.len(), v.len());
        }
        let _ = codec::decode_values(&blob, usize::MAX);
    }

    #[test]
    fn decoders_never_panic_on_garbage(blob in prop::collection::vec(any::<u8>(), 0..200), n in 0usize..500) {
        let _ = codec::decode_values(&blob, n);
        let _ = codec::decode_times(&blob, n);
        let _ = codec::decode_head(&blob);
        let _ = codec::decode_bitmap(&blob, n);
        let mut out = Vec::new();
        let _ = codec::head_lookup(&blob, 0, 3, &mut out);
    }
}

#[test]
fn late_batch_for_a_sealed_window_is_kept_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("h.db"), opts(MIN)).expect("open");
    let tx = store.sender();
    let batch = |at: Millis, v: f64, announce: bool| CycleBatch {
        source: Arc::from("x"),
        at,
        new_series: if announce {
            vec![(0, "v".into())]
        } else {
            Vec::new()
        },
        samples: vec![(0, at, v)],
        ..CycleBatch::default()
    };
    let base = (T0 / MIN) * MIN;
    let mut want = Vec::new();
    for (i, at) in [base, base + 30_000, base + 2 * MIN, base + 3 * MIN]
        .into_iter()
        .enumerate()
    {
        tx.try_send(batch(at, i as f64, i == 0)).expect("send");
        want.push((at, i as f64));
    }
    store.flush().expect("flush");
    let r = store.reader().expect("reader");
    assert!(
        r.chunk_stats().expect("stats").chunks > 0,
        "first window sealed"
    );
    // A straggler for the sealed first window.
    tx.try_send(batch(base + 45_000, 9.0, false)).expect("send");
    store.flush().expect("flush");
    want.insert(2, (base + 45_000, 9.0));
    assert_eq!(
        r.query("x", "v", Millis::MIN, Millis::MAX).expect("q"),
        want
    );
    // Sealing it later gives the window a second chunk, not a duplicate.
    store.compact_before(Millis::MAX).expect("compact");
    assert_eq!(r.chunk_stats().expect("stats").head_rows, 0);
    assert_eq!(
        r.query("x", "v", Millis::MIN, Millis::MAX).expect("q"),
        want
    );
}

#[test]
fn readers_run_beside_the_writer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h.db");
    let store = Store::open(&path, opts(MIN)).expect("open");
    let feed = Feed {
        source: "web1",
        n_series: 20,
        index_of: identity,
    };
    let mut exp = Expected::new();
    feed.write(&store, T0, 0..4, &mut exp);
    store.flush().expect("flush");
    let key = feed.key(4);
    let reader_path = path.clone();
    let watcher = std::thread::spawn(move || {
        let r = Reader::open(&reader_path).expect("reader");
        let mut seen = Vec::new();
        for _ in 0..200 {
            let n = r
                .query("web1", &key, Millis::MIN, Millis::MAX)
                .expect("query")
                .len();
            seen.push(n);
        }
        seen
    });
    feed.write(&store, T0, 4..200, &mut exp);
    store.flush().expect("flush");
    let seen = watcher.join().expect("reader thread");
    // Each read sees a committed prefix: never fewer samples than before, never torn.
    assert!(
        seen.windows(2).all(|w| matches!(w, [a, b] if a <= b)),
        "{seen:?}"
    );
    assert!(seen.iter().all(|&n| (4..=200).contains(&n)), "{seen:?}");
    check_all(
        &store.reader().expect("reader"),
        &exp,
        Millis::MIN,
        Millis::MAX,
    );
}

#[test]
fn bad_options_are_refused_with_what_is_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h.db");
    type Case = (fn(&mut StoreOptions), &'static str);
    let cases: &[Case] = &[
        (|o| o.chunk_window_ms = 0, "chunk_window_ms = 0; accepted"),
        (
            |o| o.chunk_window_ms = 30 * 24 * 3600 * 1000,
            "chunk_window_ms",
        ),
        (|o| o.retention_ms = -1, "retention_ms = -1; accepted"),
        (|o| o.queue_capacity = 0, "queue_capacity = 0; accepted"),
    ];
    for (tweak, msg) in cases {
        let mut o = StoreOptions::default();
        tweak(&mut o);
        match Store::open(&path, o) {
            Err(StoreError::Options(m)) => assert!(m.contains(msg), "{m}"),
            Err(e) => panic!("wrong error {e}"),
            Ok(_) => panic!("accepted bad options ({msg})"),
        }
    }
    assert!(StoreOptions::default().validate().is_ok());
}

#[test]
fn a_sample_from_the_far_future_does_not_expire_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h.db");
    let mut o = opts(MIN);
    o.retention_ms = 10 * MIN;
    let mut exp = Expected::new();
    {
        let store = Store::open(&path, o.clone()).expect("open");
        Feed {
            source: "web1",
            n_series: 3,
            index_of: identity,
        }
        .write(&store, T0, 0..20, &mut exp);
        // An exporter with a broken clock: explicit timestamp a century ahead.
        let year = 365 * 24 * 3600 * 1000;
        let b = CycleBatch {
            source: Arc::from("clock"),
            at: T0 + 20 * 15_000,
            new_series: vec![(0, "skewed".into())],
            samples: vec![(0, T0 + 100 * year, 1.0)],
            ..CycleBatch::default()
        };
        store.sender().try_send(b).expect("send");
        store.compact_before(Millis::MIN).expect("maintenance");
        store.close().expect("close");
    }
    // Reopening restores "now" from the file; maintenance must still keep the history.
    let store = Store::open(&path, o).expect("reopen");
    store.compact_before(Millis::MIN).expect("maintenance");
    let r = store.reader().expect("reader");
    check_all(&r, &exp, Millis::MIN, Millis::MAX);
    assert_eq!(
        r.query("clock", "skewed", Millis::MIN, Millis::MAX)
            .expect("q")
            .len(),
        1
    );
}

/// One generated poll: per series, absent or (timestamp offset from the poll, value bits).
type GenPoll = Vec<Option<(i64, u64)>>;

fn gen_polls() -> impl Strategy<Value = (usize, Vec<GenPoll>)> {
    (1usize..6).prop_flat_map(|n| {
        let sample = prop_oneof![
            3 => (Just(0i64), any::<u64>()).prop_map(Some),
            1 => (-20_000i64..20_000, any::<u64>()).prop_map(Some),
            1 => Just(None),
        ];
        (
            Just(n),
            prop::collection::vec(prop::collection::vec(sample, n..=n), 1..40),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever mix of missing series, explicit timestamps and float bit patterns is written,
    /// reading it back (part head, part chunks, then all chunks) gives exactly the same samples.
    #[test]
    fn store_round_trips_any_poll_sequence(
        (n, polls) in gen_polls(),
        window in prop_oneof![Just(1_000i64), Just(7_000), Just(60_000)],
        step in prop_oneof![Just(1_000i64), Just(15_000)],
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("p.db"), opts(window)).expect("open");
        let tx = store.sender();
        let mut exp: Vec<Vec<(Millis, u64)>> = vec![Vec::new(); n];
        for (c, poll) in polls.iter().enumerate() {
            let at = T0 + c as i64 * step;
            let mut b = CycleBatch {
                source: Arc::from("p"),
                at,
                new_series: if c == 0 {
                    (0..n as u32).map(|s| (s, format!("s{s}").into_boxed_str())).collect()
                } else {
                    Vec::new()
                },
                ..CycleBatch::default()
            };
            for (s, sample) in poll.iter().enumerate() {
                if let (Some((off, bits)), Some(e)) = (sample, exp.get_mut(s)) {
                    b.samples.push((s as u32, at + off, f64::from_bits(*bits)));
                    e.push((at + off, *bits));
                }
            }
            let mut pending = b;
            while let Err(back) = tx.try_send(pending) {
                pending = back;
                std::thread::yield_now();
            }
        }
        store.flush().expect("flush");
        let r = store.reader().expect("reader");
        for pass in 0..2 {
            for (s, want) in exp.iter().enumerate() {
                let mut want = want.clone();
                want.sort_unstable();
                let mut got = bits(&r.query("p", &format!("s{s}"), Millis::MIN, Millis::MAX).expect("query"));
                prop_assert!(got.windows(2).all(|w| matches!(w, [a, b] if a.0 <= b.0)), "not sorted by time");
                got.sort_unstable();
                prop_assert_eq!(got, want, "series {} pass {}", s, pass);
            }
            store.compact_before(Millis::MAX).expect("compact");
        }
    }
}

/// Batches are committed in groups of up to a second; a group that nobody flushes still
/// becomes visible to readers on its own, whole, with nothing lost.
#[test]
fn grouped_batches_commit_without_a_flush() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h.db");
    let store = Store::open(&path, opts(MIN)).expect("open");
    let mut exp = Expected::new();
    Feed {
        source: "web1",
        n_series: 20,
        index_of: identity,
    }
    .write(&store, T0, 0..3, &mut exp);
    let r = Reader::open(&path).expect("reader");
    let complete = |r: &Reader| {
        exp.iter().all(|((source, key), samples)| {
            r.query(source, key, Millis::MIN, Millis::MAX)
                .is_ok_and(|got| bits(&got) == bits(samples))
        })
    };
    // Polled, not timed: the assertion is that it happens, however slow the machine.
    let mut visible = false;
    for _ in 0..600 {
        if complete(&r) {
            visible = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(visible, "an unflushed group was never committed");
    store.close().expect("close");
}

/// A restarted console resumes what was pending or firing: each alert's latest transition,
/// unless it ended inactive.
#[test]
fn active_alerts_are_the_latest_transitions_not_ended() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("h.db"), opts(MIN)).expect("open");
    let tr = |at: i64, rule: &str, from: AlertState, to: AlertState| AlertTransition {
        at,
        rule: rule.into(),
        host: "db1".into(),
        labels: String::new(),
        from,
        to,
        severity: Severity::Major,
        value: 1.0,
        active_at: T0,
        summary: String::new(),
    };
    let alerts = vec![
        tr(
            T0,
            "StillPending",
            AlertState::Inactive,
            AlertState::Pending,
        ),
        tr(T0, "Fired", AlertState::Inactive, AlertState::Pending),
        tr(T0 + 5, "Fired", AlertState::Pending, AlertState::Firing),
        tr(T0, "Over", AlertState::Inactive, AlertState::Firing),
        tr(T0 + 9, "Over", AlertState::Firing, AlertState::Inactive),
    ];
    let b = CycleBatch {
        source: Arc::from("db1"),
        at: T0,
        alerts,
        ..CycleBatch::default()
    };
    store.sender().try_send(b).expect("send");
    store.flush().expect("flush");
    let r = store.reader().expect("reader");
    let got: Vec<(String, AlertState)> = r
        .active_alerts()
        .expect("active")
        .into_iter()
        .map(|t| (t.rule, t.to))
        .collect();
    assert_eq!(
        got,
        vec![
            ("StillPending".to_string(), AlertState::Pending),
            ("Fired".to_string(), AlertState::Firing)
        ]
    );
    assert_eq!(r.last_poll_at().expect("polls"), None);
}
