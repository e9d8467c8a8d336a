//! Theme → ratatui: converts the theme's plain `StyleSpec`s into ratatui styles and formats
//! the numbers and times the views print. Pure; no terminal I/O.

use ratatui::style::{Color, Modifier, Style};

use crate::civil::civil_from_days;
use crate::config::theme::{StyleSpec, Theme, ThemeColor};
use crate::model::{Forecast, Millis, Severity};
use crate::sanitize::sanitize;

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

/// The glyph that marks an anomaly wherever one is drawn (status list, panels, chart legend).
pub const ANOMALY_GLYPH: &str = "◆";

/// Forecasts this far out or further are shown as "> 30 d": a trend that long is a guess.
pub const FORECAST_CAP_DAYS: f64 = 30.0;

/// A mount or vital name longer than this is cut with `…`, so one odd name cannot push the
/// numbers out of a narrow panel.
const NAME_MAX: usize = 16;

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Short, sanitised name of a vital key for narrow columns: `cpu_pct` → `cpu`,
/// `disk:/srv` → `disk /srv`; an unknown key is shown as it is (cut, sanitised).
pub fn vital_short(key: &str) -> String {
    let known = match key {
        "cpu_pct" => "cpu",
        "mem_pct" => "mem",
        "swap_pct" => "swap",
        "load1" => "load",
        "disk_max_pct" => "disk",
        "disk_read_bps" => "disk r",
        "disk_write_bps" => "disk w",
        "net_rx_bps" => "net rx",
        "net_tx_bps" => "net tx",
        _ => {
            return match key.strip_prefix("disk:") {
                Some(mount) => format!("disk {}", cut(&sanitize(mount), NAME_MAX)),
                None => cut(&sanitize(key), NAME_MAX),
            };
        }
    };
    known.to_string()
}

