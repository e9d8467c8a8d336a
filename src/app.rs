//! The console's loop: live collectors feed a channel of `Input`s to an engine task, or a replay
//! `Player` (which owns its engine) runs in that task's place; either publishes `Arc<Snapshot>`s
//! on a watch channel (live: and forwards batches to the store); the UI loop draws them, capped
//! in frame rate, steers the player and answers history queries off the UI task. Owns wiring and scheduling only: no rendering (ui/), no
//! terminal modes (term.rs), no SQL (store/).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crossterm::event::{Event, MouseEventKind};
use futures_util::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::collect::{exporter, scheduler};
use crate::config::keymap::Keymap;
use crate::config::theme::Theme;
use crate::config::{Config, ConfigError};
use crate::engine::TargetSpec;
use crate::engine::{Engine, ModelBinding, Vital};
use crate::model::{Input, Millis, Snapshot};
use crate::replay::Player;
use crate::replay::{self, Record, Recorder};
use crate::sanitize::sanitize;
use crate::store::{Reader, Store, StoreOptions, StoreSender};
use crate::term;
use crate::ui::render::page_rows;
use crate::ui::state::{Command, HistoryRequest, ReplayControl, ReplayStatus, SeriesData};
use crate::ui::{Action, UiState, dispatch, render, update};

/// Exit codes, matching the CLI's.
pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILURE: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

/// Capacity of the queue between the input source and the engine (full ⇒ drop and count).
pub const INPUT_QUEUE: usize = 1024;
/// Without a clock, snapshots are published at most this often while inputs keep arriving (a
/// fast replay must not build a snapshot per observation); an idle queue publishes at once.
/// A live engine publishes on its one-second tick instead (see `spawn_engine`).
const PUBLISH_EVERY: Duration = Duration::from_millis(100);
/// Memory history counts as covering a window when its oldest point is this close to the start.
const MEMORY_SLACK_MS: i64 = 60_000;

/// How the console runs; `Default` is what `nocscope` with no flags does.
#[derive(Clone, Debug)]
pub struct ConsoleOptions {
    /// A keymap merged over the default; `None` uses `default_keymap_path()` when it exists.
    pub keymap: Option<PathBuf>,
    /// Frame-rate cap and live-data refresh (`[ui]`).
    pub ui: crate::config::Ui,
    pub mouse: bool,
    /// Open the SQLite history (off for tests and read-only boxes).
    pub history: bool,
    pub theme: Theme,
    /// Record every input the engine applies to this file (.nsr).
    pub record: Option<PathBuf>,
}

impl Default for ConsoleOptions {
    fn default() -> Self {
        ConsoleOptions {
            keymap: None,
            ui: crate::config::Ui::default(),
            mouse: false,
            history: true,
            theme: Theme::embedded_default(),
            record: None,
        }
    }
}

/// `$XDG_CONFIG_HOME/nocscope/keymap.toml`, else `~/.config/nocscope/keymap.toml`.
pub fn default_keymap_path() -> Option<PathBuf> {
    crate::config::default_path().map(|p| p.with_file_name("keymap.toml"))
}

/// The effective keymap: the default, with the given file (or the user's default file, when
/// it exists) merged over it.
pub fn load_keymap(path: Option<&Path>) -> Result<Keymap, ConfigError> {
    match path {
        Some(p) => Keymap::load(p),
        None => match default_keymap_path().filter(|p| p.exists()) {
            Some(p) => Keymap::load(&p),
            None => Ok(Keymap::embedded_default()),
        },
    }
}

/// What `nocscope --print-keymap` prints.
pub fn print_keymap(path: Option<&Path>) -> Result<String, ConfigError> {
    load_keymap(path).map(|k| k.to_toml())
}

/// A question for the engine's in-memory history rings.
pub struct MemoryAsk {
    pub request: HistoryRequest,
    pub reply: oneshot::Sender<Vec<SeriesData>>,
}

