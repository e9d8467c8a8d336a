//! Training: `LstmAutoencoder::fit` (standardise, window, shard the batch over threads, Adam with
//! early stopping, restore the best weights, set the threshold) and the gradient shard each
//! thread runs. Maths only.

use super::adam::{Adam, add_squares, clip_factor};
use super::*;

pub(super) struct Shard {
    work: AeWork,
    grads: AeParams,
    rng: SplitMix64,
    loss: f64,
}

impl Shard {
    pub(super) fn run(
        &mut self,
        p: &AeParams,
        cfg: &LstmConfig,
        z: &[f32],
        starts: &[usize],
        scale: f32,
    ) {
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
}
