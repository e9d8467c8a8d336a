//! Store benchmarks: ingest throughput with scrape-shaped batches, storage per sample on one
//! real hour of node_exporter data, one-series queries over 1 h and 24 h, and the head-layout
//! comparison (a row per sample vs our row per poll) that justified the layout.
//!
//! Run: `CARGO_TARGET_DIR=/work/bench-target cargo bench --bench store`
//! The storage figures are printed before divan's table.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use divan::Bencher;
use divan::counter::ItemsCount;
use nocscope::model::{CycleBatch, Millis, PollRecord};
use nocscope::store::{Reader, Store, StoreOptions};

const T0: Millis = 1_795_257_051_095;
const SERIES: u32 = 1500;
const HOUR: Millis = 3_600_000;

fn main() {
    storage_report();
    divan::main();
}

// ---------- synthetic scrape-shaped batches ----------

/// Values shaped like a node_exporter scrape: a third constant, counters with decimals,
/// byte gauges, and a few noisy floats.
fn synth_value(s: u32, cycle: i64) -> f64 {
    let c = cycle as f64;
    match s % 6 {
        0 | 1 => f64::from(s % 7),
        2 => (c * 15.0 * (1.0 + f64::from(s % 5))).round() / 100.0,
        3 => (1_000_000.0
            + f64::from(s) * 4096.0
            + ((cycle * 7919 + i64::from(s)) % 97) as f64 * 4096.0)
            .floor(),
        4 => c * f64::from(s),
        _ => (c * 0.13 + f64::from(s)).sin() * 3.7,
    }
}

fn synth_batch(source: &Arc<str>, cycle: i64, announce: bool) -> CycleBatch {
    let at = T0 + cycle * 15_000 + (cycle * 37) % 23;
    CycleBatch {
        source: source.clone(),
        at,
        poll: Some(PollRecord {
            up: true,
            duration_ms: 12.0,
            samples_scraped: SERIES,
            bytes: 120_000,
            error: None,
        }),
        new_series: if announce {
            (0..SERIES)
                .map(|s| {
                    (
                        s,
                        format!(
                            "metric_{}{{cpu=\"{}\",mode=\"m{}\"}}",
                            s / 40,
                            s % 40,
                            s % 8
                        )
                        .into_boxed_str(),
                    )
                })
                .collect()
        } else {
            Vec::new()
        },
        samples: (0..SERIES)
            .map(|s| (s, at, synth_value(s, cycle)))
            .collect(),
        alerts: Vec::new(),
    }
}

fn send_all(store: &Store, batches: Vec<CycleBatch>) {
    let tx = store.sender();
    for mut b in batches {
        // Queue sized for the run; spin instead of dropping so every sample is measured.
        loop {
            match tx.try_send(b) {
                Ok(()) => break,
                Err(back) => {
                    b = back;
                    std::thread::yield_now();
                }
            }
        }
    }
    if let Err(e) = store.flush() {
        eprintln!("flush: {e}");
    }
}

struct TempStore {
    _dir: tempfile::TempDir,
    path: PathBuf,
    store: Store,
}

fn temp_store(opts: StoreOptions) -> TempStore {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = dir.path().join("bench.db");
    let store = Store::open(&path, opts).unwrap_or_else(|e| panic!("open: {e}"));
    TempStore {
        _dir: dir,
        path,
        store,
    }
}

fn opts(window: Millis) -> StoreOptions {
    StoreOptions {
        chunk_window_ms: window,
        queue_capacity: 4096,
        ..StoreOptions::default()
    }
}

/// 240 scrapes of 1,500 series (one hour) into the head, one transaction per scrape; the
/// window is wide enough that nothing is compacted.
#[divan::bench(sample_count = 10)]
fn ingest_head(b: Bencher) {
    let source: Arc<str> = Arc::from("node1");
    b.counter(ItemsCount::new(240 * SERIES as usize))
        .with_inputs(|| {
            let batches: Vec<CycleBatch> =
                (0..240).map(|c| synth_batch(&source, c, c == 0)).collect();
            (temp_store(opts(24 * HOUR)), batches)
        })
        .bench_local_values(|(ts, batches)| {
            send_all(&ts.store, batches);
            ts
        });
}

