//! Folds network check results (ICMP, TCP, HTTP) into per-target vitals and series, with the
//! series named as blackbox_exporter names them. Pure: time comes in as an argument.

use crate::model::{
    HttpProbe, HttpStatus, IcmpOutcome, IcmpProbe, Millis, PortStatus, TcpOutcome, TcpProbe, Vitals,
};

/// What one probe observation says about its target.
#[derive(Debug, Default, PartialEq)]
pub struct ProbeResult {
    /// The probe could run (a closed port or a 503 is a result, not a collection failure).
    pub up: bool,
    pub error: Option<String>,
    pub vitals: Vitals,
    /// (canonical series key, value)
    pub series: Vec<(String, f64)>,
}

const MS_PER_DAY: f64 = 86_400_000.0;

pub fn icmp(p: &IcmpProbe) -> ProbeResult {
    match &p.outcome {
        IcmpOutcome::Failed(e) => ProbeResult {
            up: false,
            error: Some(e.to_string()),
            ..ProbeResult::default()
        },
        IcmpOutcome::Replies { rtt_ms } => {
            let sent = rtt_ms.len();
            let answered: Vec<f64> = rtt_ms
                .iter()
                .flatten()
                .copied()
                .filter(|r| r.is_finite() && *r >= 0.0)
                .collect();
            let loss = (sent > 0).then(|| (sent - answered.len()) as f64 / sent as f64 * 100.0);
            let avg = (!answered.is_empty())
                .then(|| answered.iter().sum::<f64>() / answered.len() as f64);
            let mut series = vec![
                (
                    "probe_success".to_string(),
                    if answered.is_empty() { 0.0 } else { 1.0 },
                ),
                ("probe_icmp_sent".to_string(), sent as f64),
                ("probe_icmp_received".to_string(), answered.len() as f64),
            ];
            if let Some(avg) = avg {
                let min = answered.iter().copied().fold(f64::INFINITY, f64::min);
                let max = answered.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                for (stat, v) in [("min", min), ("avg", avg), ("max", max)] {
                    series.push((
                        format!("probe_icmp_rtt_seconds{{stat=\"{stat}\"}}"),
                        v / 1000.0,
                    ));
                }
            }
            ProbeResult {
                up: true,
                error: None,
                vitals: Vitals {
                    ping_rtt_ms: avg,
                    ping_loss_pct: loss,
                    ..Vitals::default()
                },
                series,
            }
        }
    }
}

pub fn tcp(target: &str, p: &TcpProbe) -> ProbeResult {
    let mut series = Vec::new();
    let mut ports = Vec::new();
    for r in &p.ports {
        let (state, ms) = match &r.outcome {
            TcpOutcome::Open { connect_ms } => ("open".to_string(), Some(*connect_ms)),
            TcpOutcome::Refused => ("refused".to_string(), None),
            TcpOutcome::Timeout { .. } => ("timeout".to_string(), None),
            TcpOutcome::Error(e) => (e.clone(), None),
        };
        series.push((
            format!("probe_tcp_up{{port=\"{}\"}}", r.port),
            if ms.is_some() { 1.0 } else { 0.0 },
        ));
        if let Some(ms) = ms {
            series.push((
                format!("probe_tcp_connect_seconds{{port=\"{}\"}}", r.port),
                ms / 1000.0,
            ));
        }
        ports.push(PortStatus {
            target: target.to_string(),
            port: r.port,
            state,
            connect_ms: ms,
        });
    }
    ProbeResult {
        up: true,
        error: None,
        vitals: Vitals {
            ports,
            ..Vitals::default()
        },
        series,
    }
}

/// Judge an HTTP probe against the expected status set. `at` is when it ran, for the days a
/// certificate has left.
pub fn http(target: &str, url: &str, expect: &[u16], p: &HttpProbe, at: Millis) -> ProbeResult {
    let status_ok = p.status.is_some_and(|s| expect.contains(&s));
    let reason = if let Some(e) = &p.error {
        e.to_string()
    } else if let Some(s) = p.status.filter(|_| !status_ok) {
        format!("status {s}, expected {}", format_status_set(expect))
    } else if p.status.is_none() {
        "no response".to_string()
    } else if p.body_match == Some(false) {
        "body did not match".to_string()
    } else {
        String::new()
    };
    let ok = reason.is_empty();
    let days_left = p
        .tls
        .as_ref()
        .map(|t| (t.not_after - at) as f64 / MS_PER_DAY);
    let mut series = vec![
        ("probe_success".to_string(), if ok { 1.0 } else { 0.0 }),
        // 0 means "no response", as blackbox_exporter reports it; never a real code.
        (
            "probe_http_status_code".to_string(),
            f64::from(p.status.unwrap_or(0)),
        ),
        ("probe_duration_seconds".to_string(), p.duration_ms / 1000.0),
        ("probe_http_redirects".to_string(), f64::from(p.redirects)),
        ("probe_http_content_length".to_string(), p.body_bytes as f64),
    ];
    let phases = [
        ("resolve", p.phases.dns_ms),
        ("connect", p.phases.connect_ms),
        ("tls", p.phases.tls_ms),
        ("processing", p.phases.first_byte_ms),
    ];
    for (phase, v) in phases {
        if let Some(v) = v {
            series.push((
                format!("probe_http_duration_seconds{{phase=\"{phase}\"}}"),
                v / 1000.0,
            ));
        }
    }
    if let Some(t) = &p.tls {
        series.push((
            "probe_ssl_earliest_cert_expiry".to_string(),
            t.not_after as f64 / 1000.0,
        ));
    }
    ProbeResult {
        up: true,
        error: None,
        vitals: Vitals {
            tls_days_left: days_left,
            http: vec![HttpStatus {
                target: target.to_string(),
                url: url.to_string(),
                status: p.status,
                ok,
                total_ms: p.phases.total_ms.or(Some(p.duration_ms)),
                reason,
            }],
            ..Vitals::default()
        },
        series,
    }
}

