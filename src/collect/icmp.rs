//! ICMP echo probes on shared sockets (one per address family, receive buffer raised so a
//! burst of replies is never dropped): RTTs per echo, replies matched by id/sequence, and a
//! permission problem reported as such — never as "host down".
//! Owns the ICMP sockets and their sequence numbers; must not touch engine state, the store or
//! the UI.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use surge_ping::{Client, Config, ICMP, IcmpPacket, PingIdentifier, PingSequence, SurgeError};
use tokio::time::Instant;

use crate::config::{IcmpTarget, Target};
use crate::model::{IcmpError, IcmpOutcome, IcmpProbe};

/// Receive buffer asked for on each shared socket. With the kernel's default (~208 KiB) a few
/// hundred hosts answering in the same millisecond overflow it, and the lost replies would be
/// reported as timeouts, i.e. as packet loss the hosts never had.
pub const RECV_BUFFER_BYTES: usize = 8 << 20;

/// Echo requests in one probe are capped so that a typo (`count = 10000`) cannot flood a host or
/// exhaust the 16-bit sequence space of one round.
pub const MAX_COUNT: u32 = 100;

/// Shown whenever neither a ping socket nor a raw socket may be opened. The IPv4 sysctl is named
/// for IPv6 too because Linux governs both kinds of ping socket with it.
pub const PERMISSION_HINT: &str = "allow unprivileged ping with `sysctl -w \
net.ipv4.ping_group_range=\"0 2147483647\"` (it also governs IPv6 ping sockets), or grant \
CAP_NET_RAW: `setcap cap_net_raw+ep <nocscope binary>`";

/// Identifies our echo requests in the payload; helps anyone reading a packet capture.
const PAYLOAD: &[u8] = b"nocscope icmp probe\0\0\0\0\0";

/// The shared ICMP sockets; cheap to clone.
#[derive(Clone)]
pub struct IcmpClients {
    inner: Arc<Shared>,
}

struct Shared {
    v4: Mutex<Option<Client>>,
    v6: Mutex<Option<Client>>,
    /// Next sequence number per host. Distinct per host and advancing across rounds, so a
    /// reply that arrives after its round ended can never be taken for an answer to a newer
    /// request.
    sequences: Mutex<HashMap<IpAddr, u16>>,
    /// Salt for the echo identifier: on raw sockets it keeps our replies apart from those of
    /// another pinger on the same machine (ping sockets get their identifier from the kernel).
    ident_salt: std::collections::hash_map::RandomState,
}

impl IcmpClients {
    /// Sockets open lazily on first use; failing to open one is reported per probe.
    pub fn new() -> IcmpClients {
        IcmpClients {
            inner: Arc::new(Shared {
                v4: Mutex::new(None),
                v6: Mutex::new(None),
                sequences: Mutex::new(HashMap::new()),
                ident_salt: std::collections::hash_map::RandomState::new(),
            }),
        }
    }

    /// The shared client for one address family, opened on first use. A failure is not cached:
    /// once the administrator widens `ping_group_range` or grants the capability, the next
    /// probe succeeds without a restart.
    fn client(&self, v6: bool) -> Result<Client, IcmpError> {
        let slot = if v6 { &self.inner.v6 } else { &self.inner.v4 };
        let mut guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = guard.as_ref() {
            return Ok(client.clone());
        }
        let config = if v6 {
            Config::builder().kind(ICMP::V6).build()
        } else {
            Config::default()
        };
        let client = Client::new(&config).map_err(|e| open_error(v6, &e))?;
        raise_recv_buffer(&client, v6);
        *guard = Some(client.clone());
        Ok(client)
    }

    /// The receive buffer the kernel granted to each open socket (v4, v6), as `SO_RCVBUF`
    /// reports it; `None` for a family not opened yet. For diagnostics: a value below
    /// `RECV_BUFFER_BYTES` means bursts of replies may be dropped.
    pub fn recv_buffer_bytes(&self) -> (Option<usize>, Option<usize>) {
        let size = |slot: &Mutex<Option<Client>>| {
            let guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
            let client = guard.as_ref()?;
            let fd = client.get_socket().get_native_sock();
            // SAFETY: the client (held by the guard) owns the socket for this whole borrow.
            let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            socket2::SockRef::from(&borrowed).recv_buffer_size().ok()
        };
        (size(&self.inner.v4), size(&self.inner.v6))
    }

