//! promtool's rule unit-test format run as `promtool test rules` runs it (Prometheus 2.42):
//! `rule_files`, `evaluation_interval`, `group_eval_order`, test groups with `input_series` in
//! the expanding notation (`1+2x3`, `_`, `stale`), `alert_rule_test`, `promql_expr_test`,
//! `external_labels`/`external_url`; its verdicts and its exp/got report. Files arrive through a
//! loader the caller gives; nothing here touches the disk or a clock.

use std::collections::{BTreeMap, HashMap};

use promql_parser::label::MatchOp;
use promql_parser::parser::Expr as PExpr;

use crate::promql::{self, EvalOptions, Labels, MemSource, STALE_NAN, Value};
use crate::yaml::{self, Node};

use super::duration::{format_duration, parse_duration};
use super::eval::{AlertState, EvalContext, GroupState};
use super::file::{Problem, RuleFile, parse_rule_file};
use super::template::go_float_e;

/// What one test file gave: its problems, each a block of promtool-style text.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileReport {
    pub file: String,
    pub errors: Vec<String>,
}

impl FileReport {
    pub fn passed(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Finds the rule files a test names: given a `rule_files` entry, returns the matching
/// files' names and contents. No match is an empty list (the loader warns, as promtool
/// does, and the test goes on); an unreadable file is an error.
pub type Loader<'a> = dyn FnMut(&str) -> Result<Vec<(String, String)>, String> + 'a;

struct Series {
    labels: Labels,
    values: String,
}

struct AlertCase {
    eval_time: i64,
    alertname: String,
    exp: Vec<(BTreeMap<String, String>, BTreeMap<String, String>)>,
}

struct ExprCase {
    expr: String,
    eval_time: i64,
    exp: Vec<(String, f64)>,
}

struct TestGroup {
    interval: i64,
    series: Vec<Series>,
    alerts: Vec<AlertCase>,
    exprs: Vec<ExprCase>,
    external_labels: Labels,
    external_url: String,
    name: String,
}

struct TestFile {
    rule_files: Vec<String>,
    evaluation_interval: i64,
    group_eval_order: Vec<String>,
    tests: Vec<TestGroup>,
}

/// Strict decoding in yaml.v2's manner: unknown fields and wrong types are errors, with the
/// line they are on.
struct Decoder {
    errors: Vec<String>,
}

impl Decoder {
    fn fail(&mut self, n: &Node, msg: String) {
        self.errors.push(format!("line {}: {msg}", n.pos.line));
    }

    fn fields<'n>(&mut self, n: &'n Node, ty: &str, allowed: &[&str]) -> Vec<(&'n str, &'n Node)> {
        if n.is_null() {
            return Vec::new();
        }
        let Some(m) = n.as_map() else {
            self.fail(n, format!("cannot unmarshal a {} into {ty}", n.kind_name()));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in m {
            match k.scalar() {
                Some(key) if allowed.contains(&key) => out.push((key, v)),
                Some(key) => self.fail(k, format!("field {key} not found in type {ty}")),
                None => self.fail(k, format!("a {} cannot be a key of {ty}", k.kind_name())),
            }
        }
        out
    }

    fn string(&mut self, n: &Node) -> String {
        if n.is_null() {
            return String::new();
        }
        match n.scalar() {
            Some(s) => s.to_string(),
            None => {
                self.fail(
                    n,
                    format!("cannot unmarshal a {} into string", n.kind_name()),
                );
                String::new()
            }
        }
    }

    fn duration(&mut self, n: &Node) -> i64 {
        let s = self.string(n);
        if s.is_empty() {
            return 0;
        }
        match parse_duration(&s) {
            Ok(ms) => ms,
            Err(e) => {
                self.fail(n, e);
                0
            }
        }
    }

    fn float(&mut self, n: &Node) -> f64 {
        if n.is_null() {
            return 0.0;
        }
        let text = n.scalar().unwrap_or("");
        let plain = matches!(&n.kind, yaml::Kind::Scalar { plain: true, .. });
        let v = match text {
            ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Some(f64::INFINITY),
            "-.inf" | "-.Inf" | "-.INF" => Some(f64::NEG_INFINITY),
            ".nan" | ".NaN" | ".NAN" => Some(f64::NAN),
            t if t
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-' | '_')) =>
            {
                t.replace('_', "").parse::<f64>().ok()
            }
            _ => None,
        };
        match v {
            Some(v) if plain => v,
            _ => {
                self.fail(n, format!("cannot unmarshal !!str `{text}` into float64"));
                0.0
            }
        }
    }

    fn strings(&mut self, n: &Node) -> Vec<String> {
        if n.is_null() {
            return Vec::new();
        }
        match n.as_seq() {
            Some(s) => s.iter().map(|x| self.string(x)).collect(),
            None => {
                self.fail(
                    n,
                    format!("cannot unmarshal a {} into []string", n.kind_name()),
                );
                Vec::new()
            }
        }
    }

    fn string_map(&mut self, n: &Node) -> BTreeMap<String, String> {
        if n.is_null() {
            return BTreeMap::new();
        }
        match n.as_map() {
            Some(m) => m
                .iter()
                .map(|(k, v)| (self.string(k), self.string(v)))
                .collect(),
            None => {
                self.fail(
                    n,
                    format!(
                        "cannot unmarshal a {} into map[string]string",
                        n.kind_name()
                    ),
                );
                BTreeMap::new()
            }
        }
    }

    fn seq<'n>(&mut self, n: &'n Node, ty: &str) -> &'n [Node] {
        if n.is_null() {
            return &[];
        }
        match n.as_seq() {
            Some(s) => s,
            None => {
                self.fail(
                    n,
                    format!("cannot unmarshal a {} into []{ty}", n.kind_name()),
                );
                &[]
            }
        }
    }

