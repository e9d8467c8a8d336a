//! Online anomaly scoring inside the engine: which model scores which (host, vital) series, the
//! per-series warm-up scalers, stream scorers, the ongoing runs and the log of anomaly events.
//! Pure like the rest of the engine: models arrive through `Engine::set_models` (never read
//! from files here), time arrives with the points, and nothing here reads a clock.

use std::collections::VecDeque;

use crate::detect::{LstmAutoencoder, StreamScorer};
use crate::model::{AnomalyEvent, AnomalyMark, Millis};

use crate::model::Vital;

/// Name under which the LSTM autoencoder's events are reported.
pub const DETECTOR: &str = "lstm";

/// Closed anomaly events kept for the snapshot (newest first); older ones live in the store.
pub const EVENT_LOG: usize = 200;

/// A model and the series it scores. `host: None` is a generic per-vital model (such as the
/// shipped defaults): it applies to every host that has no model of its own for that vital,
/// standardised with a scaler the engine fits on each series' first points.
#[derive(Clone, Debug)]
pub struct ModelBinding {
    pub vital: Vital,
    pub host: Option<String>,
    pub model: LstmAutoencoder,
}

/// Smallest spread a warm-up scaler may use, in the vital's own unit. A series that was flat
/// during warm-up (an idle CPU at 0.3 %, memory at a steady 41.2 %) has a standard deviation near
/// zero, and dividing by it would turn the next ordinary wiggle into a 50σ "anomaly". Each floor
/// is roughly the smallest change an operator would still call "nothing happened":
/// - CPU: 2 percentage points (one busy core of 50 flickers by that much);
/// - memory, swap: 1 point (page cache breathing);
/// - load1: 0.25 (one short-lived runnable task moves it that much);
/// - fullest disk: 0.5 point (log rotation on a small disk);
/// - disk I/O: 256 KiB/s and network: 64 KiB/s (background chatter: journald flushes,
///   monitoring itself, ARP and NTP).
pub fn scale_floor(v: Vital) -> f32 {
    match v {
        Vital::Cpu => 2.0,
        Vital::Mem | Vital::Swap => 1.0,
        Vital::Load1 => 0.25,
        Vital::DiskMax => 0.5,
        Vital::DiskRead | Vital::DiskWrite => 256.0 * 1024.0,
        Vital::NetRx | Vital::NetTx => 64.0 * 1024.0,
    }
}

/// A bound model, its host resolved to an index.
#[derive(Debug)]
struct Bound {
    vital: Vital,
    host: Option<usize>,
    model: LstmAutoencoder,
    threshold: f32,
}

#[derive(Debug)]
enum Scale {
    /// Host-trained model: its own training scaler applies.
    Own,
    /// Generic model still collecting the series' first points.
    Warming(Vec<f32>),
    /// Generic model: raw x is mapped to `x·mul + add`, which the model's own scaler then turns
    /// into the series' standard score. `StreamScorer` applies the model's scaler itself, so
    /// this keeps one model (and its buffers) shared across all series.
    Mapped { mul: f32, add: f32 },
}

#[derive(Debug)]
struct Series {
    model: usize,
    scale: Scale,
    scorer: StreamScorer,
    last_score: Option<f32>,
    open: Option<AnomalyEvent>,
}

/// An anomaly run opening or closing.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    Opened(AnomalyEvent),
    Closed(AnomalyEvent),
}

/// All scoring state of one engine.
#[derive(Debug, Default)]
pub struct Scoring {
    models: Vec<Bound>,
    /// Per host, per vital (in `Vital::ALL` order): the series' scoring state, if a model
    /// applies.
    series: Vec<Vec<Option<Series>>>,
    closed: VecDeque<AnomalyEvent>,
    warmup: usize,
}

fn vital_index(v: Vital) -> usize {
    Vital::ALL.iter().position(|x| *x == v).unwrap_or(0)
}

