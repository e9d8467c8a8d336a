//! Frame snapshots (insta, TestBackend) of every view at 80×24 and 200×50 from a deterministic
//! engine state, plus: no size or state panics, outside text is sanitized, the too-small screen.

use crate::ui_fixture;

use nocscope::config::theme::Theme;
use nocscope::engine::Engine;
use nocscope::model::Snapshot;
use nocscope::model::Vital;
use nocscope::ui::command::{Command, SeriesData};
use nocscope::ui::{UiState, dispatch, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use nocscope::config::keymap::Key;
use ui_fixture::{engine, press, state, with_anomalies};

fn draw(snap: &Snapshot, s: &UiState, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap_or_else(|e| panic!("{e}"));
    let theme = Theme::embedded_default();
    t.draw(|f| render(f, snap, s, &theme))
        .unwrap_or_else(|e| panic!("{e}"));
    t
}

/// Answer a history command the way the app does from the engine's memory.
fn answer(e: &Engine, s: &mut UiState, cmd: Option<Command>) {
    if let Some(Command::History(req)) = cmd {
        let host = req.source.trim_start_matches("host/");
        let data = Vital::ALL
            .iter()
            .filter(|v| req.keys.iter().any(|k| k == v.key()))
            .filter_map(|v| {
                e.history(host, *v).map(|ring| SeriesData {
                    key: v.key().to_string(),
                    points: ring
                        .iter()
                        .filter(|(t, _)| *t >= req.from && *t <= req.to)
                        .map(|(t, x)| (*t, f64::from(*x)))
                        .collect(),
                })
            })
            .collect();
        s.apply_history(req.id, Ok(data));
    }
}

fn keys(s: &mut UiState, e: &Engine, seq: &str) {
    for k in Key::parse_seq(seq).unwrap_or_else(|err| panic!("{err}")) {
        let cmd = dispatch(s, k);
        answer(e, s, cmd);
    }
}

/// (name, keys) of every view and overlay worth a snapshot.
const SCENES: &[(&str, &str)] = &[
    ("overview", ""),
    ("overview_selected", "j j"),
    ("overview_filtered", "/ d c = a m s <Enter>"),
    ("overview_paused", "p"),
    ("help", "?"),
    ("host", "<Enter>"),
    ("host_zoomed_out", "j j <Enter> - t"),
    ("alerts", "2 j"),
    ("targets", "3"),
    ("palette", ": v i e w"),
    ("anomalies", "6"),
    ("anomalies_filtered", "6 / m e m <Enter> j"),
    ("anomaly_jump", "+ + 6 j j <Enter>"),
    ("rules", "7 j"),
    ("alert_detail", "2 j d"),
    ("alert_detail_scrolled", "2 d j j j j j j"),
    ("rule_detail", "7 j d"),
    ("target_detail", "3 j j d"),
    ("anomaly_detail", "6 d"),
];

#[test]
fn snapshots_of_every_view() {
    let e = engine();
    let snap = with_anomalies(e.snapshot());
    for (name, seq) in SCENES {
        for (w, h) in [(80u16, 24u16), (200, 50)] {
            let mut s = state(&snap);
            keys(&mut s, &e, seq);
            let t = draw(&snap, &s, w, h);
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), t.backend());
        }
    }
}

/// The rules view with Prometheus groups beside the own rules: a firing alert rule, a
/// recording rule, and one whose last evaluation failed (its error shown in place of the
/// condition).
#[test]
fn snapshots_of_the_rules_view_with_prometheus_groups() {
    use nocscope::model::RuleStatus;
    let e = engine();
    let mut snap = with_anomalies(e.snapshot());
    let group = "rules/node.yml;node".to_string();
    snap.rules.extend([
        RuleStatus {
            group: group.clone(),
            name: "instance:load1:ratio".into(),
            kind: "record".into(),
            expr: "node_load1 / count by (instance) (node_cpu_seconds_total{mode=\"idle\"})".into(),
            last_eval: Some(snap.now - 7_000),
            matched: 7,
            ..RuleStatus::default()
        },
        RuleStatus {
            group: group.clone(),
            name: "HostHighLoad".into(),
            kind: "alert".into(),
            expr: "instance:load1:ratio > 2".into(),
            firing: 2,
            pending: 1,
            last_eval: Some(snap.now - 7_000),
            matched: 3,
            ..RuleStatus::default()
        },
        RuleStatus {
            group,
            name: "DiskJoin".into(),
            kind: "alert".into(),
            expr: "node_filesystem_avail_bytes + on (instance) node_uname_info".into(),
            last_eval: Some(snap.now - 7_000),
            error: Some("found duplicate series for the match group {instance=\"web1\"} on the left hand-side of the operation".into()),
            ..RuleStatus::default()
        },
    ]);
    for (w, h) in [(80u16, 24u16), (200, 50)] {
        let mut s = state(&snap);
        keys(&mut s, &e, "7 G");
        let t = draw(&snap, &s, w, h);
        insta::assert_snapshot!(format!("rules_prometheus_{w}x{h}"), t.backend());
    }
}

