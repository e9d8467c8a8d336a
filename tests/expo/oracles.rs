//! Disagreements with the oracle parsers found while writing the differential tests, pinned
//! so a behaviour change on either side is noticed. In every case here we follow the format.

use nocscope::expo::{Format, parse};

fn ours_ok(body: &str) -> bool {
    parse(body.as_bytes(), Format::Prometheus004).is_ok()
}

fn ptfp_ok(body: &str) -> bool {
    prom_text_format_parser::Scrape::parse(body).is_ok()
}

#[test]
fn prom_text_format_parser_disagreements() {
    // (body, valid 0.0.4?) where the oracle answers the opposite.
    let cases = [
        ("", true),                        // empty exposition is valid
        ("m{} 1\n", true),                 // empty label set is valid
        ("m{a=\"x\\ty\"} 1\n", true),      // unknown escape: Prometheus keeps it literally
        ("m{a=\"1\",a=\"2\"} 1\n", false), // duplicate label name
    ];
    for (body, valid) in cases {
        assert_eq!(ours_ok(body), valid, "ours {body:?}");
        assert_eq!(ptfp_ok(body), !valid, "oracle {body:?}");
    }
}

#[test]
fn prometheus_parse_disagreements() {
    let scrape =
        |body: &str| prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).ok();
    // Value truncated at the comma.
    let s = scrape("m{a=\"x,y\",b=\"z\"} 1\n");
    let a = s
        .as_ref()
        .and_then(|s| s.samples.first())
        .and_then(|x| x.labels.get("a").map(str::to_owned));
    assert_eq!(a.as_deref(), Some("x"));
    let ours = parse(b"m{a=\"x,y\",b=\"z\"} 1\n", Format::Prometheus004).ok();
    assert_eq!(
        ours.as_ref()
            .and_then(|b| b.labels.first())
            .map(|l| l.value.to_string())
            .as_deref(),
        Some("x,y")
    );
    // Recording-rule names with colons are dropped; garbage lines are skipped silently.
    assert_eq!(scrape("job:x:rate5m 1\n").map(|s| s.samples.len()), Some(0));
    assert!(ours_ok("job:x:rate5m 1\n"));
    assert_eq!(scrape("m abc\n").map(|s| s.samples.len()), Some(0));
    assert!(!ours_ok("m abc\n"));
}
