//! Benchmarks of the LSTM autoencoder (detect/): one training epoch on the seed thesis's NAB
//! series, batch-1 streaming inference and batch-256 scoring, with the default (thesis) config.
//! Run: `CARGO_TARGET_DIR=/work/bench-target cargo bench --bench lstm`.
//! FLOPs: `LstmConfig::forward_flops_per_window()` (4.93 MFLOP for the default); a training step
//! costs about 3× the forward pass (forward + two backward GEMMs per weight matrix).

use std::path::Path;

use divan::Bencher;
use divan::counter::ItemsCount;
use nocscope::detect::{BatchScorer, FitOptions, LstmAutoencoder, LstmConfig, windows_of};

const THESIS_CSV: &str =
    "/work/shared/datasets/nab/data/realKnownCause/cpu_utilization_asg_misconfiguration.csv";

fn main() {
    let cfg = LstmConfig::default();
    eprintln!(
        "forward FLOPs per window: {} ({:.2} MFLOP)",
        cfg.forward_flops_per_window(),
        cfg.forward_flops_per_window() as f64 / 1e6
    );
    divan::main();
}

/// The thesis's training part: the first 90 % of the series.
fn thesis_train() -> Vec<f32> {
    let text = std::fs::read_to_string(Path::new(THESIS_CSV)).unwrap_or_default();
    let values: Vec<f32> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(1)?.trim().parse().ok())
        .collect();
    let n = values.len() * 9 / 10;
    values.into_iter().take(n).collect()
}

fn model() -> LstmAutoencoder {
    match LstmAutoencoder::new(&LstmConfig::default(), 42) {
        Ok(m) => m,
        Err(e) => panic!("default config rejected: {e}"),
    }
}

/// One epoch (shuffle, 457 batches of 32, Adam) plus the validation pass and the final scoring
/// of all windows for the threshold; `score_all_windows` below measures that scoring alone.
#[divan::bench(sample_count = 3, sample_size = 1, args = [1, 2])]
fn train_one_epoch(bencher: Bencher, threads: usize) {
    let series = thesis_train();
    let cfg = LstmConfig {
        max_epochs: 1,
        ..Default::default()
    };
    bencher
        .counter(ItemsCount::new(series.len().saturating_sub(cfg.window) + 1))
        .with_inputs(|| match LstmAutoencoder::new(&cfg, 42) {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        })
        .bench_local_values(|mut m| {
            let opts = FitOptions {
                threads,
                ..Default::default()
            };
            if let Err(e) = m.fit(&series, &opts, |_| {}) {
                panic!("fit failed: {e}");
            }
            m
        });
}

/// Forward pass over every stride-1 window of the training part (batches of ≤256).
#[divan::bench(sample_count = 5, sample_size = 1, args = [1, 2])]
fn score_all_windows(bencher: Bencher, threads: usize) {
    let series = thesis_train();
    let m = model();
    bencher
        .counter(ItemsCount::new(series.len() - 9))
        .bench_local(|| m.score_series_threads(&series, threads));
}

/// Streaming: one new point → one window scored at batch 1.
#[divan::bench]
fn stream_batch1(bencher: Bencher) {
    let series = thesis_train();
    let m = model();
    let mut live = m.stream_scorer();
    for &x in series.iter().take(10) {
        live.push(&m, x);
    }
    let mut i = 0usize;
    bencher.bench_local(|| {
        i = (i + 1) % series.len();
        live.push(&m, series.get(i).copied().unwrap_or(0.0))
    });
}

/// 256 windows in one call.
#[divan::bench(args = [1, 2])]
fn score_batch256(bencher: Bencher, threads: usize) {
    let series = thesis_train();
    let m = model();
    let w = windows_of(series.get(..265).unwrap_or(&series), 10);
    bencher
        .counter(ItemsCount::new(w.nrows()))
        .bench_local(|| m.score_windows_threads(w.view(), threads));
}

/// 256 windows per call with buffers kept between calls (`BatchScorer`), as the engine would.
#[divan::bench(args = [1, 2])]
fn score_batch256_reused(bencher: Bencher, threads: usize) {
    let series = thesis_train();
    let m = model();
    let w = windows_of(series.get(..265).unwrap_or(&series), 10);
    let mut scorer = BatchScorer::new(threads);
    bencher
        .counter(ItemsCount::new(w.nrows()))
        .bench_local(|| scorer.score_windows(&m, w.view()));
}
