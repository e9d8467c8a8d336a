//! Pure render functions: one per view plus the header, status bar, help overlay and the
//! "terminal too small" screen. Everything drawn comes from (Snapshot, UiState, Theme); text
//! from outside goes through `sanitize`. Must not do I/O or change state.

use std::borrow::Cow;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Cell, Chart, Clear, Dataset, GraphType, Paragraph, Row as TableRow, Table,
};

use crate::config::keymap::Mode;
use crate::config::theme::Theme;
use crate::human::human_duration;
use crate::model::Vital;
use crate::model::{
    AlertState, AlertView, AnomalyEvent, HostStatus, Millis, Snapshot, TargetStatus,
};
use crate::sanitize::sanitize;

use super::command::SeriesData;
use super::state::{Loaded, PromptKind, RunMode, UiState, View};
use super::style::{
    ANOMALY_GLYPH, axis_time, badge, clock, forecast_eta, forecast_text, pct, scope, score,
    severity_scope, short_clock, si, spark, vital_short,
};

/// Below this the console draws only a note asking for a bigger terminal.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

const SELECT_MARK: &str = "▶";

fn clean(s: &str) -> Cow<'_, str> {
    sanitize(s)
}

/// Rows a list view shows at this terminal size: the app feeds it back as `UiState::page`.
pub fn page_rows(area: Rect) -> usize {
    usize::from(area.height.saturating_sub(8)).max(1)
}

/// Draw one frame.
pub fn render(frame: &mut Frame<'_>, snap: &Snapshot, state: &UiState, theme: &Theme) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area, theme);
        return;
    }
    let banner = state.run_mode == RunMode::Paused;
    let [head, ban, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::from(banner)),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    header(frame, head, snap, state, theme);
    if banner {
        let text =
            "PAUSED: the picture is frozen, collection goes on; p resumes, L returns to live";
        frame.render_widget(
            Paragraph::new(text)
                .style(scope(theme, "banner.paused").add_modifier(Modifier::REVERSED)),
            ban,
        );
    }
    match state.view {
        View::Overview => overview(frame, body, snap, state, theme),
        View::Host => host_view(frame, body, snap, state, theme),
        View::Alerts => alerts_view(frame, body, snap, state, theme),
        View::Targets => targets_view(frame, body, snap, state, theme),
        View::Metrics => metrics_view(frame, body, state, theme),
        View::Anomalies => anomalies_view(frame, body, state, theme),
    }
    status_bar(frame, foot, state, theme);
    if state.help {
        help(frame, body, state, theme);
    }
}

fn too_small(frame: &mut Frame<'_>, area: Rect, theme: &Theme) {
    let lines = vec![
        Line::from("terminal too small"),
        Line::from(format!("{}×{}", area.width, area.height)),
        Line::from(format!("needs {MIN_WIDTH}×{MIN_HEIGHT}")),
        Line::from("q quits"),
    ];
    let h = u16::try_from(lines.len()).unwrap_or(0).min(area.height);
    let y = area.y + area.height.saturating_sub(h) / 2;
    let rect = Rect::new(area.x, y, area.width, h);
    frame.render_widget(
        Paragraph::new(lines)
            .centered()
            .style(scope(theme, "warning")),
        rect,
    );
}

fn header(frame: &mut Frame<'_>, area: Rect, snap: &Snapshot, state: &UiState, theme: &Theme) {
    let (mode, mode_scope) = match state.run_mode {
        RunMode::Live => ("LIVE", "header.live"),
        RunMode::Paused => ("PAUSED", "header.paused"),
        RunMode::Replay => ("REPLAY", "header.replay"),
    };
    let up = snap.targets.iter().filter(|t| t.up == Some(true)).count();
    let sep = Span::styled(" │ ", scope(theme, "header.separator"));
    let wide = area.width >= 100;
    let mut spans = vec![
        Span::styled(
            if wide { " nocscope " } else { " " },
            scope(theme, "header.title").add_modifier(Modifier::BOLD),
        ),
        Span::styled(
            format!(" {mode} "),
            scope(theme, mode_scope).add_modifier(Modifier::REVERSED),
        ),
        sep.clone(),
    ];
    let replay = state.run_mode == RunMode::Replay;
    match state.replay.as_ref().filter(|_| replay) {
        // The recorded clock, not the engine's last tick: it is where the player stands.
        Some(r) => {
            spans.push(Span::raw(clock(r.clock)));
            spans.push(sep.clone());
            let mut play = r.speed.clone();
            if r.paused {
                play.push_str(" paused");
            } else if r.finished {
                play.push_str(" end");
            }
            if r.looping {
                play.push_str(" loop");
            }
            spans.push(Span::styled(
                play,
                if r.paused {
                    scope(theme, "header.paused")
                } else {
                    Style::new()
                },
            ));
            spans.push(sep.clone());
        }
        None => {
            spans.push(Span::raw(clock(snap.now)));
            spans.push(sep.clone());
        }
    }
    spans.push(Span::raw(if wide {
        format!("targets {up}/{} up", snap.targets.len())
    } else {
        format!("up {up}/{}", snap.targets.len())
    }));
    spans.push(sep.clone());
    // A narrow replay header trades drop and store (the store is off in a replay) for the
    // player's speed and state.
    if wide || !replay {
        spans.push(Span::raw(if wide {
            format!("dropped {}", snap.dropped_observations)
        } else {
            format!("drop {}", snap.dropped_observations)
        }));
        spans.push(sep.clone());
        spans.push(Span::styled(
            format!("store {}", clean(&state.store_health)),
            if state.store_health == "ok" {
                Style::new()
            } else {
                scope(theme, "warning")
            },
        ));
        spans.push(sep.clone());
    }
    spans.push(Span::raw(format!(
        "{} {}",
        state.view.title(),
        range_label(state)
    )));
    if let Some(end) = state.window_end {
        spans.push(Span::styled(
            format!(
                " ending {} ago",
                human_duration(snap.now.saturating_sub(end))
            ),
            scope(theme, "header.history"),
        ));
    }
    frame.render_widget(
        Paragraph::new(Line::from(spans)).style(scope(theme, "header")),
        area,
    );
}

