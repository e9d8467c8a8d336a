//! From the engine's published picture to the dispatcher: each firing alert of a snapshot
//! becomes an Alertmanager alert (`alertname`, `host`, its labels, `severity` when the rule
//! set none; its annotations; `startsAt` = when it fired), a changed one is put again, and
//! one that is no longer firing is put resolved at the snapshot's time — what Prometheus
//! does for Alertmanager, without the periodic re-sends an in-process dispatcher does not
//! need. Reads `Snapshot`s only; never the engine's state.

use std::collections::HashMap;

use super::dispatch::{Alert, Dispatcher, Fnv, LabelSet, Pairs, fingerprint};
use crate::model::{AlertState, AlertView, Millis, Snapshot};

/// What was last put for one alert, to put it again only when it changed. The alert itself
/// lives in the dispatcher alone (looked up by fingerprint to resolve it), so an outage's
/// alerts are not held twice.
struct Known {
    fingerprint: u64,
    starts_at: Millis,
    /// A hash of the annotations put (a change of value re-puts the alert).
    annotations: u64,
}

#[derive(Default)]
pub struct Feed {
    /// By a 64-bit hash of the engine's identity of the alert (rule, host, label string):
    /// no copies of the strings, and no more exposed to collisions than Alertmanager, which
    /// identifies alerts by a 64-bit hash of their labels.
    known: HashMap<u64, Known>,
}

fn identity(a: &AlertView) -> u64 {
    let mut h = Fnv::new();
    for part in [&a.rule, &a.host, &a.labels] {
        h.field(part.as_bytes());
    }
    h.finish()
}

/// Parse the engine's canonical label string (`{a="1",b="x\"y"}`) back into a set.
pub fn parse_label_string(s: &str) -> LabelSet {
    let mut out = LabelSet::new();
    let inner = s.trim();
    let inner = inner
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or(inner);
    let mut chars = inner.chars().peekable();
    loop {
        let name: String = chars.by_ref().take_while(|&c| c != '=').collect();
        let name = name.trim_start_matches(',').trim().to_string();
        if name.is_empty() {
            break;
        }
        if chars.next() != Some('"') {
            break;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(o) => value.push(o),
                    None => break,
                },
                '"' => break,
                c => value.push(c),
            }
        }
        out.insert(name, value);
    }
    out
}

/// The Alertmanager alert for one of the engine's alerts.
pub fn to_alert(a: &AlertView) -> Alert {
    let mut labels = parse_label_string(&a.labels);
    labels.insert("alertname".into(), a.rule.clone());
    if !a.host.is_empty() {
        labels.insert_missing("host", || a.host.clone());
    }
    labels.insert_missing("severity", || a.severity.as_str().to_string());
    let mut annotations: Pairs = a.annotations.clone();
    annotations.sort();
    annotations.dedup_by(|x, y| x.0 == y.0);
    if annotations.is_empty() && !a.summary.is_empty() {
        annotations.push(("summary".into(), a.summary.clone()));
    }
    Alert {
        labels,
        annotations,
        starts_at: a.fired_at.unwrap_or(a.active_at),
        ends_at: None,
        generator_url: String::new(),
    }
}

/// FNV-1a over the annotations as the engine gives them (or its summary when it gives none).
fn annotations_hash(a: &AlertView) -> u64 {
    let mut h = Fnv::new();
    if a.annotations.is_empty() {
        h.field(a.summary.as_bytes());
    }
    for (k, v) in &a.annotations {
        h.field(k.as_bytes());
        h.field(v.as_bytes());
    }
    h.finish()
}

impl Feed {
    /// Put what changed since the last snapshot; returns how many alerts were put.
    pub fn update(&mut self, snap: &Snapshot, d: &mut Dispatcher) -> usize {
        let now = snap.now;
        let mut seen: std::collections::HashSet<u64> =
            std::collections::HashSet::with_capacity(snap.alerts.len());
        let mut put = 0;
        for a in snap.alerts.iter().filter(|a| a.state == AlertState::Firing) {
            let key = identity(a);
            seen.insert(key);
            let starts = a.fired_at.unwrap_or(a.active_at);
            let ann = annotations_hash(a);
            if self
                .known
                .get(&key)
                .is_some_and(|k| k.starts_at == starts && k.annotations == ann)
            {
                continue;
            }
            let alert = to_alert(a);
            let fp = fingerprint(&alert.labels);
            self.known.insert(
                key,
                Known {
                    fingerprint: fp,
                    starts_at: starts,
                    annotations: ann,
                },
            );
            d.put(alert, now);
            put += 1;
        }
        let gone: Vec<u64> = self
            .known
            .keys()
            .filter(|k| !seen.contains(k))
            .copied()
            .collect();
        for key in gone {
            if let Some(k) = self.known.remove(&key)
                && d.resolve(k.fingerprint, now)
            {
                put += 1;
            }
        }
        put
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_strings_round_trip() {
        let l = parse_label_string(r#"{a="1",b="x\"y\\z",c="line\nnext"}"#);
        assert_eq!(l["a"], "1");
        assert_eq!(l["b"], "x\"y\\z");
        assert_eq!(l["c"], "line\nnext");
        assert!(parse_label_string("").is_empty());
        assert_eq!(parse_label_string(r#"{k="v,w=x"}"#)["k"], "v,w=x");
    }
}
