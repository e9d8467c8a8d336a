//! HTTPS checks against local TLS servers with certificates generated for the test: valid,
//! self-signed, expired, wrong host name, and a chain whose intermediate expires first. Every
//! failure must name its reason AND keep the certificate's notAfter (blackbox_exporter#1119).

use crate::support_net;

use std::net::SocketAddr;
use std::time::Duration;

use nocscope::collect::http::{HttpChecker, not_after_ms};
use nocscope::config::{HttpTarget, TargetKind};
use nocscope::model::{HttpError, HttpProbe};
use rustls::pki_types::CertificateDer;
use support_net::{Leaf, TestCa, self_signed, spawn_https, target};

const FAR: (i32, u8, u8) = (2099, 12, 31);
const PAST_START: (i32, u8, u8) = (2020, 1, 1);
const PAST_END: (i32, u8, u8) = (2021, 6, 30);

fn https_target(addr: SocketAddr, host: &str, insecure: bool) -> HttpTarget {
    let url = format!("https://{host}:{}/ok", addr.port());
    HttpTarget {
        url: url::Url::parse(&url).unwrap_or_else(|e| panic!("{url}: {e}")),
        method: "GET".to_string(),
        expect_status: vec![200],
        body_contains: None,
        body_regex: None,
        max_redirects: 10,
        insecure_tls: insecure,
        auth: None,
        body_limit: 1 << 20,
    }
}

async fn probe(cfg: HttpTarget, roots: Vec<CertificateDer<'static>>) -> HttpProbe {
    let t = target("tls", Duration::from_secs(3), TargetKind::Http(cfg.clone()));
    HttpChecker::with_extra_roots(&t, &cfg, roots)
        .unwrap_or_else(|e| panic!("checker: {e}"))
        .probe()
        .await
}

