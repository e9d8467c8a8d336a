//! Colour themes: TOML palettes with `inherits` and dotted scopes that fall back
//! (`status.critical` → `status` → `default`), colour-depth fallback and NO_COLOR.
//! Produces plain style data; must not depend on the terminal or on ratatui.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use super::diag::{Reporter, closest, closest_within, type_name};
use super::{ConfigError, Problem};

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

const DARK: &str = include_str!("../../themes/dark.toml");
const LIGHT: &str = include_str!("../../themes/light.toml");
const HIGH_CONTRAST: &str = include_str!("../../themes/high-contrast.toml");
const MONO: &str = include_str!("../../themes/mono.toml");

/// A theme is a few KiB; the cap keeps `inherits = "/dev/zero"` from eating memory.
pub const MAX_THEME_SIZE: u64 = 1 << 20;

/// Deeper chains are certainly a mistake, and the cap bounds the recursion.
const MAX_INHERIT_DEPTH: usize = 8;

const TOP_KEYS: &[&str] = &["inherits", "palette", "styles"];
const STYLE_KEYS: &[&str] = &["fg", "bg", "bold", "dim", "italic", "underline", "reversed"];
const COLOR_HINT: &str =
    "use \"#rrggbb\", \"ansi:0\"…\"ansi:15\", \"idx:0\"…\"idx:255\" or \"reset\"";

/// A colour as a theme names it; the UI converts it to its terminal library's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThemeColor {
    /// The terminal's own default colour.
    Reset,
    /// One of the 16 ANSI colours (0–15).
    Ansi(u8),
    /// The 256-colour palette.
    Indexed(u8),
    Rgb(u8, u8, u8),
}

/// What the UI needs to draw one scope.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StyleSpec {
    pub fg: Option<ThemeColor>,
    pub bg: Option<ThemeColor>,
    pub bold: bool,
    pub dim: bool,
    pub italic: bool,
    pub underline: bool,
    pub reversed: bool,
}

/// How many colours the terminal shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ColorDepth {
    /// NO_COLOR or a dumb terminal: attributes (bold, reverse) only.
    Mono,
    Ansi16,
    Indexed256,
    TrueColor,
}

impl ColorDepth {
    /// The depth the environment asks for. `NO_COLOR` (any non-empty value, per no-color.org)
    /// wins; `TERM=dumb` comes next because such a terminal shows escapes as garbage whatever
    /// `COLORTERM` a parent shell leaked; then `COLORTERM=truecolor|24bit`, a `TERM` naming
    /// `256color`, and 16 colours for everything else.
    pub fn detect(env: &dyn Fn(&str) -> Option<String>) -> ColorDepth {
        let var = |name: &str| env(name).filter(|v| !v.is_empty());
        if var("NO_COLOR").is_some() {
            return ColorDepth::Mono;
        }
        let term = var("TERM").unwrap_or_default();
        if term == "dumb" {
            return ColorDepth::Mono;
        }
        if let Some(ct) = var("COLORTERM")
            && (ct.eq_ignore_ascii_case("truecolor") || ct.eq_ignore_ascii_case("24bit"))
        {
            return ColorDepth::TrueColor;
        }
        if term.contains("256color") {
            return ColorDepth::Indexed256;
        }
        ColorDepth::Ansi16
    }
}

/// xterm's defaults for the 16 ANSI colours. Terminals redefine these freely, so they are only
/// the best guess for mapping towards them, never a target for the 256-colour conversion.
const ANSI_RGB: [(u8, u8, u8); 16] = [
    (0, 0, 0),
    (205, 0, 0),
    (0, 205, 0),
    (205, 205, 0),
    (0, 0, 238),
    (205, 0, 205),
    (0, 205, 205),
    (229, 229, 229),
    (127, 127, 127),
    (255, 0, 0),
    (0, 255, 0),
    (255, 255, 0),
    (92, 92, 255),
    (255, 0, 255),
    (0, 255, 255),
    (255, 255, 255),
];

const CUBE_LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];

