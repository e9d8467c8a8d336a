//! TCP connect checks against real sockets: a listener (open), a port nobody listens on
//! (refused), and a silent address inside a private network namespace (timeout).

use crate::support_net;

use std::time::Duration;

use nocscope::collect::tcp;
use nocscope::config::{TargetKind, TcpTarget};
use nocscope::model::{TcpOutcome, TcpProbe};
use support_net::{SILENT_ADDR, in_fresh_netns, target};
use tokio::net::TcpListener;

async fn check(address: &str, ports: &[u16], timeout: Duration) -> TcpProbe {
    let cfg = TcpTarget {
        address: address.to_string(),
        ports: ports.to_vec(),
    };
    let t = target(address, timeout, TargetKind::Tcp(cfg.clone()));
    tcp::probe(&t, &cfg).await
}

/// A port that was just free: bind, read the port, close.
async fn closed_port(ip: &str) -> u16 {
    let l = TcpListener::bind((ip, 0))
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
    drop(l);
    port
}

#[tokio::test]
async fn open_and_refused_ports_in_one_probe() {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let open = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let closed = closed_port("127.0.0.1").await;
    let p = check("127.0.0.1", &[open, closed, open], Duration::from_secs(2)).await;
    assert_eq!(p.address, "127.0.0.1");
    let ports: Vec<u16> = p.ports.iter().map(|r| r.port).collect();
    assert_eq!(
        ports,
        [open, closed, open],
        "results keep the configured order"
    );
    for (i, r) in p.ports.iter().enumerate() {
        match (i, &r.outcome) {
            (0 | 2, TcpOutcome::Open { connect_ms }) => {
                assert!(*connect_ms >= 0.0 && connect_ms.is_finite())
            }
            (1, TcpOutcome::Refused) => {}
            _ => panic!("port #{i} {}: unexpected {:?}", r.port, r.outcome),
        }
    }
}

#[tokio::test]
async fn ipv6_loopback_when_available() {
    let Ok(listener) = TcpListener::bind("[::1]:0").await else {
        eprintln!("skipped: no IPv6 loopback");
        return;
    };
    let open = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let closed = closed_port("::1").await;
    for written in ["::1", "[::1]"] {
        let p = check(written, &[open, closed], Duration::from_secs(2)).await;
        assert_eq!(p.address, "::1");
        assert!(
            matches!(p.ports[0].outcome, TcpOutcome::Open { .. }),
            "{p:?}"
        );
        assert_eq!(p.ports[1].outcome, TcpOutcome::Refused, "{p:?}");
    }
}

#[test]
fn silent_address_times_out_at_the_deadline() {
    let result = in_fresh_netns(|| {
        support_net::current_thread_runtime().block_on(check(
            SILENT_ADDR,
            &[22, 443],
            Duration::from_millis(300),
        ))
    });
    let p = match result {
        Ok(p) => p,
        Err(e) => {
            eprintln!("skipped: cannot make a network namespace: {e}");
            return;
        }
    };
    for r in &p.ports {
        assert_eq!(r.outcome, TcpOutcome::Timeout { after_ms: 300 }, "{p:?}");
    }
}

#[test]
fn unroutable_address_is_an_error_not_a_timeout() {
    let result = in_fresh_netns(|| {
        support_net::current_thread_runtime().block_on(check(
            "192.0.2.9",
            &[80],
            Duration::from_millis(300),
        ))
    });
    let Ok(p) = result else {
        eprintln!("skipped: cannot make a network namespace");
        return;
    };
    assert!(
        matches!(&p.ports[0].outcome, TcpOutcome::Error(e) if e.contains("unreachable")),
        "{p:?}"
    );
}

#[test]
fn unresolvable_name_gives_each_port_the_reason() {
    let result = in_fresh_netns(|| {
        support_net::current_thread_runtime().block_on(check(
            "no-such-host.invalid",
            &[80, 443],
            Duration::from_millis(500),
        ))
    });
    let Ok(p) = result else {
        eprintln!("skipped: cannot make a network namespace");
        return;
    };
    assert_eq!(p.ports.len(), 2);
    for r in &p.ports {
        assert!(
            matches!(&r.outcome, TcpOutcome::Error(e) if e.contains("no-such-host.invalid")),
            "{p:?}"
        );
    }
}

#[tokio::test]
async fn fifty_open_ports_in_one_probe() {
    let mut listeners = Vec::new();
    let mut ports = Vec::new();
    for _ in 0..50 {
        let l = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        ports.push(l.local_addr().map(|a| a.port()).unwrap_or(0));
        listeners.push(l);
    }
    let p = check("127.0.0.1", &ports, Duration::from_secs(2)).await;
    assert_eq!(p.ports.len(), 50);
    assert!(
        p.ports
            .iter()
            .all(|r| matches!(r.outcome, TcpOutcome::Open { .. })),
        "{p:?}"
    );
}
