//! The overview: the status list (hosts worst first, with their vitals, checks and anomaly
//! marker), the selected host's panel and the firing alerts beneath; its state (rows under the
//! `/` filter, the selection) and the parts of `update` that change it.

use crate::ui::filter::Candidate;
use crate::ui::filter::Filter;
use crate::ui::state::Row;
use crate::ui::state::clamp;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row as TableRow, Table};
use std::collections::BTreeMap;

use crate::config::theme::Theme;
use crate::human::human_duration;
use crate::model::{HostStatus, Snapshot};

use crate::ui::state::UiState;
use crate::ui::style::{
    ANOMALY_GLYPH, badge, forecast_eta, forecast_text, pct, scope, score, severity_scope, si,
    spark, vital_short,
};

use super::alerts::alert_table;
use crate::ui::render::{SELECT_MARK, clean, forecast_style, is_pct, vital_by_key, window_start};

/// The overview's part of the state: host rows under the `/` filter and the selection.
#[derive(Clone, Debug, Default)]
pub struct OverviewState {
    pub filter: Filter,
    /// Host rows after the filter, in snapshot order.
    pub rows: Vec<Row>,
    pub selected: usize,
    /// All host rows of the last snapshot, before the filter.
    pub(in crate::ui) all_rows: Vec<Row>,
}

pub(in crate::ui) fn render(
    frame: &mut Frame<'_>,
    area: Rect,
    snap: &Snapshot,
    state: &UiState,
    theme: &Theme,
) {
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
    let start = window_start(state.overview.selected, state.overview.rows.len(), height);
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
        .overview
        .rows
        .iter()
        .enumerate()
        .skip(start)
        .take(height)
        .filter_map(|(i, r)| {
            let h = snap.hosts.iter().find(|h| h.name == r.name)?;
            Some(status_row(
                h,
                i == state.overview.selected,
                spark_w,
                anomaly_w,
                theme,
            ))
        })
        .collect();
    let title = if state.overview.filter.is_empty() {
        format!(" hosts {} ", state.overview.rows.len())
    } else {
        format!(
            " hosts {}/{} /{} ",
            state.overview.rows.len(),
            snap.hosts.len(),
            clean(state.overview.filter.text())
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

impl UiState {
    pub fn selected_host(&self) -> Option<&str> {
        self.overview
            .rows
            .get(self.overview.selected)
            .map(|r| r.name.as_str())
    }

    pub(in crate::ui) fn refilter(&mut self, keep: Option<&str>) {
        let empty = BTreeMap::new();
        self.overview.rows = self
            .overview
            .all_rows
            .iter()
            .filter(|r| {
                let labels: Vec<BTreeMap<String, String>> = r
                    .sources
                    .iter()
                    .map(|s| {
                        let mut l = self.target_labels.get(s).unwrap_or(&empty).clone();
                        l.entry("target".to_string()).or_insert_with(|| s.clone());
                        l
                    })
                    .collect();
                self.overview.filter.matches(&Candidate {
                    name: &r.name,
                    labels: &labels,
                    texts: &[],
                })
            })
            .cloned()
            .collect();
        if let Some(k) = keep
            && let Some(i) = self.overview.rows.iter().position(|r| r.name == k)
        {
            self.overview.selected = i;
        }
        self.overview.selected = clamp(self.overview.selected, self.overview.rows.len());
    }

    /// The labels of a host's targets (plus `target`), as the `/` filter sees them.
    pub(in crate::ui) fn host_labels(&self, host: &str) -> Vec<BTreeMap<String, String>> {
        let empty = BTreeMap::new();
        self.overview
            .all_rows
            .iter()
            .filter(|r| r.name == host)
            .flat_map(|r| r.sources.iter())
            .map(|s| {
                let mut l = self.target_labels.get(s).unwrap_or(&empty).clone();
                l.entry("target".to_string()).or_insert_with(|| s.clone());
                l
            })
            .collect()
    }

    /// Esc: drop the host filter, keeping the selection on the same host.
    pub(in crate::ui) fn clear_host_filter(&mut self) -> bool {
        if self.overview.filter.is_empty() {
            return false;
        }
        self.overview.filter = Filter::default();
        let keep = self.selected_host().map(str::to_string);
        self.refilter(keep.as_deref());
        true
    }

    pub(in crate::ui) fn accept_host_filter(&mut self, text: &str) {
        self.overview.filter = Filter::parse(text);
        let keep = self.selected_host().map(str::to_string);
        self.refilter(keep.as_deref());
        if self.overview.rows.is_empty() {
            self.message = Some("no host matches the filter".to_string());
        }
    }
}
