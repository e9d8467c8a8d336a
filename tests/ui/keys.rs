//! Key-sequence tests: keys in keymap notation against a deterministic engine state, checked
//! on the resulting UiState (and the commands the app would run).

use crate::ui_fixture;

use nocscope::config::keymap::Key;
use nocscope::model::{AnomalyEvent, Snapshot};
use nocscope::ui::command::Command;
use nocscope::ui::state::{Loaded, PromptKind, RunMode, ZOOM_LEVELS_MS};
use nocscope::ui::{UiState, View, dispatch};
use ui_fixture::{T0, press, snapshot, state};

fn fresh() -> UiState {
    state(&snapshot())
}

#[test]
fn fixture_order_is_worst_first() {
    let snap = snapshot();
    let names: Vec<&str> = snap.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["web1", "cache1", "db1", "edge1", "app1"]);
}

/// (keys, view, selected host, help open, quit)
#[test]
fn navigation_table() {
    let cases: &[(&str, View, &str, bool, bool)] = &[
        ("", View::Overview, "web1", false, false),
        ("j", View::Overview, "cache1", false, false),
        ("j j", View::Overview, "db1", false, false),
        ("<Down> <Down> <Up>", View::Overview, "cache1", false, false),
        ("k k k", View::Overview, "web1", false, false),
        ("G", View::Overview, "app1", false, false),
        ("G j j", View::Overview, "app1", false, false),
        ("G g", View::Overview, "web1", false, false),
        ("G <Home>", View::Overview, "web1", false, false),
        ("<C-f>", View::Overview, "app1", false, false),
        ("<C-f> <C-b>", View::Overview, "web1", false, false),
        ("j j <Enter>", View::Host, "db1", false, false),
        ("j <Enter> <Esc>", View::Overview, "cache1", false, false),
        ("j <Enter> q", View::Overview, "cache1", false, false),
        ("q", View::Overview, "web1", false, true),
        ("<C-c>", View::Overview, "web1", false, true),
        ("?", View::Overview, "web1", true, false),
        ("? ?", View::Overview, "web1", false, false),
        ("? q", View::Overview, "web1", false, false),
        ("? <Esc>", View::Overview, "web1", false, false),
        ("2", View::Alerts, "web1", false, false),
        ("3", View::Targets, "web1", false, false),
        ("3 1", View::Overview, "web1", false, false),
        ("2 q", View::Overview, "web1", false, false),
        ("2 q q", View::Overview, "web1", false, true),
        ("n n n n n", View::Overview, "web1", false, false),
        ("N", View::Overview, "app1", false, false),
        ("j 4", View::Host, "cache1", false, false),
        // Enter on an alert or a target opens its host (targets are in config order).
        ("2 j j <Enter>", View::Host, "db1", false, false),
        ("3 j j j <Enter>", View::Host, "edge1", false, false),
        // The anomalies view lists runs newest first; Enter opens the run's host.
        ("6", View::Anomalies, "web1", false, false),
        ("6 q", View::Overview, "web1", false, false),
        ("6 <Esc>", View::Overview, "web1", false, false),
        ("6 <Enter>", View::Host, "edge1", false, false),
        ("6 j j <Enter>", View::Host, "web1", false, false),
        ("6 G <Enter>", View::Host, "app1", false, false),
        ("6 G j j <Enter> q", View::Overview, "app1", false, false),
        ("2 6", View::Anomalies, "web1", false, false),
    ];
    for (keys, view, host, help, quit) in cases {
        let mut s = fresh();
        press(&mut s, keys);
        assert_eq!(s.view, *view, "view after {keys:?}");
        assert_eq!(s.selected_host(), Some(*host), "selection after {keys:?}");
        assert_eq!(s.help, *help, "help after {keys:?}");
        assert_eq!(s.quit, *quit, "quit after {keys:?}");
    }
}

