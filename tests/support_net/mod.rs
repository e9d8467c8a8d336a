//! Test helpers for the ICMP/TCP/HTTP probe tests: target builders, throw-away network
//! namespaces, a tiny HTTP/1.1 server and HTTPS servers with certificates made on the spot.
//! Loopback and namespace-private addresses only; never touches the host's network setup.
#![allow(dead_code)] // each test file uses a different part

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use nocscope::config::{Target, TargetKind};
use nocscope::model::TargetId;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

pub fn target(name: &str, timeout: Duration, kind: TargetKind) -> Target {
    Target {
        id: TargetId(0),
        name: name.to_string(),
        host: name.to_string(),
        interval: Duration::from_secs(5),
        timeout,
        labels: BTreeMap::new(),
        kind,
    }
}

/// An address inside the namespace made by `in_fresh_netns` that nothing answers: its route
/// points into loopback, where the packet arrives for an address nobody owns and, with
/// forwarding off, is dropped without any reply (no module needed, unlike a dummy interface).
pub const SILENT_ADDR: &str = "10.213.0.2";

/// Run `f` on a new thread moved into a fresh network namespace (network namespaces belong to a
/// thread, so the rest of the test process keeps the host's). Inside: loopback up and a route
/// for 10.213.0.0/24 into it, so `SILENT_ADDR` is routable but silent; nothing else is routed. The namespace
/// disappears with the thread. `Err` when the process may not create namespaces (not root).
pub fn in_fresh_netns<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T, String> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                // SAFETY: plain syscall; affects only this thread.
                if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                    return Err(format!(
                        "unshare(CLONE_NEWNET): {}",
                        std::io::Error::last_os_error()
                    ));
                }
                // Children forked from this thread inherit its namespace.
                for args in [
                    &["link", "set", "lo", "up"][..],
                    &["route", "add", "10.213.0.0/24", "dev", "lo"],
                ] {
                    let status = std::process::Command::new("ip")
                        .args(args)
                        .status()
                        .map_err(|e| format!("ip {args:?}: {e}"))?;
                    if !status.success() {
                        return Err(format!("ip {args:?}: {status}"));
                    }
                }
                Ok(f())
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// Give up root on the calling thread only (raw syscalls: glibc would apply them to every
/// thread): uid/gid 65534, no supplementary groups, and with the uid change the kernel clears
/// every capability, CAP_NET_RAW included.
pub fn become_nobody_on_this_thread() -> Result<(), String> {
    // SAFETY: plain syscalls with integer arguments and a null group list of length 0.
    unsafe {
        if libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) != 0 {
            return Err(format!("setgroups: {}", std::io::Error::last_os_error()));
        }
        if libc::syscall(libc::SYS_setresgid, 65534, 65534, 65534) != 0 {
            return Err(format!("setresgid: {}", std::io::Error::last_os_error()));
        }
        if libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) != 0 {
            return Err(format!("setresuid: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

pub fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"))
}

/// Status, extra headers, body, and a delay (ms) before answering.
type Reply = (u16, Vec<(&'static str, String)>, Vec<u8>, Option<u64>);

/// A response the test server gives to one path.
fn respond(path: &str, head: &str) -> Reply {
    let mut parts = path.trim_start_matches('/').split('/');
    match (parts.next(), parts.next()) {
        (Some("ok"), _) => (200, vec![], b"hello from nocscope tests".to_vec(), None),
        (Some("status"), Some(code)) => (
            code.parse().unwrap_or(400),
            vec![],
            format!("status {code}").into_bytes(),
            None,
        ),
        (Some("redirect"), Some(n)) => match n.parse::<u32>() {
            Ok(0) | Err(_) => (200, vec![], b"landed".to_vec(), None),
            Ok(n) => (
                302,
                vec![("Location", format!("/redirect/{}", n - 1))],
                vec![],
                None,
            ),
        },
        // Cross-origin redirect: /to/<port> sends the client to another server's /auth.
        (Some("to"), Some(port)) => (
            302,
            vec![("Location", format!("http://127.0.0.1:{port}/auth"))],
            vec![],
            None,
        ),
        (Some("loop"), _) => (302, vec![("Location", "/loop".to_string())], vec![], None),
        (Some("see-other"), _) => (303, vec![("Location", "/method".to_string())], vec![], None),
        (Some("method"), _) => {
            let method = head.split(' ').next().unwrap_or("").to_string();
            (200, vec![], method.into_bytes(), None)
        }
        (Some("big"), Some(n)) => (200, vec![], vec![b'x'; n.parse().unwrap_or(0)], None),
        (Some("slow"), Some(ms)) => (200, vec![], b"late".to_vec(), ms.parse().ok()),
        (Some("auth"), _) => {
            let auth = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("authorization")
                        .then(|| v.trim().to_string())
                })
                .unwrap_or_else(|| "none".to_string());
            (200, vec![], auth.into_bytes(), None)
        }
        _ => (404, vec![], b"not found".to_vec(), None),
    }
}

async fn serve_one<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let path = head.split(' ').nth(1).unwrap_or("/").to_string();
    let is_head = head.starts_with("HEAD ");
    let (status, headers, body, delay_ms) = respond(&path, &head);
    if let Some(ms) = delay_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let mut out = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if !is_head {
        bytes.extend_from_slice(&body);
    }
    let _ = stream.write_all(&bytes).await;
    let _ = stream.shutdown().await;
}

/// A plain HTTP/1.1 server on 127.0.0.1 with the routes of `respond`.
pub async fn spawn_http() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("local_addr: {e}"));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_one(stream));
        }
    });
    addr
}

