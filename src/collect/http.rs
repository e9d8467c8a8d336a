//! HTTP(S) checks in the spirit of blackbox_exporter: status, phase timings, redirects, body
//! match, and certificate dates kept even when verification fails.
//! Owns the probe connections (hyper over tokio-rustls, one fresh connection per hop); must not
//! touch engine state, the store or the UI, and does not judge the status (the engine does).
//!
//! Built on hyper and tokio-rustls rather than reqwest: reqwest reports neither per-phase times
//! nor the certificates of a handshake that failed verification, and both are the point here.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;
use url::{Host, Url};

use crate::config::{Auth, HttpTarget, Target};
use crate::model::{HttpError, HttpPhases, HttpProbe, Millis, TlsInfo};

const USER_AGENT: &str = concat!("nocscope/", env!("CARGO_PKG_VERSION"));

/// One configured HTTP check with its own client (redirect policy, TLS settings).
pub struct HttpChecker {
    // Boxed so that the scheduler's per-target enum stays small.
    inner: Box<Checker>,
}

struct Checker {
    url: Url,
    method: Method,
    timeout: Duration,
    max_redirects: u32,
    body_contains: Option<Vec<u8>>,
    body_regex: Option<regex::bytes::Regex>,
    body_limit: u64,
    auth: Option<HeaderValue>,
    insecure: bool,
    provider: Arc<CryptoProvider>,
    /// `None` when no trust anchor could be loaded; every chain is then reported unverified.
    verifier: Option<Arc<dyn ServerCertVerifier>>,
}

/// An HTTP target the checker cannot be built for. The config check refuses most of these
/// first; this is the last line for targets built in code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("http target {target:?}: {problem}")]
pub struct SetupError {
    pub target: String,
    pub problem: SetupProblem,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SetupProblem {
    #[error("URL scheme {0:?} is not supported (accepted: http, https)")]
    Scheme(String),
    #[error("URL {0} has no host")]
    NoHost(String),
    #[error("method {0:?} is not a valid HTTP method (e.g. GET, HEAD, POST)")]
    Method(String),
    #[error("body_regex is not a valid regular expression: {0}")]
    BodyRegex(String),
    #[error("{0}")]
    Auth(String),
    #[error("extra root certificate #{index}: {reason}")]
    ExtraRoot { index: usize, reason: String },
    #[error("cannot build the certificate verifier: {0}")]
    Verifier(String),
}

impl HttpChecker {
    pub fn new(target: &Target, http: &HttpTarget) -> Result<HttpChecker, SetupError> {
        HttpChecker::with_extra_roots(target, http, Vec::new())
    }

    /// Like `new`, trusting `extra_roots` (DER) besides the system store: for private CAs, and
    /// for tests that need a chain which verifies so that expiry and hostname can fail alone.
    pub fn with_extra_roots(
        target: &Target,
        http: &HttpTarget,
        extra_roots: Vec<CertificateDer<'static>>,
    ) -> Result<HttpChecker, SetupError> {
        let fail = |problem| SetupError {
            target: target.name.clone(),
            problem,
        };
        match http.url.scheme() {
            "http" | "https" => {}
            other => return Err(fail(SetupProblem::Scheme(other.to_string()))),
        }
        if http.url.host().is_none() {
            return Err(fail(SetupProblem::NoHost(http.url.to_string())));
        }
        let method = Method::from_bytes(http.method.trim().to_ascii_uppercase().as_bytes())
            .map_err(|_| fail(SetupProblem::Method(http.method.clone())))?;
        let body_regex = match &http.body_regex {
            Some(re) => Some(
                regex::bytes::Regex::new(re)
                    .map_err(|e| fail(SetupProblem::BodyRegex(e.to_string())))?,
            ),
            None => None,
        };
        let auth = match &http.auth {
            Some(a) => Some(auth_header(a).map_err(|e| fail(SetupProblem::Auth(e)))?),
            None => None,
        };
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = RootCertStore::empty();
        roots.roots.extend(system_roots().roots.iter().cloned());
        for (i, der) in extra_roots.iter().enumerate() {
            roots.add(der.clone()).map_err(|e| {
                fail(SetupProblem::ExtraRoot {
                    index: i,
                    reason: e.to_string(),
                })
            })?;
        }
        let verifier = if roots.is_empty() {
            None
        } else {
            let v = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider.clone(),
            )
            .build()
            .map_err(|e| fail(SetupProblem::Verifier(e.to_string())))?;
            Some(v as Arc<dyn ServerCertVerifier>)
        };
        Ok(HttpChecker {
            inner: Box::new(Checker {
                url: http.url.clone(),
                method,
                timeout: target.timeout,
                max_redirects: http.max_redirects,
                body_contains: http.body_contains.as_ref().map(|s| s.as_bytes().to_vec()),
                body_regex,
                body_limit: http.body_limit,
                auth,
                insecure: http.insecure_tls,
                provider,
                verifier,
            }),
        })
    }

