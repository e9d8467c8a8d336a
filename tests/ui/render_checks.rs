//! The console shows network checks (issue 5): a host with ping, TCP and HTTPS checks renders
//! its RTT/loss, port states, HTTP result and certificate days in the host panel.

use nocscope::config::keymap::Keymap;
use nocscope::config::theme::Theme;
use nocscope::engine::rules::default_rules;
use nocscope::engine::{Engine, SpecKind, TargetSpec};
use nocscope::model::{
    HttpPhases, HttpProbe, IcmpOutcome, IcmpProbe, Input, Observation, Payload, TargetId,
    TcpOutcome, TcpPortResult, TcpProbe, TlsInfo,
};
use nocscope::ui::{UiState, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::sync::Arc;

const T0: i64 = 1_700_000_000_000;
const DAY: i64 = 86_400_000;

fn spec(name: &str, kind: SpecKind) -> TargetSpec {
    TargetSpec {
        labels: Default::default(),
        name: name.into(),
        host: "gw".into(),
        interval_ms: 15_000,
        timeout_ms: 10_000,
        sample_limit: 0,
        kind,
    }
}

fn obs(target: u32, payload: Payload) -> Input {
    Input::Observation(Observation {
        target: TargetId(target),
        at: T0,
        payload,
    })
}

#[test]
fn host_panel_shows_network_checks() {
    let mut e = Engine::new(
        vec![
            spec("gw-ping", SpecKind::Icmp),
            spec("gw-ports", SpecKind::Tcp),
            spec(
                "gw-https",
                SpecKind::Http {
                    url: "https://gw.example/".into(),
                    expect_status: vec![200],
                },
            ),
        ],
        default_rules(),
    );
    e.apply(&obs(
        0,
        Payload::Icmp(IcmpProbe {
            address: "127.0.0.1".into(),
            outcome: IcmpOutcome::Replies {
                rtt_ms: vec![Some(0.25), Some(0.35), None],
            },
        }),
    ));
    e.apply(&obs(
        1,
        Payload::Tcp(TcpProbe {
            address: "127.0.0.1".into(),
            ports: vec![
                TcpPortResult {
                    port: 22,
                    outcome: TcpOutcome::Open { connect_ms: 0.1 },
                },
                TcpPortResult {
                    port: 5432,
                    outcome: TcpOutcome::Refused,
                },
            ],
        }),
    ));
    e.apply(&obs(
        2,
        Payload::Http(Box::new(HttpProbe {
            duration_ms: 4.0,
            status: Some(200),
            redirects: 0,
            phases: HttpPhases::default(),
            body_bytes: 2,
            body_match: None,
            tls: Some(TlsInfo {
                not_after: T0 + 10 * DAY,
                verify_error: None,
                version: None,
            }),
            error: None,
        })),
    ));
    let snap = e.snapshot();
    let mut s = UiState::new(Arc::new(Keymap::embedded_default()));
    s.sync(&snap);
    let mut t = Terminal::new(TestBackend::new(200, 50)).unwrap_or_else(|e| panic!("{e}"));
    let theme = Theme::embedded_default();
    t.draw(|f| render(f, &snap, &s, &theme))
        .unwrap_or_else(|e| panic!("{e}"));
    let text = format!("{}", t.backend());
    for want in [
        "ping    0.30ms loss  33.3 %",
        "tcp 22    open",
        "tcp 5432  refused",
        "http    200 ok",
        "cert    10 days left",
        "TcpPortClosed",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    insta::assert_snapshot!("network_checks_200x50", t.backend());
}
