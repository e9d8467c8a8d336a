//! The one engine pump: an `Engine` with its sinks (history store, recording, transition
//! events, snapshot publisher). The console, `check` (once and `--for`) and recording all feed
//! inputs through it; `spawn_engine` runs it as a task on the scheduler's input queue. Owns the
//! order of record → apply → drain; the engine itself stays pure.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::recording::LiveRecording;
use crate::collect::scheduler;
use crate::engine::{Engine, Event, ModelBinding};
use crate::model::{Input, Millis, Snapshot, Vital};
use crate::store::StoreSender;
use crate::ui::{HistoryRequest, SeriesData};

/// Capacity of the queue between the input source and the engine (full ⇒ drop and count).
pub const INPUT_QUEUE: usize = 1024;
/// Without a clock, snapshots are published at most this often while inputs keep arriving (a
/// fast replay must not build a snapshot per observation); an idle queue publishes at once.
/// A live engine publishes on its one-second tick instead.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// Where the pump sends each engine event (a transition worth telling a human about).
pub type EventSink = Box<dyn FnMut(&Event) + Send>;

/// Everything the engine's output goes to besides snapshots.
pub struct Sinks {
    /// History batches; a full queue drops the batch and counts it.
    pub store: Option<StoreSender>,
    /// Every input, written before it is applied.
    pub recording: Option<LiveRecording>,
    pub events: EventSink,
}

impl Default for Sinks {
    /// No store, no recording, events to the log.
    fn default() -> Self {
        Sinks {
            store: None,
            recording: None,
            events: Box::new(|e| tracing::info!(event = ?e, "engine event")),
        }
    }
}

/// An engine and its sinks. Feed it inputs, then `drain` to hand batches and events on.
pub struct Pump {
    engine: Engine,
    sinks: Sinks,
    lost_batches: u64,
}

impl Pump {
    pub fn new(engine: Engine, sinks: Sinks) -> Pump {
        Pump {
            engine,
            sinks,
            lost_batches: 0,
        }
    }

    /// Record the input (when recording), then apply it.
    pub fn feed(&mut self, input: Input) {
        if let Some(r) = self.sinks.recording.as_mut() {
            r.input(scheduler::wall_clock_ms(), &input);
        }
        self.engine.apply(&input);
    }

    /// Tell the engine (and the recording) how many observations were lost upstream.
    pub fn set_dropped(&mut self, count: u64) {
        if let Some(r) = self.sinks.recording.as_mut() {
            r.dropped(count);
        }
        self.engine.set_dropped_observations(count);
    }

