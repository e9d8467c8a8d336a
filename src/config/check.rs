//! The validating walk over a spanned TOML tree: every key and value checked, every problem
//! recorded with its position. Reads secrets (environment, files) but opens no sockets.

use std::collections::{BTreeMap, HashMap};
use std::env::VarError;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use super::units::{format_duration, parse_byte_size, parse_duration};
use super::{
    Anomaly, Auth, Config, ConfigError, Defaults, MAX_FPS, MAX_REFRESH, MIN_REFRESH, Secret,
    Storage, Target, Ui,
};
use crate::model::TargetId;
use kinds::Kind;
pub use kinds::{
    DEFAULT_MAX_REDIRECTS, DEFAULT_MAX_REPETITIONS, DEFAULT_PING_COUNT, DEFAULT_PROFILES,
    DEFAULT_REQUEST_TIMEOUT, DEFAULT_RETRIES, DEFAULT_SNMP_PORT,
};

mod kinds;
mod rules;

pub use rules::parse_rule_sections;

/// How the walk looks up environment variables; tests pass a fixed map so that they neither
/// depend on nor modify the process environment.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Result<String, VarError>;

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);
/// Prometheus' default scrape timeout; the effective default is `min(this, interval)`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_BODY_LIMIT: u64 = 50 << 20;
pub const DEFAULT_SAMPLE_LIMIT: u32 = 200_000;
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(15 * 24 * 3600);
pub const DEFAULT_MAX_SIZE: u64 = 0;

const TOP_KEYS: &[&str] = &[
    "defaults",
    "storage",
    "anomaly",
    "ui",
    "rule_files",
    "notify",
    "rule",
    "target",
];
const DEFAULTS_KEYS: &[&str] = &[
    "interval",
    "timeout",
    "data_dir",
    "body_limit",
    "sample_limit",
];
const STORAGE_KEYS: &[&str] = &["retention", "max_size"];
const ANOMALY_KEYS: &[&str] = &[
    "warmup_points",
    "alert_after",
    "forecast_window",
    "forecast_horizon",
];
const UI_KEYS: &[&str] = &["refresh", "fps"];
/// Keys whose inline value is a credential, whatever kind of target they appear in.
const INLINE_SECRET_KEYS: &[&str] = &[
    "bearer_token",
    "community",
    "auth_password",
    "priv_password",
];
const BASIC_AUTH_KEYS: &[&str] = &["username", "password", "password_env", "password_file"];
const TARGET_KINDS: &[&str] = &["exporter", "snmp", "icmp", "tcp", "http"];

const DURATION_HINT: &str = "use a number and unit like \"15s\", \"2m\", \"1h30m\" (units ms, s, m, h, d, w, y, largest first)";
const SIZE_HINT: &str = "use an integer number of bytes or a number and unit like \"512KiB\", \"50MiB\", \"2GB\" (units B, KB, KiB, MB, MiB, GB, GiB, TB, TiB)";
const NAME_HINT: &str = "use letters, digits and _ . : - only";

use super::diag::{Reporter, closest, type_name};

type Val<'i> = Spanned<DeValue<'i>>;
type Key<'i> = Spanned<DeString<'i>>;

/// Where a key lives, for messages: `[defaults]`, `[[target]] "web1"`, …
#[derive(Clone)]
struct Section(String);

impl Section {
    /// "in [defaults]", but "at the top level".
    fn place(&self) -> String {
        if self.0 == "the top level" {
            "at the top level".to_string()
        } else {
            format!("in {}", self.0)
        }
    }
}

/// The known keys of one table, each with its key and value.
struct Fields<'t, 'i> {
    found: HashMap<&'static str, (&'t Key<'i>, &'t Val<'i>)>,
}

impl<'t, 'i> Fields<'t, 'i> {
    fn get(&self, key: &str) -> Option<(&'t Key<'i>, &'t Val<'i>)> {
        self.found.get(key).copied()
    }
    fn value(&self, key: &str) -> Option<&'t Val<'i>> {
        self.found.get(key).map(|(_, v)| *v)
    }
}

pub struct Checker<'a> {
    report: Reporter<'a>,
    base_dir: &'a Path,
    env: EnvLookup<'a>,
    /// Every credential seen, read or not, so `finish` can scrub it from messages: a token
    /// pasted into the wrong key (say `interval`) is still a token.
    secrets: Vec<String>,
}

/// A duration or size, and whether the file set it (defaults only apply when it did not).
struct Setting<T> {
    value: T,
    span: Option<Range<usize>>,
}

impl<'a> Checker<'a> {
    pub fn new(text: &'a str, origin: &'a str, base_dir: &'a Path, env: EnvLookup<'a>) -> Self {
        Checker {
            report: Reporter::new(text, origin),
            base_dir,
            env,
            secrets: Vec::new(),
        }
    }

    fn problem(&mut self, span: &Range<usize>, message: String) {
        self.report.problem(span, message);
    }

    /// A problem about the file as a whole; `Problem::line == 0` prints without a position.
    fn file_problem(&mut self, message: String) {
        self.report.file_problem(message);
    }

    fn position_text(&self, span: &Range<usize>) -> String {
        self.report.location(span)
    }

