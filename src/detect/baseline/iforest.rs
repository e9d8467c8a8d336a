//! Isolation forest written here (Liu, Ting & Zhou 2008), multivariate over `Array2<f32>` rows,
//! plus the univariate [`IForest`] detector that feeds it features of one series. Owns its trees
//! and a seeded generator; must not read clocks or OS randomness (same seed ⇒ same forest).

use ndarray::{Array2, ArrayView2};

use super::super::config::ThresholdPolicy;
use super::super::detector::Detector;
use super::super::error::DetectError;
use super::super::rng::SplitMix64;
use super::{check_series, check_train, not_fitted, sat};

/// One node of a tree, stored in a flat vector; children are indices into it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Node {
    /// A node that stopped splitting, with the number of training rows that reached it.
    Leaf { size: u32 },
    /// A node whose rows (two or more) are all the same row, stored at `at` in the tree's
    /// `pure` values. Plain iForest would credit any query reaching it with c(size), so after
    /// training on a flat series nothing could ever look anomalous; here a query that differs
    /// from those rows counts as isolated at this depth, as a singleton leaf would.
    Pure { size: u32, at: u32 },
    /// Rows with `row[feature] < value` go left. The value is f64 so that it lies strictly
    /// between two neighbouring f32 values and both sides are never empty.
    Split {
        feature: u32,
        value: f64,
        left: u32,
        right: u32,
    },
}

/// Largest accepted numbers of trees, sample size and columns: far beyond useful, small enough
/// that a bad setting cannot make us allocate gigabytes.
pub const MAX_TREES: usize = 10_000;
/// See [`MAX_TREES`].
pub const MAX_SAMPLE: usize = 1 << 20;
/// See [`MAX_TREES`].
pub const MAX_DIMS: usize = 1024;

/// One tree: nodes (root first) and the row values of its pure leaves, `dims` per leaf.
#[derive(Debug, Clone, PartialEq, Default)]
struct Tree {
    nodes: Vec<Node>,
    pure: Vec<f32>,
}

/// A fitted isolation forest over rows of `dims` values.
#[derive(Debug, Clone, PartialEq)]
pub struct IsolationForest {
    trees: Vec<Tree>,
    dims: usize,
    /// Rows each tree was built from (ψ = min(sample, rows)).
    psi: usize,
}

