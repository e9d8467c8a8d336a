//! The one interface every anomaly detector offers (LSTM autoencoder and the baselines), so
//! evaluation and the engine can swap them. Plain slices in, scores out: no engine or UI types.

use super::error::DetectError;

/// A univariate anomaly detector: learns normal from a training prefix, then scores points
/// causally.
pub trait Detector: Send {
    /// Short name used on the command line and in results: `lstm`, `zscore`, `kmeans`, `iforest`.
    fn name(&self) -> &'static str;

    /// Learns what normal looks like from `train` (raw values, oldest first). Fails with a clear
    /// error when there is too little data or it is not finite.
    fn fit(&mut self, train: &[f32]) -> Result<(), DetectError>;

    /// Scores `series[from..]`; the score of point `i` may use `series[..=i]` only, never a later
    /// point. Points without enough history before them score 0. Returns `series.len() - from`
    /// scores (none when `from >= series.len()`).
    fn score(&self, series: &[f32], from: usize) -> Result<Vec<f32>, DetectError>;

    /// The score above which a point counts as anomalous; `None` before `fit`.
    fn threshold(&self) -> Option<f32>;
}
