//! Issue 5 end to end through the real binary: a real snmpd, ICMP to 127.0.0.1, TCP ports (one
//! listening, one closed) and a local HTTP server, all configured in one file and polled by
//! `check --once --format json`; their results land in vitals, rules and the history store.

use crate::support;
use crate::support_snmp;

use std::net::TcpListener;
use std::process::Command;

use nocscope::store::Reader;

#[test]
fn snmp_icmp_tcp_and_http_targets_in_one_check() {
    let agent = support_snmp::Snmpd::start();
    let http = support::serve(support::Behaviour::Fixed {
        content_type: Some("text/plain".to_string()),
        body: b"healthy\n".to_vec(),
    });
    let open = TcpListener::bind("127.0.0.1:0").expect("listen");
    let open_port = open.local_addr().expect("addr").port();
    let closed_port = support::free_port();

    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let config = format!(
        r#"[defaults]
interval = "5s"
timeout = "4s"
data_dir = "{data}"

[[target]]
name = "sw1"
kind = "snmp"
address = "{snmp}"
version = "2c"
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
expect_status = [200]
body_contains = "healthy"
"#,
        data = data.display(),
        snmp = agent.address(),
        community = support_snmp::COMMUNITY,
        url = http.url(),
    );
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, config).expect("write config");

    let out = Command::new(env!("CARGO_BIN_EXE_nocscope"))
        .args(["check", "--once", "--format", "json", "--config"])
        .arg(&cfg)
        .output()
        .expect("run nocscope");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "every target answered: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hosts: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let host = |name: &str| {
        hosts
            .iter()
            .find(|h| h["name"] == name)
            .unwrap_or_else(|| panic!("no host {name} in {text}"))
    };

    // SNMP: UCD and IF-MIB profiles from the real agent.
    let sw1 = host("sw1");
    let sev = sw1["severity"].as_str().unwrap_or("");
    assert!(!["unknown", "nodata"].contains(&sev), "{sw1}");
    let mem = sw1["vitals"]["mem_pct"].as_f64().expect("memory over SNMP");
    assert!((0.0..=100.0).contains(&mem));
    assert!(sw1["vitals"]["uptime_s"].as_f64().is_some(), "{sw1}");
    let ifaces = sw1["vitals"]["interfaces"].as_array().expect("interfaces");
    assert!(ifaces.iter().any(|i| i["name"] == "lo"), "{sw1}");
    assert!(
        !sw1["vitals"]["disks"].as_array().expect("disks").is_empty(),
        "{sw1}"
    );

    // ICMP and TCP share the host "lo": the closed port makes it major.
    let lo = host("lo");
    assert_eq!(lo["vitals"]["ping_loss_pct"].as_f64(), Some(0.0), "{lo}");
    assert!(lo["vitals"]["ping_rtt_ms"].as_f64().is_some(), "{lo}");
    let ports = lo["vitals"]["ports"].as_array().expect("ports");
    let state = |p: u16| {
        ports
            .iter()
            .find(|x| x["port"] == p)
            .map(|x| x["state"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(state(open_port).as_deref(), Some("open"));
    assert_eq!(state(closed_port).as_deref(), Some("refused"));
    assert_eq!(lo["severity"], "major", "{lo}");
    assert!(
        lo["firing"]
            .as_array()
            .expect("firing")
            .iter()
            .any(|a| a["alert"] == "TcpPortClosed"),
        "{lo}"
    );

    // HTTP: expected status and body.
    let web = host("web");
    assert_eq!(web["severity"], "ok", "{web}");
    assert_eq!(web["vitals"]["http"][0]["status"], 200);
    assert_eq!(web["vitals"]["http"][0]["ok"], true);

    // Everything was recorded like exporter data.
    let reader = Reader::open(&data.join("history.db")).expect("store");
    let sys = reader
        .query("sw1", "sysUpTime", 0, i64::MAX)
        .expect("query");
    assert_eq!(sys.len(), 1);
    let up = reader
        .query(
            "lo-ports",
            &format!("probe_tcp_up{{port=\"{closed_port}\"}}"),
            0,
            i64::MAX,
        )
        .expect("query");
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].1, 0.0);
    let code = reader
        .query("web", "probe_http_status_code", 0, i64::MAX)
        .expect("query");
    assert_eq!(code.first().map(|s| s.1), Some(200.0));
    drop(open);
}
