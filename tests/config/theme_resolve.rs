//! The cascade (scope → group → default), inheritance (palette and style overrides, paths,
//! cycles) and lookups by name or path, on real files in a temporary directory.

use std::path::Path;

use nocscope::config::theme::{ColorDepth, SCOPES, StyleSpec, Theme, ThemeColor};

use ThemeColor::{Ansi, Indexed, Rgb};

fn parse(text: &str) -> Theme {
    Theme::parse(text, "test.toml", Path::new(".")).unwrap_or_else(|e| panic!("{e}"))
}

const CASCADE: &str = r##"
[palette]
fg = "#eeeeee"
bg = "#111111"
red = "#ff0000"
grey = "#808080"
[styles]
default = { fg = "fg", bg = "bg" }
status = { fg = "grey", italic = true }
"status.critical" = { fg = "red", bold = true }
"status.ok" = { italic = false }
list = { underline = true }
"list.selected" = { reversed = true, fg = "reset" }
"##;

#[test]
fn fallback_table() {
    let t = parse(CASCADE);
    let fg = Some(Rgb(0xee, 0xee, 0xee));
    let bg = Some(Rgb(0x11, 0x11, 0x11));
    let grey = Some(Rgb(0x80, 0x80, 0x80));
    let plain = StyleSpec {
        fg,
        bg,
        ..StyleSpec::default()
    };
    let cases: &[(&str, StyleSpec)] = &[
        ("default", plain),
        ("muted", plain),
        // Scope → group → default, field by field.
        (
            "status.critical",
            StyleSpec {
                fg: Some(Rgb(0xff, 0, 0)),
                bold: true,
                italic: true,
                ..plain
            },
        ),
        (
            "status.major",
            StyleSpec {
                fg: grey,
                italic: true,
                ..plain
            },
        ),
        ("status.ok", StyleSpec { fg: grey, ..plain }),
        (
            "status",
            StyleSpec {
                fg: grey,
                italic: true,
                ..plain
            },
        ),
        (
            "list.selected",
            StyleSpec {
                fg: Some(ThemeColor::Reset),
                underline: true,
                reversed: true,
                ..plain
            },
        ),
        (
            "list.match",
            StyleSpec {
                underline: true,
                ..plain
            },
        ),
        // Scopes the vocabulary lacks fall back a segment at a time, never fail.
        (
            "status.critical.blink",
            StyleSpec {
                fg: Some(Rgb(0xff, 0, 0)),
                bold: true,
                italic: true,
                ..plain
            },
        ),
        (
            "status.nonsense",
            StyleSpec {
                fg: grey,
                italic: true,
                ..plain
            },
        ),
        ("nonsense", plain),
        ("", plain),
        (".", plain),
        (
            "status.",
            StyleSpec {
                fg: grey,
                italic: true,
                ..plain
            },
        ),
        ("ünïcode.x", plain),
    ];
    for (scope, want) in cases {
        assert_eq!(t.style(scope), *want, "{scope:?}");
    }
}

#[test]
fn an_empty_theme_is_plain_everywhere() {
    let t = parse("");
    for scope in SCOPES {
        assert_eq!(t.style(scope), StyleSpec::default(), "{scope}");
    }
    assert_eq!(Theme::default().style("status.ok"), StyleSpec::default());
}

#[test]
fn string_shorthand_sets_the_foreground() {
    let t = parse("[styles]\nmuted = \"idx:244\"\n");
    assert_eq!(
        t.style("muted"),
        StyleSpec {
            fg: Some(Indexed(244)),
            ..StyleSpec::default()
        }
    );
}

#[test]
fn inheriting_a_shipped_theme_overrides_palette_and_styles() {
    let dark = Theme::builtin("dark").expect("dark");
    let child = parse(
        r##"
inherits = "dark"
[palette]
red = "ansi:1"
[styles]
"status.ok" = { fg = "idx:34" }
"##,
    );
    // The palette override recolours every inherited style that names `red`…
    assert_eq!(child.style("status.critical").fg, Some(Ansi(1)));
    assert_eq!(child.style("error").fg, Some(Ansi(1)));
    assert!(child.style("status.critical").reversed);
    // …a style override replaces that scope's own settings…
    assert_eq!(child.style("status.ok").fg, Some(Indexed(34)));
    // …and everything else is the parent's.
    for scope in ["default", "title", "list.selected", "status.minor"] {
        assert_eq!(child.style(scope), dark.style(scope), "{scope}");
    }
}

