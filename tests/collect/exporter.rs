//! One exporter poll against the real node_exporter and against scripted loopback servers:
//! headers, gzip, every fault case of monitoring-semantics §7 cases 1–6, and concurrency of
//! `poll_all_once`.

use crate::support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use nocscope::collect::exporter::{self, ACCEPT, USER_AGENT};
use nocscope::collect::scheduler;
use nocscope::config::{Auth, Compression, Secret, Target};
use nocscope::model::{Payload, PollError, Scrape, ScrapeOutcome, TargetId};
use proptest::prelude::*;
use support::{Behaviour, serve};

fn client() -> reqwest::Client {
    match exporter::http_client() {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

async fn scrape(target: &Target) -> Scrape {
    exporter::scrape(&client(), target, support::exporter_of(target)).await
}

fn body_of(s: &Scrape) -> (Option<&str>, &[u8]) {
    match &s.outcome {
        ScrapeOutcome::Body { content_type, body } => (content_type.as_deref(), body),
        ScrapeOutcome::Failed(e) => panic!("expected a body, got failure: {e}"),
    }
}

fn error_of(s: &Scrape) -> &PollError {
    match &s.outcome {
        ScrapeOutcome::Failed(e) => e,
        ScrapeOutcome::Body { body, .. } => {
            panic!("expected a failure, got {} body bytes", body.len())
        }
    }
}

#[tokio::test]
async fn real_node_exporter_returns_text_0_0_4_with_node_metrics() {
    let node = support::NodeExporter::start();
    let target = support::exporter_target(0, "node", &node.url());
    let s = scrape(&target).await;
    let (content_type, body) = body_of(&s);
    let ct = content_type.unwrap_or_default();
    assert!(ct.starts_with("text/plain"), "content type {ct:?}");
    assert!(ct.contains("version=0.0.4"), "content type {ct:?}");
    let text = String::from_utf8_lossy(body);
    for name in [
        "node_cpu_seconds_total",
        "node_memory_MemTotal_bytes",
        "node_load1",
        "go_goroutines",
    ] {
        assert!(
            text.contains(&format!("\n{name}")) || text.contains(&format!("# TYPE {name} ")),
            "{name} missing"
        );
    }
    assert!(s.duration_ms > 0.0);
}

#[tokio::test]
async fn real_node_exporter_body_cap_applies() {
    let node = support::NodeExporter::start();
    let mut target = support::exporter_target(0, "node", &node.url());
    // node_exporter sends tens of kilobytes (plain on loopback); the cap counts body bytes.
    support::exporter_of_mut(&mut target).body_limit = 1024;
    let s = scrape(&target).await;
    assert_eq!(error_of(&s), &PollError::BodyTooLarge { limit: 1024 });
}

#[tokio::test]
async fn sends_prometheus_headers_and_negotiates_gzip() {
    let payload = support::exposition(10_000);
    let server = serve(Behaviour::Gzip {
        body: payload.clone(),
    });
    let mut target = support::exporter_target(0, "gz", &server.url());
    target.timeout = Duration::from_millis(1500);
    // Loopback targets are not asked for gzip unless the config says so.
    support::exporter_of_mut(&mut target).compression = Compression::Gzip;
    let s = scrape(&target).await;
    let (ct, body) = body_of(&s);
    // The server sent gzip; what we hand on is the inflated text, byte for byte.
    assert_eq!(body, payload.as_slice());
    assert_eq!(ct, Some("text/plain; version=0.0.4"));

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "GET");
    assert_eq!(r.path, "/metrics");
    assert_eq!(r.header("accept"), Some(ACCEPT));
    let encodings = r.header("accept-encoding").unwrap_or_default();
    assert!(
        encodings.split(',').any(|e| e.trim() == "gzip"),
        "accept-encoding {encodings:?}"
    );
    assert_eq!(r.header("user-agent"), Some(USER_AGENT));
    assert_eq!(
        USER_AGENT,
        format!("nocscope/{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(r.header("x-prometheus-scrape-timeout-seconds"), Some("1.5"));
    assert_eq!(r.header("authorization"), None);
}

/// Issue #3: inflating costs the console CPU on every poll and saves nothing on loopback, so
/// `auto` asks loopback targets for a plain body; a server that compresses anyway is still
/// inflated, so the body handed on (and recorded) is the same bytes whatever was asked.
#[tokio::test]
async fn auto_compression_asks_loopback_for_identity_and_still_inflates_gzip() {
    let payload = support::exposition(10_000);
    for (compression, wants_gzip) in [
        (Compression::Auto, false),
        (Compression::None, false),
        (Compression::Gzip, true),
    ] {
        let server = serve(Behaviour::Gzip {
            body: payload.clone(),
        });
        let mut target = support::exporter_target(0, "gz", &server.url());
        support::exporter_of_mut(&mut target).compression = compression;
        let s = scrape(&target).await;
        let (_, body) = body_of(&s);
        assert_eq!(body, payload.as_slice(), "{compression:?}");
        let requests = server.requests();
        let encodings = requests
            .first()
            .and_then(|r| r.header("accept-encoding"))
            .unwrap_or_default()
            .to_string();
        let asked_gzip = encodings.split(',').any(|e| e.trim() == "gzip");
        assert_eq!(asked_gzip, wants_gzip, "{compression:?}: {encodings:?}");
        if !wants_gzip {
            assert_eq!(encodings, "identity", "{compression:?}");
        }
    }
}

#[tokio::test]
async fn real_node_exporter_body_is_the_same_plain_or_gzip() {
    let node = support::NodeExporter::start();
    let mut bodies = Vec::new();
    for compression in [Compression::None, Compression::Gzip] {
        let mut target = support::exporter_target(0, "node", &node.url());
        support::exporter_of_mut(&mut target).compression = compression;
        let s = scrape(&target).await;
        let (ct, body) = body_of(&s);
        bodies.push((ct.map(str::to_owned), body.len()));
    }
    // Bodies differ in counters between polls, but the format and the size class must not.
    let [(ct_plain, len_plain), (ct_gzip, len_gzip)] = bodies.as_slice() else {
        panic!("two polls expected");
    };
    assert_eq!(ct_plain, ct_gzip);
    assert!(
        len_plain.abs_diff(*len_gzip) < len_plain / 10,
        "plain {len_plain} B, inflated gzip {len_gzip} B"
    );
}

#[tokio::test]
async fn sends_basic_and_bearer_auth() {
    let cases = [
        (
            Auth::Basic {
                username: "alice".into(),
                password: Secret::new("s3cret".into()),
            },
            // base64("alice:s3cret")
            "Basic YWxpY2U6czNjcmV0",
        ),
        (
            Auth::Bearer {
                token: Secret::new("tok-123".into()),
            },
            "Bearer tok-123",
        ),
    ];
    for (auth, want) in cases {
        let server = serve(Behaviour::Body { len: 10 });
        let mut target = support::exporter_target(0, "auth", &server.url());
        support::exporter_of_mut(&mut target).auth = Some(auth);
        let s = scrape(&target).await;
        body_of(&s);
        let requests = server.requests();
        assert_eq!(
            requests.first().and_then(|r| r.header("authorization")),
            Some(want)
        );
    }
}

#[tokio::test]
async fn fault_cases_give_the_named_error() {
    struct Case {
        name: &'static str,
        behaviour: Behaviour,
        timeout_ms: u64,
        body_limit: u64,
        check: fn(&PollError) -> bool,
    }
    let cases = [
        Case {
            name: "accepts, never answers",
            behaviour: Behaviour::Hang,
            timeout_ms: 300,
            body_limit: 0,
            check: |e| *e == PollError::Timeout { after_ms: 300 },
        },
        Case {
            // An idle timeout would never fire: a byte arrives every 100 ms.
            name: "trickles a byte per 100 ms",
            behaviour: Behaviour::Trickle,
            timeout_ms: 500,
            body_limit: 0,
            check: |e| *e == PollError::Timeout { after_ms: 500 },
        },
        Case {
            name: "500",
            behaviour: Behaviour::Status(500),
            timeout_ms: 2000,
            body_limit: 0,
            check: |e| *e == PollError::HttpStatus(500),
        },
        Case {
            name: "404",
            behaviour: Behaviour::Status(404),
            timeout_ms: 2000,
            body_limit: 0,
            check: |e| *e == PollError::HttpStatus(404),
        },
        Case {
            name: "302 to itself",
            behaviour: Behaviour::RedirectLoop,
            timeout_ms: 5000,
            body_limit: 0,
            check: |e| *e == PollError::TooManyRedirects { max: 10 },
        },
        Case {
            name: "body over the cap",
            behaviour: Behaviour::Body { len: 100_000 },
            timeout_ms: 2000,
            body_limit: 50_000,
            check: |e| *e == PollError::BodyTooLarge { limit: 50_000 },
        },
        Case {
            name: "gzip bomb",
            behaviour: Behaviour::GzipBomb { inflated: 64 << 20 },
            timeout_ms: 10_000,
            body_limit: 1 << 20,
            check: |e| *e == PollError::BodyTooLarge { limit: 1 << 20 },
        },
        Case {
            name: "broken gzip",
            behaviour: Behaviour::BrokenGzip,
            timeout_ms: 2000,
            body_limit: 0,
            check: |e| matches!(e, PollError::Body(r) if !r.is_empty()),
        },
        Case {
            name: "truncated body",
            behaviour: Behaviour::Truncated {
                claimed: 1000,
                sent: 10,
            },
            timeout_ms: 2000,
            body_limit: 0,
            check: |e| matches!(e, PollError::Body(r) if !r.is_empty()),
        },
    ];
    let client = client();
    for case in cases {
        let server = serve(case.behaviour.clone());
        let mut target = support::exporter_target(0, case.name, &server.url());
        target.timeout = Duration::from_millis(case.timeout_ms);
        support::exporter_of_mut(&mut target).body_limit = case.body_limit;
        let s = exporter::scrape(&client, &target, support::exporter_of(&target)).await;
        let e = error_of(&s);
        assert!((case.check)(e), "{}: got {e:?}", case.name);
        // Reasons are for people: one line, no Debug dump, no URL.
        let text = e.to_string();
        assert!(
            !text.contains('{') && !text.contains('\n') && !text.contains("http://"),
            "{}: {text}",
            case.name
        );
    }
}

#[tokio::test]
async fn redirect_loop_stops_after_ten_follow_ups() {
    let server = serve(Behaviour::RedirectLoop);
    let target = support::exporter_target(0, "loop", &server.url());
    let s = scrape(&target).await;
    assert_eq!(error_of(&s), &PollError::TooManyRedirects { max: 10 });
    // The first request plus ten followed redirects; the eleventh is refused.
    assert_eq!(server.hits(), 11);
}

#[tokio::test]
async fn refused_connection_is_a_connect_error() {
    let port = support::free_port();
    let target = support::exporter_target(0, "closed", &format!("http://127.0.0.1:{port}/metrics"));
    let s = scrape(&target).await;
    match error_of(&s) {
        PollError::Connect(reason) => {
            assert!(reason.to_lowercase().contains("refused"), "{reason}");
            assert!(!reason.contains("os error"), "{reason}");
        }
        other => panic!("expected Connect, got {other:?}"),
    }
}

#[tokio::test]
async fn missing_content_type_is_passed_on_as_none() {
    let server = serve(Behaviour::NoContentType);
    let target = support::exporter_target(0, "noct", &server.url());
    let s = scrape(&target).await;
    let (ct, body) = body_of(&s);
    assert_eq!(ct, None);
    assert_eq!(body, support::exposition(64).as_slice());
}

#[tokio::test]
async fn empty_200_body_is_a_body_not_a_failure() {
    let server = serve(Behaviour::Fixed {
        content_type: Some("text/plain; version=0.0.4".into()),
        body: Vec::new(),
    });
    let target = support::exporter_target(0, "empty", &server.url());
    let s = scrape(&target).await;
    assert_eq!(body_of(&s), (Some("text/plain; version=0.0.4"), &b""[..]));
}

#[tokio::test]
async fn poll_all_once_runs_targets_concurrently_in_target_order() {
    // Target 0 answers only after target 1's server has seen its request: polled one after
    // the other, target 0 would time out waiting for a request that has not been sent yet.
    let second = serve(Behaviour::Body { len: 100 });
    let first = serve(Behaviour::WaitFor {
        gate: second.hit_counter(),
        len: 200,
    });
    let mut t0 = support::exporter_target(0, "first", &first.url());
    let mut t1 = support::exporter_target(1, "second", &second.url());
    t0.timeout = Duration::from_secs(3);
    t1.timeout = Duration::from_secs(3);
    let config = support::config_with(vec![t0, t1]);
    let obs = scheduler::poll_all_once(&config, &client()).await;
    assert_eq!(
        obs.iter().map(|o| o.target).collect::<Vec<_>>(),
        vec![TargetId(0), TargetId(1)]
    );
    let lens: Vec<usize> = obs
        .iter()
        .map(|o| match &o.payload {
            Payload::Scrape(s) => body_of(s).1.len(),
            other => panic!("exporter targets give scrapes, got {other:?}"),
        })
        .collect();
    assert_eq!(lens, vec![200, 100]);
    assert!(second.hit_counter().load(Ordering::SeqCst) == 1);
}

#[tokio::test]
async fn hanging_target_fails_alone_in_poll_all_once() {
    let hang = serve(Behaviour::Hang);
    let good = serve(Behaviour::Body { len: 300 });
    let mut t0 = support::exporter_target(0, "hang", &hang.url());
    t0.timeout = Duration::from_millis(400);
    let t1 = support::exporter_target(1, "good", &good.url());
    let config = support::config_with(vec![t0, t1]);
    let before = scheduler::wall_clock_ms();
    let obs = scheduler::poll_all_once(&config, &client()).await;
    assert_eq!(obs.len(), 2);
    let (Payload::Scrape(s0), Payload::Scrape(s1)) = (&obs[0].payload, &obs[1].payload) else {
        panic!("exporter targets give scrapes");
    };
    assert_eq!(error_of(s0), &PollError::Timeout { after_ms: 400 });
    assert_eq!(body_of(s1).1.len(), 300);
    // Stamped at poll start, by the wall clock.
    assert!(
        obs.iter()
            .all(|o| o.at >= before && o.at <= scheduler::wall_clock_ms())
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The cap is exact: a body fails iff a cap is set and its size reaches it; otherwise the
    /// bytes come back unchanged, plain or gzip.
    #[test]
    fn body_cap_is_exact(len in 0usize..70_000, limit in prop_oneof![Just(0u64), 1u64..80_000], gzip in any::<bool>()) {
        let body = support::exposition(len);
        let server = if gzip { serve(Behaviour::Gzip { body: body.clone() }) } else { serve(Behaviour::Body { len }) };
        let mut target = support::exporter_target(0, "cap", &server.url());
        support::exporter_of_mut(&mut target).body_limit = limit;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
        let rt = match rt { Ok(rt) => rt, Err(e) => panic!("runtime: {e}") };
        let s = rt.block_on(scrape(&target));
        let too_big = limit > 0 && len as u64 >= limit;
        match &s.outcome {
            ScrapeOutcome::Failed(PollError::BodyTooLarge { limit: l }) => {
                prop_assert!(too_big);
                prop_assert_eq!(*l, limit);
            }
            ScrapeOutcome::Body { body: got, .. } => {
                prop_assert!(!too_big);
                prop_assert_eq!(got.as_ref(), body.as_slice());
            }
            ScrapeOutcome::Failed(e) => prop_assert!(false, "unexpected failure {e:?}"),
        }
    }
}
