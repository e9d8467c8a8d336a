//! `UiState` and `update`: what the console remembers between frames that is not one view's
//! (mode, prompt, time window, replay position, focus) and how each action changes it, handing
//! view-specific parts to ui/views/. Pure: no terminal, no I/O; requests leave as `Command`s.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::keymap::{Key, KeyCode, Keymap, Mode};
use crate::model::{Millis, Snapshot};

use super::command::{Command, ReplayControl, ReplayStatus, SeriesData};
use super::views::alerts::AlertsState;
use super::views::anomalies::{AnomaliesState, anomaly_id};
use super::views::host::HostState;
use super::views::metrics::MetricsState;
use super::views::overview::OverviewState;
use super::views::rules::RulesState;
use super::views::targets::TargetsState;
use crate::action::Action;

/// Time ranges `+`/`-` step through.
pub const ZOOM_LEVELS_MS: [i64; 10] = [
    5 * 60_000,
    15 * 60_000,
    3_600_000,
    3 * 3_600_000,
    6 * 3_600_000,
    12 * 3_600_000,
    86_400_000,
    3 * 86_400_000,
    7 * 86_400_000,
    30 * 86_400_000,
];
const DEFAULT_ZOOM: usize = 2;
const HELP_SCROLL_MAX: usize = 500;
/// An alert jump puts the alert's start this fraction of the window before its right edge, so
/// what led up to it fills the chart and its first minutes still show.
const ALERT_CONTEXT_DIV: i64 = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Overview,
    Host,
    Alerts,
    Targets,
    Metrics,
    Anomalies,
    Rules,
}

impl View {
    pub fn title(self) -> &'static str {
        match self {
            View::Overview => "overview",
            View::Host => "host",
            View::Alerts => "alerts",
            View::Targets => "targets",
            View::Metrics => "metrics",
            View::Anomalies => "anomalies",
            View::Rules => "rules",
        }
    }
}

/// Live follows the engine; Paused freezes the picture (collection goes on); Replay is fed by
/// a recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMode {
    Live,
    Paused,
    Replay,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptKind {
    Filter,
    Palette,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub text: String,
}

/// History for the charts, asked for asynchronously.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Loaded<T> {
    #[default]
    Idle,
    Loading,
    Ready(T),
    Failed(String),
}

/// What the UI keeps of one host row between snapshots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub name: String,
    pub sources: Vec<String>,
}

/// Everything the console remembers. Rendering is a pure function of this, a Snapshot and a
/// Theme.
#[derive(Clone, Debug)]
pub struct UiState {
    pub keymap: Arc<Keymap>,
    pub view: View,
    pub help: bool,
    pub help_scroll: usize,
    /// The detail popup (`d`) over the alerts or rules view, and how far it is scrolled.
    pub detail: bool,
    pub detail_scroll: usize,
    /// The bundled demo is playing because no config was found: this line says so in the
    /// status bar whenever nothing else is said there, and the header says DEMO.
    pub demo: Option<String>,
    /// The time of the last rule reload outcome shown, so each is announced once.
    pub rule_reload_seen: Option<Millis>,
    pub prompt: Option<Prompt>,
    pub run_mode: RunMode,
    /// The replay player's position, in replay mode once the player has reported.
    pub replay: Option<ReplayStatus>,
    /// Index into ZOOM_LEVELS_MS.
    pub zoom: usize,
    /// End of the chart window; `None` follows the present.
    pub window_end: Option<Millis>,
    pub mouse: bool,
    pub quit: bool,
    /// One line of feedback (unknown command, store trouble) for the status bar.
    pub message: Option<String>,
    /// "ok", or why history is unavailable; shown in the header.
    pub store_health: String,
    /// How notification is going, when the config names a notify file; in the header.
    pub notify: Option<crate::model::NotifyStatus>,
    /// Rows per page, learnt from the last render.
    pub page: usize,
    /// The host the host and metrics views show (kept by name across re-sorts).
    pub focus: Option<String>,
    /// Each view's own part of the state (ui/views/).
    pub overview: OverviewState,
    pub host: HostState,
    pub alerts: AlertsState,
    pub targets: TargetsState,
    pub rules: RulesState,
    pub metrics: MetricsState,
    pub anomalies: AnomaliesState,
    /// Alert and anomaly starts with their hosts, sorted by time, for `[` and `]`.
    pub jump_marks: Vec<(Millis, String)>,
    pub now: Millis,
    next_id: u64,
    /// Labels of every target by target name (from the config), for `key=value` filters.
    pub target_labels: BTreeMap<String, BTreeMap<String, String>>,
}

