//! Probe throughput on loopback: TCP connects, HTTP and HTTPS checks in concurrent batches
//! (target: 1,000 checks per second), and an ICMP load run (500 hosts every 5 s, CPU time of
//! the whole process from getrusage, replies counted against echoes sent).
//! Run: cargo bench --bench probes
//! ICMP load (needs root/CAP_NET_RAW or ping_group_range; 60 s):
//!      NOCSCOPE_ICMP_LOAD_SECS=60 cargo bench --bench probes

#[path = "../tests/support_net/mod.rs"]
mod support_net;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use divan::Bencher;
use divan::counter::ItemsCount;
use nocscope::collect::http::HttpChecker;
use nocscope::collect::icmp::{self, IcmpClients};
use nocscope::collect::tcp;
use nocscope::config::{HttpTarget, IcmpTarget, TargetKind, TcpTarget};
use nocscope::model::{IcmpOutcome, TcpOutcome};

fn main() {
    if let Some(secs) = std::env::var("NOCSCOPE_ICMP_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        // A load run, not a divan benchmark: it measures CPU over wall time at a fixed cadence.
        icmp_load(secs);
        return;
    }
    divan::main();
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        // Two workers: the machine the console runs on is not ours to take.
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"))
    })
}

fn tcp_listener() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        runtime().block_on(async {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap_or_else(|e| panic!("bind: {e}"));
            let addr = l.local_addr().unwrap_or_else(|e| panic!("{e}"));
            tokio::spawn(async move {
                while let Ok((s, _)) = l.accept().await {
                    drop(s);
                }
            });
            addr
        })
    })
}

const BATCH: usize = 1000;

/// Checks in flight at once. Not 1,000: a burst of 1,000 simultaneous connects overflows the
/// loopback receive queue (net.core.netdev_max_backlog, default 1000) and the dropped SYNs
/// come back after the 1 s retransmit timer, which measures the kernel's queue, not the probe.
/// The scheduler spreads targets over their interval, so 100 in flight is already pessimistic.
const IN_FLIGHT: usize = 100;

async fn run_batch<F, T>(make: impl Fn() -> F) -> Vec<T>
where
    F: Future<Output = T>,
{
    use futures_util::StreamExt;
    futures_util::stream::iter((0..BATCH).map(|_| make()))
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await
}

/// 1,000 independent TCP checks, 100 in flight; items/s is checks per second.
#[divan::bench(sample_count = 20, sample_size = 1)]
fn tcp_checks_1000(b: Bencher) {
    let addr = tcp_listener();
    let cfg = TcpTarget {
        address: "127.0.0.1".to_string(),
        ports: vec![addr.port()],
    };
    let t = support_net::target(
        "bench",
        Duration::from_secs(5),
        TargetKind::Tcp(cfg.clone()),
    );
    b.counter(ItemsCount::new(BATCH)).bench(|| {
        runtime().block_on(async {
            let all = run_batch(|| tcp::probe(&t, &cfg)).await;
            let open = all
                .iter()
                .filter(|p| matches!(p.ports[0].outcome, TcpOutcome::Open { .. }))
                .count();
            assert_eq!(open, BATCH, "every loopback connect must succeed");
        })
    });
}

fn http_servers() -> (
    SocketAddr,
    SocketAddr,
    Vec<rustls::pki_types::CertificateDer<'static>>,
) {
    static S: OnceLock<(
        SocketAddr,
        SocketAddr,
        Vec<rustls::pki_types::CertificateDer<'static>>,
    )> = OnceLock::new();
    S.get_or_init(|| {
        runtime().block_on(async {
            let plain = support_net::spawn_http().await;
            let ca = support_net::TestCa::new("bench CA", (2099, 1, 1));
            let leaf = ca.leaf(&["127.0.0.1"], (2020, 1, 1), (2099, 1, 1));
            let tls = support_net::spawn_https(vec![leaf.cert.clone()], leaf.key.clone_key()).await;
            (plain, tls, vec![ca.cert.clone()])
        })
    })
    .clone()
}

