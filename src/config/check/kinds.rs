//! Per-kind target validation (exporter, snmp, icmp, tcp, http): which keys each kind accepts
//! and how its values become runtime types. Part of the config walk; reads secrets, no sockets.

use std::collections::{BTreeSet, HashMap};
use std::ops::{Range, RangeInclusive};
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use super::{
    Checker, Fields, Key, Section, Val, check_label_name, check_url, closest, format_duration,
    quoted_list, redact_userinfo, type_name,
};
use crate::config::units::{PortRule, parse_address, parse_oid};
use crate::config::{
    Compression, CustomOid, CustomOidKind, Defaults, ExporterTarget, HttpTarget, IcmpTarget,
    Secret, SnmpAuthProtocol, SnmpPrivProtocol, SnmpProfile, SnmpTarget, SnmpV3, SnmpVersion,
    TargetKind, TcpTarget,
};

pub const DEFAULT_SNMP_PORT: u16 = 161;
pub const DEFAULT_MAX_REPETITIONS: u32 = 25;
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
pub const DEFAULT_RETRIES: u32 = 2;
pub const DEFAULT_PING_COUNT: u32 = 3;
pub const DEFAULT_MAX_REDIRECTS: u32 = 10;
/// Every profile: an agent without a MIB answers its walk with one endOfMibView, which costs
/// one request, while a missing profile hides vitals the console would otherwise show.
pub const DEFAULT_PROFILES: [SnmpProfile; 4] = [
    SnmpProfile::System,
    SnmpProfile::IfMib,
    SnmpProfile::HostResources,
    SnmpProfile::Ucd,
];

const COMMON: [&str; 6] = ["name", "kind", "host", "interval", "timeout", "labels"];
/// The exporter order predates the other kinds; messages listing it stay as they were.
const EXPORTER_KEYS: &[&str] = &[
    "name",
    "kind",
    "url",
    "host",
    "interval",
    "timeout",
    "body_limit",
    "sample_limit",
    "labels",
    "basic_auth",
    "bearer_token",
    "bearer_token_env",
    "bearer_token_file",
    "compression",
];
const COMMUNITY_KEYS: [&str; 3] = ["community", "community_env", "community_file"];
const V3_KEYS: [&str; 10] = [
    "user",
    "auth",
    "auth_password",
    "auth_password_env",
    "auth_password_file",
    "priv",
    "priv_password",
    "priv_password_env",
    "priv_password_file",
    "context",
];
const SNMP_KEYS: &[&str] = &[
    "name",
    "kind",
    "host",
    "interval",
    "timeout",
    "labels",
    "address",
    "version",
    "community",
    "community_env",
    "community_file",
    "user",
    "auth",
    "auth_password",
    "auth_password_env",
    "auth_password_file",
    "priv",
    "priv_password",
    "priv_password_env",
    "priv_password_file",
    "context",
    "profiles",
    "custom",
    "max_repetitions",
    "request_timeout",
    "retries",
];
const ICMP_KEYS: &[&str] = &[
    "name", "kind", "host", "interval", "timeout", "labels", "address", "count",
];
const TCP_KEYS: &[&str] = &[
    "name", "kind", "host", "interval", "timeout", "labels", "address", "ports",
];
const HTTP_KEYS: &[&str] = &[
    "name",
    "kind",
    "host",
    "interval",
    "timeout",
    "labels",
    "url",
    "method",
    "expect_status",
    "body_contains",
    "body_regex",
    "max_redirects",
    "insecure_tls",
    "body_limit",
    "basic_auth",
    "bearer_token",
    "bearer_token_env",
    "bearer_token_file",
];
const CUSTOM_KEYS: &[&str] = &["name", "oid", "type", "walk", "index_labels", "lookup"];

const PROFILE_NAMES: &[(&str, SnmpProfile)] = &[
    ("system", SnmpProfile::System),
    ("if-mib", SnmpProfile::IfMib),
    ("host-resources", SnmpProfile::HostResources),
    ("ucd", SnmpProfile::Ucd),
];
const VERSIONS: &[(&str, SnmpVersion)] = &[
    ("1", SnmpVersion::V1),
    ("2c", SnmpVersion::V2c),
    ("3", SnmpVersion::V3),
];
/// `sha` and `aes` are what net-snmp's `-a SHA` / `-x AES` mean: SHA-1 and AES-128.
const AUTH_PROTOCOLS: &[(&str, SnmpAuthProtocol)] = &[
    ("md5", SnmpAuthProtocol::Md5),
    ("sha", SnmpAuthProtocol::Sha1),
    ("sha1", SnmpAuthProtocol::Sha1),
    ("sha224", SnmpAuthProtocol::Sha224),
    ("sha256", SnmpAuthProtocol::Sha256),
    ("sha384", SnmpAuthProtocol::Sha384),
    ("sha512", SnmpAuthProtocol::Sha512),
];
const PRIV_PROTOCOLS: &[(&str, SnmpPrivProtocol)] = &[
    ("des", SnmpPrivProtocol::Des),
    ("aes", SnmpPrivProtocol::Aes128),
    ("aes128", SnmpPrivProtocol::Aes128),
    ("aes192", SnmpPrivProtocol::Aes192),
    ("aes256", SnmpPrivProtocol::Aes256),
];
const CUSTOM_TYPES: &[(&str, CustomOidKind)] = &[
    ("gauge", CustomOidKind::Gauge),
    ("counter", CustomOidKind::Counter),
    ("text", CustomOidKind::Text),
];
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"];

/// net-snmp refuses USM passphrases shorter than this (USM_LENGTH_P_MIN); failing at load
/// beats an agent that silently drops every request.
const MIN_V3_PASSWORD: usize = 8;
/// SnmpAdminString (SIZE(0..32)) for usmUserName and contextName (RFC 3411, 3414).
const MAX_V3_NAME: usize = 32;
/// One connect per port per interval; a longer list is a port scan, not a health check.
const MAX_PORTS: usize = 100;
/// A redirect chain longer than this is a loop.
const MAX_REDIRECTS: i64 = 100;
/// Compiled size cap for `body_regex`; the regex crate's own default (10 MiB) is generous
/// for a box that is already short of memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Exporter,
    Snmp,
    Icmp,
    Tcp,
    Http,
}

