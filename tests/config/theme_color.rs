//! Colour syntax, depth conversion with exact palette indexes, and terminal detection.

use std::collections::HashMap;

use nocscope::config::theme::{ColorDepth, StyleSpec, Theme, ThemeColor};
use proptest::prelude::*;

use ThemeColor::{Ansi, Indexed, Reset, Rgb};

#[test]
fn colour_syntax_table() {
    let cases: &[(&str, Option<ThemeColor>)] = &[
        ("#e06c75", Some(Rgb(0xe0, 0x6c, 0x75))),
        ("#E06C75", Some(Rgb(0xe0, 0x6c, 0x75))),
        ("#000000", Some(Rgb(0, 0, 0))),
        ("ansi:0", Some(Ansi(0))),
        ("ansi:15", Some(Ansi(15))),
        ("idx:0", Some(Indexed(0))),
        ("idx:203", Some(Indexed(203))),
        ("idx:255", Some(Indexed(255))),
        ("reset", Some(Reset)),
        ("#fff", None),
        ("#e06c7", None),
        ("#e06c750", None),
        ("#gg0000", None),
        ("#+f0000", None),
        ("e06c75", None),
        ("ansi:16", None),
        ("ansi:-1", None),
        ("ansi:+1", None),
        ("ansi:", None),
        ("idx:256", None),
        ("idx: 1", None),
        ("idx:1 ", None),
        ("Reset", None),
        ("red", None),
        ("", None),
        ("#ééé", None),
    ];
    for (text, want) in cases {
        assert_eq!(ThemeColor::parse(text), *want, "{text:?}");
    }
}

#[test]
fn downgrade_to_256_table() {
    let cases: &[(ThemeColor, ThemeColor)] = &[
        (Rgb(0, 0, 0), Indexed(16)),
        (Rgb(255, 255, 255), Indexed(231)),
        (Rgb(255, 0, 0), Indexed(196)),
        (Rgb(0x5f, 0x87, 0xaf), Indexed(67)),
        // 224→215, 108→95, 117→135 per channel: cube (4, 1, 2).
        (Rgb(0xe0, 0x6c, 0x75), Indexed(168)),
        // Greys land on the ramp, not the cube's coarse greys.
        (Rgb(128, 128, 128), Indexed(244)),
        (Rgb(0x12, 0x12, 0x12), Indexed(233)),
        (Rgb(238, 238, 238), Indexed(255)),
        (Indexed(203), Indexed(203)),
        (Indexed(3), Indexed(3)),
        (Ansi(9), Ansi(9)),
        (Ansi(200), Indexed(200)),
        (Reset, Reset),
    ];
    for (from, want) in cases {
        assert_eq!(
            from.downgrade(ColorDepth::Indexed256),
            Some(*want),
            "{from:?}"
        );
    }
}

#[test]
fn downgrade_to_16_table() {
    let cases: &[(ThemeColor, ThemeColor)] = &[
        (Rgb(0, 0, 0), Ansi(0)),
        (Rgb(205, 0, 0), Ansi(1)),
        (Rgb(255, 0, 0), Ansi(9)),
        (Rgb(255, 255, 255), Ansi(15)),
        (Rgb(229, 229, 229), Ansi(7)),
        (Rgb(128, 128, 128), Ansi(8)),
        (Rgb(0, 0, 200), Ansi(4)),
        (Rgb(250, 250, 0), Ansi(11)),
        (Indexed(196), Ansi(9)),
        (Indexed(21), Ansi(12)),
        // Pastels keep their hue instead of turning grey; orange counts as yellow.
        (Rgb(0xff, 0x6b, 0x6b), Ansi(9)),
        (Rgb(0xf0, 0x96, 0x5a), Ansi(11)),
        (Rgb(0xd0, 0x8c, 0xf0), Ansi(13)),
        (Rgb(0x56, 0xc8, 0xd8), Ansi(6)),
        (Rgb(0x7c, 0xcf, 0x7a), Ansi(2)),
        (Rgb(0x0a, 0x57, 0xa8), Ansi(4)),
        (Rgb(0x8b, 0x93, 0x9c), Ansi(8)),
        (Rgb(0xfa, 0xfa, 0xfa), Ansi(15)),
        (Indexed(231), Ansi(15)),
        (Indexed(232), Ansi(0)),
        (Indexed(5), Ansi(5)),
        (Ansi(12), Ansi(12)),
        (Ansi(196), Ansi(9)),
        (Reset, Reset),
    ];
    for (from, want) in cases {
        assert_eq!(from.downgrade(ColorDepth::Ansi16), Some(*want), "{from:?}");
    }
}

#[test]
fn truecolor_keeps_and_mono_drops_every_colour() {
    for c in [Rgb(1, 2, 3), Indexed(100), Ansi(3), Reset] {
        assert_eq!(c.downgrade(ColorDepth::TrueColor), Some(c));
        assert_eq!(c.downgrade(ColorDepth::Mono), None);
    }
}

