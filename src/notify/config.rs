//! `alertmanager.yml` as Alertmanager 0.25 reads it: `global`, the `route` tree (with the
//! inheritance of receiver, grouping and timings), `receivers`, `inhibit_rules`,
//! `time_intervals` and `templates`; validated as Alertmanager validates it, plus a refusal,
//! by name, of every receiver type nocscope cannot deliver to. Owns reading and the routing
//! decision (`Route::matching`); delivery is not here. No I/O: the caller reads the file.

use std::collections::BTreeSet;

use super::matchers::{LabelMatcher, MatchType, parse_matchers, valid_label_name};
use crate::rules::duration::parse_duration;
use crate::yaml::{self, Node, Pos};

const TOP_KEYS: &[&str] = &[
    "global",
    "route",
    "receivers",
    "inhibit_rules",
    "time_intervals",
    "mute_time_intervals",
    "templates",
];

const GLOBAL_KEYS: &[&str] = &[
    "resolve_timeout",
    "http_config",
    "smtp_from",
    "smtp_hello",
    "smtp_smarthost",
    "smtp_auth_username",
    "smtp_auth_password",
    "smtp_auth_password_file",
    "smtp_auth_secret",
    "smtp_auth_identity",
    "smtp_require_tls",
    "slack_api_url",
    "slack_api_url_file",
    "victorops_api_key",
    "victorops_api_key_file",
    "victorops_api_url",
    "pagerduty_url",
    "opsgenie_api_key",
    "opsgenie_api_key_file",
    "opsgenie_api_url",
    "wechat_api_url",
    "wechat_api_secret",
    "wechat_api_corp_id",
    "telegram_api_url",
    "webex_api_url",
];

const ROUTE_KEYS: &[&str] = &[
    "receiver",
    "group_by",
    "continue",
    "matchers",
    "match",
    "match_re",
    "group_wait",
    "group_interval",
    "repeat_interval",
    "mute_time_intervals",
    "active_time_intervals",
    "routes",
];

/// Receiver integrations Alertmanager has and nocscope does not deliver to (yet): refused at
/// load by name, never dropped silently.
const UNSUPPORTED_RECEIVERS: &[&str] = &[
    "email_configs",
    "pagerduty_configs",
    "slack_configs",
    "opsgenie_configs",
    "pushover_configs",
    "victorops_configs",
    "wechat_configs",
    "sns_configs",
    "telegram_configs",
    "discord_configs",
    "webex_configs",
];

const WEBHOOK_KEYS: &[&str] = &[
    "url",
    "url_file",
    "send_resolved",
    "http_config",
    "max_alerts",
];

const INHIBIT_KEYS: &[&str] = &[
    "source_matchers",
    "target_matchers",
    "source_match",
    "source_match_re",
    "target_match",
    "target_match_re",
    "equal",
];

/// Why a configuration is refused: Alertmanager's message where it has one, with the
/// position of the offending node when we know it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    pub pos: Option<Pos>,
    pub message: String,
}

fn err<T>(pos: Option<Pos>, message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError {
        pos,
        message: message.into(),
    })
}

#[derive(Clone, Debug, PartialEq)]
pub enum GroupBy {
    /// `group_by: ['...']`: every label set is its own group.
    All,
    Labels(Vec<String>),
}

/// One node of the routing tree, with what it inherits already filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub receiver: String,
    pub group_by: GroupBy,
    pub matchers: Vec<LabelMatcher>,
    pub continue_matching: bool,
    pub group_wait_ms: i64,
    pub group_interval_ms: i64,
    pub repeat_interval_ms: i64,
    pub mute_time_intervals: Vec<String>,
    pub active_time_intervals: Vec<String>,
    pub routes: Vec<Route>,
    pub pos: Pos,
}

impl Route {
    /// The routes an alert with these labels goes to, as Alertmanager's dispatcher finds
    /// them: depth first; the first matching child ends the search among its siblings unless
    /// it says `continue`; a node none of whose children match is itself the match.
    pub fn matching(&self, labels: &impl super::labels::GetLabel) -> Vec<&Route> {
        if !self.matchers.iter().all(|m| m.matches(labels)) {
            return Vec::new();
        }
        let mut all = Vec::new();
        for child in &self.routes {
            let found = child.matching(labels);
            let matched = !found.is_empty();
            all.extend(found);
            if matched && !child.continue_matching {
                break;
            }
        }
        if all.is_empty() {
            all.push(self);
        }
        all
    }

