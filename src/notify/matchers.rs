//! Alertmanager's label matchers: `name="value"`, `name!=value`, `name=~"re"`, `name!~"re"`,
//! several per string separated by commas and optionally wrapped in braces, values quoted or
//! bare; regular expressions anchored at both ends. Owns the syntax and the test of a label
//! set; nothing else.

use regex::Regex;

use super::labels::GetLabel;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchType {
    Equal,
    NotEqual,
    Regexp,
    NotRegexp,
}

impl MatchType {
    fn as_str(self) -> &'static str {
        match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::Regexp => "=~",
            MatchType::NotRegexp => "!~",
        }
    }
}

#[derive(Clone, Debug)]
pub struct LabelMatcher {
    pub name: String,
    pub op: MatchType,
    pub value: String,
    /// The anchored expression of a regex matcher.
    re: Option<Regex>,
}

impl PartialEq for LabelMatcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl std::fmt::Display for LabelMatcher {
    /// Alertmanager's own form: the value always quoted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}{}{}",
            self.name,
            self.op.as_str(),
            crate::promql::go_quote(&self.value)
        )
    }
}

impl LabelMatcher {
    pub fn new(name: &str, op: MatchType, value: &str) -> Result<LabelMatcher, String> {
        let re = match op {
            MatchType::Regexp | MatchType::NotRegexp => Some(anchored(value)?),
            _ => None,
        };
        Ok(LabelMatcher {
            name: name.to_string(),
            op,
            value: value.to_string(),
            re,
        })
    }

    /// Whether the label's value (empty when the label is missing) satisfies the matcher.
    pub fn matches_value(&self, v: &str) -> bool {
        match (self.op, &self.re) {
            (MatchType::Equal, _) => v == self.value,
            (MatchType::NotEqual, _) => v != self.value,
            (MatchType::Regexp, Some(re)) => re.is_match(v),
            (MatchType::NotRegexp, Some(re)) => !re.is_match(v),
            _ => false,
        }
    }

    pub fn matches(&self, labels: &impl GetLabel) -> bool {
        self.matches_value(labels.label(&self.name).unwrap_or(""))
    }
}

/// A regular expression matched against the whole value, as Alertmanager compiles it. The
/// error names the anchored form, as Go's does.
pub fn anchored(re: &str) -> Result<Regex, String> {
    let full = format!("^(?:{re})$");
    Regex::new(&full).map_err(|e| {
        let why = match &e {
            regex::Error::Syntax(s) => s
                .lines()
                .rev()
                .find(|l| l.starts_with("error:"))
                .map(|l| l.trim_start_matches("error:").trim().to_string())
                .unwrap_or_else(|| s.clone()),
            other => other.to_string(),
        };
        format!("error parsing regexp: {why}: `{full}`")
    })
}

/// Prometheus's label name rule: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub(crate) fn valid_label_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Split at commas outside double quotes.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0usize, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(s.get(start..i).unwrap_or(""));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s.get(start..).unwrap_or(""));
    out
}

fn unquote(v: &str) -> Result<String, String> {
    let Some(inner) = v.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return Ok(v.to_string());
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => return Err(format!("bad matcher format: {v}")),
        }
    }
    Ok(out)
}

/// Every matcher in one string (`{a="b", c=~"d.*"}` or `a=b`).
pub fn parse_matchers(input: &str) -> Result<Vec<LabelMatcher>, String> {
    let t = input.trim();
    let body = match t.strip_prefix('{') {
        Some(rest) => rest
            .strip_suffix('}')
            .ok_or_else(|| format!("bad matcher format: {input}"))?,
        None => t,
    };
    let mut out = Vec::new();
    for part in split_top(body) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        // The operator: the first of = != =~ !~ after the name.
        let name_end = part
            .find(['=', '!'])
            .ok_or_else(|| format!("bad matcher format: {part}"))?;
        let (name, rest) = part.split_at(name_end);
        let (op, value) = if let Some(v) = rest.strip_prefix("=~") {
            (MatchType::Regexp, v)
        } else if let Some(v) = rest.strip_prefix("!~") {
            (MatchType::NotRegexp, v)
        } else if let Some(v) = rest.strip_prefix("!=") {
            (MatchType::NotEqual, v)
        } else if let Some(v) = rest.strip_prefix('=') {
            (MatchType::Equal, v)
        } else {
            return Err(format!("bad matcher format: {part}"));
        };
        let name = name.trim();
        if !valid_label_name(name) {
            return Err(format!("invalid label name {:?}", name));
        }
        let value = unquote(value.trim())?;
        out.push(LabelMatcher::new(name, op, &value)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn forms_and_anchoring() {
        let m = parse_matchers(r#"{severity="critical", service=~"db|cache", env!=dev}"#)
            .expect("parses");
        assert_eq!(m.len(), 3);
        let l = labels(&[("severity", "critical"), ("service", "db")]);
        assert!(m.iter().all(|x| x.matches(&l)));
        // Anchored: "db2" is not "db".
        let l2 = labels(&[("severity", "critical"), ("service", "db2")]);
        assert!(!m.iter().all(|x| x.matches(&l2)));
        // A missing label is the empty value.
        assert!(parse_matchers("team!~.+").expect("parses")[0].matches(&labels(&[])));
        assert_eq!(m[0].to_string(), r#"severity="critical""#);
    }

    #[test]
    fn bad_matchers_say_why() {
        assert!(parse_matchers("severity").is_err());
        assert!(parse_matchers("9x=1").is_err());
        let e = parse_matchers("x=~(a").expect_err("bad regex");
        assert!(e.contains("^(?:(a)$"), "{e}");
    }
}