/// Two hours with 1-hour windows: ingest plus sealing the first window into pco chunks, i.e.
/// the sustained cost per sample.
#[divan::bench(sample_count = 10)]
fn ingest_sustained_with_compaction(b: Bencher) {
    let source: Arc<str> = Arc::from("node1");
    b.counter(ItemsCount::new(480 * SERIES as usize))
        .with_inputs(|| {
            let batches: Vec<CycleBatch> =
                (0..480).map(|c| synth_batch(&source, c, c == 0)).collect();
            (temp_store(opts(HOUR)), batches)
        })
        .bench_local_values(|(ts, batches)| {
            send_all(&ts.store, batches);
            if let Err(e) = ts.store.compact_before(Millis::MAX) {
                eprintln!("compact: {e}");
            }
            ts
        });
}

// ---------- real node_exporter hour ----------

struct Scrape {
    at: Millis,
    samples: Vec<(String, f64)>,
}

/// Load `benches/data/store_node_1h.prom.gz`: bodies separated by `# SCRAPE <ms>` lines. The
/// bodies have no timestamps, so key = text before the last space, value = the rest.
fn load_real() -> Vec<Scrape> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/data/store_node_1h.prom.gz");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out: Vec<Scrape> = Vec::new();
    for line in text.lines() {
        if let Some(ms) = line.strip_prefix("# SCRAPE ") {
            out.push(Scrape {
                at: ms.trim().parse().unwrap_or(0),
                samples: Vec::new(),
            });
        } else if line.starts_with('#') || line.trim().is_empty() {
            continue;
        } else if let (Some(cur), Some((k, v))) = (out.last_mut(), line.rsplit_once(' ')) {
            let v = match v {
                "NaN" => f64::NAN,
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                other => match other.parse() {
                    Ok(v) => v,
                    Err(_) => continue,
                },
            };
            cur.samples.push((k.to_string(), v));
        }
    }
    out
}

static REAL: LazyLock<Vec<Scrape>> = LazyLock::new(load_real);

fn real_batches(source: &str) -> Vec<CycleBatch> {
    let source: Arc<str> = Arc::from(source);
    let mut index: HashMap<&str, u32> = HashMap::new();
    REAL.iter()
        .map(|s| {
            let mut b = CycleBatch {
                source: source.clone(),
                at: s.at,
                ..CycleBatch::default()
            };
            for (k, v) in &s.samples {
                let next = index.len() as u32;
                let idx = *index.entry(k.as_str()).or_insert_with(|| {
                    b.new_series.push((next, k.clone().into_boxed_str()));
                    next
                });
                b.samples.push((idx, s.at, *v));
            }
            b
        })
        .collect()
}

fn storage_for(window: Millis) -> String {
    let batches = real_batches("node");
    let samples: usize = batches.iter().map(|b| b.samples.len()).sum();
    let scrapes = batches.len();
    let ts = temp_store(opts(window));
    send_all(&ts.store, batches);
    if let Err(e) = ts.store.compact_before(Millis::MAX) {
        return format!("compact: {e}");
    }
    let TempStore { _dir, path, store } = ts;
    if let Err(e) = store.close() {
        return format!("close: {e}");
    }
    let file = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let r = match Reader::open(&path) {
        Ok(r) => r,
        Err(e) => return format!("reader: {e}"),
    };
    let tables = r.table_bytes().unwrap_or_default();
    let stats = r.chunk_stats().unwrap_or_default();
    let chunk_tables = ["chunks", "blocks", "blocks_t_max"];
    let chunk_bytes: u64 = tables
        .iter()
        .filter(|(n, _)| chunk_tables.contains(&n.as_str()))
        .map(|(_, b)| b)
        .sum();
    let per = |b: u64| b as f64 / samples.max(1) as f64;
    format!(
        "window {} min: {scrapes} scrapes, {samples} samples, {} chunks ({:?} all/bitmap/own)\n  \
         chunk pages {chunk_bytes} B = {:.3} B/sample (value blobs {:.3}, chunk time blobs {:.3}, \
         block time blobs {:.3}, row+page overhead {:.3})\n  whole file {file} B = {:.3} B/sample; \
         pages per table: {tables:?}",
        window / 60_000,
        stats.chunks,
        stats.layouts,
        per(chunk_bytes),
        per(stats.value_bytes),
        per(stats.chunk_time_bytes),
        per(stats.block_time_bytes),
        per(chunk_bytes
            .saturating_sub(stats.value_bytes + stats.chunk_time_bytes + stats.block_time_bytes)),
        per(file),
    )
}

