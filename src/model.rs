//! Shared vocabulary of nocscope: ids, observations, severities, store batches and snapshots.
//! Plain data only: this module must not do any I/O, read a clock or depend on another module.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch. Every timestamp inside nocscope uses this unit, so that
/// 0.0.4 (ms) and OpenMetrics (float seconds) exposition timestamps meet on one scale.
pub type Millis = i64;

/// Index of a configured target in the resolved config (`Config::targets[id]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TargetId(pub u32);

impl TargetId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The seven ordered status classes from DESIGN.md. Declaration order is badness order, so the
/// derived `Ord` gives `NoData < Ok < Unknown < Degraded < Minor < Major < Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Nothing has been observed yet (never polled, or no checks).
    NoData,
    Ok,
    /// We cannot see: data missing or stale, a probe could not run. Never "the condition is false".
    Unknown,
    Degraded,
    Minor,
    Major,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 7] = [
        Severity::Critical,
        Severity::Major,
        Severity::Minor,
        Severity::Degraded,
        Severity::Unknown,
        Severity::Ok,
        Severity::NoData,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::NoData => "nodata",
            Severity::Ok => "ok",
            Severity::Unknown => "unknown",
            Severity::Degraded => "degraded",
            Severity::Minor => "minor",
            Severity::Major => "major",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl Severity {
    /// A severity as rules name it: the seven classes, or Prometheus's `warning` (minor) and
    /// `info` (ok) as DESIGN maps them.
    pub fn from_label(s: &str) -> Option<Severity> {
        match s {
            "warning" => Some(Severity::Minor),
            "info" => Some(Severity::Ok),
            _ => s.parse().ok(),
        }
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown severity {s:?}; accepted: critical, major, minor, degraded, unknown, ok, nodata"
                )
            })
    }
}

/// What goes into the engine: observations from collectors or the fixture player, and ticks
/// that carry the time forward when nothing else arrives. The engine's only notion of "now".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Input {
    Observation(Observation),
    Tick {
        now: Millis,
    },
    /// The Prometheus rule files were read again (the console's `reload_rules`). Recorded
    /// like any input, so a replay switches rules where the live run did. Variants are
    /// only ever added at the end: recordings store the variant's index.
    Rules(RuleReload),
    /// One target's stored history of the series rules read, loaded from the history store
    /// at start (before the first poll), so windows like `[1h]` cover the time before the
    /// start. Recorded, so a replay starts from the same history.
    History(RuleHistory),
}

/// Stored samples of one target's series: (series key as the store names it, points in time
/// order).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleHistory {
    pub target: TargetId,
    pub series: Vec<(String, Vec<(Millis, f64)>)>,
}

/// A reload of the Prometheus rule files: their text as read, or why reading failed (the
/// engine then keeps the rules it has and says so).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleReload {
    pub at: Millis,
    /// (file name, text), in the order the config's globs found them.
    pub files: Vec<(String, String)>,
    /// The evaluation interval of groups without one.
    pub interval_ms: i64,
    /// Set when the files could not be read or checked: nothing changes.
    pub error: Option<String>,
}

/// How the last rule reload went, for the console.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleReloadStatus {
    pub at: Millis,
    pub ok: bool,
    /// What was loaded ("3 files, 40 rules") or what failed, with file:line.
    pub message: String,
}

/// One thing a collector saw, timestamped when the poll started (Prometheus semantics).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub target: TargetId,
    pub at: Millis,
    pub payload: Payload,
}

/// What crossed the wire. Kept raw (the exposition body, not parsed samples) so that a
/// recording replays through the same parser and engine code as live data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Payload {
    Scrape(Scrape),
    Snmp(SnmpPoll),
    Icmp(IcmpProbe),
    Tcp(TcpProbe),
    /// Boxed: it is the largest payload, and most observations are scrapes.
    Http(Box<HttpProbe>),
}

