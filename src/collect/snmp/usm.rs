//! SNMPv3 failure diagnosis: snmp2 turns every unauthenticated USM Report (wrong digest,
//! unknown user, decryption error) into one `NotAuthenticated` and drops the Report's OID, so
//! a hand-built noAuthNoPriv probe asks the agent again and reads the Report itself.
//! Owns only this probe's socket; never touches the poller's session.

use std::time::Duration;

use snmp2::{AsnReader, asn1};
use tokio::net::UdpSocket;
use tokio::time::timeout;

/// usmStats* and snmpUnknownContexts counters, as the agent names them in a Report.
pub const USM_STATS_UNSUPPORTED_SEC_LEVELS: &[u32] = &[1, 3, 6, 1, 6, 3, 15, 1, 1, 1, 0];
pub const USM_STATS_NOT_IN_TIME_WINDOWS: &[u32] = &[1, 3, 6, 1, 6, 3, 15, 1, 1, 2, 0];
pub const USM_STATS_UNKNOWN_USER_NAMES: &[u32] = &[1, 3, 6, 1, 6, 3, 15, 1, 1, 3, 0];
pub const USM_STATS_UNKNOWN_ENGINE_IDS: &[u32] = &[1, 3, 6, 1, 6, 3, 15, 1, 1, 4, 0];
pub const USM_STATS_WRONG_DIGESTS: &[u32] = &[1, 3, 6, 1, 6, 3, 15, 1, 1, 5, 0];
pub const USM_STATS_DECRYPTION_ERRORS: &[u32] = &[1, 3, 6, 1, 6, 3, 15, 1, 1, 6, 0];
pub const SNMP_UNKNOWN_CONTEXTS: &[u32] = &[1, 3, 6, 1, 6, 3, 12, 1, 5, 0];

const TAG_INTEGER: u8 = 0x02;
const TAG_OCTETS: u8 = 0x04;
const TAG_NULL: u8 = 0x05;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_GET: u8 = 0xa0;
const TAG_RESPONSE: u8 = 0xa2;
const TAG_REPORT: u8 = 0xa8;
/// msgFlags: reportable, no auth, no privacy.
const FLAGS_REPORTABLE: u8 = 0x04;

/// What the agent said to a noAuthNoPriv request from the configured user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A Report naming this counter.
    Report(Vec<u32>),
    /// A Response: the user exists and may read at noAuthNoPriv.
    Response,
}

/// BER tag-length-value; lengths in long form above 127 bytes.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

pub fn int(n: i64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    // Drop leading bytes that only repeat the sign, as BER's minimal encoding requires.
    let mut start = 0;
    while start < 7 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    tlv(TAG_INTEGER, &bytes[start..])
}

/// An OID's BER body; the first two arcs must already be valid (checked by the caller).
pub fn oid(arcs: &[u32]) -> Vec<u8> {
    let mut body = Vec::new();
    let (first, second) = match arcs {
        [a, b, ..] => (*a, *b),
        [a] => (*a, 0),
        [] => (0, 0),
    };
    let mut push_arc = |v: u64| {
        let mut chunks = vec![(v & 0x7f) as u8];
        let mut v = v >> 7;
        while v > 0 {
            chunks.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        body.extend(chunks.iter().rev());
    };
    push_arc(u64::from(first) * 40 + u64::from(second));
    for arc in arcs.iter().skip(2) {
        push_arc(u64::from(*arc));
    }
    tlv(TAG_OID, &body)
}

struct Usm<'a> {
    engine_id: &'a [u8],
    boots: i64,
    time: i64,
    user: &'a [u8],
    context: &'a [u8],
}

