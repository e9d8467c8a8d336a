//! Reads one Prometheus rule file (the 2.42 format: `groups` of `name`, `interval`, `limit`,
//! `rules`) the way Prometheus's strict decoder and validator do, and turns it into parsed
//! rules: expressions through [`crate::promql::parse`], label and annotation templates through
//! [`super::template`]. Every problem names file, line:column, group and rule. Reading the file
//! from disk is the caller's.

use promql_parser::parser::value::ValueType;

use crate::promql::{self, Expr};
use crate::yaml::{self, Node, Pos};

use super::duration::parse_duration;
use super::template::Template;

/// One thing wrong with a rule file. `lint` problems (duplicate rules, `$value` in a label)
/// are reported but do not make the file invalid, as with promtool's default lint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub pos: Option<Pos>,
    /// (group, rule number from 1, rule name) when the problem is inside a rule.
    pub rule: Option<(String, usize, String)>,
    pub message: String,
    pub lint: bool,
}

/// How promtool's own lint (duplicate rules) opens; it prints no file name.
pub const DUPLICATE_LINT: &str = "lint error ";

impl Problem {
    /// promtool's lint, as opposed to nocscope's extra lint (which promtool does not print).
    pub fn is_promtool_lint(&self) -> bool {
        self.lint && self.message.starts_with(DUPLICATE_LINT)
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_promtool_lint() {
            return f.write_str(&self.message);
        }
        write!(f, "{}: ", self.file)?;
        if let Some(p) = self.pos {
            write!(f, "{p}: ")?;
        }
        if let Some((g, i, n)) = &self.rule {
            write!(f, "group {g:?}, rule {i}, {n:?}: ")?;
        }
        f.write_str(&self.message)
    }
}

#[derive(Clone, Debug)]
pub struct RuleFile {
    pub name: String,
    pub groups: Vec<Group>,
    /// Lint findings of a file that is otherwise valid.
    pub warnings: Vec<Problem>,
}

impl RuleFile {
    pub fn rule_count(&self) -> usize {
        self.groups.iter().map(|g| g.rules.len()).sum()
    }
}

#[derive(Clone, Debug)]
pub struct Group {
    pub name: String,
    pub file: String,
    /// `interval` when the group sets one; otherwise the caller's default applies.
    pub interval_ms: Option<i64>,
    /// 0: no limit.
    pub limit: usize,
    pub rules: Vec<Rule>,
    pub pos: Pos,
}

#[derive(Clone, Debug)]
pub struct Rule {
    /// The `record` metric name or the `alert` name.
    pub name: String,
    /// Shared so a [`promql::Memo`] can hold the parsed nodes it recognises.
    pub expr: std::sync::Arc<Expr>,
    pub expr_text: String,
    /// Labels as written (templates for an alert, plain values for a recording rule).
    pub labels: Vec<(String, String)>,
    pub kind: RuleKind,
    pub pos: Pos,
}

#[derive(Clone, Debug)]
pub enum RuleKind {
    Record,
    Alert(AlertSpec),
}

#[derive(Clone, Debug)]
pub struct AlertSpec {
    pub for_ms: i64,
    pub keep_firing_for_ms: i64,
    /// Parallel to [`Rule::labels`].
    pub label_templates: Vec<Template>,
    pub annotations: Vec<(String, Template)>,
}

struct Ctx<'a> {
    file: &'a str,
    problems: Vec<Problem>,
}