/// Which metric families the value bytes go to, encoding each series' hour as one column.
fn dominant_families() -> String {
    let mut per_series: HashMap<&str, Vec<f64>> = HashMap::new();
    for s in REAL.iter() {
        for (k, v) in &s.samples {
            per_series.entry(k.as_str()).or_default().push(*v);
        }
    }
    let mut fam: HashMap<&str, (u64, u64, u64)> = HashMap::new();
    let mut total = 0u64;
    for (k, v) in &per_series {
        let name = k.split('{').next().unwrap_or(k);
        let bytes = nocscope::store::codec::encode_values(v).len() as u64;
        total += bytes;
        let e = fam.entry(name).or_default();
        e.0 += bytes;
        e.1 += v.len() as u64;
        e.2 += 1;
    }
    let mut top: Vec<_> = fam.into_iter().collect();
    top.sort_by_key(|(_, (b, _, _))| std::cmp::Reverse(*b));
    let mut out = format!(
        "  value bytes with one column per series for the whole recording: {total} B over {} series; top families:\n",
        per_series.len()
    );
    for (name, (b, n, series)) in top.iter().take(10) {
        out.push_str(&format!(
            "    {name}: {b} B ({:.1}%), {series} series, {:.2} B/sample\n",
            100.0 * *b as f64 / total.max(1) as f64,
            *b as f64 / (*n).max(1) as f64
        ));
    }
    out
}

fn storage_report() {
    // divan passes `--bench`; skip the report when listing or filtering to other benches.
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    println!("storage, real node_exporter hour (benches/data/store_node_1h.prom.gz):");
    println!("{}", storage_for(HOUR));
    println!("{}", storage_for(2 * HOUR));
    print!("{}", dominant_families());
}

/// The real hour, ingested and compacted: the cost per real sample end to end.
#[divan::bench(sample_count = 10)]
fn ingest_real_hour(b: Bencher) {
    let n: usize = REAL.iter().map(|s| s.samples.len()).sum();
    b.counter(ItemsCount::new(n))
        .with_inputs(|| (temp_store(opts(HOUR)), real_batches("node")))
        .bench_local_values(|(ts, batches)| {
            send_all(&ts.store, batches);
            if let Err(e) = ts.store.compact_before(Millis::MAX) {
                eprintln!("compact: {e}");
            }
            ts
        });
}

// ---------- queries ----------

/// 25 hours of one 1,500-series source with 1-hour windows: 24 sealed hours and the newest
/// hour still in the head.
static DAY: LazyLock<(TempStore, Millis)> = LazyLock::new(|| {
    let ts = temp_store(opts(HOUR));
    let source: Arc<str> = Arc::from("node1");
    let cycles = 25 * 240;
    let tx = ts.store.sender();
    for c in 0..cycles {
        let mut b = synth_batch(&source, c, c == 0);
        loop {
            match tx.try_send(b) {
                Ok(()) => break,
                Err(back) => {
                    b = back;
                    std::thread::yield_now();
                }
            }
        }
    }
    if let Err(e) = ts.store.flush() {
        eprintln!("flush: {e}");
    }
    let newest = T0 + (cycles - 1) * 15_000;
    (ts, newest)
});

fn query_bench(b: Bencher, back_from: Millis, span: Millis) {
    let (ts, newest) = &*DAY;
    let reader = ts.store.reader().unwrap_or_else(|e| panic!("reader: {e}"));
    let key = "metric_20{cpu=\"0\",mode=\"m0\"}";
    let to = newest - back_from;
    let from = to - span;
    let n = reader
        .query("node1", key, from, to)
        .map(|v| v.len())
        .unwrap_or(0);
    assert!(n > 0, "no samples in range");
    b.counter(ItemsCount::new(n))
        .bench_local(|| reader.query("node1", key, from, to));
}

/// The newest hour: head rows (one per poll, binary-searched).
#[divan::bench]
fn query_1h_head(b: Bencher) {
    query_bench(b, 0, HOUR - 1);
}

/// An hour 12 hours back: compressed chunks.
#[divan::bench]
fn query_1h_chunks(b: Bencher) {
    query_bench(b, 12 * HOUR, HOUR - 1);
}

/// The last 24 hours: 23 chunks and the head.
#[divan::bench]
fn query_24h(b: Bencher) {
    query_bench(b, 0, 24 * HOUR);
}

