//! `[[rule]]` sections (merged by name over the built-in rules) and `rule_files` (globbed
//! beside the config, each file read and checked as Prometheus would load it). Part of the
//! config walk; reads rule files, opens no sockets.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use super::{
    Checker, Key, Section, Val, check_label_name, closest, integer, quoted_list, type_name,
};
use crate::config::rules::{DEFAULT_RULES, DEFAULT_RULES_ORIGIN, RuleFileText, RuleSpec, Watch};
use crate::config::{ConfigError, NotifyFile, Problem};
use crate::model::Severity;
use crate::rules::template::Template;

const RULE_KEYS: &[&str] = &[
    "name",
    "watch",
    "series",
    "above",
    "below",
    "clear",
    "for",
    "keep_firing_for",
    "severity",
    "labels",
    "annotations",
    "disabled",
];

/// Largest Prometheus rule file read (the community collections are tens of KiB).
const MAX_RULE_FILE: u64 = 16 << 20;

/// A `[[rule]]` as written: only what it sets.
struct Partial {
    name: String,
    span: Range<usize>,
    watch: Option<Watch>,
    series: Option<String>,
    threshold: Option<(bool, f64, Range<usize>)>,
    clear: Option<(f64, Range<usize>)>,
    for_: Option<Duration>,
    keep_firing_for: Option<Duration>,
    severity: Option<Severity>,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
    disabled: bool,
}

/// A `series` value must be a plain selector: a metric name with optional matchers, no
/// offset, `@`, range or function.
fn series_selector(text: &str) -> Result<(), String> {
    match crate::promql::parse(text) {
        Ok(crate::promql::Expr::VectorSelector(vs))
            if vs.offset.is_none() && vs.at.is_none() && vs.name.is_some() =>
        {
            Ok(())
        }
        Ok(_) => Err(format!(
            "\"{}\" is not a series selector; write a metric name with optional matchers, like node_load1{{job=\"node\"}}",
            text.escape_debug()
        )),
        Err(e) => Err(format!("\"{}\": {e}", text.escape_debug())),
    }
}

/// Check a text that holds only `[[rule]]` sections (the embedded defaults), merged over
/// `base`.
pub fn parse_rule_sections(
    text: &str,
    origin: &str,
    base: &[RuleSpec],
) -> Result<Vec<RuleSpec>, ConfigError> {
    let env = |_: &str| Err(std::env::VarError::NotPresent);
    let mut checker = Checker::new(text, origin, Path::new("."), &env);
    let root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(e) => return Err(checker.syntax_error(&e)),
    };
    let top = checker.fields(root.get_ref(), &Section("the top level".into()), &["rule"]);
    let rules = checker.own_rules(top.get("rule"), base.to_vec());
    match checker.report.problems.is_empty() {
        true => Ok(rules),
        false => Err(ConfigError {
            problems: checker.report.problems,
        }),
    }
}

