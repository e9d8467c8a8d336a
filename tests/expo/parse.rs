//! Table tests for `expo::parse` and `Format::from_content_type`, both formats, including the
//! parsing fault cases 6-12 of reference/monitoring-semantics.md §7.

use std::borrow::Cow;

use nocscope::expo::{Format, MetricType, ParsedBody, parse};

const P: Format = Format::Prometheus004;
const OM: Format = Format::OpenMetrics1;

fn ok(body: &str, f: Format) -> ParsedBody<'_> {
    parse(body.as_bytes(), f).unwrap_or_else(|e| panic!("{f:?} {body:?}: {e}"))
}

/// (name, labels, value, timestamp, family name) per sample, for compact expectations.
type Flat = Vec<(
    String,
    Vec<(String, String)>,
    f64,
    Option<i64>,
    Option<String>,
)>;

fn flat(b: &ParsedBody<'_>) -> Flat {
    b.samples
        .iter()
        .map(|s| {
            (
                s.name.to_string(),
                b.labels_of(s)
                    .iter()
                    .map(|l| (l.name.to_string(), l.value.to_string()))
                    .collect(),
                s.value,
                s.timestamp,
                s.family
                    .and_then(|f| b.families.get(f as usize))
                    .map(|f| f.name.to_string()),
            )
        })
        .collect()
}

fn one(name: &str, labels: &[(&str, &str)], v: f64, ts: Option<i64>, fam: Option<&str>) -> Flat {
    vec![(
        name.to_string(),
        labels
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        v,
        ts,
        fam.map(str::to_string),
    )]
}

#[test]
fn text004_valid_single_samples() {
    let cases: &[(&str, Flat)] = &[
        ("m 1\n", one("m", &[], 1.0, None, None)),
        ("  m \t 1 \t\n", one("m", &[], 1.0, None, None)),
        ("m{a=\"b\"} 2.5\n", one("m", &[("a", "b")], 2.5, None, None)),
        (
            "m { a = \"b\" , } 2\n",
            one("m", &[("a", "b")], 2.0, None, None),
        ),
        ("m{a=\"b\",} 2\n", one("m", &[("a", "b")], 2.0, None, None)),
        ("m{} 3\n", one("m", &[], 3.0, None, None)),
        ("m{a=\"b\"}4\n", one("m", &[("a", "b")], 4.0, None, None)),
        (
            "job:http:rate5m{a=\"x,y\"} 3\n",
            one("job:http:rate5m", &[("a", "x,y")], 3.0, None, None),
        ),
        (
            "m{q=\"a=b\"} 1\n",
            one("m", &[("q", "a=b")], 1.0, None, None),
        ),
        (
            "m{e=\"{plpgsql}\"} 1\n",
            one("m", &[("e", "{plpgsql}")], 1.0, None, None),
        ),
        (
            "m{e=\"é ∑ 🦀\"} 1\n",
            one("m", &[("e", "é ∑ 🦀")], 1.0, None, None),
        ),
        // Case 9: three escapes decoded, unknown ones kept literally.
        (
            "m{e=\"a\\\"b\"} 1\n",
            one("m", &[("e", "a\"b")], 1.0, None, None),
        ),
        (
            "m{e=\"a\\\\b\"} 1\n",
            one("m", &[("e", "a\\b")], 1.0, None, None),
        ),
        (
            "m{e=\"a\\nb\"} 1\n",
            one("m", &[("e", "a\nb")], 1.0, None, None),
        ),
        (
            "m{e=\"a\\tb\"} 1\n",
            one("m", &[("e", "a\\tb")], 1.0, None, None),
        ),
        // Case 8: specials are values, NaN is not missing.
        ("m +Inf\n", one("m", &[], f64::INFINITY, None, None)),
        ("m -Inf\n", one("m", &[], f64::NEG_INFINITY, None, None)),
        ("m inf\n", one("m", &[], f64::INFINITY, None, None)),
        ("m 1e-3\n", one("m", &[], 0.001, None, None)),
        ("m -0.5E2\n", one("m", &[], -50.0, None, None)),
        // Case 11: 0.0.4 timestamps are integer milliseconds.
        (
            "m 1 1700000000123\n",
            one("m", &[], 1.0, Some(1_700_000_000_123), None),
        ),
        ("m 1 -5\n", one("m", &[], 1.0, Some(-5), None)),
        ("# TYPE m gauge\nm 1\n", one("m", &[], 1.0, None, Some("m"))),
        (
            "# random comment\n\n#\nm 1\n",
            one("m", &[], 1.0, None, None),
        ),
        // Prometheus 3 quoted UTF-8 names.
        (
            "{\"my.metric\", a=\"b\"} 1\n",
            one("my.metric", &[("a", "b")], 1.0, None, None),
        ),
        (
            "{\"my.metric\"} 1\n",
            one("my.metric", &[], 1.0, None, None),
        ),
        (
            "m{\"a.b\"=\"c\"} 1\n",
            one("m", &[("a.b", "c")], 1.0, None, None),
        ),
    ];
    for (body, want) in cases {
        assert_eq!(&flat(&ok(body, P)), want, "{body:?}");
    }
}