#[test]
fn inheritance_by_path_and_lookup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path().join("base.toml");
    std::fs::write(
        &base,
        "[palette]\nc = \"#102030\"\n[styles]\ntitle = { fg = \"c\", bold = true }\n",
    )
    .expect("write");
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    let child = dir.path().join("sub/child.toml");
    std::fs::write(
        &child,
        "inherits = \"../base.toml\"\n[palette]\nc = \"#405060\"\n",
    )
    .expect("write");
    let t = Theme::load(&child).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        t.style("title"),
        StyleSpec {
            fg: Some(Rgb(0x40, 0x50, 0x60)),
            bold: true,
            ..StyleSpec::default()
        }
    );
    assert_eq!(
        Theme::lookup("sub/child.toml", dir.path()).unwrap_or_else(|e| panic!("{e}")),
        t
    );
    assert_eq!(
        Theme::lookup("light", dir.path()).ok(),
        Theme::builtin("light")
    );
    let missing = Theme::lookup("nope.toml", dir.path()).expect_err("missing");
    assert_eq!(missing.problems.len(), 1);
    assert_eq!(missing.problems[0].line, 0);
    assert!(
        missing.problems[0].message.contains("no such file"),
        "{missing}"
    );
}

#[test]
fn inheritance_cycles_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.toml"), "inherits = \"b.toml\"\n").expect("write");
    std::fs::write(dir.path().join("b.toml"), "inherits = \"./a.toml\"\n").expect("write");
    std::fs::write(dir.path().join("self.toml"), "inherits = \"self.toml\"\n").expect("write");
    let err = Theme::load(&dir.path().join("a.toml")).expect_err("cycle");
    let shown = err
        .to_string()
        .replace(&dir.path().display().to_string(), "<dir>");
    assert_eq!(
        shown,
        "<dir>/b.toml:1:12: inheritance cycle: <dir>/a.toml → <dir>/b.toml → <dir>/a.toml; remove one of these `inherits`"
    );
    let err = Theme::load(&dir.path().join("self.toml")).expect_err("cycle");
    assert_eq!(err.problems.len(), 1, "{err}");
    assert!(
        err.problems[0].message.starts_with("inheritance cycle"),
        "{err}"
    );
}

#[test]
fn a_problem_in_a_parent_names_the_parent() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("base.toml"),
        "[styles]\ntitel = \"ansi:1\"\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("child.toml"),
        "inherits = \"base.toml\"\n[styles]\ntitle = \"nope\"\n",
    )
    .expect("write");
    let err = Theme::load(&dir.path().join("child.toml")).expect_err("invalid");
    let shown = err
        .to_string()
        .replace(&dir.path().display().to_string(), "<dir>");
    // The child's own names are not checked against a parent that failed: that would only
    // repeat the parent's problem.
    assert_eq!(
        shown,
        "<dir>/base.toml:2:1: unknown scope \"titel\" in [styles]; did you mean \"title\"?"
    );
}

#[test]
fn warnings_name_unused_palette_entries() {
    let loaded = Theme::parse_checked(
        "inherits = \"dark\"\n[palette]\nred = \"#ff0000\"\nspare = \"#000000\"\n[styles]\n\"status.ok\" = {}\n",
        "w.toml",
        Path::new("."),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let shown: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "w.toml:4:1: palette entry `spare` is not used by any style",
            "w.toml:6:15: style \"status.ok\" sets nothing, so it changes nothing; remove it or set fg, bg or an attribute",
        ]
    );
}

#[test]
fn user_theme_downgrades_like_a_shipped_one() {
    let t = parse("[styles]\n\"status.critical\" = { fg = \"#ff6b6b\", reversed = true }\n");
    let s = t.for_depth(ColorDepth::Ansi16).style("status.critical");
    assert_eq!((s.fg, s.reversed), (Some(Ansi(9)), true));
}
