//! The PromQL evaluator against worked examples of Prometheus's semantics. The differential
//! tests against a real promtool and Prometheus (issue #13) land beside these.

mod prometheus_api;
mod promtool;
mod props;

use nocscope::promql::{self, EvalOptions, Labels, MemSource, STALE_NAN, Series, Value};

const MIN: i64 = 60_000;

fn series(pairs: &[(&str, &str)], points: &[(i64, f64)]) -> Series {
    Series {
        labels: Labels::new(pairs.iter().copied()),
        points: points.to_vec(),
    }
}

/// `count` points from `start`, `step` apart, values `first + k·inc` (promtool's `a+bxN`).
fn ramp(start: i64, step: i64, first: f64, inc: f64, count: usize) -> Vec<(i64, f64)> {
    (0..count)
        .map(|k| (start + step * k as i64, first + inc * k as f64))
        .collect()
}

fn query(src: &MemSource, expr: &str, t: i64) -> Result<Value, String> {
    let e = promql::parse(expr).map_err(|e| e.to_string())?;
    promql::instant(&e, src, t, &EvalOptions::default()).map_err(|e| e.to_string())
}

/// The vector as sorted `labels => value` lines, so assertions read like promtool output.
fn vector(src: &MemSource, expr: &str, t: i64) -> Vec<String> {
    match query(src, expr, t) {
        Ok(Value::Vector(v)) => {
            let mut out: Vec<String> = v
                .iter()
                .map(|s| format!("{} => {}", s.labels, s.v))
                .collect();
            out.sort();
            out
        }
        other => panic!("{expr}: expected a vector, got {other:?}"),
    }
}

fn scalar(src: &MemSource, expr: &str, t: i64) -> f64 {
    match query(src, expr, t) {
        Ok(Value::Scalar(v)) => v,
        other => panic!("{expr}: expected a scalar, got {other:?}"),
    }
}

