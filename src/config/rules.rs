//! The console's own alert rules as validated data: `[[rule]]` sections and the embedded
//! defaults they merge over, the Prometheus rule files a config names (read and checked at
//! load), and the TOML `--print-rules` prints. Types and text only; the engine decides what
//! a rule means.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use super::units::format_duration;
use crate::model::Severity;

/// The built-in rules, in the `[[rule]]` format users write.
pub const DEFAULT_RULES: &str = include_str!("default-rules.toml");
/// How problems in the embedded defaults name their file (only a broken build has any).
pub const DEFAULT_RULES_ORIGIN: &str = "<built-in rules>";

/// What an own rule looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Watch {
    ExporterDown,
    SnmpDown,
    PingLoss,
    PortClosed,
    HttpFailing,
    CertDays,
    InterfaceDown,
    Cpu,
    Mem,
    Swap,
    Disk,
    DiskFillDays,
    MemFillDays,
    /// A raw series (the rule's `series` selector), one instance per matching series.
    Series,
}

impl Watch {
    pub const ALL: [Watch; 13] = [
        Watch::ExporterDown,
        Watch::SnmpDown,
        Watch::PingLoss,
        Watch::PortClosed,
        Watch::HttpFailing,
        Watch::CertDays,
        Watch::InterfaceDown,
        Watch::Cpu,
        Watch::Mem,
        Watch::Swap,
        Watch::Disk,
        Watch::DiskFillDays,
        Watch::MemFillDays,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Watch::ExporterDown => "exporter_down",
            Watch::SnmpDown => "snmp_down",
            Watch::PingLoss => "ping_loss",
            Watch::PortClosed => "port_closed",
            Watch::HttpFailing => "http_failing",
            Watch::CertDays => "cert_days",
            Watch::InterfaceDown => "interface_down",
            Watch::Cpu => "cpu",
            Watch::Mem => "mem",
            Watch::Swap => "swap",
            Watch::Disk => "disk",
            Watch::DiskFillDays => "disk_fill_days",
            Watch::MemFillDays => "mem_fill_days",
            Watch::Series => "series",
        }
    }

    /// A `watch = …` value (a series is given with `series = …` instead).
    pub fn parse(s: &str) -> Option<Watch> {
        Watch::ALL.into_iter().find(|w| w.key() == s)
    }

    /// A flag is 1 while something fails: it takes no threshold.
    pub fn is_flag(self) -> bool {
        matches!(
            self,
            Watch::ExporterDown
                | Watch::SnmpDown
                | Watch::PortClosed
                | Watch::HttpFailing
                | Watch::InterfaceDown
        )
    }

    /// Days-left watches fire below their threshold; the rest above.
    pub fn fires_below(self) -> bool {
        matches!(
            self,
            Watch::CertDays | Watch::DiskFillDays | Watch::MemFillDays
        )
    }
}

/// One own rule, merged and validated. `threshold`/`clear` are 0.5 for a flag.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleSpec {
    pub name: String,
    pub watch: Watch,
    /// The selector of a `series` rule (`node_load1{job="node"}`), else `None`.
    pub series: Option<String>,
    /// Fires below the threshold (days-left watches, or a series rule with `below`).
    pub below: bool,
    pub threshold: f64,
    pub clear: f64,
    pub for_: Duration,
    pub keep_firing_for: Duration,
    pub severity: Severity,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// A Prometheus rule file the config names, as read at load (already checked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleFileText {
    pub path: PathBuf,
    pub text: String,
}

/// The built-in rules alone, as the engine runs them without a config.
pub fn default_rule_specs() -> Vec<RuleSpec> {
    // The embedded file is checked by a test; a broken build yields no rules rather than a
    // panic, and `config check` names the problems.
    super::check::parse_rule_sections(DEFAULT_RULES, DEFAULT_RULES_ORIGIN, &[]).unwrap_or_default()
}

fn toml_string(s: &str) -> String {
    // TOML basic strings take the same escapes as JSON strings.
    serde_json::Value::String(s.to_string()).to_string()
}

fn toml_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

fn toml_table(m: &BTreeMap<String, String>) -> String {
    let body: Vec<String> = m
        .iter()
        .map(|(k, v)| {
            let key = if !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                k.clone()
            } else {
                toml_string(k)
            };
            format!("{key} = {}", toml_string(v))
        })
        .collect();
    format!("{{ {} }}", body.join(", "))
}

/// The rules as `[[rule]]` sections that read back to the same rules.
pub fn rules_toml(rules: &[RuleSpec], files: &[RuleFileText]) -> String {
    let mut out = String::from(
        "# The alert rules in force: the built-in ones merged with the config's [[rule]] sections.\n",
    );
    if !files.is_empty() {
        out.push_str("# Prometheus rule files, evaluated beside them:\n");
        for f in files {
            let _ = writeln!(out, "#   {}", f.path.display());
        }
    }
    for r in rules {
        let _ = write!(out, "\n[[rule]]\nname = {}\n", toml_string(&r.name));
        match &r.series {
            Some(sel) => {
                let _ = writeln!(out, "series = {}", toml_string(sel));
            }
            None => {
                let _ = writeln!(out, "watch = {}", toml_string(r.watch.key()));
            }
        }
        if !r.watch.is_flag() {
            let dir = if r.below { "below" } else { "above" };
            let _ = writeln!(out, "{dir} = {}", toml_number(r.threshold));
            if r.clear != r.threshold {
                let _ = writeln!(out, "clear = {}", toml_number(r.clear));
            }
        }
        if !r.for_.is_zero() {
            let _ = writeln!(out, "for = {}", toml_string(&format_duration(r.for_)));
        }
        if !r.keep_firing_for.is_zero() {
            let _ = writeln!(
                out,
                "keep_firing_for = {}",
                toml_string(&format_duration(r.keep_firing_for))
            );
        }
        let _ = writeln!(out, "severity = {}", toml_string(r.severity.as_str()));
        if !r.labels.is_empty() {
            let _ = writeln!(out, "labels = {}", toml_table(&r.labels));
        }
        if !r.annotations.is_empty() {
            let _ = writeln!(out, "annotations = {}", toml_table(&r.annotations));
        }
    }
    out
}
