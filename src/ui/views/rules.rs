//! The rules view: every rule in force, own rules first, then each Prometheus group's, with
//! its alerts (firing, pending), last evaluation, what it matched, its condition and error.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Modifier;
use ratatui::text::Span;
use ratatui::widgets::{Block, Cell, Row as TableRow, Table};

use crate::config::theme::Theme;
use crate::human::human_duration;
use crate::model::{Millis, RuleStatus, Snapshot};
use crate::ui::render::{SELECT_MARK, clean, window_start};
use crate::ui::state::UiState;
use crate::ui::style::scope;

/// The rules view's part of the state.
#[derive(Clone, Debug, Default)]
pub struct RulesState {
    pub sel: usize,
    pub count: usize,
}

fn rule_row<'a>(r: &'a RuleStatus, now: Millis, sel: bool, theme: &Theme) -> TableRow<'a> {
    let (state, st) = if r.error.is_some() {
        ("ERROR".to_string(), scope(theme, "status.critical"))
    } else if r.firing > 0 {
        (format!("{} firing", r.firing), scope(theme, "status.major"))
    } else if r.pending > 0 {
        (
            format!("{} pending", r.pending),
            scope(theme, "status.minor"),
        )
    } else {
        ("ok".to_string(), scope(theme, "status.ok"))
    };
    let last = match r.last_eval {
        Some(t) => format!("{} ago", human_duration(now.saturating_sub(t))),
        None if r.kind == "own" => "each poll".to_string(),
        None => "not yet".to_string(),
    };
    // The error replaces the condition: it is what needs reading.
    let detail = match &r.error {
        Some(e) => Span::styled(clean(e).into_owned(), scope(theme, "status.critical")),
        None => Span::raw(clean(&r.expr).into_owned()),
    };
    let group = r.group.rsplit(';').next().unwrap_or(&r.group);
    let row = TableRow::new(vec![
        Cell::from(if sel { SELECT_MARK } else { " " }),
        Cell::from(clean(group).into_owned()),
        Cell::from(clean(&r.name).into_owned()),
        Cell::from(r.kind.as_str()),
        Cell::from(Span::styled(state, st)),
        Cell::from(last),
        Cell::from(r.matched.to_string()),
        Cell::from(detail),
    ]);
    if sel {
        row.style(scope(theme, "list.selected").add_modifier(Modifier::REVERSED))
    } else {
        row
    }
}

pub(in crate::ui) fn render(
    frame: &mut Frame<'_>,
    area: Rect,
    snap: &Snapshot,
    state: &UiState,
    theme: &Theme,
) {
    let height = usize::from(area.height.saturating_sub(3));
    let start = window_start(state.rules.sel, snap.rules.len(), height);
    let rows: Vec<TableRow<'_>> = snap
        .rules
        .iter()
        .enumerate()
        .skip(start)
        .take(height)
        .map(|(i, r)| rule_row(r, snap.now, i == state.rules.sel, theme))
        .collect();
    let header = TableRow::new([
        "",
        "group",
        "rule",
        "kind",
        "state",
        "evaluated",
        "matched",
        "condition",
    ])
    .style(scope(theme, "table.header").add_modifier(Modifier::BOLD));
    let table = Table::new(
        rows,
        [
            Constraint::Length(1),
            Constraint::Fill(1),
            Constraint::Fill(2),
            Constraint::Length(6),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Length(7),
            Constraint::Fill(4),
        ],
    )
    .header(header);
    let mut block = Block::bordered()
        .title(format!(" rules {} ", snap.rules.len()))
        .border_style(scope(theme, "border"));
    // The last reload stays in view: a failed one means these are not the files on disk.
    if let Some(r) = &snap.rule_reload {
        let style = if r.ok {
            scope(theme, "status.ok")
        } else {
            scope(theme, "status.critical")
        };
        let ago = human_duration(snap.now.saturating_sub(r.at).max(0));
        block = block.title_bottom(Span::styled(
            format!(" {} ({ago} ago) ", clean(&r.message)),
            style,
        ));
    }
    let table = table.block(block);
    frame.render_widget(table, area);
}
