//! End-to-end ingest benchmark: real node_exporter bodies (one hour recorded at 15 s on this
//! machine) through parse, series lookup, counter deltas, vitals and rules; plus the engine's
//! memory per active series, measured with a counting allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use bytes::Bytes;
use divan::counter::ItemsCount;
use nocscope::config::Anomaly;
use nocscope::detect::{LstmAutoencoder, LstmConfig};
use nocscope::engine::rules::default_rules;
use nocscope::engine::{Engine, ModelBinding, TargetSpec};
use nocscope::model::Input;
use nocscope::model::Vital;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[path = "support/node_recording.rs"]
mod node_recording;
use node_recording::{inputs, recording};

fn engine(targets: u32) -> Engine {
    let specs = (0..targets)
        .map(|i| TargetSpec {
            labels: Default::default(),
            name: format!("node{i}"),
            host: format!("node{i}"),
            interval_ms: 15_000,
            timeout_ms: 10_000,
            sample_limit: 0,
            kind: Default::default(),
        })
        .collect();
    Engine::new(specs, default_rules())
}

fn samples_in(inputs: &[Input]) -> usize {
    let mut e = engine(1);
    let mut n = 0;
    for i in inputs {
        e.apply(i);
        n += e.snapshot().targets[0].samples as usize;
    }
    n
}

/// Parse + series + rates + vitals + rules for 40 consecutive real scrapes (10 minutes).
#[divan::bench]
fn ingest_real_scrapes(bencher: divan::Bencher) {
    let rec = recording();
    let inputs = inputs(&rec[..rec.len().min(40)], 1);
    let samples = samples_in(&inputs);
    bencher
        .counter(ItemsCount::new(samples))
        .with_inputs(|| engine(1))
        .bench_local_values(|mut e| {
            for i in &inputs {
                e.apply(i);
                // Batches go to the store in the real loop; drop them here.
                e.take_batches();
            }
            e
        });
}

/// Parse alone on the same bodies, to see what the engine adds on top.
#[divan::bench]
fn parse_only(bencher: divan::Bencher) {
    let rec = recording();
    let bodies: Vec<Bytes> = rec.iter().take(40).map(|r| r.1.clone()).collect();
    let n: usize = bodies
        .iter()
        .map(|b| {
            nocscope::expo::parse(b, nocscope::expo::Format::Prometheus004)
                .map(|p| p.samples.len())
                .unwrap_or(0)
        })
        .sum();
    bencher.counter(ItemsCount::new(n)).bench(|| {
        for b in &bodies {
            let p = nocscope::expo::parse(b, nocscope::expo::Format::Prometheus004);
            divan::black_box(p.map(|p| p.samples.len()).ok());
        }
    });
}

/// A model of the shipped size (window 10, encoder 32→16, mirrored decoder). Weights are the
/// random initialisation: inference costs the same whatever they are.
fn shipped_size_model() -> LstmAutoencoder {
    let cfg = LstmConfig {
        window: 10,
        encoder_units: vec![32, 16],
        decoder_units: vec![16, 32],
        ..LstmConfig::default()
    };
    let mut m = LstmAutoencoder::new(&cfg, 1).expect("valid config");
    m.set_threshold(1.0);
    m
}

/// Polls measured per iteration, after `WARM` polls that fill warm-ups and windows.
const POLLS: usize = 40;
const WARM: usize = 40;

/// Engine apply cost per poll of one real node_exporter target, without models and with a
/// generic model of the shipped size bound to every vital (each poll scores one window per
/// vital the exporter yields), in steady state: warm-ups done, windows full.
#[divan::bench(args = [false, true])]
fn apply_per_poll(bencher: divan::Bencher, models: bool) {
    let rec = recording();
    let inputs = inputs(&rec[..rec.len().min(WARM + POLLS)], 1);
    let (warm, measured) = inputs.split_at(WARM.min(inputs.len()));
    let model = shipped_size_model();
    bencher
        .counter(ItemsCount::new(measured.len()))
        .with_inputs(|| {
            let mut e = engine(1);
            if models {
                e.set_anomaly_settings(&Anomaly {
                    warmup_points: 20,
                    ..Anomaly::default()
                });
                let problems = e.set_models(
                    Vital::ALL
                        .iter()
                        .map(|&vital| ModelBinding {
                            vital,
                            host: None,
                            model: model.clone(),
                        })
                        .collect(),
                );
                assert!(problems.is_empty(), "{problems:?}");
            }
            for i in warm {
                e.apply(i);
                e.take_batches();
                e.take_events();
            }
            e
        })
        .bench_local_values(|mut e| {
            for i in measured {
                e.apply(i);
                e.take_batches();
            }
            e
        });
}

fn main() {
    // Memory per active series: 50 targets scraped twice (the second scrape creates no new
    // series), measured as live heap bytes held by the engine.
    let rec = recording();
    let targets = 50;
    let inputs = inputs(&rec[..2], targets);
    let before = LIVE.load(Ordering::Relaxed);
    let mut e = engine(targets);
    for i in &inputs {
        e.apply(i);
        e.take_batches();
        e.take_events();
    }
    let held = LIVE.load(Ordering::Relaxed) - before;
    let series = e.series_count();
    println!(
        "engine memory: {held} bytes for {series} series over {targets} targets = {:.0} bytes/series",
        held as f64 / series as f64
    );
    drop(inputs);
    divan::main();
}
