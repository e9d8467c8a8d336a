//! Engine behaviour for network checks (issue 5): ICMP, TCP, HTTP and SNMP observations feed
//! vitals and the default rules, and combine with exporter data under one host.

use bytes::Bytes;
use nocscope::engine::rules::default_rules;
use nocscope::engine::{Engine, SpecKind, TargetSpec};
use nocscope::model::{
    AlertState, HttpError, HttpPhases, HttpProbe, IcmpError, IcmpOutcome, IcmpProbe, Input,
    Observation, Payload, Severity, SnmpError, SnmpOutcome, SnmpPoll, SnmpValue, TargetId,
    TcpOutcome, TcpPortResult, TcpProbe, TlsInfo, Varbind,
};

const S: i64 = 1000;
const DAY: i64 = 86_400_000;
const T0: i64 = 1_700_000_000_000;

fn spec(name: &str, host: &str, kind: SpecKind) -> TargetSpec {
    TargetSpec {
        labels: Default::default(),
        name: name.into(),
        host: host.into(),
        interval_ms: 15 * S,
        timeout_ms: 10 * S,
        sample_limit: 0,
        kind,
    }
}

fn obs(target: u32, at: i64, payload: Payload) -> Input {
    Input::Observation(Observation {
        target: TargetId(target),
        at,
        payload,
    })
}

fn ping(rtts: &[Option<f64>]) -> Payload {
    Payload::Icmp(IcmpProbe {
        address: "127.0.0.1".into(),
        outcome: IcmpOutcome::Replies {
            rtt_ms: rtts.to_vec(),
        },
    })
}

fn tcp(states: &[(u16, bool)]) -> Payload {
    Payload::Tcp(TcpProbe {
        address: "127.0.0.1".into(),
        ports: states
            .iter()
            .map(|&(port, open)| TcpPortResult {
                port,
                outcome: if open {
                    TcpOutcome::Open { connect_ms: 0.2 }
                } else {
                    TcpOutcome::Refused
                },
            })
            .collect(),
    })
}

fn http(status: Option<u16>, cert_days: Option<f64>, at: i64, error: Option<HttpError>) -> Payload {
    Payload::Http(Box::new(HttpProbe {
        duration_ms: 5.0,
        status,
        redirects: 0,
        phases: HttpPhases::default(),
        body_bytes: 2,
        body_match: None,
        tls: cert_days.map(|d| TlsInfo {
            not_after: at + (d * DAY as f64) as i64,
            verify_error: None,
            version: Some("TLSv1.3".into()),
        }),
        error,
    }))
}

fn alert_states(e: &Engine) -> Vec<(String, String, AlertState)> {
    e.snapshot()
        .alerts
        .iter()
        .map(|a| (a.rule.clone(), a.labels.clone(), a.state))
        .collect()
}

fn severity(e: &Engine) -> Severity {
    e.snapshot().hosts[0].severity
}

#[test]
fn ping_loss_and_unreachable() {
    let mut e = Engine::new(vec![spec("gw-ping", "gw", SpecKind::Icmp)], default_rules());
    e.apply(&obs(0, T0, ping(&[Some(0.1), Some(0.2), Some(0.3)])));
    let v = &e.snapshot().hosts[0].vitals;
    assert!((v.ping_rtt_ms.unwrap() - 0.2).abs() < 1e-9);
    assert_eq!(v.ping_loss_pct, Some(0.0));
    assert_eq!(severity(&e), Severity::Ok);

    e.apply(&obs(0, T0 + 15 * S, ping(&[Some(0.1), None, Some(0.3)])));
    assert_eq!(
        severity(&e),
        Severity::Minor,
        "33% loss is over the 20% limit"
    );

    // All lost for a minute: unreachable, critical.
    for i in 2..=6 {
        e.apply(&obs(0, T0 + i * 15 * S, ping(&[None, None, None])));
    }
    let states = alert_states(&e);
    assert!(states.contains(&(
        "HostUnreachable".into(),
        "{target=\"gw-ping\"}".into(),
        AlertState::Firing
    )));
    assert_eq!(severity(&e), Severity::Critical);
    // Replies again: both resolve.
    e.apply(&obs(0, T0 + 7 * 15 * S, ping(&[Some(0.1); 3])));
    assert_eq!(severity(&e), Severity::Ok);
    assert!(e.snapshot().alerts.is_empty());
}

