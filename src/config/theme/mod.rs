//! Colour themes: TOML palettes with `inherits` and dotted scopes that fall back
//! (`status.critical` → `status` → `default`), colour-depth fallback and NO_COLOR.
//! Produces plain style data; must not depend on the terminal or on ratatui.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use super::{ConfigError, Problem};

mod cascade;
mod color;
mod entries;
mod file;

use cascade::check_and_resolve;
pub use color::{ColorDepth, StyleSpec, ThemeColor};

/// Every scope the UI draws with, sorted (lookups binary-search it). A theme may also set the
/// groups these share a prefix with (`status`, `list`, …) as fallbacks for their members.
pub const SCOPES: &[&str] = &[
    "alert.firing",
    "alert.pending",
    "anomaly",
    "banner.paused",
    "banner.replay",
    "border",
    "border.focused",
    "chart.anomaly",
    "chart.axis",
    "chart.line",
    "chart.threshold",
    "completion",
    "completion.selected",
    "default",
    "error",
    "header",
    "header.live",
    "header.paused",
    "header.replay",
    "help.desc",
    "help.key",
    "help.section",
    "input",
    "input.prompt",
    "list.header",
    "list.match",
    "list.selected",
    "muted",
    "sparkline",
    "status.critical",
    "status.degraded",
    "status.major",
    "status.minor",
    "status.nodata",
    "status.ok",
    "status.unknown",
    "title",
    "warning",
];

/// The themes shipped in themes/, in the order help and messages list them.
pub const BUILTIN_NAMES: &[&str] = &["dark", "light", "high-contrast", "mono"];

const DARK: &str = include_str!("../../../themes/dark.toml");
const LIGHT: &str = include_str!("../../../themes/light.toml");
const HIGH_CONTRAST: &str = include_str!("../../../themes/high-contrast.toml");
const MONO: &str = include_str!("../../../themes/mono.toml");

/// A theme is a few KiB; the cap keeps `inherits = "/dev/zero"` from eating memory.
pub const MAX_THEME_SIZE: u64 = 1 << 20;

/// Deeper chains are certainly a mistake, and the cap bounds the recursion.
const MAX_INHERIT_DEPTH: usize = 8;

const TOP_KEYS: &[&str] = &["inherits", "palette", "styles"];
const STYLE_KEYS: &[&str] = &["fg", "bg", "bold", "dim", "italic", "underline", "reversed"];
const COLOR_HINT: &str =
    "use \"#rrggbb\", \"ansi:0\"…\"ansi:15\", \"idx:0\"…\"idx:255\" or \"reset\"";

/// Scope groups (`status`, `list`, …): every proper dotted prefix of a scope.
fn groups() -> impl Iterator<Item = &'static str> {
    SCOPES
        .iter()
        .flat_map(|s| s.match_indices('.').filter_map(|(i, _)| s.get(..i)))
}

/// Everything `style()` resolves directly, sorted: the scopes and their groups.
static KEYS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let all: BTreeSet<&'static str> = SCOPES.iter().copied().chain(groups()).collect();
    all.into_iter().collect()
});

/// A resolved theme. `style(scope)` never fails: unknown scopes fall back to `default`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Theme {
    /// One style per entry of `KEYS`, cascade already applied, so a lookup is a binary search.
    styles: Vec<StyleSpec>,
}

/// A theme with what was suspicious but not wrong in it (unused palette entries, empty styles).
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedTheme {
    pub theme: Theme,
    pub warnings: Vec<Problem>,
}

static BUILTINS: LazyLock<Vec<Theme>> = LazyLock::new(|| {
    BUILTIN_NAMES
        .iter()
        .map(|name| {
            let text = builtin_text(name).unwrap_or_default();
            // The shipped files are tested to parse; an empty theme keeps the console usable
            // if that test was skipped.
            Theme::parse(text, &builtin_origin(name), Path::new("themes")).unwrap_or_default()
        })
        .collect()
});

/// The embedded text of a shipped theme (byte-identical to themes/<name>.toml).
pub fn builtin_text(name: &str) -> Option<&'static str> {
    match name {
        "dark" => Some(DARK),
        "light" => Some(LIGHT),
        "high-contrast" => Some(HIGH_CONTRAST),
        "mono" => Some(MONO),
        _ => None,
    }
}

fn builtin_origin(name: &str) -> String {
    format!("themes/{name}.toml")
}

impl Theme {
    /// The embedded default (themes/dark.toml).
    pub fn embedded_default() -> Theme {
        Theme::builtin("dark").unwrap_or_default()
    }

    /// A shipped theme by name (`dark`, `light`, `high-contrast`, `mono`).
    pub fn builtin(name: &str) -> Option<Theme> {
        let i = BUILTIN_NAMES.iter().position(|n| *n == name)?;
        BUILTINS.get(i).cloned()
    }

    /// What a user names in the config or on the command line: a shipped theme's name, else a
    /// path (relative ones against `base_dir`).
    pub fn lookup(name_or_path: &str, base_dir: &Path) -> Result<Theme, ConfigError> {
        match Theme::builtin(name_or_path) {
            Some(theme) => Ok(theme),
            None => Theme::load(&base_dir.join(name_or_path)),
        }
    }

    /// Read, validate and resolve a theme file and everything it inherits.
    pub fn load(path: &Path) -> Result<Theme, ConfigError> {
        Theme::load_checked(path).map(|l| l.theme)
    }

