//! TCP connect checks: latency per port, refused told apart from timeout.
//! Owns the connect attempts only; must not touch engine state, the store or the UI.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::config::{Target, TcpTarget};
use crate::model::{TcpOutcome, TcpPortResult, TcpProbe};

/// Connect to every port concurrently within the target's timeout.
pub async fn probe(target: &Target, tcp: &TcpTarget) -> TcpProbe {
    let start = Instant::now();
    let deadline = start + target.timeout;
    let ip = match resolve(&tcp.address, target.timeout).await {
        Ok(ip) => ip,
        Err(e) => {
            // Every port gets the same reason, so each port's row says why it has no latency.
            return TcpProbe {
                address: tcp.address.clone(),
                ports: tcp
                    .ports
                    .iter()
                    .map(|&port| TcpPortResult {
                        port,
                        outcome: TcpOutcome::Error(e.clone()),
                    })
                    .collect(),
            };
        }
    };
    let attempts = tcp
        .ports
        .iter()
        .map(|&port| connect(SocketAddr::new(ip, port), start, deadline));
    let ports = futures_util::future::join_all(attempts).await;
    TcpProbe {
        address: ip.to_string(),
        ports,
    }
}

async fn connect(addr: SocketAddr, start: Instant, deadline: Instant) -> TcpPortResult {
    let attempt_start = Instant::now();
    let outcome = match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => {
            let connect_ms = attempt_start.elapsed().as_secs_f64() * 1000.0;
            // Close at once with a FIN; the check is the handshake, not a conversation.
            drop(stream);
            TcpOutcome::Open { connect_ms }
        }
        Ok(Err(e)) => classify(&e, duration_ms(attempt_start.elapsed())),
        Err(_) => TcpOutcome::Timeout {
            after_ms: duration_ms(deadline.saturating_duration_since(start)),
        },
    };
    TcpPortResult {
        port: addr.port(),
        outcome,
    }
}

/// Refused (a reset: the host is up, nothing listens) is its own state; a kernel-level timeout
/// (SYN retries exhausted before our deadline) is still a timeout; the rest keep their cause.
fn classify(e: &io::Error, elapsed_ms: u64) -> TcpOutcome {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => TcpOutcome::Refused,
        io::ErrorKind::TimedOut => TcpOutcome::Timeout {
            after_ms: elapsed_ms,
        },
        io::ErrorKind::HostUnreachable => TcpOutcome::Error(format!("host unreachable: {e}")),
        io::ErrorKind::NetworkUnreachable => TcpOutcome::Error(format!("network unreachable: {e}")),
        _ => TcpOutcome::Error(e.to_string()),
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

async fn resolve(address: &str, timeout: Duration) -> Result<IpAddr, String> {
    // Accept `[::1]` as written in URLs as well as the bare form.
    let trimmed = address.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = trimmed.parse::<IpAddr>() {
        return Ok(ip);
    }
    match tokio::time::timeout(timeout, tokio::net::lookup_host((address, 0))).await {
        Ok(Ok(mut addrs)) => addrs
            .next()
            .map(|a| a.ip())
            .ok_or_else(|| format!("cannot resolve {address}: the name has no addresses")),
        Ok(Err(e)) => Err(format!("cannot resolve {address}: {e}")),
        Err(_) => Err(format!(
            "cannot resolve {address}: no answer within {} ms",
            timeout.as_millis()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_map_to_outcomes() {
        let table = [
            (io::ErrorKind::ConnectionRefused, "refused"),
            (io::ErrorKind::TimedOut, "timeout"),
            (io::ErrorKind::HostUnreachable, "error"),
            (io::ErrorKind::NetworkUnreachable, "error"),
            (io::ErrorKind::AddrNotAvailable, "error"),
        ];
        for (kind, want) in table {
            let got = match classify(&io::Error::from(kind), 7) {
                TcpOutcome::Refused => "refused",
                TcpOutcome::Timeout { .. } => "timeout",
                TcpOutcome::Error(_) => "error",
                TcpOutcome::Open { .. } => "open",
            };
            assert_eq!(got, want, "{kind:?}");
        }
    }
}
