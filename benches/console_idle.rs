//! Measurement harness for the console's idle cost and input latency (issue #3): runs the real
//! release binary in a pseudo-terminal it owns, against loopback exporters it starts, and prints
//! figures. Owns nothing in src/; never asserts times; talks only to 127.0.0.1.
//!
//! Scenarios (NOCSCOPE_PERF = idle | latency | all, default all):
//! - idle: 50 exporter targets at 15 s spread over a few real `prometheus-node-exporter`
//!   processes; after a settle period, CPU time from /proc/<pid>/stat and bytes the console wrote
//!   to its PTY over the window.
//! - latency: 500 targets (default interval 10 s) against tiny loopback servers that serve a body
//!   captured once from a real node_exporter; a key (`?`, open help) is typed and the time until
//!   the help frame's title appears in the PTY output is taken, 200 samples.
//!
//! Knobs (all optional): NOCSCOPE_SETTLE_S (20), NOCSCOPE_IDLE_S (90), NOCSCOPE_EXPORTERS (3),
//! NOCSCOPE_LAT_TARGETS (500), NOCSCOPE_LAT_INTERVAL (10s), NOCSCOPE_LAT_SAMPLES (200),
//! NOCSCOPE_BIN (the binary; default the one cargo built for this bench), NOCSCOPE_DUMP (a file
//! to receive the bytes written during the idle window), NOCSCOPE_COMPRESSION (auto | gzip |
//! none, written as every target's `compression`; unset leaves the console's default).

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const COLS: u16 = 200;
const ROWS: u16 = 50;
/// The help popup's title: it appears only in the frame the `?` key causes, so a frame drawn
/// for a snapshot at the same moment cannot be mistaken for the key's frame.
const HELP_MARKER: &[u8] = b"j/k scroll";

type Res<T> = Result<T, String>;

