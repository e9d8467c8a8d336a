//! SNMP collector against a real net-snmp `snmpd` on loopback (v1, v2c, v3 at every level),
//! with the `snmpwalk`/`snmpget` CLI as an oracle, and the fault cases of
//! monitoring-semantics §7 cases 16–18: wrong credentials, no agent, a frozen agent.

use crate::support_snmp;

use std::collections::BTreeSet;
use std::time::Duration;

use nocscope::collect::snmp::SnmpPoller;
use nocscope::config::{SnmpProfile, SnmpTarget, SnmpVersion, Target};
use nocscope::model::{SnmpAuthError, SnmpError, SnmpOutcome, SnmpPoll, SnmpValue, Varbind};
use support_snmp::{AUTH_PASS, PRIV_PASS, SYS_NAME, SYS_UPTIME, Snmpd, target, v3_user};

const ALL: [SnmpProfile; 4] = [
    SnmpProfile::System,
    SnmpProfile::IfMib,
    SnmpProfile::HostResources,
    SnmpProfile::Ucd,
];

const IF_DESCR: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1, 2];
const IF_HC_IN: &[u32] = &[1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6];
const HR_STORAGE_DESCR: &[u32] = &[1, 3, 6, 1, 2, 1, 25, 2, 3, 1, 3];
const HR_PROCESSOR_LOAD: &[u32] = &[1, 3, 6, 1, 2, 1, 25, 3, 3, 1, 2];
const DSK_PATH: &[u32] = &[1, 3, 6, 1, 4, 1, 2021, 9, 1, 2];
const LA_LOAD: &[u32] = &[1, 3, 6, 1, 4, 1, 2021, 10, 1, 3];

async fn poll(t: &Target, s: &SnmpTarget) -> SnmpPoll {
    SnmpPoller::new(t, s).poll().await
}

fn varbinds(p: &SnmpPoll) -> &[Varbind] {
    match &p.outcome {
        SnmpOutcome::Varbinds(v) => v,
        SnmpOutcome::Failed(e) => panic!("expected varbinds, got: {e}"),
    }
}

fn failure(p: &SnmpPoll) -> &SnmpError {
    match &p.outcome {
        SnmpOutcome::Failed(e) => e,
        SnmpOutcome::Varbinds(v) => panic!("expected a failure, got {} varbinds", v.len()),
    }
}

fn under(vbs: &[Varbind], prefix: &[u32]) -> Vec<Vec<u32>> {
    vbs.iter()
        .filter(|v| v.oid.starts_with(prefix))
        .map(|v| v.oid.clone())
        .collect()
}

fn value<'a>(vbs: &'a [Varbind], oid: &[u32]) -> Option<&'a SnmpValue> {
    vbs.iter().find(|v| v.oid == oid).map(|v| &v.value)
}

#[tokio::test]
async fn v2c_poll_matches_snmpwalk_for_every_profile() {
    let agent = Snmpd::start();
    let (t, s) = target(&agent.address(), SnmpVersion::V2c, ALL.to_vec());
    let p = poll(&t, &s).await;
    let vbs = varbinds(&p);
    assert!(matches!(
        value(vbs, SYS_UPTIME),
        Some(SnmpValue::TimeTicks(_))
    ));
    assert!(matches!(
        value(vbs, SYS_NAME),
        Some(SnmpValue::OctetString(_))
    ));
    for column in [
        IF_DESCR,
        IF_HC_IN,
        HR_STORAGE_DESCR,
        HR_PROCESSOR_LOAD,
        DSK_PATH,
        LA_LOAD,
    ] {
        let col = column
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(".");
        let oracle = support_snmp::cli_oids(
            "snmpwalk",
            &[
                "-v2c",
                "-c",
                support_snmp::COMMUNITY,
                &agent.address(),
                &col,
            ],
        );
        // An empty subtree prints as one "No Such Object" line naming the column itself.
        let oracle: Vec<Vec<u32>> = oracle.into_iter().filter(|o| o != column).collect();
        if [IF_DESCR, HR_STORAGE_DESCR, DSK_PATH, LA_LOAD].contains(&column) {
            assert!(!oracle.is_empty(), "snmpwalk found nothing under {col}");
        }
        assert_eq!(under(vbs, column), oracle, "column {col}");
    }
    // Counters keep their declared type.
    assert!(
        vbs.iter()
            .filter(|v| v.oid.starts_with(IF_HC_IN))
            .all(|v| matches!(v.value, SnmpValue::Counter64(_)))
    );
    // No walk strays outside the columns asked for.
    let plan = SnmpPoller::new(&t, &s).plan().clone();
    for vb in vbs {
        let asked = plan.gets.contains(&vb.oid)
            || plan.walks.iter().flatten().any(|c| vb.oid.starts_with(c));
        assert!(asked, "unasked-for varbind {:?}", vb.oid);
    }
}