/// The running engine task's outlets.
pub struct EngineLink {
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub memory: mpsc::Sender<MemoryAsk>,
    pub task: JoinHandle<()>,
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
            let ring = engine.history(host, *v)?;
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

/// The live loop's recorder: applies each input to the engine and records it first. A write
/// failure (disk full) stops the recording with one message and never stops monitoring.
pub struct LiveRecording {
    path: PathBuf,
    recorder: Option<Recorder<std::io::BufWriter<std::fs::File>>>,
    dropped: u64,
    quiet: bool,
}

impl LiveRecording {
    fn say(&self, message: String) {
        if self.quiet {
            tracing::warn!("{message}");
        } else {
            eprintln!("nocscope: {message}");
        }
    }
}

impl LiveRecording {
    /// Start a recording of an engine built from `config`. `quiet` sends later write
    /// problems to the log instead of stderr (the console owns the terminal).
    pub fn create(path: &Path, config: &Config, quiet: bool) -> Result<LiveRecording, String> {
        let digest = match config.source.as_deref().map(std::fs::read) {
            Some(Ok(bytes)) => replay::format::digest(&bytes),
            _ => "none".to_string(),
        };
        let mut header = replay::header_for(
            &TargetSpec::from_config(config),
            digest,
            scheduler::wall_clock_ms(),
        );
        header.anomaly = replay::RecordedAnomaly::of(&config.anomaly);
        match replay::create(path, &header) {
            Ok(r) => Ok(LiveRecording {
                path: path.to_path_buf(),
                recorder: Some(r),
                dropped: 0,
                quiet,
            }),
            Err(e) => Err(format!(
                "cannot record to {}: {e}",
                sanitize(&path.display().to_string())
            )),
        }
    }

    fn write(
        &mut self,
        f: impl FnOnce(&mut Recorder<std::io::BufWriter<std::fs::File>>) -> std::io::Result<()>,
    ) {
        if let Some(r) = self.recorder.as_mut()
            && let Err(e) = f(r)
        {
            let message = format!(
                "recording to {} stopped after {} records: {e}",
                sanitize(&self.path.display().to_string()),
                r.records()
            );
            self.recorder = None;
            self.say(message);
        }
    }

    pub fn finish(mut self) {
        if let Some(r) = self.recorder.take()
            && let Err(e) = r.finish()
        {
            self.say(format!(
                "recording {} not closed cleanly: {e}",
                sanitize(&self.path.display().to_string())
            ));
        }
    }
}

/// Apply an input to the engine, recording it first when a recording runs.
pub fn feed(engine: &mut Engine, recording: &mut Option<LiveRecording>, input: Input) {
    if let Some(r) = recording.as_mut() {
        let now = scheduler::wall_clock_ms();
        r.write(|rec| rec.input(now, &input));
    }
    engine.apply(&input);
}

pub fn set_dropped(engine: &mut Engine, recording: &mut Option<LiveRecording>, count: u64) {
    if let Some(r) = recording.as_mut()
        && r.dropped != count
    {
        r.dropped = count;
        r.write(|rec| rec.record(&Record::Dropped { count }));
    }
    engine.set_dropped_observations(count);
}

/// A recording shared between the engine task (which writes every input before applying it)
/// and the console (which closes it cleanly after the task has stopped).
pub type SharedRecording = Arc<std::sync::Mutex<Option<LiveRecording>>>;

fn with_recording<T>(
    shared: &Option<SharedRecording>,
    f: impl FnOnce(&mut Option<LiveRecording>) -> T,
) -> T {
    match shared {
        // A poisoned lock means a write panicked; recording stops, monitoring goes on.
        Some(m) => match m.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(_) => f(&mut None),
        },
        None => f(&mut None),
    }
}

/// Start the engine task. `inputs` is the only way data arrives, so a replay player can take
/// the collectors' place. `clock` ticks the engine every second with wall time (live), and
/// then snapshots are published on those ticks only; a replay sends its own `Input::Tick`s and
/// passes `None`, and then a snapshot follows each quiet moment of the queue.
pub fn spawn_engine(
    engine: Engine,
    inputs: mpsc::Receiver<Input>,
    clock: Option<fn() -> Millis>,
    dropped: Arc<AtomicU64>,
    store: Option<StoreSender>,
    recording: Option<SharedRecording>,
) -> EngineLink {
    spawn_engine_with_models(engine, inputs, clock, dropped, store, recording, None)
}