#[test]
fn filter_narrows_rows_and_esc_clears_it() {
    // (keys, rows)
    let cases: &[(&str, &[&str])] = &[
        ("/ d b <Enter>", &["db1"]),
        ("/ ! d b <Enter>", &["web1", "cache1", "edge1", "app1"]),
        ("/ j o b = r e d i s <Enter>", &["cache1"]),
        ("/ d c = a m s <Enter>", &["db1", "edge1"]),
        ("/ d c = f r a <Space> ! w e b <Enter>", &["cache1", "app1"]),
        ("/ z z z <Enter>", &[]),
        ("/ d b <Esc>", &["web1", "cache1", "db1", "edge1", "app1"]),
        ("/ d b <BS> <BS> d g <Enter>", &["edge1"]),
        ("/ d b <C-u> a p p <Enter>", &["app1"]),
        (
            "/ d b <Enter> <Esc>",
            &["web1", "cache1", "db1", "edge1", "app1"],
        ),
        // In the prompt, letters are text even where normal mode binds them.
        ("/ j k q g <Enter>", &[]),
    ];
    for (keys, want) in cases {
        let mut s = fresh();
        press(&mut s, keys);
        let rows: Vec<&str> = s.overview.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(rows, *want, "rows after {keys:?}");
        assert!(s.prompt.is_none(), "prompt left open after {keys:?}");
        assert!(!s.quit, "{keys:?} quit");
    }
}

#[test]
fn selection_follows_the_host_across_filters_and_snapshots() {
    let snap = snapshot();
    let mut s = state(&snap);
    press(&mut s, "j j");
    assert_eq!(s.selected_host(), Some("db1"));
    press(&mut s, "/ 1 <Enter>");
    assert_eq!(
        s.selected_host(),
        Some("db1"),
        "still db1 under a filter all match"
    );
    s.sync(&snap);
    assert_eq!(
        s.selected_host(),
        Some("db1"),
        "still db1 after a new snapshot"
    );
}

#[test]
fn palette_runs_actions_by_name_with_completion() {
    let mut s = fresh();
    press(&mut s, ": v i e w _ t <Tab>");
    assert_eq!(
        s.prompt.as_ref().map(|p| (p.kind, p.text.as_str())),
        Some((PromptKind::Palette, "view_targets"))
    );
    press(&mut s, "<Enter>");
    assert_eq!(s.view, View::Targets);

    let mut s = fresh();
    press(&mut s, ": v i e w <Tab>");
    assert_eq!(s.prompt.as_ref().map(|p| p.text.as_str()), Some("view_"));
    assert!(
        s.message
            .as_deref()
            .is_some_and(|m| m.contains("view_alerts"))
    );

    let mut s = fresh();
    press(&mut s, ": b o g u s <Enter>");
    assert!(
        s.message
            .as_deref()
            .is_some_and(|m| m.contains("unknown command `bogus`"))
    );
    assert_eq!(s.view, View::Overview);

    let mut s = fresh();
    press(&mut s, ": q u i t <Enter>");
    assert!(s.quit);
}

#[test]
fn open_host_asks_for_its_vital_history() {
    let mut s = fresh();
    let keys = Key::parse_seq("j j").unwrap_or_default();
    for k in keys {
        assert_eq!(dispatch(&mut s, k), None);
    }
    let cmd = Key::parse("<Enter>").ok().and_then(|k| dispatch(&mut s, k));
    let Some(Command::History(req)) = cmd else {
        panic!("Enter should ask for history, got {cmd:?}");
    };
    assert_eq!(req.source, "host/db1");
    assert!(req.keys.iter().any(|k| k == "cpu_pct"));
    assert_eq!(req.to, s.now);
    assert_eq!(req.to - req.from, 3_600_000);
    assert_eq!(s.host.history, Loaded::Loading);
    // A stale reply is dropped, the current one lands.
    s.apply_history(req.id + 100, Ok(Vec::new()));
    assert_eq!(s.host.history, Loaded::Loading);
    s.apply_history(req.id, Err("store: locked".into()));
    assert_eq!(s.host.history, Loaded::Failed("store: locked".into()));
}