impl Ctx<'_> {
    fn decode_error(&mut self, n: &Node, message: String) {
        self.problems.push(Problem {
            file: self.file.to_string(),
            pos: Some(n.pos),
            rule: None,
            message,
            lint: false,
        });
    }

    /// A scalar read into a Go string: null is "", a sequence or mapping is an error.
    fn string(&mut self, n: &Node, what: &str) -> String {
        if n.is_null() {
            return String::new();
        }
        match n.scalar() {
            Some(s) => s.to_string(),
            None => {
                self.decode_error(
                    n,
                    format!(
                        "cannot unmarshal a {} into {what} (a string)",
                        n.kind_name()
                    ),
                );
                String::new()
            }
        }
    }

    fn map_entries<'n>(
        &mut self,
        n: &'n Node,
        ty: &str,
        fields: &[&str],
    ) -> Vec<(&'n str, &'n Node)> {
        if n.is_null() {
            return Vec::new();
        }
        let Some(m) = n.as_map() else {
            self.decode_error(n, format!("cannot unmarshal a {} into {ty}", n.kind_name()));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in m {
            let Some(key) = k.scalar() else {
                self.decode_error(k, format!("a {} cannot be a key of {ty}", k.kind_name()));
                continue;
            };
            if !fields.contains(&key) {
                self.decode_error(
                    k,
                    format!(
                        "field {key} not found in type {ty} (accepted: {})",
                        fields.join(", ")
                    ),
                );
                continue;
            }
            out.push((key, v));
        }
        out
    }

    fn string_map(&mut self, n: &Node, what: &str) -> Vec<(String, String, Pos)> {
        if n.is_null() {
            return Vec::new();
        }
        let Some(m) = n.as_map() else {
            self.decode_error(
                n,
                format!(
                    "cannot unmarshal a {} into {what} (a map of strings)",
                    n.kind_name()
                ),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in m {
            let key = self.string(k, what);
            let val = self.string(v, what);
            out.push((key, val, k.pos));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn seq<'n>(&mut self, n: &'n Node, what: &str) -> &'n [Node] {
        if n.is_null() {
            return &[];
        }
        match n.as_seq() {
            Some(s) => s,
            None => {
                self.decode_error(
                    n,
                    format!("cannot unmarshal a {} into {what} (a list)", n.kind_name()),
                );
                &[]
            }
        }
    }
}

struct RawRule<'n> {
    node: &'n Node,
    record: Option<&'n Node>,
    alert: Option<&'n Node>,
    expr: Option<&'n Node>,
    record_s: String,
    alert_s: String,
    expr_s: String,
    for_ms: i64,
    keep_ms: i64,
    labels: Vec<(String, String, Pos)>,
    annotations: Vec<(String, String, Pos)>,
}

struct RawGroup<'n> {
    node: &'n Node,
    name: String,
    interval_ms: Option<i64>,
    limit: usize,
    rules: Vec<RawRule<'n>>,
}

/// `^[a-zA-Z_][a-zA-Z0-9_]*$`
pub fn valid_label_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// `^[a-zA-Z_:][a-zA-Z0-9_:]*$`
pub fn valid_metric_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

/// A rule file as the console's engine runs it: [`parse_rule_file`] (whose errors are never
/// lint; lint stays in `warnings`), plus the refusal of rules that read further back than
/// [`MAX_WINDOW_MS`]. `rules test` runs promtool's semantics and uses [`parse_rule_file`]
/// alone.
pub fn load_rule_file(file: &str, text: &str) -> Result<RuleFile, Vec<Problem>> {
    let f = parse_rule_file(file, text)?;
    let too_long = window_problems(&f);
    if too_long.is_empty() {
        Ok(f)
    } else {
        Err(too_long)
    }
}

/// How far back a rule inside the console may read. The console keeps what its rules read in
/// memory; windows longer than this need the history store, which rules cannot read yet.
pub const MAX_WINDOW_MS: i64 = 24 * 3600 * 1000;

/// Rules of `f` that read further back than [`MAX_WINDOW_MS`] (ranges, offsets and subqueries
/// added up), as problems at the rule's expression: refused rather than run on less data.
pub fn window_problems(f: &RuleFile) -> Vec<Problem> {
    let mut out = Vec::new();
    for g in &f.groups {
        for (i, r) in g.rules.iter().enumerate() {
            let w = promql::reach(&r.expr).window_ms;
            if w > MAX_WINDOW_MS {
                out.push(Problem {
                    file: f.name.clone(),
                    pos: Some(r.pos),
                    rule: Some((g.name.clone(), i + 1, r.name.clone())),
                    message: format!(
                        "the expression reads {} back; nocscope evaluates rules over at most 24h of recent samples held in memory (longer ranges need the history store, not supported yet)",
                        super::duration::format_duration(w)
                    ),
                    lint: false,
                });
            }
        }
    }
    out
}