fn range_label(state: &UiState) -> String {
    human_duration(state.range_ms())
        .trim_end_matches("0s")
        .trim_end_matches("0m")
        .trim_end_matches("0h")
        .to_string()
}

fn status_bar(frame: &mut Frame<'_>, area: Rect, state: &UiState, theme: &Theme) {
    let line = if let Some(p) = &state.prompt {
        let lead = match p.kind {
            PromptKind::Filter => "/",
            PromptKind::Palette => ":",
        };
        Line::from(vec![
            Span::styled(lead, scope(theme, "prompt").add_modifier(Modifier::BOLD)),
            Span::raw(clean(&p.text).into_owned()),
            Span::styled("▏", scope(theme, "prompt.cursor")),
        ])
    } else if let Some(m) = &state.message {
        Line::from(Span::styled(clean(m).into_owned(), scope(theme, "message")))
    } else {
        let mut spans = Vec::new();
        let filter = match state.view {
            View::Overview => Some(&state.filter),
            View::Anomalies => Some(&state.anomaly_filter),
            _ => None,
        };
        if let Some(f) = filter.filter(|f| !f.is_empty()) {
            spans.push(Span::styled(
                format!("filter: {}  ", clean(f.text())),
                scope(theme, "filter"),
            ));
        }
        spans.push(Span::styled(hints(state), scope(theme, "hints")));
        Line::from(spans)
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// Key hints from the keymap, so a remapped key shows its new binding.
fn hints(state: &UiState) -> String {
    use crate::action::Action as A;
    let mode = state.mode();
    let mut out = Vec::new();
    for (a, label) in [
        (A::Help, "help"),
        (A::Filter, "filter"),
        (A::Palette, "command"),
        (A::Open, "open"),
        (A::Back, "back"),
        (A::Pause, "pause"),
    ] {
        let mut keys = state.keymap.keys_for(mode, a);
        if keys.is_empty() {
            keys = state.keymap.keys_for(Mode::Normal, a);
        }
        if let Some(k) = keys.first() {
            out.push(format!("{k} {label}"));
        }
    }
    out.join("  ")
}

fn help(frame: &mut Frame<'_>, body: Rect, state: &UiState, theme: &Theme) {
    let w = body.width.saturating_sub(4).min(100);
    let h = body.height.saturating_sub(2);
    let area = Rect::new(
        body.x + (body.width - w) / 2,
        body.y + (body.height - h) / 2,
        w,
        h,
    );
    frame.render_widget(Clear, area);
    let behind = match state.view {
        View::Host => Mode::Host,
        View::Metrics => Mode::Metrics,
        _ => Mode::Normal,
    };
    let mut lines: Vec<Line<'_>> = Vec::new();
    let modes = [Mode::Help, behind, Mode::Normal, Mode::Prompt];
    let mut done = Vec::new();
    for m in modes {
        if done.contains(&m) {
            continue;
        }
        done.push(m);
        let list = state.keymap.bindings(m);
        if list.is_empty() {
            continue;
        }
        lines.push(Line::from(Span::styled(
            format!("{} keys", m.name()),
            scope(theme, "help.section").add_modifier(Modifier::BOLD),
        )));
        let mut seen = Vec::new();
        for b in list {
            if seen.contains(&b.action) {
                continue;
            }
            seen.push(b.action);
            let keys: Vec<String> = list
                .iter()
                .filter(|o| o.action == b.action)
                .map(|o| o.key.to_string())
                .collect();
            lines.push(Line::from(vec![
                Span::styled(
                    format!("  {:<18}", keys.join(" ")),
                    scope(theme, "help.key"),
                ),
                Span::styled(
                    format!("{:<18}", b.action.name()),
                    scope(theme, "help.action"),
                ),
                Span::raw(clean(&b.desc).into_owned()),
            ]));
        }
    }
    let inner_h = usize::from(area.height.saturating_sub(2));
    let max_scroll = lines.len().saturating_sub(inner_h);
    let scroll = state.help_scroll.min(max_scroll);
    let shown: Vec<Line<'_>> = lines.into_iter().skip(scroll).collect();
    frame.render_widget(
        Paragraph::new(shown).block(
            Block::bordered()
                .title(" help: j/k scroll, ? or q closes ")
                .border_style(scope(theme, "border.focus")),
        ),
        area,
    );
}

/// First row to show so that `selected` stays in a window of `height` rows.
fn window_start(selected: usize, len: usize, height: usize) -> usize {
    if height == 0 || len <= height {
        return 0;
    }
    selected.saturating_sub(height - 1).min(len - height)
}

fn overview(frame: &mut Frame<'_>, area: Rect, snap: &Snapshot, state: &UiState, theme: &Theme) {
    let alerts_h = u16::try_from(snap.alerts.len())
        .unwrap_or(u16::MAX)
        .saturating_add(3)
        .clamp(4, (area.height / 3).max(4));
    let [main, bottom] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(alerts_h)]).areas(area);
    let panel_w = (main.width * 38 / 100).max(26);
    let [left, right] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(panel_w)]).areas(main);
    status_list(frame, left, snap, state, theme);
    let host = state
        .selected_host()
        .and_then(|n| snap.hosts.iter().find(|h| h.name == n));
    host_panel(frame, right, snap, host, theme);
    alert_table(
        frame,
        bottom,
        &snap.alerts,
        snap.now,
        None,
        None,
        theme,
        " alerts ",
    );
}