#[test]
fn snapshots_of_the_metric_browser() {
    let e = engine();
    let snap = with_anomalies(e.snapshot());
    for (w, h) in [(80u16, 24u16), (200, 50)] {
        let mut s = state(&snap);
        let cmd = Key::parse("5").ok().and_then(|k| dispatch(&mut s, k));
        let Some(Command::ListSeries { id, .. }) = cmd else {
            panic!("5 should list series: {cmd:?}");
        };
        let keys_list = [
            "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"}",
            "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"}",
            "node_load1",
            "node_memory_MemAvailable_bytes",
            "node_memory_MemTotal_bytes",
        ];
        s.apply_series(
            id,
            Ok(keys_list
                .iter()
                .map(|k| ("web1-node".to_string(), k.to_string()))
                .collect()),
        );
        press(&mut s, "/ l o a d <Enter>");
        let cmd = Key::parse("<Enter>").ok().and_then(|k| dispatch(&mut s, k));
        let Some(Command::History(req)) = cmd else {
            panic!("Enter should chart: {cmd:?}");
        };
        let (from, to) = (req.from, req.to);
        let points = (0..40)
            .map(|i| (to - (40 - i) * 15_000, 1.0 + (i as f64 / 5.0).sin()))
            .filter(|(t, _)| *t >= from)
            .collect();
        s.apply_history(
            req.id,
            Ok(vec![SeriesData {
                key: "node_load1".into(),
                points,
            }]),
        );
        let t = draw(&snap, &s, w, h);
        insta::assert_snapshot!(format!("metrics_{w}x{h}"), t.backend());
    }
}

#[test]
fn too_small_terminal_says_so() {
    let snap = with_anomalies(engine().snapshot());
    let s = state(&snap);
    let t = draw(&snap, &s, 40, 10);
    insta::assert_snapshot!("too_small_40x10", t.backend());
    let text = format!("{}", t.backend());
    assert!(text.contains("terminal too small"));
}

#[test]
fn loading_and_failed_history_are_shown() {
    let e = engine();
    let snap = with_anomalies(e.snapshot());
    let mut s = state(&snap);
    press(&mut s, "<Enter>");
    let text = format!("{}", draw(&snap, &s, 120, 40).backend());
    assert!(text.contains("loading history…"), "{text}");
    let id = s.host.history_id;
    s.apply_history(id, Err("store: database is locked".into()));
    let text = format!("{}", draw(&snap, &s, 120, 40).backend());
    assert!(
        text.contains("history unavailable: store: database is locked"),
        "{text}"
    );
}