/// Average path length of an unsuccessful search in a binary search tree of n points: the
/// normaliser c(n) of the isolation score, and the depth credited to a leaf still holding n rows.
fn c(n: usize) -> f64 {
    const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

impl IsolationForest {
    /// Builds `trees` trees, each from `sample` rows drawn without replacement (all rows when
    /// there are fewer), with height limit ⌈log₂ ψ⌉. `rows` needs at least 2 rows of 1..=1024
    /// finite values. Deterministic: the same rows, settings and seed give the same forest.
    pub fn fit(
        rows: ArrayView2<'_, f32>,
        trees: usize,
        sample: usize,
        seed: u64,
    ) -> Result<Self, DetectError> {
        let (n, dims) = rows.dim();
        let bad = |what: String| Err(DetectError::Data(format!("iforest: {what}")));
        if !(1..=MAX_TREES).contains(&trees) {
            return bad(format!("trees = {trees}; accepted: 1..={MAX_TREES}"));
        }
        if !(2..=MAX_SAMPLE).contains(&sample) {
            return bad(format!("sample = {sample}; accepted: 2..={MAX_SAMPLE}"));
        }
        if !(1..=MAX_DIMS).contains(&dims) {
            return bad(format!("{dims} columns; accepted: 1..={MAX_DIMS}"));
        }
        if n < 2 {
            return bad(format!("{n} training rows; at least 2 are needed"));
        }
        if let Some(((r, col), _)) = rows.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return bad(format!(
                "training row {r} column {col} is not finite; only finite values are accepted"
            ));
        }
        let psi = sample.min(n);
        // ⌈log₂ ψ⌉: deeper nodes hold normal points, whose exact depth does not matter.
        let limit = usize::BITS - (psi - 1).leading_zeros();
        let mut rng = SplitMix64::new(seed);
        let mut pool: Vec<usize> = (0..n).collect();
        let mut forest = Vec::with_capacity(trees);
        for _ in 0..trees {
            // Partial Fisher–Yates: the first ψ entries become a sample without replacement.
            for i in 0..psi {
                let j = i + rng.below(n - i);
                pool.swap(i, j);
            }
            let mut idx: Vec<usize> = pool.iter().take(psi).copied().collect();
            let mut tree = Tree {
                nodes: Vec::with_capacity(2 * psi),
                pure: Vec::new(),
            };
            build(rows, &mut idx, 0, limit as usize, &mut rng, &mut tree);
            forest.push(tree);
        }
        Ok(Self {
            trees: forest,
            dims,
            psi,
        })
    }

    /// Columns per row.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Number of trees.
    pub fn trees(&self) -> usize {
        self.trees.len()
    }

    /// Rows each tree was built from.
    pub fn sample_size(&self) -> usize {
        self.psi
    }

    /// The anomaly score 2^(−E[h(x)] / c(ψ)) of one row, in (0, 1]: near 1 is easy to isolate
    /// (anomalous), around 0.5 or below is ordinary. Fails when the row has the wrong length
    /// or a non-finite value.
    pub fn score(&self, row: &[f32]) -> Result<f32, DetectError> {
        if row.len() != self.dims {
            return Err(DetectError::Data(format!(
                "iforest: row of {} values; this forest was fitted on {} columns",
                row.len(),
                self.dims
            )));
        }
        if let Some(i) = row.iter().position(|v| !v.is_finite()) {
            return Err(DetectError::Data(format!(
                "iforest: row value {i} is not finite; only finite values can be scored"
            )));
        }
        Ok(self.score_unchecked(row))
    }

    /// [`IsolationForest::score`] of every row.
    pub fn score_rows(&self, rows: ArrayView2<'_, f32>) -> Result<Vec<f32>, DetectError> {
        if rows.ncols() != self.dims {
            return Err(DetectError::Data(format!(
                "iforest: rows of {} values; this forest was fitted on {} columns",
                rows.ncols(),
                self.dims
            )));
        }
        if let Some(((r, col), _)) = rows.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(DetectError::Data(format!(
                "iforest: row {r} column {col} is not finite; only finite values can be scored"
            )));
        }
        Ok(self.score_rows_unchecked(rows))
    }

    fn score_rows_unchecked(&self, rows: ArrayView2<'_, f32>) -> Vec<f32> {
        let rows = rows.as_standard_layout();
        let mut totals = vec![0.0f64; rows.nrows()];
        // Tree-major: one tree (~12 KB) stays in cache while every row walks it; row-major
        // would walk all trees (~1.2 MB at the defaults) per row and miss on each of them.
        for tree in &self.trees {
            for (total, row) in totals.iter_mut().zip(rows.rows()) {
                *total += row.as_slice().map_or(0.0, |r| path_length(tree, r));
            }
        }
        totals
            .into_iter()
            .map(|t| self.to_score(t / self.trees.len().max(1) as f64))
            .collect()
    }

    fn score_unchecked(&self, row: &[f32]) -> f32 {
        let total: f64 = self.trees.iter().map(|t| path_length(t, row)).sum();
        self.to_score(total / self.trees.len().max(1) as f64)
    }

    /// 2^(−E[h] / c(ψ)) from the mean path length.
    fn to_score(&self, mean: f64) -> f32 {
        let norm = c(self.psi);
        if norm > 0.0 {
            sat((-mean / norm).exp2())
        } else {
            0.5
        }
    }
}

