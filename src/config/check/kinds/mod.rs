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

mod custom;
mod probe;
mod snmp;

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
            DeValue::Integer(i) => {
                match crate::config::check::integer(i).filter(|n| range.contains(n)) {
                    Some(n) => Some(n),
                    None => {
                        self.problem(
                            &value.span(),
                            format!("`{key}` in {} is {i}; {accepted}", section.0),
                        );
                        None
                    }
                }
            }
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
}

#[cfg(test)]
mod tests {
    use super::probe::status_class;
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
