//! The line grammar of both formats and family bookkeeping, shared by `parse` (stop at the first
//! error) and `lint` (record every error and keep going). No semantic checks beyond the grammar.

use std::borrow::Cow;

use super::lex::{Cursor, parse_float, parse_ms, parse_om_ts, same_bytes, unescape_help};
use super::{Family, Format, Label, MetricType, ParseError, ParsedBody, SampleRec};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The family whose lines are being read. `idx` is `None` for a run of samples that no
/// metadata covered (0.0.4 untyped, or an OpenMetrics implicit `unknown` family).
struct Current<'a> {
    name: &'a str,
    idx: Option<u32>,
    has_type: bool,
    has_help: bool,
    has_unit: bool,
    has_samples: bool,
}

/// Where a family was first opened; a name opened twice means metadata repeated or (in
/// OpenMetrics) families interleaved.
#[derive(Clone, Copy)]
pub(super) struct Opened<'a> {
    pub name: &'a str,
    pub line: u32,
    pub declared: Option<u32>,
}

enum Meta<'a> {
    Type(MetricType),
    Help(Cow<'a, str>),
    Unit(&'a str),
}

/// Marker: strict mode hit an error and must stop.
pub(super) struct Stop;

pub(super) struct Parser<'a> {
    format: Format,
    keep_going: bool,
    pub body: ParsedBody<'a>,
    pub errors: Vec<ParseError>,
    pub opened: Vec<Opened<'a>>,
    cur: Option<Current<'a>>,
    eof_line: Option<u32>,
}

impl<'a> Parser<'a> {
    pub fn new(format: Format, input: &[u8], keep_going: bool) -> Self {
        // Sized from a newline count (one SIMD pass, far cheaper than regrowing): a sample is
        // one line, so `lines` never regrows `samples`; a family costs at least a metadata
        // line and usually two or three, and label sets average under two labels per line
        // in exporter bodies, so those rarely regrow either.
        let lines = memchr::memchr_iter(b'\n', input).count() + 1;
        let body = ParsedBody {
            samples: Vec::with_capacity(lines),
            labels: Vec::with_capacity(lines),
            families: Vec::with_capacity(lines / 2 + 1),
        };
        Parser {
            format,
            keep_going,
            body,
            errors: Vec::new(),
            opened: Vec::with_capacity(lines / 2 + 1),
            cur: None,
            eof_line: None,
        }
    }

    fn om(&self) -> bool {
        self.format == Format::OpenMetrics1
    }

    fn fail(&mut self, line: u32, message: String) -> Result<(), Stop> {
        self.errors.push(ParseError { line, message });
        if self.keep_going { Ok(()) } else { Err(Stop) }
    }

    pub fn run(&mut self, input: &'a [u8]) -> Result<(), Stop> {
        if input.starts_with(BOM) {
            self.fail(
                1,
                "body starts with a UTF-8 byte order mark, which the format does not allow"
                    .to_string(),
            )?;
        }
        // One validation pass for the whole body is much cheaper than one per line; the
        // per-line check only runs when the body is invalid, to name the bad line.
        let whole = std::str::from_utf8(input).ok();
        let mut pos = 0usize;
        let mut line_no: u32 = 0;
        while pos < input.len() {
            line_no = line_no.saturating_add(1);
            let start = pos;
            let tail = input.get(pos..).unwrap_or(&[]);
            let (end, had_newline) = match memchr::memchr(b'\n', tail) {
                Some(i) => (pos + i, true),
                None => (input.len(), false),
            };
            pos = end + 1;
            let line = input.get(start..end).unwrap_or(&[]);
            if let Some(eof) = self.eof_line {
                // Stop here even in lint mode: after `# EOF` nothing is part of the body.
                self.fail(
                    line_no,
                    format!("unexpected data after `# EOF` (line {eof}); nothing may follow it"),
                )?;
                break;
            }
            let line = if line_no == 1 {
                line.strip_prefix(BOM).unwrap_or(line)
            } else {
                line
            };
            let fast = whole.and_then(|w| w.get(end - line.len()..end));
            let text = match fast.map_or_else(|| std::str::from_utf8(line), Ok) {
                Ok(t) => t,
                Err(e) => {
                    self.fail(
                        line_no,
                        format!(
                            "invalid UTF-8 at byte {} of the line; bodies must be UTF-8",
                            e.valid_up_to() + 1
                        ),
                    )?;
                    continue;
                }
            };
            // A missing final newline almost always means the connection was cut mid-line, so
            // the last value may be a truncated number ("12" of "1234"). Prometheus rejects
            // it for the same reason; we do too rather than ingest a silently wrong value.
            if !had_newline && !self.om() {
                self.fail(
                    line_no,
                    "last line does not end with a newline (truncated body?)".to_string(),
                )?;
            }
            if let Err(message) = self.line(text, line_no) {
                self.fail(line_no, message)?;
            }
        }
        if self.om() && self.eof_line.is_none() {
            self.fail(
                0,
                "missing `# EOF` at the end of the body (OpenMetrics requires it; truncated body?)"
                    .to_string(),
            )?;
        }
        self.check_reopened()
    }

