//! Differential test of the dispatcher against the real Alertmanager (Debian package
//! `prometheus-alertmanager`, started here on a loopback port): one timed stream of alert
//! posts goes to Alertmanager in real time and through `nocscope notify simulate` in virtual
//! time; both must produce the same notifications — same URLs, same webhook bodies byte for
//! byte, at the same moments within a tolerance — for grouping, `group_wait`,
//! `group_interval`, `repeat_interval`, `continue`, inhibition, a silence, `send_resolved: false`,
//! `max_alerts`, `resolve_timeout` and the flush of an alert older than the wait.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const AM_MISSING: &str = "prometheus-alertmanager is not installed: run scripts/test or apt-get install prometheus-alertmanager";
/// How far apart the same notification may be in time (Alertmanager's timers run on its
/// own clock from when it received each post).
const TOLERANCE_MS: i64 = 400;

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let t = UNIX_EPOCH + Duration::from_millis((secs * 1000) as u64);
    let base = humantime::format_rfc3339_seconds(t).to_string();
    let frac = ms.rem_euclid(1000);
    match frac {
        0 => base,
        f => format!(
            "{}.{}Z",
            base.trim_end_matches('Z'),
            format!("{f:03}").trim_end_matches('0')
        ),
    }
}

fn alertmanager_bin() -> PathBuf {
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/bin"])
    {
        let p = Path::new(dir).join("prometheus-alertmanager");
        if p.is_file() {
            return p;
        }
    }
    panic!("{AM_MISSING}");
}

/// What a webhook receiver got: wall time, path, body.
type Got = Arc<Mutex<Vec<(i64, String, String)>>>;

/// A webhook receiver on a free loopback port: 200 to every POST, except 500 under `/fail`
/// and a redirect to itself under `/loop`, no answer at all under `/hang` (receivers that
/// misbehave).
fn receiver() -> (u16, Got) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
    let port = l.local_addr().expect("addr").port();
    let got: Got = Arc::default();
    let g = Arc::clone(&got);
    thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let g = Arc::clone(&g);
            thread::spawn(move || serve_conn(conn, &g));
        }
    });
    (port, got)
}

fn serve_conn(conn: TcpStream, got: &Got) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(mut w) = conn.try_clone() else { return };
    let mut r = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        if let Ok(mut g) = got.lock() {
            g.push((
                wall_ms(),
                path.clone(),
                String::from_utf8_lossy(&body).into_owned(),
            ));
        }
        if path.starts_with("/hang") {
            // Never answers; the connection stays open until the client gives up.
            thread::sleep(Duration::from_secs(120));
            return;
        }
        let answer: &[u8] = if path.starts_with("/fail") {
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
        } else if path.starts_with("/loop") {
            b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n"
        } else {
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        };
        if w.write_all(answer).is_err() {
            return;
        }
    }
}

struct Am(Child);

