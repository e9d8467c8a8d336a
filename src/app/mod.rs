//! The wiring between the parts: model binding, store opening, the exit codes, the one engine
//! pump (console, `check`, recording), the player task, the notifier task, the history services and the UI loop,
//! each in its own file. Owns wiring and scheduling only: no rendering (ui/), no terminal modes
//! (term.rs), no SQL (store/), and never imports `cli` (cli imports app).

mod console;
mod history;
mod notifier;
mod player;
mod pump;
mod recording;
mod trainer;
mod ui_loop;
mod wiring;

pub use console::{ConsoleOptions, notify_client, run_console, run_console_replay};
pub use history::{RuleReloader, Services};
pub use notifier::{Delivery, NotifierLink, spawn_notifier};
pub use player::{PLAYER_STEP, ReplayLink, replay_status, spawn_player, steer};
pub use pump::{
    EngineLink, EventSink, INPUT_QUEUE, MemoryAsk, Pump, PumpOptions, Sinks, answer_from_memory,
    spawn_engine,
};
pub use recording::LiveRecording;
pub use ui_loop::{TerminalError, ui_loop};
pub use wiring::{
    WiringError, bind_models, console_runtime, default_keymap_path, host_models, http_client,
    load_keymap, models, open_store, print_keymap, resume_alerts, rule_history, runtime,
    store_path,
};

/// The process exit codes every command uses: all went well.
pub const EXIT_OK: i32 = 0;
/// A check or lint found a problem, a recording is damaged, or the console could not run.
pub const EXIT_PROBLEM: i32 = 1;
/// Bad usage, config, keymap or theme: nothing was run.
pub const EXIT_USAGE: i32 = 2;
