//! Function-level differential test against a real Prometheus (Debian package `prometheus`):
//! the same series are loaded into a Prometheus started here (`promtool tsdb
//! create-blocks-from openmetrics`, then `prometheus` on a free loopback port) and into
//! nocscope's evaluator; the same expressions go through Prometheus's HTTP API and through
//! `promql::instant`, and the results must agree: the same label sets, values equal within
//! 1e-12 relative (NaN equal to NaN).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nocscope::promql::{self, EvalOptions, Labels, MemSource, Value};
use nocscope::rules::unittest::{parse_metric, parse_values};

const MISSING: &str =
    "prometheus/promtool are not installed: run scripts/test or apt-get install prometheus";
/// The series start here (unix ms): old data, queried at its own times with `time=`.
const BASE: i64 = 1_700_000_000_000;
const STEP: i64 = 60_000;

const SERIES: &[(&str, &str)] = &[
    (
        "http_requests_total{job=\"api\", code=\"200\", instance=\"a:1\"}",
        "0+60x15",
    ),
    (
        "http_requests_total{job=\"api\", code=\"500\", instance=\"a:1\"}",
        "0+3x15",
    ),
    (
        "http_requests_total{job=\"web\", code=\"200\", instance=\"b:1\"}",
        "10+37x7 _x2 500+41x5",
    ),
    (
        "temp{instance=\"a:1\", job=\"api\"}",
        "12 14 13 17 19 23 22 21 25 30 28 27 26 20 18 15",
    ),
    (
        "temp{instance=\"b:1\", job=\"web\"}",
        "8 8 9 _ 11 11.5 12 _ 12 13 13 13.25 14 14 15 15",
    ),
    (
        "counter_reset{instance=\"a:1\"}",
        "1 5 9 2 4 8 1 3 3 7 0 1 2 3 4 5",
    ),
    (
        "req_duration_seconds_bucket{le=\"0.1\", job=\"api\"}",
        "0+10x15",
    ),
    (
        "req_duration_seconds_bucket{le=\"0.5\", job=\"api\"}",
        "0+25x15",
    ),
    (
        "req_duration_seconds_bucket{le=\"+Inf\", job=\"api\"}",
        "0+30x15",
    ),
];

const EXPRS: &[&str] = &[
    "rate(http_requests_total[5m])",
    "irate(http_requests_total[5m])",
    "increase(http_requests_total[3m])",
    "delta(temp[5m])",
    "deriv(temp[10m])",
    "predict_linear(temp[10m], 600)",
    "resets(counter_reset[15m])",
    "changes(temp[15m])",
    "avg_over_time(temp[5m])",
    "stddev_over_time(temp[10m])",
    "quantile_over_time(0.9, temp[10m])",
    "absent_over_time(nosuch[5m])",
    "histogram_quantile(0.9, sum by (le) (rate(req_duration_seconds_bucket[5m])))",
    "label_replace(temp, \"host\", \"$1\", \"instance\", \"(.*):.*\")",
    "topk(1, temp)",
    "quantile(0.25, temp)",
    "count_values(\"v\", round(temp))",
    "sum by (job) (rate(http_requests_total[5m])) / on (job) group_left count by (job) (temp)",
    "temp > bool 15",
    "max_over_time(rate(http_requests_total[2m])[10m:1m])",
    "temp offset 5m",
    "clamp(temp, 10, 20) * 2 - 1",
    "time() - timestamp(temp)",
    "scalar(sum(temp)) + vector(1)",
];

struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn which(name: &str) -> PathBuf {
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/bin"])
    {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("{MISSING}");
}

fn points() -> Vec<(Labels, Vec<(i64, f64)>)> {
    SERIES
        .iter()
        .map(|(s, v)| {
            let labels = parse_metric(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            let vals = parse_values(v).unwrap_or_else(|e| panic!("{v}: {e}"));
            let pts = vals
                .iter()
                .enumerate()
                .filter_map(|(i, x)| x.map(|x| (BASE + i as i64 * STEP, x)))
                .collect();
            (labels, pts)
        })
        .collect()
}

fn start() -> Server {
    let promtool = which("promtool");
    let prometheus = which("prometheus");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut om = String::new();
    let mut families: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (labels, pts) in points() {
        let name = labels.metric_name().unwrap_or("").to_string();
        let body: Vec<String> = labels
            .iter()
            .filter(|(k, _)| *k != "__name__")
            .map(|(k, v)| format!("{k}={}", promql::go_quote(v)))
            .collect();
        for (t, v) in pts {
            families.entry(name.clone()).or_default().push(format!(
                "{name}{{{}}} {v} {}",
                body.join(","),
                t as f64 / 1000.0
            ));
        }
    }
    for (name, lines) in families {
        om.push_str(&format!("# TYPE {name} gauge\n"));
        for l in lines {
            om.push_str(&l);
            om.push('\n');
        }
    }
    om.push_str("# EOF\n");
    let om_path = dir.path().join("series.om");
    std::fs::write(&om_path, om).unwrap_or_else(|e| panic!("write: {e}"));
    let data = dir.path().join("data");
    let out = Command::new(&promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om_path)
        .arg(&data)
        .output()
        .unwrap_or_else(|e| panic!("promtool: {e}"));
    assert!(
        out.status.success(),
        "create-blocks: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, "global: {}\n").unwrap_or_else(|e| panic!("write: {e}"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("free port: {e}"));
    let child = Command::new(&prometheus)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        // Old blocks must not be deleted for being old.
        .arg("--storage.tsdb.retention.time=100y")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("prometheus: {e}"));
    let server = Server {
        child,
        port,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if get(port, "/-/ready").is_some_and(|(code, _)| code == 200) {
            return server;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus did not become ready in 30 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let (head, body) = buf.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_string()))
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// (labels, value) sorted by labels, from either side.
type Result = Vec<(String, f64)>;

fn theirs(port: u16, q: &str, t: i64) -> Result {
    let path = format!(
        "/api/v1/query?query={}&time={}",
        urlencode(q),
        t as f64 / 1000.0
    );
    let (code, body) = get(port, &path).unwrap_or_else(|| panic!("{q}: no answer"));
    assert_eq!(code, 200, "{q}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{q}: {e}"));
    let data = &v["data"];
    let num = |x: &serde_json::Value| -> f64 {
        let s = x[1].as_str().unwrap_or("NaN");
        match s {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            _ => s.parse().unwrap_or(f64::NAN),
        }
    };
    let mut out: Result = match data["resultType"].as_str() {
        Some("scalar") => vec![("{}".to_string(), num(&data["result"]))],
        _ => data["result"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| {
                        let m = s["metric"].as_object().cloned().unwrap_or_default();
                        let l = Labels::new(
                            m.iter()
                                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())),
                        );
                        (l.to_string(), num(&s["value"]))
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn ours(src: &MemSource, q: &str, t: i64) -> Result {
    let e = promql::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    let mut out: Result = match promql::instant(&e, src, t, &EvalOptions::default()) {
        Ok(Value::Vector(v)) => v.into_iter().map(|s| (s.labels.to_string(), s.v)).collect(),
        Ok(Value::Scalar(x)) => vec![("{}".to_string(), x)],
        other => panic!("{q}: {other:?}"),
    };
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

#[test]
fn the_evaluator_agrees_with_prometheus_over_its_http_api() {
    let server = start();
    let src = MemSource::new(
        points()
            .into_iter()
            .map(|(labels, points)| promql::Series { labels, points })
            .collect(),
    );
    let mut problems = Vec::new();
    let mut compared = 0;
    for q in EXPRS {
        for t in [BASE + 10 * STEP, BASE + 14 * STEP + 30_000] {
            let (p, n) = (theirs(server.port, q, t), ours(&src, q, t));
            compared += p.len();
            let agree =
                p.len() == n.len() && p.iter().zip(&n).all(|(a, b)| a.0 == b.0 && same(a.1, b.1));
            if !agree {
                problems.push(format!(
                    "{q} at {t}:\n  prometheus {p:?}\n  nocscope   {n:?}"
                ));
            }
        }
    }
    eprintln!(
        "compared {compared} samples of {} expressions with Prometheus",
        EXPRS.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // An empty answer on both sides everywhere would prove nothing.
    assert!(compared > 60, "only {compared} samples compared");
}