/// Series list of the source (1,500 keys).
#[divan::bench]
fn series_list(b: Bencher) {
    let (ts, _) = &*DAY;
    let reader = ts.store.reader().unwrap_or_else(|e| panic!("reader: {e}"));
    b.bench_local(|| reader.series("node1").map(|v| v.len()));
}

// ---------- head layout comparison ----------

/// The layout DESIGN.md proposed: a rowid table with one row per sample. Measured here with
/// rusqlite directly, since the store no longer has it; `indexed` adds the (series, ts) index
/// a one-series query needs.
mod row_per_sample {
    use super::*;
    use rusqlite::{Connection, params};

    pub fn setup(indexed: bool) -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let conn = Connection::open(dir.path().join("rows.db")).unwrap_or_else(|e| panic!("{e}"));
        let _ = conn.pragma_update(None, "journal_mode", "WAL");
        let _ = conn.pragma_update(None, "synchronous", "NORMAL");
        let mut ddl = "CREATE TABLE head(series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value INTEGER NOT NULL);".to_string();
        if indexed {
            ddl.push_str("CREATE INDEX head_sid_ts ON head(series_id, ts);");
        }
        if let Err(e) = conn.execute_batch(&ddl) {
            panic!("{e}");
        }
        (dir, conn)
    }

    pub fn write(conn: &Connection, cycles: std::ops::Range<i64>) {
        for c in cycles {
            let at = T0 + c * 15_000;
            let run = || -> rusqlite::Result<()> {
                let tx = conn.unchecked_transaction()?;
                {
                    let mut st = tx.prepare_cached(
                        "INSERT INTO head(series_id, ts, value) VALUES (?1, ?2, ?3)",
                    )?;
                    for s in 0..SERIES {
                        st.execute(params![s, at, synth_value(s, c).to_bits() as i64])?;
                    }
                }
                tx.commit()
            };
            if let Err(e) = run() {
                panic!("{e}");
            }
        }
    }

    pub fn query(conn: &Connection, sid: u32, from: Millis, to: Millis) -> usize {
        let run = || -> rusqlite::Result<usize> {
            let mut st = conn.prepare_cached("SELECT ts, value FROM head WHERE series_id = ?1 AND ts BETWEEN ?2 AND ?3 ORDER BY ts")?;
            let rows = st.query_map(params![sid, from, to], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    f64::from_bits(r.get::<_, i64>(1)? as u64),
                ))
            })?;
            Ok(rows.filter_map(Result::ok).count())
        };
        run().unwrap_or(0)
    }
}

#[divan::bench(args = [false, true], sample_count = 5)]
fn layout_row_per_sample_ingest(b: Bencher, indexed: bool) {
    b.counter(ItemsCount::new(240 * SERIES as usize))
        .with_inputs(|| row_per_sample::setup(indexed))
        .bench_local_values(|(dir, conn)| {
            row_per_sample::write(&conn, 0..240);
            (dir, conn)
        });
}

#[divan::bench(args = [false, true])]
fn layout_row_per_sample_query_1h(b: Bencher, indexed: bool) {
    let (_dir, conn) = row_per_sample::setup(indexed);
    row_per_sample::write(&conn, 0..240);
    let n = row_per_sample::query(&conn, 120, T0, T0 + HOUR);
    assert_eq!(n, 240);
    b.counter(ItemsCount::new(n))
        .bench_local(|| row_per_sample::query(&conn, 120, T0, T0 + HOUR));
}

/// Our layout on the same hour, for the comparison above (head only, nothing compacted).
#[divan::bench]
fn layout_row_per_poll_query_1h(b: Bencher) {
    let ts = temp_store(opts(24 * HOUR));
    let source: Arc<str> = Arc::from("node1");
    send_all(
        &ts.store,
        (0..240).map(|c| synth_batch(&source, c, c == 0)).collect(),
    );
    let reader = ts.store.reader().unwrap_or_else(|e| panic!("reader: {e}"));
    let key = "metric_3{cpu=\"0\",mode=\"m0\"}";
    let n = reader
        .query("node1", key, T0, T0 + HOUR)
        .map(|v| v.len())
        .unwrap_or(0);
    assert_eq!(n, 240);
    b.counter(ItemsCount::new(n))
        .bench_local(|| reader.query("node1", key, T0, T0 + HOUR));
}