#[test]
fn time_travel_zoom_step_pause_and_live() {
    let mut s = fresh();
    press(&mut s, "<Enter>");
    press(&mut s, "+ +");
    assert_eq!(s.range_ms(), ZOOM_LEVELS_MS[0]);
    press(&mut s, "+");
    assert_eq!(s.range_ms(), ZOOM_LEVELS_MS[0], "5m is the floor");
    press(&mut s, "- - - - - - - - - - - -");
    assert_eq!(s.range_ms(), 30 * 86_400_000, "30d is the ceiling");
    let mut s = fresh();
    press(&mut s, "<Enter> t");
    assert_eq!(s.window(), (s.now - 3 * 1_800_000, s.now - 1_800_000));
    press(&mut s, "T");
    assert_eq!(
        s.window_end, None,
        "stepping to the present follows it again"
    );
    press(&mut s, "t t L");
    assert_eq!(s.window_end, None);
    press(&mut s, "p");
    assert_eq!(s.run_mode, RunMode::Paused);
    press(&mut s, "p");
    assert_eq!(s.run_mode, RunMode::Live);
    press(&mut s, "p t L");
    assert_eq!((s.run_mode, s.window_end), (RunMode::Live, None));
}

/// Where `[`/`]` may land: every alert start and anomaly start (of `host`, if given), a tenth
/// of the window after it, sorted.
fn jump_ends(snap: &Snapshot, lead: i64, host: Option<&str>) -> Vec<i64> {
    let mut ends: Vec<i64> = snap
        .alerts
        .iter()
        .map(|a| (a.active_at, a.host.as_str()))
        .chain(snap.anomalies.iter().map(|a| (a.start, a.host.as_str())))
        .filter(|(_, h)| host.is_none_or(|x| x == *h))
        .map(|(t, _)| t + lead)
        .collect();
    ends.sort();
    ends.dedup();
    ends
}

#[test]
fn jumps_visit_alert_and_anomaly_starts_in_time_order() {
    let snap = snapshot();
    let mut s = state(&snap);
    press(&mut s, "2");
    let lead = s.range_ms() / 10;
    let ends = jump_ends(&snap, lead, None);
    // From the present `[` walks back through every start that is already in the past.
    let mut want: Vec<i64> = ends.iter().copied().filter(|t| *t < snap.now).collect();
    want.reverse();
    let mut got = Vec::new();
    for _ in 0..want.len() {
        press(&mut s, "[");
        got.push(s.window_end.unwrap_or(s.now));
    }
    assert_eq!(
        got, want,
        "`[` steps back over every alert and anomaly start"
    );
    let anomaly_starts: Vec<i64> = snap.anomalies.iter().map(|a| a.start + lead).collect();
    let alert_starts: Vec<i64> = snap.alerts.iter().map(|a| a.active_at + lead).collect();
    assert!(
        got.iter().any(|t| anomaly_starts.contains(t)),
        "no anomaly visited"
    );
    assert!(
        got.iter().any(|t| alert_starts.contains(t)),
        "no alert visited"
    );
    press(&mut s, "[");
    assert!(
        s.message
            .as_deref()
            .is_some_and(|m| m.contains("no earlier alert or anomaly")),
        "{:?}",
        s.message
    );
    assert_eq!(
        s.window_end,
        want.last().copied(),
        "stops at the first start"
    );
    // `]` walks forward over the same marks and then follows the present again.
    let mut forward = Vec::new();
    for _ in 1..want.len() {
        press(&mut s, "]");
        forward.push(s.window_end.unwrap_or(s.now));
    }
    let mut back: Vec<i64> = want.iter().rev().skip(1).copied().collect();
    back.truncate(forward.len());
    assert_eq!(forward, back, "`]` retraces the same marks");
    press(&mut s, "L ]");
    assert_eq!(s.window_end, None, "a jump past the present follows it");
}