    /// A family name opened twice: repeated metadata (0.0.4 allows one HELP and one TYPE
    /// per name) or, in OpenMetrics, a family that resumes after another one (interleaving).
    fn check_reopened(&mut self) -> Result<(), Stop> {
        if self.opened.len() < 2 {
            return Ok(());
        }
        let mut found = Vec::new();
        // Open addressing over indexes into `opened`: one allocation, and names are hashed
        // once, which is cheaper than sorting them (they share long prefixes like `node_`).
        let slots = (self.opened.len() * 2).next_power_of_two();
        let mask = slots - 1;
        let mut table = vec![u32::MAX; slots];
        for (i, o) in self.opened.iter().enumerate() {
            let mut at = (hash(o.name) as usize) & mask;
            while let Some(slot) = table.get_mut(at) {
                if *slot == u32::MAX {
                    *slot = u32::try_from(i).unwrap_or(u32::MAX);
                    break;
                }
                if let Some(first) = self.opened.get(*slot as usize)
                    && same(first.name, o.name)
                {
                    if self.keep_going || !self.kinds_differ(first, o) {
                        found.push((*first, *o));
                    }
                    break;
                }
                at = (at + 1) & mask;
            }
        }
        found.sort_by_key(|(_, b)| b.line);
        for (a, b) in found {
            let msg = if self.kinds_differ(&a, &b) {
                // client_golang writes a gauge `x` and a counter `x_total` as two OpenMetrics
                // families named `x`; Prometheus ingests that, so only lint reports it (strict
                // mode never collected the pair).
                format!(
                    "family name `{}` is used twice (first at line {}); OpenMetrics family \
                     names must be unique (client_golang does this for a gauge `{0}` next \
                     to a counter `{0}_total`)",
                    b.name, a.line
                )
            } else if self.om() {
                format!(
                    "family `{}` resumes after other families (first seen at line {}); \
                     OpenMetrics families must not interleave and metadata must come first",
                    b.name, a.line
                )
            } else {
                format!(
                    "second metadata block for `{}` (first at line {}); HELP and TYPE may \
                     appear once per metric, before its samples",
                    b.name, a.line
                )
            };
            self.fail(b.line, msg)?;
        }
        Ok(())
    }

