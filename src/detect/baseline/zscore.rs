//! Rolling z-score detector (mean/σ or median/MAD of the trailing window). Owns only its window
//! statistics and threshold; must not keep series data between calls.

use super::super::config::ThresholdPolicy;
use super::super::detector::Detector;
use super::super::error::DetectError;
use super::{check_series, check_train, not_fitted, sat};

/// Settings of [`ZScore`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZScoreConfig {
    /// Trailing window length in points (the point itself is not part of it).
    pub window: usize,
    /// Median and MAD instead of mean and σ: one spike inside the window then does not inflate
    /// the scale and mask the next one.
    pub robust: bool,
    /// Threshold over the training scores. The default, `MaxScaled { factor: 1.0 }`, flags only
    /// what the (assumed normal) training period never produced. A quantile would flag a fixed
    /// share of normal points by construction (q = 0.99 is 14 flags a day at one point a
    /// minute), and a fixed k assumes Gaussian tails, which real metrics rarely have.
    pub threshold: ThresholdPolicy,
}

impl Default for ZScoreConfig {
    fn default() -> Self {
        Self {
            // A day of 15-minute points, or 1.5 h at one a minute.
            window: 96,
            robust: true,
            threshold: ThresholdPolicy::MaxScaled { factor: 1.0 },
        }
    }
}

/// Largest accepted window; beyond it the per-point O(window) statistics get slow.
pub const MAX_ZSCORE_WINDOW: usize = 100_000;

/// Rolling z-score: score = |x − centre| / scale of the trailing window.
#[derive(Debug, Clone)]
pub struct ZScore {
    config: ZScoreConfig,
    /// Smallest scale used, learned in `fit` (see [`ZScore::scale_floor`]).
    floor: Option<f64>,
    threshold: Option<f32>,
}

/// Consistency constant making the MAD estimate σ for Gaussian data (1 / Φ⁻¹(3/4)).
const MAD_TO_SIGMA: f64 = 1.482_602_2;
/// Same for the mean absolute deviation (√(π/2)).
const MEAN_AD_TO_SIGMA: f64 = 1.253_314_1;

impl ZScore {
    /// An untrained detector; fails when the window is outside 3..=100000 or the threshold
    /// policy is out of range.
    pub fn new(config: ZScoreConfig) -> Result<Self, DetectError> {
        if !(3..=MAX_ZSCORE_WINDOW).contains(&config.window) {
            return Err(DetectError::Data(format!(
                "zscore: window {} is out of range; accepted: 3..={MAX_ZSCORE_WINDOW}",
                config.window
            )));
        }
        config.threshold.validate()?;
        Ok(Self {
            config,
            floor: None,
            threshold: None,
        })
    }

    /// The settings.
    pub fn config(&self) -> &ZScoreConfig {
        &self.config
    }

    /// The smallest scale a window may have, after `fit`: a tenth of the training series' own
    /// scale. A flat window (MAD = σ = 0) would otherwise divide by zero, and a nearly flat one
    /// would turn the next ordinary wiggle into a huge score.
    pub fn scale_floor(&self) -> Option<f32> {
        self.floor.map(sat)
    }

    /// Training points needed: two windows, so the threshold rests on a window's worth of scores.
    pub fn min_train_len(&self) -> usize {
        2 * self.config.window
    }

    fn centre_scale(&self, window: &[f32], buf: &mut Vec<f64>) -> (f64, f64) {
        buf.clear();
        buf.extend(window.iter().map(|&x| f64::from(x)));
        if self.config.robust {
            let centre = median(buf);
            for v in buf.iter_mut() {
                *v = (*v - centre).abs();
            }
            let mean_ad = buf.iter().sum::<f64>() / buf.len().max(1) as f64;
            let mad = median(buf);
            // A window that is mostly one value (an idle counter, a full disk) has MAD 0 while
            // it still varies; the mean absolute deviation keeps that variation as the scale.
            let scale = if mad > 0.0 {
                mad * MAD_TO_SIGMA
            } else {
                mean_ad * MEAN_AD_TO_SIGMA
            };
            (centre, scale)
        } else {
            let n = buf.len().max(1) as f64;
            let mean = buf.iter().sum::<f64>() / n;
            let var = buf.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            (mean, var.sqrt())
        }
    }

    /// Scores without the fitted floor check; `floor` is the smallest scale.
    fn raw_scores(&self, series: &[f32], from: usize, floor: f64) -> Vec<f32> {
        let w = self.config.window;
        let mut buf = Vec::with_capacity(w);
        (from..series.len())
            .map(|i| {
                let (Some(window), Some(&x)) = (series.get(i.wrapping_sub(w)..i), series.get(i))
                else {
                    return 0.0;
                };
                let (centre, scale) = self.centre_scale(window, &mut buf);
                let scale = if scale.is_finite() {
                    scale.max(floor)
                } else {
                    floor
                };
                sat((f64::from(x) - centre).abs() / scale)
            })
            .collect()
    }
}