    /// Reserve `count` consecutive sequence numbers for `host`.
    fn reserve_sequences(&self, host: IpAddr, count: u16) -> u16 {
        let mut map = self
            .inner
            .sequences
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let next = map.entry(host).or_insert(0);
        let first = *next;
        *next = next.wrapping_add(count);
        first
    }

    fn ident(&self, host: IpAddr) -> PingIdentifier {
        // Truncation is the point: any 16 bits of a salted hash do.
        PingIdentifier(self.inner.ident_salt.hash_one(host) as u16)
    }
}

impl Default for IcmpClients {
    fn default() -> Self {
        Self::new()
    }
}

fn open_error(v6: bool, e: &io::Error) -> IcmpError {
    let family = if v6 { "ICMPv6" } else { "ICMPv4" };
    if e.kind() == io::ErrorKind::PermissionDenied {
        IcmpError::Permission {
            hint: PERMISSION_HINT.to_string(),
        }
    } else {
        IcmpError::Other(format!(
            "cannot open an {family} socket (tried ping and raw): {e}"
        ))
    }
}

/// Raise the receive buffer of the client's socket. `SO_RCVBUFFORCE` ignores
/// `net.core.rmem_max` but needs CAP_NET_ADMIN; without it `SO_RCVBUF` gives what the sysctl
/// allows, and a smaller buffer is logged rather than fatal (small fleets never fill it).
fn raise_recv_buffer(client: &Client, v6: bool) {
    use std::os::fd::BorrowedFd;
    let fd = client.get_socket().get_native_sock();
    // SAFETY: `client` owns the socket and outlives this borrow; nothing here closes it.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let sock = socket2::SockRef::from(&borrowed);
    let forced = force_recv_buffer(&borrowed, RECV_BUFFER_BYTES);
    if !forced && let Err(e) = sock.set_recv_buffer_size(RECV_BUFFER_BYTES) {
        tracing::warn!(v6, error = %e, "cannot raise the ICMP receive buffer");
    }
    // Linux reports twice the requested size (bookkeeping overhead), so half is what we asked.
    match sock.recv_buffer_size() {
        Ok(got) if got < RECV_BUFFER_BYTES => tracing::warn!(
            v6,
            got,
            wanted = RECV_BUFFER_BYTES,
            "ICMP receive buffer limited by net.core.rmem_max; bursts of replies may be dropped"
        ),
        _ => {}
    }
}

#[cfg(target_os = "linux")]
fn force_recv_buffer(fd: &std::os::fd::BorrowedFd<'_>, bytes: usize) -> bool {
    use std::os::fd::AsRawFd;
    let Ok(value) = libc::c_int::try_from(bytes) else {
        return false;
    };
    // SAFETY: a valid socket fd and a pointer to a c_int with its exact length.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    rc == 0
}

#[cfg(not(target_os = "linux"))]
fn force_recv_buffer(_fd: &std::os::fd::BorrowedFd<'_>, _bytes: usize) -> bool {
    false
}

/// When each echo of one round is sent, and how long each waits for its reply.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// Send times relative to the start of the probe, non-decreasing.
    pub offsets: Vec<Duration>,
    /// How long each echo waits for its reply after being sent.
    pub wait: Duration,
}

/// Spread `count` echoes over `timeout`: each waits half the timeout, and the sends share the
/// other half, shifted by a per-host `phase` (0..1) so that hundreds of hosts started by the same
/// tick do not all send in the same millisecond. Every reply deadline falls within `timeout`.
pub fn schedule(timeout: Duration, count: u32, phase: f64) -> Schedule {
    let count = count.clamp(1, MAX_COUNT);
    let wait = timeout / 2;
    let spacing = (timeout - wait) / count;
    let phase = if phase.is_finite() {
        phase.clamp(0.0, 1.0)
    } else {
        0.0
    };
    // `spacing * phase` stays below `spacing`, so the last send plus `wait` stays in `timeout`.
    let shift = spacing.mul_f64(phase * 0.999);
    let offsets = (0..count).map(|i| shift + spacing * i).collect();
    Schedule { offsets, wait }
}

