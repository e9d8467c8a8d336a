//! Training behaviour of the LSTM autoencoder on small configs: determinism, learning a sine
//! wave, flagging an injected spike, streaming = batch scoring, input validation.

use std::sync::atomic::AtomicBool;

use nocscope::detect::{
    BatchScorer, DetectError, FitOptions, LstmAutoencoder, LstmConfig, ThresholdPolicy, windows_of,
};
use proptest::prelude::*;

fn tiny() -> LstmConfig {
    LstmConfig {
        window: 10,
        encoder_units: vec![12, 6],
        decoder_units: vec![6, 12],
        batch_size: 16,
        max_epochs: 3,
        patience: 3,
        ..Default::default()
    }
}

fn sine(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| 50.0 + 10.0 * (i as f32 * std::f32::consts::TAU / 25.0).sin())
        .collect()
}

fn train(
    cfg: &LstmConfig,
    seed: u64,
    threads: usize,
    series: &[f32],
) -> Result<LstmAutoencoder, DetectError> {
    let mut m = LstmAutoencoder::new(cfg, seed)?;
    m.fit(
        series,
        &FitOptions {
            threads,
            ..Default::default()
        },
        |_| {},
    )?;
    Ok(m)
}

#[test]
fn same_seed_is_bit_identical_and_other_seed_differs() -> Result<(), DetectError> {
    let s = sine(300);
    let cfg = tiny();
    let a = train(&cfg, 7, 1, &s)?;
    let b = train(&cfg, 7, 1, &s)?;
    let c = train(&cfg, 8, 1, &s)?;
    assert_eq!(a.params(), b.params());
    assert_eq!(a.train_report(), b.train_report());
    assert_ne!(a.params(), c.params());
    assert_ne!(
        a.train_report().map(|r| r.loss_curve.clone()),
        c.train_report().map(|r| r.loss_curve.clone())
    );
    Ok(())
}

#[test]
fn thread_count_does_not_change_the_result() -> Result<(), DetectError> {
    let s = sine(300);
    let cfg = tiny();
    let one = train(&cfg, 3, 1, &s)?;
    let two = train(&cfg, 3, 2, &s)?;
    assert_eq!(one.params(), two.params());
    assert_eq!(one.train_report(), two.train_report());
    Ok(())
}

#[test]
fn scoring_threads_do_not_change_scores() -> Result<(), DetectError> {
    let m = LstmAutoencoder::new(&tiny(), 6)?;
    let s = sine(700);
    let one = m.score_series_threads(&s, 1)?;
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for threads in [2, 3, 16] {
        assert_eq!(
            bits(&one),
            bits(&m.score_series_threads(&s, threads)?),
            "threads {threads}"
        );
    }
    let w = windows_of(&s, 10);
    assert_eq!(bits(&one), bits(&m.score_windows_threads(w.view(), 2)?));
    let mut reuse = BatchScorer::new(2);
    for _ in 0..2 {
        assert_eq!(bits(&one), bits(&reuse.score_windows(&m, w.view())?));
    }
    // Reused buffers must follow a model with other layer sizes.
    let other = LstmAutoencoder::new(
        &LstmConfig {
            encoder_units: vec![9, 4],
            ..tiny()
        },
        6,
    )?;
    assert_eq!(
        bits(&other.score_windows(w.view())?),
        bits(&reuse.score_windows(&other, w.view())?)
    );
    assert_eq!(one.len(), 691);
    Ok(())
}

