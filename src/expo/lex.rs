//! Token-level helpers for the exposition parser: names, quoted strings, numbers. Works on one
//! already-split line; knows nothing about families, formats' line grammar or the engine.

use std::borrow::Cow;

/// A position inside one line. Every advance moves over ASCII bytes or whole quoted strings, so
/// `i` is always on a char boundary and slicing `s` with it cannot panic.
pub(super) struct Cursor<'a> {
    pub s: &'a str,
    pub i: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(s: &'a str) -> Self {
        Cursor { s, i: 0 }
    }

    pub fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }

    pub fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    pub fn rest(&self) -> &'a str {
        self.s.get(self.i..).unwrap_or("")
    }

    /// 0.0.4 allows any run of blanks and tabs between tokens.
    pub fn skip_blanks(&mut self) -> bool {
        let start = self.i;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        self.i > start
    }

    pub fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    pub fn expect(&mut self, b: u8, what: &str) -> Result<(), String> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(format!("expected {what}, found {}", self.found()))
        }
    }

    /// Describes what sits at the cursor, for "expected X, found Y" messages.
    pub fn found(&self) -> String {
        match self.rest().chars().next() {
            None => "end of line".to_string(),
            Some(' ') => "a space".to_string(),
            Some('\t') => "a tab".to_string(),
            Some('\r') => "a carriage return".to_string(),
            Some(c) if c.is_control() => format!("control character U+{:04X}", c as u32),
            Some(c) => format!("`{c}`"),
        }
    }

    /// A token up to the next blank (0.0.4) or space (OpenMetrics); may be empty.
    pub fn token(&mut self, blanks_end: bool) -> &'a str {
        let start = self.i;
        let bytes = self.s.as_bytes();
        while let Some(&b) = bytes.get(self.i) {
            if b == b' ' || (blanks_end && b == b'\t') {
                break;
            }
            self.i += 1;
        }
        self.s.get(start..self.i).unwrap_or("")
    }

    /// Legacy metric name `[a-zA-Z_:][a-zA-Z0-9_:]*`; `None` if no name starts here. The parser
    /// reads names with `metric_name_after`; this plain scan is what tests hold it against.
    #[cfg(test)]
    pub fn metric_name(&mut self) -> Option<&'a str> {
        self.name(true)
    }

    /// A legacy metric name `[a-zA-Z_:][a-zA-Z0-9_:]*` (`None` if no name starts here), minus
    /// the byte-by-byte scan over a leading `known` name: most lines of a family repeat its
    /// name, and scanning names was the largest single cost of HELP, TYPE and sample lines.
    /// `known` must be a legacy metric name (empty disables the shortcut), so every byte the
    /// comparison skips is one the scan would have accepted and the result is the same.
    #[inline(always)]
    pub fn metric_name_after(&mut self, known: &str) -> Option<&'a str> {
        let start = self.i;
        let bytes = self.s.as_bytes();
        let skip = bytes
            .get(start..)
            .and_then(|t| t.split_at_checked(known.len()))
            .filter(|(head, _)| !known.is_empty() && same_bytes(head, known.as_bytes()));
        let Some((_, after)) = skip else {
            return self.name(true);
        };
        let len = name_run(after, true);
        self.i = start + known.len() + len;
        self.s.get(start..self.i)
    }

    /// Label name `[a-zA-Z_][a-zA-Z0-9_]*` (no colons, per both formats).
    pub fn label_name(&mut self) -> Option<&'a str> {
        self.name(false)
    }

    fn name(&mut self, colons: bool) -> Option<&'a str> {
        // One table load per byte instead of four range compares: names are the bulk of
        // every line (HELP and TYPE lines included).
        let first = if colons { METRIC_START } else { LABEL_START };
        let bytes = self.s.as_bytes();
        let start = self.i;
        let tail = bytes.get(start..)?;
        if tail
            .first()
            .is_none_or(|&b| CLASS[usize::from(b)] & first == 0)
        {
            return None;
        }
        let len = name_run(tail, colons);
        self.i = start + len;
        self.s.get(start..self.i)
    }

    /// Reads a quoted string's body after its opening `"` up to and including the closing one.
    /// Borrowed unless an escape appears. `\\`, `\"` and `\n` are decoded; any other escape is
    /// kept as written (backslash included), which is what Prometheus' parser does and what the
    /// OpenMetrics ABNF (`BS normal-char`) permits.
    pub fn quoted(&mut self) -> Result<Cow<'a, str>, String> {
        let start = self.i;
        let bytes = self.s.as_bytes();
        let tail = bytes.get(start..).unwrap_or(&[]);
        match memchr::memchr2(b'"', b'\\', tail) {
            None => Err(unterminated()),
            Some(off) if tail.get(off) == Some(&b'"') => {
                self.i = start + off + 1;
                Ok(Cow::Borrowed(self.s.get(start..start + off).unwrap_or("")))
            }
            Some(off) => {
                let mut out = String::with_capacity(tail.len());
                out.push_str(self.s.get(start..start + off).unwrap_or(""));
                self.i = start + off;
                // Copy runs between backslashes/quotes as &str so multi-byte chars stay whole.
                loop {
                    let tail = bytes.get(self.i..).unwrap_or(&[]);
                    let Some(off) = memchr::memchr2(b'"', b'\\', tail) else {
                        return Err(unterminated());
                    };
                    out.push_str(self.s.get(self.i..self.i + off).unwrap_or(""));
                    self.i += off;
                    if self.eat(b'"') {
                        return Ok(Cow::Owned(out));
                    }
                    self.i += 1; // the backslash
                    match self.peek() {
                        Some(b'\\') => out.push('\\'),
                        Some(b'"') => out.push('"'),
                        Some(b'n') => out.push('\n'),
                        Some(_) => {
                            out.push('\\');
                            continue; // the escaped char is copied by the next run
                        }
                        None => return Err(unterminated()),
                    }
                    self.i += 1;
                }
            }
        }
    }
}

