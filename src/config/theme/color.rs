//! Theme colours and styles as plain data, and their fallback to what a terminal can show
//! (truecolor → 256 → 16 → attributes only). Knows nothing of files or scopes.

use std::ops::Range;

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
pub(super) fn indexed_rgb(i: u8) -> (u8, u8, u8) {
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
