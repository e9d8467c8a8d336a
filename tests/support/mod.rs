//! Shared test helpers: a real `prometheus-node-exporter` on loopback, and small hand-written
//! loopback HTTP servers with scripted faults. Test code only: loopback addresses, nothing else;
//! every process and server stops when its handle is dropped.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// A port that was free a moment ago on 127.0.0.1 (bind to port 0, read it, release it).
pub fn free_port() -> u16 {
    match TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(addr) => addr.port(),
        Err(e) => panic!("support::free_port: cannot bind 127.0.0.1:0: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The real node_exporter

const NODE_EXPORTER_NAMES: [&str; 2] = ["prometheus-node-exporter", "node_exporter"];
const NODE_EXPORTER_MISSING: &str = "prometheus-node-exporter is not installed: run scripts/test or apt-get install prometheus-node-exporter";

/// Debian's `prometheus-node-exporter` on a free 127.0.0.1 port, killed on drop.
pub struct NodeExporter {
    child: Child,
    addr: SocketAddr,
}

impl NodeExporter {
    /// Start it and wait (bounded) until `/metrics` answers 200. A missing binary panics:
    /// collectors are tested against the real thing, never silently skipped.
    pub fn start() -> NodeExporter {
        let binary = find_node_exporter().unwrap_or_else(|| panic!("{NODE_EXPORTER_MISSING}"));
        // Port races with another test grabbing the same free port are possible; retry a few
        // times with a new port rather than fail.
        let mut last_error = String::new();
        for _ in 0..5 {
            let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let child = Command::new(&binary)
                .arg(format!("--web.listen-address={addr}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let child = match child {
                Ok(c) => c,
                Err(e) => panic!("support: cannot start {}: {e}", binary.display()),
            };
            let mut exporter = NodeExporter { child, addr };
            match exporter.wait_ready() {
                Ok(()) => return exporter,
                Err(e) => last_error = e,
            }
        }
        panic!("support: node_exporter never answered on /metrics: {last_error}");
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        for _ in 0..100 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited early with {status}"));
            }
            if let Ok(head) = raw_get(self.addr, "/metrics")
                && head.starts_with("HTTP/1.1 200")
            {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(50));
        }
        Err("no 200 from /metrics after 100 tries".into())
    }
}

impl Drop for NodeExporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_node_exporter() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.push(PathBuf::from("/usr/bin"));
    dirs.iter()
        .flat_map(|d| NODE_EXPORTER_NAMES.iter().map(move |n| d.join(n)))
        .find(|p| p.is_file())
}

/// The status line and headers of a plain GET, read with std only (no HTTP stack under test).
fn raw_get(addr: SocketAddr, path: &str) -> io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(200))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf)?;
    Ok(String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned())
}

// ---------------------------------------------------------------------------------------------
// Scripted loopback servers

/// What a test server does with each request. Every connection gets `Connection: close`, so one
/// request is one connection and the counters below count polls.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Accept, read the request, never answer.
    Hang,
    /// Send 200 headers, then one byte every 100 ms until the client goes away.
    Trickle,
    /// Answer with this status and an empty body.
    Status(u16),
    /// `302` to its own URL, forever.
    RedirectLoop,
    /// 200 `text/plain; version=0.0.4` with `len` bytes of exposition-looking text.
    Body { len: usize },
    /// 200 with `len` bytes streamed from a small buffer, so a multi-gigabyte body costs the
    /// server nothing; it stops when the client does. With `announce` the length is sent as
    /// Content-Length, otherwise the body ends when the connection closes.
    Huge { len: u64, announce: bool },
    /// 200 with these exact bytes and, when given, this Content-Type.
    Fixed {
        content_type: Option<String>,
        body: Vec<u8>,
    },
    /// 200 with `body` gzip-compressed and `Content-Encoding: gzip`.
    Gzip { body: Vec<u8> },
    /// A gzip stream of zeros that inflates to `inflated` bytes; compressed on the fly, so
    /// the wire carries about a thousandth of that and the server stops when the client does.
    GzipBomb { inflated: u64 },
    /// `Content-Encoding: gzip` over bytes that are not gzip.
    BrokenGzip,
    /// 200 without a Content-Type header.
    NoContentType,
    /// Announce `claimed` bytes in Content-Length, send `sent`, close.
    Truncated { claimed: usize, sent: usize },
    /// Like `Body`, but wait `delay` before answering.
    Slow { delay: Duration, len: usize },
    /// Hold every request until `gate` has seen at least one request, then answer like `Body`.
    /// Lets a test prove two polls were in flight at once without measuring time.
    WaitFor { gate: Arc<AtomicUsize>, len: usize },
}

