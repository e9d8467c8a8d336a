//! `UiState` and `update`: everything the console remembers between frames and how each
//! action changes it. Pure: no terminal, no I/O; requests for data leave as `Command`s.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::keymap::{Key, KeyCode, Keymap, Mode};
use crate::model::Vital;
use crate::model::{AnomalyEvent, Millis, Snapshot};

use super::command::{Command, HistoryRequest, ReplayControl, ReplayStatus, SeriesData};
use super::filter::{Candidate, Filter, fuzzy_score};
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
/// Enter on an anomaly zooms out until the run fills at most this share (num/den) of the window.
const ANOMALY_FIT_NUM: i64 = 4;
const ANOMALY_FIT_DEN: i64 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Overview,
    Host,
    Alerts,
    Targets,
    Metrics,
    Anomalies,
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
#[derive(Clone, Debug, PartialEq)]
pub enum Loaded<T> {
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
    pub prompt: Option<Prompt>,
    pub filter: Filter,
    pub metric_query: String,
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
    /// Rows per page, learnt from the last render.
    pub page: usize,
    /// Host rows after the filter, in snapshot order.
    pub rows: Vec<Row>,
    pub selected: usize,
    /// The host the host and metrics views show (kept by name across re-sorts).
    pub focus: Option<String>,
    pub alert_sel: usize,
    pub alert_count: usize,
    pub target_sel: usize,
    pub target_count: usize,
    pub metric_sel: usize,
    /// Alert start times in the snapshot, sorted, for `[` and `]`.
    pub alert_times: Vec<Millis>,
    pub alert_hosts: Vec<String>,
    /// Host of each alert in snapshot (display) order, so Enter in the alerts view opens it.
    pub alert_order: Vec<String>,
    /// Host of each target in snapshot order, so Enter in the targets view opens it.
    pub target_hosts: Vec<String>,
    /// The anomalies view's own `/` filter (its rows are runs, not hosts).
    pub anomaly_filter: Filter,
    /// Anomaly runs the anomalies view lists: under its filter, newest start first.
    pub anomalies: Vec<AnomalyEvent>,
    pub anomaly_sel: usize,
    /// Alert and anomaly starts with their hosts, sorted by time, for `[` and `]`.
    pub jump_marks: Vec<(Millis, String)>,
    pub now: Millis,
    pub history: Loaded<Vec<SeriesData>>,
    pub series: Loaded<Vec<(String, String)>>,
    pub series_chart: Loaded<Vec<SeriesData>>,
    next_id: u64,
    pub history_id: u64,
    pub series_id: u64,
    /// Labels of every target by target name (from the config), for `key=value` filters.
    pub target_labels: BTreeMap<String, BTreeMap<String, String>>,
    /// All host rows of the last snapshot, before the filter.
    all_rows: Vec<Row>,
    /// All anomaly runs of the last snapshot, newest first, before the filter.
    all_anomalies: Vec<AnomalyEvent>,
}