fn main() {
    // `cargo bench` passes `--bench`; any other argument is a scenario filter.
    let which = std::env::var("NOCSCOPE_PERF").unwrap_or_else(|_| "all".into());
    let result = (|| -> Res<()> {
        let bin = binary()?;
        println!("binary: {}", bin.display());
        println!("machine: {} cores, loadavg at start {}", cores(), loadavg());
        if which == "all" || which == "idle" {
            idle(&bin)?;
        }
        if which == "all" || which == "latency" {
            latency(&bin)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        eprintln!("console_idle: {e}");
        std::process::exit(1);
    }
}

fn binary() -> Res<PathBuf> {
    if let Some(p) = std::env::var_os("NOCSCOPE_BIN") {
        return Ok(PathBuf::from(p));
    }
    match option_env!("CARGO_BIN_EXE_nocscope") {
        Some(p) => Ok(PathBuf::from(p)),
        None => {
            Err("set NOCSCOPE_BIN to the nocscope binary (cargo did not say where it is)".into())
        }
    }
}

fn env_u64(name: &str, default: u64) -> Res<u64> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .map_err(|_| format!("{name}={v:?}: expected a whole number")),
        Err(_) => Ok(default),
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios

fn idle(bin: &Path) -> Res<()> {
    let settle = env_u64("NOCSCOPE_SETTLE_S", 20)?;
    let window = env_u64("NOCSCOPE_IDLE_S", 90)?;
    let n_exporters = env_u64("NOCSCOPE_EXPORTERS", 3)?.max(1);
    let exporters = (0..n_exporters)
        .map(|_| NodeExporter::start())
        .collect::<Res<Vec<_>>>()?;
    let urls: Vec<String> = exporters.iter().map(|e| e.url()).collect();
    let dir = TempDir::new("idle")?;
    let config = write_config(&dir.0, &urls, 50, "15s")?;
    println!(
        "\n== idle: 50 exporter targets at 15s over {n_exporters} real node_exporters, {COLS}x{ROWS} PTY, settle {settle}s, window {window}s"
    );
    let mut console = Console::start(bin, &config)?;
    thread::sleep(Duration::from_secs(settle));
    console.alive()?;

    let cpu0 = cpu_ticks(console.pid())?;
    let threads0 = thread_ticks(console.pid());
    let switches0 = thread_switches(console.pid());
    let sys0 = SystemCpu::read()?;
    let (bytes0, _) = console.capture.snapshot_len();
    let t0 = Instant::now();
    // Per-15 s poll cycle figures, so one busy cycle is not averaged away.
    let mut cycles = Vec::new();
    let mut last = bytes0;
    let mut remaining = window;
    while remaining > 0 {
        let step = remaining.min(15);
        thread::sleep(Duration::from_secs(step));
        let (now, _) = console.capture.snapshot_len();
        cycles.push((step, now - last));
        last = now;
        remaining -= step;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu1 = cpu_ticks(console.pid())?;
    let threads1 = thread_ticks(console.pid());
    let switches1 = thread_switches(console.pid());
    let sys1 = SystemCpu::read()?;
    let (bytes1, frames) = console.capture.bursts_since(t0);
    console.alive()?;
    // What an idle frame consists of, for finding what limits the byte rate.
    if let Some(path) = std::env::var_os("NOCSCOPE_DUMP") {
        let window_bytes = console.capture.bytes_between(bytes0, bytes1);
        std::fs::write(&path, window_bytes)
            .map_err(|e| format!("writing NOCSCOPE_DUMP {}: {e}", Path::new(&path).display()))?;
    }

    let cpu_s = (cpu1 - cpu0) as f64 / clk_tck();
    println!(
        "idle CPU: {:.3} s over {:.1} s = {:.3} % of one core (target <= 0.5 %)",
        cpu_s,
        elapsed,
        100.0 * cpu_s / elapsed
    );
    // Where the idle CPU goes, by thread name (threads that began inside the window count whole).
    let mut by_name: Vec<(String, u64)> = Vec::new();
    for (tid, (name, t1)) in &threads1 {
        let t0 = threads0.get(tid).map_or(0, |(_, t)| *t);
        let d = t1.saturating_sub(t0);
        match by_name.iter_mut().find(|(n, _)| n == name) {
            Some((_, sum)) => *sum += d,
            None => by_name.push((name.clone(), d)),
        }
    }
    by_name.sort_by_key(|(_, d)| std::cmp::Reverse(*d));
    let shares: Vec<String> = by_name
        .iter()
        .filter(|(_, d)| *d > 0)
        .map(|(n, d)| format!("{n} {:.2}s", *d as f64 / clk_tck()))
        .collect();
    println!("  CPU by thread: {}", shares.join(", "));
    // Context switches: an idle console's cost is as much in waking up as in working.
    let mut switches: Vec<(String, u64)> = Vec::new();
    for (tid, (name, s1)) in &switches1 {
        let s0 = switches0.get(tid).map_or(0, |(_, s)| *s);
        let d = s1.saturating_sub(s0);
        match switches.iter_mut().find(|(n, _)| n == name) {
            Some((_, sum)) => *sum += d,
            None => switches.push((name.clone(), d)),
        }
    }
    switches.sort_by_key(|(_, d)| std::cmp::Reverse(*d));
    let per_s: Vec<String> = switches
        .iter()
        .filter(|(_, d)| *d > 0)
        .map(|(n, d)| format!("{n} {:.1}/s", *d as f64 / elapsed))
        .collect();
    println!("  context switches by thread: {}", per_s.join(", "));
    let bytes = bytes1 - bytes0;
    println!(
        "PTY output: {bytes} B over {elapsed:.1} s = {:.1} B/s ({:.3} KiB/s; target <= 2 KiB/s), {frames} write bursts",
        bytes as f64 / elapsed,
        bytes as f64 / elapsed / 1024.0
    );
    let worst = cycles
        .iter()
        .map(|(s, b)| *b as f64 / *s as f64)
        .fold(0.0, f64::max);
    println!(
        "  per cycle (s, bytes): {:?}; worst cycle {:.1} B/s",
        cycles, worst
    );
    println!(
        "  machine busy over the window: {:.1} % of {} cores; loadavg now {}",
        sys0.busy_pct(&sys1),
        cores(),
        loadavg()
    );
    console.quit();
    Ok(())
}

fn latency(bin: &Path) -> Res<()> {
    let settle = env_u64("NOCSCOPE_SETTLE_S", 20)?;
    let n_targets = env_u64("NOCSCOPE_LAT_TARGETS", 500)? as usize;
    let samples = env_u64("NOCSCOPE_LAT_SAMPLES", 200)? as usize;
    let interval = std::env::var("NOCSCOPE_LAT_INTERVAL").unwrap_or_else(|_| "10s".into());
    let n_servers = env_u64("NOCSCOPE_EXPORTERS", 3)?.max(1);

    // One real body, served from memory: the console parses what a node_exporter really sends,
    // without 500 node_exporter scrapes a cycle competing for the two cores.
    let body = {
        let e = NodeExporter::start()?;
        fetch_body(e.addr)?
    };
    let servers = (0..n_servers)
        .map(|_| FixedServer::start(Arc::clone(&body)))
        .collect::<Res<Vec<_>>>()?;
    let urls: Vec<String> = servers
        .iter()
        .map(|s| format!("http://{}/metrics", s.addr))
        .collect();
    let dir = TempDir::new("latency")?;
    let config = write_config(&dir.0, &urls, n_targets, &interval)?;
    println!(
        "\n== latency: {n_targets} targets at {interval} over {n_servers} loopback servers serving a captured node_exporter body ({} B), {COLS}x{ROWS} PTY, settle {settle}s, {samples} samples of `?` -> help frame",
        body.len()
    );
    let mut console = Console::start(bin, &config)?;
    thread::sleep(Duration::from_secs(settle));
    console.alive()?;

    let cpu0 = cpu_ticks(console.pid())?;
    let sys0 = SystemCpu::read()?;
    let t_run = Instant::now();
    let mut to_marker = Vec::with_capacity(samples);
    let mut to_first = Vec::with_capacity(samples);
    let mut quiet_sends = 0usize;
    let mut timeouts = 0usize;
    for _ in 0..samples {
        if console
            .capture
            .wait_quiet(Duration::from_millis(60), Duration::from_secs(1))
        {
            quiet_sends += 1;
        }
        let (from, _) = console.capture.snapshot_len();
        let sent = Instant::now();
        console.send(b"?")?;
        match console
            .capture
            .wait_marker(from, HELP_MARKER, Duration::from_secs(2))
        {
            Some((first, marker)) => {
                to_first.push(first.saturating_duration_since(sent));
                to_marker.push(marker.saturating_duration_since(sent));
            }
            None => timeouts += 1,
        }
        // Close help and let that frame go out before the next sample.
        thread::sleep(Duration::from_millis(20));
        console.send(b"?")?;
        thread::sleep(Duration::from_millis(40));
    }
    let elapsed = t_run.elapsed().as_secs_f64();
    let cpu1 = cpu_ticks(console.pid())?;
    let sys1 = SystemCpu::read()?;
    console.alive()?;
    to_marker.sort();
    to_first.sort();
    println!(
        "key -> help title on the PTY: p50 {} p99 {} max {} (target p99 <= 30 ms); n={} timeouts={timeouts}",
        ms(pct(&to_marker, 50.0)),
        ms(pct(&to_marker, 99.0)),
        ms(to_marker.last().copied()),
        to_marker.len()
    );
    println!(
        "key -> first byte after it: p50 {} p99 {}; {quiet_sends}/{samples} keys sent after >= 60 ms of PTY silence",
        ms(pct(&to_first, 50.0)),
        ms(pct(&to_first, 99.0)),
    );
    let cpu_s = (cpu1 - cpu0) as f64 / clk_tck();
    println!(
        "  console CPU during the run: {:.1} % of one core; machine busy {:.1} % of {} cores; loadavg now {}",
        100.0 * cpu_s / elapsed,
        sys0.busy_pct(&sys1),
        cores(),
        loadavg()
    );
    console.quit();
    drop(servers);
    Ok(())
}

fn pct(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    // Nearest rank: the smallest value with at least p % of samples at or below it.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

fn ms(d: Option<Duration>) -> String {
    match d {
        Some(d) => format!("{:.2} ms", d.as_secs_f64() * 1000.0),
        None => "-".into(),
    }
}

fn write_config(dir: &Path, urls: &[String], targets: usize, interval: &str) -> Res<PathBuf> {
    // Unset: the config says nothing and the console's default (auto) applies.
    let compression = std::env::var("NOCSCOPE_COMPRESSION").ok();
    let mut text = format!(
        "[defaults]\ninterval = \"{interval}\"\ntimeout = \"5s\"\ndata_dir = \"{}\"\n",
        dir.display()
    );
    for i in 0..targets {
        let url = urls
            .get(i % urls.len().max(1))
            .ok_or("write_config: no exporter URL to spread targets over")?;
        text.push_str(&format!(
            "\n[[target]]\nname = \"node-{i:03}\"\nkind = \"exporter\"\nhost = \"host-{i:03}\"\nurl = \"{url}\"\n"
        ));
        if let Some(c) = &compression {
            text.push_str(&format!("compression = \"{c}\"\n"));
        }
    }
    let path = dir.join("config.toml");
    std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(path)
}

// ---------------------------------------------------------------------------------------------
// The console in a PTY

struct Console {
    child: Child,
    writer: File,
    capture: Capture,
}

impl Console {
    fn start(bin: &Path, config: &Path) -> Res<Console> {
        let (master, slave) = open_pty(COLS, ROWS)?;
        let io = |fd: &OwnedFd| {
            fd.try_clone()
                .map(Stdio::from)
                .map_err(|e| format!("dup of the PTY slave: {e}"))
        };
        let mut cmd = Command::new(bin);
        cmd.arg("--config")
            .arg(config)
            .env("TERM", "xterm-256color")
            .env_remove("NO_COLOR")
            .stdin(io(&slave)?)
            .stdout(io(&slave)?)
            .stderr(io(&slave)?);
        // SAFETY: only async-signal-safe calls between fork and exec. A new session with the
        // PTY as controlling terminal is what an SSH login gives the console.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("starting {}: {e}", bin.display()))?;
        drop(slave);
        let master = File::from(master);
        let writer = master
            .try_clone()
            .map_err(|e| format!("dup of the PTY master: {e}"))?;
        let answer = master
            .try_clone()
            .map_err(|e| format!("dup of the PTY master: {e}"))?;
        let capture = Capture::default();
        capture.spawn_reader(master, answer);
        Ok(Console {
            child,
            writer,
            capture,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn alive(&mut self) -> Res<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => {
                let tail = self.capture.tail(2000);
                Err(format!(
                    "the console exited early with {status}; last output: {tail}"
                ))
            }
            Err(e) => Err(format!("waiting on the console: {e}")),
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Res<()> {
        self.writer
            .write_all(bytes)
            .map_err(|e| format!("typing into the PTY: {e}"))
    }

    /// Ctrl-C is bound to quit; kill if it does not go within a few seconds.
    fn quit(mut self) {
        let _ = self.send(b"\x03");
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
        println!("  (the console did not quit on Ctrl-C within 5 s; killed)");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn open_pty(cols: u16, rows: u16) -> Res<(OwnedFd, OwnedFd)> {
    let mut master: libc::c_int = -1;
    let mut slave: libc::c_int = -1;
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: out-pointers to live locals; name and termios may be null per openpty(3).
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    if rc != 0 {
        return Err(format!("openpty: {}", io::Error::last_os_error()));
    }
    // SAFETY: openpty succeeded, so both are fresh descriptors that nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) })
}

/// Everything the console wrote, with the time each read returned.
#[derive(Clone, Default)]
struct Capture {
    inner: Arc<Mutex<CaptureInner>>,
}

#[derive(Default)]
struct CaptureInner {
    bytes: Vec<u8>,
    /// (time of the read, offset just past its bytes)
    reads: Vec<(Instant, usize)>,
}

impl Capture {
    fn spawn_reader(&self, mut master: File, mut answer: File) {
        let inner = Arc::clone(&self.inner);
        thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                // EIO once the child closes the slave: the run is over.
                let n = match master.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let now = Instant::now();
                let chunk = buf.get(..n).unwrap_or_default();
                // A cursor position query would otherwise wait for a terminal that never answers.
                if memchr_seq(chunk, b"\x1b[6n") {
                    let _ = answer.write_all(b"\x1b[1;1R");
                }
                let Ok(mut g) = inner.lock() else { return };
                g.bytes.extend_from_slice(chunk);
                let end = g.bytes.len();
                g.reads.push((now, end));
            }
        });
    }

    fn snapshot_len(&self) -> (usize, usize) {
        match self.inner.lock() {
            Ok(g) => (g.bytes.len(), g.reads.len()),
            Err(_) => (0, 0),
        }
    }

    /// Total bytes so far and the number of write bursts (reads > 5 ms apart) since `t0`.
    fn bursts_since(&self, t0: Instant) -> (usize, usize) {
        let Ok(g) = self.inner.lock() else {
            return (0, 0);
        };
        let mut bursts = 0;
        let mut prev: Option<Instant> = None;
        for (t, _) in g.reads.iter().filter(|(t, _)| *t >= t0) {
            if prev.is_none_or(|p| t.saturating_duration_since(p) > Duration::from_millis(5)) {
                bursts += 1;
            }
            prev = Some(*t);
        }
        (g.bytes.len(), bursts)
    }

    fn last_read(&self) -> Option<Instant> {
        self.inner
            .lock()
            .ok()
            .and_then(|g| g.reads.last().map(|(t, _)| *t))
    }

    /// Wait until nothing has been read for `gap`, at most `limit`; false if it never got quiet.
    fn wait_quiet(&self, gap: Duration, limit: Duration) -> bool {
        let start = Instant::now();
        loop {
            let since = self
                .last_read()
                .map_or(gap, |t| Instant::now().saturating_duration_since(t));
            if since >= gap {
                return true;
            }
            if start.elapsed() >= limit {
                return false;
            }
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// The time of the first read past `from`, and of the read that completed `marker`.
    fn wait_marker(
        &self,
        from: usize,
        marker: &[u8],
        limit: Duration,
    ) -> Option<(Instant, Instant)> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(g) = self.inner.lock()
                && let Some(pos) = find(g.bytes.get(from..).unwrap_or_default(), marker)
            {
                let end = from + pos + marker.len();
                let first = g.reads.iter().find(|(_, e)| *e > from).map(|(t, _)| *t);
                let done = g.reads.iter().find(|(_, e)| *e >= end).map(|(t, _)| *t);
                if let (Some(f), Some(d)) = (first, done) {
                    return Some((f, d));
                }
            }
            thread::sleep(Duration::from_micros(200));
        }
        None
    }

    fn bytes_between(&self, from: usize, to: usize) -> Vec<u8> {
        match self.inner.lock() {
            Ok(g) => g.bytes.get(from..to).unwrap_or_default().to_vec(),
            Err(_) => Vec::new(),
        }
    }

    fn tail(&self, n: usize) -> String {
        match self.inner.lock() {
            Ok(g) => {
                let start = g.bytes.len().saturating_sub(n);
                String::from_utf8_lossy(g.bytes.get(start..).unwrap_or_default()).into_owned()
            }
            Err(_) => String::new(),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn memchr_seq(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

// ---------------------------------------------------------------------------------------------
// /proc

/// utime + stime of the whole process (all threads), in clock ticks.
fn cpu_ticks(pid: u32) -> Res<u64> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))?;
    // The command name may hold spaces and parentheses; fields are counted after the last ')'.
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| format!("{path}: no ')' after the command name"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')' field 3 (state) is index 0, so utime (14) is 11 and stime (15) is 12.
    let get = |i: usize| -> Res<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| format!("{path}: field {} is not a number", i + 3))
    };
    Ok(get(11)? + get(12)?)
}

/// Per thread: tid -> (name, utime + stime). Threads that vanish between reads are skipped.
fn thread_ticks(pid: u32) -> std::collections::HashMap<String, (String, u64)> {
    let mut out = std::collections::HashMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for entry in dir.flatten() {
        let tid = entry.file_name().to_string_lossy().into_owned();
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let name = std::fs::read_to_string(entry.path().join("comm"))
            .map(|c| c.trim().to_string())
            .unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, r)| r.split_whitespace().collect())
            .unwrap_or_default();
        let tick = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        out.insert(tid, (name, tick(11) + tick(12)));
    }
    out
}

/// Per thread: tid -> (name, voluntary + involuntary context switches so far).
fn thread_switches(pid: u32) -> std::collections::HashMap<String, (String, u64)> {
    let mut out = std::collections::HashMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for entry in dir.flatten() {
        let tid = entry.file_name().to_string_lossy().into_owned();
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let mut name = String::new();
        let mut switches = 0u64;
        for line in status.lines() {
            if let Some(n) = line.strip_prefix("Name:") {
                name = n.trim().to_string();
            } else if line.starts_with("voluntary_ctxt_switches:")
                || line.starts_with("nonvoluntary_ctxt_switches:")
            {
                switches += line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
        out.insert(tid, (name, switches));
    }
    out
}

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

fn cores() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// The machine-wide `cpu` line of /proc/stat: how busy the other engineers kept the cores.
struct SystemCpu {
    busy: u64,
    total: u64,
}

impl SystemCpu {
    fn read() -> Res<SystemCpu> {
        let text = std::fs::read_to_string("/proc/stat")
            .map_err(|e| format!("reading /proc/stat: {e}"))?;
        let line = text
            .lines()
            .find(|l| l.starts_with("cpu "))
            .ok_or("/proc/stat: no cpu line")?;
        let v: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        let total: u64 = v.iter().take(8).sum();
        // idle and iowait are the 4th and 5th numbers.
        let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
        Ok(SystemCpu {
            busy: total.saturating_sub(idle),
            total,
        })
    }

    fn busy_pct(&self, later: &SystemCpu) -> f64 {
        let total = later.total.saturating_sub(self.total);
        if total == 0 {
            return 0.0;
        }
        100.0 * later.busy.saturating_sub(self.busy) as f64 / total as f64
    }
}

// ---------------------------------------------------------------------------------------------
// Loopback exporters

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Res<TempDir> {
        let path = std::env::temp_dir().join(format!(
            "nocscope-perf-{tag}-{}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos()
        ));
        std::fs::create_dir_all(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> Res<u16> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot bind 127.0.0.1:0: {e}"))
}

struct NodeExporter {
    child: Child,
    addr: SocketAddr,
}

impl NodeExporter {
    fn start() -> Res<NodeExporter> {
        let bin = [
            "/usr/bin/prometheus-node-exporter",
            "/usr/bin/node_exporter",
        ]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or(
            "prometheus-node-exporter is not installed (apt-get install prometheus-node-exporter)",
        )?;
        let mut last = String::new();
        // A free port can be taken between the probe and the exporter's bind: retry.
        for _ in 0..5 {
            let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
            let child = Command::new(&bin)
                .arg(format!("--web.listen-address={addr}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("starting {}: {e}", bin.display()))?;
            let mut e = NodeExporter { child, addr };
            for _ in 0..100 {
                if let Ok(Some(s)) = e.child.try_wait() {
                    last = format!("exited with {s}");
                    break;
                }
                if fetch_body(addr).is_ok() {
                    return Ok(e);
                }
                thread::sleep(Duration::from_millis(50));
            }
        }
        Err(format!("node_exporter never answered on /metrics: {last}"))
    }

    fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }
}

impl Drop for NodeExporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET /metrics over HTTP/1.0, so the body comes plain (no chunks, no gzip) and ends at close.
fn fetch_body(addr: SocketAddr) -> Res<Arc<Vec<u8>>> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500))
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .map_err(|e| format!("writing to {addr}: {e}"))?;
    let mut all = Vec::new();
    s.read_to_end(&mut all)
        .map_err(|e| format!("reading from {addr}: {e}"))?;
    if !all.starts_with(b"HTTP/1.0 200") && !all.starts_with(b"HTTP/1.1 200") {
        return Err(format!("{addr}: not a 200 answer"));
    }
    let at = find(&all, b"\r\n\r\n").ok_or_else(|| format!("{addr}: no end of headers"))?;
    Ok(Arc::new(all.get(at + 4..).unwrap_or_default().to_vec()))
}

/// A keep-alive HTTP/1.1 server on 127.0.0.1 that answers every request with the same body.
/// Its threads end with the process (the harness exits right after the run).
struct FixedServer {
    addr: SocketAddr,
}

impl FixedServer {
    fn start(body: Arc<Vec<u8>>) -> Res<FixedServer> {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding a server: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("server address: {e}"))?;
        thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let body = Arc::clone(&body);
                thread::spawn(move || serve(conn, &body));
            }
        });
        Ok(FixedServer { addr })
    }
}

fn serve(mut conn: TcpStream, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        pending.extend_from_slice(buf.get(..n).unwrap_or_default());
        // GETs carry no body: every blank line ends one request.
        while let Some(at) = find(&pending, b"\r\n\r\n") {
            pending.drain(..at + 4);
            if conn.write_all(head.as_bytes()).is_err() || conn.write_all(body).is_err() {
                return;
            }
        }
    }
}
