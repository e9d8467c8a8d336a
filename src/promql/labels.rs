//! Label sets as PromQL sees them: sorted by name, no empty values, `__name__` an ordinary
//! label except where an operation drops it. Owns only the data type and its matching keys.

use std::fmt;
use std::sync::Arc;

/// The label holding a series' metric name.
pub const METRIC_NAME: &str = "__name__";

type Pairs = Vec<(Arc<str>, Arc<str>)>;

/// A sorted set of label pairs. An empty value means "absent" in PromQL, so it is never stored.
/// Shared behind an `Arc`: evaluation copies label sets far more often than it changes them,
/// and a copy is then a reference count, not a dozen allocations. `start` hides a prefix of
/// the shared list: dropping the metric name (which sorts first in all but odd label sets) is
/// what every function and arithmetic result does, and it then costs nothing.
#[derive(Clone, Default)]
pub struct Labels {
    pairs: Arc<Pairs>,
    start: usize,
}

impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        self.pairs() == other.pairs()
    }
}

impl Eq for Labels {}

impl std::hash::Hash for Labels {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.pairs().hash(state);
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Labels {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.pairs().cmp(other.pairs())
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Labels").field(&self.pairs()).finish()
    }
}

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

    fn from_pairs(pairs: Pairs) -> Labels {
        Labels {
            pairs: Arc::new(pairs),
            start: 0,
        }
    }

    /// The visible pairs.
    fn pairs(&self) -> &[(Arc<str>, Arc<str>)] {
        self.pairs.get(self.start..).unwrap_or_default()
    }

    /// The pairs to change: unshared, and without a hidden prefix.
    fn pairs_mut(&mut self) -> &mut Pairs {
        if self.start > 0 {
            self.pairs = Arc::new(self.pairs().to_vec());
            self.start = 0;
        }
        Arc::make_mut(&mut self.pairs)
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        let pairs = self.pairs();
        // The metric name sorts first in all but odd label sets, and is asked for on every
        // function and operator result: one comparison instead of a search.
        if name == METRIC_NAME
            && let Some((k, _)) = pairs.first()
            && &**k == METRIC_NAME
        {
            return Ok(0);
        }
        pairs.binary_search_by(|(k, _)| (**k).cmp(name))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.find(name)
            .ok()
            .and_then(|i| self.pairs().get(i))
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
        match self.find(name.as_str()) {
            Ok(i) if value.is_empty() => {
                self.pairs_mut().remove(i);
            }
            Ok(i) => {
                if self.pairs().get(i).is_some_and(|slot| *slot.1 != *value)
                    && let Some(slot) = self.pairs_mut().get_mut(i)
                {
                    slot.1 = value.into();
                }
            }
            Err(_) if value.is_empty() => {}
            Err(i) => self.pairs_mut().insert(i, (name.into(), value.into())),
        }
    }

    pub fn remove(&mut self, name: &str) {
        if let Ok(i) = self.find(name) {
            self.pairs_mut().remove(i);
        }
    }

    pub fn without_name(&self) -> Labels {
        match self.find(METRIC_NAME) {
            // The usual place: hide it, share the rest.
            Ok(0) => Labels {
                pairs: Arc::clone(&self.pairs),
                start: self.start + 1,
            },
            Ok(i) => Labels::from_pairs(
                self.pairs()
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, p)| p.clone())
                    .collect(),
            ),
            Err(_) => self.clone(),
        }
    }

    /// Only the labels named in `names`.
    pub fn keep(&self, names: &[String]) -> Labels {
        Labels::from_pairs(
            self.pairs()
                .iter()
                .filter(|(k, _)| names.iter().any(|n| **n == **k))
                .cloned()
                .collect(),
        )
    }

    /// Every label except those in `names` and the metric name (`without`, `ignoring`).
    pub fn drop_with_name(&self, names: &[String]) -> Labels {
        Labels::from_pairs(
            self.pairs()
                .iter()
                .filter(|(k, _)| &**k != METRIC_NAME && !names.iter().any(|n| **n == **k))
                .cloned()
                .collect(),
        )
    }

    /// The key series are matched on: the `on` labels, else all but the `ignoring` labels and
    /// the metric name. Pairs are joined with separators that cannot occur in UTF-8 text.
    pub fn signature(&self, on: bool, names: &[String]) -> String {
        let mut key = String::new();
        for (k, v) in self.pairs().iter() {
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
        self.pairs().iter().map(|(k, v)| (&**k, &**v))
    }

    pub fn len(&self) -> usize {
        self.pairs().len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs().is_empty()
    }
}

/// Prometheus's `labels.String()`: `{a="1", b="x"}` with Go-quoted values, `__name__` included.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (k, v)) in self.pairs().iter().enumerate() {
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
    fn a_hidden_name_is_a_set_without_it() {
        use std::hash::BuildHasher;
        let with = Labels::new([("__name__", "up"), ("job", "node"), ("instance", "a")]);
        let hidden = with.without_name();
        let plain = Labels::new([("job", "node"), ("instance", "a")]);
        assert_eq!(hidden, plain);
        assert_eq!(hidden.cmp(&plain), std::cmp::Ordering::Equal);
        let h = foldhash::fast::FixedState::default();
        assert_eq!(h.hash_one(&hidden), h.hash_one(&plain));
        assert_eq!(hidden.to_string(), plain.to_string());
        assert_eq!(format!("{hidden:?}"), format!("{plain:?}"));
        assert_eq!((hidden.get("__name__"), hidden.len()), (None, 2));
        // Changing the copy leaves the set it was made from alone.
        let mut changed = hidden.clone();
        changed.set("job".into(), "x".into());
        assert_eq!(with.get("job"), Some("node"));
        assert_eq!(changed.to_string(), r#"{instance="a", job="x"}"#);
        // A label that sorts before the name (upper case) takes the copying path.
        let odd = Labels::new([("A", "1"), ("__name__", "x"), ("b", "2")]);
        assert_eq!(odd.without_name(), Labels::new([("A", "1"), ("b", "2")]));
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