impl Kind {
    const ALL: [Kind; 5] = [
        Kind::Exporter,
        Kind::Snmp,
        Kind::Icmp,
        Kind::Tcp,
        Kind::Http,
    ];

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Exporter => "exporter",
            Kind::Snmp => "snmp",
            Kind::Icmp => "icmp",
            Kind::Tcp => "tcp",
            Kind::Http => "http",
        }
    }

    fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Exporter => EXPORTER_KEYS,
            Kind::Snmp => SNMP_KEYS,
            Kind::Icmp => ICMP_KEYS,
            Kind::Tcp => TCP_KEYS,
            Kind::Http => HTTP_KEYS,
        }
    }
}

/// Every key some kind accepts, for a target whose kind is missing or unknown.
pub fn all_target_keys() -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = COMMON.to_vec();
    for kind in Kind::ALL {
        for key in kind.keys() {
            if !keys.contains(key) {
                keys.push(key);
            }
        }
    }
    keys
}

/// What a kind's check needs from the common part of its target.
pub struct TargetContext<'c> {
    /// The whole `[[target]]` table, where "has no `x`" problems point.
    pub span: &'c Range<usize>,
    pub section: &'c Section,
    pub defaults: &'c Defaults,
    /// The target's effective timeout (`None` if it was invalid).
    pub timeout: Option<Duration>,
}

fn lookup<T: Copy>(table: &[(&str, T)], name: &str) -> Option<T> {
    table.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

fn names<T>(table: &[(&'static str, T)]) -> Vec<&'static str> {
    table.iter().map(|(n, _)| *n).collect()
}

fn hint(word: &str, accepted: &[&str]) -> String {
    closest(word, accepted)
        .map(|n| format!("did you mean \"{n}\"? "))
        .unwrap_or_default()
}

/// Prometheus metric names, which custom series become.
fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '_' | ':'))
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':'))
}

