//! Go text/template as Prometheus runs it for alert labels and annotations: the `$labels`,
//! `$externalLabels`, `$externalURL` and `$value` prelude, `missingkey=zero`, Prometheus's
//! function set (without `query`), and its error texts (`<error expanding template: …>` is the
//! caller's). Parses once at load, expands per alert; must not read a clock or run queries.

mod funcs;
mod gofmt;
mod parse;

use std::collections::BTreeMap;
use std::rc::Rc;

use funcs::{Env, call, show, truth};
use parse::{Cmd, Item, Operand, Parser, Pipe, Term};

pub use gofmt::{fmt_g, go_float_e, go_time};
pub use parse::ParseError;

/// A value inside a template, with the Go type it stands for.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// `map[string]string`: label sets.
    Map(BTreeMap<String, String>),
    /// `map[string]interface{}`: what `args` builds.
    Args(BTreeMap<String, Val>),
    /// `*time.Time`, as seconds since the epoch.
    Time(f64),
    /// The template's data: Prometheus's alert struct.
    Data(Rc<AlertData>),
}

/// What `.` is when an alert template runs.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct AlertData {
    pub labels: BTreeMap<String, String>,
    pub external_labels: BTreeMap<String, String>,
    pub external_url: String,
    pub value: f64,
}

/// The four variables Prometheus defines before every alert template.
const PRELUDE: &str = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// A parsed template.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    name: String,
    text: String,
    items: Vec<Item>,
}

impl Template {
    /// Parse an alert label or annotation of rule `alert`, as Prometheus does: named
    /// `__alert_<alert>`, with the prelude in front.
    pub fn parse_alert(alert: &str, text: &str) -> Result<Template, ParseError> {
        let name = format!("__alert_{alert}");
        let full = format!("{PRELUDE}{text}");
        let items = Parser::new(&name, &full).parse()?;
        Ok(Template {
            name,
            text: full,
            items,
        })
    }

    /// True when the template is plain text (no action), so expanding it is the identity.
    pub fn is_literal(&self) -> bool {
        self.items
            .iter()
            .skip(4)
            .all(|i| matches!(i, Item::Text(_)))
    }

    /// The template as written (without the prelude every alert template gets).
    pub fn source(&self) -> &str {
        self.text.strip_prefix(PRELUDE).unwrap_or(&self.text)
    }

    /// The text itself when the template is plain text (expanding it gives just that).
    pub fn literal(&self) -> Option<String> {
        let mut out = String::new();
        for i in self.items.iter().skip(4) {
            match i {
                Item::Text(t) => out.push_str(t),
                _ => return None,
            }
        }
        Some(out)
    }

    /// Expand with `data`; the error text is Prometheus's `error executing template …`.
    pub fn expand(&self, data: &AlertData) -> Result<String, String> {
        let env = Env {
            external_url: &data.external_url,
        };
        let root = Val::Data(Rc::new(data.clone()));
        let mut ex = Exec {
            t: self,
            env,
            vars: vec![("$".to_string(), root.clone())],
            out: String::new(),
            steps: 0,
        };
        ex.items(&self.items, &root)
            .map_err(|e| format!("error executing template {}: {e}", self.name))?;
        Ok(ex.out)
    }
}

/// Bounds a template's work (a `range` over a big label set inside a nested `range`), so a
/// hostile rule file cannot stall the evaluator.
const MAX_STEPS: usize = 100_000;

struct Exec<'a> {
    t: &'a Template,
    env: Env<'a>,
    vars: Vec<(String, Val)>,
    out: String,
    steps: usize,
}

