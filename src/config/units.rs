//! Value grammars of the config file: durations (`"1h30m"`), byte sizes (`"50MiB"`), OIDs
//! (`"1.3.6.1.2.1.1.3.0"`) and network addresses (`"[::1]:161"`). Pure string conversions: no
//! I/O (no name resolution either), no knowledge of which key a value came from.

use std::net::{Ipv4Addr, Ipv6Addr};
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

/// RFC 2578 caps an OID at 128 sub-identifiers; agents refuse longer ones.
pub const MAX_OID_ARCS: usize = 128;

/// Parse a numeric OID in dotted decimal: at least two arcs, the first 0, 1 or 2, the second
/// below 40 under 0 and 1 (X.690 packs both into one byte), each arc a 32-bit unsigned integer
/// (the SNMP sub-identifier range). One leading dot is accepted because `snmpwalk -On` prints
/// OIDs that way. Names (`IF-MIB::ifDescr`) are refused: resolving them needs MIB files.
///
/// The error says what is wrong and what is accepted, without repeating the text.
pub fn parse_oid(text: &str) -> Result<Vec<u32>, String> {
    const ACCEPTED: &str = "write a numeric OID in dotted decimal like \"1.3.6.1.2.1.1.3.0\" (first arc 0, 1 or 2, at least two arcs)";
    let body = text.strip_prefix('.').unwrap_or(text);
    if body.is_empty() {
        return Err(format!("it is empty; {ACCEPTED}"));
    }
    if body.contains("::") || body.chars().any(|c| c.is_ascii_alphabetic()) {
        return Err(format!(
            "MIB names are not resolved (no MIB files are read); {ACCEPTED}"
        ));
    }
    let mut arcs = Vec::new();
    for part in body.split('.') {
        if part.is_empty() {
            return Err(format!("it has an empty arc; {ACCEPTED}"));
        }
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "arc \"{}\" is not a decimal number; {ACCEPTED}",
                part.escape_debug()
            ));
        }
        let Ok(arc) = part.parse::<u32>() else {
            return Err(format!(
                "arc {part} is larger than {} (the SNMP sub-identifier range); {ACCEPTED}",
                u32::MAX
            ));
        };
        arcs.push(arc);
        if arcs.len() > MAX_OID_ARCS {
            return Err(format!(
                "it has more than {MAX_OID_ARCS} arcs, the SNMP limit; {ACCEPTED}"
            ));
        }
    }
    match arcs.as_slice() {
        [] | [_] => Err(format!("it has a single arc; {ACCEPTED}")),
        [first, ..] if *first > 2 => Err(format!("the first arc is {first}; {ACCEPTED}")),
        [first, second, ..] if *first < 2 && *second > 39 => Err(format!(
            "under arc {first} the second arc must be 0..=39, found {second}; {ACCEPTED}"
        )),
        _ => Ok(arcs),
    }
}

/// Whether an address may carry a port, and which one is implied when it does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortRule {
    /// `host[:port]`; the normal form always has the port (e.g. 161 for SNMP).
    Default(u16),
    /// A bare host: ICMP has no ports, TCP lists its ports in a key of their own.
    Forbidden,
}

