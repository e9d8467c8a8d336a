//! The functions a rule template may call: Go's builtins (`and`, `or`, `not`, `len`, `index`,
//! `print*`, `eq`…`ge`, `html`, `js`, `urlquery`) and Prometheus's (`humanize*`, `toUpper`,
//! `reReplaceAll`, `stripPort`, `parseDuration`…), with their Go behaviour and error texts.
//! `query` and the functions that only make sense on its result are refused at load.

use crate::promql::go_float;

use super::Val;
use super::gofmt::{fmt_g, go_time, print_val, sprint, sprintf, sprintln, type_name};

/// Functions Prometheus offers that need a query engine inside the template.
pub(super) const REFUSED: &[&str] = &[
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "sortByLabel",
    "call",
    "slice",
];

const KNOWN: &[&str] = &[
    "and",
    "or",
    "not",
    "len",
    "index",
    "print",
    "printf",
    "println",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "html",
    "js",
    "urlquery",
    "args",
    "reReplaceAll",
    "safeHtml",
    "match",
    "title",
    "toUpper",
    "toLower",
    "graphLink",
    "tableLink",
    "stripPort",
    "stripDomain",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "toTime",
    "pathPrefix",
    "externalURL",
    "parseDuration",
];

pub(super) fn known_function(name: &str) -> bool {
    KNOWN.contains(&name)
}

/// What a function needs from the expansion besides its arguments.
pub(super) struct Env<'a> {
    pub external_url: &'a str,
}

fn want_str(v: &Val) -> Result<&str, String> {
    match v {
        Val::Str(s) => Ok(s),
        other => Err(format!(
            "wrong type for value; expected string; got {}",
            type_name(other)
        )),
    }
}

fn arity(name: &str, args: &[Val], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ))
    }
}

fn to_float(v: &Val) -> Result<f64, String> {
    match v {
        Val::Float(f) => Ok(*f),
        Val::Int(i) => Ok(*i as f64),
        Val::Str(s) => go_parse_float(s),
        other => Err(format!("can't convert {} to float", type_name(other))),
    }
}

/// Go's `strconv.ParseFloat` (decimal, exponents, `Inf`, `NaN`, underscores refused).
fn go_parse_float(s: &str) -> Result<f64, String> {
    let lower = s.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    let ok_special = matches!(body, "inf" | "infinity" | "nan");
    let ok_digits = !body.is_empty()
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'));
    match (ok_special || ok_digits)
        .then(|| s.parse::<f64>().ok())
        .flatten()
    {
        Some(v) => Ok(v),
        None => Err(format!(
            "strconv.ParseFloat: parsing {}: invalid syntax",
            crate::promql::go_quote(s)
        )),
    }
}

pub(super) fn truth(v: &Val) -> bool {
    match v {
        Val::Nil => false,
        Val::Bool(b) => *b,
        Val::Int(i) => *i != 0,
        Val::Float(f) => *f != 0.0,
        Val::Str(s) => !s.is_empty(),
        Val::Map(m) => !m.is_empty(),
        Val::Args(m) => !m.is_empty(),
        Val::Time(_) | Val::Data(_) => true,
    }
}

fn compare(name: &str, a: &Val, b: &Val) -> Result<std::cmp::Ordering, String> {
    use std::cmp::Ordering;
    let ord = match (a, b) {
        (Val::Int(x), Val::Int(y)) => x.cmp(y),
        (Val::Float(x), Val::Float(y)) => x.partial_cmp(y).unwrap_or(Ordering::Less),
        (Val::Str(x), Val::Str(y)) => x.cmp(y),
        (Val::Bool(x), Val::Bool(y)) if name == "eq" || name == "ne" => x.cmp(y),
        (Val::Bool(_), Val::Bool(_)) => return Err("invalid type for comparison".into()),
        _ => return Err("incompatible types for comparison".into()),
    };
    Ok(ord)
}

fn float_eq_nan(a: &Val, b: &Val) -> bool {
    matches!((a, b), (Val::Float(x), Val::Float(y)) if x.is_nan() || y.is_nan())
}