fn status_list(frame: &mut Frame<'_>, area: Rect, snap: &Snapshot, state: &UiState, theme: &Theme) {
    let height = usize::from(area.height.saturating_sub(3));
    let start = window_start(state.selected, state.rows.len(), height);
    let spark_w: u16 = if area.width >= 120 {
        30
    } else if area.width >= 70 {
        16
    } else {
        10
    };
    // Wide lists name the anomalous vital; at 80 columns the glyph alone must do.
    let anomaly_w: u16 = if area.width >= 90 { 8 } else { 1 };
    let rows: Vec<TableRow<'_>> = state
        .rows
        .iter()
        .enumerate()
        .skip(start)
        .take(height)
        .filter_map(|(i, r)| {
            let h = snap.hosts.iter().find(|h| h.name == r.name)?;
            Some(status_row(
                h,
                i == state.selected,
                spark_w,
                anomaly_w,
                theme,
            ))
        })
        .collect();
    let title = if state.filter.is_empty() {
        format!(" hosts {} ", state.rows.len())
    } else {
        format!(
            " hosts {}/{} /{} ",
            state.rows.len(),
            snap.hosts.len(),
            clean(state.filter.text())
        )
    };
    let anomaly_head = if anomaly_w > 1 { "anomaly" } else { "a" };
    let header = TableRow::new(["", "sev", "host", "worst alert", "trend", anomaly_head])
        .style(scope(theme, "table.header").add_modifier(Modifier::BOLD));
    let table = Table::new(
        rows,
        [
            Constraint::Length(1),
            Constraint::Length(4),
            Constraint::Fill(3),
            Constraint::Fill(3),
            Constraint::Length(spark_w),
            Constraint::Length(anomaly_w),
        ],
    )
    .header(header)
    .block(
        Block::bordered()
            .title(title)
            .border_style(scope(theme, "border")),
    );
    frame.render_widget(table, area);
}

fn vital_by_key(key: &str) -> Option<Vital> {
    Vital::ALL.into_iter().find(|v| v.key() == key)
}

fn is_pct(v: Vital) -> bool {
    matches!(v, Vital::Cpu | Vital::Mem | Vital::Swap | Vital::DiskMax)
}

fn status_row<'a>(
    h: &'a HostStatus,
    selected: bool,
    spark_w: u16,
    anomaly_w: u16,
    theme: &Theme,
) -> TableRow<'a> {
    let sev = scope(theme, severity_scope(h.severity));
    let fixed = vital_by_key(&h.spark_vital)
        .filter(|v| is_pct(*v))
        .map(|_| (0.0, 100.0));
    let worst = h
        .firing
        .first()
        .map(|a| clean(a).into_owned())
        .unwrap_or_default();
    let row = TableRow::new(vec![
        Cell::from(if selected { SELECT_MARK } else { " " }),
        Cell::from(Span::styled(badge(h.severity), sev)),
        Cell::from(clean(&h.name).into_owned()),
        Cell::from(Span::styled(worst, sev)),
        Cell::from(Span::styled(
            spark(&h.sparkline, usize::from(spark_w), fixed),
            scope(theme, "sparkline"),
        )),
        Cell::from(match &h.anomaly {
            Some(m) if anomaly_w > 1 => Span::styled(
                format!("{ANOMALY_GLYPH} {}", vital_short(&m.vital)),
                scope(theme, "anomaly"),
            ),
            Some(_) => Span::styled(ANOMALY_GLYPH, scope(theme, "anomaly")),
            None => Span::raw(" "),
        }),
    ]);
    if selected {
        row.style(scope(theme, "list.selected").add_modifier(Modifier::REVERSED))
    } else {
        row
    }
}

fn vital_lines<'a>(h: &HostStatus) -> Vec<Line<'a>> {
    let v = &h.vitals;
    let rate = |x: Option<f64>| x.map_or("—".to_string(), |b| format!("{}B/s", si(b)));
    let machine = [
        v.cpu_pct,
        v.mem_pct,
        v.swap_pct,
        v.load1,
        v.disk_read_bps,
        v.disk_write_bps,
        v.net_rx_bps,
        v.net_tx_bps,
    ]
    .iter()
    .any(Option::is_some)
        || !v.disks.is_empty();
    let network = v.ping_loss_pct.is_some()
        || v.ping_rtt_ms.is_some()
        || v.tls_days_left.is_some()
        || !v.ports.is_empty()
        || !v.http.is_empty()
        || !v.interfaces.is_empty();
    let mut lines = Vec::new();
    // A host watched only by network checks (a gateway that is pinged, a web service) has no
    // CPU or memory to show: a column of dashes there would only push its checks down.
    if machine || !network {
        lines.extend(machine_lines(v, rate));
    }
    network_lines(v, rate, &mut lines);
    lines
}