#[test]
fn outside_text_is_sanitized() {
    let mut snap = with_anomalies(engine().snapshot());
    if let Some(h) = snap.hosts.first_mut() {
        h.name = "evil\u{1b}[2Jhost".into();
        h.reason = "bad\u{7}bell".into();
    }
    if let Some(t) = snap.targets.first_mut() {
        t.error = Some("reset\u{1b}]0;title\u{7}".into());
    }
    for a in &mut snap.anomalies {
        a.host = "evil\u{1b}[2Jhost".into();
        a.vital = "v\u{1b}[31m".into();
        a.detector = "d\u{7}".into();
    }
    for h in &mut snap.hosts {
        for f in &mut h.forecasts {
            f.vital = "disk:/m\u{1b}[H".into();
        }
        if let Some(m) = &mut h.anomaly {
            m.vital = "x\u{1b}[2K".into();
        }
    }
    for seq in ["", "3", "2", "6", "6 <Enter>", "j j", "j j <Enter>"] {
        let mut s = state(&snap);
        press(&mut s, seq);
        let t = draw(&snap, &s, 200, 50);
        let buf = t.backend().buffer();
        let raw: String = buf.content().iter().map(|c| c.symbol()).collect();
        assert!(!raw.contains('\u{1b}'), "raw ESC drawn after {seq:?}");
        assert!(!raw.contains('\u{7}'), "raw BEL drawn after {seq:?}");
        if seq.is_empty() {
            assert!(raw.contains("evil\\u{1b}[2Jhost"), "escaped name missing");
        }
        if seq == "6" {
            assert!(raw.contains("v\\u{1b}[31m"), "escaped vital missing");
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    #[test]
    fn any_size_and_view_renders_without_panicking(
        w in 0u16..230, h in 0u16..70, scene in 0usize..SCENES.len(),
    ) {
        let e = engine_cached();
        let snap = with_anomalies(e.snapshot());
        let mut s = state(&snap);
        let seq = SCENES.get(scene).map(|x| x.1).unwrap_or("");
        keys(&mut s, e, seq);
        let _ = draw(&snap, &s, w, h);
    }
}

fn engine_cached() -> &'static Engine {
    static E: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    E.get_or_init(engine)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    /// Hostile values from outside (times, NaN, huge numbers, odd names) never panic a view.
    #[test]
    fn odd_snapshot_values_render(
        now in proptest::num::i64::ANY,
        since in proptest::num::i64::ANY,
        v in proptest::num::f64::ANY,
        spark in proptest::collection::vec(proptest::num::f32::ANY, 0..80),
        name in "\\PC{0,40}",
        scene in 0usize..SCENES.len(),
    ) {
        let mut snap = with_anomalies(engine_cached().snapshot());
        snap.now = now;
        for h in &mut snap.hosts {
            h.since = since;
            h.vitals.cpu_pct = Some(v);
            h.vitals.net_rx_bps = Some(v);
            h.sparkline = spark.clone();
        }
        if let Some(h) = snap.hosts.first_mut() {
            h.name = name.clone();
        }
        for a in &mut snap.alerts {
            a.active_at = since;
            a.value = v;
        }
        for t in &mut snap.targets {
            t.last_poll = Some(since);
            t.duration_ms = Some(v);
        }
        for a in &mut snap.anomalies {
            a.start = since;
            a.end = a.end.map(|_| now);
            a.peak_score = v as f32;
            a.threshold = -(v as f32);
            a.vital = name.clone();
        }
        for h in &mut snap.hosts {
            if let Some(m) = &mut h.anomaly {
                m.since = since;
                m.score = v as f32;
            }
            for f in &mut h.forecasts {
                f.days = v;
                f.days_low = -v;
                f.days_high = v * 2.0;
                f.vital = name.clone();
            }
        }
        let mut s = state(&snap);
        let seq = SCENES.get(scene).map(|x| x.1).unwrap_or("");
        keys(&mut s, engine_cached(), seq);
        let _ = draw(&snap, &s, 120, 40);
        let _ = draw(&snap, &s, 80, 24);
    }
}

/// The REPLAY header over the bundled demo, 30 virtual minutes in, paused at x100 with loop
/// on: the recorded clock, the speed and the player's state must all show at 80 columns.
#[test]
fn snapshot_of_the_replay_header() {
    let mut player =
        nocscope::replay::Player::open(nocscope::replay::DEMO, nocscope::replay::Limits::default())
            .unwrap_or_else(|e| panic!("{e}"));
    player.set_speed(nocscope::replay::Speed::Factor(100.0));
    // Deterministic virtual time: 18 s of "real" time at x100 is 30 recorded minutes.
    player.advance(std::time::Duration::from_secs(18));
    let clock = player.clock();
    assert_eq!(clock, player.start() + 30 * 60_000);
    player.toggle_pause();
    player.set_looping(true);
    let snap = player.snapshot();
    let mut s = UiState::new(std::sync::Arc::new(
        nocscope::config::keymap::Keymap::embedded_default(),
    ));
    s.run_mode = nocscope::ui::state::RunMode::Replay;
    s.store_health = "off".to_string();
    s.replay = Some(nocscope::app::replay_status(&player));
    s.sync(&snap);
    let t = draw(&snap, &s, 80, 24);
    let screen = format!("{}", t.backend());
    let top = screen.lines().next().unwrap_or_default();
    assert!(top.contains("REPLAY"), "{top}");
    assert!(top.contains("x100 paused loop"), "{top}");
    assert!(
        top.contains(&nocscope::ui::style::clock(clock)),
        "the header shows the player's clock: {top}"
    );
    // Where in the recording: a percentage at 80 columns; position, length and a bar wider.
    assert!(top.contains(" 83% "), "{top}");
    let wide = format!("{}", draw(&snap, &s, 200, 50).backend());
    let top = wide.lines().next().unwrap_or_default();
    assert!(
        top.contains("30m0s/36m0s █████████") && top.contains("░ │"),
        "{top}"
    );
    insta::assert_snapshot!("replay_header_80x24", t.backend());
}

/// The content of a drawn frame, one string per row.
fn rows(t: &Terminal<TestBackend>) -> Vec<String> {
    let buf = t.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf.cell((x, y)).map(|c| c.symbol()).unwrap_or(" "))
                .collect()
        })
        .collect()
}