/// [`spawn_engine`], also taking hosts' own models as they are (re)trained in the background;
/// each replaces only that host's series (`Engine::replace_model`).
pub fn spawn_engine_with_models(
    mut engine: Engine,
    mut inputs: mpsc::Receiver<Input>,
    clock: Option<fn() -> Millis>,
    dropped: Arc<AtomicU64>,
    store: Option<StoreSender>,
    recording: Option<SharedRecording>,
    mut models: Option<mpsc::Receiver<ModelBinding>>,
) -> EngineLink {
    let (snap_tx, snap_rx) = watch::channel(Arc::new(engine.snapshot()));
    let (ask_tx, mut ask_rx) = mpsc::channel::<MemoryAsk>(16);
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut last_publish = Instant::now();
        let mut pending = false;
        let mut lost_batches = 0u64;
        loop {
            let mut ticked = false;
            tokio::select! {
                input = inputs.recv() => match input {
                    Some(i) => {
                        with_recording(&recording, |r| feed(&mut engine, r, i));
                        pending = true;
                    }
                    None => {
                        publish(&engine, &snap_tx);
                        // Keep answering history while the UI runs; end with the UI.
                        while let Some(ask) = ask_rx.recv().await {
                            let _ = ask.reply.send(answer_from_memory(&engine, &ask.request));
                        }
                        return;
                    }
                },
                _ = tick.tick(), if clock.is_some() => {
                    let count = dropped.load(Ordering::Relaxed);
                    with_recording(&recording, |r| {
                        set_dropped(&mut engine, r, count);
                        if let Some(now) = clock {
                            feed(&mut engine, r, Input::Tick { now: now() });
                        }
                    });
                    pending = true;
                    ticked = true;
                }
                Some(ask) = ask_rx.recv() => {
                    let _ = ask.reply.send(answer_from_memory(&engine, &ask.request));
                }
                Some(binding) = next_model(&mut models) => {
                    let (host, vital) = (binding.host.clone(), binding.vital.key());
                    match engine.replace_model(binding) {
                        Ok(()) => tracing::info!(?host, vital, "retrained model in use"),
                        Err(e) => tracing::warn!(error = %e, "retrained model refused"),
                    }
                    pending = true;
                }
            }
            for batch in engine.take_batches() {
                if let Some(s) = &store
                    && s.try_send(batch).is_err()
                {
                    lost_batches += 1;
                    tracing::warn!(
                        lost_batches,
                        "store queue full: a batch of history was dropped"
                    );
                }
            }
            for e in engine.take_events() {
                tracing::info!(event = ?e, "engine event");
            }
            // Live, observations only mark the picture stale and the next tick (at most a second
            // away) publishes it: a poll burst then costs one snapshot, not one per target,
            // and the UI, which redraws for data at most once a second, misses nothing.
            // Without a clock (tests, a fed replay) an idle queue publishes at once.
            let due = if clock.is_some() {
                ticked
            } else {
                inputs.is_empty() || last_publish.elapsed() >= PUBLISH_EVERY
            };
            if pending && due {
                publish(&engine, &snap_tx);
                last_publish = Instant::now();
                pending = false;
            }
            if snap_tx.is_closed() {
                return;
            }
        }
    });
    EngineLink {
        snapshots: snap_rx,
        memory: ask_tx,
        task,
    }
}

/// The next retrained model, or never when there is no trainer.
async fn next_model(models: &mut Option<mpsc::Receiver<ModelBinding>>) -> Option<ModelBinding> {
    match models {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Starts the background trainer for the live console: a nice-19 thread that trains each
/// host's own model per shipped vital from the history store once there is enough of it, and
/// retrains daily. Trained models reach the engine through `models`; its reports go to the log.
/// Per-host models use the shipped models' small architecture, so scoring them stays within the
/// console's idle budget and training one takes seconds, not minutes.
fn start_trainer(
    config: &Config,
    store_path: &Path,
    models: mpsc::Sender<ModelBinding>,
) -> Option<crate::trainer::Trainer> {
    use crate::trainer::{Trainer, TrainerConfig, TrainerEvent, store_source};
    let interval = config
        .targets
        .iter()
        .map(|t| i64::try_from(t.interval.as_millis()).unwrap_or(i64::MAX))
        .min()?;
    let mut cfg = TrainerConfig::new(config.defaults.data_dir.clone(), interval);
    let shipped = crate::detect::shipped::shipped_models();
    if let Some(Ok(m)) = shipped.first().map(|(_, m)| m.as_ref()) {
        cfg.lstm = m.config().clone();
    }
    let (trainer, events) = match Trainer::spawn(
        cfg,
        store_source(store_path.to_path_buf()),
        scheduler::wall_clock_ms,
    ) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "background trainer not started");
            return None;
        }
    };
    for host in config.hosts() {
        for (key, _) in &shipped {
            trainer.watch(host, key);
        }
    }
    let bridge = std::thread::Builder::new()
        .name("trainer-events".into())
        .spawn(move || {
            // Ends when the trainer is shut down and drops its sender.
            for ev in events {
                match ev {
                    TrainerEvent::Trained(t) => {
                        let Some(vital) = Vital::ALL.into_iter().find(|v| v.key() == t.vital) else {
                            continue;
                        };
                        tracing::info!(host = %t.host, vital = %t.vital, dir = %t.dir.display(), "model trained");
                        let binding = ModelBinding {
                            vital,
                            host: Some(t.host),
                            model: t.model,
                        };
                        if models.blocking_send(binding).is_err() {
                            return;
                        }
                    }
                    TrainerEvent::Waiting { host, vital, points, needed } => {
                        tracing::debug!(%host, %vital, points, needed, "not enough history to train yet");
                    }
                    TrainerEvent::Failed { host, vital, error } => {
                        tracing::warn!(%host, %vital, %error, "training failed");
                    }
                }
            }
        });
    if let Err(e) = bridge {
        tracing::warn!(error = %e, "background trainer not started");
        return None;
    }
    Some(trainer)
}

