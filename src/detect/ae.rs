//! The LSTM autoencoder: its parameters and work buffers, forward/backward over a batch of
//! windows, the model type and its reports. Adam is ae/adam.rs's, training (`fit`) ae/fit.rs's,
//! scoring ae/score.rs's. Must not know about engine, store or UI types; series come in as
//! plain `&[f32]`.

use std::sync::atomic::{AtomicBool, Ordering};

use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use serde::{Deserialize, Serialize};

use super::config::{LstmConfig, Scaler};
use super::error::DetectError;
use super::gemm::{self, ALayout, Dims};
use super::lstm::{self, LayerInput, LstmParams, LstmWork, OutputGrad, dispatch, flat, flat_mut};
use super::rng::SplitMix64;

mod adam;
mod fit;
mod score;

pub(crate) use score::score_standardised;
pub use score::{BatchScorer, StreamScorer, windows_of};

/// All trainable tensors of the autoencoder.
#[derive(Debug, Clone, PartialEq)]
pub struct AeParams {
    /// Encoder layers, input first.
    pub encoder: Vec<LstmParams>,
    /// Decoder layers, bottleneck first.
    pub decoder: Vec<LstmParams>,
    /// Time-distributed dense kernel, (H_last, 1).
    pub dense_kernel: Array2<f32>,
    /// Dense bias, (1, 1).
    pub dense_bias: Array2<f32>,
}

impl AeParams {
    /// Fresh initialisation for `cfg`, fully determined by `rng`.
    pub fn new(cfg: &LstmConfig, rng: &mut SplitMix64) -> Self {
        let mut input = 1;
        let mut make = |units: &[usize], rng: &mut SplitMix64| {
            units
                .iter()
                .map(|&h| {
                    let p = LstmParams::new(input, h, rng);
                    input = h;
                    p
                })
                .collect::<Vec<_>>()
        };
        let encoder = make(&cfg.encoder_units, rng);
        let decoder = make(&cfg.decoder_units, rng);
        let lim = (6.0 / (input + 1) as f32).sqrt();
        let dense_kernel = Array2::from_shape_simple_fn((input, 1), || rng.uniform(lim));
        Self {
            encoder,
            decoder,
            dense_kernel,
            dense_bias: Array2::zeros((1, 1)),
        }
    }

    /// Same shapes, zeros.
    pub fn zeros_like(&self) -> Self {
        Self {
            encoder: self.encoder.iter().map(LstmParams::zeros_like).collect(),
            decoder: self.decoder.iter().map(LstmParams::zeros_like).collect(),
            dense_kernel: Array2::zeros(self.dense_kernel.raw_dim()),
            dense_bias: Array2::zeros(self.dense_bias.raw_dim()),
        }
    }

    /// Tensor names in file order: `encoder.{i}.kernel|recurrent_kernel|bias`, the same for
    /// `decoder.{i}`, then `dense.kernel`, `dense.bias`.
    pub fn names(n_enc: usize, n_dec: usize) -> Vec<String> {
        let mut v = Vec::new();
        for (part, n) in [("encoder", n_enc), ("decoder", n_dec)] {
            for i in 0..n {
                for t in ["kernel", "recurrent_kernel", "bias"] {
                    v.push(format!("{part}.{i}.{t}"));
                }
            }
        }
        v.push("dense.kernel".into());
        v.push("dense.bias".into());
        v
    }

    /// Tensors in [`AeParams::names`] order.
    pub fn tensors(&self) -> Vec<&Array2<f32>> {
        let mut v = Vec::new();
        for p in self.encoder.iter().chain(&self.decoder) {
            v.extend([&p.kernel, &p.recurrent, &p.bias]);
        }
        v.extend([&self.dense_kernel, &self.dense_bias]);
        v
    }

    /// Mutable tensors in [`AeParams::names`] order.
    pub fn tensors_mut(&mut self) -> Vec<&mut Array2<f32>> {
        let mut v = Vec::new();
        for p in self.encoder.iter_mut().chain(self.decoder.iter_mut()) {
            v.extend([&mut p.kernel, &mut p.recurrent, &mut p.bias]);
        }
        v.extend([&mut self.dense_kernel, &mut self.dense_bias]);
        v
    }
}

