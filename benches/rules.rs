//! Rule evaluation cost (issue #13): 1,000 Prometheus alerting rules in 10 groups over 500
//! hosts of real node_exporter series (the recorded hour, five minutes of it in the head),
//! one evaluation cycle per iteration through the engine (query, alert state machine and
//! the mirror into the engine's alert table); and what the built-in rules add to one poll.
//! `scripts/bench-rules-prometheus` runs the same rules and series through a real
//! Prometheus for its `prometheus_rule_group_last_duration_seconds`.

use divan::counter::ItemsCount;
use nocscope::engine::rules::default_rules;
use nocscope::engine::{Engine, TargetSpec};
use nocscope::model::Input;

#[path = "support/node_recording.rs"]
mod node_recording;
#[path = "support/rule_corpus.rs"]
mod rule_corpus;
use node_recording::{inputs, recording};

const HOSTS: u32 = 500;
const RULES: usize = 1000;

fn engine(targets: u32, own_rules: bool) -> Engine {
    let specs = (0..targets)
        .map(|i| TargetSpec {
            labels: Default::default(),
            name: format!("node{i}"),
            host: format!("node{i}"),
            interval_ms: 15_000,
            timeout_ms: 10_000,
            sample_limit: 0,
            kind: Default::default(),
        })
        .collect();
    let rules = if own_rules {
        default_rules()
    } else {
        Vec::new()
    };
    Engine::new(specs, rules)
}

/// The engine of the cycle benchmark, fed 21 scrapes (5 minutes) of every host, and the
/// time of its last scrape.
fn loaded_engine() -> (Engine, i64) {
    let rec = recording();
    let mut e = engine(HOSTS, false);
    e.set_rule_files(
        &[("bench.yml".to_string(), rule_corpus::rules_yaml(RULES, 10))],
        15_000,
    )
    .expect("rules load");
    let feed = inputs(&rec[..21], HOSTS);
    for i in &feed {
        e.apply(i);
        e.take_batches();
        e.take_events();
    }
    let (series, points) = e.prom_rules().map(|p| p.head_size()).unwrap_or_default();
    let firing = e.snapshot().alerts.len();
    eprintln!("rules head: {series} series, {points} points; {firing} alerts active");
    let t = match feed.last() {
        Some(Input::Observation(o)) => o.at,
        _ => 0,
    };
    (e, t)
}

/// One cycle of 1,000 rules over 500 hosts: every group evaluated once, at the aligned time
/// of the last scrape, over the same data each iteration (so the windows never age and the
/// same 9,000 alerts are held each time). `shared`: common subexpressions evaluated once per
/// instant (the default); without, every rule is evaluated on its own.
#[divan::bench(sample_count = 10, sample_size = 1, args = [true, false])]
fn cycle_1000_rules_500_hosts(bencher: divan::Bencher, shared: bool) {
    let (mut e, t) = loaded_engine();
    e.set_rule_sharing(shared);
    let t = t - t.rem_euclid(15_000);
    bencher.counter(ItemsCount::new(RULES)).bench_local(|| {
        e.evaluate_rule_groups_at(t);
        e.take_events().len()
    });
}

/// What the built-in rules cost per poll of one host: the same scrapes through an engine with
/// and without them (the difference is the rules' share).
#[divan::bench(args = [false, true])]
fn poll_with_builtin_rules(bencher: divan::Bencher, rules: bool) {
    let rec = recording();
    let inputs = inputs(&rec[..rec.len().min(40)], 1);
    bencher
        .counter(ItemsCount::new(inputs.len()))
        .with_inputs(|| engine(1, rules))
        .bench_local_values(|mut e| {
            for i in &inputs {
                e.apply(i);
                e.take_batches();
            }
            e
        });
}