    fn file(&mut self, doc: &Node) -> TestFile {
        let mut f = TestFile {
            rule_files: Vec::new(),
            evaluation_interval: 0,
            group_eval_order: Vec::new(),
            tests: Vec::new(),
        };
        let allowed = [
            "rule_files",
            "evaluation_interval",
            "group_eval_order",
            "tests",
        ];
        for (k, v) in self.fields(doc, "main.unitTestFile", &allowed) {
            match k {
                "rule_files" => f.rule_files = self.strings(v),
                "evaluation_interval" => f.evaluation_interval = self.duration(v),
                "group_eval_order" => f.group_eval_order = self.strings(v),
                _ => {
                    for t in self.seq(v, "main.testGroup") {
                        let g = self.group(t);
                        f.tests.push(g);
                    }
                }
            }
        }
        f
    }

    fn group(&mut self, n: &Node) -> TestGroup {
        let mut g = TestGroup {
            interval: 0,
            series: Vec::new(),
            alerts: Vec::new(),
            exprs: Vec::new(),
            external_labels: Labels::default(),
            external_url: String::new(),
            name: String::new(),
        };
        let allowed = [
            "interval",
            "input_series",
            "alert_rule_test",
            "promql_expr_test",
            "external_labels",
            "external_url",
            "name",
        ];
        for (k, v) in self.fields(n, "main.testGroup", &allowed) {
            match k {
                "interval" => g.interval = self.duration(v),
                "input_series" => {
                    for s in self.seq(v, "main.series") {
                        let mut series = String::new();
                        let mut values = String::new();
                        for (k, v) in self.fields(s, "main.series", &["series", "values"]) {
                            if k == "series" {
                                series = self.string(v);
                            } else {
                                values = self.string(v);
                            }
                        }
                        match parse_metric(&series) {
                            Ok(labels) => g.series.push(Series { labels, values }),
                            Err(e) => self.fail(s, format!("series {series:?}: {e}")),
                        }
                    }
                }
                "alert_rule_test" => {
                    for a in self.seq(v, "main.alertTestCase") {
                        let mut case = AlertCase {
                            eval_time: 0,
                            alertname: String::new(),
                            exp: Vec::new(),
                        };
                        let allowed = ["eval_time", "alertname", "exp_alerts"];
                        for (k, v) in self.fields(a, "main.alertTestCase", &allowed) {
                            match k {
                                "eval_time" => case.eval_time = self.duration(v),
                                "alertname" => case.alertname = self.string(v),
                                _ => {
                                    for e in self.seq(v, "main.alert") {
                                        let mut labels = BTreeMap::new();
                                        let mut ann = BTreeMap::new();
                                        let allowed = ["exp_labels", "exp_annotations"];
                                        for (k, v) in self.fields(e, "main.alert", &allowed) {
                                            if k == "exp_labels" {
                                                labels = self.string_map(v);
                                            } else {
                                                ann = self.string_map(v);
                                            }
                                        }
                                        case.exp.push((labels, ann));
                                    }
                                }
                            }
                        }
                        g.alerts.push(case);
                    }
                }
                "promql_expr_test" => {
                    for p in self.seq(v, "main.promqlTestCase") {
                        let mut case = ExprCase {
                            expr: String::new(),
                            eval_time: 0,
                            exp: Vec::new(),
                        };
                        let allowed = ["expr", "eval_time", "exp_samples"];
                        for (k, v) in self.fields(p, "main.promqlTestCase", &allowed) {
                            match k {
                                "expr" => case.expr = self.string(v),
                                "eval_time" => case.eval_time = self.duration(v),
                                _ => {
                                    for s in self.seq(v, "main.sample") {
                                        let mut labels = String::new();
                                        let mut value = 0.0;
                                        for (k, v) in
                                            self.fields(s, "main.sample", &["labels", "value"])
                                        {
                                            if k == "labels" {
                                                labels = self.string(v);
                                            } else {
                                                value = self.float(v);
                                            }
                                        }
                                        case.exp.push((labels, value));
                                    }
                                }
                            }
                        }
                        g.exprs.push(case);
                    }
                }
                "external_labels" => {
                    let m = self.string_map(v);
                    g.external_labels =
                        Labels::new(m.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                }
                "external_url" => g.external_url = self.string(v),
                _ => g.name = self.string(v),
            }
        }
        g
    }
}

/// A metric as `name{label="value", …}` or `{__name__="…", …}`: only `=` matchers.
pub fn parse_metric(text: &str) -> Result<Labels, String> {
    if text.trim() == "{}" {
        return Ok(Labels::default());
    }
    let expr = promql_parser::parser::parse(text).map_err(|e| format!("1:1: parse error: {e}"))?;
    let PExpr::VectorSelector(vs) = expr else {
        return Err("not a series: expected name{label=\"value\", ...}".into());
    };
    if vs.offset.is_some() || vs.at.is_some() || !vs.matchers.or_matchers.is_empty() {
        return Err("not a series: expected name{label=\"value\", ...}".into());
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(n) = &vs.name {
        pairs.push(("__name__".into(), n.clone()));
    }
    for m in &vs.matchers.matchers {
        if !matches!(m.op, MatchOp::Equal) {
            return Err(format!("label {} must be matched with =", m.name));
        }
        pairs.push((m.name.clone(), m.value.clone()));
    }
    Ok(Labels::new(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    ))
}

#[derive(Clone, Debug, PartialEq)]
enum VTok {
    Space,
    Add,
    Sub,
    Times,
    Blank,
    Num(f64, String),
    Ident(String),
}

/// The expanding notation: `a`, `a+bxN` / `a-bxN` (N+1 values), `axN`, `_`, `_xN` (N gaps),
/// `stale`. Returns one entry per step, None for a gap.
pub fn parse_values(text: &str) -> Result<Vec<Option<f64>>, String> {
    let mut toks = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                while chars.get(i).is_some_and(|c| c.is_whitespace()) {
                    i += 1;
                }
                toks.push(VTok::Space);
                continue;
            }
            '+' => toks.push(VTok::Add),
            '-' => toks.push(VTok::Sub),
            'x' => toks.push(VTok::Times),
            '_' => toks.push(VTok::Blank),
            c if c.is_ascii_digit()
                || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let s = i;
                while chars.get(i).is_some_and(char::is_ascii_digit) {
                    i += 1;
                }
                if chars.get(i) == Some(&'.') {
                    i += 1;
                    while chars.get(i).is_some_and(char::is_ascii_digit) {
                        i += 1;
                    }
                }
                if chars.get(i).is_some_and(|c| *c == 'e' || *c == 'E') {
                    i += 1;
                    if chars.get(i).is_some_and(|c| *c == '+' || *c == '-') {
                        i += 1;
                    }
                    while chars.get(i).is_some_and(char::is_ascii_digit) {
                        i += 1;
                    }
                }
                if chars
                    .get(i)
                    .is_some_and(|c| *c != 'x' && (c.is_alphanumeric() || *c == '_'))
                {
                    return Err(format!(
                        "bad number syntax in series values at character {}",
                        i + 1
                    ));
                }
                let t: String = chars.get(s..i).unwrap_or_default().iter().collect();
                let v = t
                    .parse::<f64>()
                    .map_err(|_| format!("bad number {t:?} in series values"))?;
                toks.push(VTok::Num(v, t));
                continue;
            }
            c if c.is_alphabetic() => {
                let s = i;
                while chars
                    .get(i)
                    .is_some_and(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                {
                    i += 1;
                }
                let w: String = chars.get(s..i).unwrap_or_default().iter().collect();
                match w.to_ascii_lowercase().as_str() {
                    "inf" => toks.push(VTok::Num(f64::INFINITY, w)),
                    "nan" => toks.push(VTok::Num(f64::NAN, w)),
                    _ => toks.push(VTok::Ident(w)),
                }
                continue;
            }
            c => return Err(format!("unexpected character in series sequence: {c:?}")),
        }
        i += 1;
    }
    let mut out = Vec::new();
    for item in toks.split(|t| *t == VTok::Space).filter(|s| !s.is_empty()) {
        let uint = |t: Option<&VTok>| -> Result<u64, String> {
            match t {
                Some(VTok::Num(v, s))
                    if v.fract() == 0.0 && *v >= 0.0 && !s.contains(['.', 'e', 'E']) =>
                {
                    s.parse::<u64>()
                        .map_err(|_| format!("bad repetition count {s:?}"))
                }
                _ => Err("expected a whole number after x".into()),
            }
        };
        let value = |ts: &[VTok]| -> Result<(f64, usize), String> {
            match ts {
                [VTok::Ident(w), ..] if w == "stale" => Ok((STALE_NAN, 1)),
                [VTok::Ident(w), ..] => Err(format!(
                    "unexpected identifier {w:?} in series values, expected number or \"stale\""
                )),
                [VTok::Num(v, _), ..] => Ok((*v, 1)),
                [VTok::Add, VTok::Num(v, _), ..] => Ok((*v, 2)),
                [VTok::Sub, VTok::Num(v, _), ..] => Ok((-*v, 2)),
                _ => Err("unexpected token in series values".into()),
            }
        };
        if item.first() == Some(&VTok::Blank) {
            match item.len() {
                1 => out.push(None),
                3 if item.get(1) == Some(&VTok::Times) => {
                    let n = uint(item.get(2))?;
                    out.extend(std::iter::repeat_n(None, n as usize));
                }
                _ => return Err("unexpected token after _ in series values".into()),
            }
            continue;
        }
        let (start, used) = value(item)?;
        let rest = item.get(used..).unwrap_or_default();
        match rest {
            [] => out.push(Some(start)),
            [VTok::Times, n] => {
                let n = uint(Some(n))?;
                out.extend(std::iter::repeat_n(Some(start), n as usize + 1));
            }
            [
                sign @ (VTok::Add | VTok::Sub),
                VTok::Num(d, _),
                VTok::Times,
                n,
            ] => {
                let n = uint(Some(n))?;
                let d = if *sign == VTok::Sub { -*d } else { *d };
                let mut v = start;
                for _ in 0..=n {
                    out.push(Some(v));
                    v += d;
                }
            }
            _ => return Err("unexpected token in series values".into()),
        }
        if out.len() > 10_000_000 {
            return Err("series values expand to more than 10 million samples".into());
        }
    }
    Ok(out)
}