/// Calls a function other than `and`/`or` (those short-circuit and live in the executor).
pub(super) fn call(name: &str, args: &[Val], env: &Env<'_>) -> Result<Val, String> {
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Val::Nil);
    match name {
        "not" => {
            arity(name, args, 1)?;
            Ok(Val::Bool(!truth(&arg(0))))
        }
        "len" => {
            arity(name, args, 1)?;
            match arg(0) {
                Val::Str(s) => Ok(Val::Int(s.len() as i64)),
                Val::Map(m) => Ok(Val::Int(m.len() as i64)),
                Val::Args(m) => Ok(Val::Int(m.len() as i64)),
                other => Err(format!("len of type {}", type_name(&other))),
            }
        }
        "index" => {
            let Some((first, keys)) = args.split_first() else {
                return Err("wrong number of args for index: want at least 1 got 0".into());
            };
            let mut cur = first.clone();
            for k in keys {
                cur = match (&cur, k) {
                    (Val::Map(m), Val::Str(k)) => Val::Str(m.get(k).cloned().unwrap_or_default()),
                    (Val::Args(m), Val::Str(k)) => m.get(k).cloned().unwrap_or(Val::Nil),
                    (Val::Nil, _) => return Err("index of untyped nil".into()),
                    (c, _) => return Err(format!("can't index item of type {}", type_name(c))),
                };
            }
            Ok(cur)
        }
        "print" => Ok(Val::Str(sprint(args))),
        "println" => Ok(Val::Str(sprintln(args))),
        "printf" => {
            let Some((f, rest)) = args.split_first() else {
                return Err("wrong number of args for printf: want at least 1 got 0".into());
            };
            Ok(Val::Str(sprintf(want_str(f)?, rest)))
        }
        "eq" => {
            let Some((a, rest)) = args.split_first() else {
                return Err("missing argument for comparison".into());
            };
            if rest.is_empty() {
                return Err("missing argument for comparison".into());
            }
            for b in rest {
                if float_eq_nan(a, b) {
                    continue;
                }
                if compare(name, a, b)? == std::cmp::Ordering::Equal {
                    return Ok(Val::Bool(true));
                }
            }
            Ok(Val::Bool(false))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            arity(name, args, 2)?;
            let (a, b) = (arg(0), arg(1));
            if float_eq_nan(&a, &b) {
                return Ok(Val::Bool(name == "ne"));
            }
            let o = compare(name, &a, &b)?;
            use std::cmp::Ordering::*;
            Ok(Val::Bool(match name {
                "ne" => o != Equal,
                "lt" => o == Less,
                "le" => o != Greater,
                "gt" => o == Greater,
                _ => o != Less,
            }))
        }
        "html" => Ok(Val::Str(html_escape(&joined(args)))),
        "js" => Ok(Val::Str(js_escape(&joined(args)))),
        "urlquery" => Ok(Val::Str(query_escape(&joined(args)))),
        "args" => Ok(Val::Args(
            args.iter()
                .enumerate()
                .map(|(i, a)| (format!("arg{i}"), a.clone()))
                .collect(),
        )),
        "reReplaceAll" => {
            arity(name, args, 3)?;
            let (p, r, t) = (arg(0), arg(1), arg(2));
            let re = regex::Regex::new(want_str(&p)?).map_err(|e| {
                format!(
                    "regexp: Compile({}): {e}",
                    crate::promql::go_quote(want_str(&p).unwrap_or(""))
                )
            })?;
            Ok(Val::Str(
                re.replace_all(want_str(&t)?, want_str(&r)?).into_owned(),
            ))
        }
        "match" => {
            arity(name, args, 2)?;
            let (p, t) = (arg(0), arg(1));
            let re = regex::Regex::new(want_str(&p)?).map_err(|e| e.to_string())?;
            Ok(Val::Bool(re.is_match(want_str(&t)?)))
        }
        "safeHtml" => {
            arity(name, args, 1)?;
            Ok(Val::Str(want_str(&arg(0))?.to_string()))
        }
        "title" => {
            arity(name, args, 1)?;
            Ok(Val::Str(title(want_str(&arg(0))?)))
        }
        "toUpper" => {
            arity(name, args, 1)?;
            Ok(Val::Str(want_str(&arg(0))?.to_uppercase()))
        }
        "toLower" => {
            arity(name, args, 1)?;
            Ok(Val::Str(want_str(&arg(0))?.to_lowercase()))
        }
        "graphLink" | "tableLink" => {
            arity(name, args, 1)?;
            let tab = if name == "graphLink" { 0 } else { 1 };
            Ok(Val::Str(format!(
                "/graph?g0.expr={}&g0.tab={tab}",
                query_escape(want_str(&arg(0))?)
            )))
        }
        "stripPort" => {
            arity(name, args, 1)?;
            let a0 = arg(0);
            let hp = want_str(&a0)?;
            Ok(Val::Str(match split_host_port(hp) {
                Some((h, _)) => h,
                None => hp.to_string(),
            }))
        }
        "stripDomain" => {
            arity(name, args, 1)?;
            let a0 = arg(0);
            let hp = want_str(&a0)?;
            let (host, port) = split_host_port(hp).unwrap_or((hp.to_string(), String::new()));
            if host.parse::<std::net::IpAddr>().is_ok() {
                return Ok(Val::Str(hp.to_string()));
            }
            let short = host.split('.').next().unwrap_or("").to_string();
            Ok(Val::Str(if port.is_empty() {
                short
            } else if short.contains(':') {
                format!("[{short}]:{port}")
            } else {
                format!("{short}:{port}")
            }))
        }
        "humanize" => {
            arity(name, args, 1)?;
            Ok(Val::Str(humanize(to_float(&arg(0))?)))
        }
        "humanize1024" => {
            arity(name, args, 1)?;
            Ok(Val::Str(humanize1024(to_float(&arg(0))?)))
        }
        "humanizeDuration" => {
            arity(name, args, 1)?;
            Ok(Val::Str(humanize_duration(to_float(&arg(0))?)))
        }
        "humanizePercentage" => {
            arity(name, args, 1)?;
            let v = to_float(&arg(0))? * 100.0;
            Ok(Val::Str(format!("{}%", g4(v))))
        }
        "humanizeTimestamp" => {
            arity(name, args, 1)?;
            let v = to_float(&arg(0))?;
            if !v.is_finite() {
                return Ok(Val::Str(g4(v)));
            }
            check_time(v)?;
            Ok(Val::Str(go_time(v)))
        }
        "toTime" => {
            arity(name, args, 1)?;
            let v = to_float(&arg(0))?;
            if !v.is_finite() {
                return Err("value is NaN or Inf".into());
            }
            check_time(v)?;
            Ok(Val::Time(v))
        }
        "pathPrefix" => {
            arity(name, args, 0)?;
            Ok(Val::Str(url_path(env.external_url)))
        }
        "externalURL" => {
            arity(name, args, 0)?;
            Ok(Val::Str(env.external_url.to_string()))
        }
        "parseDuration" => {
            arity(name, args, 1)?;
            let ms = crate::rules::duration::parse_duration(want_str(&arg(0))?)?;
            Ok(Val::Float(ms as f64 / 1000.0))
        }
        other => Err(format!("function {other:?} not defined")),
    }
}

