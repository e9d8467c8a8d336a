//! The detail popup (`d`, like k9s's describe): the selected alert, rule, target or anomaly
//! in full — an alert's every label and rendered annotation with its rule's expression and
//! templates, a target's whole error, an anomaly's scores — wrapped, and scrolled with the
//! list keys instead of cut. Draws from the snapshot and the view's rows only; must not
//! change state.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use crate::config::theme::Theme;
use crate::human::human_duration;
use crate::model::{AlertState, AlertView, AnomalyEvent, RuleStatus, Snapshot, TargetStatus};
use crate::ui::render::clean;
use crate::ui::state::{UiState, View};
use crate::ui::style::{badge, clock, scope, severity_scope, vital_short};

/// Whether the current view has something `d` can describe.
pub(in crate::ui) fn describable(view: View) -> bool {
    matches!(
        view,
        View::Alerts | View::Rules | View::Targets | View::Anomalies
    )
}

fn target_lines<'a>(t: &'a TargetStatus, snap: &Snapshot, theme: &Theme) -> Vec<Line<'a>> {
    let (state, st) = match t.up {
        Some(true) => ("UP", scope(theme, "status.ok")),
        Some(false) => ("DOWN", scope(theme, "status.critical")),
        None => ("NOT POLLED YET", scope(theme, "status.unknown")),
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled(clean(&t.name).into_owned(), st.add_modifier(Modifier::BOLD)),
            Span::raw(" on "),
            Span::raw(clean(&t.host).into_owned()),
        ]),
        Line::from(vec![
            Span::styled(format!("{:<16}", "state"), scope(theme, "table.header")),
            Span::styled(state, st),
        ]),
    ];
    let last = match t.last_poll {
        Some(at) => format!(
            "{} ({} ago)",
            clock(at),
            human_duration(snap.now.saturating_sub(at).max(0))
        ),
        None => "never".to_string(),
    };
    lines.push(field("last poll", last, theme));
    if let Some(d) = t.duration_ms {
        lines.push(field("took", format!("{d:.1} ms"), theme));
    }
    lines.push(field(
        "samples",
        format!(
            "{} in the last poll, {} dropped (duplicates, out of order), {} series known",
            t.samples, t.dropped_samples, t.series
        ),
        theme,
    ));
    if let Some(e) = &t.error {
        lines.push(Line::from(vec![
            Span::styled(format!("{:<16}", "error"), scope(theme, "table.header")),
            Span::styled(clean(e).into_owned(), scope(theme, "status.critical")),
        ]));
    }
    if let Some(w) = &t.warning {
        lines.push(field("warning", clean(w).into_owned(), theme));
    }
    lines
}

fn anomaly_lines<'a>(a: &'a AnomalyEvent, snap: &Snapshot, theme: &Theme) -> Vec<Line<'a>> {
    let ongoing = a.end.is_none();
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!("{} on {}", vital_short(&a.vital), clean(&a.host)),
            scope(theme, "anomaly").add_modifier(Modifier::BOLD),
        ),
        Span::raw(if ongoing { "  ONGOING" } else { "" }),
    ])];
    lines.push(field("series", clean(&a.vital).into_owned(), theme));
    lines.push(field("detector", clean(&a.detector).into_owned(), theme));
    lines.push(field("started", clock(a.start), theme));
    let lasted = match a.end {
        Some(end) => format!("{} (ended {})", human_duration(end - a.start), clock(end)),
        None => format!(
            "{} so far",
            human_duration(snap.now.saturating_sub(a.start).max(0))
        ),
    };
    lines.push(field("lasted", lasted, theme));
    let ratio = if a.threshold > 0.0 {
        format!("  ({:.1}× the threshold)", a.peak_score / a.threshold)
    } else {
        String::new()
    };
    lines.push(field(
        "peak score",
        format!(
            "{:.3} against a threshold of {:.3}{ratio}",
            a.peak_score, a.threshold
        ),
        theme,
    ));
    lines
}

fn field<'a>(name: &'a str, value: String, theme: &Theme) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!("{name:<16}"), scope(theme, "table.header")),
        Span::raw(value),
    ])
}

fn section<'a>(name: &'a str, theme: &Theme) -> Line<'a> {
    Line::from(Span::styled(
        name,
        scope(theme, "help.section").add_modifier(Modifier::BOLD),
    ))
}

fn pairs<'a>(lines: &mut Vec<Line<'a>>, list: &[(String, String)], theme: &Theme) {
    if list.is_empty() {
        lines.push(Line::from("  (none)"));
    }
    for (k, v) in list {
        lines.push(Line::from(vec![
            Span::styled(format!("  {}: ", clean(k)), scope(theme, "table.header")),
            Span::raw(clean(v).into_owned()),
        ]));
    }
}

fn duration_or_zero(ms: i64) -> String {
    if ms <= 0 {
        "0s".to_string()
    } else {
        human_duration(ms)
    }
}

