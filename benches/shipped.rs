//! Scoring cost of the shipped default models (models/, embedded by detect::shipped): the
//! engine scores one window per vital per host per poll, so what matters is one stride-1
//! window at a time (StreamScorer) and a batch of many hosts' windows (BatchScorer).
//! Run: `CARGO_TARGET_DIR=/work/bench-target-$NAME cargo bench --bench shipped`.

use divan::Bencher;
use divan::counter::ItemsCount;
use nocscope::detect::shipped::shipped_models;
use nocscope::detect::{BatchScorer, LstmAutoencoder, windows_of};

fn main() {
    if let Some(m) = cpu_model() {
        let f = m.config().forward_flops_per_window();
        eprintln!(
            "shipped architecture: window {}, encoder {:?}, decoder {:?}; forward FLOPs per \
             window: {f} ({:.3} MFLOP)",
            m.config().window,
            m.config().encoder_units,
            m.config().decoder_units,
            f as f64 / 1e6
        );
    }
    divan::main();
}

fn cpu_model() -> Option<LstmAutoencoder> {
    shipped_models()
        .into_iter()
        .find(|(k, _)| *k == "cpu_pct")
        .and_then(|(_, m)| m.ok())
}

fn series(n: usize) -> Vec<f32> {
    (0..n).map(|i| (i as f32 * 0.37).sin()).collect()
}

/// One new point per call, as the engine feeds a live series: one window scored per push.
#[divan::bench]
fn stream_one_window(bencher: Bencher) {
    let Some(model) = cpu_model() else { return };
    let xs = series(4096);
    let mut scorer = model.stream_scorer();
    for &x in xs.iter().take(16) {
        let _ = scorer.push(&model, x);
    }
    let mut i = 0usize;
    bencher.counter(ItemsCount::new(1usize)).bench_local(|| {
        i = (i + 1) % xs.len();
        scorer.push(&model, divan::black_box(xs.get(i).copied().unwrap_or(0.0)))
    });
}

/// 350 windows at once (50 hosts × 7 vitals, one poll each), single thread.
#[divan::bench]
fn batch_350_windows(bencher: Bencher) {
    let Some(model) = cpu_model() else { return };
    let w = windows_of(&series(359), model.config().window);
    let mut scorer = BatchScorer::new(1);
    bencher
        .counter(ItemsCount::new(w.nrows()))
        .bench_local(|| scorer.score_windows(&model, divan::black_box(w.view())));
}

/// Validating and loading all shipped models (done once at start-up).
#[divan::bench(sample_count = 20)]
fn load_all(bencher: Bencher) {
    bencher.bench_local(shipped_models);
}
