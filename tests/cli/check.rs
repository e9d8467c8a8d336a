//! End to end through the real binary: `check` against a real node_exporter on loopback,
//! its text and JSON output, exit codes, the stored history, `lint` and `config check`.

use crate::support;

use std::path::Path;
use std::process::{Command, Output};

use nocscope::store::Reader;

fn nocscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nocscope"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run the nocscope binary")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// A status line of a host whose exporter answered: any severity but the two that mean "not
/// seen" (what else it is depends on this machine's real state).
fn assert_seen(line: &str) {
    let sev = line.split_whitespace().next().unwrap_or("");
    assert!(
        ["ok", "degraded", "minor", "major", "critical"].contains(&sev),
        "{line}"
    );
}

fn write_config(dir: &Path, targets: &str) -> String {
    let data = dir.join("data");
    let text = format!(
        "[defaults]\ninterval = \"1s\"\ntimeout = \"1s\"\ndata_dir = \"{}\"\n\n{targets}",
        data.display()
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).expect("write config");
    path.display().to_string()
}

fn exporter_target(name: &str, url: &str) -> String {
    format!("[[target]]\nname = \"{name}\"\nkind = \"exporter\"\nurl = \"{url}\"\n\n")
}

#[test]
fn check_once_against_a_real_node_exporter() {
    let ne = support::NodeExporter::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), &exporter_target("local", &ne.url()));
    let out = nocscope(&["check", "--config", &cfg, "--once"]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {text}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert_seen(lines[0]);
    assert!(lines[0].contains("local"), "{text}");
    assert!(lines[0].contains("mem "), "{text}");
    assert!(
        !lines[0].contains("mem -"),
        "memory is known after one scrape: {text}"
    );

    // The poll went to the history store: synthetic `up` and raw series are queryable.
    let reader = Reader::open(&dir.path().join("data").join("history.db")).expect("open store");
    let up = reader.query("local", "up", 0, i64::MAX).expect("query up");
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].1, 1.0);
    let series = reader.series("local").expect("series");
    assert!(
        series
            .iter()
            .any(|k| k.starts_with("node_memory_MemTotal_bytes")),
        "{} series",
        series.len()
    );
    let polls = reader.polls("local", 0, i64::MAX).expect("polls");
    assert_eq!(polls.len(), 1);
    assert!(polls[0].1.up);
    let mem = reader
        .query("host/local", "mem_pct", 0, i64::MAX)
        .expect("vitals");
    assert_eq!(mem.len(), 1);
    assert!((0.0..=100.0).contains(&mem[0].1));
}

