//! The `Player`: a UI-free state machine that replays a recording through a fresh engine on a
//! virtual clock (speed, pause, seek, next/previous alert, loop), and `scan`, the one-pass
//! replay behind `replay --headless`. Never reads a clock or sleeps: the caller says how much
//! real time passed. Must not touch the terminal, sockets or SQLite.

use std::io::Cursor;
use std::time::Duration;

use bytes::Bytes;

use crate::engine::rules::default_rules;
use crate::engine::{Engine, Event, ModelBinding, TargetSpec};
use crate::model::{Millis, Snapshot};

use super::format::{FormatError, Header, Limits, Reader, Record};

/// Most records applied by one `advance` at `Speed::Max`, so a console drawing between calls
/// stays responsive on a day-long recording.
pub const MAX_BATCH: usize = 4096;

/// Replay speed: a factor of real time, or as fast as the engine goes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    Factor(f64),
    Max,
}

/// A `--speed` the player cannot run at; holds the text as given.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid speed {0:?}; use a factor from 1 to 1000 (e.g. 10 or x10) or \"max\"")]
pub struct SpeedError(pub String);

impl Speed {
    /// The steps `faster`/`slower` walk through.
    pub const LADDER: [Speed; 11] = [
        Speed::Factor(1.0),
        Speed::Factor(2.0),
        Speed::Factor(5.0),
        Speed::Factor(10.0),
        Speed::Factor(20.0),
        Speed::Factor(50.0),
        Speed::Factor(100.0),
        Speed::Factor(200.0),
        Speed::Factor(500.0),
        Speed::Factor(1000.0),
        Speed::Max,
    ];

    /// `1`…`1000` (also `x10`, `10x`) or `max`.
    pub fn parse(s: &str) -> Result<Speed, SpeedError> {
        let t = s.trim().to_ascii_lowercase();
        if t == "max" || t == "fast" {
            return Ok(Speed::Max);
        }
        let num = t.trim_start_matches(['x', '×']).trim_end_matches('x');
        match num.parse::<f64>() {
            Ok(f) if (1.0..=1000.0).contains(&f) => Ok(Speed::Factor(f)),
            _ => Err(SpeedError(s.to_string())),
        }
    }

    fn rank(self) -> usize {
        match self {
            Speed::Max => Speed::LADDER.len() - 1,
            Speed::Factor(f) => Speed::LADDER
                .iter()
                .position(|s| matches!(s, Speed::Factor(g) if *g >= f))
                .unwrap_or(Speed::LADDER.len() - 1),
        }
    }

    pub fn faster(self) -> Speed {
        let i = (self.rank() + 1).min(Speed::LADDER.len() - 1);
        Speed::LADDER.get(i).copied().unwrap_or(Speed::Max)
    }

    pub fn slower(self) -> Speed {
        let i = self.rank().saturating_sub(1);
        Speed::LADDER.get(i).copied().unwrap_or(Speed::Factor(1.0))
    }
}

impl std::fmt::Display for Speed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Speed::Max => f.pad("max"),
            Speed::Factor(x) => f.pad(&format!("x{x}")),
        }
    }
}

/// Why a recording cannot be replayed at all (a damaged body is not this: it replays up to the
/// damage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    Format(FormatError),
    UnknownRules(String),
    /// The recorded rule set does not read back (a damaged or hand-edited header).
    BadRules(String),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Format(e) => e.fmt(f),
            OpenError::UnknownRules(r) => write!(
                f,
                "header: rule set {r:?} is not known to this nocscope (accepted: \"default\", \"recorded\" with its rule_set)"
            ),
            OpenError::BadRules(e) => write!(f, "header: the recorded rules do not read: {e}"),
        }
    }
}

impl std::error::Error for OpenError {}

impl From<FormatError> for OpenError {
    fn from(e: FormatError) -> Self {
        OpenError::Format(e)
    }
}

