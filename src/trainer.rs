//! The background trainer: one low-priority thread that trains an LSTM autoencoder per
//! (host, vital) once the history holds enough points, retrains on a schedule, saves each model
//! to the data dir and hands it over on a channel. Also the helpers `nocscope train` shares
//! with it (pooling, minimum data, model paths). Must not touch the engine, the UI or SQLite:
//! history comes through the [`HistorySource`] the caller provides ([`store_source`] adapts
//! the store's `Reader`).
//!
//! ```no_run
//! use nocscope::trainer::{Trainer, TrainerConfig};
//! # fn main() -> std::io::Result<()> {
//! let cfg = TrainerConfig::new("/var/lib/nocscope".into(), 15_000);
//! let history = |_host: &str, _vital: &str, _from: i64, _to: i64| Ok(Vec::new());
//! let (trainer, events) = Trainer::spawn(cfg, history, nocscope::collect::scheduler::wall_clock_ms)?;
//! trainer.watch("web1", "cpu_pct");
//! for event in events.try_iter() { /* hand models to the engine */ let _ = event; }
//! trainer.shutdown();
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::detect::{DataRange, DetectError, FitOptions, LstmAutoencoder, LstmConfig, TrainReport};
use crate::model::Millis;

/// Fewest windows worth training on: below this the validation split holds a handful of
/// windows and the threshold rests on noise.
pub const MIN_WINDOWS: usize = 64;

/// Points a series needs before a model with `cfg` is trained on it.
pub fn min_points(cfg: &LstmConfig) -> usize {
    cfg.window + MIN_WINDOWS - 1
}

/// Where the model of `vital` on `host` lives: `<data_dir>/models/<host>/<vital>/`. Each name
/// becomes one path component (anything but `[A-Za-z0-9._-]` turns into `_`, and `.`/`..`
/// are escaped), so a host name can never point outside the models directory.
pub fn model_dir(data_dir: &Path, host: &str, vital: &str) -> PathBuf {
    data_dir
        .join("models")
        .join(path_component(host))
        .join(path_component(vital))
}

fn path_component(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match s.as_str() {
        "" | "." | ".." => format!("_{s}"),
        _ => s,
    }
}

/// Several series pooled into one training series: each is standardised with its own mean and
/// standard deviation first, because a shipped model is applied to any host's series after the
/// engine standardises that series itself, so it must learn shapes, not levels. Segments shorter
/// than `window` cannot hold a window, and constant segments have no shape to learn (and would
/// pull the pooled spread below 1), so both are left out.
pub fn pool_standardised(segments: &[Vec<f32>], window: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(segments.iter().map(Vec::len).sum());
    for seg in segments.iter().filter(|s| s.len() >= window.max(1)) {
        let first = seg.first().copied().unwrap_or(0.0);
        if seg.iter().all(|&x| x == first) {
            continue;
        }
        let sc = crate::detect::Scaler::fit(seg);
        out.extend(seg.iter().map(|&x| sc.apply(x)));
    }
    out
}

/// A way to read one series' history, oldest first, `(timestamp ms, value)`. The app passes
/// a closure over a store `Reader` (source `host/<host>`, key = vital key); tests pass fakes.
pub trait HistorySource: Send + 'static {
    /// Points of `vital` on `host` with `from <= t <= to`.
    fn history(
        &mut self,
        host: &str,
        vital: &str,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<(Millis, f64)>, String>;
}

