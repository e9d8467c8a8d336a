//! Checking one theme file: its top-level keys, its `inherits` chain (cycles, depth, unreadable
//! parents) and the warnings the user can act on. Single entries are entries.rs's job.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use super::cascade::{ColorRef, Layer, Val};
use super::entries::{Names, did_you_mean, palette_entry, style_entry};
use super::{
    BUILTIN_NAMES, KEYS, MAX_INHERIT_DEPTH, TOP_KEYS, builtin_origin, builtin_text, identity_of,
    parent_dir, read_theme,
};
use crate::config::Problem;
use crate::config::diag::{Reporter, closest, closest_within, type_name};

/// Problems of one file.
pub(super) struct FileCheck<'a> {
    report: Reporter<'a>,
}

impl FileCheck<'_> {
    pub(super) fn at(&self, span: &Range<usize>, message: String) -> Problem {
        self.report.at(span, message)
    }

    pub(super) fn problem(&mut self, span: &Range<usize>, message: String) {
        self.report.problem(span, message);
    }

    pub(super) fn table<'t, 'i>(
        &mut self,
        value: &'t Val<'i>,
        what: &str,
    ) -> Option<&'t DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                self.problem(
                    &value.span(),
                    format!("`{what}` must be a table, found {}", type_name(other)),
                );
                None
            }
        }
    }
}

/// Check one file (recursing into what it inherits) and merge it over its parent. Returns the
/// layer only when the file and its ancestors are free of problems. `warnings` is given for the
/// file the user named: warnings about shipped parents would be noise they cannot act on.
pub(super) fn check_file(
    text: &str,
    origin: &str,
    base_dir: &Path,
    identity: String,
    chain: &mut Vec<(String, String)>,
    warnings: Option<&mut Vec<Problem>>,
) -> (Option<Layer>, Vec<Problem>) {
    let mut fc = FileCheck {
        report: Reporter::new(text, origin),
    };
    let root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let mut message = e.message().trim_end().replace('\n', "; ");
            // toml does not name the key; its span is the repeated one.
            if message == "duplicate key"
                && let Some(key) = text.get(span.clone())
            {
                message = format!("duplicate key `{}`", key.escape_debug());
            }
            fc.problem(
                &span,
                format!("invalid TOML: {message}; see https://toml.io for the syntax"),
            );
            return (None, fc.report.problems);
        }
    };
    chain.push((identity, origin.to_string()));

    let mut inherits = None;
    let mut palette_val = None;
    let mut styles_val = None;
    for (key, value) in root.get_ref().iter() {
        match key.get_ref().as_ref() {
            "inherits" => inherits = Some(value),
            "palette" => palette_val = Some(value),
            "styles" => styles_val = Some(value),
            other => {
                let hint = did_you_mean(other, TOP_KEYS, "accepted keys");
                fc.problem(
                    &key.span(),
                    format!(
                        "unknown key `{}` at the top level; {hint}",
                        other.escape_debug()
                    ),
                );
            }
        }
    }

    // The parent first: this file's palette names may be defined there.
    let mut parent_problems = Vec::new();
    let mut parent_ok = true;
    let mut layer = Layer::default();
    if let Some(value) = inherits {
        match inherit(&mut fc, value, base_dir, chain) {
            Inherited::Layer(parent, problems) => {
                parent_ok = parent.is_some() && problems.is_empty();
                layer = parent.unwrap_or_default();
                parent_problems = problems;
            }
            Inherited::Failed => parent_ok = false,
        }
    }
    let inherited_names: BTreeSet<String> = layer.palette.keys().cloned().collect();

    let mut own_palette: Vec<(String, Range<usize>)> = Vec::new();
    // Entries already reported; styles naming them would only repeat the problem.
    let mut broken: BTreeSet<String> = BTreeSet::new();
    if let Some(table) = palette_val.and_then(|v| fc.table(v, "palette")) {
        for (key, value) in table.iter() {
            match palette_entry(&mut fc, key, value) {
                Some(color) => {
                    layer.palette.insert(key.get_ref().to_string(), color);
                    own_palette.push((key.get_ref().to_string(), key.span()));
                }
                None => {
                    broken.insert(key.get_ref().to_string());
                }
            }
        }
    }

    let mut empty_styles = Vec::new();
    if let Some(table) = styles_val.and_then(|v| fc.table(v, "styles")) {
        for (key, value) in table.iter() {
            let scope = key.get_ref().as_ref();
            if KEYS.binary_search(&scope).is_err() {
                // Scopes share long prefixes, so a looser match would suggest unrelated ones.
                let hint = match closest_within(scope, &KEYS, 4) {
                    Some(near) => format!("did you mean \"{near}\"?"),
                    None => "the scopes are listed in themes/README.md".to_string(),
                };
                fc.problem(
                    &key.span(),
                    format!(
                        "unknown scope \"{}\" in [styles]; {hint}",
                        scope.escape_debug()
                    ),
                );
                continue;
            }
            // Names are checked against the palette as merged so far, so a parent's names count
            // but a child's cannot rescue this file: every file is a valid theme on its own.
            let names = Names {
                palette: &layer.palette,
                broken: &broken,
                check: parent_ok,
            };
            if let Some(style) = style_entry(&mut fc, scope, value, &names) {
                let empty = style.fg.is_none()
                    && style.bg.is_none()
                    && style.bold.is_none()
                    && style.dim.is_none()
                    && style.italic.is_none()
                    && style.underline.is_none()
                    && style.reversed.is_none();
                if empty {
                    empty_styles.push(fc.at(
                        &value.span(),
                        format!(
                            "style \"{scope}\" sets nothing, so it changes nothing; remove it or set fg, bg or an attribute"
                        ),
                    ));
                }
                layer.styles.insert(scope.to_string(), style);
            }
        }
    }
    chain.pop();

    if let Some(warnings) = warnings {
        let used: BTreeSet<&str> = layer
            .styles
            .values()
            .flat_map(|s| [&s.fg, &s.bg])
            .filter_map(|c| match c {
                Some(ColorRef::Name(n)) => Some(n.as_str()),
                _ => None,
            })
            .collect();
        for (name, span) in &own_palette {
            // Overriding a parent's entry recolours the parent's styles: that is a use.
            if !used.contains(name.as_str()) && !inherited_names.contains(name) {
                warnings.push(fc.at(
                    span,
                    format!("palette entry `{name}` is not used by any style"),
                ));
            }
        }
        warnings.extend(empty_styles);
        warnings.sort_by_key(|p| (p.line, p.col));
    }

    let mut problems = fc.report.problems;
    problems.sort_by_key(|p| (p.line, p.col));
    problems.dedup();
    let ok = problems.is_empty() && parent_ok;
    problems.extend(parent_problems);
    (ok.then_some(layer), problems)
}

