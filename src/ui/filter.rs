//! Row matching for the console: the `/` filter (substring, `!` inverse, `key=value` label
//! matchers) and the metric browser's fuzzy search. Pure string functions.

use std::collections::BTreeMap;

/// One term of a filter; terms separated by spaces must all match.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Term {
    /// Case-insensitive substring of the host name.
    Text(String),
    /// A label of one of the host's targets (or `host`, `target`, `severity`) equals the value.
    Label(String, String),
}

/// A parsed `/` filter. `!` in front of a term inverts it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    terms: Vec<(bool, Term)>,
    text: String,
}

/// What a row offers to the filter: its name and the labels of its targets.
pub struct Candidate<'a> {
    pub name: &'a str,
    pub labels: &'a [BTreeMap<String, String>],
    /// More words a plain term may match besides the name (an anomaly row's vital and
    /// detector), so `/cpu` finds CPU anomalies without knowing the label name.
    pub texts: &'a [&'a str],
}

impl Filter {
    pub fn parse(text: &str) -> Filter {
        let terms = text
            .split_whitespace()
            .filter_map(|raw| {
                let (negate, t) = match raw.strip_prefix('!') {
                    Some(rest) => (true, rest),
                    None => (false, raw),
                };
                if t.is_empty() {
                    return None;
                }
                let term = match t.split_once('=') {
                    Some((k, v)) if !k.is_empty() => Term::Label(k.to_string(), v.to_string()),
                    _ => Term::Text(t.to_lowercase()),
                };
                Some((negate, term))
            })
            .collect();
        Filter {
            terms,
            text: text.trim().to_string(),
        }
    }

    /// The filter as typed, for the status line.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn matches(&self, c: &Candidate<'_>) -> bool {
        self.terms.iter().all(|(negate, term)| {
            let hit = match term {
                Term::Text(t) => {
                    c.name.to_lowercase().contains(t.as_str())
                        || c.texts
                            .iter()
                            .any(|x| x.to_lowercase().contains(t.as_str()))
                }
                Term::Label(k, v) => {
                    (k == "host" && c.name == v)
                        || c.labels.iter().any(|l| l.get(k).is_some_and(|x| x == v))
                }
            };
            hit != *negate
        })
    }
}

/// Fuzzy score of `query` against `text`: `None` unless every query character appears in order
/// (case-insensitive). Higher is better: consecutive runs and matches at word starts score more,
/// so `cpusec` ranks `node_cpu_seconds_total` above `node_cpu_guest_seconds_total`.
pub fn fuzzy_score(query: &str, text: &str) -> Option<i64> {
    if query.is_empty() {
        return Some(0);
    }
    let mut q = query.chars().flat_map(char::to_lowercase).peekable();
    let mut score = 0i64;
    let mut run = 0i64;
    let mut prev: Option<char> = None;
    for c in text.chars() {
        let Some(&want) = q.peek() else { break };
        let lc = c.to_lowercase().next().unwrap_or(c);
        if lc == want {
            q.next();
            run += 1;
            score += 1 + run * 2;
            if prev.is_none_or(|p| !p.is_alphanumeric()) {
                score += 5;
            }
        } else {
            run = 0;
        }
        prev = Some(c);
    }
    if q.peek().is_some() {
        return None;
    }
    // Shorter keys first among equals: the plain series before its labelled variants.
    Some(score * 1000 - i64::try_from(text.len()).unwrap_or(i64::MAX / 2).min(999))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn filter_table() {
        let node = [labels(&[("job", "node"), ("dc", "fra")])];
        let cases: &[(&str, &str, bool)] = &[
            ("", "web1", true),
            ("web", "web1", true),
            ("WEB", "web1", true),
            ("db", "web1", false),
            ("!db", "web1", true),
            ("!web", "web1", false),
            ("job=node", "web1", true),
            ("job=snmp", "web1", false),
            ("!job=snmp", "web1", true),
            ("job=node dc=fra", "web1", true),
            ("job=node dc=ams", "web1", false),
            ("host=web1", "web1", true),
            ("=x", "a=xb", true),
            ("=x", "web1", false),
            ("!", "web1", true),
        ];
        for (f, name, want) in cases {
            let c = Candidate {
                name,
                labels: &node,
                texts: &[],
            };
            assert_eq!(Filter::parse(f).matches(&c), *want, "{f:?} on {name}");
        }
    }

    #[test]
    fn extra_texts_match_plain_terms_only() {
        let labels = [labels(&[("vital", "cpu_pct")])];
        // (filter, texts, want)
        let cases: &[(&str, &[&str], bool)] = &[
            ("cpu", &["cpu_pct", "lstm"], true),
            ("LSTM", &["cpu_pct", "lstm"], true),
            ("cpu", &[], false),
            ("!cpu", &["cpu_pct"], false),
            ("web cpu", &["cpu_pct"], true),
            ("db cpu", &["cpu_pct"], false),
            ("vital=cpu_pct", &[], true),
            ("vital=cpu", &["cpu_pct"], false),
        ];
        for (f, texts, want) in cases {
            let c = Candidate {
                name: "web1",
                labels: &labels,
                texts,
            };
            assert_eq!(Filter::parse(f).matches(&c), *want, "{f:?} with {texts:?}");
        }
    }

    #[test]
    fn fuzzy_table() {
        assert!(fuzzy_score("cpu", "node_cpu_seconds_total").is_some());
        assert!(fuzzy_score("xyz", "node_cpu_seconds_total").is_none());
        assert!(fuzzy_score("ucp", "cpu").is_none(), "order matters");
        let a = fuzzy_score("cpusec", "node_cpu_seconds_total");
        let b = fuzzy_score("cpusec", "node_cpu_guest_seconds_total");
        assert!(a > b, "{a:?} vs {b:?}");
        assert_eq!(fuzzy_score("", "anything"), Some(0));
    }

    proptest::proptest! {
        #[test]
        fn fuzzy_accepts_every_subsequence(text in "[a-z_]{0,30}", mask in proptest::collection::vec(proptest::bool::ANY, 30)) {
            let q: String = text.chars().zip(mask.iter()).filter(|(_, m)| **m).map(|(c, _)| c).collect();
            proptest::prop_assert!(fuzzy_score(&q, &text).is_some());
        }

        #[test]
        fn filter_never_panics_and_negation_flips(f in "\\PC{0,20}", name in "\\PC{0,12}") {
            let c = Candidate { name: &name, labels: &[], texts: &[] };
            let one = Filter::parse(&f);
            let single_term = f.split_whitespace().count() == 1 && !f.trim().starts_with('!');
            if single_term {
                let neg = Filter::parse(&format!("!{}", f.trim()));
                proptest::prop_assert_ne!(one.matches(&c), neg.matches(&c));
            }
        }
    }
}
