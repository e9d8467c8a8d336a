//! Makes text from outside (metric names, label values, error strings, bodies) safe to print:
//! control characters and escape sequences never reach a terminal. Pure string functions.

/// Replace every control character (C0, DEL, C1 — which covers ESC and CSI) with a visible
/// escape like `\x1b`, so a hostile exporter cannot move the cursor, retitle the window or
/// hide text. Newlines and tabs become `\n` and `\t` too: one value is one line.
pub fn sanitize(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if is_unsafe(c) => {
                use std::fmt::Write;
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

fn is_unsafe(c: char) -> bool {
    // Bidirectional overrides can make a line read differently from what it contains.
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_control() {
        assert_eq!(sanitize("plain / ok"), "plain / ok");
        assert_eq!(sanitize("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(sanitize("x\ny\tz"), "x\\ny\\tz");
        assert_eq!(sanitize("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(sanitize("\u{7f}"), "\\u{7f}");
        assert_eq!(sanitize("abc\u{202e}cba"), "abc\\u{202e}cba");
        assert_eq!(sanitize("héllo ✓"), "héllo ✓");
    }
}