/// `d` on a Prometheus alert: its labels, every rendered annotation, the rule's expression
/// and its templates as written, long ones wrapped rather than cut; j scrolls; Esc closes.
#[test]
fn alert_detail_shows_the_rule_behind_an_alert() {
    use nocscope::model::{AlertState, AlertView, RuleStatus, Severity};
    let e = engine();
    let mut snap = e.snapshot();
    let expr = "(node_filesystem_avail_bytes{fstype!~\"tmpfs|overlay\"} / node_filesystem_size_bytes) * 100 < 10 and on (instance, device, mountpoint) node_filesystem_readonly == 0";
    snap.alerts.insert(
        0,
        AlertView {
            flapping: false,
            held: false,
            rule: "HostDiskAlmostFull".into(),
            host: "web1".into(),
            labels: "{device=\"/dev/vda1\",mountpoint=\"/srv\",severity=\"critical\"}".into(),
            state: AlertState::Firing,
            severity: Severity::Critical,
            active_at: snap.now - 600_000,
            fired_at: Some(snap.now - 300_000),
            value: 7.25,
            summary: "/srv on web1 is 92.75% full".into(),
            annotations: vec![
                ("description".into(), "only 7.25% left; the logs under /srv/log grow by about 2 GiB a day, so this fills well before morning".into()),
                ("summary".into(), "/srv on web1 is 92.75% full".into()),
            ],
        },
    );
    snap.rules.push(RuleStatus {
        group: "rules/node.yml;disks".into(),
        name: "HostDiskAlmostFull".into(),
        kind: "alert".into(),
        expr: expr.into(),
        firing: 1,
        matched: 1,
        last_eval: Some(snap.now - 4_000),
        for_ms: 300_000,
        labels: vec![("severity".into(), "critical".into())],
        annotations: vec![(
            "summary".into(),
            "{{ $labels.mountpoint }} on {{ $labels.host }} is {{ 100 - $value }}% full".into(),
        )],
        ..RuleStatus::default()
    });
    let mut s = state(&snap);
    keys(&mut s, &e, "2 d");
    assert!(s.detail_open());
    let t = draw(&snap, &s, 80, 40);
    let text = rows(&t).join("\n");
    for want in [
        "CRIT HostDiskAlmostFull on web1",
        "FIRING",
        "7.25",
        "mountpoint=\"/srv\"",
        "description: only 7.25% left",
        "fills well before morning",
        "disks in rules/node.yml",
        "node_filesystem_readonly == 0",
        "5m0s",
        "severity: critical",
        "{{ $labels.mountpoint }} on {{ $labels.host }}",
    ] {
        assert!(text.contains(want), "{want:?} missing from\n{text}");
    }
    // Scrolled down, the first line has left the top of the popup.
    keys(&mut s, &e, "j j j");
    let text = rows(&draw(&snap, &s, 80, 40)).join("\n");
    assert!(!text.contains("CRIT HostDiskAlmostFull on web1"), "{text}");
    keys(&mut s, &e, "<Esc>");
    assert!(!s.detail_open());
    // The overview has nothing to describe: a message, no popup.
    keys(&mut s, &e, "1 d");
    assert!(!s.detail_open());
    assert!(
        s.message
            .as_deref()
            .is_some_and(|m| m.contains("describes"))
    );
}
