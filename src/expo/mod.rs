//! Exposition text parsing: Prometheus text 0.0.4 and OpenMetrics 1.0, strict and zero-copy,
//! plus `lint`. Pure functions over bytes: must not do network I/O or know about the engine.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use crate::model::Millis;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4 (timestamps in integer milliseconds).
    Prometheus004,
    /// OpenMetrics 1.0 (timestamps in float seconds, `# EOF` required).
    OpenMetrics1,
}

impl Format {
    /// Pick the format from a Content-Type header; `None` or an unknown type falls back to
    /// 0.0.4 (the caller shows the warning string).
    pub fn from_content_type(content_type: Option<&str>) -> (Format, Option<String>) {
        match content_type {
            None => (
                Format::Prometheus004,
                Some("content-type missing; parsed as text 0.0.4".to_string()),
            ),
            Some(ct) => match Format::sniff(ct) {
                Some(f) => (f, None),
                None => (
                    Format::Prometheus004,
                    Some(format!(
                        "content-type `{}` is not a text exposition format; parsed as text 0.0.4",
                        ct.trim()
                    )),
                ),
            },
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    /// `untyped` (0.0.4) or `unknown` (OpenMetrics), and samples with no TYPE line.
    Unknown,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Label<'a> {
    pub name: &'a str,
    /// Borrowed unless the value held an escape.
    pub value: Cow<'a, str>,
}

/// One metric family's metadata, in the order the body declared it.
#[derive(Clone, Debug, PartialEq)]
pub struct Family<'a> {
    pub name: &'a str,
    pub kind: MetricType,
    pub help: Option<Cow<'a, str>>,
    pub unit: Option<&'a str>,
}

/// A sample as parsed. Labels are `labels` indexes into `ParsedBody::labels`, in body order.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleRec<'a> {
    pub name: &'a str,
    pub labels: Range<u32>,
    pub value: f64,
    pub timestamp: Option<Millis>,
    /// Index into `ParsedBody::families`, if a TYPE/HELP line covered this sample.
    pub family: Option<u32>,
    /// 1-based line number in the body.
    pub line: u32,
}

/// A fully parsed and validated body. All of it is valid, or `parse` returned an error.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParsedBody<'a> {
    pub samples: Vec<SampleRec<'a>>,
    pub labels: Vec<Label<'a>>,
    pub families: Vec<Family<'a>>,
}

impl<'a> ParsedBody<'a> {
    pub fn labels_of(&self, s: &SampleRec<'a>) -> &[Label<'a>] {
        &self.labels[s.labels.start as usize..s.labels.end as usize]
    }
    pub fn kind_of(&self, s: &SampleRec<'a>) -> MetricType {
        s.family
            .map(|f| self.families[f as usize].kind)
            .unwrap_or(MetricType::Unknown)
    }
}

/// The first problem that made a body invalid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based; 0 when the problem is about the body as a whole (e.g. missing `# EOF`).
    pub line: u32,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for ParseError {}

mod lex;
mod lint;
mod parse;

impl Format {
    fn sniff(content_type: &str) -> Option<Format> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case("application/openmetrics-text") {
            Some(Format::OpenMetrics1)
        } else if media.eq_ignore_ascii_case("text/plain") {
            Some(Format::Prometheus004)
        } else {
            None
        }
    }
}

/// Parse a whole body. Any invalid line fails the whole body (nothing is half-ingested).
pub fn parse(input: &[u8], format: Format) -> Result<ParsedBody<'_>, ParseError> {
    let mut p = parse::Parser::new(format, input, false);
    match p.run(input) {
        Ok(()) if p.errors.is_empty() => Ok(p.body),
        _ => Err(p.errors.into_iter().next().unwrap_or(ParseError {
            line: 0,
            message: "body rejected".to_string(),
        })),
    }
}

/// Every problem in a body, parse errors and lint findings alike, like `promtool check metrics`.
pub fn lint(input: &[u8], format: Format) -> Vec<ParseError> {
    let mut p = parse::Parser::new(format, input, true);
    // Lint mode never stops early, so the result carries no information.
    let _ = p.run(input);
    let mut out = std::mem::take(&mut p.errors);
    lint::check(&p.body, &p.opened, format, &mut out);
    out.sort_by_key(|e| e.line);
    out
}