impl Exec<'_> {
    /// Go's `template: NAME:LINE:COL: executing "NAME" at <SRC>: MSG`.
    fn err(&self, pos: usize, src: &str, msg: impl std::fmt::Display) -> String {
        let before = self.t.text.get(..pos).unwrap_or("");
        let line = 1 + before.matches('\n').count();
        let col = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        format!(
            "template: {n}:{line}:{col}: executing {q} at <{src}>: {msg}",
            n = self.t.name,
            q = crate::promql::go_quote(&self.t.name)
        )
    }

    fn tick(&mut self) -> Result<(), String> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(format!(
                "template: {}: stopped after {MAX_STEPS} steps",
                self.t.name
            ));
        }
        Ok(())
    }

    fn items(&mut self, items: &[Item], dot: &Val) -> Result<(), String> {
        for it in items {
            self.tick()?;
            match it {
                Item::Text(s) => self.out.push_str(s),
                Item::Action(p) => {
                    let v = self.pipe(p, dot)?;
                    if p.decl.is_empty() {
                        match v {
                            Val::Nil => self.out.push_str("<no value>"),
                            v => self.out.push_str(&show(&v)),
                        }
                    }
                }
                Item::If { pipe, then, els } => {
                    let mark = self.vars.len();
                    let v = self.pipe(pipe, dot)?;
                    let branch = if truth(&v) { then } else { els };
                    self.items(branch, dot)?;
                    self.vars.truncate(mark);
                }
                Item::With { pipe, body, els } => {
                    let mark = self.vars.len();
                    let v = self.pipe(pipe, dot)?;
                    if truth(&v) {
                        self.items(body, &v)?;
                    } else {
                        self.items(els, dot)?;
                    }
                    self.vars.truncate(mark);
                }
                Item::Range { pipe, body, els } => {
                    let mark = self.vars.len();
                    // Declarations in a range bind per element, not to the whole value.
                    let bare = Pipe {
                        decl: Vec::new(),
                        ..pipe.clone()
                    };
                    let v = self.pipe(&bare, dot)?;
                    let elems: Vec<(Val, Val)> = match &v {
                        Val::Map(m) => m
                            .iter()
                            .map(|(k, v)| (Val::Str(k.clone()), Val::Str(v.clone())))
                            .collect(),
                        Val::Args(m) => m
                            .iter()
                            .map(|(k, v)| (Val::Str(k.clone()), v.clone()))
                            .collect(),
                        Val::Nil => Vec::new(),
                        Val::Int(n) => (0..*n).map(|i| (Val::Int(i), Val::Int(i))).collect(),
                        other => {
                            return Err(self.err(
                                pipe.pos,
                                &pipe.src,
                                format!("range can't iterate over {}", show(other)),
                            ));
                        }
                    };
                    if elems.is_empty() {
                        self.items(els, dot)?;
                    }
                    for (k, e) in elems {
                        let inner = self.vars.len();
                        match pipe.decl.as_slice() {
                            [v] => self.bind(v, e.clone(), pipe.assign),
                            [kv, vv] => {
                                self.bind(kv, k, pipe.assign);
                                self.bind(vv, e.clone(), pipe.assign);
                            }
                            _ => {}
                        }
                        self.items(body, &e)?;
                        self.vars.truncate(inner.max(mark));
                    }
                    self.vars.truncate(mark);
                }
            }
        }
        Ok(())
    }

    fn bind(&mut self, name: &str, v: Val, assign: bool) {
        if assign && let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            slot.1 = v;
            return;
        }
        self.vars.push((name.to_string(), v));
    }

    fn pipe(&mut self, p: &Pipe, dot: &Val) -> Result<Val, String> {
        let mut prev: Option<Val> = None;
        for c in &p.cmds {
            prev = Some(self.cmd(c, dot, prev)?);
        }
        let v = prev.unwrap_or(Val::Nil);
        if let Some(name) = p.decl.first() {
            self.bind(name, v.clone(), p.assign);
        }
        Ok(v)
    }

    fn cmd(&mut self, c: &Cmd, dot: &Val, piped: Option<Val>) -> Result<Val, String> {
        self.tick()?;
        let Some((head, rest)) = c.args.split_first() else {
            return Ok(Val::Nil);
        };
        if let Term::Ident(name) = &head.term {
            if name == "and" || name == "or" {
                let mut last = Val::Nil;
                let total = rest.len() + usize::from(piped.is_some());
                if total == 0 {
                    return Err(self.err(
                        c.pos,
                        &c.src,
                        format!("wrong number of args for {name}: want at least 1 got 0"),
                    ));
                }
                for a in rest {
                    last = self.operand(a, dot, c)?;
                    if truth(&last) == (name == "or") {
                        return Ok(last);
                    }
                }
                if let Some(p) = piped {
                    last = p;
                }
                return Ok(last);
            }
            let mut args = Vec::with_capacity(rest.len() + 1);
            for a in rest {
                args.push(self.operand(a, dot, c)?);
            }
            if let Some(p) = piped {
                args.push(p);
            }
            return call(name, &args, &self.env)
                .map_err(|e| self.err(c.pos, &c.src, format!("error calling {name}: {e}")));
        }
        if !rest.is_empty() || piped.is_some() {
            return Err(self.err(
                c.pos,
                &c.src,
                format!(
                    "can't give argument to non-function {}",
                    c.src.split(' ').next().unwrap_or("")
                ),
            ));
        }
        self.operand(head, dot, c)
    }

    fn operand(&mut self, o: &Operand, dot: &Val, c: &Cmd) -> Result<Val, String> {
        let base = match &o.term {
            Term::Dot => dot.clone(),
            Term::Nil => Val::Nil,
            Term::Bool(b) => Val::Bool(*b),
            Term::Int(i) => Val::Int(*i),
            Term::Float(f) => Val::Float(*f),
            Term::Str(s) => Val::Str(s.clone()),
            Term::Var(v) => self
                .vars
                .iter()
                .rev()
                .find(|(n, _)| n == v)
                .map(|(_, x)| x.clone())
                .ok_or_else(|| self.err(c.pos, &c.src, format!("undefined variable: {v}")))?,
            Term::Ident(name) => call(name, &[], &self.env)
                .map_err(|e| self.err(c.pos, &c.src, format!("error calling {name}: {e}")))?,
            Term::Pipe(p) => {
                let mark = self.vars.len();
                let v = self.pipe(p, dot)?;
                self.vars.truncate(mark);
                v
            }
        };
        let mut cur = base;
        for f in &o.fields {
            cur = match &cur {
                Val::Data(d) => match f.as_str() {
                    "Labels" => Val::Map(d.labels.clone()),
                    "ExternalLabels" => Val::Map(d.external_labels.clone()),
                    "ExternalURL" => Val::Str(d.external_url.clone()),
                    "Value" => Val::Float(d.value),
                    _ => {
                        return Err(self.err(
                            c.pos,
                            &c.src,
                            format!("can't evaluate field {f} in type struct {{ Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {{}} }}"),
                        ));
                    }
                },
                Val::Map(m) => Val::Str(m.get(f).cloned().unwrap_or_default()),
                Val::Args(m) => m.get(f).cloned().unwrap_or(Val::Nil),
                Val::Nil => {
                    return Err(self.err(
                        c.pos,
                        &c.src,
                        format!("nil pointer evaluating interface {{}}.{f}"),
                    ));
                }
                other => {
                    return Err(self.err(
                        c.pos,
                        &c.src,
                        format!(
                            "can't evaluate field {f} in type {}",
                            gofmt::type_name(other)
                        ),
                    ));
                }
            };
        }
        Ok(cur)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> AlertData {
        AlertData {
            labels: [("instance", "a:9100"), ("job", "node"), ("__name__", "up")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            external_labels: BTreeMap::new(),
            external_url: "http://prom:9090".into(),
            value: 0.5,
        }
    }

    fn run(t: &str) -> Result<String, String> {
        Template::parse_alert("X", t)
            .map_err(|e| e.to_string())?
            .expand(&data())
    }

    #[test]
    fn variables_fields_and_maps_print_as_go_does() {
        assert_eq!(
            run("{{ $labels.instance }} {{ $value }} {{ $labels }}").unwrap(),
            "a:9100 0.5 map[__name__:up instance:a:9100 job:node]"
        );
        assert_eq!(run("{{ .Labels.job }}/{{ .Value }}").unwrap(), "node/0.5");
        assert_eq!(run("[{{ $labels.missing }}]").unwrap(), "[]");
        assert_eq!(run("{{ $externalURL }}").unwrap(), "http://prom:9090");
    }

    #[test]
    fn control_flow_and_trim_markers() {
        assert_eq!(
            run("{{ if gt $value 1.0 }}high{{ else if gt $value 0.25 }}mid{{ else }}low{{ end }}")
                .unwrap(),
            "mid"
        );
        assert_eq!(
            run("{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}").unwrap(),
            "__name__=up;instance=a:9100;job=node;"
        );
        assert_eq!(run("a  {{- 1 -}}  b").unwrap(), "a1b");
        assert_eq!(run("{{/* note */}}x").unwrap(), "x");
        assert_eq!(
            run("{{ with $labels.job }}{{ . }}{{ end }}").unwrap(),
            "node"
        );
        assert_eq!(run("{{ $x := 2 }}{{ $x }}").unwrap(), "2");
    }

    #[test]
    fn pipelines_and_functions() {
        assert_eq!(
            run("{{ $labels.instance | stripPort | toUpper }}").unwrap(),
            "A"
        );
        assert_eq!(run("{{ printf \"%.1f%%\" $value }}").unwrap(), "0.5%");
        assert_eq!(run("{{ humanizePercentage $value }}").unwrap(), "50%");
        assert_eq!(run("{{ \"1234567\" | humanize }}").unwrap(), "1.235M");
        assert_eq!(
            run("{{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance }}").unwrap(),
            "a"
        );
        assert_eq!(run("{{ len $labels }}").unwrap(), "3");
        assert_eq!(run("{{ index $labels \"job\" }}").unwrap(), "node");
    }

    #[test]
    fn parse_and_run_errors_are_gos() {
        let e = Template::parse_alert("Y", "{{ .Foo").unwrap_err();
        assert_eq!(e.to_string(), "template: __alert_Y:1: unclosed action");
        let e = Template::parse_alert("Y", "{{ nosuch 1 }}").unwrap_err();
        assert!(
            e.to_string().contains("function \"nosuch\" not defined"),
            "{e}"
        );
        let e = Template::parse_alert("Y", "{{ query \"up\" }}").unwrap_err();
        assert!(e.to_string().contains("cannot run queries"), "{e}");
        assert!(Template::parse_alert("Y", "{{ if 1 }}").is_err());
        assert!(Template::parse_alert("Y", "{{ end }}").is_err());
        assert!(Template::parse_alert("Y", "{{ $nope }}").is_err());
        let e = run("{{ humanize $labels }}").unwrap_err();
        assert!(
            e.starts_with("error executing template __alert_X: template: __alert_X:1:"),
            "{e}"
        );
        assert!(
            e.contains("error calling humanize: can't convert map[string]string to float"),
            "{e}"
        );
        assert!(
            run("{{ gt $value 1 }}")
                .unwrap_err()
                .contains("incompatible types")
        );
    }
}
