//! The targets view: every polled target with its kind, state, last poll, duration, samples
//! and error.

use crate::ui::command::Command;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Modifier;
use ratatui::text::Span;
use ratatui::widgets::{Block, Cell, Row as TableRow, Table};

use crate::config::theme::Theme;
use crate::human::human_duration;
use crate::model::{Millis, Snapshot, TargetStatus};

use crate::ui::state::UiState;
use crate::ui::style::scope;

use crate::ui::render::{SELECT_MARK, clean, window_start};

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

/// The targets view's part of the state.
#[derive(Clone, Debug, Default)]
pub struct TargetsState {
    pub sel: usize,
    pub count: usize,
    /// Host of each target in snapshot order, so Enter in the targets view opens it.
    pub hosts: Vec<String>,
}

pub(in crate::ui) fn render(
    frame: &mut Frame<'_>,
    area: Rect,
    snap: &Snapshot,
    state: &UiState,
    theme: &Theme,
) {
    let height = usize::from(area.height.saturating_sub(3));
    let start = window_start(state.targets.sel, snap.targets.len(), height);
    let rows: Vec<TableRow<'_>> = snap
        .targets
        .iter()
        .enumerate()
        .skip(start)
        .take(height)
        .map(|(i, t)| target_row(t, snap.now, i == state.targets.sel, theme))
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

impl UiState {
    /// Enter: the selected target's host.
    pub(in crate::ui) fn open_selected_target(&mut self) -> Option<Command> {
        let host = self.targets.hosts.get(self.targets.sel).cloned();
        self.open_host(host)
    }
}
