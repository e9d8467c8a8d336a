//! Parse throughput on a recorded node_exporter body, ours against prometheus-parse.
//! Run: CARGO_TARGET_DIR=/work/bench-target cargo bench --bench expo

use divan::Bencher;
use divan::counter::ItemsCount;
use nocscope::expo::{Format, parse};

const NODE_PROM: &[u8] = include_bytes!("data/node_exporter.prom");
const NODE_OM: &[u8] = include_bytes!("data/node_exporter.om");

fn main() {
    divan::main();
}

/// Every line counts (HELP/TYPE included), so ns/line compares across bodies and parsers.
fn lines(body: &[u8]) -> usize {
    body.iter().filter(|&&b| b == b'\n').count()
}

#[divan::bench]
fn expo_parse_text004(b: Bencher) {
    b.counter(ItemsCount::new(lines(NODE_PROM))).bench(|| {
        parse(divan::black_box(NODE_PROM), Format::Prometheus004).map(|p| p.samples.len())
    });
}

#[divan::bench]
fn expo_parse_openmetrics(b: Bencher) {
    b.counter(ItemsCount::new(lines(NODE_OM)))
        .bench(|| parse(divan::black_box(NODE_OM), Format::OpenMetrics1).map(|p| p.samples.len()));
}

#[divan::bench]
fn prometheus_parse_text004(b: Bencher) {
    let text = std::str::from_utf8(NODE_PROM).unwrap_or("");
    b.counter(ItemsCount::new(lines(NODE_PROM))).bench(|| {
        // The crate wants owned lines; that copy is part of using it.
        let it = divan::black_box(text).lines().map(|l| Ok(l.to_owned()));
        prometheus_parse::Scrape::parse(it)
            .map(|s| s.samples.len())
            .ok()
    });
}
