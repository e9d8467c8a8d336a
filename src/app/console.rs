//! The interactive console, live and replay: everything that must be right before the terminal
//! enters raw mode (keymap, runtime), the engine or player task, the terminal guard around the
//! UI loop, and an orderly shutdown (trainer, collectors, pump, recording, store).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tokio::sync::{mpsc, watch};

use super::history::{RuleReloader, Services};
use super::player::{ReplayLink, spawn_player};
use super::pump::{EngineLink, INPUT_QUEUE, Pump, PumpOptions, Sinks, spawn_engine};
use super::recording::LiveRecording;
use super::trainer::start_trainer;
use super::ui_loop::ui_loop;
use super::wiring::{
    bind_models, console_runtime, host_models, http_client, load_keymap, models, open_store,
    store_path,
};
use super::{EXIT_OK, EXIT_PROBLEM, EXIT_USAGE};
use crate::collect::scheduler;
use crate::config::Config;
use crate::config::keymap::Keymap;
use crate::config::theme::Theme;
use crate::engine::{Engine, ModelBinding};
use crate::model::Millis;
use crate::replay::Player;
use crate::store::Store;
use crate::term;
use crate::ui::UiState;
use crate::ui::state::RunMode;

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
    /// Set when the replay is the bundled demo because no config was found: the line that
    /// says so (where the config was looked for, where examples are).
    pub demo: Option<String>,
}

impl Default for ConsoleOptions {
    fn default() -> Self {
        ConsoleOptions {
            keymap: None,
            ui: crate::config::Ui::default(),
            mouse: false,
            history: true,
            demo: None,
            theme: Theme::embedded_default(),
            record: None,
        }
    }
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
        EXIT_PROBLEM
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
    // The recorded notify file, if any: a replay notifies to a dry run (the log and the
    // header's count), never to the receivers.
    let notify = player.header().notify.as_deref().and_then(|t| {
        match crate::notify::load_config(t) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "the recorded notify file does not load; no dry run");
                None
            }
        }
    });
    let (link, replay) = spawn_player(player);
    let notifier = notify.map(|c| {
        super::spawn_notifier(
            Arc::new(c),
            String::new(),
            link.snapshots.clone(),
            super::Delivery::DryRun,
        )
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let signals = tokio::spawn(stop_on_signals(stop_tx));
    let mut state = UiState::new(Arc::new(keymap));
    state.store_health = "off".to_string();
    state.demo = options.demo.clone();
    state.mouse = options.mouse;
    state.run_mode = RunMode::Replay;
    state.target_labels = targets
        .into_iter()
        .map(|t| (t, std::collections::BTreeMap::new()))
        .collect();
    let services = Services {
        memory: link.memory.clone(),
        store: None,
        reload: None,
        notify: notifier.as_ref().map(|n| n.status.clone()),
    };
    let code = run_terminal(&link, state, &options, &services, stop_rx, Some(replay)).await;
    signals.abort();
    if let Some(n) = notifier {
        n.finish().await;
    }
    link.finish().await;
    code
}

/// Enter the terminal, run the UI loop, restore the terminal; the exit code.
async fn run_terminal<T>(
    link: &EngineLink<T>,
    state: UiState,
    options: &ConsoleOptions,
    services: &Services,
    stop_rx: watch::Receiver<bool>,
    replay: Option<ReplayLink>,
) -> i32 {
    match term::TerminalGuard::enter(options.mouse) {
        Err(e) => {
            eprintln!("nocscope: cannot set up the terminal: {e}");
            EXIT_PROBLEM
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
                    EXIT_PROBLEM
                }
            }
        }
    }
}