#[test]
fn jumps_in_the_host_view_stay_on_that_host() {
    let snap = snapshot();
    let mut s = state(&snap);
    // At 5 minutes the lead is short enough for db1's ongoing anomaly start to be behind us.
    press(&mut s, "j j <Enter> + +");
    assert_eq!(s.focus.as_deref(), Some("db1"));
    let lead = s.range_ms() / 10;
    let mut want: Vec<i64> = jump_ends(&snap, lead, Some("db1"))
        .into_iter()
        .filter(|t| *t < snap.now)
        .collect();
    want.reverse();
    assert!(
        want.len() >= 2,
        "db1 has an alert and an anomaly start: {want:?}"
    );
    for w in &want {
        let cmd = Key::parse("[").ok().and_then(|k| dispatch(&mut s, k));
        assert_eq!(s.window_end, Some(*w));
        assert!(
            matches!(&cmd, Some(Command::History(r)) if r.to == *w && r.source == "host/db1"),
            "each jump reloads the charts: {cmd:?}"
        );
    }
}

#[test]
fn metric_browser_lists_sources_and_fuzzy_filters() {
    let mut s = fresh();
    let cmd = Key::parse("5").ok().and_then(|k| dispatch(&mut s, k));
    let Some(Command::ListSeries { id, sources }) = cmd else {
        panic!("5 should list series, got {cmd:?}");
    };
    // The host's targets, then its recording rules' results.
    assert_eq!(sources, ["web1-node", "rules/web1"]);
    let keys = [
        "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"}",
        "node_load1",
        "node_memory_MemTotal_bytes",
    ];
    s.apply_series(
        id,
        Ok(keys
            .iter()
            .map(|k| ("web1-node".to_string(), k.to_string()))
            .collect()),
    );
    assert_eq!(s.metric_rows().len(), 3);
    press(&mut s, "/ l o a d");
    let rows: Vec<&str> = s.metric_rows().iter().map(|r| r.1.as_str()).collect();
    assert_eq!(rows, ["node_load1"], "narrows while typing");
    press(&mut s, "<Enter>");
    assert_eq!(s.metrics.query, "load");
    let cmd = Key::parse("<Enter>").ok().and_then(|k| dispatch(&mut s, k));
    assert!(
        matches!(&cmd, Some(Command::History(r)) if r.keys == ["node_load1"] && r.source == "web1-node"),
        "{cmd:?}"
    );
    press(&mut s, "q");
    assert_eq!(s.view, View::Host);
}

fn replay_state() -> UiState {
    let mut s = fresh();
    s.run_mode = RunMode::Replay;
    s.replay = Some(nocscope::ui::command::ReplayStatus {
        clock: 10_000_000,
        start: 1_000_000,
        end: 20_000_000,
        speed: "x1".to_string(),
        paused: false,
        looping: false,
        finished: false,
    });
    s
}

