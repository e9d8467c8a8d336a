//! Keymaps: key notation (`j`, `<C-f>`, `<Enter>`), TOML files of `{ on, run, desc }` entries per
//! mode, merging a user file over the embedded default, and printing the effective map.
//! Parsing and validation only: must not touch the terminal, ratatui or crossterm.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diag::{Reporter, closest, type_name};
use super::{ConfigError, MAX_FILE_SIZE, Problem};
use crate::action::Action;

/// The shipped default keymap, embedded so the console works with no files at all.
pub const DEFAULT_TOML: &str = include_str!("../../keymaps/default.toml");
/// The shipped vim-flavoured keymap (merged over the default like any user file).
pub const VIM_TOML: &str = include_str!("../../keymaps/vim.toml");

/// `run = "none"` removes a default binding.
pub const UNBIND: &str = "none";

/// A key without any terminal library's types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyCode {
    /// A printable character; letter case carries Shift (`G`, not `<S-g>`).
    Char(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Delete,
    Insert,
    Up,
    Down,
    Left,
    Right,
    Home,
    End,
    PageUp,
    PageDown,
    F(u8),
}

/// One key press with its modifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
    /// Only for named keys (`<S-Tab>`, `<S-Up>`); characters carry Shift in their case.
    pub shift: bool,
}

const NAMED: &[(&str, KeyCode)] = &[
    ("Enter", KeyCode::Enter),
    ("CR", KeyCode::Enter),
    ("Esc", KeyCode::Esc),
    ("Tab", KeyCode::Tab),
    ("BackTab", KeyCode::BackTab),
    ("BS", KeyCode::Backspace),
    ("Backspace", KeyCode::Backspace),
    ("Del", KeyCode::Delete),
    ("Insert", KeyCode::Insert),
    ("Up", KeyCode::Up),
    ("Down", KeyCode::Down),
    ("Left", KeyCode::Left),
    ("Right", KeyCode::Right),
    ("Home", KeyCode::Home),
    ("End", KeyCode::End),
    ("PageUp", KeyCode::PageUp),
    ("PageDown", KeyCode::PageDown),
    ("Space", KeyCode::Char(' ')),
    ("lt", KeyCode::Char('<')),
];

const KEY_HINT: &str = "write a single character (`j`, `G`, `?`) or a name in angle brackets \
     with optional C-, A-, S- modifiers: <Enter>, <Esc>, <Tab>, <BS>, <Del>, <Up>, <Down>, \
     <Left>, <Right>, <Home>, <End>, <PageUp>, <PageDown>, <Space>, <lt>, <F1>…<F12>, <C-f>";

impl Key {
    pub const fn plain(code: KeyCode) -> Key {
        Key {
            code,
            ctrl: false,
            alt: false,
            shift: false,
        }
    }

