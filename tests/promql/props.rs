//! Property tests of the evaluator: label matchers against a model of Prometheus's semantics
//! (fully anchored regexes, a missing label reads as ""), through the indexed head and the
//! plain in-memory source alike; and one-to-one vector matching's cardinality errors against
//! a model of Prometheus's VectorBinop.

use std::collections::BTreeMap;

use nocscope::promql::{self, EvalOptions, Head, Labels, MemSource, Value};
use proptest::prelude::*;

const T: i64 = 60_000;

fn labels_strategy() -> impl Strategy<Value = Vec<(String, String)>> {
    // Few names and values so matchers hit, miss and meet absent labels often.
    proptest::collection::vec(
        (
            prop::sample::select(vec!["a", "b", "c"]),
            prop::sample::select(vec!["x", "y", "xy", "z"]),
        ),
        0..3,
    )
    .prop_map(|v| {
        v.into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    })
}

#[derive(Clone, Debug)]
struct M {
    name: &'static str,
    op: &'static str,
    value: &'static str,
}

fn matcher_strategy() -> impl Strategy<Value = M> {
    (
        prop::sample::select(vec!["a", "b", "c"]),
        prop::sample::select(vec!["=", "!=", "=~", "!~"]),
        prop::sample::select(vec!["x", "", "x.*", "y|z", ".+", "xy?"]),
    )
        .prop_map(|(name, op, value)| M { name, op, value })
}

fn model_match(m: &M, labels: &BTreeMap<String, String>) -> bool {
    let v = labels.get(m.name).map(String::as_str).unwrap_or("");
    let re =
        || regex::Regex::new(&format!("^(?:{})$", m.value)).expect("the test regexes are valid");
    match m.op {
        "=" => v == m.value,
        "!=" => v != m.value,
        "=~" => re().is_match(v),
        _ => !re().is_match(v),
    }
}

proptest! {
    #[test]
    fn matchers_select_what_prometheus_would(
        series in proptest::collection::vec(labels_strategy(), 1..8),
        matchers in proptest::collection::vec(matcher_strategy(), 1..3),
    ) {
        let mut head = Head::new();
        let mut mem = MemSource::default();
        let mut model: Vec<String> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for pairs in &series {
            let mut m: BTreeMap<String, String> = pairs.iter().cloned().collect();
            m.insert("__name__".into(), "s".into());
            let l = Labels::new(m.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            if !seen.insert(l.clone()) {
                continue;
            }
            head.push(&l, T, 1.0);
            mem.push(&l, T, 1.0);
            if matchers.iter().all(|mt| model_match(mt, &m)) {
                model.push(l.to_string());
            }
        }
        model.sort();
        let body: Vec<String> = matchers
            .iter()
            .map(|m| format!("{}{}\"{}\"", m.name, m.op, m.value))
            .collect();
        let q = format!("s{{{}}}", body.join(","));
        let expr = match promql::parse(&q) {
            Ok(e) => e,
            // promql-parser refuses a selector whose matchers all match the empty string
            // only when there is no name; with the name `s` every query here parses.
            Err(e) => panic!("{q}: {e}"),
        };
        for src in [&head as &dyn promql::Source, &mem] {
            let got = match promql::instant(&expr, src, T, &EvalOptions::default()) {
                Ok(Value::Vector(v)) => {
                    let mut g: Vec<String> = v.into_iter().map(|s| s.labels.to_string()).collect();
                    g.sort();
                    g
                }
                other => panic!("{q}: {other:?}"),
            };
            prop_assert_eq!(&got, &model, "{}", q);
        }
    }

    #[test]
    fn one_to_one_matching_errors_as_prometheus_does(
        left in proptest::collection::vec(prop::sample::select(vec!["p", "q", "r"]), 0..4),
        right in proptest::collection::vec(prop::sample::select(vec!["p", "q", "r"]), 0..4),
    ) {
        // Series l{k=<key>, i=<n>} and r{k=<key>, i=<n>}, matched on k.
        let mut mem = MemSource::default();
        for (side, keys) in [("l", &left), ("r", &right)] {
            for (i, k) in keys.iter().enumerate() {
                let i = i.to_string();
                let l = Labels::new([("__name__", side), ("k", k), ("i", i.as_str())]);
                mem.push(&l, T, 1.0);
            }
        }
        let count = |keys: &Vec<&str>, k: &str| keys.iter().filter(|x| **x == k).count();
        // Prometheus short-circuits an empty side before it looks for duplicates.
        let right_dup = !left.is_empty() && right.iter().any(|k| count(&right, k) > 1);
        let left_dup_matched = left.iter().any(|k| count(&left, k) > 1 && count(&right, k) > 0);
        let matched = left.iter().filter(|k| count(&right, k) > 0).count();
        let expr = promql::parse("l + on (k) r").unwrap();
        let got = promql::instant(&expr, &mem, T, &EvalOptions::default());
        if right_dup {
            let e = got.expect_err("duplicates on the right");
            prop_assert!(e.to_string().contains("found duplicate series for the match group"), "{}", e);
        } else if left_dup_matched {
            let e = got.expect_err("many-to-one without group_left");
            prop_assert!(e.to_string().contains("many-to-one matching must be explicit"), "{}", e);
        } else {
            match got {
                Ok(Value::Vector(v)) => prop_assert_eq!(v.len(), matched),
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }
}

proptest! {
    /// Range functions read the head's windows in place, including windows that wrap around
    /// its ring buffer after trimming and windows with stale markers: the same values as from
    /// a plain list of the same points.
    #[test]
    fn head_windows_read_in_place_equal_copied_ones(
        values in proptest::collection::vec(prop::option::weighted(0.9, 0.0f64..100.0), 20..120),
        trim_every in 3usize..17,
        back in 0usize..4,
    ) {
        let mut head = Head::new();
        let mut mem = MemSource::default();
        let l = Labels::new([("__name__", "x"), ("job", "a")]);
        let step = 15_000i64;
        let mut kept_from = i64::MIN;
        for (i, v) in values.iter().enumerate() {
            let t = i as i64 * step;
            // None: a staleness marker, as when the series left a good poll.
            let v = v.unwrap_or(promql::STALE_NAN);
            head.push(&l, t, v);
            mem.push(&l, t, v);
            if i % trim_every == 0 {
                kept_from = t - 10 * step;
                head.trim(kept_from);
            }
        }
        let t = (values.len() - 1 - back) as i64 * step;
        for q in [
            "rate(x[2m])",
            "increase(x[90s])",
            "max_over_time(x[2m])",
            "count_over_time(x[150s])",
            "changes(x[2m])",
            "deriv(x[2m])",
        ] {
            let expr = promql::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
            // Ask only for windows the head still holds in full (the longest is 150 s).
            if t - 150_000 < kept_from {
                continue;
            }
            let a = promql::instant(&expr, &head, t, &EvalOptions::default());
            let b = promql::instant(&expr, &mem, t, &EvalOptions::default());
            prop_assert_eq!(format!("{a:?}"), format!("{b:?}"), "{} at {}", q, t);
        }
    }
}