/// Parse and validate a rule file's text. `file` is how problems name it.
pub fn parse_rule_file(file: &str, text: &str) -> Result<RuleFile, Vec<Problem>> {
    let mut cx = Ctx {
        file,
        problems: Vec::new(),
    };
    let doc = match yaml::parse(text) {
        Ok(d) => d,
        Err(e) => {
            return Err(vec![Problem {
                file: file.to_string(),
                pos: Some(e.pos),
                rule: None,
                message: format!("yaml: {}", e.message),
                lint: false,
            }]);
        }
    };
    // Decoding, as Go's strict decoder does it: unknown fields and wrong types first.
    let mut groups: Vec<RawGroup<'_>> = Vec::new();
    for (key, v) in cx.map_entries(&doc, "rulefmt.RuleGroups", &["groups"]) {
        if key != "groups" {
            continue;
        }
        for g in cx.seq(v, "groups") {
            let mut rg = RawGroup {
                node: g,
                name: String::new(),
                interval_ms: None,
                limit: 0,
                rules: Vec::new(),
            };
            for (k, v) in cx.map_entries(
                g,
                "rulefmt.RuleGroup",
                &["name", "interval", "limit", "rules"],
            ) {
                match k {
                    "name" => rg.name = cx.string(v, "name"),
                    "interval" => {
                        let s = cx.string(v, "interval");
                        match parse_duration(&s) {
                            Ok(ms) if ms > 0 => rg.interval_ms = Some(ms),
                            Ok(_) => {}
                            Err(e) => cx.decode_error(v, e),
                        }
                    }
                    "limit" => {
                        let s = cx.string(v, "limit");
                        match s.parse::<i64>() {
                            Ok(n) => rg.limit = usize::try_from(n).unwrap_or(0),
                            Err(_) if s.is_empty() => {}
                            Err(_) => cx.decode_error(
                                v,
                                format!("cannot unmarshal {s:?} into limit (an integer)"),
                            ),
                        }
                    }
                    _ => {
                        for r in cx.seq(v, "rules") {
                            rg.rules.push(raw_rule(&mut cx, r));
                        }
                    }
                }
            }
            groups.push(rg);
        }
    }
    if !cx.problems.is_empty() {
        return Err(cx.problems);
    }
    // Validation, in the order Prometheus reports it.
    let mut seen_groups: Vec<&str> = Vec::new();
    let mut out_groups = Vec::new();
    let mut warnings = Vec::new();
    for g in &groups {
        if g.name.is_empty() {
            cx.decode_error(g.node, "Groupname must not be empty".into());
        }
        if seen_groups.contains(&g.name.as_str()) {
            cx.decode_error(
                g.node,
                format!("groupname: {:?} is repeated in the same file", g.name),
            );
        }
        seen_groups.push(&g.name);
        let mut rules = Vec::new();
        for (i, r) in g.rules.iter().enumerate() {
            if let Some(rule) = validate_rule(&mut cx, &mut warnings, &g.name, i + 1, r) {
                rules.push(rule);
            }
        }
        out_groups.push(Group {
            name: g.name.clone(),
            file: file.to_string(),
            interval_ms: g.interval_ms,
            limit: g.limit,
            rules,
            pos: g.node.pos,
        });
    }
    if !cx.problems.is_empty() {
        return Err(cx.problems);
    }
    warnings.extend(duplicates(file, &groups));
    Ok(RuleFile {
        name: file.to_string(),
        groups: out_groups,
        warnings,
    })
}

fn raw_rule<'n>(cx: &mut Ctx<'_>, r: &'n Node) -> RawRule<'n> {
    let mut rr = RawRule {
        node: r,
        record: None,
        alert: None,
        expr: None,
        record_s: String::new(),
        alert_s: String::new(),
        expr_s: String::new(),
        for_ms: 0,
        keep_ms: 0,
        labels: Vec::new(),
        annotations: Vec::new(),
    };
    let fields = [
        "record",
        "alert",
        "expr",
        "for",
        "keep_firing_for",
        "labels",
        "annotations",
    ];
    for (k, v) in cx.map_entries(r, "rulefmt.RuleNode", &fields) {
        match k {
            "record" => {
                rr.record = Some(v);
                rr.record_s = cx.string(v, "record");
            }
            "alert" => {
                rr.alert = Some(v);
                rr.alert_s = cx.string(v, "alert");
            }
            "expr" => {
                rr.expr = Some(v);
                rr.expr_s = cx.string(v, "expr");
            }
            "for" | "keep_firing_for" => {
                let s = cx.string(v, k);
                match parse_duration(&s) {
                    Ok(ms) if k == "for" => rr.for_ms = ms,
                    Ok(ms) => rr.keep_ms = ms,
                    Err(e) => cx.decode_error(v, e),
                }
            }
            "labels" => rr.labels = cx.string_map(v, "labels"),
            _ => rr.annotations = cx.string_map(v, "annotations"),
        }
    }
    rr
}

