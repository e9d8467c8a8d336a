//! Training configuration of the LSTM autoencoder, the input scaler and the threshold policies.
//! Plain data with validation; must not hold weights or run any maths beyond statistics.

use serde::{Deserialize, Serialize};

use super::error::DetectError;

/// How the anomaly threshold is derived from the reconstruction errors of the training windows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "snake_case", deny_unknown_fields)]
pub enum ThresholdPolicy {
    /// `max(train error) × factor` — the seed thesis used factor 0.78.
    MaxScaled {
        /// Multiplier on the largest training error, > 0.
        factor: f32,
    },
    /// `mean + k·σ` of the training errors (population σ).
    MeanStd {
        /// Number of standard deviations, ≥ 0.
        k: f32,
    },
    /// The q-quantile of the training errors (linear interpolation).
    Quantile {
        /// Quantile in [0, 1].
        q: f32,
    },
}

impl Default for ThresholdPolicy {
    fn default() -> Self {
        Self::MaxScaled { factor: 0.78 }
    }
}

impl ThresholdPolicy {
    /// Checks the parameter range.
    pub fn validate(&self) -> Result<(), DetectError> {
        match *self {
            Self::MaxScaled { factor } if !(factor.is_finite() && factor > 0.0) => Err(
                DetectError::config("threshold.factor", factor, "a finite number > 0"),
            ),
            Self::MeanStd { k } if !(k.is_finite() && k >= 0.0) => {
                Err(DetectError::config("threshold.k", k, "a finite number ≥ 0"))
            }
            Self::Quantile { q } if !(0.0..=1.0).contains(&q) => {
                Err(DetectError::config("threshold.q", q, "a number in [0, 1]"))
            }
            _ => Ok(()),
        }
    }

    /// Threshold over `errors`; `None` when there are no finite errors to base it on.
    pub fn threshold(&self, errors: &[f32]) -> Option<f32> {
        let mut v: Vec<f64> = errors
            .iter()
            .filter(|e| e.is_finite())
            .map(|&e| f64::from(e))
            .collect();
        if v.is_empty() {
            return None;
        }
        let n = v.len() as f64;
        let t = match *self {
            Self::MaxScaled { factor } => {
                v.iter().copied().fold(f64::NEG_INFINITY, f64::max) * f64::from(factor)
            }
            Self::MeanStd { k } => {
                let mean = v.iter().sum::<f64>() / n;
                let var = v.iter().map(|e| (e - mean) * (e - mean)).sum::<f64>() / n;
                mean + f64::from(k) * var.sqrt()
            }
            Self::Quantile { q } => {
                v.sort_by(f64::total_cmp);
                let pos = f64::from(q).clamp(0.0, 1.0) * (n - 1.0);
                let lo = pos.floor() as usize;
                let hi = pos.ceil() as usize;
                let (a, b) = (v.get(lo)?, v.get(hi)?);
                a + (b - a) * (pos - lo as f64)
            }
        };
        Some(t as f32)
    }
}

/// Standardisation with training statistics: z = (x − mean) / std.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scaler {
    /// Training mean.
    pub mean: f32,
    /// Training standard deviation (population); 1 when the series was constant.
    pub std: f32,
}

impl Default for Scaler {
    fn default() -> Self {
        Self {
            mean: 0.0,
            std: 1.0,
        }
    }
}

impl Scaler {
    /// Statistics of `xs` in f64 (an f32 running sum loses digits over 10⁵ points). A constant
    /// series has std 0; dividing by it would turn every later deviation into ±inf, so std
    /// falls back to 1 and such a series is scored in its own units around its mean.
    pub fn fit(xs: &[f32]) -> Self {
        if xs.is_empty() {
            return Self::default();
        }
        let n = xs.len() as f64;
        let mean = xs.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
        let var = xs
            .iter()
            .map(|&x| (f64::from(x) - mean).powi(2))
            .sum::<f64>()
            / n;
        let std = var.sqrt();
        let tiny = f64::from(f32::EPSILON) * mean.abs().max(1.0);
        Self {
            mean: mean as f32,
            std: if std.is_finite() && std > tiny {
                std as f32
            } else {
                1.0
            },
        }
    }

    /// Standardised value.
    pub fn apply(&self, x: f32) -> f32 {
        (x - self.mean) / self.std
    }

    /// Whether both statistics are usable (checked when loading a file).
    pub fn is_valid(&self) -> bool {
        self.mean.is_finite() && self.std.is_finite() && self.std > 0.0
    }
}

