//! ICMP probes against real sockets: loopback (v4 and v6), a silent address inside a private
//! network namespace, hundreds of hosts on one shared client, and the permission case on a
//! thread that gave up root. Needs root for the namespace cases; they say so and skip otherwise.

use crate::support_net;

use std::time::Duration;

use nocscope::collect::icmp::{self, IcmpClients};
use nocscope::config::{IcmpTarget, TargetKind};
use nocscope::model::{IcmpError, IcmpOutcome, IcmpProbe};
use support_net::{SILENT_ADDR, in_fresh_netns, target};

async fn ping(clients: &IcmpClients, address: &str, count: u32, timeout: Duration) -> IcmpProbe {
    let cfg = IcmpTarget {
        address: address.to_string(),
        count,
    };
    let t = target(address, timeout, TargetKind::Icmp(cfg.clone()));
    icmp::probe(clients, &t, &cfg).await
}

fn replies(probe: &IcmpProbe) -> &[Option<f64>] {
    match &probe.outcome {
        IcmpOutcome::Replies { rtt_ms } => rtt_ms,
        IcmpOutcome::Failed(e) => panic!("{}: probe failed: {e}", probe.address),
    }
}

/// True when this process can open an ICMP socket at all (root, CAP_NET_RAW or a wide
/// ping_group_range); the loopback tests need one.
async fn can_ping(clients: &IcmpClients) -> bool {
    let p = ping(clients, "127.0.0.1", 1, Duration::from_millis(500)).await;
    match p.outcome {
        IcmpOutcome::Failed(IcmpError::Permission { .. }) => {
            eprintln!("skipped: no ICMP permission for this user");
            false
        }
        _ => true,
    }
}

#[tokio::test]
async fn loopback_v4_answers_every_echo() {
    let clients = IcmpClients::new();
    if !can_ping(&clients).await {
        return;
    }
    for count in [1, 3, 5] {
        let p = ping(&clients, "127.0.0.1", count, Duration::from_secs(1)).await;
        assert_eq!(p.address, "127.0.0.1");
        let rtts = replies(&p);
        assert_eq!(rtts.len(), count as usize, "one entry per echo: {p:?}");
        for rtt in rtts {
            let rtt = rtt.unwrap_or_else(|| panic!("loopback lost an echo: {p:?}"));
            assert!(rtt >= 0.0 && rtt.is_finite(), "{rtt}");
        }
    }
}

#[tokio::test]
async fn loopback_v6_answers_every_echo_when_available() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback");
        return;
    }
    let clients = IcmpClients::new();
    if !can_ping(&clients).await {
        return;
    }
    let p = ping(&clients, "::1", 3, Duration::from_secs(1)).await;
    let rtts = replies(&p);
    assert_eq!(rtts.len(), 3);
    assert!(rtts.iter().all(|r| r.is_some_and(|ms| ms >= 0.0)), "{p:?}");
}

#[tokio::test]
async fn host_names_are_resolved_and_the_address_reported() {
    let clients = IcmpClients::new();
    if !can_ping(&clients).await {
        return;
    }
    let p = ping(&clients, "localhost", 2, Duration::from_secs(1)).await;
    assert!(
        p.address == "127.0.0.1" || p.address == "::1",
        "{}",
        p.address
    );
    assert!(replies(&p).iter().all(Option::is_some), "{p:?}");
}

/// 300 hosts × 3 echoes on one shared client with a short timeout, so the sends are packed
/// into ~100 ms: every echo must come back.
#[tokio::test(flavor = "current_thread")]
async fn hundreds_of_hosts_on_one_client_lose_nothing() {
    let clients = IcmpClients::new();
    if !can_ping(&clients).await {
        return;
    }
    let hosts: Vec<String> = (0..300u32)
        .map(|i| format!("127.0.{}.{}", i / 250, 1 + i % 250))
        .collect();
    let probes = futures_util::future::join_all(
        hosts
            .iter()
            .map(|h| ping(&clients, h, 3, Duration::from_millis(600))),
    )
    .await;
    let mut lost = Vec::new();
    for p in &probes {
        for (i, r) in replies(p).iter().enumerate() {
            if r.is_none() {
                lost.push(format!("{}#{i}", p.address));
            }
        }
    }
    assert!(lost.is_empty(), "false loss on loopback: {lost:?}");
}

/// Regression for the measured surge-ping defect: with the kernel's default receive buffer
/// (~208 KiB) a burst of replies on the shared socket is dropped and shows up as false loss.
#[tokio::test]
async fn shared_sockets_get_the_large_receive_buffer() {
    let clients = IcmpClients::new();
    if !can_ping(&clients).await {
        return;
    }
    let _ = ping(&clients, "::1", 1, Duration::from_millis(300)).await;
    let (v4, v6) = clients.recv_buffer_bytes();
    // SAFETY: geteuid has no preconditions.
    let privileged = unsafe { libc::geteuid() } == 0;
    if !privileged {
        eprintln!("skipped: without CAP_NET_ADMIN the buffer is capped by net.core.rmem_max");
        return;
    }
    // Linux reports twice what was set; SO_RCVBUFFORCE as root is not capped.
    assert!(v4.is_some_and(|b| b >= icmp::RECV_BUFFER_BYTES), "{v4:?}");
    if let Some(b) = v6 {
        assert!(b >= icmp::RECV_BUFFER_BYTES, "{b}");
    }
}

