//! Finite-difference gradient checks for every layer of the detect module: a single LSTM layer
//! (sequence input with I = 1 and I > 1, repeated input, all-steps and last-step outputs) and the
//! whole autoencoder including the dense output. f32 with central differences; the tolerance
//! covers the fast tanh (|err| < 1e-4) whose derivative we take as 1 − y², so a wrong formula
//! (sign, missing term, wrong step) fails by orders of magnitude more.

use ndarray::{Array2, ArrayView2};
use nocscope::detect::{
    AeParams, AeWork, LayerInput, LstmConfig, LstmParams, LstmWork, OutputGrad, SplitMix64,
    lstm_backward, lstm_forward,
};

const EPS: f32 = 1e-2;

fn close(analytic: f32, numeric: f32) -> bool {
    (analytic - numeric).abs() <= 2e-3 + 3e-2 * analytic.abs().max(numeric.abs())
}

fn random(rows: usize, cols: usize, rng: &mut SplitMix64) -> Array2<f32> {
    Array2::from_shape_simple_fn((rows, cols), || rng.uniform(1.0))
}

/// Picks a handful of indices per tensor (all of them when small), deterministically.
fn probe_indices(len: usize, rng: &mut SplitMix64) -> Vec<usize> {
    if len <= 12 {
        (0..len).collect()
    } else {
        (0..12).map(|_| rng.below(len)).collect()
    }
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    SeqAll,
    SeqLast,
    Repeat,
}

/// Loss = Σ proj ⊙ outputs, so dL/doutputs = proj.
fn layer_loss(
    p: &LstmParams,
    x: ArrayView2<'_, f32>,
    mode: Mode,
    proj: &Array2<f32>,
    t: usize,
    b: usize,
) -> f64 {
    let mut ws = LstmWork::new(t, b, p.hidden());
    let input = match mode {
        Mode::Repeat => LayerInput::Repeat(x),
        _ => LayerInput::Seq(x),
    };
    lstm_forward(p, input, &mut ws).unwrap_or_else(|e| panic!("{e}"));
    let out = match mode {
        Mode::SeqLast => ws.last(),
        _ => ws.outputs(),
    };
    out.iter()
        .zip(proj.iter())
        .map(|(&o, &w)| f64::from(o) * f64::from(w))
        .sum()
}