    pub fn finish(mut self, config: Config) -> Result<Config, ConfigError> {
        if self.report.problems.is_empty() {
            return Ok(config);
        }
        // Shorter values would scrub ordinary words out of messages and hide too little to matter.
        self.secrets.retain(|s| s.chars().count() >= 4);
        for p in &mut self.report.problems {
            for secret in &self.secrets {
                if p.message.contains(secret.as_str()) {
                    p.message = p.message.replace(secret.as_str(), "<redacted>");
                }
            }
        }
        // The config's own problems first, then each rule file's, each in file order.
        let origin = self.report.origin;
        self.report.problems.sort_by(|a, b| {
            (a.file != origin, &a.file, a.line, a.col).cmp(&(
                b.file != origin,
                &b.file,
                b.line,
                b.col,
            ))
        });
        self.report.problems.dedup();
        Err(ConfigError {
            problems: self.report.problems,
        })
    }

    pub fn syntax_error(mut self, err: &toml::de::Error) -> ConfigError {
        let span = err.span().unwrap_or(0..0);
        let mut message = err.message().trim_end().replace('\n', "; ");
        // toml names neither the key nor the first definition; the span is the repeated key,
        // which is safe to show (keys are never secrets, values may be).
        if message == "duplicate key"
            && let Some(key) = self.report.lines.text.get(span.clone())
        {
            message = format!("duplicate key `{}`", key.escape_debug());
        }
        self.problem(
            &span,
            format!("invalid TOML: {message}; see https://toml.io for the syntax"),
        );
        ConfigError {
            problems: self.report.problems,
        }
    }

    /// Split a table into known fields, reporting every unknown key with a hint.
    fn fields<'t, 'i>(
        &mut self,
        table: &'t DeTable<'i>,
        section: &Section,
        allowed: &[&'static str],
    ) -> Fields<'t, 'i> {
        let mut found = HashMap::new();
        for (key, value) in table.iter() {
            let name: &str = key.get_ref();
            match allowed.iter().find(|a| **a == name) {
                Some(known) => {
                    found.insert(*known, (key, value));
                }
                None => {
                    let hint = match closest(name, allowed) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => format!("accepted keys: {}", allowed.join(", ")),
                    };
                    self.problem(
                        &key.span(),
                        format!("unknown key `{name}` {}; {hint}", section.place()),
                    );
                }
            }
        }
        Fields { found }
    }

