//! Prometheus's duration words (`1h30m`, `90s`, `1w`, `0`) as rule and test files write them:
//! parsing to milliseconds and printing back the way Prometheus prints them. Nothing else.

const UNITS: [(&str, i64); 7] = [
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
];

/// Parse `[0-9]+` + unit, units in the order y w d h m s ms, each at most once; `0` alone is
/// allowed. The error text is Prometheus's.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    match text {
        "0" => return Ok(0),
        "" => return Err("empty duration string".into()),
        _ => {}
    }
    let invalid = || format!("not a valid duration string: {text:?}");
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut next_unit = 0;
    let mut total: i64 = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(invalid());
        }
        let digits = text.get(start..i).ok_or_else(invalid)?;
        let ustart = i;
        while i < bytes.len() && bytes[i].is_ascii_lowercase() {
            i += 1;
        }
        let unit = text.get(ustart..i).ok_or_else(invalid)?;
        // "ms" must not be read as "m" followed by junk, so match whole unit words.
        let Some(k) = UNITS
            .iter()
            .skip(next_unit)
            .position(|(u, _)| *u == unit)
            .map(|k| k + next_unit)
        else {
            return Err(invalid());
        };
        next_unit = k + 1;
        let n: i64 = digits
            .parse()
            .map_err(|_| "duration out of range".to_string())?;
        let mult = UNITS.get(k).map(|u| u.1).unwrap_or(1);
        total = n
            .checked_mul(mult)
            .and_then(|v| total.checked_add(v))
            .filter(|v| v.checked_mul(1_000_000).is_some())
            .ok_or_else(|| "duration out of range".to_string())?;
    }
    Ok(total)
}

/// Prometheus's `model.Duration.String()`: years and weeks only when exact, then days down to
/// milliseconds; `0s` for zero.
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut rest = ms;
    let mut out = String::new();
    for (i, (unit, mult)) in UNITS.iter().enumerate() {
        let exact_only = i < 2;
        if exact_only && rest % mult != 0 {
            continue;
        }
        let v = rest / mult;
        if v > 0 {
            out.push_str(&format!("{v}{unit}"));
            rest -= v * mult;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_durations() {
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("5m"), Ok(300_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("1d2h3m4s5ms"), Ok(93_784_005));
        assert_eq!(parse_duration("1w"), Ok(604_800_000));
        for bad in ["", "5", "1m1h", "1.5m", "-1m", "5 m", "1mm", "m"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn prints_like_prometheus() {
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(300_000), "5m");
        assert_eq!(format_duration(5_400_000), "1h30m");
        assert_eq!(format_duration(86_400_000), "1d");
        assert_eq!(format_duration(90 * 86_400_000), "90d");
        assert_eq!(format_duration(14 * 86_400_000), "2w");
        assert_eq!(format_duration(1500), "1s500ms");
    }
}
