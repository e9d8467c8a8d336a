//! The player task: in replay mode it takes the pump's place, letting real time pass on the
//! recording's virtual clock, taking the UI's controls, and publishing snapshots and its own
//! position. The player keeps its engine (seeking back rebuilds it from the start); snapshots,
//! events and history answers go out the same way as the pump's.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::pump::{EngineLink, EventSink, MemoryAsk, Sinks, answer_from_memory, publish};
use crate::replay::Player;
use crate::ui::{ReplayControl, ReplayStatus};

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

/// Start the player task: every `PLAYER_STEP` it lets the real time that passed go by on the
/// player's clock, takes the UI's controls, and publishes the snapshot (when it changed) and
/// the player's status (when it moved). Replayed events go to the log, as the pump's do.
pub fn spawn_player(mut player: Player) -> (EngineLink<()>, ReplayLink) {
    let mut events: EventSink = Sinks::default().events;
    let (snap_tx, snap_rx) = watch::channel(Arc::new(player.snapshot()));
    let (status_tx, status_rx) = watch::channel(replay_status(&player));
    let (ask_tx, mut ask_rx) = mpsc::channel::<MemoryAsk>(16);
    let (ctl_tx, mut ctl_rx) = mpsc::channel::<ReplayControl>(CONTROL_QUEUE);
    let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(PLAYER_STEP);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = Instant::now();
        let mut controls_open = true;
        loop {
            tokio::select! {
                _ = &mut stop_rx => return,
                _ = tick.tick() => {
                    let now = Instant::now();
                    for e in player.advance(now - last) {
                        events(&e);
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
            stop: Some(stop_tx),
            task,
        },
        ReplayLink {
            status: status_rx,
            control: ctl_tx,
        },
    )
}