#[test]
fn learns_a_sine_and_flags_an_injected_spike() -> Result<(), DetectError> {
    let s = sine(800);
    let cfg = LstmConfig {
        max_epochs: 25,
        patience: 25,
        dropout: 0.0,
        ..tiny()
    };
    let m = train(&cfg, 1, 2, &s)?;
    let report = m
        .train_report()
        .cloned()
        .ok_or(DetectError::Data("no report".into()))?;
    let first = report.loss_curve.first().map_or(f32::NAN, |e| e.train_loss);
    let best = report
        .loss_curve
        .iter()
        .map(|e| e.train_loss)
        .fold(f32::INFINITY, f32::min);
    assert!(best < first * 0.25, "loss {first} -> {best}");
    let threshold = m.threshold().unwrap_or(f32::NAN);
    assert!(threshold.is_finite() && threshold > 0.0);

    // Fresh data from the same process, with one spike of 4 standard deviations (std ≈ 7).
    let mut test = sine(200);
    let spike_at = 120;
    if let Some(v) = test.get_mut(spike_at) {
        *v += 30.0;
    }
    let scores = m.score_series(&test)?;
    let window = cfg.window;
    let covering = |i: usize| i <= spike_at && spike_at < i + window;
    let spike_max = scores
        .iter()
        .enumerate()
        .filter(|(i, _)| covering(*i))
        .map(|(_, &s)| s)
        .fold(0.0f32, f32::max);
    let clean_max = scores
        .iter()
        .enumerate()
        .filter(|(i, _)| !covering(*i))
        .map(|(_, &s)| s)
        .fold(0.0f32, f32::max);
    // max × 0.78 deliberately flags the worst training windows too, so clean windows are held to
    // the training maximum rather than to the threshold.
    assert!(
        spike_max > 10.0 * report.max_error,
        "spike {spike_max} vs max train error {}",
        report.max_error
    );
    assert!(
        spike_max > 10.0 * threshold,
        "spike {spike_max} vs threshold {threshold}"
    );
    assert!(
        clean_max <= report.max_error * 1.05,
        "clean {clean_max} vs max train error {}",
        report.max_error
    );
    assert_eq!(m.is_anomaly(spike_max), Some(true));
    Ok(())
}

#[test]
fn stop_flag_cancels_and_leaves_model_unchanged() -> Result<(), DetectError> {
    let mut m = LstmAutoencoder::new(&tiny(), 1)?;
    let before = m.params().clone();
    let stop = AtomicBool::new(true);
    let r = m.fit(
        &sine(200),
        &FitOptions {
            cancel: Some(&stop),
            ..Default::default()
        },
        |_| {},
    );
    assert!(
        matches!(r, Err(DetectError::Cancelled { epochs: 0 })),
        "{r:?}"
    );
    assert_eq!(m.params(), &before);
    assert_eq!(m.threshold(), None);
    Ok(())
}

#[test]
fn early_stopping_reports_best_epoch_and_progress() -> Result<(), DetectError> {
    let cfg = LstmConfig {
        max_epochs: 40,
        patience: 2,
        learning_rate: 0.05,
        ..tiny()
    };
    let mut m = LstmAutoencoder::new(&cfg, 9)?;
    let mut seen = Vec::new();
    let r = m.fit(&sine(300), &FitOptions::default(), |e| seen.push(e.epoch))?;
    assert_eq!(seen, (1..=r.epochs).collect::<Vec<_>>());
    assert!(r.best_epoch >= 1 && r.best_epoch <= r.epochs);
    if r.stopped_early {
        assert_eq!(r.epochs, r.best_epoch + 2);
    }
    assert!(r.val_windows > 0 && r.train_windows > r.val_windows);
    assert!(
        r.loss_curve
            .iter()
            .all(|e| e.val_loss.is_some_and(f32::is_finite))
    );
    Ok(())
}

#[test]
fn bad_training_input_is_rejected_with_position() -> Result<(), DetectError> {
    let mut m = LstmAutoencoder::new(&tiny(), 1)?;
    let mut s = sine(100);
    if let Some(v) = s.get_mut(42) {
        *v = f32::NAN;
    }
    let cases: Vec<(Vec<f32>, &str)> = vec![
        (s, "index 42"),
        (sine(5), "at least window + 1 = 11"),
        (vec![], "has 0 points"),
    ];
    for (series, want) in cases {
        let msg = m
            .fit(&series, &FitOptions::default(), |_| {})
            .map(|_| ())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(msg.contains(want), "{want}: {msg}");
    }
    let msg = m
        .score_windows(windows_of(&sine(30), 9).view())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("exactly 10"), "{msg}");
    Ok(())
}

