//! The `.nsr` format: records round-trip exactly; truncated, bit-flipped, wrong-version and
//! oversized files fail with the record number, byte offset and reason, after returning every
//! intact record before the damage; nothing panics on any input.

use bytes::Bytes;
use nocscope::model::{Input, Observation, Payload, PollError, Scrape, ScrapeOutcome, TargetId};
use nocscope::replay::format::{Header, Limits, Reader, Reason, Record, RecordedTarget, Recorder};
use nocscope::replay::{FORMAT_VERSION, FormatError};
use proptest::prelude::*;

fn header() -> Header {
    Header {
        format_version: FORMAT_VERSION,
        nocscope_version: "test".into(),
        config_digest: "none".into(),
        started_at: 1_700_000_000_000,
        rules: "default".into(),
        rule_set: None,
        rule_files: Vec::new(),
        rule_interval_ms: None,
        notify: None,
        targets: vec![RecordedTarget {
            labels: Default::default(),
            name: "a".into(),
            host: "a".into(),
            interval_ms: 15_000,
            timeout_ms: 10_000,
            sample_limit: 0,
            kind: Default::default(),
        }],
        anomaly: None,
    }
}

/// The real node_exporter body from the benches, so compression sees realistic data.
fn real_body() -> Bytes {
    Bytes::from(
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/data/node_exporter.prom"
        ))
        .expect("benches/data/node_exporter.prom"),
    )
}

fn scrape(at: i64, body: Bytes) -> Input {
    Input::Observation(Observation {
        target: TargetId(0),
        at,
        payload: Payload::Scrape(Scrape {
            duration_ms: 12.5,
            outcome: ScrapeOutcome::Body {
                content_type: Some("text/plain; version=0.0.4".into()),
                body,
            },
        }),
    })
}

fn write(records: &[Record]) -> Vec<u8> {
    let mut rec = Recorder::new(Vec::new(), &header()).expect("recorder");
    for r in records {
        match r {
            Record::Input { applied_at, input } => rec.input(*applied_at, input),
            other => rec.record(other),
        }
        .expect("write record");
    }
    rec.finish().expect("finish")
}

/// A writer shared with the test, to look at the file the way a crash leaves it: everything
/// written so far, no end marker.
#[derive(Clone, Default)]
struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);
impl std::io::Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn write_unfinished(records: &[Record]) -> Vec<u8> {
    let buf = Shared::default();
    let mut rec = Recorder::new(buf.clone(), &header()).expect("recorder");
    for r in records {
        rec.record(r).expect("write record");
    }
    drop(rec);
    buf.0.borrow().clone()
}

/// Read everything; returns the records and the error that stopped it, if any.
fn read_all(data: &[u8], limits: Limits) -> (Vec<Record>, Option<FormatError>) {
    let mut reader = match Reader::new(data, limits) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut out = Vec::new();
    loop {
        match reader.next_record() {
            Ok(Some(r)) => out.push(r),
            Ok(None) => return (out, None),
            Err(e) => {
                // Errors are sticky: asking again gives the same answer, never a panic.
                assert_eq!(reader.next_record(), Err(e.clone()));
                return (out, Some(e));
            }
        }
    }
}

fn sample_records() -> Vec<Record> {
    let body = real_body();
    let mut v = Vec::new();
    for i in 0..6i64 {
        let t = 1_700_000_000_000 + i * 15_000;
        v.push(Record::Input {
            applied_at: t + 20,
            input: scrape(t, body.clone()),
        });
        v.push(Record::Input {
            applied_at: t + 1000,
            input: Input::Tick { now: t + 1000 },
        });
    }
    v.push(Record::Dropped { count: 3 });
    v.push(Record::Input {
        applied_at: 1_700_000_100_000,
        input: Input::Observation(Observation {
            target: TargetId(0),
            at: 1_700_000_099_000,
            payload: Payload::Scrape(Scrape {
                duration_ms: 10_000.0,
                outcome: ScrapeOutcome::Failed(PollError::Timeout { after_ms: 10_000 }),
            }),
        }),
    });
    v
}