/// One SNMP poll of a device: every varbind the GETs and walks returned, as received.
/// Profiles turn them into series and vitals in the engine, so a recording replays them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnmpPoll {
    pub duration_ms: f64,
    pub outcome: SnmpOutcome,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SnmpOutcome {
    Varbinds(Vec<Varbind>),
    Failed(SnmpError),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Varbind {
    pub oid: Vec<u32>,
    pub value: SnmpValue,
}

/// SNMP values with their declared types kept: counters stay exact integers (a Counter64 can
/// exceed 2^53, where an f64 stops counting).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SnmpValue {
    Integer(i64),
    OctetString(Bytes),
    ObjectId(Vec<u32>),
    IpAddress([u8; 4]),
    Counter32(u32),
    /// Gauge32 / Unsigned32.
    Gauge32(u32),
    TimeTicks(u32),
    Opaque(Bytes),
    Counter64(u64),
    Null,
    NoSuchObject,
    NoSuchInstance,
    EndOfMibView,
}

/// Why an SNMP poll failed, named so that the operator knows what to fix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SnmpError {
    /// No answer within the deadline after all retries (for v1/v2c this is also what a wrong
    /// community looks like: agents drop such requests silently).
    Timeout {
        after_ms: u64,
    },
    /// The host said nothing listens there (ICMP port unreachable) or the socket failed.
    Unreachable(String),
    /// SNMPv3 authentication or privacy failed.
    Auth(SnmpAuthError),
    /// A reply that does not decode, or decodes to fewer varbinds than were asked for.
    Malformed(String),
    /// The agent returned an OID that does not increase during a walk (a loop).
    NonIncreasing {
        oid: String,
    },
    /// A non-zero error-status in a response (`tooBig`, `genErr`, …).
    ErrorStatus {
        status: String,
        index: u32,
    },
    Other(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SnmpAuthError {
    /// usmStatsWrongDigests: wrong auth password.
    WrongDigest,
    /// usmStatsUnknownUserNames.
    UnknownUser,
    /// usmStatsNotInTimeWindows, still so after re-discovering the engine time once.
    NotInTimeWindow,
    /// usmStatsDecryptionErrors: wrong privacy password.
    Decryption,
    /// usmStatsUnsupportedSecLevels.
    UnsupportedSecurityLevel,
    Other(String),
}

impl fmt::Display for SnmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnmpError::Timeout { after_ms } => write!(
                f,
                "no answer after {after_ms} ms (agent down, or wrong community/credentials)"
            ),
            SnmpError::Unreachable(e) => write!(f, "unreachable: {e}"),
            SnmpError::Auth(a) => write!(f, "SNMPv3 authentication failed: {a}"),
            SnmpError::Malformed(e) => write!(f, "malformed reply: {e}"),
            SnmpError::NonIncreasing { oid } => {
                write!(f, "agent returned a non-increasing OID {oid}: walk aborted")
            }
            SnmpError::ErrorStatus { status, index } => {
                write!(f, "agent answered {status} (varbind {index})")
            }
            SnmpError::Other(e) => write!(f, "{e}"),
        }
    }
}

impl fmt::Display for SnmpAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnmpAuthError::WrongDigest => f.write_str("wrong auth password (wrongDigest)"),
            SnmpAuthError::UnknownUser => f.write_str("unknown user (unknownUserName)"),
            SnmpAuthError::NotInTimeWindow => {
                f.write_str("clock outside the agent's time window (notInTimeWindow)")
            }
            SnmpAuthError::Decryption => f.write_str("wrong privacy password (decryptionError)"),
            SnmpAuthError::UnsupportedSecurityLevel => {
                f.write_str("security level not supported for this user")
            }
            SnmpAuthError::Other(e) => f.write_str(e),
        }
    }
}

/// One ICMP probe round: N echo requests to one address.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IcmpProbe {
    pub address: String,
    pub outcome: IcmpOutcome,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum IcmpOutcome {
    /// One entry per echo request sent: the round-trip time, or `None` when no matching reply
    /// came before the deadline.
    Replies {
        rtt_ms: Vec<Option<f64>>,
    },
    Failed(IcmpError),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IcmpError {
    /// Neither a ping socket nor a raw socket may be opened: the check is unknown, not down.
    Permission {
        hint: String,
    },
    Resolve(String),
    Other(String),
}

impl fmt::Display for IcmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IcmpError::Permission { hint } => write!(f, "no ICMP permission ({hint})"),
            IcmpError::Resolve(e) => write!(f, "cannot resolve: {e}"),
            IcmpError::Other(e) => f.write_str(e),
        }
    }
}

