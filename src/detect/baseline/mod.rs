//! Baseline detectors beside the LSTM: rolling z-score / MAD, k-means distance (netdata-style,
//! via linfa), isolation forest. Maths on plain slices and ndarray only; no engine or UI types,
//! and nothing here touches the LSTM's files or weights.

mod iforest;
mod kmeans;
mod zscore;

pub use iforest::{IForest, IForestConfig, IsolationForest, iforest_features};
pub use kmeans::{KMeansConfig, KMeansDetector, kmeans_features};
pub use zscore::{ZScore, ZScoreConfig};

use super::detector::Detector;
use super::error::DetectError;

/// Names accepted by [`by_name`], in the order they are usually listed.
pub const NAMES: [&str; 3] = ["zscore", "kmeans", "iforest"];

/// The baseline detector called `name` (`zscore`, `kmeans`, `iforest`) with its default
/// configuration, untrained.
pub fn by_name(name: &str) -> Option<Box<dyn Detector>> {
    match name {
        "zscore" => Some(Box::new(ZScore::new(ZScoreConfig::default()).ok()?)),
        "kmeans" => Some(Box::new(KMeansDetector::new(KMeansConfig::default()).ok()?)),
        "iforest" => Some(Box::new(IForest::new(IForestConfig::default()).ok()?)),
        _ => None,
    }
}

/// Rejects training data that is too short or not finite, naming the detector and what it needs.
fn check_train(detector: &str, train: &[f32], min_len: usize) -> Result<(), DetectError> {
    if let Some(i) = train.iter().position(|x| !x.is_finite()) {
        return Err(DetectError::Data(format!(
            "{detector}: training value {} at index {i} is not finite; only finite values are accepted",
            train.get(i).copied().unwrap_or(f32::NAN)
        )));
    }
    if train.len() < min_len {
        return Err(DetectError::Data(format!(
            "{detector}: {} training points; at least {min_len} are needed",
            train.len()
        )));
    }
    Ok(())
}

/// Rejects a series to score that holds a non-finite value at or after `first_read`, the first
/// index the scores depend on. Older points are never read, so a gap long ago does not stop a
/// stream from being scored (and checking them would make every newest-point call O(history)).
fn check_series(detector: &str, series: &[f32], first_read: usize) -> Result<(), DetectError> {
    let tail = series.get(first_read..).unwrap_or_default();
    match tail
        .iter()
        .position(|x| !x.is_finite())
        .map(|i| i + first_read)
    {
        Some(i) => Err(DetectError::Data(format!(
            "{detector}: series value at index {i} is not finite; only finite values can be scored"
        ))),
        None => Ok(()),
    }
}

/// The error for `score` before `fit`.
fn not_fitted(detector: &str) -> DetectError {
    DetectError::Data(format!(
        "{detector}: score called before fit; fit it on training data first"
    ))
}

/// f64 → f32 without producing inf or NaN: inputs are finite f32, but a difference of two of
/// them, or a division by a tiny scale, can exceed f32's range, and a score must stay usable.
fn sat(x: f64) -> f32 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(-f64::from(f32::MAX), f64::from(f32::MAX)) as f32
    }
}