/// Keeps a closed run in the bounded log, newest first.
fn push_closed(log: &mut VecDeque<AnomalyEvent>, ev: AnomalyEvent) {
    if log.len() == EVENT_LOG {
        log.pop_back();
    }
    log.push_front(ev);
}

/// Why a model binding was refused. The host and the caller log it, so `Display` is one
/// sentence naming the model and the fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BindError {
    #[error(
        "{vital} model{}: has no threshold (untrained); train it before binding",
        for_host(host)
    )]
    Untrained {
        vital: &'static str,
        host: Option<String>,
    },
    #[error("{vital} model for host {host:?}: no such host in this configuration (known: {known})")]
    UnknownHost {
        vital: &'static str,
        host: String,
        known: String,
    },
    #[error(
        "{vital} model: only a host's own model can be swapped in; shared models are bound at start"
    )]
    Shared { vital: &'static str },
}

fn for_host(host: &Option<String>) -> String {
    host.as_deref()
        .map(|h| format!(" for {h}"))
        .unwrap_or_default()
}

/// A binding checked against the configuration: it must carry a threshold (be trained), and a
/// host's own model must name a configured host. `Err` is one sentence saying which and why.
fn resolve(b: ModelBinding, hosts: &[&str]) -> Result<Bound, BindError> {
    let Some(threshold) = b.model.threshold() else {
        return Err(BindError::Untrained {
            vital: b.vital.key(),
            host: b.host,
        });
    };
    let host = match &b.host {
        None => None,
        Some(name) => match hosts.iter().position(|h| h == name) {
            Some(i) => Some(i),
            None => {
                return Err(BindError::UnknownHost {
                    vital: b.vital.key(),
                    host: name.clone(),
                    known: hosts.join(", "),
                });
            }
        },
    };
    Ok(Bound {
        vital: b.vital,
        host,
        model: b.model,
        threshold,
    })
}

impl Scoring {
    pub fn new(warmup_points: usize) -> Self {
        Scoring {
            warmup: warmup_points.max(2),
            ..Scoring::default()
        }
    }

    /// Points a generic model waits for before scoring a series.
    pub fn warmup(&self) -> usize {
        self.warmup
    }

    /// Changes the warm-up length; series already warming keep collecting up to the new one.
    pub fn set_warmup(&mut self, points: usize) {
        self.warmup = points.max(2);
    }

    /// Replaces all models and forgets every series' scoring state and open run (closed
    /// events are kept). Returns what could not be bound, one sentence each.
    pub fn bind(&mut self, bindings: Vec<ModelBinding>, hosts: &[&str]) -> Vec<BindError> {
        let mut problems = Vec::new();
        self.models.clear();
        for b in bindings {
            match resolve(b, hosts) {
                Ok(bound) => self.models.push(bound),
                Err(p) => problems.push(p),
            }
        }
        self.series = (0..hosts.len())
            .map(|h| {
                Vital::ALL
                    .iter()
                    .map(|&v| self.series_for(h, v))
                    .collect::<Vec<_>>()
            })
            .collect();
        problems
    }

    /// Installs or replaces one host's own model (a model retrained in the background) without
    /// touching any other series: only that (host, vital) series starts again, on the new
    /// model's own scaler. A binding without a host, without a threshold or for an unknown host
    /// is refused with the reason.
    pub fn replace(
        &mut self,
        binding: ModelBinding,
        hosts: &[&str],
        now: Millis,
    ) -> Result<Option<AnomalyEvent>, BindError> {
        let vital = binding.vital;
        if binding.host.is_none() {
            return Err(BindError::Shared { vital: vital.key() });
        }
        let bound = resolve(binding, hosts)?;
        let Some(h) = bound.host else {
            return Ok(None);
        };
        match self
            .models
            .iter()
            .position(|m| m.vital == vital && m.host == Some(h))
        {
            Some(i) => self.models[i] = bound,
            None => self.models.push(bound),
        }
        let fresh = self.series_for(h, vital);
        let slot = self
            .series
            .get_mut(h)
            .and_then(|row| row.get_mut(vital_index(vital)));
        let Some(slot) = slot else {
            return Ok(None);
        };
        // A run open under the old model ends at the swap, so the timeline never holds an
        // "opened" without its "closed".
        let closed = slot.take().and_then(|old| old.open).map(|mut ev| {
            ev.end = Some(now.max(ev.start));
            ev
        });
        *slot = fresh;
        if let Some(ev) = &closed {
            push_closed(&mut self.closed, ev.clone());
        }
        Ok(closed)
    }

