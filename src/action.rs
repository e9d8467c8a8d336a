//! The console's action vocabulary: every thing a key, the palette or a mouse click can ask for,
//! each with its name and doc line (they feed help, the palette, keymaps and README's key table).
//! Plain data: must not touch the terminal, the engine or the store.

use std::fmt;

/// One user intent. Keymaps bind keys to these by [`Action::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Quit,
    Back,
    Open,
    Describe,
    Close,
    Up,
    Down,
    Top,
    Bottom,
    PageDown,
    PageUp,
    NextMatch,
    PrevMatch,
    Help,
    Filter,
    Palette,
    ViewOverview,
    ViewAlerts,
    ViewTargets,
    ViewHost,
    ViewMetrics,
    ViewAnomalies,
    ViewRules,
    ZoomIn,
    ZoomOut,
    StepBack,
    StepForward,
    PrevAlert,
    NextAlert,
    Pause,
    Live,
    Faster,
    Slower,
    ToggleLoop,
    ReloadRules,
    ToggleMouse,
    PromptAccept,
    PromptCancel,
    PromptComplete,
    PromptBackspace,
    PromptClear,
}

impl Action {
    /// Every action, in the order help and the palette list them.
    pub const ALL: [Action; 41] = [
        Action::Quit,
        Action::Back,
        Action::Open,
        Action::Describe,
        Action::Close,
        Action::Up,
        Action::Down,
        Action::Top,
        Action::Bottom,
        Action::PageDown,
        Action::PageUp,
        Action::NextMatch,
        Action::PrevMatch,
        Action::Help,
        Action::Filter,
        Action::Palette,
        Action::ViewOverview,
        Action::ViewAlerts,
        Action::ViewTargets,
        Action::ViewHost,
        Action::ViewMetrics,
        Action::ViewAnomalies,
        Action::ViewRules,
        Action::ZoomIn,
        Action::ZoomOut,
        Action::StepBack,
        Action::StepForward,
        Action::PrevAlert,
        Action::NextAlert,
        Action::Pause,
        Action::Live,
        Action::Faster,
        Action::Slower,
        Action::ToggleLoop,
        Action::ReloadRules,
        Action::ToggleMouse,
        Action::PromptAccept,
        Action::PromptCancel,
        Action::PromptComplete,
        Action::PromptBackspace,
        Action::PromptClear,
    ];

    /// The name keymaps and the command palette use.
    pub fn name(self) -> &'static str {
        self.info().0
    }

    /// One line for help and README's key table.
    pub fn doc(self) -> &'static str {
        self.info().1
    }

    fn info(self) -> (&'static str, &'static str) {
        match self {
            Action::Quit => ("quit", "Quit nocscope"),
            Action::Back => ("back", "Go back one level; quit from the overview"),
            Action::Open => (
                "open",
                "Open the host of the selected row, or chart the selected series",
            ),
            Action::Describe => (
                "describe",
                "Show the selected alert, target, anomaly or rule in full",
            ),
            Action::Close => (
                "close",
                "Close help or the current view, back to the overview",
            ),
            Action::Up => ("up", "Move the selection up"),
            Action::Down => ("down", "Move the selection down"),
            Action::Top => ("top", "Jump to the first row"),
            Action::Bottom => ("bottom", "Jump to the last row"),
            Action::PageDown => ("page_down", "Move one page down"),
            Action::PageUp => ("page_up", "Move one page up"),
            Action::NextMatch => ("next_match", "Next row matching the filter (wraps)"),
            Action::PrevMatch => ("prev_match", "Previous row matching the filter (wraps)"),
            Action::Help => ("help", "Show or hide this help"),
            Action::Filter => (
                "filter",
                "Filter rows: substring, `!` inverts, `key=value` matches labels",
            ),
            Action::Palette => ("palette", "Run any action by name (Tab completes)"),
            Action::ViewOverview => ("view_overview", "Overview: status list, panels, alerts"),
            Action::ViewAlerts => ("view_alerts", "Alerts: every pending and firing alert"),
            Action::ViewTargets => ("view_targets", "Targets: last poll, duration, errors"),
            Action::ViewHost => ("view_host", "Host view: charts, checks and alerts"),
            Action::ViewMetrics => ("view_metrics", "Metric browser over the host's raw series"),
            Action::ViewAnomalies => (
                "view_anomalies",
                "Anomalies: recent runs, newest first; Enter opens one",
            ),
            Action::ViewRules => (
                "view_rules",
                "Rules: each rule's alerts, last evaluation and error",
            ),
            Action::ZoomIn => ("zoom_in", "Show a shorter time range (down to 5m)"),
            Action::ZoomOut => ("zoom_out", "Show a longer time range (up to 30d)"),
            Action::StepBack => (
                "step_back",
                "Time window back by half its width (replay: the clock)",
            ),
            Action::StepForward => (
                "step_forward",
                "Time window forward by half its width (replay: the clock)",
            ),
            Action::PrevAlert => (
                "prev_alert",
                "Previous alert or anomaly start (replay: the clock, alerts)",
            ),
            Action::NextAlert => (
                "next_alert",
                "Next alert or anomaly start (replay: the clock, alerts)",
            ),
            Action::Pause => ("pause", "Pause or resume live updates or the replay"),
            Action::Live => ("live", "Return to live: resume and follow the present"),
            Action::Faster => ("faster", "Replay faster: x1, x2, x5 … x1000, then max"),
            Action::Slower => ("slower", "Replay slower, down to x1"),
            Action::ToggleLoop => (
                "toggle_loop",
                "Replay: start over at the end of the recording, or stop there",
            ),
            Action::ReloadRules => (
                "reload_rules",
                "Read the rule files again; a broken one keeps the last good rules",
            ),
            Action::ToggleMouse => ("toggle_mouse", "Turn mouse support on or off"),
            Action::PromptAccept => ("prompt_accept", "Apply the filter or run the command"),
            Action::PromptCancel => ("prompt_cancel", "Leave the prompt without applying it"),
            Action::PromptComplete => ("prompt_complete", "Complete the command name"),
            Action::PromptBackspace => {
                ("prompt_backspace", "Delete the character before the cursor")
            }
            Action::PromptClear => ("prompt_clear", "Clear the prompt"),
        }
    }

    /// Look an action up by its name (keymaps, palette).
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut seen = HashSet::new();
        for a in Action::ALL {
            assert!(seen.insert(a.name()), "duplicate name {}", a.name());
            assert_eq!(Action::from_name(a.name()), Some(a));
            assert!(!a.doc().is_empty());
            assert!(
                a.name().chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{} is not snake_case",
                a.name()
            );
        }
        assert_eq!(Action::from_name("nope"), None);
    }
}
