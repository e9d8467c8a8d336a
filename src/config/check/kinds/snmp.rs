//! SNMP target keys: version, community or v3 USM credentials, profiles. Custom OIDs are
//! custom.rs's; no agent is contacted here.

// The kind checks share the parent's key tables, limits and helpers; naming each would only
// repeat kinds/mod.rs's import list.
use super::*;

impl Checker<'_> {
    pub(in crate::config::check) fn snmp(
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
}

const COMMUNITY_ACCEPTS: &str =
    "v1 and v2c authenticate with one of `community`, `community_env`, `community_file`";
const V3_ACCEPTS: &str = "v3 accepts `user`, `auth`, `auth_password(_env|_file)`, `priv`, `priv_password(_env|_file)` and `context`";