fn check_layer(input: usize, hidden: usize, mode: Mode) {
    let (t, b) = (5, 3);
    let mut rng = SplitMix64::new(11 + input as u64 * 7 + hidden as u64);
    let mut p = LstmParams::new(input, hidden, &mut rng);
    // Non-trivial bias so the gates are not all near 0.5.
    p.bias.mapv_inplace(|v| v + rng.uniform(0.5));
    let x_rows = if matches!(mode, Mode::Repeat) {
        b
    } else {
        t * b
    };
    let x = random(x_rows, input, &mut rng);
    let out_rows = if matches!(mode, Mode::SeqLast) {
        b
    } else {
        t * b
    };
    let proj = random(out_rows, hidden, &mut rng);

    let mut ws = LstmWork::new(t, b, hidden);
    let li = match mode {
        Mode::Repeat => LayerInput::Repeat(x.view()),
        _ => LayerInput::Seq(x.view()),
    };
    lstm_forward(&p, li, &mut ws).unwrap_or_else(|e| panic!("{e}"));
    let og = match mode {
        Mode::SeqLast => OutputGrad::Last(proj.view()),
        _ => OutputGrad::Seq(proj.view()),
    };
    let mut g = p.zeros_like();
    let mut dx = Array2::zeros(x.raw_dim());
    lstm_backward(&p, li, og, &mut ws, &mut g, Some(dx.view_mut()))
        .unwrap_or_else(|e| panic!("{e}"));

    let mut failures = Vec::new();
    let mut checked = 0;
    for which in 0..3 {
        let len = [&p.kernel, &p.recurrent, &p.bias][which].len();
        for idx in probe_indices(len, &mut rng) {
            let bump = |p: &mut LstmParams, d: f32| {
                let tensor = [&mut p.kernel, &mut p.recurrent, &mut p.bias];
                if let Some(tv) = tensor
                    .into_iter()
                    .nth(which)
                    .and_then(|t| t.iter_mut().nth(idx))
                {
                    *tv += d;
                }
            };
            let mut pp = p.clone();
            bump(&mut pp, EPS);
            let lp = layer_loss(&pp, x.view(), mode, &proj, t, b);
            bump(&mut pp, -2.0 * EPS);
            let lm = layer_loss(&pp, x.view(), mode, &proj, t, b);
            let numeric = ((lp - lm) / (2.0 * f64::from(EPS))) as f32;
            let analytic = [&g.kernel, &g.recurrent, &g.bias][which]
                .iter()
                .nth(idx)
                .copied()
                .unwrap_or(f32::NAN);
            checked += 1;
            if !close(analytic, numeric) {
                failures.push(format!(
                    "param {which}[{idx}]: analytic {analytic} numeric {numeric}"
                ));
            }
        }
    }
    for idx in probe_indices(x.len(), &mut rng) {
        let mut xp = x.clone();
        if let Some(v) = xp.iter_mut().nth(idx) {
            *v += EPS;
        }
        let lp = layer_loss(&p, xp.view(), mode, &proj, t, b);
        if let Some(v) = xp.iter_mut().nth(idx) {
            *v -= 2.0 * EPS;
        }
        let lm = layer_loss(&p, xp.view(), mode, &proj, t, b);
        let numeric = ((lp - lm) / (2.0 * f64::from(EPS))) as f32;
        let analytic = dx.iter().nth(idx).copied().unwrap_or(f32::NAN);
        checked += 1;
        if !close(analytic, numeric) {
            failures.push(format!("dx[{idx}]: analytic {analytic} numeric {numeric}"));
        }
    }
    assert!(checked > 30, "too few probes: {checked}");
    assert!(
        failures.is_empty(),
        "{mode:?} I={input} H={hidden}: {failures:#?}"
    );
}

#[test]
fn lstm_layer_univariate_sequence_all_outputs() {
    check_layer(1, 4, Mode::SeqAll);
}

#[test]
fn lstm_layer_multivariate_sequence_all_outputs() {
    check_layer(3, 4, Mode::SeqAll);
}

#[test]
fn lstm_layer_last_state_output() {
    check_layer(3, 5, Mode::SeqLast);
}

#[test]
fn lstm_layer_repeated_input() {
    check_layer(4, 3, Mode::Repeat);
}

fn small_config() -> LstmConfig {
    LstmConfig {
        window: 4,
        encoder_units: vec![5, 3],
        decoder_units: vec![3, 5],
        dropout: 0.0,
        ..Default::default()
    }
}

/// Dropout masks come from a generator seeded identically on every call, so each evaluation
/// sees the same masks and the finite difference is taken on one fixed sub-network.
const MASK_SEED: u64 = 99;

fn ae_loss(p: &AeParams, cfg: &LstmConfig, x: &Array2<f32>) -> f64 {
    let mut ws = AeWork::new(cfg, x.nrows() / cfg.window);
    load(&mut ws, x);
    p.forward(&mut ws, cfg.dropout, Some(&mut SplitMix64::new(MASK_SEED)))
        .unwrap_or_else(|e| panic!("{e}"));
    // Sum rather than mean: larger gradients keep the deep encoder weights well above the
    // absolute tolerance, so a broken bottleneck path cannot hide under it.
    let scale = 1.0;
    ws.reconstruction()
        .iter()
        .zip(x.iter())
        .map(|(&y, &v)| scale * f64::from(y - v).powi(2))
        .sum()
}

fn load(ws: &mut AeWork, x: &Array2<f32>) {
    ws.input_mut().assign(x);
}

#[test]
fn whole_autoencoder_including_dense() {
    check_autoencoder(small_config());
}

#[test]
fn whole_autoencoder_with_dropout_masks() {
    check_autoencoder(LstmConfig {
        dropout: 0.3,
        ..small_config()
    });
}