fn machine_lines<'a>(
    v: &crate::model::Vitals,
    rate: impl Fn(Option<f64>) -> String,
) -> Vec<Line<'a>> {
    let mut lines = vec![
        Line::from(format!("cpu     {}", pct(v.cpu_pct))),
        Line::from(format!("memory  {}", pct(v.mem_pct))),
        Line::from(format!("swap    {}", pct(v.swap_pct))),
        Line::from(format!(
            "load    {}",
            [v.load1, v.load5, v.load15]
                .iter()
                .map(|l| l.map_or("—".to_string(), |x| format!("{x:.2}")))
                .collect::<Vec<_>>()
                .join(" ")
        )),
    ];
    for d in &v.disks {
        lines.push(Line::from(format!(
            "disk {:<3}{}",
            clean(&d.mount),
            pct(Some(d.used_pct))
        )));
    }
    lines.push(Line::from(format!(
        "disk io r {} w {}",
        rate(v.disk_read_bps),
        rate(v.disk_write_bps)
    )));
    lines.push(Line::from(format!(
        "net rx {} tx {}",
        rate(v.net_rx_bps),
        rate(v.net_tx_bps)
    )));
    lines
}

/// Network checks add lines only when the host has them, so an exporter-only host shows none.
fn network_lines<'a>(
    v: &crate::model::Vitals,
    rate: impl Fn(Option<f64>) -> String,
    lines: &mut Vec<Line<'a>>,
) {
    if v.ping_loss_pct.is_some() || v.ping_rtt_ms.is_some() {
        lines.push(Line::from(format!(
            "ping    {} loss {}",
            v.ping_rtt_ms
                .map_or("—".to_string(), |r| format!("{r:.2}ms")),
            pct(v.ping_loss_pct)
        )));
    }
    if let Some(d) = v.tls_days_left {
        lines.push(Line::from(if d < 0.0 {
            format!("cert    expired {:.0}d ago", -d)
        } else {
            format!("cert    {d:.0} days left")
        }));
    }
    for p in &v.ports {
        lines.push(Line::from(format!("tcp {:<5} {}", p.port, clean(&p.state))));
    }
    for c in &v.http {
        lines.push(Line::from(format!(
            "http    {} {}",
            c.status.map_or("—".to_string(), |s| s.to_string()),
            if c.ok {
                "ok".to_string()
            } else {
                clean(&c.reason).into_owned()
            }
        )));
    }
    for i in &v.interfaces {
        let state = match (i.admin_up, i.oper_up) {
            (_, true) => "up",
            (true, false) => "DOWN",
            (false, false) => "off",
        };
        lines.push(Line::from(format!(
            "if {:<8} {state} rx {} tx {}",
            clean(&i.name),
            rate(i.rx_bps),
            rate(i.tx_bps)
        )));
    }
}

/// Forecasts sooner than this many days are drawn as a warning.
const FORECAST_WARN_DAYS: f64 = 7.0;

fn forecast_style(days: f64, theme: &Theme) -> Style {
    if days < FORECAST_WARN_DAYS {
        scope(theme, "warning")
    } else {
        Style::new()
    }
}

/// A host panel at least this wide (inside its border) says whole sentences.
const PANEL_WIDE: u16 = 38;

/// Forecast lines for the host panel: whole sentences when wide; when narrow one heading and
/// `name eta` lines, so the band still fits in 28 columns.
fn forecast_lines<'a>(h: &HostStatus, wide: bool, theme: &Theme) -> Vec<Line<'a>> {
    let mut out: Vec<Line<'a>> = h
        .forecasts
        .iter()
        .filter_map(|f| {
            let text = if wide {
                forecast_text(f)?
            } else {
                format!(" {} {}", vital_short(&f.vital), forecast_eta(f)?)
            };
            Some(Line::from(Span::styled(
                text,
                forecast_style(f.days, theme),
            )))
        })
        .collect();
    if !wide && !out.is_empty() {
        out.insert(0, Line::from("fills in"));
    }
    out
}

fn host_panel(
    frame: &mut Frame<'_>,
    area: Rect,
    snap: &Snapshot,
    host: Option<&HostStatus>,
    theme: &Theme,
) {
    let Some(h) = host else {
        frame.render_widget(
            Paragraph::new("no host selected").block(Block::bordered().title(" host ")),
            area,
        );
        return;
    };
    let sev = scope(theme, severity_scope(h.severity));
    let mut lines = vec![
        Line::from(vec![
            Span::styled(h.severity.as_str(), sev.add_modifier(Modifier::BOLD)),
            Span::raw(format!(
                " for {}",
                human_duration(snap.now.saturating_sub(h.since))
            )),
        ]),
        Line::from(clean(&h.reason).into_owned()),
    ];
    // What is odd now and what fills soon go above the vitals: at 80×24 the panel's last
    // lines are the first to be cut.
    let wide = area.width.saturating_sub(2) >= PANEL_WIDE;
    if let Some(m) = &h.anomaly {
        let mut text = format!(
            "{ANOMALY_GLYPH} {} anomalous for {}",
            vital_short(&m.vital),
            human_duration(snap.now.saturating_sub(m.since)),
        );
        if wide {
            text.push_str(&format!(
                " (score {} > {})",
                score(m.score),
                score(m.threshold)
            ));
        }
        lines.push(Line::from(Span::styled(text, scope(theme, "anomaly"))));
    }
    lines.extend(forecast_lines(h, wide, theme));
    lines.push(Line::from(""));
    lines.extend(vital_lines(h));
    if !h.firing.is_empty() {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled("firing", sev)));
        for a in &h.firing {
            lines.push(Line::from(format!(" {}", clean(a))));
        }
    }
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::bordered()
                .title(format!(" {} ", clean(&h.name)))
                .border_style(scope(theme, "border")),
        ),
        area,
    );
}