/// Publish only a changed picture, so an idle console does not redraw.
fn publish(engine: &Engine, tx: &watch::Sender<Arc<Snapshot>>) {
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

/// How often the player task lets virtual time pass. Finer than any frame cap, so the clock in
/// the header moves smoothly; coarse enough that x1 costs nothing.
pub const PLAYER_STEP: Duration = Duration::from_millis(50);
/// Controls queued between the UI and the player; a full queue drops the key press.
const CONTROL_QUEUE: usize = 64;

/// The UI's side of a running player: its position, and a way to steer it.
#[derive(Clone)]
pub struct ReplayLink {
    pub status: watch::Receiver<ReplayStatus>,
    pub control: mpsc::Sender<ReplayControl>,
}

/// Where the player stands, for the header.
pub fn replay_status(player: &Player) -> ReplayStatus {
    ReplayStatus {
        clock: player.clock(),
        start: player.start(),
        end: player.end(),
        speed: player.speed().to_string(),
        paused: player.is_paused(),
        looping: player.is_looping(),
        finished: player.is_finished(),
    }
}

/// Apply one UI request to the player. Returns a line for the status bar when the request
/// could not do anything (no alert that way).
pub fn steer(player: &mut Player, control: ReplayControl) -> Option<String> {
    match control {
        ReplayControl::TogglePause => player.toggle_pause(),
        ReplayControl::Faster => player.set_speed(player.speed().faster()),
        ReplayControl::Slower => player.set_speed(player.speed().slower()),
        ReplayControl::ToggleLoop => player.set_looping(!player.is_looping()),
        ReplayControl::SeekBy(ms) => player.seek(player.clock().saturating_add(ms)),
        ReplayControl::SeekTo(t) => player.seek(t),
        ReplayControl::PrevAlert => {
            if player.prev_alert().is_none() {
                return Some("no earlier alert in the recording".to_string());
            }
        }
        ReplayControl::NextAlert => {
            if player.next_alert().is_none() {
                return Some("no later alert in the recording".to_string());
            }
        }
    }
    None
}

/// Start the player task in the engine task's place: every `PLAYER_STEP` it lets the real
/// time that passed go by on the player's clock, takes the UI's controls, and publishes the
/// snapshot (when it changed) and the player's status (when it moved). History questions are
/// answered from the player's engine.
pub fn spawn_player(mut player: Player) -> (EngineLink, ReplayLink) {
    let (snap_tx, snap_rx) = watch::channel(Arc::new(player.snapshot()));
    let (status_tx, status_rx) = watch::channel(replay_status(&player));
    let (ask_tx, mut ask_rx) = mpsc::channel::<MemoryAsk>(16);
    let (ctl_tx, mut ctl_rx) = mpsc::channel::<ReplayControl>(CONTROL_QUEUE);
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(PLAYER_STEP);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = Instant::now();
        let mut controls_open = true;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let now = Instant::now();
                    for e in player.advance(now - last) {
                        tracing::info!(event = ?e, "replayed event");
                    }
                    last = now;
                }
                ctl = ctl_rx.recv(), if controls_open => match ctl {
                    Some(c) => {
                        if let Some(why) = steer(&mut player, c) {
                            tracing::info!(why, "replay control had no effect");
                        }
                        // A resumed player must not make up for the time it sat paused.
                        last = Instant::now();
                    }
                    None => controls_open = false,
                },
                Some(ask) = ask_rx.recv() => {
                    let _ = ask.reply.send(answer_from_memory(player.engine(), &ask.request));
                }
            }
            let status = replay_status(&player);
            status_tx.send_if_modified(|cur| {
                if *cur == status {
                    false
                } else {
                    *cur = status;
                    true
                }
            });
            publish(player.engine(), &snap_tx);
            if snap_tx.is_closed() {
                return;
            }
        }
    });
    (
        EngineLink {
            snapshots: snap_rx,
            memory: ask_tx,
            task,
        },
        ReplayLink {
            status: status_rx,
            control: ctl_tx,
        },
    )
}