/// An engine built the way the recording's engine was.
pub fn engine_for(header: &Header) -> Result<Engine, OpenError> {
    let rules = match (header.rules.as_str(), &header.rule_set) {
        ("default", None) => default_rules(),
        ("recorded", Some(text)) => {
            let specs = crate::config::check_rule_sections(text, "<recording header>", &[])
                .map_err(|e| OpenError::BadRules(e.to_string()))?;
            crate::engine::rules::rules_from_specs(&specs)
        }
        _ => return Err(OpenError::UnknownRules(header.rules.clone())),
    };
    let specs = header
        .targets
        .iter()
        .map(|t| TargetSpec {
            labels: t.labels.clone(),
            name: t.name.clone(),
            host: t.host.clone(),
            interval_ms: t.interval_ms,
            timeout_ms: t.timeout_ms,
            sample_limit: t.sample_limit,
            kind: super::spec_kind(&t.kind),
        })
        .collect();
    let mut engine = Engine::new(specs, rules);
    if let Some(a) = &header.anomaly {
        engine.set_anomaly_settings(&a.settings());
    }
    if !header.rule_files.is_empty() {
        let files: Vec<(String, String)> = header
            .rule_files
            .iter()
            .map(|f| (f.name.clone(), f.text.clone()))
            .collect();
        let interval = header.rule_interval_ms.unwrap_or(60_000);
        engine
            .set_rule_files(&files, interval)
            .map_err(|e| OpenError::BadRules(e.to_string()))?;
    }
    Ok(engine)
}

/// Apply one record; returns its replay time when it carried an input.
fn apply(engine: &mut Engine, record: &Record) -> Option<Millis> {
    match record {
        Record::Input { applied_at, input } => {
            engine.apply(input);
            // Batches are the store's business; a replay must not let them pile up.
            engine.take_batches();
            Some(*applied_at)
        }
        Record::Dropped { count } => {
            engine.set_dropped_observations(*count);
            None
        }
        Record::End { .. } => None,
    }
}

/// Everything one pass over a recording yields.
#[derive(Debug)]
pub struct Scan {
    pub header: Header,
    /// Replay time of the first and last input (0 when there is none).
    pub start: Millis,
    pub end: Millis,
    pub records: u64,
    /// Every event, with the replay time of the record that caused it.
    pub events: Vec<(Millis, Event)>,
    pub snapshot: Snapshot,
    /// Where and why the file stopped early; `None` for a cleanly closed recording.
    pub damage: Option<FormatError>,
    /// Observations for targets the header does not list.
    pub ignored_observations: u64,
}

/// Replay a whole recording at full speed.
pub fn scan(data: &[u8], limits: Limits) -> Result<Scan, OpenError> {
    scan_with(data, limits, &[])
}

/// An engine for the recording with anomaly models bound before the first record (so every
/// run of the same file scores the same windows). Unusable bindings are skipped and logged.
fn engine_with(header: &Header, models: &[ModelBinding]) -> Result<Engine, OpenError> {
    let mut engine = engine_for(header)?;
    if !models.is_empty() {
        for problem in engine.set_models(models.to_vec()) {
            tracing::warn!(%problem, "anomaly model not used in this replay");
        }
    }
    Ok(engine)
}