const LABEL_START: u8 = 1; // [a-zA-Z_]
const LABEL_CHAR: u8 = 2; // [a-zA-Z0-9_]
const METRIC_START: u8 = 4; // [a-zA-Z_:]
const METRIC_CHAR: u8 = 8; // [a-zA-Z0-9_:]

/// Character classes of name bytes; non-ASCII bytes are in no class.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let alpha = c.is_ascii_alphabetic() || c == b'_';
        let mut k = 0;
        if alpha {
            k |= LABEL_START | LABEL_CHAR | METRIC_START | METRIC_CHAR;
        }
        if c.is_ascii_digit() {
            k |= LABEL_CHAR | METRIC_CHAR;
        }
        if c == b':' {
            k |= METRIC_START | METRIC_CHAR;
        }
        t[b] = k;
        b += 1;
    }
    t
};

/// Length of the leading run of `[a-zA-Z0-9_]` (plus `:` if `colons`) bytes: one table load
/// per byte instead of four range compares.
#[inline]
fn name_run(t: &[u8], colons: bool) -> usize {
    let class = if colons { METRIC_CHAR } else { LABEL_CHAR };
    t.iter()
        .position(|&b| CLASS[usize::from(b)] & class == 0)
        .unwrap_or(t.len())
}

/// Byte equality done inline, eight bytes at a time. Metric names are short, and calling
/// libc's `memcmp` for each comparison (what `==` on slices does) took a sixth of the parse
/// time on node_exporter bodies.
#[inline]
pub(super) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut x, mut y) = (a, b);
    while let (Some((xh, xt)), Some((yh, yt))) =
        (x.split_first_chunk::<8>(), y.split_first_chunk::<8>())
    {
        if u64::from_ne_bytes(*xh) != u64::from_ne_bytes(*yh) {
            return false;
        }
        x = xt;
        y = yt;
    }
    x.iter().zip(y).all(|(p, q)| p == q)
}

fn unterminated() -> String {
    "label value is missing its closing quote (a raw newline inside a value is not allowed; \
     write it as \\n)"
        .to_string()
}

/// Decodes HELP text. 0.0.4 knows only `\\` and `\n` there (Prometheus keeps `\"` as written);
/// OpenMetrics also decodes `\"`. Unknown escapes stay literal in both.
pub(super) fn unescape_help(s: &str, quote: bool) -> Cow<'_, str> {
    // memchr's SIMD search, not `str::contains`, which is a byte-wise scan for short text.
    if memchr::memchr(b'\\', s.as_bytes()).is_none() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quote => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// Powers of ten that are exact in an f64 (10^22 < 2^53 * 2^22 is the last one).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses a sample value the way Go's `strconv.ParseFloat` does for decimal input, which is also
