//! Human-readable durations and day counts for status lines, reports and the console. Pure
//! formatting: depends on no other module of the crate.

use std::fmt::Write as _;

/// `0.6` days → `14h24m`, `∞` → `never`; for forecast summaries.
pub fn human_days(days: f64) -> String {
    if !days.is_finite() {
        return "never".to_string();
    }
    // Clamped so a century-long forecast does not overflow the millisecond count.
    human_duration((days.clamp(0.0, 36_500.0) * 86_400_000.0) as i64)
}

/// `95s` → `1m35s`; coarse on purpose: it is for status lines.
pub fn human_duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let mut out = String::new();
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        let _ = write!(out, "{d}d{h}h");
    } else if h > 0 {
        let _ = write!(out, "{h}h{m}m");
    } else if m > 0 {
        let _ = write!(out, "{m}m{sec}s");
    } else {
        let _ = write!(out, "{sec}s");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(95_000), "1m35s");
        assert_eq!(human_duration(3 * 3_600_000 + 60_000), "3h1m");
        assert_eq!(human_duration(2 * 86_400_000), "2d0h");
        assert_eq!(human_duration(-5), "0s");
    }
}
