//! The Prometheus exporter poller: one HTTP GET with Prometheus's headers, a total deadline,
//! gzip, and a cap on the decompressed body. Returns the raw body; parsing is the engine's.
//! Must not parse exposition text, touch engine state, the store or the UI.

use std::error::Error as StdError;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use reqwest::header::{self, HeaderValue};

use crate::config::{Auth, Compression, ExporterTarget, Target};
use crate::model::{PollError, Scrape, ScrapeOutcome};

/// The Accept header Prometheus 3 sends, so exporters negotiate the same format for us.
pub const ACCEPT: &str = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// Redirects followed before a poll fails, as in Prometheus and browsers.
pub const MAX_REDIRECTS: u32 = 10;

/// `nocscope/<version>`: exporters and proxies can tell our polls from Prometheus's.
pub const USER_AGENT: &str = concat!("nocscope/", env!("CARGO_PKG_VERSION"));

/// Header Prometheus sends so an exporter can bound its own collection time.
pub const SCRAPE_TIMEOUT_HEADER: &str = "X-Prometheus-Scrape-Timeout-Seconds";

/// Upper bound on the buffer reserved up front from a Content-Length: the header is the
/// server's word, and a hostile one must not make us allocate gigabytes before a byte arrives.
const MAX_PREALLOC: u64 = 4 << 20;

/// Longest failure reason kept; the targets view shows one line per target.
const MAX_REASON_CHARS: usize = 160;

/// The HTTP client could not be built (no TLS roots, no sockets): the machine's trouble, not a
/// target's.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct ClientError(String);

/// One client shared by every exporter target (connection reuse); redirects capped at 10.
pub fn http_client() -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS as usize))
        .user_agent(USER_AGENT)
        // Like Prometheus (proxy_from_environment is off by default), polls go straight to
        // the exporter; HTTP_PROXY in an operator's shell must not reroute them.
        .no_proxy()
        // reqwest adds `Accept-Encoding: gzip` itself and only then undoes the encoding; setting
        // the header by hand would leave bodies compressed.
        .gzip(true)
        .build()
        .map_err(|e| ClientError(reason(&e)))
}

/// Poll one exporter once. Never fails: every failure is a `ScrapeOutcome::Failed` with a reason.
pub async fn scrape(
    client: &reqwest::Client,
    target: &Target,
    exporter: &ExporterTarget,
) -> Scrape {
    let started = Instant::now();
    let deadline = target.timeout;
    // The deadline wraps connect, headers and the whole body: a server that trickles one byte
    // at a time must not keep the poll alive past it (an idle timeout would).
    let outcome = match tokio::time::timeout(deadline, fetch(client, target, exporter)).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) => ScrapeOutcome::Failed(e),
        Err(_) => ScrapeOutcome::Failed(PollError::Timeout {
            after_ms: duration_ms_u64(deadline),
        }),
    };
    Scrape {
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        outcome,
    }
}