    pub async fn probe(&self) -> HttpProbe {
        self.inner.probe().await
    }
}

impl Checker {
    async fn probe(&self) -> HttpProbe {
        let start = Instant::now();
        let mut run = Run::default();
        let error = match tokio::time::timeout(self.timeout, self.run(&mut run)).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some(HttpError::Timeout {
                after_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            }),
        };
        let total = ms(start.elapsed());
        run.phases.total_ms = Some(total);
        let body_match = match (&self.body_contains, &self.body_regex) {
            (None, None) => None,
            _ => Some(run.body_match.unwrap_or(false)),
        };
        HttpProbe {
            duration_ms: total,
            status: run.status,
            redirects: run.redirects,
            phases: std::mem::take(&mut run.phases),
            body_bytes: run.body_bytes,
            body_match,
            tls: run.tls.take(),
            error,
        }
    }

    /// Follow the redirect chain. Everything learnt is written into `run` as it happens, so a
    /// timeout still reports the phases, status and certificate seen so far.
    async fn run(&self, run: &mut Run) -> Result<(), HttpError> {
        let mut url = self.url.clone();
        let mut method = self.method.clone();
        loop {
            let response = self.hop(&url, &method, run).await?;
            let status = response.status();
            run.status = Some(status.as_u16());
            if let Some(next) = redirect_target(&url, status, response.headers())? {
                if run.redirects >= self.max_redirects {
                    return Err(HttpError::TooManyRedirects {
                        max: self.max_redirects,
                    });
                }
                run.redirects += 1;
                // Browsers and blackbox turn these into GET; 307/308 keep the method and body.
                if (status == StatusCode::SEE_OTHER && method != Method::HEAD)
                    || (matches!(status.as_u16(), 301 | 302) && method == Method::POST)
                {
                    method = Method::GET;
                }
                url = next;
                continue;
            }
            return self.read_body(response, run).await;
        }
    }

    async fn hop(
        &self,
        url: &Url,
        method: &Method,
        run: &mut Run,
    ) -> Result<hyper::Response<hyper::body::Incoming>, HttpError> {
        // The status of an earlier hop is not the answer to this one.
        run.status = None;
        let host = url
            .host()
            .ok_or_else(|| HttpError::Other(format!("URL {url} has no host")))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| HttpError::Other(format!("URL {url} has no port")))?;
        let addrs: Vec<std::net::SocketAddr> = match &host {
            Host::Ipv4(ip) => vec![(*ip, port).into()],
            Host::Ipv6(ip) => vec![(*ip, port).into()],
            Host::Domain(name) => {
                let t = Instant::now();
                let found = tokio::net::lookup_host((*name, port))
                    .await
                    .map_err(|e| HttpError::Resolve(format!("{name}: {e}")))?;
                add(&mut run.phases.dns_ms, ms(t.elapsed()));
                let list: Vec<_> = found.collect();
                if list.is_empty() {
                    return Err(HttpError::Resolve(format!("{name}: no addresses")));
                }
                list
            }
        };

        let t = Instant::now();
        let mut last_err = None;
        let mut tcp = None;
        for addr in &addrs {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last_err = Some(format!("{addr}: {e}")),
            }
        }
        let tcp = tcp.ok_or_else(|| {
            HttpError::Connect(last_err.unwrap_or_else(|| "no address to connect to".into()))
        })?;
        add(&mut run.phases.connect_ms, ms(t.elapsed()));
        // Requests are one small write; Nagle would only add latency to the measurement.
        let _ = tcp.set_nodelay(true);

        let request = self.request(url, method, &host, port)?;
        if url.scheme() == "https" {
            let stream = self.handshake(tcp, &host, run).await?;
            exchange(stream, request, run).await
        } else {
            exchange(tcp, request, run).await
        }
    }

    async fn handshake(
        &self,
        tcp: TcpStream,
        host: &Host<&str>,
        run: &mut Run,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, HttpError> {
        let server_name = match host {
            Host::Ipv4(ip) => ServerName::IpAddress((*ip).into()),
            Host::Ipv6(ip) => ServerName::IpAddress((*ip).into()),
            Host::Domain(d) => ServerName::try_from(d.to_string()).map_err(|e| {
                HttpError::Tls(format!("{d:?} is not a valid TLS server name: {e}"))
            })?,
        };
        let capture = Arc::new(Capture {
            inner: self.verifier.clone(),
            provider: self.provider.clone(),
            insecure: self.insecure,
            seen: Mutex::new(None),
        });
        let mut config = rustls::ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| HttpError::Tls(format!("TLS configuration: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(capture.clone())
            .with_no_client_auth();
        // A resumed session presents no certificate, and the dates are half of why this probe
        // exists; every probe therefore does a full handshake.
        config.resumption = rustls::client::Resumption::disabled();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));

        let t = Instant::now();
        let result = connector.connect(server_name, tcp).await;
        add(&mut run.phases.tls_ms, ms(t.elapsed()));
        let seen = capture
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let version = result
            .as_ref()
            .ok()
            .and_then(|s| s.get_ref().1.protocol_version())
            .map(|v| format!("{v:?}"));
        if let Some(seen) = &seen
            && let Some(not_after) = seen.not_after
        {
            run.tls = Some(TlsInfo {
                not_after,
                verify_error: seen.verify_error.clone(),
                version,
            });
        }
        match result {
            Ok(stream) => Ok(stream),
            Err(e) => match seen.and_then(|s| s.verify_error) {
                // With verification on, the verifier's verdict is why the handshake failed.
                Some(reason) if !self.insecure => Err(HttpError::Certificate(reason)),
                _ => Err(HttpError::Tls(e.to_string())),
            },
        }
    }

    fn request(
        &self,
        url: &Url,
        method: &Method,
        host: &Host<&str>,
        port: u16,
    ) -> Result<Request<Empty<Bytes>>, HttpError> {
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let host_header = match url.port() {
            Some(_) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(header::HOST, host_header)
            .header(header::USER_AGENT, USER_AGENT)
            .header(header::ACCEPT, "*/*")
            // No Accept-Encoding: the body is measured and matched as the server sends it.
            .header(header::CONNECTION, "close");
        // Credentials never follow a redirect to another origin.
        if let Some(auth) = &self.auth
            && url.origin() == self.url.origin()
        {
            builder = builder.header(header::AUTHORIZATION, auth.clone());
        }
        builder
            .body(Empty::new())
            .map_err(|e| HttpError::Other(format!("cannot build the request for {url}: {e}")))
    }

    async fn read_body(
        &self,
        response: hyper::Response<hyper::body::Incoming>,
        run: &mut Run,
    ) -> Result<(), HttpError> {
        let keep = self.body_contains.is_some() || self.body_regex.is_some();
        let mut body = response.into_body();
        let mut kept = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| HttpError::Body(format!("reading the body: {e}")))?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            run.body_bytes += data.len() as u64;
            if self.body_limit > 0 && run.body_bytes > self.body_limit {
                return Err(HttpError::Body(format!(
                    "larger than body_limit ({} bytes)",
                    self.body_limit
                )));
            }
            if keep {
                kept.extend_from_slice(&data);
            }
        }
        if keep {
            let contains = self
                .body_contains
                .as_ref()
                .is_none_or(|needle| memchr::memmem::find(&kept, needle).is_some());
            let matches = self.body_regex.as_ref().is_none_or(|re| re.is_match(&kept));
            run.body_match = Some(contains && matches);
        }
        Ok(())
    }
}

