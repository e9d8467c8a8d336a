//! The recent samples rules read: series indexed by metric name and by their label set,
//! points in time order, trimmed to a window. The engine feeds it from scrapes and rule
//! results; it must not read a clock (the caller says when to trim).

use std::collections::{HashMap, VecDeque};

use promql_parser::label::{MatchOp, Matcher};

use super::labels::Labels;
use super::value::{EachWindow, Series, Source};

#[derive(Clone, Debug)]
struct HeadSeries {
    labels: Labels,
    points: VecDeque<(i64, f64)>,
}

/// In-memory series with an inverted index (label pair → series, in label order), so a
/// selector looks only at the series of its most selective `=` matcher, as Prometheus's
/// postings do.
#[derive(Clone, Debug, Default)]
pub struct Head {
    series: Vec<Option<HeadSeries>>,
    by_labels: HashMap<Labels, usize, foldhash::fast::FixedState>,
    /// Label name → value → series ids in label order.
    postings: HashMap<String, HashMap<String, Vec<usize>>>,
    free: Vec<usize>,
    points: usize,
}

impl Head {
    pub fn new() -> Head {
        Head::default()
    }

    /// Series held.
    pub fn len(&self) -> usize {
        self.by_labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_labels.is_empty()
    }

    /// Points held, over all series.
    pub fn points(&self) -> usize {
        self.points
    }

    /// Append a point. Points arrive in time order per series; one at or before the series'
    /// last point replaces it (same instant) or is dropped (out of order), as a TSDB would.
    pub fn push(&mut self, labels: &Labels, t: i64, v: f64) {
        let id = match self.by_labels.get(labels) {
            Some(&id) => id,
            None => self.create(labels.clone()),
        };
        let Some(Some(s)) = self.series.get_mut(id) else {
            return;
        };
        match s.points.back_mut() {
            Some(last) if last.0 == t => last.1 = v,
            Some(last) if last.0 > t => {}
            _ => {
                s.points.push_back((t, v));
                self.points += 1;
            }
        }
    }

    fn create(&mut self, labels: Labels) -> usize {
        let s = HeadSeries {
            labels: labels.clone(),
            points: VecDeque::new(),
        };
        let id = match self.free.pop() {
            Some(id) => {
                if let Some(slot) = self.series.get_mut(id) {
                    *slot = Some(s);
                }
                id
            }
            None => {
                self.series.push(Some(s));
                self.series.len() - 1
            }
        };
        // Each list stays in label order, so a selection comes out sorted as Prometheus's
        // querier returns it, without sorting on every query.
        let series = &self.series;
        let key = |i: &usize| series.get(*i).and_then(|s| s.as_ref()).map(|s| &s.labels);
        for (k, v) in labels.iter() {
            let ids = self
                .postings
                .entry(k.to_string())
                .or_default()
                .entry(v.to_string())
                .or_default();
            let at = ids.partition_point(|i| key(i).is_some_and(|l| *l < labels));
            ids.insert(at, id);
        }
        self.by_labels.insert(labels, id);
        id
    }

    /// Drop points before `mint`, and series left without points.
    pub fn trim(&mut self, mint: i64) {
        let mut empty = Vec::new();
        for (id, slot) in self.series.iter_mut().enumerate() {
            let Some(s) = slot else { continue };
            while s.points.front().is_some_and(|p| p.0 < mint) {
                s.points.pop_front();
                self.points -= 1;
            }
            if s.points.is_empty() {
                empty.push(id);
            }
        }
        for id in empty {
            let Some(s) = self.series.get_mut(id).and_then(Option::take) else {
                continue;
            };
            self.by_labels.remove(&s.labels);
            for (k, v) in s.labels.iter() {
                let Some(values) = self.postings.get_mut(k) else {
                    continue;
                };
                if let Some(ids) = values.get_mut(v) {
                    ids.retain(|&i| i != id);
                    if ids.is_empty() {
                        values.remove(v);
                    }
                }
                if values.is_empty() {
                    self.postings.remove(k);
                }
            }
            self.free.push(id);
        }
    }

    /// The last point of the series with exactly `labels`.
    pub fn last(&self, labels: &Labels) -> Option<(i64, f64)> {
        let id = *self.by_labels.get(labels)?;
        self.series.get(id)?.as_ref()?.points.back().copied()
    }
}

impl Head {
    /// The series ids a selection must look at, in label order: the shortest list among the
    /// `=` matchers with a value (an empty value matches series without the label, which no
    /// list holds), else every series. `all` holds that sorted list when it is needed.
    fn candidates<'a>(
        &'a self,
        matchers: &[Matcher],
        all: &'a mut Vec<usize>,
    ) -> (&'a [usize], Option<usize>) {
        let mut best: Option<(&[usize], usize)> = None;
        for (mi, m) in matchers.iter().enumerate() {
            if !matches!(m.op, MatchOp::Equal) || m.value.is_empty() {
                continue;
            }
            let list = self
                .postings
                .get(m.name.as_str())
                .and_then(|values| values.get(m.value.as_str()))
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            if best.is_none_or(|b| list.len() < b.0.len()) {
                best = Some((list, mi));
            }
        }
        match best {
            // Every series of the list satisfies that matcher: the caller skips it.
            Some((list, mi)) => (list, Some(mi)),
            None => {
                let mut ids: Vec<usize> = (0..self.series.len()).collect();
                let label = |i: &usize| {
                    self.series
                        .get(*i)
                        .and_then(|s| s.as_ref())
                        .map(|s| &s.labels)
                };
                ids.sort_by(|a, b| label(a).cmp(&label(b)));
                *all = ids;
                (all, None)
            }
        }
    }
}

