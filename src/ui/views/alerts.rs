//! The alerts view and the alert table the overview and host view share: pending and firing
//! alerts, worst first, with their rule, host, age, value and summary.

use crate::ui::command::Command;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Modifier;
use ratatui::text::Span;
use ratatui::widgets::{Block, Cell, Paragraph, Row as TableRow, Table};

use crate::config::theme::Theme;
use crate::human::human_duration;
use crate::model::{AlertState, AlertView, Millis, Snapshot};

use crate::ui::state::UiState;
use crate::ui::style::{badge, scope, severity_scope};

use crate::ui::render::{SELECT_MARK, clean, window_start};

/// The alerts view's part of the state.
#[derive(Clone, Debug, Default)]
pub struct AlertsState {
    pub sel: usize,
    pub count: usize,
    /// Host of each alert in snapshot (display) order, so Enter in the alerts view opens it.
    pub order: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
pub(in crate::ui) fn alert_table(
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
                // The reason first: at 80 columns the labels are what may be cut (`d` shows
                // them all).
                Cell::from(format!(
                    "{}{}{} {}",
                    if a.held {
                        "UNKNOWN (no data, held) "
                    } else {
                        ""
                    },
                    if a.flapping { "FLAPPING " } else { "" },
                    clean(&a.summary),
                    clean(&a.labels)
                )),
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

pub(in crate::ui) fn render(
    frame: &mut Frame<'_>,
    area: Rect,
    snap: &Snapshot,
    state: &UiState,
    theme: &Theme,
) {
    alert_table(
        frame,
        area,
        &snap.alerts,
        snap.now,
        Some(state.alerts.sel),
        None,
        theme,
        " pending and firing alerts ",
    );
}

impl UiState {
    pub(in crate::ui) fn alert_hosts_by_sel(&self) -> Option<String> {
        self.alerts.order.get(self.alerts.sel).cloned()
    }

    /// Enter: the selected alert's host.
    pub(in crate::ui) fn open_selected_alert(&mut self) -> Option<Command> {
        let host = self.alert_hosts_by_sel();
        self.open_host(host)
    }
}