impl Drop for Am {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http(port: u16, method: &str, path: &str, body: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    resp.split_whitespace().nth(1)?.parse().ok()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// `repeat_interval` is deliberately not a multiple of `group_interval`: when it is,
/// whether Alertmanager repeats at that tick or the next is a race between its timer drift
/// and the delivery's latency (the log's time is taken after sending); with real receivers
/// latency wins, which is the later tick — what nocscope does.
fn config(hook: u16) -> String {
    let url = |p: &str| format!("http://127.0.0.1:{hook}/{p}");
    format!(
        r#"global:
  resolve_timeout: 4s
route:
  receiver: root
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 5s
  routes:
    - matchers: [sc="cont"]
      receiver: team.a
      continue: true
    - matchers: ['sc=~"cont|all"']
      receiver: team.b
      group_by: ['...']
    - match: {{sc: quiet}}
      receiver: quiet
    - matchers: [sc="late"]
      receiver: root
      group_wait: 4s
receivers:
  - name: root
    webhook_configs: [{{url: "{}"}}]
  - name: team.a
    webhook_configs: [{{url: "{}", max_alerts: 1}}]
  - name: team.b
    webhook_configs: [{{url: "{}"}}]
  - name: quiet
    webhook_configs: [{{url: "{}", send_resolved: false}}]
inhibit_rules:
  - source_matchers: [sev=crit]
    target_matchers: [sev=warn]
    equal: [host]
"#,
        url("root"),
        url("a"),
        url("b"),
        url("quiet")
    )
}

/// One alert of a post: labels, then start and end offsets (ms from t0; `None` end = none
/// sent, so `resolve_timeout` applies; `Some(i64::MAX)` = an hour on).
fn alert(labels: &[(&str, &str)], start: i64, end: Option<i64>, t0: i64) -> serde_json::Value {
    let labels: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
        .collect();
    let mut a = serde_json::json!({
        "labels": labels,
        "annotations": {"summary": format!("{} <on> {}", labels.len(), "x&y")},
        "startsAt": rfc3339(t0 + start),
        "generatorURL": "http://prom.test/graph?g0.expr=up",
    });
    if let Some(e) = end {
        let e = if e == i64::MAX {
            t0 + 3_600_000
        } else {
            t0 + e
        };
        a["endsAt"] = rfc3339(e).into();
    }
    a
}

/// Posts: time from t0, alerts, silences.
type Posts = Vec<(i64, Vec<serde_json::Value>, Vec<serde_json::Value>)>;

fn silence(matchers: &[(&str, &str)], start: i64, end: i64, t0: i64) -> serde_json::Value {
    let ms: Vec<serde_json::Value> = matchers
        .iter()
        .map(|(k, v)| serde_json::json!({"name": k, "value": v, "isRegex": false, "isEqual": true}))
        .collect();
    serde_json::json!({
        "matchers": ms,
        "startsAt": rfc3339(t0 + start),
        "endsAt": rfc3339(t0 + end),
        "createdBy": "test",
        "comment": "quiet for the test",
    })
}

fn stream(t0: i64) -> Posts {
    let hour = Some(i64::MAX);
    let grp = |i| [("alertname", "Grp"), ("sc", "grp"), ("i", i)];
    let load = |sev, host| {
        [
            ("alertname", "Load"),
            ("sc", "inh"),
            ("sev", sev),
            ("host", host),
        ]
    };
    let cont = |i| [("alertname", "Cont"), ("sc", "cont"), ("i", i)];
    let quiet = [("alertname", "Quiet"), ("sc", "quiet")];
    let late = [("alertname", "Late"), ("sc", "late"), ("job", "j")];
    vec![
        (
            0,
            vec![
                alert(&grp("1"), 0, hour, t0),
                alert(&grp("2"), 0, hour, t0),
                alert(&load("warn", "a"), 0, hour, t0),
                alert(&load("warn", "b"), 0, hour, t0),
                alert(&load("crit", "a"), 0, hour, t0),
                alert(&cont("1"), 0, hour, t0),
                alert(&cont("2"), 0, hour, t0),
                alert(&quiet, 0, hour, t0),
                alert(&[("alertname", "Timeout"), ("sc", "to")], 0, None, t0),
            ],
            vec![],
        ),
        // A silence of one alert of a group already told: the group goes on without it.
        (
            2_000,
            vec![],
            vec![silence(
                &[("alertname", "Grp"), ("i", "2")],
                2_000,
                3_600_000,
                t0,
            )],
        ),
        (
            4_000,
            vec![
                alert(&grp("3"), 4_000, hour, t0),
                alert(&load("crit", "a"), 0, Some(4_000), t0),
                alert(&quiet, 0, Some(4_000), t0),
            ],
            vec![],
        ),
        (
            8_000,
            vec![
                alert(&late, -60_000, hour, t0),
                alert(&grp("1"), 0, Some(8_000), t0),
            ],
            vec![],
        ),
    ]
}

/// Notifications as (time from t0, path, body).
type Sent = Vec<(i64, String, String)>;

/// The same notification, allowing only the time Alertmanager itself chose (the end of the
/// alert it timed out) to differ within the tolerance.
fn same_body(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (Ok(mut x), Ok(mut y)) = (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) else {
        return false;
    };
    let ends = |v: &mut serde_json::Value| -> Vec<i64> {
        let mut out = Vec::new();
        if let Some(list) = v["alerts"].as_array_mut() {
            for al in list {
                if al["labels"]["alertname"] == "Timeout" && al["status"] == "resolved" {
                    let t = al["endsAt"].as_str().unwrap_or("");
                    out.push(
                        humantime::parse_rfc3339_weak(t)
                            .ok()
                            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                            .map_or(0, |d| d.as_millis() as i64),
                    );
                    al["endsAt"] = "".into();
                }
            }
        }
        out
    };
    let (ex, ey) = (ends(&mut x), ends(&mut y));
    x == y
        && ex.len() == ey.len()
        && ex
            .iter()
            .zip(&ey)
            .all(|(p, q)| (p - q).abs() <= TOLERANCE_MS)
}

#[test]
fn notifications_are_the_ones_alertmanager_sends() {
    let bin = alertmanager_bin();
    let dir = tempfile::tempdir().expect("tempdir");
    let (hook, got) = receiver();
    let cfg = dir.path().join("alertmanager.yml");
    std::fs::write(&cfg, config(hook)).expect("write config");
    let port = free_port();
    let am_started = wall_ms();
    let child = Command::new(&bin)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .arg("--web.external-url=http://nocscope.test/")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
    let _am = Am(child);
    let ready = Instant::now();
    while http(port, "GET", "/-/ready", "") != Some(200) {
        assert!(
            ready.elapsed() < Duration::from_secs(20),
            "Alertmanager did not become ready on port {port}"
        );
        thread::sleep(Duration::from_millis(50));
    }

    // The stream, in real time; each post's time is when it was sent.
    let t0 = wall_ms() + 500;
    let mut lines = String::new();
    for (off, alerts, silences) in stream(t0) {
        let due = t0 + off;
        let wait = due - wall_ms();
        if wait > 0 {
            thread::sleep(Duration::from_millis(wait as u64));
        }
        let at = wall_ms();
        for s in &silences {
            assert_eq!(
                http(port, "POST", "/api/v2/silences", &s.to_string()),
                Some(200),
                "silence at +{off} ms"
            );
        }
        if !alerts.is_empty() {
            let body = serde_json::Value::from(alerts.clone()).to_string();
            assert_eq!(
                http(port, "POST", "/api/v2/alerts", &body),
                Some(200),
                "post at +{off} ms"
            );
        }
        lines.push_str(
            &serde_json::json!({"at": rfc3339(at), "alerts": alerts, "silences": silences})
                .to_string(),
        );
        lines.push('\n');
    }
    let end = t0 + 12_000;
    thread::sleep(Duration::from_millis((end - wall_ms()).max(0) as u64));
    let theirs: Sent = got
        .lock()
        .map(|g| g.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|(t, _, _)| *t <= end)
        .map(|(t, p, b)| (t - t0, p, b))
        .collect();

    let sfile = dir.path().join("stream.jsonl");
    std::fs::write(&sfile, &lines).expect("write stream");
    let out = Command::new(env!("CARGO_BIN_EXE_nocscope"))
        .args(["notify", "simulate"])
        .arg(&cfg)
        .arg(&sfile)
        .args(["--external-url", "http://nocscope.test/"])
        .args(["--start", &rfc3339(am_started)])
        // Past the end of the comparison window; what falls after it is not compared.
        .args(["--after", "5s"])
        .output()
        .expect("run nocscope");
    assert!(
        out.status.success(),
        "simulate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours: Sent = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            let at = humantime::parse_rfc3339_weak(v["at"].as_str()?).ok()?;
            let at = at.duration_since(UNIX_EPOCH).ok()?.as_millis() as i64;
            let url = v["url"].as_str()?;
            let path = url
                .rsplit_once(&format!(":{hook}"))
                .map(|x| x.1)?
                .to_string();
            Some((at, path, v["body"].as_str()?.to_string()))
        })
        .filter(|(t, _, _)| *t <= end)
        .map(|(t, p, b)| (t - t0, p, b))
        .collect();

    // The scenario exercises what it claims (facts about Alertmanager's own output).
    let count = |p: &str| theirs.iter().filter(|n| n.1 == p).count();
    assert!(theirs.len() >= 12, "Alertmanager sent {theirs:#?}");
    assert_eq!(
        count("/quiet"),
        1,
        "send_resolved: false tells the firing only"
    );
    assert!(
        theirs
            .iter()
            .any(|n| n.1 == "/a" && n.2.contains("\"truncatedAlerts\":1")),
        "max_alerts truncates"
    );

    let grp_later: Vec<&(i64, String, String)> = theirs
        .iter()
        .filter(|n| n.0 > 2_500 && n.2.contains("\"alertname\":\"Grp\""))
        .collect();
    assert!(
        !grp_later.is_empty() && grp_later.iter().all(|n| !n.2.contains("\"i\":\"2\"")),
        "the silence keeps i=2 out of its group's later notifications: {grp_later:#?}"
    );
    let mut unmatched: Vec<&(i64, String, String)> = ours.iter().collect();
    let mut missing = Vec::new();
    for n in &theirs {
        match unmatched
            .iter()
            .position(|o| o.1 == n.1 && (o.0 - n.0).abs() <= TOLERANCE_MS && same_body(&o.2, &n.2))
        {
            Some(i) => {
                unmatched.remove(i);
            }
            None => missing.push(n),
        }
    }
    assert!(
        missing.is_empty() && unmatched.is_empty(),
        "Alertmanager sent, nocscope did not: {missing:#?}\nnocscope sent, Alertmanager did not: {unmatched:#?}"
    );
}

/// The product path end to end: `check --for` polls a closed TCP port, the engine fires
/// `TcpPortClosed`, and the notifier posts it to the webhook the config's alertmanager.yml
/// names — Alertmanager's message with the alert's labels (host, severity) and summary.
#[test]
fn a_firing_alert_reaches_the_webhook() {
    let (hook, got) = receiver();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("am.yml"),
        format!(
            "route:\n  receiver: ops\n  group_by: [alertname]\n  group_wait: 1s\nreceivers:\n  - name: ops\n    webhook_configs:\n      - url: http://127.0.0.1:{hook}/ops\n"
        ),
    )
    .expect("write am.yml");
    let closed = free_port();
    let cfg = dir.path().join("nocscope.toml");
    std::fs::write(
        &cfg,
        format!(
            "notify = \"am.yml\"\n[defaults]\ninterval = \"1s\"\ndata_dir = \"{}\"\n\n[[target]]\nname = \"api-port\"\nhost = \"api\"\nkind = \"tcp\"\naddress = \"127.0.0.1\"\nports = [{closed}]\n",
            dir.path().join("data").display()
        ),
    )
    .expect("write config");
    let out = Command::new(env!("CARGO_BIN_EXE_nocscope"))
        .args(["check", "--no-store", "--for", "4s", "--config"])
        .arg(&cfg)
        .output()
        .expect("run nocscope");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let got = got.lock().map(|g| g.clone()).unwrap_or_default();
    assert_eq!(got.len(), 1, "one notification; stderr: {stderr}\n{got:#?}");
    let (_, path, body) = &got[0];
    assert_eq!(path, "/ops");
    let v: serde_json::Value = serde_json::from_str(body).expect("JSON body");
    assert_eq!(v["version"], "4");
    assert_eq!(v["status"], "firing");
    assert_eq!(v["receiver"], "ops");
    assert_eq!(v["groupKey"], "{}:{alertname=\"TcpPortClosed\"}");
    let a = &v["alerts"][0];
    assert_eq!(a["labels"]["alertname"], "TcpPortClosed");
    assert_eq!(a["labels"]["host"], "api");
    assert_eq!(a["labels"]["severity"], "major");
    assert!(
        a["annotations"]["summary"]
            .as_str()
            .is_some_and(|s| s.contains(&closed.to_string())),
        "{a}"
    );