/// Go's `time.Duration.String()` of a whole number of milliseconds.
fn go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let neg = ms < 0;
    let ms = ms.unsigned_abs();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if ms < 1000 {
        out.push_str(&format!("{ms}ms"));
        return out;
    }
    let h = ms / 3_600_000;
    let m = ms / 60_000 % 60;
    let s = ms / 1000 % 60;
    let frac = ms % 1000;
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if frac == 0 {
        out.push_str(&format!("{s}s"));
    } else {
        let f = format!("{frac:03}");
        out.push_str(&format!("{s}.{}s", f.trim_end_matches('0')));
    }
    out
}

fn indent_lines(text: &str, indent: &str) -> String {
    text.split('\n')
        .collect::<Vec<_>>()
        .join(&format!("\n{indent}"))
}

/// Annotations print like labels, but an empty value still shows.
fn show_annotations(a: &[(String, String)]) -> String {
    let body: Vec<String> = a
        .iter()
        .map(|(k, v)| format!("{k}={}", promql::go_quote(v)))
        .collect();
    format!("{{{}}}", body.join(", "))
}

type Got = (Labels, Vec<(String, String)>);

fn show_alerts(list: &[Got]) -> String {
    if list.is_empty() {
        return "[]".into();
    }
    let mut s = String::from("[\n");
    for (i, (l, a)) in list.iter().enumerate() {
        if i > 0 {
            s.push_str(",\n");
        }
        let body = format!("\nLabels:{l}\nAnnotations:{}", show_annotations(a));
        s.push_str(&format!("{i}:{}", indent_lines(&body, "  ")));
    }
    s.push_str("\n]");
    s
}

