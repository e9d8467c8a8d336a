//! Duration and byte-size grammars of the config file (`"1h30m"`, `"50MiB"`).
//! Pure string → number conversions: no I/O, no knowledge of which key a value came from.

use std::time::Duration;

/// Duration units, largest first. The grammar requires this order so that every duration has
/// exactly one spelling, which is also what `format_duration` prints.
const DURATION_UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
];

/// Parse a duration written as one or more `<integer><unit>` groups with no spaces, units in
/// decreasing order and each at most once: `15s`, `2m`, `1h30m`, `500ms`, `15d`. This is the
/// Prometheus duration grammar. humantime's grammar is deliberately not used: it accepts
/// `5 minutes` and reads `M` as months, both of which hide typos in a file people copy around.
///
/// Returns `None` for anything else, including overflow. The result is whole milliseconds
/// because every timestamp in nocscope is in milliseconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return None;
    }
    let mut total_ms: u64 = 0;
    let mut pos = 0;
    // Index into DURATION_UNITS that the next group must not precede.
    let mut next_unit = 0;
    while pos < bytes.len() {
        let digits_start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos == digits_start {
            return None;
        }
        let number: u64 = text.get(digits_start..pos)?.parse().ok()?;
        let unit_start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_alphabetic() {
            pos += 1;
        }
        let unit = text.get(unit_start..pos)?;
        let offset = DURATION_UNITS
            .iter()
            .skip(next_unit)
            .position(|(name, _)| *name == unit)?;
        let index = next_unit + offset;
        next_unit = index + 1;
        let (_, scale) = DURATION_UNITS.get(index)?;
        total_ms = total_ms.checked_add(number.checked_mul(*scale)?)?;
    }
    Some(Duration::from_millis(total_ms))
}

/// Print a duration in the grammar `parse_duration` reads (sub-millisecond parts are dropped).
/// Zero prints as `0s` so that a message never shows an empty string.
pub fn format_duration(d: Duration) -> String {
    let mut rest = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if rest == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (name, scale) in DURATION_UNITS {
        let n = rest / scale;
        if n > 0 {
            out.push_str(&n.to_string());
            out.push_str(name);
            rest -= n * scale;
        }
    }
    out
}

/// Byte-size units; matched case-insensitively because `mb`, `MB` and `Mb` are all written in
/// the wild to mean megabytes, and nobody configures a body limit in bits.
const SIZE_UNITS: [(&str, u64); 9] = [
    ("b", 1),
    ("kb", 1000),
    ("kib", 1 << 10),
    ("mb", 1000 * 1000),
    ("mib", 1 << 20),
    ("gb", 1000 * 1000 * 1000),
    ("gib", 1 << 30),
    ("tb", 1000 * 1000 * 1000 * 1000),
    ("tib", 1 << 40),
];

/// Parse a byte size written as `<integer>[ ]<unit>`: `50MiB`, `10 MB`, `512B`. Integers
/// without a unit are handled by the caller (TOML integers). Returns `None` on anything else,
/// including overflow.
pub fn parse_byte_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .char_indices()
        .find(|(_, c)| !c.is_ascii_digit())
        .map_or(text.len(), |(i, _)| i);
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return None;
    }
    let number: u64 = digits.parse().ok()?;
    let unit = unit.trim_start().to_ascii_lowercase();
    if unit.is_empty() {
        return Some(number);
    }
    let (_, scale) = SIZE_UNITS.iter().find(|(name, _)| *name == unit)?;
    number.checked_mul(*scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations_table() {
        let ms = Duration::from_millis;
        let cases: &[(&str, Option<Duration>)] = &[
            ("15s", Some(ms(15_000))),
            ("2m", Some(ms(120_000))),
            ("1h30m", Some(ms(5_400_000))),
            ("500ms", Some(ms(500))),
            ("1s500ms", Some(ms(1_500))),
            ("15d", Some(ms(15 * 86_400_000))),
            ("1w", Some(ms(7 * 86_400_000))),
            ("1y", Some(ms(365 * 86_400_000))),
            ("0s", Some(ms(0))),
            ("5 minutes", None),
            ("5minutes", None),
            ("15", None),
            ("s", None),
            ("", None),
            (" 15s", None),
            ("15s ", None),
            ("1.5s", None),
            ("-1s", None),
            ("30m1h", None),
            ("1m1m", None),
            ("1M", None),
            ("15S", None),
            ("99999999999999999999s", None),
            ("18446744073709551615y", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text), *want, "parse_duration({text:?})");
        }
    }

    #[test]
    fn byte_sizes_table() {
        let cases: &[(&str, Option<u64>)] = &[
            ("50MiB", Some(50 << 20)),
            ("50 MiB", Some(50 << 20)),
            ("10MB", Some(10_000_000)),
            ("10mb", Some(10_000_000)),
            ("1KiB", Some(1024)),
            ("1kB", Some(1000)),
            ("2GiB", Some(2 << 30)),
            ("2GB", Some(2_000_000_000)),
            ("1TiB", Some(1 << 40)),
            ("512B", Some(512)),
            ("512", Some(512)),
            ("0", Some(0)),
            ("1.5GiB", None),
            ("MiB", None),
            ("", None),
            ("-1MiB", None),
            ("10 Mbit", None),
            ("20000000000TiB", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_byte_size(text), *want, "parse_byte_size({text:?})");
        }
    }

    proptest! {
        #[test]
        fn duration_format_round_trips(millis in 0u64..=400 * 365 * 86_400_000) {
            let d = Duration::from_millis(millis);
            prop_assert_eq!(parse_duration(&format_duration(d)), Some(d));
        }

        #[test]
        fn duration_parser_never_panics(text in "\\PC{0,24}") {
            let _ = parse_duration(&text);
        }

        #[test]
        fn byte_size_scales_or_refuses(n in any::<u64>(), unit in 0usize..SIZE_UNITS.len()) {
            let (name, scale) = SIZE_UNITS[unit];
            let got = parse_byte_size(&format!("{n}{}", name.to_ascii_uppercase()));
            prop_assert_eq!(got, n.checked_mul(scale));
        }

        #[test]
        fn byte_size_parser_never_panics(text in "\\PC{0,24}") {
            let _ = parse_byte_size(&text);
        }
    }
}