/// The rule's own part, shared by an alert's detail and a rule's.
fn rule_lines<'a>(lines: &mut Vec<Line<'a>>, r: &RuleStatus, snap: &Snapshot, theme: &Theme) {
    lines.push(section("rule", theme));
    let group = if r.group == "own" {
        "own ([[rule]] in the config, or built in)".to_string()
    } else {
        let (file, group) = r.group.split_once(';').unwrap_or(("", &r.group));
        format!("{} in {}", clean(group), clean(file))
    };
    lines.push(field("group", group, theme));
    lines.push(field("kind", r.kind.clone(), theme));
    lines.push(field(
        if r.kind == "own" { "condition" } else { "expr" },
        clean(&r.expr).into_owned(),
        theme,
    ));
    if r.kind != "record" {
        lines.push(field(
            "for",
            format!(
                "{}   keep_firing_for {}",
                duration_or_zero(r.for_ms),
                duration_or_zero(r.keep_firing_for_ms)
            ),
            theme,
        ));
    }
    let last = match r.last_eval {
        Some(t) => format!("{} ago", human_duration(snap.now.saturating_sub(t))),
        None if r.kind == "own" => "on each poll".to_string(),
        None => "not yet".to_string(),
    };
    lines.push(field("evaluated", last, theme));
    lines.push(field(
        "now",
        format!(
            "{} firing, {} pending, {} matched",
            r.firing, r.pending, r.matched
        ),
        theme,
    ));
    if let Some(e) = &r.error {
        lines.push(Line::from(vec![
            Span::styled(format!("{:<16}", "error"), scope(theme, "table.header")),
            Span::styled(clean(e).into_owned(), scope(theme, "status.critical")),
        ]));
    }
    lines.push(section("rule labels (as written)", theme));
    pairs(lines, &r.labels, theme);
    if r.kind != "record" {
        lines.push(section("rule annotations (as written)", theme));
        pairs(lines, &r.annotations, theme);
    }
}

fn alert_lines<'a>(a: &'a AlertView, snap: &'a Snapshot, theme: &Theme) -> Vec<Line<'a>> {
    let sev = scope(theme, severity_scope(a.severity));
    let mut state = a.state.as_str().to_uppercase();
    if a.held {
        state.push_str("  UNKNOWN (no data, held)");
    }
    if a.flapping {
        state.push_str("  FLAPPING");
    }
    let mut lines = vec![
        Line::from(vec![
            Span::styled(badge(a.severity), sev.add_modifier(Modifier::BOLD)),
            Span::raw(" "),
            Span::styled(
                clean(&a.rule).into_owned(),
                sev.add_modifier(Modifier::BOLD),
            ),
            Span::raw(if a.host.is_empty() { "" } else { " on " }),
            Span::raw(clean(&a.host).into_owned()),
        ]),
        field("state", state, theme),
        field(
            "active for",
            human_duration(snap.now.saturating_sub(a.active_at)),
            theme,
        ),
    ];
    if let (Some(f), AlertState::Firing) = (a.fired_at, a.state) {
        lines.push(field(
            "firing for",
            human_duration(snap.now.saturating_sub(f)),
            theme,
        ));
    }
    let value = if a.value.is_finite() {
        crate::promql::go_float(a.value)
    } else {
        "none (no data)".to_string()
    };
    lines.push(field("value", value, theme));
    lines.push(field("summary", clean(&a.summary).into_owned(), theme));
    lines.push(section("labels", theme));
    lines.push(Line::from(format!(
        "  {}",
        if a.labels.is_empty() {
            "(none)".into()
        } else {
            clean(&a.labels)
        }
    )));
    lines.push(section("annotations (rendered)", theme));
    pairs(&mut lines, &a.annotations, theme);
    match snap.rules.iter().find(|r| r.name == a.rule) {
        Some(r) => rule_lines(&mut lines, r, snap, theme),
        None => lines.push(field("rule", "(no longer loaded)".into(), theme)),
    }
    lines
}

/// Draw the popup over `body`; nothing when the view has nothing selected.
pub(in crate::ui) fn render(
    frame: &mut Frame<'_>,
    body: Rect,
    snap: &Snapshot,
    state: &UiState,
    theme: &Theme,
) {
    let (title, lines) = match state.view {
        View::Alerts => match snap.alerts.get(state.alerts.sel) {
            Some(a) => (" alert ", alert_lines(a, snap, theme)),
            None => return,
        },
        View::Rules => match snap.rules.get(state.rules.sel) {
            Some(r) => {
                let mut lines = vec![Line::from(Span::styled(
                    clean(&r.name).into_owned(),
                    scope(theme, "help.section").add_modifier(Modifier::BOLD),
                ))];
                rule_lines(&mut lines, r, snap, theme);
                (" rule ", lines)
            }
            None => return,
        },
        View::Targets => match snap.targets.get(state.targets.sel) {
            Some(t) => (" target ", target_lines(t, snap, theme)),
            None => return,
        },
        View::Anomalies => match state.anomalies.rows.get(state.anomalies.sel) {
            Some(a) => (" anomaly ", anomaly_lines(a, snap, theme)),
            None => return,
        },
        _ => return,
    };
    let w = body.width.saturating_sub(4).min(120);
    let h = body.height.saturating_sub(2);
    let area = Rect::new(
        body.x + (body.width - w) / 2,
        body.y + (body.height - h) / 2,
        w,
        h,
    );
    frame.render_widget(Clear, area);
    // Scrolling stops with the last line at the top at most; wrapping may add lines, so the
    // bound is generous rather than exact.
    let max = u16::try_from(lines.len().saturating_sub(1)).unwrap_or(u16::MAX);
    let scroll = u16::try_from(state.detail_scroll)
        .unwrap_or(u16::MAX)
        .min(max);
    let p = Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .scroll((scroll, 0))
        .block(
            Block::bordered()
                .title(title)
                .title_bottom(" j/k scroll · d or Esc closes ")
                .border_style(scope(theme, "border")),
        );
    frame.render_widget(p, area);
}
