//! Shared subexpressions across a set of rules: one evaluation of `rate(x[2m])` per instant,
//! however many rules (thresholds, severities) contain it. Owns the table of which parsed
//! nodes are equal and the per-instant results; must not decide what is evaluated or when,
//! and never changes a result — a cached value is the value the node would have produced.
//!
//! Nodes are recognised by address. The memo keeps every expression it indexed alive
//! (`Arc`), so an address it knows cannot be freed and reused by another node while the memo
//! exists. Values are keyed by instant and invalidated by metric name when rules write back.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use promql_parser::parser::Expr;

use super::reach::reach;
use super::value::Value;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

/// At most this many samples are held per instant's worth of values; beyond it a result is
/// computed but not kept, so a pathological rule set costs time, never unbounded memory.
const MAX_CACHED_SAMPLES: usize = 4_000_000;

pub struct Memo {
    /// Keeps the indexed nodes alive; see the module note.
    _roots: Vec<Arc<Expr>>,
    ids: FastMap<usize, u32>,
    /// By id: the metric names the node reads (`None`: a selector without a fixed name,
    /// so any write may change it), from [`reach`].
    reads: Vec<Option<BTreeSet<String>>>,
    /// Every name some cached node reads, and whether one reads anything.
    read_names: HashSet<String>,
    reads_any: bool,
    /// Behind a lock only so the engine stays `Sync`; one thread evaluates, so it is never
    /// contended.
    values: Mutex<FastMap<(u32, i64, i64), Value>>,
    samples: AtomicUsize,
    hits: AtomicU64,
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memo")
            .field("shared_nodes", &self.reads.len())
            .field("cached", &self.values().len())
            .finish()
    }
}

impl Clone for Memo {
    /// A clone shares the index (the same nodes) and starts with no values.
    fn clone(&self) -> Memo {
        Memo {
            _roots: self._roots.clone(),
            ids: self.ids.clone(),
            reads: self.reads.clone(),
            read_names: self.read_names.clone(),
            reads_any: self.reads_any,
            values: Mutex::new(FastMap::default()),
            samples: AtomicUsize::new(0),
            hits: AtomicU64::new(0),
        }
    }
}

/// Whether a node is worth keeping: something that reads series and does work. Literals
/// are free, parentheses are looked through, and range expressions are kept by the call
/// that consumes them.
fn cacheable(e: &Expr) -> bool {
    matches!(
        e,
        Expr::VectorSelector(_)
            | Expr::Call(_)
            | Expr::Aggregate(_)
            | Expr::Binary(_)
            | Expr::Unary(_)
    )
}

fn children(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::Aggregate(a) => {
            let mut v = vec![&*a.expr];
            if let Some(p) = &a.param {
                v.push(&**p);
            }
            v
        }
        Expr::Unary(u) => vec![&*u.expr],
        Expr::Binary(b) => vec![&*b.lhs, &*b.rhs],
        Expr::Paren(p) => vec![&*p.expr],
        Expr::Subquery(s) => vec![&*s.expr],
        Expr::MatrixSelector(_) => Vec::new(),
        Expr::Call(c) => c.args.args.iter().map(|a| &**a).collect(),
        _ => Vec::new(),
    }
}

