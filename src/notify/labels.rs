//! A label set as the notifier holds it: a sorted list of name/value pairs (a map's node
//! costs half a kilobyte however few labels it holds, and a fleet-wide outage holds ten
//! thousand of these), and the one question matchers ask of any label set. Owns the
//! representation only.

use std::collections::BTreeMap;

/// What a matcher needs of a label set: a label's value by name.
pub trait GetLabel {
    fn label(&self, name: &str) -> Option<&str>;
}

impl GetLabel for BTreeMap<String, String> {
    fn label(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

/// Labels sorted by name, each name once.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LabelSet(Vec<(String, String)>);

impl LabelSet {
    pub fn new() -> LabelSet {
        LabelSet(Vec::new())
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(n, _)| n.as_str().cmp(name))
    }

    pub fn get(&self, name: &str) -> Option<&String> {
        self.find(name).ok().map(|i| &self.0[i].1)
    }

    /// Set a label, replacing its value if it is there.
    pub fn insert(&mut self, name: String, value: String) {
        match self.find(&name) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (name, value)),
        }
    }

    /// Set a label only when it is missing.
    pub fn insert_missing(&mut self, name: &str, value: impl FnOnce() -> String) {
        if let Err(i) = self.find(name) {
            self.0.insert(i, (name.to_string(), value()));
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&String, &String) -> bool) {
        self.0.retain(|(k, v)| keep(k, v));
    }
}

impl GetLabel for LabelSet {
    fn label(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

impl FromIterator<(String, String)> for LabelSet {
    /// Sorted by name; of a name given twice the later value wins, as in a map.
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> LabelSet {
        let mut v: Vec<(String, String)> = iter.into_iter().collect();
        v.reverse();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.dedup_by(|later, earlier| later.0 == earlier.0);
        v.shrink_to_fit();
        LabelSet(v)
    }
}

impl<'a> IntoIterator for &'a LabelSet {
    type Item = (&'a String, &'a String);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, String)>,
        fn(&'a (String, String)) -> (&'a String, &'a String),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

/// For tests only: a missing label is a panic.
#[cfg(test)]
impl std::ops::Index<&str> for LabelSet {
    type Output = String;
    fn index(&self, name: &str) -> &String {
        match self.get(name) {
            Some(v) => v,
            None => panic!("no label {name:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_unique_and_the_later_value_wins() {
        let l: LabelSet = [("b", "1"), ("a", "2"), ("b", "3")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let pairs: Vec<(&String, &String)> = l.iter().collect();
        assert_eq!(pairs.len(), 2);
        assert_eq!((pairs[0].0.as_str(), pairs[1].1.as_str()), ("a", "3"));
        let mut l = l;
        l.insert("c".into(), "4".into());
        l.insert_missing("a", || "x".into());
        assert_eq!(l.get("a").map(String::as_str), Some("2"));
        assert_eq!(
            l.keys().map(String::as_str).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
    }
}