/// One request as the server saw it. Header names are lowercase.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A running test server; it stops (and its connections wind down) when dropped.
pub struct TestServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<Request>>,
    /// Requests received (also the gate other servers can wait for).
    hits: Arc<AtomicUsize>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl TestServer {
    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests seen so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    pub fn hits(&self) -> usize {
        self.shared.hits.load(Ordering::SeqCst)
    }

    /// A counter that rises with each request, for `Behaviour::WaitFor` on another server.
    pub fn hit_counter(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.shared.hits)
    }

    /// Most requests this server was ever handling at the same moment.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
    }
}

/// Start a server on a free 127.0.0.1 port that answers every request with `behaviour`.
pub fn serve(behaviour: Behaviour) -> TestServer {
    let listener = match TcpListener::bind("127.0.0.1:0") {
        Ok(l) => l,
        Err(e) => panic!("support::serve: cannot bind 127.0.0.1:0: {e}"),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => panic!("support::serve: no local address: {e}"),
    };
    // Non-blocking accept so the acceptor can notice `stop` and the Drop can join it.
    if let Err(e) = listener.set_nonblocking(true) {
        panic!("support::serve: cannot make the listener non-blocking: {e}");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(Shared::default());
    let acceptor = {
        let stop = Arc::clone(&stop);
        let shared = Arc::clone(&shared);
        thread::spawn(move || accept_loop(listener, addr, behaviour, stop, shared))
    };
    TestServer {
        addr,
        stop,
        shared,
        acceptor: Some(acceptor),
    }
}

fn accept_loop(
    listener: TcpListener,
    addr: SocketAddr,
    behaviour: Behaviour,
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
) {
    let mut workers = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let behaviour = behaviour.clone();
                let stop = Arc::clone(&stop);
                let shared = Arc::clone(&shared);
                workers.push(thread::spawn(move || {
                    let _ = handle(stream, addr, &behaviour, &stop, &shared);
                }));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
        workers.retain(|w| !w.is_finished());
    }
    // Workers watch `stop` too, so this join is short.
    for w in workers {
        let _ = w.join();
    }
}

/// Decrements the in-flight count however the handler ends.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn enter(shared: &'a Shared) -> InFlight<'a> {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn handle(
    mut stream: TcpStream,
    addr: SocketAddr,
    behaviour: &Behaviour,
    stop: &AtomicBool,
    shared: &Shared,
) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    // Writes to a client that stopped reading must not pin this thread past the test.
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let Some(request) = read_request(&mut stream)? else {
        return Ok(());
    };
    let _guard = InFlight::enter(shared);
    if let Ok(mut r) = shared.requests.lock() {
        r.push(request);
    }
    shared.hits.fetch_add(1, Ordering::SeqCst);

    match behaviour {
        Behaviour::Hang => {
            sleep_until_stopped(stop, None);
            Ok(())
        }
        Behaviour::Trickle => {
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nConnection: close\r\n\r\n")?;
            while !stop.load(Ordering::SeqCst) {
                stream.write_all(b"#")?;
                stream.flush()?;
                thread::sleep(Duration::from_millis(100));
            }
            Ok(())
        }
        Behaviour::Status(code) => respond(&mut stream, *code, &[], b""),
        Behaviour::RedirectLoop => {
            let location = format!("http://{addr}/metrics");
            respond(&mut stream, 302, &[("Location", &location)], b"")
        }
        Behaviour::Body { len } => respond_text(&mut stream, &exposition(*len)),
        Behaviour::Huge { len, announce } => {
            let length = if *announce {
                format!("Content-Length: {len}\r\n")
            } else {
                String::new()
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n{length}Connection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes())?;
            let piece = exposition(64 * 1024);
            let mut left = *len;
            while left > 0 && !stop.load(Ordering::SeqCst) {
                let n = usize::try_from(left.min(piece.len() as u64)).unwrap_or(piece.len());
                stream.write_all(piece.get(..n).unwrap_or_default())?;
                left -= n as u64;
            }
            stream.flush()
        }
        Behaviour::Fixed { content_type, body } => match content_type {
            Some(ct) => respond(&mut stream, 200, &[("Content-Type", ct)], body),
            None => respond(&mut stream, 200, &[], body),
        },
        Behaviour::Gzip { body } => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(body)?;
            let compressed = enc.finish()?;
            respond(
                &mut stream,
                200,
                &[
                    ("Content-Type", "text/plain; version=0.0.4"),
                    ("Content-Encoding", "gzip"),
                ],
                &compressed,
            )
        }
        Behaviour::GzipBomb { inflated } => {
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Encoding: gzip\r\nConnection: close\r\n\r\n")?;
            let mut enc = flate2::write::GzEncoder::new(&mut stream, flate2::Compression::best());
            let zeros = vec![0u8; 64 * 1024];
            let mut left = *inflated;
            while left > 0 && !stop.load(Ordering::SeqCst) {
                let n = usize::try_from(left.min(zeros.len() as u64)).unwrap_or(zeros.len());
                enc.write_all(zeros.get(..n).unwrap_or_default())?;
                left -= n as u64;
            }
            enc.finish()?;
            Ok(())
        }
        Behaviour::BrokenGzip => respond(
            &mut stream,
            200,
            &[
                ("Content-Type", "text/plain; version=0.0.4"),
                ("Content-Encoding", "gzip"),
            ],
            b"this is not a gzip stream at all, not even its header",
        ),
        Behaviour::NoContentType => respond(&mut stream, 200, &[], &exposition(64)),
        Behaviour::Truncated { claimed, sent } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {claimed}\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes())?;
            stream.write_all(&exposition(*sent))?;
            stream.flush()?;
            stream.shutdown(Shutdown::Both)
        }
        Behaviour::Slow { delay, len } => {
            sleep_until_stopped(stop, Some(*delay));
            respond_text(&mut stream, &exposition(*len))
        }
        Behaviour::WaitFor { gate, len } => {
            while gate.load(Ordering::SeqCst) == 0 && !stop.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(5));
            }
            respond_text(&mut stream, &exposition(*len))
        }
    }
}

