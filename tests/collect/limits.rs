//! Memory stays bounded when a target sends far more than the cap (monitoring-semantics §7
//! case 3). One test in its own binary, so the process's peak RSS belongs to it alone.

use crate::support;

use nocscope::collect::exporter;
use nocscope::model::{PollError, ScrapeOutcome};
use support::{Behaviour, serve};

/// Peak resident set of this process in KiB (`VmHWM`), from /proc.
fn peak_rss_kib() -> u64 {
    let status = match std::fs::read_to_string("/proc/self/status") {
        Ok(s) => s,
        Err(e) => panic!("cannot read /proc/self/status: {e}"),
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM line in /proc/self/status"))
}

#[tokio::test]
async fn huge_body_and_gzip_bomb_stop_at_the_cap_with_bounded_memory() {
    const CAP: u64 = 8 << 20;
    // Far more than the allowed growth, so holding either body whole would show.
    const ALLOWED_GROWTH_KIB: u64 = 96 << 10;
    let client = match exporter::http_client() {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let before = peak_rss_kib();
    let cases = [
        // Refused from its Content-Length before any body byte is read.
        (
            "2 GiB body, announced",
            Behaviour::Huge {
                len: 2 << 30,
                announce: true,
            },
        ),
        // No length given: the cap must stop the stream itself.
        (
            "2 GiB body, unannounced",
            Behaviour::Huge {
                len: 2 << 30,
                announce: false,
            },
        ),
        (
            "gzip bomb inflating to 4 GiB",
            Behaviour::GzipBomb { inflated: 4 << 30 },
        ),
    ];
    for (name, behaviour) in cases {
        let server = serve(behaviour);
        let mut target = support::exporter_target(0, name, &server.url());
        target.timeout = std::time::Duration::from_secs(60);
        support::exporter_of_mut(&mut target).body_limit = CAP;
        let s = exporter::scrape(&client, &target, support::exporter_of(&target)).await;
        match s.outcome {
            ScrapeOutcome::Failed(e) => {
                assert_eq!(e, PollError::BodyTooLarge { limit: CAP }, "{name}")
            }
            ScrapeOutcome::Body { body, .. } => {
                panic!("{name}: accepted a {}-byte body", body.len())
            }
        }
    }
    let growth = peak_rss_kib().saturating_sub(before);
    eprintln!("peak RSS grew by {growth} KiB");
    assert!(growth < ALLOWED_GROWTH_KIB, "peak RSS grew by {growth} KiB");
}