    pub const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            ctrl: true,
            alt: false,
            shift: false,
        }
    }

    /// Parse one key in keymap notation. The error says what is accepted.
    pub fn parse(s: &str) -> Result<Key, KeyError> {
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (None, _) => return Err(KeyError::Empty),
            (Some(c), None) if c == '<' || !c.is_control() => {
                return Ok(Key::plain(KeyCode::Char(c)));
            }
            _ => {}
        }
        let inner = s
            .strip_prefix('<')
            .and_then(|r| r.strip_suffix('>'))
            .ok_or_else(|| KeyError::Invalid(s.to_string()))?;
        let mut key = Key::plain(KeyCode::Esc);
        let mut rest = inner;
        // Modifiers are single letters followed by '-', so `<->` and `<C-->` still parse.
        loop {
            let mut it = rest.chars();
            match (it.next(), it.next(), it.as_str().is_empty()) {
                (Some(m), Some('-'), false) if "CcAaMmSs".contains(m) => {
                    match m.to_ascii_uppercase() {
                        'C' => key.ctrl = true,
                        'S' => key.shift = true,
                        _ => key.alt = true,
                    }
                    rest = it.as_str();
                }
                _ => break,
            }
        }
        let mut it = rest.chars();
        key.code = match (it.next(), it.next()) {
            (Some(c), None) if !c.is_control() => KeyCode::Char(c),
            _ => {
                if let Some((_, code)) = NAMED.iter().find(|(n, _)| n.eq_ignore_ascii_case(rest)) {
                    *code
                } else if let Some(n) = rest
                    .strip_prefix(['F', 'f'])
                    .and_then(|n| n.parse::<u8>().ok())
                    .filter(|n| (1..=12).contains(n))
                {
                    KeyCode::F(n)
                } else {
                    return Err(KeyError::UnknownName {
                        name: rest.to_string(),
                        key: s.to_string(),
                    });
                }
            }
        };
        if let KeyCode::Char(c) = key.code {
            if key.shift && c.is_alphabetic() {
                return Err(KeyError::ShiftLetter {
                    key: s.to_string(),
                    capital: c.to_uppercase().collect(),
                });
            }
            // Ctrl-letters arrive lower case from terminals whatever Shift says.
            if key.ctrl && c.is_ascii_uppercase() {
                key.code = KeyCode::Char(c.to_ascii_lowercase());
            }
        }
        Ok(key)
    }

    /// Parse keys separated by spaces: `"j j <Enter>"`.
    pub fn parse_seq(s: &str) -> Result<Vec<Key>, KeyError> {
        s.split_whitespace().map(Key::parse).collect()
    }
}

/// Why a key in keymap notation was refused; each message says what is accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("empty key; {KEY_HINT}")]
    Empty,
    #[error("invalid key `{}`; {KEY_HINT}", .0.escape_debug())]
    Invalid(String),
    #[error("unknown key name `{}` in `{}`; {KEY_HINT}", name.escape_debug(), key.escape_debug())]
    UnknownName { name: String, key: String },
    #[error("`{}`: write Shift with a letter as the capital letter (`{capital}`)", key.escape_debug())]
    ShiftLetter { key: String, capital: String },
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name: String = match self.code {
            KeyCode::Char(' ') => "Space".into(),
            KeyCode::Char('<') => "lt".into(),
            KeyCode::Char(c) => {
                if !(self.ctrl || self.alt || self.shift) {
                    return write!(f, "{c}");
                }
                c.to_string()
            }
            KeyCode::F(n) => format!("F{n}"),
            KeyCode::Backspace => "BS".into(),
            KeyCode::Delete => "Del".into(),
            other => NAMED
                .iter()
                .find(|(_, c)| *c == other)
                .map(|(n, _)| (*n).to_string())
                .unwrap_or_default(),
        };
        f.write_str("<")?;
        if self.ctrl {
            f.write_str("C-")?;
        }
        if self.alt {
            f.write_str("A-")?;
        }
        if self.shift {
            f.write_str("S-")?;
        }
        write!(f, "{name}>")
    }
}

/// Where a binding applies. A mode that finds no binding falls back to its parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// Every list view (overview, alerts, targets); the parent of the others.
    Normal,
    Host,
    Metrics,
    Help,
    /// Typing into the filter or the command palette: unbound printable keys are text.
    Prompt,
}

impl Mode {
    pub const ALL: [Mode; 5] = [
        Mode::Normal,
        Mode::Host,
        Mode::Metrics,
        Mode::Help,
        Mode::Prompt,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::Host => "host",
            Mode::Metrics => "metrics",
            Mode::Help => "help",
            Mode::Prompt => "prompt",
        }
    }

    pub fn from_name(s: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.name() == s)
    }

    /// The prompt has no parent: an unbound `j` there is the letter j.
    pub fn parent(self) -> Option<Mode> {
        match self {
            Mode::Normal | Mode::Prompt => None,
            Mode::Host | Mode::Metrics | Mode::Help => Some(Mode::Normal),
        }
    }
}

