//! The metric browser: a host's raw series, fuzzy-filtered, and the chart of the selected one.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};

use crate::config::theme::Theme;

use crate::ui::state::{Loaded, UiState};
use crate::ui::style::scope;

use super::host::line_chart;
use crate::ui::render::{SELECT_MARK, clean, window_start};

pub(in crate::ui) fn render(frame: &mut Frame<'_>, area: Rect, state: &UiState, theme: &Theme) {
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