/// Grows one tree over the rows in `idx` (reordered in place) and returns its node index.
fn build(
    rows: ArrayView2<'_, f32>,
    idx: &mut [usize],
    depth: usize,
    limit: usize,
    rng: &mut SplitMix64,
    tree: &mut Tree,
) -> u32 {
    let me = tree.nodes.len() as u32;
    let size = idx.len() as u32;
    tree.nodes.push(Node::Leaf { size });
    if idx.len() <= 1 {
        return me;
    }
    // Only columns that still vary in this node can separate it; a constant vital (a disk that
    // never changes) would otherwise waste splits and blunt the scores.
    let mut ranges: Vec<(usize, f64, f64)> = Vec::new();
    for (col, column) in rows.columns().into_iter().enumerate() {
        let (lo, hi) = idx
            .iter()
            .filter_map(|&i| column.get(i).copied())
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if lo < hi {
            ranges.push((col, f64::from(lo), f64::from(hi)));
        }
    }
    if ranges.is_empty() {
        let at = tree.pure.len() as u32;
        if let Some(&first) = idx.first() {
            tree.pure.extend(rows.row(first).iter().copied());
        }
        if let Some(n) = tree.nodes.get_mut(me as usize) {
            *n = Node::Pure { size, at };
        }
        return me;
    }
    if depth >= limit {
        return me;
    }
    let Some(&(col, lo, hi)) = ranges.get(rng.below(ranges.len())) else {
        return me;
    };
    // Uniform in the open interval (lo, hi): 53 random bits, offset by half a step from 0.
    let u = ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let value = lo + u * (hi - lo);
    let value = if value > lo && value < hi {
        value
    } else {
        lo + (hi - lo) / 2.0
    };
    // Two-pointer partition: rows below `value` to the front.
    let mut split = 0;
    for k in 0..idx.len() {
        let below = idx
            .get(k)
            .and_then(|&i| rows.get((i, col)))
            .is_some_and(|&v| f64::from(v) < value);
        if below {
            idx.swap(split, k);
            split += 1;
        }
    }
    let (l, r) = idx.split_at_mut(split);
    let left = build(rows, l, depth + 1, limit, rng, tree);
    let right = build(rows, r, depth + 1, limit, rng, tree);
    if let Some(n) = tree.nodes.get_mut(me as usize) {
        *n = Node::Split {
            feature: col as u32,
            value,
            left,
            right,
        };
    }
    me
}

/// Depth at which `row` leaves the tree, plus c(size) for the rows its leaf still held.
fn path_length(tree: &Tree, row: &[f32]) -> f64 {
    let mut at = 0usize;
    let mut depth = 0.0;
    // Depth is bounded by the height limit; the cap only guards a malformed tree.
    for _ in 0..=tree.nodes.len() {
        match tree.nodes.get(at) {
            Some(&Node::Split {
                feature,
                value,
                left,
                right,
            }) => {
                let v = row.get(feature as usize).copied().unwrap_or(0.0);
                at = if f64::from(v) < value { left } else { right } as usize;
                depth += 1.0;
            }
            Some(&Node::Leaf { size }) => return depth + c(size as usize),
            Some(&Node::Pure { size, at }) => {
                let at = at as usize;
                let same = tree.pure.get(at..at + row.len()).is_some_and(|p| p == row);
                return if same {
                    depth + c(size as usize)
                } else {
                    depth
                };
            }
            None => return depth,
        }
    }
    depth
}

/// Settings of [`IForest`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IForestConfig {
    /// Trailing window of the "deviation from the recent mean" feature.
    pub window: usize,
    /// Trees in the forest.
    pub trees: usize,
    /// Rows per tree (ψ); 256 is the paper's default, past which scores hardly improve.
    pub sample: usize,
    /// Seed of the forest.
    pub seed: u64,
    /// Threshold over the training scores; by default the largest one: flag only what the
    /// normal period never produced (see `ZScoreConfig::threshold` for why not a quantile).
    pub threshold: ThresholdPolicy,
}