/// Buffers for one forward/backward over B windows; allocated once per batch size.
#[derive(Debug, Clone)]
pub struct AeWork {
    steps: usize,
    batch: usize,
    /// Standardised input, time-major (T·B, 1).
    pub(crate) x: Array2<f32>,
    enc: Vec<LstmWork>,
    dec: Vec<LstmWork>,
    /// Encoder outputs after dropout; the last is the bottleneck (B, H).
    enc_act: Vec<Array2<f32>>,
    dec_act: Vec<Array2<f32>>,
    enc_mask: Vec<Array2<f32>>,
    dec_mask: Vec<Array2<f32>>,
    d_enc: Vec<Array2<f32>>,
    d_dec: Vec<Array2<f32>>,
    /// Reconstruction (T·B, 1).
    pub(crate) y: Array2<f32>,
    dy: Array2<f32>,
}

impl AeWork {
    /// Buffers for `batch` windows of `cfg.window` steps.
    pub fn new(cfg: &LstmConfig, batch: usize) -> Self {
        let t = cfg.window;
        let tb = t * batch;
        let n_enc = cfg.encoder_units.len();
        let enc_rows = |i: usize| if i + 1 == n_enc { batch } else { tb };
        let enc_act: Vec<_> = cfg
            .encoder_units
            .iter()
            .enumerate()
            .map(|(i, &h)| Array2::zeros((enc_rows(i), h)))
            .collect();
        let dec_act: Vec<_> = cfg
            .decoder_units
            .iter()
            .map(|&h| Array2::zeros((tb, h)))
            .collect();
        Self {
            steps: t,
            batch,
            x: Array2::zeros((tb, 1)),
            enc: cfg
                .encoder_units
                .iter()
                .map(|&h| LstmWork::new(t, batch, h))
                .collect(),
            dec: cfg
                .decoder_units
                .iter()
                .map(|&h| LstmWork::new(t, batch, h))
                .collect(),
            enc_mask: enc_act.clone(),
            dec_mask: dec_act.clone(),
            d_enc: enc_act.clone(),
            d_dec: dec_act.clone(),
            enc_act,
            dec_act,
            y: Array2::zeros((tb, 1)),
            dy: Array2::zeros((tb, 1)),
        }
    }

    /// Time-major standardised input (T·B, 1): row t·B + j is step t of window j. Public for
    /// tests and tools that build batches themselves.
    pub fn input_mut(&mut self) -> &mut Array2<f32> {
        &mut self.x
    }

    /// Reconstruction of the last forward pass, same layout as the input.
    pub fn reconstruction(&self) -> ArrayView2<'_, f32> {
        self.y.view()
    }

    /// Number of windows these buffers hold.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Copies standardised windows into the time-major input: window `j` of `starts` is
    /// `z[starts[j] .. starts[j] + T]`. Windows past the end of `z` are zero-filled, never read
    /// out of bounds.
    pub(crate) fn load_windows(&mut self, z: &[f32], starts: &[usize]) {
        let (t_n, b) = (self.steps, self.batch);
        let x = flat_mut(self.x.view_mut());
        for t in 0..t_n {
            for (j, &st) in starts.iter().enumerate().take(b) {
                if let Some(slot) = x.get_mut(t * b + j) {
                    *slot = z.get(st + t).copied().unwrap_or(0.0);
                }
            }
        }
    }

    /// Per-window mean squared reconstruction error, appended to `out`.
    pub(crate) fn window_errors(&self, out: &mut Vec<f32>) {
        let (t_n, b) = (self.steps, self.batch);
        let x = flat(&self.x.view());
        let y = flat(&self.y.view());
        for j in 0..b {
            let mut acc = 0.0f32;
            for t in 0..t_n {
                let i = t * b + j;
                let d = y.get(i).copied().unwrap_or(0.0) - x.get(i).copied().unwrap_or(0.0);
                acc += d * d;
            }
            out.push(acc / t_n as f32);
        }
    }
}