#[allow(clippy::too_many_arguments)]
fn alert_table(
    frame: &mut Frame<'_>,
    area: Rect,
    alerts: &[AlertView],
    now: Millis,
    selected: Option<usize>,
    host: Option<&str>,
    theme: &Theme,
    title: &str,
) {
    let shown: Vec<(usize, &AlertView)> = alerts
        .iter()
        .enumerate()
        .filter(|(_, a)| host.is_none_or(|h| a.host == h))
        .collect();
    let height = usize::from(area.height.saturating_sub(3));
    let start = window_start(selected.unwrap_or(0), shown.len(), height);
    let rows: Vec<TableRow<'_>> = shown
        .iter()
        .skip(start)
        .take(height)
        .map(|(i, a)| {
            let sev = scope(theme, severity_scope(a.severity));
            let state_style = if a.state == AlertState::Firing {
                sev.add_modifier(Modifier::BOLD)
            } else {
                scope(theme, "alert.pending")
            };
            let since = a.fired_at.unwrap_or(a.active_at);
            let sel = selected == Some(*i);
            let value = if a.value.is_finite() {
                format!("{:.1}", a.value)
            } else {
                String::new()
            };
            let mut cells = vec![
                Cell::from(if sel { SELECT_MARK } else { " " }),
                Cell::from(Span::styled(badge(a.severity), sev)),
                Cell::from(Span::styled(a.state.as_str(), state_style)),
                Cell::from(clean(&a.rule).into_owned()),
            ];
            if host.is_none() {
                cells.push(Cell::from(clean(&a.host).into_owned()));
            }
            cells.extend([
                Cell::from(human_duration(now.saturating_sub(since))),
                Cell::from(value),
                Cell::from(format!("{} {}", clean(&a.labels), clean(&a.summary))),
            ]);
            let row = TableRow::new(cells);
            if sel {
                row.style(scope(theme, "list.selected").add_modifier(Modifier::REVERSED))
            } else {
                row
            }
        })
        .collect();
    let empty = rows.is_empty();
    let mut names = vec!["", "sev", "state", "alert"];
    let mut widths = vec![
        Constraint::Length(1),
        Constraint::Length(4),
        Constraint::Length(7),
        Constraint::Fill(2),
    ];
    if host.is_none() {
        names.push("host");
        widths.push(Constraint::Fill(1));
    }
    names.extend(["for", "value", "summary"]);
    widths.extend([
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Fill(3),
    ]);
    let header =
        TableRow::new(names).style(scope(theme, "table.header").add_modifier(Modifier::BOLD));
    let table = Table::new(rows, widths).header(header).block(
        Block::bordered()
            .title(format!("{title}{} ", shown.len()))
            .border_style(scope(theme, "border")),
    );
    frame.render_widget(table, area);
    if empty && area.height > 3 {
        let inner = Rect::new(area.x + 2, area.y + 2, area.width.saturating_sub(4), 1);
        frame.render_widget(Paragraph::new("no pending or firing alerts"), inner);
    }
}

fn alerts_view(frame: &mut Frame<'_>, area: Rect, snap: &Snapshot, state: &UiState, theme: &Theme) {
    alert_table(
        frame,
        area,
        &snap.alerts,
        snap.now,
        Some(state.alert_sel),
        None,
        theme,
        " pending and firing alerts ",
    );
}

fn target_row<'a>(t: &'a TargetStatus, now: Millis, sel: bool, theme: &Theme) -> TableRow<'a> {
    let (up, st) = match t.up {
        Some(true) => ("UP", scope(theme, "status.ok")),
        Some(false) => ("DOWN", scope(theme, "status.critical")),
        None => ("—", scope(theme, "status.nodata")),
    };
    let note = match (&t.error, &t.warning) {
        (Some(e), _) => Span::styled(clean(e).into_owned(), scope(theme, "status.critical")),
        (None, Some(w)) => Span::styled(clean(w).into_owned(), scope(theme, "warning")),
        _ => Span::raw(""),
    };
    let row = TableRow::new(vec![
        Cell::from(if sel { SELECT_MARK } else { " " }),
        Cell::from(clean(&t.name).into_owned()),
        Cell::from(clean(&t.host).into_owned()),
        Cell::from(Span::styled(up, st)),
        Cell::from(t.last_poll.map_or("never".to_string(), |p| {
            format!("{} ago", human_duration(now.saturating_sub(p)))
        })),
        Cell::from(
            t.duration_ms
                .map_or("—".to_string(), |d| format!("{d:.0} ms")),
        ),
        Cell::from(t.samples.to_string()),
        Cell::from(t.dropped_samples.to_string()),
        Cell::from(t.series.to_string()),
        Cell::from(note),
    ]);
    if sel {
        row.style(scope(theme, "list.selected").add_modifier(Modifier::REVERSED))
    } else {
        row
    }
}

fn targets_view(
    frame: &mut Frame<'_>,
    area: Rect,
    snap: &Snapshot,
    state: &UiState,
    theme: &Theme,
) {
    let height = usize::from(area.height.saturating_sub(3));
    let start = window_start(state.target_sel, snap.targets.len(), height);
    let rows: Vec<TableRow<'_>> = snap
        .targets
        .iter()
        .enumerate()
        .skip(start)
        .take(height)
        .map(|(i, t)| target_row(t, snap.now, i == state.target_sel, theme))
        .collect();
    let header = TableRow::new([
        "",
        "target",
        "host",
        "up",
        "last poll",
        "took",
        "samples",
        "dropped",
        "series",
        "error",
    ])
    .style(scope(theme, "table.header").add_modifier(Modifier::BOLD));
    let table = Table::new(
        rows,
        [
            Constraint::Length(1),
            Constraint::Fill(2),
            Constraint::Fill(1),
            Constraint::Length(4),
            Constraint::Length(10),
            Constraint::Length(8),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Fill(3),
        ],
    )
    .header(header)
    .block(
        Block::bordered()
            .title(format!(" targets {} ", snap.targets.len()))
            .border_style(scope(theme, "border")),
    );
    frame.render_widget(table, area);
}