/// What one probe learnt so far.
#[derive(Default)]
struct Run {
    status: Option<u16>,
    redirects: u32,
    phases: HttpPhases,
    body_bytes: u64,
    body_match: Option<bool>,
    tls: Option<TlsInfo>,
    /// Connection tasks of this probe, stopped when it ends so that a server that never
    /// closes cannot keep sockets open past the probe's deadline.
    connections: Vec<tokio::task::AbortHandle>,
}

impl Drop for Run {
    fn drop(&mut self) {
        for c in &self.connections {
            c.abort();
        }
    }
}

/// Send one request on a fresh HTTP/1.1 connection and wait for the response head.
async fn exchange<S>(
    stream: S,
    request: Request<Empty<Bytes>>,
    run: &mut Run,
) -> Result<hyper::Response<hyper::body::Incoming>, HttpError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let t = Instant::now();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| HttpError::Other(format!("HTTP/1.1 setup: {e}")))?;
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    run.connections.push(task.abort_handle());
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| HttpError::Other(format!("no response: {e}")))?;
    add(&mut run.phases.first_byte_ms, ms(t.elapsed()));
    Ok(response)
}

/// The next URL when `status` is a redirect with a usable `Location`, `None` otherwise.
fn redirect_target(
    current: &Url,
    status: StatusCode,
    headers: &hyper::HeaderMap,
) -> Result<Option<Url>, HttpError> {
    if !matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
        return Ok(None);
    }
    let Some(location) = headers.get(header::LOCATION) else {
        // A redirect without a target is the final answer, as in blackbox and browsers.
        return Ok(None);
    };
    let location = location
        .to_str()
        .map_err(|_| HttpError::Other(format!("{status}: Location header is not ASCII")))?;
    let next = current.join(location).map_err(|e| {
        HttpError::Other(format!("{status}: Location {location:?} is not a URL: {e}"))
    })?;
    match next.scheme() {
        "http" | "https" => Ok(Some(next)),
        other => Err(HttpError::Other(format!(
            "{status}: redirect to unsupported scheme {other:?} ({next})"
        ))),
    }
}

