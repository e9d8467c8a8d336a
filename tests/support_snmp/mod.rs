//! Test helper for the SNMP collector: starts Debian's net-snmp `snmpd` on a free loopback
//! UDP port with a generated config (v1/v2c community, v3 users at every security level), and
//! a crafted-reply UDP responder with a hand-written BER codec. Owns only its child processes,
//! sockets and temp dirs.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nocscope::config::{
    CustomOid, CustomOidKind, Secret, SnmpAuthProtocol, SnmpPrivProtocol, SnmpProfile, SnmpTarget,
    SnmpV3, SnmpVersion, Target, TargetKind,
};
use nocscope::model::TargetId;

pub const SNMPD: &str = "/usr/sbin/snmpd";
pub const COMMUNITY: &str = "public";
pub const AUTH_PASS: &str = "authpass-123";
pub const PRIV_PASS: &str = "privpass-456";

/// v3 users the agent knows: (name, auth, privacy).
pub const USERS: &[(&str, Option<SnmpAuthProtocol>, Option<SnmpPrivProtocol>)] = &[
    ("noauth", None, None),
    ("authsha", Some(SnmpAuthProtocol::Sha1), None),
    ("authmd5", Some(SnmpAuthProtocol::Md5), None),
    (
        "privsha",
        Some(SnmpAuthProtocol::Sha1),
        Some(SnmpPrivProtocol::Aes128),
    ),
    (
        "privmd5",
        Some(SnmpAuthProtocol::Md5),
        Some(SnmpPrivProtocol::Des),
    ),
    (
        "privsha256",
        Some(SnmpAuthProtocol::Sha256),
        Some(SnmpPrivProtocol::Aes128),
    ),
];

fn auth_name(p: SnmpAuthProtocol) -> &'static str {
    match p {
        SnmpAuthProtocol::Md5 => "MD5",
        SnmpAuthProtocol::Sha1 => "SHA",
        SnmpAuthProtocol::Sha224 => "SHA-224",
        SnmpAuthProtocol::Sha256 => "SHA-256",
        SnmpAuthProtocol::Sha384 => "SHA-384",
        SnmpAuthProtocol::Sha512 => "SHA-512",
    }
}

fn priv_name(p: SnmpPrivProtocol) -> &'static str {
    match p {
        SnmpPrivProtocol::Des => "DES",
        SnmpPrivProtocol::Aes128 => "AES",
        SnmpPrivProtocol::Aes192 => "AES-192",
        SnmpPrivProtocol::Aes256 => "AES-256",
    }
}

/// A running snmpd; killed (and reaped) on drop.
pub struct Snmpd {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

fn free_udp_port() -> u16 {
    match UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()) {
        Ok(a) => a.port(),
        Err(e) => panic!("no free loopback UDP port: {e}"),
    }
}

impl Snmpd {
    pub fn start() -> Snmpd {
        if !std::path::Path::new(SNMPD).exists() {
            panic!(
                "{SNMPD} is missing: install the Debian package `snmpd` (apt-get install snmpd snmp)"
            );
        }
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("tempdir: {e}"),
        };
        let port = free_udp_port();
        let mut conf = format!(
            "agentaddress udp:127.0.0.1:{port}\n\
             rocommunity {COMMUNITY} 127.0.0.1\n\
             disk / 1000\n\
             load 100 100 100\n"
        );
        for (user, auth, privacy) in USERS {
            let level = match (auth, privacy) {
                (None, _) => "noauth",
                (Some(_), None) => "auth",
                (Some(_), Some(_)) => "priv",
            };
            let mut create = format!("createUser {user}");
            if let Some(a) = auth {
                create.push_str(&format!(" {} \"{AUTH_PASS}\"", auth_name(*a)));
            }
            if let Some(p) = privacy {
                create.push_str(&format!(" {} \"{PRIV_PASS}\"", priv_name(*p)));
            }
            conf.push_str(&format!("{create}\nrouser {user} {level}\n"));
        }
        let conf_path = dir.path().join("snmpd.conf");
        if let Err(e) = std::fs::write(&conf_path, conf) {
            panic!("write {}: {e}", conf_path.display());
        }
        let log = match std::fs::File::create(dir.path().join("snmpd.log")) {
            Ok(f) => f,
            Err(e) => panic!("log file: {e}"),
        };
        let child = Command::new(SNMPD)
            .args(["-f", "-Lo", "-C", "-c"])
            .arg(&conf_path)
            // Keep engine ids and users out of /var/lib/snmp.
            .env("SNMP_PERSISTENT_DIR", dir.path())
            .env("MIBS", "")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => panic!("cannot start {SNMPD} (package snmpd): {e}"),
        };
        let mut agent = Snmpd { child, port, dir };
        agent.wait_ready();
        agent
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("snmpd.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let sock = match UdpSocket::bind("127.0.0.1:0") {
            Ok(s) => s,
            Err(e) => panic!("bind: {e}"),
        };
        let _ = sock.set_read_timeout(Some(Duration::from_millis(100)));
        let request = v2c_get(COMMUNITY, 1, &[SYS_UPTIME.to_vec()]);
        let until = Instant::now() + Duration::from_secs(15);
        let mut buf = [0u8; 2048];
        while Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("snmpd exited with {status}: {}", self.log());
            }
            let _ = sock.send_to(&request, ("127.0.0.1", self.port));
            if sock.recv_from(&mut buf).is_ok() {
                return;
            }
        }
        panic!(
            "snmpd did not answer on port {} within 15 s: {}",
            self.port,
            self.log()
        );
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status();
        assert!(
            matches!(status, Ok(s) if s.success()),
            "kill {sig}: {status:?}"
        );
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time (user + system) the agent has used so far, from /proc.
    pub fn cpu_seconds(&self) -> Option<f64> {
        proc_cpu_seconds(&format!("/proc/{}/stat", self.child.id()))
    }

    /// SIGKILL for agents that live in a `static` (never dropped).
    pub fn kill_now(&self) {
        self.signal("-CONT");
        self.signal("-KILL");
    }

    /// Freeze the agent (SIGSTOP): requests queue up unanswered.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    pub fn resume(&self) {
        self.signal("-CONT");
    }
}