async fn fetch(
    client: &reqwest::Client,
    target: &Target,
    exporter: &ExporterTarget,
) -> Result<ScrapeOutcome, PollError> {
    let mut request = client
        .get(exporter.url.clone())
        .header(header::ACCEPT, HeaderValue::from_static(ACCEPT))
        .header(SCRAPE_TIMEOUT_HEADER, timeout_header_value(target.timeout));
    if !wants_gzip(exporter.compression, &exporter.url) {
        // A header of our own stops the client from adding `gzip`; a server that compresses
        // anyway is still inflated, because decoding follows the response, not the request.
        request = request.header(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
    }
    request = match &exporter.auth {
        Some(Auth::Basic { username, password }) => {
            request.basic_auth(username, Some(password.expose()))
        }
        Some(Auth::Bearer { token }) => request.bearer_auth(token.expose()),
        None => request,
    };

    let mut response = request.send().await.map_err(classify)?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(PollError::HttpStatus(status));
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);

    let limit = exporter.body_limit;
    // reqwest drops Content-Length when it decodes gzip, so a length seen here is the real one.
    let announced = response.content_length();
    if let Some(len) = announced
        && over_limit(len, limit)
    {
        return Err(PollError::BodyTooLarge { limit });
    }
    let reserve = announced.unwrap_or(0).min(MAX_PREALLOC);
    let mut body = BytesMut::with_capacity(usize::try_from(reserve).unwrap_or(0));
    // Chunks come out of the gzip decoder already inflated, so the cap counts decompressed
    // bytes and is checked before a chunk is kept: memory stays within the cap plus one chunk.
    while let Some(chunk) = response.chunk().await.map_err(classify)? {
        let total = (body.len() as u64).saturating_add(chunk.len() as u64);
        if over_limit(total, limit) {
            return Err(PollError::BodyTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(ScrapeOutcome::Body {
        content_type,
        body: body.freeze(),
    })
}

/// Whether a poll of `url` asks for gzip. On loopback the bytes saved cost nothing to send,
/// while inflating them costs the console CPU on every poll, so `Auto` asks only remote hosts.
pub fn wants_gzip(compression: Compression, url: &url::Url) -> bool {
    match compression {
        Compression::Gzip => true,
        Compression::None => false,
        Compression::Auto => !is_loopback(url),
    }
}

/// `localhost`, 127.0.0.0/8 and ::1 (also as an IPv4-mapped address). Names other than
/// `localhost` are not resolved here: a name that happens to point at loopback keeps gzip.
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => {
            a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Some(url::Host::Domain(d)) => {
            let d = d.strip_suffix('.').unwrap_or(d);
            d.eq_ignore_ascii_case("localhost")
                || d.len() > ".localhost".len()
                    && d.get(d.len() - ".localhost".len()..)
                        .is_some_and(|tail| tail.eq_ignore_ascii_case(".localhost"))
        }
        None => false,
    }
}

/// Prometheus fails at `read >= limit` (it reads at most `limit` bytes and cannot tell a body of
/// exactly `limit` bytes from a longer one); 0 means no cap.
fn over_limit(read: u64, limit: u64) -> bool {
    limit > 0 && read >= limit
}

/// Seconds as Prometheus prints them (Go's `FormatFloat(s, 'f', -1, 64)`): `10`, `0.5`.
pub fn timeout_header_value(timeout: Duration) -> String {
    format!("{}", timeout.as_secs_f64())
}

fn duration_ms_u64(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Sort a reqwest error into the `PollError` the targets view can name.
fn classify(e: reqwest::Error) -> PollError {
    if e.is_redirect() {
        // The only redirect error a `Policy::limited` produces is the cap; a malformed
        // Location surfaces as a request error instead.
        PollError::TooManyRedirects { max: MAX_REDIRECTS }
    } else if e.is_timeout() {
        // reqwest has no timeout configured, so this comes from below (the OS connect timeout).
        PollError::Connect(reason(&e))
    } else if e.is_connect() || e.is_dns() {
        PollError::Connect(reason(&e))
    } else if e.is_body() || e.is_decode() {
        PollError::Body(reason(&e))
    } else {
        PollError::Other(reason(&e))
    }
}

/// A short, readable reason: the innermost cause (e.g. "connection refused", "invalid gzip
/// header"), without reqwest's wrapper text, the URL (it may carry credentials) or Debug output.
pub fn reason(e: &(dyn StdError + 'static)) -> String {
    let mut innermost: &(dyn StdError + 'static) = e;
    while let Some(next) = innermost.source() {
        innermost = next;
    }
    let mut text = innermost.to_string();
    // "Connection refused (os error 111)": the errno adds nothing for a reader.
    if let Some(cut) = text.find(" (os error ") {
        text.truncate(cut);
    }
    let text = text.trim();
    let mut short: String = text.chars().take(MAX_REASON_CHARS).collect();
    if text.chars().count() > MAX_REASON_CHARS {
        short.push('…');
    }
    if short.is_empty() {
        "unknown error".to_owned()
    } else {
        lower_first(&short)
    }
}

/// Reasons follow a fixed prefix ("connect failed: …"), so they read as one sentence.
fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first)
            if first.is_uppercase() && !chars.clone().next().is_some_and(char::is_uppercase) =>
        {
            first.to_lowercase().chain(chars).collect()
        }
        _ => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt;
    use std::io;

    #[test]
    fn timeout_header_matches_prometheus_formatting() {
        let cases = [
            (Duration::from_secs(10), "10"),
            (Duration::from_millis(500), "0.5"),
            (Duration::from_millis(1500), "1.5"),
            (Duration::from_millis(250), "0.25"),
            (Duration::from_secs(0), "0"),
        ];
        for (d, want) in cases {
            assert_eq!(timeout_header_value(d), want, "{d:?}");
        }
    }

    #[test]
    fn limit_check_is_read_at_least_limit() {
        let cases = [
            (0, 0, false),
            (u64::MAX, 0, false),
            (99, 100, false),
            (100, 100, true),
            (101, 100, true),
            (0, 1, false),
            (1, 1, true),
        ];
        for (read, limit, want) in cases {
            assert_eq!(over_limit(read, limit), want, "read {read} limit {limit}");
        }
    }

    #[test]
    fn gzip_is_asked_of_remote_targets_only_under_auto() {
        let cases = [
            ("http://127.0.0.1:9100/metrics", Compression::Auto, false),
            ("http://127.8.9.10:9100/metrics", Compression::Auto, false),
            ("http://[::1]:9100/metrics", Compression::Auto, false),
            (
                "http://[::ffff:127.0.0.1]:9100/metrics",
                Compression::Auto,
                false,
            ),
            ("http://localhost:9100/metrics", Compression::Auto, false),
            ("http://LocalHost.:9100/metrics", Compression::Auto, false),
            (
                "http://node.localhost:9100/metrics",
                Compression::Auto,
                false,
            ),
            ("http://notlocalhost:9100/metrics", Compression::Auto, true),
            (
                "http://localhost.example.com/metrics",
                Compression::Auto,
                true,
            ),
            ("http://10.0.0.5:9100/metrics", Compression::Auto, true),
            ("http://[2001:db8::1]:9100/metrics", Compression::Auto, true),
            ("https://node1.example.com/metrics", Compression::Auto, true),
            ("http://127.0.0.1:9100/metrics", Compression::Gzip, true),
            ("http://10.0.0.5:9100/metrics", Compression::None, false),
        ];
        for (url, c, want) in cases {
            let parsed = match url::Url::parse(url) {
                Ok(u) => u,
                Err(e) => panic!("{url}: {e}"),
            };
            assert_eq!(wants_gzip(c, &parsed), want, "{url} {c:?}");
        }
    }

    #[derive(Debug)]
    struct Wrapper(&'static str, Option<Box<dyn StdError + Send + Sync>>);
    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }
    impl StdError for Wrapper {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn StdError + 'static))
        }
    }

    #[test]
    fn reason_takes_the_innermost_cause_and_stays_short() {
        let refused = io::Error::from_raw_os_error(111);
        let chain = Wrapper(
            "error sending request for url (http://u:pw@x/)",
            Some(Box::new(Wrapper(
                "client error (Connect)",
                Some(Box::new(refused)),
            ))),
        );
        assert_eq!(reason(&chain), "connection refused");

        let long = Wrapper(Box::leak("x".repeat(500).into_boxed_str()), None);
        let r = reason(&long);
        assert_eq!(r.chars().count(), MAX_REASON_CHARS + 1);
        assert!(r.ends_with('…'));

        assert_eq!(reason(&Wrapper("", None)), "unknown error");
        // Acronyms keep their case.
        assert_eq!(
            reason(&Wrapper("TLS handshake failed", None)),
            "TLS handshake failed"
        );
    }
}
