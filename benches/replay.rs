//! Replay throughput: one day of one node_exporter host (5,760 scrapes at 15 s plus a tick every
//! second, as the live loop records them) replayed at full speed, parse and engine included;
//! and the parts alone (reading + decompressing, recording).
//!
//! The day is synthesised from benches/data/store_node_1h.prom.gz (241 real scrapes recorded
//! on this machine) by repeating the hour with shifted timestamps; each wrap looks like a
//! counter reset to the engine, which it handles as it would live.

use std::io::Read;
use std::sync::OnceLock;

use bytes::Bytes;
use divan::counter::ItemsCount;
use nocscope::engine::TargetSpec;
use nocscope::model::{Input, Observation, Payload, Scrape, ScrapeOutcome, TargetId};
use nocscope::replay::{self, Limits, Reader, Recorder};

const SCRAPES_PER_DAY: usize = 5_760;
const INTERVAL_MS: i64 = 15_000;
const DAY_START: i64 = 1_750_000_000_000;

fn hour() -> Vec<Bytes> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/data/store_node_1h.prom.gz"
    );
    let file = std::fs::File::open(path).expect("benches/data/store_node_1h.prom.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .expect("gunzip");
    text.split("# SCRAPE ")
        .filter(|c| !c.is_empty())
        .map(|c| {
            let (_, body) = c.split_once('\n').expect("scrape header");
            Bytes::from(body.to_string())
        })
        .collect()
}

fn spec() -> TargetSpec {
    TargetSpec {
        labels: Default::default(),
        name: "node".into(),
        host: "node".into(),
        interval_ms: INTERVAL_MS,
        timeout_ms: 10_000,
        sample_limit: 0,
        kind: Default::default(),
    }
}

fn scrape(at: i64, body: Bytes) -> Input {
    Input::Observation(Observation {
        target: TargetId(0),
        at,
        payload: Payload::Scrape(Scrape {
            duration_ms: 20.0,
            outcome: ScrapeOutcome::Body {
                content_type: Some("text/plain; version=0.0.4; charset=utf-8".into()),
                body,
            },
        }),
    })
}

/// The recorded day, built once.
fn day() -> &'static [u8] {
    static DAY: OnceLock<Vec<u8>> = OnceLock::new();
    DAY.get_or_init(|| {
        let bodies = hour();
        let header = replay::header_for(&[spec()], "bench".into(), DAY_START);
        let mut rec = Recorder::new(Vec::new(), &header).expect("recorder");
        for i in 0..SCRAPES_PER_DAY {
            let at = DAY_START + i as i64 * INTERVAL_MS;
            let body = bodies[i % bodies.len()].clone();
            rec.input(at + 25, &scrape(at, body)).expect("record");
            for s in 1..=(INTERVAL_MS / 1000) {
                let now = at + s * 1000;
                rec.input(now, &Input::Tick { now }).expect("record");
            }
        }
        let data = rec.finish().expect("finish");
        eprintln!(
            "replay bench: one day = {} records, {:.2} MB on disk",
            SCRAPES_PER_DAY * 16,
            data.len() as f64 / 1e6
        );
        data
    })
}

/// Full speed, everything a headless replay does: read, decompress, decode, parse, engine.
#[divan::bench(sample_count = 3, sample_size = 1)]
fn day_full_speed(bencher: divan::Bencher) {
    let data = day();
    bencher.counter(ItemsCount::new(SCRAPES_PER_DAY)).bench(|| {
        let scan = replay::scan(divan::black_box(data), Limits::default()).expect("scan");
        assert!(scan.damage.is_none());
        divan::black_box(scan.snapshot.hosts.len())
    });
}

/// The format alone: read, check, decompress and decode every record.
#[divan::bench(sample_count = 3, sample_size = 1)]
fn day_read_only(bencher: divan::Bencher) {
    let data = day();
    bencher.counter(ItemsCount::new(SCRAPES_PER_DAY)).bench(|| {
        let mut r = Reader::new(divan::black_box(data), Limits::default()).expect("open");
        let mut n = 0u64;
        while let Ok(Some(rec)) = r.next_record() {
            n += u64::from(matches!(rec, replay::Record::Input { .. }));
        }
        divan::black_box(n)
    });
}

/// Recording cost per scrape (encode, compress at the recording level, checksum).
#[divan::bench(sample_count = 5)]
fn record_hour(bencher: divan::Bencher) {
    let bodies = hour();
    bencher
        .counter(ItemsCount::new(bodies.len()))
        .with_inputs(|| {
            let header = replay::header_for(&[spec()], "bench".into(), DAY_START);
            Recorder::new(Vec::with_capacity(1 << 20), &header).expect("recorder")
        })
        .bench_local_values(|mut rec| {
            for (i, b) in bodies.iter().enumerate() {
                let at = DAY_START + i as i64 * INTERVAL_MS;
                rec.input(at, &scrape(at, b.clone())).expect("record");
            }
            rec.finish().expect("finish").len()
        });
}

fn main() {
    divan::main();
}