/// Vitals charted in the host view, most telling first.
const CHART_ORDER: [Vital; 9] = [
    Vital::Cpu,
    Vital::Mem,
    Vital::DiskMax,
    Vital::Load1,
    Vital::NetRx,
    Vital::NetTx,
    Vital::DiskRead,
    Vital::DiskWrite,
    Vital::Swap,
];

fn vital_title(v: Vital) -> &'static str {
    match v {
        Vital::Cpu => "cpu %",
        Vital::Mem => "memory %",
        Vital::Swap => "swap %",
        Vital::Load1 => "load 1m",
        Vital::DiskMax => "fullest disk %",
        Vital::DiskRead => "disk read B/s",
        Vital::DiskWrite => "disk write B/s",
        Vital::NetRx => "net rx B/s",
        Vital::NetTx => "net tx B/s",
    }
}

/// The thresholds of the rules in force on this vital (from the snapshot), lowest first.
fn thresholds(snap: &Snapshot, v: Vital) -> Vec<f64> {
    snap.thresholds
        .iter()
        .filter(|t| t.vital == v.key())
        .map(|t| t.value)
        .collect()
}

fn host_view(frame: &mut Frame<'_>, area: Rect, snap: &Snapshot, state: &UiState, theme: &Theme) {
    let Some(name) = state.focus.as_deref() else {
        frame.render_widget(Paragraph::new("no host selected; Esc goes back"), area);
        return;
    };
    let Some(h) = snap.hosts.iter().find(|h| h.name == name) else {
        frame.render_widget(
            Paragraph::new(format!("host {} is gone from the config", clean(name))),
            area,
        );
        return;
    };
    let lower_h = (area.height / 3).max(5);
    let [charts, lower] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(lower_h)]).areas(area);
    let [checks, alerts] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(lower);
    chart_grid(frame, charts, snap, h, state, theme);
    checks_table(frame, checks, snap, h, theme);
    alert_table(
        frame,
        alerts,
        &snap.alerts,
        snap.now,
        None,
        Some(&h.name),
        theme,
        " alerts ",
    );
}

fn chart_grid(
    frame: &mut Frame<'_>,
    area: Rect,
    snap: &Snapshot,
    h: &HostStatus,
    state: &UiState,
    theme: &Theme,
) {
    let cols = usize::from((area.width / 48).clamp(1, 3));
    let rows = usize::from((area.height / 7).max(1));
    let n = (cols * rows).min(CHART_ORDER.len());
    let row_areas =
        Layout::vertical(vec![Constraint::Fill(1); rows.min(n.div_ceil(cols))]).split(area);
    let (from, to) = state.window();
    for (ri, row) in row_areas.iter().enumerate() {
        let cells = Layout::horizontal(vec![Constraint::Fill(1); cols]).split(*row);
        for (ci, cell) in cells.iter().enumerate() {
            let Some(v) = CHART_ORDER.get(ri * cols + ci).copied() else {
                continue;
            };
            if ri * cols + ci >= n {
                continue;
            }
            let title = format!(" {} {} ", clean(&h.name), vital_title(v));
            let data = match &state.history {
                Loaded::Ready(series) => Ok(series.iter().find(|s| s.key == v.key())),
                Loaded::Loading => Err("loading history…".to_string()),
                Loaded::Failed(e) => Err(format!("history unavailable: {}", clean(e))),
                Loaded::Idle => Err("no history yet".to_string()),
            };
            let t = if is_pct(v) { Some((0.0, 100.0)) } else { None };
            let runs = anomaly_runs(&snap.anomalies, &h.name, v.key(), snap.now);
            line_chart(
                frame,
                *cell,
                &title,
                data,
                (from, to),
                t,
                &thresholds(snap, v),
                &runs,
                theme,
            );
        }
    }
}

