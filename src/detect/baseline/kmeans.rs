//! Netdata-style k-means distance detector: differenced, smoothed, lagged feature vectors,
//! k centroids from linfa, score = distance to the nearest centroid. Owns the only contact with
//! linfa and its ndarray 0.16 (one function, [`linfa_centroids`]); must not leak either type.

use ndarray::{Array2, ArrayView2};

use super::super::config::ThresholdPolicy;
use super::super::detector::Detector;
use super::super::error::DetectError;
use super::{check_series, check_train, not_fitted, sat};

/// Settings of [`KMeansDetector`]. Defaults follow netdata's agent (`num samples to diff = 1`,
/// `to smooth = 3`, `to lag = 5`, k = 2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KMeansConfig {
    /// Number of clusters.
    pub clusters: usize,
    /// Differencing lag: features see x[i] − x[i − diff_n], so a slow trend or a level does not
    /// look new, only a change of behaviour does.
    pub diff_n: usize,
    /// Trailing mean over this many differences, to damp single-sample jitter.
    pub smooth_n: usize,
    /// Earlier smoothed differences appended to the current one; a vector has `lag_n + 1`
    /// values, so the detector sees the shape of the last few steps, not one value.
    pub lag_n: usize,
    /// Upper bound on Lloyd iterations per run (netdata: 1000).
    pub max_iterations: u64,
    /// Independent k-means++ starts; the lowest inertia wins.
    pub runs: usize,
    /// Seed of linfa's random initialisation; the same seed gives the same centroids.
    pub seed: u64,
    /// Threshold over training distances. Netdata flags a point when its distance, min–max
    /// normalised over the training distances, exceeds 0.99; the nearest training distance is
    /// close to 0, so that is `0.99 × max`, which this default reproduces. (A 99th *percentile*
    /// would flag 1 % of normal points by construction.)
    pub threshold: ThresholdPolicy,
}

impl Default for KMeansConfig {
    fn default() -> Self {
        Self {
            clusters: 2,
            diff_n: 1,
            smooth_n: 3,
            lag_n: 5,
            max_iterations: 1000,
            runs: 3,
            seed: 0x6E6F_6373,
            threshold: ThresholdPolicy::MaxScaled { factor: 0.99 },
        }
    }
}

/// Feature vectors of `series`: row r belongs to point `r + warmup` where
/// `warmup = diff_n + smooth_n − 1 + lag_n`, and holds the smoothed differences at that point and
/// the `lag_n` points before it (newest first). Each row uses only points up to its own, so
/// the features are causal. Empty (0 rows) when the series is not longer than `warmup`.
pub fn kmeans_features(
    series: &[f32],
    diff_n: usize,
    smooth_n: usize,
    lag_n: usize,
) -> Array2<f64> {
    let dims = lag_n + 1;
    let diffs: Vec<f64> = series
        .iter()
        .zip(series.iter().skip(diff_n))
        .map(|(&a, &b)| f64::from(b) - f64::from(a))
        .collect();
    let smoothed: Vec<f64> = diffs
        .windows(smooth_n.max(1))
        .map(|w| w.iter().sum::<f64>() / w.len() as f64)
        .collect();
    let rows: Vec<f64> = smoothed
        .windows(dims)
        .flat_map(|w| w.iter().rev().copied())
        .collect();
    let n = rows.len() / dims;
    Array2::from_shape_vec((n, dims), rows).unwrap_or_else(|_| Array2::zeros((0, dims)))
}

/// The k-means distance detector.
#[derive(Debug, Clone)]
pub struct KMeansDetector {
    config: KMeansConfig,
    fitted: Option<Fitted>,
}

#[derive(Debug, Clone)]
struct Fitted {
    /// Features are divided by this (σ of the training differences), so linfa's absolute
    /// convergence tolerance means the same for bytes/s and for load averages.
    scale: f64,
    /// (k, lag_n + 1) in scaled feature units.
    centroids: Array2<f64>,
    threshold: f32,
}

