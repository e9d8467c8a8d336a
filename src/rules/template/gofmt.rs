//! Go's `fmt` as rule templates see it: `%v` printing of template values, `printf`'s verbs
//! (flags, width, precision; `%!verb(type=value)` for a mismatch), `%g` with a precision, and
//! `time.Time`'s default text. Formatting only; no template logic.

use crate::promql::{go_float, go_quote};

use super::Val;

/// `fmt.Sprint` of one value.
pub fn print_val(v: &Val) -> String {
    match v {
        Val::Nil => "<nil>".into(),
        Val::Bool(b) => b.to_string(),
        Val::Int(i) => i.to_string(),
        Val::Float(f) => go_float(*f),
        Val::Str(s) => s.clone(),
        Val::Map(m) => {
            let body: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{v}")).collect();
            format!("map[{}]", body.join(" "))
        }
        Val::Args(m) => {
            let body: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}:{}", print_val(v)))
                .collect();
            format!("map[{}]", body.join(" "))
        }
        Val::Time(secs) => go_time(*secs),
        Val::Data(_) => "{...}".into(),
    }
}

/// Go's type name for a value, as `%!d(float64=1)` and error messages print it.
pub fn type_name(v: &Val) -> &'static str {
    match v {
        Val::Nil => "<nil>",
        Val::Bool(_) => "bool",
        Val::Int(_) => "int",
        Val::Float(_) => "float64",
        Val::Str(_) => "string",
        Val::Map(_) => "map[string]string",
        Val::Args(_) => "map[string]interface {}",
        Val::Time(_) => "*time.Time",
        Val::Data(_) => "struct",
    }
}

/// `fmt.Sprint(args...)`: a space between two operands when neither is a string.
pub fn sprint(args: &[Val]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            let prev_str = matches!(args.get(i - 1), Some(Val::Str(_)));
            if !prev_str && !matches!(a, Val::Str(_)) {
                out.push(' ');
            }
        }
        out.push_str(&print_val(a));
    }
    out
}

/// `fmt.Sprintln(args...)`: always spaces, then a newline.
pub fn sprintln(args: &[Val]) -> String {
    let parts: Vec<String> = args.iter().map(print_val).collect();
    format!("{}\n", parts.join(" "))
}

#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    space: bool,
    zero: bool,
    sharp: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// `fmt.Sprintf(format, args...)`.
pub fn sprintf(format: &str, args: &[Val]) -> String {
    let mut out = String::new();
    let mut next = 0usize;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                '#' => spec.sharp = true,
                _ => break,
            }
            chars.next();
        }
        spec.width = read_num(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.prec = Some(read_num(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next += 1;
        out.push_str(&format_one(verb, &spec, arg));
    }
    if next < args.len() {
        let extra: Vec<String> = args
            .get(next..)
            .unwrap_or_default()
            .iter()
            .map(|a| format!("{}={}", type_name(a), print_val(a)))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

fn read_num(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize));
        chars.next();
    }
    n
}

fn bad(verb: char, arg: &Val) -> String {
    format!("%!{verb}({}={})", type_name(arg), print_val(arg))
}