/// What one echo request came to.
enum Echo {
    Reply(f64),
    /// No answer in time, or the network said the host is unreachable: the host did not answer.
    Lost,
    /// A local problem (socket error, duplicate request): says nothing about the host.
    Local(String),
}

/// Send `count` echo requests, spread over the target's timeout, and collect the replies.
pub async fn probe(clients: &IcmpClients, target: &Target, icmp: &IcmpTarget) -> IcmpProbe {
    let ip = match resolve(&icmp.address, target.timeout).await {
        Ok(ip) => ip,
        Err(e) => {
            return IcmpProbe {
                address: icmp.address.clone(),
                outcome: IcmpOutcome::Failed(IcmpError::Resolve(e)),
            };
        }
    };
    let address = ip.to_string();
    let client = match clients.client(ip.is_ipv6()) {
        Ok(c) => c,
        Err(e) => {
            return IcmpProbe {
                address,
                outcome: IcmpOutcome::Failed(e),
            };
        }
    };
    let count = icmp.count.clamp(1, MAX_COUNT);
    let phase = (clients.inner.ident_salt.hash_one(ip) % 1000) as f64 / 1000.0;
    let plan = schedule(target.timeout, count, phase);
    // `count` is at most MAX_COUNT, so it fits in u16.
    let first_seq = clients.reserve_sequences(ip, count as u16);
    let ident = clients.ident(ip);
    let start = Instant::now();

    let echoes = plan.offsets.iter().enumerate().map(|(i, offset)| {
        let client = client.clone();
        let seq = PingSequence(first_seq.wrapping_add(i as u16));
        let send_at = start + *offset;
        let wait = plan.wait;
        async move {
            tokio::time::sleep_until(send_at).await;
            let mut pinger = client.pinger(ip, ident).await;
            pinger.timeout(wait);
            classify(pinger.ping(seq, PAYLOAD).await)
        }
    });
    // The plan keeps every deadline inside the timeout; this guard only bounds the probe if the
    // runtime stalls, so a round can never overlap the next one.
    let guard = target.timeout + Duration::from_millis(250);
    let results = match tokio::time::timeout(guard, futures_util::future::join_all(echoes)).await {
        Ok(r) => r,
        Err(_) => (0..count).map(|_| Echo::Lost).collect(),
    };

    let mut rtt_ms = Vec::with_capacity(results.len());
    for echo in results {
        match echo {
            Echo::Reply(ms) => rtt_ms.push(Some(ms)),
            Echo::Lost => rtt_ms.push(None),
            Echo::Local(e) => {
                return IcmpProbe {
                    address,
                    outcome: IcmpOutcome::Failed(IcmpError::Other(e)),
                };
            }
        }
    }
    IcmpProbe {
        address,
        outcome: IcmpOutcome::Replies { rtt_ms },
    }
}

fn classify(result: Result<(IcmpPacket, Duration), SurgeError>) -> Echo {
    match result {
        Ok((packet, rtt)) => {
            if is_echo_reply(&packet) {
                Echo::Reply(rtt.as_secs_f64() * 1000.0)
            } else {
                // Destination unreachable or time exceeded from a router on the way.
                Echo::Lost
            }
        }
        Err(SurgeError::Timeout { .. }) => Echo::Lost,
        Err(SurgeError::IOError(e)) if is_unreachable(&e) => Echo::Lost,
        Err(SurgeError::IOError(e)) if e.kind() == io::ErrorKind::PermissionDenied => Echo::Local(
            format!("sending the echo request was refused locally (firewall?): {e}"),
        ),
        Err(e) => Echo::Local(format!("ICMP echo failed locally: {e}")),
    }
}

fn is_echo_reply(packet: &IcmpPacket) -> bool {
    // Type numbers from RFC 792 (echo reply = 0) and RFC 4443 (echo reply = 129).
    match packet {
        IcmpPacket::V4(p) => p.get_icmp_type().0 == 0,
        IcmpPacket::V6(p) => p.get_icmpv6_type().0 == 129,
    }
}

/// The kernel refusing to send because there is no route is an answer about the host's
/// reachability, not a local fault.
fn is_unreachable(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NetworkUnreachable | io::ErrorKind::HostUnreachable
    )
}