impl UiState {
    pub fn new(keymap: Arc<Keymap>) -> UiState {
        UiState {
            keymap,
            view: View::Overview,
            help: false,
            help_scroll: 0,
            prompt: None,
            filter: Filter::default(),
            metric_query: String::new(),
            run_mode: RunMode::Live,
            replay: None,
            zoom: DEFAULT_ZOOM,
            window_end: None,
            mouse: false,
            quit: false,
            message: None,
            store_health: "ok".to_string(),
            page: 10,
            rows: Vec::new(),
            selected: 0,
            focus: None,
            alert_sel: 0,
            alert_count: 0,
            target_sel: 0,
            target_count: 0,
            metric_sel: 0,
            alert_times: Vec::new(),
            alert_hosts: Vec::new(),
            alert_order: Vec::new(),
            target_hosts: Vec::new(),
            anomaly_filter: Filter::default(),
            anomalies: Vec::new(),
            anomaly_sel: 0,
            jump_marks: Vec::new(),
            now: 0,
            history: Loaded::Idle,
            series: Loaded::Idle,
            series_chart: Loaded::Idle,
            next_id: 0,
            history_id: 0,
            series_id: 0,
            target_labels: BTreeMap::new(),
            all_rows: Vec::new(),
            all_anomalies: Vec::new(),
        }
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

    pub fn selected_host(&self) -> Option<&str> {
        self.rows.get(self.selected).map(|r| r.name.as_str())
    }

    /// The metric browser's rows: (source, key) pairs that fuzzy-match the query, best first.
    pub fn metric_rows(&self) -> Vec<&(String, String)> {
        let Loaded::Ready(all) = &self.series else {
            return Vec::new();
        };
        let mut scored: Vec<(i64, &(String, String))> = all
            .iter()
            .filter_map(|s| fuzzy_score(&self.metric_query, &s.1).map(|sc| (sc, s)))
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        scored.into_iter().map(|(_, s)| s).collect()
    }

    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Take in a new snapshot: recompute rows under the filter, keep the selection on the same
    /// host, clamp the other lists.
    pub fn sync(&mut self, snap: &Snapshot) {
        self.now = snap.now;
        let keep = self.selected_host().map(str::to_string);
        self.all_rows = snap
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
        self.alert_count = snap.alerts.len();
        self.alert_order = snap.alerts.iter().map(|a| a.host.clone()).collect();
        self.target_count = snap.targets.len();
        self.target_hosts = snap.targets.iter().map(|t| t.host.clone()).collect();
        let mut times: Vec<(Millis, String)> = snap
            .alerts
            .iter()
            .map(|a| (a.active_at, a.host.clone()))
            .collect();
        times.sort();
        self.alert_times = times.iter().map(|t| t.0).collect();
        self.alert_hosts = times.iter().map(|t| t.1.clone()).collect();
        times.extend(snap.anomalies.iter().map(|a| (a.start, a.host.clone())));
        times.sort();
        times.dedup();
        self.jump_marks = times;
        let keep_anomaly = self.anomalies.get(self.anomaly_sel).map(anomaly_id);
        self.all_anomalies = snap.anomalies.clone();
        // The engine publishes newest first; sorting again (stably) keeps that promise even for
        // a hand-made or replayed snapshot that does not.
        self.all_anomalies
            .sort_by_key(|a| std::cmp::Reverse(a.start));
        self.refilter(keep.as_deref());
        self.refilter_anomalies(keep_anomaly);
        self.alert_sel = clamp(self.alert_sel, self.alert_count);
        self.target_sel = clamp(self.target_sel, self.target_count);
    }

    fn refilter(&mut self, keep: Option<&str>) {
        let empty = BTreeMap::new();
        self.rows = self
            .all_rows
            .iter()
            .filter(|r| {
                let labels: Vec<BTreeMap<String, String>> = r
                    .sources
                    .iter()
                    .map(|s| {
                        let mut l = self.target_labels.get(s).unwrap_or(&empty).clone();
                        l.entry("target".to_string()).or_insert_with(|| s.clone());
                        l
                    })
                    .collect();
                self.filter.matches(&Candidate {
                    name: &r.name,
                    labels: &labels,
                    texts: &[],
                })
            })
            .cloned()
            .collect();
        if let Some(k) = keep
            && let Some(i) = self.rows.iter().position(|r| r.name == k)
        {
            self.selected = i;
        }
        self.selected = clamp(self.selected, self.rows.len());
    }

    /// The labels of a host's targets (plus `target`), as the `/` filter sees them.
    fn host_labels(&self, host: &str) -> Vec<BTreeMap<String, String>> {
        let empty = BTreeMap::new();
        self.all_rows
            .iter()
            .filter(|r| r.name == host)
            .flat_map(|r| r.sources.iter())
            .map(|s| {
                let mut l = self.target_labels.get(s).unwrap_or(&empty).clone();
                l.entry("target".to_string()).or_insert_with(|| s.clone());
                l
            })
            .collect()
    }

    /// Re-apply the anomalies view's filter; `keep` holds the selection on the same run.
    fn refilter_anomalies(&mut self, keep: Option<AnomalyId>) {
        let all = self.anomaly_filter.is_empty();
        let shown: Vec<AnomalyEvent> = self
            .all_anomalies
            .iter()
            .filter(|a| {
                // Building every run's label sets is only worth it when a filter asks.
                if all {
                    return true;
                }
                let mut labels = self.host_labels(&a.host);
                let mut own = BTreeMap::new();
                own.insert("vital".to_string(), a.vital.clone());
                own.insert("detector".to_string(), a.detector.clone());
                labels.push(own);
                self.anomaly_filter.matches(&Candidate {
                    name: &a.host,
                    labels: &labels,
                    texts: &[a.vital.as_str(), a.detector.as_str()],
                })
            })
            .cloned()
            .collect();
        self.anomalies = shown;
        if let Some(k) = keep
            && let Some(i) = self.anomalies.iter().position(|a| anomaly_id(a) == k)
        {
            self.anomaly_sel = i;
        }
        self.anomaly_sel = clamp(self.anomaly_sel, self.anomalies.len());
    }

    /// Every anomaly run in the last snapshot, before the anomalies view's filter.
    pub fn anomaly_total(&self) -> usize {
        self.all_anomalies.len()
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

    /// The metric browser narrows as you type, like a fuzzy finder.
    fn live_prompt(&mut self) {
        if self.view == View::Metrics
            && let Some(p) = &self.prompt
            && p.kind == PromptKind::Filter
        {
            self.metric_query = p.text.clone();
            self.metric_sel = 0;
        }
    }

    /// A history reply; stale ones (older ids) are ignored.
    pub fn apply_history(&mut self, id: u64, result: Result<Vec<SeriesData>, String>) {
        let loaded = match result {
            Ok(v) => Loaded::Ready(v),
            Err(e) => Loaded::Failed(e),
        };
        if id == self.history_id {
            self.history = loaded;
        } else if id == self.series_id {
            self.series_chart = loaded;
        }
    }

    pub fn apply_series(&mut self, id: u64, result: Result<Vec<(String, String)>, String>) {
        if id != self.series_id {
            return;
        }
        self.series = match result {
            Ok(v) => Loaded::Ready(v),
            Err(e) => Loaded::Failed(e),
        };
    }

    fn host_history(&mut self) -> Option<Command> {
        let host = self.focus.clone()?;
        let (from, to) = self.window();
        self.history_id = self.new_id();
        self.history = Loaded::Loading;
        Some(Command::History(HistoryRequest {
            id: self.history_id,
            source: format!("host/{host}"),
            keys: Vital::ALL.iter().map(|v| v.key().to_string()).collect(),
            from,
            to,
        }))
    }

    fn list_series(&mut self) -> Option<Command> {
        let host = self.focus.clone()?;
        let sources = self
            .all_rows
            .iter()
            .find(|r| r.name == host)
            .map(|r| r.sources.clone())
            .unwrap_or_default();
        self.series_id = self.new_id();
        self.series = Loaded::Loading;
        self.series_chart = Loaded::Idle;
        self.metric_sel = 0;
        Some(Command::ListSeries {
            id: self.series_id,
            sources,
        })
    }

    /// After the window moved: refresh whatever the current view charts.
    fn refresh(&mut self) -> Option<Command> {
        match self.view {
            View::Host => self.host_history(),
            View::Metrics => self.series_history(),
            _ => None,
        }
    }

    fn series_history(&mut self) -> Option<Command> {
        let (source, key) = self
            .metric_rows()
            .get(self.metric_sel)
            .map(|s| (*s).clone())?;
        let (from, to) = self.window();
        // The chart shares the browser's id so a new listing makes old chart replies stale.
        self.series_chart = Loaded::Loading;
        Some(Command::History(HistoryRequest {
            id: self.series_id,
            source,
            keys: vec![key],
            from,
            to,
        }))
    }

    fn open_host(&mut self, name: Option<String>) -> Option<Command> {
        let name = name.or_else(|| self.selected_host().map(str::to_string))?;
        if let Some(i) = self.rows.iter().position(|r| r.name == name) {
            self.selected = i;
        }
        self.focus = Some(name);
        self.view = View::Host;
        self.host_history()
    }

    fn list_len(&self) -> usize {
        match self.view {
            View::Overview => self.rows.len(),
            View::Alerts => self.alert_count,
            View::Targets => self.target_count,
            View::Metrics => self.metric_rows().len(),
            View::Anomalies => self.anomalies.len(),
            View::Host => 0,
        }
    }

    fn cursor(&mut self) -> Option<&mut usize> {
        if self.help {
            return Some(&mut self.help_scroll);
        }
        match self.view {
            View::Overview => Some(&mut self.selected),
            View::Alerts => Some(&mut self.alert_sel),
            View::Targets => Some(&mut self.target_sel),
            View::Metrics => Some(&mut self.metric_sel),
            View::Anomalies => Some(&mut self.anomaly_sel),
            View::Host => None,
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

    /// Enter on an anomaly: its host's charts with the run in the middle of the window, zoomed
    /// out first if the run would not fit, so what came before and after shows too.
    fn open_anomaly(&mut self) -> Option<Command> {
        let Some(ev) = self.anomalies.get(self.anomaly_sel).cloned() else {
            self.message = Some("no anomaly selected".to_string());
            return None;
        };
        let end = ev.end.unwrap_or(self.now).max(ev.start);
        let len = end.saturating_sub(ev.start);
        while self.zoom + 1 < ZOOM_LEVELS_MS.len()
            && len.saturating_mul(ANOMALY_FIT_DEN) > self.range_ms().saturating_mul(ANOMALY_FIT_NUM)
        {
            self.zoom += 1;
        }
        let centre = ev.start.saturating_add(len / 2);
        let right = centre.saturating_add(self.range_ms() / 2);
        // A window reaching past the present follows it, as a step into the future does.
        self.window_end = (right < self.now).then_some(right);
        self.open_host(Some(ev.host))
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

/// What identifies an anomaly run across snapshots (its end and score change while it runs).
type AnomalyId = (String, String, String, Millis);

fn anomaly_id(a: &AnomalyEvent) -> AnomalyId {
    (a.host.clone(), a.vital.clone(), a.detector.clone(), a.start)
}

fn clamp(i: usize, len: usize) -> usize {
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
            } else if state.view == View::Metrics && !state.metric_query.is_empty() {
                state.metric_query.clear();
            } else if state.view == View::Overview && !state.filter.is_empty() {
                state.filter = Filter::default();
                let keep = state.selected_host().map(str::to_string);
                state.refilter(keep.as_deref());
            } else if state.view == View::Anomalies && !state.anomaly_filter.is_empty() {
                state.anomaly_filter = Filter::default();
                let keep = state.anomalies.get(state.anomaly_sel).map(anomaly_id);
                state.refilter_anomalies(keep);
            } else {
                state.view = View::Overview;
            }
            None
        }
        Action::Open => match state.view {
            View::Overview => state.open_host(None),
            View::Alerts => {
                let host = state.alert_hosts_by_sel();
                state.open_host(host)
            }
            View::Targets => {
                let host = state.target_hosts.get(state.target_sel).cloned();
                state.open_host(host)
            }
            View::Host => update(state, Action::ViewMetrics),
            View::Metrics => state.series_history(),
            View::Anomalies => state.open_anomaly(),
        },
        Action::Up
        | Action::Down
        | Action::Top
        | Action::Bottom
        | Action::PageUp
        | Action::PageDown
        | Action::NextMatch
        | Action::PrevMatch => {
            let help = state.help;
            let cur = state.cursor()?;
            // Help's length is the renderer's business; it clamps the scroll it draws.
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
                state.series_chart = Loaded::Idle;
            }
            None
        }
        Action::Help => {
            state.help = !state.help;
            state.help_scroll = 0;
            None
        }
        Action::Filter => {
            let text = match state.view {
                View::Metrics => state.metric_query.clone(),
                View::Anomalies => state.anomaly_filter.text().to_string(),
                _ => state.filter.text().to_string(),
            };
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
            state.view = View::Overview;
            None
        }
        Action::ViewAlerts => {
            state.help = false;
            state.view = View::Alerts;
            None
        }
        Action::ViewTargets => {
            state.help = false;
            state.view = View::Targets;
            None
        }
        Action::ViewAnomalies => {
            state.help = false;
            state.view = View::Anomalies;
            None
        }
        Action::ViewHost => {
            state.help = false;
            let focus = if state.view == View::Overview || state.focus.is_none() {
                None
            } else {
                state.focus.clone()
            };
            state.open_host(focus)
        }
        Action::ViewMetrics => {
            state.help = false;
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
                PromptKind::Filter if state.view == View::Metrics => {
                    state.metric_query = p.text;
                    None
                }
                PromptKind::Filter if state.view == View::Anomalies => {
                    state.anomaly_filter = Filter::parse(&p.text);
                    let keep = state.anomalies.get(state.anomaly_sel).map(anomaly_id);
                    state.refilter_anomalies(keep);
                    if state.anomalies.is_empty() && state.anomaly_total() > 0 {
                        state.message = Some("no anomaly matches the filter".to_string());
                    }
                    None
                }
                PromptKind::Filter => {
                    state.filter = Filter::parse(&p.text);
                    let keep = state.selected_host().map(str::to_string);
                    state.refilter(keep.as_deref());
                    if state.rows.is_empty() {
                        state.message = Some("no host matches the filter".to_string());
                    }
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
                // Typing narrowed the list live; cancelling puts it back.
                state.metric_query.clear();
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

impl UiState {
    fn alert_hosts_by_sel(&self) -> Option<String> {
        self.alert_order.get(self.alert_sel).cloned()
    }
}

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