/// In replay mode the time keys steer the player; each key yields exactly this command and
/// leaves the chart window alone.
#[test]
fn replay_keys_send_player_controls() {
    use nocscope::ui::command::ReplayControl as C;
    let half = ZOOM_LEVELS_MS[2] / 2;
    let cases: &[(&str, Option<C>)] = &[
        ("<Space>", Some(C::TogglePause)),
        ("p", Some(C::TogglePause)),
        (">", Some(C::Faster)),
        ("<lt>", Some(C::Slower)),
        ("r", Some(C::ToggleLoop)),
        ("t", Some(C::SeekBy(-half))),
        ("T", Some(C::SeekBy(half))),
        ("[", Some(C::PrevAlert)),
        ("]", Some(C::NextAlert)),
        (": s e e k <Space> + 5 m <Enter>", Some(C::SeekBy(300_000))),
        (
            ": s e e k <Space> - 1 h <Enter>",
            Some(C::SeekBy(-3_600_000)),
        ),
        (
            ": s e e k <Space> s t a r t <Enter>",
            Some(C::SeekTo(1_000_000)),
        ),
        (
            ": s e e k <Space> e n d <Enter>",
            Some(C::SeekTo(20_000_000)),
        ),
        (": f a s t e r <Enter>", Some(C::Faster)),
        (": s e e k <Enter>", None),
        (": s e e k <Space> s o o n <Enter>", None),
        ("j", None),
    ];
    for (keys, want) in cases {
        let mut s = replay_state();
        let mut last = None;
        for k in Key::parse_seq(keys).unwrap_or_else(|e| panic!("{keys}: {e}")) {
            last = dispatch(&mut s, k);
        }
        assert_eq!(last.clone(), want.map(Command::Replay), "keys {keys:?}");
        assert_eq!(s.run_mode, RunMode::Replay, "keys {keys:?}");
        assert_eq!(s.window_end, None, "keys {keys:?} moved the chart window");
        if want.is_none() && keys.starts_with(':') {
            assert!(s.message.is_some(), "keys {keys:?} failed silently");
        }
    }
}

/// Live mode keeps its meaning for the shared keys; replay-only keys explain themselves.
#[test]
fn replay_only_keys_in_live_mode() {
    for keys in [">", "<lt>", "r", ": s e e k <Space> + 5 m <Enter>"] {
        let mut s = fresh();
        let mut last = None;
        for k in Key::parse_seq(keys).unwrap_or_else(|e| panic!("{keys}: {e}")) {
            last = dispatch(&mut s, k);
        }
        assert_eq!(last, None, "keys {keys:?}");
        assert_eq!(s.run_mode, RunMode::Live);
        assert!(
            s.message.as_deref().is_some_and(|m| m.contains("replay")),
            "keys {keys:?}: {:?}",
            s.message
        );
    }
    let mut s = fresh();
    press(&mut s, "<Space>");
    assert_eq!(s.run_mode, RunMode::Paused, "Space pauses live too");
    press(&mut s, "t");
    assert!(
        s.window_end.is_some(),
        "t still steps the live chart window"
    );
}

#[test]
fn seek_argument_table() {
    use nocscope::ui::command::ReplayControl as C;
    use nocscope::ui::state::parse_seek;
    let st = replay_state().replay;
    let cases: &[(&str, Result<C, &str>)] = &[
        ("+90s", Ok(C::SeekBy(90_000))),
        ("-2h 30m", Ok(C::SeekBy(-9_000_000))),
        ("start", Ok(C::SeekTo(1_000_000))),
        ("end", Ok(C::SeekTo(20_000_000))),
        ("2023-11-14T22:13:20Z", Ok(C::SeekTo(1_700_000_000_000))),
        ("1970-01-01T00:00:01Z", Ok(C::SeekTo(1_000))),
        ("", Err("where to")),
        ("+", Err("bad duration")),
        ("+5 parsecs", Err("bad duration")),
        ("yesterday", Err("bad time")),
    ];
    for (arg, want) in cases {
        let got = parse_seek(arg, st.as_ref());
        match (want, &got) {
            (Ok(w), Ok(g)) => assert_eq!(g, w, "{arg:?}"),
            (Err(w), Err(g)) => assert!(g.contains(w), "{arg:?}: {g}"),
            _ => panic!("{arg:?}: got {got:?}, want {want:?}"),
        }
    }
    assert!(parse_seek("start", None).is_err(), "no span yet: refuse");
}

proptest::proptest! {
    #[test]
    fn seek_never_panics(arg in "\\PC{0,40}") {
        let st = replay_state().replay;
        let _ = nocscope::ui::state::parse_seek(&arg, st.as_ref());
        let mut s = replay_state();
        s.prompt = Some(nocscope::ui::state::Prompt {
            kind: PromptKind::Palette,
            text: format!("seek {arg}"),
        });
        let _ = nocscope::ui::update(&mut s, nocscope::ui::Action::PromptAccept);
    }
}