enum Inherited {
    Layer(Option<Layer>, Vec<Problem>),
    /// The problem is recorded in this file (bad value, unreadable parent, cycle).
    Failed,
}

fn inherit(
    fc: &mut FileCheck<'_>,
    value: &Val<'_>,
    base_dir: &Path,
    chain: &mut Vec<(String, String)>,
) -> Inherited {
    let span = value.span();
    let accepted = format!(
        "give a shipped theme ({}) or a path to a .toml file, relative to this one",
        BUILTIN_NAMES.join(", ")
    );
    let name = match value.get_ref() {
        DeValue::String(s) if !s.is_empty() => s.as_ref(),
        DeValue::String(_) => {
            fc.problem(&span, format!("`inherits` must not be empty; {accepted}"));
            return Inherited::Failed;
        }
        other => {
            fc.problem(
                &span,
                format!(
                    "`inherits` must be a string, found {}; {accepted}",
                    type_name(other)
                ),
            );
            return Inherited::Failed;
        }
    };
    let is_path = name.contains('/') || name.contains('\\') || name.ends_with(".toml");
    let (identity, origin, text, dir) = if is_path {
        // `./a.toml` and `a.toml` are one file; show it one way in messages.
        let path: PathBuf = base_dir
            .join(name)
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .collect();
        match read_theme(&path) {
            Ok(text) => (
                identity_of(&path),
                path.display().to_string(),
                text,
                parent_dir(&path),
            ),
            Err(why) => {
                fc.problem(
                    &span,
                    format!(
                        "cannot inherit \"{}\" ({}): {}; {accepted}",
                        name.escape_debug(),
                        path.display(),
                        why.trim_start_matches("cannot open the theme: ")
                    ),
                );
                return Inherited::Failed;
            }
        }
    } else {
        match builtin_text(name) {
            Some(text) => (
                format!("builtin:{name}"),
                builtin_origin(name),
                text.to_string(),
                PathBuf::from("themes"),
            ),
            None => {
                let hint = match closest(name, BUILTIN_NAMES) {
                    Some(near) => format!("did you mean \"{near}\"? "),
                    None => String::new(),
                };
                fc.problem(
                    &span,
                    format!(
                        "unknown theme \"{}\" in `inherits`; {hint}{accepted} (a path contains `/` or ends in .toml)",
                        name.escape_debug()
                    ),
                );
                return Inherited::Failed;
            }
        }
    };
    if let Some(first) = chain.iter().position(|(id, _)| *id == identity) {
        let mut names: Vec<&str> = chain
            .get(first..)
            .unwrap_or_default()
            .iter()
            .map(|(_, o)| o.as_str())
            .collect();
        names.push(&origin);
        fc.problem(
            &span,
            format!(
                "inheritance cycle: {}; remove one of these `inherits`",
                names.join(" → ")
            ),
        );
        return Inherited::Failed;
    }
    if chain.len() >= MAX_INHERIT_DEPTH {
        fc.problem(
            &span,
            format!("themes inherit more than {MAX_INHERIT_DEPTH} levels deep; flatten the chain"),
        );
        return Inherited::Failed;
    }
    let (layer, problems) = check_file(&text, &origin, &dir, identity, chain, None);
    Inherited::Layer(layer, problems)
}