/// Check a host name, IPv4 or IPv6 address (optionally with a port, by `rule`) and return
/// its normal form: `host:port` / `[v6]:port` under [`PortRule::Default`], the bare host (IPv6
/// without brackets) under [`PortRule::Forbidden`]. Nothing is resolved here.
///
/// The error says what is wrong and what is accepted, without repeating the text.
pub fn parse_address(text: &str, rule: PortRule) -> Result<String, String> {
    let accepted = match rule {
        PortRule::Default(port) => format!(
            "use a host name or IP address with an optional port (default {port}), like \"10.0.0.2\", \"switch1.example.net:{port}\" or \"[2001:db8::2]:{port}\""
        ),
        PortRule::Forbidden => "use a host name or IP address without a port, like \"10.0.0.1\", \"gw.example.net\" or \"2001:db8::1\"".to_string(),
    };
    if text.is_empty() {
        return Err(format!("it is empty; {accepted}"));
    }
    if text.contains("://") {
        return Err(format!("an address has no scheme; {accepted}"));
    }
    if text.contains(['/', '@', '?', '#']) || text.chars().any(char::is_whitespace) {
        return Err(format!(
            "an address has no path, user, spaces or query; {accepted}"
        ));
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return Err(format!("`[` without a closing `]`; {accepted}"));
        };
        if inside.parse::<Ipv6Addr>().is_err() {
            return Err(format!(
                "brackets hold an IPv6 address, and this one is not valid; {accepted}"
            ));
        }
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(port) => Some(port),
                None => return Err(format!("unexpected text after `]`; {accepted}")),
            },
        };
        (Host::V6(inside), port)
    } else if text.parse::<Ipv6Addr>().is_ok() {
        (Host::V6(text), None)
    } else if text.matches(':').count() > 1 {
        return Err(format!(
            "not a valid IPv6 address (with a port, IPv6 goes in brackets: \"[2001:db8::2]:161\"); {accepted}"
        ));
    } else {
        match text.split_once(':') {
            Some((host, port)) => (Host::Name(host), Some(port)),
            None => (Host::Name(text), None),
        }
    };
    if let Host::Name(name) = host {
        check_host_name(name).map_err(|why| format!("{why}; {accepted}"))?;
    }
    let port = match (port, rule) {
        (None, PortRule::Default(port)) => port,
        (None, PortRule::Forbidden) => 0,
        (Some(_), PortRule::Forbidden) => {
            return Err(format!("it has a port; {accepted}"));
        }
        (Some(port), PortRule::Default(_)) => match port.parse::<u16>() {
            Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => p,
            _ => {
                return Err(format!(
                    "port \"{}\" is not an integer from 1 to 65535; {accepted}",
                    port.escape_debug()
                ));
            }
        },
    };
    Ok(match (host, rule) {
        (Host::V6(ip), PortRule::Default(_)) => format!("[{ip}]:{port}"),
        (Host::Name(name), PortRule::Default(_)) => format!("{name}:{port}"),
        (Host::V6(ip), PortRule::Forbidden) => ip.to_string(),
        (Host::Name(name), PortRule::Forbidden) => name.to_string(),
    })
}