async fn console(config: Config, options: ConsoleOptions, keymap: Keymap) -> i32 {
    let store_path = store_path(&config);
    let (store, store_health) = if options.history {
        match open_store(&config) {
            Ok(s) => (Some(s), "ok".to_string()),
            Err(e) => {
                tracing::warn!(error = %e, "history store unavailable");
                (None, "unavailable".to_string())
            }
        }
    } else {
        (None, "off".to_string())
    };
    let client = match http_client() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("nocscope: {e}");
            return EXIT_PROBLEM;
        }
    };
    let recording = match &options.record {
        None => None,
        Some(path) => match LiveRecording::create(path, &config, true) {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!("nocscope: {e}");
                return EXIT_USAGE;
            }
        },
    };
    // The scheduler's observations go straight onto the engine's queue.
    let dropped = Arc::new(AtomicU64::new(0));
    let (in_tx, in_rx) = mpsc::channel(INPUT_QUEUE);
    // `R` reloads the rule files through the same queue, so a reload lands between polls.
    let reload = config.source.clone().map(|path| RuleReloader {
        config: path,
        inputs: in_tx.clone(),
        clock: scheduler::wall_clock_ms,
    });
    let mut tasks = scheduler::spawn(
        Arc::new(config.clone()),
        client,
        in_tx,
        Arc::clone(&dropped),
    );
    // Anomaly models: the shipped ones always. A recording must replay exactly on any machine,
    // which has only those, so hosts' own models (trained by `nocscope train` or in the
    // background) are used only when not recording.
    let mut engine = Engine::from_config(&config);
    let mut bindings = models();
    let (model_tx, model_rx) = mpsc::channel::<ModelBinding>(8);
    let mut trainer = None;
    if options.record.is_none() {
        if let Some(s) = store.as_ref() {
            super::resume_alerts(&mut engine, s, scheduler::wall_clock_ms());
        }
        bindings.extend(host_models(&config));
        if store.is_some() {
            trainer = start_trainer(&config, &store_path, model_tx);
        }
    }
    bind_models(&mut engine, bindings);
    // What rules read before this start, from the store, fed (and recorded) before any poll.
    let history = store
        .as_ref()
        .map(|s| super::rule_history(&engine, s, scheduler::wall_clock_ms()))
        .unwrap_or_default();
    let mut pump = Pump::new(
        engine,
        Sinks {
            store: store.as_ref().map(Store::sender),
            recording,
            ..Sinks::default()
        },
    );
    for input in history {
        pump.feed(input);
    }
    let link = spawn_engine(
        pump,
        in_rx,
        PumpOptions {
            clock: Some(scheduler::wall_clock_ms as fn() -> Millis),
            dropped,
            models: trainer.as_ref().map(|_| model_rx),
            publish: true,
        },
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
    // Alerts to people, on their own task: a stuck receiver never holds up the console.
    let notifier = match &config.notify {
        Some(n) => match notify_client() {
            Ok(c) => Some(super::spawn_notifier(
                Arc::clone(&n.config),
                String::new(),
                link.snapshots.clone(),
                super::Delivery::Send(c),
            )),
            Err(e) => {
                eprintln!("nocscope: {e}");
                return EXIT_PROBLEM;
            }
        },
        None => None,
    };
    let services = Services {
        memory: link.memory.clone(),
        store: store.as_ref().map(|_| store_path.clone()),
        reload,
        notify: notifier.as_ref().map(|n| n.status.clone()),
    };

    let code = run_terminal(&link, state, &options, &services, stop_rx, None).await;
    if let Some(t) = trainer {
        // Cancels a training in progress; nothing half-trained is saved.
        t.shutdown();
    }
    for t in tasks {
        t.abort();
    }
    if let Some(n) = notifier {
        n.finish().await;
    }
    // The pump stops at its next turn (never inside a write); finishing it closes the
    // recording with its end marker.
    if let Some(pump) = link.finish().await {
        pump.finish();
    }
    if let Some(s) = store
        && let Err(e) = s.close()
    {
        eprintln!("nocscope: history not fully written: {e}");
    }
    code
}

/// The client webhooks are posted with: its own, so the pollers' settings (accepted types,
/// no redirects) do not apply; redirects are followed a bounded number of times.
pub fn notify_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .user_agent(concat!("nocscope/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::limited(10))
        .connect_timeout(std::time::Duration::from_secs(5))
        .build()
        .map_err(|e| format!("cannot set up the notification client: {e}"))
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