#[test]
fn check_json_has_one_object_per_host() {
    let ne = support::NodeExporter::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut targets = exporter_target("node-a", &ne.url());
    targets.push_str(&exporter_target("node-b", &ne.url()));
    let cfg = write_config(dir.path(), &targets);
    let out = nocscope(&[
        "check",
        "--config",
        &cfg,
        "--once",
        "--format",
        "json",
        "--no-store",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let objs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(objs.len(), 2);
    for o in &objs {
        // The host's severity depends on this machine (a full disk is a real HostDiskFull);
        // what must hold is that it was seen.
        let sev = o["severity"].as_str().unwrap_or("");
        assert!(!["unknown", "nodata", ""].contains(&sev), "{o}");
        assert!(o["vitals"]["mem_pct"].as_f64().is_some(), "{o}");
        assert!(o["vitals"]["load1"].as_f64().is_some(), "{o}");
        assert!(o["firing"].as_array().is_some());
        assert_eq!(o["targets"][0]["up"], true);
    }
    assert!(
        !dir.path().join("data").join("history.db").exists(),
        "--no-store writes nothing"
    );
}

#[test]
fn check_exits_non_zero_when_a_target_cannot_be_reached() {
    let port = support::free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(
        dir.path(),
        &exporter_target("gone", &format!("http://127.0.0.1:{port}/metrics")),
    );
    let out = nocscope(&["check", "--config", &cfg, "--once"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.starts_with("unknown "), "{text}");
    assert!(text.contains("connect"), "{text}");
}

#[test]
fn check_for_keeps_polling_and_prints_transitions() {
    let ne = support::NodeExporter::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), &exporter_target("local", &ne.url()));
    let out = nocscope(&["check", "--config", &cfg, "--for", "3500ms"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.lines().any(|l| l.contains("nodata -> ")),
        "the first good poll is a transition: {text}"
    );
    let last = text.lines().last().unwrap_or("");
    assert_seen(last);
    assert!(
        last.contains("cpu ") && !last.contains("cpu -"),
        "two polls give a CPU rate: {text}"
    );
    let reader = Reader::open(&dir.path().join("data").join("history.db")).expect("open store");
    let polls = reader.polls("local", 0, i64::MAX).expect("polls");
    assert!(polls.len() >= 2, "{} polls", polls.len());
}

#[test]
fn a_database_that_is_not_sqlite_is_a_clear_error_and_is_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let junk = b"this is not a database, it is a grocery list\n".repeat(200);
    std::fs::write(data.join("history.db"), &junk).expect("write junk");
    let cfg = write_config(
        dir.path(),
        &exporter_target("x", "http://127.0.0.1:9/metrics"),
    );
    let out = nocscope(&["check", "--config", &cfg, "--once"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("history.db") && err.contains("not a nocscope database"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(data.join("history.db")).expect("read"),
        junk,
        "the file is untouched"
    );
}

#[test]
fn config_check_reports_problems_with_positions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[defaults]\ninterval = \"5 minutes\"\n\n[[target]]\nname = \"a\"\nkind = \"exporter\"\nurl = \"not a url\"\ncolour = \"red\"\n",
    )
    .expect("write");
    let p = path.display().to_string();
    let out = nocscope(&["config", "check", &p]);
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 3, "every problem is reported: {text}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("{p}:2:")) && l.contains("5 minutes")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("{p}:7:")) && l.contains("url")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("{p}:8:")) && l.contains("colour")),
        "{text}"
    );

    let good = dir.path().join("good.toml");
    std::fs::write(&good, exporter_target("a", "http://127.0.0.1:9100/metrics")).expect("write");
    let out = nocscope(&["config", "check", &good.display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn the_bundled_example_config_is_valid() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/localhost.toml");
    let out = nocscope(&["config", "check", &example.display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn lint_accepts_a_real_body_and_rejects_a_broken_one() {
    let ne = support::NodeExporter::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let body = http_get(&ne.url());
    let real = dir.path().join("real.prom");
    std::fs::write(&real, &body).expect("write");
    let out = nocscope(&["lint", &real.display().to_string()]);
    let text = stdout(&out);
    // node_exporter's body is valid; like promtool, we only object to its camelCase
    // /proc names (node_memory_MemTotal_bytes, node_netstat_Icmp6_InErrors), never to its syntax.
    assert!(text.lines().count() > 0, "the camelCase names are reported");
    for line in text.lines() {
        assert!(
            line.contains("should be snake_case, not camelCase"),
            "{line}"
        );
        assert!(line.contains("`node_"), "{line}");
    }

    let good = dir.path().join("good.prom");
    std::fs::write(
        &good,
        "# HELP http_requests_total Requests served.\n# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 7\n",
    )
    .expect("write");
    let out = nocscope(&["lint", &good.display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(stdout(&out), "");

    let bad = dir.path().join("bad.prom");
    std::fs::write(&bad, "ok_metric 1\nbroken{a=\"1\" 2\n").expect("write");
    let out = nocscope(&["lint", &bad.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).lines().any(|l| l.starts_with("line 2: ")),
        "{}",
        stdout(&out)
    );

    // stdin, and OpenMetrics chosen by the trailing `# EOF`: a tab separator is fine in
    // text 0.0.4 but not in OpenMetrics, so only the strict check rejects this body.
    let om_body: &[u8] = b"# HELP a A gauge.\n# TYPE a gauge\na\t1\n# EOF\n";
    let out = lint_stdin(&[], om_body);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let out = lint_stdin(&[], b"# HELP a A gauge.\n# TYPE a gauge\na\t1\n");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    // --openmetrics forces the strict check: this body lacks `# EOF`.
    let out = lint_stdin(
        &["--openmetrics"],
        b"# HELP a A gauge.\n# TYPE a gauge\na 1\n",
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
}

fn lint_stdin(extra: &[&str], body: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_nocscope"))
        .arg("lint")
        .args(extra)
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(body).expect("write stdin");
    }
    child.wait_with_output().expect("wait")
}

/// A plain HTTP/1.0 GET on loopback, so the test reads the exporter independently of the
/// collector under test.
fn http_get(url: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http url");
    let (hostport, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut s = std::net::TcpStream::connect(hostport).expect("connect");
    write!(
        s,
        "GET /{path} HTTP/1.0\r\nHost: {hostport}\r\nAccept: text/plain;version=0.0.4\r\n\r\n"
    )
    .expect("send");
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).expect("read");
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers end")
        + 4;
    resp[split..].to_vec()
}