fn validate_rule(
    cx: &mut Ctx<'_>,
    warnings: &mut Vec<Problem>,
    group: &str,
    index: usize,
    r: &RawRule<'_>,
) -> Option<Rule> {
    let name = if r.alert_s.is_empty() {
        r.record_s.clone()
    } else {
        r.alert_s.clone()
    };
    let before = cx.problems.len();
    let push = |cx: &mut Ctx<'_>, pos: Option<Pos>, message: String| {
        cx.problems.push(Problem {
            file: cx.file.to_string(),
            pos,
            rule: Some((group.to_string(), index, name.clone())),
            message,
            lint: false,
        });
    };
    // Go's zero node (a field that is absent) reports line 0, column 0.
    let at = |n: Option<&Node>| Some(n.map(|n| n.pos).unwrap_or_default());
    if !r.record_s.is_empty() && !r.alert_s.is_empty() {
        push(
            cx,
            at(r.record),
            "only one of 'record' and 'alert' must be set".into(),
        );
    }
    if r.record_s.is_empty() && r.alert_s.is_empty() {
        push(
            cx,
            at(r.record),
            "one of 'record' or 'alert' must be set".into(),
        );
    }
    let mut expr = None;
    if r.expr_s.is_empty() {
        push(cx, at(r.expr), "field 'expr' must be set in rule".into());
    } else {
        match promql::parse(&r.expr_s) {
            Ok(e) => {
                let vt = e.value_type();
                if matches!(vt, ValueType::String | ValueType::Matrix) {
                    push(
                        cx,
                        at(r.expr),
                        format!(
                            "expression is a {vt}: a rule's expression must give an instant vector or a scalar"
                        ),
                    );
                } else {
                    expr = Some(e);
                }
            }
            Err(e) => push(
                cx,
                at(r.expr),
                format!("could not parse expression: {}", e.0),
            ),
        }
    }
    if !r.record_s.is_empty() {
        if !r.annotations.is_empty() {
            push(
                cx,
                at(r.record),
                "invalid field 'annotations' in recording rule".into(),
            );
        }
        if r.for_ms != 0 {
            push(
                cx,
                at(r.record),
                "invalid field 'for' in recording rule".into(),
            );
        }
        if r.keep_ms != 0 {
            push(
                cx,
                at(r.record),
                "invalid field 'keep_firing_for' in recording rule".into(),
            );
        }
        if !valid_metric_name(&r.record_s) {
            push(
                cx,
                at(r.record),
                format!("invalid recording rule name: {}", r.record_s),
            );
        }
    }
    for (k, _, pos) in &r.labels {
        if !valid_label_name(k) || k == "__name__" {
            push(cx, Some(*pos), format!("invalid label name: {k}"));
        }
    }
    for (k, _, pos) in &r.annotations {
        if !valid_label_name(k) {
            push(cx, Some(*pos), format!("invalid annotation name: {k}"));
        }
    }
    let mut label_templates = Vec::new();
    let mut annotations = Vec::new();
    if !r.alert_s.is_empty() {
        for (k, v, pos) in &r.labels {
            match Template::parse_alert(&r.alert_s, v) {
                Ok(t) => label_templates.push(t),
                Err(e) => push(cx, Some(*pos), format!("label {k:?}: {e}")),
            }
            if v.contains("$value") || v.contains(".Value") {
                warnings.push(Problem {
                    file: cx.file.to_string(),
                    pos: Some(*pos),
                    rule: Some((group.to_string(), index, name.clone())),
                    message: format!(
                        "label {k:?} uses the alert's value: the alert's identity changes with every evaluation, so it never stays firing"
                    ),
                    lint: true,
                });
            }
        }
        for (k, v, pos) in &r.annotations {
            match Template::parse_alert(&r.alert_s, v) {
                Ok(t) => annotations.push((k.clone(), t)),
                Err(e) => push(cx, Some(*pos), format!("annotation {k:?}: {e}")),
            }
        }
    }
    if cx.problems.len() > before {
        return None;
    }
    let kind = if r.alert_s.is_empty() {
        RuleKind::Record
    } else {
        RuleKind::Alert(AlertSpec {
            for_ms: r.for_ms,
            keep_firing_for_ms: r.keep_ms,
            label_templates,
            annotations,
        })
    };
    Some(Rule {
        name,
        expr: std::sync::Arc::new(expr?),
        expr_text: r.expr_s.clone(),
        labels: r
            .labels
            .iter()
            .map(|(k, v, _)| (k.clone(), v.clone()))
            .collect(),
        kind,
        pos: r.node.pos,
    })
}