impl Default for IForestConfig {
    fn default() -> Self {
        Self {
            window: 24,
            trees: 100,
            sample: 256,
            seed: 0x6966_6F72,
            threshold: ThresholdPolicy::MaxScaled { factor: 1.0 },
        }
    }
}

/// Feature rows of `series` for the univariate detector: row r belongs to point `r + window`
/// and holds [value, first difference, value − mean of the `window` points before it]. Each
/// row uses only points up to its own.
pub fn iforest_features(series: &[f32], window: usize) -> Array2<f32> {
    let w = window.max(1);
    let mut out = Vec::with_capacity(series.len().saturating_sub(w) * 3);
    for i in w..series.len() {
        let (Some(hist), Some(&x), Some(&prev)) =
            (series.get(i - w..i), series.get(i), series.get(i - 1))
        else {
            continue;
        };
        let mean = hist.iter().map(|&v| f64::from(v)).sum::<f64>() / w as f64;
        let x64 = f64::from(x);
        out.extend([x, sat(x64 - f64::from(prev)), sat(x64 - mean)]);
    }
    let n = out.len() / 3;
    Array2::from_shape_vec((n, 3), out).unwrap_or_else(|_| Array2::zeros((0, 3)))
}

/// The univariate isolation-forest detector.
#[derive(Debug, Clone)]
pub struct IForest {
    config: IForestConfig,
    forest: Option<IsolationForest>,
    threshold: Option<f32>,
}

impl IForest {
    /// An untrained detector; fails when a setting is out of range.
    pub fn new(config: IForestConfig) -> Result<Self, DetectError> {
        if !(1..=100_000).contains(&config.window) {
            return Err(DetectError::Data(format!(
                "iforest: window {} is out of range; accepted: 1..=100000",
                config.window
            )));
        }
        if !(1..=MAX_TREES).contains(&config.trees) || !(2..=MAX_SAMPLE).contains(&config.sample) {
            return Err(DetectError::Data(format!(
                "iforest: trees = {}, sample = {}; accepted: trees 1..={MAX_TREES}, sample 2..={MAX_SAMPLE}",
                config.trees, config.sample
            )));
        }
        config.threshold.validate()?;
        Ok(Self {
            config,
            forest: None,
            threshold: None,
        })
    }

    /// The settings.
    pub fn config(&self) -> &IForestConfig {
        &self.config
    }

    /// The fitted forest, for inspection.
    pub fn forest(&self) -> Option<&IsolationForest> {
        self.forest.as_ref()
    }

    /// Training points needed: the window plus 32 feature rows, so a tree has something to split.
    pub fn min_train_len(&self) -> usize {
        self.config.window + 32
    }
}