impl UiState {
    pub fn new(keymap: Arc<Keymap>) -> UiState {
        UiState {
            keymap,
            view: View::Overview,
            help: false,
            help_scroll: 0,
            detail: false,
            detail_scroll: 0,
            rule_reload_seen: None,
            demo: None,
            prompt: None,
            run_mode: RunMode::Live,
            replay: None,
            zoom: DEFAULT_ZOOM,
            window_end: None,
            mouse: false,
            quit: false,
            message: None,
            store_health: "ok".to_string(),
            notify: None,
            page: 10,
            focus: None,
            overview: OverviewState::default(),
            host: HostState::default(),
            alerts: AlertsState::default(),
            targets: TargetsState::default(),
            rules: RulesState::default(),
            metrics: MetricsState::default(),
            anomalies: AnomaliesState::default(),
            jump_marks: Vec::new(),
            now: 0,
            next_id: 0,
            target_labels: BTreeMap::new(),
        }
    }

    /// Whether the detail popup is showing (it belongs to the view it was opened over).
    pub fn detail_open(&self) -> bool {
        self.detail && super::views::detail::describable(self.view)
    }

    /// The keymap mode the state is in.
    pub fn mode(&self) -> Mode {
        if self.prompt.is_some() {
            Mode::Prompt
        } else if self.help {
            Mode::Help
        } else {
            match self.view {
                View::Host => Mode::Host,
                View::Metrics => Mode::Metrics,
                _ => Mode::Normal,
            }
        }
    }

    pub fn range_ms(&self) -> i64 {
        ZOOM_LEVELS_MS
            .get(self.zoom)
            .copied()
            .unwrap_or(ZOOM_LEVELS_MS[DEFAULT_ZOOM])
    }

    /// The chart window `[from, to]`.
    pub fn window(&self) -> (Millis, Millis) {
        let to = self.window_end.unwrap_or(self.now);
        (to.saturating_sub(self.range_ms()), to)
    }

    pub(in crate::ui) fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Take in a new snapshot: recompute rows under the filter, keep the selection on the same
    /// host, clamp the other lists.
    pub fn sync(&mut self, snap: &Snapshot) {
        self.now = snap.now;
        // A reload's outcome is said once, when it arrives (the rules view keeps it).
        if let Some(r) = &snap.rule_reload
            && self.rule_reload_seen != Some(r.at)
        {
            if self.rule_reload_seen.is_some() || self.now - r.at < 60_000 {
                self.message = Some(r.message.clone());
            }
            self.rule_reload_seen = Some(r.at);
        }
        let keep = self.selected_host().map(str::to_string);
        self.overview.all_rows = snap
            .hosts
            .iter()
            .map(|h| Row {
                name: h.name.clone(),
                sources: h
                    .targets
                    .iter()
                    // Targets are listed in id order, so the index is the fast path.
                    .filter_map(|id| {
                        snap.targets
                            .get(id.index())
                            .filter(|t| t.id == *id)
                            .or_else(|| snap.targets.iter().find(|t| t.id == *id))
                    })
                    .map(|t| t.name.clone())
                    .collect(),
            })
            .collect();
        self.alerts.count = snap.alerts.len();
        self.alerts.order = snap.alerts.iter().map(|a| a.host.clone()).collect();
        self.targets.count = snap.targets.len();
        self.rules.count = snap.rules.len();
        self.targets.hosts = snap.targets.iter().map(|t| t.host.clone()).collect();
        let mut times: Vec<(Millis, String)> = snap
            .alerts
            .iter()
            .map(|a| (a.active_at, a.host.clone()))
            .collect();
        times.sort();
        times.extend(snap.anomalies.iter().map(|a| (a.start, a.host.clone())));
        times.sort();
        times.dedup();
        self.jump_marks = times;
        let keep_anomaly = self.anomalies.rows.get(self.anomalies.sel).map(anomaly_id);
        self.anomalies.all = snap.anomalies.clone();
        // The engine publishes newest first; sorting again (stably) keeps that promise even for
        // a hand-made or replayed snapshot that does not.
        self.anomalies
            .all
            .sort_by_key(|a| std::cmp::Reverse(a.start));
        self.refilter(keep.as_deref());
        self.refilter_anomalies(keep_anomaly);
        self.alerts.sel = clamp(self.alerts.sel, self.alerts.count);
        self.targets.sel = clamp(self.targets.sel, self.targets.count);
    }

