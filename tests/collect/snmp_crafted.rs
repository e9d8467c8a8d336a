//! SNMP collector against a hand-written UDP responder that sends crafted BER: truncated
//! varbind lists, non-increasing walks, tooBig, v1 noSuchName, silence (deadline) and late
//! replies — the snmp2 defects of crates.md §3 and monitoring-semantics §7 cases 16–17.

use crate::support_snmp;

use std::sync::atomic::Ordering;
use std::time::Duration;

use nocscope::collect::snmp::SnmpPoller;
use nocscope::config::{SnmpTarget, SnmpVersion, Target};
use nocscope::model::{SnmpError, SnmpOutcome, SnmpPoll, SnmpValue};
use proptest::prelude::*;
use support_snmp::{
    Request, Responder, SYS_UPTIME, custom, end_of_mib, int, message, target, timeticks, varbind,
};

const TABLE: &[u32] = &[1, 3, 6, 1, 4, 1, 99999, 1];
const SCALAR_A: &[u32] = &[1, 3, 6, 1, 4, 1, 99999, 2, 0];
const SCALAR_B: &[u32] = &[1, 3, 6, 1, 4, 1, 99999, 3, 0];

fn row(i: u32) -> Vec<u32> {
    let mut o = TABLE.to_vec();
    o.push(i);
    o
}

/// A well-formed answer to any GET: TimeTicks for sysUpTime, Integer 7 for the rest.
fn answer_get(req: &Request) -> Vec<u8> {
    let vbs: Vec<Vec<u8>> = req
        .oids
        .iter()
        .map(|o| {
            if o == SYS_UPTIME {
                varbind(o, timeticks(4242))
            } else {
                varbind(o, int(7))
            }
        })
        .collect();
    message(req.version, "public", 0xa2, req.req_id, 0, 0, &vbs)
}

fn setup(port: u16, version: SnmpVersion, gets: &[&[u32]], walk: bool) -> (Target, SnmpTarget) {
    let (mut t, mut s) = target(&format!("127.0.0.1:{port}"), version, vec![]);
    s.custom = gets.iter().map(|o| custom("x", o, false)).collect();
    if walk {
        s.custom.push(custom("table", TABLE, true));
    }
    s.request_timeout = Duration::from_millis(300);
    s.retries = 1;
    t.timeout = Duration::from_secs(3);
    (t, s)
}

fn failure(p: &SnmpPoll) -> &SnmpError {
    match &p.outcome {
        SnmpOutcome::Failed(e) => e,
        SnmpOutcome::Varbinds(v) => panic!("expected a failure, got {v:?}"),
    }
}