impl Detector for IForest {
    fn name(&self) -> &'static str {
        "iforest"
    }

    fn fit(&mut self, train: &[f32]) -> Result<(), DetectError> {
        check_train("iforest", train, self.min_train_len())?;
        let rows = iforest_features(train, self.config.window);
        let c = &self.config;
        let forest = IsolationForest::fit(rows.view(), c.trees, c.sample, c.seed)?;
        let scores = forest.score_rows(rows.view())?;
        let threshold = c.threshold.threshold(&scores).ok_or_else(|| {
            DetectError::Data("iforest: no finite training scores to set a threshold".into())
        })?;
        self.forest = Some(forest);
        self.threshold = Some(threshold);
        Ok(())
    }

    fn score(&self, series: &[f32], from: usize) -> Result<Vec<f32>, DetectError> {
        let forest = self.forest.as_ref().ok_or_else(|| not_fitted("iforest"))?;
        let w = self.config.window;
        check_series("iforest", series, from.saturating_sub(w))?;
        let start = from.saturating_sub(w);
        let rows = iforest_features(series.get(start..).unwrap_or_default(), w);
        // Row r belongs to point start + w + r; only rows from `from` on are scored.
        let first = from.saturating_sub(start + w).min(rows.nrows());
        let scored = forest.score_rows_unchecked(rows.slice(ndarray::s![first.., ..]));
        let zeros = (start + w + first)
            .saturating_sub(from)
            .min(series.len().saturating_sub(from));
        let mut out = vec![0.0; zeros];
        out.extend(scored);
        Ok(out)
    }

    fn threshold(&self) -> Option<f32> {
        self.threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn average_path_length_table() {
        // c(n) = 2H(n−1) − 2(n−1)/n with H(i) ≈ ln i + γ.
        let cases = [(0, 0.0), (1, 0.0), (2, 1.0), (3, 1.2073), (256, 10.2448)];
        for (n, want) in cases {
            assert!((c(n) - want).abs() < 1e-3, "c({n}) = {}", c(n));
        }
    }

    #[test]
    fn isolated_point_scores_high_and_cluster_low() -> Result<(), DetectError> {
        let mut rng = SplitMix64::new(5);
        let mut data: Vec<f32> = (0..400)
            .flat_map(|_| [rng.uniform(1.0), rng.uniform(1.0)])
            .collect();
        data.extend([8.0, 8.0]);
        let rows =
            Array2::from_shape_vec((401, 2), data).map_err(|e| DetectError::Data(e.to_string()))?;
        let f = IsolationForest::fit(rows.view(), 100, 256, 1)?;
        let out = f.score(&[8.0, 8.0])?;
        let centre = f.score(&[0.0, 0.0])?;
        assert!(out > 0.7, "outlier {out}");
        assert!(centre < 0.5, "centre {centre}");
        assert_eq!((f.dims(), f.trees(), f.sample_size()), (2, 100, 256));
        Ok(())
    }

    #[test]
    fn constant_columns_and_bad_rows() -> Result<(), DetectError> {
        // All rows equal: every tree is one pure leaf. The training row itself scores 0.5 (the
        // average depth exactly), anything else is isolated at the root.
        let rows = Array2::from_elem((50, 3), 1.0f32);
        let f = IsolationForest::fit(rows.view(), 10, 256, 0)?;
        assert_eq!(f.score(&[1.0, 1.0, 1.0])?, 0.5);
        assert_eq!(f.score(&[1.0, 1.0, 1.5])?, 1.0);
        // One constant column among varying ones is never split on.
        let mut rng = SplitMix64::new(2);
        let mixed =
            Array2::from_shape_fn((64, 2), |(_, c)| if c == 0 { 7.0 } else { rng.next_f32() });
        let g = IsolationForest::fit(mixed.view(), 20, 64, 0)?;
        assert!(
            g.trees
                .iter()
                .flat_map(|t| &t.nodes)
                .all(|n| !matches!(n, Node::Split { feature: 0, .. }))
        );
        let msg = |r: Result<f32, DetectError>| r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg(f.score(&[1.0])).contains("3 columns"));
        assert!(msg(f.score(&[1.0, f32::NAN, 1.0])).contains("not finite"));
        let bad = array![[1.0f32, f32::INFINITY], [0.0, 0.0]];
        let e = IsolationForest::fit(bad.view(), 10, 256, 0)
            .err()
            .map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("row 0 column 1"));
        let one = array![[1.0f32]];
        let e = IsolationForest::fit(one.view(), 10, 256, 0)
            .err()
            .map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("at least 2"));
        for (t, s) in [(0, 256), (MAX_TREES + 1, 256), (10, 1)] {
            assert!(
                IsolationForest::fit(rows.view(), t, s, 0).is_err(),
                "{t} {s}"
            );
        }
        Ok(())
    }

    #[test]
    fn features_are_value_diff_and_deviation() {
        let f = iforest_features(&[1.0, 2.0, 3.0, 10.0], 2);
        assert_eq!(f, array![[3.0, 1.0, 1.5], [10.0, 7.0, 7.5]]);
        assert_eq!(iforest_features(&[1.0, 2.0], 2).nrows(), 0);
    }
}