fn sleep_until_stopped(stop: &AtomicBool, limit: Option<Duration>) {
    let step = Duration::from_millis(10);
    let mut slept = Duration::ZERO;
    while !stop.load(Ordering::SeqCst) && limit.is_none_or(|l| slept < l) {
        thread::sleep(step);
        slept += step;
    }
}

/// Read up to the blank line ending the headers (requests here are GETs without a body).
fn read_request(stream: &mut TcpStream) -> io::Result<Option<Request>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > 64 * 1024 {
            return Ok(None);
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_owned();
    let path = first.next().unwrap_or_default().to_owned();
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Some(Request {
        method,
        path,
        headers,
    }))
}

fn reason_phrase(code: u16) -> &'static str {
    match code {
        200 => "OK",
        302 => "Found",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn respond(
    stream: &mut TcpStream,
    code: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {code} {}\r\n", reason_phrase(code));
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes())?;
    // Big bodies go out in pieces so a client that stops reading ends the write with an error.
    for piece in body.chunks(64 * 1024) {
        stream.write_all(piece)?;
    }
    stream.flush()
}

fn respond_text(stream: &mut TcpStream, body: &[u8]) -> io::Result<()> {
    respond(
        stream,
        200,
        &[("Content-Type", "text/plain; version=0.0.4")],
        body,
    )
}

/// `len` bytes of valid-looking 0.0.4 exposition, so a body is plausible to any reader.
pub fn exposition(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut i = 0u64;
    while out.len() < len {
        out.extend_from_slice(format!("test_metric{{n=\"{i}\"}} {i}\n").as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

// ---------------------------------------------------------------------------------------------
// Config values for tests (the loader is not needed to build them: every field is pub)

use nocscope::config::{
    Compression, Config, Defaults, ExporterTarget, Storage, Target, TargetKind,
};
use nocscope::model::TargetId;

/// An exporter target with a 1 s interval, a 2 s deadline and no caps; adjust fields as needed.
pub fn exporter_target(id: u32, name: &str, url: &str) -> Target {
    let url = match url::Url::parse(url) {
        Ok(u) => u,
        Err(e) => panic!("support::exporter_target: bad url {url:?}: {e}"),
    };
    Target {
        id: TargetId(id),
        name: name.to_owned(),
        host: name.to_owned(),
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(2),
        labels: Default::default(),
        kind: TargetKind::Exporter(ExporterTarget {
            url,
            auth: None,
            body_limit: 0,
            sample_limit: 0,
            compression: Compression::Auto,
        }),
    }
}

/// The exporter part of a target built by `exporter_target`.
pub fn exporter_of(target: &Target) -> &ExporterTarget {
    match &target.kind {
        TargetKind::Exporter(e) => e,
        _ => panic!(
            "support::exporter_of: {} is not an exporter target",
            target.name
        ),
    }
}

pub fn exporter_of_mut(target: &mut Target) -> &mut ExporterTarget {
    let name = target.name.clone();
    match &mut target.kind {
        TargetKind::Exporter(e) => e,
        _ => panic!("support::exporter_of_mut: {name} is not an exporter target"),
    }
}

/// An in-memory config holding `targets`; their ids must already be their indexes.
pub fn config_with(targets: Vec<Target>) -> Config {
    Config {
        source: None,
        defaults: Defaults {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
            data_dir: std::env::temp_dir(),
            body_limit: 0,
            sample_limit: 0,
        },
        storage: Storage {
            retention: Duration::from_secs(3600),
            max_size: 0,
        },
        anomaly: Default::default(),
        ui: Default::default(),
        rules: nocscope::config::rules::default_rule_specs(),
        rule_files: Vec::new(),
        notify: None,
        targets,
    }
}