fn auth_header(auth: &Auth) -> Result<HeaderValue, String> {
    let raw = match auth {
        Auth::Basic { username, password } => {
            use base64::Engine as _;
            let pair = format!("{username}:{}", password.expose());
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        }
        Auth::Bearer { token } => format!("Bearer {}", token.expose()),
    };
    let mut value = HeaderValue::from_str(&raw)
        .map_err(|_| "credentials contain characters not allowed in an HTTP header".to_string())?;
    value.set_sensitive(true);
    Ok(value)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn add(slot: &mut Option<f64>, value: f64) {
    *slot = Some(slot.unwrap_or(0.0) + value);
}

/// Trust anchors from the system store, loaded once per process (a few hundred files).
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        for e in &loaded.errors {
            tracing::warn!(error = %e, "while loading the system's trusted certificates");
        }
        let mut store = RootCertStore::empty();
        let (added, ignored) = store.add_parsable_certificates(loaded.certs);
        if ignored > 0 {
            tracing::warn!(
                added,
                ignored,
                "some system root certificates were unusable"
            );
        }
        store
    })
}

/// What the verifier saw during one handshake.
struct Seen {
    not_after: Option<Millis>,
    verify_error: Option<String>,
}

/// Wraps the real verifier to keep the presented chain's dates whatever the verdict
/// (blackbox_exporter#1119 loses them exactly when they matter: on an expired certificate).
#[derive(Debug)]
struct Capture {
    inner: Option<Arc<dyn ServerCertVerifier>>,
    provider: Arc<CryptoProvider>,
    insecure: bool,
    seen: Mutex<Option<Seen>>,
}

impl std::fmt::Debug for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seen")
            .field("not_after", &self.not_after)
            .field("verify_error", &self.verify_error)
            .finish()
    }
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let not_after = std::iter::once(end_entity)
            .chain(intermediates)
            .filter_map(|c| not_after_ms(c.as_ref()))
            .min();
        let verdict = match &self.inner {
            Some(v) => {
                v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        };
        let verify_error = verdict.as_ref().err().map(|e| match &self.inner {
            Some(_) => describe(e),
            None => "no trusted root certificates on this system".to_string(),
        });
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(Seen {
            not_after,
            verify_error,
        });
        if self.insecure {
            Ok(ServerCertVerified::assertion())
        } else {
            verdict
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Even with `insecure_tls` the server must prove it holds the certificate's key.
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The names an operator expects on the screen for the common verification failures.
fn describe(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "expired".to_string()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "not yet valid".to_string()
            }
            CertificateError::UnknownIssuer => "self-signed or unknown issuer".to_string(),
            CertificateError::NotValidForName => "hostname mismatch".to_string(),
            CertificateError::NotValidForNameContext {
                expected,
                presented,
            } => {
                let asked = match expected {
                    ServerName::DnsName(d) => d.as_ref().to_string(),
                    ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
                    other => format!("{other:?}"),
                };
                format!(
                    "hostname mismatch (asked for {asked}, certificate is for {})",
                    presented.join(", ")
                )
            }
            CertificateError::Revoked => "revoked".to_string(),
            CertificateError::BadSignature => "bad signature".to_string(),
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "not valid for server authentication".to_string()
            }
            other => format!("{other:?}"),
        },
        other => other.to_string(),
    }
}