    /// Fresh state for (host, vital): the host's own model wins over a generic one; the first
    /// binding of each kind wins among duplicates.
    fn series_for(&self, h: usize, v: Vital) -> Option<Series> {
        let own = self
            .models
            .iter()
            .position(|m| m.vital == v && m.host == Some(h));
        let (model, scale) = match own {
            Some(i) => (i, Scale::Own),
            None => {
                let i = self
                    .models
                    .iter()
                    .position(|m| m.vital == v && m.host.is_none())?;
                (i, Scale::Warming(Vec::with_capacity(self.warmup)))
            }
        };
        let bound = self.models.get(model)?;
        Some(Series {
            model,
            scale,
            scorer: bound.model.stream_scorer(),
            last_score: None,
            open: None,
        })
    }

    /// Whether any model is bound (the engine skips all scoring otherwise).
    pub fn is_active(&self) -> bool {
        !self.models.is_empty()
    }

    /// Whether (host, vital) has a model.
    pub fn scores(&self, h: usize, v: Vital) -> bool {
        self.slot(h, v).is_some()
    }

    fn slot(&self, h: usize, v: Vital) -> Option<&Series> {
        self.series.get(h)?.get(vital_index(v))?.as_ref()
    }

    /// Feeds one new point of a series; returns a run opening or closing, if the point caused
    /// one. A non-finite point is a gap: the window restarts after it.
    pub fn observe(
        &mut self,
        h: usize,
        host: &str,
        v: Vital,
        at: Millis,
        x: f32,
    ) -> Option<Change> {
        let warmup = self.warmup;
        let s = self.series.get_mut(h)?.get_mut(vital_index(v))?.as_mut()?;
        let bound = self.models.get(s.model)?;
        let input = match &mut s.scale {
            Scale::Own => x,
            Scale::Warming(points) => {
                if x.is_finite() {
                    points.push(x);
                }
                if points.len() < warmup {
                    return None;
                }
                let scaler = bound.model.scaler();
                let (mul, add) = fit_mapping(points, scale_floor(v), scaler.mean, scaler.std);
                // Prime the window with the warm-up's tail so scoring starts with the next
                // point, not a whole window later. The priming pushes cannot yield a score.
                let tail = points.len().saturating_sub(bound.model.config().window - 1);
                for &p in points.get(tail..).unwrap_or_default() {
                    let _ = s.scorer.push(&bound.model, p * mul + add);
                }
                s.scale = Scale::Mapped { mul, add };
                return None;
            }
            Scale::Mapped { mul, add } => x * *mul + *add,
        };
        let score = s.scorer.push(&bound.model, input)?;
        if score.is_nan() {
            // Not a judgement either way; the next full window decides.
            return None;
        }
        s.last_score = Some(score);
        let threshold = bound.threshold;
        let over = score > threshold;
        match (&mut s.open, over) {
            (None, true) => {
                let ev = AnomalyEvent {
                    host: host.to_string(),
                    vital: v.key().to_string(),
                    detector: DETECTOR.to_string(),
                    start: at,
                    end: None,
                    peak_score: score,
                    threshold,
                };
                s.open = Some(ev.clone());
                Some(Change::Opened(ev))
            }
            (Some(ev), true) => {
                ev.peak_score = ev.peak_score.max(score);
                None
            }
            (Some(_), false) => {
                let mut ev = s.open.take()?;
                ev.end = Some(at);
                push_closed(&mut self.closed, ev.clone());
                Some(Change::Closed(ev))
            }
            (None, false) => None,
        }
    }