impl<F> HistorySource for F
where
    F: FnMut(&str, &str, Millis, Millis) -> Result<Vec<(Millis, f64)>, String> + Send + 'static,
{
    fn history(
        &mut self,
        host: &str,
        vital: &str,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<(Millis, f64)>, String> {
        self(host, vital, from, to)
    }
}

/// History from the store at `db` (`history.db`): source `host/<host>`, key = vital key. The
/// read connection is opened on first use, in the trainer's thread, and reopened after an
/// error (the file may not exist yet when the console starts).
pub fn store_source(db: PathBuf) -> impl HistorySource {
    let mut reader: Option<crate::store::Reader> = None;
    move |host: &str, vital: &str, from: Millis, to: Millis| {
        let r = match reader.as_mut() {
            Some(r) => r,
            None => reader.insert(crate::store::Reader::open(&db).map_err(|e| e.to_string())?),
        };
        let got = r.query(&format!("host/{host}"), vital, from, to);
        if got.is_err() {
            reader = None;
        }
        got.map_err(|e| e.to_string())
    }
}

/// What the trainer does and when.
#[derive(Debug, Clone)]
pub struct TrainerConfig {
    /// Models go to [`model_dir`] under this directory.
    pub data_dir: PathBuf,
    /// Train once a series has this many points (default: 2 days at the poll interval).
    pub min_points: usize,
    /// Retrain a series this long after its last training (default 24 h).
    pub retrain: Duration,
    /// How much history a training reads, back from now (default 7 days).
    pub lookback: Duration,
    /// How often the thread looks for work (default 10 min; a `watch` also wakes it).
    pub check_every: Duration,
    /// Architecture and training settings.
    pub lstm: LstmConfig,
    /// Seed of every model (training is deterministic given the data).
    pub seed: u64,
    /// Threads per training (default 1: the console's machine is the one in trouble).
    pub threads: usize,
    /// Nice value of the thread (Linux; 19 = only idle CPU).
    pub nice: i32,
}

impl TrainerConfig {
    /// Defaults for a poll interval of `interval_ms`.
    pub fn new(data_dir: PathBuf, interval_ms: i64) -> Self {
        let per_day = (86_400_000 / interval_ms.max(1)).max(1) as usize;
        Self {
            data_dir,
            min_points: 2 * per_day,
            retrain: Duration::from_secs(24 * 3600),
            lookback: Duration::from_secs(7 * 24 * 3600),
            check_every: Duration::from_secs(600),
            lstm: LstmConfig::default(),
            seed: 42,
            threads: 1,
            nice: 19,
        }
    }
}

/// A model the trainer finished and saved.
#[derive(Debug, Clone)]
pub struct Trained {
    pub host: String,
    pub vital: String,
    pub model: LstmAutoencoder,
    pub report: TrainReport,
    /// Where it was saved.
    pub dir: PathBuf,
}

/// What the trainer reports on its channel.
#[derive(Debug)]
pub enum TrainerEvent {
    /// A (re)trained model, already saved.
    Trained(Box<Trained>),
    /// Not enough history yet (reported at every check until there is).
    Waiting {
        host: String,
        vital: String,
        points: usize,
        needed: usize,
    },
    /// Reading history, training or saving failed; retried at the next check.
    Failed {
        host: String,
        vital: String,
        error: String,
    },
}

enum Msg {
    Watch(String, String),
    Stop,
}

/// Handle to the trainer thread. Every method returns at once except `shutdown`, which cancels
/// a running training (between two batches) and joins the thread.
pub struct Trainer {
    tx: Sender<Msg>,
    cancel: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Trainer {
    /// Starts the thread. `clock` gives "now" in Unix ms (pass `collect::scheduler::wall_clock_ms`; tests pass a
    /// fake). Events arrive on the returned receiver; a dropped receiver is not an error.
    pub fn spawn(
        cfg: TrainerConfig,
        source: impl HistorySource,
        clock: impl Fn() -> Millis + Send + 'static,
    ) -> std::io::Result<(Trainer, Receiver<TrainerEvent>)> {
        let (tx, rx) = mpsc::channel();
        let (ev_tx, ev_rx) = mpsc::channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            cfg,
            source: Box::new(source),
            clock: Box::new(clock),
            cancel: cancel.clone(),
            events: ev_tx,
            last_trained: BTreeMap::new(),
        };
        let thread = std::thread::Builder::new()
            .name("trainer".into())
            .spawn(move || worker.run(rx))?;
        Ok((
            Trainer {
                tx,
                cancel,
                thread: Some(thread),
            },
            ev_rx,
        ))
    }

    /// Adds a series to train (idempotent) and wakes the thread to look at it.
    pub fn watch(&self, host: &str, vital: &str) {
        let _ = self
            .tx
            .send(Msg::Watch(host.to_string(), vital.to_string()));
    }

    /// Cancels any training in progress and waits for the thread to end.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
        let _ = self.tx.send(Msg::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Trainer {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Worker {
    cfg: TrainerConfig,
    source: Box<dyn HistorySource>,
    clock: Box<dyn Fn() -> Millis + Send>,
    cancel: Arc<AtomicBool>,
    events: Sender<TrainerEvent>,
    /// Watched series and when each was last trained (`None` = never).
    last_trained: BTreeMap<(String, String), Option<Millis>>,
}

impl Worker {
    fn run(mut self, rx: Receiver<Msg>) {
        lower_priority(self.cfg.nice);
        loop {
            match rx.recv_timeout(self.cfg.check_every) {
                Ok(Msg::Watch(h, v)) => {
                    self.last_trained.entry((h, v)).or_insert(None);
                    // Several watches usually come together at start-up: take them all
                    // before the (long) pass.
                    loop {
                        match rx.try_recv() {
                            Ok(Msg::Watch(h, v)) => {
                                self.last_trained.entry((h, v)).or_insert(None);
                            }
                            Ok(Msg::Stop) => return,
                            Err(mpsc::TryRecvError::Empty) => break,
                            Err(mpsc::TryRecvError::Disconnected) => return,
                        }
                    }
                }
                Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {}
            }
            if !self.pass() {
                return;
            }
        }
    }

    /// One look at every watched series; false when cancelled.
    fn pass(&mut self) -> bool {
        let retrain = i64::try_from(self.cfg.retrain.as_millis()).unwrap_or(i64::MAX);
        let lookback = i64::try_from(self.cfg.lookback.as_millis()).unwrap_or(i64::MAX);
        let keys: Vec<(String, String)> = self.last_trained.keys().cloned().collect();
        for key in keys {
            if self.cancel.load(Ordering::Relaxed) {
                return false;
            }
            let now = (self.clock)();
            let due = match self.last_trained.get(&key) {
                Some(Some(t)) => now.saturating_sub(*t) >= retrain,
                _ => true,
            };
            if !due {
                continue;
            }
            let (host, vital) = &key;
            let event = match self.train_one(host, vital, now.saturating_sub(lookback), now) {
                Ok(Some(t)) => {
                    self.last_trained.insert(key.clone(), Some(now));
                    TrainerEvent::Trained(Box::new(t))
                }
                Ok(None) => continue,
                Err(DetectError::Cancelled { .. }) => return false,
                Err(e) => TrainerEvent::Failed {
                    host: host.clone(),
                    vital: vital.clone(),
                    error: e.to_string(),
                },
            };
            let _ = self.events.send(event);
        }
        true
    }

    /// `Ok(None)` = not enough data (a `Waiting` event was sent).
    fn train_one(
        &mut self,
        host: &str,
        vital: &str,
        from: Millis,
        to: Millis,
    ) -> Result<Option<Trained>, DetectError> {
        let points = self
            .source
            .history(host, vital, from, to)
            .map_err(|e| DetectError::Data(format!("history of {host}/{vital}: {e}")))?;
        // Gaps (non-finite values) are dropped; the series is treated as evenly spaced.
        let (times, series): (Vec<Millis>, Vec<f32>) = points
            .iter()
            .filter(|p| p.1.is_finite())
            .map(|&(t, v)| (t, v as f32))
            .unzip();
        let needed = self.cfg.min_points.max(min_points(&self.cfg.lstm));
        if series.len() < needed {
            let _ = self.events.send(TrainerEvent::Waiting {
                host: host.to_string(),
                vital: vital.to_string(),
                points: series.len(),
                needed,
            });
            return Ok(None);
        }
        let mut model = LstmAutoencoder::new(&self.cfg.lstm, self.cfg.seed)?;
        let opts = FitOptions {
            threads: self.cfg.threads,
            cancel: Some(&self.cancel),
            data_range: match (times.first(), times.last()) {
                (Some(&start_ms), Some(&end_ms)) => Some(DataRange { start_ms, end_ms }),
                _ => None,
            },
        };
        let report = model.fit(&series, &opts, |_| {})?;
        let dir = model_dir(&self.cfg.data_dir, host, vital);
        model.save(&dir)?;
        Ok(Some(Trained {
            host: host.to_string(),
            vital: vital.to_string(),
            model,
            report,
            dir,
        }))
    }
}

/// Renices the calling thread: on Linux `setpriority(PRIO_PROCESS, tid)` applies to that one
/// thread, so training only gets CPU the pollers and the UI leave idle. Failure (e.g. a
/// seccomp sandbox) is logged and ignored: training still works, just at normal priority.
fn lower_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority take plain integers and touch no memory of ours.
        let rc = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice)
        };
        if rc != 0 {
            tracing::warn!(
                "trainer: cannot lower the thread's priority to nice {nice}: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_dir_stays_inside_the_models_dir() {
        let base = Path::new("/d");
        let cases = [
            ("web1", "cpu_pct", "/d/models/web1/cpu_pct"),
            ("../etc", "cpu_pct", "/d/models/.._etc/cpu_pct"),
            ("..", "x", "/d/models/_../x"),
            ("a/b c", "mem_pct", "/d/models/a_b_c/mem_pct"),
            ("", "load1", "/d/models/_/load1"),
        ];
        for (host, vital, want) in cases {
            assert_eq!(model_dir(base, host, vital), PathBuf::from(want), "{host}");
        }
    }

    #[test]
    fn pooling_standardises_each_segment_and_skips_short_ones() {
        let a: Vec<f32> = (0..20).map(|i| 100.0 + i as f32).collect();
        let b: Vec<f32> = (0..20).map(|i| 0.001 * i as f32).collect();
        let short = vec![5.0; 3];
        let flat = vec![7.0; 12];
        let pooled = pool_standardised(&[a, short, flat, b], 10);
        assert_eq!(pooled.len(), 40);
        // Same shape at wildly different levels and scales standardises to the same values.
        for i in 0..20 {
            assert!((pooled[i] - pooled[20 + i]).abs() < 1e-4, "{i}");
        }
        let s = crate::detect::Scaler::fit(&pooled);
        assert!(s.mean.abs() < 1e-5 && (s.std - 1.0).abs() < 1e-5, "{s:?}");
    }
}
