//! Lint rules over an already tokenized body (the `nocscope lint FILE` command), in the spirit of
//! `promtool check metrics`. Reads `ParsedBody` only; never changes what `parse` accepts.

use std::collections::{HashMap, HashSet};

use super::parse::{Opened, suffixes, type_word};
use super::{Format, Label, MetricType, ParseError, ParsedBody, SampleRec};

pub(super) fn check(
    body: &ParsedBody<'_>,
    opened: &[Opened<'_>],
    format: Format,
    out: &mut Vec<ParseError>,
) {
    duplicates(body, out);
    naming(body, opened, format, out);
    distributions(body, format, out);
    if format == Format::OpenMetrics1 {
        info_and_stateset(body, out);
    } else {
        grouping(body, opened, out);
    }
}

fn push(out: &mut Vec<ParseError>, line: u32, message: String) {
    out.push(ParseError { line, message });
}

/// Renders `name{a="b"}` with values escaped back, for messages.
fn series(name: &str, labels: &[Label<'_>]) -> String {
    let mut s = String::from(name);
    if !labels.is_empty() {
        s.push('{');
        for (i, l) in labels.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(l.name);
            s.push_str("=\"");
            for ch in l.value.chars() {
                match ch {
                    '\\' => s.push_str("\\\\"),
                    '"' => s.push_str("\\\""),
                    '\n' => s.push_str("\\n"),
                    c => s.push(c),
                }
            }
            s.push('"');
        }
        s.push('}');
    }
    s
}

/// Identity of a series: name plus label set in name order, `skip` label excluded.
fn key(name: &str, labels: &[Label<'_>], skip: Option<&str>) -> String {
    let mut sorted: Vec<&Label<'_>> = labels.iter().filter(|l| Some(l.name) != skip).collect();
    sorted.sort_by(|a, b| a.name.cmp(b.name));
    let mut k = String::from(name);
    for l in sorted {
        k.push('\u{1}');
        k.push_str(l.name);
        k.push('\u{2}');
        k.push_str(&l.value);
    }
    k
}

/// Source: Prometheus scrape ("duplicate sample for timestamp") and `promtool check metrics`.
/// Same series at the same timestamp twice; OpenMetrics allows repeats with rising timestamps.
fn duplicates(body: &ParsedBody<'_>, out: &mut Vec<ParseError>) {
    let mut seen: HashMap<(String, Option<i64>), u32> = HashMap::new();
    for s in &body.samples {
        let labels = body.labels_of(s);
        match seen.entry((key(s.name, labels, None), s.timestamp)) {
            std::collections::hash_map::Entry::Occupied(first) => push(
                out,
                s.line,
                format!(
                    "duplicate series `{}` (first at line {}); only the first is kept",
                    series(s.name, labels),
                    first.get()
                ),
            ),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(s.line);
            }
        }
    }
}

/// Units promlint asks to replace by base units (promlint `lintNonBaseUnit` /
/// Prometheus naming best practices: seconds, bytes, meters, celsius... only).
const NON_BASE: &[(&str, &str)] = &[
    ("milliseconds", "seconds"),
    ("microseconds", "seconds"),
    ("nanoseconds", "seconds"),
    ("minutes", "seconds"),
    ("hours", "seconds"),
    ("days", "seconds"),
    ("weeks", "seconds"),
    ("kilobytes", "bytes"),
    ("megabytes", "bytes"),
    ("gigabytes", "bytes"),
    ("terabytes", "bytes"),
    ("kibibytes", "bytes"),
    ("mebibytes", "bytes"),
    ("gibibytes", "bytes"),
    ("millimeters", "meters"),
    ("centimeters", "meters"),
    ("kilometers", "meters"),
    ("miles", "meters"),
    ("fahrenheit", "celsius"),
];

/// Abbreviations promlint `lintUnitAbbreviations` rejects as name components.
const ABBREVIATIONS: &[&str] = &[
    "ms", "us", "ns", "sec", "secs", "min", "mins", "kb", "mb", "gb",
];

/// Per family name: missing HELP (promlint `lintHelp`), counters without `_total` in 0.0.4
/// (promlint `lintCounter`), camelCase (promlint `lintMetricCamelCase` /
/// `lintLabelNameCamelCase`), non-base units and abbreviations (promlint `lintNonBaseUnit`,
/// `lintUnitAbbreviations`), reserved suffixes and labels (promlint
/// `lintHistogramSummaryReserved`).
fn naming(body: &ParsedBody<'_>, opened: &[Opened<'_>], format: Format, out: &mut Vec<ParseError>) {
    let mut done: HashSet<&str> = HashSet::new();
    for o in opened {
        let fam = o.declared.and_then(|i| body.families.get(i as usize));
        let kind = fam.map_or(MetricType::Unknown, |f| f.kind);
        if !done.insert(o.name) {
            continue;
        }
        if fam.is_some_and(|f| f.help.is_none()) || fam.is_none() {
            push(out, o.line, format!("`{}` has no HELP text", o.name));
        }
        name_rules(o.name, kind, format, o.line, out);
    }
    // 0.0.4 untyped runs are not in `opened`; lint their names once each.
    let mut label_done: HashSet<&str> = HashSet::new();
    for s in &body.samples {
        if s.family.is_none() && format == Format::Prometheus004 && done.insert(s.name) {
            push(out, s.line, format!("`{}` has no HELP text", s.name));
            name_rules(s.name, MetricType::Unknown, format, s.line, out);
        }
        let kind = body.kind_of(s);
        for l in body.labels_of(s) {
            if is_camel(l.name) && label_done.insert(l.name) {
                push(
                    out,
                    s.line,
                    format!(
                        "label name `{}` should be snake_case, not camelCase",
                        l.name
                    ),
                );
            }
            let reserved = match l.name {
                "le" => !matches!(kind, MetricType::Histogram | MetricType::GaugeHistogram),
                "quantile" => kind != MetricType::Summary,
                _ => false,
            };
            if reserved && label_done.insert(l.name) {
                push(
                    out,
                    s.line,
                    format!(
                        "label `{}` on `{}` is reserved for {}",
                        l.name,
                        s.name,
                        if l.name == "le" {
                            "histograms"
                        } else {
                            "summaries"
                        }
                    ),
                );
            }
        }
    }
}