fn message(msg_id: i32, usm: &Usm<'_>, probe_oid: &[u32]) -> Vec<u8> {
    let global = tlv(
        TAG_SEQUENCE,
        &[
            int(i64::from(msg_id)),
            int(65507),
            tlv(TAG_OCTETS, &[FLAGS_REPORTABLE]),
            int(3),
        ]
        .concat(),
    );
    let params = tlv(
        TAG_SEQUENCE,
        &[
            tlv(TAG_OCTETS, usm.engine_id),
            int(usm.boots),
            int(usm.time),
            tlv(TAG_OCTETS, usm.user),
            tlv(TAG_OCTETS, &[]),
            tlv(TAG_OCTETS, &[]),
        ]
        .concat(),
    );
    let varbind = tlv(TAG_SEQUENCE, &[oid(probe_oid), tlv(TAG_NULL, &[])].concat());
    let pdu = tlv(
        TAG_GET,
        &[
            int(i64::from(msg_id)),
            int(0),
            int(0),
            tlv(TAG_SEQUENCE, &varbind),
        ]
        .concat(),
    );
    let scoped = tlv(
        TAG_SEQUENCE,
        &[
            tlv(TAG_OCTETS, usm.engine_id),
            tlv(TAG_OCTETS, usm.context),
            pdu,
        ]
        .concat(),
    );
    tlv(
        TAG_SEQUENCE,
        &[int(3), global, tlv(TAG_OCTETS, &params), scoped].concat(),
    )
}

/// The parts of a plaintext v3 reply the diagnosis needs.
#[derive(Debug)]
struct Parsed {
    engine_id: Vec<u8>,
    boots: i64,
    time: i64,
    verdict: Verdict,
}

fn bad(what: &'static str) -> impl Fn(snmp2::Error) -> String {
    move |e| format!("{what}: {e}")
}

fn parse(bytes: &[u8]) -> Result<Parsed, String> {
    let mut msg = AsnReader::from_bytes(
        AsnReader::from_bytes(bytes)
            .read_raw(asn1::TYPE_SEQUENCE)
            .map_err(bad("message"))?,
    );
    let version = msg.read_asn_integer().map_err(bad("version"))?;
    if version != 3 {
        return Err(format!("version {version}, expected 3"));
    }
    msg.read_raw(asn1::TYPE_SEQUENCE).map_err(bad("header"))?;
    let params = msg
        .read_asn_octetstring()
        .map_err(bad("security parameters"))?;
    let mut usm = AsnReader::from_bytes(
        AsnReader::from_bytes(params)
            .read_raw(asn1::TYPE_SEQUENCE)
            .map_err(bad("USM"))?,
    );
    let engine_id = usm
        .read_asn_octetstring()
        .map_err(bad("engine id"))?
        .to_vec();
    let boots = usm.read_asn_integer().map_err(bad("engine boots"))?;
    let time = usm.read_asn_integer().map_err(bad("engine time"))?;
    // Reports about USM failures travel in plaintext; an encrypted scoped PDU here means the
    // agent answered at a level this probe did not ask for.
    let mut scoped = AsnReader::from_bytes(
        msg.read_raw(asn1::TYPE_SEQUENCE)
            .map_err(bad("scoped PDU (encrypted?)"))?,
    );
    scoped
        .read_asn_octetstring()
        .map_err(bad("context engine"))?;
    scoped.read_asn_octetstring().map_err(bad("context name"))?;
    let tag = scoped.peek_byte().map_err(bad("PDU"))?;
    let mut pdu = AsnReader::from_bytes(scoped.read_raw(tag).map_err(bad("PDU"))?);
    let verdict = match tag {
        TAG_RESPONSE => Verdict::Response,
        TAG_REPORT => {
            for what in ["request id", "error status", "error index"] {
                pdu.read_asn_integer().map_err(bad(what))?;
            }
            let mut list = AsnReader::from_bytes(
                pdu.read_raw(asn1::TYPE_SEQUENCE)
                    .map_err(bad("varbind list"))?,
            );
            let mut first = AsnReader::from_bytes(
                list.read_raw(asn1::TYPE_SEQUENCE)
                    .map_err(bad("report varbind"))?,
            );
            let name = first
                .read_asn_objectidentifier()
                .map_err(bad("report OID"))?;
            Verdict::Report(super::arcs(&name)?)
        }
        other => {
            return Err(format!(
                "PDU type {other:#04x}, expected a Response or Report"
            ));
        }
    };
    Ok(Parsed {
        engine_id,
        boots,
        time,
        verdict,
    })
}