/// `dst = src ⊙ mask` with a fresh inverted-dropout mask when training, else a plain copy.
fn dropout_forward(
    src: ArrayView2<'_, f32>,
    dst: &mut Array2<f32>,
    mask: &mut Array2<f32>,
    rate: f32,
    rng: Option<&mut SplitMix64>,
) {
    match rng {
        Some(rng) if rate > 0.0 => {
            let keep = 1.0 / (1.0 - rate);
            for m in flat_mut(mask.view_mut()) {
                *m = if rng.next_f32() >= rate { keep } else { 0.0 };
            }
            ndarray::Zip::from(dst)
                .and(&src)
                .and(&*mask)
                .for_each(|d, &s, &m| *d = s * m);
        }
        // Scoring copies every layer's output: a memcpy when both sides are contiguous (they
        // always are here), where ndarray's assign walks element by element.
        _ => match (src.to_slice(), dst.as_slice_mut()) {
            (Some(s), Some(d)) if s.len() == d.len() => d.copy_from_slice(s),
            _ => dst.assign(&src),
        },
    }
}

impl AeParams {
    /// Checks that the layers chain (input 1 → H₁ → … → dense → 1) and each tensor is shaped
    /// for its layer.
    pub fn check(&self) -> Result<(), DetectError> {
        let mut input = 1;
        for (i, l) in self.encoder.iter().chain(&self.decoder).enumerate() {
            l.check()?;
            if l.input() != input {
                return Err(DetectError::Data(format!(
                    "autoencoder layer {i} takes {} inputs; the layer before gives {input}",
                    l.input()
                )));
            }
            input = l.hidden();
        }
        if self.encoder.is_empty() || self.decoder.is_empty() {
            return Err(DetectError::Data(
                "autoencoder needs ≥ 1 encoder and ≥ 1 decoder layer".into(),
            ));
        }
        if self.dense_kernel.dim() != (input, 1) || self.dense_bias.dim() != (1, 1) {
            return Err(DetectError::Data(format!(
                "dense layer has kernel {:?} and bias {:?}; expected ({input}, 1) and (1, 1)",
                self.dense_kernel.dim(),
                self.dense_bias.dim()
            )));
        }
        Ok(())
    }

    /// Whether `ws` was built for exactly these layer sizes.
    fn fits(&self, ws: &AeWork) -> Result<(), DetectError> {
        self.check()?;
        let same = |ps: &[LstmParams], ws: &[LstmWork]| {
            ps.len() == ws.len() && ps.iter().zip(ws).all(|(p, w)| p.hidden() == w.hidden())
        };
        if same(&self.encoder, &ws.enc) && same(&self.decoder, &ws.dec) {
            Ok(())
        } else {
            Err(DetectError::Data(
                "work buffers were built for a different architecture than these weights".into(),
            ))
        }
    }

    /// Forward pass over the windows in `ws`'s input; `rng` = training (dropout on, at `rate`).
    pub fn forward(
        &self,
        ws: &mut AeWork,
        rate: f32,
        rng: Option<&mut SplitMix64>,
    ) -> Result<(), DetectError> {
        self.fits(ws)?;
        self.forward_unchecked(ws, rate, rng);
        Ok(())
    }

    /// Backward pass after [`AeParams::forward`] for loss `scale · Σ (y − x)²`; adds into `g`.
    pub fn backward(
        &self,
        ws: &mut AeWork,
        g: &mut AeParams,
        scale: f32,
        dropout: bool,
    ) -> Result<(), DetectError> {
        self.fits(ws)?;
        g.fits(ws)?;
        self.backward_unchecked(ws, g, scale, dropout);
        Ok(())
    }