    /// A printable key typed into the prompt.
    pub fn insert_char(&mut self, c: char) {
        if let Some(p) = &mut self.prompt
            && !c.is_control()
            && p.text.chars().count() < 256
        {
            p.text.push(c);
            self.live_prompt();
        }
    }

    /// A history reply; stale ones (older ids) are ignored.
    pub fn apply_history(&mut self, id: u64, result: Result<Vec<SeriesData>, String>) {
        let loaded = match result {
            Ok(v) => Loaded::Ready(v),
            Err(e) => Loaded::Failed(e),
        };
        if id == self.host.history_id {
            self.host.history = loaded;
        } else if id == self.metrics.id {
            self.metrics.chart = loaded;
        }
    }

    /// After the window moved: refresh whatever the current view charts.
    fn refresh(&mut self) -> Option<Command> {
        match self.view {
            View::Host => self.host_history(),
            View::Metrics => self.series_history(),
            _ => None,
        }
    }

    fn list_len(&self) -> usize {
        match self.view {
            View::Overview => self.overview.rows.len(),
            View::Alerts => self.alerts.count,
            View::Targets => self.targets.count,
            View::Rules => self.rules.count,
            View::Metrics => self.metric_rows().len(),
            View::Anomalies => self.anomalies.rows.len(),
            View::Host => 0,
        }
    }

    fn cursor(&mut self) -> Option<&mut usize> {
        if self.help {
            return Some(&mut self.help_scroll);
        }
        if self.detail_open() {
            return Some(&mut self.detail_scroll);
        }
        match self.view {
            View::Overview => Some(&mut self.overview.selected),
            View::Alerts => Some(&mut self.alerts.sel),
            View::Targets => Some(&mut self.targets.sel),
            View::Rules => Some(&mut self.rules.sel),
            View::Metrics => Some(&mut self.metrics.sel),
            View::Anomalies => Some(&mut self.anomalies.sel),
            View::Host => None,
        }
    }

    /// Esc with a filter set clears the current view's filter (the overview's for views with
    /// none of their own); false when there was none to clear.
    fn clear_view_filter(&mut self) -> bool {
        match self.view {
            View::Metrics => self.clear_query(),
            View::Anomalies => self.clear_anomaly_filter(),
            View::Overview => self.clear_host_filter(),
            _ => false,
        }
    }

    /// What `/` starts from in the current view.
    fn view_filter_text(&self) -> String {
        match self.view {
            View::Metrics => self.metrics.query.clone(),
            View::Anomalies => self.anomalies.filter.text().to_string(),
            _ => self.overview.filter.text().to_string(),
        }
    }

    /// Enter in the `/` prompt: the current view's filter (the host list's for views with none
    /// of their own).
    fn accept_view_filter(&mut self, text: &str) {
        match self.view {
            View::Metrics => self.metrics.query = text.to_string(),
            View::Anomalies => self.accept_anomaly_filter(text),
            _ => self.accept_host_filter(text),
        }
    }

    fn step_time(&mut self, forward: bool) -> Option<Command> {
        let (_, to) = self.window();
        let half = self.range_ms() / 2;
        let end = if forward {
            to.saturating_add(half)
        } else {
            to.saturating_sub(half)
        };
        // Stepping into the future snaps back to following the present.
        self.window_end = (end < self.now).then_some(end);
        self.refresh()
    }

    fn jump_alert(&mut self, forward: bool) -> Option<Command> {
        let (_, to) = self.window();
        let host = (self.view == View::Host)
            .then(|| self.focus.clone())
            .flatten();
        let lead = self.range_ms() / ALERT_CONTEXT_DIV;
        let mut times = self
            .jump_marks
            .iter()
            .filter(|(_, h)| host.as_ref().is_none_or(|x| x == h))
            .map(|(t, _)| t.saturating_add(lead));
        let target = if forward {
            times.find(|t| *t > to)
        } else {
            times.rfind(|t| *t < to)
        };
        match target {
            Some(t) => {
                self.window_end = (t < self.now).then_some(t);
                self.refresh()
            }
            None => {
                self.message = Some(format!(
                    "no {} alert or anomaly",
                    if forward { "later" } else { "earlier" }
                ));
                None
            }
        }
    }