/// Run one test file. `loader` finds the rule files its `rule_files` name.
pub fn run_test_file(file: &str, text: &str, loader: &mut Loader<'_>) -> FileReport {
    let mut report = FileReport {
        file: file.to_string(),
        ..FileReport::default()
    };
    let doc = match yaml::parse(text) {
        Ok(d) => d,
        Err(e) => {
            report
                .errors
                .push(format!("yaml: line {}: {}", e.pos.line, e.message));
            return report;
        }
    };
    let mut dec = Decoder { errors: Vec::new() };
    let mut tf = dec.file(&doc);
    if !dec.errors.is_empty() {
        report.errors.push(format!(
            "yaml: unmarshal errors:\n  {}",
            dec.errors.join("\n  ")
        ));
        return report;
    }
    if tf.evaluation_interval == 0 {
        tf.evaluation_interval = 60_000;
    }
    let mut order: HashMap<&str, usize> = HashMap::new();
    for (i, g) in tf.group_eval_order.iter().enumerate() {
        if order.insert(g.as_str(), i).is_some() {
            report
                .errors
                .push(format!("group name repeated in evaluation order: {g}"));
            return report;
        }
    }
    let mut rule_files: Vec<Result<RuleFile, Vec<Problem>>> = Vec::new();
    for pattern in &tf.rule_files {
        match loader(pattern) {
            Ok(found) => {
                for (name, text) in found {
                    rule_files.push(parse_rule_file(&name, &text));
                }
            }
            Err(e) => {
                report.errors.push(e);
                return report;
            }
        }
    }
    for tg in &tf.tests {
        report
            .errors
            .extend(run_group(tg, tf.evaluation_interval, &order, &rule_files));
    }
    report
}