    fn walk<'a>(&'a self, out: &mut Vec<&'a Route>) {
        out.push(self);
        for r in &self.routes {
            r.walk(out);
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Webhook {
    pub url: String,
    /// `url_file`, when the URL is to be read from a file (not done yet: refused by the
    /// dispatcher rather than posted nowhere).
    pub url_file: Option<String>,
    /// An `http_config` was given (auth, TLS, proxy: not applied yet, so refused by the
    /// dispatcher rather than ignored).
    pub http_config: bool,
    pub send_resolved: bool,
    /// 0: every alert of the group.
    pub max_alerts: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Receiver {
    pub name: String,
    pub webhooks: Vec<Webhook>,
    pub pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub struct InhibitRule {
    pub source: Vec<LabelMatcher>,
    pub target: Vec<LabelMatcher>,
    pub equal: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AmConfig {
    pub resolve_timeout_ms: i64,
    pub route: Route,
    pub receivers: Vec<Receiver>,
    pub inhibit_rules: Vec<InhibitRule>,
    /// Names of the `time_intervals` (their schedules are not evaluated yet).
    pub time_intervals: Vec<String>,
    pub templates: Vec<String>,
}

impl AmConfig {
    /// The `integration`-th webhook of the receiver named `receiver`.
    pub fn webhook(&self, receiver: &str, integration: usize) -> Option<&Webhook> {
        self.receivers
            .iter()
            .find(|r| r.name == receiver)
            .and_then(|r| r.webhooks.get(integration))
    }
}

fn map_of<'a>(n: &'a Node, what: &str) -> Result<&'a [(Node, Node)], ConfigError> {
    if n.is_null() {
        return Ok(&[]);
    }
    n.as_map().ok_or_else(|| ConfigError {
        pos: Some(n.pos),
        message: format!("{what} must be a mapping, found a {}", n.kind_name()),
    })
}

fn seq_of<'a>(n: &'a Node, what: &str) -> Result<&'a [Node], ConfigError> {
    if n.is_null() {
        return Ok(&[]);
    }
    n.as_seq().ok_or_else(|| ConfigError {
        pos: Some(n.pos),
        message: format!("{what} must be a list, found a {}", n.kind_name()),
    })
}

fn scalar<'a>(n: &'a Node, what: &str) -> Result<&'a str, ConfigError> {
    n.scalar().ok_or_else(|| ConfigError {
        pos: Some(n.pos),
        message: format!("{what} must be a string, found a {}", n.kind_name()),
    })
}

/// Keys of a mapping, each checked against the known ones (Go's strict decoding).
fn entries<'a>(
    n: &'a Node,
    what: &str,
    known: &[&str],
) -> Result<Vec<(&'a str, &'a Node)>, ConfigError> {
    let mut out = Vec::new();
    for (k, v) in map_of(n, what)? {
        let key = scalar(k, "a key")?;
        if !known.contains(&key) {
            return err(
                Some(k.pos),
                format!(
                    "yaml: unmarshal errors:\n  line {}: field {key} not found in type config.plain",
                    k.pos.line
                ),
            );
        }
        out.push((key, v));
    }
    Ok(out)
}

fn duration(n: &Node, what: &str) -> Result<i64, ConfigError> {
    let text = scalar(n, what)?;
    parse_duration(text).map_err(|e| ConfigError {
        pos: Some(n.pos),
        message: e,
    })
}

fn boolean(n: &Node, what: &str) -> Result<bool, ConfigError> {
    match scalar(n, what)? {
        "true" | "True" | "TRUE" => Ok(true),
        "false" | "False" | "FALSE" => Ok(false),
        other => err(
            Some(n.pos),
            format!("{what}: cannot unmarshal {other:?} into bool"),
        ),
    }
}

fn strings(n: &Node, what: &str) -> Result<Vec<String>, ConfigError> {
    seq_of(n, what)?
        .iter()
        .map(|i| scalar(i, what).map(str::to_string))
        .collect()
}

/// `matchers:` (strings in matcher syntax), `match:` (equality) and `match_re:` (regexes).
fn matcher_list(n: &Node, what: &str) -> Result<Vec<LabelMatcher>, ConfigError> {
    let mut out = Vec::new();
    for item in seq_of(n, what)? {
        let text = scalar(item, what)?;
        out.extend(parse_matchers(text).map_err(|e| ConfigError {
            pos: Some(item.pos),
            message: e,
        })?);
    }
    Ok(out)
}