enum Host<'a> {
    V6(&'a str),
    /// A DNS name or an IPv4 address.
    Name(&'a str),
}

/// RFC 1123 host names (labels of letters, digits and `-`, 1–63 characters, 253 in all, one
/// trailing dot allowed), plus `_`, which internal DNS zones use in practice. A name whose
/// last label is all digits must be an IPv4 address (RFC 3696 §2), so `10.0.0.300` is refused
/// instead of being sent to the resolver.
fn check_host_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the host is empty".to_string());
    }
    let bare = name.strip_suffix('.').unwrap_or(name);
    if bare.len() > 253 {
        return Err("the host name is longer than 253 characters".to_string());
    }
    let last = bare.rsplit('.').next().unwrap_or_default();
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        return match bare.parse::<Ipv4Addr>() {
            Ok(_) => Ok(()),
            Err(_) => Err("not a valid IPv4 address".to_string()),
        };
    }
    for label in bare.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(
                "each dot-separated part of a host name has 1 to 63 characters".to_string(),
            );
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a host name part must not start or end with `-`".to_string());
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
        {
            return Err(format!(
                "`{}` is not allowed in a host name (letters, digits, `-` and `_` only)",
                c.escape_debug()
            ));
        }
    }
    Ok(())
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

    #[test]
    fn oids_table() {
        let cases: &[(&str, Option<&[u32]>)] = &[
            ("1.3.6.1.2.1.1.3.0", Some(&[1, 3, 6, 1, 2, 1, 1, 3, 0])),
            (".1.3.6.1", Some(&[1, 3, 6, 1])),
            ("0.0", Some(&[0, 0])),
            ("2.999.1", Some(&[2, 999, 1])),
            ("1.39", Some(&[1, 39])),
            ("1.3.4294967295", Some(&[1, 3, u32::MAX])),
            ("1.40", None),
            ("3.1", None),
            ("1", None),
            ("", None),
            (".", None),
            ("..1.3", None),
            ("1..3", None),
            ("1.3.", None),
            ("1.3.4294967296", None),
            ("1.3.-6", None),
            ("1.3.+6", None),
            (" 1.3", None),
            ("1.3.6 ", None),
            ("IF-MIB::ifDescr", None),
            ("iso.3.6", None),
            ("1.3.٣", None),
        ];
        for (text, want) in cases {
            assert_eq!(
                parse_oid(text).ok().as_deref(),
                *want,
                "parse_oid({text:?})"
            );
        }
        let longest = vec!["1"; MAX_OID_ARCS].join(".");
        assert_eq!(parse_oid(&longest).map(|a| a.len()), Ok(MAX_OID_ARCS));
        assert!(parse_oid(&format!("{longest}.1")).is_err());
    }

    #[test]
    fn addresses_table() {
        use PortRule::{Default, Forbidden};
        let cases: &[(&str, PortRule, Option<&str>)] = &[
            ("10.0.0.2", Default(161), Some("10.0.0.2:161")),
            ("10.0.0.2:1161", Default(161), Some("10.0.0.2:1161")),
            ("switch1", Default(161), Some("switch1:161")),
            (
                "sw-1.example.net.",
                Default(161),
                Some("sw-1.example.net.:161"),
            ),
            ("_snmp.lab", Default(161), Some("_snmp.lab:161")),
            ("[::1]:161", Default(161), Some("[::1]:161")),
            ("[::1]", Default(161), Some("[::1]:161")),
            ("::1", Default(161), Some("[::1]:161")),
            ("2001:db8::2", Default(161), Some("[2001:db8::2]:161")),
            ("10.0.0.2:0", Default(161), None),
            ("10.0.0.2:65536", Default(161), None),
            ("10.0.0.2:+1", Default(161), None),
            ("10.0.0.2:", Default(161), None),
            ("udp://10.0.0.2:161", Default(161), None),
            ("10.0.0.300", Default(161), None),
            ("1.2.3", Default(161), None),
            ("[::1]161", Default(161), None),
            ("[::1", Default(161), None),
            ("[10.0.0.1]:161", Default(161), None),
            ("2001:db8::2:161:x", Default(161), None),
            ("", Default(161), None),
            (":161", Default(161), None),
            ("-bad.example", Default(161), None),
            ("a..b", Default(161), None),
            ("host name", Default(161), None),
            ("hé.example", Default(161), None),
            ("10.0.0.1", Forbidden, Some("10.0.0.1")),
            ("gw", Forbidden, Some("gw")),
            ("2001:db8::1", Forbidden, Some("2001:db8::1")),
            ("[2001:db8::1]", Forbidden, Some("2001:db8::1")),
            ("10.0.0.1:22", Forbidden, None),
            ("[::1]:22", Forbidden, None),
            ("http://10.0.0.1", Forbidden, None),
            ("10.0.0.1/24", Forbidden, None),
        ];
        for (text, rule, want) in cases {
            assert_eq!(
                parse_address(text, *rule).ok().as_deref(),
                *want,
                "parse_address({text:?}, {rule:?})"
            );
        }
        let long_label = "a".repeat(64);
        assert!(parse_address(&long_label, Forbidden).is_err());
        let long_name = vec!["a"; 127].join(".");
        assert!(parse_address(&long_name, Forbidden).is_ok());
        assert!(parse_address(&format!("{long_name}.bb"), Forbidden).is_err());
    }

    proptest! {
        #[test]
        fn oid_format_round_trips(arcs in prop::collection::vec(any::<u32>(), 1..20), first in 0u32..3, second in 0u32..40) {
            let mut all = vec![first, second];
            all.extend(arcs);
            let text = all.iter().map(u32::to_string).collect::<Vec<_>>().join(".");
            prop_assert_eq!(parse_oid(&text), Ok(all));
        }

        #[test]
        fn oid_and_address_parsers_never_panic(text in "\\PC{0,40}") {
            let _ = parse_oid(&text);
            let _ = parse_address(&text, PortRule::Default(161));
            let _ = parse_address(&text, PortRule::Forbidden);
        }

        #[test]
        fn ipv4_addresses_normalise(ip in any::<[u8; 4]>(), port in 1u16..) {
            let ip = Ipv4Addr::from(ip).to_string();
            prop_assert_eq!(parse_address(&ip, PortRule::Forbidden), Ok(ip.clone()));
            let with_port = format!("{ip}:{port}");
            prop_assert_eq!(parse_address(&with_port, PortRule::Default(161)), Ok(with_port.clone()));
        }

        #[test]
        fn ipv6_addresses_normalise(ip in any::<[u16; 8]>(), port in 1u16..) {
            let ip = Ipv6Addr::from(ip).to_string();
            prop_assert_eq!(parse_address(&ip, PortRule::Forbidden), Ok(ip.clone()));
            let with_port = format!("[{ip}]:{port}");
            prop_assert_eq!(parse_address(&with_port, PortRule::Default(161)), Ok(with_port.clone()));
        }

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