    /// Hand the engine's batches to the store and its events to the event sink.
    pub fn drain(&mut self) {
        for batch in self.engine.take_batches() {
            if let Some(s) = &self.sinks.store
                && s.try_send(batch).is_err()
            {
                self.lost_batches += 1;
                tracing::warn!(
                    lost_batches = self.lost_batches,
                    "store queue full: a batch of history was dropped"
                );
            }
        }
        for e in self.engine.take_events() {
            (self.sinks.events)(&e);
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// Close the recording (with its end marker) and give the engine back.
    pub fn finish(mut self) -> Engine {
        self.drain();
        if let Some(r) = self.sinks.recording.take() {
            r.finish();
        }
        self.engine
    }
}

/// A question for the engine's in-memory history rings.
pub struct MemoryAsk {
    pub request: HistoryRequest,
    pub reply: oneshot::Sender<Vec<SeriesData>>,
}

/// A running engine task's outlets. `finish` stops it and returns what the task owned.
pub struct EngineLink<T> {
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub memory: mpsc::Sender<MemoryAsk>,
    pub(super) stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<T>,
}

impl<T> EngineLink<T> {
    /// Stop the task at its next turn and wait for it; `None` when it had panicked or was
    /// aborted.
    pub async fn finish(mut self) -> Option<T> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.await.ok()
    }
}

/// How the pump task is driven.
pub struct PumpOptions {
    /// Live: tick the engine every second with this clock, and publish on those ticks only.
    /// `None` (a fed replay, tests): the inputs carry their own ticks, and a snapshot follows
    /// each quiet moment of the queue.
    pub clock: Option<fn() -> Millis>,
    /// The collectors' drop counter (the only one), read on every tick.
    pub dropped: Arc<AtomicU64>,
    /// Hosts' own models as they are (re)trained in the background; each replaces only that
    /// host's series (`Engine::replace_model`).
    pub models: Option<mpsc::Receiver<ModelBinding>>,
    /// Build and publish snapshots. `check --for` reads only the final state and turns this
    /// off, so it does not build a snapshot a second that nobody looks at.
    pub publish: bool,
}

impl Default for PumpOptions {
    fn default() -> Self {
        PumpOptions {
            clock: None,
            dropped: Arc::new(AtomicU64::new(0)),
            models: None,
            publish: true,
        }
    }
}

/// What the engine's in-memory rings hold for a request (vitals of `host/<name>` only).
pub fn answer_from_memory(engine: &Engine, req: &HistoryRequest) -> Vec<SeriesData> {
    let Some(host) = req.source.strip_prefix("host/") else {
        return Vec::new();
    };
    Vital::ALL
        .iter()
        .filter(|v| req.keys.iter().any(|k| k == v.key()))
        .filter_map(|v| {
            let ring: &VecDeque<(Millis, f32)> = engine.history(host, *v)?;
            Some(SeriesData {
                key: v.key().to_string(),
                points: ring
                    .iter()
                    .filter(|(t, _)| *t >= req.from && *t <= req.to)
                    .map(|(t, x)| (*t, f64::from(*x)))
                    .collect(),
            })
        })
        .collect()
}

/// Publish only a changed picture, so an idle console does not redraw.
pub(super) fn publish(engine: &Engine, tx: &watch::Sender<Arc<Snapshot>>) {
    let snap = engine.snapshot();
    tx.send_if_modified(|cur| {
        if **cur == snap {
            false
        } else {
            *cur = Arc::new(snap);
            true
        }
    });
}

/// The next retrained model, or never when there is no trainer.
async fn next_model(models: &mut Option<mpsc::Receiver<ModelBinding>>) -> Option<ModelBinding> {
    match models {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Run the pump as a task on `inputs`, the only way data arrives (the scheduler sends its
/// observations straight here). The task ends, returning the pump, when `finish` is called or
/// every snapshot receiver is gone; when the inputs close it keeps answering history.
pub fn spawn_engine(
    mut pump: Pump,
    mut inputs: mpsc::Receiver<Input>,
    options: PumpOptions,
) -> EngineLink<Pump> {
    let PumpOptions {
        clock,
        dropped,
        mut models,
        publish: publishing,
    } = options;
    let (snap_tx, snap_rx) = watch::channel(Arc::new(pump.engine().snapshot()));
    let (ask_tx, mut ask_rx) = mpsc::channel::<MemoryAsk>(16);
    let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut last_publish = Instant::now();
        let mut pending = false;
        let mut inputs_open = true;
        let mut asks_open = true;
        loop {
            let mut ticked = false;
            tokio::select! {
                _ = &mut stop_rx => break,
                input = inputs.recv(), if inputs_open => match input {
                    Some(i) => {
                        pump.feed(i);
                        pending = true;
                    }
                    None => {
                        // Keep answering history while the UI runs.
                        inputs_open = false;
                        publish(pump.engine(), &snap_tx);
                    }
                },
                _ = tick.tick(), if clock.is_some() => {
                    pump.set_dropped(dropped.load(Ordering::Relaxed));
                    if let Some(now) = clock {
                        pump.feed(Input::Tick { now: now() });
                    }
                    pending = true;
                    ticked = true;
                }
                ask = ask_rx.recv(), if asks_open => match ask {
                    Some(ask) => {
                        let _ = ask.reply.send(answer_from_memory(pump.engine(), &ask.request));
                    }
                    None => asks_open = false,
                },
                Some(binding) = next_model(&mut models) => {
                    let (host, vital) = (binding.host.clone(), binding.vital.key());
                    match pump.engine_mut().replace_model(binding) {
                        Ok(()) => tracing::info!(?host, vital, "retrained model in use"),
                        Err(e) => tracing::warn!(error = %e, "retrained model refused"),
                    }
                    pending = true;
                }
            }
            pump.drain();
            // Live, observations only mark the picture stale and the next tick (at most a second
            // away) publishes it: a poll burst then costs one snapshot, not one per target,
            // and the UI, which redraws for data at most every refresh, misses nothing.
            // Without a clock (tests, a fed replay) an idle queue publishes at once.
            let due = if clock.is_some() {
                ticked
            } else {
                inputs.is_empty() || last_publish.elapsed() >= PUBLISH_EVERY
            };
            if publishing && pending && due {
                publish(pump.engine(), &snap_tx);
                last_publish = Instant::now();
                pending = false;
            }
            // Nobody looks, or nothing can come in and nobody can ask: nothing left to do.
            if (publishing && snap_tx.is_closed()) || (!inputs_open && !asks_open) {
                break;
            }
        }
        pump
    });
    EngineLink {
        snapshots: snap_rx,
        memory: ask_tx,
        stop: Some(stop_tx),
        task,
    }
}