#[tokio::test]
async fn scalar_gets_agree_with_snmpget() {
    let agent = Snmpd::start();
    let (t, s) = target(
        &agent.address(),
        SnmpVersion::V2c,
        vec![SnmpProfile::System],
    );
    let p = poll(&t, &s).await;
    let out = std::process::Command::new("snmpget")
        .args([
            "-Oqv",
            "-v2c",
            "-c",
            support_snmp::COMMUNITY,
            &agent.address(),
            "1.3.6.1.2.1.1.5.0",
        ])
        .env("MIBS", "")
        .output();
    let name = match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout)
            .trim()
            .trim_matches('"')
            .to_string(),
        Err(e) => panic!("snmpget (package snmp): {e}"),
    };
    match value(varbinds(&p), SYS_NAME) {
        Some(SnmpValue::OctetString(b)) => assert_eq!(String::from_utf8_lossy(b), name),
        other => panic!("sysName: {other:?}"),
    }
}

#[tokio::test]
async fn v1_walks_with_getnext_and_sees_no_counter64() {
    let agent = Snmpd::start();
    let (t, s) = target(&agent.address(), SnmpVersion::V1, ALL.to_vec());
    let (t2, s2) = target(&agent.address(), SnmpVersion::V2c, ALL.to_vec());
    let v1 = poll(&t, &s).await;
    let v2 = poll(&t2, &s2).await;
    let (v1, v2) = (varbinds(&v1), varbinds(&v2));
    assert!(!under(v1, IF_DESCR).is_empty());
    assert_eq!(under(v1, IF_DESCR), under(v2, IF_DESCR));
    assert_eq!(under(v1, HR_STORAGE_DESCR), under(v2, HR_STORAGE_DESCR));
    // SNMPv1 cannot carry Counter64: the agent skips those columns.
    assert!(
        v1.iter()
            .all(|v| !matches!(v.value, SnmpValue::Counter64(_)))
    );
    assert!(under(v1, IF_HC_IN).is_empty());
}

#[tokio::test]
async fn v3_every_security_level_polls() {
    let agent = Snmpd::start();
    let (t2, s2) = target(
        &agent.address(),
        SnmpVersion::V2c,
        vec![SnmpProfile::System, SnmpProfile::IfMib],
    );
    let reference = poll(&t2, &s2).await;
    let want_if = under(varbinds(&reference), IF_DESCR);
    for (user, _, _) in support_snmp::USERS {
        let (t, mut s) = target(
            &agent.address(),
            SnmpVersion::V3,
            vec![SnmpProfile::System, SnmpProfile::IfMib],
        );
        s.community = None;
        s.v3 = Some(v3_user(user, AUTH_PASS, PRIV_PASS));
        let mut poller = SnmpPoller::new(&t, &s);
        for round in 0..2 {
            let p = poller.poll().await;
            let vbs = match &p.outcome {
                SnmpOutcome::Varbinds(v) => v,
                SnmpOutcome::Failed(e) => panic!("user {user} round {round}: {e}"),
            };
            assert!(
                matches!(value(vbs, SYS_UPTIME), Some(SnmpValue::TimeTicks(_))),
                "{user}"
            );
            assert_eq!(under(vbs, IF_DESCR), want_if, "{user}");
        }
        // The session (and its engine discovery) is kept between polls.
        assert_eq!(poller.sessions_opened(), 1, "{user}");
    }
}

