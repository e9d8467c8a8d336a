//! The frame: the header, the paused banner, the body (drawn by the current view's file in
//! ui/views/), the status bar, the help overlay and the "terminal too small" screen, plus the
//! small helpers every view draws with. Everything drawn comes from (Snapshot, UiState, Theme);
//! text from outside goes through `sanitize`. Must not do I/O or change state.
//!
//! ```text
//! ┌ header: nocscope │ LIVE/PAUSED/REPLAY │ clock │ up n/m │ drop │ store │ view range ┐
//! │ banner (only while paused)                                                          │
//! │ body: views::{overview, host, alerts, targets, metrics, anomalies, rules}::render    │
//! │   (help overlays the body when open)                                                │
//! └ status bar: prompt, or message, or filter + key hints                              ┘
//! ```

use std::borrow::Cow;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::config::keymap::Mode;
use crate::config::theme::Theme;
use crate::human::human_duration;
use crate::model::Snapshot;
use crate::model::Vital;
use crate::sanitize::sanitize;

use super::state::{PromptKind, RunMode, UiState, View};
use super::style::{clock, scope};
use super::views;

/// Below this the console draws only a note asking for a bigger terminal.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

pub(super) const SELECT_MARK: &str = "▶";

pub(super) fn clean(s: &str) -> Cow<'_, str> {
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
        View::Overview => views::overview::render(frame, body, snap, state, theme),
        View::Host => views::host::render(frame, body, snap, state, theme),
        View::Alerts => views::alerts::render(frame, body, snap, state, theme),
        View::Targets => views::targets::render(frame, body, snap, state, theme),
        View::Metrics => views::metrics::render(frame, body, state, theme),
        View::Anomalies => views::anomalies::render(frame, body, state, theme),
        View::Rules => views::rules::render(frame, body, snap, state, theme),
    }
    status_bar(frame, foot, state, theme);
    if state.detail_open() {
        views::detail::render(frame, body, snap, state, theme);
    }
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
        RunMode::Replay if state.demo.is_some() => ("DEMO", "header.replay"),
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
            // Where in the recording, and how long it is (a bar too, when there is room).
            let len = (r.end - r.start).max(0);
            let pos = (r.clock - r.start).clamp(0, len);
            // At 80 columns a percentage is all that fits beside the rest.
            let mut at = if wide {
                format!(" {}/{}", human_duration(pos), human_duration(len))
            } else {
                format!(" {}%", if len > 0 { pos * 100 / len } else { 100 })
            };
            if wide && len > 0 {
                const CELLS: i64 = 12;
                let full = pos * CELLS / len;
                at.push(' ');
                for i in 0..CELLS {
                    at.push(if i < full { '█' } else { '░' });
                }
            }
            spans.push(Span::raw(at));
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
    if let Some(n) = &state.notify {
        let (text, warn) = notify_label(n, wide);
        spans.push(Span::styled(
            text,
            if warn {
                scope(theme, "warning")
            } else {
                Style::new()
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

/// The header's notification word: sent (or would send, in a dry run) and failed counts;
/// a warning while the last delivery failed.
fn notify_label(n: &crate::model::NotifyStatus, wide: bool) -> (String, bool) {
    let failing = n.failed + n.dropped > 0 && n.last_error.is_some();
    let verb = if n.dry_run { "dry" } else { "sent" };
    let text = match (wide, failing) {
        (true, true) => format!(
            "notify {} {verb}, {} failed: {}",
            n.sent,
            n.failed + n.dropped,
            clean(n.last_error.as_deref().unwrap_or(""))
        ),
        (true, false) => format!("notify {} {verb}", n.sent),
        (false, true) => format!("ntf {}✗", n.failed + n.dropped),
        (false, false) => format!("ntf {}", n.sent),
    };
    (text, failing)
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
    } else if let Some(d) = &state.demo {
        Line::from(Span::styled(clean(d).into_owned(), scope(theme, "message")))
    } else {
        let mut spans = Vec::new();
        let filter = match state.view {
            View::Overview => Some(&state.overview.filter),
            View::Anomalies => Some(&state.anomalies.filter),
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
pub(super) fn window_start(selected: usize, len: usize, height: usize) -> usize {
    if height == 0 || len <= height {
        return 0;
    }
    selected.saturating_sub(height - 1).min(len - height)
}

pub(super) fn vital_by_key(key: &str) -> Option<Vital> {
    Vital::ALL.into_iter().find(|v| v.key() == key)
}

pub(super) fn is_pct(v: Vital) -> bool {
    matches!(v, Vital::Cpu | Vital::Mem | Vital::Swap | Vital::DiskMax)
}

/// Forecasts sooner than this many days are drawn as a warning.
const FORECAST_WARN_DAYS: f64 = 7.0;

pub(super) fn forecast_style(days: f64, theme: &Theme) -> Style {
    if days < FORECAST_WARN_DAYS {
        scope(theme, "warning")
    } else {
        Style::new()
    }
}

/// A host panel at least this wide (inside its border) says whole sentences.
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