/// Where history comes from besides the engine's memory.
#[derive(Clone)]
pub struct Services {
    pub memory: mpsc::Sender<MemoryAsk>,
    /// The SQLite file, opened read-only per query on a blocking thread.
    pub store: Option<PathBuf>,
}

enum Reply {
    History(u64, Result<Vec<SeriesData>, String>),
    Series(u64, Result<Vec<(String, String)>, String>),
}

fn run_command(cmd: Command, services: &Services, replies: &mpsc::Sender<Reply>) {
    match cmd {
        Command::History(req) => {
            let services = services.clone();
            let replies = replies.clone();
            tokio::spawn(async move {
                let id = req.id;
                let result = history(req, &services).await;
                let _ = replies.send(Reply::History(id, result)).await;
            });
        }
        Command::ListSeries { id, sources } => {
            let store = services.store.clone();
            let replies = replies.clone();
            tokio::spawn(async move {
                let result = match store {
                    None => Err("no history store: series names come from SQLite".to_string()),
                    Some(path) => tokio::task::spawn_blocking(move || {
                        let reader = Reader::open(&path).map_err(|e| e.to_string())?;
                        let mut out = Vec::new();
                        for s in sources {
                            for key in reader.series(&s).map_err(|e| e.to_string())? {
                                out.push((s.clone(), key));
                            }
                        }
                        Ok(out)
                    })
                    .await
                    .unwrap_or_else(|e| Err(format!("series query failed: {e}"))),
                };
                let _ = replies.send(Reply::Series(id, result)).await;
            });
        }
        // Sent by ui_loop itself, which holds the player link.
        Command::Quit | Command::SetMouse(_) | Command::Replay(_) => {}
    }
}