/// TCP connects to every configured port of one address.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TcpProbe {
    pub address: String,
    pub ports: Vec<TcpPortResult>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TcpPortResult {
    pub port: u16,
    pub outcome: TcpOutcome,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TcpOutcome {
    Open {
        connect_ms: f64,
    },
    /// The host answered with a reset: nothing listens.
    Refused,
    /// No answer at all before the deadline (filtered, or the host is away).
    Timeout {
        after_ms: u64,
    },
    Error(String),
}

/// One HTTP(S) check, in the spirit of blackbox_exporter's http prober.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HttpProbe {
    pub duration_ms: f64,
    /// Final status after redirects; `None` when no response arrived (never a fake code).
    pub status: Option<u16>,
    pub redirects: u32,
    pub phases: HttpPhases,
    pub body_bytes: u64,
    /// Whether the configured body substring/regex matched; `None` when none is configured.
    pub body_match: Option<bool>,
    /// Certificate facts, kept even when verification failed.
    pub tls: Option<TlsInfo>,
    pub error: Option<HttpError>,
}

/// Time spent in each phase (ms), where it could be measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpPhases {
    pub dns_ms: Option<f64>,
    pub connect_ms: Option<f64>,
    pub tls_ms: Option<f64>,
    pub first_byte_ms: Option<f64>,
    pub total_ms: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TlsInfo {
    /// Earliest `notAfter` among the certificates the server presented (ms since the epoch).
    pub not_after: Millis,
    /// Why the chain did not verify (expired, self-signed/unknown issuer, hostname mismatch…).
    pub verify_error: Option<String>,
    pub version: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HttpError {
    Timeout {
        after_ms: u64,
    },
    Resolve(String),
    Connect(String),
    /// The TLS handshake failed for a reason other than certificate verification.
    Tls(String),
    /// The certificate did not verify; `TlsInfo` still carries its dates.
    Certificate(String),
    TooManyRedirects {
        max: u32,
    },
    Body(String),
    Other(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Timeout { after_ms } => write!(f, "timeout after {after_ms} ms"),
            HttpError::Resolve(e) => write!(f, "cannot resolve: {e}"),
            HttpError::Connect(e) => write!(f, "connect failed: {e}"),
            HttpError::Tls(e) => write!(f, "TLS handshake failed: {e}"),
            HttpError::Certificate(e) => write!(f, "certificate: {e}"),
            HttpError::TooManyRedirects { max } => write!(f, "more than {max} redirects"),
            HttpError::Body(e) => write!(f, "bad body: {e}"),
            HttpError::Other(e) => f.write_str(e),
        }
    }
}

/// One exporter poll.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scrape {
    /// Wall time of the whole poll, from request start to the last body byte or the failure.
    pub duration_ms: f64,
    pub outcome: ScrapeOutcome,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ScrapeOutcome {
    /// HTTP 200 and a body within the cap. Parsing happens in the engine.
    Body {
        content_type: Option<String>,
        /// Decompressed body bytes (gzip is undone by the collector; the cap applies after it).
        body: Bytes,
    },
    /// The poll failed before a body could be accepted.
    Failed(PollError),
}

/// Why a poll failed, by name, so that status lines and the targets view can say it plainly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PollError {
    /// The total deadline for the poll passed (connect, headers and body together).
    Timeout { after_ms: u64 },
    /// TCP connect refused, reset, or DNS failure.
    Connect(String),
    /// Any status but 200.
    HttpStatus(u16),
    /// More than `max` redirects were followed.
    TooManyRedirects { max: u32 },
    /// The decompressed body reached the cap.
    BodyTooLarge { limit: u64 },
    /// Content-Encoding could not be undone, or the body was cut off.
    Body(String),
    /// Anything else the HTTP stack reported.
    Other(String),
}

impl fmt::Display for PollError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PollError::Timeout { after_ms } => write!(f, "timeout after {after_ms} ms"),
            PollError::Connect(e) => write!(f, "connect failed: {e}"),
            PollError::HttpStatus(s) => write!(f, "server returned HTTP status {s}"),
            PollError::TooManyRedirects { max } => write!(f, "more than {max} redirects"),
            PollError::BodyTooLarge { limit } => {
                write!(f, "body too large: reached the {limit}-byte cap")
            }
            PollError::Body(e) => write!(f, "bad body: {e}"),
            PollError::Other(e) => write!(f, "{e}"),
        }
    }
}

