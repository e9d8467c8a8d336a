//! The shipped themes: each loads with no problems and no warnings, resolves every scope, keeps
//! severities apart (by colour contrast and, without colour, by attributes), and its embedded
//! copy is byte-identical to the file in themes/.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use nocscope::config::theme::{
    BUILTIN_NAMES, ColorDepth, SCOPES, StyleSpec, Theme, ThemeColor, builtin_text,
};

fn themes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("themes")
}

const SEVERITIES: &[&str] = &[
    "status.critical",
    "status.major",
    "status.minor",
    "status.degraded",
    "status.unknown",
    "status.ok",
    "status.nodata",
];

#[test]
fn embedded_text_equals_the_files() {
    for name in BUILTIN_NAMES {
        let path = themes_dir().join(format!("{name}.toml"));
        let on_disk = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let embedded = builtin_text(name).unwrap_or_else(|| panic!("{name} is not embedded"));
        assert!(
            embedded.as_bytes() == on_disk,
            "{name}: embedded copy differs from the file"
        );
    }
    assert_eq!(builtin_text("solarized"), None);
}

#[test]
fn every_shipped_file_loads_without_problems_or_warnings() {
    for name in BUILTIN_NAMES {
        let path = themes_dir().join(format!("{name}.toml"));
        let loaded = Theme::load_checked(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(loaded.warnings.is_empty(), "{name}: {:?}", loaded.warnings);
        // Same result from the embedded copy the console actually uses.
        assert_eq!(Theme::builtin(name).as_ref(), Some(&loaded.theme), "{name}");
        assert_ne!(loaded.theme, Theme::default(), "{name} resolved to nothing");
    }
}

#[test]
fn embedded_default_is_dark() {
    let dark = Theme::load(&themes_dir().join("dark.toml")).expect("dark.toml");
    assert_eq!(Theme::embedded_default(), dark);
    assert_eq!(Theme::builtin("nope"), None);
}

#[test]
fn colour_themes_give_every_scope_a_foreground_and_background() {
    for name in ["dark", "light", "high-contrast"] {
        let theme = Theme::builtin(name).expect("builtin");
        for scope in SCOPES {
            let s = theme.style(scope);
            assert!(
                matches!(s.fg, Some(ThemeColor::Rgb(..))),
                "{name}: {scope} has no colour: {s:?}"
            );
            assert!(
                matches!(s.bg, Some(ThemeColor::Rgb(..))),
                "{name}: {scope} has no background: {s:?}"
            );
        }
    }
}

fn luminance(c: Option<ThemeColor>) -> f64 {
    let Some(ThemeColor::Rgb(r, g, b)) = c else {
        panic!("expected an RGB colour, got {c:?}");
    };
    let lin = |v: u8| {
        let v = f64::from(v) / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}

/// WCAG 2 contrast ratio, 1.0 to 21.0.
fn contrast(s: StyleSpec) -> f64 {
    let (a, b) = (luminance(s.fg), luminance(s.bg));
    (a.max(b) + 0.05) / (a.min(b) + 0.05)
}

#[test]
fn severities_are_readable_on_their_background() {
    // WCAG AA for normal text; high-contrast promises AAA.
    for (name, minimum) in [("dark", 4.5), ("light", 4.5), ("high-contrast", 7.0)] {
        let theme = Theme::builtin(name).expect("builtin");
        for scope in SEVERITIES.iter().chain(&[
            "default",
            "error",
            "warning",
            "alert.firing",
            "list.selected",
        ]) {
            let ratio = contrast(theme.style(scope));
            assert!(
                ratio >= minimum,
                "{name}: {scope} contrast {ratio:.2} < {minimum}"
            );
        }
    }
}

fn attributes(s: StyleSpec) -> (bool, bool, bool, bool, bool) {
    (s.bold, s.dim, s.italic, s.underline, s.reversed)
}

#[test]
fn without_colour_severities_and_selection_stay_apart() {
    for name in BUILTIN_NAMES {
        let theme = Theme::builtin(name)
            .expect("builtin")
            .for_depth(ColorDepth::Mono);
        let mut seen = HashSet::new();
        for scope in SEVERITIES {
            let s = theme.style(scope);
            assert_eq!((s.fg, s.bg), (None, None), "{name}: {scope}");
            assert!(
                seen.insert(attributes(s)),
                "{name}: {scope} looks like another severity without colour: {s:?}"
            );
        }
        let critical = theme.style("status.critical");
        assert!(
            critical.reversed && critical.bold,
            "{name}: critical must stand out"
        );
        assert_ne!(
            attributes(theme.style("list.selected")),
            attributes(theme.style("default")),
            "{name}: the selection is invisible without colour"
        );
        assert_ne!(
            attributes(theme.style("alert.firing")),
            attributes(theme.style("alert.pending")),
            "{name}"
        );
        assert!(
            theme.style("banner.paused").reversed,
            "{name}: pause banner"
        );
    }
}

#[test]
fn mono_theme_has_no_colours_at_any_depth() {
    let mono = Theme::builtin("mono").expect("mono");
    for scope in SCOPES {
        let s = mono.style(scope);
        assert_eq!((s.fg, s.bg), (None, None), "{scope}");
    }
    assert_eq!(mono.for_depth(ColorDepth::TrueColor), mono);
    assert_eq!(mono.for_depth(ColorDepth::Ansi16), mono);
}

#[test]
fn high_contrast_severities_are_bold_and_critical_reversed() {
    let hc = Theme::builtin("high-contrast").expect("builtin");
    for scope in ["status.critical", "status.major", "status.minor"] {
        assert!(hc.style(scope).bold, "{scope}");
    }
    assert!(hc.style("status.critical").reversed);
}