/// Everything that defines the model and its training. Defaults are the seed thesis's setup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LstmConfig {
    /// Time steps per window (T).
    pub window: usize,
    /// Encoder LSTM sizes; the last one returns only its final state (the bottleneck).
    pub encoder_units: Vec<usize>,
    /// Decoder LSTM sizes; the first one reads the bottleneck repeated T times.
    pub decoder_units: Vec<usize>,
    /// Windows per gradient step.
    pub batch_size: usize,
    /// Adam step size.
    pub learning_rate: f32,
    /// Adam β₁.
    pub beta1: f32,
    /// Adam β₂.
    pub beta2: f32,
    /// Adam ε (Keras's default 1e-7).
    pub epsilon: f32,
    /// Clip the global gradient norm to this value before the Adam step; `None` disables.
    /// On by default: Adam bounds the step size, but one huge gradient (a spike inside the
    /// training data) still poisons the second-moment estimate for ~1/(1−β₂) steps and then
    /// freezes learning; clipping keeps that rare event harmless at lr 0.01.
    pub clip_norm: Option<f32>,
    /// Inverted dropout rate on every LSTM output during training, in [0, 1).
    pub dropout: f32,
    /// Fraction of windows (taken from the end, like Keras) held out for validation.
    pub validation_split: f32,
    /// Upper bound on epochs.
    pub max_epochs: usize,
    /// Stop after this many epochs without validation improvement; best weights are restored.
    pub patience: usize,
    /// Improvement smaller than this does not reset patience.
    pub min_delta: f32,
    /// Each batch is split into this many fixed shards whose gradients are summed in order.
    /// Results depend on it (float summation order) but not on the number of threads, so a
    /// model trains bit-identically on 1 or 2 cores.
    pub grad_shards: usize,
    /// How the anomaly threshold is set after training.
    pub threshold: ThresholdPolicy,
}

impl Default for LstmConfig {
    fn default() -> Self {
        Self {
            window: 10,
            encoder_units: vec![128, 64],
            decoder_units: vec![64, 128],
            batch_size: 32,
            learning_rate: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
            clip_norm: Some(5.0),
            dropout: 0.2,
            validation_split: 0.1,
            max_epochs: 100,
            patience: 5,
            min_delta: 0.0,
            grad_shards: 2,
            threshold: ThresholdPolicy::default(),
        }
    }
}

/// Largest accepted layer size and window; far beyond anything useful, small enough that a
/// hostile model file cannot make us allocate gigabytes.
pub const MAX_UNITS: usize = 4096;
/// See [`MAX_UNITS`].
pub const MAX_WINDOW: usize = 4096;