#[test]
fn records_round_trip_and_bodies_compress_across_scrapes() {
    let records = sample_records();
    let data = write(&records);
    let (back, err) = read_all(&data, Limits::default());
    assert_eq!(err, None);
    assert_eq!(back, records);
    // Six copies of a ~57 KB body: the window spanning bodies makes copies 2..6 nearly free.
    let one = real_body().len();
    assert!(
        data.len() < one,
        "{} bytes for six {one}-byte bodies",
        data.len()
    );
}

#[test]
fn the_header_survives_and_is_checked() {
    let data = write(&sample_records());
    let r = Reader::new(&data[..], Limits::default()).expect("open");
    assert_eq!(r.header(), &header());
}

#[test]
fn an_interrupted_recording_replays_everything_then_says_so() {
    let records = sample_records();
    let data = write_unfinished(&records);
    let (back, err) = read_all(&data, Limits::default());
    assert_eq!(back, records);
    let err = err.expect("an interrupted file is reported");
    assert_eq!(err.reason, Reason::Unfinished);
    assert_eq!(err.record, records.len() as u64 + 1);
    assert_eq!(err.offset, data.len() as u64);
    assert!(err.to_string().contains("interrupted"), "{err}");
}

#[test]
fn every_truncation_point_keeps_the_intact_prefix_and_names_the_cut() {
    let records = sample_records();
    let data = write(&records);
    // Segment starts, from a clean read, to know which records a cut may keep.
    for cut in 0..data.len() {
        let (back, err) = read_all(&data[..cut], Limits::default());
        let err = err.unwrap_or_else(|| panic!("cut at {cut} read as complete"));
        assert!(back.len() <= records.len());
        assert_eq!(back[..], records[..back.len()], "cut at {cut}");
        assert!(err.offset <= cut as u64, "cut {cut}: {err}");
        if err.record != 0 {
            assert_eq!(err.record, back.len() as u64 + 1, "cut {cut}: {err}");
        }
        assert!(
            matches!(
                err.reason,
                Reason::Truncated { .. } | Reason::Unfinished | Reason::NotARecording
            ),
            "cut {cut}: {err}"
        );
    }
}

#[test]
fn every_single_bit_flip_is_detected_where_it_happened() {
    let records = sample_records();
    let data = write(&records);
    // Every bit of a big file takes long in debug builds; every bit of the prelude, header and
    // first segments, then a stride through the rest.
    let positions: Vec<usize> = (0..600.min(data.len()))
        .chain((600..data.len()).step_by(7))
        .collect();
    for &pos in &positions {
        for bit in 0..8 {
            let mut bad = data.clone();
            bad[pos] ^= 1 << bit;
            let (back, err) = read_all(&bad, Limits::default());
            let err = err.unwrap_or_else(|| panic!("flip at byte {pos} bit {bit} went unnoticed"));
            assert_eq!(back[..], records[..back.len()], "flip at {pos}");
            assert!(
                err.offset <= pos as u64,
                "flip at {pos} reported later, at {err}"
            );
        }
    }
}

