//! The metric browser: a host's raw series, fuzzy-filtered, and the chart of the selected one.

use crate::ui::command::{Command, HistoryRequest};
use crate::ui::filter::fuzzy_score;
use crate::ui::state::{PromptKind, View};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};

use crate::config::theme::Theme;

use crate::ui::command::SeriesData;
use crate::ui::state::{Loaded, UiState};
use crate::ui::style::scope;

use super::host::line_chart;
use crate::ui::render::{SELECT_MARK, clean, window_start};

/// The metric browser's part of the state.
#[derive(Clone, Debug, Default)]
pub struct MetricsState {
    /// The fuzzy query; it narrows the list as it is typed.
    pub query: String,
    pub sel: usize,
    /// (source, key) of every series of the focused host's targets.
    pub series: Loaded<Vec<(String, String)>>,
    /// The selected series over the chart window.
    pub chart: Loaded<Vec<SeriesData>>,
    /// Id of the listing; the chart shares it so a new listing makes old chart replies stale.
    pub id: u64,
}

pub(in crate::ui) fn render(frame: &mut Frame<'_>, area: Rect, state: &UiState, theme: &Theme) {
    let host = state.focus.as_deref().unwrap_or("");
    let [list, chart] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
    let title = format!(
        " {} series {} ",
        clean(host),
        if state.metrics.query.is_empty() {
            String::new()
        } else {
            format!("~{}", clean(&state.metrics.query))
        }
    );
    let block = Block::bordered()
        .title(title)
        .border_style(scope(theme, "border"));
    let rows = state.metric_rows();
    match &state.metrics.series {
        Loaded::Ready(_) => {
            let height = usize::from(list.height.saturating_sub(2));
            let start = window_start(state.metrics.sel, rows.len(), height);
            let lines: Vec<Line<'_>> = rows
                .iter()
                .enumerate()
                .skip(start)
                .take(height)
                .map(|(i, (src, key))| {
                    let sel = i == state.metrics.sel;
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
        .get(state.metrics.sel)
        .map(|r| r.1.as_str())
        .unwrap_or("");
    let title = format!(" {} ", clean(selected));
    let data = match &state.metrics.chart {
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

impl UiState {
    /// The metric browser's rows: (source, key) pairs that fuzzy-match the query, best first.
    pub fn metric_rows(&self) -> Vec<&(String, String)> {
        let Loaded::Ready(all) = &self.metrics.series else {
            return Vec::new();
        };
        let mut scored: Vec<(i64, &(String, String))> = all
            .iter()
            .filter_map(|s| fuzzy_score(&self.metrics.query, &s.1).map(|sc| (sc, s)))
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        scored.into_iter().map(|(_, s)| s).collect()
    }

    /// The metric browser narrows as you type, like a fuzzy finder.
    pub(in crate::ui) fn live_prompt(&mut self) {
        if self.view == View::Metrics
            && let Some(p) = &self.prompt
            && p.kind == PromptKind::Filter
        {
            self.metrics.query = p.text.clone();
            self.metrics.sel = 0;
        }
    }

    pub(in crate::ui) fn list_series(&mut self) -> Option<Command> {
        let host = self.focus.clone()?;
        let mut sources = self
            .overview
            .all_rows
            .iter()
            .find(|r| r.name == host)
            .map(|r| r.sources.clone())
            .unwrap_or_default();
        // Recording rules' results about this host (see engine/prom.rs).
        sources.push(format!("rules/{host}"));
        self.metrics.id = self.new_id();
        self.metrics.series = Loaded::Loading;
        self.metrics.chart = Loaded::Idle;
        self.metrics.sel = 0;
        Some(Command::ListSeries {
            id: self.metrics.id,
            sources,
        })
    }

    pub(in crate::ui) fn series_history(&mut self) -> Option<Command> {
        let (source, key) = self
            .metric_rows()
            .get(self.metrics.sel)
            .map(|s| (*s).clone())?;
        let (from, to) = self.window();
        // The chart shares the browser's id so a new listing makes old chart replies stale.
        self.metrics.chart = Loaded::Loading;
        Some(Command::History(HistoryRequest {
            id: self.metrics.id,
            source,
            keys: vec![key],
            from,
            to,
        }))
    }

    pub fn apply_series(&mut self, id: u64, result: Result<Vec<(String, String)>, String>) {
        if id != self.metrics.id {
            return;
        }
        self.metrics.series = match result {
            Ok(v) => Loaded::Ready(v),
            Err(e) => Loaded::Failed(e),
        };
    }

    /// Esc: an empty query lists every series again.
    pub(in crate::ui) fn clear_query(&mut self) -> bool {
        if self.metrics.query.is_empty() {
            return false;
        }
        self.metrics.query.clear();
        true
    }

    /// Typing narrowed the list live; cancelling the prompt puts it back.
    pub(in crate::ui) fn cancel_query(&mut self) {
        self.metrics.query.clear();
    }
}