#[test]
fn anomalies_view_lists_newest_first_and_filters() {
    let snap = snapshot();
    let mut s = state(&snap);
    press(&mut s, "6");
    let hosts =
        |s: &UiState| -> Vec<String> { s.anomalies.rows.iter().map(|a| a.host.clone()).collect() };
    assert_eq!(hosts(&s), ["edge1", "db1", "web1", "app1"]);
    assert!(
        s.anomalies
            .rows
            .windows(2)
            .all(|w| w[0].start >= w[1].start)
    );
    // (filter keys, hosts of the rows)
    let cases: &[(&str, &[&str])] = &[
        ("/ m e m <Enter>", &["edge1", "db1"]),
        ("/ l s t m <Enter>", &["edge1", "web1"]),
        ("/ ! l s t m <Enter>", &["db1", "app1"]),
        ("/ d c = f r a <Enter>", &["web1", "app1"]),
        ("/ v i t a l = c p u _ p c t <Enter>", &["web1"]),
        (
            "/ d e t e c t o r = z s c o r e <Space> d b <Enter>",
            &["db1"],
        ),
        ("/ n o p e <Enter>", &[]),
        ("/ m e m <Enter> <Esc>", &["edge1", "db1", "web1", "app1"]),
    ];
    for (keys, want) in cases {
        let mut s = state(&snap);
        press(&mut s, "6");
        press(&mut s, keys);
        assert_eq!(hosts(&s), *want, "rows after {keys:?}");
        assert_eq!(s.view, View::Anomalies, "{keys:?}");
        assert_eq!(
            s.overview.rows.len(),
            5,
            "{keys:?} filtered the host list too"
        );
        if want.is_empty() {
            assert_eq!(s.message.as_deref(), Some("no anomaly matches the filter"));
        }
    }
    // The host list's own filter leaves the anomalies alone, and the other way round.
    let mut s = state(&snap);
    press(&mut s, "/ d b <Enter> 6");
    assert_eq!(s.anomalies.rows.len(), 4);
    assert_eq!(s.overview.rows.len(), 1);
}

#[test]
fn anomaly_selection_survives_a_new_run_arriving() {
    let mut snap = snapshot();
    let mut s = state(&snap);
    press(&mut s, "6 j j");
    assert_eq!(
        s.anomalies
            .rows
            .get(s.anomalies.sel)
            .map(|a| a.host.as_str()),
        Some("web1")
    );
    let mut newer = snap
        .anomalies
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("no anomalies"));
    newer.host = "cache1".into();
    newer.start += 1000;
    snap.anomalies.insert(0, newer);
    s.sync(&snap);
    assert_eq!(s.anomalies.rows.len(), 5);
    assert_eq!(
        s.anomalies
            .rows
            .get(s.anomalies.sel)
            .map(|a| a.host.as_str()),
        Some("web1"),
        "the cursor stays on the run it was on"
    );
}

/// Enter on a run: the host view with the run in the middle of the window.
#[test]
fn enter_on_an_anomaly_centres_the_window_on_it() {
    let snap = snapshot();
    let mut s = state(&snap);
    // 5 minutes: web1's closed run (41st to 50th step) fits, and its centre is in the past.
    press(&mut s, "+ + 6 j j");
    let run = s
        .anomalies
        .rows
        .get(s.anomalies.sel)
        .cloned()
        .unwrap_or_else(|| panic!("no row"));
    assert_eq!(run.host, "web1");
    let cmd = Key::parse("<Enter>").ok().and_then(|k| dispatch(&mut s, k));
    let end = run.end.unwrap_or(s.now);
    let centre = run.start + (end - run.start) / 2;
    assert_eq!(s.range_ms(), ZOOM_LEVELS_MS[0], "the run fits: zoom kept");
    let (from, to) = s.window();
    assert_eq!((from + to) / 2, centre);
    assert!(from <= run.start && end <= to);
    assert!(
        matches!(&cmd, Some(Command::History(r)) if r.source == "host/web1" && r.from == from && r.to == to),
        "{cmd:?}"
    );
    assert_eq!((s.view, s.focus.as_deref()), (View::Host, Some("web1")));
    assert!(s.window_end.is_some(), "a past window, not the present");
}