#[test]
fn nan_is_a_value() {
    for body in ["m NaN\n", "m nan\n", "m NAN\n"] {
        assert!(
            ok(body, P)
                .samples
                .first()
                .is_some_and(|s| s.value.is_nan()),
            "{body}"
        );
    }
}

#[test]
fn escapes_borrow_only_when_needed() {
    let b = ok("m{a=\"plain\",b=\"esc\\\\aped\"} 1\n", P);
    assert!(matches!(
        b.labels.first().map(|l| &l.value),
        Some(Cow::Borrowed("plain"))
    ));
    assert!(matches!(b.labels.get(1).map(|l| &l.value), Some(Cow::Owned(v)) if v == "esc\\aped"));
}

#[test]
fn text004_rejects_with_line_and_reason() {
    let cases: &[(&[u8], u32, &str)] = &[
        (b"m 1e309\n", 1, "out of range"),
        (b"m 0x10\n", 1, "hex"),
        (b"m abc\n", 1, "not a number"),
        (b"m\n", 1, "expected a sample value"),
        (
            b"m 1\nm{a=x} 1\n",
            2,
            "expected label value in quotes, found `x`",
        ),
        (b"m{a=\"b} 1\n", 1, "closing quote"),
        // Case 9: a raw newline inside a label value splits the line.
        (b"m{a=\"x\ny\"} 1\n", 1, "closing quote"),
        (b"m{a=\"x\xff\"} 1\n", 1, "invalid UTF-8"),
        (b"ok 1\nm{a=\"\xc3\"} 1\n", 2, "invalid UTF-8"),
        (b"m 1", 1, "newline"),
        (b"m 1\r\n", 1, "carriage return"),
        (b"m 1 1.5\n", 1, "milliseconds"),
        (b"m 1 2 3\n", 1, "after the timestamp"),
        (b"m{a=\"1\",a=\"2\"} 1\n", 1, "appears twice"),
        (b"m{1a=\"1\"} 1\n", 1, "expected label name"),
        (b"m{a=\"1\" b=\"2\"} 1\n", 1, "expected `,` or `}`"),
        (b"m! 1\n", 1, "after the metric name"),
        (b"1m 1\n", 1, "expected metric name"),
        (b"# TYPE m bogus\n", 1, "unknown metric type `bogus`"),
        (b"# TYPE m gaugehistogram\n", 1, "unknown metric type"),
        (b"# TYPE m\n", 1, "expected a type"),
        (b"# HELP\n", 1, "expected metric name"),
        (b"# TYPE m gauge\n# TYPE m gauge\n", 2, "second `# TYPE`"),
        (b"# HELP m a\n# HELP m b\n", 2, "second `# HELP`"),
        (
            b"# TYPE m gauge\nm 1\n# TYPE m gauge\n",
            3,
            "second metadata block",
        ),
        (b"\xEF\xBB\xBFm 1\n", 1, "byte order mark"),
    ];
    for (body, line, needle) in cases {
        let e = parse(body, P)
            .err()
            .unwrap_or_else(|| panic!("accepted {body:?}"));
        assert_eq!(e.line, *line, "{body:?}: {e}");
        assert!(e.message.contains(needle), "{body:?}: {e}");
        assert!(e.to_string().starts_with(&format!("line {line}: ")), "{e}");
    }
}

#[test]
fn empty_body_is_valid_004_and_invalid_om() {
    assert!(ok("", P).samples.is_empty());
    let e = parse(b"", OM).err();
    assert_eq!(
        e.map(|e| e.to_string()).as_deref(),
        Some("missing `# EOF` at the end of the body (OpenMetrics requires it; truncated body?)")
    );
}

