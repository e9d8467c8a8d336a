//! Network checks are recorded like exporter data (issue 5): `check --for --record` over a real
//! snmpd, ICMP to 127.0.0.1, TCP ports and a local HTTP server, then `replay --speed max`
//! prints exactly what the live run printed, and the recording names each target's kind.

use crate::support;
use crate::support_snmp;

use std::net::TcpListener;
use std::process::Command;

use nocscope::replay::{self, Limits, RecordedKind};

#[test]
fn network_checks_record_and_replay_exactly() {
    let agent = support_snmp::Snmpd::start();
    let http = support::serve(support::Behaviour::Fixed {
        content_type: Some("text/plain".to_string()),
        body: b"healthy\n".to_vec(),
    });
    let open = TcpListener::bind("127.0.0.1:0").expect("listen");
    let open_port = open.local_addr().expect("addr").port();
    let closed_port = support::free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"[defaults]
interval = "1s"
timeout = "1s"
data_dir = "{data}"

[[target]]
name = "sw1"
kind = "snmp"
address = "{snmp}"
community = "{community}"

[[target]]
name = "lo-ping"
host = "lo"
kind = "icmp"
address = "127.0.0.1"

[[target]]
name = "lo-ports"
host = "lo"
kind = "tcp"
address = "127.0.0.1"
ports = [{open_port}, {closed_port}]

[[target]]
name = "web"
kind = "http"
url = "{url}"
expect_status = [200, 204]
"#,
            data = dir.path().join("data").display(),
            snmp = agent.address(),
            community = support_snmp::COMMUNITY,
            url = http.url(),
        ),
    )
    .expect("write config");
    let rec = dir.path().join("checks.nsr");
    let bin = env!("CARGO_BIN_EXE_nocscope");
    let live = Command::new(bin)
        .args(["--config", cfg.to_str().expect("utf-8"), "--record"])
        .arg(&rec)
        .args(["check", "--for", "3500ms", "--no-store", "--format", "json"])
        .output()
        .expect("run check");
    let live_out = String::from_utf8_lossy(&live.stdout).into_owned();
    assert_eq!(live.status.code(), Some(0), "{live_out}");
    for host in ["\"sw1\"", "\"lo\"", "\"web\""] {
        assert!(live_out.contains(host), "{host} in {live_out}");
    }
    assert!(live_out.contains("TcpPortClosed"), "{live_out}");

    let data = std::fs::read(&rec).expect("read recording");
    let scan = replay::scan(&data, Limits::default()).expect("scan");
    assert!(scan.damage.is_none());
    let kinds: Vec<&RecordedKind> = scan.header.targets.iter().map(|t| &t.kind).collect();
    assert!(matches!(kinds[0], RecordedKind::Snmp { .. }), "{kinds:?}");
    assert_eq!(kinds[1], &RecordedKind::Icmp);
    assert_eq!(kinds[2], &RecordedKind::Tcp);
    assert!(
        matches!(kinds[3], RecordedKind::Http { expect_status, .. } if expect_status == &vec![200, 204]),
        "{kinds:?}"
    );

    let replayed = Command::new(bin)
        .args(["replay", "--speed", "max", "--format", "json"])
        .arg(&rec)
        .output()
        .expect("run replay");
    assert_eq!(replayed.status.code(), Some(0));
    let out = String::from_utf8_lossy(&replayed.stdout).into_owned();
    let (_banner, rest) = out.split_once('\n').expect("banner");
    assert_eq!(rest, live_out);
    drop(open);
}