#[test]
fn enter_on_a_long_anomaly_zooms_out_to_fit_it() {
    let mut snap = snapshot();
    snap.anomalies = vec![AnomalyEvent {
        host: "db1".into(),
        vital: "mem_pct".into(),
        detector: "lstm".into(),
        start: snap.now - 30 * 3_600_000,
        end: Some(snap.now - 26 * 3_600_000),
        peak_score: 5.0,
        threshold: 1.0,
    }];
    let mut s = state(&snap);
    press(&mut s, "6 <Enter>");
    // 4 h must fill at most four fifths: 6 h is the first level that holds it.
    assert_eq!(s.range_ms(), 6 * 3_600_000);
    let (from, to) = s.window();
    assert_eq!(
        (from, to),
        (snap.now - 31 * 3_600_000, snap.now - 25 * 3_600_000)
    );
}

#[test]
fn enter_in_an_empty_anomalies_view_says_so() {
    let mut snap = snapshot();
    snap.anomalies.clear();
    let mut s = state(&snap);
    press(&mut s, "6 <Enter>");
    assert_eq!(s.view, View::Anomalies);
    assert_eq!(s.message.as_deref(), Some("no anomaly selected"));
}

#[test]
fn anomaly_markers_leave_the_row_order_alone() {
    let snap = snapshot();
    let marked: Vec<&str> = snap
        .hosts
        .iter()
        .filter(|h| h.anomaly.is_some())
        .map(|h| h.name.as_str())
        .collect();
    assert_eq!(marked, ["db1", "edge1"]);
    let s = state(&snap);
    let rows: Vec<&str> = s.overview.rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        rows,
        ["web1", "cache1", "db1", "edge1", "app1"],
        "severity, then duration"
    );
}

fn cached_snapshot() -> &'static Snapshot {
    static SNAP: std::sync::OnceLock<Snapshot> = std::sync::OnceLock::new();
    SNAP.get_or_init(snapshot)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Whatever run Enter opens (within the 30-day zoom), the window ends up holding all of it.
    #[test]
    fn enter_always_shows_the_whole_run(
        ago in 0i64..40 * 86_400_000, len in 0i64..40 * 86_400_000, zoom in 0usize..10, ongoing: bool,
    ) {
        let mut snap = cached_snapshot().clone();
        let start = snap.now - ago;
        let end = (start + len).min(snap.now);
        snap.anomalies = vec![AnomalyEvent {
            host: "app1".into(),
            vital: "cpu_pct".into(),
            detector: "lstm".into(),
            start,
            end: (!ongoing).then_some(end),
            peak_score: 2.0,
            threshold: 1.0,
        }];
        let mut s = state(&snap);
        s.zoom = zoom;
        press(&mut s, "6 <Enter>");
        let end = if ongoing { snap.now } else { end };
        let (from, to) = s.window();
        proptest::prop_assert_eq!(s.view, View::Host);
        proptest::prop_assert!(to <= snap.now);
        if (end - start) * 5 <= ZOOM_LEVELS_MS[9] * 4 {
            proptest::prop_assert!(from <= start && end <= to, "{from}..{to} misses {start}..{end}");
        }
        proptest::prop_assert!(s.zoom >= zoom, "Enter never zooms in");
    }
}

#[test]
fn fixture_anomaly_times_are_in_the_past() {
    let snap = snapshot();
    assert!(
        snap.anomalies
            .iter()
            .all(|a| a.start > T0 && a.start < snap.now)
    );
}
