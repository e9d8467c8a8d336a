//! Label sets as PromQL sees them: sorted by name, no empty values, `__name__` an ordinary
//! label except where an operation drops it. Owns only the data type and its matching keys.

use std::fmt;
use std::sync::Arc;

/// The label holding a series' metric name.
pub const METRIC_NAME: &str = "__name__";

/// A sorted set of label pairs. An empty value means "absent" in PromQL, so it is never stored.
/// Shared behind an `Arc`: evaluation copies label sets far more often than it changes them,
/// and a copy is then a reference count, not a dozen allocations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Arc<Vec<(Arc<str>, Arc<str>)>>);

impl Labels {
    /// From pairs in any order; a repeated name keeps its last value, empty values are dropped.
    pub fn new<I, K, V>(pairs: I) -> Labels
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut out = Labels::default();
        for (k, v) in pairs {
            out.set(k.into(), v.into());
        }
        out
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| (**k).cmp(name))
            .ok()
            .and_then(|i| self.0.get(i))
            .map(|(_, v)| &**v)
    }

    /// The value of `name`, or "" when absent (what matchers compare against).
    pub fn value(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Sets a label; an empty value removes it, as in Prometheus's label builder.
    pub fn set(&mut self, name: String, value: String) {
        match self.0.binary_search_by(|(k, _)| (**k).cmp(name.as_str())) {
            Ok(i) if value.is_empty() => {
                Arc::make_mut(&mut self.0).remove(i);
            }
            Ok(i) => {
                if self.0.get(i).is_some_and(|slot| *slot.1 != *value)
                    && let Some(slot) = Arc::make_mut(&mut self.0).get_mut(i)
                {
                    slot.1 = value.into();
                }
            }
            Err(_) if value.is_empty() => {}
            Err(i) => Arc::make_mut(&mut self.0).insert(i, (name.into(), value.into())),
        }
    }

    pub fn remove(&mut self, name: &str) {
        if let Ok(i) = self.0.binary_search_by(|(k, _)| (**k).cmp(name)) {
            Arc::make_mut(&mut self.0).remove(i);
        }
    }

    pub fn without_name(&self) -> Labels {
        // One allocation of the right size, instead of copying the shared list and then
        // shifting it: every function and arithmetic result goes through here.
        match self.0.binary_search_by(|(k, _)| (**k).cmp(METRIC_NAME)) {
            Ok(i) => Labels(Arc::new(
                self.0
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, p)| p.clone())
                    .collect(),
            )),
            Err(_) => self.clone(),
        }
    }

    /// Only the labels named in `names`.
    pub fn keep(&self, names: &[String]) -> Labels {
        Labels(Arc::new(
            self.0
                .iter()
                .filter(|(k, _)| names.iter().any(|n| **n == **k))
                .cloned()
                .collect(),
        ))
    }

    /// Every label except those in `names` and the metric name (`without`, `ignoring`).
    pub fn drop_with_name(&self, names: &[String]) -> Labels {
        Labels(Arc::new(
            self.0
                .iter()
                .filter(|(k, _)| &**k != METRIC_NAME && !names.iter().any(|n| **n == **k))
                .cloned()
                .collect(),
        ))
    }

    /// The key series are matched on: the `on` labels, else all but the `ignoring` labels and
    /// the metric name. Pairs are joined with separators that cannot occur in UTF-8 text.
    pub fn signature(&self, on: bool, names: &[String]) -> String {
        let mut key = String::new();
        for (k, v) in self.0.iter() {
            let wanted = if on {
                names.iter().any(|n| **n == **k)
            } else {
                &**k != METRIC_NAME && !names.iter().any(|n| **n == **k)
            };
            if wanted {
                key.push_str(k);
                key.push('\u{fffe}');
                key.push_str(v);
                key.push('\u{ffff}');
            }
        }
        key
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (&**k, &**v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Prometheus's `labels.String()`: `{a="1", b="x"}` with Go-quoted values, `__name__` included.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{k}={}", go_quote(v))?;
        }
        f.write_str("}")
    }
}

/// Go's `strconv.Quote` for the text label values hold: `\"`, `\\`, the C escapes, `\x..` for
/// other control bytes and `\u....` for non-printable code points.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                let n = c as u32;
                if n > 0xffff {
                    out.push_str(&format!("\\U{n:08x}"));
                } else {
                    out.push_str(&format!("\\u{n:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_are_absent_and_order_is_by_name() {
        let l = Labels::new([("job", "node"), ("a", ""), ("__name__", "up")]);
        assert_eq!(l.to_string(), r#"{__name__="up", job="node"}"#);
        assert_eq!(l.get("a"), None);
        assert_eq!(l.value("a"), "");
        assert_eq!(l.without_name().to_string(), r#"{job="node"}"#);
    }

    #[test]
    fn signatures_ignore_the_name_unless_on_names_it() {
        let a = Labels::new([("__name__", "x"), ("i", "1")]);
        let b = Labels::new([("__name__", "y"), ("i", "1")]);
        assert_eq!(a.signature(false, &[]), b.signature(false, &[]));
        let on = ["__name__".to_string()];
        assert_ne!(a.signature(true, &on), b.signature(true, &on));
    }

    #[test]
    fn quoting_follows_go() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}"), r#""a\"b\\c\n\x01""#);
    }
}
