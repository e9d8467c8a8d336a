//! The LSTM autoencoder: parameters, forward/backward over a batch of windows, Adam training with
//! early stopping, window scoring and a streaming scorer. Must not know about engine, store or
//! UI types; series come in as plain `&[f32]`.

use std::sync::atomic::{AtomicBool, Ordering};

use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use serde::{Deserialize, Serialize};

use super::config::{LstmConfig, Scaler};
use super::error::DetectError;
use super::gemm::{self, ALayout, Dims};
use super::lstm::{self, LayerInput, LstmParams, LstmWork, OutputGrad, dispatch, flat, flat_mut};
use super::rng::SplitMix64;

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

/// Adam state (first and second moments, step count).
#[derive(Debug, Clone)]
struct Adam {
    m: AeParams,
    v: AeParams,
    step: i32,
}

impl Adam {
    fn new(p: &AeParams) -> Self {
        Self {
            m: p.zeros_like(),
            v: p.zeros_like(),
            step: 0,
        }
    }

    /// One update with bias correction folded into the step size (Kingma & Ba, §2).
    /// `clip`, if set, scales every gradient first (global-norm clipping).
    /// With `threads` > 1 every tensor is split in halves and the second halves run on a helper
    /// thread: the update is element-wise, so the split cannot change a bit, and it runs between
    /// batches where the other core would idle.
    fn update(
        &mut self,
        cfg: &LstmConfig,
        p: &mut AeParams,
        g: &AeParams,
        clip: Option<f32>,
        threads: usize,
    ) {
        self.step = self.step.saturating_add(1);
        let (b1, b2) = (cfg.beta1, cfg.beta2);
        let lr_t =
            cfg.learning_rate * (1.0 - b2.powi(self.step)).sqrt() / (1.0 - b1.powi(self.step));
        let eps_hat = cfg.epsilon * (1.0 - b2.powi(self.step)).sqrt();
        let it = p
            .tensors_mut()
            .into_iter()
            .zip(g.tensors())
            .zip(self.m.tensors_mut())
            .zip(self.v.tensors_mut());
        let step = AdamStep {
            b1,
            b2,
            lr_t,
            eps_hat,
            clip,
        };
        type Part<'a> = (&'a mut [f32], &'a [f32], &'a mut [f32], &'a mut [f32]);
        let (mut lo, mut hi): (Vec<Part<'_>>, Vec<Part<'_>>) = (Vec::new(), Vec::new());
        for (((w, gr), m), v) in it {
            let (w, gr) = (flat_mut(w.view_mut()), flat(&gr.view()));
            let (m, v) = (flat_mut(m.view_mut()), flat_mut(v.view_mut()));
            let half = w.len() / 2;
            let same = gr.len() == w.len() && m.len() == w.len() && v.len() == w.len();
            if threads > 1 && half > 0 && same {
                // half < len of all four (checked just above), so the splits are in range.
                let (w0, w1) = w.split_at_mut(half);
                let (g0, g1) = gr.split_at(half);
                let (m0, m1) = m.split_at_mut(half);
                let (v0, v1) = v.split_at_mut(half);
                lo.push((w0, g0, m0, v0));
                hi.push((w1, g1, m1, v1));
            } else {
                lo.push((w, gr, m, v));
            }
        }
        let run = |parts: Vec<Part<'_>>| {
            for (w, g, m, v) in parts {
                adam_slices(w, g, m, v, step);
            }
        };
        if hi.is_empty() {
            run(lo);
        } else {
            std::thread::scope(|sc| {
                sc.spawn(|| run(hi));
                run(lo);
            });
        }
    }
}

/// Constants of one Adam step.
#[derive(Clone, Copy)]
struct AdamStep {
    b1: f32,
    b2: f32,
    lr_t: f32,
    eps_hat: f32,
    clip: Option<f32>,
}

dispatch! {
    /// One Adam step over a tensor's flat storage. It runs between batches, on one thread, so
    /// its vector width shows directly in the epoch time.
    fn adam_slices / adam_slices_on(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: AdamStep)
        => adam_slices_body
}