fn label_map(n: &Node, what: &str, op: MatchType) -> Result<Vec<LabelMatcher>, ConfigError> {
    let mut out = Vec::new();
    for (k, v) in map_of(n, what)? {
        let name = scalar(k, what)?;
        if !valid_label_name(name) {
            return err(Some(k.pos), format!("invalid label name {name:?}"));
        }
        let value = scalar(v, what)?;
        out.push(LabelMatcher::new(name, op, value).map_err(|e| ConfigError {
            pos: Some(v.pos),
            message: e,
        })?);
    }
    Ok(out)
}

/// What a route inherits from its parent.
#[derive(Clone)]
struct Inherited {
    receiver: String,
    group_by: GroupBy,
    group_wait_ms: i64,
    group_interval_ms: i64,
    repeat_interval_ms: i64,
}

fn route(n: &Node, parent: &Inherited) -> Result<Route, ConfigError> {
    let mut r = Route {
        receiver: parent.receiver.clone(),
        group_by: parent.group_by.clone(),
        matchers: Vec::new(),
        continue_matching: false,
        group_wait_ms: parent.group_wait_ms,
        group_interval_ms: parent.group_interval_ms,
        repeat_interval_ms: parent.repeat_interval_ms,
        mute_time_intervals: Vec::new(),
        active_time_intervals: Vec::new(),
        routes: Vec::new(),
        pos: n.pos,
    };
    let mut children: Vec<&Node> = Vec::new();
    for (k, v) in entries(n, "route", ROUTE_KEYS)? {
        match k {
            "receiver" => r.receiver = scalar(v, k)?.to_string(),
            "group_by" => {
                let labels = strings(v, k)?;
                let mut seen = BTreeSet::new();
                for l in &labels {
                    if !seen.insert(l.as_str()) {
                        return err(Some(v.pos), format!("duplicated label {l:?} in group_by"));
                    }
                }
                r.group_by = if labels.iter().any(|l| l == "...") {
                    if labels.len() > 1 {
                        return err(
                            Some(v.pos),
                            "cannot have wildcard group_by (`...`) and other other labels at the same time",
                        );
                    }
                    GroupBy::All
                } else {
                    GroupBy::Labels(labels)
                };
            }
            "continue" => r.continue_matching = boolean(v, k)?,
            "matchers" => r.matchers.extend(matcher_list(v, k)?),
            "match" => r.matchers.extend(label_map(v, k, MatchType::Equal)?),
            "match_re" => r.matchers.extend(label_map(v, k, MatchType::Regexp)?),
            "group_wait" => r.group_wait_ms = duration(v, k)?,
            "group_interval" => {
                r.group_interval_ms = duration(v, k)?;
                if r.group_interval_ms == 0 {
                    return err(Some(v.pos), "group_interval cannot be zero");
                }
            }
            "repeat_interval" => {
                r.repeat_interval_ms = duration(v, k)?;
                if r.repeat_interval_ms == 0 {
                    return err(Some(v.pos), "repeat_interval cannot be zero");
                }
            }
            "mute_time_intervals" => r.mute_time_intervals = strings(v, k)?,
            "active_time_intervals" => r.active_time_intervals = strings(v, k)?,
            "routes" => children.extend(seq_of(v, k)?),
            _ => {}
        }
    }
    let inherit = Inherited {
        receiver: r.receiver.clone(),
        group_by: r.group_by.clone(),
        group_wait_ms: r.group_wait_ms,
        group_interval_ms: r.group_interval_ms,
        repeat_interval_ms: r.repeat_interval_ms,
    };
    for c in children {
        r.routes.push(route(c, &inherit)?);
    }
    Ok(r)
}

