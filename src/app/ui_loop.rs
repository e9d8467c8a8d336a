//! The UI loop over any backend and event stream (the real terminal, or a TestBackend and a
//! scripted stream in tests): keys to `dispatch`, snapshots to the state, frames capped in
//! rate, and the one place where every `Command` from the UI is carried out.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event, MouseEventKind};
use futures_util::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::history::{Reply, Services};
use super::player::ReplayLink;
use crate::config::theme::Theme;
use crate::model::Snapshot;
use crate::term;
use crate::ui::render::page_rows;
use crate::ui::state::RunMode;
use crate::ui::{Action, Command, ReplayControl, UiState, dispatch, render, update};

/// What carrying out a command may need besides the services.
struct Outlets<'a> {
    services: &'a Services,
    replies: &'a mpsc::Sender<Reply>,
    on_mouse: &'a mut (dyn FnMut(bool) + Send),
    replay: Option<&'a mpsc::Sender<ReplayControl>>,
}

/// Carry out one command from `update`. Returns true when the screen must be redrawn.
fn carry_out(cmd: Command, state: &mut UiState, out: &mut Outlets<'_>) -> bool {
    match cmd {
        Command::History(req) => out.services.history(req, out.replies),
        Command::ListSeries { id, sources } => out.services.list_series(id, sources, out.replies),
        Command::SetMouse(on) => (out.on_mouse)(on),
        Command::Replay(c) => {
            match out.replay {
                Some(tx) if tx.try_send(c).is_err() => {
                    state.message = Some("replay is busy; key dropped".to_string());
                }
                Some(_) => {}
                None => state.message = Some("not a replay".to_string()),
            }
            return true;
        }
        Command::ReloadRules => {
            state.message = Some(match &out.services.reload {
                Some(r) => {
                    r.reload();
                    "reading the rule files again…".to_string()
                }
                None => "rule reload needs a live console with a config file".to_string(),
            });
            return true;
        }
        // `update` has already set `state.quit`; the loop ends on it.
        Command::Quit => {}
    }
    false
}

/// Why the UI loop stopped early: the terminal, not the data, failed.
#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    #[error("reading the terminal failed: {0}")]
    Read(io::Error),
    /// The backend's own error type differs per backend; its message is what the user needs.
    #[error("drawing to the terminal failed: {0}")]
    Draw(String),
}

/// Run the console until the user quits, `stop` fires or the event stream ends; returns the
/// final state. `replay` is the running player's link in replay mode: its status goes into
/// `UiState::replay`, and replay commands go to it.
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
) -> Result<UiState, TerminalError>
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
    let mut outlets = Outlets {
        services,
        replies: &reply_tx,
        on_mouse,
        replay: replay_control.as_ref(),
    };
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
                Some(Err(e)) => return Err(TerminalError::Read(e)),
                None => break,
            },
            changed = snapshots.changed(), if engine_alive => match changed {
                Ok(()) => {
                    // Paused keeps the frozen picture; collection goes on behind it.
                    if let Some(rx) = &services.notify {
                        state.notify = Some(rx.borrow().clone());
                    }
                    if state.run_mode != RunMode::Paused {
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
            dirty |= carry_out(cmd, &mut state, &mut outlets);
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
) -> Result<(), TerminalError> {
    // A resumed pause shows the newest picture at once.
    if state.run_mode != RunMode::Paused && !Arc::ptr_eq(snap, &snapshots.borrow()) {
        *snap = snapshots.borrow_and_update().clone();
        state.sync(snap);
    }
    if let Ok(size) = terminal.size() {
        state.page = page_rows(ratatui::layout::Rect::new(0, 0, size.width, size.height));
    }
    terminal
        .draw(|f| render(f, snap, state, theme))
        .map_err(|e| TerminalError::Draw(e.to_string()))?;
    Ok(())
}
