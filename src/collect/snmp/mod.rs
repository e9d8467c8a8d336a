//! SNMP poller: a wrapper around snmp2 that adds what it lacks — per-request timeouts,
//! retries, a whole-poll deadline, session recreation after a timeout or id mismatch,
//! GETBULK/GETNEXT walks with the OID-increasing check, truncation detection and named errors.
//! Returns raw varbinds; turning them into series is the engine's job. Must not touch engine
//! state, the store or the UI.

pub mod plan;
pub mod usm;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use snmp2::{AsyncSession, Oid, Pdu, Value, v3};
use tokio::time::{Instant, timeout, timeout_at};

use crate::config::{SnmpAuthProtocol, SnmpPrivProtocol, SnmpTarget, SnmpV3, SnmpVersion, Target};
use crate::model::{SnmpAuthError, SnmpError, SnmpOutcome, SnmpPoll, SnmpValue, Varbind};
pub use plan::Plan;

/// A poll that returns more than this is refused: it guards memory against an agent whose
/// table never ends (each step still increases, so the loop check does not fire).
pub const MAX_VARBINDS_PER_POLL: usize = 200_000;

/// snmp2 sends the engine time of the last reply instead of a running clock, so after a long
/// pause the agent would see a stale time (window ±150 s); re-discover before that.
const V3_REDISCOVER_AFTER: Duration = Duration::from_secs(120);

const ERR_TOO_BIG: u32 = 1;
const ERR_NO_SUCH_NAME: u32 = 2;

/// One device's SNMP state (its session survives between polls; a broken one is recreated).
pub struct SnmpPoller {
    address: String,
    snmp: Box<SnmpTarget>,
    deadline: Duration,
    plan: Plan,
    /// Boxed: snmp2's session state is large and the poller lives inside the scheduler.
    session: Option<Box<AsyncSession>>,
    resolved: Option<SocketAddr>,
    next_req_id: i32,
    /// GETBULK max-repetitions in force: starts at the configured value, halved on tooBig.
    repetitions: u32,
    /// Walked columns per GETBULK, halved on tooBig once repetitions reach 1.
    columns_per_request: usize,
    last_exchange: Option<Instant>,
    sessions_opened: u64,
    requests_sent: u64,
}

/// A reply copied out of snmp2's borrowed buffer.
#[derive(Debug)]
struct Reply {
    error_status: u32,
    error_index: u32,
    varbinds: Vec<Varbind>,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Get,
    GetNext,
    Bulk(u32),
}

/// Why one exchange failed before a reply could be read.
enum Wire {
    Open(String),
    Snmp(snmp2::Error),
}