#[tokio::test]
async fn wrong_community_is_a_timeout_that_says_so() {
    let agent = Snmpd::start();
    let (t, mut s) = target(
        &agent.address(),
        SnmpVersion::V2c,
        vec![SnmpProfile::System],
    );
    s.community = Some(nocscope::config::Secret::new("not-the-community".into()));
    s.request_timeout = Duration::from_millis(150);
    let p = poll(&t, &s).await;
    let e = failure(&p);
    assert!(matches!(e, SnmpError::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains("wrong community"), "{e}");
}

#[tokio::test]
async fn v3_failures_have_distinct_names() {
    let agent = Snmpd::start();
    let cases = [
        (
            "authsha",
            "wrong-auth-pass",
            PRIV_PASS,
            SnmpAuthError::WrongDigest,
        ),
        (
            "privsha",
            "wrong-auth-pass",
            PRIV_PASS,
            SnmpAuthError::WrongDigest,
        ),
        (
            "privsha",
            AUTH_PASS,
            "wrong-priv-pass",
            SnmpAuthError::Decryption,
        ),
        (
            "privmd5",
            AUTH_PASS,
            "wrong-priv-pass",
            SnmpAuthError::Decryption,
        ),
        (
            "nobody-here",
            AUTH_PASS,
            PRIV_PASS,
            SnmpAuthError::UnknownUser,
        ),
    ];
    for (user, auth, privacy, want) in cases {
        let (t, mut s) = target(&agent.address(), SnmpVersion::V3, vec![SnmpProfile::System]);
        s.community = None;
        s.v3 = Some(v3_user(user, auth, privacy));
        let p = poll(&t, &s).await;
        assert_eq!(
            failure(&p),
            &SnmpError::Auth(want.clone()),
            "{user} {auth} {privacy}"
        );
    }
    // An unknown user at noAuthNoPriv is named too.
    let (t, mut s) = target(&agent.address(), SnmpVersion::V3, vec![SnmpProfile::System]);
    let mut cfg = v3_user("noauth", "", "");
    cfg.user = "ghost".into();
    s.v3 = Some(cfg);
    let p = poll(&t, &s).await;
    assert_eq!(failure(&p), &SnmpError::Auth(SnmpAuthError::UnknownUser));
}

#[tokio::test]
async fn nothing_listening_is_unreachable() {
    // Bind then drop: the port is free and nothing answers on it.
    let port = support_snmp::Responder::start(|_, _| None).port;
    let (t, mut s) = target(
        &format!("127.0.0.1:{port}"),
        SnmpVersion::V2c,
        vec![SnmpProfile::System],
    );
    // A timeout this long would show as Timeout if the ICMP error were not used.
    s.request_timeout = Duration::from_secs(30);
    let mut t = t;
    t.timeout = Duration::from_secs(60);
    let p = poll(&t, &s).await;
    let e = failure(&p);
    assert!(matches!(e, SnmpError::Unreachable(_)), "{e:?}");
    assert!(e.to_string().contains("port unreachable"), "{e}");
}

#[tokio::test]
async fn frozen_agent_times_out_and_the_next_poll_uses_a_fresh_session() {
    let agent = Snmpd::start();
    let (mut t, mut s) = target(
        &agent.address(),
        SnmpVersion::V2c,
        vec![SnmpProfile::System, SnmpProfile::IfMib],
    );
    s.request_timeout = Duration::from_millis(200);
    s.retries = 1;
    t.timeout = Duration::from_secs(2);
    let mut poller = SnmpPoller::new(&t, &s);
    assert!(matches!(
        poller.poll().await.outcome,
        SnmpOutcome::Varbinds(_)
    ));
    assert_eq!(poller.sessions_opened(), 1);
    agent.pause();
    let frozen = poller.poll().await;
    agent.resume();
    assert!(matches!(failure(&frozen), SnmpError::Timeout { .. }));
    // The agent now answers the queued requests late; a reused session would read those
    // replies as answers to new requests (snmp2 stays one reply behind).
    let after = poller.poll().await;
    let vbs = varbinds(&after);
    assert!(!under(vbs, IF_DESCR).is_empty());
    assert!(
        poller.sessions_opened() >= 3,
        "{}",
        poller.sessions_opened()
    );
}

#[tokio::test]
async fn agent_killed_between_polls_is_reported() {
    let agent = Snmpd::start();
    let (t, s) = target(
        &agent.address(),
        SnmpVersion::V2c,
        vec![SnmpProfile::System],
    );
    let mut poller = SnmpPoller::new(&t, &s);
    assert!(matches!(
        poller.poll().await.outcome,
        SnmpOutcome::Varbinds(_)
    ));
    drop(agent);
    let p = poller.poll().await;
    let e = failure(&p);
    assert!(
        matches!(e, SnmpError::Unreachable(_) | SnmpError::Timeout { .. }),
        "{e:?}"
    );
}

#[tokio::test]
async fn custom_objects_are_fetched_as_configured() {
    let agent = Snmpd::start();
    let (t, mut s) = target(&agent.address(), SnmpVersion::V2c, vec![]);
    s.custom = vec![
        support_snmp::custom("sys_name", SYS_NAME, false),
        support_snmp::custom("if_descr", IF_DESCR, true),
        support_snmp::custom("missing", &[1, 3, 6, 1, 4, 1, 99999, 1, 0], false),
    ];
    let p = poll(&t, &s).await;
    let vbs = varbinds(&p);
    let oids: BTreeSet<_> = vbs.iter().map(|v| v.oid.clone()).collect();
    assert!(oids.contains(SYS_UPTIME) && oids.contains(SYS_NAME));
    assert!(!under(vbs, IF_DESCR).is_empty());
    // v2c keeps a missing object as a value, for the engine to call "not supported".
    assert!(matches!(
        value(vbs, &[1, 3, 6, 1, 4, 1, 99999, 1, 0]),
        Some(SnmpValue::NoSuchObject | SnmpValue::NoSuchInstance)
    ));
}