fn checker(url: &str, roots: Vec<rustls::pki_types::CertificateDer<'static>>) -> HttpChecker {
    let cfg = HttpTarget {
        url: url::Url::parse(url).unwrap_or_else(|e| panic!("{e}")),
        method: "GET".to_string(),
        expect_status: vec![200],
        body_contains: Some("nocscope".to_string()),
        body_regex: None,
        max_redirects: 10,
        insecure_tls: false,
        auth: None,
        body_limit: 1 << 20,
    };
    let t = support_net::target(
        "bench",
        Duration::from_secs(5),
        TargetKind::Http(cfg.clone()),
    );
    HttpChecker::with_extra_roots(&t, &cfg, roots).unwrap_or_else(|e| panic!("{e}"))
}

fn http_batch(b: Bencher, checker: &HttpChecker) {
    let n = BATCH;
    b.counter(ItemsCount::new(n)).bench(|| {
        runtime().block_on(async {
            let all = run_batch(|| checker.probe()).await;
            let ok = all
                .iter()
                .filter(|p| p.status == Some(200) && p.body_match == Some(true))
                .count();
            assert_eq!(ok, n, "every loopback check must pass: {:?}", all.first());
        })
    });
}

/// 1,000 HTTP GET checks (with a body match), 100 in flight.
#[divan::bench(sample_count = 20, sample_size = 1)]
fn http_checks_1000(b: Bencher) {
    let (plain, _, _) = http_servers();
    let c = checker(&format!("http://{plain}/ok"), Vec::new());
    http_batch(b, &c);
}

/// HTTPS with a full handshake per check (no resumption, by design: the dates are needed).
#[divan::bench(sample_count = 10, sample_size = 1)]
fn https_checks_1000(b: Bencher) {
    let (_, tls, roots) = http_servers();
    let c = checker(&format!("https://{tls}/ok"), roots);
    http_batch(b, &c);
}

/// One HTTP check at a time: the latency a single target sees.
#[divan::bench]
fn http_check_single(b: Bencher) {
    let (plain, _, _) = http_servers();
    let c = checker(&format!("http://{plain}/ok"), Vec::new());
    b.bench(|| runtime().block_on(c.probe()).status);
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct we pass; zeroed is a valid initial value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return f64::NAN;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// 500 hosts (127.0.0.1–127.0.1.244), 3 echoes each every 5 s on one shared client, for
/// `secs` seconds. Prints CPU time of the whole process against wall time, and replies
/// received against echoes sent.
fn icmp_load(secs: u64) {
    let hosts: Vec<String> = (1u32..=500)
        .map(|i| format!("127.0.{}.{}", i / 256, i % 256))
        .collect();
    let clients = IcmpClients::new();
    let interval = Duration::from_secs(5);
    let targets: Vec<_> = hosts
        .iter()
        .map(|h| {
            let cfg = IcmpTarget {
                address: h.clone(),
                count: 3,
            };
            let t = support_net::target(h, Duration::from_secs(2), TargetKind::Icmp(cfg.clone()));
            (t, cfg)
        })
        .collect();
    let rounds = secs.div_ceil(interval.as_secs()).max(1);
    let (cpu0, wall0) = (cpu_seconds(), std::time::Instant::now());
    let (mut sent, mut received, mut failed) = (0usize, 0usize, 0usize);
    runtime().block_on(async {
        let mut tick = tokio::time::interval(interval);
        for _ in 0..rounds {
            tick.tick().await;
            let all = futures_util::future::join_all(
                targets.iter().map(|(t, c)| icmp::probe(&clients, t, c)),
            )
            .await;
            for p in all {
                match p.outcome {
                    IcmpOutcome::Replies { rtt_ms } => {
                        sent += rtt_ms.len();
                        received += rtt_ms.iter().filter(|r| r.is_some()).count();
                    }
                    IcmpOutcome::Failed(e) => {
                        failed += 1;
                        if failed == 1 {
                            eprintln!("icmp probe failed: {e}");
                        }
                    }
                }
            }
        }
        // Let the last round's interval run out so CPU is compared with the full cadence.
        tick.tick().await;
    });
    let cpu = cpu_seconds() - cpu0;
    let wall = wall0.elapsed().as_secs_f64();
    println!(
        "icmp_load: {} hosts x 3 echoes every {} s, {rounds} rounds, wall {wall:.1} s, \
         cpu {cpu:.3} s = {:.2} % of one core; replies {received}/{sent}; failed probes {failed}",
        hosts.len(),
        interval.as_secs(),
        100.0 * cpu / wall
    );
}