impl LstmConfig {
    /// Checks every field; the error names the field and the accepted range.
    pub fn validate(&self) -> Result<(), DetectError> {
        if !(2..=MAX_WINDOW).contains(&self.window) {
            return Err(DetectError::config("window", self.window, "2..=4096"));
        }
        for (field, units) in [
            ("encoder_units", &self.encoder_units),
            ("decoder_units", &self.decoder_units),
        ] {
            if units.is_empty()
                || units.len() > 8
                || units.iter().any(|&u| !(1..=MAX_UNITS).contains(&u))
            {
                return Err(DetectError::config(
                    field,
                    format!("{units:?}"),
                    "1 to 8 layer sizes, each 1..=4096",
                ));
            }
        }
        if !(1..=65_536).contains(&self.batch_size) {
            return Err(DetectError::config(
                "batch_size",
                self.batch_size,
                "1..=65536",
            ));
        }
        let pos = |field, v: f32| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(DetectError::config(field, v, "a finite number > 0"))
            }
        };
        pos("learning_rate", self.learning_rate)?;
        pos("epsilon", self.epsilon)?;
        for (field, v) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&v) {
                return Err(DetectError::config(field, v, "a number in [0, 1)"));
            }
        }
        if let Some(c) = self.clip_norm {
            pos("clip_norm", c)?;
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(DetectError::config(
                "dropout",
                self.dropout,
                "a number in [0, 1)",
            ));
        }
        if !(0.0..=0.5).contains(&self.validation_split) {
            return Err(DetectError::config(
                "validation_split",
                self.validation_split,
                "a number in [0, 0.5]",
            ));
        }
        if !(1..=100_000).contains(&self.max_epochs) {
            return Err(DetectError::config(
                "max_epochs",
                self.max_epochs,
                "1..=100000",
            ));
        }
        if !(self.min_delta.is_finite() && self.min_delta >= 0.0) {
            return Err(DetectError::config(
                "min_delta",
                self.min_delta,
                "a finite number ≥ 0",
            ));
        }
        if !(1..=64).contains(&self.grad_shards) {
            return Err(DetectError::config(
                "grad_shards",
                self.grad_shards,
                "1..=64",
            ));
        }
        self.threshold.validate()
    }

    /// Multiply-adds ×2 of one forward pass over one window (gate GEMMs and the dense output;
    /// activations not counted), for benchmark GFLOP/s figures.
    pub fn forward_flops_per_window(&self) -> u64 {
        let t = self.window as u64;
        let mut input = 1u64;
        let mut flops = 0u64;
        for &h in self.encoder_units.iter().chain(&self.decoder_units) {
            let h = h as u64;
            flops += 2 * t * (input + h) * 4 * h;
            input = h;
        }
        flops + 2 * t * input
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid_and_matches_keras_flop_count() {
        let c = LstmConfig::default();
        assert!(c.validate().is_ok());
        // The issue quotes 4.98 MFLOP from Keras, which also counts activations and biases.
        let f = c.forward_flops_per_window() as f64 / 1e6;
        assert!((4.8..5.0).contains(&f), "{f}");
    }

    #[test]
    fn invalid_fields_are_named() {
        let cases: Vec<(LstmConfig, &str)> = vec![
            (
                LstmConfig {
                    window: 1,
                    ..Default::default()
                },
                "window",
            ),
            (
                LstmConfig {
                    encoder_units: vec![],
                    ..Default::default()
                },
                "encoder_units",
            ),
            (
                LstmConfig {
                    decoder_units: vec![0],
                    ..Default::default()
                },
                "decoder_units",
            ),
            (
                LstmConfig {
                    batch_size: 0,
                    ..Default::default()
                },
                "batch_size",
            ),
            (
                LstmConfig {
                    learning_rate: f32::NAN,
                    ..Default::default()
                },
                "learning_rate",
            ),
            (
                LstmConfig {
                    beta2: 1.0,
                    ..Default::default()
                },
                "beta2",
            ),
            (
                LstmConfig {
                    clip_norm: Some(0.0),
                    ..Default::default()
                },
                "clip_norm",
            ),
            (
                LstmConfig {
                    dropout: 1.0,
                    ..Default::default()
                },
                "dropout",
            ),
            (
                LstmConfig {
                    validation_split: 0.9,
                    ..Default::default()
                },
                "validation_split",
            ),
            (
                LstmConfig {
                    grad_shards: 0,
                    ..Default::default()
                },
                "grad_shards",
            ),
            (
                LstmConfig {
                    threshold: ThresholdPolicy::Quantile { q: 1.5 },
                    ..Default::default()
                },
                "threshold.q",
            ),
        ];
        for (cfg, field) in cases {
            let msg = cfg
                .validate()
                .map_err(|e| e.to_string())
                .err()
                .unwrap_or_default();
            assert!(msg.contains(&format!("`{field}`")), "{field}: {msg}");
            assert!(msg.contains("accepted"), "{msg}");
        }
    }

    #[test]
    fn threshold_policies_table() {
        let e = [1.0f32, 2.0, 3.0, 4.0, 10.0];
        let cases = [
            (ThresholdPolicy::MaxScaled { factor: 0.78 }, 7.8),
            (ThresholdPolicy::MeanStd { k: 0.0 }, 4.0),
            (ThresholdPolicy::MeanStd { k: 1.0 }, 4.0 + 10.0f32.sqrt()),
            (ThresholdPolicy::Quantile { q: 0.5 }, 3.0),
            (ThresholdPolicy::Quantile { q: 0.875 }, 7.0),
            (ThresholdPolicy::Quantile { q: 1.0 }, 10.0),
        ];
        for (p, want) in cases {
            let got = p.threshold(&e).unwrap_or(f32::NAN);
            assert!((got - want).abs() < 1e-5, "{p:?}: {got} vs {want}");
        }
        assert_eq!(ThresholdPolicy::default().threshold(&[]), None);
        assert_eq!(ThresholdPolicy::default().threshold(&[f32::NAN]), None);
    }

    #[test]
    fn policy_json_is_tagged() {
        let j = serde_json::to_string(&ThresholdPolicy::MeanStd { k: 3.0 }).unwrap_or_default();
        assert_eq!(j, r#"{"policy":"mean_std","k":3.0}"#);
        let back: Result<ThresholdPolicy, _> =
            serde_json::from_str(r#"{"policy":"quantile","q":0.99}"#);
        assert_eq!(back.ok(), Some(ThresholdPolicy::Quantile { q: 0.99 }));
    }

    #[test]
    fn scaler_guards_constant_series() {
        assert_eq!(
            Scaler::fit(&[5.0; 100]),
            Scaler {
                mean: 5.0,
                std: 1.0
            }
        );
        let s = Scaler::fit(&[1.0, 3.0]);
        assert_eq!((s.mean, s.std), (2.0, 1.0));
        let s = Scaler::fit(&[0.0, 10.0]);
        assert_eq!((s.mean, s.std), (5.0, 5.0));
        assert!(s.is_valid());
        assert_eq!(s.apply(10.0), 1.0);
    }
}