#[test]
fn instant_selectors_look_back_five_minutes_and_stop_at_a_stale_marker() {
    let src = MemSource::new(vec![
        series(&[("__name__", "up"), ("job", "a")], &[(0, 1.0)]),
        series(
            &[("__name__", "up"), ("job", "b")],
            &[(0, 1.0), (MIN, STALE_NAN)],
        ),
    ]);
    // b's newest sample by then is its staleness marker, so b is gone.
    assert_eq!(
        vector(&src, "up", MIN),
        [r#"{__name__="up", job="a"} => 1"#]
    );
    assert_eq!(vector(&src, "up", 30_000).len(), 2);
    // The lookback is inclusive at its far end (Prometheus 2.x): 5m after the sample it shows.
    assert_eq!(vector(&src, "up{job='a'}", 5 * MIN).len(), 1);
    assert!(vector(&src, "up{job='a'}", 5 * MIN + 1).is_empty());
    assert_eq!(vector(&src, "up offset 1m", MIN).len(), 2);
    assert_eq!(vector(&src, "up @ 0", 10 * MIN).len(), 2);
    assert_eq!(vector(&src, r#"up{job=~"a|b"}"#, 0).len(), 2);
    assert_eq!(
        vector(&src, r#"up{job!~"a"}"#, 0),
        [r#"{__name__="up", job="b"} => 1"#]
    );
}

#[test]
fn rate_extrapolates_like_prometheus() {
    // A counter of +10 every 5 minutes, 0 at t=0.
    let src = MemSource::new(vec![series(
        &[("__name__", "http_requests_total"), ("path", "/")],
        &ramp(0, 5 * MIN, 0.0, 10.0, 11),
    )]);
    // The whole span: no extrapolation, 100 over 3000 s.
    let v = vector(&src, "rate(http_requests_total[50m])", 50 * MIN);
    assert_eq!(v, [format!(r#"{{path="/"}} => {}"#, 100.0 / 3000.0)]);
    // A 10m window at 52m holds the samples at 45m and 50m: 10 over 300 s of samples. Both
    // gaps to the edges (180 s, 120 s) are under 1.1 sample intervals, so the change is
    // extrapolated over the full window: 10 · 600 / 300 = 20.
    let inc = vector(&src, "increase(http_requests_total[10m])", 52 * MIN);
    assert_eq!(inc, [r#"{path="/"} => 20"#]);
    // A 7m window at 51m holds 45m and 50m too, but the start gap (60 s) is extrapolated
    // while the end gap (60 s) is too: 10 · 420 / 300 = 14.
    let inc = vector(&src, "increase(http_requests_total[7m])", 51 * MIN);
    assert_eq!(inc, [r#"{path="/"} => 14"#]);
    // A gap over 1.1 intervals extrapolates only half an interval: window 30m at 58m holds
    // 30m…50m (5 samples, 1200 s); start gap 120 s < 330 s, end gap 480 s > 330 s → +150 s.
    let inc = vector(&src, "increase(http_requests_total[30m])", 58 * MIN);
    assert_eq!(
        inc,
        [format!(
            r#"{{path="/"}} => {}"#,
            40.0 * ((1200.0 + 120.0 + 150.0) / 1200.0)
        )]
    );
    // A counter reset adds the value before it back.
    let reset = MemSource::new(vec![series(
        &[("__name__", "c")],
        &[(0, 5.0), (MIN, 8.0), (2 * MIN, 2.0), (3 * MIN, 4.0)],
    )]);
    assert_eq!(vector(&reset, "resets(c[5m])", 3 * MIN), ["{} => 1"]);
    assert_eq!(vector(&reset, "changes(c[5m])", 3 * MIN), ["{} => 3"]);
    assert_eq!(
        vector(&reset, "irate(c[5m])", 3 * MIN),
        [format!("{{}} => {}", 2.0 / 60.0)]
    );
    assert_eq!(vector(&reset, "idelta(c[5m])", 3 * MIN), ["{} => 2"]);
    // 5 → 8, reset, → 4: a change of 4 − 5 + 8 = 7, extrapolated 60 s back to the window's
    // start (the counter's zero point, 128 s back, is further): 7 · 240 / 180.
    let got = vector(&reset, "increase(c[4m])", 3 * MIN);
    assert_eq!(got, [format!("{{}} => {}", 7.0 * (240.0 / 180.0))]);
}

#[test]
fn over_time_functions_and_regressions() {
    let src = MemSource::new(vec![series(
        &[("__name__", "g"), ("i", "1")],
        &[(0, 1.0), (MIN, 3.0), (2 * MIN, 2.0), (3 * MIN, 6.0)],
    )]);
    let at = 3 * MIN;
    assert_eq!(
        vector(&src, "avg_over_time(g[5m])", at),
        [r#"{i="1"} => 3"#]
    );
    assert_eq!(
        vector(&src, "max_over_time(g[5m])", at),
        [r#"{i="1"} => 6"#]
    );
    assert_eq!(
        vector(&src, "min_over_time(g[5m])", at),
        [r#"{i="1"} => 1"#]
    );
    assert_eq!(
        vector(&src, "sum_over_time(g[5m])", at),
        [r#"{i="1"} => 12"#]
    );
    assert_eq!(
        vector(&src, "count_over_time(g[5m])", at),
        [r#"{i="1"} => 4"#]
    );
    // last_over_time is the one range function that keeps the metric name.
    assert_eq!(
        vector(&src, "last_over_time(g[5m])", at),
        [r#"{__name__="g", i="1"} => 6"#]
    );
    // Sorted 1 2 3 6: rank 0.5·3 = 1.5 → halfway between 2 and 3.
    assert_eq!(
        vector(&src, "quantile_over_time(0.5, g[5m])", at),
        [r#"{i="1"} => 2.5"#]
    );
    // Variance of 1 3 2 6 (mean 3): (4 + 0 + 1 + 9) / 4 = 3.5.
    assert_eq!(
        vector(&src, "stdvar_over_time(g[5m])", at),
        [r#"{i="1"} => 3.5"#]
    );
    // Least squares over x = 0 60 120 180 s, y = 1 3 2 6: cov 420, var 18000.
    let slope = match vector(&src, "deriv(g[5m])", at).as_slice() {
        [one] => one.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(slope, format!(r#"{{i="1"}} => {}"#, 420.0 / 18000.0));
    // The line at 3m is 3 + slope·90; 10 minutes on adds slope·600.
    let ahead = vector(&src, "predict_linear(g[5m], 600)", at);
    let slope_v = 420.0 / 18000.0;
    let want = slope_v * 600.0 + (12.0 / 4.0 - slope_v * -360.0 / 4.0);
    assert_eq!(ahead, [format!(r#"{{i="1"}} => {want}"#)]);
    assert_eq!(vector(&src, "absent_over_time(nope[5m])", at), ["{} => 1"]);
    assert!(vector(&src, "absent_over_time(g[5m])", at).is_empty());
}

#[test]
fn vector_matching_follows_cardinality_rules() {
    let src = MemSource::new(vec![
        series(
            &[("__name__", "errors"), ("job", "a"), ("code", "500")],
            &[(0, 4.0)],
        ),
        series(
            &[("__name__", "errors"), ("job", "a"), ("code", "503")],
            &[(0, 6.0)],
        ),
        series(&[("__name__", "requests"), ("job", "a")], &[(0, 100.0)]),
        series(
            &[("__name__", "info"), ("job", "a"), ("team", "web")],
            &[(0, 1.0)],
        ),
    ]);
    assert_eq!(
        vector(&src, "errors / ignoring(code) group_left requests", 0),
        [
            r#"{code="500", job="a"} => 0.04"#,
            r#"{code="503", job="a"} => 0.06"#
        ]
    );
    // group_left(team) copies the label from the "one" side.
    assert_eq!(
        vector(&src, "requests * on(job) group_left(team) info", 0),
        [r#"{job="a", team="web"} => 100"#]
    );
    // Without group_left the match is many-to-one and must be refused.
    let err = query(&src, "errors / ignoring(code) requests", 0).expect_err("refused");
    assert!(
        err.contains("many-to-one matching must be explicit"),
        "{err}"
    );
    let err = query(&src, "requests / ignoring(code) errors", 0).expect_err("refused");
    assert!(
        err.contains("found duplicate series for the match group"),
        "{err}"
    );
    // on() in one-to-one matching keeps only the listed labels.
    assert_eq!(
        vector(&src, "requests - on(job) info", 0),
        [r#"{job="a"} => 99"#]
    );
    // Comparisons filter and keep the name; `bool` turns them into 0/1 without it.
    assert_eq!(vector(&src, "errors > 5", 0).len(), 1);
    assert_eq!(
        vector(&src, "errors > bool 5", 0),
        [
            r#"{code="500", job="a"} => 0"#,
            r#"{code="503", job="a"} => 1"#
        ]
    );
    assert_eq!(
        vector(&src, "5 < errors", 0),
        [r#"{__name__="errors", code="503", job="a"} => 6"#]
    );
    assert_eq!(vector(&src, "errors and on(job) requests", 0).len(), 2);
    assert_eq!(vector(&src, "errors unless on(job) requests", 0).len(), 0);
    assert_eq!(vector(&src, "requests or errors", 0).len(), 3);
    assert_eq!(scalar(&src, "2 ^ 10 % 7", 0), 1024.0 % 7.0);
}

#[test]
fn aggregations_group_like_prometheus() {
    let mk = |inst: &str, mode: &str, v: f64| {
        series(
            &[("__name__", "cpu"), ("instance", inst), ("mode", mode)],
            &[(0, v)],
        )
    };
    let src = MemSource::new(vec![
        mk("a", "user", 1.0),
        mk("a", "system", 3.0),
        mk("b", "user", 5.0),
        mk("b", "system", 7.0),
    ]);
    assert_eq!(
        vector(&src, "sum by (instance) (cpu)", 0),
        [r#"{instance="a"} => 4"#, r#"{instance="b"} => 12"#]
    );
    assert_eq!(
        vector(&src, "avg without (instance) (cpu)", 0),
        [r#"{mode="system"} => 5"#, r#"{mode="user"} => 3"#]
    );
    assert_eq!(vector(&src, "count(cpu)", 0), ["{} => 4"]);
    assert_eq!(
        vector(&src, "stddev(cpu)", 0),
        [format!("{{}} => {}", 5.0f64.sqrt())]
    );
    assert_eq!(
        vector(&src, "topk(1, cpu)", 0),
        [r#"{__name__="cpu", instance="b", mode="system"} => 7"#]
    );
    assert_eq!(vector(&src, "bottomk by (mode) (1, cpu)", 0).len(), 2);
    assert_eq!(vector(&src, "quantile(0.5, cpu)", 0), ["{} => 4"]);
    assert_eq!(
        vector(&src, r#"count_values("v", cpu > 4)"#, 0),
        [r#"{v="5"} => 1"#, r#"{v="7"} => 1"#]
    );
    assert_eq!(vector(&src, "group by (mode) (cpu)", 0).len(), 2);
}

#[test]
fn instant_functions() {
    let src = MemSource::new(vec![
        series(&[("__name__", "x"), ("host", "web1:9100")], &[(0, -2.5)]),
        series(&[("__name__", "lat_bucket"), ("le", "0.1")], &[(0, 50.0)]),
        series(&[("__name__", "lat_bucket"), ("le", "0.5")], &[(0, 90.0)]),
        series(&[("__name__", "lat_bucket"), ("le", "+Inf")], &[(0, 100.0)]),
    ]);
    assert_eq!(vector(&src, "abs(x)", 0), [r#"{host="web1:9100"} => 2.5"#]);
    assert_eq!(
        vector(&src, "clamp(x, -1, 1)", 0),
        [r#"{host="web1:9100"} => -1"#]
    );
    assert_eq!(vector(&src, "round(x)", 0), [r#"{host="web1:9100"} => -2"#]);
    assert_eq!(
        vector(&src, r#"label_replace(x, "h", "$1", "host", "(.*):.*")"#, 0),
        [r#"{__name__="x", h="web1", host="web1:9100"} => -2.5"#]
    );
    assert_eq!(
        vector(&src, r#"label_join(x, "j", "-", "host", "host")"#, 0),
        [r#"{__name__="x", host="web1:9100", j="web1:9100-web1:9100"} => -2.5"#]
    );
    // 90th percentile: rank 90 falls at the top of the 0.5 bucket.
    assert_eq!(
        vector(&src, "histogram_quantile(0.9, lat_bucket)", 0),
        ["{} => 0.5"]
    );
    // Median: rank 50 is the top of the first bucket.
    assert_eq!(
        vector(&src, "histogram_quantile(0.5, lat_bucket)", 0),
        ["{} => 0.1"]
    );
    assert_eq!(
        vector(&src, r#"absent(nope{job="a", x=~"y"})"#, 0),
        [r#"{job="a"} => 1"#]
    );
    assert_eq!(scalar(&src, "time()", 90_000), 90.0);
    assert_eq!(scalar(&src, "scalar(x)", 0), -2.5);
    assert_eq!(
        vector(&src, "timestamp(x)", 30_000),
        [r#"{host="web1:9100"} => 0"#]
    );
    assert_eq!(vector(&src, "vector(3)", 0), ["{} => 3"]);
}

#[test]
fn subqueries_step_on_absolute_multiples() {
    let src = MemSource::new(vec![series(
        &[("__name__", "g")],
        &ramp(0, MIN, 0.0, 1.0, 11),
    )]);
    // Steps of 2m inside [10m − 5m, 10m]: 6m, 8m, 10m → max 10, count 3.
    assert_eq!(
        vector(&src, "count_over_time(g[5m:2m])", 10 * MIN),
        ["{} => 3"]
    );
    assert_eq!(
        vector(&src, "max_over_time(g[5m:2m])", 10 * MIN),
        ["{} => 10"]
    );
    assert_eq!(
        vector(&src, "min_over_time(g[5m:2m])", 10 * MIN),
        ["{} => 6"]
    );
}

#[test]
fn unsupported_constructs_are_refused_at_parse_time() {
    for (expr, needle) in [
        ("holt_winters(x[5m], 0.5, 0.5)", "holt_winters"),
        ("limitk(2, x)", "limitk"),
        ("rate(x[5m]", "invalid PromQL"),
    ] {
        let err = promql::parse(expr).expect_err(expr).to_string();
        assert!(err.contains(needle), "{expr}: {err}");
    }
}

#[test]
fn duplicate_labelsets_after_dropping_the_name_are_an_error() {
    let src = MemSource::new(vec![
        series(&[("__name__", "a"), ("i", "1")], &[(0, 1.0)]),
        series(&[("__name__", "b"), ("i", "1")], &[(0, 2.0)]),
    ]);
    let err = query(&src, r#"abs({__name__=~"a|b"})"#, 0).expect_err("duplicate");
    assert!(err.contains("same labelset"), "{err}");
}
