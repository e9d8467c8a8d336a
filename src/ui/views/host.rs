//! The host view: a host's charts (with the rules' thresholds and anomaly runs marked), its
//! checks and its alerts; and the line chart the metric browser shares.

use crate::ui::command::{Command, HistoryRequest};
use crate::ui::state::View;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Cell, Chart, Dataset, GraphType, Paragraph, Row as TableRow, Table,
};

use crate::config::theme::Theme;
use crate::human::human_duration;
use crate::model::Vital;
use crate::model::{AnomalyEvent, HostStatus, Millis, Snapshot};

use crate::ui::command::SeriesData;
use crate::ui::state::{Loaded, UiState};
use crate::ui::style::{
    ANOMALY_GLYPH, axis_time, badge, forecast_eta, scope, score, severity_scope, si, vital_short,
};

use super::alerts::alert_table;
use crate::ui::render::{clean, forecast_style, is_pct};

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

/// The host view's part of the state: the charted history and the id of its request.
#[derive(Clone, Debug, Default)]
pub struct HostState {
    pub history: Loaded<Vec<SeriesData>>,
    /// Replies carrying another id are stale and dropped.
    pub history_id: u64,
}

pub(in crate::ui) fn render(
    frame: &mut Frame<'_>,
    area: Rect,
    snap: &Snapshot,
    state: &UiState,
    theme: &Theme,
) {
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
            let data = match &state.host.history {
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
pub(in crate::ui) fn line_chart(
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

impl UiState {
    pub(in crate::ui) fn host_history(&mut self) -> Option<Command> {
        let host = self.focus.clone()?;
        let (from, to) = self.window();
        self.host.history_id = self.new_id();
        self.host.history = Loaded::Loading;
        Some(Command::History(HistoryRequest {
            id: self.host.history_id,
            source: format!("host/{host}"),
            keys: Vital::ALL.iter().map(|v| v.key().to_string()).collect(),
            from,
            to,
        }))
    }

    pub(in crate::ui) fn open_host(&mut self, name: Option<String>) -> Option<Command> {
        let name = name.or_else(|| self.selected_host().map(str::to_string))?;
        if let Some(i) = self.overview.rows.iter().position(|r| r.name == name) {
            self.overview.selected = i;
        }
        self.focus = Some(name);
        self.view = View::Host;
        self.host_history()
    }
}