/// The RGB value xterm gives a 256-palette index.
fn indexed_rgb(i: u8) -> (u8, u8, u8) {
    match i {
        0..=15 => ANSI_RGB.get(usize::from(i)).copied().unwrap_or((0, 0, 0)),
        16..=231 => {
            let n = i - 16;
            let level = |k: u8| CUBE_LEVELS.get(usize::from(k)).copied().unwrap_or(0);
            (level(n / 36), level(n / 6 % 6), level(n % 6))
        }
        _ => {
            let v = 8 + (i - 232) * 10;
            (v, v, v)
        }
    }
}

/// "Redmean" weighted distance: close to perceived difference at the cost of a few integer
/// operations, which plain RGB distance is not (it confuses dark blues and greys).
fn distance(a: (u8, u8, u8), b: (u8, u8, u8)) -> u32 {
    let (r1, g1, b1) = (i32::from(a.0), i32::from(a.1), i32::from(a.2));
    let (r2, g2, b2) = (i32::from(b.0), i32::from(b.1), i32::from(b.2));
    let rmean = (r1 + r2) / 2;
    let (dr, dg, db) = (r1 - r2, g1 - g2, b1 - b2);
    let d = (((512 + rmean) * dr * dr) >> 8) + 4 * dg * dg + (((767 - rmean) * db * db) >> 8);
    u32::try_from(d).unwrap_or(u32::MAX)
}

/// Nearest of the 256 palette's cube and grey ramp (16–255: fixed by xterm, unlike the first
/// 16, which terminals redefine). Ties go to the lowest index so results are stable.
fn nearest_256(rgb: (u8, u8, u8)) -> u8 {
    (16..=255u8)
        .map(|i| (distance(rgb, indexed_rgb(i)), i))
        .min()
        .map_or(16, |(_, i)| i)
}

/// The ANSI colour that keeps a colour's hue. Nearest-by-distance would be the obvious choice,
/// but the 16 colours are so sparse that it turns pastels grey (#ff6b6b is nearer to xterm's
/// grey than to its red), and a critical status must not turn grey. So: low-chroma colours go to
/// the nearest of the four greys by brightness; the rest go to the hue's sector, with oranges
/// (from 20°) counted as yellow so that "major" does not look like "critical"; bright variants
/// for colours brighter than xterm's normal ones (205).
fn ansi16_of((r, g, b): (u8, u8, u8)) -> u8 {
    let (r, g, b) = (i32::from(r), i32::from(g), i32::from(b));
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let chroma = max - min;
    if chroma < 40 {
        // Midpoints between xterm's black 0, grey 127, light grey 229 and white 255.
        return match (r + g + b) / 3 {
            ..64 => 0,
            64..178 => 8,
            178..242 => 7,
            _ => 15,
        };
    }
    let hue = if max == r {
        (60 * (g - b) / chroma).rem_euclid(360)
    } else if max == g {
        120 + 60 * (b - r) / chroma
    } else {
        240 + 60 * (r - g) / chroma
    };
    let base = match hue {
        20..90 => 3,
        90..150 => 2,
        150..210 => 6,
        210..270 => 4,
        270..330 => 5,
        _ => 1,
    };
    if max > 230 { base + 8 } else { base }
}

