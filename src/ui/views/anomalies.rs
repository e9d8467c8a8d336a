//! The anomalies view: recent anomaly runs under the view's own filter, newest first.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::{Block, Cell, Paragraph, Row as TableRow, Table};

use crate::config::theme::Theme;
use crate::human::human_duration;

use crate::ui::state::UiState;
use crate::ui::style::{ANOMALY_GLYPH, clock, scope, score, short_clock, vital_short};

use crate::ui::render::{SELECT_MARK, clean, window_start};

pub(in crate::ui) fn render(frame: &mut Frame<'_>, area: Rect, state: &UiState, theme: &Theme) {
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