    // A recording carries the notify file, so its replay can say what it would have sent.
    let rec = dir.path().join("run.nsr");
    let out = Command::new(env!("CARGO_BIN_EXE_nocscope"))
        .arg("--record")
        .arg(&rec)
        .args([
            "check",
            "--no-store",
            "--for",
            "1s",
            "--dry-run",
            "--config",
        ])
        .arg(&cfg)
        .output()
        .expect("run nocscope");
    assert!(out.status.code().is_some(), "recorded");
    let data = std::fs::read(&rec).expect("read recording");
    let reader = nocscope::replay::format::Reader::new(
        &data[..],
        nocscope::replay::format::Limits::default(),
    )
    .expect("open recording");
    assert!(
        reader
            .header()
            .notify
            .as_deref()
            .is_some_and(|t| t.contains("receiver: ops")),
        "{:?}",
        reader.header().notify
    );

    // The dry run says the same and sends nothing.
    let (hook2, got2) = receiver();
    let am = std::fs::read_to_string(dir.path().join("am.yml"))
        .expect("read")
        .replace(&format!(":{hook}/"), &format!(":{hook2}/"));
    std::fs::write(dir.path().join("am.yml"), am).expect("rewrite");
    let out = Command::new(env!("CARGO_BIN_EXE_nocscope"))
        .args([
            "check",
            "--no-store",
            "--for",
            "4s",
            "--dry-run",
            "--config",
        ])
        .arg(&cfg)
        .output()
        .expect("run nocscope");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains(" notify ops {}:{alertname=\"TcpPortClosed\"} firing (1 alerts) {")),
        "{text}"
    );
    assert!(got2.lock().map(|g| g.is_empty()).unwrap_or(false));
}

