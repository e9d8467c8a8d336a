//! From the engine's published picture to the dispatcher: each firing alert of a snapshot
//! becomes an Alertmanager alert (`alertname`, `host`, its labels, `severity` when the rule
//! set none; its annotations; `startsAt` = when it fired), a changed one is put again, and
//! one that is no longer firing is put resolved at the snapshot's time — what Prometheus
//! does for Alertmanager, without the periodic re-sends an in-process dispatcher does not
//! need. Reads `Snapshot`s only; never the engine's state.

use std::collections::HashMap;

use super::dispatch::{Alert, Dispatcher, LabelSet};
use crate::model::{AlertState, AlertView, Millis, Snapshot};

/// What was last put for one alert, to put it again only when it changed.
struct Known {
    labels: LabelSet,
    annotations: LabelSet,
    starts_at: Millis,
}

#[derive(Default)]
pub struct Feed {
    /// By the engine's identity of the alert (rule, host, label string).
    known: HashMap<(String, String, String), Known>,
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
        labels
            .entry("host".into())
            .or_insert_with(|| a.host.clone());
    }
    labels
        .entry("severity".into())
        .or_insert_with(|| a.severity.as_str().to_string());
    let mut annotations: LabelSet = a.annotations.iter().cloned().collect();
    if annotations.is_empty() && !a.summary.is_empty() {
        annotations.insert("summary".into(), a.summary.clone());
    }
    Alert {
        labels,
        annotations,
        starts_at: a.fired_at.unwrap_or(a.active_at),
        ends_at: None,
        generator_url: String::new(),
    }
}

impl Feed {
    /// Put what changed since the last snapshot; returns how many alerts were put.
    pub fn update(&mut self, snap: &Snapshot, d: &mut Dispatcher) -> usize {
        let now = snap.now;
        let mut seen: HashMap<(&str, &str, &str), ()> = HashMap::new();
        let mut put = 0;
        for a in snap.alerts.iter().filter(|a| a.state == AlertState::Firing) {
            seen.insert((&a.rule, &a.host, &a.labels), ());
            let key = (a.rule.clone(), a.host.clone(), a.labels.clone());
            let starts = a.fired_at.unwrap_or(a.active_at);
            let same = self.known.get(&key).is_some_and(|k| {
                k.starts_at == starts
                    && annotations_equal(&k.annotations, &a.annotations, &a.summary)
            });
            if same {
                continue;
            }
            let alert = to_alert(a);
            self.known.insert(
                key,
                Known {
                    labels: alert.labels.clone(),
                    annotations: alert.annotations.clone(),
                    starts_at: alert.starts_at,
                },
            );
            d.put(alert, now);
            put += 1;
        }
        let gone: Vec<(String, String, String)> = self
            .known
            .keys()
            .filter(|(r, h, l)| !seen.contains_key(&(r.as_str(), h.as_str(), l.as_str())))
            .cloned()
            .collect();
        for key in gone {
            if let Some(k) = self.known.remove(&key) {
                d.put(
                    Alert {
                        labels: k.labels,
                        annotations: k.annotations,
                        starts_at: k.starts_at,
                        ends_at: Some(now),
                        generator_url: String::new(),
                    },
                    now,
                );
                put += 1;
            }
        }
        put
    }
}

fn annotations_equal(known: &LabelSet, now: &[(String, String)], summary: &str) -> bool {
    if now.is_empty() {
        return match known.get("summary") {
            Some(s) => known.len() == 1 && s == summary,
            None => summary.is_empty() && known.is_empty(),
        };
    }
    known.len() == now.len() && now.iter().all(|(k, v)| known.get(k) == Some(v))
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