/// One effective binding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub key: Key,
    pub action: Action,
    /// The file's `desc`, else the action's doc line.
    pub desc: String,
}

/// A resolved keymap: per mode, bindings in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Keymap {
    modes: BTreeMap<Mode, Vec<Binding>>,
}

/// One entry as read from a file; `action == None` is `run = "none"` (unbind).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    mode: Mode,
    key: Key,
    action: Option<Action>,
    desc: Option<String>,
}

impl Keymap {
    /// The embedded default. A broken embedded file is caught by the test suite; at run time
    /// it degrades to an empty map rather than panicking.
    pub fn embedded_default() -> Keymap {
        parse(DEFAULT_TOML, "keymaps/default.toml").unwrap_or_default()
    }

    /// The embedded default with `text` (a user file) merged over it.
    pub fn with_overrides(text: &str, origin: &str) -> Result<Keymap, ConfigError> {
        let mut map = Keymap::embedded_default();
        map.merge(entries(text, origin)?);
        Ok(map)
    }

    /// Read a user keymap file and merge it over the embedded default.
    pub fn load(path: &Path) -> Result<Keymap, ConfigError> {
        let origin = path.display().to_string();
        let whole = |message: String| ConfigError {
            problems: vec![Problem {
                file: origin.clone(),
                line: 0,
                col: 0,
                message,
            }],
        };
        use crate::capped::{CappedError, read_file};
        let bytes = read_file(path, MAX_FILE_SIZE).map_err(|e| match e {
            CappedError::Open(e) | CappedError::Read(e) => {
                whole(format!("cannot read the keymap file: {e}"))
            }
            CappedError::TooLarge { cap } => whole(format!(
                "the keymap file is larger than {cap} bytes; a keymap is a few KiB"
            )),
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            whole(format!(
                "cannot read the keymap file: {e}; keymaps must be UTF-8 TOML"
            ))
        })?;
        Keymap::with_overrides(&text, &origin)
    }

    fn merge(&mut self, entries: Vec<Entry>) {
        for e in entries {
            let list = self.modes.entry(e.mode).or_default();
            let existing = list.iter().position(|b| b.key == e.key);
            match (e.action, existing) {
                (None, Some(i)) => {
                    list.remove(i);
                }
                (None, None) => {}
                (Some(action), at) => {
                    let b = Binding {
                        key: e.key,
                        action,
                        desc: e.desc.unwrap_or_else(|| action.doc().to_string()),
                    };
                    match at.and_then(|i| list.get_mut(i)) {
                        Some(slot) => *slot = b,
                        None => list.push(b),
                    }
                }
            }
        }
    }

    /// The action for a key in a mode, falling back to the mode's parent.
    pub fn lookup(&self, mode: Mode, key: &Key) -> Option<Action> {
        let mut m = Some(mode);
        while let Some(cur) = m {
            if let Some(b) = self.bindings(cur).iter().find(|b| b.key == *key) {
                return Some(b.action);
            }
            m = cur.parent();
        }
        None
    }

    pub fn bindings(&self, mode: Mode) -> &[Binding] {
        self.modes.get(&mode).map(Vec::as_slice).unwrap_or_default()
    }

    /// Keys bound to an action in a mode (not its parent), for hints and help.
    pub fn keys_for(&self, mode: Mode, action: Action) -> Vec<Key> {
        self.bindings(mode)
            .iter()
            .filter(|b| b.action == action)
            .map(|b| b.key)
            .collect()
    }

    /// The effective map as a keymap file (what `--print-keymap` shows); it parses back equal.
    pub fn to_toml(&self) -> String {
        let mut out = String::from("# nocscope effective keymap\n");
        for (mode, list) in &self.modes {
            if list.is_empty() {
                continue;
            }
            out.push_str(&format!("\n{} = [\n", mode.name()));
            for b in list {
                out.push_str(&format!(
                    "  {{ on = {}, run = {}, desc = {} }},\n",
                    toml_str(&b.key.to_string()),
                    toml_str(b.action.name()),
                    toml_str(&b.desc)
                ));
            }
            out.push_str("]\n");
        }
        out
    }
}

fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Parse a complete keymap file on its own (no default under it).
pub fn parse(text: &str, origin: &str) -> Result<Keymap, ConfigError> {
    let mut map = Keymap::default();
    map.merge(entries(text, origin)?);
    Ok(map)
}

fn entries(text: &str, origin: &str) -> Result<Vec<Entry>, ConfigError> {
    let mut r = Reporter::new(text, origin);
    let root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let msg = e.message().trim_end().replace('\n', "; ");
            r.problem(
                &span,
                format!("invalid TOML: {msg}; see https://toml.io for the syntax"),
            );
            return Err(ConfigError {
                problems: r.problems,
            });
        }
    };
    let mut out = Vec::new();
    // (mode, key) → line of its first definition in this file, to name both on a duplicate.
    let mut seen: BTreeMap<(Mode, Key), u32> = BTreeMap::new();
    let modes_hint = Mode::ALL.map(Mode::name).join(", ");
    for (mode_key, value) in root.get_ref().iter() {
        let name: &str = mode_key.get_ref();
        let Some(mode) = Mode::from_name(name) else {
            let hint = match closest(name, &Mode::ALL.map(Mode::name)) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("accepted modes: {modes_hint}"),
            };
            r.problem(
                &mode_key.span(),
                format!("unknown mode `{}`; {hint}", name.escape_debug()),
            );
            continue;
        };
        let DeValue::Array(items) = value.get_ref() else {
            r.problem(
                &value.span(),
                format!(
                    "`{name}` must be an array of {{ on, run, desc }} entries, found {}",
                    type_name(value.get_ref())
                ),
            );
            continue;
        };
        for item in items.iter() {
            if let Some(e) = entry(&mut r, mode, item, &mut seen) {
                out.push(e);
            }
        }
    }
    if r.problems.is_empty() {
        Ok(out)
    } else {
        r.problems.sort_by_key(|p| (p.line, p.col));
        Err(ConfigError {
            problems: r.problems,
        })
    }
}

