//! Checking single `[palette]` and `[styles]` entries and the colour names they use.
//! Must not read files or follow `inherits`.

use std::collections::{BTreeSet, HashMap};

use toml::de::DeValue;

use super::cascade::{ColorRef, Key, RawStyle, Val};
use super::file::FileCheck;
use super::{COLOR_HINT, STYLE_KEYS, ThemeColor};
use crate::config::diag::{closest, type_name};

fn valid_palette_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'))
}

pub(super) fn palette_entry(
    fc: &mut FileCheck<'_>,
    key: &Key<'_>,
    value: &Val<'_>,
) -> Option<ThemeColor> {
    let name = key.get_ref().as_ref();
    if name == "reset" || !valid_palette_name(name) {
        fc.problem(
            &key.span(),
            format!(
                "invalid palette name \"{}\"; names start with a-z and use a-z, 0-9, _ and - (and are not \"reset\")",
                name.escape_debug()
            ),
        );
        return None;
    }
    let DeValue::String(text) = value.get_ref() else {
        fc.problem(
            &value.span(),
            format!(
                "palette entry `{name}` must be a colour string, found {}; {COLOR_HINT}",
                type_name(value.get_ref())
            ),
        );
        return None;
    };
    match ThemeColor::parse(text) {
        Some(c) => Some(c),
        None => {
            let why = if valid_palette_name(text) {
                " (palette entries are colours, not names of other entries)"
            } else {
                ""
            };
            fc.problem(
                &value.span(),
                format!(
                    "invalid colour \"{}\" for palette entry `{name}`{why}; {COLOR_HINT}",
                    text.escape_debug()
                ),
            );
            None
        }
    }
}

/// What a style's colour names are checked against.
pub(super) struct Names<'a> {
    pub(super) palette: &'a HashMap<String, ThemeColor>,
    pub(super) broken: &'a BTreeSet<String>,
    /// False when a parent failed: its palette is unknown, so every name might be in it.
    pub(super) check: bool,
}

pub(super) fn style_entry(
    fc: &mut FileCheck<'_>,
    scope: &str,
    value: &Val<'_>,
    names: &Names<'_>,
) -> Option<RawStyle> {
    let table = match value.get_ref() {
        // Shorthand: `muted = "grey"` sets the foreground only.
        DeValue::String(_) => {
            let fg = color_ref(fc, scope, "fg", value, names)?;
            return Some(RawStyle {
                fg: Some(fg),
                ..RawStyle::default()
            });
        }
        DeValue::Table(t) => t,
        other => {
            fc.problem(
                &value.span(),
                format!(
                    "style \"{scope}\" must be a table like {{ fg = \"red\", bold = true }} or a colour string, found {}",
                    type_name(other)
                ),
            );
            return None;
        }
    };
    let mut style = RawStyle::default();
    let mut ok = true;
    for (key, v) in table.iter() {
        let field = key.get_ref().as_ref();
        match field {
            "fg" | "bg" => match color_ref(fc, scope, field, v, names) {
                Some(c) if field == "fg" => style.fg = Some(c),
                Some(c) => style.bg = Some(c),
                None => ok = false,
            },
            "bold" | "dim" | "italic" | "underline" | "reversed" => {
                let DeValue::Boolean(b) = v.get_ref() else {
                    fc.problem(
                        &v.span(),
                        format!(
                            "`{field}` of style \"{scope}\" must be true or false, found {}",
                            type_name(v.get_ref())
                        ),
                    );
                    ok = false;
                    continue;
                };
                let slot = match field {
                    "bold" => &mut style.bold,
                    "dim" => &mut style.dim,
                    "italic" => &mut style.italic,
                    "underline" => &mut style.underline,
                    _ => &mut style.reversed,
                };
                *slot = Some(*b);
            }
            other => {
                let hint = did_you_mean(other, STYLE_KEYS, "accepted keys");
                fc.problem(
                    &key.span(),
                    format!(
                        "unknown key `{}` in style \"{scope}\"; {hint}",
                        other.escape_debug()
                    ),
                );
                ok = false;
            }
        }
    }
    ok.then_some(style)
}

fn color_ref(
    fc: &mut FileCheck<'_>,
    scope: &str,
    field: &str,
    value: &Val<'_>,
    names: &Names<'_>,
) -> Option<ColorRef> {
    let accepted = format!("{COLOR_HINT}, or a name from [palette]");
    let DeValue::String(text) = value.get_ref() else {
        fc.problem(
            &value.span(),
            format!(
                "`{field}` of style \"{scope}\" must be a colour string, found {}; {accepted}",
                type_name(value.get_ref())
            ),
        );
        return None;
    };
    let text: &str = text.as_ref();
    let looks_literal = text == "reset" || text.starts_with('#') || text.contains(':');
    if looks_literal {
        return match ThemeColor::parse(text) {
            Some(c) => Some(ColorRef::Literal(c)),
            None => {
                fc.problem(
                    &value.span(),
                    format!(
                        "invalid colour \"{}\" for `{field}` of style \"{scope}\"; {accepted}",
                        text.escape_debug()
                    ),
                );
                None
            }
        };
    }
    let unknown = !names.palette.contains_key(text) && !names.broken.contains(text);
    if names.check && unknown {
        let mut names: Vec<&str> = names.palette.keys().map(String::as_str).collect();
        names.sort_unstable();
        let hint = match closest(text, &names) {
            Some(near) => format!("did you mean \"{near}\"?"),
            None if names.is_empty() => {
                format!("the palette is empty; define it under [palette] or {COLOR_HINT}")
            }
            None => format!("the palette has {}; or {COLOR_HINT}", names.join(", ")),
        };
        fc.problem(
            &value.span(),
            format!(
                "unknown palette name \"{}\" for `{field}` of style \"{scope}\"; {hint}",
                text.escape_debug()
            ),
        );
        return None;
    }
    Some(ColorRef::Name(text.to_string()))
}

pub(super) fn did_you_mean(word: &str, accepted: &[&str], what: &str) -> String {
    match closest(word, accepted) {
        Some(near) => format!("did you mean `{near}`?"),
        None => format!("{what}: {}", accepted.join(", ")),
    }
}