impl Drop for Snmpd {
    fn drop(&mut self) {
        // A stopped process must be continued to die of SIGKILL promptly on every kernel.
        let _ = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime of a /proc/*/stat file, in seconds (USER_HZ is 100 on Linux).
pub fn proc_cpu_seconds(path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

pub const SYS_UPTIME: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 3, 0];
pub const SYS_NAME: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 5, 0];

pub fn target(
    address: &str,
    version: SnmpVersion,
    profiles: Vec<SnmpProfile>,
) -> (Target, SnmpTarget) {
    let snmp = SnmpTarget {
        address: address.to_string(),
        version,
        community: Some(Secret::new(COMMUNITY.to_string())),
        v3: None,
        profiles,
        custom: Vec::new(),
        max_repetitions: 25,
        request_timeout: Duration::from_millis(400),
        retries: 1,
    };
    let target = Target {
        id: TargetId(7),
        name: "snmp-test".into(),
        host: "snmp-test".into(),
        interval: Duration::from_secs(10),
        timeout: Duration::from_secs(3),
        labels: BTreeMap::new(),
        kind: TargetKind::Snmp(snmp.clone()),
    };
    (target, snmp)
}

pub fn v3_user(name: &str, auth_pass: &str, priv_pass: &str) -> SnmpV3 {
    let (auth, privacy) = USERS
        .iter()
        .find(|(u, _, _)| *u == name)
        .map(|(_, a, p)| (*a, *p))
        .unwrap_or((Some(SnmpAuthProtocol::Sha1), Some(SnmpPrivProtocol::Aes128)));
    SnmpV3 {
        user: name.to_string(),
        auth: auth.map(|a| (a, Secret::new(auth_pass.to_string()))),
        privacy: privacy.map(|p| (p, Secret::new(priv_pass.to_string()))),
        context: String::new(),
    }
}

pub fn custom(name: &str, oid: &[u32], walk: bool) -> CustomOid {
    CustomOid {
        name: name.to_string(),
        oid: oid.to_vec(),
        kind: CustomOidKind::Gauge,
        walk,
        index_labels: Vec::new(),
        lookup: Vec::new(),
    }
}

/// Run `snmpwalk`/`snmpget` (package snmp) with numeric output; lines `OID = value` → OIDs.
pub fn cli_oids(tool: &str, args: &[&str]) -> Vec<Vec<u32>> {
    let out = Command::new(tool)
        .args(["-On", "-Oe", "-Oq", "-t", "1", "-r", "2"])
        .args(args)
        .env("MIBS", "")
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => panic!("{tool} (package snmp) did not run: {e}"),
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|o| o.starts_with('.'))
        .map(|o| {
            o.trim_start_matches('.')
                .split('.')
                .filter_map(|a| a.parse().ok())
                .collect()
        })
        .collect()
}

// ---- hand-written BER, for the crafted responder ----

pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}

pub fn int(n: i64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let mut start = 0;
    while start < 7
        && ((bytes[start] == 0 && bytes[start + 1] & 0x80 == 0)
            || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0))
    {
        start += 1;
    }
    tlv(0x02, &bytes[start..])
}

pub fn uint(tag: u8, n: u64) -> Vec<u8> {
    let mut bytes = n.to_be_bytes().to_vec();
    while bytes.len() > 1 && bytes[0] == 0 {
        bytes.remove(0);
    }
    if bytes[0] & 0x80 != 0 {
        bytes.insert(0, 0);
    }
    tlv(tag, &bytes)
}

pub fn oid(arcs: &[u32]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut push = |v: u64| {
        let mut chunks = vec![(v & 0x7f) as u8];
        let mut v = v >> 7;
        while v > 0 {
            chunks.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        body.extend(chunks.iter().rev());
    };
    push(u64::from(arcs[0]) * 40 + u64::from(arcs[1]));
    for a in &arcs[2..] {
        push(u64::from(*a));
    }
    tlv(0x06, &body)
}

pub fn varbind(name: &[u32], value: Vec<u8>) -> Vec<u8> {
    tlv(0x30, &[oid(name), value].concat())
}

pub fn timeticks(n: u32) -> Vec<u8> {
    uint(0x43, u64::from(n))
}

pub fn end_of_mib() -> Vec<u8> {
    vec![0x82, 0]
}

/// A v1/v2c message: `pdu_tag` 0xa0 GET, 0xa1 GETNEXT, 0xa2 Response, 0xa5 GETBULK.
pub fn message(
    version: i64,
    community: &str,
    pdu_tag: u8,
    req_id: i64,
    status: i64,
    index: i64,
    varbinds: &[Vec<u8>],
) -> Vec<u8> {
    let pdu = tlv(
        pdu_tag,
        &[
            int(req_id),
            int(status),
            int(index),
            tlv(0x30, &varbinds.concat()),
        ]
        .concat(),
    );
    tlv(
        0x30,
        &[int(version), tlv(0x04, community.as_bytes()), pdu].concat(),
    )
}

pub fn v2c_get(community: &str, req_id: i64, oids: &[Vec<u32>]) -> Vec<u8> {
    let vbs: Vec<Vec<u8>> = oids.iter().map(|o| varbind(o, vec![0x05, 0])).collect();
    message(1, community, 0xa0, req_id, 0, 0, &vbs)
}

/// One decoded request.
#[derive(Clone, Debug)]
pub struct Request {
    pub version: i64,
    pub community: Vec<u8>,
    pub pdu_tag: u8,
    pub req_id: i64,
    /// GETBULK: non-repeaters / max-repetitions sit where error status / index are.
    pub second: i64,
    pub third: i64,
    pub oids: Vec<Vec<u32>>,
}

fn read_tlv(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *buf.first()?;
    let first = *buf.get(1)?;
    let (len, head) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        let mut len = 0usize;
        for b in buf.get(2..2 + n)? {
            len = (len << 8) | *b as usize;
        }
        (len, 2 + n)
    };
    let body = buf.get(head..head + len)?;
    Some((tag, body, buf.get(head + len..)?))
}

fn read_int(buf: &[u8]) -> Option<(i64, &[u8])> {
    let (tag, body, rest) = read_tlv(buf)?;
    if tag != 0x02 || body.is_empty() || body.len() > 8 {
        return None;
    }
    let mut n: i64 = if body[0] & 0x80 != 0 { -1 } else { 0 };
    for b in body {
        n = (n << 8) | i64::from(*b);
    }
    Some((n, rest))
}

pub fn parse_request(buf: &[u8]) -> Option<Request> {
    let (_, msg, _) = read_tlv(buf)?;
    let (version, rest) = read_int(msg)?;
    let (_, community, rest) = read_tlv(rest)?;
    let (pdu_tag, pdu, _) = read_tlv(rest)?;
    let (req_id, rest) = read_int(pdu)?;
    let (second, rest) = read_int(rest)?;
    let (third, rest) = read_int(rest)?;
    let (_, mut list, _) = read_tlv(rest)?;
    let mut oids = Vec::new();
    while !list.is_empty() {
        let (_, vb, more) = read_tlv(list)?;
        let (tag, name, _) = read_tlv(vb)?;
        if tag != 0x06 {
            return None;
        }
        oids.push(decode_oid(name));
        list = more;
    }
    Some(Request {
        version,
        community: community.to_vec(),
        pdu_tag,
        req_id,
        second,
        third,
        oids,
    })
}

fn decode_oid(body: &[u8]) -> Vec<u32> {
    let mut arcs = Vec::new();
    let mut v: u32 = 0;
    let mut first = true;
    for b in body {
        v = (v << 7) | u32::from(b & 0x7f);
        if b & 0x80 == 0 {
            if first {
                arcs.push(v / 40);
                arcs.push(v % 40);
                first = false;
            } else {
                arcs.push(v);
            }
            v = 0;
        }
    }
    arcs
}

/// A loopback UDP agent that answers each request with whatever `script` returns (`None`:
/// stay silent). Runs on its own thread until dropped.
pub struct Responder {
    pub port: u16,
    pub received: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Responder {
    pub fn start<F>(script: F) -> Responder
    where
        F: Fn(usize, &Request) -> Option<Vec<u8>> + Send + 'static,
    {
        let sock = match UdpSocket::bind("127.0.0.1:0") {
            Ok(s) => s,
            Err(e) => panic!("bind: {e}"),
        };
        let port = match sock.local_addr() {
            Ok(a) => a.port(),
            Err(e) => panic!("local_addr: {e}"),
        };
        let _ = sock.set_read_timeout(Some(Duration::from_millis(20)));
        let received = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (received.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 65_535];
            while !s.load(Ordering::Relaxed) {
                let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let count = r.fetch_add(1, Ordering::SeqCst);
                if let Some(req) = parse_request(&buf[..n])
                    && let Some(reply) = script(count, &req)
                {
                    let _ = sock.send_to(&reply, peer);
                }
            }
        });
        Responder {
            port,
            received,
            stop,
            thread: Some(thread),
        }
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
