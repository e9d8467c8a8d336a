//! The `Player` state machine: speed parsing and ladder, pause, ×1 in small steps equals full
//! speed equals one scan, seek (backwards rebuilds), next/previous alert, loop, and damage.
//! The recording is built here from a real node_exporter body with a real outage (polls that
//! fail to connect for four minutes), so the real engine raises and clears ExporterDown.

use std::time::Duration;

use bytes::Bytes;
use nocscope::engine::{Event, TargetSpec};
use nocscope::model::{
    AlertState, Input, Observation, Payload, PollError, Scrape, ScrapeOutcome, TargetId,
};
use nocscope::replay::{self, Limits, Player, Recorder, Speed, SpeedError};

const T0: i64 = 1_750_000_000_000;
const MIN: i64 = 60_000;

fn body() -> Bytes {
    Bytes::from(
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/data/node_exporter.prom"
        ))
        .expect("benches/data/node_exporter.prom"),
    )
}

fn spec(name: &str) -> TargetSpec {
    TargetSpec {
        labels: Default::default(),
        name: name.into(),
        host: name.into(),
        interval_ms: 15_000,
        timeout_ms: 10_000,
        sample_limit: 0,
        kind: Default::default(),
    }
}

/// 10 minutes, two targets, `b` unreachable from minute 2 to minute 6: ExporterDown goes
/// pending at 2:00, fires at 4:00, resolves at 6:00.
fn recording() -> Vec<u8> {
    let header = replay::header_for(&[spec("a"), spec("b")], "test".into(), T0);
    let mut rec = Recorder::new(Vec::new(), &header).expect("recorder");
    let body = body();
    for s in 0..600i64 {
        let now = T0 + s * 1000;
        if s % 15 == 0 {
            for t in 0..2u32 {
                let down = t == 1 && (2 * MIN..6 * MIN).contains(&(s * 1000));
                let outcome = if down {
                    ScrapeOutcome::Failed(PollError::Connect("connection refused".into()))
                } else {
                    ScrapeOutcome::Body {
                        content_type: Some("text/plain; version=0.0.4".into()),
                        body: body.clone(),
                    }
                };
                let obs = Input::Observation(Observation {
                    target: TargetId(t),
                    at: now,
                    payload: Payload::Scrape(Scrape {
                        duration_ms: 3.0,
                        outcome,
                    }),
                });
                rec.input(now + 3, &obs).expect("record");
            }
        }
        rec.input(now + 500, &Input::Tick { now: now + 500 })
            .expect("record");
    }
    rec.finish().expect("finish")
}

fn alert_changes(events: &[Event]) -> Vec<(i64, String, AlertState)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Alert(t) => Some((t.at, format!("{}/{}", t.host, t.rule), t.to)),
            _ => None,
        })
        .collect()
}

fn snapshot_json(p: &Player) -> String {
    serde_json::to_string(&p.snapshot()).expect("snapshot json")
}

fn play(p: &mut Player, step: Duration) -> Vec<Event> {
    let mut events = Vec::new();
    let mut guard = 0;
    while !p.is_finished() {
        events.extend(p.advance(step));
        guard += 1;
        assert!(guard < 10_000_000, "player never finished");
    }
    events
}

#[test]
fn speed_parses_factors_and_max_and_rejects_the_rest() {
    let table: &[(&str, Option<Speed>)] = &[
        ("1", Some(Speed::Factor(1.0))),
        ("10", Some(Speed::Factor(10.0))),
        ("x10", Some(Speed::Factor(10.0))),
        ("10x", Some(Speed::Factor(10.0))),
        ("1000", Some(Speed::Factor(1000.0))),
        ("2.5", Some(Speed::Factor(2.5))),
        ("max", Some(Speed::Max)),
        ("MAX", Some(Speed::Max)),
        ("0", None),
        ("0.5", None),
        ("1001", None),
        ("-3", None),
        ("NaN", None),
        ("inf", None),
        ("", None),
        ("fastest", None),
    ];
    for (input, want) in table {
        assert_eq!(Speed::parse(input).ok(), *want, "{input:?}");
    }
    let e = Speed::parse("0").expect_err("error");
    assert_eq!(e, SpeedError("0".into()));
    let said = e.to_string();
    assert!(said.contains("1 to 1000") && said.contains("max"), "{said}");
}