/// Alert lifecycle, following Prometheus (`inactive → pending → firing → inactive`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

impl fmt::Display for AlertState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A change of one alert instance's state, persisted by the store and printed by `check --for`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertTransition {
    pub at: Millis,
    /// Rule name (`alertname`).
    pub rule: String,
    pub host: String,
    /// Canonical label set of the instance beyond host, e.g. `{mountpoint="/"}`; empty when none.
    pub labels: String,
    pub from: AlertState,
    pub to: AlertState,
    pub severity: Severity,
    /// The value that caused the transition (NaN when there is none).
    pub value: f64,
    /// When the instance became pending (Prometheus `ActiveAt`).
    pub active_at: Millis,
    pub summary: String,
}

/// Result of one poll as recorded in history (Prometheus's synthetic series, kept as a row).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PollRecord {
    pub up: bool,
    pub duration_ms: f64,
    pub samples_scraped: u32,
    pub bytes: u64,
    pub error: Option<String>,
}

/// What the engine hands to the store for one poll cycle: written in one transaction.
///
/// Series are named by a source (a target name, or `host/<name>` for derived vitals) and a
/// canonical key (`name{a="x",b="y"}`, labels sorted). The engine numbers series per source with
/// a session-local index and sends the key only the first time, so the hot path moves integers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CycleBatch {
    pub source: Arc<str>,
    pub at: Millis,
    pub poll: Option<PollRecord>,
    /// Series first seen in this session: (local index, canonical key).
    pub new_series: Vec<(u32, Box<str>)>,
    /// (local index, timestamp, value).
    pub samples: Vec<(u32, Millis, f64)>,
    pub alerts: Vec<AlertTransition>,
}

/// Source-independent per-host view derived from whatever exporters a host has.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Vitals {
    pub up: Option<bool>,
    pub cpu_pct: Option<f64>,
    pub mem_pct: Option<f64>,
    pub swap_pct: Option<f64>,
    pub load1: Option<f64>,
    pub load5: Option<f64>,
    pub load15: Option<f64>,
    pub disks: Vec<DiskUsage>,
    pub disk_read_bps: Option<f64>,
    pub disk_write_bps: Option<f64>,
    pub net_rx_bps: Option<f64>,
    pub net_tx_bps: Option<f64>,
    /// Seconds since the host (or its SNMP agent) started.
    pub uptime_s: Option<f64>,
    /// Average ICMP round trip of the answered echoes, and the share that went unanswered.
    pub ping_rtt_ms: Option<f64>,
    pub ping_loss_pct: Option<f64>,
    /// Days until the earliest TLS certificate of the host's HTTPS checks expires (negative
    /// once expired).
    pub tls_days_left: Option<f64>,
    /// Network interfaces seen over SNMP (IF-MIB).
    pub interfaces: Vec<InterfaceStatus>,
    /// TCP ports checked on this host.
    pub ports: Vec<PortStatus>,
    /// HTTP checks of this host.
    pub http: Vec<HttpStatus>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InterfaceStatus {
    /// ifName, else ifDescr.
    pub name: String,
    pub alias: String,
    pub admin_up: bool,
    pub oper_up: bool,
    /// Bytes per second, when two polls without a discontinuity allowed a rate.
    pub rx_bps: Option<f64>,
    pub tx_bps: Option<f64>,
    /// Bits per second (ifHighSpeed × 10^6, else ifSpeed).
    pub speed_bps: Option<f64>,
    /// Errors plus discards per second, both directions.
    pub errors_ps: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PortStatus {
    pub target: String,
    pub port: u16,
    /// `open`, `refused`, `timeout` or an error text.
    pub state: String,
    pub connect_ms: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HttpStatus {
    pub target: String,
    pub url: String,
    pub status: Option<u16>,
    /// Status in the expected set, body matched, no error.
    pub ok: bool,
    pub total_ms: Option<f64>,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiskUsage {
    pub mount: String,
    pub used_pct: f64,
}

/// One row of the status list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostStatus {
    pub name: String,
    pub severity: Severity,
    /// Since when the host has had this severity.
    pub since: Millis,
    /// Why, in a few words (the worst check's reason).
    pub reason: String,
    pub vitals: Vitals,
    /// Names of firing alerts, worst first.
    pub firing: Vec<String>,
    pub targets: Vec<TargetId>,
    /// Key of the vital the sparkline shows (`cpu_pct`, `mem_pct`, `disk_max_pct`, …): the one
    /// behind the worst firing alert, else CPU.
    pub spark_vital: String,
    /// The last points of that vital, oldest first (at most `SPARK_POINTS`).
    pub sparkline: Vec<f32>,
    /// The host's worst ongoing anomaly, if any vital is anomalous now (the status-list marker).
    #[serde(default)]
    pub anomaly: Option<AnomalyMark>,
    /// Capacity forecasts: days until a disk or memory fills, where a trend points that way.
    #[serde(default)]
    pub forecasts: Vec<Forecast>,
}

/// A vital that is anomalous right now: its latest score over the detector's threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnomalyMark {
    /// Vital key (`cpu_pct`, `mem_pct`, …).
    pub vital: String,
    pub score: f32,
    pub threshold: f32,
    /// When the current anomalous run started (the first window over threshold).
    pub since: Millis,
}

/// One run of anomalous windows of one vital: opened when a window's score crosses the
/// threshold, closed by the first window back under it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnomalyEvent {
    pub host: String,
    /// Vital key (`cpu_pct`, `mem_pct`, …).
    pub vital: String,
    /// Detector that flagged it (`lstm`, `zscore`, …).
    pub detector: String,
    pub start: Millis,
    /// `None` while the run is ongoing.
    pub end: Option<Millis>,
    /// Highest score seen in the run, and the threshold it was judged against.
    pub peak_score: f32,
    pub threshold: f32,
}