async fn resolve(address: &str, timeout: Duration) -> Result<IpAddr, String> {
    if let Ok(ip) = address.parse::<IpAddr>() {
        return Ok(ip);
    }
    let lookup = tokio::net::lookup_host((address, 0));
    match tokio::time::timeout(timeout, lookup).await {
        Ok(Ok(mut addrs)) => addrs
            .next()
            .map(|a| a.ip())
            .ok_or_else(|| format!("{address}: the name has no addresses")),
        Ok(Err(e)) => Err(format!("{address}: {e}")),
        Err(_) => Err(format!(
            "{address}: no answer from the resolver within {} ms",
            timeout.as_millis()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn schedule_keeps_every_deadline_inside_the_timeout(
            timeout_ms in 1u64..120_000,
            count in 0u32..500,
            phase in proptest::num::f64::ANY,
        ) {
            let timeout = Duration::from_millis(timeout_ms);
            let plan = schedule(timeout, count, phase);
            prop_assert_eq!(plan.offsets.len() as u32, count.clamp(1, MAX_COUNT));
            prop_assert!(plan.wait > Duration::ZERO || timeout_ms < 2);
            for pair in plan.offsets.windows(2) {
                prop_assert!(pair[0] <= pair[1]);
            }
            for offset in &plan.offsets {
                prop_assert!(*offset + plan.wait <= timeout, "{:?} + {:?} > {:?}", offset, plan.wait, timeout);
            }
        }

        #[test]
        fn sequences_of_consecutive_rounds_never_overlap(count in 1u16..=100, rounds in 1usize..50) {
            let clients = IcmpClients::new();
            let host = IpAddr::from([127, 0, 0, 1]);
            let mut seen = std::collections::HashSet::new();
            for _ in 0..rounds {
                let first = clients.reserve_sequences(host, count);
                for i in 0..count {
                    // 50 rounds of at most 100 stay below 65536, so any repeat is a bug.
                    prop_assert!(seen.insert(first.wrapping_add(i)));
                }
            }
        }
    }

    #[test]
    fn sends_are_spread_not_burst() {
        let plan = schedule(Duration::from_secs(2), 4, 0.0);
        assert_eq!(plan.wait, Duration::from_secs(1));
        assert_eq!(
            plan.offsets,
            vec![
                Duration::ZERO,
                Duration::from_millis(250),
                Duration::from_millis(500),
                Duration::from_millis(750)
            ]
        );
    }

    #[test]
    fn each_host_counts_its_own_sequences() {
        let clients = IcmpClients::new();
        let a = IpAddr::from([127, 0, 0, 1]);
        let b = IpAddr::from([127, 0, 0, 2]);
        assert_eq!(clients.reserve_sequences(a, 3), 0);
        assert_eq!(clients.reserve_sequences(b, 3), 0);
        assert_eq!(clients.reserve_sequences(a, 3), 3);
        assert_eq!(clients.reserve_sequences(b, 5), 3);
    }

    #[test]
    fn permission_errors_name_both_remedies() {
        for v6 in [false, true] {
            let e = open_error(v6, &io::Error::from(io::ErrorKind::PermissionDenied));
            let IcmpError::Permission { hint } = e else {
                panic!("expected Permission, got {e:?}");
            };
            assert!(hint.contains("net.ipv4.ping_group_range"), "{hint}");
            assert!(hint.contains("CAP_NET_RAW"), "{hint}");
        }
        let other = open_error(true, &io::Error::from(io::ErrorKind::AddrNotAvailable));
        assert!(matches!(other, IcmpError::Other(ref m) if m.contains("ICMPv6")));
    }

    #[test]
    fn unreachable_and_timeout_are_loss_local_errors_are_not() {
        assert!(matches!(
            classify(Err(SurgeError::Timeout {
                seq: PingSequence(1)
            })),
            Echo::Lost
        ));
        assert!(matches!(
            classify(Err(SurgeError::IOError(io::Error::from(
                io::ErrorKind::NetworkUnreachable
            )))),
            Echo::Lost
        ));
        assert!(matches!(
            classify(Err(SurgeError::IOError(io::Error::from(
                io::ErrorKind::PermissionDenied
            )))),
            Echo::Local(_)
        ));
        assert!(matches!(
            classify(Err(SurgeError::ClientDestroyed)),
            Echo::Local(_)
        ));
    }
}
