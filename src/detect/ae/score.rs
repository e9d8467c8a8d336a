//! Scoring: reconstruction errors of windows in batches (over threads, with reusable buffers),
//! and the streaming scorer for one new point at a time. Maths only.

use super::*;

/// Most windows per forward pass in batch scoring: large enough for efficient GEMMs, small
/// enough that buffers stay a few MiB and that 256 windows still split over two threads.
const SCORE_BATCH: usize = 128;

impl LstmAutoencoder {
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