fn receiver(n: &Node) -> Result<Receiver, ConfigError> {
    let mut name = String::new();
    let mut webhooks = Vec::new();
    for (k, v) in map_of(n, "receiver")? {
        let key = scalar(k, "a key")?;
        match key {
            "name" => name = scalar(v, key)?.to_string(),
            "webhook_configs" => {
                for w in seq_of(v, key)? {
                    let mut hook = Webhook {
                        url: String::new(),
                        url_file: None,
                        http_config: false,
                        send_resolved: true,
                        max_alerts: 0,
                    };
                    let mut url_file = false;
                    for (wk, wv) in entries(w, "webhook_config", WEBHOOK_KEYS)? {
                        match wk {
                            "url" => hook.url = scalar(wv, wk)?.to_string(),
                            "url_file" => {
                                let f = scalar(wv, wk)?;
                                url_file = !f.is_empty();
                                hook.url_file = url_file.then(|| f.to_string());
                            }
                            "http_config" => hook.http_config = true,
                            "send_resolved" => hook.send_resolved = boolean(wv, wk)?,
                            "max_alerts" => {
                                hook.max_alerts =
                                    scalar(wv, wk)?.parse().map_err(|_| ConfigError {
                                        pos: Some(wv.pos),
                                        message: "max_alerts must be a whole number".into(),
                                    })?
                            }
                            _ => {}
                        }
                    }
                    if hook.url.is_empty() && !url_file {
                        return err(Some(w.pos), "one of url or url_file must be configured");
                    }
                    if !hook.url.is_empty() {
                        let scheme = reqwest::Url::parse(&hook.url)
                            .map(|u| u.scheme().to_string())
                            .unwrap_or_default();
                        if scheme != "http" && scheme != "https" {
                            return err(
                                Some(w.pos),
                                format!("unsupported scheme {scheme:?} for URL"),
                            );
                        }
                    }
                    webhooks.push(hook);
                }
            }
            k if UNSUPPORTED_RECEIVERS.contains(&k) => {
                return err(
                    Some(k_pos(n, k)),
                    format!(
                        "receiver {name:?}: {k} are not supported by nocscope (webhook_configs are); remove them or forward to an Alertmanager"
                    ),
                );
            }
            other => {
                return err(
                    Some(k.pos),
                    format!(
                        "yaml: unmarshal errors:\n  line {}: field {other} not found in type config.plain",
                        k.pos.line
                    ),
                );
            }
        }
    }
    if name.is_empty() {
        return err(Some(n.pos), "missing name in receiver");
    }
    Ok(Receiver {
        name,
        webhooks,
        pos: n.pos,
    })
}

fn k_pos(n: &Node, key: &str) -> Pos {
    n.as_map()
        .and_then(|m| m.iter().find(|(k, _)| k.scalar() == Some(key)))
        .map(|(k, _)| k.pos)
        .unwrap_or(n.pos)
}

fn inhibit_rule(n: &Node) -> Result<InhibitRule, ConfigError> {
    let mut r = InhibitRule {
        source: Vec::new(),
        target: Vec::new(),
        equal: Vec::new(),
    };
    for (k, v) in entries(n, "inhibit_rule", INHIBIT_KEYS)? {
        match k {
            "source_matchers" => r.source.extend(matcher_list(v, k)?),
            "target_matchers" => r.target.extend(matcher_list(v, k)?),
            "source_match" => r.source.extend(label_map(v, k, MatchType::Equal)?),
            "source_match_re" => r.source.extend(label_map(v, k, MatchType::Regexp)?),
            "target_match" => r.target.extend(label_map(v, k, MatchType::Equal)?),
            "target_match_re" => r.target.extend(label_map(v, k, MatchType::Regexp)?),
            "equal" => r.equal = strings(v, k)?,
            _ => {}
        }
    }
    Ok(r)
}