/// An HTTPS server on 127.0.0.1 presenting `chain` (leaf first).
pub async fn spawn_https(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .unwrap_or_else(|e| panic!("server TLS config: {e}"));
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("local_addr: {e}"));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that rejects our certificate aborts the handshake; that is the test.
                if let Ok(tls) = acceptor.accept(stream).await {
                    serve_one(tls).await;
                }
            });
        }
    });
    addr
}

/// A test certificate authority; leaves it signs verify when it is passed as an extra root.
pub struct TestCa {
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
    pub cert: CertificateDer<'static>,
}

/// A generated certificate with its key and the `notAfter` it was given (ms since epoch).
pub struct Leaf {
    pub cert: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
    pub not_after_ms: i64,
}

/// Validity as (year, month, day) pairs; dates, not "now ± n", so the tests read the same
/// whenever they run (the "valid" dates reach far into the future, the expired ones are past).
pub type Ymd = (i32, u8, u8);

fn params(sans: &[&str], not_before: Ymd, not_after: Ymd) -> rcgen::CertificateParams {
    let names: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    let mut params =
        rcgen::CertificateParams::new(names).unwrap_or_else(|e| panic!("cert params: {e}"));
    params.not_before = rcgen::date_time_ymd(not_before.0, not_before.1, not_before.2);
    params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        sans.first().copied().unwrap_or("test"),
    );
    params
}

fn key_der(key: &rcgen::KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()))
}

fn new_key() -> rcgen::KeyPair {
    rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("key: {e}"))
}

impl TestCa {
    pub fn new(name: &str, not_after: Ymd) -> TestCa {
        let mut params = params(&[], (2020, 1, 1), not_after);
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let key = new_key();
        let cert = params
            .self_signed(&key)
            .unwrap_or_else(|e| panic!("CA cert: {e}"));
        TestCa {
            params,
            key,
            cert: cert.der().clone(),
        }
    }

    /// A sub-CA signed by this one.
    pub fn intermediate(&self, name: &str, not_after: Ymd) -> TestCa {
        let sub = TestCa::new(name, not_after);
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        let cert = sub
            .params
            .signed_by(&sub.key, &issuer)
            .unwrap_or_else(|e| panic!("intermediate cert: {e}"));
        TestCa {
            cert: cert.der().clone(),
            ..sub
        }
    }

    pub fn leaf(&self, sans: &[&str], not_before: Ymd, not_after: Ymd) -> Leaf {
        let params = params(sans, not_before, not_after);
        let key = new_key();
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        let cert = params
            .signed_by(&key, &issuer)
            .unwrap_or_else(|e| panic!("leaf cert: {e}"));
        Leaf {
            cert: cert.der().clone(),
            key: key_der(&key),
            not_after_ms: params.not_after.unix_timestamp() * 1000,
        }
    }
}

/// A certificate signed by its own key, as on a freshly installed appliance.
pub fn self_signed(sans: &[&str], not_before: Ymd, not_after: Ymd) -> Leaf {
    let params = params(sans, not_before, not_after);
    let key = new_key();
    let cert = params
        .self_signed(&key)
        .unwrap_or_else(|e| panic!("self-signed cert: {e}"));
    Leaf {
        cert: cert.der().clone(),
        key: key_der(&key),
        not_after_ms: params.not_after.unix_timestamp() * 1000,
    }
}