#[inline(always)]
fn adam_slices_body(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: AdamStep) {
    let AdamStep {
        b1,
        b2,
        lr_t,
        eps_hat,
        clip,
    } = k;
    // Multiplying by 1 would be exact too, but an unclipped step skips the multiply.
    let (scaled, kc) = match clip {
        Some(kc) => (true, kc),
        None => (false, 1.0),
    };
    for (((w, &gr), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let gr = if scaled { gr * kc } else { gr };
        *m = b1 * *m + (1.0 - b1) * gr;
        *v = b2 * *v + (1.0 - b2) * gr * gr;
        *w -= lr_t * *m / (v.sqrt() + eps_hat);
    }
}

/// `acc` plus the squares of `xs`, in f64 and in order: the global gradient norm is summed
/// tensor by tensor in file order, so its value (reported per epoch) and every clipping decision
/// are reproducible.
fn add_squares(mut acc: f64, xs: &[f32]) -> f64 {
    for &x in xs {
        acc += f64::from(x) * f64::from(x);
    }
    acc
}

/// Global norm from its sum of squares, and the factor that brings it down to `max` when it is
/// larger. The factor is applied inside the Adam step rather than by rescaling the gradients in
/// a pass of their own; x·k is the same number either way.
fn clip_factor(sum_sq: f64, max: Option<f32>) -> (f32, Option<f32>) {
    let norm = sum_sq.sqrt() as f32;
    let k = match max {
        Some(max) if norm > max => Some(max / norm),
        _ => None,
    };
    (norm, k)
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

/// Most windows per forward pass in batch scoring: large enough for efficient GEMMs, small
/// enough that buffers stay a few MiB and that 256 windows still split over two threads.
const SCORE_BATCH: usize = 128;

struct Shard {
    work: AeWork,
    grads: AeParams,
    rng: SplitMix64,
    loss: f64,
}

impl Shard {
    fn run(&mut self, p: &AeParams, cfg: &LstmConfig, z: &[f32], starts: &[usize], scale: f32) {
        if self.work.batch() != starts.len() {
            self.work = AeWork::new(cfg, starts.len());
        }
        for t in self.grads.tensors_mut() {
            t.fill(0.0);
        }
        self.work.load_windows(z, starts);
        let train = cfg.dropout > 0.0;
        p.forward_unchecked(&mut self.work, cfg.dropout, Some(&mut self.rng));
        self.loss = ndarray::Zip::from(&self.work.y)
            .and(&self.work.x)
            .fold(0.0f64, |a, &y, &x| a + f64::from((y - x) * (y - x)));
        p.backward_unchecked(&mut self.work, &mut self.grads, scale, train);
    }
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

    /// Trains on `series` (raw values, one feature, evenly spaced). Standardises with the series'
    /// own statistics, cuts stride-1 windows, holds out the last `validation_split` of them,
    /// runs Adam with early stopping and restores the best weights, then sets the threshold from
    /// the errors over all windows. The model is only modified on success.
    pub fn fit(
        &mut self,
        series: &[f32],
        opts: &FitOptions<'_>,
        mut progress: impl FnMut(&EpochReport),
    ) -> Result<TrainReport, DetectError> {
        let cfg = self.config.clone();
        cfg.validate()?;
        if let Some(i) = series.iter().position(|x| !x.is_finite()) {
            return Err(DetectError::Data(format!(
                "training series has a non-finite value at index {i}; gaps must be removed or \
                 filled before training"
            )));
        }
        let t_n = cfg.window;
        if series.len() < t_n + 1 {
            return Err(DetectError::Data(format!(
                "training series has {} points; at least window + 1 = {} are needed",
                series.len(),
                t_n + 1
            )));
        }
        let scaler = Scaler::fit(series);
        let z: Vec<f32> = series.iter().map(|&x| scaler.apply(x)).collect();
        let n_win = z.len() - t_n + 1;
        let n_val = (n_win as f64 * f64::from(cfg.validation_split)).floor() as usize;
        let n_train = n_win - n_val;
        if n_train == 0 {
            return Err(DetectError::Data(
                "no training windows after the validation split".into(),
            ));
        }

        let mut rng = SplitMix64::new(self.seed ^ 0xA076_1D64_78BD_642F);
        let mut params = self.params.clone();
        let mut best = params.clone();
        let mut adam = Adam::new(&params);
        let n_shards = cfg.grad_shards.min(cfg.batch_size).max(1);
        let shard_rows = cfg.batch_size.div_ceil(n_shards);
        let mut shards: Vec<Shard> = (0..n_shards)
            .map(|_| Shard {
                work: AeWork::new(&cfg, shard_rows),
                grads: params.zeros_like(),
                rng: SplitMix64::new(0),
                loss: 0.0,
            })
            .collect();
        let mut total = params.zeros_like();
        let mut order: Vec<usize> = (0..n_train).collect();
        let mut curve = Vec::new();
        let mut best_loss = f32::INFINITY;
        let mut best_epoch = 0;
        let mut wait = 0;
        let mut stopped_early = false;
        let threads = opts.threads.max(1);

        for epoch in 1..=cfg.max_epochs {
            rng.shuffle(&mut order);
            let mut loss_sum = 0.0f64;
            let mut max_norm = 0.0f32;
            for batch in order.chunks(cfg.batch_size) {
                if opts.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                    return Err(DetectError::Cancelled { epochs: epoch - 1 });
                }
                let scale = 1.0 / (batch.len() * t_n) as f32;
                let per = batch.len().div_ceil(n_shards);
                for sh in shards.iter_mut() {
                    sh.rng = rng.fork();
                }
                let parts: Vec<&[usize]> = batch.chunks(per).collect();
                let active = &mut shards[..parts.len()];
                if threads > 1 && parts.len() > 1 {
                    let p = &params;
                    let (cfg_ref, z_ref) = (&cfg, &z[..]);
                    std::thread::scope(|sc| {
                        let mut it = active.iter_mut().zip(&parts);
                        let first = it.next();
                        for (sh, part) in it {
                            sc.spawn(move || sh.run(p, cfg_ref, z_ref, part, scale));
                        }
                        if let Some((sh, part)) = first {
                            sh.run(p, cfg_ref, z_ref, part, scale);
                        }
                    });
                } else {
                    for (sh, part) in active.iter_mut().zip(&parts) {
                        sh.run(&params, &cfg, &z, part, scale);
                    }
                }
                // Summed in shard order so the result never depends on thread timing; one
                // tensor at a time so it is still in cache when its squares are added up.
                let mut sq = 0.0f64;
                for (i, t) in total.tensors_mut().into_iter().enumerate() {
                    t.fill(0.0);
                    for sh in active.iter() {
                        if let Some(g) = sh.grads.tensors().get(i) {
                            *t += *g;
                        }
                    }
                    sq = add_squares(sq, flat(&t.view()));
                }
                for sh in active.iter() {
                    loss_sum += sh.loss;
                }
                let (norm, clip) = clip_factor(sq, cfg.clip_norm);
                max_norm = max_norm.max(norm);
                adam.update(&cfg, &mut params, &total, clip, threads);
            }
            let train_loss = (loss_sum / (n_train * t_n) as f64) as f32;
            let val_loss = (n_val > 0).then(|| {
                let starts: Vec<usize> = (n_train..n_win).collect();
                let errs = score_standardised(&params, &cfg, &z, &starts, threads);
                errs.iter().map(|&e| f64::from(e)).sum::<f64>() as f32 / errs.len() as f32
            });
            let report = EpochReport {
                epoch,
                train_loss,
                val_loss,
                max_grad_norm: max_norm,
            };
            progress(&report);
            curve.push(report);
            let monitored = val_loss.unwrap_or(train_loss);
            if !monitored.is_finite() {
                return Err(DetectError::Data(format!(
                    "training diverged at epoch {epoch} (loss {monitored}); lower learning_rate or \
                     enable clip_norm"
                )));
            }
            if monitored < best_loss - cfg.min_delta {
                best_loss = monitored;
                best_epoch = epoch;
                best.clone_from(&params);
                wait = 0;
            } else {
                wait += 1;
                if wait >= cfg.patience.max(1) {
                    stopped_early = epoch < cfg.max_epochs;
                    break;
                }
            }
        }

        let all: Vec<usize> = (0..n_win).collect();
        let errors = score_standardised(&best, &cfg, &z, &all, threads);
        let max_error = errors.iter().copied().fold(0.0f32, f32::max);
        let threshold = cfg.threshold.threshold(&errors).ok_or_else(|| {
            DetectError::Data("reconstruction errors are not finite; cannot set a threshold".into())
        })?;
        let report = TrainReport {
            epochs: curve.len(),
            best_epoch,
            stopped_early,
            loss_curve: curve,
            points: series.len(),
            train_windows: n_train,
            val_windows: n_val,
            max_error,
            threshold,
        };
        self.params = best;
        self.scaler = scaler;
        self.threshold = Some(threshold);
        self.report = Some(report.clone());
        self.data_range = opts.data_range;
        Ok(report)
    }

    /// Scores raw windows, shape (N, window): the mean squared reconstruction error of each in
    /// standardised units. Rejects a wrong width or a non-finite value, naming its position.
    pub fn score_windows(&self, windows: ArrayView2<'_, f32>) -> Result<Vec<f32>, DetectError> {
        self.score_windows_threads(windows, 1)
    }

    /// [`LstmAutoencoder::score_windows`] on up to `threads` threads (worth it from ~64 windows).
    pub fn score_windows_threads(
        &self,
        windows: ArrayView2<'_, f32>,
        threads: usize,
    ) -> Result<Vec<f32>, DetectError> {
        self.check_windows(windows)?;
        let t_n = self.config.window;
        let z: Vec<f32> = windows.iter().map(|&x| self.scaler.apply(x)).collect();
        let starts: Vec<usize> = (0..windows.nrows()).map(|r| r * t_n).collect();
        Ok(score_standardised(
            &self.params,
            &self.config,
            &z,
            &starts,
            threads,
        ))
    }

    fn check_windows(&self, windows: ArrayView2<'_, f32>) -> Result<(), DetectError> {
        let t_n = self.config.window;
        if windows.ncols() != t_n {
            return Err(DetectError::Data(format!(
                "windows have {} columns; this model takes exactly {t_n} (its window)",
                windows.ncols()
            )));
        }
        if let Some(((r, c), _)) = windows.indexed_iter().find(|(_, x)| !x.is_finite()) {
            return Err(DetectError::Data(format!(
                "window {r} has a non-finite value at step {c}; only finite values can be scored"
            )));
        }
        Ok(())
    }

    /// Scores every stride-1 window of `series`; element i belongs to the window starting at i.
    /// Shorter than one window gives an empty vector.
    pub fn score_series(&self, series: &[f32]) -> Result<Vec<f32>, DetectError> {
        self.score_series_threads(series, 1)
    }

    /// [`LstmAutoencoder::score_series`] on up to `threads` threads.
    pub fn score_series_threads(
        &self,
        series: &[f32],
        threads: usize,
    ) -> Result<Vec<f32>, DetectError> {
        if let Some(i) = series.iter().position(|x| !x.is_finite()) {
            return Err(DetectError::Data(format!(
                "series has a non-finite value at index {i}; only finite values can be scored"
            )));
        }
        let t_n = self.config.window;
        let z: Vec<f32> = series.iter().map(|&x| self.scaler.apply(x)).collect();
        let starts: Vec<usize> = (0..(z.len() + 1).saturating_sub(t_n)).collect();
        Ok(score_standardised(
            &self.params,
            &self.config,
            &z,
            &starts,
            threads,
        ))
    }

    /// A scorer for one new point at a time, with its own preallocated buffers.
    pub fn stream_scorer(&self) -> StreamScorer {
        StreamScorer {
            ring: Vec::with_capacity(self.config.window),
            next: 0,
            work: AeWork::new(&self.config, 1),
            out: Vec::with_capacity(1),
        }
    }
}

/// Errors of the windows `z[s..s+T]` for each `s` in `starts`, in `starts` order, with fresh
/// buffers (see [`score_with`]).
pub(crate) fn score_standardised(
    p: &AeParams,
    cfg: &LstmConfig,
    z: &[f32],
    starts: &[usize],
    threads: usize,
) -> Vec<f32> {
    let mut slots: Vec<Option<AeWork>> = vec![None; threads.clamp(1, MAX_SCORE_THREADS)];
    score_with(p, cfg, z, starts, &mut slots)
}

/// Most threads one scoring call uses.
const MAX_SCORE_THREADS: usize = 16;

/// Scores with one reusable buffer slot per thread (`slots.len()` threads). The batches depend
/// only on `starts.len()` and threads only take whole batches, so the scores are bit-identical
/// for any thread count (the GEMM kernel, and thus rounding, depends on batch size).
fn score_with(
    p: &AeParams,
    cfg: &LstmConfig,
    z: &[f32],
    starts: &[usize],
    slots: &mut [Option<AeWork>],
) -> Vec<f32> {
    // Equal-sized batches (2 × 150 rather than 256 + 44) keep every GEMM well shaped.
    let n_batches = starts.len().div_ceil(SCORE_BATCH).max(1);
    let size = starts.len().div_ceil(n_batches).max(1);
    let batches: Vec<&[usize]> = starts.chunks(size).collect();
    let threads = slots.len().min(batches.len()).max(1);
    let per = batches.len().div_ceil(threads).max(1);
    let mut parts = batches.chunks(per).zip(slots.iter_mut());
    let Some((first, first_slot)) = parts.next() else {
        return Vec::new();
    };
    let rest: Vec<_> = parts.collect();
    if rest.is_empty() {
        return score_batches(p, cfg, z, first, first_slot);
    }
    std::thread::scope(|sc| {
        let handles: Vec<_> = rest
            .into_iter()
            .map(|(part, slot)| {
                let n: usize = part.iter().map(|b| b.len()).sum();
                (n, sc.spawn(move || score_batches(p, cfg, z, part, slot)))
            })
            .collect();
        let mut out = score_batches(p, cfg, z, first, first_slot);
        for (n, h) in handles {
            // A panicking worker would be a bug in this module; its windows score NaN (never
            // "normal") rather than taking the console down.
            out.extend(h.join().unwrap_or_else(|_| vec![f32::NAN; n]));
        }
        out
    })
}

fn score_batches(
    p: &AeParams,
    cfg: &LstmConfig,
    z: &[f32],
    batches: &[&[usize]],
    work: &mut Option<AeWork>,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(batches.iter().map(|b| b.len()).sum());
    for chunk in batches {
        let ws = match work {
            Some(w) if w.batch() == chunk.len() && p.fits(w).is_ok() => w,
            _ => work.insert(AeWork::new(cfg, chunk.len())),
        };
        ws.load_windows(z, chunk);
        p.forward_unchecked(ws, 0.0, None);
        ws.window_errors(&mut out);
    }
    out
}

/// Batch scoring that keeps its buffers (one set per thread) between calls, for callers that
/// score the same model repeatedly: allocating and first-touching the buffers costs about as
/// much as scoring a few hundred windows.
#[derive(Debug, Clone)]
pub struct BatchScorer {
    slots: Vec<Option<AeWork>>,
    z: Vec<f32>,
    starts: Vec<usize>,
}

impl BatchScorer {
    /// A scorer using up to `threads` threads (clamped to 1..=16).
    pub fn new(threads: usize) -> Self {
        Self {
            slots: vec![None; threads.clamp(1, MAX_SCORE_THREADS)],
            z: Vec::new(),
            starts: Vec::new(),
        }
    }

    /// Same as [`LstmAutoencoder::score_windows`], reusing this scorer's buffers.
    pub fn score_windows(
        &mut self,
        model: &LstmAutoencoder,
        windows: ArrayView2<'_, f32>,
    ) -> Result<Vec<f32>, DetectError> {
        model.check_windows(windows)?;
        let t_n = model.config.window;
        self.z.clear();
        self.z
            .extend(windows.iter().map(|&x| model.scaler.apply(x)));
        self.starts.clear();
        self.starts.extend((0..windows.nrows()).map(|r| r * t_n));
        Ok(score_with(
            &model.params,
            &model.config,
            &self.z,
            &self.starts,
            &mut self.slots,
        ))
    }
}

/// Scores a live series point by point: once `window` points have arrived, every new point
/// yields the score of the window ending at it. Holds no reference to the model so the engine
/// can keep models and scorers in separate maps.
#[derive(Debug, Clone)]
pub struct StreamScorer {
    ring: Vec<f32>,
    next: usize,
    work: AeWork,
    out: Vec<f32>,
}

impl StreamScorer {
    /// Feeds one raw value. A non-finite value (a gap) restarts the window, because a window
    /// bridging a gap would be scored as if the gap did not exist.
    pub fn push(&mut self, model: &LstmAutoencoder, x: f32) -> Option<f32> {
        let t_n = model.config.window;
        // A scorer handed a different model than before starts over with matching buffers
        // instead of feeding mismatched shapes to the kernels.
        if self.work.steps != t_n || model.params.fits(&self.work).is_err() {
            self.reset();
            self.work = AeWork::new(&model.config, 1);
        }
        if !x.is_finite() {
            self.reset();
            return None;
        }
        let z = model.scaler.apply(x);
        if self.ring.len() < t_n {
            self.ring.push(z);
        } else if let Some(slot) = self.ring.get_mut(self.next) {
            *slot = z;
        }
        self.next = (self.next + 1) % t_n;
        if self.ring.len() < t_n {
            return None;
        }
        // Oldest value sits at `next` once the ring is full.
        {
            let xs = flat_mut(self.work.x.view_mut());
            let (newer, older) = self.ring.split_at(self.next);
            for (dst, &v) in xs.iter_mut().zip(older.iter().chain(newer)) {
                *dst = v;
            }
        }
        model.params.forward_unchecked(&mut self.work, 0.0, None);
        self.out.clear();
        self.work.window_errors(&mut self.out);
        self.out.first().copied()
    }

    /// Forgets buffered points.
    pub fn reset(&mut self) {
        self.ring.clear();
        self.next = 0;
    }
}

/// A `(N, T)` array of the stride-1 windows of `series` (helper for callers and benches).
pub fn windows_of(series: &[f32], window: usize) -> Array2<f32> {
    let n = (series.len() + 1).saturating_sub(window.max(1));
    Array2::from_shape_fn((n, window), |(r, c)| {
        series.get(r + c).copied().unwrap_or(0.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::lstm::Isa;

    /// The Adam step gives the same bits on every instruction set, clipped or not, over a length
    /// that leaves a tail after every vector width.
    #[test]
    fn adam_agrees_across_instruction_sets() {
        let mut rng = SplitMix64::new(11);
        let n = 203;
        let init: Vec<Vec<f32>> = (0..4)
            .map(|i| {
                (0..n)
                    .map(|_| rng.uniform(if i == 3 { 0.0 } else { 1.0 }).abs())
                    .collect()
            })
            .collect();
        for clip in [None, Some(0.37f32)] {
            let step = AdamStep {
                b1: 0.9,
                b2: 0.999,
                lr_t: 1e-3,
                eps_hat: 1e-7,
                clip,
            };
            let run = |isa: Isa| {
                let (mut w, g, mut m, mut v) = (
                    init[0].clone(),
                    init[1].clone(),
                    init[2].clone(),
                    init[3].clone(),
                );
                for _ in 0..3 {
                    adam_slices_on(isa, &mut w, &g, &mut m, &mut v, step);
                }
                [w, m, v].map(|x| x.iter().map(|f| f.to_bits()).collect::<Vec<_>>())
            };
            let want = run(Isa::Plain);
            assert_eq!(run(Isa::Wide), want, "clip {clip:?}");
            assert_eq!(run(Isa::Avx2), want, "clip {clip:?}");
            // And the scalar formula itself, so the shared body cannot drift unnoticed.
            let (w0, g0, m0) = (init[0][5], init[1][5] * clip.unwrap_or(1.0), init[2][5]);
            let m1 = 0.9 * m0 + (1.0 - 0.9) * g0;
            let v1 = (1.0 - 0.999) * g0 * g0;
            let w1 = w0 - 1e-3 * m1 / (v1.sqrt() + 1e-7);
            let (mut w, mut m, mut v) = (vec![w0], vec![m0], vec![0.0]);
            adam_slices(&mut w, &[init[1][5]], &mut m, &mut v, step);
            assert_eq!((w[0], m[0], v[0]), (w1, m1, v1));
        }
    }
}