#[test]
fn text004_metadata_and_suffixes() {
    let body = "# HELP http_requests_total All requests.\\nSecond line \\\\ \\\"q\\\"\n\
                # TYPE http_requests_total counter\n\
                http_requests_total{code=\"200\"} 10\n\
                # TYPE lat histogram\n\
                lat_bucket{le=\"0.1\"} 1\nlat_bucket{le=\"+Inf\"} 2\nlat_sum 0.3\nlat_count 2\n\
                # TYPE rpc summary\n\
                rpc{quantile=\"0.5\"} 1\nrpc_sum 3\nrpc_count 2\n\
                other 1\n";
    let b = ok(body, P);
    let f = &b.families;
    assert_eq!(f.len(), 3);
    assert_eq!(f[0].kind, MetricType::Counter);
    // 0.0.4 HELP decodes only \\ and \n; \" stays as written (Prometheus' helpReplacer).
    assert_eq!(
        f[0].help.as_deref(),
        Some("All requests.\nSecond line \\ \\\"q\\\"")
    );
    let fams: Vec<Option<&str>> = b
        .samples
        .iter()
        .map(|s| s.family.map(|i| f[i as usize].name))
        .collect();
    assert_eq!(
        fams,
        [
            Some("http_requests_total"),
            Some("lat"),
            Some("lat"),
            Some("lat"),
            Some("lat"),
            Some("rpc"),
            Some("rpc"),
            Some("rpc"),
            None
        ]
    );
    assert_eq!(b.kind_of(&b.samples[1]), MetricType::Histogram);
    assert_eq!(b.kind_of(&b.samples[8]), MetricType::Unknown);
    let lines: Vec<u32> = b.samples.iter().map(|s| s.line).collect();
    assert_eq!(lines, [3, 5, 6, 7, 8, 10, 11, 12, 13]);
}

#[test]
fn duplicates_and_broken_histograms_are_not_parse_errors() {
    // Cases 10 and 12: parse accepts them; the engine and lint deal with them.
    let body =
        "m 1\nm 1\n# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_bucket{le=\"2\"} 3\nh_count 9\n";
    assert_eq!(ok(body, P).samples.len(), 5);
    let om = "m 1\nm 1\n# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_count 9\n# EOF\n";
    assert_eq!(ok(om, OM).samples.len(), 4);
}

#[test]
fn openmetrics_valid() {
    let body = "# TYPE acme_seconds summary\n\
                # UNIT acme_seconds seconds\n\
                # HELP acme_seconds Latency \\\"through\\\" the router.\n\
                acme_seconds_sum{path=\"/api\"} 9036.32\n\
                acme_seconds_count{path=\"/api\"} 807283.0\n\
                acme_seconds_created{path=\"/api\"} 1605281325.0\n\
                # TYPE foo counter\n\
                foo_total 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67 1520879602.890\n\
                foo_created 1520430000.123\n\
                # TYPE h histogram\n\
                h_bucket{le=\"0.1\"} 8 # {id=\"a\"} 0.05\n\
                h_bucket{le=\"+Inf\"} 10\n\
                h_count 10\nh_sum 1.5\n\
                # TYPE g gaugehistogram\n\
                g_bucket{le=\"+Inf\"} 3\ng_gcount 3\ng_gsum 2\n\
                # TYPE build info\n\
                build_info{version=\"1.0\"} 1\n\
                # TYPE state stateset\n\
                state{state=\"a\"} 1\nstate{state=\"b\"} 0\n\
                # TYPE temp gauge\n\
                temp{e=\"tab\\tkept\"} -Infinity\n\
                untyped_thing 42\n\
                # EOF\n";
    let b = ok(body, OM);
    let kinds: Vec<(&str, MetricType)> = b.families.iter().map(|f| (f.name, f.kind)).collect();
    assert_eq!(
        kinds,
        [
            ("acme_seconds", MetricType::Summary),
            ("foo", MetricType::Counter),
            ("h", MetricType::Histogram),
            ("g", MetricType::GaugeHistogram),
            ("build", MetricType::Info),
            ("state", MetricType::StateSet),
            ("temp", MetricType::Gauge),
        ]
    );
    assert_eq!(b.families[0].unit, Some("seconds"));
    assert_eq!(
        b.families[0].help.as_deref(),
        Some("Latency \"through\" the router.")
    );
    let foo = b.samples.iter().find(|s| s.name == "foo_total");
    // Case 11: OpenMetrics timestamps are float seconds, stored as ms.
    assert_eq!(foo.and_then(|s| s.timestamp), Some(1_520_879_607_789));
    assert_eq!(b.samples.len(), 17);
    assert!(
        b.samples
            .iter()
            .all(|s| s.family.is_some() || s.name == "untyped_thing")
    );
    let temp = b.samples.iter().find(|s| s.name == "temp");
    assert_eq!(temp.map(|s| s.value), Some(f64::NEG_INFINITY));
    assert_eq!(
        temp.map(|s| b.labels_of(s)[0].value.as_ref()),
        Some("tab\\tkept")
    );
    // No trailing newline after `# EOF` is fine.
    assert_eq!(ok("m 1\n# EOF", OM).samples.len(), 1);
}