async fn round_trip(
    socket: &UdpSocket,
    request: &[u8],
    wait: Duration,
    buf: &mut [u8],
) -> Result<Parsed, String> {
    socket
        .send(request)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let len = match timeout(wait, socket.recv(buf)).await {
        Ok(Ok(len)) => len,
        Ok(Err(e)) => return Err(format!("receive: {e}")),
        Err(_) => return Err("no answer to the diagnosis probe".into()),
    };
    parse(buf.get(..len).unwrap_or_default())
}

/// Discover the engine, then send one noAuthNoPriv GET as `user` in `context`.
pub async fn probe(
    addr: std::net::SocketAddr,
    user: &[u8],
    context: &[u8],
    wait: Duration,
) -> Result<Verdict, String> {
    let bind: std::net::SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let socket = UdpSocket::bind(bind)
        .await
        .map_err(|e| format!("bind: {e}"))?;
    socket
        .connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let mut buf = vec![0u8; 65_535];
    let discovery = Usm {
        engine_id: &[],
        boots: 0,
        time: 0,
        user: &[],
        context: &[],
    };
    let engine = round_trip(
        &socket,
        &message(0x4e53_0001, &discovery, super::plan::SYS_UPTIME),
        wait,
        &mut buf,
    )
    .await?;
    if engine.engine_id.is_empty() {
        return Err("agent reported no engine id".into());
    }
    let asked = Usm {
        engine_id: &engine.engine_id,
        boots: engine.boots,
        time: engine.time,
        user,
        context,
    };
    let reply = round_trip(
        &socket,
        &message(0x4e53_0002, &asked, super::plan::SYS_UPTIME),
        wait,
        &mut buf,
    )
    .await?;
    Ok(reply.verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_use_minimal_twos_complement() {
        let table: &[(i64, &[u8])] = &[
            (0, &[2, 1, 0]),
            (127, &[2, 1, 0x7f]),
            (128, &[2, 2, 0, 0x80]),
            (-1, &[2, 1, 0xff]),
            (-129, &[2, 2, 0xff, 0x7f]),
            (65507, &[2, 3, 0, 0xff, 0xe3]),
        ];
        for (n, want) in table {
            assert_eq!(int(*n), *want, "{n}");
        }
    }

    #[test]
    fn oids_and_long_lengths_encode_as_net_snmp_does() {
        assert_eq!(
            oid(&[1, 3, 6, 1, 4, 1, 2021]),
            [6, 7, 0x2b, 6, 1, 4, 1, 0x8f, 0x65]
        );
        let long = tlv(4, &[0u8; 300]);
        assert_eq!(long.get(..4), Some(&[4u8, 0x82, 1, 0x2c][..]));
    }

    #[test]
    fn a_report_round_trips_through_the_parser() {
        let usm = Usm {
            engine_id: b"\x80\x00\x1f\x88\x80",
            boots: 3,
            time: 1234,
            user: b"u",
            context: b"",
        };
        let mut bytes = message(7, &usm, USM_STATS_UNKNOWN_USER_NAMES);
        // Turn the GET into a Report: the same shape the agent sends back.
        if let Some(pos) = bytes.iter().rposition(|b| *b == TAG_GET) {
            bytes[pos] = TAG_REPORT;
        }
        let parsed = parse(&bytes);
        let parsed = match parsed {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(parsed.engine_id, usm.engine_id);
        assert_eq!((parsed.boots, parsed.time), (3, 1234));
        assert_eq!(
            parsed.verdict,
            Verdict::Report(USM_STATS_UNKNOWN_USER_NAMES.to_vec())
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [&[][..], &[0x30], &[0x30, 0x05, 2, 1, 3], &[0xff; 40]] {
            assert!(parse(bytes).is_err());
        }
    }
}