/// Days until a capacity vital (a disk mount, memory) reaches 100 %, from a trend over recent
/// history, with a confidence band. Only published when the trend is rising.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// Vital key (`mem_pct`, `disk_max_pct`, …) or `disk:<mount>`.
    pub vital: String,
    /// Best estimate, and the band's early and late ends (days from `now`).
    pub days: f64,
    pub days_low: f64,
    pub days_high: f64,
}

/// Points in a status-list sparkline: a quarter of an hour at 15 s.
pub const SPARK_POINTS: usize = 60;

/// One alert instance that is pending or firing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
    /// Its state changed too often lately (Icinga's percent state change over 30 %, until
    /// it falls under 25 %): shown as flapping, so nobody chases each flip.
    #[serde(default)]
    pub flapping: bool,
    /// Its data is missing (the target could not be polled): the state is held where it was,
    /// and the console says unknown rather than pretend to know.
    #[serde(default)]
    pub held: bool,
    pub rule: String,
    pub host: String,
    pub labels: String,
    pub state: AlertState,
    pub severity: Severity,
    pub active_at: Millis,
    pub fired_at: Option<Millis>,
    pub value: f64,
    pub summary: String,
    /// Every annotation, rendered (the summary among them), for the alert's detail.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<(String, String)>,
}

/// Health of one configured target as of its last poll.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetStatus {
    pub id: TargetId,
    pub name: String,
    pub host: String,
    pub last_poll: Option<Millis>,
    pub up: Option<bool>,
    pub duration_ms: Option<f64>,
    pub error: Option<String>,
    /// Something odd but not fatal about the last poll (e.g. no Content-Type).
    pub warning: Option<String>,
    pub samples: u32,
    /// Samples dropped from the last body (duplicates, out of order).
    pub dropped_samples: u32,
    pub series: u32,
}