#[test]
fn no_icmp_permission_is_unknown_never_down() {
    let mut e = Engine::new(vec![spec("gw-ping", "gw", SpecKind::Icmp)], default_rules());
    for i in 0..10 {
        e.apply(&obs(
            0,
            T0 + i * 15 * S,
            Payload::Icmp(IcmpProbe {
                address: "10.0.0.1".into(),
                outcome: IcmpOutcome::Failed(IcmpError::Permission {
                    hint: "net.ipv4.ping_group_range or CAP_NET_RAW".into(),
                }),
            }),
        ));
    }
    let snap = e.snapshot();
    assert_eq!(snap.hosts[0].severity, Severity::Unknown);
    assert!(
        snap.hosts[0].reason.contains("no ICMP permission"),
        "{}",
        snap.hosts[0].reason
    );
    assert!(snap.alerts.is_empty(), "{:?}", snap.alerts);
}

#[test]
fn tcp_port_closed_is_major_per_port() {
    let mut e = Engine::new(
        vec![spec("db1-ports", "db1", SpecKind::Tcp)],
        default_rules(),
    );
    e.apply(&obs(0, T0, tcp(&[(22, true), (5432, false)])));
    assert_eq!(severity(&e), Severity::Major);
    assert_eq!(
        alert_states(&e),
        vec![(
            "TcpPortClosed".into(),
            "{target=\"db1-ports\",port=\"5432\"}".into(),
            AlertState::Firing
        )]
    );
    assert_eq!(e.snapshot().hosts[0].vitals.ports.len(), 2);
    e.apply(&obs(0, T0 + 15 * S, tcp(&[(22, true), (5432, true)])));
    assert_eq!(severity(&e), Severity::Ok);
}

#[test]
fn http_status_and_certificate_rules() {
    let url = "https://shop.example/health";
    let mut e = Engine::new(
        vec![spec(
            "shop",
            "shop",
            SpecKind::Http {
                url: url.into(),
                expect_status: vec![200],
            },
        )],
        default_rules(),
    );
    e.apply(&obs(0, T0, http(Some(200), Some(90.0), T0, None)));
    assert_eq!(severity(&e), Severity::Ok);
    assert!((e.snapshot().hosts[0].vitals.tls_days_left.unwrap() - 90.0).abs() < 1e-6);

    e.apply(&obs(
        0,
        T0 + 15 * S,
        http(Some(503), Some(90.0), T0 + 15 * S, None),
    ));
    assert_eq!(severity(&e), Severity::Major);
    let snap = e.snapshot();
    assert_eq!(snap.alerts[0].rule, "HttpCheckFailing");
    assert!(
        snap.alerts[0].summary.contains("503"),
        "{}",
        snap.alerts[0].summary
    );

    e.apply(&obs(
        0,
        T0 + 30 * S,
        http(Some(200), Some(10.0), T0 + 30 * S, None),
    ));
    assert_eq!(severity(&e), Severity::Minor, "certificate < 14 days");
    e.apply(&obs(
        0,
        T0 + 45 * S,
        http(Some(200), Some(2.0), T0 + 45 * S, None),
    ));
    assert_eq!(severity(&e), Severity::Major, "certificate < 3 days");

    // Expired: the handshake fails verification, but the date is still known and shown.
    let at = T0 + 60 * S;
    e.apply(&obs(
        0,
        at,
        http(
            None,
            Some(-1.0),
            at,
            Some(HttpError::Certificate("certificate expired".into())),
        ),
    ));
    let snap = e.snapshot();
    assert!(snap.hosts[0].vitals.tls_days_left.unwrap() < 0.0);
    let rules: Vec<_> = snap.alerts.iter().map(|a| a.rule.as_str()).collect();
    assert!(rules.contains(&"HttpCheckFailing"));
    assert!(rules.contains(&"CertificateExpiring"));
    assert!(rules.contains(&"CertificateExpiringSoon"));
}