impl From<snmp2::Error> for Wire {
    fn from(e: snmp2::Error) -> Self {
        Wire::Snmp(e)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn dotted(oid: &[u32]) -> String {
    oid.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}

/// An OID's arcs; an arc beyond u32 (SNMP's limit) is a malformed reply.
pub(crate) fn arcs(oid: &Oid<'_>) -> Result<Vec<u32>, String> {
    let iter = oid
        .iter()
        .ok_or_else(|| format!("OID {oid} has an arc beyond 64 bits"))?;
    iter.map(|a| u32::try_from(a).map_err(|_| format!("OID {oid} has an arc beyond 2^32-1")))
        .collect()
}

fn encode(oid: &[u32]) -> Result<Oid<'static>, SnmpError> {
    let wide: Vec<u64> = oid.iter().map(|a| u64::from(*a)).collect();
    Oid::from(&wide).map_err(|e| {
        SnmpError::Other(format!(
            "OID {} cannot be sent ({e:?}): it needs at least two arcs, the first 0-2 and the \
             second below 40",
            dotted(oid)
        ))
    })
}

fn value_of(v: &Value<'_>) -> Result<SnmpValue, String> {
    Ok(match v {
        Value::Integer(n) => SnmpValue::Integer(*n),
        Value::OctetString(b) => SnmpValue::OctetString(Bytes::copy_from_slice(b)),
        Value::ObjectIdentifier(o) => SnmpValue::ObjectId(arcs(o)?),
        Value::IpAddress(a) => SnmpValue::IpAddress(*a),
        Value::Counter32(n) => SnmpValue::Counter32(*n),
        Value::Unsigned32(n) => SnmpValue::Gauge32(*n),
        Value::Timeticks(n) => SnmpValue::TimeTicks(*n),
        Value::Opaque(b) => SnmpValue::Opaque(Bytes::copy_from_slice(b)),
        Value::Counter64(n) => SnmpValue::Counter64(*n),
        Value::Null => SnmpValue::Null,
        Value::NoSuchObject => SnmpValue::NoSuchObject,
        Value::NoSuchInstance => SnmpValue::NoSuchInstance,
        Value::EndOfMibView => SnmpValue::EndOfMibView,
        other => return Err(format!("a varbind holds {other:?}, not an SNMP value type")),
    })
}

fn copy_pdu(pdu: &Pdu<'_>) -> Result<Reply, String> {
    let mut varbinds = Vec::new();
    for (name, value) in pdu.varbinds.clone() {
        varbinds.push(Varbind {
            oid: arcs(&name)?,
            value: value_of(&value)?,
        });
    }
    Ok(Reply {
        error_status: pdu.error_status,
        error_index: pdu.error_index,
        varbinds,
    })
}

/// RFC 3416 error-status names, so an operator can look them up.
pub fn error_status_name(status: u32) -> String {
    const NAMES: [&str; 19] = [
        "noError",
        "tooBig",
        "noSuchName",
        "badValue",
        "readOnly",
        "genErr",
        "noAccess",
        "wrongType",
        "wrongLength",
        "wrongEncoding",
        "wrongValue",
        "noCreation",
        "inconsistentValue",
        "resourceUnavailable",
        "commitFailed",
        "undoFailed",
        "authorizationError",
        "notWritable",
        "inconsistentName",
    ];
    usize::try_from(status)
        .ok()
        .and_then(|i| NAMES.get(i))
        .map_or_else(|| format!("error-status {status}"), |n| (*n).to_string())
}

fn auth_protocol(p: SnmpAuthProtocol) -> v3::AuthProtocol {
    match p {
        SnmpAuthProtocol::Md5 => v3::AuthProtocol::Md5,
        SnmpAuthProtocol::Sha1 => v3::AuthProtocol::Sha1,
        SnmpAuthProtocol::Sha224 => v3::AuthProtocol::Sha224,
        SnmpAuthProtocol::Sha256 => v3::AuthProtocol::Sha256,
        SnmpAuthProtocol::Sha384 => v3::AuthProtocol::Sha384,
        SnmpAuthProtocol::Sha512 => v3::AuthProtocol::Sha512,
    }
}

fn cipher(p: SnmpPrivProtocol) -> v3::Cipher {
    match p {
        SnmpPrivProtocol::Des => v3::Cipher::Des,
        SnmpPrivProtocol::Aes128 => v3::Cipher::Aes128,
        SnmpPrivProtocol::Aes192 => v3::Cipher::Aes192,
        SnmpPrivProtocol::Aes256 => v3::Cipher::Aes256,
    }
}

/// snmp2's key localisation indexes into the password and panics on an empty one.
fn password(secret: &crate::config::Secret, what: &str) -> Result<Vec<u8>, String> {
    let bytes = secret.expose().as_bytes().to_vec();
    if bytes.is_empty() {
        return Err(format!(
            "SNMPv3 {what} password is empty: net-snmp requires at least 8 characters"
        ));
    }
    Ok(bytes)
}

/// `with_privacy = false` builds the authNoPriv twin used to tell a wrong privacy password
/// from a wrong auth password.
fn security(cfg: &SnmpV3, with_privacy: bool) -> Result<v3::Security, String> {
    let Some((proto, secret)) = &cfg.auth else {
        return Ok(v3::Security::new(cfg.user.as_bytes(), b"")
            .with_auth(v3::Auth::NoAuthNoPriv)
            .with_context_name(&cfg.context));
    };
    let proto = auth_protocol(*proto);
    let sec = v3::Security::new(cfg.user.as_bytes(), &password(secret, "auth")?)
        .with_auth_protocol(proto)
        .with_context_name(&cfg.context);
    match &cfg.privacy {
        Some((p, secret)) if with_privacy => {
            let cipher = cipher(*p);
            let sec = sec.with_auth(v3::Auth::AuthPriv {
                cipher,
                privacy_password: password(secret, "privacy")?,
            });
            // net-snmp extends short AES-192/256 keys the Blumenthal way (AES192/AES256,
            // not the Cisco "C" variants).
            Ok(if cipher.priv_key_needs_extension(&proto) {
                sec.with_key_extension_method(v3::KeyExtension::Blumenthal)
            } else {
                sec
            })
        }
        _ => Ok(sec.with_auth(v3::Auth::AuthNoPriv)),
    }
}

/// `host:port`, `host`, `ip`, `[v6]:port` or a bare IPv6 address; port 161 by default.
fn split_address(address: &str) -> (String, u16) {
    if let Ok(sa) = address.parse::<SocketAddr>() {
        return (sa.ip().to_string(), sa.port());
    }
    if let Ok(ip) = address.parse::<std::net::IpAddr>() {
        return (ip.to_string(), 161);
    }
    let trimmed = address.trim_start_matches('[');
    match address.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(p) => (host.to_string(), p),
            Err(_) => (address.to_string(), 161),
        },
        _ => (trimmed.trim_end_matches(']').to_string(), 161),
    }
}