fn check_time(v: f64) -> Result<(), String> {
    if v.abs() > i64::MAX as f64 / 1e9 {
        return Err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            go_float(v)
        ));
    }
    Ok(())
}

/// The escapers print their arguments as `fmt.Sprint` does unless there is one string.
fn joined(args: &[Val]) -> String {
    match args {
        [Val::Str(s)] => s.clone(),
        _ => sprint(args),
    }
}

fn g4(v: f64) -> String {
    let body = fmt_g(v.abs(), 4);
    if v.is_sign_negative() && !v.is_nan() && v != 0.0 {
        format!("-{body}")
    } else {
        body
    }
}

fn humanize(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return g4(v);
    }
    let mut v = v;
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", g4(v))
}

fn humanize1024(v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return g4(v);
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", g4(v))
}

fn humanize_duration(v: f64) -> String {
    if !v.is_finite() {
        return g4(v);
    }
    if v == 0.0 {
        return format!("{}s", g4(v));
    }
    if v.abs() >= 1.0 {
        let (sign, v) = if v < 0.0 { ("-", -v) } else { ("", v) };
        let d = v as i64;
        let (s, m, h, days) = (d % 60, (d / 60) % 60, (d / 3600) % 24, d / 86_400);
        return if days != 0 {
            format!("{sign}{days}d {h}h {m}m {s}s")
        } else if h != 0 {
            format!("{sign}{h}h {m}m {s}s")
        } else if m != 0 {
            format!("{sign}{m}m {s}s")
        } else {
            format!("{sign}{}s", g4(v))
        };
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", g4(v))
}

/// Go's `strings.Title`: upper-case the first letter of every word.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_letter = false;
    for c in s.chars() {
        let is_word = c.is_alphanumeric() || c == '_' || c == '\'';
        if is_word && !prev_letter {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_letter = is_word;
    }
    out
}

/// Go's `net.SplitHostPort`, or None where it errs.
fn split_host_port(hp: &str) -> Option<(String, String)> {
    if let Some(rest) = hp.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        if port.contains(':') {
            return None;
        }
        return Some((host.to_string(), port.to_string()));
    }
    let (host, port) = hp.rsplit_once(':')?;
    if host.contains(':') || host.contains('[') || host.contains(']') {
        return None;
    }
    Some((host.to_string(), port.to_string()))
}

