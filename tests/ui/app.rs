//! The console loop end to end without a terminal: a replay-like Input channel feeds the real
//! engine task, scripted key events drive the real UI loop on a TestBackend, and history is
//! answered from the engine's memory through the same services the live console uses.

use crate::ui_fixture;

use std::io;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use nocscope::app::{Pump, PumpOptions, Services, Sinks, spawn_engine, ui_loop};
use nocscope::config::Ui;
use nocscope::config::keymap::Keymap;
use nocscope::config::theme::Theme;
use nocscope::engine::Engine;
use nocscope::engine::rules::default_rules;
use nocscope::model::Input;
use nocscope::ui::state::Loaded;
use nocscope::ui::{UiState, View};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::{mpsc, watch};
use ui_fixture::{Node, S, T0, scrape, spec};

fn key(c: KeyCode) -> io::Result<Event> {
    Ok(Event::Key(KeyEvent::new(c, KeyModifiers::NONE)))
}

/// Events from a channel, so the test decides when each key arrives.
fn event_stream(
    mut rx: mpsc::Receiver<io::Result<Event>>,
) -> impl futures_util::Stream<Item = io::Result<Event>> + Unpin {
    Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_drive_the_loop_over_a_replayed_engine() {
    let engine = Engine::new(
        vec![spec("a-node", "alpha"), spec("b-node", "beta")],
        default_rules(),
    );
    let (in_tx, in_rx) = mpsc::channel(64);
    let link = spawn_engine(
        Pump::new(engine, Sinks::default()),
        in_rx,
        PumpOptions::default(),
    );
    let mut snaps = link.snapshots.clone();

    // Feed ten polls of both hosts, then wait until the engine has published them.
    let mut nodes = [Node::new(), Node::new()];
    for step in 0..10 {
        let at = T0 + step * 15 * S;
        for (i, n) in nodes.iter_mut().enumerate() {
            let busy = if i == 0 { 0.9 } else { 0.1 };
            in_tx
                .send(scrape(i as u32, at, n.body(busy, 0.4, 0.5)))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        in_tx
            .send(Input::Tick { now: at + 14 * S })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let want_now = T0 + 9 * 15 * S + 14 * S;
    snaps
        .wait_for(|s| s.now == want_now)
        .await
        .unwrap_or_else(|e| panic!("engine stopped: {e}"));

    let (ev_tx, ev_rx) = mpsc::channel(16);
    let (_stop_tx, stop_rx) = watch::channel(false);
    let services = Services {
        memory: link.memory.clone(),
        store: None,
        reload: None,
        notify: None,
    };
    let state = UiState::new(Arc::new(Keymap::embedded_default()));
    let theme = Theme::embedded_default();
    let ui = tokio::spawn(async move {
        let mut terminal =
            Terminal::new(TestBackend::new(100, 30)).unwrap_or_else(|e| panic!("{e}"));
        let mut on_mouse = |_: bool| {};
        let r = ui_loop(
            &mut terminal,
            event_stream(ev_rx),
            link.snapshots.clone(),
            state,
            &theme,
            &services,
            &Ui {
                fps: 60,
                refresh: std::time::Duration::from_secs(1),
            },
            stop_rx,
            &mut on_mouse,
            None,
        )
        .await;
        (r, format!("{}", terminal.backend()))
    });
    // Open the second host's view; the history reply arrives from the engine's memory.
    for k in [KeyCode::Char('j'), KeyCode::Enter] {
        ev_tx.send(key(k)).await.unwrap_or_else(|e| panic!("{e}"));
    }
    // A margin for the in-memory history reply on a loaded machine; nothing here measures time.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    for k in [KeyCode::Char('q'), KeyCode::Char('q')] {
        ev_tx.send(key(k)).await.unwrap_or_else(|e| panic!("{e}"));
    }
    let (result, screen) = ui.await.unwrap_or_else(|e| panic!("{e}"));
    let state = result.unwrap_or_else(|e| panic!("{e}"));
    assert!(state.quit, "q at the top quits");
    assert_eq!(state.view, View::Overview, "first q left the host view");
    assert_eq!(state.focus.as_deref(), Some("beta"));
    match &state.host.history {
        Loaded::Ready(series) => {
            let cpu = series
                .iter()
                .find(|s| s.key == "cpu_pct")
                .unwrap_or_else(|| panic!("no cpu series in {series:?}"));
            assert_eq!(cpu.points.len(), 9, "nine rates from ten polls");
            assert!(
                cpu.points.iter().all(|(_, v)| (*v - 10.0).abs() < 0.5),
                "{cpu:?}"
            );
        }
        other => panic!("history never arrived: {other:?}"),
    }
    // Input bursts are coalesced, so the last frame drawn may be the host view or the
    // overview; either shows the selected host.
    assert!(screen.contains("beta"), "{screen}");
    drop(in_tx);
}

/// The replay console end to end without a terminal: the real player task over the bundled
/// demo, keys through the real UI loop, checked on the player's own published status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_keys_steer_the_player_task() {
    use nocscope::app::spawn_player;
    use nocscope::replay::{DEMO, Limits, Player};
    use nocscope::ui::state::RunMode;

    let player = Player::open(DEMO, Limits::default()).unwrap_or_else(|e| panic!("{e}"));
    let start = player.start();
    let first_alert = *player
        .alert_marks()
        .first()
        .unwrap_or_else(|| panic!("the demo has alerts"));
    let (link, replay) = spawn_player(player);
    let mut status = replay.status.clone();

    let (ev_tx, ev_rx) = mpsc::channel(16);
    let (_stop_tx, stop_rx) = watch::channel(false);
    let services = Services {
        memory: link.memory.clone(),
        store: None,
        reload: None,
        notify: None,
    };
    let mut state = UiState::new(Arc::new(Keymap::embedded_default()));
    state.run_mode = RunMode::Replay;
    let theme = Theme::embedded_default();
    let snapshots = link.snapshots.clone();
    let ui = tokio::spawn(async move {
        let mut terminal =
            Terminal::new(TestBackend::new(100, 30)).unwrap_or_else(|e| panic!("{e}"));
        let mut on_mouse = |_: bool| {};
        let r = ui_loop(
            &mut terminal,
            event_stream(ev_rx),
            snapshots,
            state,
            &theme,
            &services,
            &Ui {
                fps: 60,
                refresh: std::time::Duration::from_secs(1),
            },
            stop_rx,
            &mut on_mouse,
            Some(replay),
        )
        .await;
        (r, format!("{}", terminal.backend()))
    });
    // Pause first, so the clock then stands exactly where the alert jump put it.
    for k in [
        KeyCode::Char(' '),
        KeyCode::Char(']'),
        KeyCode::Char('>'),
        KeyCode::Char('>'),
        KeyCode::Char('<'),
        KeyCode::Char('r'),
    ] {
        ev_tx.send(key(k)).await.unwrap_or_else(|e| panic!("{e}"));
    }
    status
        .wait_for(|s| s.paused && s.clock == first_alert && s.speed == "x2" && s.looping)
        .await
        .unwrap_or_else(|e| panic!("player stopped: {e}"));
    // `t` steps back half the 1h window, clamped at the recording's start.
    ev_tx
        .send(key(KeyCode::Char('t')))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let want = (first_alert - 1_800_000).max(start);
    status
        .wait_for(|s| s.clock == want)
        .await
        .unwrap_or_else(|e| panic!("player stopped: {e}"));
    ev_tx
        .send(key(KeyCode::Char('q')))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (result, screen) = ui.await.unwrap_or_else(|e| panic!("{e}"));
    let state = result.unwrap_or_else(|e| panic!("{e}"));
    assert!(state.quit);
    assert!(screen.contains("REPLAY"), "{screen}");
    assert!(state.replay.is_some(), "the UI took in the player's status");
    link.task.abort();
}

/// The live clock for `live_engine_publishes_on_ticks_not_per_observation`: fixed, so the
/// snapshot's `now` says which tick published it.
fn fixed_clock() -> nocscope::model::Millis {
    T0 + 100 * S
}

/// Issue #3: a live engine (one with a clock) publishes on its one-second tick, so a burst of
/// polls costs one snapshot and one UI wake-up, and that snapshot holds every poll of the burst.
#[tokio::test(start_paused = true)]
async fn live_engine_publishes_on_ticks_not_per_observation() {
    let engine = Engine::new(
        vec![spec("a-node", "alpha"), spec("b-node", "beta")],
        default_rules(),
    );
    let (in_tx, in_rx) = mpsc::channel(64);
    let link = spawn_engine(
        Pump::new(engine, Sinks::default()),
        in_rx,
        PumpOptions {
            clock: Some(fixed_clock as fn() -> nocscope::model::Millis),
            dropped: Arc::new(AtomicU64::new(0)),
            models: None,
            publish: true,
        },
    );
    let mut snaps = link.snapshots.clone();
    // The first tick comes at once.
    snaps
        .wait_for(|s| s.now == fixed_clock())
        .await
        .unwrap_or_else(|e| panic!("engine stopped: {e}"));
    snaps.borrow_and_update();

    let mut nodes = [Node::new(), Node::new()];
    let last_at = fixed_clock() + 300;
    for step in 0..5 {
        for (i, n) in nodes.iter_mut().enumerate() {
            in_tx
                .send(scrape(
                    i as u32,
                    last_at - 100 * (4 - step),
                    n.body(0.2, 0.4, 0.5),
                ))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    // Let the engine take every observation without letting virtual time reach the next tick.
    while in_tx.capacity() < in_tx.max_capacity() {
        tokio::task::yield_now().await;
    }
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert!(
        !snaps.has_changed().unwrap_or(true),
        "a snapshot was published before the tick"
    );

    tokio::time::advance(std::time::Duration::from_secs(1)).await;
    snaps
        .changed()
        .await
        .unwrap_or_else(|e| panic!("engine stopped: {e}"));
    let snap = snaps.borrow_and_update().clone();
    let polls: Vec<Option<i64>> = snap.targets.iter().map(|t| t.last_poll).collect();
    assert_eq!(polls, vec![Some(last_at), Some(last_at)]);
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert!(
        !snaps.has_changed().unwrap_or(true),
        "one tick must publish one snapshot"
    );
}

/// Rule reload times: each call a second later, so each reload is a new outcome.
fn reload_clock() -> nocscope::model::Millis {
    static NEXT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(T0);
    NEXT.fetch_add(1000, std::sync::atomic::Ordering::Relaxed)
}

/// `R` in the console reads the rule files again through the engine's input queue: a good
/// file replaces the rules (the rules view lists the new one), a broken one keeps them and
/// the status line says why, with the file and line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_reloads_the_rule_files_and_a_broken_file_keeps_the_last_good_ones() {
    use nocscope::app::RuleReloader;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let rules = dir.path().join("node.yml");
    let rule = |name: &str| {
        format!(
            "groups:\n  - name: node\n    rules:\n      - alert: {name}\n        expr: up == 0\n"
        )
    };
    std::fs::write(&rules, rule("First")).unwrap_or_else(|e| panic!("{e}"));
    let config_path = dir.path().join("config.toml");
    std::fs::write(
        &config_path,
        format!(
            "rule_files = [\"node.yml\"]\n\n[defaults]\ndata_dir = \"{}\"\n\n[[target]]\nname = \"a-node\"\nhost = \"alpha\"\nkind = \"exporter\"\nurl = \"http://127.0.0.1:9/metrics\"\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let config = nocscope::config::load(&config_path).unwrap_or_else(|e| panic!("{e}"));
    let engine = Engine::from_config(&config);
    let (in_tx, in_rx) = mpsc::channel(64);
    let link = spawn_engine(
        Pump::new(engine, Sinks::default()),
        in_rx,
        PumpOptions::default(),
    );
    let mut snaps = link.snapshots.clone();
    let (ev_tx, ev_rx) = mpsc::channel(16);
    let (stop_tx, stop_rx) = watch::channel(false);
    let services = Services {
        memory: link.memory.clone(),
        store: None,
        reload: Some(RuleReloader {
            config: config_path.clone(),
            inputs: in_tx.clone(),
            clock: reload_clock,
        }),
        notify: None,
    };
    let mut state = UiState::new(Arc::new(Keymap::embedded_default()));
    state.view = View::Rules;
    let theme = Theme::embedded_default();
    let ui = tokio::spawn(async move {
        let mut terminal =
            Terminal::new(TestBackend::new(120, 30)).unwrap_or_else(|e| panic!("{e}"));
        let mut on_mouse = |_: bool| {};
        let r = ui_loop(
            &mut terminal,
            event_stream(ev_rx),
            link.snapshots.clone(),
            state,
            &theme,
            &services,
            &Ui {
                fps: 60,
                refresh: std::time::Duration::from_millis(50),
            },
            stop_rx,
            &mut on_mouse,
            None,
        )
        .await;
        (r, format!("{}", terminal.backend()))
    });
    let bounded = std::time::Duration::from_secs(20);
    std::fs::write(&rules, rule("Second")).unwrap_or_else(|e| panic!("{e}"));
    ev_tx
        .send(key(KeyCode::Char('R')))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let snap = tokio::time::timeout(
        bounded,
        snaps.wait_for(|s| s.rule_reload.as_ref().is_some_and(|r| r.ok)),
    )
    .await
    .unwrap_or_else(|_| panic!("no reload within {bounded:?}"))
    .unwrap_or_else(|e| panic!("{e}"))
    .clone();
    let names: Vec<&str> = snap.rules.iter().map(|r| r.name.as_str()).collect();
    assert!(
        names.contains(&"Second") && !names.contains(&"First"),
        "{names:?}"
    );
    // Broken: the rules stay, the outcome says where.
    std::fs::write(
        &rules,
        "groups:\n  - name: node\n    rules:\n      - alert: Third\n        expr: up ==\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    ev_tx
        .send(key(KeyCode::Char('R')))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let snap = tokio::time::timeout(
        bounded,
        snaps.wait_for(|s| s.rule_reload.as_ref().is_some_and(|r| !r.ok)),
    )
    .await
    .unwrap_or_else(|_| panic!("no failed reload within {bounded:?}"))
    .unwrap_or_else(|e| panic!("{e}"))
    .clone();
    let names: Vec<&str> = snap.rules.iter().map(|r| r.name.as_str()).collect();
    assert!(
        names.contains(&"Second") && !names.contains(&"Third"),
        "{names:?}"
    );
    let message = snap
        .rule_reload
        .as_ref()
        .map(|r| r.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains("the last good rules keep running") && message.contains("node.yml"),
        "{message}"
    );
    // Let the UI take the snapshot, then stop it (no key: a key would clear the message).
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop_tx.send(true).unwrap_or_else(|e| panic!("{e}"));
    let (result, screen) = ui.await.unwrap_or_else(|e| panic!("{e}"));
    let state = result.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        state
            .message
            .as_deref()
            .is_some_and(|m| m.contains("rule reload failed")),
        "{:?}\n{screen}",
        state.message
    );
    // The rules view says so too, for as long as it holds.
    assert!(screen.contains("reload failed"), "{screen}");
    drop(in_tx);
}