async fn open_session(
    addr: SocketAddr,
    snmp: &SnmpTarget,
    req_id: i32,
    with_privacy: bool,
) -> Result<AsyncSession, Wire> {
    let open_err =
        |e: std::io::Error| Wire::Open(format!("cannot open a UDP socket to {addr}: {e}"));
    match snmp.version {
        SnmpVersion::V1 | SnmpVersion::V2c => {
            let community = snmp
                .community
                .as_ref()
                .map(|c| c.expose().as_bytes().to_vec())
                .unwrap_or_default();
            let session = if snmp.version == SnmpVersion::V1 {
                AsyncSession::new_v1(addr, &community, req_id).await
            } else {
                AsyncSession::new_v2c(addr, &community, req_id).await
            };
            session.map_err(open_err)
        }
        SnmpVersion::V3 => {
            let cfg = snmp.v3.as_ref().ok_or_else(|| {
                Wire::Open("SNMPv3 target without a user: set v3.user (and auth/privacy)".into())
            })?;
            let sec = security(cfg, with_privacy).map_err(Wire::Open)?;
            let mut session = AsyncSession::new_v3(addr, req_id, sec)
                .await
                .map_err(open_err)?;
            session.init().await?;
            Ok(session)
        }
    }
}

async fn send(
    session: &mut AsyncSession,
    kind: Kind,
    oids: &[Oid<'static>],
) -> Result<Result<Reply, String>, snmp2::Error> {
    let refs: Vec<&Oid<'_>> = oids.iter().collect();
    let pdu = match kind {
        Kind::Get => session.get_many(&refs).await?,
        Kind::GetNext => match refs.first() {
            Some(oid) => session.getnext(oid).await?,
            None => return Ok(Err("GETNEXT without an OID".into())),
        },
        Kind::Bulk(reps) => session.getbulk(&refs, 0, reps).await?,
    };
    // The PDU borrows the session's receive buffer: copy before the next request reuses it.
    Ok(copy_pdu(&pdu))
}

/// One walked subtree's progress.
struct Column {
    prefix: Vec<u32>,
    last: Vec<u32>,
    done: bool,
}

impl SnmpPoller {
    pub fn new(target: &Target, snmp: &SnmpTarget) -> SnmpPoller {
        SnmpPoller {
            address: snmp.address.clone(),
            snmp: Box::new(snmp.clone()),
            deadline: target.timeout,
            plan: Plan::for_target(snmp),
            session: None,
            resolved: None,
            // Distinct per target so two pollers' ids never look alike in a capture.
            next_req_id: i32::try_from(target.id.0 % 0x7fff).unwrap_or(1) << 16,
            repetitions: snmp.max_repetitions.max(1),
            columns_per_request: usize::MAX,
            last_exchange: None,
            sessions_opened: 0,
            requests_sent: 0,
        }
    }

    /// What each poll asks for.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Sessions opened so far: grows by one after every timeout or id mismatch.
    pub fn sessions_opened(&self) -> u64 {
        self.sessions_opened
    }

    /// Requests sent so far, retries included.
    pub fn requests_sent(&self) -> u64 {
        self.requests_sent
    }

    /// GETBULK max-repetitions now in force (halved after a tooBig).
    pub fn repetitions(&self) -> u32 {
        self.repetitions
    }

    /// Poll every configured profile and custom OID once, within the target's deadline.
    pub async fn poll(&mut self) -> SnmpPoll {
        let started = Instant::now();
        // A configured timeout too large for the clock means "no deadline" in practice.
        let deadline = started
            .checked_add(self.deadline)
            .unwrap_or_else(|| started + Duration::from_secs(365 * 24 * 3600));
        let outcome = match timeout_at(deadline, self.run(started, deadline)).await {
            Ok(Ok(varbinds)) => SnmpOutcome::Varbinds(varbinds),
            Ok(Err(e)) => SnmpOutcome::Failed(e),
            Err(_) => {
                // A request was cut mid-flight: its late reply would sit on this socket.
                self.session = None;
                SnmpOutcome::Failed(SnmpError::Timeout {
                    after_ms: millis(started.elapsed()),
                })
            }
        };
        SnmpPoll {
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            outcome,
        }
    }

    async fn run(
        &mut self,
        started: Instant,
        deadline: Instant,
    ) -> Result<Vec<Varbind>, SnmpError> {
        let mut out = Vec::new();
        let gets = self.plan.gets.clone();
        self.get_scalars(&gets, &mut out, started, deadline).await?;
        let walks = self.plan.walks.clone();
        for group in &walks {
            self.walk(group, &mut out, started, deadline).await?;
        }
        Ok(out)
    }

    async fn resolve(&mut self) -> Result<SocketAddr, SnmpError> {
        if let Some(a) = self.resolved {
            return Ok(a);
        }
        let (host, port) = split_address(&self.address);
        let found = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| SnmpError::Unreachable(format!("cannot resolve {}: {e}", self.address)))?
            .next()
            .ok_or_else(|| {
                SnmpError::Unreachable(format!("{} resolves to no address", self.address))
            })?;
        self.resolved = Some(found);
        Ok(found)
    }

    /// One request with retries: each try gets `request_timeout` (cut to the deadline); a
    /// timeout or id mismatch throws the session away, because snmp2 never drains a late
    /// reply and would stay one reply behind for good.
    async fn exchange(
        &mut self,
        kind: Kind,
        oids: &[Vec<u32>],
        started: Instant,
        deadline: Instant,
    ) -> Result<Reply, SnmpError> {
        let encoded = oids
            .iter()
            .map(|o| encode(o))
            .collect::<Result<Vec<_>, _>>()?;
        let addr = self.resolve().await?;
        let is_v3 = self.snmp.version == SnmpVersion::V3;
        let mut failures = 0u32;
        let mut rediscovered = false;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(SnmpError::Timeout {
                    after_ms: millis(started.elapsed()),
                });
            }
            if is_v3
                && self
                    .last_exchange
                    .is_some_and(|t| now.duration_since(t) > V3_REDISCOVER_AFTER)
            {
                self.session = None;
            }
            let per_try = self.snmp.request_timeout.min(deadline - now);
            let req_id = self.next_req_id;
            let snmp = &self.snmp;
            let slot = &mut self.session;
            let opened = &mut self.sessions_opened;
            self.requests_sent += 1;
            let attempt = timeout(per_try, async {
                if slot.is_none() {
                    *slot = Some(Box::new(open_session(addr, snmp, req_id, true).await?));
                    *opened += 1;
                }
                match slot.as_mut() {
                    Some(session) => Ok(send(session, kind, &encoded).await?),
                    None => Err(Wire::Open("session vanished".into())),
                }
            })
            .await;
            // Later sessions start far from this one's ids.
            self.next_req_id = self.next_req_id.wrapping_add(1 << 12);
            let wire = match attempt {
                Ok(Ok(Ok(reply))) => {
                    self.last_exchange = Some(Instant::now());
                    return Ok(reply);
                }
                Ok(Ok(Err(bad))) => {
                    return Err(SnmpError::Malformed(format!("from {addr}: {bad}")));
                }
                Ok(Err(wire)) => wire,
                Err(_) => {
                    // With a session open the engine answered discovery: for authPriv, net-snmp
                    // drops what it cannot decrypt without a Report.
                    let answered_discovery = is_v3 && self.session.is_some();
                    self.session = None;
                    failures += 1;
                    if failures > self.snmp.retries {
                        let has_privacy =
                            self.snmp.v3.as_ref().is_some_and(|v| v.privacy.is_some());
                        if answered_discovery
                            && has_privacy
                            && self.auth_works_without_privacy(addr, deadline).await == Some(true)
                        {
                            return Err(SnmpError::Auth(SnmpAuthError::Decryption));
                        }
                        return Err(SnmpError::Timeout {
                            after_ms: millis(started.elapsed()),
                        });
                    }
                    continue;
                }
            };
            match wire {
                Wire::Open(msg) => {
                    self.session = None;
                    return Err(SnmpError::Unreachable(msg));
                }
                Wire::Snmp(snmp2::Error::RequestIdMismatch) => {
                    self.session = None;
                    failures += 1;
                    if failures > self.snmp.retries {
                        return Err(SnmpError::Malformed(format!(
                            "{addr} kept answering other requests (request id mismatch) after \
                             {failures} tries"
                        )));
                    }
                }
                Wire::Snmp(snmp2::Error::Receive) => {
                    self.session = None;
                    return Err(SnmpError::Unreachable(format!(
                        "{addr} refused the datagram (ICMP port unreachable): no SNMP agent \
                         listens on that UDP port"
                    )));
                }
                Wire::Snmp(snmp2::Error::Send) => {
                    self.session = None;
                    return Err(SnmpError::Unreachable(format!("cannot send to {addr}")));
                }
                Wire::Snmp(snmp2::Error::AuthUpdated) => {
                    // The agent rebooted (engine boots grew); snmp2 took the new clock: ask again.
                    failures += 1;
                    if failures > self.snmp.retries {
                        return Err(SnmpError::Auth(SnmpAuthError::NotInTimeWindow));
                    }
                }
                Wire::Snmp(snmp2::Error::AuthFailure(kind)) => {
                    use v3::AuthErrorKind as K;
                    self.session = None;
                    match kind {
                        // An authenticated Report (notInTimeWindow is the only USM one) reads as
                        // a clock mismatch, or as "not encrypted" on an authPriv session.
                        K::EngineTimeMismatch | K::EngineBootsMismatch | K::ReplyNotEncrypted => {
                            if rediscovered {
                                return Err(SnmpError::Auth(SnmpAuthError::NotInTimeWindow));
                            }
                            rediscovered = true;
                        }
                        K::NotAuthenticated => return Err(self.diagnose(addr, deadline).await),
                        K::PrivLengthMismatch | K::PayloadLengthMismatch => {
                            return Err(SnmpError::Malformed(format!(
                                "from {addr}: encrypted reply does not decode ({kind})"
                            )));
                        }
                        other => {
                            return Err(SnmpError::Auth(SnmpAuthError::Other(format!(
                                "{other} (from {addr})"
                            ))));
                        }
                    }
                }
                Wire::Snmp(snmp2::Error::AsnWrongType) if is_v3 => {
                    // A v3 Report where a Response was expected: find out which one.
                    self.session = None;
                    return Err(self.diagnose(addr, deadline).await);
                }
                Wire::Snmp(e) => {
                    return Err(SnmpError::Malformed(format!("from {addr}: {e}")));
                }
            }
        }
    }

    /// Name a v3 failure that snmp2 reports only as "not authenticated".
    async fn diagnose(&mut self, addr: SocketAddr, deadline: Instant) -> SnmpError {
        let Some(cfg) = self.snmp.v3.clone() else {
            return SnmpError::Auth(SnmpAuthError::Other("no SNMPv3 user configured".into()));
        };
        let wait = self
            .snmp
            .request_timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        let verdict = usm::probe(addr, cfg.user.as_bytes(), cfg.context.as_bytes(), wait).await;
        match &verdict {
            Ok(usm::Verdict::Report(oid)) => {
                let oid = oid.as_slice();
                if oid == usm::USM_STATS_UNKNOWN_USER_NAMES {
                    return SnmpError::Auth(SnmpAuthError::UnknownUser);
                }
                if cfg.auth.is_none() {
                    return SnmpError::Auth(if oid == usm::USM_STATS_UNSUPPORTED_SEC_LEVELS {
                        SnmpAuthError::UnsupportedSecurityLevel
                    } else if oid == usm::SNMP_UNKNOWN_CONTEXTS {
                        SnmpAuthError::Other(format!("unknown context name {:?}", cfg.context))
                    } else if oid == usm::USM_STATS_NOT_IN_TIME_WINDOWS {
                        SnmpAuthError::NotInTimeWindow
                    } else {
                        SnmpAuthError::Other(format!("agent reported {}", dotted(oid)))
                    });
                }
            }
            Ok(usm::Verdict::Response) => {}
            Err(e) => {
                return SnmpError::Auth(SnmpAuthError::Other(format!(
                    "authentication failed, and the diagnosis probe could not tell why: {e}"
                )));
            }
        }
        if cfg.auth.is_none() {
            return SnmpError::Auth(SnmpAuthError::Other(
                "agent refused the noAuthNoPriv request".into(),
            ));
        }
        if cfg.privacy.is_none() {
            return SnmpError::Auth(SnmpAuthError::WrongDigest);
        }
        // The user exists: if the same auth password works without privacy, the privacy
        // password is what the agent could not decrypt with.
        match self.auth_works_without_privacy(addr, deadline).await {
            Some(true) => SnmpError::Auth(SnmpAuthError::Decryption),
            Some(false) => SnmpError::Auth(SnmpAuthError::WrongDigest),
            None => SnmpError::Auth(SnmpAuthError::Other(
                "authentication failed: wrong auth or privacy password".into(),
            )),
        }
    }

    /// Ask once at authNoPriv with the configured auth password: `Some(true)` when the agent
    /// accepts it, `Some(false)` when it reports a wrong digest, `None` when it cannot tell.
    async fn auth_works_without_privacy(
        &mut self,
        addr: SocketAddr,
        deadline: Instant,
    ) -> Option<bool> {
        let wait = self
            .snmp
            .request_timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        let req_id = self.next_req_id;
        self.next_req_id = self.next_req_id.wrapping_add(1 << 12);
        let snmp = self.snmp.clone();
        let check = timeout(wait, async {
            let mut session = open_session(addr, &snmp, req_id, false).await?;
            let oid = encode(plan::SYS_UPTIME).map_err(|e| Wire::Open(e.to_string()))?;
            let ok = session.get(&oid).await.map(|_| ());
            ok.map_err(Wire::Snmp)
        })
        .await;
        match check {
            Ok(Err(Wire::Snmp(snmp2::Error::AuthFailure(v3::AuthErrorKind::NotAuthenticated)))) => {
                Some(false)
            }
            // A Report here is an access-control refusal of the lower level: the password
            // itself was accepted.
            Ok(Ok(())) | Ok(Err(Wire::Snmp(snmp2::Error::AsnWrongType))) => Some(true),
            _ => None,
        }
    }

    /// Scalars by GET, `repetitions` OIDs per request; v1's noSuchName drops the named OID
    /// (recorded as noSuchObject) and asks again for the rest.
    async fn get_scalars(
        &mut self,
        oids: &[Vec<u32>],
        out: &mut Vec<Varbind>,
        started: Instant,
        deadline: Instant,
    ) -> Result<(), SnmpError> {
        let batch = usize::try_from(self.repetitions).unwrap_or(1).max(1);
        let mut queue: VecDeque<Vec<Vec<u32>>> = oids.chunks(batch).map(<[_]>::to_vec).collect();
        while let Some(mut pending) = queue.pop_front() {
            if pending.is_empty() {
                continue;
            }
            let reply = self
                .exchange(Kind::Get, &pending, started, deadline)
                .await?;
            match reply.error_status {
                0 => {
                    if reply.varbinds.len() != pending.len() {
                        return Err(SnmpError::Malformed(format!(
                            "asked for {} objects, got {} varbinds (a value that does not \
                             decode cuts the list short)",
                            pending.len(),
                            reply.varbinds.len()
                        )));
                    }
                    for (asked, got) in pending.iter().zip(&reply.varbinds) {
                        if *asked != got.oid {
                            return Err(SnmpError::Malformed(format!(
                                "asked for {}, the reply names {}",
                                dotted(asked),
                                dotted(&got.oid)
                            )));
                        }
                    }
                    self.push_all(out, reply.varbinds)?;
                }
                ERR_NO_SUCH_NAME if self.snmp.version == SnmpVersion::V1 => {
                    let index = usize::try_from(reply.error_index).unwrap_or(0);
                    if index == 0 || index > pending.len() {
                        return Err(SnmpError::ErrorStatus {
                            status: error_status_name(reply.error_status),
                            index: reply.error_index,
                        });
                    }
                    let missing = pending.remove(index - 1);
                    self.push_all(
                        out,
                        vec![Varbind {
                            oid: missing,
                            value: SnmpValue::NoSuchObject,
                        }],
                    )?;
                    queue.push_front(pending);
                }
                ERR_TOO_BIG if pending.len() > 1 => {
                    let back = pending.split_off(pending.len() / 2);
                    queue.push_front(back);
                    queue.push_front(pending);
                }
                status => {
                    return Err(SnmpError::ErrorStatus {
                        status: error_status_name(status),
                        index: reply.error_index,
                    });
                }
            }
        }
        Ok(())
    }

    fn push_all(&self, out: &mut Vec<Varbind>, more: Vec<Varbind>) -> Result<(), SnmpError> {
        if out.len() + more.len() > MAX_VARBINDS_PER_POLL {
            return Err(SnmpError::Other(format!(
                "{} returned more than {MAX_VARBINDS_PER_POLL} varbinds in one poll: refused",
                self.address
            )));
        }
        out.extend(more);
        Ok(())
    }

    /// Walk a group of subtrees: GETBULK over all unfinished columns at once (v2c/v3), or
    /// GETNEXT one column at a time (v1, where one error fails the whole PDU).
    async fn walk(
        &mut self,
        subtrees: &[Vec<u32>],
        out: &mut Vec<Varbind>,
        started: Instant,
        deadline: Instant,
    ) -> Result<(), SnmpError> {
        let mut columns: Vec<Column> = subtrees
            .iter()
            .map(|p| Column {
                prefix: p.clone(),
                last: p.clone(),
                done: false,
            })
            .collect();
        loop {
            let active: Vec<usize> = columns
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.done)
                .map(|(i, _)| i)
                .take(if self.snmp.version == SnmpVersion::V1 {
                    1
                } else {
                    self.columns_per_request.max(1)
                })
                .collect();
            if active.is_empty() {
                return Ok(());
            }
            let asked: Vec<Vec<u32>> = active
                .iter()
                .filter_map(|i| columns.get(*i).map(|c| c.last.clone()))
                .collect();
            let (kind, reps) = match self.snmp.version {
                SnmpVersion::V1 => (Kind::GetNext, 1),
                _ => {
                    // Spread the repetition budget over the columns: one request then fetches
                    // about `repetitions` rows' worth of cells whatever the table's width.
                    let per = (self.repetitions as usize).div_ceil(asked.len()).max(1);
                    let reps = u32::try_from(per).unwrap_or(1);
                    (Kind::Bulk(reps), reps)
                }
            };
            let reply = self.exchange(kind, &asked, started, deadline).await?;
            match reply.error_status {
                0 => {}
                ERR_NO_SUCH_NAME if self.snmp.version == SnmpVersion::V1 => {
                    // v1's end of the MIB view.
                    for i in &active {
                        if let Some(c) = columns.get_mut(*i) {
                            c.done = true;
                        }
                    }
                    continue;
                }
                ERR_TOO_BIG if self.repetitions > 1 || asked.len() > 1 => {
                    if self.repetitions > 1 {
                        self.repetitions /= 2;
                    } else {
                        self.columns_per_request = (asked.len() / 2).max(1);
                    }
                    continue;
                }
                status => {
                    return Err(SnmpError::ErrorStatus {
                        status: error_status_name(status),
                        index: reply.error_index,
                    });
                }
            }
            let n = asked.len();
            let limit = n.saturating_mul(usize::try_from(reps).unwrap_or(1));
            if reply.varbinds.is_empty() || reply.varbinds.len() > limit {
                return Err(SnmpError::Malformed(format!(
                    "asked for up to {limit} varbinds ({n} columns), got {} (a value that does \
                     not decode cuts the list short)",
                    reply.varbinds.len()
                )));
            }
            if kind_is_exact(kind) && reply.varbinds.len() != n {
                return Err(SnmpError::Malformed(format!(
                    "GETNEXT of {n} objects returned {} varbinds",
                    reply.varbinds.len()
                )));
            }
            let mut kept = Vec::new();
            for (i, vb) in reply.varbinds.into_iter().enumerate() {
                let Some(col) = active.get(i % n).and_then(|c| columns.get_mut(*c)) else {
                    continue;
                };
                if col.done {
                    continue;
                }
                if vb.value == SnmpValue::EndOfMibView || !vb.oid.starts_with(&col.prefix) {
                    col.done = true;
                    continue;
                }
                if vb.oid <= col.last {
                    return Err(SnmpError::NonIncreasing {
                        oid: format!("{} (after {})", dotted(&vb.oid), dotted(&col.last)),
                    });
                }
                col.last.clone_from(&vb.oid);
                kept.push(vb);
            }
            self.push_all(out, kept)?;
        }
    }
}