/// Memory first (it is exact and instant); the store when memory does not reach back far
/// enough or the series is not a vital.
async fn history(req: HistoryRequest, services: &Services) -> Result<Vec<SeriesData>, String> {
    let (tx, rx) = oneshot::channel();
    let memory = if services
        .memory
        .send(MemoryAsk {
            request: req.clone(),
            reply: tx,
        })
        .await
        .is_ok()
    {
        rx.await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let covered = !memory.is_empty()
        && memory.iter().all(|s| {
            s.points
                .first()
                .is_some_and(|(t, _)| *t <= req.from + MEMORY_SLACK_MS)
        });
    let Some(path) = services.store.clone().filter(|_| !covered) else {
        return Ok(memory);
    };
    let from_store = tokio::task::spawn_blocking(move || {
        let reader = Reader::open(&path).map_err(|e| e.to_string())?;
        req.keys
            .iter()
            .map(|k| {
                reader
                    .query(&req.source, k, req.from, req.to)
                    .map(|points| SeriesData {
                        key: k.clone(),
                        points,
                    })
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, String>>()
    })
    .await
    .unwrap_or_else(|e| Err(format!("history query failed: {e}")));
    match from_store {
        Ok(v) => Ok(v),
        // Half a chart beats an error when memory has something.
        Err(_) if !memory.is_empty() => Ok(memory),
        Err(e) => Err(e),
    }
}

/// The UI loop over any backend and event stream (the real terminal, or TestBackend and a
/// scripted stream in tests). Returns the final state when the user quits, `stop` fires or
/// the event stream ends. `replay` is the running player's link in replay mode: its status
/// goes into `UiState::replay`, and replay commands go to it.
#[allow(clippy::too_many_arguments)]
pub async fn ui_loop<B, E>(
    terminal: &mut Terminal<B>,
    mut events: E,
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    mut state: UiState,
    theme: &Theme,
    services: &Services,
    pace: &crate::config::Ui,
    mut stop: watch::Receiver<bool>,
    on_mouse: &mut (dyn FnMut(bool) + Send),
    replay: Option<ReplayLink>,
) -> Result<UiState, String>
where
    B: Backend,
    E: Stream<Item = io::Result<Event>> + Unpin,
{
    let (reply_tx, mut reply_rx) = mpsc::channel::<Reply>(16);
    let mut snap = snapshots.borrow_and_update().clone();
    state.sync(&snap);
    let frame = Duration::from_secs(1) / pace.fps.clamp(1, crate::config::MAX_FPS);
    // Live data changes several times a second (every scrape, every tick) on a box that may be
    // in trouble: redraw for it at most every `refresh`. Keys draw at once (input-to-frame
    // latency), and a replay, whose whole point is motion, keeps the full frame rate.
    let data_frame = if replay.is_some() {
        frame
    } else {
        frame.max(pace.refresh)
    };
    let mut dirty = true;
    let mut next_frame = Instant::now();
    let mut engine_alive = true;
    let mut stop_alive = true;
    let (mut replay_status, replay_control) = match replay {
        Some(link) => (Some(link.status), Some(link.control)),
        None => (None, None),
    };
    if let Some(rx) = &mut replay_status {
        state.replay = Some(rx.borrow_and_update().clone());
    }
    while !state.quit {
        let mut commands = Vec::new();
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(k))) => {
                    if let Some(key) = term::key_from_event(&k) {
                        commands.extend(dispatch(&mut state, key));
                        dirty = true;
                        // Answer a key in the next loop turn, not at the next frame slot; a
                        // burst of keys still coalesces into one frame.
                        next_frame = next_frame.min(Instant::now());
                    }
                }
                Some(Ok(Event::Mouse(m))) if state.mouse => {
                    let action = match m.kind {
                        MouseEventKind::ScrollDown => Some(Action::Down),
                        MouseEventKind::ScrollUp => Some(Action::Up),
                        _ => None,
                    };
                    if let Some(a) = action {
                        commands.extend(update(&mut state, a));
                        dirty = true;
                    }
                }
                Some(Ok(Event::Resize(..))) => dirty = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("reading the terminal failed: {e}")),
                None => break,
            },
            changed = snapshots.changed(), if engine_alive => match changed {
                Ok(()) => {
                    // Paused keeps the frozen picture; collection goes on behind it.
                    if state.run_mode != crate::ui::state::RunMode::Paused {
                        snap = snapshots.borrow_and_update().clone();
                        state.sync(&snap);
                        dirty = true;
                    }
                }
                Err(_) => engine_alive = false,
            },
            Some(reply) = reply_rx.recv() => {
                match reply {
                    Reply::History(id, r) => state.apply_history(id, r),
                    Reply::Series(id, r) => state.apply_series(id, r),
                }
                dirty = true;
            }
            changed = async {
                match &mut replay_status {
                    Some(rx) => rx.changed().await,
                    None => std::future::pending().await,
                }
            }, if replay_status.is_some() => match changed {
                Ok(()) => {
                    state.replay = replay_status.as_mut().map(|rx| rx.borrow_and_update().clone());
                    dirty = true;
                }
                Err(_) => replay_status = None,
            },
            changed = stop.changed(), if stop_alive => match changed {
                Ok(()) if *stop.borrow() => break,
                Ok(()) => {}
                Err(_) => stop_alive = false,
            },
            _ = tokio::time::sleep_until(next_frame), if dirty => {
                draw_frame(terminal, &mut snap, &mut snapshots, &mut state, theme)?;
                dirty = false;
                next_frame = Instant::now() + data_frame;
            }
        }
        // A key's frame is drawn in this turn, not through the timer: the console runtime's
        // one worker drives the timers and may be busy parsing a body for a while.
        if dirty && next_frame <= Instant::now() {
            draw_frame(terminal, &mut snap, &mut snapshots, &mut state, theme)?;
            dirty = false;
            next_frame = Instant::now() + data_frame;
        }
        for cmd in commands {
            if let Command::SetMouse(on) = cmd {
                on_mouse(on);
            }
            if let Command::Replay(c) = cmd {
                match &replay_control {
                    Some(tx) if tx.try_send(c).is_err() => {
                        state.message = Some("replay is busy; key dropped".to_string());
                    }
                    Some(_) => {}
                    None => state.message = Some("not a replay".to_string()),
                }
                dirty = true;
            }
            run_command(cmd, services, &reply_tx);
        }
    }
    Ok(state)
}

/// Draw one frame of the newest snapshot (unless paused, which keeps the frozen picture).
fn draw_frame<B: Backend>(
    terminal: &mut Terminal<B>,
    snap: &mut Arc<Snapshot>,
    snapshots: &mut watch::Receiver<Arc<Snapshot>>,
    state: &mut UiState,
    theme: &Theme,
) -> Result<(), String> {
    // A resumed pause shows the newest picture at once.
    if state.run_mode != crate::ui::state::RunMode::Paused
        && !Arc::ptr_eq(snap, &snapshots.borrow())
    {
        *snap = snapshots.borrow_and_update().clone();
        state.sync(snap);
    }
    if let Ok(size) = terminal.size() {
        state.page = page_rows(ratatui::layout::Rect::new(0, 0, size.width, size.height));
    }
    terminal
        .draw(|f| render(f, snap, state, theme))
        .map_err(|e| format!("drawing to the terminal failed: {e}"))?;
    Ok(())
}