/// promtool's duplicate-rules lint: two rules with one name and one label set in a file.
fn duplicates(file: &str, groups: &[RawGroup<'_>]) -> Vec<Problem> {
    let mut all: Vec<(String, Vec<(String, String)>)> = groups
        .iter()
        .flat_map(|g| g.rules.iter())
        .map(|r| {
            let name = if r.alert_s.is_empty() {
                &r.record_s
            } else {
                &r.alert_s
            };
            let labels = r
                .labels
                .iter()
                .map(|(k, v, _)| (k.clone(), v.clone()))
                .collect();
            (name.clone(), labels)
        })
        .collect();
    all.sort();
    let mut dups: Vec<&(String, Vec<(String, String)>)> = Vec::new();
    for w in all.windows(2) {
        if let [a, b] = w
            && a == b
            && dups.last().is_none_or(|d| *d != b)
        {
            dups.push(b);
        }
    }
    if dups.is_empty() {
        return Vec::new();
    }
    let mut msg = format!("{DUPLICATE_LINT}{} duplicate rule(s) found.\n", dups.len());
    for (name, labels) in &dups {
        msg.push_str(&format!("Metric: {name}\nLabel(s):\n"));
        for (k, v) in labels {
            msg.push_str(&format!("\t{k}: {v}\n"));
        }
    }
    msg.push_str("Might cause inconsistency while recording expressions");
    vec![Problem {
        file: file.to_string(),
        pos: None,
        rule: None,
        message: msg,
        lint: true,
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_file_reads_into_groups() {
        let f = parse_rule_file(
            "r.yml",
            "groups:\n  - name: g\n    interval: 30s\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n      - alert: Down\n        expr: up == 0\n        for: 2m\n        labels: {severity: page}\n        annotations:\n          summary: '{{ $labels.instance }} down'\n",
        )
        .unwrap();
        assert_eq!(f.rule_count(), 2);
        let g = &f.groups[0];
        assert_eq!(g.interval_ms, Some(30_000));
        assert!(matches!(g.rules[0].kind, RuleKind::Record));
        let RuleKind::Alert(a) = &g.rules[1].kind else {
            panic!("not an alert")
        };
        assert_eq!(a.for_ms, 120_000);
        assert_eq!(a.annotations.len(), 1);
        assert!(f.warnings.is_empty());
    }

    #[test]
    fn problems_name_line_column_group_and_rule() {
        let text = "groups:\n  - name: g\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up\n        for: 1m\n      - alert: Y\n        expr: up\n        annotations:\n          a: \"{{ .Foo\"\n  - name: g\n    rules: []\n";
        let errs = parse_rule_file("bad.yml", text).unwrap_err();
        let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(
            shown[0].starts_with(
                "bad.yml: 5:15: group \"g\", rule 1, \"job:up:sum\": could not parse expression"
            ),
            "{shown:?}"
        );
        assert_eq!(
            shown[1],
            "bad.yml: 4:17: group \"g\", rule 1, \"job:up:sum\": invalid field 'for' in recording rule"
        );
        assert!(
            shown[2].contains("annotation \"a\": template: __alert_Y:1: unclosed action"),
            "{shown:?}"
        );
        assert_eq!(
            shown[3],
            "bad.yml: 11:5: groupname: \"g\" is repeated in the same file"
        );
    }

    #[test]
    fn unknown_fields_and_types_fail_decoding() {
        let e = parse_rule_file("x.yml", "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        bogus: 1\n").unwrap_err();
        assert!(
            e[0].to_string()
                .contains("6:9: field bogus not found in type rulefmt.RuleNode"),
            "{}",
            e[0]
        );
        let e = parse_rule_file("x.yml", "groups:\n  - name: g\n    rules: 5\n").unwrap_err();
        assert!(e[0].message.contains("cannot unmarshal"), "{}", e[0]);
        let e = parse_rule_file("x.yml", "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 5\n").unwrap_err();
        assert!(
            e[0].message.contains("not a valid duration string"),
            "{}",
            e[0]
        );
        assert!(parse_rule_file("x.yml", "").unwrap().groups.is_empty());
    }

    #[test]
    fn lint_findings_do_not_invalidate() {
        let f = parse_rule_file(
            "d.yml",
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n      - alert: A\n        expr: up == 0\n      - alert: B\n        expr: up\n        labels: {v: '{{ $value }}'}\n",
        )
        .unwrap();
        assert_eq!(f.warnings.len(), 2, "{:?}", f.warnings);
        assert!(f.warnings.iter().all(|w| w.lint));
    }

    #[test]
    fn unsupported_and_non_vector_expressions_are_refused() {
        let e = parse_rule_file(
            "x.yml",
            "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: up[5m]\n",
        )
        .unwrap_err();
        assert!(e[0].message.contains("matrix"), "{}", e[0]);
        let e = parse_rule_file(
            "x.yml",
            "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: limitk(1, up)\n",
        )
        .unwrap_err();
        assert!(e[0].message.contains("not supported"), "{}", e[0]);
    }
}