impl Head {
    /// The series all `matchers` select, in label order (the posting lists are kept in
    /// label order; without one, the ids were sorted by `candidates`).
    fn matching(&self, matchers: &[Matcher]) -> Vec<&HeadSeries> {
        let mut all = Vec::new();
        let (candidates, done) = self.candidates(matchers, &mut all);
        let rest: Vec<&Matcher> = matchers
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != done)
            .map(|(_, m)| m)
            .collect();
        candidates
            .iter()
            .filter_map(|&id| self.series.get(id)?.as_ref())
            .filter(|s| rest.iter().all(|m| m.is_match(s.labels.value(&m.name))))
            .collect()
    }
}

impl Source for Head {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Series> {
        let mut out = Vec::new();
        self.select_each(matchers, mint, maxt, &mut |labels, points| {
            out.push(Series {
                labels: labels.clone(),
                points: points.to_vec(),
            })
        });
        out
    }

    fn select_each(&self, matchers: &[Matcher], mint: i64, maxt: i64, f: &mut EachWindow<'_>) {
        // A window that straddles the end of the ring buffer is copied here, into one
        // buffer reused for every series; the others are handed over in place.
        let mut scratch: Vec<(i64, f64)> = Vec::new();
        for s in self.matching(matchers) {
            let lo = s.points.partition_point(|p| p.0 < mint);
            let hi = s.points.partition_point(|p| p.0 <= maxt);
            if lo >= hi {
                continue;
            }
            let (a, b) = s.points.as_slices();
            if hi <= a.len() {
                f(&s.labels, a.get(lo..hi).unwrap_or_default());
            } else if lo >= a.len() {
                f(
                    &s.labels,
                    b.get(lo - a.len()..hi - a.len()).unwrap_or_default(),
                );
            } else {
                scratch.clear();
                scratch.extend_from_slice(a.get(lo..).unwrap_or_default());
                scratch.extend_from_slice(b.get(..hi - a.len()).unwrap_or_default());
                f(&s.labels, &scratch);
            }
        }
    }

    fn select_last(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<(Labels, i64, f64)> {
        let mut out = Vec::new();
        for s in self.matching(matchers) {
            let hi = s.points.partition_point(|p| p.0 <= maxt);
            if let Some(&(t, v)) = hi.checked_sub(1).and_then(|i| s.points.get(i))
                && t >= mint
            {
                out.push((s.labels.clone(), t, v));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::new(pairs.iter().copied())
    }

    #[test]
    fn selects_by_name_and_matchers_and_trims() {
        let mut h = Head::new();
        let a = l(&[("__name__", "up"), ("job", "a")]);
        let b = l(&[("__name__", "up"), ("job", "b")]);
        let c = l(&[("__name__", "load"), ("job", "a")]);
        for t in 0..5 {
            h.push(&a, t * 10, t as f64);
            h.push(&b, t * 10, 1.0);
            h.push(&c, t * 10, 2.0);
        }
        h.push(&a, 15, 99.0); // out of order: dropped
        h.push(&a, 40, 7.0); // same instant: replaces
        assert_eq!(h.last(&a), Some((40, 7.0)));
        let m = promql_parser::parser::parse("up{job=\"a\"}").unwrap();
        let promql_parser::parser::Expr::VectorSelector(vs) = m else {
            panic!()
        };
        let got = h.select(&super::super::eval::matchers_of(&vs), 10, 30);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].points, vec![(10, 1.0), (20, 2.0), (30, 3.0)]);
        // Every matcher kind, through the postings and without them.
        let sel = |q: &str| -> Vec<String> {
            let promql_parser::parser::Expr::VectorSelector(vs) =
                promql_parser::parser::parse(q).unwrap()
            else {
                panic!()
            };
            h.select_last(&super::super::eval::matchers_of(&vs), 0, 40)
                .into_iter()
                .map(|(l, _, _)| l.to_string())
                .collect()
        };
        assert_eq!(sel("up{job!=\"a\"}"), vec!["{__name__=\"up\", job=\"b\"}"]);
        assert_eq!(
            sel("{job=~\"a|b\", __name__=~\"lo.*\"}"),
            vec!["{__name__=\"load\", job=\"a\"}"]
        );
        assert_eq!(sel("up{job=\"\"}"), Vec::<String>::new());
        assert_eq!(
            sel("up{other=\"\"}").len(),
            2,
            "an empty value matches series without the label"
        );
        assert_eq!(
            sel("{job=\"a\"}"),
            vec![
                "{__name__=\"load\", job=\"a\"}",
                "{__name__=\"up\", job=\"a\"}"
            ]
        );
        h.trim(45);
        assert!(h.is_empty());
        assert_eq!(h.points(), 0);
        h.push(&b, 50, 1.0);
        assert_eq!(h.len(), 1);
    }
}
