//! HTTP checks against a real HTTP/1.1 server on loopback: status codes, redirects and their
//! cap, body match and size cap, timeouts, refused connections and credentials.

use crate::support_net;

use std::net::SocketAddr;
use std::time::Duration;

use nocscope::collect::http::HttpChecker;
use nocscope::config::{Auth, HttpTarget, Secret, TargetKind};
use nocscope::model::{HttpError, HttpProbe};
use support_net::{spawn_http, target};

fn http_target(url: &str) -> HttpTarget {
    HttpTarget {
        url: url::Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}")),
        method: "GET".to_string(),
        expect_status: vec![200],
        body_contains: None,
        body_regex: None,
        max_redirects: 10,
        insecure_tls: false,
        auth: None,
        body_limit: 1 << 20,
    }
}

async fn run(cfg: HttpTarget, timeout: Duration) -> HttpProbe {
    let t = target("web", timeout, TargetKind::Http(cfg.clone()));
    let checker = HttpChecker::new(&t, &cfg).unwrap_or_else(|e| panic!("checker: {e}"));
    checker.probe().await
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

#[tokio::test]
async fn final_status_is_reported_as_sent() {
    let addr = spawn_http().await;
    for code in [200u16, 204, 301, 404, 418, 500, 503] {
        // A 301 without Location is a final answer, not a redirect.
        let p = run(
            http_target(&url(addr, &format!("/status/{code}"))),
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(p.status, Some(code), "{p:?}");
        assert_eq!(p.error, None, "{p:?}");
        assert_eq!(p.redirects, 0);
        assert!(p.tls.is_none());
        assert_eq!(p.body_match, None, "nothing configured, nothing judged");
    }
}

#[tokio::test]
async fn phases_are_measured_for_plain_http() {
    let addr = spawn_http().await;
    let p = run(http_target(&url(addr, "/ok")), Duration::from_secs(2)).await;
    assert_eq!(p.status, Some(200));
    assert_eq!(p.body_bytes, "hello from nocscope tests".len() as u64);
    let ph = &p.phases;
    assert_eq!(ph.dns_ms, None, "an IP literal needs no lookup");
    assert_eq!(ph.tls_ms, None, "plain HTTP has no handshake");
    for v in [ph.connect_ms, ph.first_byte_ms, ph.total_ms] {
        assert!(v.is_some_and(|ms| ms >= 0.0), "{ph:?}");
    }
    assert_eq!(ph.total_ms, Some(p.duration_ms));

    // A host name is looked up, and the lookup is a phase of its own.
    let p = run(
        http_target(&format!("http://localhost:{}/ok", addr.port())),
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(p.status, Some(200), "{p:?}");
    assert!(p.phases.dns_ms.is_some_and(|ms| ms >= 0.0), "{p:?}");
}

#[tokio::test]
async fn redirects_are_followed_up_to_the_cap() {
    let addr = spawn_http().await;
    // (hops the server makes, cap, expected redirects, expected status, too many?)
    let table = [
        (0u32, 10u32, 0u32, 200u16, false),
        (3, 10, 3, 200, false),
        (10, 10, 10, 200, false),
        (3, 3, 3, 200, false),
        (4, 3, 3, 302, true),
        (1, 0, 0, 302, true),
    ];
    for (hops, cap, redirects, status, too_many) in table {
        let mut cfg = http_target(&url(addr, &format!("/redirect/{hops}")));
        cfg.max_redirects = cap;
        let p = run(cfg, Duration::from_secs(2)).await;
        let case = format!("hops={hops} cap={cap}: {p:?}");
        assert_eq!(p.redirects, redirects, "{case}");
        assert_eq!(p.status, Some(status), "{case}");
        assert_eq!(
            p.error == Some(HttpError::TooManyRedirects { max: cap }),
            too_many,
            "{case}"
        );
    }
}

#[tokio::test]
async fn redirect_loop_stops_at_the_cap() {
    let addr = spawn_http().await;
    let p = run(http_target(&url(addr, "/loop")), Duration::from_secs(5)).await;
    assert_eq!(
        p.error,
        Some(HttpError::TooManyRedirects { max: 10 }),
        "{p:?}"
    );
    assert_eq!(p.redirects, 10);
    assert_eq!(p.status, Some(302));
}

#[tokio::test]
async fn see_other_turns_post_into_get() {
    let addr = spawn_http().await;
    let mut cfg = http_target(&url(addr, "/see-other"));
    cfg.method = "post".to_string();
    cfg.body_contains = Some("GET".to_string());
    let p = run(cfg, Duration::from_secs(2)).await;
    assert_eq!(p.status, Some(200), "{p:?}");
    assert_eq!(p.body_match, Some(true), "{p:?}");

    let mut cfg = http_target(&url(addr, "/method"));
    cfg.method = "HEAD".to_string();
    let p = run(cfg, Duration::from_secs(2)).await;
    assert_eq!(p.status, Some(200), "{p:?}");
    assert_eq!(p.body_bytes, 0, "HEAD has no body: {p:?}");
}

#[tokio::test]
async fn body_substring_and_regex() {
    let addr = spawn_http().await;
    // (contains, regex, expected body_match)
    let table: &[(Option<&str>, Option<&str>, Option<bool>)] = &[
        (None, None, None),
        (Some("nocscope"), None, Some(true)),
        (Some("NOCSCOPE"), None, Some(false)),
        (None, Some(r"^hello \w+"), Some(true)),
        (None, Some(r"(?i)NOCSCOPE\s+TESTS$"), Some(true)),
        (None, Some(r"^goodbye"), Some(false)),
        (Some("hello"), Some("tests$"), Some(true)),
        (Some("hello"), Some("^tests"), Some(false)),
        (Some("absent"), Some("tests$"), Some(false)),
    ];
    for (contains, regex, want) in table {
        let mut cfg = http_target(&url(addr, "/ok"));
        cfg.body_contains = contains.map(str::to_string);
        cfg.body_regex = regex.map(str::to_string);
        let p = run(cfg, Duration::from_secs(2)).await;
        assert_eq!(p.body_match, *want, "{contains:?} {regex:?}: {p:?}");
        assert_eq!(p.status, Some(200));
        assert_eq!(p.error, None);
    }
}

#[tokio::test]
async fn body_limit_stops_reading() {
    let addr = spawn_http().await;
    let mut cfg = http_target(&url(addr, "/big/100000"));
    cfg.body_limit = 1000;
    cfg.body_contains = Some("x".to_string());
    let p = run(cfg.clone(), Duration::from_secs(2)).await;
    assert!(
        matches!(p.error, Some(HttpError::Body(ref m)) if m.contains("1000")),
        "{p:?}"
    );
    assert_eq!(p.status, Some(200), "the response did arrive");
    assert_eq!(p.body_match, Some(false), "an unread body cannot match");
    assert!(p.body_bytes > 1000 && p.body_bytes < 100_000, "{p:?}");

    cfg.body_limit = 100_000;
    let p = run(cfg, Duration::from_secs(2)).await;
    assert_eq!(p.error, None, "exactly at the limit is fine: {p:?}");
    assert_eq!(p.body_bytes, 100_000);
    assert_eq!(p.body_match, Some(true));
}

#[tokio::test]
async fn timeout_without_response_has_no_status() {
    let addr = spawn_http().await;
    let p = run(
        http_target(&url(addr, "/slow/5000")),
        Duration::from_millis(300),
    )
    .await;
    assert_eq!(p.error, Some(HttpError::Timeout { after_ms: 300 }), "{p:?}");
    assert_eq!(
        p.status, None,
        "no response means no status, never a made-up code"
    );
    assert!(
        p.phases.connect_ms.is_some(),
        "phases before the stall are kept"
    );
}

#[tokio::test]
async fn refused_connection_has_no_status() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = l.local_addr().unwrap_or_else(|e| panic!("{e}"));
    drop(l);
    let p = run(http_target(&url(addr, "/")), Duration::from_secs(2)).await;
    assert!(matches!(p.error, Some(HttpError::Connect(_))), "{p:?}");
    assert_eq!(p.status, None);
}

#[tokio::test]
async fn credentials_are_sent_to_the_origin_only() {
    let addr = spawn_http().await;
    let other = spawn_http().await;
    let mut cfg = http_target(&url(addr, "/auth"));
    cfg.auth = Some(Auth::Basic {
        username: "ops".to_string(),
        password: Secret::new("s3cret".to_string()),
    });
    cfg.body_contains = Some("Basic b3BzOnMzY3JldA==".to_string());
    let p = run(cfg.clone(), Duration::from_secs(2)).await;
    assert_eq!(p.body_match, Some(true), "{p:?}");

    cfg.auth = Some(Auth::Bearer {
        token: Secret::new("t0ken".to_string()),
    });
    cfg.body_contains = Some("Bearer t0ken".to_string());
    let p = run(cfg.clone(), Duration::from_secs(2)).await;
    assert_eq!(p.body_match, Some(true), "{p:?}");

    // Same server, followed redirect to another origin: the credentials stay behind.
    let mut cfg = http_target(&url(addr, &format!("/to/{}", other.port())));
    cfg.auth = Some(Auth::Bearer {
        token: Secret::new("t0ken".to_string()),
    });
    cfg.body_regex = Some("^none$".to_string());
    let p = run(cfg, Duration::from_secs(2)).await;
    assert_eq!(p.redirects, 1, "{p:?}");
    assert_eq!(
        p.body_match,
        Some(true),
        "credentials leaked across origins: {p:?}"
    );
}

#[test]
fn bad_configuration_is_refused_with_the_reason() {
    let table: &[(&str, &str, Option<&str>, &str)] = &[
        ("ftp://127.0.0.1/", "GET", None, "scheme"),
        ("http://127.0.0.1/", "GE T", None, "method"),
        ("http://127.0.0.1/", "GET", Some("("), "body_regex"),
    ];
    for (u, method, regex, needle) in table {
        let mut cfg = http_target(u);
        cfg.method = method.to_string();
        cfg.body_regex = regex.map(str::to_string);
        let t = target("web", Duration::from_secs(1), TargetKind::Http(cfg.clone()));
        match HttpChecker::new(&t, &cfg) {
            Ok(_) => panic!("{u} {method} {regex:?}: accepted"),
            Err(e) => {
                assert_eq!(e.target, "web");
                let said = e.to_string();
                assert!(said.contains(needle) && said.contains("\"web\""), "{said}");
            }
        }
    }
}
