//! Alerts as Alertmanager's push API takes them (`POST /api/v2/alerts`: labels, annotations,
//! RFC 3339 `startsAt`/`endsAt`, `generatorURL`), validated as the API validates them, and
//! timed streams of such posts (one JSON object per line: `{"at": <RFC 3339>, "alerts":
//! [...], "silences": [...]}`, silences as its silences API takes them) for simulations and
//! differential tests. Parsing only: no clock, no socket.

use serde_json::Value;

use super::dispatch::{Alert, LabelSet};
use super::matchers::valid_label_name;
use crate::model::Millis;

/// An RFC 3339 instant in Unix milliseconds (sub-millisecond digits dropped).
pub fn parse_time(s: &str) -> Result<Millis, String> {
    let t = humantime::parse_rfc3339_weak(s)
        .or_else(|_| humantime::parse_rfc3339(s))
        .map_err(|e| format!("{s:?} is not an RFC 3339 time: {e}"))?;
    let d = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| format!("{s:?} is before 1970"))?;
    i64::try_from(d.as_millis()).map_err(|_| format!("{s:?} is too far in the future"))
}

fn string_map(v: Option<&Value>, what: &str, names: bool) -> Result<LabelSet, String> {
    let mut out = LabelSet::new();
    let Some(v) = v else {
        return Ok(out);
    };
    if v.is_null() {
        return Ok(out);
    }
    let obj = v
        .as_object()
        .ok_or_else(|| format!("{what} must be an object of strings"))?;
    for (k, val) in obj {
        let s = val
            .as_str()
            .ok_or_else(|| format!("{what}.{k} must be a string"))?;
        if names && !valid_label_name(k) {
            return Err(format!("invalid label name {k:?}"));
        }
        out.insert(k.clone(), s.to_string());
    }
    Ok(out)
}

fn time_field(o: &serde_json::Map<String, Value>, key: &str) -> Result<Option<Millis>, String> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() || s.starts_with("0001-01-01") => Ok(None),
        Some(Value::String(s)) => parse_time(s).map(Some).map_err(|e| format!("{key}: {e}")),
        Some(_) => Err(format!("{key} must be an RFC 3339 string")),
    }
}

/// The body of a push: a list of alerts, received at `now` (a missing `startsAt` becomes
/// `now`, or `endsAt` when only that is given, as Alertmanager does). An invalid alert
/// refuses the whole post, with its position.
pub fn parse_alerts(body: &Value, now: Millis) -> Result<Vec<Alert>, String> {
    let list = body.as_array().ok_or("the body must be a list of alerts")?;
    let mut out = Vec::with_capacity(list.len());
    for (i, a) in list.iter().enumerate() {
        let at = |e: String| format!("alert {i}: {e}");
        let o = a
            .as_object()
            .ok_or_else(|| at("an alert must be an object".into()))?;
        let labels = string_map(o.get("labels"), "labels", true).map_err(at)?;
        if labels.is_empty() {
            return Err(at("at least one label pair required".into()));
        }
        let annotations = string_map(o.get("annotations"), "annotations", true)
            .map_err(at)?
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let starts = time_field(o, "startsAt").map_err(at)?;
        let ends = time_field(o, "endsAt").map_err(at)?;
        let starts_at = starts.or(ends).unwrap_or(now);
        if let Some(e) = ends
            && e < starts_at
        {
            return Err(at("start time must be before end time".into()));
        }
        let generator_url = match o.get("generatorURL") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(at("generatorURL must be a string".into())),
        };
        out.push(Alert {
            labels,
            annotations,
            starts_at,
            ends_at: ends,
            generator_url,
        });
    }
    Ok(out)
}

/// One post of a stream: alerts, and silences to add.
#[derive(Clone, Debug)]
pub struct Post {
    pub at: Millis,
    pub alerts: Vec<Alert>,
    pub silences: Vec<super::silence::Silence>,
}

/// A timed stream of posts, in time order. Errors name the line.
pub fn parse_stream(text: &str) -> Result<Vec<Post>, String> {
    let mut out: Vec<Post> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at_line = |e: String| format!("line {}: {e}", n + 1);
        let v: Value = serde_json::from_str(line).map_err(|e| at_line(e.to_string()))?;
        let at = v
            .get("at")
            .and_then(Value::as_str)
            .ok_or_else(|| at_line("each line needs \"at\": an RFC 3339 time".into()))
            .and_then(|s| parse_time(s).map_err(at_line))?;
        if out.last().is_some_and(|p| p.at > at) {
            return Err(at_line("posts must be in time order".into()));
        }
        let alerts = match v.get("alerts") {
            None => Vec::new(),
            Some(a) => parse_alerts(a, at).map_err(at_line)?,
        };
        let mut silences = Vec::new();
        if let Some(list) = v.get("silences") {
            let list = list
                .as_array()
                .ok_or_else(|| at_line("silences must be a list".into()))?;
            for (i, s) in list.iter().enumerate() {
                let id = format!("line{}-{i}", n + 1);
                silences.push(
                    super::silence::parse_silence(s, id)
                        .map_err(|e| at_line(format!("silence {i}: {e}")))?,
                );
            }
        }
        out.push(Post {
            at,
            alerts,
            silences,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posts_are_validated_as_the_api_does() {
        let ok = parse_stream(
            "{\"at\":\"2026-12-04T10:00:00Z\",\"alerts\":[{\"labels\":{\"alertname\":\"A\"}}]}\n",
        )
        .expect("parses");
        assert_eq!(ok[0].alerts[0].starts_at, ok[0].at);
        for (line, want) in [
            ("{\"at\":\"x\",\"alerts\":[]}", "not an RFC 3339 time"),
            (
                "{\"at\":\"2026-12-04T10:00:00Z\",\"alerts\":[{}]}",
                "at least one label pair",
            ),
            (
                "{\"at\":\"2026-12-04T10:00:00Z\",\"alerts\":[{\"labels\":{\"a-b\":\"1\"}}]}",
                "invalid label name",
            ),
            (
                "{\"at\":\"2026-12-04T10:00:00Z\",\"alerts\":[{\"labels\":{\"a\":\"1\"},\"startsAt\":\"2026-12-04T10:00:00Z\",\"endsAt\":\"2026-12-04T09:00:00Z\"}]}",
                "start time must be before end time",
            ),
        ] {
            let e = parse_stream(line).expect_err(line);
            assert!(e.contains(want), "{line}: {e}");
            assert!(e.starts_with("line 1: "), "{e}");
        }
    }
}