/// The async runtime every command uses: two workers, as the machine this runs on may have
/// only a couple of cores and is often already in trouble.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// The console's runtime: one worker for collectors and engine, beside the thread that runs
/// the UI (`block_on`). An idle console is woken by a few polls a second; with two workers
/// each wake-up tends to unpark the other worker to look for work it never finds, and those
/// context switches cost more than the polls themselves (issue #3). The UI keeps its own
/// thread, so parsing a body never delays a key.
pub fn console_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// What both consoles need before the terminal is touched: the keymap (exit 2 when it is
/// bad) and the runtime.
fn prepare(options: &ConsoleOptions) -> Result<(Keymap, tokio::runtime::Runtime), i32> {
    let keymap = load_keymap(options.keymap.as_deref()).map_err(|e| {
        eprintln!("{e}");
        EXIT_USAGE
    })?;
    let runtime = console_runtime().map_err(|e| {
        eprintln!("nocscope: {e}");
        EXIT_FAILURE
    })?;
    Ok((keymap, runtime))
}

/// Run the interactive console until the user quits; returns the process exit code. Bad
/// keymaps fail here, before the terminal is touched, with exit code 2.
pub fn run_console(config: Config, options: ConsoleOptions) -> i32 {
    let (keymap, runtime) = match prepare(&options) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let _log = crate::logging::init(&config.defaults.data_dir);
    runtime.block_on(console(config, options, keymap))
}

/// Run the console over a recording: the player takes the collectors' and the engine's place,
/// the header says REPLAY with the recorded clock, and nothing is written to the history store
/// (a replay must not mix old data into the live history). No config is needed.
pub fn run_console_replay(player: Player, options: ConsoleOptions) -> i32 {
    let (keymap, runtime) = match prepare(&options) {
        Ok(p) => p,
        Err(code) => return code,
    };
    runtime.block_on(console_replay(player, options, keymap))
}

async fn console_replay(player: Player, options: ConsoleOptions, keymap: Keymap) -> i32 {
    let targets: Vec<String> = player
        .header()
        .targets
        .iter()
        .map(|t| t.name.clone())
        .collect();
    let (link, replay) = spawn_player(player);
    let (stop_tx, stop_rx) = watch::channel(false);
    let signals = tokio::spawn(stop_on_signals(stop_tx));
    let mut state = UiState::new(Arc::new(keymap));
    state.store_health = "off".to_string();
    state.mouse = options.mouse;
    state.run_mode = crate::ui::state::RunMode::Replay;
    state.target_labels = targets
        .into_iter()
        .map(|t| (t, std::collections::BTreeMap::new()))
        .collect();
    let services = Services {
        memory: link.memory.clone(),
        store: None,
    };
    let code = run_terminal(&link, state, &options, &services, stop_rx, Some(replay)).await;
    signals.abort();
    link.task.abort();
    code
}

/// Enter the terminal, run the UI loop, restore the terminal; the exit code.
async fn run_terminal(
    link: &EngineLink,
    state: UiState,
    options: &ConsoleOptions,
    services: &Services,
    stop_rx: watch::Receiver<bool>,
    replay: Option<ReplayLink>,
) -> i32 {
    match term::TerminalGuard::enter(options.mouse) {
        Err(e) => {
            eprintln!("nocscope: cannot set up the terminal: {e}");
            EXIT_FAILURE
        }
        Ok((guard, mut terminal)) => {
            let events = crossterm::event::EventStream::new();
            let mut on_mouse = |on: bool| {
                if let Err(e) = term::set_mouse(on) {
                    tracing::warn!(error = %e, "cannot switch mouse capture");
                }
            };
            let result = ui_loop(
                &mut terminal,
                events,
                link.snapshots.clone(),
                state,
                &options.theme,
                services,
                &options.ui,
                stop_rx,
                &mut on_mouse,
                replay,
            )
            .await;
            drop(guard);
            match result {
                Ok(_) => EXIT_OK,
                Err(e) => {
                    eprintln!("nocscope: {e}");
                    EXIT_FAILURE
                }
            }
        }
    }
}