    /// Layer vectors are indexed directly below: [`AeParams::fits`] (checked by every public
    /// entry point, and true by construction on the training and scoring paths) guarantees the
    /// work buffers have one entry per layer.
    pub(crate) fn forward_unchecked(
        &self,
        ws: &mut AeWork,
        rate: f32,
        mut rng: Option<&mut SplitMix64>,
    ) {
        let n_enc = self.encoder.len();
        for (i, p) in self.encoder.iter().enumerate() {
            let (done, cur) = ws.enc_act.split_at_mut(i);
            let input = match done.last() {
                Some(prev) => prev.view(),
                None => ws.x.view(),
            };
            let work = &mut ws.enc[i];
            lstm::forward_unchecked(p, LayerInput::Seq(input), work);
            let out = if i + 1 == n_enc {
                work.last()
            } else {
                work.outputs()
            };
            if let Some(dst) = cur.first_mut() {
                dropout_forward(out, dst, &mut ws.enc_mask[i], rate, rng.as_deref_mut());
            }
        }
        let Some(z) = ws.enc_act.last() else { return };
        for (i, p) in self.decoder.iter().enumerate() {
            let (done, cur) = ws.dec_act.split_at_mut(i);
            let input = match done.last() {
                Some(prev) => LayerInput::Seq(prev.view()),
                None => LayerInput::Repeat(z.view()),
            };
            let work = &mut ws.dec[i];
            lstm::forward_unchecked(p, input, work);
            if let Some(dst) = cur.first_mut() {
                dropout_forward(
                    work.outputs(),
                    dst,
                    &mut ws.dec_mask[i],
                    rate,
                    rng.as_deref_mut(),
                );
            }
        }
        let Some(top) = ws.dec_act.last() else { return };
        ws.y.assign(&self.dense_bias);
        // Same K blocking as the matrixmultiply call this replaced: identical reconstructions.
        let d = Dims::mm(top.nrows(), top.ncols(), 1, ALayout::Rows);
        gemm::gemm(
            &d,
            flat(&top.view()),
            flat(&self.dense_kernel.view()),
            flat_mut(ws.y.view_mut()),
        );
    }

    pub(crate) fn backward_unchecked(
        &self,
        ws: &mut AeWork,
        g: &mut AeParams,
        scale: f32,
        dropout: bool,
    ) {
        ndarray::Zip::from(&mut ws.dy)
            .and(&ws.y)
            .and(&ws.x)
            .for_each(|d, &y, &x| *d = 2.0 * scale * (y - x));
        let n_dec = self.decoder.len();
        let n_enc = self.encoder.len();
        if let (Some(top), Some(d_top)) = (ws.dec_act.last(), ws.d_dec.last_mut()) {
            let (rows, h) = top.dim();
            // dWᵀ (1×H) += dyᵀ·top and d_top = dy·Wᵀ, both with matrixmultiply's K blocking so
            // the numbers equal the general_mat_mul calls these replaced.
            let dw = Dims::mm(1, rows, h, ALayout::Rows);
            let dy = flat(&ws.dy.view());
            gemm::gemm(
                &dw,
                dy,
                flat(&top.view()),
                flat_mut(g.dense_kernel.view_mut()),
            );
            let s: f32 = ws.dy.iter().sum();
            g.dense_bias += s;
            d_top.fill(0.0);
            let dx = Dims::mm(rows, 1, h, ALayout::Rows);
            gemm::gemm(
                &dx,
                dy,
                flat(&self.dense_kernel.view()),
                flat_mut(d_top.view_mut()),
            );
        }
        for i in (0..n_dec).rev() {
            if dropout {
                ws.d_dec[i] *= &ws.dec_mask[i];
            }
            let (below, here) = ws.d_dec.split_at_mut(i);
            let dout = OutputGrad::Seq(here[0].view());
            let (input, dx): (LayerInput<'_>, ArrayViewMut2<'_, f32>) = match below.last_mut() {
                Some(d_prev) => (LayerInput::Seq(ws.dec_act[i - 1].view()), d_prev.view_mut()),
                None => match (ws.enc_act.last(), ws.d_enc.last_mut()) {
                    (Some(z), Some(dz)) => (LayerInput::Repeat(z.view()), dz.view_mut()),
                    _ => return,
                },
            };
            lstm::backward_unchecked(
                &self.decoder[i],
                input,
                dout,
                &mut ws.dec[i],
                &mut g.decoder[i],
                Some(dx),
            );
        }
        for i in (0..n_enc).rev() {
            if dropout {
                ws.d_enc[i] *= &ws.enc_mask[i];
            }
            let (below, here) = ws.d_enc.split_at_mut(i);
            let dout = if i + 1 == n_enc {
                OutputGrad::Last(here[0].view())
            } else {
                OutputGrad::Seq(here[0].view())
            };
            let (input, dx) = match below.last_mut() {
                Some(d_prev) => (ws.enc_act[i - 1].view(), Some(d_prev.view_mut())),
                None => (ws.x.view(), None),
            };
            lstm::backward_unchecked(
                &self.encoder[i],
                LayerInput::Seq(input),
                dout,
                &mut ws.enc[i],
                &mut g.encoder[i],
                dx,
            );
        }
    }
}

