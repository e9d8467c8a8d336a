//! ICMP, TCP and HTTP probe targets: ports, methods, expected status and body regex.
//! Opens no sockets; the collectors do that.

// The kind checks share the parent's key tables, limits and helpers; naming each would only
// repeat kinds/mod.rs's import list.
use super::*;

impl Checker<'_> {
    pub(in crate::config::check) fn icmp(
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

    pub(in crate::config::check) fn tcp(
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

    pub(in crate::config::check) fn http(
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
                DeValue::Integer(i) => crate::config::check::integer(i)
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

/// `"2xx"` → 200..=299 (any case of `x`).
pub(super) fn status_class(text: &str) -> Option<RangeInclusive<u16>> {
    let mut chars = text.chars();
    let digit = chars.next()?.to_digit(10)?;
    let rest: String = chars.collect();
    if !(1..=5).contains(&digit) || !rest.eq_ignore_ascii_case("xx") {
        return None;
    }
    let base = u16::try_from(digit).ok()? * 100;
    Some(base..=base + 99)
}
