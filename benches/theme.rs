//! Theme costs the console pays: `style()` per drawn cell group (up to 30 fps), and loading or
//! downgrading a theme once at startup.

use std::path::Path;

use divan::counter::ItemsCount;
use nocscope::config::theme::{ColorDepth, SCOPES, Theme, builtin_text};

fn main() {
    divan::main();
}

/// Every scope once, plus a few the UI might invent that need the segment-by-segment fallback.
#[divan::bench]
fn style_lookup_all_scopes(bencher: divan::Bencher) {
    let theme = Theme::embedded_default();
    let mut scopes: Vec<&str> = SCOPES.to_vec();
    scopes.extend(["status.critical.blink", "nonsense", "list.extra"]);
    bencher
        .counter(ItemsCount::new(scopes.len()))
        .bench_local(|| {
            for s in &scopes {
                divan::black_box(theme.style(divan::black_box(s)));
            }
        });
}

#[divan::bench]
fn parse_dark(bencher: divan::Bencher) {
    let text = builtin_text("dark").unwrap_or_default();
    bencher.bench_local(|| Theme::parse(divan::black_box(text), "dark.toml", Path::new(".")));
}

#[divan::bench]
fn parse_inheriting_child(bencher: divan::Bencher) {
    let text = "inherits = \"dark\"\n[palette]\nred = \"ansi:1\"\n[styles]\ntitle = \"red\"\n";
    bencher.bench_local(|| Theme::parse(divan::black_box(text), "child.toml", Path::new(".")));
}

#[divan::bench(args = [ColorDepth::Mono, ColorDepth::Ansi16, ColorDepth::Indexed256])]
fn for_depth(bencher: divan::Bencher, depth: ColorDepth) {
    let theme = Theme::embedded_default();
    bencher.bench_local(|| divan::black_box(&theme).for_depth(depth));
}