#[tokio::test]
async fn a_varbind_that_does_not_decode_fails_the_poll() {
    // Varbind 2 of 3 carries tag 0x4f, which snmp2's decoder stops at silently.
    let agent = Responder::start(|_, req| {
        let mut vbs: Vec<Vec<u8>> = Vec::new();
        for (i, o) in req.oids.iter().enumerate() {
            let value = if i == 1 { vec![0x4f, 1, 0] } else { int(1) };
            vbs.push(varbind(o, value));
        }
        Some(message(1, "public", 0xa2, req.req_id, 0, 0, &vbs))
    });
    let (t, s) = setup(agent.port, SnmpVersion::V2c, &[SCALAR_A, SCALAR_B], false);
    let p = SnmpPoller::new(&t, &s).poll().await;
    let e = failure(&p);
    assert!(
        matches!(e, SnmpError::Malformed(m) if m.contains("asked for 3 objects, got 1")),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_reply_naming_other_objects_is_malformed() {
    let agent = Responder::start(|_, req| {
        let vbs: Vec<Vec<u8>> = req.oids.iter().map(|_| varbind(SCALAR_B, int(1))).collect();
        Some(message(1, "public", 0xa2, req.req_id, 0, 0, &vbs))
    });
    let (t, s) = setup(agent.port, SnmpVersion::V2c, &[SCALAR_A], false);
    let p = SnmpPoller::new(&t, &s).poll().await;
    assert!(matches!(failure(&p), SnmpError::Malformed(_)));
}

/// GETBULK answers from a fixed table of row indexes (one column).
fn table_agent(rows: Vec<u32>) -> Responder {
    Responder::start(move |_, req| {
        if req.pdu_tag != 0xa5 && req.pdu_tag != 0xa1 {
            return Some(answer_get(req));
        }
        let start = req.oids.first()?.clone();
        let reps = if req.pdu_tag == 0xa5 {
            req.third.max(1) as usize
        } else {
            1
        };
        // Rows are served in the listed order after the requested one, like a buggy agent.
        let after = if start == TABLE {
            0
        } else {
            rows.iter()
                .position(|r| row(*r) == start)
                .map_or(rows.len(), |p| p + 1)
        };
        let mut vbs: Vec<Vec<u8>> = rows
            .iter()
            .skip(after)
            .take(reps)
            .map(|r| varbind(&row(*r), int(i64::from(*r))))
            .collect();
        if vbs.len() < reps {
            vbs.push(varbind(&[1, 3, 6, 1, 4, 1, 99999, 9, 0], int(0)));
        }
        Some(message(req.version, "public", 0xa2, req.req_id, 0, 0, &vbs))
    })
}

#[tokio::test]
async fn walks_stop_at_the_subtree_end_and_keep_rows_in_order() {
    for version in [SnmpVersion::V1, SnmpVersion::V2c] {
        let agent = table_agent(vec![1, 2, 3, 5, 8, 13]);
        let (t, mut s) = setup(agent.port, version, &[], true);
        s.max_repetitions = 4;
        let p = SnmpPoller::new(&t, &s).poll().await;
        let vbs = match &p.outcome {
            SnmpOutcome::Varbinds(v) => v,
            SnmpOutcome::Failed(e) => panic!("{version:?}: {e}"),
        };
        let rows: Vec<_> = vbs
            .iter()
            .filter(|v| v.oid.starts_with(TABLE))
            .map(|v| v.oid.clone())
            .collect();
        assert_eq!(rows, [1, 2, 3, 5, 8, 13].map(row).to_vec(), "{version:?}");
    }
}

#[tokio::test]
async fn a_non_increasing_oid_aborts_the_walk_and_discards_the_table() {
    for version in [SnmpVersion::V1, SnmpVersion::V2c] {
        let agent = table_agent(vec![1, 2, 3, 2, 4]);
        let (t, s) = setup(agent.port, version, &[], true);
        let p = SnmpPoller::new(&t, &s).poll().await;
        match failure(&p) {
            SnmpError::NonIncreasing { oid } => {
                assert!(oid.starts_with("1.3.6.1.4.1.99999.1.2 "), "{oid}")
            }
            e => panic!("{version:?}: {e:?}"),
        }
    }
}

#[tokio::test]
async fn end_of_mib_view_ends_a_walk() {
    let agent = Responder::start(|_, req| {
        if req.pdu_tag != 0xa5 {
            return Some(answer_get(req));
        }
        let vbs = if req.oids.first().map(Vec::as_slice) == Some(TABLE) {
            vec![varbind(&row(1), int(1)), varbind(&row(1), end_of_mib())]
        } else {
            vec![varbind(&row(1), end_of_mib())]
        };
        Some(message(1, "public", 0xa2, req.req_id, 0, 0, &vbs))
    });
    let (t, s) = setup(agent.port, SnmpVersion::V2c, &[], true);
    let p = SnmpPoller::new(&t, &s).poll().await;
    match &p.outcome {
        SnmpOutcome::Varbinds(v) => {
            let rows: Vec<_> = v.iter().filter(|v| v.oid.starts_with(TABLE)).collect();
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].value, SnmpValue::Integer(1));
        }
        SnmpOutcome::Failed(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn too_big_halves_max_repetitions_and_retries() {
    let agent = Responder::start(|_, req| {
        if req.pdu_tag != 0xa5 {
            return Some(answer_get(req));
        }
        if req.third > 4 {
            return Some(message(1, "public", 0xa2, req.req_id, 1, 0, &[]));
        }
        let vbs = vec![
            varbind(&row(1), int(1)),
            varbind(&[1, 3, 6, 1, 4, 1, 99999, 9], int(0)),
        ];
        Some(message(1, "public", 0xa2, req.req_id, 0, 0, &vbs))
    });
    let (t, mut s) = setup(agent.port, SnmpVersion::V2c, &[], true);
    s.max_repetitions = 25;
    let mut poller = SnmpPoller::new(&t, &s);
    let p = poller.poll().await;
    assert!(
        matches!(p.outcome, SnmpOutcome::Varbinds(_)),
        "{:?}",
        p.outcome
    );
    // 25 → 12 → 6 → 3: the first value the agent accepts.
    assert_eq!(poller.repetitions(), 3);
}

#[tokio::test]
async fn v1_no_such_name_drops_that_object_and_asks_for_the_rest() {
    let agent = Responder::start(|_, req| {
        if let Some(pos) = req.oids.iter().position(|o| o == SCALAR_B) {
            let vbs: Vec<Vec<u8>> = req.oids.iter().map(|o| varbind(o, vec![0x05, 0])).collect();
            return Some(message(
                0,
                "public",
                0xa2,
                req.req_id,
                2,
                pos as i64 + 1,
                &vbs,
            ));
        }
        Some(answer_get(req))
    });
    let (t, s) = setup(agent.port, SnmpVersion::V1, &[SCALAR_A, SCALAR_B], false);
    let p = SnmpPoller::new(&t, &s).poll().await;
    let vbs = match &p.outcome {
        SnmpOutcome::Varbinds(v) => v,
        SnmpOutcome::Failed(e) => panic!("{e}"),
    };
    let find = |o: &[u32]| vbs.iter().find(|v| v.oid == o).map(|v| v.value.clone());
    assert_eq!(find(SCALAR_B), Some(SnmpValue::NoSuchObject));
    assert_eq!(find(SCALAR_A), Some(SnmpValue::Integer(7)));
    assert_eq!(find(SYS_UPTIME), Some(SnmpValue::TimeTicks(4242)));
}

#[tokio::test]
async fn error_status_is_reported_by_name() {
    let agent = Responder::start(|_, req| Some(message(1, "public", 0xa2, req.req_id, 5, 1, &[])));
    let (t, s) = setup(agent.port, SnmpVersion::V2c, &[], false);
    let p = SnmpPoller::new(&t, &s).poll().await;
    assert_eq!(
        failure(&p),
        &SnmpError::ErrorStatus {
            status: "genErr".into(),
            index: 1
        }
    );
}

#[tokio::test(start_paused = true)]
async fn silence_ends_at_the_deadline_after_bounded_tries() {
    // Virtual time: the assertion is about request counts and the reported deadline, not
    // about how long the test took.
    let agent = Responder::start(|_, _| None);
    let (mut t, mut s) = setup(agent.port, SnmpVersion::V2c, &[], false);
    s.request_timeout = Duration::from_secs(2);
    s.retries = 10;
    t.timeout = Duration::from_secs(5);
    let mut poller = SnmpPoller::new(&t, &s);
    let p = poller.poll().await;
    assert_eq!(failure(&p), &SnmpError::Timeout { after_ms: 5000 });
    // Tries at 0 s, 2 s and 4 s; each timeout threw its session away.
    assert_eq!(poller.requests_sent(), 3);
    assert_eq!(poller.sessions_opened(), 3);
}

#[tokio::test]
async fn retries_stop_after_the_configured_count() {
    let agent = Responder::start(|_, _| None);
    let (mut t, mut s) = setup(agent.port, SnmpVersion::V2c, &[], false);
    s.request_timeout = Duration::from_millis(50);
    s.retries = 2;
    t.timeout = Duration::from_secs(60);
    let p = SnmpPoller::new(&t, &s).poll().await;
    assert!(matches!(failure(&p), SnmpError::Timeout { .. }));
    // Wait for the thread to count every datagram already sent.
    for _ in 0..100 {
        if agent.received.load(Ordering::SeqCst) >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(agent.received.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_timeout_recreates_the_session_and_the_retry_succeeds() {
    // The first request goes unanswered; the retry must come from a fresh session (a new
    // socket), where a late answer to the first could never be mistaken for the second's.
    let agent = Responder::start(|n, req| if n == 0 { None } else { Some(answer_get(req)) });
    let (mut t, mut s) = setup(agent.port, SnmpVersion::V2c, &[SCALAR_A], false);
    s.request_timeout = Duration::from_millis(100);
    s.retries = 2;
    t.timeout = Duration::from_secs(5);
    let mut poller = SnmpPoller::new(&t, &s);
    let p = poller.poll().await;
    assert!(
        matches!(p.outcome, SnmpOutcome::Varbinds(_)),
        "{:?}",
        p.outcome
    );
    assert_eq!(poller.sessions_opened(), 2);
    assert_eq!(poller.requests_sent(), 2);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Whatever bytes come back, the poll ends with an outcome (never a panic), and a reply
    /// that is not a valid SNMP message is never taken as data.
    #[test]
    fn arbitrary_replies_never_panic(reply in proptest::collection::vec(any::<u8>(), 0..200)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
        let rt = match rt { Ok(r) => r, Err(e) => panic!("{e}") };
        let bytes = reply.clone();
        let agent = Responder::start(move |_, _| Some(bytes.clone()));
        let (mut t, mut s) = setup(agent.port, SnmpVersion::V2c, &[], true);
        s.request_timeout = Duration::from_millis(50);
        s.retries = 0;
        t.timeout = Duration::from_millis(500);
        let p = rt.block_on(SnmpPoller::new(&t, &s).poll());
        prop_assert!(matches!(p.outcome, SnmpOutcome::Failed(_)), "{:?}", p.outcome);
    }

    /// Any increasing table is walked completely and in order, for any max-repetitions and
    /// either walk method.
    #[test]
    fn any_increasing_table_is_walked_whole(
        rows in proptest::collection::btree_set(1u32..10_000, 0..60),
        reps in 1u32..40,
        v1 in any::<bool>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
        let rt = match rt { Ok(r) => r, Err(e) => panic!("{e}") };
        let rows: Vec<u32> = rows.into_iter().collect();
        let agent = table_agent(rows.clone());
        let version = if v1 { SnmpVersion::V1 } else { SnmpVersion::V2c };
        let (t, mut s) = setup(agent.port, version, &[], true);
        s.max_repetitions = reps;
        let p = rt.block_on(SnmpPoller::new(&t, &s).poll());
        let got: Vec<Vec<u32>> = match &p.outcome {
            SnmpOutcome::Varbinds(v) => v.iter().filter(|v| v.oid.starts_with(TABLE)).map(|v| v.oid.clone()).collect(),
            SnmpOutcome::Failed(e) => panic!("{e}"),
        };
        prop_assert_eq!(got, rows.iter().map(|r| row(*r)).collect::<Vec<_>>());
    }
}