/// A number of days or hours, short: one decimal below 10, none above.
fn amount(x: f64) -> String {
    if x < 9.95 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

/// When a forecast says the vital fills: `~3.2 d (2.1–5.0)`, `~9.6 h (6.0–14)`, `> 30 d`,
/// `full now`; hours below a day, the band in the estimate's unit. `None` for a forecast
/// without a finite estimate (nothing sensible to say).
pub fn forecast_eta(f: &Forecast) -> Option<String> {
    let days = f.days;
    if !days.is_finite() {
        return None;
    }
    if days <= 0.0 {
        return Some("full now".to_string());
    }
    if days >= FORECAST_CAP_DAYS {
        return Some(format!("> {FORECAST_CAP_DAYS:.0} d"));
    }
    let (scale, unit) = if days >= 1.0 { (1.0, "d") } else { (24.0, "h") };
    let main = if days * 24.0 < 1.0 {
        "< 1 h".to_string()
    } else {
        format!("~{} {unit}", amount(days * scale))
    };
    let (lo, hi) = (f.days_low, f.days_high);
    let band = if lo.is_finite() && hi.is_finite() && lo <= hi {
        // Clamped to [0, cap] so that a wild band cannot print a 30-digit number.
        let lo_s = amount(lo.clamp(0.0, FORECAST_CAP_DAYS) * scale);
        let hi_s = if hi >= FORECAST_CAP_DAYS {
            format!(">{}", amount(FORECAST_CAP_DAYS * scale))
        } else {
            amount(hi.max(0.0) * scale)
        };
        // A band that prints as the estimate itself says nothing.
        (lo_s != hi_s).then(|| format!(" ({lo_s}–{hi_s})"))
    } else {
        None
    };
    Some(format!("{main}{}", band.unwrap_or_default()))
}

/// The whole forecast as one line: `disk /srv fills in ~3.2 d (2.1–5.0)`, `mem fills in ~12 d`,
/// `disk / is full now`.
pub fn forecast_text(f: &Forecast) -> Option<String> {
    let eta = forecast_eta(f)?;
    let name = vital_short(&f.vital);
    Some(if eta == "full now" {
        format!("{name} is full now")
    } else {
        format!("{name} fills in {eta}")
    })
}

/// An anomaly score or threshold, short at any size: `4.20`, `123`, `1.5M`, `—` for NaN.
pub fn score(v: f32) -> String {
    let v = f64::from(v);
    if !v.is_finite() {
        "—".to_string()
    } else if v.abs() < 100.0 {
        format!("{v:.2}")
    } else {
        si(v)
    }
}

/// `11-14 22:13`: an event time in a narrow column (UTC, like every clock the console shows).
pub fn short_clock(ms: Millis) -> String {
    let (_, m, d) = civil_from_days(ms.div_euclid(86_400_000));
    format!("{m:02}-{d:02} {}", hhmm(ms))
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

    fn fc(vital: &str, days: f64, lo: f64, hi: f64) -> Forecast {
        Forecast {
            vital: vital.to_string(),
            days,
            days_low: lo,
            days_high: hi,
        }
    }

    #[test]
    fn forecast_table() {
        let n = f64::NAN;
        let cases: &[(&str, f64, f64, f64, Option<&str>)] = &[
            (
                "disk:/srv",
                3.2,
                2.1,
                5.0,
                Some("disk /srv fills in ~3.2 d (2.1–5.0)"),
            ),
            ("mem_pct", 12.0, n, n, Some("mem fills in ~12 d")),
            (
                "mem_pct",
                12.0,
                11.0,
                14.2,
                Some("mem fills in ~12 d (11–14)"),
            ),
            (
                "mem_pct",
                0.4,
                0.25,
                0.6,
                Some("mem fills in ~9.6 h (6.0–14)"),
            ),
            (
                "disk_max_pct",
                0.02,
                0.01,
                0.03,
                Some("disk fills in < 1 h (0.2–0.7)"),
            ),
            ("swap_pct", 45.0, 30.0, 90.0, Some("swap fills in > 30 d")),
            (
                "disk:/",
                29.0,
                20.0,
                45.0,
                Some("disk / fills in ~29 d (20–>30)"),
            ),
            ("disk:/", 5.0, 6.0, 4.0, Some("disk / fills in ~5.0 d")),
            ("disk:/", 5.0, 5.01, 5.02, Some("disk / fills in ~5.0 d")),
            ("disk:/", 5.0, -9e25, -4e25, Some("disk / fills in ~5.0 d")),
            (
                "disk:/",
                5.0,
                -9e25,
                9e25,
                Some("disk / fills in ~5.0 d (0.0–>30)"),
            ),
            ("disk:/", 0.0, 0.0, 0.0, Some("disk / is full now")),
            ("disk:/", -3.0, -4.0, -1.0, Some("disk / is full now")),
            ("disk:/", n, 1.0, 2.0, None),
            ("disk:/", f64::INFINITY, 1.0, 2.0, None),
            (
                "disk:/x\u{1b}[2J",
                2.0,
                n,
                n,
                Some("disk /x\\u{1b}[2J fills in ~2.0 d"),
            ),
            (
                "disk:/a/very/long/mount/point",
                2.0,
                n,
                n,
                Some("disk /a/very/long/mo… fills in ~2.0 d"),
            ),
        ];
        for (vital, d, lo, hi, want) in cases {
            let got = forecast_text(&fc(vital, *d, *lo, *hi));
            assert_eq!(got.as_deref(), *want, "{vital} {d} {lo} {hi}");
        }
    }

    #[test]
    fn vital_and_score_table() {
        let cases = [
            ("cpu_pct", "cpu"),
            ("mem_pct", "mem"),
            ("disk_max_pct", "disk"),
            ("net_rx_bps", "net rx"),
            ("disk:/srv", "disk /srv"),
            ("weird", "weird"),
            ("bell\u{7}", "bell\\u{7}"),
        ];
        for (key, want) in cases {
            assert_eq!(vital_short(key), want, "{key}");
        }
        assert_eq!(score(4.2), "4.20");
        assert_eq!(score(-0.5), "-0.50");
        assert_eq!(score(1234.0), "1.2k");
        assert_eq!(score(f32::NAN), "—");
        assert_eq!(score(f32::INFINITY), "—");
        assert_eq!(short_clock(1_700_000_000_000), "11-14 22:13");
    }

    proptest::proptest! {
        #[test]
        fn forecast_text_is_one_short_line(
            vital in "\\PC{0,40}", d in proptest::num::f64::ANY,
            lo in proptest::num::f64::ANY, hi in proptest::num::f64::ANY,
        ) {
            if let Some(t) = forecast_text(&fc(&vital, d, lo, hi)) {
                proptest::prop_assert!(!t.chars().any(char::is_control), "{t:?}");
                // name (≤ 16 + "disk ") + " fills in " + the longest eta "~9.9 h (9.9–>720)".
                proptest::prop_assert!(t.chars().count() <= 48, "{t:?}");
            }
            proptest::prop_assert_eq!(forecast_text(&fc(&vital, d, lo, hi)).is_some(), d.is_finite());
        }

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
