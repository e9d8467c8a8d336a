//! Anomaly detection maths: the hand-written LSTM autoencoder, its scaler, thresholds and model
//! files, on ndarray alone. Must not depend on engine, store or UI types: series come in as
//! `&[f32]`, results go out as scores and plain structs.
//!
//! Typical use:
//! ```no_run
//! use nocscope::detect::{FitOptions, LstmAutoencoder, LstmConfig};
//! # fn main() -> Result<(), nocscope::detect::DetectError> {
//! let series: Vec<f32> = (0..2000).map(|i| (i as f32 * 0.1).sin()).collect();
//! let mut model = LstmAutoencoder::new(&LstmConfig::default(), 42)?;
//! model.fit(&series, &FitOptions { threads: 2, ..Default::default() }, |e| {
//!     eprintln!("epoch {} loss {}", e.epoch, e.train_loss)
//! })?;
//! model.save(std::path::Path::new("/tmp/cpu-model"))?;
//! let mut live = model.stream_scorer();
//! if let Some(score) = live.push(&model, 0.3) {
//!     let _anomalous = model.is_anomaly(score);
//! }
//! # Ok(()) }
//! ```

mod act;
mod ae;
pub mod baseline;
mod config;
mod detector;
mod error;
pub mod eval;
mod file;
pub mod forecast;
mod gemm;
mod lstm;
pub mod nab;
mod rng;
pub mod shipped;

pub use act::{sigmoid as fast_sigmoid, tanh as fast_tanh};
pub use ae::{
    AeParams, AeWork, BatchScorer, DataRange, EpochReport, FitOptions, LstmAutoencoder,
    StreamScorer, TrainReport, windows_of,
};
pub use config::{LstmConfig, MAX_UNITS, MAX_WINDOW, Scaler, ThresholdPolicy};
pub use detector::Detector;
pub use error::DetectError;
pub use file::{FORMAT_NAME, FORMAT_VERSION, META_FILE, WEIGHTS_FILE};
pub use lstm::{
    LayerInput, LstmParams, LstmWork, OutputGrad, backward as lstm_backward,
    forward as lstm_forward,
};
pub use rng::SplitMix64;
