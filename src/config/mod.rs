//! Config files (TOML) → validated runtime types, with `file:line:col` problems.
//! Owns parsing and validation only: it must not open sockets, touch the terminal or the store.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::model::TargetId;

mod check;
mod diag;
pub mod keymap;
pub mod rules;
pub mod theme;
mod units;

pub use check::parse_rule_sections as check_rule_sections;
pub use check::{
    DEFAULT_BODY_LIMIT, DEFAULT_INTERVAL, DEFAULT_MAX_REDIRECTS, DEFAULT_MAX_REPETITIONS,
    DEFAULT_MAX_SIZE, DEFAULT_PING_COUNT, DEFAULT_PROFILES, DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_RETENTION, DEFAULT_RETRIES, DEFAULT_SAMPLE_LIMIT, DEFAULT_SNMP_PORT, DEFAULT_TIMEOUT,
    EnvLookup,
};
pub use units::{
    MAX_OID_ARCS, PortRule, format_duration, parse_address, parse_byte_size, parse_duration,
    parse_oid,
};

/// Config files larger than this are refused before parsing: a real one is a few KiB, and a
/// runaway file (or `/dev/zero`) must not eat the memory of a box that is already in trouble.
pub const MAX_FILE_SIZE: u64 = 16 << 20;

/// A validated configuration. Everything here has been checked; consumers need no more checks.
#[derive(Clone, Debug)]
pub struct Config {
    /// The file it was read from (`None` for an embedded or in-memory config).
    pub source: Option<PathBuf>,
    pub defaults: Defaults,
    pub storage: Storage,
    pub anomaly: Anomaly,
    pub ui: Ui,
    /// The own rules in force: the built-in ones merged with the `[[rule]]` sections.
    pub rules: Vec<rules::RuleSpec>,
    /// The Prometheus rule files `rule_files` names, read and checked.
    pub rule_files: Vec<rules::RuleFileText>,
    /// Where alerts are told: the `notify` alertmanager.yml, read and checked.
    pub notify: Option<NotifyFile>,
    pub targets: Vec<Target>,
}

/// The alertmanager.yml `notify` names, as loaded.
#[derive(Clone, Debug)]
pub struct NotifyFile {
    pub path: PathBuf,
    /// Its text as read (what a recording keeps).
    pub text: String,
    pub config: std::sync::Arc<crate::notify::AmConfig>,
}

impl Config {
    /// The hosts the targets belong to, each once, sorted.
    pub fn hosts(&self) -> Vec<&str> {
        let mut hosts: Vec<&str> = self.targets.iter().map(|t| t.host.as_str()).collect();
        hosts.sort_unstable();
        hosts.dedup();
        hosts
    }
}

#[derive(Clone, Debug)]
pub struct Defaults {
    pub interval: Duration,
    pub timeout: Duration,
    /// Where the SQLite history, models and the log file live.
    pub data_dir: PathBuf,
    /// Cap on the decompressed body of one poll, in bytes (0 = no cap).
    pub body_limit: u64,
    /// Cap on samples in one poll (0 = no cap); exceeding it fails the whole poll.
    pub sample_limit: u32,
}

#[derive(Clone, Debug)]
pub struct Storage {
    /// Samples older than this (relative to the newest sample) are deleted.
    pub retention: Duration,
    /// When the database grows past this many bytes, the oldest chunks go first (0 = no cap).
    pub max_size: u64,
}

/// The `[anomaly]` section: how the engine scores vitals with anomaly models and forecasts
/// capacity.
#[derive(Clone, Debug, PartialEq)]
pub struct Anomaly {
    /// Points of a series a generic (not host-trained) model waits for before it scores: the
    /// engine fits that series' scaler on them.
    pub warmup_points: u32,
    /// A vital anomalous for this long raises the `AnomalySustained` alert; `None` (the
    /// default) leaves anomalies as marks and events only.
    pub alert_after: Option<Duration>,
    /// How much recent history a capacity forecast fits its trend on.
    pub forecast_window: Duration,
    /// Forecasts further out than this are not shown.
    pub forecast_horizon: Duration,
}