/// `notAfter` of a DER X.509 certificate, in ms since the epoch; `None` if it does not parse.
/// A small reader of just the path to `validity` keeps an ASN.1 library out of the build.
pub fn not_after_ms(der: &[u8]) -> Option<Millis> {
    let (cert, _) = der_seq(der)?;
    let (tbs, _) = der_seq(cert)?;
    let mut rest = tbs;
    // Optional explicit `[0] version`.
    if rest.first() == Some(&0xa0) {
        rest = der_tlv(rest)?.2;
    }
    // serialNumber, signature algorithm, issuer.
    for _ in 0..3 {
        rest = der_tlv(rest)?.2;
    }
    let (validity, _) = der_seq(rest)?;
    let (_, _, after_not_before) = der_tlv(validity)?;
    let (tag, value, _) = der_tlv(after_not_before)?;
    parse_time(tag, value)
}

/// Split one tag-length-value: (tag, value, rest).
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (bytes, rest) = rest.split_at(n);
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    let (value, rest) = rest.split_at(len);
    Some((tag, value, rest))
}

fn der_seq(input: &[u8]) -> Option<(&[u8], &[u8])> {
    match der_tlv(input)? {
        (0x30, value, rest) => Some((value, rest)),
        _ => None,
    }
}

/// UTCTime (`YYMMDDHHMMSSZ`, RFC 5280: YY < 50 is 20YY) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn parse_time(tag: u8, value: &[u8]) -> Option<Millis> {
    let text = std::str::from_utf8(value).ok()?;
    let digits = text.strip_suffix('Z')?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |s: &str| s.parse::<i64>().ok();
    let (year, rest) = match (tag, digits.len()) {
        (0x17, 12) => {
            let yy = num(digits.get(..2)?)?;
            (
                if yy < 50 { 2000 + yy } else { 1900 + yy },
                digits.get(2..)?,
            )
        }
        (0x18, 14) => (num(digits.get(..4)?)?, digits.get(4..)?),
        _ => return None,
    };
    let month = num(rest.get(0..2)?)?;
    let day = num(rest.get(2..4)?)?;
    let hour = num(rest.get(4..6)?)?;
    let minute = num(rest.get(6..8)?)?;
    let second = num(rest.get(8..10)?)?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = crate::civil::days_from_civil(year, month, day);
    Some(((days * 86_400) + hour * 3600 + minute * 60 + second) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn time_formats() {
        let table: &[(u8, &str, Option<Millis>)] = &[
            (0x17, "700101000000Z", Some(0)),
            (0x17, "491231235959Z", Some(2_524_607_999_000)),
            (0x17, "500101000000Z", Some(-631_152_000_000)),
            (0x18, "20380119031408Z", Some(2_147_483_648_000)),
            (0x18, "20000229120000Z", Some(951_825_600_000)),
            (0x17, "700101000000", None),
            (0x17, "7001010000Z", None),
            (0x18, "700101000000Z", None),
            (0x17, "701301000000Z", None),
            (0x17, "70010100000aZ", None),
            (0x02, "700101000000Z", None),
        ];
        for (tag, text, want) in table {
            assert_eq!(parse_time(*tag, text.as_bytes()), *want, "{tag:#x} {text}");
        }
    }

    proptest! {
        #[test]
        fn der_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = not_after_ms(&bytes);
        }

    }

    #[test]
    fn redirects_resolve_relative_locations_and_refuse_other_schemes() {
        let base = Url::parse("http://127.0.0.1:8080/a/b").unwrap_or_else(|e| panic!("{e}"));
        let mut headers = hyper::HeaderMap::new();
        headers.insert(header::LOCATION, HeaderValue::from_static("../c?x=1"));
        let next = redirect_target(&base, StatusCode::FOUND, &headers);
        assert_eq!(
            next.ok().flatten().map(|u| u.to_string()),
            Some("http://127.0.0.1:8080/c?x=1".to_string())
        );
        assert!(matches!(
            redirect_target(&base, StatusCode::OK, &headers),
            Ok(None)
        ));
        headers.insert(header::LOCATION, HeaderValue::from_static("ftp://x/"));
        assert!(redirect_target(&base, StatusCode::MOVED_PERMANENTLY, &headers).is_err());
        headers.remove(header::LOCATION);
        assert!(matches!(
            redirect_target(&base, StatusCode::FOUND, &headers),
            Ok(None)
        ));
    }
}