fn snmp_poll(uptime: u32, oper: i64) -> Payload {
    let if_entry = [1, 3, 6, 1, 2, 1, 2, 2, 1];
    let col = |c: u32, v: SnmpValue| {
        let mut oid = if_entry.to_vec();
        oid.extend([c, 3]);
        Varbind { oid, value: v }
    };
    Payload::Snmp(SnmpPoll {
        duration_ms: 3.0,
        outcome: SnmpOutcome::Varbinds(vec![
            Varbind {
                oid: vec![1, 3, 6, 1, 2, 1, 1, 3, 0],
                value: SnmpValue::TimeTicks(uptime),
            },
            col(2, SnmpValue::OctetString(Bytes::from_static(b"uplink0"))),
            col(7, SnmpValue::Integer(1)),
            col(8, SnmpValue::Integer(oper)),
            Varbind {
                oid: vec![1, 3, 6, 1, 4, 1, 2021, 4, 5, 0],
                value: SnmpValue::Integer(1000),
            },
            Varbind {
                oid: vec![1, 3, 6, 1, 4, 1, 2021, 4, 27, 0],
                value: SnmpValue::Integer(500),
            },
        ]),
    })
}

#[test]
fn snmp_interface_down_and_agent_down() {
    let mut e = Engine::new(
        vec![spec(
            "core-sw1",
            "core-sw1",
            SpecKind::Snmp { custom: vec![] },
        )],
        default_rules(),
    );
    e.apply(&obs(0, T0, snmp_poll(100, 1)));
    let snap = e.snapshot();
    assert_eq!(snap.hosts[0].severity, Severity::Ok);
    assert_eq!(snap.hosts[0].vitals.mem_pct, Some(50.0));
    assert_eq!(snap.hosts[0].vitals.uptime_s, Some(1.0));
    assert_eq!(snap.hosts[0].vitals.interfaces[0].name, "uplink0");

    e.apply(&obs(0, T0 + 15 * S, snmp_poll(1600, 2)));
    assert_eq!(severity(&e), Severity::Major);
    assert_eq!(
        alert_states(&e),
        vec![(
            "InterfaceDown".into(),
            "{target=\"core-sw1\",interface=\"uplink0\"}".into(),
            AlertState::Firing
        )]
    );

    // The agent stops answering: unknown at once, critical after a minute; the interface
    // alert is held (we cannot see it), not resolved.
    for i in 2..=6 {
        e.apply(&obs(
            0,
            T0 + i * 15 * S,
            Payload::Snmp(SnmpPoll {
                duration_ms: 6000.0,
                outcome: SnmpOutcome::Failed(SnmpError::Timeout { after_ms: 6000 }),
            }),
        ));
    }
    let snap = e.snapshot();
    assert_eq!(snap.hosts[0].severity, Severity::Critical);
    let rules: Vec<_> = snap
        .alerts
        .iter()
        .map(|a| (a.rule.as_str(), a.state))
        .collect();
    assert!(
        rules.contains(&("SnmpAgentDown", AlertState::Firing)),
        "{rules:?}"
    );
    assert!(
        rules.contains(&("InterfaceDown", AlertState::Firing)),
        "{rules:?}"
    );
}

#[test]
fn checks_of_one_host_combine_with_its_exporter() {
    let mut e = Engine::new(
        vec![
            spec("db1", "db1", SpecKind::Exporter),
            spec("db1-ping", "db1", SpecKind::Icmp),
            spec("db1-ports", "db1", SpecKind::Tcp),
        ],
        default_rules(),
    );
    let body = "node_load1 0.5\n";
    e.apply(&obs(
        0,
        T0,
        Payload::Scrape(nocscope::model::Scrape {
            duration_ms: 3.0,
            outcome: nocscope::model::ScrapeOutcome::Body {
                content_type: Some("text/plain; version=0.0.4".into()),
                body: Bytes::from_static(body.as_bytes()),
            },
        }),
    ));
    e.apply(&obs(1, T0 + S, ping(&[Some(0.5); 3])));
    e.apply(&obs(2, T0 + 2 * S, tcp(&[(22, true), (5432, false)])));
    let snap = e.snapshot();
    assert_eq!(snap.hosts.len(), 1);
    let h = &snap.hosts[0];
    assert_eq!(h.severity, Severity::Major);
    assert_eq!(h.vitals.load1, Some(0.5));
    assert_eq!(h.vitals.ping_loss_pct, Some(0.0));
    assert_eq!(h.vitals.ports.len(), 2);
    assert!(h.reason.contains("5432"), "{}", h.reason);
}