fn is_camel(name: &str) -> bool {
    name.as_bytes()
        .windows(2)
        .any(|w| matches!(w, [a, b] if a.is_ascii_lowercase() && b.is_ascii_uppercase()))
}

fn name_rules(name: &str, kind: MetricType, format: Format, line: u32, out: &mut Vec<ParseError>) {
    if format == Format::Prometheus004 && kind == MetricType::Counter && !name.ends_with("_total") {
        push(
            out,
            line,
            format!("counter `{name}` should have a `_total` suffix"),
        );
    }
    if is_camel(name) {
        push(
            out,
            line,
            format!("metric name `{name}` should be snake_case, not camelCase"),
        );
    }
    for part in name.split(['_', ':']) {
        let lower = part.to_ascii_lowercase();
        if let Some((unit, base)) = NON_BASE.iter().find(|(u, _)| *u == lower) {
            push(
                out,
                line,
                format!("`{name}` uses `{unit}`; use the base unit `{base}`"),
            );
        }
        if ABBREVIATIONS.contains(&lower.as_str()) {
            push(
                out,
                line,
                format!("`{name}` abbreviates a unit (`{part}`); spell it out"),
            );
        }
    }
    let reserved = ["_count", "_sum", "_bucket"];
    if !matches!(
        kind,
        MetricType::Histogram | MetricType::Summary | MetricType::GaugeHistogram
    ) && let Some(sfx) = reserved.iter().find(|s| name.ends_with(*s))
    {
        push(
            out,
            line,
            format!(
                "{} `{name}` ends in `{sfx}`, a suffix reserved for histograms and summaries",
                type_word(kind)
            ),
        );
    }
}