#[test]
fn wrong_version_magic_and_oversized_parts_are_clear_errors() {
    let data = write(&sample_records());

    let mut v2 = data.clone();
    v2[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let e = Reader::new(&v2[..], Limits::default())
        .err()
        .expect("version");
    assert_eq!(e.reason, Reason::UnsupportedVersion(FORMAT_VERSION + 1));
    assert!(e.to_string().contains("not supported"), "{e}");

    let e = Reader::new(&b"hello, world, this is text\n"[..], Limits::default())
        .err()
        .expect("magic");
    assert_eq!(e.reason, Reason::NotARecording);
    // Short files: a foreign one is "not a recording", the start of a real one is "truncated".
    let table: &[(&[u8], bool)] = &[
        (b"", true),
        (b"[defaults]\n", true),
        (b"NSRE", false),
        (b"NSREC\r\n\x1a\x01", false),
        (b"NSREC\n", true),
    ];
    for (bytes, foreign) in table {
        let e = Reader::new(*bytes, Limits::default())
            .err()
            .expect("short file");
        assert_eq!(
            e.reason == Reason::NotARecording,
            *foreign,
            "{bytes:?}: {e}"
        );
    }

    let tiny = Limits {
        max_header: 16,
        ..Limits::default()
    };
    let e = Reader::new(&data[..], tiny).err().expect("header cap");
    assert!(matches!(e.reason, Reason::HeaderTooLarge { .. }), "{e}");

    let small_records = Limits {
        max_record: 4096,
        ..Limits::default()
    };
    let (back, e) = read_all(&data, small_records);
    assert!(back.is_empty());
    let e = e.expect("record cap");
    assert!(matches!(e.reason, Reason::RecordTooLarge { .. }), "{e}");
    assert_eq!(e.record, 1);

    let small_total = Limits {
        max_total: 200_000,
        ..Limits::default()
    };
    let (back, e) = read_all(&data, small_total);
    assert!(!back.is_empty());
    assert!(matches!(
        e.expect("total cap").reason,
        Reason::TotalTooLarge { .. }
    ));

    let mut trailing = data.clone();
    trailing.push(0);
    let (back, e) = read_all(&trailing, Limits::default());
    assert_eq!(back.len(), sample_records().len());
    assert_eq!(e.expect("trailing").reason, Reason::TrailingData);
}

fn arb_input() -> impl Strategy<Value = Input> {
    prop_oneof![
        any::<i64>().prop_map(|now| Input::Tick { now }),
        (
            0u32..4,
            any::<i64>(),
            any::<f64>(),
            proptest::option::of("[ -~]{0,40}"),
            proptest::collection::vec(any::<u8>(), 0..2000)
        )
            .prop_map(|(t, at, d, ct, body)| Input::Observation(Observation {
                target: TargetId(t),
                at,
                payload: Payload::Scrape(Scrape {
                    duration_ms: d,
                    outcome: ScrapeOutcome::Body {
                        content_type: ct,
                        body: Bytes::from(body),
                    },
                }),
            })),
        (0u32..4, any::<i64>(), "[ -~]{0,40}").prop_map(|(t, at, e)| Input::Observation(
            Observation {
                target: TargetId(t),
                at,
                payload: Payload::Scrape(Scrape {
                    duration_ms: 1.0,
                    outcome: ScrapeOutcome::Failed(PollError::Connect(e)),
                }),
            }
        )),
    ]
}

fn arb_record() -> impl Strategy<Value = Record> {
    prop_oneof![
        4 => (any::<i64>(), arb_input()).prop_map(|(applied_at, input)| Record::Input { applied_at, input }),
        1 => any::<u64>().prop_map(|count| Record::Dropped { count }),
    ]
}

/// NaN never equals itself; compare records through their encoding instead.
fn same(a: &[Record], b: &[Record]) -> bool {
    postcard::to_allocvec(a).ok() == postcard::to_allocvec(b).ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_records_round_trip(records in proptest::collection::vec(arb_record(), 0..40)) {
        let data = write(&records);
        let (back, err) = read_all(&data, Limits::default());
        prop_assert_eq!(err, None);
        prop_assert!(same(&back, &records));
    }

    #[test]
    fn arbitrary_damage_never_panics_and_keeps_a_correct_prefix(
        records in proptest::collection::vec(arb_record(), 1..20),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut data = write(&records);
        for (i, b) in edits {
            let i = i.index(data.len());
            data[i] = b;
        }
        let cut = cut.index(data.len() + 1);
        data.truncate(cut);
        let (back, _) = read_all(&data, Limits::default());
        prop_assert!(back.len() <= records.len());
        prop_assert!(same(&back, &records[..back.len()]));
    }

    #[test]
    fn random_bytes_are_rejected_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let (_, err) = read_all(&bytes, Limits::default());
        prop_assert!(err.is_some());
    }
}