/// Read an `alertmanager.yml`.
pub fn load_config(text: &str) -> Result<AmConfig, ConfigError> {
    let doc = yaml::parse(text).map_err(|e| ConfigError {
        pos: Some(e.pos),
        message: format!("yaml: line {}: {}", e.pos.line, e.message),
    })?;
    if doc.is_null() {
        return err(None, "no routes provided");
    }
    let mut resolve_timeout_ms = 5 * 60_000;
    let mut route_node = None;
    let mut receivers = Vec::new();
    let mut inhibit_rules = Vec::new();
    let mut time_intervals = Vec::new();
    let mut templates = Vec::new();
    for (k, v) in entries(&doc, "config", TOP_KEYS)? {
        match k {
            "global" => {
                for (gk, gv) in entries(v, "global config", GLOBAL_KEYS)? {
                    if gk == "resolve_timeout" {
                        resolve_timeout_ms = duration(gv, gk)?;
                    }
                }
            }
            // Decoded where it stands in the file, as Go decodes: a mistake inside it is
            // reported before one in a later section.
            "route" if !v.is_null() => {
                let defaults = Inherited {
                    receiver: String::new(),
                    group_by: GroupBy::Labels(Vec::new()),
                    group_wait_ms: 30_000,
                    group_interval_ms: 5 * 60_000,
                    repeat_interval_ms: 4 * 3_600_000,
                };
                route_node = Some((v, route(v, &defaults)?));
            }
            "receivers" => {
                for r in seq_of(v, k)? {
                    receivers.push(receiver(r)?);
                }
            }
            "inhibit_rules" => {
                for r in seq_of(v, k)? {
                    inhibit_rules.push(inhibit_rule(r)?);
                }
            }
            "time_intervals" | "mute_time_intervals" => {
                for ti in seq_of(v, k)? {
                    let name = ti.get("name").and_then(Node::scalar).unwrap_or("");
                    if name.is_empty() {
                        return err(Some(ti.pos), "missing name in time interval");
                    }
                    if time_intervals.iter().any(|n| n == name) {
                        return err(
                            Some(ti.pos),
                            format!("time interval {name:?} is not unique"),
                        );
                    }
                    time_intervals.push(name.to_string());
                }
            }
            "templates" => templates = strings(v, k)?,
            _ => {}
        }
    }
    // Then the checks Alertmanager makes once the whole file is decoded, in its order.
    let mut names = BTreeSet::new();
    for r in &receivers {
        if !names.insert(r.name.as_str()) {
            return err(
                Some(r.pos),
                format!("notification config name {:?} is not unique", r.name),
            );
        }
    }
    let Some((n, route)) = route_node else {
        return err(None, "no routes provided");
    };
    let r = &route;
    if r.receiver.is_empty() {
        return err(Some(n.pos), "root route must specify a default receiver");
    }
    if !r.matchers.is_empty() {
        return err(Some(n.pos), "root route must not have any matchers");
    }
    if !r.mute_time_intervals.is_empty() {
        return err(
            Some(n.pos),
            "root route must not have any mute time intervals",
        );
    }
    if !r.active_time_intervals.is_empty() {
        return err(
            Some(n.pos),
            "root route must not have any active time intervals",
        );
    }

    let mut all = Vec::new();
    route.walk(&mut all);
    for r in &all {
        if !names.contains(r.receiver.as_str()) {
            return err(
                Some(r.pos),
                format!("undefined receiver {:?} used in route", r.receiver),
            );
        }
        for ti in r.mute_time_intervals.iter().chain(&r.active_time_intervals) {
            if !time_intervals.contains(ti) {
                return err(
                    Some(r.pos),
                    format!("undefined time interval {ti:?} used in route"),
                );
            }
        }
    }
    Ok(AmConfig {
        resolve_timeout_ms,
        route,
        receivers,
        inhibit_rules,
        time_intervals,
        templates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const OK: &str = "route:\n  receiver: team\n  group_by: [alertname]\n  routes:\n    - matchers: ['severity=\"critical\"']\n      receiver: pager\n      continue: true\n    - match_re:\n        service: ^(db|cache)$\n      group_wait: 10s\nreceivers:\n  - name: team\n    webhook_configs:\n      - url: http://127.0.0.1:9/hook\n  - name: pager\n    webhook_configs:\n      - url: http://127.0.0.1:9/page\n";

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn routes_inherit_and_match_as_alertmanager_does() {
        let c = load_config(OK).expect("loads");
        let recv = |l: &[(&str, &str)]| -> Vec<String> {
            c.route
                .matching(&labels(l))
                .iter()
                .map(|r| r.receiver.clone())
                .collect()
        };
        assert_eq!(
            recv(&[("severity", "critical"), ("service", "db")]),
            ["pager", "team"]
        );
        assert_eq!(recv(&[("service", "db")]), ["team"]);
        assert_eq!(recv(&[("x", "y")]), ["team"]);
        let db = &c.route.routes[1];
        assert_eq!(db.group_by, GroupBy::Labels(vec!["alertname".into()]));
        assert_eq!(
            (db.group_wait_ms, db.repeat_interval_ms),
            (10_000, 4 * 3_600_000)
        );
    }

    #[test]
    fn mistakes_are_refused_with_alertmanagers_words() {
        for (text, want) in [
            ("receivers: []\n", "no routes provided"),
            (
                "route:\n  receiver: x\nreceivers:\n  - name: a\n",
                "undefined receiver \"x\" used in route",
            ),
            (
                "route:\n  receiver: a\n  matchers: [x=y]\nreceivers:\n  - name: a\n",
                "root route must not have any matchers",
            ),
            (
                "route:\n  receiver: a\n  group_by: [a, a]\nreceivers:\n  - name: a\n",
                "duplicated label \"a\" in group_by",
            ),
            (
                "route:\n  receiver: a\nreceivers:\n  - name: a\n  - name: a\n",
                "notification config name \"a\" is not unique",
            ),
            (
                "route:\n  receiver: a\nreceivers:\n  - name: a\n    webhook_configs:\n      - send_resolved: true\n",
                "one of url or url_file must be configured",
            ),
        ] {
            let e = load_config(text).expect_err(text);
            assert_eq!(e.message, want, "{text}");
        }
        let e = load_config("route:\n  receiver: a\nreceivers:\n  - name: a\n    slack_configs:\n      - channel: x\n")
            .expect_err("slack refused");
        assert!(
            e.message.contains("slack_configs are not supported"),
            "{}",
            e.message
        );
    }
}
