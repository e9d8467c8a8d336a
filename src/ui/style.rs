//! Theme → ratatui: converts the theme's plain `StyleSpec`s into ratatui styles and formats
//! the numbers and times the views print. Pure; no terminal I/O.

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

/// `2023-11-14 22:13:20Z`. Written out by hand because a hostile or broken timestamp (year
/// 300000, before 1970) must print, not panic as `SystemTime` arithmetic and RFC 3339
/// formatting do.
pub fn clock(ms: Millis) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm), in i128 so no input overflows.
fn civil_from_days(days: i64) -> (i128, u32, u32) {
    let z = i128::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i128::from(m <= 2);
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

/// `22:13` UTC, for axis labels.
pub fn hhmm(ms: Millis) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}", secs / 3600, secs / 60 % 60)
}

/// `Jan 02`-free date for long ranges: `11-14 22h`.
pub fn axis_time(ms: Millis, range_ms: i64) -> String {
    if range_ms > 2 * 86_400_000 {
        let (_, m, d) = civil_from_days(ms.div_euclid(86_400_000));
        let h = ms.div_euclid(3_600_000).rem_euclid(24);
        format!("{m:02}-{d:02} {h:02}h")
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
        assert_eq!(clock(-5), "1969-12-31 23:59:59Z");
        assert_eq!(clock(0), "1970-01-01 00:00:00Z");
        assert_eq!(clock(951_782_400_000), "2000-02-29 00:00:00Z");
        assert_eq!(clock(4_102_444_800_000), "2100-01-01 00:00:00Z");
        assert!(clock(i64::MAX).starts_with("292278994-08-17"));
        assert!(clock(i64::MIN).starts_with("-292275055-05-16"));
        assert_eq!(axis_time(1_700_000_000_000, 7 * 86_400_000), "11-14 22h");
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
        fn clock_matches_day_arithmetic(ms in proptest::num::i64::ANY) {
            let c = clock(ms);
            proptest::prop_assert!(c.ends_with('Z'));
            let hm = hhmm(ms);
            proptest::prop_assert_eq!(c.get(c.len() - 9..c.len() - 4), Some(hm.as_str()));
        }

        #[test]
        fn spark_is_always_width_wide(points in proptest::collection::vec(proptest::num::f32::ANY, 0..80), w in 0usize..40) {
            proptest::prop_assert_eq!(spark(&points, w, None).chars().count(), w);
        }
    }
}
