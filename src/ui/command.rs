//! The messages between the UI and the app: what `update` asks the outside world to do
//! (`Command`), and what comes back (history, the replay player's position). Plain data: no
//! I/O, no engine types.

use crate::model::Millis;

/// One series over a time window, for a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesData {
    pub key: String,
    pub points: Vec<(Millis, f64)>,
}

/// A request for history: the app answers it from the engine's memory or the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryRequest {
    /// Replies carrying an older id are stale and dropped.
    pub id: u64,
    /// `host/<name>` for vitals, a target name for raw series.
    pub source: String,
    pub keys: Vec<String>,
    pub from: Millis,
    pub to: Millis,
}

/// What `update` asks the outside world to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Quit,
    History(HistoryRequest),
    /// List the series keys of these sources (the host's targets) for the metric browser.
    ListSeries {
        id: u64,
        sources: Vec<String>,
    },
    SetMouse(bool),
    /// Steer the replay player (replay mode only).
    Replay(ReplayControl),
    /// Read the rule files again (live with a config only).
    ReloadRules,
}

/// What the console asks of the replay player. The player owns time; the UI only asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayControl {
    TogglePause,
    Faster,
    Slower,
    ToggleLoop,
    /// Move the replay clock by this many milliseconds (negative goes back).
    SeekBy(i64),
    /// Jump to this recorded time (clamped by the player to the recording).
    SeekTo(Millis),
    PrevAlert,
    NextAlert,
}

/// Where the replay player stands, as the header shows it. Published by the app beside each
/// snapshot; kept out of `Snapshot` because a live engine has no such thing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayStatus {
    /// The player's virtual clock: the recorded time being shown.
    pub clock: Millis,
    pub start: Millis,
    pub end: Millis,
    /// `x10`, `max`, … as `Speed` displays it.
    pub speed: String,
    pub paused: bool,
    pub looping: bool,
    /// Played to the end with looping off.
    pub finished: bool,
}
