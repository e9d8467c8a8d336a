//! SNMP poll throughput against a real local snmpd: one device poll = IF-MIB + HOST-RESOURCES
//! walks (+ sysUpTime), sequential and 8 pollers at once on one runtime thread.
//! Needs /usr/sbin/snmpd (Debian package snmpd).

#[path = "../tests/support_snmp/mod.rs"]
mod support_snmp;

use std::sync::OnceLock;

use nocscope::collect::snmp::SnmpPoller;
use nocscope::config::{SnmpProfile, SnmpVersion};
use nocscope::model::SnmpOutcome;
use support_snmp::{Snmpd, target};

fn main() {
    divan::main();
    // Both processes share the machine's cores: report how the CPU split between them.
    if let Some(agent) = AGENT.get() {
        let ours = support_snmp::proc_cpu_seconds("/proc/self/stat").unwrap_or(f64::NAN);
        let theirs = agent.cpu_seconds().unwrap_or(f64::NAN);
        println!("cpu seconds over the whole run: bench process {ours:.2}, snmpd {theirs:.2}");
        agent.kill_now();
    }
}

static AGENT: OnceLock<Snmpd> = OnceLock::new();

fn agent() -> &'static Snmpd {
    AGENT.get_or_init(Snmpd::start)
}

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => panic!("runtime: {e}"),
    }
}

fn poller(version: SnmpVersion) -> SnmpPoller {
    let (t, mut s) = target(
        &agent().address(),
        version,
        vec![SnmpProfile::IfMib, SnmpProfile::HostResources],
    );
    if version == SnmpVersion::V3 {
        s.community = None;
        s.v3 = Some(support_snmp::v3_user(
            "privsha",
            support_snmp::AUTH_PASS,
            support_snmp::PRIV_PASS,
        ));
    }
    SnmpPoller::new(&t, &s)
}

fn check(outcome: &SnmpOutcome) {
    if let SnmpOutcome::Failed(e) = outcome {
        panic!("poll failed: {e}");
    }
}

#[divan::bench(args = ["v2c", "v3-authpriv"])]
fn poll_sequential(bencher: divan::Bencher, version: &str) {
    let rt = runtime();
    let mut p = poller(if version == "v2c" {
        SnmpVersion::V2c
    } else {
        SnmpVersion::V3
    });
    bencher.bench_local(|| {
        let poll = rt.block_on(p.poll());
        check(&poll.outcome);
    });
}

/// One iteration = 8 device polls in flight at once (8 sessions, one thread).
#[divan::bench]
fn poll_8_concurrent(bencher: divan::Bencher) {
    let rt = runtime();
    let mut pollers: Vec<SnmpPoller> = (0..8).map(|_| poller(SnmpVersion::V2c)).collect();
    bencher.bench_local(|| {
        rt.block_on(async {
            let polls = futures_util::future::join_all(pollers.iter_mut().map(|p| p.poll())).await;
            for p in &polls {
                check(&p.outcome);
            }
        });
    });
}
