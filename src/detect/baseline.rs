//! Baseline detectors beside the LSTM: rolling z-score / MAD, k-means distance, isolation
//! forest. Maths on plain slices and ndarray only; no engine or UI types.

use super::detector::Detector;

/// The baseline detector called `name` (`zscore`, `kmeans`, `iforest`), untrained.
pub fn by_name(_name: &str) -> Option<Box<dyn Detector>> {
    None
}