fn url_path(url: &str) -> String {
    let after_scheme = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    match after_scheme.find('/') {
        Some(i) => after_scheme
            .get(i..)
            .unwrap_or("")
            .split(['?', '#'])
            .next()
            .unwrap_or("")
            .to_string(),
        None => String::new(),
    }
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#39;"),
            '"' => out.push_str("&#34;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`: unreserved bytes stay, space becomes `+`, the rest `%XX`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `print_val` is re-exported for the executor's sake.
pub(super) fn show(v: &Val) -> String {
    print_val(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanizers_match_prometheus() {
        assert_eq!(humanize(1234567.0), "1.235M");
        assert_eq!(humanize(0.001234), "1.234m");
        assert_eq!(humanize(0.0), "0");
        assert_eq!(humanize(-2500.0), "-2.5k");
        assert_eq!(humanize1024(2048.0), "2ki");
        assert_eq!(humanize1024(1.0), "1");
        assert_eq!(humanize_duration(3725.5), "1h 2m 5s");
        assert_eq!(humanize_duration(90061.0), "1d 1h 1m 1s");
        assert_eq!(humanize_duration(1.5), "1.5s");
        assert_eq!(humanize_duration(0.0015), "1.5ms");
        assert_eq!(humanize_duration(0.0), "0s");
        assert_eq!(g4(0.1234 * 100.0), "12.34");
    }

    #[test]
    fn host_helpers_follow_go() {
        assert_eq!(split_host_port("a:9100"), Some(("a".into(), "9100".into())));
        assert_eq!(
            split_host_port("[::1]:80"),
            Some(("::1".into(), "80".into()))
        );
        assert_eq!(split_host_port("a"), None);
        assert_eq!(split_host_port("::1"), None);
        let env = Env {
            external_url: "http://x:9090/prom",
        };
        let s = |v: &str| Val::Str(v.into());
        assert_eq!(
            call("stripDomain", &[s("web.example.com:80")], &env),
            Ok(s("web:80"))
        );
        assert_eq!(
            call("stripDomain", &[s("10.0.0.1:80")], &env),
            Ok(s("10.0.0.1:80"))
        );
        assert_eq!(call("pathPrefix", &[], &env), Ok(s("/prom")));
        assert_eq!(
            call("title", &[s("hello wor-ld")], &env),
            Ok(s("Hello Wor-Ld"))
        );
    }

    #[test]
    fn comparisons_refuse_mixed_kinds() {
        let env = Env { external_url: "" };
        assert_eq!(
            call("gt", &[Val::Float(2.0), Val::Float(1.0)], &env),
            Ok(Val::Bool(true))
        );
        assert!(call("gt", &[Val::Float(2.0), Val::Int(1)], &env).is_err());
        assert_eq!(
            call(
                "eq",
                &[
                    Val::Str("a".into()),
                    Val::Str("b".into()),
                    Val::Str("a".into())
                ],
                &env
            ),
            Ok(Val::Bool(true))
        );
    }
}