fn check_autoencoder(cfg: LstmConfig) {
    let b = 3;
    let mut rng = SplitMix64::new(5);
    let p = AeParams::new(&cfg, &mut rng);
    let x = random(cfg.window * b, 1, &mut rng);
    let mut ws = AeWork::new(&cfg, b);
    load(&mut ws, &x);
    p.forward(&mut ws, cfg.dropout, Some(&mut SplitMix64::new(MASK_SEED)))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut g = p.zeros_like();
    p.backward(&mut ws, &mut g, 1.0, cfg.dropout > 0.0)
        .unwrap_or_else(|e| panic!("{e}"));

    let names = AeParams::names(cfg.encoder_units.len(), cfg.decoder_units.len());
    let mut failures = Vec::new();
    let mut checked = 0;
    for (ti, name) in names.iter().enumerate() {
        let len = p.tensors().get(ti).map_or(0, |t| t.len());
        for idx in probe_indices(len, &mut rng) {
            let mut pp = p.clone();
            let bump = |pp: &mut AeParams, d: f32| {
                if let Some(v) = pp
                    .tensors_mut()
                    .into_iter()
                    .nth(ti)
                    .and_then(|t| t.iter_mut().nth(idx))
                {
                    *v += d;
                }
            };
            bump(&mut pp, EPS);
            let lp = ae_loss(&pp, &cfg, &x);
            bump(&mut pp, -2.0 * EPS);
            let lm = ae_loss(&pp, &cfg, &x);
            let numeric = ((lp - lm) / (2.0 * f64::from(EPS))) as f32;
            let analytic = g
                .tensors()
                .get(ti)
                .and_then(|t| t.iter().nth(idx).copied())
                .unwrap_or(f32::NAN);
            checked += 1;
            if !close(analytic, numeric) {
                failures.push(format!(
                    "{name}[{idx}]: analytic {analytic} numeric {numeric}"
                ));
            }
        }
    }
    assert_eq!(names.len(), 14);
    assert!(checked > 100, "too few probes: {checked}");
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Guards the checker itself: a gradient that is wrong by a plausible mistake (e.g. dropping the
/// forget-gate path or a factor 2 in the MSE) must not pass `close`.
#[test]
fn checker_rejects_plausible_mistakes() {
    for (a, n) in [(0.2f32, 0.1f32), (-0.05, 0.05), (0.01, 0.0)] {
        assert!(!close(a, n), "{a} vs {n}");
    }
    assert!(close(0.1000, 0.1005));
}

/// The public layer API validates shapes instead of panicking inside a GEMM.
#[test]
fn mismatched_shapes_are_errors_not_panics() {
    let mut rng = SplitMix64::new(1);
    let p = LstmParams::new(2, 3, &mut rng);
    let mut ws = LstmWork::new(4, 2, 3);
    let cases: Vec<(Array2<f32>, &str)> = vec![
        (
            Array2::zeros((8, 3)),
            "input has shape (8, 3); expected (8, 2)",
        ),
        (
            Array2::zeros((7, 2)),
            "input has shape (7, 2); expected (8, 2)",
        ),
    ];
    for (x, want) in cases {
        let msg = lstm_forward(&p, LayerInput::Seq(x.view()), &mut ws)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(msg.contains(want), "{msg}");
    }
    let mut wrong_ws = LstmWork::new(4, 2, 5);
    let x = Array2::zeros((8, 2));
    assert!(lstm_forward(&p, LayerInput::Seq(x.view()), &mut wrong_ws).is_err());
    let cfg = small_config();
    let params = AeParams::new(&cfg, &mut rng);
    let mut other = AeWork::new(
        &LstmConfig {
            encoder_units: vec![6, 3],
            ..small_config()
        },
        2,
    );
    assert!(params.forward(&mut other, 0.0, None).is_err());
    let mut broken = params.clone();
    broken.dense_kernel = Array2::zeros((4, 1));
    let mut ws = AeWork::new(&cfg, 2);
    let msg = broken
        .forward(&mut ws, 0.0, None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("dense layer"), "{msg}");
}