/// `[200, 201, 202]` → `200-202`; `[200, 204]` → `200, 204`.
fn format_status_set(set: &[u16]) -> String {
    let mut v = set.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let start = v[i];
        let mut end = start;
        while i + 1 < v.len() && v[i + 1] == end + 1 {
            i += 1;
            end = v[i];
        }
        parts.push(if end > start {
            format!("{start}-{end}")
        } else {
            start.to_string()
        });
        i += 1;
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HttpError, HttpPhases, IcmpError, TcpPortResult, TlsInfo};

    #[test]
    fn icmp_loss_and_rtt() {
        let p = IcmpProbe {
            address: "127.0.0.1".into(),
            outcome: IcmpOutcome::Replies {
                rtt_ms: vec![Some(1.0), None, Some(3.0), None],
            },
        };
        let r = icmp(&p);
        assert!(r.up);
        assert_eq!(r.vitals.ping_loss_pct, Some(50.0));
        assert_eq!(r.vitals.ping_rtt_ms, Some(2.0));
        let all_lost = IcmpProbe {
            address: "x".into(),
            outcome: IcmpOutcome::Replies {
                rtt_ms: vec![None; 3],
            },
        };
        let r = icmp(&all_lost);
        assert_eq!(r.vitals.ping_loss_pct, Some(100.0));
        assert_eq!(r.vitals.ping_rtt_ms, None);
    }

    #[test]
    fn icmp_permission_is_not_loss() {
        let p = IcmpProbe {
            address: "x".into(),
            outcome: IcmpOutcome::Failed(IcmpError::Permission {
                hint: "ping_group_range".into(),
            }),
        };
        let r = icmp(&p);
        assert!(!r.up);
        assert_eq!(r.vitals.ping_loss_pct, None);
        assert!(r.error.unwrap().contains("permission"));
    }

    #[test]
    fn tcp_ports() {
        let p = TcpProbe {
            address: "h".into(),
            ports: vec![
                TcpPortResult {
                    port: 22,
                    outcome: TcpOutcome::Open { connect_ms: 0.5 },
                },
                TcpPortResult {
                    port: 5432,
                    outcome: TcpOutcome::Refused,
                },
            ],
        };
        let r = tcp("db1-ports", &p);
        assert_eq!(r.vitals.ports.len(), 2);
        assert_eq!(r.vitals.ports[1].state, "refused");
        assert!(
            r.series
                .contains(&("probe_tcp_up{port=\"5432\"}".to_string(), 0.0))
        );
    }

    fn probe(status: Option<u16>) -> HttpProbe {
        HttpProbe {
            duration_ms: 12.0,
            status,
            redirects: 0,
            phases: HttpPhases::default(),
            body_bytes: 10,
            body_match: None,
            tls: None,
            error: None,
        }
    }

    #[test]
    fn http_judgement() {
        let r = http("shop", "u", &[200], &probe(Some(200)), 0);
        assert!(r.vitals.http[0].ok);
        let r = http("shop", "u", &[200, 201, 202, 204], &probe(Some(503)), 0);
        assert!(!r.vitals.http[0].ok);
        assert_eq!(r.vitals.http[0].reason, "status 503, expected 200-202, 204");
        let mut p = probe(Some(200));
        p.body_match = Some(false);
        assert_eq!(
            http("s", "u", &[200], &p, 0).vitals.http[0].reason,
            "body did not match"
        );
        let mut p = probe(None);
        p.error = Some(HttpError::Connect("refused".into()));
        let r = http("s", "u", &[200], &p, 0);
        assert!(!r.vitals.http[0].ok);
        assert!(
            r.series
                .contains(&("probe_http_status_code".to_string(), 0.0))
        );
    }

    #[test]
    fn certificate_days_are_kept_when_expired() {
        let mut p = probe(None);
        p.error = Some(HttpError::Certificate("expired".into()));
        p.tls = Some(TlsInfo {
            not_after: 1_000,
            verify_error: Some("expired".into()),
            version: None,
        });
        let r = http("s", "u", &[200], &p, 1_000 + 2 * 86_400_000);
        assert_eq!(r.vitals.tls_days_left, Some(-2.0));
        assert!(!r.vitals.http[0].ok);
    }
}
