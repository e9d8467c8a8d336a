//! The anomalies view: recent anomaly runs under the view's own filter, newest first.

use crate::model::AnomalyEvent;
use crate::model::Millis;
use crate::ui::command::Command;
use crate::ui::filter::Candidate;
use crate::ui::filter::Filter;
use crate::ui::state::{ZOOM_LEVELS_MS, clamp};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::{Block, Cell, Paragraph, Row as TableRow, Table};
use std::collections::BTreeMap;

use crate::config::theme::Theme;
use crate::human::human_duration;

use crate::ui::state::UiState;
use crate::ui::style::{ANOMALY_GLYPH, clock, scope, score, short_clock, vital_short};

use crate::ui::render::{SELECT_MARK, clean, window_start};

/// The anomalies view's part of the state (its rows are runs, not hosts).
#[derive(Clone, Debug, Default)]
pub struct AnomaliesState {
    /// The view's own `/` filter.
    pub filter: Filter,
    /// Runs listed: under the filter, newest start first.
    pub rows: Vec<AnomalyEvent>,
    pub sel: usize,
    /// All runs of the last snapshot, newest first, before the filter.
    pub(in crate::ui) all: Vec<AnomalyEvent>,
}

pub(in crate::ui) fn render(frame: &mut Frame<'_>, area: Rect, state: &UiState, theme: &Theme) {
    let wide = area.width >= 120;
    let height = usize::from(area.height.saturating_sub(3));
    let start = window_start(state.anomalies.sel, state.anomalies.rows.len(), height);
    let anomaly = scope(theme, "anomaly");
    let rows: Vec<TableRow<'_>> = state
        .anomalies
        .rows
        .iter()
        .enumerate()
        .skip(start)
        .take(height)
        .map(|(i, a)| {
            let sel = i == state.anomalies.sel;
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
    let title = if state.anomalies.filter.is_empty() {
        format!(" anomalies {} ", state.anomalies.rows.len())
    } else {
        format!(
            " anomalies {}/{} /{} ",
            state.anomalies.rows.len(),
            state.anomaly_total(),
            clean(state.anomalies.filter.text())
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

/// Enter on an anomaly zooms out until the run fills at most this share (num/den) of the window.
const ANOMALY_FIT_NUM: i64 = 4;
const ANOMALY_FIT_DEN: i64 = 5;

/// What identifies an anomaly run across snapshots (its end and score change while it runs).
pub(in crate::ui) type AnomalyId = (String, String, String, Millis);

pub(in crate::ui) fn anomaly_id(a: &AnomalyEvent) -> AnomalyId {
    (a.host.clone(), a.vital.clone(), a.detector.clone(), a.start)
}

impl UiState {
    /// Re-apply the anomalies view's filter; `keep` holds the selection on the same run.
    pub(in crate::ui) fn refilter_anomalies(&mut self, keep: Option<AnomalyId>) {
        let all = self.anomalies.filter.is_empty();
        let shown: Vec<AnomalyEvent> = self
            .anomalies
            .all
            .iter()
            .filter(|a| {
                // Building every run's label sets is only worth it when a filter asks.
                if all {
                    return true;
                }
                let mut labels = self.host_labels(&a.host);
                let mut own = BTreeMap::new();
                own.insert("vital".to_string(), a.vital.clone());
                own.insert("detector".to_string(), a.detector.clone());
                labels.push(own);
                self.anomalies.filter.matches(&Candidate {
                    name: &a.host,
                    labels: &labels,
                    texts: &[a.vital.as_str(), a.detector.as_str()],
                })
            })
            .cloned()
            .collect();
        self.anomalies.rows = shown;
        if let Some(k) = keep
            && let Some(i) = self.anomalies.rows.iter().position(|a| anomaly_id(a) == k)
        {
            self.anomalies.sel = i;
        }
        self.anomalies.sel = clamp(self.anomalies.sel, self.anomalies.rows.len());
    }

    /// Every anomaly run in the last snapshot, before the anomalies view's filter.
    pub fn anomaly_total(&self) -> usize {
        self.anomalies.all.len()
    }

    /// Enter on an anomaly: its host's charts with the run in the middle of the window, zoomed
    /// out first if the run would not fit, so what came before and after shows too.
    pub(in crate::ui) fn open_anomaly(&mut self) -> Option<Command> {
        let Some(ev) = self.anomalies.rows.get(self.anomalies.sel).cloned() else {
            self.message = Some("no anomaly selected".to_string());
            return None;
        };
        let end = ev.end.unwrap_or(self.now).max(ev.start);
        let len = end.saturating_sub(ev.start);
        while self.zoom + 1 < ZOOM_LEVELS_MS.len()
            && len.saturating_mul(ANOMALY_FIT_DEN) > self.range_ms().saturating_mul(ANOMALY_FIT_NUM)
        {
            self.zoom += 1;
        }
        let centre = ev.start.saturating_add(len / 2);
        let right = centre.saturating_add(self.range_ms() / 2);
        // A window reaching past the present follows it, as a step into the future does.
        self.window_end = (right < self.now).then_some(right);
        self.open_host(Some(ev.host))
    }

    fn selected_anomaly(&self) -> Option<AnomalyId> {
        self.anomalies.rows.get(self.anomalies.sel).map(anomaly_id)
    }

    /// Esc: drop the view's filter, keeping the selection on the same run.
    pub(in crate::ui) fn clear_anomaly_filter(&mut self) -> bool {
        if self.anomalies.filter.is_empty() {
            return false;
        }
        self.anomalies.filter = Filter::default();
        let keep = self.selected_anomaly();
        self.refilter_anomalies(keep);
        true
    }

    pub(in crate::ui) fn accept_anomaly_filter(&mut self, text: &str) {
        self.anomalies.filter = Filter::parse(text);
        let keep = self.selected_anomaly();
        self.refilter_anomalies(keep);
        if self.anomalies.rows.is_empty() && self.anomaly_total() > 0 {
            self.message = Some("no anomaly matches the filter".to_string());
        }
    }
}
