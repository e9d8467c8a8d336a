//! Keymap files: every invalid file in tests/data/keymap/ fails with exactly the messages in
//! its `.expected` twin (file, line, column, value, what is accepted); the shipped keymaps load
//! clean; the embedded default is the file on disk; every action is reachable; printing the
//! effective map round-trips.

use std::path::{Path, PathBuf};

use nocscope::config::keymap::{DEFAULT_TOML, Key, Keymap, Mode, VIM_TOML, parse};
use nocscope::ui::Action;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn invalid_keymaps_give_their_expected_messages() {
    let dir = root().join("tests/data/keymap");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "toml"));
    files.sort();
    assert!(files.len() >= 6, "corpus missing under {}", dir.display());
    let update = std::env::var_os("UPDATE_EXPECTED").is_some();
    for f in files {
        let name = format!(
            "tests/data/keymap/{}",
            f.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        );
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        let err = match Keymap::with_overrides(&text, &name) {
            Ok(_) => panic!("{name} loaded, but it is in the invalid corpus"),
            Err(e) => e.to_string() + "\n",
        };
        let expected_path = f.with_extension("expected");
        if update {
            let _ = std::fs::write(&expected_path, &err);
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        assert_eq!(err, expected, "messages for {name}");
    }
}

#[test]
fn shipped_keymaps_load_clean() {
    for (name, text) in [
        ("keymaps/default.toml", DEFAULT_TOML),
        ("keymaps/vim.toml", VIM_TOML),
    ] {
        if let Err(e) = Keymap::with_overrides(text, name) {
            panic!("{name} does not load:\n{e}");
        }
    }
    let path = root().join("keymaps/vim.toml");
    let vim = Keymap::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let d = Key::ctrl('d');
    assert_eq!(vim.lookup(Mode::Normal, &d), Some(Action::PageDown));
    assert_eq!(
        Keymap::embedded_default().lookup(Mode::Normal, &d),
        None,
        "the default leaves <C-d> free"
    );
}

#[test]
fn embedded_default_is_the_shipped_file() {
    let on_disk = std::fs::read_to_string(root().join("keymaps/default.toml")).unwrap_or_default();
    assert_eq!(DEFAULT_TOML, on_disk);
    let on_disk = std::fs::read_to_string(root().join("keymaps/vim.toml")).unwrap_or_default();
    assert_eq!(VIM_TOML, on_disk);
}

#[test]
fn every_action_has_a_key_in_the_default() {
    let map = Keymap::embedded_default();
    let unbound: Vec<&str> = Action::ALL
        .iter()
        .filter(|a| {
            // Mouse support is off by default and only toggled from the palette.
            **a != Action::ToggleMouse && Mode::ALL.iter().all(|m| map.keys_for(*m, **a).is_empty())
        })
        .map(|a| a.name())
        .collect();
    assert!(
        unbound.is_empty(),
        "actions with no default key: {unbound:?}"
    );
}

#[test]
fn readme_key_table_lists_every_action_with_its_doc() {
    let readme = std::fs::read_to_string(root().join("keymaps/README.md")).unwrap_or_default();
    for a in Action::ALL {
        let row = format!("| `{}` | {} |", a.name(), a.doc());
        assert!(
            readme.contains(&row),
            "keymaps/README.md lacks the row: {row}"
        );
    }
}

#[test]
fn printed_keymap_parses_back_equal() {
    for text in [DEFAULT_TOML, VIM_TOML] {
        let map = Keymap::with_overrides(text, "x").unwrap_or_default();
        let printed = map.to_toml();
        let again = parse(&printed, "printed").unwrap_or_else(|e| panic!("{e}\n{printed}"));
        assert_eq!(again, map);
    }
}

#[test]
fn user_file_overrides_and_unbinds() {
    let user = "normal = [\n  { on = \"j\", run = \"up\", desc = \"mine\" },\n  { on = \"q\", run = \"none\" },\n]\n";
    let map = Keymap::with_overrides(user, "user.toml").unwrap_or_else(|e| panic!("{e}"));
    let j = Key::parse("j").unwrap_or_else(|e| panic!("{e}"));
    let q = Key::parse("q").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(map.lookup(Mode::Normal, &j), Some(Action::Up));
    assert_eq!(map.lookup(Mode::Normal, &q), None);
    assert_eq!(
        map.lookup(Mode::Help, &q),
        Some(Action::Close),
        "help keeps its own q"
    );
    assert!(
        map.bindings(Mode::Normal)
            .iter()
            .any(|b| b.key == j && b.desc == "mine")
    );
}

#[test]
fn unreadable_file_is_named() {
    let missing = Path::new("/nonexistent/keymap.toml");
    match Keymap::load(missing) {
        Ok(_) => panic!("a missing keymap file loaded"),
        Err(e) => assert!(
            e.to_string()
                .starts_with("/nonexistent/keymap.toml: cannot read the keymap file"),
            "{e}"
        ),
    }
}

proptest::proptest! {
    #[test]
    fn any_text_loads_or_fails_without_panicking(text in "\\PC{0,200}") {
        let _ = Keymap::with_overrides(&text, "fuzz.toml");
    }

    #[test]
    fn printed_keys_parse_back(c in proptest::char::any(), ctrl: bool, alt: bool) {
        if let Ok(k) = Key::parse(&c.to_string()) {
            let k = Key { ctrl, alt, ..k };
            if let Ok(back) = Key::parse(&k.to_string()) {
                // Ctrl folds letter case, as terminals do.
                let want = match k.code {
                    nocscope::config::keymap::KeyCode::Char(x) if ctrl && x.is_ascii_uppercase() =>
                        Key { code: nocscope::config::keymap::KeyCode::Char(x.to_ascii_lowercase()), ..k },
                    _ => k,
                };
                proptest::prop_assert_eq!(back, want);
            } else {
                proptest::prop_assert!(false, "{} does not parse back", k);
            }
        }
    }
}
