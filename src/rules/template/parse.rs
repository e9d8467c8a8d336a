//! Reads Go text/template source into a tree: text, `{{ pipeline }}` actions with trim
//! markers and comments, `if`/`else if`/`else`, `range`, `with`, variables and their scopes,
//! pipelines of commands. Knows which functions exist (Go refuses an unknown one at parse time,
//! and so do we). Does not execute anything.

use super::funcs::{REFUSED, known_function};

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Item {
    Text(String),
    Action(Pipe),
    If {
        pipe: Pipe,
        then: Vec<Item>,
        els: Vec<Item>,
    },
    Range {
        pipe: Pipe,
        body: Vec<Item>,
        els: Vec<Item>,
    },
    With {
        pipe: Pipe,
        body: Vec<Item>,
        els: Vec<Item>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Pipe {
    /// Byte offset of the action in the whole template, for error positions.
    pub pos: usize,
    /// The source text of the pipeline, for `at <...>` in errors.
    pub src: String,
    pub decl: Vec<String>,
    /// `=` rather than `:=`.
    pub assign: bool,
    pub cmds: Vec<Cmd>,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Cmd {
    pub pos: usize,
    pub src: String,
    pub args: Vec<Operand>,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Term {
    Dot,
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Var(String),
    Ident(String),
    Pipe(Box<Pipe>),
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Operand {
    pub term: Term,
    pub fields: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Space,
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
    Str(String),
    Number(String),
    Ident(String),
    Var(String),
    Field(String),
    Dot,
}

/// A parse failure in Go's words: `template: NAME:LINE: message`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("template: {name}:{line}: {message}")]
pub struct ParseError {
    pub name: String,
    pub line: usize,
    pub message: String,
}

/// An action's tokens with their offsets, where the text resumes, and whether to trim it.
type Lexed = (Vec<(usize, Tok)>, usize, bool);

struct Frame {
    kind: FrameKind,
    pipe: Pipe,
    body: Vec<Item>,
    els: Option<Vec<Item>>,
    /// Opened by `else if`: its `end` also closes the frame below.
    chained: bool,
    vars_at_open: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum FrameKind {
    If,
    Range,
    With,
}

pub(super) struct Parser<'a> {
    name: &'a str,
    text: &'a str,
    vars: Vec<String>,
}

impl<'a> Parser<'a> {
    pub fn new(name: &'a str, text: &'a str) -> Parser<'a> {
        Parser {
            name,
            text,
            vars: vec!["$".to_string()],
        }
    }

    fn err(&self, at: usize, message: impl Into<String>) -> ParseError {
        let line = 1 + self
            .text
            .get(..at.min(self.text.len()))
            .unwrap_or("")
            .matches('\n')
            .count();
        ParseError {
            name: self.name.to_string(),
            line,
            message: message.into(),
        }
    }

    pub fn parse(mut self) -> Result<Vec<Item>, ParseError> {
        let text = self.text;
        let mut stack: Vec<Frame> = Vec::new();
        let mut top: Vec<Item> = Vec::new();
        let mut i = 0usize;
        let mut trim_next = false;
        while i <= text.len() {
            let rest = text.get(i..).unwrap_or("");
            let open = rest.find("{{");
            let mut chunk = match open {
                Some(o) => rest.get(..o).unwrap_or("").to_string(),
                None => rest.to_string(),
            };
            if trim_next {
                chunk = chunk
                    .trim_start_matches([' ', '\t', '\r', '\n'])
                    .to_string();
            }
            let Some(o) = open else {
                push_item(&mut stack, &mut top, Item::Text(chunk));
                break;
            };
            let start = i + o;
            let mut inner_start = start + 2;
            let after = text.get(inner_start..).unwrap_or("");
            if after.starts_with("- ")
                || after.starts_with("-\t")
                || after.starts_with("-\n")
                || after.starts_with("-\r")
            {
                chunk = chunk.trim_end_matches([' ', '\t', '\r', '\n']).to_string();
                inner_start += 1;
            }
            push_item(&mut stack, &mut top, Item::Text(chunk));
            // A comment is the whole action: `{{/* ... */}}`.
            let body = text.get(inner_start..).unwrap_or("");
            let lead = body.len() - body.trim_start().len();
            if body.trim_start().starts_with("/*") && lead <= 1 {
                let cstart = inner_start + lead;
                let Some(cend) = text.get(cstart + 2..).and_then(|r| r.find("*/")) else {
                    return Err(self.err(start, "unclosed comment"));
                };
                let mut j = cstart + 2 + cend + 2;
                let tail = text.get(j..).unwrap_or("");
                trim_next = false;
                if tail.starts_with(" -}}") {
                    trim_next = true;
                    j += 4;
                } else if tail.starts_with("}}") {
                    j += 2;
                } else {
                    return Err(self.err(start, "comment ends before closing delimiter"));
                }
                i = j;
                continue;
            }
            let (toks, end, trim) = self.lex_action(inner_start, start)?;
            trim_next = trim;
            i = end;
            self.action(toks, start, &mut stack, &mut top)?;
        }
        if let Some(f) = stack.last() {
            return Err(self.err(f.pipe.pos, "unexpected EOF"));
        }
        Ok(top)
    }

    /// Tokens of one action from `from` up to its closing `}}`; returns where text resumes and
    /// whether the action asked to trim the text after it.
    fn lex_action(&self, from: usize, start: usize) -> Result<Lexed, ParseError> {
        let b = self.text.as_bytes();
        let mut i = from;
        let mut toks = Vec::new();
        loop {
            let Some(&c) = b.get(i) else {
                return Err(self.err(start, "unclosed action"));
            };
            let rest = self.text.get(i..).unwrap_or("");
            if rest.starts_with("}}") {
                return Ok((toks, i + 2, false));
            }
            if rest.starts_with(" -}}")
                || rest.starts_with("\t-}}")
                || rest.starts_with("\n-}}")
                || rest.starts_with("\r-}}")
            {
                return Ok((toks, i + 4, true));
            }
            match c {
                b' ' | b'\t' | b'\r' | b'\n' => {
                    while b
                        .get(i)
                        .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
                    {
                        if self.text.get(i..).is_some_and(|r| {
                            r.starts_with(" -}}")
                                || r.starts_with("\t-}}")
                                || r.starts_with("\n-}}")
                                || r.starts_with("\r-}}")
                        }) {
                            break;
                        }
                        i += 1;
                    }
                    toks.push((i, Tok::Space));
                }
                b'(' => {
                    toks.push((i, Tok::LParen));
                    i += 1;
                }
                b')' => {
                    toks.push((i, Tok::RParen));
                    i += 1;
                }
                b'|' => {
                    toks.push((i, Tok::Pipe));
                    i += 1;
                }
                b',' => {
                    toks.push((i, Tok::Comma));
                    i += 1;
                }
                b':' if b.get(i + 1) == Some(&b'=') => {
                    toks.push((i, Tok::Declare));
                    i += 2;
                }
                b'=' => {
                    toks.push((i, Tok::Assign));
                    i += 1;
                }
                b'"' => {
                    let (s, end) = self.lex_quoted(i, start)?;
                    toks.push((i, Tok::Str(s)));
                    i = end;
                }
                b'`' => {
                    let Some(len) = self.text.get(i + 1..).and_then(|r| r.find('`')) else {
                        return Err(self.err(start, "unterminated raw quoted string"));
                    };
                    let s = self.text.get(i + 1..i + 1 + len).unwrap_or("").to_string();
                    toks.push((i, Tok::Str(s)));
                    i += len + 2;
                }
                b'\'' => return Err(self.err(start, "character constants are not supported")),
                b'$' => {
                    let s = i;
                    i += 1;
                    while b
                        .get(i)
                        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    {
                        i += 1;
                    }
                    toks.push((s, Tok::Var(self.text.get(s..i).unwrap_or("$").to_string())));
                }
                b'.' => {
                    if b.get(i + 1).is_some_and(|c| c.is_ascii_digit()) {
                        let (n, end) = self.lex_number(i);
                        toks.push((i, Tok::Number(n)));
                        i = end;
                        continue;
                    }
                    let s = i;
                    i += 1;
                    while b
                        .get(i)
                        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    {
                        i += 1;
                    }
                    if i == s + 1 {
                        toks.push((s, Tok::Dot));
                    } else {
                        let name = self.text.get(s + 1..i).unwrap_or("").to_string();
                        toks.push((s, Tok::Field(name)));
                    }
                }
                b'0'..=b'9' | b'-' | b'+' => {
                    let (n, end) = self.lex_number(i);
                    if end == i + 1 && !c.is_ascii_digit() {
                        return Err(self.err(start, format!("bad character {:?}", c as char)));
                    }
                    toks.push((i, Tok::Number(n)));
                    i = end;
                }
                c if c.is_ascii_alphabetic() || c == b'_' => {
                    let s = i;
                    while b
                        .get(i)
                        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    {
                        i += 1;
                    }
                    toks.push((s, Tok::Ident(self.text.get(s..i).unwrap_or("").to_string())));
                }
                _ => {
                    let ch = rest.chars().next().unwrap_or('?');
                    return Err(self.err(start, format!("unexpected {ch:?} in command")));
                }
            }
        }
    }

    fn lex_number(&self, from: usize) -> (String, usize) {
        let b = self.text.as_bytes();
        let mut i = from;
        if b.get(i).is_some_and(|c| *c == b'-' || *c == b'+') {
            i += 1;
        }
        while let Some(&c) = b.get(i) {
            let exp_sign = (c == b'-' || c == b'+')
                && b.get(i - 1).is_some_and(|p| *p == b'e' || *p == b'E')
                && !self
                    .text
                    .get(from..i)
                    .is_some_and(|t| t.starts_with("0x") || t.starts_with("0X"));
            if c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || exp_sign {
                i += 1;
            } else {
                break;
            }
        }
        (self.text.get(from..i).unwrap_or("").to_string(), i)
    }

    fn lex_quoted(&self, from: usize, start: usize) -> Result<(String, usize), ParseError> {
        let mut out = String::new();
        let mut it = self.text.get(from + 1..).unwrap_or("").char_indices();
        while let Some((k, c)) = it.next() {
            match c {
                '"' => return Ok((out, from + 1 + k + 1)),
                '\n' => break,
                '\\' => {
                    let Some((_, e)) = it.next() else { break };
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '\\' => out.push('\\'),
                        '"' => out.push('"'),
                        '\'' => out.push('\''),
                        'a' => out.push('\u{7}'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'v' => out.push('\u{b}'),
                        'x' | 'u' | 'U' => {
                            let n = match e {
                                'x' => 2,
                                'u' => 4,
                                _ => 8,
                            };
                            let hex: String =
                                (0..n).filter_map(|_| it.next().map(|p| p.1)).collect();
                            let Some(ch) =
                                u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
                            else {
                                return Err(self.err(start, "invalid escape in quoted string"));
                            };
                            out.push(ch);
                        }
                        _ => return Err(self.err(start, "invalid escape in quoted string")),
                    }
                }
                c => out.push(c),
            }
        }
        Err(self.err(start, "unterminated quoted string"))
    }

    fn action(
        &mut self,
        toks: Vec<(usize, Tok)>,
        start: usize,
        stack: &mut Vec<Frame>,
        top: &mut Vec<Item>,
    ) -> Result<(), ParseError> {
        let mut toks: Vec<(usize, Tok)> = toks;
        while toks.first().is_some_and(|t| t.1 == Tok::Space) {
            toks.remove(0);
        }
        while toks.last().is_some_and(|t| t.1 == Tok::Space) {
            toks.pop();
        }
        let keyword = match toks.first() {
            Some((_, Tok::Ident(w))) => Some(w.clone()),
            _ => None,
        };
        let rest_after =
            |toks: &[(usize, Tok)]| -> Vec<(usize, Tok)> { toks.iter().skip(1).cloned().collect() };
        match keyword.as_deref() {
            Some("if") | Some("range") | Some("with") => {
                let kind = match keyword.as_deref() {
                    Some("if") => FrameKind::If,
                    Some("range") => FrameKind::Range,
                    _ => FrameKind::With,
                };
                let vars_at_open = self.vars.len();
                let pipe = self.pipeline(&rest_after(&toks), start, kind == FrameKind::Range)?;
                if pipe.cmds.is_empty() {
                    return Err(self.err(
                        start,
                        format!("missing value for {}", keyword.unwrap_or_default()),
                    ));
                }
                stack.push(Frame {
                    kind,
                    pipe,
                    body: Vec::new(),
                    els: None,
                    chained: false,
                    vars_at_open,
                });
                Ok(())
            }
            Some("else") => {
                let Some(f) = stack.last_mut() else {
                    return Err(self.err(start, "unexpected {{else}}"));
                };
                if f.els.is_some() {
                    return Err(self.err(start, "expected end; found {{else}}"));
                }
                f.els = Some(Vec::new());
                let vars_at_open = f.vars_at_open;
                self.vars.truncate(vars_at_open);
                let rest: Vec<(usize, Tok)> = rest_after(&toks)
                    .into_iter()
                    .skip_while(|t| t.1 == Tok::Space)
                    .collect();
                if let Some((_, Tok::Ident(w))) = rest.first() {
                    let kind = match w.as_str() {
                        "if" => FrameKind::If,
                        "with" => FrameKind::With,
                        _ => return Err(self.err(start, "unexpected word after {{else}}")),
                    };
                    let pipe = self.pipeline(&rest_after(&rest), start, false)?;
                    stack.push(Frame {
                        kind,
                        pipe,
                        body: Vec::new(),
                        els: None,
                        chained: true,
                        vars_at_open,
                    });
                } else if !rest.is_empty() {
                    return Err(self.err(start, "unexpected tokens after {{else}}"));
                }
                Ok(())
            }
            Some("end") => {
                if toks.len() > 1 {
                    return Err(self.err(start, "unexpected tokens after {{end}}"));
                }
                loop {
                    let Some(f) = stack.pop() else {
                        return Err(self.err(start, "unexpected {{end}}"));
                    };
                    self.vars.truncate(f.vars_at_open);
                    let els = f.els.unwrap_or_default();
                    let item = match f.kind {
                        FrameKind::If => Item::If {
                            pipe: f.pipe,
                            then: f.body,
                            els,
                        },
                        FrameKind::Range => Item::Range {
                            pipe: f.pipe,
                            body: f.body,
                            els,
                        },
                        FrameKind::With => Item::With {
                            pipe: f.pipe,
                            body: f.body,
                            els,
                        },
                    };
                    push_item(stack, top, item);
                    if !f.chained {
                        return Ok(());
                    }
                }
            }
            Some(w @ ("define" | "template" | "block" | "break" | "continue")) => Err(self.err(
                start,
                format!("{{{{{w}}}}} is not supported in nocscope's rule templates"),
            )),
            _ => {
                if toks.is_empty() {
                    return Err(self.err(start, "missing value for command"));
                }
                let pipe = self.pipeline(&toks, start, false)?;
                push_item(stack, top, Item::Action(pipe));
                Ok(())
            }
        }
    }

    fn src_of(&self, toks: &[(usize, Tok)], end_hint: usize) -> String {
        let from = toks.first().map(|t| t.0).unwrap_or(end_hint);
        let to = toks
            .iter()
            .rev()
            .find(|t| t.1 != Tok::Space)
            .map(|t| t.0)
            .unwrap_or(from);
        // Extend to the end of the last token by scanning to the next space or delimiter.
        let tail = self.text.get(to..).unwrap_or("");
        let len = tail
            .find([' ', '\t', '\n', '}'])
            .unwrap_or(tail.len())
            .max(1);
        self.text
            .get(from..to + len)
            .unwrap_or("")
            .trim()
            .to_string()
    }

    fn pipeline(
        &mut self,
        toks: &[(usize, Tok)],
        start: usize,
        range: bool,
    ) -> Result<Pipe, ParseError> {
        let mut toks: Vec<(usize, Tok)> = toks.to_vec();
        while toks.first().is_some_and(|t| t.1 == Tok::Space) {
            toks.remove(0);
        }
        let src = self.src_of(&toks, start);
        // Declarations: `$x :=`, `$x =`, and for range `$k, $v :=`.
        let mut decl = Vec::new();
        let mut assign = false;
        let sig: Vec<&Tok> = toks
            .iter()
            .map(|t| &t.1)
            .filter(|t| **t != Tok::Space)
            .collect();
        let mut consumed_sig = 0;
        match sig.as_slice() {
            [
                Tok::Var(a),
                Tok::Comma,
                Tok::Var(b),
                Tok::Declare | Tok::Assign,
                ..,
            ] if range => {
                decl = vec![a.clone(), b.clone()];
                assign = matches!(sig.get(3), Some(Tok::Assign));
                consumed_sig = 4;
            }
            [Tok::Var(a), Tok::Declare | Tok::Assign, ..] => {
                decl = vec![a.clone()];
                assign = matches!(sig.get(1), Some(Tok::Assign));
                consumed_sig = 2;
            }
            _ => {}
        }
        if consumed_sig > 0 {
            let mut seen = 0;
            let mut cut = 0;
            for (k, t) in toks.iter().enumerate() {
                if t.1 != Tok::Space {
                    seen += 1;
                }
                if seen == consumed_sig {
                    cut = k + 1;
                    break;
                }
            }
            toks.drain(..cut);
        }
        let mut cmds = Vec::new();
        let mut i = 0;
        loop {
            let (cmd, next) = self.command(&toks, i, start)?;
            if let Some(c) = cmd {
                cmds.push(c);
            }
            i = next;
            match toks.get(i) {
                Some((_, Tok::Pipe)) => {
                    i += 1;
                    if cmds.is_empty() {
                        return Err(self.err(start, "missing command before |"));
                    }
                }
                None => break,
                Some((_, t)) => return Err(self.err(start, format!("unexpected {t:?} in operand"))),
            }
        }
        if !decl.is_empty() && cmds.is_empty() {
            return Err(self.err(start, "missing value for declaration"));
        }
        for v in &decl {
            if assign {
                if !self.vars.contains(v) {
                    return Err(self.err(start, format!("undefined variable {v:?}")));
                }
            } else {
                self.vars.push(v.clone());
            }
        }
        Ok(Pipe {
            pos: start,
            src,
            decl,
            assign,
            cmds,
        })
    }

    /// One command: operands separated by spaces, up to `|`, `)` or the end.
    fn command(
        &mut self,
        toks: &[(usize, Tok)],
        mut i: usize,
        start: usize,
    ) -> Result<(Option<Cmd>, usize), ParseError> {
        let mut args = Vec::new();
        let first = i;
        loop {
            while toks.get(i).is_some_and(|t| t.1 == Tok::Space) {
                i += 1;
            }
            match toks.get(i) {
                None | Some((_, Tok::Pipe)) | Some((_, Tok::RParen)) => break,
                _ => {}
            }
            let (op, next) = self.operand(toks, i, start)?;
            args.push(op);
            i = next;
            match toks.get(i) {
                None | Some((_, Tok::Space)) | Some((_, Tok::Pipe)) | Some((_, Tok::RParen)) => {}
                Some((_, t)) => {
                    return Err(self.err(start, format!("unexpected {t:?} in operand")));
                }
            }
        }
        if args.is_empty() {
            return Ok((None, i));
        }
        let pos = toks.get(first).map(|t| t.0).unwrap_or(start);
        let src = self.src_of(toks.get(first..i).unwrap_or_default(), start);
        Ok((Some(Cmd { pos, src, args }), i))
    }

    fn operand(
        &mut self,
        toks: &[(usize, Tok)],
        mut i: usize,
        start: usize,
    ) -> Result<(Operand, usize), ParseError> {
        let Some((_, tok)) = toks.get(i) else {
            return Err(self.err(start, "missing operand"));
        };
        let mut fields = Vec::new();
        let term = match tok {
            Tok::Dot => Term::Dot,
            Tok::Field(f) => {
                fields.push(f.clone());
                Term::Dot
            }
            Tok::Var(v) => {
                if !self.vars.contains(v) {
                    return Err(self.err(start, format!("undefined variable {v:?}")));
                }
                Term::Var(v.clone())
            }
            Tok::Str(s) => Term::Str(s.clone()),
            Tok::Number(n) => parse_number(n)
                .ok_or_else(|| self.err(start, format!("bad number syntax: {n:?}")))?,
            Tok::Ident(w) => match w.as_str() {
                "true" => Term::Bool(true),
                "false" => Term::Bool(false),
                "nil" => Term::Nil,
                w if REFUSED.contains(&w) => {
                    return Err(self.err(
                        start,
                        format!(
                            "function {w:?} is not supported: nocscope's rule templates cannot run queries"
                        ),
                    ));
                }
                w if known_function(w) => Term::Ident(w.to_string()),
                w => return Err(self.err(start, format!("function {w:?} not defined"))),
            },
            Tok::LParen => {
                // Find the matching parenthesis.
                let mut depth = 0;
                let mut j = i;
                let close = loop {
                    match toks.get(j) {
                        Some((_, Tok::LParen)) => depth += 1,
                        Some((_, Tok::RParen)) => {
                            depth -= 1;
                            if depth == 0 {
                                break j;
                            }
                        }
                        None => return Err(self.err(start, "unclosed left paren")),
                        _ => {}
                    }
                    j += 1;
                };
                let inner = toks.get(i + 1..close).unwrap_or_default();
                let p = self.pipeline(inner, start, false)?;
                if p.cmds.is_empty() {
                    return Err(self.err(start, "missing value for parenthesized pipeline"));
                }
                i = close;
                Term::Pipe(Box::new(p))
            }
            t => return Err(self.err(start, format!("unexpected {t:?} in operand"))),
        };
        i += 1;
        while let Some((_, Tok::Field(f))) = toks.get(i) {
            if matches!(
                term,
                Term::Ident(_)
                    | Term::Bool(_)
                    | Term::Nil
                    | Term::Int(_)
                    | Term::Float(_)
                    | Term::Str(_)
            ) {
                return Err(self.err(start, "unexpected . after term"));
            }
            fields.push(f.clone());
            i += 1;
        }
        Ok((Operand { term, fields }, i))
    }
}

fn push_item(stack: &mut [Frame], top: &mut Vec<Item>, item: Item) {
    if matches!(&item, Item::Text(t) if t.is_empty()) {
        return;
    }
    match stack.last_mut() {
        Some(f) => match &mut f.els {
            Some(e) => e.push(item),
            None => f.body.push(item),
        },
        None => top.push(item),
    }
}

/// Go's rule for template numbers: a literal with `.`, `e` or `E` (not in hex) is a float64,
/// otherwise an int if it fits.
fn parse_number(n: &str) -> Option<Term> {
    let clean = n.replace('_', "");
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    let lower = body.to_ascii_lowercase();
    let int = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(b) = lower.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()
    } else if lower.contains(['.', 'e']) {
        None
    } else {
        lower.parse::<i64>().ok()
    };
    if let Some(v) = int {
        return Some(Term::Int(if neg { -v } else { v }));
    }
    if lower.starts_with("0x") {
        return None;
    }
    let f: f64 = lower.parse().ok()?;
    if !f.is_finite() && !lower.contains('e') {
        return None;
    }
    Some(Term::Float(if neg { -f } else { f }))
}