impl Checker<'_> {
    /// Split a target table by the keys of its kind. A key of another kind is named as such,
    /// with the keys this kind accepts, because "unknown key `url`" on a ping target reads as
    /// a typo when the real mistake is the kind.
    pub(super) fn kind_fields<'t, 'i>(
        &mut self,
        table: &'t DeTable<'i>,
        section: &Section,
        kind: Kind,
    ) -> Fields<'t, 'i> {
        let allowed = kind.keys();
        let mut found = HashMap::new();
        for (key, value) in table.iter() {
            let name: &str = key.get_ref();
            if let Some(known) = allowed.iter().find(|a| **a == name) {
                found.insert(*known, (key, value));
                continue;
            }
            let owners: Vec<&str> = Kind::ALL
                .into_iter()
                .filter(|k| k.keys().contains(&name))
                .map(Kind::name)
                .collect();
            let message = if owners.is_empty() {
                let hint = match closest(name, allowed) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("accepted keys: {}", allowed.join(", ")),
                };
                format!("unknown key `{name}` {}; {hint}", section.place())
            } else {
                format!(
                    "unknown key `{name}` for kind \"{kind}\" {} (it is a key of kind {}); kind \"{kind}\" accepts: {}",
                    section.place(),
                    quoted_list(&owners),
                    allowed.join(", "),
                    kind = kind.name(),
                )
            };
            self.problem(&key.span(), message);
        }
        Fields { found }
    }

    pub(super) fn exporter(
        &mut self,
        fields: &Fields<'_, '_>,
        cx: &TargetContext<'_>,
    ) -> Option<TargetKind> {
        let url = self.target_url(
            fields,
            cx,
            "an exporter target needs one like \"http://127.0.0.1:9100/metrics\"",
        );
        let body_limit = match fields.value("body_limit") {
            Some(v) => self.byte_size(v, "body_limit"),
            None => Some(cx.defaults.body_limit),
        };
        let sample_limit = match fields.value("sample_limit") {
            Some(v) => self.count(v, "sample_limit"),
            None => Some(cx.defaults.sample_limit),
        };
        let auth = self.auth(fields, cx.section);
        let compression = match fields.value("compression") {
            Some(v) => self.compression(v, cx.section),
            None => Some(Compression::Auto),
        };
        Some(TargetKind::Exporter(ExporterTarget {
            url: url?,
            auth: auth?,
            body_limit: body_limit?,
            sample_limit: sample_limit?,
            compression: compression?,
        }))
    }

    fn compression(&mut self, value: &Val<'_>, section: &Section) -> Option<Compression> {
        let accepted = quoted_list(&names(&Compression::NAMES));
        let message = match value.get_ref() {
            DeValue::String(s) => match lookup(&Compression::NAMES, s) {
                Some(c) => return Some(c),
                None => format!(
                    "unknown `compression` \"{}\" in {}; {}accepted: {accepted} (\"auto\" asks remote targets for gzip and loopback ones for a plain body)",
                    s.escape_debug(),
                    section.0,
                    hint(&s.to_ascii_lowercase(), &names(&Compression::NAMES)),
                ),
            },
            other => format!(
                "`compression` in {} must be a string, found {}; accepted: {accepted}",
                section.0,
                type_name(other)
            ),
        };
        self.problem(&value.span(), message);
        None
    }

    fn target_url(
        &mut self,
        fields: &Fields<'_, '_>,
        cx: &TargetContext<'_>,
        missing: &str,
    ) -> Option<url::Url> {
        let Some(v) = fields.value("url") else {
            self.problem(cx.span, format!("{} has no `url`; {missing}", cx.section.0));
            return None;
        };
        let text = self.string(v, "url", cx.section)?.to_owned();
        match check_url(&text) {
            Ok(url) => Some(url),
            Err(why) => {
                self.problem(
                    &v.span(),
                    format!(
                        "invalid `url` \"{}\" in {}: {why}",
                        redact_userinfo(&text),
                        cx.section.0
                    ),
                );
                None
            }
        }
    }

    /// An integer within `range`; the message gives the range.
    fn int_in(
        &mut self,
        value: &Val<'_>,
        key: &str,
        section: &Section,
        range: RangeInclusive<i64>,
    ) -> Option<i64> {
        let accepted = format!("use an integer from {} to {}", range.start(), range.end());
        match value.get_ref() {
            DeValue::Integer(i) => match super::integer(i).filter(|n| range.contains(n)) {
                Some(n) => Some(n),
                None => {
                    self.problem(
                        &value.span(),
                        format!("`{key}` in {} is {i}; {accepted}", section.0),
                    );
                    None
                }
            },
            other => {
                self.problem(
                    &value.span(),
                    format!(
                        "`{key}` in {} must be an integer, found {}; {accepted}",
                        section.0,
                        type_name(other)
                    ),
                );
                None
            }
        }
    }

    fn small_count(
        &mut self,
        fields: &Fields<'_, '_>,
        key: &str,
        section: &Section,
        range: RangeInclusive<i64>,
        default: u32,
    ) -> Option<u32> {
        match fields.value(key) {
            Some(v) => self
                .int_in(v, key, section, range)
                .and_then(|n| u32::try_from(n).ok()),
            None => Some(default),
        }
    }

    fn boolean(&mut self, value: &Val<'_>, key: &str, section: &Section) -> Option<bool> {
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                self.problem(
                    &value.span(),
                    format!(
                        "`{key}` in {} must be true or false, found {}",
                        section.0,
                        type_name(other)
                    ),
                );
                None
            }
        }
    }

    /// The address of an snmp, icmp or tcp target, in its normal form.
    fn address(
        &mut self,
        fields: &Fields<'_, '_>,
        cx: &TargetContext<'_>,
        rule: PortRule,
        example: &str,
    ) -> Option<String> {
        let Some(v) = fields.value("address") else {
            self.problem(
                cx.span,
                format!("{} has no `address`; {example}", cx.section.0),
            );
            return None;
        };
        let text = self.string(v, "address", cx.section)?;
        match parse_address(text, rule) {
            Ok(address) => Some(address),
            Err(why) => {
                let message = format!(
                    "invalid `address` \"{}\" in {}: {why}",
                    text.escape_debug(),
                    cx.section.0
                );
                self.problem(&v.span(), message);
                None
            }
        }
    }

    /// Exactly one of `base`, `base_env`, `base_file`. `Some(None)`: none is given;
    /// `None`: a problem was reported.
    fn one_secret(
        &mut self,
        fields: &Fields<'_, '_>,
        base: &str,
        section: &Section,
    ) -> Option<Option<(Secret, Range<usize>)>> {
        let keys = [
            base.to_string(),
            format!("{base}_env"),
            format!("{base}_file"),
        ];
        let mut present: Vec<(&str, &Key<'_>, &Val<'_>)> = keys
            .iter()
            .filter_map(|k| fields.get(k).map(|(key, v)| (k.as_str(), key, v)))
            .collect();
        present.sort_by_key(|(_, key, _)| key.span().start);
        match present.as_slice() {
            [] => Some(None),
            [(key, _, v)] => self.secret(key, v, section).map(|s| Some((s, v.span()))),
            [(first, _, _), rest @ ..] => {
                for (other, key, _) in rest {
                    self.problem(
                        &key.span(),
                        format!(
                            "`{other}` conflicts with `{first}` in {}; give exactly one of `{base}`, `{base}_env`, `{base}_file`",
                            section.0
                        ),
                    );
                }
                None
            }
        }
    }

    pub(super) fn snmp(
        &mut self,
        fields: &Fields<'_, '_>,
        cx: &TargetContext<'_>,
    ) -> Option<TargetKind> {
        let section = cx.section;
        let address = self.address(
            fields,
            cx,
            PortRule::Default(DEFAULT_SNMP_PORT),
            "an snmp target needs the agent's address like \"10.0.0.2\" or \"10.0.0.2:161\"",
        );
        let version = match fields.value("version") {
            Some(v) => self.snmp_version(v, section),
            None => Some(SnmpVersion::V2c),
        };
        let (community, v3) = match version {
            Some(SnmpVersion::V3) => {
                self.refuse_keys(fields, &COMMUNITY_KEYS, section, "3", V3_ACCEPTS);
                (Some(None), self.snmp_v3(fields, cx).map(Some))
            }
            Some(version) => {
                let written = if version == SnmpVersion::V1 {
                    "1"
                } else {
                    "2c"
                };
                self.refuse_keys(fields, &V3_KEYS, section, written, COMMUNITY_ACCEPTS);
                let community = match self.one_secret(fields, "community", section) {
                    Some(Some((secret, _))) => Some(Some(secret)),
                    Some(None) => {
                        self.problem(
                            cx.span,
                            format!(
                                "{} has no community; SNMP v{written} needs one of `community`, `community_env`, `community_file` (v3 uses `user` instead)",
                                section.0
                            ),
                        );
                        None
                    }
                    None => None,
                };
                (community, Some(None))
            }
            // The version is wrong, so which credential keys belong is unknown; the version
            // problem is the one to fix first.
            None => (None, None),
        };
        let profiles = self.profiles(fields, section);
        let custom = match fields.value("custom") {
            Some(v) => self.custom_oids(v, section),
            None => Some(Vec::new()),
        };
        let polls_nothing =
            matches!((&profiles, &custom), (Some(p), Some(c)) if p.is_empty() && c.is_empty());
        if polls_nothing {
            let at = fields
                .value("profiles")
                .map_or(cx.span.clone(), |v| v.span());
            self.problem(
                &at,
                format!(
                    "{} polls nothing: `profiles` is empty and there is no `custom`; list profiles ({}) or add custom OIDs",
                    section.0,
                    quoted_list(&names(PROFILE_NAMES))
                ),
            );
        }
        let max_repetitions = self.small_count(
            fields,
            "max_repetitions",
            section,
            1..=100,
            DEFAULT_MAX_REPETITIONS,
        );
        let retries = self.small_count(fields, "retries", section, 0..=10, DEFAULT_RETRIES);
        let request_timeout = match fields.value("request_timeout") {
            Some(v) => {
                let t = self.duration(v, "request_timeout");
                if let (Some(t), Some(whole)) = (t, cx.timeout)
                    && t > whole
                {
                    self.problem(
                        &v.span(),
                        format!(
                            "`request_timeout` {} in {} is longer than the target's `timeout` {}; one request must fit in the poll's deadline, so use a request_timeout ≤ timeout",
                            format_duration(t),
                            section.0,
                            format_duration(whole)
                        ),
                    );
                    None
                } else {
                    t
                }
            }
            // Like an inherited timeout, the default shrinks to fit a shorter deadline.
            None => cx.timeout.map(|t| DEFAULT_REQUEST_TIMEOUT.min(t)),
        };
        if polls_nothing {
            return None;
        }
        Some(TargetKind::Snmp(SnmpTarget {
            address: address?,
            version: version?,
            community: community?,
            v3: v3?,
            profiles: profiles?,
            custom: custom?,
            max_repetitions: max_repetitions?,
            request_timeout: request_timeout?,
            retries: retries?,
        }))
    }

    fn snmp_version(&mut self, value: &Val<'_>, section: &Section) -> Option<SnmpVersion> {
        let accepted = quoted_list(&names(VERSIONS));
        match value.get_ref() {
            DeValue::String(s) => match lookup(VERSIONS, s) {
                Some(v) => Some(v),
                None => {
                    let hint = hint(s.trim_start_matches(['v', 'V']), &names(VERSIONS));
                    self.problem(
                        &value.span(),
                        format!(
                            "unknown SNMP `version` \"{}\" in {}; {hint}accepted: {accepted}",
                            s.escape_debug(),
                            section.0
                        ),
                    );
                    None
                }
            },
            other => {
                // `version = 3` is the likely slip; say how to write it.
                let hint = match other {
                    DeValue::Integer(i) => format!(" (write it quoted, like version = \"{i}\")"),
                    _ => String::new(),
                };
                self.problem(
                    &value.span(),
                    format!(
                        "`version` in {} must be a string, found {}{hint}; accepted: {accepted}",
                        section.0,
                        type_name(other)
                    ),
                );
                None
            }
        }
    }

    /// Report each present key of `keys`: it belongs to the other SNMP security model.
    fn refuse_keys(
        &mut self,
        fields: &Fields<'_, '_>,
        keys: &[&str],
        section: &Section,
        version: &str,
        accepts: &str,
    ) {
        for key in keys {
            if let Some((k, _)) = fields.get(key) {
                let family = if version == "3" { "v1 and v2c" } else { "v3" };
                self.problem(
                    &k.span(),
                    format!(
                        "`{key}` is an SNMP {family} key, but {} has version \"{version}\"; {accepts}",
                        section.0
                    ),
                );
            }
        }
    }

    fn snmp_v3(&mut self, fields: &Fields<'_, '_>, cx: &TargetContext<'_>) -> Option<SnmpV3> {
        let section = cx.section;
        let user = match fields.value("user") {
            Some(v) => self.admin_string(v, "user", section, 1).map(str::to_owned),
            None => {
                self.problem(
                    cx.span,
                    format!(
                        "{} has no `user`; SNMP v3 needs a USM user name (and usually auth, auth_password, priv, priv_password)",
                        section.0
                    ),
                );
                None
            }
        };
        let auth = self.v3_security(
            fields,
            "auth",
            AUTH_PROTOCOLS,
            section,
            "authentication protocol",
        );
        let privacy = self.v3_security(fields, "priv", PRIV_PROTOCOLS, section, "privacy protocol");
        // RFC 3414 has no privacy without authentication (there is no noAuthPriv level).
        if let (Some(None), Some(Some(_))) = (&auth, &privacy)
            && let Some((key, _)) = fields.get("priv")
        {
            self.problem(
                &key.span(),
                format!(
                    "`priv` in {} needs `auth`: SNMP v3 has no privacy without authentication; add auth = \"sha256\" (accepted: {}) and auth_password",
                    section.0,
                    quoted_list(&names(AUTH_PROTOCOLS))
                ),
            );
            return None;
        }
        let context = match fields.value("context") {
            Some(v) => self
                .admin_string(v, "context", section, 0)
                .map(str::to_owned),
            None => Some(String::new()),
        };
        Some(SnmpV3 {
            user: user?,
            auth: auth?,
            privacy: privacy?,
            context: context?,
        })
    }

    /// A USM user or context name: SnmpAdminString, at most 32 bytes.
    fn admin_string<'t>(
        &mut self,
        value: &'t Val<'_>,
        key: &str,
        section: &Section,
        min: usize,
    ) -> Option<&'t str> {
        let text = self.string(value, key, section)?;
        if text.len() < min || text.len() > MAX_V3_NAME {
            self.problem(
                &value.span(),
                format!(
                    "`{key}` in {} has {} bytes; SNMP v3 accepts {min} to {MAX_V3_NAME}",
                    section.0,
                    text.len()
                ),
            );
            return None;
        }
        Some(text)
    }

    /// `auth`/`priv` with its password. `Some(None)`: neither is given.
    fn v3_security<P: Copy>(
        &mut self,
        fields: &Fields<'_, '_>,
        key: &str,
        protocols: &[(&'static str, P)],
        section: &Section,
        what: &str,
    ) -> Option<Option<(P, Secret)>> {
        let accepted = quoted_list(&names(protocols));
        let password_key = format!("{key}_password");
        let protocol = match fields.value(key) {
            Some(v) => match v.get_ref() {
                DeValue::String(s) => {
                    let lower = s.to_ascii_lowercase();
                    match lookup(protocols, &lower) {
                        Some(p) => Some(Some(p)),
                        None => {
                            // The value is not echoed: a password pasted into `auth` is
                            // still a password.
                            let hint = hint(&lower, &names(protocols));
                            self.problem(
                                &v.span(),
                                format!(
                                    "unknown {what} in `{key}` of {}; {hint}accepted (any case): {accepted}",
                                    section.0
                                ),
                            );
                            None
                        }
                    }
                }
                other => {
                    self.problem(
                        &v.span(),
                        format!(
                            "`{key}` in {} must be a string, found {}; accepted: {accepted}",
                            section.0,
                            type_name(other)
                        ),
                    );
                    None
                }
            },
            None => Some(None),
        };
        let password = self.one_secret(fields, &password_key, section);
        match (protocol?, password?) {
            (None, None) => Some(None),
            (Some(p), Some((secret, span))) => {
                let length = secret.expose().chars().count();
                if length < MIN_V3_PASSWORD {
                    self.problem(
                        &span,
                        format!(
                            "the `{password_key}` of {} has {length} characters; SNMP v3 passwords need at least {MIN_V3_PASSWORD}",
                            section.0
                        ),
                    );
                    return None;
                }
                Some(Some((p, secret)))
            }
            (Some(_), None) => {
                let at = fields.get(key).map(|(k, _)| k.span()).unwrap_or_default();
                self.problem(
                    &at,
                    format!(
                        "`{key}` in {} has no password; give one of `{password_key}`, `{password_key}_env`, `{password_key}_file`",
                        section.0
                    ),
                );
                None
            }
            (None, Some((_, span))) => {
                self.problem(
                    &span,
                    format!(
                        "{} has a password for `{key}` but no `{key}`; name the {what} too, like {key} = \"{}\" (accepted: {accepted})",
                        section.0,
                        if key == "auth" { "sha256" } else { "aes" }
                    ),
                );
                None
            }
        }
    }

    fn profiles(&mut self, fields: &Fields<'_, '_>, section: &Section) -> Option<Vec<SnmpProfile>> {
        let Some(value) = fields.value("profiles") else {
            return Some(DEFAULT_PROFILES.to_vec());
        };
        let accepted = quoted_list(&names(PROFILE_NAMES));
        let DeValue::Array(items) = value.get_ref() else {
            self.problem(
                &value.span(),
                format!(
                    "`profiles` in {} must be an array of profile names, found {}; accepted: {accepted}",
                    section.0,
                    type_name(value.get_ref())
                ),
            );
            return None;
        };
        let mut profiles = Vec::new();
        let mut ok = true;
        for item in items.iter() {
            let DeValue::String(s) = item.get_ref() else {
                self.problem(
                    &item.span(),
                    format!(
                        "each entry of `profiles` in {} must be a string, found {}; accepted: {accepted}",
                        section.0,
                        type_name(item.get_ref())
                    ),
                );
                ok = false;
                continue;
            };
            match lookup(PROFILE_NAMES, s) {
                Some(p) if profiles.contains(&p) => {
                    self.problem(
                        &item.span(),
                        format!(
                            "profile \"{}\" is listed twice in {}; list each profile once",
                            s.escape_debug(),
                            section.0
                        ),
                    );
                    ok = false;
                }
                Some(p) => profiles.push(p),
                None => {
                    let hint = hint(s, &names(PROFILE_NAMES));
                    self.problem(
                        &item.span(),
                        format!(
                            "unknown SNMP profile \"{}\" in {}; {hint}accepted: {accepted}",
                            s.escape_debug(),
                            section.0
                        ),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(profiles)
    }

    fn custom_oids(&mut self, value: &Val<'_>, section: &Section) -> Option<Vec<CustomOid>> {
        let accepted = "write custom = [{ name = \"…\", oid = \"1.3.6.1…\", type = \"gauge\" }, …]";
        let DeValue::Array(items) = value.get_ref() else {
            self.problem(
                &value.span(),
                format!(
                    "`custom` in {} must be an array of tables, found {}; {accepted}",
                    section.0,
                    type_name(value.get_ref())
                ),
            );
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        // name → where it was first defined, to name both places of a duplicate.
        let mut seen: HashMap<String, Range<usize>> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let DeValue::Table(table) = item.get_ref() else {
                self.problem(
                    &item.span(),
                    format!(
                        "each `custom` entry in {} must be a table, found {}; {accepted}",
                        section.0,
                        type_name(item.get_ref())
                    ),
                );
                ok = false;
                continue;
            };
            match self.custom_oid(item, table, i, section, &mut seen) {
                Some(c) => out.push(c),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn custom_oid(
        &mut self,
        item: &Val<'_>,
        table: &DeTable<'_>,
        index: usize,
        target: &Section,
        seen: &mut HashMap<String, Range<usize>>,
    ) -> Option<CustomOid> {
        let section = Section(format!("`custom` entry #{} of {}", index + 1, target.0));
        let fields = self.fields(table, &section, CUSTOM_KEYS);
        let name = match fields.value("name") {
            Some(v) => self.string(v, "name", &section).and_then(|n| {
                if !valid_metric_name(n) {
                    self.problem(
                        &v.span(),
                        format!(
                            "invalid series name \"{}\" in {}; use [a-zA-Z_:][a-zA-Z0-9_:]*",
                            n.escape_debug(),
                            section.0
                        ),
                    );
                    return None;
                }
                if let Some(first) = seen.get(n) {
                    let first_at = self.position_text(first);
                    self.problem(
                        &v.span(),
                        format!(
                            "duplicate custom name \"{n}\" in {}, first defined at {first_at}; each custom OID needs its own name",
                            target.0
                        ),
                    );
                    return None;
                }
                seen.insert(n.to_owned(), v.span());
                Some(n.to_owned())
            }),
            None => {
                self.problem(
                    &item.span(),
                    format!(
                        "{} has no `name`; give the series a name like \"ups_battery_charge\"",
                        section.0
                    ),
                );
                None
            }
        };
        let oid = match fields.value("oid") {
            Some(v) => self
                .string(v, "oid", &section)
                .and_then(|text| match parse_oid(text) {
                    Ok(arcs) => Some(arcs),
                    Err(why) => {
                        let message = format!(
                            "invalid `oid` \"{}\" in {}: {why}",
                            text.escape_debug(),
                            section.0
                        );
                        self.problem(&v.span(), message);
                        None
                    }
                }),
            None => {
                self.problem(
                    &item.span(),
                    format!(
                        "{} has no `oid`; give a numeric OID like \"1.3.6.1.2.1.1.3.0\"",
                        section.0
                    ),
                );
                None
            }
        };
        let types = quoted_list(&names(CUSTOM_TYPES));
        let kind = match fields.value("type") {
            Some(v) => {
                self.string(v, "type", &section)
                    .and_then(|t| match lookup(CUSTOM_TYPES, t) {
                        Some(k) => Some(k),
                        None => {
                            let hint = hint(t, &names(CUSTOM_TYPES));
                            self.problem(
                                &v.span(),
                                format!(
                                    "unknown `type` \"{}\" in {}; {hint}accepted: {types}",
                                    t.escape_debug(),
                                    section.0
                                ),
                            );
                            None
                        }
                    })
            }
            // Counter or gauge changes every computed rate, so it is never guessed.
            None => {
                self.problem(
                    &item.span(),
                    format!("{} has no `type`; accepted: {types}", section.0),
                );
                None
            }
        };
        let walk = match fields.value("walk") {
            Some(v) => self.boolean(v, "walk", &section),
            None => Some(false),
        };
        let index_labels = match fields.get("index_labels") {
            Some((key, v)) => {
                if walk == Some(false) {
                    self.problem(
                        &key.span(),
                        format!(
                            "`index_labels` in {} names the index of walked rows, but `walk` is false; set walk = true or remove it",
                            section.0
                        ),
                    );
                }
                self.index_labels(v, &section)
                    .filter(|_| walk != Some(false))
            }
            None => Some(Vec::new()),
        };
        let lookup = match fields.get("lookup") {
            Some((key, v)) => {
                let misplaced = kind.is_some_and(|k| k != CustomOidKind::Gauge);
                if misplaced {
                    self.problem(
                        &key.span(),
                        format!(
                            "`lookup` in {} maps integer states to names; it needs type = \"gauge\"",
                            section.0
                        ),
                    );
                }
                self.lookup_table(v, &section).filter(|_| !misplaced)
            }
            None => Some(Vec::new()),
        };
        Some(CustomOid {
            name: name?,
            oid: oid?,
            kind: kind?,
            walk: walk?,
            index_labels: index_labels?,
            lookup: lookup?,
        })
    }

    fn index_labels(&mut self, value: &Val<'_>, section: &Section) -> Option<Vec<String>> {
        let DeValue::Array(items) = value.get_ref() else {
            self.problem(
                &value.span(),
                format!(
                    "`index_labels` in {} must be an array of label names, found {}",
                    section.0,
                    type_name(value.get_ref())
                ),
            );
            return None;
        };
        let mut labels: Vec<String> = Vec::new();
        let mut ok = true;
        for item in items.iter() {
            let Some(name) = self.string(item, "index_labels", section) else {
                ok = false;
                continue;
            };
            let why = match check_label_name(name) {
                Err(why) => Some(why.to_string()),
                Ok(()) if labels.iter().any(|l| l == name) => {
                    Some("it is listed twice; each index part needs its own label".to_string())
                }
                Ok(()) => None,
            };
            match why {
                Some(why) => {
                    self.problem(
                        &item.span(),
                        format!(
                            "invalid index label \"{}\" in {}: {why}",
                            name.escape_debug(),
                            section.0
                        ),
                    );
                    ok = false;
                }
                None => labels.push(name.to_owned()),
            }
        }
        ok.then_some(labels)
    }

    fn lookup_table(&mut self, value: &Val<'_>, section: &Section) -> Option<Vec<(i64, String)>> {
        let table = self.table(
            value,
            "lookup",
            "write lookup = { 1 = \"up\", 2 = \"down\" }",
        )?;
        let mut out: Vec<(i64, String)> = Vec::new();
        let mut ok = true;
        // The table iterates in key order; a repeat is the later one in the file.
        let mut entries: Vec<_> = table.iter().collect();
        entries.sort_by_key(|(key, _)| key.span().start);
        let mut seen: Vec<i64> = Vec::new();
        for (key, v) in entries {
            let raw: &str = key.get_ref();
            let number = match raw.parse::<i64>() {
                Ok(n) if seen.contains(&n) => {
                    self.problem(
                        &key.span(),
                        format!(
                            "`lookup` key {n} in {} is given twice; map each value once",
                            section.0
                        ),
                    );
                    None
                }
                Ok(n) => {
                    seen.push(n);
                    Some(n)
                }
                Err(_) => {
                    self.problem(
                        &key.span(),
                        format!(
                            "`lookup` key \"{}\" in {} is not an integer; keys are the values the agent returns, like 1 or -1",
                            raw.escape_debug(),
                            section.0
                        ),
                    );
                    None
                }
            };
            let text = match v.get_ref() {
                DeValue::String(s) if !s.is_empty() => Some(s.to_string()),
                other => {
                    self.problem(
                        &v.span(),
                        format!(
                            "`lookup` value for \"{}\" in {} must be a non-empty string, found {}",
                            raw.escape_debug(),
                            section.0,
                            if matches!(other, DeValue::String(_)) {
                                "an empty string"
                            } else {
                                type_name(other)
                            }
                        ),
                    );
                    None
                }
            };
            match (number, text) {
                (Some(n), Some(t)) => out.push((n, t)),
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    pub(super) fn icmp(
        &mut self,
        fields: &Fields<'_, '_>,
        cx: &TargetContext<'_>,
    ) -> Option<TargetKind> {
        let address = self.address(
            fields,
            cx,
            PortRule::Forbidden,
            "an icmp target needs a host name or IP address like \"10.0.0.1\"",
        );
        let count = self.small_count(fields, "count", cx.section, 1..=100, DEFAULT_PING_COUNT);
        Some(TargetKind::Icmp(IcmpTarget {
            address: address?,
            count: count?,
        }))
    }

    pub(super) fn tcp(
        &mut self,
        fields: &Fields<'_, '_>,
        cx: &TargetContext<'_>,
    ) -> Option<TargetKind> {
        let address = self.address(
            fields,
            cx,
            PortRule::Forbidden,
            "a tcp target needs a host name or IP address like \"10.0.0.7\" (ports go in `ports`)",
        );
        let ports = match fields.value("ports") {
            Some(v) => self.ports(v, cx.section),
            None => {
                self.problem(
                    cx.span,
                    format!(
                        "{} has no `ports`; a tcp target needs the ports to connect to, like ports = [22, 443]",
                        cx.section.0
                    ),
                );
                None
            }
        };
        Some(TargetKind::Tcp(TcpTarget {
            address: address?,
            ports: ports?,
        }))
    }

    fn ports(&mut self, value: &Val<'_>, section: &Section) -> Option<Vec<u16>> {
        let accepted = "use a list of integers from 1 to 65535, like ports = [22, 443]";
        let DeValue::Array(items) = value.get_ref() else {
            let hint = match value.get_ref() {
                DeValue::Integer(i) => format!(" (for one port write ports = [{i}])"),
                _ => String::new(),
            };
            self.problem(
                &value.span(),
                format!(
                    "`ports` in {} must be an array, found {}{hint}; {accepted}",
                    section.0,
                    type_name(value.get_ref())
                ),
            );
            return None;
        };
        if items.iter().next().is_none() {
            self.problem(
                &value.span(),
                format!("`ports` in {} is empty; {accepted}", section.0),
            );
            return None;
        }
        if items.len() > MAX_PORTS {
            self.problem(
                &value.span(),
                format!(
                    "`ports` in {} lists {} ports; at most {MAX_PORTS} per target (more is a port scan; split it across targets)",
                    section.0,
                    items.len()
                ),
            );
            return None;
        }
        let mut ports: Vec<u16> = Vec::new();
        let mut ok = true;
        for item in items.iter() {
            let Some(n) = self.int_in(item, "ports", section, 1..=65535) else {
                ok = false;
                continue;
            };
            let Ok(port) = u16::try_from(n) else {
                ok = false;
                continue;
            };
            if ports.contains(&port) {
                self.problem(
                    &item.span(),
                    format!(
                        "port {port} is listed twice in `ports` of {}; list each port once",
                        section.0
                    ),
                );
                ok = false;
                continue;
            }
            ports.push(port);
        }
        ok.then_some(ports)
    }

    pub(super) fn http(
        &mut self,
        fields: &Fields<'_, '_>,
        cx: &TargetContext<'_>,
    ) -> Option<TargetKind> {
        let section = cx.section;
        let url = self.target_url(
            fields,
            cx,
            "an http target needs one like \"https://shop.example.com/health\"",
        );
        let method = match fields.value("method") {
            Some(v) => self.method(v, section),
            None => Some("GET".to_string()),
        };
        let expect_status = match fields.value("expect_status") {
            Some(v) => self.expect_status(v, section),
            None => Some((200..=299).collect()),
        };
        let body_contains = match fields.value("body_contains") {
            Some(v) => self.string(v, "body_contains", section).and_then(|s| {
                if s.is_empty() {
                    self.problem(
                        &v.span(),
                        format!(
                            "`body_contains` in {} is empty, which every body contains; give the text to look for or remove it",
                            section.0
                        ),
                    );
                    None
                } else {
                    Some(Some(s.to_owned()))
                }
            }),
            None => Some(None),
        };
        let body_regex = match fields.value("body_regex") {
            Some(v) => self.body_regex(v, section).map(Some),
            None => Some(None),
        };
        // HEAD responses have no body, so a body check would fail on every poll.
        if method.as_deref() == Some("HEAD") {
            for key in ["body_contains", "body_regex"] {
                if let Some((k, _)) = fields.get(key) {
                    self.problem(
                        &k.span(),
                        format!(
                            "`{key}` in {} checks the body, but method \"HEAD\" gets none; use method = \"GET\" or remove `{key}`",
                            section.0
                        ),
                    );
                }
            }
        }
        let max_redirects = self.small_count(
            fields,
            "max_redirects",
            section,
            0..=MAX_REDIRECTS,
            DEFAULT_MAX_REDIRECTS,
        );
        let insecure_tls = match fields.value("insecure_tls") {
            Some(v) => self.boolean(v, "insecure_tls", section),
            None => Some(false),
        };
        let body_limit = match fields.value("body_limit") {
            Some(v) => self.byte_size(v, "body_limit"),
            None => Some(cx.defaults.body_limit),
        };
        let auth = self.auth(fields, section);
        if method.as_deref() == Some("HEAD")
            && (fields.get("body_contains").is_some() || fields.get("body_regex").is_some())
        {
            return None;
        }
        Some(TargetKind::Http(HttpTarget {
            url: url?,
            method: method?,
            expect_status: expect_status?,
            body_contains: body_contains?,
            body_regex: body_regex?,
            max_redirects: max_redirects?,
            insecure_tls: insecure_tls?,
            auth: auth?,
            body_limit: body_limit?,
        }))
    }

    fn method(&mut self, value: &Val<'_>, section: &Section) -> Option<String> {
        let text = self.string(value, "method", section)?;
        let upper = text.to_ascii_uppercase();
        if METHODS.contains(&upper.as_str()) {
            return Some(upper);
        }
        let lower: Vec<String> = METHODS.iter().map(|m| m.to_ascii_lowercase()).collect();
        let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
        let hint = closest(text, &lower)
            .map(|m| format!("did you mean \"{}\"? ", m.to_ascii_uppercase()))
            .unwrap_or_default();
        self.problem(
            &value.span(),
            format!(
                "unknown HTTP `method` \"{}\" in {}; {hint}accepted (any case): {}",
                text.escape_debug(),
                section.0,
                quoted_list(METHODS)
            ),
        );
        None
    }

    /// Integers 100..=599 and classes "1xx".."5xx", alone or in an array; the result is
    /// sorted and without repeats, so a class and a code inside it may overlap.
    fn expect_status(&mut self, value: &Val<'_>, section: &Section) -> Option<Vec<u16>> {
        let single = std::slice::from_ref(value);
        let items: Vec<&Val<'_>> = match value.get_ref() {
            DeValue::Array(items) => items.iter().collect(),
            _ => single.iter().collect(),
        };
        if items.is_empty() {
            self.problem(
                &value.span(),
                format!(
                    "`expect_status` in {} is empty, so every response would fail; {STATUS_HINT}",
                    section.0
                ),
            );
            return None;
        }
        let mut codes = BTreeSet::new();
        let mut ok = true;
        for item in items {
            let range = match item.get_ref() {
                DeValue::Integer(i) => super::integer(i)
                    .and_then(|n| u16::try_from(n).ok())
                    .filter(|n| (100..=599).contains(n))
                    .map(|n| n..=n),
                DeValue::String(s) => status_class(s),
                _ => None,
            };
            match range {
                Some(range) => codes.extend(range),
                None => {
                    let shown = match item.get_ref() {
                        DeValue::String(s) => format!("\"{}\"", s.escape_debug()),
                        DeValue::Integer(i) => i.to_string(),
                        other => type_name(other).to_string(),
                    };
                    self.problem(
                        &item.span(),
                        format!(
                            "invalid `expect_status` {shown} in {}; {STATUS_HINT}",
                            section.0
                        ),
                    );
                    ok = false;
                }
            }
        }
        ok.then(|| codes.into_iter().collect())
    }

    fn body_regex(&mut self, value: &Val<'_>, section: &Section) -> Option<String> {
        let text = self.string(value, "body_regex", section)?;
        let built = regex::RegexBuilder::new(text)
            .size_limit(REGEX_SIZE_LIMIT)
            .build();
        match built {
            Ok(_) => Some(text.to_owned()),
            Err(e) => {
                let why = match &e {
                    // The syntax error spans several lines with a caret diagram; its last
                    // line is the reason, and the position is the config's to give.
                    regex::Error::Syntax(s) => s
                        .lines()
                        .rev()
                        .find_map(|l| l.strip_prefix("error: "))
                        .unwrap_or("invalid syntax")
                        .to_string(),
                    regex::Error::CompiledTooBig(_) => {
                        format!("it compiles to more than {REGEX_SIZE_LIMIT} bytes; simplify it")
                    }
                    other => other.to_string().replace('\n', "; "),
                };
                self.problem(
                    &value.span(),
                    format!(
                        "invalid `body_regex` \"{}\" in {}: {why}; use Rust regex syntax (https://docs.rs/regex/latest/regex/#syntax)",
                        text.escape_debug(),
                        section.0
                    ),
                );
                None
            }
        }
    }
}

const STATUS_HINT: &str = "use status codes from 100 to 599 or classes \"1xx\" to \"5xx\", like expect_status = [200, 301] or [\"2xx\"]";

const COMMUNITY_ACCEPTS: &str =
    "v1 and v2c authenticate with one of `community`, `community_env`, `community_file`";
const V3_ACCEPTS: &str = "v3 accepts `user`, `auth`, `auth_password(_env|_file)`, `priv`, `priv_password(_env|_file)` and `context`";

/// `"2xx"` → 200..=299 (any case of `x`).
fn status_class(text: &str) -> Option<RangeInclusive<u16>> {
    let mut chars = text.chars();
    let digit = chars.next()?.to_digit(10)?;
    let rest: String = chars.collect();
    if !(1..=5).contains(&digit) || !rest.eq_ignore_ascii_case("xx") {
        return None;
    }
    let base = u16::try_from(digit).ok()? * 100;
    Some(base..=base + 99)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes_table() {
        for (text, want) in [
            ("2xx", Some(200..=299)),
            ("5XX", Some(500..=599)),
            ("1xx", Some(100..=199)),
            ("0xx", None),
            ("6xx", None),
            ("2x", None),
            ("2xxx", None),
            ("xx", None),
            ("", None),
            ("200", None),
            ("٢xx", None),
        ] {
            assert_eq!(status_class(text), want, "{text:?}");
        }
    }

    #[test]
    fn metric_names_table() {
        for (name, ok) in [
            ("ups_battery_charge", true),
            ("_x", true),
            ("a:b", true),
            (":a", true),
            ("", false),
            ("1a", false),
            ("a-b", false),
            ("a.b", false),
        ] {
            assert_eq!(valid_metric_name(name), ok, "{name:?}");
        }
    }

    /// Every kind's list holds the common keys, so a name, host or interval is never
    /// reported as belonging to another kind.
    #[test]
    fn every_kind_accepts_the_common_keys() {
        for kind in Kind::ALL {
            for key in COMMON {
                assert!(kind.keys().contains(&key), "{kind:?} lacks {key}");
            }
            assert_eq!(Kind::from_name(kind.name()), Some(kind));
        }
        for key in COMMUNITY_KEYS.iter().chain(V3_KEYS.iter()) {
            assert!(SNMP_KEYS.contains(key), "{key}");
        }
        assert_eq!(
            super::super::TARGET_KINDS,
            Kind::ALL.map(Kind::name).as_slice()
        );
    }
}