    /// [`Theme::load`], also returning the warnings.
    pub fn load_checked(path: &Path) -> Result<LoadedTheme, ConfigError> {
        let origin = path.display().to_string();
        let text = read_theme(path).map_err(|message| ConfigError {
            problems: vec![Problem {
                file: origin.clone(),
                line: 0,
                col: 0,
                message,
            }],
        })?;
        let base_dir = parent_dir(path);
        check_and_resolve(&text, &origin, &base_dir, identity_of(path))
    }

    /// Validate and resolve theme text. `origin` names it in problems; a relative `inherits`
    /// path resolves against `base_dir`.
    pub fn parse(text: &str, origin: &str, base_dir: &Path) -> Result<Theme, ConfigError> {
        Theme::parse_checked(text, origin, base_dir).map(|l| l.theme)
    }

    /// [`Theme::parse`], also returning the warnings.
    pub fn parse_checked(
        text: &str,
        origin: &str,
        base_dir: &Path,
    ) -> Result<LoadedTheme, ConfigError> {
        check_and_resolve(text, origin, base_dir, format!("text:{origin}"))
    }

    /// Style of a dotted scope, falling back one segment at a time to `default`.
    pub fn style(&self, scope: &str) -> StyleSpec {
        let mut s = scope;
        loop {
            if let Ok(i) = KEYS.binary_search(&s) {
                return self.styles.get(i).copied().unwrap_or_default();
            }
            match s.rfind('.').and_then(|dot| s.get(..dot)) {
                Some(shorter) => s = shorter,
                None => break,
            }
        }
        match KEYS.binary_search(&"default") {
            Ok(i) => self.styles.get(i).copied().unwrap_or_default(),
            Err(_) => StyleSpec::default(),
        }
    }

    /// The theme as a terminal of `depth` can show it (see [`ThemeColor::downgrade`]).
    pub fn for_depth(&self, depth: ColorDepth) -> Theme {
        Theme {
            styles: self.styles.iter().map(|s| s.for_depth(depth)).collect(),
        }
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Two spellings of one file must be one link of the chain, or a cycle goes unnoticed.
fn identity_of(path: &Path) -> String {
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    format!("file:{}", canonical.display())
}

fn read_theme(path: &Path) -> Result<String, String> {
    use crate::capped::{CappedError, read_file};
    let bytes = read_file(path, MAX_THEME_SIZE).map_err(|e| match e {
        CappedError::Open(e) => format!("cannot open the theme: {}", super::check::io_reason(&e)),
        CappedError::Read(e) => format!("cannot read the theme: {}", super::check::io_reason(&e)),
        CappedError::TooLarge { cap } => {
            format!("the theme is larger than {cap} bytes; a theme is a few KiB of TOML")
        }
    })?;
    String::from_utf8(bytes)
        .map_err(|_| "the theme is not valid UTF-8; TOML files must be UTF-8 text".to_string())
}

#[cfg(test)]
mod tests {
    use super::color::indexed_rgb;
    use super::*;
    use crate::config::diag::{closest, levenshtein};

    #[test]
    fn scopes_are_sorted_and_unique() {
        assert!(SCOPES.windows(2).all(|w| w[0] < w[1]), "{SCOPES:?}");
        assert!(KEYS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn groups_are_the_scope_prefixes() {
        let groups: BTreeSet<&str> = groups().collect();
        let want: BTreeSet<&str> = [
            "alert",
            "banner",
            "border",
            "chart",
            "completion",
            "header",
            "help",
            "input",
            "list",
            "status",
        ]
        .into_iter()
        .collect();
        assert_eq!(groups, want);
        assert_eq!(KEYS.len(), SCOPES.len() + 6);
    }

    #[test]
    fn indexed_rgb_table() {
        for (i, rgb) in [
            (0, (0, 0, 0)),
            (9, (255, 0, 0)),
            (16, (0, 0, 0)),
            (21, (0, 0, 255)),
            (67, (95, 135, 175)),
            (196, (255, 0, 0)),
            (231, (255, 255, 255)),
            (232, (8, 8, 8)),
            (244, (128, 128, 128)),
            (255, (238, 238, 238)),
        ] {
            assert_eq!(indexed_rgb(i), rgb, "index {i}");
        }
    }

    #[test]
    fn levenshtein_table() {
        for (a, b, d) in [
            ("", "", 0),
            ("a", "", 1),
            ("", "ab", 2),
            ("kitten", "sitting", 3),
            ("ab", "ba", 1),
            ("titel", "title", 1),
            ("abc", "ca", 3),
        ] {
            assert_eq!(levenshtein(a, b), d, "{a} {b}");
        }
    }

    #[test]
    fn closest_table() {
        let cases: &[(&str, &[&str], Option<&str>)] = &[
            ("pallete", TOP_KEYS, Some("palette")),
            ("style", TOP_KEYS, Some("styles")),
            ("inherit", TOP_KEYS, Some("inherits")),
            ("reverse", STYLE_KEYS, Some("reversed")),
            ("colour", STYLE_KEYS, None),
            ("darc", BUILTIN_NAMES, Some("dark")),
            ("drak", BUILTIN_NAMES, Some("dark")),
            ("titel", &["title", "muted"], Some("title")),
            ("lihgt", BUILTIN_NAMES, Some("light")),
        ];
        for (word, accepted, want) in cases {
            assert_eq!(closest(word, accepted), *want, "closest({word:?})");
        }
    }
}