async fn serve(leaf: &Leaf, extra: &[CertificateDer<'static>]) -> SocketAddr {
    let mut chain = vec![leaf.cert.clone()];
    chain.extend(extra.iter().cloned());
    spawn_https(chain, leaf.key.clone_key()).await
}

#[tokio::test]
async fn trusted_certificate_passes_and_reports_its_dates() {
    let ca = TestCa::new("nocscope test CA", FAR);
    let leaf = ca.leaf(&["127.0.0.1", "localhost"], PAST_START, (2098, 3, 4));
    let addr = serve(&leaf, &[]).await;
    for host in ["127.0.0.1", "localhost"] {
        let p = probe(https_target(addr, host, false), vec![ca.cert.clone()]).await;
        assert_eq!(p.error, None, "{host}: {p:?}");
        assert_eq!(p.status, Some(200));
        let tls = p.tls.unwrap_or_else(|| panic!("{host}: no TLS info"));
        assert_eq!(tls.not_after, leaf.not_after_ms);
        assert_eq!(tls.verify_error, None);
        assert!(tls.version.is_some_and(|v| v.contains("TLS")));
        assert!(p.phases.tls_ms.is_some_and(|ms| ms >= 0.0));
    }
}

#[tokio::test]
async fn each_certificate_problem_is_named_and_dated() {
    let ca = TestCa::new("nocscope test CA", FAR);
    let roots = vec![ca.cert.clone()];
    // (case, certificate, expected reason prefix)
    let cases = [
        (
            "self-signed",
            self_signed(&["127.0.0.1"], PAST_START, (2097, 1, 2)),
            "self-signed or unknown issuer",
        ),
        (
            "expired",
            ca.leaf(&["127.0.0.1"], PAST_START, PAST_END),
            "expired",
        ),
        (
            "expired and self-signed",
            self_signed(&["127.0.0.1"], PAST_START, PAST_END),
            "expired",
        ),
        (
            "wrong name",
            ca.leaf(&["other.example"], PAST_START, (2096, 5, 6)),
            "hostname mismatch",
        ),
    ];
    for (case, leaf, reason) in cases {
        let addr = serve(&leaf, &[]).await;
        let p = probe(https_target(addr, "127.0.0.1", false), roots.clone()).await;
        match &p.error {
            Some(HttpError::Certificate(got)) => assert!(got.starts_with(reason), "{case}: {got}"),
            other => panic!("{case}: expected Certificate({reason}), got {other:?}"),
        }
        assert_eq!(p.status, None, "{case}: no response was read");
        let tls = p
            .tls
            .unwrap_or_else(|| panic!("{case}: dates lost on a failed handshake"));
        assert_eq!(tls.not_after, leaf.not_after_ms, "{case}");
        assert!(
            tls.verify_error
                .as_deref()
                .is_some_and(|e| e.starts_with(reason)),
            "{case}: {:?}",
            tls.verify_error
        );
    }
}

#[tokio::test]
async fn hostname_mismatch_names_both_sides() {
    let ca = TestCa::new("nocscope test CA", FAR);
    let leaf = ca.leaf(&["other.example"], PAST_START, FAR);
    let addr = serve(&leaf, &[]).await;
    let p = probe(
        https_target(addr, "127.0.0.1", false),
        vec![ca.cert.clone()],
    )
    .await;
    let Some(HttpError::Certificate(msg)) = &p.error else {
        panic!("{p:?}");
    };
    assert!(
        msg.contains("127.0.0.1") && msg.contains("other.example"),
        "{msg}"
    );
}

#[tokio::test]
async fn insecure_tls_skips_verification_but_keeps_dates_and_reason() {
    let leaf = self_signed(&["127.0.0.1"], PAST_START, PAST_END);
    let addr = serve(&leaf, &[]).await;
    let p = probe(https_target(addr, "127.0.0.1", true), Vec::new()).await;
    assert_eq!(p.error, None, "{p:?}");
    assert_eq!(p.status, Some(200));
    let tls = p.tls.unwrap_or_else(|| panic!("no TLS info"));
    assert_eq!(tls.not_after, leaf.not_after_ms);
    assert_eq!(tls.verify_error.as_deref(), Some("expired"));
}

#[tokio::test]
async fn earliest_expiry_over_the_presented_chain() {
    let root = TestCa::new("nocscope root", FAR);
    let sub = root.intermediate("nocscope intermediate", (2090, 1, 1));
    let leaf = sub.leaf(&["127.0.0.1"], PAST_START, (2095, 1, 1));
    let addr = serve(&leaf, std::slice::from_ref(&sub.cert)).await;
    let p = probe(
        https_target(addr, "127.0.0.1", false),
        vec![root.cert.clone()],
    )
    .await;
    assert_eq!(p.error, None, "{p:?}");
    let tls = p.tls.unwrap_or_else(|| panic!("no TLS info"));
    let sub_not_after = not_after_ms(sub.cert.as_ref());
    assert_eq!(Some(tls.not_after), sub_not_after);
    assert!(tls.not_after < leaf.not_after_ms);
}

#[tokio::test]
async fn every_probe_does_a_full_handshake() {
    // Session resumption would skip the certificate; the dates must be there every time.
    let ca = TestCa::new("nocscope test CA", FAR);
    let leaf = ca.leaf(&["127.0.0.1"], PAST_START, FAR);
    let addr = serve(&leaf, &[]).await;
    let cfg = https_target(addr, "127.0.0.1", false);
    let t = target("tls", Duration::from_secs(3), TargetKind::Http(cfg.clone()));
    let checker = HttpChecker::with_extra_roots(&t, &cfg, vec![ca.cert.clone()])
        .unwrap_or_else(|e| panic!("{e}"));
    for round in 0..3 {
        let p = checker.probe().await;
        assert_eq!(p.error, None, "round {round}: {p:?}");
        assert_eq!(
            p.tls.map(|t| t.not_after),
            Some(leaf.not_after_ms),
            "round {round}"
        );
    }
}

#[test]
fn der_reader_agrees_with_the_generator() {
    let ca = TestCa::new("nocscope test CA", FAR);
    for (before, after) in [
        (PAST_START, PAST_END),
        ((1999, 2, 3), (2049, 12, 31)),
        ((2000, 1, 1), (2050, 1, 1)),
        (PAST_START, FAR),
    ] {
        let leaf = ca.leaf(&["localhost"], before, after);
        assert_eq!(
            not_after_ms(leaf.cert.as_ref()),
            Some(leaf.not_after_ms),
            "{after:?}"
        );
    }
}