/// Median of `v` (reordered in place); 0 for an empty slice.
fn median(v: &mut [f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    let (_, &mut upper, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        upper
    } else {
        // The lower middle is the largest element left of the upper one.
        let lower = v
            .get(..n / 2)
            .and_then(|l| l.iter().copied().max_by(f64::total_cmp))
            .unwrap_or(upper);
        (lower + upper) / 2.0
    }
}

impl Detector for ZScore {
    fn name(&self) -> &'static str {
        "zscore"
    }

    fn fit(&mut self, train: &[f32]) -> Result<(), DetectError> {
        check_train("zscore", train, self.min_train_len())?;
        let mut buf = Vec::with_capacity(train.len());
        let (centre, global) = self.centre_scale(train, &mut buf);
        // When even the whole training series is flat, fall back to a few ulps of its level so
        // any later change scores large but finite.
        let tiny = f64::from(f32::EPSILON) * centre.abs().max(1.0);
        let floor = (0.1 * global).max(tiny);
        let scores = self.raw_scores(train, self.config.window, floor);
        let threshold = self.config.threshold.threshold(&scores).ok_or_else(|| {
            DetectError::Data("zscore: no finite training scores to set a threshold".into())
        })?;
        self.floor = Some(floor);
        self.threshold = Some(threshold);
        Ok(())
    }

    fn score(&self, series: &[f32], from: usize) -> Result<Vec<f32>, DetectError> {
        let floor = self.floor.ok_or_else(|| not_fitted("zscore"))?;
        check_series("zscore", series, from.saturating_sub(self.config.window))?;
        Ok(self.raw_scores(series, from, floor))
    }

    fn threshold(&self) -> Option<f32> {
        self.threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_table() {
        let cases: [(&[f64], f64); 6] = [
            (&[], 0.0),
            (&[3.0], 3.0),
            (&[2.0, 1.0], 1.5),
            (&[5.0, 1.0, 3.0], 3.0),
            (&[4.0, 1.0, 3.0, 2.0], 2.5),
            (&[7.0, 7.0, 7.0, 1.0], 7.0),
        ];
        for (xs, want) in cases {
            let mut v = xs.to_vec();
            assert_eq!(median(&mut v), want, "{xs:?}");
        }
    }

    #[test]
    fn score_is_distance_in_window_scales() -> Result<(), DetectError> {
        // Window [1..=5]: median 3, |dev| = [2,1,0,1,2], MAD 1 → scale 1.4826.
        let mut d = ZScore::new(ZScoreConfig {
            window: 5,
            robust: true,
            ..Default::default()
        })?;
        d.fit(&[1.0, 2.0, 3.0, 4.0, 5.0, 1.0, 2.0, 3.0, 4.0, 5.0])?;
        let s = d.score(
            &[1.0, 2.0, 3.0, 4.0, 5.0, 3.0 + MAD_TO_SIGMA as f32 * 2.0],
            5,
        )?;
        assert_eq!(s.len(), 1);
        assert!(
            (s.first().copied().unwrap_or(0.0) - 2.0).abs() < 1e-4,
            "{s:?}"
        );
        // Non-robust: mean 3, σ = √2.
        let mut d = ZScore::new(ZScoreConfig {
            window: 5,
            robust: false,
            ..Default::default()
        })?;
        d.fit(&[1.0, 2.0, 3.0, 4.0, 5.0, 1.0, 2.0, 3.0, 4.0, 5.0])?;
        let s = d.score(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 0)?;
        assert_eq!(&s[..5], &[0.0; 5]);
        assert!((s[5] - 3.0 / 2f32.sqrt()).abs() < 1e-5, "{s:?}");
        Ok(())
    }

    #[test]
    fn mostly_constant_window_uses_mean_deviation() -> Result<(), DetectError> {
        let mut d = ZScore::new(ZScoreConfig {
            window: 4,
            ..Default::default()
        })?;
        d.fit(&[0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 4.0])?;
        // Window [0,0,0,4]: MAD 0, mean |dev| 1 → scale 1.2533.
        let s = d.score(&[0.0, 0.0, 0.0, 4.0, 5.0], 4)?;
        assert!(
            (s[0] - (5.0 / MEAN_AD_TO_SIGMA) as f32).abs() < 1e-4,
            "{s:?}"
        );
        Ok(())
    }

    #[test]
    fn rejects_bad_window_and_unfitted_use() {
        for w in [0, 2, MAX_ZSCORE_WINDOW + 1] {
            let e = ZScore::new(ZScoreConfig {
                window: w,
                ..Default::default()
            });
            assert!(
                e.err().is_some_and(|e| e.to_string().contains("3..=")),
                "{w}"
            );
        }
        let d = ZScore::new(ZScoreConfig::default());
        let msg = d
            .map(|d| d.score(&[1.0; 200], 0).err().map(|e| e.to_string()))
            .ok()
            .flatten()
            .unwrap_or_default();
        assert!(msg.contains("before fit"), "{msg}");
    }
}
