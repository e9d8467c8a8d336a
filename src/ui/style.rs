//! Theme → ratatui: converts the theme's plain `StyleSpec`s into ratatui styles and formats
//! the numbers and times the views print. Pure; no terminal I/O.

use std::time::{Duration, UNIX_EPOCH};

use ratatui::style::{Color, Modifier, Style};

use crate::config::theme::{StyleSpec, Theme, ThemeColor};
use crate::model::{Millis, Severity};

pub fn color(c: ThemeColor) -> Color {
    match c {
        ThemeColor::Reset => Color::Reset,
        ThemeColor::Ansi(n) => match n {
            0 => Color::Black,
            1 => Color::Red,
            2 => Color::Green,
            3 => Color::Yellow,
            4 => Color::Blue,
            5 => Color::Magenta,
            6 => Color::Cyan,
            7 => Color::Gray,
            8 => Color::DarkGray,
            9 => Color::LightRed,
            10 => Color::LightGreen,
            11 => Color::LightYellow,
            12 => Color::LightBlue,
            13 => Color::LightMagenta,
            14 => Color::LightCyan,
            15 => Color::White,
            n => Color::Indexed(n),
        },
        ThemeColor::Indexed(n) => Color::Indexed(n),
        ThemeColor::Rgb(r, g, b) => Color::Rgb(r, g, b),
    }
}

pub fn style_of(spec: StyleSpec) -> Style {
    let mut s = Style::new();
    if let Some(fg) = spec.fg {
        s = s.fg(color(fg));
    }
    if let Some(bg) = spec.bg {
        s = s.bg(color(bg));
    }
    let flags = [
        (spec.bold, Modifier::BOLD),
        (spec.dim, Modifier::DIM),
        (spec.italic, Modifier::ITALIC),
        (spec.underline, Modifier::UNDERLINED),
        (spec.reversed, Modifier::REVERSED),
    ];
    for (on, m) in flags {
        if on {
            s = s.add_modifier(m);
        }
    }
    s
}

/// Style of a theme scope, as ratatui wants it.
pub fn scope(theme: &Theme, name: &str) -> Style {
    style_of(theme.style(name))
}

pub fn severity_scope(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "status.critical",
        Severity::Major => "status.major",
        Severity::Minor => "status.minor",
        Severity::Degraded => "status.degraded",
        Severity::Unknown => "status.unknown",
        Severity::Ok => "status.ok",
        Severity::NoData => "status.nodata",
    }
}

/// A fixed-width badge, readable without colour (NO_COLOR, monochrome themes).
pub fn badge(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "CRIT",
        Severity::Major => "MAJ",
        Severity::Minor => "MIN",
        Severity::Degraded => "DEGR",
        Severity::Unknown => "UNKN",
        Severity::Ok => "OK",
        Severity::NoData => "----",
    }
}

/// `2023-11-14 22:13:20Z`.
pub fn clock(ms: Millis) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .replace('T', " ")
}

/// `22:13` UTC, for axis labels.
pub fn hhmm(ms: Millis) -> String {
    let c = clock(ms);
    c.get(11..16).unwrap_or("").to_string()
}

/// `Jan 02`-free date for long ranges: `11-14 22h`.
pub fn axis_time(ms: Millis, range_ms: i64) -> String {
    let c = clock(ms);
    if range_ms > 2 * 86_400_000 {
        c.get(5..13).map(|s| format!("{s}h")).unwrap_or_default()
    } else {
        hhmm(ms)
    }
}

/// 1234567 → `1.2 M`; keeps bytes and rates short.
pub fn si(v: f64) -> String {
    if !v.is_finite() {
        return "—".to_string();
    }
    let a = v.abs();
    let (d, p) = if a >= 1e12 {
        (1e12, "T")
    } else if a >= 1e9 {
        (1e9, "G")
    } else if a >= 1e6 {
        (1e6, "M")
    } else if a >= 1e3 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    if p.is_empty() {
        format!("{v:.0}")
    } else {
        format!("{:.1}{p}", v / d)
    }
}

pub fn pct(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:5.1} %"),
        _ => "    — ".to_string(),
    }
}

/// Sparkline as block characters, newest at the right; `fixed` gives the scale (percentages are
/// drawn on 0–100 so a flat 90 % looks high).
pub fn spark(points: &[f32], width: usize, fixed: Option<(f32, f32)>) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let tail = points
        .get(points.len().saturating_sub(width)..)
        .unwrap_or(&[]);
    let finite = tail.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) = fixed.unwrap_or_else(|| {
        finite.fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        })
    });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let mut out: String = " ".repeat(width.saturating_sub(tail.len()));
    for v in tail {
        if !v.is_finite() {
            out.push(' ');
            continue;
        }
        let level = (((v - lo) / span) * 7.0).round().clamp(0.0, 7.0) as usize;
        out.push(BARS.get(level).copied().unwrap_or(' '));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_table() {
        assert_eq!(clock(1_700_000_000_000), "2023-11-14 22:13:20Z");
        assert_eq!(clock(-5), "1970-01-01 00:00:00Z");
        assert_eq!(hhmm(1_700_000_000_000), "22:13");
        assert_eq!(si(999.0), "999");
        assert_eq!(si(1_500.0), "1.5k");
        assert_eq!(si(2_000_000.0), "2.0M");
        assert_eq!(si(f64::NAN), "—");
        assert_eq!(pct(Some(93.14)), " 93.1 %");
        assert_eq!(spark(&[0.0, 50.0, 100.0], 5, Some((0.0, 100.0))), "  ▁▅█");
        assert_eq!(spark(&[1.0, 1.0], 2, None), "▁▁");
        assert_eq!(spark(&[f32::NAN, 3.0], 2, None), " ▁");
        assert_eq!(spark(&[], 3, None), "   ");
    }

    proptest::proptest! {
        #[test]
        fn spark_is_always_width_wide(points in proptest::collection::vec(proptest::num::f32::ANY, 0..80), w in 0usize..40) {
            proptest::prop_assert_eq!(spark(&points, w, None).chars().count(), w);
        }
    }
}