impl Memo {
    /// Index the nodes that occur more than once across `roots` (structurally equal: the
    /// parser's full debug form, which carries every field, is the identity).
    pub fn new(roots: Vec<Arc<Expr>>) -> Memo {
        // Every occurrence of a cacheable node: its form, address, and the forms of its
        // cacheable ancestors, nearest first.
        let mut form_ids: HashMap<String, usize> = HashMap::new();
        let mut forms: Vec<(String, &Expr)> = Vec::new();
        let mut occurrences: Vec<(usize, usize, Vec<usize>)> = Vec::new();
        let mut stack: Vec<(&Expr, Vec<usize>)> =
            roots.iter().map(|r| (&**r, Vec::new())).collect();
        while let Some((e, ancestors)) = stack.pop() {
            let mut below = ancestors.clone();
            if cacheable(e) {
                let form = format!("{e:?}");
                let next = forms.len();
                let f = *form_ids.entry(form.clone()).or_insert(next);
                if f == next {
                    forms.push((form, e));
                }
                occurrences.push((f, e as *const Expr as usize, ancestors));
                below.insert(0, f);
            }
            for c in children(e) {
                stack.push((c, below.clone()));
            }
        }
        let mut count = vec![0usize; forms.len()];
        for (f, _, _) in &occurrences {
            if let Some(c) = count.get_mut(*f) {
                *c += 1;
            }
        }
        // A form is worth keeping when, without it, it would be evaluated more than once per
        // instant: once per occurrence outside any kept node, plus, under each kept node,
        // its occurrences there divided by how often that node occurs (the node itself is
        // evaluated once). Larger forms are decided first (an ancestor's debug form
        // contains its descendants'), so each occurrence's nearest kept ancestor is known.
        let mut order: Vec<usize> = (0..forms.len()).collect();
        order.sort_by_key(|&f| std::cmp::Reverse(forms.get(f).map(|(s, _)| s.len()).unwrap_or(0)));
        let mut by_form: Vec<Vec<usize>> = vec![Vec::new(); forms.len()];
        for (oi, (f, _, _)) in occurrences.iter().enumerate() {
            if let Some(v) = by_form.get_mut(*f) {
                v.push(oi);
            }
        }
        let mut kept = vec![false; forms.len()];
        for f in order {
            if count.get(f).copied().unwrap_or(0) < 2 {
                continue;
            }
            let mut evaluations = 0.0f64;
            for &oi in by_form.get(f).into_iter().flatten() {
                let Some((_, _, ancestors)) = occurrences.get(oi) else {
                    continue;
                };
                let owner = ancestors
                    .iter()
                    .find(|a| kept.get(**a).copied().unwrap_or(false));
                evaluations += match owner {
                    Some(o) => 1.0 / count.get(*o).copied().unwrap_or(1).max(1) as f64,
                    None => 1.0,
                };
            }
            if evaluations > 1.0 + 1e-9
                && let Some(k) = kept.get_mut(f)
            {
                *k = true;
            }
        }
        let mut ids = FastMap::default();
        let mut reads = Vec::new();
        let mut read_names = HashSet::new();
        let mut reads_any = false;
        let mut id_of: HashMap<usize, u32> = HashMap::new();
        for (f, (_, e)) in forms.iter().enumerate() {
            if !kept.get(f).copied().unwrap_or(false) {
                continue;
            }
            let r = reach(e).names;
            match &r {
                None => reads_any = true,
                Some(n) => read_names.extend(n.iter().cloned()),
            }
            id_of.insert(f, reads.len() as u32);
            reads.push(r);
        }
        for (f, addr, _) in &occurrences {
            if let Some(id) = id_of.get(f) {
                ids.insert(*addr, *id);
            }
        }
        Memo {
            _roots: roots,
            ids,
            reads,
            read_names,
            reads_any,
            values: Mutex::new(FastMap::default()),
            samples: AtomicUsize::new(0),
            hits: AtomicU64::new(0),
        }
    }

    /// How many distinct nodes are shared.
    pub fn shared_nodes(&self) -> usize {
        self.reads.len()
    }

    /// Values served from the memo since it was made (for tests and the benchmark).
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    fn values(&self) -> std::sync::MutexGuard<'_, FastMap<(u32, i64, i64), Value>> {
        // A panic elsewhere cannot leave a half-written value: insertions are whole.
        self.values.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forget every value: the series changed in ways the memo cannot see (a new poll).
    pub fn clear(&self) {
        self.values().clear();
        self.samples.store(0, Ordering::Relaxed);
    }

    /// A rule wrote samples of metric `name`: drop the values that may read them.
    pub fn written(&self, name: &str) {
        if !self.reads_any && !self.read_names.contains(name) {
            return;
        }
        let reads = &self.reads;
        let mut values = self.values();
        values.retain(|k, _| match reads.get(k.0 as usize) {
            Some(Some(n)) => !n.contains(name),
            _ => false,
        });
        // The sample count only bounds memory; recount from what is left.
        let left = values.values().map(value_size).sum::<usize>();
        self.samples.store(left, Ordering::Relaxed);
    }