    /// `None` until the series has been scored at least once; then whether a run is open.
    pub fn anomalous(&self, h: usize, v: Vital) -> Option<(bool, f32, f32)> {
        let s = self.slot(h, v)?;
        let score = s.last_score?;
        let threshold = self.models.get(s.model)?.threshold;
        Some((s.open.is_some(), score, threshold))
    }

    /// The host's worst ongoing anomaly: the highest latest score relative to its threshold.
    pub fn mark(&self, h: usize) -> Option<AnomalyMark> {
        let mut best: Option<(f32, AnomalyMark)> = None;
        for s in self.series.get(h)?.iter().flatten() {
            let (Some(ev), Some(score)) = (&s.open, s.last_score) else {
                continue;
            };
            let ratio = if ev.threshold > 0.0 {
                score / ev.threshold
            } else {
                score
            };
            if best.as_ref().is_none_or(|(r, _)| ratio > *r) {
                best = Some((
                    ratio,
                    AnomalyMark {
                        vital: ev.vital.clone(),
                        score,
                        threshold: ev.threshold,
                        since: ev.start,
                    },
                ));
            }
        }
        best.map(|b| b.1)
    }

    /// Ongoing and closed events, newest start first (then host, vital), at most
    /// [`EVENT_LOG`].
    pub fn events(&self) -> Vec<AnomalyEvent> {
        let mut v: Vec<AnomalyEvent> = self
            .series
            .iter()
            .flatten()
            .flatten()
            .filter_map(|s| s.open.clone())
            .chain(self.closed.iter().cloned())
            .collect();
        v.sort_by(|a, b| {
            b.start
                .cmp(&a.start)
                .then_with(|| (&a.host, &a.vital).cmp(&(&b.host, &b.vital)))
                .then_with(|| a.end.cmp(&b.end))
        });
        v.truncate(EVENT_LOG);
        v
    }
}

/// `(mul, add)` such that `(x·mul + add − model_mean) / model_std` is the series' own standard
/// score `(x − mean) / max(std, floor)`, with mean and std of the warm-up points (in f64).
fn fit_mapping(points: &[f32], floor: f32, model_mean: f32, model_std: f32) -> (f32, f32) {
    let n = points.len().max(1) as f64;
    let mean = points.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let var = points
        .iter()
        .map(|&x| (f64::from(x) - mean).powi(2))
        .sum::<f64>()
        / n;
    let std = var.sqrt().max(f64::from(floor));
    let (mean, std) = if mean.is_finite() && std.is_finite() && std > 0.0 {
        (mean, std)
    } else {
        // Warm-up values so large their spread overflows: score in the floor's units around
        // zero rather than dividing by infinity.
        (0.0, f64::from(floor).max(1.0))
    };
    let ms = f64::from(model_std);
    let mul = ms / std;
    let add = f64::from(model_mean) - ms * mean / std;
    (mul as f32, add as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_turns_raw_values_into_the_series_standard_score() {
        let pts = [10.0f32, 12.0, 14.0, 16.0];
        // mean 13, population std √5 ≈ 2.236 (above the floor of 1).
        let (mul, add) = fit_mapping(&pts, 1.0, 0.5, 2.0);
        let z = |x: f32| ((x * mul + add) - 0.5) / 2.0;
        assert!((z(13.0)).abs() < 1e-5);
        assert!((z(13.0 + 5f32.sqrt()) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn a_flat_warmup_uses_the_floor() {
        let (mul, add) = fit_mapping(&[50.0; 40], 2.0, 0.0, 1.0);
        // One point above the flat mean at the floor's width is exactly 0.5σ at a 2-point floor.
        assert!(((51.0 * mul + add) - 0.5).abs() < 1e-5);
    }

    #[test]
    fn floors_are_positive_for_every_vital() {
        assert!(Vital::ALL.iter().all(|&v| scale_floor(v) > 0.0));
    }
}