/// [`scan`] with anomaly models bound to the engine.
pub fn scan_with(data: &[u8], limits: Limits, models: &[ModelBinding]) -> Result<Scan, OpenError> {
    let mut reader = Reader::new(data, limits)?;
    let header = reader.header().clone();
    let mut engine = engine_with(&header, models)?;
    let (mut start, mut end) = (None, 0);
    let mut events = Vec::new();
    let damage = loop {
        match reader.next_record() {
            Ok(Some(record)) => {
                if let Some(t) = apply(&mut engine, &record) {
                    start.get_or_insert(t);
                    end = end.max(t);
                    events.extend(engine.take_events().into_iter().map(|e| (t, e)));
                }
            }
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    Ok(Scan {
        header,
        start: start.unwrap_or(0),
        end,
        records: reader.records_read(),
        events,
        snapshot: engine.snapshot(),
        damage,
        ignored_observations: engine.ignored_observations(),
    })
}

/// Replays a recording on a virtual clock. Drive it with `advance(real elapsed)`; read
/// `snapshot()`; events come back from `advance` in the order the live engine produced them.
pub struct Player {
    data: Bytes,
    limits: Limits,
    header: Header,
    engine: Engine,
    reader: Reader<Cursor<Bytes>>,
    /// The next record, read but not yet applied, with its replay time.
    pending: Option<(Millis, Record)>,
    clock: Millis,
    /// Sub-millisecond remainder of the virtual clock, so many small steps add up exactly.
    carry: f64,
    speed: Speed,
    paused: bool,
    looping: bool,
    start: Millis,
    end: Millis,
    /// Replay times at which some alert changed state or an anomaly run began, ascending, no
    /// duplicates.
    alert_marks: Vec<Millis>,
    /// Anomaly models bound to every engine this player builds (at open and on rewind).
    models: Vec<ModelBinding>,
    damage: Option<FormatError>,
    finished: bool,
    loops: u64,
}

impl Player {
    /// Open a recording held in memory. Scans it once to learn its span, its alerts and any
    /// damage; fails only when the header is unusable.
    pub fn open(data: impl Into<Bytes>, limits: Limits) -> Result<Player, OpenError> {
        Self::open_with(data, limits, Vec::new())
    }

    /// [`Player::open`] with anomaly models, so the replay scores and marks anomalies exactly
    /// as a headless replay with the same models does.
    pub fn open_with(
        data: impl Into<Bytes>,
        limits: Limits,
        models: Vec<ModelBinding>,
    ) -> Result<Player, OpenError> {
        let data = data.into();
        let scan = scan_with(&data, limits, &models)?;
        let mut alert_marks: Vec<Millis> = scan
            .events
            .iter()
            .filter(|(_, e)| match e {
                Event::Alert(_) => true,
                Event::Anomaly(a) => a.end.is_none(),
                _ => false,
            })
            .map(|(t, _)| *t)
            .collect();
        alert_marks.dedup();
        let reader = Reader::new(Cursor::new(data.clone()), limits)?;
        let engine = engine_with(&scan.header, &models)?;
        let mut p = Player {
            data,
            limits,
            header: scan.header,
            engine,
            reader,
            pending: None,
            clock: scan.start,
            carry: 0.0,
            speed: Speed::Factor(1.0),
            paused: false,
            looping: false,
            start: scan.start,
            end: scan.end,
            alert_marks,
            models,
            damage: scan.damage,
            finished: false,
            loops: 0,
        };
        p.fill();
        Ok(p)
    }

    /// Read ahead to the next input-carrying record, applying `Dropped` records on the way.
    fn fill(&mut self) {
        while self.pending.is_none() && !self.finished {
            match self.reader.next_record() {
                Ok(Some(Record::Input { applied_at, input })) => {
                    self.pending = Some((applied_at, Record::Input { applied_at, input }));
                }
                Ok(Some(other)) => {
                    apply(&mut self.engine, &other);
                }
                Ok(None) | Err(_) => {
                    // The scan already holds the damage; playback just stops where it is.
                    self.finished = true;
                }
            }
        }
    }

    /// Back to the start with a fresh engine (seeking backwards: the engine cannot be cloned,
    /// so earlier state is rebuilt by replaying from the beginning).
    fn rewind(&mut self) {
        match (
            Reader::new(Cursor::new(self.data.clone()), self.limits),
            engine_with(&self.header, &self.models),
        ) {
            (Ok(reader), Ok(engine)) => {
                self.reader = reader;
                self.engine = engine;
                self.finished = false;
            }
            // Both succeeded at open on the same bytes; if they fail now, stay finished.
            _ => self.finished = true,
        }
        self.pending = None;
        self.clock = self.start;
        self.carry = 0.0;
        self.fill();
    }

    /// Apply every pending record due at or before `t`, at most `budget` of them; returns the
    /// events they caused.
    fn run_until(&mut self, t: Millis, budget: usize, events: &mut Vec<Event>) -> usize {
        let mut applied = 0;
        while applied < budget {
            let due = matches!(&self.pending, Some((at, _)) if *at <= t);
            if !due {
                break;
            }
            if let Some((_, record)) = self.pending.take() {
                apply(&mut self.engine, &record);
                events.extend(self.engine.take_events());
                applied += 1;
            }
            self.fill();
        }
        applied
    }

    /// Let `real` time pass. Returns the events that happened in the replayed span. At the end
    /// of the recording, loops if looping is on, else stops (`is_finished`).
    pub fn advance(&mut self, real: Duration) -> Vec<Event> {
        let mut events = Vec::new();
        if self.paused {
            return events;
        }
        match self.speed {
            Speed::Max => {
                self.run_until(Millis::MAX, MAX_BATCH, &mut events);
                self.clock = match &self.pending {
                    // Just before the next record, so the clock never shows a time whose
                    // records are not applied yet.
                    Some((next, _)) => self.clock.max(next.saturating_sub(1)),
                    None => self.clock.max(self.end),
                };
            }
            Speed::Factor(f) => {
                let step = real.as_secs_f64() * 1000.0 * f + self.carry;
                let whole = step.floor();
                self.carry = step - whole;
                // Far beyond any recording; the cast saturates anyway.
                self.clock = self.clock.saturating_add(whole as i64);
                self.run_until(self.clock, usize::MAX, &mut events);
                if self.pending.is_none() {
                    self.clock = self.clock.min(self.end.max(self.start));
                }
            }
        }
        if self.pending.is_none() && self.finished {
            if self.looping && self.end > self.start {
                self.loops += 1;
                self.rewind();
            } else {
                self.clock = self.clock.max(self.end);
            }
        }
        events
    }

    /// Jump to replay time `t` (clamped to the recording). Forward seeks apply the records in
    /// between; backward seeks rebuild from the start. Events on the way are dropped: they
    /// are history, already in the timeline.
    /// A seek back from the end of a finished replay pauses it there: playing on at the
    /// speed that reached the end would snap straight back to it.
    pub fn seek(&mut self, t: Millis) {
        let t = t.clamp(self.start, self.end.max(self.start));
        if self.is_finished() && t < self.clock {
            self.paused = true;
        }
        if t < self.clock {
            self.rewind();
        }
        let mut sink = Vec::new();
        loop {
            sink.clear();
            if self.run_until(t, MAX_BATCH, &mut sink) == 0 {
                break;
            }
        }
        self.clock = t;
        self.carry = 0.0;
    }

    /// Seek to the next alert change after the clock; `None` (and no move) when there is none.
    pub fn next_alert(&mut self) -> Option<Millis> {
        let t = self.alert_marks.iter().copied().find(|&m| m > self.clock)?;
        self.seek(t);
        Some(t)
    }

    /// Seek to the last alert change before the clock.
    pub fn prev_alert(&mut self) -> Option<Millis> {
        let t = self
            .alert_marks
            .iter()
            .rev()
            .copied()
            .find(|&m| m < self.clock)?;
        self.seek(t);
        Some(t)
    }

    pub fn toggle_pause(&mut self) {
        self.paused = !self.paused;
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    pub fn set_speed(&mut self, speed: Speed) {
        self.speed = speed;
    }

    pub fn speed(&self) -> Speed {
        self.speed
    }

    pub fn set_looping(&mut self, looping: bool) {
        self.looping = looping;
    }

    pub fn is_looping(&self) -> bool {
        self.looping
    }

    /// Times the playback wrapped around.
    pub fn loops(&self) -> u64 {
        self.loops
    }

    /// The virtual clock (replay time, ms since the epoch as recorded).
    pub fn clock(&self) -> Millis {
        self.clock
    }

    pub fn start(&self) -> Millis {
        self.start
    }

    pub fn end(&self) -> Millis {
        self.end
    }

    /// Everything up to the end (or the damage) has been applied and looping is off.
    pub fn is_finished(&self) -> bool {
        self.finished && self.pending.is_none()
    }

    pub fn alert_marks(&self) -> &[Millis] {
        &self.alert_marks
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Where the recording is damaged, if it is; playback stops there.
    pub fn damage(&self) -> Option<&FormatError> {
        self.damage.as_ref()
    }

    pub fn snapshot(&self) -> Snapshot {
        self.engine.snapshot()
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}