fn kind_is_exact(kind: Kind) -> bool {
    matches!(kind, Kind::Get | Kind::GetNext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_default_to_port_161() {
        let table = [
            ("127.0.0.1:1161", ("127.0.0.1", 1161)),
            ("127.0.0.1", ("127.0.0.1", 161)),
            ("[::1]:162", ("::1", 162)),
            ("::1", ("::1", 161)),
            ("router.example:16100", ("router.example", 16100)),
            ("router.example", ("router.example", 161)),
            ("router.example:notaport", ("router.example:notaport", 161)),
        ];
        for (input, (host, port)) in table {
            assert_eq!(split_address(input), (host.to_string(), port), "{input}");
        }
    }

    #[test]
    fn error_status_names_follow_rfc3416() {
        assert_eq!(error_status_name(1), "tooBig");
        assert_eq!(error_status_name(2), "noSuchName");
        assert_eq!(error_status_name(5), "genErr");
        assert_eq!(error_status_name(16), "authorizationError");
        assert_eq!(error_status_name(99), "error-status 99");
    }

    #[test]
    fn unsendable_oids_are_named_errors() {
        for bad in [vec![], vec![1], vec![7, 1], vec![1, 40, 2]] {
            match encode(&bad) {
                Err(SnmpError::Other(msg)) => assert!(msg.contains("cannot be sent"), "{msg}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert!(encode(&[1, 3, 6, 1, 2, 1, 1, 3, 0]).is_ok());
    }
}