/// With `NOCSCOPE_BENCH_EXPORT=DIR` (and `NOCSCOPE_BENCH_END_MS`, the unix time the series
/// end at), write the benchmark's rules (`DIR/rules.yml`) and the series the rules read, for
/// all hosts, as OpenMetrics (`DIR/series.om`) for `promtool tsdb create-blocks-from`,
/// labelled as the engine labels them. The comparison script feeds them to Prometheus.
fn export(dir: &str) {
    use std::io::Write;
    let end: i64 = std::env::var("NOCSCOPE_BENCH_END_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .expect("NOCSCOPE_BENCH_END_MS (unix ms)");
    // One group: Prometheus evaluates groups concurrently, so the durations of ten groups
    // overlap; one group's duration is one cycle's time, rule after rule as here.
    let rules = rule_corpus::rules_yaml(RULES, 1);
    std::fs::write(format!("{dir}/rules.yml"), &rules).expect("write rules");
    let mut e = engine(1, false);
    e.set_rule_files(&[("r.yml".to_string(), rules)], 15_000)
        .expect("rules load");
    let rec = recording();
    let scrapes = &rec[..21];
    let last = scrapes.last().map(|s| s.0).unwrap_or(0);
    let file = std::fs::File::create(format!("{dir}/series.om")).expect("create series.om");
    let mut out = std::io::BufWriter::new(file);
    // OpenMetrics wants each metric family's samples together and in time order.
    let mut families: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (at, body) in scrapes {
        let parsed = nocscope::expo::parse(body, nocscope::expo::Format::Prometheus004)
            .expect("recorded body parses");
        let ts = (end - (last - at)) as f64 / 1000.0;
        for smp in &parsed.samples {
            if !e.rule_reads(smp.name) {
                continue;
            }
            let labels: Vec<String> = parsed
                .labels_of(smp)
                .iter()
                .map(|l| {
                    let v = l
                        .value
                        .replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        .replace('\n', "\\n");
                    format!("{}=\"{v}\"", l.name)
                })
                .collect();
            for h in 0..HOSTS {
                let mut all = labels.clone();
                all.push(format!(
                    "host=\"node{h}\",instance=\"node{h}\",job=\"exporter\""
                ));
                families
                    .entry(smp.name.to_string())
                    .or_default()
                    .push(format!(
                        "{}{{{}}} {} {ts}",
                        smp.name,
                        all.join(","),
                        smp.value
                    ));
            }
        }
        for h in 0..HOSTS {
            families.entry("up".to_string()).or_default().push(format!(
                "up{{host=\"node{h}\",instance=\"node{h}\",job=\"exporter\"}} 1 {ts}"
            ));
        }
    }
    for (name, lines) in &families {
        writeln!(out, "# TYPE {name} gauge").expect("write");
        // Group by series so each series' samples are consecutive and in time order.
        let mut sorted = lines.clone();
        sorted.sort_by(|a, b| {
            let ka = a.rsplitn(3, ' ').nth(2).unwrap_or("");
            let kb = b.rsplitn(3, ' ').nth(2).unwrap_or("");
            ka.cmp(kb)
        });
        for l in sorted {
            writeln!(out, "{l}").expect("write");
        }
    }
    writeln!(out, "# EOF").expect("write");
}

fn main() {
    if let Ok(dir) = std::env::var("NOCSCOPE_BENCH_EXPORT") {
        export(&dir);
        return;
    }
    // For profilers: N cycles (default five) and their times, nothing else.
    if let Ok(n) = std::env::var("NOCSCOPE_BENCH_CYCLES") {
        let (mut e, t) = loaded_engine();
        e.set_rule_sharing(std::env::var("NOCSCOPE_BENCH_UNSHARED").is_err());
        let t = t - t.rem_euclid(15_000);
        for _ in 0..n.parse().unwrap_or(5) {
            let start = std::time::Instant::now();
            e.evaluate_rule_groups_at(t);
            eprintln!("cycle: {:?}", start.elapsed());
        }
        return;
    }
    divan::main();
}