#[test]
fn the_speed_ladder_goes_from_x1_to_max_and_back() {
    let mut s = Speed::Factor(1.0);
    let mut seen = vec![s];
    while s != Speed::Max {
        s = s.faster();
        seen.push(s);
    }
    assert_eq!(seen, Speed::LADDER.to_vec());
    assert_eq!(Speed::Max.faster(), Speed::Max);
    assert_eq!(Speed::Factor(1.0).slower(), Speed::Factor(1.0));
    assert_eq!(Speed::Max.slower(), Speed::Factor(1000.0));
    // An off-ladder speed joins the ladder at the next step.
    assert_eq!(Speed::Factor(3.0).faster(), Speed::Factor(10.0));
}

#[test]
fn x1_in_small_steps_full_speed_and_a_scan_agree_exactly() {
    let data = recording();
    let scan = replay::scan(&data, Limits::default()).expect("scan");
    assert!(scan.damage.is_none());
    let scanned: Vec<Event> = scan.events.iter().map(|(_, e)| e.clone()).collect();
    let changes = alert_changes(&scanned);
    assert_eq!(
        changes,
        vec![
            (T0 + 2 * MIN, "b/ExporterDown".into(), AlertState::Pending),
            (T0 + 4 * MIN, "b/ExporterDown".into(), AlertState::Firing),
            (T0 + 6 * MIN, "b/ExporterDown".into(), AlertState::Inactive),
        ],
        "the outage as the engine sees it"
    );

    let mut x1 = Player::open(data.clone(), Limits::default()).expect("open");
    let slow = play(&mut x1, Duration::from_millis(100));
    assert_eq!(slow, scanned);
    assert_eq!(
        snapshot_json(&x1),
        serde_json::to_string(&scan.snapshot).expect("json")
    );

    let mut max = Player::open(data.clone(), Limits::default()).expect("open");
    max.set_speed(Speed::Max);
    let fast = play(&mut max, Duration::ZERO);
    assert_eq!(fast, scanned);
    assert_eq!(snapshot_json(&max), snapshot_json(&x1));

    let mut x37 = Player::open(data, Limits::default()).expect("open");
    x37.set_speed(Speed::Factor(37.0));
    assert_eq!(play(&mut x37, Duration::from_millis(7)), scanned);
}

#[test]
fn x1_moves_the_virtual_clock_by_exactly_the_real_time_given() {
    let data = recording();
    let mut p = Player::open(data, Limits::default()).expect("open");
    let start = p.clock();
    for _ in 0..1500 {
        p.advance(Duration::from_micros(333_333));
    }
    // 1500 × 333.333 ms = 499.9995 s: the carry keeps sub-millisecond steps from being lost.
    assert_eq!(p.clock() - start, 499_999);
    p.set_speed(Speed::Factor(10.0));
    let before = p.clock();
    p.advance(Duration::from_millis(1500));
    assert_eq!(p.clock() - before, 15_000);
}

#[test]
fn pause_stops_the_clock_and_the_engine() {
    let data = recording();
    let mut p = Player::open(data, Limits::default()).expect("open");
    p.advance(Duration::from_secs(60));
    let (clock, snap) = (p.clock(), snapshot_json(&p));
    p.toggle_pause();
    assert!(p.is_paused());
    assert!(p.advance(Duration::from_secs(600)).is_empty());
    assert_eq!((p.clock(), snapshot_json(&p)), (clock, snap));
    p.toggle_pause();
    p.advance(Duration::from_secs(1));
    assert_eq!(p.clock(), clock + 1000);
}

#[test]
fn seeking_anywhere_gives_the_state_of_playing_there() {
    let data = recording();
    let mut reference = Player::open(data.clone(), Limits::default()).expect("open");
    let mut seeker = Player::open(data, Limits::default()).expect("open");
    seeker.seek(seeker.end());
    // Visit times in a scrambled order: forward seeks apply, backward seeks rebuild.
    for offset_s in [250i64, 30, 480, 120, 121, 599, 0, 360] {
        let t = reference.start() + offset_s * 1000;
        seeker.seek(t);
        let mut fresh = Player::open(recording(), Limits::default()).expect("open");
        fresh.advance(Duration::from_millis((t - fresh.start()) as u64));
        assert_eq!(seeker.clock(), t);
        assert_eq!(
            snapshot_json(&seeker),
            snapshot_json(&fresh),
            "seek to +{offset_s}s"
        );
    }
    reference.seek(reference.start() - 1_000_000);
    assert_eq!(
        reference.clock(),
        reference.start(),
        "seek clamps to the start"
    );
}