fn signed(s: String, negative: bool, spec: &Spec) -> (String, String) {
    let sign = if negative {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    (sign.to_string(), s)
}

fn pad(sign: String, body: String, spec: &Spec, numeric: bool) -> String {
    let len = sign.chars().count() + body.chars().count();
    let width = spec.width.unwrap_or(0);
    if len >= width {
        return format!("{sign}{body}");
    }
    let fill = width - len;
    if spec.minus {
        format!("{sign}{body}{}", " ".repeat(fill))
    } else if spec.zero && numeric {
        format!("{sign}{}{body}", "0".repeat(fill))
    } else {
        format!("{}{sign}{body}", " ".repeat(fill))
    }
}

fn format_one(verb: char, spec: &Spec, arg: &Val) -> String {
    match (verb, arg) {
        ('v', Val::Float(f)) | ('g', Val::Float(f)) | ('G', Val::Float(f)) => {
            let s = match spec.prec {
                Some(p) if verb != 'v' => fmt_g(f.abs(), p),
                _ => go_float(f.abs()),
            };
            let s = if verb == 'G' { s.to_uppercase() } else { s };
            let (sign, body) = signed(s, f.is_sign_negative() && !f.is_nan(), spec);
            pad(sign, body, spec, f.is_finite())
        }
        ('v', _) | ('s', Val::Str(_)) => {
            let mut s = print_val(arg);
            if let (Some(p), Val::Str(_)) = (spec.prec, arg) {
                s = s.chars().take(p).collect();
            }
            pad(String::new(), s, spec, false)
        }
        ('s', Val::Map(_)) | ('s', Val::Args(_)) => pad(String::new(), print_val(arg), spec, false),
        ('q', Val::Str(s)) => pad(String::new(), go_quote(s), spec, false),
        ('t', Val::Bool(b)) => pad(String::new(), b.to_string(), spec, false),
        ('d', Val::Int(i)) => {
            let (sign, body) = signed(i.unsigned_abs().to_string(), *i < 0, spec);
            pad(sign, body, spec, true)
        }
        ('x', Val::Int(i)) | ('X', Val::Int(i)) => {
            let mut body = format!("{:x}", i.unsigned_abs());
            if spec.sharp {
                body = format!("0x{body}");
            }
            if verb == 'X' {
                body = body.to_uppercase();
            }
            let (sign, body) = signed(body, *i < 0, spec);
            pad(sign, body, spec, true)
        }
        ('x', Val::Str(s)) | ('X', Val::Str(s)) => {
            let mut body: String = s.bytes().map(|b| format!("{b:02x}")).collect();
            if verb == 'X' {
                body = body.to_uppercase();
            }
            pad(String::new(), body, spec, false)
        }
        ('f', Val::Float(f)) | ('F', Val::Float(f)) => {
            let p = spec.prec.unwrap_or(6);
            let body = if f.is_finite() {
                format!("{:.*}", p, f.abs())
            } else {
                inf_nan(*f)
            };
            let (sign, body) = signed(body, f.is_sign_negative() && !f.is_nan(), spec);
            pad(sign, body, spec, f.is_finite())
        }
        ('e', Val::Float(f)) | ('E', Val::Float(f)) => {
            let p = spec.prec.unwrap_or(6);
            let body = if f.is_finite() {
                exp_form(&format!("{:.*e}", p, f.abs()), verb == 'E')
            } else {
                inf_nan(*f)
            };
            let (sign, body) = signed(body, f.is_sign_negative() && !f.is_nan(), spec);
            pad(sign, body, spec, f.is_finite())
        }
        _ => bad(verb, arg),
    }
}

fn inf_nan(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else {
        "Inf".into()
    }
}

/// Rust's `1.5e3` / `1.5e-7` → Go's `1.5e+03` / `1.5e-07`.
fn exp_form(rust: &str, upper: bool) -> String {
    let (m, e) = rust.split_once('e').unwrap_or((rust, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    let sign = if e < 0 { '-' } else { '+' };
    let letter = if upper { 'E' } else { 'e' };
    format!("{m}{letter}{sign}{:02}", e.abs())
}

/// `strconv.FormatFloat(v, 'E', -1, 64)`: the shortest digits, always in exponent form.
pub fn go_float_e(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    exp_form(&format!("{v:E}").replace('E', "e"), true)
}

/// Go's `%.<prec>g` for a non-negative finite or special value: `prec` significant digits,
/// trailing zeros dropped, exponent form when the exponent is below -4 or at least the
/// precision (Go shortens that precision to the digit count when no digits follow the point).
pub fn fmt_g(v: f64, prec: usize) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let prec = prec.max(1);
    if v == 0.0 {
        return "0".into();
    }
    let sci = format!("{:.*e}", prec - 1, v.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let nd = digits.len() as i64;
    let dp = exp + 1;
    let mut eprec = prec as i64;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    let neg = if v < 0.0 { "-" } else { "" };
    if exp < -4 || exp >= eprec {
        let (first, rest) = digits.split_at(1);
        let m = if rest.is_empty() {
            first.to_string()
        } else {
            format!("{first}.{rest}")
        };
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{neg}{m}e{sign}{:02}", exp.abs())
    } else if dp <= 0 {
        format!("{neg}0.{}{digits}", "0".repeat((-dp) as usize))
    } else if dp >= nd {
        format!("{neg}{digits}{}", "0".repeat((dp - nd) as usize))
    } else {
        let (a, b) = digits.split_at(dp as usize);
        format!("{neg}{a}.{b}")
    }
}

/// `time.Time.String()` of a UTC instant given in seconds: `2006-01-02 15:04:05.999999999
/// +0000 UTC`, the fraction without trailing zeros.
pub fn go_time(secs: f64) -> String {
    let nanos_total = (secs * 1e9) as i128;
    let s = nanos_total.div_euclid(1_000_000_000) as i64;
    let nanos = nanos_total.rem_euclid(1_000_000_000);
    let days = s.div_euclid(86_400);
    let sod = s.rem_euclid(86_400);
    let (y, m, d) = crate::civil::civil_from_days(days);
    let mut out = format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_with_precision_matches_go() {
        for (v, p, want) in [
            (1.234567, 4, "1.235"),
            (1234567.0, 4, "1.235e+06"),
            (100.0, 4, "100"),
            (0.0001234, 4, "0.0001234"),
            (0.00001234, 4, "1.234e-05"),
            (2.0, 4, "2"),
            (1000.0, 4, "1000"),
            (10000.0, 4, "1e+04"),
            (12.34, 4, "12.34"),
        ] {
            assert_eq!(fmt_g(v, p), want, "{v} {p}");
        }
    }

    #[test]
    fn printf_verbs() {
        assert_eq!(sprintf("%.2f", &[Val::Float(1.23456)]), "1.23");
        assert_eq!(sprintf("%5.1f|", &[Val::Float(-2.25)]), " -2.2|");
        assert_eq!(sprintf("%d%%", &[Val::Int(5)]), "5%");
        assert_eq!(
            sprintf("%s=%q", &[Val::Str("a".into()), Val::Str("b".into())]),
            "a=\"b\""
        );
        assert_eq!(sprintf("%d", &[Val::Float(1.5)]), "%!d(float64=1.5)");
        assert_eq!(sprintf("%d %d", &[Val::Int(1)]), "1 %!d(MISSING)");
        assert_eq!(sprintf("x", &[Val::Int(1)]), "x%!(EXTRA int=1)");
        assert_eq!(
            sprintf("%-4s|%04d", &[Val::Str("a".into()), Val::Int(7)]),
            "a   |0007"
        );
        assert_eq!(sprintf("%e", &[Val::Float(1234.5)]), "1.234500e+03");
        assert_eq!(sprintf("%v", &[Val::Float(1e21)]), "1e+21");
    }

    #[test]
    fn e_shortest_and_time() {
        assert_eq!(go_float_e(1.0), "1E+00");
        assert_eq!(go_float_e(0.25), "2.5E-01");
        assert_eq!(go_float_e(-1234.0), "-1.234E+03");
        assert_eq!(go_time(1.5), "1970-01-01 00:00:01.5 +0000 UTC");
        assert_eq!(go_time(1_700_000_000.0), "2023-11-14 22:13:20 +0000 UTC");
    }

    #[test]
    fn sprint_spaces_only_between_non_strings() {
        assert_eq!(sprint(&[Val::Int(1), Val::Int(2)]), "1 2");
        assert_eq!(sprint(&[Val::Str("a".into()), Val::Int(2)]), "a2");
        assert_eq!(sprintln(&[Val::Str("a".into()), Val::Int(2)]), "a 2\n");
    }
}
