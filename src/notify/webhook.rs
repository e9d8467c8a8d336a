//! Alertmanager's webhook message, version 4, byte for byte as Alertmanager 0.25 sends it:
//! the field order of its Go structs, Go's JSON string escaping (HTML characters as `\u003c`
//! and so on), RFC 3339 times with trailing zeros cut, the receiver name regex-quoted, and
//! `max_alerts` truncation. Owns the payload only; sending it is the delivery task's.

use std::fmt::Write as _;

use super::dispatch::{LabelSet, Notification, Pairs, SentAlert};
use crate::model::Millis;

/// Go's `encoding/json` string: `"`, `\` and control characters escaped, and also `<`, `>`,
/// `&`, U+2028 and U+2029 (its HTML-safe default).
pub fn go_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's `time.Time` in JSON (RFC 3339 with nanoseconds, trailing zeros dropped) of a UTC
/// instant; `None` is Go's zero time.
pub fn go_time(ms: Option<Millis>) -> String {
    let Some(ms) = ms else {
        return "0001-01-01T00:00:00Z".to_string();
    };
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    // "…:19.120Z" → "…:19.12Z", "…:19.000Z" → "…:19Z": the '.' stops the trim.
    let full = humantime::format_rfc3339_millis(t).to_string();
    let digits = full.trim_end_matches('Z').trim_end_matches('0');
    format!("{}Z", digits.trim_end_matches('.'))
}

fn map<'a>(out: &mut String, m: impl IntoIterator<Item = (&'a String, &'a String)>) {
    out.push('{');
    for (i, (k, v)) in m.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        go_json_string(out, k);
        out.push(':');
        go_json_string(out, v);
    }
    out.push('}');
}

/// Labels every alert has with the same value.
fn common_labels(alerts: &[&SentAlert]) -> LabelSet {
    let Some(first) = alerts.first() else {
        return LabelSet::new();
    };
    let mut out = first.alert.labels.clone();
    for a in &alerts[1..] {
        out.retain(|k, v| a.alert.labels.get(k) == Some(v));
    }
    out
}

/// Annotations every alert has with the same value.
fn common_annotations(alerts: &[&SentAlert]) -> Pairs {
    let Some(first) = alerts.first() else {
        return Pairs::new();
    };
    let mut out = first.alert.annotations.clone();
    for a in &alerts[1..] {
        let other = &a.alert.annotations;
        out.retain(|(k, v)| {
            other
                .binary_search_by(|(n, _)| n.as_str().cmp(k))
                .is_ok_and(|i| other[i].1 == *v)
        });
    }
    out
}

/// Go's `regexp.QuoteMeta`, which Alertmanager applies to the receiver name.
fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The webhook body for one notification: `external_url` as Alertmanager's
/// `--web.external-url` (a trailing `/` dropped), `max_alerts` 0 for all.
pub fn payload(n: &Notification, external_url: &str, max_alerts: u64) -> String {
    let keep = if max_alerts == 0 {
        n.alerts.len()
    } else {
        n.alerts.len().min(max_alerts as usize)
    };
    let alerts: Vec<&SentAlert> = n.alerts.iter().take(keep).collect();
    let truncated = n.alerts.len() - keep;
    let mut out = String::with_capacity(256 + 256 * alerts.len());
    out.push_str("{\"receiver\":");
    go_json_string(&mut out, &quote_meta(&n.receiver));
    let firing = alerts.iter().any(|a| !a.resolved);
    out.push_str(if firing {
        ",\"status\":\"firing\""
    } else {
        ",\"status\":\"resolved\""
    });
    out.push_str(",\"alerts\":[");
    for (i, a) in alerts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(if a.resolved {
            "{\"status\":\"resolved\",\"labels\":"
        } else {
            "{\"status\":\"firing\",\"labels\":"
        });
        map(&mut out, &a.alert.labels);
        out.push_str(",\"annotations\":");
        map(&mut out, a.alert.annotations.iter().map(|(k, v)| (k, v)));
        let _ = write!(
            out,
            ",\"startsAt\":\"{}\",\"endsAt\":\"{}\",\"generatorURL\":",
            go_time(Some(a.alert.starts_at)),
            go_time(a.alert.ends_at)
        );
        go_json_string(&mut out, &a.alert.generator_url);
        let _ = write!(out, ",\"fingerprint\":\"{:016x}\"}}", a.fingerprint);
    }
    out.push_str("],\"groupLabels\":");
    map(&mut out, &n.group_labels);
    out.push_str(",\"commonLabels\":");
    map(&mut out, &common_labels(&alerts));
    out.push_str(",\"commonAnnotations\":");
    map(
        &mut out,
        common_annotations(&alerts).iter().map(|(k, v)| (k, v)),
    );
    out.push_str(",\"externalURL\":");
    go_json_string(&mut out, external_url.trim_end_matches('/'));
    out.push_str(",\"version\":\"4\",\"groupKey\":");
    go_json_string(&mut out, &n.group_key);
    let _ = writeln!(out, ",\"truncatedAlerts\":{truncated}}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_go_prints_them() {
        assert_eq!(go_time(None), "0001-01-01T00:00:00Z");
        assert_eq!(go_time(Some(1_796_426_959_123)), "2026-12-04T23:29:19.123Z");
        assert_eq!(go_time(Some(1_796_426_959_120)), "2026-12-04T23:29:19.12Z");
        assert_eq!(go_time(Some(1_796_426_959_000)), "2026-12-04T23:29:19Z");
    }

    #[test]
    fn strings_escape_as_go_does() {
        let mut s = String::new();
        go_json_string(&mut s, "A<b>&\"\\\u{1}é");
        assert_eq!(s, "\"A\\u003cb\\u003e\\u0026\\\"\\\\\\u0001é\"");
        assert_eq!(quote_meta("team.x"), "team\\.x");
    }
}