/// Options that do not define the model (so they are not in [`LstmConfig`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct FitOptions<'a> {
    /// Worker threads for the gradient shards (0 or 1 = the calling thread only). Results do not
    /// depend on it.
    pub threads: usize,
    /// Checked between batches; when set, `fit` returns [`DetectError::Cancelled`].
    pub cancel: Option<&'a AtomicBool>,
    /// Time range the training series covers, stored in the model file for the operator.
    pub data_range: Option<DataRange>,
}

/// What the training series covered (Unix milliseconds), for the model metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataRange {
    /// First sample.
    pub start_ms: i64,
    /// Last sample.
    pub end_ms: i64,
}

/// Progress of one epoch, given to the `fit` callback.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss (MSE in standardised units, dropout on).
    pub train_loss: f32,
    /// Validation loss (dropout off), `None` without a validation split.
    pub val_loss: Option<f32>,
    /// Largest global gradient norm seen in the epoch (before clipping).
    pub max_grad_norm: f32,
}

/// Summary of a finished training, stored in the model metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainReport {
    /// Epochs run.
    pub epochs: usize,
    /// Epoch whose weights were kept.
    pub best_epoch: usize,
    /// Whether patience ended training before `max_epochs`.
    pub stopped_early: bool,
    /// Per-epoch losses.
    pub loss_curve: Vec<EpochReport>,
    /// Points in the training series.
    pub points: usize,
    /// Windows used for gradient steps / for validation.
    pub train_windows: usize,
    /// Validation windows.
    pub val_windows: usize,
    /// Largest reconstruction error over all windows of the series.
    pub max_error: f32,
    /// Threshold set from the policy.
    pub threshold: f32,
}

/// The anomaly detector: an LSTM autoencoder plus its scaler and threshold.
#[derive(Debug, Clone)]
pub struct LstmAutoencoder {
    pub(crate) config: LstmConfig,
    pub(crate) seed: u64,
    pub(crate) params: AeParams,
    pub(crate) scaler: Scaler,
    pub(crate) threshold: Option<f32>,
    pub(crate) report: Option<TrainReport>,
    pub(crate) data_range: Option<DataRange>,
}

impl LstmAutoencoder {
    /// A freshly initialised, untrained model; `seed` fixes init, shuffling and dropout.
    pub fn new(config: &LstmConfig, seed: u64) -> Result<Self, DetectError> {
        config.validate()?;
        let mut rng = SplitMix64::new(seed);
        Ok(Self {
            params: AeParams::new(config, &mut rng),
            config: config.clone(),
            seed,
            scaler: Scaler::default(),
            threshold: None,
            report: None,
            data_range: None,
        })
    }

    /// The configuration the model was built with.
    pub fn config(&self) -> &LstmConfig {
        &self.config
    }

    /// Seed given to [`LstmAutoencoder::new`].
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Weights (read-only), e.g. to compare two runs.
    pub fn params(&self) -> &AeParams {
        &self.params
    }

    /// Training statistics used to standardise input.
    pub fn scaler(&self) -> Scaler {
        self.scaler
    }

    /// Anomaly threshold on window scores; `None` until trained.
    pub fn threshold(&self) -> Option<f32> {
        self.threshold
    }

    /// Overrides the threshold (e.g. after the operator tuned it).
    pub fn set_threshold(&mut self, t: f32) {
        self.threshold = t.is_finite().then_some(t);
    }

    /// Summary of the last training, if any.
    pub fn train_report(&self) -> Option<&TrainReport> {
        self.report.as_ref()
    }

    /// Time range of the training data, if the caller gave one.
    pub fn data_range(&self) -> Option<DataRange> {
        self.data_range
    }

    /// Whether `score` is above the threshold (`None` while untrained).
    pub fn is_anomaly(&self, score: f32) -> Option<bool> {
        self.threshold.map(|t| score > t)
    }
}