/// 40 points is 10 minutes at the default 15 s interval: enough for a mean and spread that a
/// single spike cannot dominate, short enough that a new host is watched soon.
pub const DEFAULT_WARMUP_POINTS: u32 = 40;
/// node-mixin's `predict_linear(...[6h], ...)`: long enough to average out a day's small swings.
pub const DEFAULT_FORECAST_WINDOW: Duration = Duration::from_secs(6 * 3600);
/// A month: beyond that a straight-line extrapolation of hours of data says little.
pub const DEFAULT_FORECAST_HORIZON: Duration = Duration::from_secs(30 * 24 * 3600);

impl Default for Anomaly {
    fn default() -> Self {
        Anomaly {
            warmup_points: DEFAULT_WARMUP_POINTS,
            alert_after: None,
            forecast_window: DEFAULT_FORECAST_WINDOW,
            forecast_horizon: DEFAULT_FORECAST_HORIZON,
        }
    }
}

/// The `[ui]` section: how often the live console redraws.
#[derive(Clone, Debug, PartialEq)]
pub struct Ui {
    /// Live data redraws at most this often; a key press always draws at once.
    pub refresh: Duration,
    /// Frame-rate cap for key presses, resizes and replays.
    pub fps: u32,
}

/// btop's and k9s's default: polls come every 15 s, so a picture at most 2 s old loses nothing,
/// and it halves what an idle console spends drawing compared with once a second.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(2);
pub const MIN_REFRESH: Duration = Duration::from_millis(250);
pub const MAX_REFRESH: Duration = Duration::from_secs(60);
pub const DEFAULT_FPS: u32 = 20;
pub const MAX_FPS: u32 = 60;