#[test]
fn constant_series_trains_without_nan() -> Result<(), DetectError> {
    let m = train(
        &LstmConfig {
            threshold: ThresholdPolicy::MeanStd { k: 3.0 },
            ..tiny()
        },
        2,
        1,
        &[7.5; 100],
    )?;
    assert_eq!(m.scaler().std, 1.0);
    assert!(m.threshold().is_some_and(f32::is_finite));
    Ok(())
}

#[test]
fn stream_scorer_survives_a_model_swap() -> Result<(), DetectError> {
    let a = LstmAutoencoder::new(&tiny(), 1)?;
    let b = LstmAutoencoder::new(
        &LstmConfig {
            window: 5,
            encoder_units: vec![3, 2],
            decoder_units: vec![2],
            ..tiny()
        },
        1,
    )?;
    let mut live = a.stream_scorer();
    for x in sine(12) {
        live.push(&a, x);
    }
    // Different window and layers: the ring restarts, so 4 points give nothing, the 5th a score.
    let got: Vec<bool> = sine(5)
        .into_iter()
        .map(|x| live.push(&b, x).is_some())
        .collect();
    assert_eq!(got, [false, false, false, false, true]);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The streaming scorer must give exactly the batch score of the window ending at each point,
    /// and a gap (NaN) must restart the window.
    #[test]
    fn stream_scores_equal_batch_scores(
        xs in prop::collection::vec(-100.0f32..100.0, 0..40),
        gap in prop::option::of(0usize..40),
    ) {
        let cfg = LstmConfig { window: 4, encoder_units: vec![5, 3], decoder_units: vec![3, 5], ..Default::default() };
        let m = LstmAutoencoder::new(&cfg, 4).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut series = xs.clone();
        if let Some(g) = gap.filter(|&g| g < series.len()) {
            series[g] = f32::NAN;
        }
        let mut live = m.stream_scorer();
        let streamed: Vec<Option<f32>> = series.iter().map(|&x| live.push(&m, x)).collect();
        // Expected: split at the gap and batch-score each finite run separately.
        let mut expected = Vec::new();
        for run in series.split(|x| !x.is_finite()) {
            let batch = m.score_series(run).map_err(|e| TestCaseError::fail(e.to_string()))?;
            expected.extend(std::iter::repeat_n(None, run.len().min(cfg.window - 1)));
            expected.extend(batch.into_iter().map(Some));
            expected.push(None); // the NaN itself
        }
        expected.truncate(series.len());
        prop_assert_eq!(streamed.len(), expected.len());
        for (s, e) in streamed.iter().zip(&expected) {
            match (s, e) {
                (Some(a), Some(b)) => prop_assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{} vs {}", a, b),
                (None, None) => {}
                _ => prop_assert!(false, "streamed {:?} expected {:?}", streamed, expected),
            }
        }
    }

    /// Quantile thresholds never decrease with q and stay inside the error range.
    #[test]
    fn quantile_threshold_is_monotone(errs in prop::collection::vec(0.0f32..10.0, 1..50), q1 in 0.0f32..=1.0, q2 in 0.0f32..=1.0) {
        let (lo, hi) = if q1 <= q2 { (q1, q2) } else { (q2, q1) };
        let a = ThresholdPolicy::Quantile { q: lo }.threshold(&errs).unwrap_or(f32::NAN);
        let b = ThresholdPolicy::Quantile { q: hi }.threshold(&errs).unwrap_or(f32::NAN);
        let min = errs.iter().copied().fold(f32::INFINITY, f32::min);
        let max = errs.iter().copied().fold(0.0, f32::max);
        prop_assert!(a <= b + 1e-5);
        prop_assert!(a >= min - 1e-5 && b <= max + 1e-5);
    }
}