#[test]
fn silent_host_is_loss_not_error() {
    let result = in_fresh_netns(|| {
        support_net::current_thread_runtime().block_on(async {
            let clients = IcmpClients::new();
            ping(&clients, SILENT_ADDR, 3, Duration::from_millis(400)).await
        })
    });
    let p = match result {
        Ok(p) => p,
        Err(e) => {
            eprintln!("skipped: cannot make a network namespace: {e}");
            return;
        }
    };
    assert_eq!(p.address, SILENT_ADDR);
    assert_eq!(replies(&p), &[None, None, None], "{p:?}");
}

#[test]
fn unroutable_host_is_loss_not_error() {
    // Outside 10.213.0.0/24 the fresh namespace has no route at all: the kernel refuses to send.
    let result = in_fresh_netns(|| {
        support_net::current_thread_runtime().block_on(async {
            let clients = IcmpClients::new();
            ping(&clients, "192.0.2.7", 2, Duration::from_millis(300)).await
        })
    });
    let Ok(p) = result else {
        eprintln!("skipped: cannot make a network namespace");
        return;
    };
    assert_eq!(replies(&p), &[None, None], "{p:?}");
}

#[test]
fn without_privilege_the_probe_says_permission_not_loss() {
    // A fresh namespace has the kernel default ping_group_range "1 0" (no group may use ping
    // sockets), and a thread that dropped from root to nobody has no CAP_NET_RAW.
    let result = in_fresh_netns(|| {
        support_net::become_nobody_on_this_thread()?;
        let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range")
            .map_err(|e| format!("read ping_group_range: {e}"))?;
        let probes = support_net::current_thread_runtime().block_on(async {
            let clients = IcmpClients::new();
            let v4 = ping(&clients, "127.0.0.1", 3, Duration::from_millis(300)).await;
            let v6 = ping(&clients, "::1", 3, Duration::from_millis(300)).await;
            (v4, v6)
        });
        Ok::<_, String>((range, probes))
    });
    let (range, (v4, v6)) = match result {
        Ok(Ok(r)) => r,
        Ok(Err(e)) | Err(e) => {
            eprintln!("skipped: cannot drop privileges in a namespace: {e}");
            return;
        }
    };
    assert_eq!(range.split_whitespace().collect::<Vec<_>>(), ["1", "0"]);
    for p in [v4, v6] {
        match &p.outcome {
            IcmpOutcome::Failed(IcmpError::Permission { hint }) => {
                assert!(hint.contains("net.ipv4.ping_group_range"), "{hint}");
                assert!(hint.contains("CAP_NET_RAW"), "{hint}");
            }
            other => panic!("{}: expected Permission, got {other:?}", p.address),
        }
    }
}

#[test]
fn unprivileged_ping_sockets_work_when_the_group_is_allowed() {
    // The same unprivileged thread, but the namespace's ping_group_range now admits every
    // group: the DGRAM path must work for IPv4 and, governed by the same sysctl, for IPv6.
    let result = in_fresh_netns(|| {
        std::fs::write("/proc/sys/net/ipv4/ping_group_range", "0 2147483647")
            .map_err(|e| format!("write ping_group_range: {e}"))?;
        support_net::become_nobody_on_this_thread()?;
        Ok::<_, String>(support_net::current_thread_runtime().block_on(async {
            let clients = IcmpClients::new();
            let v4 = ping(&clients, "127.0.0.1", 3, Duration::from_millis(500)).await;
            let v6 = ping(&clients, "::1", 3, Duration::from_millis(500)).await;
            (v4, v6)
        }))
    });
    let (v4, v6) = match result {
        Ok(Ok(r)) => r,
        Ok(Err(e)) | Err(e) => {
            eprintln!("skipped: cannot set up an unprivileged namespace: {e}");
            return;
        }
    };
    assert!(replies(&v4).iter().all(Option::is_some), "{v4:?}");
    match &v6.outcome {
        IcmpOutcome::Replies { rtt_ms } => assert!(rtt_ms.iter().all(Option::is_some), "{v6:?}"),
        // A kernel without IPv6 has no ::1 to ping; anything else is a failure.
        IcmpOutcome::Failed(IcmpError::Other(e)) if e.contains("ICMPv6") => {
            eprintln!("IPv6 unavailable: {e}")
        }
        other => panic!("::1: {other:?}"),
    }
}

#[test]
fn unresolvable_name_is_a_resolve_error() {
    // Inside the namespace no resolver is reachable, so the lookup fails fast and locally.
    let result = in_fresh_netns(|| {
        support_net::current_thread_runtime().block_on(async {
            let clients = IcmpClients::new();
            ping(
                &clients,
                "no-such-host.invalid",
                1,
                Duration::from_millis(500),
            )
            .await
        })
    });
    let Ok(p) = result else {
        eprintln!("skipped: cannot make a network namespace");
        return;
    };
    assert!(
        matches!(p.outcome, IcmpOutcome::Failed(IcmpError::Resolve(ref e)) if e.contains("no-such-host.invalid")),
        "{p:?}"
    );
}

#[tokio::test]
async fn consecutive_rounds_keep_working_on_the_shared_client() {
    // Each round takes fresh sequence numbers; a stale registration or an identical-request
    // clash would show up as loss or an error in a later round.
    let clients = IcmpClients::new();
    if !can_ping(&clients).await {
        return;
    }
    for _ in 0..5 {
        let (a, b) = tokio::join!(
            ping(&clients, "127.0.0.1", 3, Duration::from_millis(400)),
            ping(&clients, "127.0.0.1", 3, Duration::from_millis(400)),
        );
        assert!(replies(&a).iter().all(Option::is_some), "{a:?}");
        assert!(replies(&b).iter().all(Option::is_some), "{b:?}");
    }
}
