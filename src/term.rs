//! The real terminal: raw mode and the alternate screen behind a guard, a panic hook that
//! restores the terminal before the message prints, mouse capture, and crossterm key events
//! turned into keymap `Key`s. Owns terminal state only; must not render or hold app state.

use std::io::{self, Stdout, Write};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{
    DisableMouseCapture, EnableMouseCapture, KeyCode as CtKey, KeyEvent, KeyEventKind, KeyModifiers,
};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use crate::config::keymap::{Key, KeyCode};

/// Whether the terminal is in our mode, so a panic or signal restores it once and only if
/// needed.
static ACTIVE: AtomicBool = AtomicBool::new(false);
static MOUSE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// Holds the terminal in raw mode on the alternate screen; dropping it restores everything.
pub struct TerminalGuard {
    _private: (),
}

impl TerminalGuard {
    /// Install the panic hook, enter raw mode and the alternate screen, and hand back a
    /// ratatui terminal on stdout.
    pub fn enter(mouse: bool) -> io::Result<(TerminalGuard, Terminal<CrosstermBackend<Stdout>>)> {
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let guard = TerminalGuard { _private: () };
        let mut out = io::stdout();
        execute!(out, EnterAlternateScreen, cursor::Hide)?;
        set_mouse(mouse)?;
        let terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        Ok((guard, terminal))
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Turn mouse reporting on or off (off by default: it steals the terminal's text selection).
pub fn set_mouse(on: bool) -> io::Result<()> {
    let mut out = io::stdout();
    if on {
        execute!(out, EnableMouseCapture)?;
    } else if MOUSE.load(Ordering::SeqCst) {
        execute!(out, DisableMouseCapture)?;
    }
    MOUSE.store(on, Ordering::SeqCst);
    Ok(())
}

/// Put the terminal back as we found it. Safe to call any number of times, from any thread.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = io::stdout();
    if MOUSE.swap(false, Ordering::SeqCst) {
        let _ = execute!(out, DisableMouseCapture);
    }
    let _ = execute!(out, LeaveAlternateScreen, cursor::Show);
    let _ = disable_raw_mode();
    let _ = out.flush();
}

/// Chain a hook that restores the terminal first, so the panic message lands on a sane
/// screen instead of inside the alternate one.
pub fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

/// A crossterm key press as a keymap key; `None` for releases and keys we do not name.
pub fn key_from_event(ev: &KeyEvent) -> Option<Key> {
    if ev.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
    let alt = ev.modifiers.contains(KeyModifiers::ALT);
    let shift = ev.modifiers.contains(KeyModifiers::SHIFT);
    let code = match ev.code {
        // Characters carry Shift in their case already; terminals differ in also setting it.
        CtKey::Char(c) => {
            let c = if ctrl { c.to_ascii_lowercase() } else { c };
            return Some(Key {
                code: KeyCode::Char(c),
                ctrl,
                alt,
                shift: false,
            });
        }
        CtKey::Enter => KeyCode::Enter,
        CtKey::Esc => KeyCode::Esc,
        CtKey::Tab => KeyCode::Tab,
        CtKey::BackTab => {
            return Some(Key {
                code: KeyCode::Tab,
                ctrl,
                alt,
                shift: true,
            });
        }
        CtKey::Backspace => KeyCode::Backspace,
        CtKey::Delete => KeyCode::Delete,
        CtKey::Insert => KeyCode::Insert,
        CtKey::Up => KeyCode::Up,
        CtKey::Down => KeyCode::Down,
        CtKey::Left => KeyCode::Left,
        CtKey::Right => KeyCode::Right,
        CtKey::Home => KeyCode::Home,
        CtKey::End => KeyCode::End,
        CtKey::PageUp => KeyCode::PageUp,
        CtKey::PageDown => KeyCode::PageDown,
        CtKey::F(n) if (1..=12).contains(&n) => KeyCode::F(n),
        _ => return None,
    };
    Some(Key {
        code,
        ctrl,
        alt,
        shift,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: CtKey, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn crossterm_keys_map_to_notation() {
        let cases = [
            (ev(CtKey::Char('j'), KeyModifiers::NONE), "j"),
            (ev(CtKey::Char('G'), KeyModifiers::SHIFT), "G"),
            (ev(CtKey::Char('f'), KeyModifiers::CONTROL), "<C-f>"),
            (
                ev(
                    CtKey::Char('F'),
                    KeyModifiers::CONTROL | KeyModifiers::SHIFT,
                ),
                "<C-f>",
            ),
            (ev(CtKey::Enter, KeyModifiers::NONE), "<Enter>"),
            (ev(CtKey::BackTab, KeyModifiers::SHIFT), "<S-Tab>"),
            (ev(CtKey::Char(' '), KeyModifiers::NONE), "<Space>"),
            (ev(CtKey::Char('<'), KeyModifiers::NONE), "<lt>"),
            (ev(CtKey::F(5), KeyModifiers::NONE), "<F5>"),
        ];
        for (e, want) in cases {
            let got = key_from_event(&e).map(|k| k.to_string());
            assert_eq!(got.as_deref(), Some(want), "{e:?}");
            assert_eq!(
                Key::parse(want).ok(),
                key_from_event(&e),
                "{want} round trip"
            );
        }
        let mut release = ev(CtKey::Char('j'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(key_from_event(&release), None);
        assert_eq!(key_from_event(&ev(CtKey::F(20), KeyModifiers::NONE)), None);
    }

    #[test]
    fn restore_without_enter_is_a_no_op() {
        // Must not write escape sequences into a terminal we never changed.
        restore();
        restore();
        assert!(!ACTIVE.load(Ordering::SeqCst));
    }
}