    /// The current family's name when it came from metadata, where it was read with
    /// `metric_name` and so is a legacy name (a sample run's name may be a quoted one).
    fn known_name(&self) -> &'a str {
        match &self.cur {
            Some(c) if c.idx.is_some() => c.name,
            _ => "",
        }
    }

    /// Two OpenMetrics families of one name with different declared types.
    fn kinds_differ(&self, a: &Opened<'_>, b: &Opened<'_>) -> bool {
        let kind = |o: &Opened<'_>| {
            o.declared
                .and_then(|i| self.body.families.get(i as usize))
                .map(|f| f.kind)
        };
        self.om() && kind(a).is_some() && kind(b).is_some() && kind(a) != kind(b)
    }

    fn line(&mut self, text: &'a str, line: u32) -> Result<(), String> {
        if text.ends_with('\r') {
            return Err(
                "line ends with a carriage return; lines must end with \\n only (no CRLF)"
                    .to_string(),
            );
        }
        if self.om() {
            if text.starts_with('#') {
                self.om_comment(text, line)
            } else if text.is_empty() {
                Err("empty line; OpenMetrics does not allow blank lines".to_string())
            } else {
                self.sample(text, line)
            }
        } else {
            let mut c = Cursor::new(text);
            c.skip_blanks();
            match c.peek() {
                None => Ok(()),
                Some(b'#') => self.prom_comment(c, line),
                Some(_) => self.sample(c.rest(), line),
            }
        }
    }

    fn prom_comment(&mut self, mut c: Cursor<'a>, line: u32) -> Result<(), String> {
        // The usual spelling skips the general keyword scan; both leave the cursor on the
        // blank after the keyword.
        let keyword = match c.rest().as_bytes().get(..7) {
            Some(b"# HELP ") => {
                c.i += 6;
                "HELP"
            }
            Some(b"# TYPE ") => {
                c.i += 6;
                "TYPE"
            }
            _ => {
                c.i += 1; // '#'
                c.skip_blanks();
                c.token(true)
            }
        };
        let is_help = keyword == "HELP";
        if !is_help && keyword != "TYPE" {
            return Ok(()); // any other comment is ignored in 0.0.4
        }
        c.skip_blanks();
        let name = c.metric_name_after(self.known_name()).ok_or_else(|| {
            format!(
                "expected metric name after `# {keyword}`, found {}",
                c.found()
            )
        })?;
        let blank = c.skip_blanks();
        if !c.at_end() && !blank {
            return Err(format!(
                "invalid metric name in `# {keyword}`: unexpected {} after `{name}`",
                c.found()
            ));
        }
        if is_help {
            let help = unescape_help(c.rest(), false);
            return self.meta(name, Meta::Help(help), line);
        }
        let word = c.token(true);
        c.skip_blanks();
        if !c.at_end() {
            return Err(format!(
                "unexpected {} after the type in `# TYPE {name}`",
                c.found()
            ));
        }
        let kind = match word {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "summary" => MetricType::Summary,
            "untyped" => MetricType::Unknown,
            "" => return Err(format!("expected a type after `# TYPE {name}`")),
            other => {
                return Err(format!(
                    "unknown metric type `{other}`; text 0.0.4 accepts counter, gauge, \
                     histogram, summary, untyped"
                ));
            }
        };
        self.meta(name, Meta::Type(kind), line)
    }

    fn om_comment(&mut self, text: &'a str, line: u32) -> Result<(), String> {
        if text == "# EOF" {
            self.eof_line = Some(line);
            return Ok(());
        }
        let (keyword, after) = match text.get(..7).zip(text.get(7..)) {
            Some((k @ ("# TYPE " | "# HELP " | "# UNIT "), after)) => (k, after),
            _ => {
                let shown: String = text.chars().take(24).collect();
                return Err(format!(
                    "OpenMetrics allows only `# TYPE`, `# HELP`, `# UNIT` and `# EOF` lines \
                     starting with #, found `{shown}`"
                ));
            }
        };
        let keyword = keyword.trim();
        let mut c = Cursor::new(after);
        let name = c.metric_name_after(self.known_name()).ok_or_else(|| {
            format!(
                "expected metric name after `{keyword}`, found {}",
                c.found()
            )
        })?;
        if !c.eat(b' ') {
            return Err(format!(
                "expected a single space after `{keyword} {name}`, found {}",
                c.found()
            ));
        }
        let value = c.rest();
        let meta = match keyword {
            "# TYPE" => Meta::Type(match value {
                "counter" => MetricType::Counter,
                "gauge" => MetricType::Gauge,
                "histogram" => MetricType::Histogram,
                "gaugehistogram" => MetricType::GaugeHistogram,
                "summary" => MetricType::Summary,
                "info" => MetricType::Info,
                "stateset" => MetricType::StateSet,
                "unknown" => MetricType::Unknown,
                other => {
                    return Err(format!(
                        "unknown metric type `{other}`; OpenMetrics accepts counter, gauge, \
                         histogram, gaugehistogram, summary, info, stateset, unknown"
                    ));
                }
            }),
            "# HELP" => {
                check_om_escaped(value)?;
                Meta::Help(unescape_help(value, true))
            }
            _ => {
                if let Some(bad) = value
                    .chars()
                    .find(|ch| !(ch.is_ascii_alphanumeric() || *ch == '_' || *ch == ':'))
                {
                    return Err(format!(
                        "unexpected `{bad}` in unit; a unit is made of name characters"
                    ));
                }
                let suffix_ok = name
                    .strip_suffix(value)
                    .is_some_and(|head| head.ends_with('_'));
                if !value.is_empty() && !suffix_ok {
                    return Err(format!(
                        "unit `{value}` is not a suffix of the family name `{name}` \
                         (expected a name ending in `_{value}`)"
                    ));
                }
                Meta::Unit(value)
            }
        };
        self.meta(name, meta, line)
    }

    fn meta(&mut self, name: &'a str, meta: Meta<'a>, line: u32) -> Result<(), String> {
        let same = self
            .cur
            .as_ref()
            .is_some_and(|c| c.idx.is_some() && same(c.name, name) && !c.has_samples);
        if !same {
            let idx = u32::try_from(self.body.families.len())
                .map_err(|_| "too many metric families".to_string())?;
            self.body.families.push(Family {
                name,
                kind: MetricType::Unknown,
                help: None,
                unit: None,
            });
            self.opened.push(Opened {
                name,
                line,
                declared: Some(idx),
            });
            self.cur = Some(Current {
                name,
                idx: Some(idx),
                has_type: false,
                has_help: false,
                has_unit: false,
                has_samples: false,
            });
        }
        let Some(cur) = self.cur.as_mut() else {
            return Err("internal: no current family".to_string());
        };
        let Some(fam) = cur.idx.and_then(|i| self.body.families.get_mut(i as usize)) else {
            return Err("internal: no current family".to_string());
        };
        let (what, seen) = match &meta {
            Meta::Type(_) => ("TYPE", &mut cur.has_type),
            Meta::Help(_) => ("HELP", &mut cur.has_help),
            Meta::Unit(_) => ("UNIT", &mut cur.has_unit),
        };
        if *seen {
            return Err(format!("second `# {what}` line for `{name}`"));
        }
        *seen = true;
        match meta {
            Meta::Type(kind) => fam.kind = kind,
            // An empty HELP or UNIT counts as absent (OpenMetrics says so explicitly; an
            // empty 0.0.4 HELP carries no information either).
            Meta::Help(h) => fam.help = (!h.is_empty()).then_some(h),
            Meta::Unit(u) => fam.unit = (!u.is_empty()).then_some(u),
        }
        Ok(())
    }

    fn sample(&mut self, text: &'a str, line: u32) -> Result<(), String> {
        let labels_start = self.body.labels.len();
        let res = self.sample_inner(text, line, labels_start);
        if res.is_err() {
            // Lint mode keeps going: drop the half-read labels of the bad line.
            self.body.labels.truncate(labels_start);
        }
        res
    }

    fn sample_inner(
        &mut self,
        text: &'a str,
        line: u32,
        labels_start: usize,
    ) -> Result<(), String> {
        let om = self.om();
        let mut c = Cursor::new(text);
        let mut name = c.metric_name_after(self.known_name());
        if name.is_none() && (om || c.peek() != Some(b'{')) {
            return Err(format!("expected metric name, found {}", c.found()));
        }
        // 0.0.4 allows blanks between the name and its labels (Go expfmt skips them).
        let name_end = c.i;
        if !om && name.is_some() {
            c.skip_blanks();
        }
        let had_labels = c.peek() == Some(b'{');
        if !had_labels {
            c.i = name_end;
        }
        if had_labels {
            let quoted = self.labels(&mut c, !om)?;
            match (name, quoted) {
                (None, Some(q)) => name = Some(q),
                (Some(_), Some(_)) => {
                    return Err(
                        "metric name given twice (before and inside the braces)".to_string()
                    );
                }
                _ => {}
            }
        }
        let Some(name) = name else {
            return Err("expected metric name, found `{`".to_string());
        };
        let labels_end = self.body.labels.len();
        let (value, timestamp, exemplar) = if om {
            c.expect(b' ', "a single space before the value")?;
            if c.peek() == Some(b' ') {
                return Err("expected a single space before the value, found more".to_string());
            }
            let value = parse_float(c.token(false), true)?;
            let mut ts = None;
            let mut exemplar = false;
            if !c.at_end() {
                c.expect(b' ', "end of line or a single space")?;
                if c.rest().starts_with('#') {
                    exemplar = true;
                } else {
                    ts = Some(parse_om_ts(c.token(false))?);
                    if !c.at_end() {
                        c.expect(b' ', "end of line or a single space")?;
                        exemplar = true;
                    }
                }
            }
            if exemplar {
                self.exemplar(&mut c)?;
                self.body.labels.truncate(labels_end);
            }
            (value, ts, exemplar)
        } else {
            let blank = c.skip_blanks();
            if !blank && !c.at_end() && !had_labels {
                return Err(format!("unexpected {} after the metric name", c.found()));
            }
            let value = parse_float(c.token(true), true)?;
            let blank = c.skip_blanks();
            let mut ts = None;
            if !c.at_end() {
                if !blank {
                    return Err(format!("unexpected {} after the value", c.found()));
                }
                ts = Some(parse_ms(c.token(true))?);
                c.skip_blanks();
                if !c.at_end() {
                    return Err(format!(
                        "unexpected {} after the timestamp; expected end of line",
                        c.found()
                    ));
                }
            }
            (value, ts, false)
        };
        let family = self.resolve(name, line)?;
        if exemplar {
            let ok = family
                .and_then(|f| self.body.families.get(f as usize))
                .is_some_and(|f| {
                    let suffix = name.get(f.name.len()..).unwrap_or("");
                    matches!(
                        (f.kind, suffix),
                        (MetricType::Counter, "_total")
                            | (
                                MetricType::Histogram | MetricType::GaugeHistogram,
                                "_bucket"
                            )
                    )
                });
            if !ok {
                return Err(format!(
                    "exemplar on `{name}`; exemplars are only allowed on counter `_total` and \
                     histogram `_bucket` samples"
                ));
            }
        }
        let (Ok(ls), Ok(le)) = (u32::try_from(labels_start), u32::try_from(labels_end)) else {
            return Err("too many labels in one body".to_string());
        };
        self.body.samples.push(SampleRec {
            name,
            labels: ls..le,
            value,
            timestamp,
            family,
            line,
        });
        Ok(())
    }

    /// ` # {labels} value [timestamp]` after a sample; validated and then dropped.
    fn exemplar(&mut self, c: &mut Cursor<'a>) -> Result<(), String> {
        c.expect(b'#', "`#` starting an exemplar")?;
        c.expect(b' ', "a single space after the exemplar `#`")?;
        if c.peek() != Some(b'{') {
            return Err(format!(
                "expected exemplar labels in braces, found {}",
                c.found()
            ));
        }
        let start = self.body.labels.len();
        self.labels(c, false)?;
        let size: usize = self
            .body
            .labels
            .get(start..)
            .unwrap_or(&[])
            .iter()
            .map(|l| l.name.chars().count() + l.value.chars().count())
            .sum();
        if size > 128 {
            return Err(format!(
                "exemplar labels are {size} characters long; OpenMetrics allows at most 128"
            ));
        }
        c.expect(b' ', "a single space before the exemplar value")?;
        parse_float(c.token(false), true).map_err(|e| format!("exemplar value: {e}"))?;
        if !c.at_end() {
            c.expect(b' ', "end of line or a single space")?;
            parse_om_ts(c.token(false)).map_err(|e| format!("exemplar {e}"))?;
            if !c.at_end() {
                return Err(format!("unexpected {} after the exemplar", c.found()));
            }
        }
        Ok(())
    }

    /// Reads `{...}` into `body.labels`. `lenient` is the 0.0.4 flavour: blanks anywhere, a
    /// trailing comma, and Prometheus 3 quoted names (`{"my.metric", "a.b"="c"}`), whose
    /// metric name is returned.
    fn labels(&mut self, c: &mut Cursor<'a>, lenient: bool) -> Result<Option<&'a str>, String> {
        c.i += 1; // '{'
        let start = self.body.labels.len();
        let mut quoted_name = None;
        let mut first = true;
        loop {
            if lenient {
                c.skip_blanks();
            }
            if c.peek() == Some(b'}') {
                if !lenient && !first {
                    return Err(
                        "trailing comma in label set; OpenMetrics does not allow it".to_string()
                    );
                }
                c.i += 1;
                return Ok(quoted_name);
            }
            let was_quoted = lenient && c.peek() == Some(b'"');
            let lname = if was_quoted {
                c.i += 1;
                match c.quoted()? {
                    Cow::Borrowed(s) if !s.is_empty() => s,
                    _ => {
                        return Err(
                            "quoted names must be non-empty and without escapes".to_string()
                        );
                    }
                }
            } else {
                c.label_name()
                    .ok_or_else(|| format!("expected label name, found {}", c.found()))?
            };
            if lenient {
                c.skip_blanks();
            }
            let is_metric_name =
                first && lenient && was_quoted && matches!(c.peek(), Some(b',' | b'}'));
            first = false;
            if is_metric_name {
                quoted_name = Some(lname);
            } else {
                if !c.eat(b'=') {
                    return Err(format!(
                        "expected `=` after label name `{lname}`, found {}",
                        c.found()
                    ));
                }
                if lenient {
                    c.skip_blanks();
                }
                if !c.eat(b'"') {
                    return Err(format!(
                        "expected label value in quotes, found {}",
                        c.found()
                    ));
                }
                let value = c.quoted()?;
                let set = self.body.labels.get(start..).unwrap_or(&[]);
                if set.iter().any(|l| same(l.name, lname)) {
                    return Err(format!("label `{lname}` appears twice in one label set"));
                }
                self.body.labels.push(Label { name: lname, value });
                if lenient {
                    c.skip_blanks();
                }
            }
            if c.eat(b',') {
                continue;
            }
            if c.eat(b'}') {
                return Ok(quoted_name);
            }
            return Err(format!(
                "expected `,` or `}}` after a label, found {}",
                c.found()
            ));
        }
    }

    /// Links a sample to the family being read, if its name fits that family's suffixes;
    /// otherwise the sample starts a run of its own (an implicit `unknown` family).
    fn resolve(&mut self, name: &'a str, line: u32) -> Result<Option<u32>, String> {
        let format = self.format;
        if let Some(cur) = self.cur.as_mut() {
            match cur.idx {
                None if same(cur.name, name) => return Ok(None),
                Some(idx) => {
                    let kind = self
                        .body
                        .families
                        .get(idx as usize)
                        .map_or(MetricType::Unknown, |f| f.kind);
                    let fits = name.len() >= cur.name.len()
                        && name
                            .as_bytes()
                            .split_at_checked(cur.name.len())
                            .is_some_and(|(head, suffix)| {
                                same_bytes(head, cur.name.as_bytes())
                                    && owns_suffix(kind, format, suffix)
                            });
                    if fits {
                        cur.has_samples = true;
                        return Ok(Some(idx));
                    }
                    if format == Format::OpenMetrics1 && name == cur.name {
                        return Err(format!(
                            "sample `{name}` does not fit the {} family `{name}`; expected \
                             one of: {}",
                            type_word(kind),
                            suffixes(kind, format)
                                .iter()
                                .map(|s| format!("{name}{s}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                }
                None => {}
            }
        }
        self.cur = Some(Current {
            name,
            idx: None,
            has_type: false,
            has_help: false,
            has_unit: false,
            has_samples: true,
        });
        if format == Format::OpenMetrics1 {
            self.opened.push(Opened {
                name,
                line,
                declared: None,
            });
        }
        Ok(None)
    }
}

/// Sample-name suffixes a family of this type owns. 0.0.4 counters are usually declared under
/// their full `_total` name, so there the bare name is accepted too.
pub(super) fn suffixes(kind: MetricType, format: Format) -> &'static [&'static str] {
    match (kind, format) {
        (MetricType::Counter, Format::Prometheus004) => &["", "_total", "_created"],
        (MetricType::Counter, Format::OpenMetrics1) => &["_total", "_created"],
        (MetricType::Gauge | MetricType::Unknown | MetricType::StateSet, _) => &[""],
        (MetricType::Histogram, _) => &["_bucket", "_count", "_sum", "_created"],
        (MetricType::GaugeHistogram, _) => &["_bucket", "_gcount", "_gsum"],
        (MetricType::Summary, _) => &["", "_count", "_sum", "_created"],
        (MetricType::Info, _) => &["_info"],
    }
}

pub(super) fn type_word(kind: MetricType) -> &'static str {
    match kind {
        MetricType::Counter => "counter",
        MetricType::Gauge => "gauge",
        MetricType::Histogram => "histogram",
        MetricType::GaugeHistogram => "gaugehistogram",
        MetricType::Summary => "summary",
        MetricType::Info => "info",
        MetricType::StateSet => "stateset",
        MetricType::Unknown => "unknown",
    }
}

/// `suffixes(kind, format).contains(suffix)` without a libc `memcmp` call per candidate: this
/// runs once per sample, and matching on literals compiles to a length switch and one load.
fn owns_suffix(kind: MetricType, format: Format, suffix: &[u8]) -> bool {
    match (kind, suffix) {
        (MetricType::Counter, b"") => format == Format::Prometheus004,
        (MetricType::Counter, b"_total" | b"_created") => true,
        (MetricType::Gauge | MetricType::Unknown | MetricType::StateSet, b"") => true,
        (MetricType::Histogram, b"_bucket" | b"_count" | b"_sum" | b"_created") => true,
        (MetricType::GaugeHistogram, b"_bucket" | b"_gcount" | b"_gsum") => true,
        (MetricType::Summary, b"" | b"_count" | b"_sum" | b"_created") => true,
        (MetricType::Info, b"_info") => true,
        _ => false,
    }
}

fn same(a: &str, b: &str) -> bool {
    same_bytes(a.as_bytes(), b.as_bytes())
}

/// Multiply-rotate over eight bytes at a time (byte-wise FNV-1a showed up in profiles: names
/// run 20-40 bytes). Only the table's probe lengths depend on its quality, never the result.
fn hash(s: &str) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mix = |h: u64, w: u64| (h.rotate_left(23) ^ w).wrapping_mul(K);
    let mut h = s.len() as u64;
    let mut b = s.as_bytes();
    while let Some((w, t)) = b.split_first_chunk::<8>() {
        h = mix(h, u64::from_le_bytes(*w));
        b = t;
    }
    let mut last = [0u8; 8];
    for (d, s) in last.iter_mut().zip(b) {
        *d = *s;
    }
    h = mix(h, u64::from_le_bytes(last));
    h ^ (h >> 29)
}

/// OpenMetrics `escaped-string`: a bare `"` is not a `normal-char`, it must be written `\"`.
fn check_om_escaped(s: &str) -> Result<(), String> {
    // Almost no HELP text holds a quote; a SIMD search beats walking every char for it.
    if memchr::memchr(b'"', s.as_bytes()).is_none() {
        return Ok(());
    }
    let mut escaped = false;
    for ch in s.chars() {
        match (escaped, ch) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '"') => {
                return Err("unescaped `\"` in HELP text; OpenMetrics wants `\\\"`".to_string());
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [MetricType; 8] = [
        MetricType::Counter,
        MetricType::Gauge,
        MetricType::Histogram,
        MetricType::GaugeHistogram,
        MetricType::Summary,
        MetricType::Info,
        MetricType::StateSet,
        MetricType::Unknown,
    ];

    #[test]
    fn owns_suffix_agrees_with_suffixes() {
        let candidates = [
            "",
            "_total",
            "_created",
            "_bucket",
            "_count",
            "_sum",
            "_gcount",
            "_gsum",
            "_info",
            "_tota",
            "_totals",
            "total",
            "_",
            "_bucket_sum",
        ];
        for kind in KINDS {
            for format in [Format::Prometheus004, Format::OpenMetrics1] {
                for c in candidates {
                    assert_eq!(
                        owns_suffix(kind, format, c.as_bytes()),
                        suffixes(kind, format).contains(&c),
                        "{kind:?} {format:?} {c:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn same_bytes_is_equality() {
        let words = [
            "",
            "a",
            "ab",
            "node_cpu",
            "node_cpu_seconds_total",
            "node_cpu_seconds_totaL",
            "Node_cpu_seconds_total",
            "node_cpu_",
            "12345678",
            "123456789",
            "12345679",
        ];
        for a in words {
            for b in words {
                assert_eq!(same(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }
}