fn run_group(
    tg: &TestGroup,
    eval_interval: i64,
    order: &HashMap<&str, usize>,
    files: &[Result<RuleFile, Vec<Problem>>],
) -> Vec<String> {
    // Input series, expanded; a second sample at one instant is dropped as the TSDB drops it.
    let mut pending: Vec<(Labels, Vec<(i64, f64)>)> = Vec::new();
    for s in &tg.series {
        let vals = match parse_values(&s.values) {
            Ok(v) => v,
            Err(e) => return vec![format!("series {}: {e}", s.labels)],
        };
        let mut points: Vec<(i64, f64)> = Vec::new();
        for (i, v) in vals.iter().enumerate() {
            if let Some(v) = v {
                let t = i as i64 * tg.interval;
                if points.last().is_none_or(|p| p.0 != t) {
                    points.push((t, *v));
                }
            }
        }
        // A series given twice keeps the later definition, as promtool's loader does.
        match pending.iter_mut().find(|(l, _)| *l == s.labels) {
            Some(p) => p.1 = points,
            None => pending.push((s.labels.clone(), points)),
        }
    }
    let mut groups: Vec<GroupState> = Vec::new();
    for f in files {
        match f {
            Ok(rf) => {
                for g in &rf.groups {
                    let mut g = g.clone();
                    if g.interval_ms.is_none() {
                        g.interval_ms = Some(tg.interval);
                    }
                    groups.push(GroupState::new(g));
                }
            }
            Err(problems) => return problems.iter().map(|p| p.to_string()).collect(),
        }
    }
    groups.sort_by_key(|g| order.get(g.group.name.as_str()).copied().unwrap_or(0));
    let cx = EvalContext {
        external_labels: tg.external_labels.clone(),
        external_url: tg.external_url.clone(),
        query: EvalOptions {
            default_step_ms: eval_interval,
            ..EvalOptions::default()
        },
    };
    let name_line = if tg.name.is_empty() {
        String::new()
    } else {
        format!("    name: {},\n", tg.name)
    };
    let mut alert_times: Vec<i64> = Vec::new();
    for a in &tg.alerts {
        if a.alertname.is_empty() {
            let in_group = if tg.name.is_empty() {
                String::new()
            } else {
                format!(" (in TestGroup {})", tg.name)
            };
            return vec![format!(
                "an item under alert_rule_test misses required attribute alertname at eval_time {}{in_group}",
                format_duration(a.eval_time)
            )];
        }
        if !alert_times.contains(&a.eval_time) {
            alert_times.push(a.eval_time);
        }
    }
    alert_times.sort_unstable();
    let maxt = tg
        .alerts
        .iter()
        .map(|a| a.eval_time)
        .chain(tg.exprs.iter().map(|e| e.eval_time))
        .max()
        .unwrap_or(0);
    // The engine's evaluation path, memo included, so the differential tests against
    // promtool also hold the memo to Prometheus's results.
    let memo = promql::Memo::new(
        groups
            .iter()
            .flat_map(|g| g.group.rules.iter().map(|r| r.expr.clone()))
            .collect(),
    );
    let mut store = MemSource::default();
    let mut loaded = vec![0usize; pending.len()];
    let mut errs = Vec::new();
    let mut curr = 0usize;
    let mut ts = 0i64;
    while ts <= maxt {
        for (k, (labels, points)) in pending.iter().enumerate() {
            let Some(from) = loaded.get_mut(k) else {
                continue;
            };
            while let Some(&(t, v)) = points.get(*from) {
                if t > ts {
                    break;
                }
                store.push(labels, t, v);
                *from += 1;
            }
        }
        let mut eval_errs = Vec::new();
        // New input points: values from the last step no longer hold.
        memo.clear();
        for g in &mut groups {
            g.eval_memo(ts, &mut store, &cx, Some(&memo));
            for (r, h) in g.group.rules.iter().zip(&g.health) {
                if let Some(e) = &h.last_error {
                    eval_errs.push(format!(
                        "    rule: {}, time: {}, err: {e}",
                        r.name,
                        go_duration(ts)
                    ));
                }
            }
        }
        if !eval_errs.is_empty() {
            errs.extend(eval_errs);
            return errs;
        }
        while let Some(&t) = alert_times.get(curr) {
            if !(ts <= t && t < ts + eval_interval) {
                break;
            }
            let mut got: HashMap<&str, Vec<Got>> = HashMap::new();
            for g in &groups {
                for (i, r) in g.group.rules.iter().enumerate() {
                    if !tg
                        .alerts
                        .iter()
                        .any(|a| a.eval_time == t && a.alertname == r.name)
                    {
                        continue;
                    }
                    if !matches!(r.kind, super::file::RuleKind::Alert(_)) {
                        continue;
                    }
                    let entry = got.entry(r.name.as_str()).or_default();
                    for a in g.alerts(i).filter(|a| a.state == AlertState::Firing) {
                        entry.push((a.labels.clone(), (*a.annotations).clone()));
                    }
                }
            }
            for case in tg.alerts.iter().filter(|a| a.eval_time == t) {
                let mut got_alerts = got
                    .get(case.alertname.as_str())
                    .cloned()
                    .unwrap_or_default();
                let mut exp_alerts: Vec<Got> = case
                    .exp
                    .iter()
                    .map(|(l, a)| {
                        let mut l = l.clone();
                        l.insert("alertname".into(), case.alertname.clone());
                        let labels = Labels::new(l.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                        (
                            labels,
                            a.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                        )
                    })
                    .collect();
                got_alerts.sort();
                exp_alerts.sort();
                if got_alerts != exp_alerts {
                    let exp = indent_lines(&show_alerts(&exp_alerts), "            ");
                    let got = indent_lines(&show_alerts(&got_alerts), "            ");
                    errs.push(format!(
                        "{name_line}    alertname: {}, time: {}, \n        exp:{exp}, \n        got:{got}",
                        case.alertname,
                        format_duration(case.eval_time)
                    ));
                }
            }
            curr += 1;
        }
        if eval_interval <= 0 {
            break;
        }
        ts += eval_interval;
    }
    'cases: for case in &tg.exprs {
        let when = format_duration(case.eval_time);
        let got = match query(&case.expr, &store, case.eval_time, &cx.query) {
            Ok(v) => v,
            Err(e) => {
                errs.push(format!("    expr: {:?}, time: {when}, err: {e}", case.expr));
                continue;
            }
        };
        let mut exp = Vec::new();
        for (l, v) in &case.exp {
            match parse_metric(l) {
                Ok(labels) => exp.push((labels, *v)),
                Err(e) => {
                    errs.push(format!(
                        "    expr: {:?}, time: {when}, err: labels {l:?}: {e}",
                        case.expr
                    ));
                    continue 'cases;
                }
            }
        }
        let mut got = got;
        exp.sort_by(|a, b| a.0.cmp(&b.0));
        got.sort_by(|a, b| a.0.cmp(&b.0));
        // Go's DeepEqual: NaN equals nothing, not even NaN.
        let same =
            exp.len() == got.len() && exp.iter().zip(&got).all(|(a, b)| a.0 == b.0 && a.1 == b.1);
        if !same {
            errs.push(format!(
                "    expr: {:?}, time: {when},\n        exp: {}\n        got: {}",
                case.expr,
                show_samples(&exp),
                show_samples(&got)
            ));
        }
    }
    errs
}