#[test]
fn theme_for_depth_converts_every_scope() {
    let dark = Theme::embedded_default();
    let ansi = dark.for_depth(ColorDepth::Ansi16);
    let critical = ansi.style("status.critical");
    // dark's red is #ff6b6b: bright red.
    assert_eq!(critical.fg, Some(Ansi(9)));
    assert!(critical.bold && critical.reversed);
    let indexed = dark.for_depth(ColorDepth::Indexed256);
    assert!(matches!(indexed.style("default").bg, Some(Indexed(_))));
    assert_eq!(dark.for_depth(ColorDepth::TrueColor), dark);
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn detection_table() {
    use ColorDepth::*;
    let cases: &[(&[(&str, &str)], ColorDepth)] = &[
        (&[], Ansi16),
        (&[("TERM", "xterm")], Ansi16),
        (&[("TERM", "xterm-256color")], Indexed256),
        (&[("TERM", "screen-256color")], Indexed256),
        (&[("TERM", "xterm"), ("COLORTERM", "truecolor")], TrueColor),
        (
            &[("TERM", "xterm-256color"), ("COLORTERM", "24bit")],
            TrueColor,
        ),
        (&[("COLORTERM", "TrueColor")], TrueColor),
        (
            &[("TERM", "xterm-256color"), ("COLORTERM", "yes")],
            Indexed256,
        ),
        (&[("TERM", "dumb")], Mono),
        // A dumb terminal cannot show escapes, whatever COLORTERM a parent shell leaked.
        (&[("TERM", "dumb"), ("COLORTERM", "truecolor")], Mono),
        (&[("NO_COLOR", "1"), ("COLORTERM", "truecolor")], Mono),
        (&[("NO_COLOR", "0"), ("TERM", "xterm-256color")], Mono),
        // no-color.org: an empty NO_COLOR does not count.
        (&[("NO_COLOR", ""), ("TERM", "xterm-256color")], Indexed256),
        (&[("TERM", "")], Ansi16),
    ];
    for (vars, want) in cases {
        assert_eq!(ColorDepth::detect(&env_of(vars)), *want, "{vars:?}");
    }
}

fn any_color() -> impl Strategy<Value = ThemeColor> {
    prop_oneof![
        Just(Reset),
        any::<u8>().prop_map(Ansi),
        any::<u8>().prop_map(Indexed),
        any::<(u8, u8, u8)>().prop_map(|(r, g, b)| Rgb(r, g, b)),
    ]
}

fn any_depth() -> impl Strategy<Value = ColorDepth> {
    prop_oneof![
        Just(ColorDepth::Mono),
        Just(ColorDepth::Ansi16),
        Just(ColorDepth::Indexed256),
        Just(ColorDepth::TrueColor),
    ]
}

/// Does a terminal of `depth` show `c` as it is?
fn fits(c: ThemeColor, depth: ColorDepth) -> bool {
    match (depth, c) {
        (ColorDepth::Mono, _) => false,
        (_, Reset) => true,
        (ColorDepth::Ansi16, Ansi(n)) => n < 16,
        (ColorDepth::Ansi16, _) => false,
        (ColorDepth::Indexed256, Rgb(..)) => false,
        (_, Ansi(n)) => n < 16,
        _ => true,
    }
}

proptest! {
    #[test]
    fn downgrade_is_idempotent_and_fits(c in any_color(), depth in any_depth()) {
        let once = c.downgrade(depth);
        if let Some(d) = once {
            prop_assert!(fits(d, depth), "{c:?} → {d:?} does not fit {depth:?}");
            prop_assert_eq!(d.downgrade(depth), Some(d));
        } else {
            prop_assert_eq!(depth, ColorDepth::Mono);
        }
    }

    #[test]
    fn downgrade_never_gains_depth(c in any_color(), a in any_depth(), b in any_depth()) {
        let (high, low) = if a >= b { (a, b) } else { (b, a) };
        // Going to a lower depth and then asking for a higher one changes nothing.
        if let Some(d) = c.downgrade(low) {
            prop_assert_eq!(d.downgrade(high), Some(d));
        }
    }

    #[test]
    fn style_for_depth_keeps_attributes(
        fg in proptest::option::of(any_color()),
        bg in proptest::option::of(any_color()),
        flags in any::<[bool; 5]>(),
        depth in any_depth(),
    ) {
        let [bold, dim, italic, underline, reversed] = flags;
        let s = StyleSpec { fg, bg, bold, dim, italic, underline, reversed };
        let d = s.for_depth(depth);
        prop_assert_eq!((d.bold, d.dim, d.italic, d.underline, d.reversed), (bold, dim, italic, underline, reversed));
        prop_assert_eq!(d.for_depth(depth), d);
    }
}

#[test]
fn every_shipped_theme_downgrades_idempotently() {
    for name in nocscope::config::theme::BUILTIN_NAMES {
        let theme = Theme::builtin(name).expect("builtin");
        for depth in [
            ColorDepth::Mono,
            ColorDepth::Ansi16,
            ColorDepth::Indexed256,
            ColorDepth::TrueColor,
        ] {
            let once = theme.for_depth(depth);
            assert_eq!(once.for_depth(depth), once, "{name} {depth:?}");
        }
    }
}
