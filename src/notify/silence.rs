//! Silences as Alertmanager has them: label matchers, a start and an end, who and why;
//! pending before the start, active until the end, expired after. Validated as
//! Alertmanager validates a posted silence. Owns the silence and its test of a label set;
//! where silences are kept (SQLite, the console) is not here.

use serde_json::Value;

use super::labels::GetLabel;
use super::matchers::{LabelMatcher, MatchType, valid_label_name};
use super::stream::parse_time;
use crate::model::Millis;

#[derive(Clone, Debug, PartialEq)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<LabelMatcher>,
    pub starts_at: Millis,
    pub ends_at: Millis,
    pub created_by: String,
    pub comment: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SilenceState {
    Pending,
    Active,
    Expired,
}

impl Silence {
    pub fn state(&self, now: Millis) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now > self.ends_at {
            SilenceState::Expired
        } else {
            SilenceState::Active
        }
    }

    /// Whether it silences these labels at `now`.
    pub fn mutes(&self, labels: &impl GetLabel, now: Millis) -> bool {
        self.state(now) == SilenceState::Active && self.matchers.iter().all(|m| m.matches(labels))
    }

    /// Alertmanager's checks of a new silence: matchers, one of which does not match the
    /// empty string (a silence of everything is refused), an end after the start and not
    /// in the past, an author and a comment.
    pub fn validate(&self, now: Millis) -> Result<(), String> {
        if self.matchers.is_empty() {
            return Err("at least one matcher required".into());
        }
        if self.matchers.iter().all(|m| m.matches_value("")) {
            return Err("at least one matcher must not match the empty string".into());
        }
        if self.ends_at < self.starts_at {
            return Err("end time must not be before start time".into());
        }
        if self.ends_at < now {
            return Err("end time can't be in the past".into());
        }
        if self.created_by.trim().is_empty() {
            return Err("createdBy is required".into());
        }
        if self.comment.trim().is_empty() {
            return Err("comment is required".into());
        }
        Ok(())
    }
}

/// A silence as Alertmanager's API v2 takes it: `matchers` of `{name, value, isRegex,
/// isEqual}`, RFC 3339 `startsAt`/`endsAt`, `createdBy`, `comment`. `id` is given by the
/// caller (Alertmanager makes a UUID).
pub fn parse_silence(v: &Value, id: String) -> Result<Silence, String> {
    let o = v.as_object().ok_or("a silence must be an object")?;
    let text = |k: &str| -> Result<String, String> {
        match o.get(k) {
            Some(Value::String(s)) => Ok(s.clone()),
            None | Some(Value::Null) => Err(format!("{k} is required")),
            Some(_) => Err(format!("{k} must be a string")),
        }
    };
    let mut matchers = Vec::new();
    for (i, m) in o
        .get("matchers")
        .and_then(Value::as_array)
        .ok_or("matchers must be a list")?
        .iter()
        .enumerate()
    {
        let name = m["name"]
            .as_str()
            .ok_or_else(|| format!("matcher {i}: name is required"))?;
        if !valid_label_name(name) {
            return Err(format!("matcher {i}: invalid label name {name:?}"));
        }
        let value = m["value"]
            .as_str()
            .ok_or_else(|| format!("matcher {i}: value is required"))?;
        let regex = m["isRegex"].as_bool().unwrap_or(false);
        let equal = m["isEqual"].as_bool().unwrap_or(true);
        let op = match (regex, equal) {
            (false, true) => MatchType::Equal,
            (false, false) => MatchType::NotEqual,
            (true, true) => MatchType::Regexp,
            (true, false) => MatchType::NotRegexp,
        };
        matchers.push(LabelMatcher::new(name, op, value).map_err(|e| format!("matcher {i}: {e}"))?);
    }
    Ok(Silence {
        id,
        matchers,
        starts_at: parse_time(&text("startsAt")?)?,
        ends_at: parse_time(&text("endsAt")?)?,
        created_by: text("createdBy")?,
        comment: text("comment")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::LabelSet;

    fn silence(matchers: &str, start: Millis, end: Millis) -> Silence {
        Silence {
            id: "s1".into(),
            matchers: crate::notify::parse_matchers(matchers).expect("matchers"),
            starts_at: start,
            ends_at: end,
            created_by: "ops".into(),
            comment: "maintenance".into(),
        }
    }

    #[test]
    fn states_follow_the_clock_and_only_active_silences_mute() {
        let s = silence("host=a", 100, 200);
        let l: LabelSet = [("host".to_string(), "a".to_string())]
            .into_iter()
            .collect();
        assert_eq!(s.state(99), SilenceState::Pending);
        assert!(!s.mutes(&l, 99));
        assert!(s.mutes(&l, 100));
        // Alertmanager: expired only once the end is before now.
        assert!(s.mutes(&l, 200));
        assert!(!s.mutes(&l, 201));
        assert_eq!(s.state(201), SilenceState::Expired);
    }

    #[test]
    fn validation_refuses_what_alertmanager_refuses() {
        assert!(silence("host=a", 0, 10).validate(5).is_ok());
        for (s, want) in [
            (
                silence("host=~\".*\"", 0, 10),
                "must not match the empty string",
            ),
            (silence("host=a", 10, 5), "before start time"),
            (silence("host=a", 0, 10), "in the past"),
        ] {
            let e = s.validate(20.min(s.ends_at + 1)).expect_err(want);
            assert!(e.contains(want), "{e}");
        }
    }
}