impl Checker<'_> {
    /// The rules in force: the built-in ones, then each `[[rule]]` in order.
    pub(super) fn rules(&mut self, entry: Option<(&Key<'_>, &Val<'_>)>) -> Vec<RuleSpec> {
        let base = match parse_rule_sections(DEFAULT_RULES, DEFAULT_RULES_ORIGIN, &[]) {
            Ok(r) => r,
            Err(e) => {
                // Only a broken build gets here; say so rather than run without rules.
                self.report.problems.extend(e.problems);
                Vec::new()
            }
        };
        self.own_rules(entry, base)
    }

    fn own_rules(
        &mut self,
        entry: Option<(&Key<'_>, &Val<'_>)>,
        mut rules: Vec<RuleSpec>,
    ) -> Vec<RuleSpec> {
        let Some((key, value)) = entry else {
            return rules;
        };
        let items = match value.get_ref() {
            DeValue::Array(items) => items,
            DeValue::Table(_) => {
                self.problem(
                    &key.span(),
                    "`rule` is a single table; write each rule as its own [[rule]] section"
                        .to_string(),
                );
                return rules;
            }
            other => {
                self.problem(
                    &value.span(),
                    format!(
                        "`rule` must be [[rule]] sections, found {}",
                        type_name(other)
                    ),
                );
                return rules;
            }
        };
        let built_in: Vec<String> = rules.iter().map(|r| r.name.clone()).collect();
        let mut seen: BTreeMap<String, Range<usize>> = BTreeMap::new();
        for item in items.iter() {
            let DeValue::Table(table) = item.get_ref() else {
                self.problem(
                    &item.span(),
                    format!(
                        "each `rule` entry must be a table, found {}; write [[rule]] sections",
                        type_name(item.get_ref())
                    ),
                );
                continue;
            };
            let Some(p) = self.partial(&item.span(), table) else {
                continue;
            };
            if let Some(first) = seen.get(&p.name) {
                let at = self.position_text(first);
                self.problem(
                    &p.span,
                    format!(
                        "rule `{}` is defined twice (first at {at}); to change a rule, edit that section",
                        p.name
                    ),
                );
                continue;
            }
            seen.insert(p.name.clone(), p.span.clone());
            let index = rules.iter().position(|r| r.name == p.name);
            if p.disabled {
                match index {
                    Some(i) => {
                        rules.remove(i);
                    }
                    None => {
                        let names: Vec<&str> = built_in.iter().map(String::as_str).collect();
                        let hint = match closest(&p.name, &names) {
                            Some(near) => format!("did you mean `{near}`?"),
                            None => format!("built-in rules: {}", built_in.join(", ")),
                        };
                        self.problem(
                            &p.span,
                            format!(
                                "`disabled` turns off a built-in rule, and there is no built-in rule `{}`; {hint}",
                                p.name
                            ),
                        );
                    }
                }
                continue;
            }
            let merged = match index.and_then(|i| rules.get(i)) {
                Some(old) => self.merge(old.clone(), &p),
                None => self.new_rule(&p),
            };
            if let Some(r) = merged {
                match index.and_then(|i| rules.get_mut(i)) {
                    Some(slot) => *slot = r,
                    None => rules.push(r),
                }
            }
        }
        rules
    }

    fn partial(&mut self, span: &Range<usize>, table: &DeTable<'_>) -> Option<Partial> {
        let section = Section("[[rule]]".into());
        let f = self.fields(table, &section, RULE_KEYS);
        let Some(name_val) = f.value("name") else {
            self.problem(
                span,
                "a [[rule]] needs a `name` (a built-in rule's name changes that rule)".to_string(),
            );
            return None;
        };
        let name = self.string(name_val, "name", &section)?.to_string();
        if !crate::rules::file::valid_metric_name(&name) || name.contains(':') {
            self.problem(
                &name_val.span(),
                format!(
                    "invalid rule name \"{}\"; use letters, digits and _ (it becomes the alertname)",
                    name.escape_debug()
                ),
            );
            return None;
        }
        let section = Section(format!("[[rule]] \"{name}\""));
        let mut ok = true;
        let watch = match f.value("watch") {
            Some(v) => match self.string(v, "watch", &section) {
                Some(s) => match Watch::parse(s) {
                    Some(w) => Some(w),
                    None => {
                        let keys: Vec<&str> = Watch::ALL.iter().map(|w| w.key()).collect();
                        self.problem(
                            &v.span(),
                            format!(
                                "unknown watch \"{}\" in {}; accepted: {}",
                                s.escape_debug(),
                                section.0,
                                quoted_list(&keys)
                            ),
                        );
                        ok = false;
                        None
                    }
                },
                None => {
                    ok = false;
                    None
                }
            },
            None => None,
        };
        let series = match f.value("series") {
            Some(v) => match self.string(v, "series", &section) {
                Some(text) => match series_selector(text) {
                    Ok(()) if watch.is_some() => {
                        self.problem(
                            &v.span(),
                            format!(
                                "{} sets both `watch` and `series`; a rule watches one thing",
                                section.0
                            ),
                        );
                        ok = false;
                        None
                    }
                    Ok(()) => Some(text.to_string()),
                    Err(why) => {
                        self.problem(&v.span(), format!("`series` in {}: {why}", section.0));
                        ok = false;
                        None
                    }
                },
                None => {
                    ok = false;
                    None
                }
            },
            None => None,
        };
        let watch = if series.is_some() {
            Some(Watch::Series)
        } else {
            watch
        };
        let mut threshold = None;
        for (key, below) in [("above", false), ("below", true)] {
            if let Some(v) = f.value(key) {
                match self.number(v, key, &section) {
                    Some(x) if threshold.is_some() => {
                        let _ = x;
                        self.problem(
                            &v.span(),
                            format!(
                                "{} sets both `above` and `below`; a rule fires one way",
                                section.0
                            ),
                        );
                        ok = false;
                    }
                    Some(x) => threshold = Some((below, x, v.span())),
                    None => ok = false,
                }
            }
        }
        let clear = match f.value("clear") {
            Some(v) => match self.number(v, "clear", &section) {
                Some(x) => Some((x, v.span())),
                None => {
                    ok = false;
                    None
                }
            },
            None => None,
        };
        let mut duration = |this: &mut Self, key: &str| -> Option<Duration> {
            let v = f.value(key)?;
            // "0s" is a valid `for`: fire at once.
            if let DeValue::String(s) = v.get_ref()
                && matches!(s.as_ref(), "0" | "0s" | "0m" | "0ms")
            {
                return Some(Duration::ZERO);
            }
            let d = this.duration(v, key);
            if d.is_none() {
                ok = false;
            }
            d
        };
        let for_ = duration(self, "for");
        let keep_firing_for = duration(self, "keep_firing_for");
        let severity = match f.value("severity") {
            Some(v) => match self.string(v, "severity", &section) {
                Some(s) => match Severity::from_label(s) {
                    Some(sev) => Some(sev),
                    None => {
                        self.problem(
                            &v.span(),
                            format!(
                                "unknown severity \"{}\" in {}; accepted: critical, major, minor, degraded, unknown, ok, nodata (or warning = minor, info = ok)",
                                s.escape_debug(),
                                section.0
                            ),
                        );
                        ok = false;
                        None
                    }
                },
                None => {
                    ok = false;
                    None
                }
            },
            None => None,
        };
        let labels = match f.value("labels") {
            Some(v) => {
                let l = self.templates(v, "labels", &name, &section, true);
                ok &= l.is_some();
                l
            }
            None => None,
        };
        let annotations = match f.value("annotations") {
            Some(v) => {
                let a = self.templates(v, "annotations", &name, &section, false);
                ok &= a.is_some();
                a
            }
            None => None,
        };
        let disabled = match f.value("disabled") {
            Some(v) => match v.get_ref() {
                DeValue::Boolean(b) => *b,
                other => {
                    self.problem(
                        &v.span(),
                        format!(
                            "`disabled` in {} must be true or false, found {}",
                            section.0,
                            type_name(other)
                        ),
                    );
                    return None;
                }
            },
            None => false,
        };
        if disabled && f.found.len() > 2 {
            self.problem(
                span,
                format!(
                    "{} is disabled and sets other keys too; a disabled rule takes only `name` and `disabled`",
                    section.0
                ),
            );
            return None;
        }
        ok.then_some(Partial {
            name,
            span: span.clone(),
            watch,
            series,
            threshold,
            clear,
            for_,
            keep_firing_for,
            severity,
            labels,
            annotations,
            disabled,
        })
    }

    fn number(&mut self, v: &Val<'_>, key: &str, section: &Section) -> Option<f64> {
        let x = match v.get_ref() {
            DeValue::Integer(i) => integer(i).map(|n| n as f64),
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
            other => {
                self.problem(
                    &v.span(),
                    format!(
                        "`{key}` in {} must be a number, found {}",
                        section.0,
                        type_name(other)
                    ),
                );
                return None;
            }
        };
        match x {
            Some(x) if x.is_finite() => Some(x),
            _ => {
                self.problem(
                    &v.span(),
                    format!("`{key}` in {} must be a finite number", section.0),
                );
                None
            }
        }
    }

    /// Labels or annotations: names checked, values parsed as Go templates the way
    /// Prometheus parses them, so a broken template fails here and not at 3 a.m.
    fn templates(
        &mut self,
        v: &Val<'_>,
        what: &str,
        rule: &str,
        section: &Section,
        label_names: bool,
    ) -> Option<BTreeMap<String, String>> {
        let hint = format!("write {what} = {{ name = \"value\", … }}");
        let table = self.table(v, what, &hint)?;
        let mut out = BTreeMap::new();
        let mut ok = true;
        for (key, value) in table.iter() {
            let name: &str = key.get_ref();
            if label_names && let Err(why) = check_label_name(name) {
                self.problem(
                    &key.span(),
                    format!(
                        "invalid label name \"{}\" in {}: {why}",
                        name.escape_debug(),
                        section.0
                    ),
                );
                ok = false;
                continue;
            }
            let Some(text) = self.string(value, name, section) else {
                ok = false;
                continue;
            };
            if let Err(e) = Template::parse_alert(rule, text) {
                self.problem(
                    &value.span(),
                    format!("{what} `{name}` in {}: {e}", section.0),
                );
                ok = false;
                continue;
            }
            out.insert(name.to_string(), text.to_string());
        }
        ok.then_some(out)
    }

    /// A built-in rule changed by the keys a section sets.
    fn merge(&mut self, mut r: RuleSpec, p: &Partial) -> Option<RuleSpec> {
        if let Some(w) = p.watch {
            r.watch = w;
            r.series = p.series.clone();
            r.below = w.fires_below();
        }
        if let Some((below, x, _)) = p.threshold {
            r.below = below;
            r.threshold = x;
            // A new threshold without a new clear level recovers at the threshold itself;
            // keeping the old clear level could put it on the wrong side.
            r.clear = x;
        }
        if let Some((c, _)) = p.clear {
            r.clear = c;
        }
        if let Some(d) = p.for_ {
            r.for_ = d;
        }
        if let Some(d) = p.keep_firing_for {
            r.keep_firing_for = d;
        }
        if let Some(s) = p.severity {
            r.severity = s;
        }
        if let Some(l) = &p.labels {
            r.labels = l.clone();
        }
        if let Some(a) = &p.annotations {
            r.annotations = a.clone();
        }
        self.validate(r, p)
    }

    fn new_rule(&mut self, p: &Partial) -> Option<RuleSpec> {
        let Some(watch) = p.watch else {
            self.problem(
                &p.span,
                format!(
                    "rule `{}` is not a built-in rule, so it needs `watch` (what it looks at); see `nocscope --print-rules` for the built-in ones",
                    p.name
                ),
            );
            return None;
        };
        let Some(severity) = p.severity else {
            self.problem(&p.span, format!("rule `{}` needs a `severity`", p.name));
            return None;
        };
        let (threshold, clear) = if watch.is_flag() {
            (0.5, 0.5)
        } else {
            match p.threshold {
                Some((_, x, _)) => (x, p.clear.as_ref().map(|c| c.0).unwrap_or(x)),
                None => {
                    let dir = if watch.fires_below() {
                        "below"
                    } else {
                        "above"
                    };
                    self.problem(
                        &p.span,
                        format!(
                            "rule `{}` watches {} and needs a threshold: `{dir} = …`",
                            p.name,
                            watch.key()
                        ),
                    );
                    return None;
                }
            }
        };
        let below = match (watch, p.threshold.as_ref()) {
            (Watch::Series, Some((b, _, _))) => *b,
            _ => watch.fires_below(),
        };
        let r = RuleSpec {
            name: p.name.clone(),
            watch,
            series: p.series.clone(),
            below,
            threshold,
            clear,
            for_: p.for_.unwrap_or_default(),
            keep_firing_for: p.keep_firing_for.unwrap_or_default(),
            severity,
            labels: p.labels.clone().unwrap_or_default(),
            annotations: p.annotations.clone().unwrap_or_default(),
        };
        self.validate(r, p)
    }

    /// Direction, flags and hysteresis agree with the watch.
    fn validate(&mut self, mut r: RuleSpec, p: &Partial) -> Option<RuleSpec> {
        let w = r.watch;
        if w.is_flag() {
            if let Some((_, _, span)) = &p.threshold {
                self.problem(
                    span,
                    format!(
                        "{} is 1 while failing and takes no threshold; leave out `above`/`below`",
                        w.key()
                    ),
                );
                return None;
            }
            if let Some((_, span)) = &p.clear {
                self.problem(span, format!("{} takes no `clear` level", w.key()));
                return None;
            }
            r.threshold = 0.5;
            r.clear = 0.5;
            return Some(r);
        }
        // A series rule fires whichever way its threshold key says.
        if let Some((below, _, span)) = &p.threshold
            && w != Watch::Series
            && *below != w.fires_below()
        {
            let (wrong, right, why) = if w.fires_below() {
                ("above", "below", "it counts days left, so it fires below")
            } else {
                ("below", "above", "it fires when the value rises")
            };
            self.problem(
                span,
                format!(
                    "`{wrong}` does not apply to {}: {why}; write `{right} = …`",
                    w.key()
                ),
            );
            return None;
        }
        let wrong_side = if r.below {
            r.clear < r.threshold
        } else {
            r.clear > r.threshold
        };
        if wrong_side {
            let span = p
                .clear
                .as_ref()
                .map(|c| c.1.clone())
                .unwrap_or(p.span.clone());
            let side = if r.below {
                "at or above"
            } else {
                "at or below"
            };
            self.problem(
                &span,
                format!(
                    "`clear` {} must be {side} the threshold {} (an active alert recovers past it)",
                    r.clear, r.threshold
                ),
            );
            return None;
        }
        Some(r)
    }

    /// `rule_files = ["rules/*.yml", …]`: globs relative to the config file; every file read
    /// and checked now, so a bad rule fails `config check` with its file:line:col.
    pub(super) fn rule_files(&mut self, value: Option<&Val<'_>>) -> Vec<RuleFileText> {
        let Some(v) = value else {
            return Vec::new();
        };
        let DeValue::Array(items) = v.get_ref() else {
            self.problem(
                &v.span(),
                format!(
                    "`rule_files` must be a list of paths or globs, found {}; write rule_files = [\"rules/*.yml\"]",
                    type_name(v.get_ref())
                ),
            );
            return Vec::new();
        };
        let mut out: Vec<RuleFileText> = Vec::new();
        for item in items.iter() {
            let Some(pattern) = self.string(item, "rule_files", &Section("the top level".into()))
            else {
                continue;
            };
            let full = if Path::new(pattern).is_absolute() {
                Path::new(pattern).to_path_buf()
            } else {
                self.base_dir.join(pattern)
            };
            let found = match crate::pathglob::glob(&full) {
                Ok(f) => f,
                Err(e) => {
                    self.problem(
                        &item.span(),
                        format!("bad glob \"{}\": {e}", pattern.escape_debug()),
                    );
                    continue;
                }
            };
            // A glob that matches nothing loads nothing, as in Prometheus (a rules folder
            // can be empty); a plain path that does not exist is a mistake.
            let literal = !pattern.contains(['*', '?', '[']);
            if found.is_empty() && literal {
                self.problem(
                    &item.span(),
                    format!(
                        "rule file \"{}\" does not exist (looked for {})",
                        pattern.escape_debug(),
                        full.display()
                    ),
                );
                continue;
            }
            for path in found {
                if out.iter().any(|f| f.path == path) {
                    continue;
                }
                let name = path.display().to_string();
                let text = match read_text(&path, "rule file") {
                    Ok(t) => t,
                    Err(e) => {
                        self.problem(&item.span(), e);
                        continue;
                    }
                };
                match crate::rules::file::load_rule_file(&name, &text) {
                    Ok(_) => out.push(RuleFileText { path, text }),
                    Err(problems) => {
                        for p in &problems {
                            let (line, col) = p.pos.map(|x| (x.line, x.col)).unwrap_or((0, 0));
                            let message = match &p.rule {
                                Some((g, i, n)) => {
                                    format!("group \"{g}\", rule {i}, \"{n}\": {}", p.message)
                                }
                                None => p.message.clone(),
                            };
                            self.report.problems.push(Problem {
                                file: name.clone(),
                                line: u32::try_from(line).unwrap_or(u32::MAX),
                                col: u32::try_from(col).unwrap_or(u32::MAX),
                                message,
                            });
                        }
                    }
                }
            }
        }
        out
    }

    /// `notify = "alertmanager.yml"`: relative to the config file; read and checked now
    /// (Alertmanager's validation, then what nocscope cannot deliver or evaluate), so a bad
    /// file fails `config check` with its file:line.
    pub(super) fn notify(&mut self, value: Option<&Val<'_>>) -> Option<NotifyFile> {
        let v = value?;
        let text_path = self.string(v, "notify", &Section("the top level".into()))?;
        let path = if Path::new(text_path).is_absolute() {
            Path::new(text_path).to_path_buf()
        } else {
            self.base_dir.join(text_path)
        };
        let name = path.display().to_string();
        let text = match read_text(&path, "notify file") {
            Ok(t) => t,
            Err(e) => {
                self.problem(&v.span(), e);
                return None;
            }
        };
        let loaded = crate::notify::load_config(&text)
            .map_err(|e| (e.pos.map(|p| (p.line, p.col)), e.message))
            .and_then(|c| {
                let c = std::sync::Arc::new(c);
                crate::notify::Dispatcher::new(std::sync::Arc::clone(&c), 0)
                    .map(|_| c)
                    .map_err(|e| (None, e))
            });
        match loaded {
            Ok(config) => Some(NotifyFile { path, text, config }),
            Err((pos, message)) => {
                let (line, col) = pos.unwrap_or((0, 0));
                self.report.problems.push(Problem {
                    file: name,
                    line: u32::try_from(line).unwrap_or(u32::MAX),
                    col: u32::try_from(col).unwrap_or(u32::MAX),
                    message,
                });
                None
            }
        }
    }
}

/// A file the config names (a rule file, the notify file), as UTF-8 text within the cap; the
/// error says which file, what kind, and why.
fn read_text(path: &Path, what: &str) -> Result<String, String> {
    let name = path.display();
    match crate::capped::read_file(path, MAX_RULE_FILE) {
        Ok(bytes) => {
            String::from_utf8(bytes).map_err(|_| format!("{what} {name} is not UTF-8 text"))
        }
        Err(e) => {
            let why = match e {
                crate::capped::CappedError::TooLarge { cap } => format!("larger than {cap} bytes"),
                crate::capped::CappedError::Open(e) | crate::capped::CappedError::Read(e) => {
                    super::io_reason(&e)
                }
            };
            Err(format!("cannot read {what} {name}: {why}"))
        }
    }
}