fn entry(
    r: &mut Reporter<'_>,
    mode: Mode,
    item: &Spanned<DeValue<'_>>,
    seen: &mut BTreeMap<(Mode, Key), u32>,
) -> Option<Entry> {
    let DeValue::Table(table) = item.get_ref() else {
        r.problem(
            &item.span(),
            format!(
                "a binding in `{}` must be a table like {{ on = \"j\", run = \"down\" }}, found {}",
                mode.name(),
                type_name(item.get_ref())
            ),
        );
        return None;
    };
    let mut on = None;
    let mut run = None;
    let mut desc = None;
    let mut ok = true;
    for (k, v) in table.iter() {
        let key: &str = k.get_ref();
        let slot = match key {
            "on" => &mut on,
            "run" => &mut run,
            "desc" => &mut desc,
            other => {
                r.problem(
                    &k.span(),
                    format!(
                        "unknown field `{}` in a `{}` binding; accepted: on, run, desc",
                        other.escape_debug(),
                        mode.name()
                    ),
                );
                ok = false;
                continue;
            }
        };
        match v.get_ref() {
            DeValue::String(s) => *slot = Some((s.to_string(), v.span())),
            other => {
                r.problem(
                    &v.span(),
                    format!("`{key}` must be a string, found {}", type_name(other)),
                );
                ok = false;
            }
        }
    }
    let Some((on, on_span)) = on else {
        if ok {
            r.problem(
                &item.span(),
                format!(
                    "a `{}` binding has no `on`; give the key, like on = \"j\"",
                    mode.name()
                ),
            );
        }
        return None;
    };
    let key = match Key::parse(&on) {
        Ok(k) => Some(k),
        Err(e) => {
            r.problem(&on_span, e.to_string());
            None
        }
    };
    let Some((run, run_span)) = run else {
        r.problem(
            &item.span(),
            format!(
                "the `{}` binding for `{}` has no `run`; name an action, or \"{UNBIND}\" to unbind",
                mode.name(),
                on.escape_debug()
            ),
        );
        return None;
    };
    let action = if run == UNBIND {
        Some(None)
    } else {
        match Action::from_name(&run) {
            Some(a) => Some(Some(a)),
            None => {
                let hint = match closest(&run, &Action::ALL.map(Action::name)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "`nocscope --print-keymap` and keymaps/README.md list the actions"
                        .to_string(),
                };
                r.problem(
                    &run_span,
                    format!(
                        "unknown action `{}` for key `{}`; {hint}",
                        run.escape_debug(),
                        on.escape_debug()
                    ),
                );
                None
            }
        }
    };
    let key = key?;
    let line = r.line_of(&on_span);
    if let Some(first) = seen.get(&(mode, key)) {
        r.problem(
            &on_span,
            format!(
                "key `{key}` is bound twice in `{}`: lines {first} and {line}; keep one",
                mode.name()
            ),
        );
        return None;
    }
    seen.insert((mode, key), line);
    Some(Entry {
        mode,
        key,
        action: action?,
        desc: desc.map(|(d, _)| d),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diag::LineIndex;

    #[test]
    fn key_notation_table() {
        let cases: &[(&str, Key, &str)] = &[
            ("j", Key::plain(KeyCode::Char('j')), "j"),
            ("G", Key::plain(KeyCode::Char('G')), "G"),
            ("<", Key::plain(KeyCode::Char('<')), "<lt>"),
            ("<lt>", Key::plain(KeyCode::Char('<')), "<lt>"),
            ("<Space>", Key::plain(KeyCode::Char(' ')), "<Space>"),
            ("<enter>", Key::plain(KeyCode::Enter), "<Enter>"),
            ("<CR>", Key::plain(KeyCode::Enter), "<Enter>"),
            ("<C-f>", Key::ctrl('f'), "<C-f>"),
            ("<C-F>", Key::ctrl('f'), "<C-f>"),
            ("<c-->", Key::ctrl('-'), "<C-->"),
            ("<F5>", Key::plain(KeyCode::F(5)), "<F5>"),
            ("<BS>", Key::plain(KeyCode::Backspace), "<BS>"),
            (
                "<S-Tab>",
                Key {
                    shift: true,
                    ..Key::plain(KeyCode::Tab)
                },
                "<S-Tab>",
            ),
            (
                "<A-j>",
                Key {
                    alt: true,
                    ..Key::plain(KeyCode::Char('j'))
                },
                "<A-j>",
            ),
        ];
        for (text, key, shown) in cases {
            assert_eq!(Key::parse(text).as_ref(), Ok(key), "parse {text}");
            assert_eq!(key.to_string(), *shown, "display {text}");
            assert_eq!(Key::parse(shown).as_ref(), Ok(key), "reparse {shown}");
        }
    }

    #[test]
    fn bad_keys_say_what_is_accepted() {
        for bad in ["", "jj", "<Foo>", "<C-", "<F13>", "<S-g>", "\u{1b}"] {
            let err = Key::parse(bad).expect_err(bad).to_string();
            assert!(
                err.contains("<Enter>") || err.contains("capital"),
                "{bad:?} → {err}"
            );
        }
    }

    #[test]
    fn positions_are_one_based() {
        assert_eq!(LineIndex::new("ab\ncd").position(0), (1, 1));
        assert_eq!(LineIndex::new("ab\ncd").position(4), (2, 2));
        assert_eq!(LineIndex::new("ab").position(99), (1, 3));
    }
}
