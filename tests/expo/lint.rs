//! Table tests for `expo::lint`: every rule fires on its bad case, with the line it names, and
//! stays quiet on a clean body.

use nocscope::expo::{Format, lint};

const P: Format = Format::Prometheus004;
const OM: Format = Format::OpenMetrics1;

fn findings(body: &str, f: Format) -> Vec<(u32, String)> {
    lint(body.as_bytes(), f)
        .into_iter()
        .map(|e| (e.line, e.message))
        .collect()
}

#[test]
fn clean_bodies_have_no_findings() {
    let p = "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n\
             http_requests_total{code=\"200\"} 3\n\
             # HELP lat_seconds Latency.\n# TYPE lat_seconds histogram\n\
             lat_seconds_bucket{le=\"0.1\"} 1\nlat_seconds_bucket{le=\"+Inf\"} 2\n\
             lat_seconds_sum 0.3\nlat_seconds_count 2\n";
    assert_eq!(findings(p, P), []);
    let om = "# TYPE lat_seconds histogram\n# HELP lat_seconds Latency.\n\
              lat_seconds_bucket{le=\"0.1\"} 1\nlat_seconds_bucket{le=\"+Inf\"} 2\n\
              lat_seconds_count 2\n# EOF\n";
    assert_eq!(findings(om, OM), []);
}

#[test]
fn each_rule_fires_on_its_line() {
    let h = "# HELP x X.\n";
    let cases: Vec<(String, Format, u32, &str)> = vec![
        // Parse errors keep coming after the first one.
        (format!("{h}x 1\nx{{a=b}} 1\nx{{a=\"1\"}} zz\n"), P, 3, "expected label value"),
        (format!("{h}x 1\nx{{a=b}} 1\nx{{a=\"1\"}} zz\n"), P, 4, "not a number"),
        (format!("{h}x 1\nx 2\n"), P, 3, "duplicate series `x` (first at line 2)"),
        (format!("{h}x{{a=\"1\",b=\"2\"}} 1\nx{{b=\"2\",a=\"1\"}} 2\n"), P, 3, "duplicate series"),
        ("x 1\n".to_string(), P, 1, "no HELP"),
        ("# HELP c C.\n# TYPE c counter\nc 1\n".to_string(), P, 1, "`_total` suffix"),
        ("# HELP fooBar F.\nfooBar 1\n".to_string(), P, 1, "camelCase"),
        (format!("{h}x{{myLabel=\"1\"}} 1\n"), P, 2, "label name `myLabel`"),
        ("# HELP req_milliseconds R.\nreq_milliseconds 1\n".to_string(), P, 1, "base unit `seconds`"),
        ("# HELP size_kb S.\nsize_kb 1\n".to_string(), P, 1, "abbreviates"),
        ("# HELP q_count Q.\n# TYPE q_count gauge\nq_count 1\n".to_string(), P, 1, "reserved for histograms"),
        (format!("{h}x{{le=\"1\"}} 1\n"), P, 2, "reserved for histograms"),
        (format!("{h}x{{quantile=\"1\"}} 1\n"), P, 2, "reserved for summaries"),
        (
            "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n".to_string(),
            P,
            3,
            "no le=\"+Inf\" bucket",
        ),
        (
            "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_bucket{le=\"+Inf\"} 3\nh_count 3\n"
                .to_string(),
            P,
            4,
            "not cumulative",
        ),
        (
            "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 3\nh_count 4\n".to_string(),
            P,
            4,
            "has count 4 but its le=\"+Inf\" bucket holds 3",
        ),
        ("# HELP h H.\n# TYPE h histogram\nh_bucket 3\n".to_string(), P, 3, "no `le` label"),
        (
            "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"x\"} 3\n".to_string(),
            P,
            3,
            "not a number",
        ),
        (
            "# HELP s S.\n# TYPE s summary\ns{quantile=\"1.5\"} 3\n".to_string(),
            P,
            3,
            "not a number in [0, 1]",
        ),
        (
            "# HELP s S.\n# TYPE s summary\ns_count -1\n".to_string(),
            P,
            3,
            "non-negative",
        ),
        (
            "# HELP a A.\n# TYPE a gauge\na 1\n# HELP b B.\nb 1\na{x=\"1\"} 2\n".to_string(),
            P,
            6,
            "not grouped",
        ),
        // OpenMetrics-only rules.
        (
            "# TYPE h histogram\n# HELP h H.\nh_bucket{le=\"+Inf\"} 2.5\nh_count 2.5\n# EOF\n"
                .to_string(),
            OM,
            3,
            "must be integers",
        ),
        (
            "# TYPE h histogram\n# HELP h H.\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"1.0\"} 1\nh_bucket{le=\"+Inf\"} 1\n# EOF\n"
                .to_string(),
            OM,
            4,
            "repeats the bucket",
        ),
        ("# TYPE i info\n# HELP i I.\ni_info 2\n# EOF\n".to_string(), OM, 3, "must be 1"),
        (
            "# TYPE s stateset\n# HELP s S.\ns{s=\"a\"} 2\n# EOF\n".to_string(),
            OM,
            3,
            "0 or 1",
        ),
        (
            "# TYPE s stateset\n# HELP s S.\ns{t=\"a\"} 1\n# EOF\n".to_string(),
            OM,
            3,
            "no `s` label",
        ),
        ("# TYPE x gauge\nx 1\n".to_string(), OM, 0, "missing `# EOF`"),
        (
            "# TYPE x gauge\n# HELP x X.\nx 1\n# TYPE x counter\nx_total 1\n# EOF\n".to_string(),
            OM,
            4,
            "used twice",
        ),
    ];
    for (body, fmt, line, needle) in &cases {
        let got = findings(body, *fmt);
        assert!(
            got.iter().any(|(l, m)| l == line && m.contains(needle)),
            "{fmt:?} {body:?}: wanted line {line} `{needle}`, got {got:?}"
        );
        let lines: Vec<u32> = got.iter().map(|g| g.0).collect();
        let mut sorted = lines.clone();
        sorted.sort_unstable();
        assert_eq!(lines, sorted, "findings sorted by line");
    }
}

#[test]
fn lint_reports_every_bad_line_and_display_format() {
    let body = b"# HELP m M.\nm{a=x} 1\nm 1e309\nm{b=\"\xff\"} 2\nm 1";
    let got = lint(body, P);
    let shown: Vec<String> = got.iter().map(ToString::to_string).collect();
    for (i, want) in [
        (2, "line 2: "),
        (3, "line 3: "),
        (4, "line 4: "),
        (5, "line 5: "),
    ] {
        assert!(
            shown.iter().any(|s| s.starts_with(want)),
            "no finding for line {i}: {shown:?}"
        );
    }
}