impl ThemeColor {
    /// Parse a colour literal: `#rrggbb`, `ansi:N` (0–15), `idx:N` (0–255) or `reset`.
    /// Palette names are not literals; the theme loader resolves those.
    pub fn parse(text: &str) -> Option<ThemeColor> {
        if text == "reset" {
            return Some(ThemeColor::Reset);
        }
        if let Some(hex) = text.strip_prefix('#') {
            if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let channel = |r: Range<usize>| hex.get(r).and_then(|h| u8::from_str_radix(h, 16).ok());
            return Some(ThemeColor::Rgb(
                channel(0..2)?,
                channel(2..4)?,
                channel(4..6)?,
            ));
        }
        // `u8::from_str` accepts a leading `+`; a colour index never has one.
        let number = |n: &str| {
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                n.parse::<u8>().ok()
            }
        };
        if let Some(n) = text.strip_prefix("ansi:") {
            return number(n).filter(|n| *n < 16).map(ThemeColor::Ansi);
        }
        if let Some(n) = text.strip_prefix("idx:") {
            return number(n).map(ThemeColor::Indexed);
        }
        None
    }

    /// This colour as a terminal of `depth` can show it; `None` at `Mono`. Idempotent: a
    /// colour already within `depth` comes back unchanged.
    pub fn downgrade(self, depth: ColorDepth) -> Option<ThemeColor> {
        use ThemeColor::{Ansi, Indexed, Reset, Rgb};
        Some(match (depth, self) {
            (ColorDepth::Mono, _) => return None,
            (_, Reset) => Reset,
            // Out-of-range ANSI values cannot come from a theme file, but the type allows them;
            // read them as the 256-palette index they would mean to a terminal.
            (ColorDepth::TrueColor | ColorDepth::Indexed256, Ansi(n)) if n >= 16 => Indexed(n),
            (ColorDepth::TrueColor, c) => c,
            (ColorDepth::Indexed256, Rgb(r, g, b)) => Indexed(nearest_256((r, g, b))),
            (ColorDepth::Indexed256, c) => c,
            (ColorDepth::Ansi16, Ansi(n)) | (ColorDepth::Ansi16, Indexed(n)) if n < 16 => Ansi(n),
            (ColorDepth::Ansi16, Ansi(n)) | (ColorDepth::Ansi16, Indexed(n)) => {
                Ansi(ansi16_of(indexed_rgb(n)))
            }
            (ColorDepth::Ansi16, Rgb(r, g, b)) => Ansi(ansi16_of((r, g, b))),
        })
    }
}

impl StyleSpec {
    /// The style with every colour downgraded to `depth`; attributes always survive.
    pub fn for_depth(self, depth: ColorDepth) -> StyleSpec {
        StyleSpec {
            fg: self.fg.and_then(|c| c.downgrade(depth)),
            bg: self.bg.and_then(|c| c.downgrade(depth)),
            ..self
        }
    }
}

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

/// A colour as written in a style: a literal, or a palette name resolved only at the end, so a
/// child's `[palette]` recolours the styles it inherits.
#[derive(Clone, Debug)]
enum ColorRef {
    Literal(ThemeColor),
    Name(String),
}

/// A style as written: `None` fields fall through the cascade.
#[derive(Clone, Debug, Default)]
struct RawStyle {
    fg: Option<ColorRef>,
    bg: Option<ColorRef>,
    bold: Option<bool>,
    dim: Option<bool>,
    italic: Option<bool>,
    underline: Option<bool>,
    reversed: Option<bool>,
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
struct Layer {
    palette: HashMap<String, ThemeColor>,
    styles: HashMap<String, RawStyle>,
}

type Val<'i> = Spanned<DeValue<'i>>;
type Key<'i> = Spanned<DeString<'i>>;

fn check_and_resolve(
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

/// Problems of one file.
struct FileCheck<'a> {
    report: Reporter<'a>,
}

impl FileCheck<'_> {
    fn at(&self, span: &Range<usize>, message: String) -> Problem {
        self.report.at(span, message)
    }

    fn problem(&mut self, span: &Range<usize>, message: String) {
        self.report.problem(span, message);
    }

    fn table<'t, 'i>(&mut self, value: &'t Val<'i>, what: &str) -> Option<&'t DeTable<'i>> {
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
fn check_file(
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

fn valid_palette_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'))
}

fn palette_entry(fc: &mut FileCheck<'_>, key: &Key<'_>, value: &Val<'_>) -> Option<ThemeColor> {
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
struct Names<'a> {
    palette: &'a HashMap<String, ThemeColor>,
    broken: &'a BTreeSet<String>,
    /// False when a parent failed: its palette is unknown, so every name might be in it.
    check: bool,
}

fn style_entry(
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

fn did_you_mean(word: &str, accepted: &[&str], what: &str) -> String {
    match closest(word, accepted) {
        Some(near) => format!("did you mean `{near}`?"),
        None => format!("{what}: {}", accepted.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diag::levenshtein;

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