/// A notify file that does not load fails `config check` with its file and line; one whose
/// routes use time intervals is refused rather than run without its schedule.
#[test]
fn a_bad_notify_file_is_a_config_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("c.toml");
    let check = |notify: &str| {
        std::fs::write(&cfg, format!("notify = \"{notify}\"\n")).expect("write");
        let out = Command::new(env!("CARGO_BIN_EXE_nocscope"))
            .args(["config", "check"])
            .arg(&cfg)
            .output()
            .expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, text) = check("absent.yml");
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("cannot read notify file") && text.contains("absent.yml"),
        "{text}"
    );
    std::fs::write(
        dir.path().join("am.yml"),
        "route:\n  receiver: a\n  routes:\n    - receiver: a\n      mute_time_intervals: [night]\nreceivers:\n  - name: a\ntime_intervals:\n  - name: night\n    time_intervals:\n      - times: [{start_time: '00:00', end_time: '06:00'}]\n",
    )
    .expect("write am.yml");
    let (code, text) = check("am.yml");
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("am.yml") && text.contains("time intervals"),
        "{text}"
    );
    std::fs::write(
        dir.path().join("am.yml"),
        "route:\n  receiver: a\nreceivers:\n  - name: a\n    webhook_configs:\n      - url: http://127.0.0.1:9/\n        http_config: {bearer_token: x}\n",
    )
    .expect("write am.yml");
    let (code, text) = check("am.yml");
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("http_config") && text.contains("not applied yet"),
        "{text}"
    );
    std::fs::write(
        dir.path().join("am.yml"),
        "route:\n  receiver: nobody\nreceivers:\n  - name: a\n",
    )
    .expect("write am.yml");
    let (code, text) = check("am.yml");
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("am.yml:2:") && text.contains("undefined receiver \"nobody\""),
        "{text}"
    );
}