/// Seeking back from the end of a finished replay pauses it, so it does not race back to the
/// end at the speed that got it there; a seek while playing keeps playing.
#[test]
fn seeking_back_from_the_end_pauses() {
    let mut p = Player::open(recording(), Limits::default()).expect("open");
    p.set_speed(Speed::Factor(1000.0));
    p.advance(Duration::from_secs(60));
    assert!(p.is_finished() && !p.is_paused());
    let mid = p.start() + (p.end() - p.start()) / 2;
    p.seek(mid);
    assert_eq!(p.clock(), mid);
    assert!(p.is_paused(), "paused where the seek landed");
    p.advance(Duration::from_secs(60));
    assert_eq!(p.clock(), mid, "nothing moves while paused");
    // Not at the end: a seek leaves playing alone.
    p.toggle_pause();
    p.seek(p.start() + 1000);
    assert!(!p.is_paused());
}

#[test]
fn next_and_previous_alert_land_on_each_change_in_turn() {
    let data = recording();
    let mut p = Player::open(data, Limits::default()).expect("open");
    let marks = p.alert_marks().to_vec();
    assert_eq!(marks.len(), 3, "{marks:?}");
    let states = |p: &Player| {
        p.snapshot()
            .alerts
            .iter()
            .map(|a| (a.rule.clone(), a.state))
            .collect::<Vec<_>>()
    };
    assert_eq!(p.next_alert(), Some(marks[0]));
    assert_eq!(
        states(&p),
        vec![("ExporterDown".into(), AlertState::Pending)]
    );
    assert_eq!(p.next_alert(), Some(marks[1]));
    assert_eq!(
        states(&p),
        vec![("ExporterDown".into(), AlertState::Firing)]
    );
    assert_eq!(p.next_alert(), Some(marks[2]));
    assert_eq!(states(&p), vec![]);
    assert_eq!(p.next_alert(), None);
    assert_eq!(p.clock(), marks[2], "no next alert: the clock stays");
    assert_eq!(p.prev_alert(), Some(marks[1]));
    assert_eq!(
        states(&p),
        vec![("ExporterDown".into(), AlertState::Firing)]
    );
    assert_eq!(p.prev_alert(), Some(marks[0]));
    assert_eq!(p.prev_alert(), None);
}

#[test]
fn looping_wraps_to_the_start_and_plays_the_same_events_again() {
    let data = recording();
    let mut p = Player::open(data, Limits::default()).expect("open");
    p.set_looping(true);
    p.set_speed(Speed::Factor(1000.0));
    let mut events = Vec::new();
    while p.loops() < 2 {
        events.extend(p.advance(Duration::from_millis(20)));
        assert!(!p.is_finished(), "a looping player never finishes");
    }
    let once = alert_changes(&events);
    assert_eq!(once.len(), 6, "two passes of three changes: {once:?}");
    assert_eq!(once[..3], once[3..]);
}

#[test]
fn a_damaged_recording_plays_up_to_the_damage_and_says_where() {
    let data = recording();
    let whole = replay::scan(&data, Limits::default()).expect("scan");
    let cut = &data[..data.len() * 2 / 3];
    let scan = replay::scan(cut, Limits::default()).expect("scan");
    let damage = scan.damage.clone().expect("damage");
    assert!(damage.offset <= cut.len() as u64);
    assert_eq!(damage.record, scan.records + 1);
    assert!(scan.events.len() < whole.events.len());
    assert_eq!(scan.events[..], whole.events[..scan.events.len()]);

    let mut p = Player::open(cut.to_vec(), Limits::default()).expect("open");
    p.set_speed(Speed::Max);
    let events = play(&mut p, Duration::ZERO);
    assert_eq!(events.len(), scan.events.len());
    assert_eq!(p.damage(), Some(&damage));
    assert!(
        damage
            .to_string()
            .contains(&format!("record {}", damage.record))
    );
}

#[test]
fn a_recording_of_another_rule_set_is_refused_at_open() {
    let mut header = replay::header_for(&[spec("a")], "test".into(), T0);
    header.rules = "custom".into();
    let data = Recorder::new(Vec::new(), &header)
        .and_then(|r| r.finish())
        .expect("write");
    let e = Player::open(data, Limits::default())
        .err()
        .expect("refused");
    assert!(e.to_string().contains("rule set"), "{e}");
}