impl KMeansDetector {
    /// An untrained detector; fails when a setting is out of range.
    pub fn new(config: KMeansConfig) -> Result<Self, DetectError> {
        let bad = |what: &str, v: String, ok: &str| {
            Err(DetectError::Data(format!(
                "kmeans: {what} {v} is out of range; accepted: {ok}"
            )))
        };
        if !(1..=64).contains(&config.clusters) {
            return bad("clusters", config.clusters.to_string(), "1..=64");
        }
        if !(1..=10_000).contains(&config.diff_n) {
            return bad("diff_n", config.diff_n.to_string(), "1..=10000");
        }
        if !(1..=10_000).contains(&config.smooth_n) {
            return bad("smooth_n", config.smooth_n.to_string(), "1..=10000");
        }
        if config.lag_n > 1000 {
            return bad("lag_n", config.lag_n.to_string(), "0..=1000");
        }
        if !(1..=100_000).contains(&config.max_iterations) {
            return bad(
                "max_iterations",
                config.max_iterations.to_string(),
                "1..=100000",
            );
        }
        if !(1..=100).contains(&config.runs) {
            return bad("runs", config.runs.to_string(), "1..=100");
        }
        config.threshold.validate()?;
        Ok(Self {
            config,
            fitted: None,
        })
    }

    /// The settings.
    pub fn config(&self) -> &KMeansConfig {
        &self.config
    }

    /// Points before the first one that has a full feature vector (they score 0).
    pub fn warmup(&self) -> usize {
        self.config.diff_n + self.config.smooth_n - 1 + self.config.lag_n
    }

    /// Training points needed: the warm-up plus ten feature vectors per cluster (at least 50),
    /// so every centroid rests on more than a handful of points.
    pub fn min_train_len(&self) -> usize {
        self.warmup() + (10 * self.config.clusters).max(50)
    }

    /// Centroids in scaled feature units, after `fit`.
    pub fn centroids(&self) -> Option<ArrayView2<'_, f64>> {
        self.fitted.as_ref().map(|f| f.centroids.view())
    }

    fn features(&self, series: &[f32]) -> Array2<f64> {
        let c = &self.config;
        kmeans_features(series, c.diff_n, c.smooth_n, c.lag_n)
    }
}

/// Distance from `row` to the nearest centroid.
fn nearest(centroids: ArrayView2<'_, f64>, row: ndarray::ArrayView1<'_, f64>) -> f64 {
    centroids
        .rows()
        .into_iter()
        .map(|c| {
            c.iter()
                .zip(row.iter())
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt()
        })
        .fold(f64::INFINITY, f64::min)
}

/// Runs linfa's k-means on `rows` and returns the centroids. The one place that crosses from
/// our ndarray 0.17 to linfa's 0.16 and back: linfa cannot take our arrays (different crate
/// versions are different types), so the data is copied across, once per fit.
fn linfa_centroids(
    rows: ArrayView2<'_, f64>,
    cfg: &KMeansConfig,
) -> Result<Array2<f64>, DetectError> {
    use linfa::DatasetBase;
    use linfa::traits::Fit;
    use linfa_clustering::KMeans;
    use rand_xoshiro::Xoshiro256Plus;
    use rand_xoshiro::rand_core::SeedableRng;

    let err = |what: String| DetectError::Data(format!("kmeans: linfa: {what}"));
    let records = ndarray016::Array2::from_shape_vec(rows.dim(), rows.iter().copied().collect())
        .map_err(|e| err(e.to_string()))?;
    let model = KMeans::params_with_rng(cfg.clusters, Xoshiro256Plus::seed_from_u64(cfg.seed))
        .max_n_iterations(cfg.max_iterations)
        .n_runs(cfg.runs)
        .tolerance(1e-6)
        .fit(&DatasetBase::from(records))
        .map_err(|e| err(e.to_string()))?;
    let c = model.centroids();
    Array2::from_shape_vec(c.dim(), c.iter().copied().collect()).map_err(|e| err(e.to_string()))
}