async fn console(config: Config, options: ConsoleOptions, keymap: Keymap) -> i32 {
    let store_path = crate::cli::store_path(&config);
    let (store, store_health) = if options.history {
        match open_store(&config, &store_path) {
            Ok(s) => (Some(s), "ok".to_string()),
            Err(e) => {
                tracing::warn!(error = %e, "history store unavailable");
                (None, "unavailable".to_string())
            }
        }
    } else {
        (None, "off".to_string())
    };

    let dropped = Arc::new(AtomicU64::new(0));
    // The scheduler's observations become Inputs on the engine's queue.
    let client = match exporter::http_client() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("nocscope: cannot build the HTTP client: {e}");
            return EXIT_FAILURE;
        }
    };
    let (obs_tx, mut obs_rx) = mpsc::channel(INPUT_QUEUE);
    let (in_tx, in_rx) = mpsc::channel(INPUT_QUEUE);
    let mut tasks = scheduler::spawn(
        Arc::new(config.clone()),
        client,
        obs_tx,
        Arc::clone(&dropped),
    );
    let forward_dropped = Arc::clone(&dropped);
    tasks.push(tokio::spawn(async move {
        while let Some(o) = obs_rx.recv().await {
            if in_tx.try_send(Input::Observation(o)).is_err() {
                forward_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }));
    let recording: Option<SharedRecording> = match &options.record {
        None => None,
        Some(path) => match LiveRecording::create(path, &config, true) {
            Ok(r) => Some(Arc::new(std::sync::Mutex::new(Some(r)))),
            Err(e) => {
                eprintln!("nocscope: {e}");
                return EXIT_USAGE;
            }
        },
    };
    // Anomaly models: the shipped ones always. A recording must replay exactly on any machine,
    // which has only those, so hosts' own models (trained by `nocscope train` or in the
    // background) are used only when not recording.
    let mut engine = Engine::from_config(&config);
    let mut bindings = crate::cli::models();
    let (model_tx, model_rx) = mpsc::channel::<ModelBinding>(8);
    let mut trainer = None;
    if options.record.is_none() {
        bindings.extend(crate::cli::host_models(&config));
        if store.is_some() {
            trainer = start_trainer(&config, &store_path, model_tx);
        }
    }
    crate::cli::bind_models(&mut engine, bindings);
    let link = spawn_engine_with_models(
        engine,
        in_rx,
        Some(scheduler::wall_clock_ms as fn() -> Millis),
        dropped,
        store.as_ref().map(Store::sender),
        recording.clone(),
        trainer.as_ref().map(|_| model_rx),
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    tasks.push(tokio::spawn(stop_on_signals(stop_tx)));

    let mut state = UiState::new(Arc::new(keymap));
    state.store_health = store_health;
    state.mouse = options.mouse;
    state.target_labels = config
        .targets
        .iter()
        .map(|t| (t.name.clone(), t.labels.clone()))
        .collect();
    let services = Services {
        memory: link.memory.clone(),
        store: store.as_ref().map(|_| store_path.clone()),
    };

    let code = run_terminal(&link, state, &options, &services, stop_rx, None).await;
    if let Some(t) = trainer {
        // Cancels a training in progress; nothing half-trained is saved.
        t.shutdown();
    }
    for t in tasks {
        t.abort();
    }
    link.task.abort();
    // Wait for the task to be gone (an abort lands only at an await, never inside a write),
    // then close the recording with its end marker.
    let _ = link.task.await;
    if let Some(shared) = recording
        && let Ok(mut guard) = shared.lock()
        && let Some(r) = guard.take()
    {
        r.finish();
    }
    if let Some(s) = store
        && let Err(e) = s.close()
    {
        eprintln!("nocscope: history not fully written: {e}");
    }
    code
}

fn open_store(config: &Config, path: &Path) -> Result<Store, String> {
    let dir = &config.defaults.data_dir;
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create data dir {}: {e}", dir.display()))?;
    let options = StoreOptions {
        retention_ms: i64::try_from(config.storage.retention.as_millis()).unwrap_or(i64::MAX),
        max_size_bytes: config.storage.max_size,
        ..StoreOptions::default()
    };
    Store::open(path, options).map_err(|e| e.to_string())
}

/// SIGTERM and SIGHUP (the SSH session went away) end the loop, so the guard restores the
/// terminal on the way out.
async fn stop_on_signals(stop: watch::Sender<bool>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            tracing::warn!("cannot listen for SIGTERM/SIGHUP");
            std::future::pending::<()>().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
        let _ = stop.send(true);
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop.send(true);
    }
}