/// `[start, end]` of each anomaly run of one host's vital; an ongoing run lasts until `now`.
fn anomaly_runs(
    events: &[AnomalyEvent],
    host: &str,
    vital: &str,
    now: Millis,
) -> Vec<(Millis, Millis)> {
    events
        .iter()
        .filter(|a| a.host == host && a.vital == vital)
        .map(|a| (a.start, a.end.unwrap_or(now).max(a.start)))
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn line_chart(
    frame: &mut Frame<'_>,
    area: Rect,
    title: &str,
    data: Result<Option<&SeriesData>, String>,
    (from, to): (Millis, Millis),
    fixed: Option<(f64, f64)>,
    limits: &[f64],
    anomalies: &[(Millis, Millis)],
    theme: &Theme,
) {
    let block = Block::bordered()
        .title(title.to_string())
        .border_style(scope(theme, "border"));
    let series = match data {
        Ok(Some(s))
            if s.points
                .iter()
                .any(|(t, v)| *t >= from && *t <= to && v.is_finite()) =>
        {
            s
        }
        Ok(_) => {
            frame.render_widget(
                Paragraph::new("no samples in this window").block(block),
                area,
            );
            return;
        }
        Err(msg) => {
            frame.render_widget(Paragraph::new(msg).block(block), area);
            return;
        }
    };
    let span = to.saturating_sub(from).max(1);
    // Seconds since the window start: f64 keeps full precision there, not at epoch scale.
    let points: Vec<(f64, f64)> = series
        .points
        .iter()
        .filter(|(t, v)| *t >= from && *t <= to && v.is_finite())
        .map(|(t, v)| ((t - from) as f64 / 1000.0, *v))
        .collect();
    let x_max = span as f64 / 1000.0;
    let (lo, hi) = fixed.unwrap_or_else(|| {
        let max = points.iter().map(|p| p.1).fold(0.0f64, f64::max);
        (0.0, if max > 0.0 { max * 1.1 } else { 1.0 })
    });
    let limit_lines: Vec<Vec<(f64, f64)>> = limits
        .iter()
        .map(|l| vec![(0.0, *l), (x_max, *l)])
        .collect();
    // Later datasets replace earlier ones in a shared cell, so the limits go first: where the
    // line runs along a threshold, the line is what shows.
    let mut sets: Vec<Dataset<'_>> = limit_lines
        .iter()
        .map(|l| {
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(scope(theme, "chart.threshold").add_modifier(Modifier::DIM))
                .data(l)
        })
        .collect();
    sets.push(
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(scope(theme, "chart.line"))
            .data(&points),
    );
    // One dataset per run, drawn over the line, so separate runs are not joined across the
    // normal stretch between them.
    let marked: Vec<Vec<(f64, f64)>> = anomalies
        .iter()
        .map(|(start, end)| {
            series
                .points
                .iter()
                .filter(|(t, v)| {
                    *t >= from && *t <= to && *t >= *start && *t <= *end && v.is_finite()
                })
                .map(|(t, v)| ((t - from) as f64 / 1000.0, *v))
                .collect::<Vec<_>>()
        })
        .filter(|p| !p.is_empty())
        .collect();
    for p in &marked {
        sets.push(
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(scope(theme, "chart.anomaly"))
                .data(p),
        );
    }
    // The legend rides in the title: ratatui's legend box would cover a quarter of a small
    // chart, and the title is there at every size.
    let block = if marked.is_empty() {
        block
    } else {
        block.title(
            Line::from(Span::styled(
                format!(" {ANOMALY_GLYPH} anomaly "),
                scope(theme, "chart.anomaly"),
            ))
            .right_aligned(),
        )
    };
    let unit = if fixed.is_some() { " %" } else { "" };
    let chart = Chart::new(sets)
        .block(block)
        .legend_position(None)
        .x_axis(
            Axis::default()
                .bounds([0.0, x_max])
                .labels([
                    axis_time(from, span),
                    axis_time(from.saturating_add(span / 2), span),
                    axis_time(to, span),
                ])
                .style(scope(theme, "chart.axis")),
        )
        .y_axis(
            Axis::default()
                .bounds([lo, hi])
                .labels([format!("{}{unit}", si(lo)), format!("{}{unit}", si(hi))])
                .style(scope(theme, "chart.axis")),
        );
    frame.render_widget(chart, area);
}

fn checks_table(frame: &mut Frame<'_>, area: Rect, snap: &Snapshot, h: &HostStatus, theme: &Theme) {
    let mut rows = vec![TableRow::new(vec![
        Cell::from(Span::styled(
            badge(h.severity),
            scope(theme, severity_scope(h.severity)),
        )),
        Cell::from("host status"),
        Cell::from(clean(&h.reason).into_owned()),
    ])];
    if let Some(m) = &h.anomaly {
        let anomaly = scope(theme, "anomaly");
        rows.push(TableRow::new(vec![
            Cell::from(Span::styled("ANOM", anomaly)),
            Cell::from(format!("anomaly {}", vital_short(&m.vital))),
            Cell::from(Span::styled(
                format!(
                    "{}/{} for {}",
                    score(m.score),
                    score(m.threshold),
                    human_duration(snap.now.saturating_sub(m.since))
                ),
                anomaly,
            )),
        ]));
    }
    for f in &h.forecasts {
        let Some(eta) = forecast_eta(f) else {
            continue;
        };
        let style = forecast_style(f.days, theme);
        rows.push(TableRow::new(vec![
            Cell::from(Span::styled("FCST", style)),
            Cell::from(format!("{} fills", vital_short(&f.vital))),
            Cell::from(Span::styled(eta, style)),
        ]));
    }
    for t in snap.targets.iter().filter(|t| h.targets.contains(&t.id)) {
        let (sev, reason) = match (t.up, &t.error) {
            (Some(false), Some(e)) => ("DOWN", clean(e).into_owned()),
            (Some(false), None) => ("DOWN", "poll failed".to_string()),
            (Some(true), _) => ("OK", format!("{} samples", t.samples)),
            (None, _) => ("----", "not polled yet".to_string()),
        };
        rows.push(TableRow::new(vec![
            Cell::from(sev),
            Cell::from(format!("poll {}", clean(&t.name))),
            Cell::from(reason),
        ]));
    }
    let table = Table::new(
        rows,
        [
            Constraint::Length(4),
            Constraint::Length(14),
            Constraint::Fill(1),
        ],
    )
    .header(
        TableRow::new(["sev", "check", "reason"])
            .style(scope(theme, "table.header").add_modifier(Modifier::BOLD)),
    )
    .block(
        Block::bordered()
            .title(" checks ")
            .border_style(scope(theme, "border")),
    );
    frame.render_widget(table, area);
}

fn anomalies_view(frame: &mut Frame<'_>, area: Rect, state: &UiState, theme: &Theme) {
    let wide = area.width >= 120;
    let height = usize::from(area.height.saturating_sub(3));
    let start = window_start(state.anomaly_sel, state.anomalies.len(), height);
    let anomaly = scope(theme, "anomaly");
    let rows: Vec<TableRow<'_>> = state
        .anomalies
        .iter()
        .enumerate()
        .skip(start)
        .take(height)
        .map(|(i, a)| {
            let sel = i == state.anomaly_sel;
            let lasted = match a.end {
                Some(end) => Span::raw(human_duration(end.saturating_sub(a.start))),
                None => Span::styled("ongoing", anomaly),
            };
            let row = TableRow::new(vec![
                Cell::from(if sel { SELECT_MARK } else { " " }),
                Cell::from(if wide {
                    clock(a.start)
                } else {
                    short_clock(a.start)
                }),
                Cell::from(clean(&a.host).into_owned()),
                Cell::from(Span::styled(
                    format!("{ANOMALY_GLYPH} {}", vital_short(&a.vital)),
                    if a.end.is_none() {
                        anomaly
                    } else {
                        Style::new()
                    },
                )),
                Cell::from(clean(&a.detector).into_owned()),
                Cell::from(format!("{}/{}", score(a.peak_score), score(a.threshold))),
                Cell::from(lasted),
                Cell::from(""),
            ]);
            if sel {
                row.style(scope(theme, "list.selected").add_modifier(Modifier::REVERSED))
            } else {
                row
            }
        })
        .collect();
    let empty = rows.is_empty();
    let title = if state.anomaly_filter.is_empty() {
        format!(" anomalies {} ", state.anomalies.len())
    } else {
        format!(
            " anomalies {}/{} /{} ",
            state.anomalies.len(),
            state.anomaly_total(),
            clean(state.anomaly_filter.text())
        )
    };
    let header = TableRow::new([
        "",
        if wide { "started" } else { "start" },
        "host",
        "vital",
        "detector",
        "score/limit",
        "lasted",
        "",
    ])
    .style(scope(theme, "table.header").add_modifier(Modifier::BOLD));
    let table = Table::new(
        rows,
        [
            Constraint::Length(1),
            Constraint::Length(if wide { 20 } else { 11 }),
            // Capped, with the slack after the last column, so that a wide terminal does not
            // spread a row's numbers a screen apart from its host.
            Constraint::Max(40),
            Constraint::Length(if wide { 18 } else { 9 }),
            Constraint::Length(10),
            Constraint::Length(11),
            Constraint::Length(8),
            Constraint::Fill(1),
        ],
    )
    .header(header)
    .block(
        Block::bordered()
            .title(title)
            .border_style(scope(theme, "border")),
    );
    frame.render_widget(table, area);
    if empty && area.height > 3 {
        let inner = Rect::new(area.x + 2, area.y + 2, area.width.saturating_sub(4), 1);
        let note = if state.anomaly_total() > 0 {
            "no anomaly matches the filter; Esc clears it"
        } else {
            "no anomalies: every scored vital is within its threshold"
        };
        frame.render_widget(Paragraph::new(note), inner);
    }
}

fn metrics_view(frame: &mut Frame<'_>, area: Rect, state: &UiState, theme: &Theme) {
    let host = state.focus.as_deref().unwrap_or("");
    let [list, chart] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
    let title = format!(
        " {} series {} ",
        clean(host),
        if state.metric_query.is_empty() {
            String::new()
        } else {
            format!("~{}", clean(&state.metric_query))
        }
    );
    let block = Block::bordered()
        .title(title)
        .border_style(scope(theme, "border"));
    let rows = state.metric_rows();
    match &state.series {
        Loaded::Ready(_) => {
            let height = usize::from(list.height.saturating_sub(2));
            let start = window_start(state.metric_sel, rows.len(), height);
            let lines: Vec<Line<'_>> = rows
                .iter()
                .enumerate()
                .skip(start)
                .take(height)
                .map(|(i, (src, key))| {
                    let sel = i == state.metric_sel;
                    let text = format!(
                        "{} {}  {}",
                        if sel { SELECT_MARK } else { " " },
                        clean(key),
                        clean(src)
                    );
                    if sel {
                        Line::styled(
                            text,
                            scope(theme, "list.selected").add_modifier(Modifier::REVERSED),
                        )
                    } else {
                        Line::from(text)
                    }
                })
                .collect();
            let lines = if lines.is_empty() {
                vec![Line::from("no series match")]
            } else {
                lines
            };
            frame.render_widget(Paragraph::new(lines).block(block), list);
        }
        Loaded::Loading => {
            frame.render_widget(Paragraph::new("loading series…").block(block), list)
        }
        Loaded::Failed(e) => frame.render_widget(
            Paragraph::new(format!("series unavailable: {}", clean(e))).block(block),
            list,
        ),
        Loaded::Idle => frame.render_widget(Paragraph::new("").block(block), list),
    }
    let selected = rows
        .get(state.metric_sel)
        .map(|r| r.1.as_str())
        .unwrap_or("");
    let title = format!(" {} ", clean(selected));
    let data = match &state.series_chart {
        Loaded::Ready(s) => Ok(s.first()),
        Loaded::Loading => Err("loading history…".to_string()),
        Loaded::Failed(e) => Err(format!("history unavailable: {}", clean(e))),
        Loaded::Idle => Err("Enter charts the selected series".to_string()),
    };
    line_chart(
        frame,
        chart,
        &title,
        data,
        state.window(),
        None,
        &[],
        &[],
        theme,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_keeps_selection_visible() {
        let cases = [
            (0, 100, 10, 0),
            (9, 100, 10, 0),
            (10, 100, 10, 1),
            (99, 100, 10, 90),
            (5, 3, 10, 0),
            (5, 100, 0, 0),
        ];
        for (sel, len, h, want) in cases {
            assert_eq!(window_start(sel, len, h), want, "{sel} {len} {h}");
        }
    }
}
