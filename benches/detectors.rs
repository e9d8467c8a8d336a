//! Benchmarks of the baseline detectors (detect::baseline): fit and score throughput, in points
//! per second, of zscore, kmeans and iforest on a 10k-point noisy seasonal series, and the
//! multivariate isolation forest on 10k rows of 8 vitals.
//! Run: `CARGO_TARGET_DIR=/work/bench-target-base cargo bench --bench detectors`.

use divan::Bencher;
use divan::counter::ItemsCount;
use ndarray::Array2;
use nocscope::detect::baseline::{self, IsolationForest};
use nocscope::detect::{Detector, SplitMix64};

const N: usize = 10_000;

fn main() {
    divan::main();
}

/// Period-96 sine, amplitude 10, uniform noise, a spike every 1000 points.
fn series() -> Vec<f32> {
    let mut rng = SplitMix64::new(7);
    (0..N)
        .map(|i| {
            let s = 50.0 + 10.0 * (std::f32::consts::TAU * i as f32 / 96.0).sin();
            s + rng.uniform(1.5) + if i % 1000 == 999 { 30.0 } else { 0.0 }
        })
        .collect()
}

fn detector(name: &str) -> Box<dyn Detector> {
    match baseline::by_name(name) {
        Some(d) => d,
        None => panic!("no detector {name}"),
    }
}

/// `fit` on all 10k points (features, model, threshold from the training scores).
#[divan::bench(args = ["zscore", "kmeans", "iforest"], sample_count = 5, sample_size = 1)]
fn fit(bencher: Bencher, name: &str) {
    let s = series();
    bencher
        .counter(ItemsCount::new(N))
        .with_inputs(|| detector(name))
        .bench_local_values(|mut d| {
            if let Err(e) = d.fit(&s) {
                panic!("{name}: {e}");
            }
            d
        });
}

/// `score` of all 10k points with a detector fitted on the first half.
#[divan::bench(args = ["zscore", "kmeans", "iforest"], sample_count = 10, sample_size = 1)]
fn score(bencher: Bencher, name: &str) {
    let s = series();
    let mut d = detector(name);
    if let Err(e) = d.fit(s.get(..N / 2).unwrap_or_default()) {
        panic!("{name}: {e}");
    }
    bencher
        .counter(ItemsCount::new(N))
        .bench_local(|| d.score(divan::black_box(&s), 0));
}

/// Scoring only the newest point of a long history: what the engine does per sample.
#[divan::bench(args = ["zscore", "kmeans", "iforest"])]
fn score_newest_point(bencher: Bencher, name: &str) {
    let s = series();
    let mut d = detector(name);
    if let Err(e) = d.fit(s.get(..N / 2).unwrap_or_default()) {
        panic!("{name}: {e}");
    }
    bencher
        .counter(ItemsCount::new(1usize))
        .bench_local(|| d.score(divan::black_box(&s), N - 1));
}

fn vitals() -> Array2<f32> {
    let mut rng = SplitMix64::new(3);
    Array2::from_shape_fn((N, 8), |(_, c)| c as f32 + rng.uniform(1.0))
}

/// The multivariate forest: 100 trees of 256 rows over 10k × 8.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn iforest_multivariate_fit(bencher: Bencher) {
    let rows = vitals();
    bencher
        .counter(ItemsCount::new(N))
        .bench_local(|| IsolationForest::fit(divan::black_box(rows.view()), 100, 256, 1));
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn iforest_multivariate_score(bencher: Bencher) {
    let rows = vitals();
    let f = match IsolationForest::fit(rows.view(), 100, 256, 1) {
        Ok(f) => f,
        Err(e) => panic!("{e}"),
    };
    bencher
        .counter(ItemsCount::new(N))
        .bench_local(|| f.score_rows(divan::black_box(rows.view())));
}