/// the OpenMetrics `number` rule: `[+-]` digits with optional `.` and exponent, or the
/// case-insensitive specials `inf`, `infinity` (signed or not) and `nan` (unsigned).
/// Overflow (`1e309`) and hex (`0x10`) are errors: Prometheus rejects the first, and no
/// exposition library writes hex, so accepting it would only hide a broken exporter.
pub(super) fn parse_float(t: &str, allow_special: bool) -> Result<f64, String> {
    match fast_float(t.as_bytes()) {
        Some(v) => Ok(v),
        None if t.is_empty() => Err("expected a sample value, found end of line".to_string()),
        None => slow_float(t, allow_special),
    }
}

/// Clinger's fast path: when the decimal mantissa `m` is at most 2^53 and the decimal exponent
/// `e` is within ±22, both `m` and 10^|e| are exact f64 values, so the one IEEE multiply or
/// divide below rounds the exact decimal value once, to nearest-even, exactly as
/// `str::parse::<f64>` does. That covers nearly every value exporters write (`7`, `0.25`,
/// `2.901976e+06`). Anything else (more digits, large exponents, specials, malformed input)
/// returns `None` and takes the slow path, which owns all error messages.
#[inline]
pub(super) fn fast_float(b: &[u8]) -> Option<f64> {
    let (neg, mut i) = match b.first()? {
        b'-' => (true, 1),
        b'+' => (false, 1),
        _ => (false, 0),
    };
    let mut mant: u64 = 0;
    let mut digits = 0u32;
    let mut frac = 0i32;
    while let Some(d) = digit(b, i) {
        mant = mant.wrapping_mul(10).wrapping_add(d);
        digits += 1;
        i += 1;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while let Some(d) = digit(b, i) {
            mant = mant.wrapping_mul(10).wrapping_add(d);
            digits += 1;
            frac += 1;
            i += 1;
        }
    }
    // 19 digits cannot wrap a u64, so `mant` is exact whenever this passes.
    if digits == 0 || digits > 19 || mant > 1 << 53 {
        return None;
    }
    let mut exp = 0i32;
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let neg_exp = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        while let Some(d) = digit(b, i) {
            if i - start >= 4 {
                return None;
            }
            exp = exp * 10 + d as i32;
            i += 1;
        }
        if i == start {
            return None;
        }
        if neg_exp {
            exp = -exp;
        }
    }
    if i != b.len() {
        return None;
    }
    let e10 = exp - frac;
    let m = mant as f64;
    let v = if e10 >= 0 {
        m * *POW10.get(e10 as usize)?
    } else {
        m / *POW10.get(e10.unsigned_abs() as usize)?
    };
    Some(if neg { -v } else { v })
}

#[inline]
fn digit(b: &[u8], i: usize) -> Option<u64> {
    let d = b.get(i)?.wrapping_sub(b'0');
    (d <= 9).then_some(u64::from(d))
}

fn slow_float(t: &str, allow_special: bool) -> Result<f64, String> {
    let b = t.as_bytes();
    let (neg, body) = match b.first() {
        Some(b'-') => (true, t.get(1..).unwrap_or("")),
        Some(b'+') => (false, t.get(1..).unwrap_or("")),
        _ => (false, t),
    };
    if allow_special {
        if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
            return Ok(if neg {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        if t.eq_ignore_ascii_case("nan") {
            return Ok(f64::NAN);
        }
    }
    let bb = body.as_bytes();
    if bb.len() > 1 && bb[0] == b'0' && (bb[1] == b'x' || bb[1] == b'X') {
        return Err(format!(
            "`{t}` is a hex number; expected a decimal float, NaN or [+-]Inf"
        ));
    }
    if !decimal_shape(bb) {
        return Err(format!(
            "`{t}` is not a number; expected a decimal float (e.g. 1, -2.5, 1e-3), NaN or [+-]Inf"
        ));
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("`{t}` is out of range for a 64-bit float")),
    }
}

/// `digits [. digits] [e [+-] digits]` with at least one mantissa digit (sign already removed).
fn decimal_shape(b: &[u8]) -> bool {
    let mut i = 0;
    let mut mant = 0;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
        mant += 1;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
            mant += 1;
        }
    }
    if mant == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

/// 0.0.4 timestamp: a signed 64-bit integer of milliseconds (Go `strconv.ParseInt`).
pub(super) fn parse_ms(t: &str) -> Result<i64, String> {
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "timestamp `{t}` is not an integer; text 0.0.4 wants milliseconds since the epoch"
        ));
    }
    t.parse::<i64>()
        .map_err(|_| format!("timestamp `{t}` does not fit in 64 bits"))
}