impl Default for Ui {
    fn default() -> Self {
        Ui {
            refresh: DEFAULT_REFRESH,
            fps: DEFAULT_FPS,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Target {
    pub id: TargetId,
    pub name: String,
    /// Targets that share a host are one row and one panel set; defaults to `name`.
    pub host: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub labels: BTreeMap<String, String>,
    pub kind: TargetKind,
}

#[derive(Clone, Debug)]
pub enum TargetKind {
    Exporter(ExporterTarget),
    Snmp(SnmpTarget),
    Icmp(IcmpTarget),
    Tcp(TcpTarget),
    Http(HttpTarget),
}

impl TargetKind {
    /// The `kind = "…"` spelling.
    pub fn name(&self) -> &'static str {
        match self {
            TargetKind::Exporter(_) => "exporter",
            TargetKind::Snmp(_) => "snmp",
            TargetKind::Icmp(_) => "icmp",
            TargetKind::Tcp(_) => "tcp",
            TargetKind::Http(_) => "http",
        }
    }
}

/// An SNMP agent (`kind = "snmp"`).
#[derive(Clone, Debug)]
pub struct SnmpTarget {
    /// `host:port`, always with the port (161 when the file gives none) and IPv6 in brackets,
    /// so it can go straight to the resolver; resolved by the collector.
    pub address: String,
    pub version: SnmpVersion,
    /// v1/v2c community (from `community`, `community_env` or `community_file`).
    pub community: Option<Secret>,
    /// v3 user security (required for version 3, refused otherwise).
    pub v3: Option<SnmpV3>,
    pub profiles: Vec<SnmpProfile>,
    /// Extra objects to fetch or walk, in the spirit of snmp_exporter modules.
    pub custom: Vec<CustomOid>,
    /// GETBULK max-repetitions (default 25; halved by the collector on tooBig).
    pub max_repetitions: u32,
    /// Per-request timeout (default 2 s) and retries (default 2); the target's `timeout` is the
    /// deadline for the whole poll.
    pub request_timeout: Duration,
    pub retries: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnmpVersion {
    V1,
    V2c,
    V3,
}

#[derive(Clone, Debug)]
pub struct SnmpV3 {
    pub user: String,
    /// `None` = noAuthNoPriv.
    pub auth: Option<(SnmpAuthProtocol, Secret)>,
    /// `None` = no privacy; requires `auth`.
    pub privacy: Option<(SnmpPrivProtocol, Secret)>,
    pub context: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnmpAuthProtocol {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnmpPrivProtocol {
    Des,
    Aes128,
    Aes192,
    Aes256,
}

/// Built-in sets of objects turned into vitals and per-interface series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SnmpProfile {
    /// SNMPv2-MIB system group: sysName, sysDescr, sysUpTime.
    System,
    /// IF-MIB: names, oper/admin status, HC octets, speed, errors, discards.
    IfMib,
    /// HOST-RESOURCES-MIB: hrProcessorLoad, hrStorageTable.
    HostResources,
    /// UCD-SNMP-MIB: CPU counters, memory, dskTable, laLoad.
    Ucd,
}

/// A user-defined object.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomOid {
    /// Series name, e.g. `ups_battery_charge`.
    pub name: String,
    pub oid: Vec<u32>,
    pub kind: CustomOidKind,
    /// Walk the subtree (a table column) instead of a single GET.
    pub walk: bool,
    /// Label names for the index suffix of walked OIDs (one per sub-identifier; default
    /// `index` for the whole suffix).
    pub index_labels: Vec<String>,
    /// Map integer values to names (e.g. 1 → "up"), kept as a `state` label.
    pub lookup: Vec<(i64, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CustomOidKind {
    Gauge,
    Counter,
    /// An OctetString kept as an info label, value 1.
    Text,
}

/// An ICMP echo check (`kind = "icmp"`).
#[derive(Clone, Debug)]
pub struct IcmpTarget {
    /// An IP address or a host name, without port or brackets.
    pub address: String,
    /// Echo requests per interval (default 3).
    pub count: u32,
}

/// TCP connect checks (`kind = "tcp"`).
#[derive(Clone, Debug)]
pub struct TcpTarget {
    /// An IP address or a host name, without port or brackets.
    pub address: String,
    /// Non-empty, without repeats, in the order written.
    pub ports: Vec<u16>,
}

/// An HTTP(S) check (`kind = "http"`).
#[derive(Clone, Debug)]
pub struct HttpTarget {
    pub url: url::Url,
    /// Upper case: GET (default), HEAD, POST, PUT, DELETE, OPTIONS or PATCH.
    pub method: String,
    /// Accepted final status codes, sorted, without repeats (default 200–299).
    pub expect_status: Vec<u16>,
    /// The body must contain this text, if set.
    pub body_contains: Option<String>,
    /// The body must match this regular expression, if set (validated at load).
    pub body_regex: Option<String>,
    /// Redirects followed at most (default 10).
    pub max_redirects: u32,
    /// Skip certificate verification (dates are still recorded). Default false.
    pub insecure_tls: bool,
    pub auth: Option<Auth>,
    pub body_limit: u64,
}

#[derive(Clone, Debug)]
pub struct ExporterTarget {
    pub url: url::Url,
    pub auth: Option<Auth>,
    pub body_limit: u64,
    pub sample_limit: u32,
    /// Whether polls ask for a gzip body (`compression = "auto|gzip|none"`, default auto).
    pub compression: Compression,
}

/// Whether an exporter poll asks for gzip. Inflating costs the console CPU on every poll while
/// compression only pays where bytes are dear, so `Auto` asks for gzip from remote targets
/// and not from loopback ones. A server that compresses anyway is still decoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    #[default]
    Auto,
    Gzip,
    None,
}

impl Compression {
    /// The `compression = "…"` spellings, in the order messages list them.
    pub const NAMES: [(&'static str, Compression); 3] = [
        ("auto", Compression::Auto),
        ("gzip", Compression::Gzip),
        ("none", Compression::None),
    ];
}

#[derive(Clone, Debug)]
pub enum Auth {
    Basic { username: String, password: Secret },
    Bearer { token: Secret },
}

/// A credential read from the config, an environment variable or a file. Its `Debug` and
/// `Display` never show the value, so it cannot leak through logs or error messages.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// One problem in a config file, printed as `file:line:col: what is wrong, what is accepted`.
/// `line == 0` marks a problem with the file as a whole (unreadable, too large, no default
/// data directory); it prints as `file: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.col, self.message
            )
        }
    }
}

/// Every problem found in one file (validation does not stop at the first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// `$XDG_CONFIG_HOME/nocscope/config.toml`, else `~/.config/nocscope/config.toml`.
pub fn default_path() -> Option<PathBuf> {
    default_path_with_env(&|name| std::env::var(name))
}

/// [`default_path`] with an explicit environment, so tests need not modify the process's.
pub fn default_path_with_env(env: EnvLookup<'_>) -> Option<PathBuf> {
    let var = |name: &str| env(name).ok().filter(|v| !v.is_empty()).map(PathBuf::from);
    // The XDG spec says a relative value is invalid and must be ignored.
    if let Some(xdg) = var("XDG_CONFIG_HOME").filter(|p| p.is_absolute()) {
        return Some(xdg.join("nocscope").join("config.toml"));
    }
    var("HOME").map(|home| home.join(".config").join("nocscope").join("config.toml"))
}

/// Read and validate a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load_with_env(path, &|name| std::env::var(name))
}