impl Detector for KMeansDetector {
    fn name(&self) -> &'static str {
        "kmeans"
    }

    fn fit(&mut self, train: &[f32]) -> Result<(), DetectError> {
        check_train("kmeans", train, self.min_train_len())?;
        let mut rows = self.features(train);
        let diffs = train
            .iter()
            .zip(train.iter().skip(self.config.diff_n))
            .map(|(&a, &b)| f64::from(b) - f64::from(a));
        let (sum, sum2) = diffs.fold((0.0, 0.0), |(s, s2), d| (s + d, s2 + d * d));
        let m = (train.len() - self.config.diff_n).max(1) as f64;
        let var = (sum2 / m - (sum / m) * (sum / m)).max(0.0);
        // A flat training series has σ 0; scoring then happens in its own units.
        let scale = if var.sqrt() > 1e-12 && var.is_finite() {
            var.sqrt()
        } else {
            1.0
        };
        rows.mapv_inplace(|v| v / scale);
        let centroids = linfa_centroids(rows.view(), &self.config)?;
        if centroids.iter().any(|v| !v.is_finite()) {
            return Err(DetectError::Data(
                "kmeans: linfa returned non-finite centroids; the training data is out of range"
                    .into(),
            ));
        }
        let dists: Vec<f32> = rows
            .rows()
            .into_iter()
            .map(|r| sat(nearest(centroids.view(), r)))
            .collect();
        let threshold = self.config.threshold.threshold(&dists).ok_or_else(|| {
            DetectError::Data("kmeans: no finite training distances to set a threshold".into())
        })?;
        self.fitted = Some(Fitted {
            scale,
            centroids,
            threshold,
        });
        Ok(())
    }

    fn score(&self, series: &[f32], from: usize) -> Result<Vec<f32>, DetectError> {
        let f = self.fitted.as_ref().ok_or_else(|| not_fitted("kmeans"))?;
        let warmup = self.warmup();
        check_series("kmeans", series, from.saturating_sub(warmup))?;
        if from >= series.len() {
            return Ok(Vec::new());
        }
        // Only the tail that is scored, plus the history its features reach back to.
        let start = from.saturating_sub(warmup);
        let tail = series.get(start..).unwrap_or_default();
        let mut rows = self.features(tail);
        rows.mapv_inplace(|v| v / f.scale);
        Ok((from..series.len())
            .map(|i| {
                let r = (i - start).checked_sub(warmup);
                match r.and_then(|r| (r < rows.nrows()).then(|| rows.row(r))) {
                    Some(row) => sat(nearest(f.centroids.view(), row)),
                    None => 0.0,
                }
            })
            .collect())
    }

    fn threshold(&self) -> Option<f32> {
        self.fitted.as_ref().map(|f| f.threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn features_are_smoothed_lagged_differences() {
        // diffs 1,2,3,4,5; smoothed over 2: 1.5,2.5,3.5,4.5; lag 1 → rows newest first.
        let f = kmeans_features(&[0.0, 1.0, 3.0, 6.0, 10.0, 15.0], 1, 2, 1);
        assert_eq!(f, array![[2.5, 1.5], [3.5, 2.5], [4.5, 3.5]]);
        // Differencing over 2 points, no smoothing, no lag.
        let f = kmeans_features(&[0.0, 1.0, 3.0, 6.0], 2, 1, 0);
        assert_eq!(f, array![[3.0], [5.0]]);
        // Too short for one vector.
        assert_eq!(kmeans_features(&[1.0, 2.0], 1, 3, 5).nrows(), 0);
    }

    #[test]
    fn linfa_finds_two_separated_groups() -> Result<(), DetectError> {
        let mut rows = Vec::new();
        for i in 0..40 {
            let jitter = f64::from(i % 5) * 0.01;
            let base = if i % 2 == 0 { 0.0 } else { 10.0 };
            rows.extend([base + jitter, base - jitter]);
        }
        let rows =
            Array2::from_shape_vec((40, 2), rows).map_err(|e| DetectError::Data(e.to_string()))?;
        let c = linfa_centroids(rows.view(), &KMeansConfig::default())?;
        let mut firsts: Vec<f64> = c.column(0).to_vec();
        firsts.sort_by(f64::total_cmp);
        assert_eq!(c.dim(), (2, 2));
        assert!(
            (firsts[0] - 0.02).abs() < 0.05 && (firsts[1] - 10.02).abs() < 0.05,
            "{c}"
        );
        Ok(())
    }

    #[test]
    fn rejects_out_of_range_settings() {
        let cases = [
            KMeansConfig {
                clusters: 0,
                ..Default::default()
            },
            KMeansConfig {
                diff_n: 0,
                ..Default::default()
            },
            KMeansConfig {
                smooth_n: 0,
                ..Default::default()
            },
            KMeansConfig {
                lag_n: 1001,
                ..Default::default()
            },
            KMeansConfig {
                runs: 0,
                ..Default::default()
            },
            KMeansConfig {
                threshold: ThresholdPolicy::Quantile { q: 2.0 },
                ..Default::default()
            },
        ];
        for cfg in cases {
            let msg = KMeansDetector::new(cfg)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(msg.contains("accepted"), "{cfg:?}: {msg}");
        }
    }
}
