//! Recorded real exporter bodies parse completely and lint cleanly where the exporter is clean.

use nocscope::expo::{Format, MetricType, lint, parse};

const NODE_PROM: &[u8] = include_bytes!("../../benches/data/node_exporter.prom");
const NODE_OM: &[u8] = include_bytes!("../../benches/data/node_exporter.om");

fn sample_lines(body: &[u8]) -> usize {
    body.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty() && !l.starts_with(b"#"))
        .count()
}

#[test]
fn node_exporter_text_004_parses_every_sample() {
    let body = parse(NODE_PROM, Format::Prometheus004).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(body.samples.len(), sample_lines(NODE_PROM));
    assert!(body.samples.iter().all(|s| s.family.is_some()));
    let cpu = body
        .samples
        .iter()
        .find(|s| s.name == "node_cpu_seconds_total")
        .expect("node_cpu_seconds_total present");
    assert_eq!(body.kind_of(cpu), MetricType::Counter);
    assert!(body.labels_of(cpu).iter().any(|l| l.name == "mode"));
}

#[test]
fn node_exporter_openmetrics_parses_every_sample() {
    let body = parse(NODE_OM, Format::OpenMetrics1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(body.samples.len(), sample_lines(NODE_OM));
    assert!(body.samples.iter().all(|s| s.family.is_some()));
}

#[test]
fn node_exporter_is_rejected_in_the_wrong_format() {
    // Read as OpenMetrics, the 0.0.4 body's first counter sample `x_total` does not fit its
    // family `x_total`; the OpenMetrics one declares `unknown` types, which text 0.0.4 does
    // not know.
    let err = parse(NODE_PROM, Format::OpenMetrics1).err();
    assert!(err.is_some_and(|e| e.line == 21 && e.message.contains("does not fit")));
    let err = parse(NODE_OM, Format::Prometheus004).err();
    assert!(err.is_some_and(|e| e.message.contains("`unknown`")));
}

#[test]
fn node_exporter_lint_reports_no_parse_errors() {
    for (body, fmt) in [
        (NODE_PROM, Format::Prometheus004),
        (NODE_OM, Format::OpenMetrics1),
    ] {
        let problems = lint(body, fmt);
        // node_exporter is known to trip only the naming rules (camelCase /proc/meminfo
        // names, an abbreviated unit); anything else would be a parser or structure bug.
        let unexpected: Vec<_> = problems
            .iter()
            .filter(|p| {
                !(p.message.contains("camelCase")
                    || p.message.contains("abbreviates")
                    || p.message.contains("base unit")
                    || p.message.contains("no HELP")
                    || p.message.contains("client_golang does this"))
            })
            .collect();
        assert!(unexpected.is_empty(), "{fmt:?}: {unexpected:?}");
        assert!(
            !problems.is_empty(),
            "node_exporter has camelCase meminfo names"
        );
    }
}