    fn run_palette(&mut self, text: &str) -> Option<Command> {
        let name = text.trim();
        if name.is_empty() {
            return None;
        }
        if let Some(arg) = name.strip_prefix("seek")
            && (arg.is_empty() || arg.starts_with(char::is_whitespace))
        {
            return self.palette_seek(arg.trim());
        }
        match Action::from_name(name) {
            Some(a) => update(self, a),
            None => {
                self.message = Some(format!(
                    "unknown command `{}`; Tab completes, `help` lists them",
                    crate::sanitize::sanitize(name)
                ));
                None
            }
        }
    }
}

impl UiState {
    /// `seek <time>` from the palette: `start`, `end`, `+5m`/`-1h` from the replay clock, or a
    /// recorded UTC time such as `2023-11-14T22:30:00Z`.
    fn palette_seek(&mut self, arg: &str) -> Option<Command> {
        if self.run_mode != RunMode::Replay {
            self.message = Some("seek works in replay mode only".to_string());
            return None;
        }
        match parse_seek(arg, self.replay.as_ref()) {
            Ok(c) => Some(Command::Replay(c)),
            Err(e) => {
                self.message = Some(e);
                None
            }
        }
    }

    fn replay_only(&mut self, control: ReplayControl) -> Option<Command> {
        if self.run_mode == RunMode::Replay {
            Some(Command::Replay(control))
        } else {
            self.message = Some("speed and loop apply to replays only".to_string());
            None
        }
    }
}

/// Parse the argument of the palette's `seek`. `status` supplies the recording's span for
/// `start`/`end` (without it those are refused rather than guessed).
pub fn parse_seek(arg: &str, status: Option<&ReplayStatus>) -> Result<ReplayControl, String> {
    const ACCEPTED: &str =
        "use `seek start`, `seek end`, `seek +5m`, `seek -1h` or `seek 2023-11-14T22:30:00Z`";
    let arg = arg.trim();
    let signed = |rest: &str, sign: i64| -> Result<ReplayControl, String> {
        let d = humantime::parse_duration(rest.trim()).map_err(|e| {
            format!(
                "seek: bad duration {:?} ({e}); {ACCEPTED}",
                crate::sanitize::sanitize(rest)
            )
        })?;
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Ok(ReplayControl::SeekBy(ms.saturating_mul(sign)))
    };
    match arg {
        "" => Err(format!("seek: where to? {ACCEPTED}")),
        "start" | "end" => match status {
            Some(st) => Ok(ReplayControl::SeekTo(if arg == "start" {
                st.start
            } else {
                st.end
            })),
            None => Err("seek: the replay has not reported its span yet".to_string()),
        },
        _ => {
            if let Some(rest) = arg.strip_prefix('+') {
                signed(rest, 1)
            } else if let Some(rest) = arg.strip_prefix('-') {
                signed(rest, -1)
            } else {
                let t = humantime::parse_rfc3339_weak(arg).map_err(|e| {
                    format!(
                        "seek: bad time {:?} ({e}); {ACCEPTED}",
                        crate::sanitize::sanitize(arg)
                    )
                })?;
                let ms = t
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_err(|_| format!("seek: {arg:?} is before 1970; {ACCEPTED}"))?
                    .as_millis();
                Ok(ReplayControl::SeekTo(i64::try_from(ms).unwrap_or(i64::MAX)))
            }
        }
    }
}

pub(super) fn clamp(i: usize, len: usize) -> usize {
    i.min(len.saturating_sub(1))
}

/// Palette completions for what has been typed: action names starting with it, then those
/// containing it.
pub fn completions(typed: &str) -> Vec<&'static str> {
    let t = typed.trim();
    let mut out: Vec<&'static str> = Action::ALL
        .iter()
        .map(|a| a.name())
        .filter(|n| n.starts_with(t))
        .collect();
    out.extend(
        Action::ALL
            .iter()
            .map(|a| a.name())
            .filter(|n| !n.starts_with(t) && n.contains(t)),
    );
    out
}