fn show_samples(s: &[(Labels, f64)]) -> String {
    if s.is_empty() {
        return "nil".into();
    }
    s.iter()
        .map(|(l, v)| format!("{l} {}", go_float_e(*v)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn query(
    text: &str,
    store: &MemSource,
    t: i64,
    opts: &EvalOptions,
) -> Result<Vec<(Labels, f64)>, String> {
    let expr = promql::parse(text).map_err(|e| e.0)?;
    match promql::instant(&expr, store, t, opts).map_err(|e| e.to_string())? {
        Value::Vector(v) => Ok(v.into_iter().map(|s| (s.labels, s.v)).collect()),
        Value::Scalar(x) => Ok(vec![(Labels::default(), x)]),
        _ => Err("rule result is not a vector or scalar".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(s: &str) -> Vec<Option<f64>> {
        parse_values(s).unwrap()
    }

    #[test]
    fn the_expanding_notation() {
        assert_eq!(
            vals("1+2x3"),
            vec![Some(1.0), Some(3.0), Some(5.0), Some(7.0)]
        );
        assert_eq!(
            vals("5-1x2 _x2 3"),
            vec![Some(5.0), Some(4.0), Some(3.0), None, None, Some(3.0)]
        );
        assert_eq!(vals("0x2"), vec![Some(0.0); 3]);
        assert_eq!(
            vals("-1 +2 _ 1e3"),
            vec![Some(-1.0), Some(2.0), None, Some(1000.0)]
        );
        let s = vals("stale Inf");
        assert!(promql::is_stale(s[0].unwrap()));
        assert_eq!(s[1], Some(f64::INFINITY));
        for bad in ["1+2", "abc", "1x", "_x", "1 ? 2", "1y"] {
            assert!(parse_values(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn metrics_and_durations_print_as_go() {
        assert_eq!(
            parse_metric("up{job=\"a\"}").unwrap().to_string(),
            "{__name__=\"up\", job=\"a\"}"
        );
        assert_eq!(parse_metric("{}").unwrap(), Labels::default());
        assert!(parse_metric("up{job=~\"a\"}").is_err());
        assert_eq!(go_duration(90_000), "1m30s");
        assert_eq!(go_duration(3_600_000), "1h0m0s");
        assert_eq!(go_duration(0), "0s");
    }

    fn run(rules: &str, test: &str) -> FileReport {
        let rules = rules.to_string();
        let mut loader = move |_: &str| Ok(vec![("r.yml".to_string(), rules.clone())]);
        run_test_file("t.yml", test, &mut loader)
    }

    const RULES: &str = "groups:\n- name: g\n  rules:\n  - record: job:up:sum\n    expr: sum by (job) (up)\n  - alert: Down\n    expr: up == 0\n    for: 2m\n    labels: {severity: page}\n    annotations: {summary: '{{ $labels.instance }} down'}\n";

    #[test]
    fn a_passing_and_a_failing_test() {
        let ok = run(
            RULES,
            "rule_files: [r.yml]\ntests:\n- interval: 1m\n  input_series:\n  - series: 'up{job=\"n\", instance=\"a\"}'\n    values: '1 0 0 0'\n  alert_rule_test:\n  - eval_time: 3m\n    alertname: Down\n    exp_alerts:\n    - exp_labels: {severity: page, instance: a, job: n}\n      exp_annotations: {summary: a down}\n  - eval_time: 2m\n    alertname: Down\n  promql_expr_test:\n  - expr: job:up:sum\n    eval_time: 3m\n    exp_samples:\n    - labels: 'job:up:sum{job=\"n\"}'\n      value: 0\n",
        );
        assert!(ok.passed(), "{:?}", ok.errors);
        let bad = run(
            RULES,
            "rule_files: [r.yml]\ntests:\n- interval: 1m\n  input_series:\n  - series: 'up{job=\"n\", instance=\"a\"}'\n    values: '0 0'\n  alert_rule_test:\n  - eval_time: 1m\n    alertname: Down\n    exp_alerts:\n    - exp_labels: {severity: page, instance: a, job: n}\n",
        );
        assert_eq!(bad.errors.len(), 1);
        assert!(bad.errors[0].contains("alertname: Down, time: 1m, \n        exp:[\n            0:\n              Labels:{alertname=\"Down\", instance=\"a\", job=\"n\", severity=\"page\"}"), "{}", bad.errors[0]);
        assert!(bad.errors[0].ends_with("got:[]"), "{}", bad.errors[0]);
    }

    #[test]
    fn strict_decoding_and_rule_errors_fail() {
        let r = run(RULES, "rule_files: [r.yml]\ntests:\n- intervl: 1m\n");
        assert!(
            r.errors[0].contains("field intervl not found"),
            "{:?}",
            r.errors
        );
        let r = run(
            "groups:\n- name: g\n  rules:\n  - record: x\n    expr: nosuch(up)\n",
            "rule_files: [r.yml]\ntests:\n- interval: 1m\n",
        );
        assert!(
            r.errors[0].contains("could not parse expression"),
            "{:?}",
            r.errors
        );
        let r = run(
            RULES,
            "rule_files: [r.yml]\ntests:\n- interval: 1m\n  promql_expr_test:\n  - expr: up\n    exp_samples:\n    - labels: '{}'\n      value: \"1\"\n",
        );
        assert!(r.errors[0].contains("into float64"), "{:?}", r.errors);
    }
}