#[test]
fn openmetrics_rejects_with_line_and_reason() {
    let cases: &[(&[u8], u32, &str)] = &[
        // Case 7.
        (b"m 1\n", 0, "missing `# EOF`"),
        (b"m 1\n# EOF\nm 2\n", 3, "after `# EOF`"),
        (b"# EOF\n\n", 2, "after `# EOF`"),
        // Case 9: BOM rejected.
        (b"\xEF\xBB\xBFm 1\n# EOF\n", 1, "byte order mark"),
        (b"m  1\n# EOF\n", 1, "single space"),
        (b"m\t1\n# EOF\n", 1, "expected a single space"),
        (b" m 1\n# EOF\n", 1, "expected metric name"),
        (b"m 1 \n# EOF\n", 1, "timestamp"),
        (b"m 1\r\n# EOF\n", 1, "carriage return"),
        (b"\nm 1\n# EOF\n", 1, "empty line"),
        (b"# a comment\n# EOF\n", 1, "only `# TYPE`"),
        (b"m{a=\"b\",} 1\n# EOF\n", 1, "trailing comma"),
        (b"m{a = \"b\"} 1\n# EOF\n", 1, "expected `=`"),
        (b"m 1e309\n# EOF\n", 1, "out of range"),
        (b"m 0x10\n# EOF\n", 1, "hex"),
        (b"m 1 NaN\n# EOF\n", 1, "timestamp"),
        (
            b"# TYPE m untyped\n# EOF\n",
            1,
            "unknown metric type `untyped`",
        ),
        (
            b"# TYPE c counter\nc 1\n# EOF\n",
            2,
            "does not fit the counter family",
        ),
        (
            b"# TYPE m_seconds gauge\n# UNIT m_seconds bytes\n# EOF\n",
            2,
            "not a suffix",
        ),
        (
            b"# TYPE m gauge\n# TYPE m gauge\n# EOF\n",
            2,
            "second `# TYPE`",
        ),
        (b"# TYPE m gauge\n# HELP m a \"q\"\n# EOF\n", 2, "unescaped"),
        (b"a 1\nb 1\na 2\n# EOF\n", 3, "must not interleave"),
        (
            b"# TYPE a gauge\na 1\nb 1\n# TYPE a gauge\na 2\n# EOF\n",
            4,
            "must not interleave",
        ),
        (b"# TYPE g gauge\ng 1 # {a=\"b\"} 1\n# EOF\n", 2, "exemplar"),
        (
            b"# TYPE c counter\nc_total 1 # {a=\"b\"}\n# EOF\n",
            2,
            "exemplar",
        ),
        (b"m{a=\"x\ny\"} 1\n# EOF\n", 1, "closing quote"),
        (b"m{a=\"\xff\"} 1\n# EOF\n", 1, "invalid UTF-8"),
    ];
    for (body, line, needle) in cases {
        let e = parse(body, OM)
            .err()
            .unwrap_or_else(|| panic!("accepted {body:?}"));
        assert_eq!(e.line, *line, "{body:?}: {e}");
        assert!(e.message.contains(needle), "{body:?}: {e}");
    }
}

#[test]
fn openmetrics_exemplar_length_limit() {
    let long = "x".repeat(127);
    let fits = format!("# TYPE c counter\nc_total 1 # {{a=\"{long}\"}} 1\n# EOF\n");
    assert!(parse(fits.as_bytes(), OM).is_ok());
    let too_long = format!("# TYPE c counter\nc_total 1 # {{ab=\"{long}\"}} 1\n# EOF\n");
    assert!(parse(too_long.as_bytes(), OM).is_err());
}

#[test]
fn content_type_table() {
    let warn = Some("content-type missing; parsed as text 0.0.4".to_string());
    let cases: &[(Option<&str>, Format, bool)] = &[
        (Some("text/plain; version=0.0.4; charset=utf-8"), P, false),
        (Some("text/plain"), P, false),
        (Some(" TEXT/PLAIN ;version=1.0.0"), P, false),
        (
            Some("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            OM,
            false,
        ),
        (
            Some("application/openmetrics-text;version=0.0.1"),
            OM,
            false,
        ),
        (Some("Application/OpenMetrics-Text"), OM, false),
        (Some("application/json"), P, true),
        (Some(""), P, true),
        (None, P, true),
    ];
    for (ct, want, warns) in cases {
        let (f, w) = Format::from_content_type(*ct);
        assert_eq!(f, *want, "{ct:?}");
        assert_eq!(w.is_some(), *warns, "{ct:?}");
    }
    assert_eq!(Format::from_content_type(None).1, warn);
}