    pub(super) fn id(&self, e: &Expr) -> Option<u32> {
        if self.ids.is_empty() {
            return None;
        }
        self.ids.get(&(e as *const Expr as usize)).copied()
    }

    pub(super) fn get(&self, key: (u32, i64, i64)) -> Option<Value> {
        let v = self.values().get(&key).cloned();
        if v.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        v
    }

    pub(super) fn put(&self, key: (u32, i64, i64), v: &Value) {
        let size = value_size(v);
        let held = self.samples.load(Ordering::Relaxed);
        if held + size > MAX_CACHED_SAMPLES {
            return;
        }
        self.samples.store(held + size, Ordering::Relaxed);
        self.values().insert(key, v.clone());
    }
}

fn value_size(v: &Value) -> usize {
    match v {
        Value::Vector(s) => s.len().max(1),
        Value::Matrix(m) => m.iter().map(|s| s.points.len()).sum::<usize>().max(1),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::{EvalOptions, Labels, MemSource, Series, instant_memo};

    fn parse(s: &str) -> Arc<Expr> {
        Arc::new(crate::promql::parse(s).expect("parses"))
    }

    fn source() -> MemSource {
        let mut series = Vec::new();
        for i in 0..4 {
            series.push(Series {
                labels: Labels::new([("__name__", "x"), ("i", &*i.to_string())]),
                points: (0..20)
                    .map(|k| (k * 15_000, (k * (i + 1)) as f64))
                    .collect(),
            });
        }
        MemSource::new(series)
    }

    #[test]
    fn shared_nodes_are_found_and_unique_ones_are_not() {
        let a = parse("sum by (i) (rate(x[1m])) > 1");
        let b = parse("sum by (i) (rate(x[1m])) > 2");
        let c = parse("max(x)");
        let m = Memo::new(vec![a.clone(), b.clone(), c.clone()]);
        // The aggregation is shared; the rate inside it is only ever evaluated by it, so
        // keeping it too would cost memory for nothing. The comparisons differ.
        assert_eq!(m.shared_nodes(), 1);
        // Read from a second place, the rate is worth keeping as well.
        let d = parse("avg by (i) (rate(x[1m]))");
        let m = Memo::new(vec![a, b, c, d]);
        assert_eq!(m.shared_nodes(), 2);
    }

    #[test]
    fn memoised_results_equal_fresh_ones_and_are_reused() {
        let src = source();
        let opts = EvalOptions::default();
        let exprs: Vec<Arc<Expr>> = [
            "sum by (i) (rate(x[1m])) > 0.1",
            "sum by (i) (rate(x[1m])) < 0.3",
            "x * 2 > 3",
            "x * 2 > 5",
        ]
        .into_iter()
        .map(parse)
        .collect();
        let m = Memo::new(exprs.clone());
        for t in [60_000, 120_000, 240_000] {
            for e in &exprs {
                let fresh = crate::promql::instant(e, &src, t, &opts).expect("evaluates");
                let memo = instant_memo(e, &src, t, &opts, Some(&m)).expect("evaluates");
                assert_eq!(fresh, memo, "{e} at {t}");
            }
        }
        assert!(m.hits() >= 6, "hits {}", m.hits());
    }

    #[test]
    fn a_write_drops_the_values_that_read_it() {
        let src = source();
        let opts = EvalOptions::default();
        let e1 = parse("sum(x) > 0");
        let e2 = parse("sum(x) > 1");
        let m = Memo::new(vec![e1.clone(), e2.clone()]);
        instant_memo(&e1, &src, 60_000, &opts, Some(&m)).expect("evaluates");
        m.written("y");
        instant_memo(&e2, &src, 60_000, &opts, Some(&m)).expect("evaluates");
        assert_eq!(m.hits(), 1, "a write of another metric keeps the value");
        m.written("x");
        instant_memo(&e2, &src, 60_000, &opts, Some(&m)).expect("evaluates");
        assert_eq!(m.hits(), 1, "a write of x drops it");
    }
}