#[derive(Default)]
struct Dist {
    first_line: u32,
    name: String,
    buckets: Vec<(f64, f64, u32)>,
    count: Option<(f64, u32)>,
}

/// Histogram and summary structure. Source: Prometheus exposition_formats.md ("`le="+Inf"`
/// bucket required, buckets cumulative, `_count` equals the +Inf bucket") and the OpenMetrics
/// 1.0 Histogram/Summary sections (counts are integers, never NaN or negative, thresholds
/// unique, quantiles within [0, 1]).
fn distributions(body: &ParsedBody<'_>, format: Format, out: &mut Vec<ParseError>) {
    let mut groups: HashMap<(u32, String), Dist> = HashMap::new();
    let om = format == Format::OpenMetrics1;
    for s in &body.samples {
        let Some(fi) = s.family else { continue };
        let Some(fam) = body.families.get(fi as usize) else {
            continue;
        };
        let suffix = s.name.get(fam.name.len()..).unwrap_or("");
        let labels = body.labels_of(s);
        let histo = matches!(fam.kind, MetricType::Histogram | MetricType::GaugeHistogram);
        match (fam.kind, suffix) {
            (MetricType::Histogram | MetricType::GaugeHistogram, "_bucket") => {
                let Some(le) = labels.iter().find(|l| l.name == "le") else {
                    push(
                        out,
                        s.line,
                        format!("bucket `{}` has no `le` label", s.name),
                    );
                    continue;
                };
                let Some(bound) = parse_bound(&le.value) else {
                    push(
                        out,
                        s.line,
                        format!("bucket `{}` has le=\"{}\", not a number", s.name, le.value),
                    );
                    continue;
                };
                check_count(s, om, "bucket", out);
                let g = group(&mut groups, fi, fam.name, labels, "le", s.line);
                g.buckets.push((bound, s.value, s.line));
            }
            (MetricType::Histogram | MetricType::Summary, "_count")
            | (MetricType::GaugeHistogram, "_gcount") => {
                check_count(s, om, "count", out);
                let skip = if histo { "le" } else { "quantile" };
                let g = group(&mut groups, fi, fam.name, labels, skip, s.line);
                g.count = Some((s.value, s.line));
            }
            (MetricType::Summary, "") => {
                let Some(q) = labels.iter().find(|l| l.name == "quantile") else {
                    push(
                        out,
                        s.line,
                        format!("summary sample `{}` has no `quantile` label", s.name),
                    );
                    continue;
                };
                match parse_bound(&q.value) {
                    Some(v) if (0.0..=1.0).contains(&v) => {}
                    _ => push(
                        out,
                        s.line,
                        format!(
                            "quantile=\"{}\" on `{}` is not a number in [0, 1]",
                            q.value, s.name
                        ),
                    ),
                }
                if om && s.value < 0.0 {
                    push(
                        out,
                        s.line,
                        format!("quantile value of `{}` is negative", s.name),
                    );
                }
            }
            _ => {}
        }
    }
    for g in groups.values_mut() {
        if g.buckets.is_empty() {
            continue;
        }
        g.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        for pair in g.buckets.windows(2) {
            if let [a, b] = pair {
                if a.0 == b.0 && om {
                    push(
                        out,
                        b.2,
                        format!("histogram `{}` repeats the bucket le={}", g.name, b.0),
                    );
                } else if b.1 < a.1 {
                    push(
                        out,
                        b.2,
                        format!(
                            "histogram `{}` is not cumulative: bucket le={} holds {} but le={} holds {}",
                            g.name, b.0, b.1, a.0, a.1
                        ),
                    );
                }
            }
        }
        match g.buckets.last() {
            Some(&(bound, inf_value, _)) if bound == f64::INFINITY => {
                if let Some((count, line)) = g.count
                    && count != inf_value
                    && !(count.is_nan() && inf_value.is_nan())
                {
                    push(
                        out,
                        line,
                        format!(
                            "histogram `{}` has count {count} but its le=\"+Inf\" bucket holds {inf_value}",
                            g.name
                        ),
                    );
                }
            }
            _ => push(
                out,
                g.first_line,
                format!("histogram `{}` has no le=\"+Inf\" bucket", g.name),
            ),
        }
    }
}