/// [`load`] with an explicit environment (for `password_env`, `~` and the default data dir).
pub fn load_with_env(path: &Path, env: EnvLookup<'_>) -> Result<Config, ConfigError> {
    let origin = path.display().to_string();
    let whole_file = |message: String| ConfigError {
        problems: vec![Problem {
            file: origin.clone(),
            line: 0,
            col: 0,
            message,
        }],
    };
    let bytes = read_capped(path).map_err(&whole_file)?;
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let prefix = e.as_bytes().get(..valid).unwrap_or_default();
            // The valid prefix is UTF-8 by definition, so this only locates the bad byte.
            let before = std::str::from_utf8(prefix).unwrap_or_default();
            let line = before.matches('\n').count() + 1;
            let col = before
                .rsplit('\n')
                .next()
                .unwrap_or_default()
                .chars()
                .count()
                + 1;
            return Err(ConfigError {
                problems: vec![Problem {
                    file: origin,
                    line: u32::try_from(line).unwrap_or(u32::MAX),
                    col: u32::try_from(col).unwrap_or(u32::MAX),
                    message: "the file is not valid UTF-8; TOML files must be UTF-8 text"
                        .to_string(),
                }],
            });
        }
    };
    let base_dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut config = parse_with_env(&text, &origin, base_dir, env)?;
    config.source = Some(path.to_path_buf());
    Ok(config)
}

fn read_capped(path: &Path) -> Result<Vec<u8>, String> {
    use crate::capped::{CappedError, read_file};
    read_file(path, MAX_FILE_SIZE).map_err(|e| match e {
        CappedError::Open(e) => format!("cannot open the config file: {}", check::io_reason(&e)),
        CappedError::Read(e) => format!("cannot read the config file: {}", check::io_reason(&e)),
        CappedError::TooLarge { cap } => format!(
            "the config file is larger than {cap} bytes; a config file is a few KiB of TOML"
        ),
    })
}

/// Validate config text. `origin` names the file in problems; relative paths in the config
/// (`password_file`, `data_dir`) resolve against `base_dir`.
pub fn parse(text: &str, origin: &str, base_dir: &Path) -> Result<Config, ConfigError> {
    parse_with_env(text, origin, base_dir, &|name| std::env::var(name))
}

/// [`parse`] with an explicit environment. An empty text is a valid config with no targets;
/// the caller decides whether "no targets" is worth a message.
pub fn parse_with_env(
    text: &str,
    origin: &str,
    base_dir: &Path,
    env: EnvLookup<'_>,
) -> Result<Config, ConfigError> {
    let checker = check::Checker::new(text, origin, base_dir, env);
    let root = match toml::de::DeTable::parse(text) {
        Ok(root) => root,
        Err(e) => return Err(checker.syntax_error(&e)),
    };
    let mut checker = checker;
    let config = checker.check(root.get_ref(), None);
    checker.finish(config)
}