/// Receivers that fail: a 500 is retried (three attempts) and then counted as failed, a
/// redirect loop stops after ten hops and is not retried; `check --for` still ends on time
/// and says so.
#[test]
fn failing_receivers_are_retried_bounded_and_reported() {
    let (hook, got) = receiver();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("am.yml"),
        format!(
            "route:\n  receiver: ops\n  group_wait: 1s\nreceivers:\n  - name: ops\n    webhook_configs:\n      - url: http://127.0.0.1:{hook}/fail\n      - url: http://127.0.0.1:{hook}/loop\n"
        ),
    )
    .expect("write am.yml");
    let closed = free_port();
    let cfg = dir.path().join("nocscope.toml");
    std::fs::write(
        &cfg,
        format!(
            "notify = \"am.yml\"\n[defaults]\ninterval = \"1s\"\n\n[[target]]\nname = \"p\"\nkind = \"tcp\"\naddress = \"127.0.0.1\"\nports = [{closed}]\n"
        ),
    )
    .expect("write config");
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_nocscope"))
        .args(["check", "--no-store", "--for", "6s", "--config"])
        .arg(&cfg)
        .output()
        .expect("run nocscope");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "bounded by the delivery deadline"
    );
    let got = got.lock().map(|g| g.clone()).unwrap_or_default();
    assert!(
        stderr.contains("2 notification(s) failed"),
        "stderr: {stderr}\nstdout: {}\nreceived: {:?}",
        String::from_utf8_lossy(&out.stdout),
        got.iter().map(|r| &r.1).collect::<Vec<_>>()
    );
    let fails = got.iter().filter(|r| r.1 == "/fail").count();
    let loops = got.iter().filter(|r| r.1 == "/loop").count();
    assert_eq!(fails, 3, "three attempts at the 500");
    assert!(
        loops >= 11,
        "the redirect loop followed ten times per attempt: {loops}"
    );
}

/// A receiver that never answers holds its delivery, not the check: each attempt times out,
/// the whole delivery gives up within its deadline, and `check --for` ends and says why.
#[test]
fn a_hanging_receiver_blocks_nothing() {
    let (hook, got) = receiver();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("am.yml"),
        format!(
            "route:\n  receiver: ops\n  group_wait: 1s\nreceivers:\n  - name: ops\n    webhook_configs:\n      - url: http://127.0.0.1:{hook}/hang\n"
        ),
    )
    .expect("write am.yml");
    let closed = free_port();
    let cfg = dir.path().join("nocscope.toml");
    std::fs::write(
        &cfg,
        format!(
            "notify = \"am.yml\"\n[defaults]\ninterval = \"1s\"\n\n[[target]]\nname = \"p\"\nkind = \"tcp\"\naddress = \"127.0.0.1\"\nports = [{closed}]\n"
        ),
    )
    .expect("write config");
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_nocscope"))
        .args(["check", "--no-store", "--for", "3s", "--config"])
        .arg(&cfg)
        .output()
        .expect("run nocscope");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The polls went on: the alert was seen while the delivery hung.
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("TcpPortClosed"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(60), "took {took:?}");
    assert!(
        stderr.contains("1 notification(s) failed")
            && (stderr.contains("no answer within") || stderr.contains("timed out")),
        "stderr: {stderr}"
    );
    assert!(!got.lock().map(|g| g.is_empty()).unwrap_or(true));
}