fn group<'m>(
    groups: &'m mut HashMap<(u32, String), Dist>,
    fi: u32,
    fam: &str,
    labels: &[Label<'_>],
    skip: &str,
    line: u32,
) -> &'m mut Dist {
    let shown: Vec<Label<'_>> = labels.iter().filter(|l| l.name != skip).cloned().collect();
    groups
        .entry((fi, key("", labels, Some(skip))))
        .or_insert_with(|| Dist {
            first_line: line,
            name: series(fam, &shown),
            ..Dist::default()
        })
}

fn check_count(s: &SampleRec<'_>, om: bool, what: &str, out: &mut Vec<ParseError>) {
    if s.value.is_nan() || s.value < 0.0 {
        push(
            out,
            s.line,
            format!(
                "{what} `{}` is {}; counts must be non-negative numbers",
                s.name, s.value
            ),
        );
    } else if om && s.value.fract() != 0.0 {
        push(
            out,
            s.line,
            format!(
                "{what} `{}` is {}; OpenMetrics counts must be integers",
                s.name, s.value
            ),
        );
    }
}

/// `le`/`quantile` values: Go float syntax, `+Inf` included.
fn parse_bound(v: &str) -> Option<f64> {
    super::lex::parse_float(v, true)
        .ok()
        .filter(|f| !f.is_nan())
}

/// Source: OpenMetrics 1.0 Info ("value MUST always be 1") and StateSet ("value MUST be 1 or
/// 0", "MUST have a label with the MetricFamily name").
fn info_and_stateset(body: &ParsedBody<'_>, out: &mut Vec<ParseError>) {
    for s in &body.samples {
        let Some(fam) = s.family.and_then(|f| body.families.get(f as usize)) else {
            continue;
        };
        match fam.kind {
            MetricType::Info if s.value != 1.0 => {
                push(
                    out,
                    s.line,
                    format!(
                        "info sample `{}` is {}; info values must be 1",
                        s.name, s.value
                    ),
                );
            }
            MetricType::StateSet => {
                if s.value != 0.0 && s.value != 1.0 {
                    push(
                        out,
                        s.line,
                        format!(
                            "stateset sample `{}` is {}; states are 0 or 1",
                            s.name, s.value
                        ),
                    );
                }
                if !body.labels_of(s).iter().any(|l| l.name == fam.name) {
                    push(
                        out,
                        s.line,
                        format!(
                            "stateset sample `{}` has no `{}` label naming its state",
                            s.name, fam.name
                        ),
                    );
                }
            }
            _ => {}
        }
    }
}

/// Source: Prometheus exposition_formats.md ("all lines for a given metric must be provided as
/// one single group"). A 0.0.4 sample that belongs to a family declared elsewhere.
fn grouping(body: &ParsedBody<'_>, opened: &[Opened<'_>], out: &mut Vec<ParseError>) {
    let declared: HashMap<&str, (u32, MetricType)> = opened
        .iter()
        .filter_map(|o| {
            let f = body.families.get(o.declared? as usize)?;
            Some((o.name, (o.line, f.kind)))
        })
        .collect();
    for s in &body.samples {
        if s.family.is_some() {
            continue;
        }
        let home = declared.iter().find(|(name, (_, kind))| {
            s.name
                .strip_prefix(**name)
                .is_some_and(|sfx| suffixes(*kind, Format::Prometheus004).contains(&sfx))
        });
        if let Some((name, (line, _))) = home {
            push(
                out,
                s.line,
                format!(
                    "sample `{}` belongs to `{name}` (declared at line {line}) but is not grouped \
                     with it; all lines of a metric must be contiguous",
                    s.name
                ),
            );
        }
    }
}