/// Turn a key into an action in the state's mode; printable keys the prompt does not bind are
/// typed into it. Returns the command `update` produced, if any.
pub fn dispatch(state: &mut UiState, key: Key) -> Option<Command> {
    let mode = state.mode();
    if let Some(action) = state.keymap.lookup(mode, &key) {
        return update(state, action);
    }
    if mode == Mode::Prompt
        && let KeyCode::Char(c) = key.code
        && !key.ctrl
        && !key.alt
    {
        state.insert_char(c);
    }
    None
}

/// Apply one action. Pure apart from the returned command.
pub fn update(state: &mut UiState, action: Action) -> Option<Command> {
    if action != Action::PromptComplete {
        state.message = None;
    }
    let page = state.page.max(1);
    let len = state.list_len();
    match action {
        Action::Quit => {
            state.quit = true;
            Some(Command::Quit)
        }
        Action::Back => {
            if state.help {
                state.help = false;
                None
            } else if state.detail_open() {
                state.detail = false;
                None
            } else if state.view == View::Metrics {
                state.view = View::Host;
                state.host_history()
            } else if state.view != View::Overview {
                state.view = View::Overview;
                None
            } else {
                state.quit = true;
                Some(Command::Quit)
            }
        }
        Action::Close => {
            if state.help {
                state.help = false;
            } else if state.detail_open() {
                state.detail = false;
            } else if !state.clear_view_filter() {
                state.view = View::Overview;
            }
            None
        }
        Action::Describe => {
            if state.detail_open() {
                state.detail = false;
            } else if !super::views::detail::describable(state.view) {
                state.message = Some(
                    "d describes an alert (view 2), target (3), anomaly (6) or rule (7)".into(),
                );
            } else if len == 0 {
                state.message = Some("nothing selected to describe".into());
            } else {
                state.detail = true;
                state.detail_scroll = 0;
            }
            None
        }
        Action::Open => {
            // Enter leaves the list for what the row names; the popup stays behind.
            state.detail = false;
            match state.view {
                View::Overview => state.open_host(None),
                View::Alerts => state.open_selected_alert(),
                View::Targets => state.open_selected_target(),
                View::Host => update(state, Action::ViewMetrics),
                View::Metrics => state.series_history(),
                View::Anomalies => state.open_anomaly(),
                View::Rules => None,
            }
        }
        Action::Up
        | Action::Down
        | Action::Top
        | Action::Bottom
        | Action::PageUp
        | Action::PageDown
        | Action::NextMatch
        | Action::PrevMatch => {
            let help = state.help || state.detail_open();
            let cur = state.cursor()?;
            // Help's and the detail's lengths are the renderer's business; it clamps the
            // scroll it draws.
            let max = if help {
                HELP_SCROLL_MAX
            } else {
                len.saturating_sub(1)
            };
            *cur = match action {
                Action::Up => cur.saturating_sub(1),
                Action::Down => cur.saturating_add(1).min(max),
                Action::Top => 0,
                Action::Bottom => max,
                Action::PageUp => cur.saturating_sub(page),
                Action::PageDown => cur.saturating_add(page).min(max),
                Action::NextMatch if len > 0 => (*cur + 1) % len,
                Action::PrevMatch if len > 0 => (*cur + len - 1) % len,
                _ => *cur,
            };
            if state.view == View::Metrics && !help {
                state.metrics.chart = Loaded::Idle;
            }
            None
        }
        Action::Help => {
            state.help = !state.help;
            state.help_scroll = 0;
            None
        }
        Action::Filter => {
            let text = state.view_filter_text();
            state.prompt = Some(Prompt {
                kind: PromptKind::Filter,
                text,
            });
            None
        }
        Action::Palette => {
            state.prompt = Some(Prompt {
                kind: PromptKind::Palette,
                text: String::new(),
            });
            None
        }
        Action::ViewOverview => {
            state.help = false;
            state.detail = false;
            state.view = View::Overview;
            None
        }
        Action::ViewAlerts => {
            state.help = false;
            state.detail = false;
            state.view = View::Alerts;
            None
        }
        Action::ViewTargets => {
            state.help = false;
            state.detail = false;
            state.view = View::Targets;
            None
        }
        Action::ViewAnomalies => {
            state.help = false;
            state.detail = false;
            state.view = View::Anomalies;
            None
        }
        Action::ViewRules => {
            state.help = false;
            state.detail = false;
            state.view = View::Rules;
            None
        }
        Action::ViewHost => {
            state.help = false;
            state.detail = false;
            let focus = if state.view == View::Overview || state.focus.is_none() {
                None
            } else {
                state.focus.clone()
            };
            state.open_host(focus)
        }
        Action::ViewMetrics => {
            state.help = false;
            state.detail = false;
            if state.focus.is_none() || state.view == View::Overview {
                state.focus = state.selected_host().map(str::to_string);
            }
            if state.focus.is_none() {
                state.message = Some("no host selected".to_string());
                return None;
            }
            state.view = View::Metrics;
            state.list_series()
        }
        Action::ZoomIn | Action::ZoomOut => {
            state.zoom = if action == Action::ZoomIn {
                state.zoom.saturating_sub(1)
            } else {
                (state.zoom + 1).min(ZOOM_LEVELS_MS.len() - 1)
            };
            state.refresh()
        }
        // In a replay, time belongs to the player: these move its clock, not the chart window.
        Action::StepBack | Action::StepForward if state.run_mode == RunMode::Replay => {
            let half = state.range_ms() / 2;
            let by = if action == Action::StepBack {
                -half
            } else {
                half
            };
            Some(Command::Replay(ReplayControl::SeekBy(by)))
        }
        Action::PrevAlert if state.run_mode == RunMode::Replay => {
            Some(Command::Replay(ReplayControl::PrevAlert))
        }
        Action::NextAlert if state.run_mode == RunMode::Replay => {
            Some(Command::Replay(ReplayControl::NextAlert))
        }
        Action::Pause if state.run_mode == RunMode::Replay => {
            Some(Command::Replay(ReplayControl::TogglePause))
        }
        Action::Faster => state.replay_only(ReplayControl::Faster),
        Action::Slower => state.replay_only(ReplayControl::Slower),
        Action::ToggleLoop => state.replay_only(ReplayControl::ToggleLoop),
        Action::ReloadRules => Some(Command::ReloadRules),
        Action::StepBack => state.step_time(false),
        Action::StepForward => state.step_time(true),
        Action::PrevAlert => state.jump_alert(false),
        Action::NextAlert => state.jump_alert(true),
        Action::Pause => {
            state.run_mode = match state.run_mode {
                RunMode::Live => RunMode::Paused,
                RunMode::Paused => RunMode::Live,
                RunMode::Replay => RunMode::Replay,
            };
            None
        }
        Action::Live => {
            if state.run_mode == RunMode::Paused {
                state.run_mode = RunMode::Live;
            }
            state.window_end = None;
            state.refresh()
        }
        Action::ToggleMouse => {
            state.mouse = !state.mouse;
            Some(Command::SetMouse(state.mouse))
        }
        Action::PromptAccept => {
            let p = state.prompt.take()?;
            match p.kind {
                PromptKind::Filter => {
                    state.accept_view_filter(&p.text);
                    None
                }
                PromptKind::Palette => state.run_palette(&p.text),
            }
        }
        Action::PromptCancel => {
            if let Some(p) = state.prompt.take()
                && p.kind == PromptKind::Filter
                && state.view == View::Metrics
            {
                state.cancel_query();
            }
            None
        }
        Action::PromptComplete => {
            if let Some(p) = &mut state.prompt
                && p.kind == PromptKind::Palette
            {
                let options = completions(&p.text);
                match options.as_slice() {
                    [] => state.message = Some("no command matches".to_string()),
                    [one] => p.text = (*one).to_string(),
                    many => {
                        let shared = common_prefix(many);
                        if shared.len() > p.text.len() {
                            p.text = shared;
                        }
                        state.message = Some(many.join(" "));
                    }
                }
            }
            None
        }
        Action::PromptBackspace => {
            if let Some(p) = &mut state.prompt {
                p.text.pop();
            }
            state.live_prompt();
            None
        }
        Action::PromptClear => {
            if let Some(p) = &mut state.prompt {
                p.text.clear();
            }
            state.live_prompt();
            None
        }
    }
}

impl UiState {}

fn common_prefix(words: &[&str]) -> String {
    let Some(first) = words.first() else {
        return String::new();
    };
    let mut n = first.len();
    for w in words {
        n = n.min(
            first
                .bytes()
                .zip(w.bytes())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    first.get(..n).unwrap_or("").to_string()
}