/// Read-only picture of the engine's state at `now`, published for the UI and headless output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub now: Millis,
    /// Sorted worst first, then longest in that state, then by name.
    pub hosts: Vec<HostStatus>,
    /// Pending and firing alerts, worst first.
    pub alerts: Vec<AlertView>,
    pub targets: Vec<TargetStatus>,
    /// Observations the collectors had to drop because the engine's queue was full.
    pub dropped_observations: u64,
    /// Recent anomaly runs, newest first (bounded); ongoing ones have no `end`.
    #[serde(default)]
    pub anomalies: Vec<AnomalyEvent>,
    /// The thresholds of the rules over host vitals, for the charts to draw: they come from
    /// the rules in force, so a chart never shows a line no rule fires at.
    #[serde(default)]
    pub thresholds: Vec<ChartThreshold>,
    /// Every rule in force (own rules first, then each Prometheus group's), for the rules view.
    #[serde(default)]
    pub rules: Vec<RuleStatus>,
    /// The last reload of the rule files, if there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_reload: Option<RuleReloadStatus>,
}

/// How notification is going, for the header and `check`: what was sent, what failed and
/// why. Published by the notifier task beside the engine's snapshots.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyStatus {
    /// Nothing leaves the machine: a replay or a dry run only says what would be sent.
    pub dry_run: bool,
    pub sent: u64,
    pub failed: u64,
    /// Notifications the delivery queue had no room for (retried at the next interval).
    pub dropped: u64,
    /// Alerts and aggregation groups the dispatcher holds.
    pub alerts: usize,
    pub groups: usize,
    /// The last failure: receiver and reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// One rule as the rules view shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleStatus {
    /// `own` for the built-in and `[[rule]]` rules, else `file;group`.
    pub group: String,
    pub name: String,
    /// `alert`, `record` or `own`.
    pub kind: String,
    /// The condition: a PromQL expression, or what an own rule watches and its threshold.
    pub expr: String,
    pub firing: u32,
    pub pending: u32,
    /// Last evaluation (Prometheus rules; own rules run on every poll).
    pub last_eval: Option<Millis>,
    pub error: Option<String>,
    /// Series (recording) or alerts (alerting) the last evaluation produced.
    pub matched: u32,
    /// `for` and `keep_firing_for`, in milliseconds.
    #[serde(default)]
    pub for_ms: i64,
    #[serde(default)]
    pub keep_firing_for_ms: i64,
    /// Labels and annotations as written (templates, before rendering).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<(String, String)>,
}

/// One rule's threshold on one vital (`HostCpuHigh` at 80 on `cpu_pct`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChartThreshold {
    /// Vital key (`cpu_pct`, `mem_pct`, `disk_max_pct`, …).
    pub vital: String,
    pub rule: String,
    pub value: f64,
}

/// Vitals kept as history rings, in the order of `Vital::ALL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Vital {
    Cpu,
    Mem,
    Swap,
    Load1,
    /// The fullest disk of the host.
    DiskMax,
    DiskRead,
    DiskWrite,
    NetRx,
    NetTx,
}

impl Vital {
    pub const ALL: [Vital; 9] = [
        Vital::Cpu,
        Vital::Mem,
        Vital::Swap,
        Vital::Load1,
        Vital::DiskMax,
        Vital::DiskRead,
        Vital::DiskWrite,
        Vital::NetRx,
        Vital::NetTx,
    ];

    /// The series key under which the store keeps this vital (source `host/<name>`).
    pub fn key(self) -> &'static str {
        match self {
            Vital::Cpu => "cpu_pct",
            Vital::Mem => "mem_pct",
            Vital::Swap => "swap_pct",
            Vital::Load1 => "load1",
            Vital::DiskMax => "disk_max_pct",
            Vital::DiskRead => "disk_read_bps",
            Vital::DiskWrite => "disk_write_bps",
            Vital::NetRx => "net_rx_bps",
            Vital::NetTx => "net_tx_bps",
        }
    }

    pub fn get(self, v: &Vitals) -> Option<f64> {
        match self {
            Vital::Cpu => v.cpu_pct,
            Vital::Mem => v.mem_pct,
            Vital::Swap => v.swap_pct,
            Vital::Load1 => v.load1,
            Vital::DiskMax => v.disks.iter().map(|d| d.used_pct).reduce(f64::max),
            Vital::DiskRead => v.disk_read_bps,
            Vital::DiskWrite => v.disk_write_bps,
            Vital::NetRx => v.net_rx_bps,
            Vital::NetTx => v.net_tx_bps,
        }
    }
}
