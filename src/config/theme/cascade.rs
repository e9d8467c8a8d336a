//! A theme file merged over its parents (palette names resolved last) and the cascade from
//! `default` through the scope groups to each scope. Checking the text is file.rs's job.

use std::collections::HashMap;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeString, DeValue};

use super::file::check_file;
use super::{ConfigError, KEYS, LoadedTheme, StyleSpec, Theme, ThemeColor};

/// A colour as written in a style: a literal, or a palette name resolved only at the end, so a
/// child's `[palette]` recolours the styles it inherits.
#[derive(Clone, Debug)]
pub(super) enum ColorRef {
    Literal(ThemeColor),
    Name(String),
}

/// A style as written: `None` fields fall through the cascade.
#[derive(Clone, Debug, Default)]
pub(super) struct RawStyle {
    pub(super) fg: Option<ColorRef>,
    pub(super) bg: Option<ColorRef>,
    pub(super) bold: Option<bool>,
    pub(super) dim: Option<bool>,
    pub(super) italic: Option<bool>,
    pub(super) underline: Option<bool>,
    pub(super) reversed: Option<bool>,
}

impl RawStyle {
    fn overlay(&mut self, top: &RawStyle) {
        fn pick<T: Clone>(low: &mut Option<T>, high: &Option<T>) {
            if high.is_some() {
                low.clone_from(high);
            }
        }
        pick(&mut self.fg, &top.fg);
        pick(&mut self.bg, &top.bg);
        pick(&mut self.bold, &top.bold);
        pick(&mut self.dim, &top.dim);
        pick(&mut self.italic, &top.italic);
        pick(&mut self.underline, &top.underline);
        pick(&mut self.reversed, &top.reversed);
    }
}

/// One file merged over everything it inherits.
#[derive(Default)]
pub(super) struct Layer {
    pub(super) palette: HashMap<String, ThemeColor>,
    pub(super) styles: HashMap<String, RawStyle>,
}

pub(super) type Val<'i> = Spanned<DeValue<'i>>;
pub(super) type Key<'i> = Spanned<DeString<'i>>;

pub(super) fn check_and_resolve(
    text: &str,
    origin: &str,
    base_dir: &Path,
    identity: String,
) -> Result<LoadedTheme, ConfigError> {
    let mut chain = Vec::new();
    let mut warnings = Vec::new();
    let (layer, problems) = check_file(
        text,
        origin,
        base_dir,
        identity,
        &mut chain,
        Some(&mut warnings),
    );
    match layer {
        Some(layer) if problems.is_empty() => Ok(LoadedTheme {
            theme: resolve(&layer),
            warnings,
        }),
        _ => Err(ConfigError { problems }),
    }
}

fn resolve(layer: &Layer) -> Theme {
    let lookup = |c: &Option<ColorRef>| match c {
        Some(ColorRef::Literal(c)) => Some(*c),
        Some(ColorRef::Name(n)) => layer.palette.get(n).copied(),
        None => None,
    };
    let styles = KEYS
        .iter()
        .map(|key| {
            let mut raw = layer.styles.get("default").cloned().unwrap_or_default();
            if *key != "default" {
                let prefixes = key.match_indices('.').filter_map(|(i, _)| key.get(..i));
                for scope in prefixes.chain(std::iter::once(*key)) {
                    if let Some(s) = layer.styles.get(scope) {
                        raw.overlay(s);
                    }
                }
            }
            StyleSpec {
                fg: lookup(&raw.fg),
                bg: lookup(&raw.bg),
                bold: raw.bold.unwrap_or(false),
                dim: raw.dim.unwrap_or(false),
                italic: raw.italic.unwrap_or(false),
                underline: raw.underline.unwrap_or(false),
                reversed: raw.reversed.unwrap_or(false),
            }
        })
        .collect();
    Theme { styles }
}