    /// The fields of an optional top-level `[name]` section (none when it is absent or is not
    /// a table, which is reported).
    fn section<'t, 'i>(
        &mut self,
        value: Option<&'t Val<'i>>,
        name: &str,
        allowed: &[&'static str],
    ) -> Fields<'t, 'i> {
        let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        let hint = format!("write it as {article} [{name}] section");
        match value.and_then(|v| self.table(v, name, &hint)) {
            Some(t) => self.fields(t, &Section(format!("[{name}]")), allowed),
            None => Fields {
                found: HashMap::new(),
            },
        }
    }

    fn table<'t, 'i>(
        &mut self,
        value: &'t Val<'i>,
        what: &str,
        accepted: &str,
    ) -> Option<&'t DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                self.problem(
                    &value.span(),
                    format!(
                        "`{what}` must be a table, found {}; {accepted}",
                        type_name(other)
                    ),
                );
                None
            }
        }
    }

    /// A string value. Only the type is named on error, never the value.
    fn string<'t>(&mut self, value: &'t Val<'_>, key: &str, section: &Section) -> Option<&'t str> {
        match value.get_ref() {
            DeValue::String(s) => Some(s.as_ref()),
            other => {
                self.problem(
                    &value.span(),
                    format!(
                        "`{key}` in {} must be a string, found {}",
                        section.0,
                        type_name(other)
                    ),
                );
                None
            }
        }
    }

    fn duration(&mut self, value: &Val<'_>, key: &str) -> Option<Duration> {
        let text = match value.get_ref() {
            DeValue::String(s) => s.as_ref(),
            other => {
                self.problem(
                    &value.span(),
                    format!(
                        "invalid duration {} for `{key}`: durations are strings; {DURATION_HINT}",
                        describe(other)
                    ),
                );
                return None;
            }
        };
        match parse_duration(text) {
            // Timestamps are whole milliseconds everywhere, so a shorter period would be 0.
            Some(d) if d.is_zero() => {
                self.problem(
                    &value.span(),
                    format!("`{key}` must be at least 1ms, found \"{text}\"; {DURATION_HINT}"),
                );
                None
            }
            Some(d) => Some(d),
            None => {
                self.problem(
                    &value.span(),
                    format!(
                        "invalid duration \"{}\" for `{key}`; {DURATION_HINT}",
                        text.escape_debug()
                    ),
                );
                None
            }
        }
    }

    fn byte_size(&mut self, value: &Val<'_>, key: &str) -> Option<u64> {
        match value.get_ref() {
            DeValue::Integer(i) => match integer(i) {
                Some(n) if n >= 0 => u64::try_from(n).ok(),
                _ => {
                    self.problem(
                        &value.span(),
                        format!("invalid size {i} for `{key}`; {SIZE_HINT}, or 0 for no limit"),
                    );
                    None
                }
            },
            DeValue::String(s) => match parse_byte_size(s) {
                Some(n) => Some(n),
                None => {
                    self.problem(
                        &value.span(),
                        format!(
                            "invalid size \"{}\" for `{key}`; {SIZE_HINT}, or 0 for no limit",
                            s.escape_debug()
                        ),
                    );
                    None
                }
            },
            other => {
                self.problem(
                    &value.span(),
                    format!(
                        "invalid size {} for `{key}`; {SIZE_HINT}, or 0 for no limit",
                        describe(other)
                    ),
                );
                None
            }
        }
    }

    fn count(&mut self, value: &Val<'_>, key: &str) -> Option<u32> {
        let accepted = format!("use an integer from 0 (no limit) to {}", u32::MAX);
        match value.get_ref() {
            DeValue::Integer(i) => match integer(i).and_then(|n| u32::try_from(n).ok()) {
                Some(n) => Some(n),
                None => {
                    self.problem(&value.span(), format!("invalid `{key}` {i}; {accepted}"));
                    None
                }
            },
            other => {
                self.problem(
                    &value.span(),
                    format!(
                        "`{key}` must be an integer, found {}; {accepted}",
                        type_name(other)
                    ),
                );
                None
            }
        }
    }

    /// `~` → $HOME, relative → against the config file's directory.
    fn path(&mut self, text: &str, span: &Range<usize>, key: &str) -> Option<PathBuf> {
        if text.is_empty() {
            self.problem(span, format!("`{key}` must not be empty; give a file path"));
            return None;
        }
        let rest = if text == "~" {
            Some("")
        } else {
            text.strip_prefix("~/")
        };
        if let Some(rest) = rest {
            return match self.var("HOME") {
                Some(home) => Some(Path::new(&home).join(rest)),
                None => {
                    self.problem(
                        span,
                        format!(
                            "cannot expand `~` in `{key}`: $HOME is not set; use an absolute path"
                        ),
                    );
                    None
                }
            };
        }
        if text.starts_with('~') {
            self.problem(
                span,
                format!(
                    "`{key}` \"{}\": only `~` and `~/…` (your own home) are expanded; use an absolute path",
                    text.escape_debug()
                ),
            );
            return None;
        }
        Some(self.base_dir.join(text))
    }

    /// A non-empty, Unicode environment variable; anything else counts as unset.
    fn var(&self, name: &str) -> Option<String> {
        (self.env)(name).ok().filter(|v| !v.is_empty())
    }

    pub fn check(&mut self, root: &DeTable<'_>, source: Option<PathBuf>) -> Config {
        let top = self.fields(root, &Section("the top level".into()), TOP_KEYS);
        let defaults = self.defaults(top.value("defaults"));
        let storage = self.storage(top.value("storage"));
        let anomaly = self.anomaly(top.value("anomaly"));
        let ui = self.ui(top.value("ui"));
        let rules = self.rules(top.get("rule"));
        let rule_files = self.rule_files(top.value("rule_files"));
        let notify = self.notify(top.value("notify"));
        let targets = match top.get("target") {
            Some((key, value)) => self.targets(key, value, &defaults),
            None => Vec::new(),
        };
        Config {
            source,
            defaults: defaults.resolved,
            storage,
            anomaly,
            ui,
            rules,
            rule_files,
            notify,
            targets,
        }
    }

    fn defaults(&mut self, value: Option<&Val<'_>>) -> DefaultsState {
        let fields = self.section(value, "defaults", DEFAULTS_KEYS);
        let interval = fields
            .value("interval")
            .and_then(|v| self.duration(v, "interval"));
        let interval = interval.unwrap_or(DEFAULT_INTERVAL);
        let timeout = match fields.value("timeout") {
            Some(v) => self.duration(v, "timeout").map(|d| Setting {
                value: d,
                span: Some(v.span()),
            }),
            None => None,
        };
        if let Some(Setting {
            value,
            span: Some(span),
        }) = &timeout
            && *value > interval
        {
            let message = timeout_message(*value, interval, "[defaults]");
            self.problem(span, message);
        }
        let data_dir = match fields.value("data_dir") {
            Some(v) => self
                .string(v, "data_dir", &Section("[defaults]".into()))
                .map(str::to_owned)
                .and_then(|s| self.path(&s, &v.span(), "data_dir")),
            None => self.default_data_dir(),
        };
        let body_limit = fields
            .value("body_limit")
            .and_then(|v| self.byte_size(v, "body_limit"))
            .unwrap_or(DEFAULT_BODY_LIMIT);
        let sample_limit = fields
            .value("sample_limit")
            .and_then(|v| self.count(v, "sample_limit"))
            .unwrap_or(DEFAULT_SAMPLE_LIMIT);
        let explicit_timeout = timeout.map(|t| t.value);
        DefaultsState {
            explicit_timeout,
            resolved: Defaults {
                interval,
                timeout: explicit_timeout.unwrap_or(DEFAULT_TIMEOUT.min(interval)),
                data_dir: data_dir.unwrap_or_default(),
                body_limit,
                sample_limit,
            },
        }
    }

    fn default_data_dir(&mut self) -> Option<PathBuf> {
        // The XDG spec says relative values are invalid and must be ignored.
        if let Some(xdg) = self.var("XDG_DATA_HOME").map(PathBuf::from)
            && xdg.is_absolute()
        {
            return Some(xdg.join("nocscope"));
        }
        match self.var("HOME") {
            Some(home) => Some(Path::new(&home).join(".local/share/nocscope")),
            None => {
                self.file_problem(
                    "cannot choose a default `data_dir`: neither $XDG_DATA_HOME nor $HOME is set; \
                     set `data_dir` in [defaults]"
                        .to_string(),
                );
                None
            }
        }
    }

    fn storage(&mut self, value: Option<&Val<'_>>) -> Storage {
        let fields = self.section(value, "storage", STORAGE_KEYS);
        Storage {
            retention: fields
                .value("retention")
                .and_then(|v| self.duration(v, "retention"))
                .unwrap_or(DEFAULT_RETENTION),
            max_size: fields
                .value("max_size")
                .and_then(|v| self.byte_size(v, "max_size"))
                .unwrap_or(DEFAULT_MAX_SIZE),
        }
    }

    fn anomaly(&mut self, value: Option<&Val<'_>>) -> Anomaly {
        let fields = self.section(value, "anomaly", ANOMALY_KEYS);
        let d = Anomaly::default();
        let warmup_points = match fields.value("warmup_points") {
            Some(v) => match self.count(v, "warmup_points") {
                // The scaler needs a spread, and a spread needs at least two points.
                Some(n) if n < 2 => {
                    self.problem(
                        &v.span(),
                        format!(
                            "`warmup_points` in [anomaly] must be at least 2, found {n}; \
                             use a number of points like 40"
                        ),
                    );
                    d.warmup_points
                }
                Some(n) => n,
                None => d.warmup_points,
            },
            None => d.warmup_points,
        };
        Anomaly {
            warmup_points,
            alert_after: fields
                .value("alert_after")
                .and_then(|v| self.duration(v, "alert_after")),
            forecast_window: fields
                .value("forecast_window")
                .and_then(|v| self.duration(v, "forecast_window"))
                .unwrap_or(d.forecast_window),
            forecast_horizon: fields
                .value("forecast_horizon")
                .and_then(|v| self.duration(v, "forecast_horizon"))
                .unwrap_or(d.forecast_horizon),
        }
    }

    fn ui(&mut self, value: Option<&Val<'_>>) -> Ui {
        let fields = self.section(value, "ui", UI_KEYS);
        let d = Ui::default();
        let refresh = match fields.value("refresh") {
            Some(v) => match self.duration(v, "refresh") {
                Some(r) if !(MIN_REFRESH..=MAX_REFRESH).contains(&r) => {
                    self.problem(
                        &v.span(),
                        format!(
                            "`refresh` in [ui] must be between {} and {}, found {}; use a \
                             duration like \"2s\"",
                            format_duration(MIN_REFRESH),
                            format_duration(MAX_REFRESH),
                            format_duration(r)
                        ),
                    );
                    d.refresh
                }
                Some(r) => r,
                None => d.refresh,
            },
            None => d.refresh,
        };
        let fps = match fields.value("fps") {
            Some(v) => match self.count(v, "fps") {
                Some(n) if !(1..=MAX_FPS).contains(&n) => {
                    self.problem(
                        &v.span(),
                        format!(
                            "`fps` in [ui] must be between 1 and {MAX_FPS}, found {n}; use a \
                             frame rate like 20"
                        ),
                    );
                    d.fps
                }
                Some(n) => n,
                None => d.fps,
            },
            None => d.fps,
        };
        Ui { refresh, fps }
    }

    fn targets(&mut self, key: &Key<'_>, value: &Val<'_>, defaults: &DefaultsState) -> Vec<Target> {
        let items = match value.get_ref() {
            DeValue::Array(items) => items,
            DeValue::Table(_) => {
                self.problem(
                    &key.span(),
                    "`target` is a single table; write each target as its own [[target]] section"
                        .to_string(),
                );
                return Vec::new();
            }
            other => {
                self.problem(
                    &value.span(),
                    format!(
                        "`target` must be [[target]] sections, found {}",
                        type_name(other)
                    ),
                );
                return Vec::new();
            }
        };
        let mut targets = Vec::new();
        // name → span of its first definition, to name both places of a duplicate.
        let mut seen: HashMap<String, Range<usize>> = HashMap::new();
        for (index, item) in items.iter().enumerate() {
            let DeValue::Table(table) = item.get_ref() else {
                self.problem(
                    &item.span(),
                    format!(
                        "each `target` entry must be a table, found {}; write [[target]] sections",
                        type_name(item.get_ref())
                    ),
                );
                continue;
            };
            let id = match u32::try_from(index) {
                Ok(i) => TargetId(i),
                Err(_) => {
                    self.problem(
                        &item.span(),
                        format!("too many targets; at most {} are supported", u32::MAX),
                    );
                    break;
                }
            };
            if let Some(target) = self.target(id, index, &item.span(), table, defaults, &mut seen) {
                targets.push(target);
            }
        }
        targets
    }

    fn target(
        &mut self,
        id: TargetId,
        index: usize,
        span: &Range<usize>,
        table: &DeTable<'_>,
        defaults: &DefaultsState,
        seen: &mut HashMap<String, Range<usize>>,
    ) -> Option<Target> {
        // Before anything can be reported: a credential may sit under any key, even one the
        // kind does not accept, and every message is scrubbed of the ones seen here.
        self.remember_inline_secrets(table);
        // Read the name first (before unknown keys are reported) so messages can say which target.
        let raw_name = table
            .iter()
            .find(|(k, _)| k.get_ref() == "name")
            .and_then(|(_, v)| v.get_ref().as_str().map(str::to_owned));
        let section = Section(match &raw_name {
            Some(n) => format!("[[target]] \"{}\"", n.escape_debug()),
            None => format!("[[target]] #{}", index + 1),
        });
        // The kind decides which keys are known; without a usable kind every key of any kind
        // passes, so that the one real mistake (the kind) is not buried under key errors.
        let raw_kind = table
            .iter()
            .find(|(k, _)| k.get_ref() == "kind")
            .and_then(|(_, v)| v.get_ref().as_str())
            .and_then(Kind::from_name);
        let fields = match raw_kind {
            Some(kind) => self.kind_fields(table, &section, kind),
            None => self.fields(table, &section, &kinds::all_target_keys()),
        };

        let name = match fields.value("name") {
            Some(v) => self.string(v, "name", &section).and_then(|n| {
                if valid_name(n) {
                    Some((n.to_owned(), v.span()))
                } else {
                    self.problem(
                        &v.span(),
                        format!("invalid target name \"{}\"; {NAME_HINT}", n.escape_debug()),
                    );
                    None
                }
            }),
            None => {
                self.problem(
                    span,
                    format!(
                        "{} has no `name`; every target needs a unique name ({NAME_HINT})",
                        section.0
                    ),
                );
                None
            }
        };
        if let Some((n, name_span)) = &name {
            match seen.get(n) {
                Some(first) => {
                    let first_at = self.position_text(first);
                    self.problem(
                        name_span,
                        format!(
                            "duplicate target name \"{n}\", first defined at {first_at}; target names must be unique"
                        ),
                    );
                }
                None => {
                    seen.insert(n.clone(), name_span.clone());
                }
            }
        }

        let kind = match fields.value("kind") {
            Some(v) => match self.string(v, "kind", &section) {
                Some(k) => match Kind::from_name(k) {
                    Some(kind) => Some(kind),
                    None => {
                        let hint = closest(k, TARGET_KINDS)
                            .map(|n| format!("did you mean \"{n}\"? "))
                            .unwrap_or_default();
                        self.problem(
                            &v.span(),
                            format!(
                                "unknown target kind \"{}\"; {hint}accepted: {}",
                                k.escape_debug(),
                                quoted_list(TARGET_KINDS)
                            ),
                        );
                        None
                    }
                },
                None => None,
            },
            None => {
                self.problem(
                    span,
                    format!(
                        "{} has no `kind`; accepted: {}",
                        section.0,
                        quoted_list(TARGET_KINDS)
                    ),
                );
                None
            }
        };

        let host = match fields.value("host") {
            Some(v) => self.string(v, "host", &section).and_then(|h| {
                if valid_name(h) {
                    Some(h.to_owned())
                } else {
                    self.problem(
                        &v.span(),
                        format!("invalid host \"{}\"; {NAME_HINT}", h.escape_debug()),
                    );
                    None
                }
            }),
            None => name.as_ref().map(|(n, _)| n.clone()),
        };

        let (interval, interval_from) = match fields.value("interval") {
            Some(v) => (self.duration(v, "interval"), section.0.clone()),
            None => (Some(defaults.resolved.interval), "[defaults]".to_string()),
        };
        let timeout = match fields.value("timeout") {
            Some(v) => {
                let t = self.duration(v, "timeout");
                if let (Some(t), Some(i)) = (t, interval)
                    && t > i
                {
                    let message = timeout_message(t, i, &interval_from);
                    self.problem(&v.span(), message);
                }
                t
            }
            // Inherited timeouts shrink to fit a shorter interval instead of failing, as in
            // Prometheus; only a timeout written on the target itself is held to its interval.
            None => interval.map(|i| defaults.explicit_timeout.unwrap_or(DEFAULT_TIMEOUT).min(i)),
        };
        let labels = match fields.value("labels") {
            Some(v) => self.labels(v, &section),
            None => Some(BTreeMap::new()),
        };

        let context = kinds::TargetContext {
            span,
            section: &section,
            defaults: &defaults.resolved,
            timeout,
        };
        let kind = match kind {
            Some(Kind::Exporter) => self.exporter(&fields, &context),
            Some(Kind::Snmp) => self.snmp(&fields, &context),
            Some(Kind::Icmp) => self.icmp(&fields, &context),
            Some(Kind::Tcp) => self.tcp(&fields, &context),
            Some(Kind::Http) => self.http(&fields, &context),
            None => None,
        };

        let (name, _) = name?;
        Some(Target {
            id,
            name,
            host: host?,
            interval: interval?,
            timeout: timeout?,
            labels: labels?,
            kind: kind?,
        })
    }

    fn labels(&mut self, value: &Val<'_>, section: &Section) -> Option<BTreeMap<String, String>> {
        let table = self.table(value, "labels", "write labels = { name = \"value\", … }")?;
        let mut labels = BTreeMap::new();
        let mut ok = true;
        for (key, v) in table.iter() {
            let name: &str = key.get_ref();
            if let Err(why) = check_label_name(name) {
                self.problem(
                    &key.span(),
                    format!(
                        "invalid label name \"{}\" in {}: {why}",
                        name.escape_debug(),
                        section.0
                    ),
                );
                ok = false;
            }
            match v.get_ref() {
                DeValue::String(s) if s.is_empty() => {
                    self.problem(
                        &v.span(),
                        format!(
                            "label `{name}` in {} is empty; an empty value means no label, so leave it out",
                            section.0
                        ),
                    );
                    ok = false;
                }
                DeValue::String(s) => {
                    labels.insert(name.to_owned(), s.to_string());
                }
                other => {
                    self.problem(
                        &v.span(),
                        format!(
                            "label `{name}` in {} must be a string, found {}",
                            section.0,
                            type_name(other)
                        ),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(labels)
    }

    /// `Some(None)`: no auth; `None`: a problem was reported.
    fn auth(&mut self, fields: &Fields<'_, '_>, section: &Section) -> Option<Option<Auth>> {
        let mut present: Vec<(&str, Range<usize>)> = [
            "basic_auth",
            "bearer_token",
            "bearer_token_env",
            "bearer_token_file",
        ]
        .into_iter()
        .filter_map(|k| fields.get(k).map(|(key, _)| (k, key.span())))
        .collect();
        present.sort_by_key(|(_, span)| span.start);
        if let [(first, first_span), rest @ ..] = present.as_slice()
            && !rest.is_empty()
        {
            let first_at = self.position_text(first_span);
            for (other, span) in rest {
                self.problem(
                    span,
                    format!(
                        "`{other}` conflicts with `{first}` at {first_at} in {}; use at most one of basic_auth, bearer_token, bearer_token_env, bearer_token_file",
                        section.0
                    ),
                );
            }
            return None;
        }
        if let Some((_, value)) = fields.get("basic_auth") {
            return self.basic_auth(value, section).map(Some);
        }
        for key in ["bearer_token", "bearer_token_env", "bearer_token_file"] {
            if let Some((_, value)) = fields.get(key) {
                return self
                    .secret(key, value, section)
                    .map(|token| Some(Auth::Bearer { token }));
            }
        }
        Some(None)
    }

    fn remember_inline_secrets(&mut self, table: &DeTable<'_>) {
        for (key, value) in table.iter() {
            let name: &str = key.get_ref();
            match value.get_ref() {
                DeValue::String(text) if INLINE_SECRET_KEYS.contains(&name) => {
                    self.secrets.push(text.to_string());
                }
                DeValue::Table(basic) if name == "basic_auth" => {
                    for (key, value) in basic.iter() {
                        if key.get_ref() == "password"
                            && let DeValue::String(pw) = value.get_ref()
                        {
                            self.secrets.push(pw.to_string());
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn basic_auth(&mut self, value: &Val<'_>, section: &Section) -> Option<Auth> {
        let accepted = "write basic_auth = { username = \"…\", password_env = \"VAR\" }";
        let table = self.table(value, "basic_auth", accepted)?;
        let inner = Section(format!("`basic_auth` of {}", section.0));
        let fields = self.fields(table, &inner, BASIC_AUTH_KEYS);
        let username = match fields.value("username") {
            Some(v) => self.string(v, "username", &inner).map(str::to_owned),
            None => {
                self.problem(
                    &value.span(),
                    format!("{} has no `username`; {accepted}", inner.0),
                );
                None
            }
        };
        let mut sources: Vec<(&str, &Key<'_>, &Val<'_>)> =
            ["password", "password_env", "password_file"]
                .into_iter()
                .filter_map(|k| fields.get(k).map(|(key, v)| (k, key, v)))
                .collect();
        sources.sort_by_key(|(_, key, _)| key.span().start);
        let password = match sources.as_slice() {
            [] => {
                self.problem(
                    &value.span(),
                    format!(
                        "{} has no password; give one of `password`, `password_env`, `password_file`",
                        inner.0
                    ),
                );
                None
            }
            [(key, _, v)] => self.secret(key, v, &inner),
            [(first, _, _), rest @ ..] => {
                for (other, key, _) in rest {
                    self.problem(
                        &key.span(),
                        format!(
                            "`{other}` conflicts with `{first}` in {}; give exactly one of `password`, `password_env`, `password_file`",
                            inner.0
                        ),
                    );
                }
                None
            }
        };
        Some(Auth::Basic {
            username: username?,
            password: password?,
        })
    }

    /// Read a credential from the file, the environment or a file, by the key's suffix. No
    /// message here may contain the value, only the variable name or the path.
    fn secret(&mut self, key: &str, value: &Val<'_>, section: &Section) -> Option<Secret> {
        let DeValue::String(text) = value.get_ref() else {
            self.problem(
                &value.span(),
                format!(
                    "`{key}` in {} must be a string, found {}",
                    section.0,
                    type_name(value.get_ref())
                ),
            );
            return None;
        };
        let span = value.span();
        if key.ends_with("_env") {
            return self.secret_from_env(key, text, &span, section);
        }
        if key.ends_with("_file") {
            return self.secret_from_file(key, text, &span, section);
        }
        if text.is_empty() {
            self.problem(&span, format!("`{key}` in {} is empty", section.0));
            return None;
        }
        Some(Secret::new(text.to_string()))
    }

    fn secret_from_env(
        &mut self,
        key: &str,
        name: &str,
        span: &Range<usize>,
        section: &Section,
    ) -> Option<Secret> {
        if name.is_empty() || name.contains(['=', '\0']) {
            self.problem(
                span,
                format!(
                    "`{key}` in {} must name an environment variable (non-empty, no `=`), found \"{}\"",
                    section.0,
                    name.escape_debug()
                ),
            );
            return None;
        }
        let why = match (self.env)(name) {
            Ok(v) if !v.is_empty() => {
                self.secrets.push(v.clone());
                return Some(Secret::new(v));
            }
            Ok(_) => "is empty",
            Err(VarError::NotPresent) => "is not set",
            Err(VarError::NotUnicode(_)) => "is not valid Unicode",
        };
        self.problem(
            span,
            format!(
                "environment variable {name} named by `{key}` in {} {why}; set it before starting nocscope",
                section.0
            ),
        );
        None
    }

    fn secret_from_file(
        &mut self,
        key: &str,
        text: &str,
        span: &Range<usize>,
        section: &Section,
    ) -> Option<Secret> {
        let path = self.path(text, span, key)?;
        let shown = path.display();
        let why = match read_secret_file(&path) {
            Ok(None) => format!("it is larger than {MAX_SECRET_FILE} bytes"),
            Ok(Some(bytes)) => match String::from_utf8(bytes) {
                Ok(mut s) => {
                    // One trailing newline is what `echo … > file` leaves; more is deliberate.
                    if s.ends_with('\n') {
                        s.pop();
                        if s.ends_with('\r') {
                            s.pop();
                        }
                    }
                    if !s.is_empty() {
                        self.secrets.push(s.clone());
                        return Some(Secret::new(s));
                    }
                    "it is empty".to_string()
                }
                Err(_) => "it is not valid UTF-8".to_string(),
            },
            Err(e) => io_reason(&e),
        };
        self.problem(
            span,
            format!(
                "cannot use `{key}` \"{}\" in {} (read {shown}): {why}; give a readable file holding the secret",
                text.escape_debug(),
                section.0
            ),
        );
        None
    }
}

struct DefaultsState {
    /// The `[defaults] timeout` as written; `None` lets each target use `min(10s, interval)`.
    explicit_timeout: Option<Duration>,
    resolved: Defaults,
}

fn timeout_message(timeout: Duration, interval: Duration, section: &str) -> String {
    format!(
        "`timeout` {} is longer than the `interval` {} set in {section}; a poll must end before the next starts, so use a timeout ≤ interval",
        format_duration(timeout),
        format_duration(interval)
    )
}

/// Secret files are tokens and passwords; the cap keeps `password_file = "/dev/zero"` (or a
/// mistyped path to a log file) from hanging or exhausting memory at startup.
const MAX_SECRET_FILE: u64 = 64 << 10;

/// `Ok(None)` when the file is larger than `MAX_SECRET_FILE`.
fn read_secret_file(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_SECRET_FILE + 1)
        .read_to_end(&mut bytes)?;
    let too_big = u64::try_from(bytes.len()).map_or(true, |n| n > MAX_SECRET_FILE);
    Ok((!too_big).then_some(bytes))
}

pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::IsADirectory => "it is a directory".to_string(),
        _ => e.to_string(),
    }
}

fn integer(i: &toml::de::DeInteger<'_>) -> Option<i64> {
    i64::from_str_radix(i.as_str(), i.radix()).ok()
}

/// A short rendering of a non-string value for messages (strings are quoted by the caller).
fn describe(v: &DeValue<'_>) -> String {
    match v {
        DeValue::Integer(i) => i.to_string(),
        DeValue::Float(f) => f.to_string(),
        DeValue::Boolean(b) => b.to_string(),
        DeValue::Datetime(d) => d.to_string(),
        other => type_name(other).to_string(),
    }
}

fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("\"{i}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
}

fn check_label_name(name: &str) -> Result<(), &'static str> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err("names must not be empty; use [a-zA-Z_][a-zA-Z0-9_]*");
    };
    if !(first.is_ascii_alphabetic() || first == '_')
        || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err("use [a-zA-Z_][a-zA-Z0-9_]*");
    }
    if name.starts_with("__") {
        return Err("names starting with __ are reserved for internal use");
    }
    Ok(())
}

/// Check an exporter URL. The error says what is wrong and what is accepted, and never repeats
/// the URL (the caller shows it with any password redacted).
fn check_url(text: &str) -> Result<url::Url, String> {
    const ACCEPTED: &str =
        "use http:// or https:// with a host, like \"http://127.0.0.1:9100/metrics\"";
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err(format!("no scheme; {ACCEPTED}"));
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(format!(
            "scheme \"{}\" is not supported; {ACCEPTED}",
            scheme.escape_debug()
        ));
    }
    // The url crate quietly turns "http:///x" into host "x"; an empty authority is a mistake.
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_part = authority.rsplit('@').next().unwrap_or_default();
    if host_part.is_empty() || host_part.starts_with(':') {
        return Err(format!("no host; {ACCEPTED}"));
    }
    let url = url::Url::parse(text).map_err(|e| format!("{e}; {ACCEPTED}"))?;
    if url.host().is_none() {
        return Err(format!("no host; {ACCEPTED}"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "credentials in a URL show wherever the URL is shown; use `basic_auth` instead"
                .to_string(),
        );
    }
    Ok(url)
}

/// Replace `user:password@` in a URL-ish string with `…@` so messages cannot leak it.
fn redact_userinfo(text: &str) -> String {
    let escaped = text.escape_debug().to_string();
    let Some((scheme, rest)) = escaped.split_once("://") else {
        return escaped;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rfind('@') {
        Some(at) => format!(
            "{scheme}://…{}{tail}",
            authority.get(at..).unwrap_or_default()
        ),
        None => escaped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diag::levenshtein;

    #[test]
    fn line_index_counts_characters() {
        let text = "a\nbé = 1\n\nx";
        let idx = crate::config::diag::LineIndex::new(text);
        assert_eq!(idx.position(0), (1, 1));
        assert_eq!(idx.position(2), (2, 1));
        assert_eq!(idx.position(5), (2, 3)); // after "bé": é is two bytes, one column
        assert_eq!(idx.position(11), (4, 1));
        assert_eq!(idx.position(999), (4, 2));
    }

    #[test]
    fn closest_table() {
        let cases: &[(&str, &[&str], Option<&str>)] = &[
            ("targets", TOP_KEYS, Some("target")),
            ("Target", TOP_KEYS, Some("target")),
            ("intervall", DEFAULTS_KEYS, Some("interval")),
            ("sampel_limit", DEFAULTS_KEYS, Some("sample_limit")),
            ("zzz", DEFAULTS_KEYS, None),
            ("exportr", TARGET_KINDS, Some("exporter")),
            ("snmp", TARGET_KINDS, Some("snmp")),
            ("htp", TARGET_KINDS, Some("http")),
            ("nagios", TARGET_KINDS, None),
            ("exproter", TARGET_KINDS, Some("exporter")),
        ];
        for (word, accepted, want) in cases {
            assert_eq!(closest(word, accepted), *want, "closest({word:?})");
        }
    }

    #[test]
    fn levenshtein_table() {
        for (a, b, d) in [
            ("", "", 0),
            ("a", "", 1),
            ("kitten", "sitting", 3),
            ("ab", "ba", 1),
            ("sha265", "sha256", 1),
            ("sha265", "sha224", 2),
            ("abc", "ca", 3),
            ("é", "e", 1),
        ] {
            assert_eq!(levenshtein(a, b), d, "{a} {b}");
        }
    }

    proptest::proptest! {
        /// A metric: symmetric, zero exactly on equal words, at most the longer length, and
        /// one swap of neighbours is one edit.
        #[test]
        fn edit_distance_laws(a in "[a-dé]{0,8}", b in "[a-dé]{0,8}", i in 0usize..8) {
            let d = levenshtein(&a, &b);
            proptest::prop_assert_eq!(d, levenshtein(&b, &a));
            proptest::prop_assert_eq!(d == 0, a == b);
            proptest::prop_assert!(d <= a.chars().count().max(b.chars().count()));
            let mut chars: Vec<char> = a.chars().collect();
            if i + 1 < chars.len() && chars[i] != chars[i + 1] {
                chars.swap(i, i + 1);
                let swapped: String = chars.iter().collect();
                proptest::prop_assert_eq!(levenshtein(&a, &swapped), 1);
            }
        }
    }

    #[test]
    fn label_names_table() {
        for (name, ok) in [
            ("role", true),
            ("_x", true),
            ("a1_b", true),
            ("", false),
            ("1a", false),
            ("a-b", false),
            ("__meta", false),
            ("é", false),
        ] {
            assert_eq!(check_label_name(name).is_ok(), ok, "{name:?}");
        }
    }

    #[test]
    fn urls_table() {
        for (text, ok) in [
            ("http://127.0.0.1:9100/metrics", true),
            ("https://[::1]:9100/metrics", true),
            ("HTTP://host/", true),
            ("127.0.0.1:9100/metrics", false),
            ("localhost:9100/metrics", false),
            ("ftp://host/metrics", false),
            ("http:///metrics", false),
            ("http://:9100/metrics", false),
            ("https://", false),
            ("http://u:p@host/", false),
            ("http://exa mple.com/", false),
        ] {
            assert_eq!(check_url(text).is_ok(), ok, "{text:?}");
        }
    }

    #[test]
    fn redaction_hides_userinfo() {
        assert_eq!(redact_userinfo("http://u:hunter2@h/x"), "http://…@h/x");
        assert_eq!(redact_userinfo("http://h/x@y"), "http://h/x@y");
        assert_eq!(redact_userinfo("no scheme"), "no scheme");
    }
}