/// OpenMetrics timestamp: a real number of seconds (no Inf/NaN), converted to whole
/// milliseconds by rounding, which is exact for any input written with millisecond precision.
pub(super) fn parse_om_ts(t: &str) -> Result<i64, String> {
    let v = parse_float(t, false).map_err(|e| format!("timestamp: {e}"))?;
    let ms = (v * 1000.0).round();
    // i64::MAX as f64 rounds up to 2^63, so compare with a strict bound.
    if (-9.223_372_036_854_775e18..9.223_372_036_854_775e18).contains(&ms) {
        Ok(ms as i64)
    } else {
        Err(format!(
            "timestamp `{t}` is out of range (OpenMetrics timestamps are seconds)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_table() {
        let ok: &[(&str, f64)] = &[
            ("1", 1.0),
            ("-2.5", -2.5),
            ("+3", 3.0),
            ("1e3", 1000.0),
            ("1E-3", 0.001),
            (".5", 0.5),
            ("5.", 5.0),
            ("0.1", 0.1),
            ("123456789012345678", 123456789012345678.0),
            ("9.245696e+06", 9245696.0),
            ("+Inf", f64::INFINITY),
            ("-inf", f64::NEG_INFINITY),
            ("Infinity", f64::INFINITY),
            ("1e-400", 0.0),
        ];
        for (t, want) in ok {
            assert_eq!(parse_float(t, true), Ok(*want), "{t}");
        }
        assert!(parse_float("NaN", true).is_ok_and(f64::is_nan));
        assert!(parse_float("nan", true).is_ok_and(f64::is_nan));
        for bad in [
            "1e309", "0x10", "-0X1p4", "1_000", "", "+", ".", "e5", "1e", "+nan", "abc",
        ] {
            assert!(parse_float(bad, true).is_err(), "{bad}");
        }
        assert!(parse_float("Inf", false).is_err());
    }

    /// Decimal-looking strings around the fast path's limits: up to 22 digits (past the 19-digit
    /// and 2^53 cut-offs), optional dot, and exponents around ±22 and beyond.
    fn decimal_strings() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        (
            prop_oneof![Just(""), Just("-"), Just("+")],
            "[0-9]{0,22}",
            prop_oneof![Just(String::new()), "\\.[0-9]{0,12}"],
            prop_oneof![
                Just(String::new()),
                "[eE][+-]?[0-9]{1,2}",
                "[eE][+-]?0{0,3}[0-9]{1,3}",
            ],
        )
            .prop_map(|(sign, int, frac, exp)| format!("{sign}{int}{frac}{exp}"))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]

        /// Whatever the fast path accepts, it returns the very bits `str::parse` does.
        #[test]
        fn fast_float_is_bit_identical_to_std(t in decimal_strings()) {
            if let Some(v) = fast_float(t.as_bytes()) {
                let want = t.parse::<f64>();
                proptest::prop_assert!(want.is_ok(), "{t}: fast path accepted, std rejected");
                proptest::prop_assert_eq!(v.to_bits(), want.unwrap_or(f64::NAN).to_bits(), "{}", t);
            }
        }

        /// The block-wise scan reads exactly the grammar's names, at any length and with the
        /// first non-name byte anywhere (bytes next to the class ranges included).
        #[test]
        fn names_match_a_plain_reference(text in "[a-zA-Z0-9_:@\\[`{/ .é\"=-]{0,48}") {
            let reference = |colons: bool| {
                let ok = |c: char, first: bool| {
                    c.is_ascii_alphabetic()
                        || c == '_'
                        || (colons && c == ':')
                        || (!first && c.is_ascii_digit())
                };
                let mut it = text.char_indices();
                match it.next() {
                    Some((_, c)) if ok(c, true) => {
                        let end = it.find(|&(_, c)| !ok(c, false)).map_or(text.len(), |(i, _)| i);
                        Some(&text[..end])
                    }
                    _ => None,
                }
            };
            proptest::prop_assert_eq!(Cursor::new(&text).metric_name(), reference(true));
            proptest::prop_assert_eq!(Cursor::new(&text).label_name(), reference(false));
        }

        /// Skipping over a known legacy name never changes what is read, whether or not the
        /// line starts with it.
        #[test]
        fn metric_name_after_equals_metric_name(
            known in "[a-zA-Z_:][a-zA-Z0-9_:]{0,20}",
            line in "[a-z_:0-9]{0,12}[ {.é\"a-z_]{0,4}",
            prefixed in proptest::prelude::any::<bool>(),
        ) {
            let text = if prefixed { format!("{known}{line}") } else { line };
            let mut plain = Cursor::new(&text);
            let mut hinted = Cursor::new(&text);
            proptest::prop_assert_eq!(hinted.metric_name_after(&known), plain.metric_name());
            proptest::prop_assert_eq!(hinted.i, plain.i);
        }

        /// Exact decimal integers and short fractions, the bulk of real bodies, do take the
        /// fast path (so the test above is not vacuous) and still match std.
        #[test]
        fn fast_float_covers_plain_values(m in 0u64..=(1 << 53), frac in 0usize..8, e in -15i32..=22) {
            let digits = m.to_string();
            let t = if frac > 0 && frac < digits.len() {
                let (a, b) = digits.split_at(digits.len() - frac);
                format!("{a}.{b}e{e}")
            } else {
                format!("{digits}e{e}")
            };
            let v = fast_float(t.as_bytes());
            proptest::prop_assert!(v.is_some(), "{t} missed the fast path");
            proptest::prop_assert_eq!(v.map(f64::to_bits), t.parse::<f64>().ok().map(f64::to_bits), "{}", t);
        }
    }

    #[test]
    fn fast_float_table() {
        // Ties and near-ties at the edges of the exact range, and shapes std accepts.
        for t in [
            "9007199254740992",
            "9007199254740993",
            "9007199254740992e22",
            "1e22",
            "1e23",
            "1e-22",
            "1e-23",
            "0.1",
            "0.3",
            "1.e5",
            ".5e3",
            "-.5",
            "-0",
            "+0.0e-0",
            "1e0005",
            "00012.5000e-2",
            "2.901976e+06",
            "1.2078e-05",
            "4503599627370497.5",
        ] {
            if let Some(v) = fast_float(t.as_bytes()) {
                assert_eq!(Ok(v.to_bits()), t.parse::<f64>().map(f64::to_bits), "{t}");
            }
            assert_eq!(
                parse_float(t, true).map(f64::to_bits),
                t.parse::<f64>()
                    .map(f64::to_bits)
                    .map_err(|e| e.to_string()),
                "{t}"
            );
        }
        for t in [
            "", "+", "-", ".", "1e", "1e+", "e5", "1.2.3", "1_0", "0x10", "Inf", "nan",
        ] {
            assert_eq!(fast_float(t.as_bytes()), None, "{t}");
        }
    }

    #[test]
    fn name_classes_match_the_grammar() {
        let chars = (0u8..128)
            .map(char::from)
            .chain(['é', '€', '\u{7f}', '\u{80}']);
        for ch in chars {
            let metric_start = ch.is_ascii_alphabetic() || ch == '_' || ch == ':';
            let label_start = ch.is_ascii_alphabetic() || ch == '_';
            let one = ch.to_string();
            assert_eq!(
                Cursor::new(&one).metric_name().is_some(),
                metric_start,
                "{ch:?}"
            );
            assert_eq!(
                Cursor::new(&one).label_name().is_some(),
                label_start,
                "{ch:?}"
            );
            let two = format!("a{ch}");
            let metric_len = if metric_start || ch.is_ascii_digit() {
                2
            } else {
                1
            };
            let label_len = if label_start || ch.is_ascii_digit() {
                2
            } else {
                1
            };
            assert_eq!(
                Cursor::new(&two).metric_name().map(str::len),
                Some(metric_len),
                "{ch:?}"
            );
            assert_eq!(
                Cursor::new(&two).label_name().map(str::len),
                Some(label_len),
                "{ch:?}"
            );
        }
    }

    #[test]
    fn timestamps_table() {
        assert_eq!(parse_ms("1700000000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_ms("-5"), Ok(-5));
        assert!(parse_ms("1.5").is_err());
        assert!(parse_ms("99999999999999999999").is_err());
        assert_eq!(parse_om_ts("1520879607.789"), Ok(1_520_879_607_789));
        assert_eq!(parse_om_ts("1520879607"), Ok(1_520_879_607_000));
        assert_eq!(parse_om_ts("-1.5"), Ok(-1500));
        assert!(parse_om_ts("1e300").is_err());
        assert!(parse_om_ts("NaN").is_err());
    }
}
