//! Config for snmp, icmp, tcp and http targets end to end: the shipped example, every option
//! into the runtime type, the defaults, and property tests that no input panics or leaks a
//! community or password.

use std::collections::HashMap;
use std::env::VarError;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nocscope::config::{
    Auth, Config, CustomOid, CustomOidKind, DEFAULT_BODY_LIMIT, DEFAULT_PROFILES, HttpTarget,
    IcmpTarget, SnmpAuthProtocol, SnmpPrivProtocol, SnmpProfile, SnmpTarget, SnmpVersion,
    TargetKind, TcpTarget, load_with_env, parse_with_env,
};
use proptest::prelude::*;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Result<String, VarError> + use<> {
    let vars: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| vars.get(name).cloned().ok_or(VarError::NotPresent)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn kind<'c>(config: &'c Config, name: &str) -> &'c TargetKind {
    &config
        .targets
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no target {name}"))
        .kind
}

fn snmp<'c>(config: &'c Config, name: &str) -> &'c SnmpTarget {
    match kind(config, name) {
        TargetKind::Snmp(s) => s,
        other => panic!("{name} is {}", other.name()),
    }
}

fn icmp<'c>(config: &'c Config, name: &str) -> &'c IcmpTarget {
    match kind(config, name) {
        TargetKind::Icmp(i) => i,
        other => panic!("{name} is {}", other.name()),
    }
}

fn tcp<'c>(config: &'c Config, name: &str) -> &'c TcpTarget {
    match kind(config, name) {
        TargetKind::Tcp(t) => t,
        other => panic!("{name} is {}", other.name()),
    }
}

fn http<'c>(config: &'c Config, name: &str) -> &'c HttpTarget {
    match kind(config, name) {
        TargetKind::Http(h) => h,
        other => panic!("{name} is {}", other.name()),
    }
}

const PROBES: &str = r#"
[defaults]
body_limit = "5MiB"

[[target]]
name = "sw-v2c"
kind = "snmp"
address = "sw1.example.net"
version = "2c"
community = "inline-community-1"
profiles = ["if-mib", "system"]
max_repetitions = 100
request_timeout = "1500ms"
retries = 0
timeout = "5s"
custom = [
  { name = "ups_charge", oid = ".1.3.6.1.2.1.33.1.2.4.0", type = "gauge" },
  { name = "if_alias", oid = "1.3.6.1.2.1.31.1.1.1.18", type = "text", walk = true, index_labels = ["ifIndex"] },
  { name = "state", oid = "1.3.6.1.4.1.9.1", type = "gauge", walk = true, lookup = { 2 = "down", 1 = "up", -1 = "unknown" } },
  { name = "errors_total", oid = "1.3.6.1.4.1.9.2", type = "counter", walk = false },
]

[[target]]
name = "sw-v1"
kind = "snmp"
address = "10.0.0.3:1161"
version = "1"
community_env = "COMMUNITY_VAR"
retries = 10
max_repetitions = 1

[[target]]
name = "fw-v3"
kind = "snmp"
address = "[2001:db8::1]"
version = "3"
user = "monitor"
auth = "SHA512"
auth_password_file = "secrets/auth"
priv = "Aes256"
priv_password_env = "PRIV_VAR"
context = "vrf-mgmt"
timeout = "1s"

[[target]]
name = "ap-v3"
kind = "snmp"
address = "::1"
version = "3"
user = "noauth-user"

[[target]]
name = "ap-authnopriv"
kind = "snmp"
address = "ap2"
version = "3"
user = "u"
auth = "sha"
auth_password = "inline-auth-pass-4"
priv = "des"
priv_password = "inline-priv-pass-5"

[[target]]
name = "gw-ping"
host = "gw"
kind = "icmp"
address = "[2001:db8::9]"
count = 100

[[target]]
name = "db1-ports"
kind = "tcp"
address = "db1.example.net."
ports = [5432, 22, 65535, 1]

[[target]]
name = "shop"
kind = "http"
url = "https://shop.example.com/health?full=1"
method = "patch"
expect_status = [204, "3xx", 301]
body_contains = "ready"
body_regex = '^\{"status":\s*"ok"'
max_redirects = 0
insecure_tls = true
body_limit = 4096
basic_auth = { username = "probe", password_env = "HTTP_PASS_VAR" }

[[target]]
name = "api"
kind = "http"
url = "http://127.0.0.1:8080/"
expect_status = 418
bearer_token = "inline-token-6"
"#;

const PROBE_SECRETS: &[&str] = &[
    "inline-community-1",
    "env-community-2",
    "file-auth-pass-3",
    "env-priv-pass-7",
    "inline-auth-pass-4",
    "inline-priv-pass-5",
    "inline-token-6",
    "env-http-pass-8",
];

struct Fixture {
    dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("secrets")).expect("mkdir");
    std::fs::write(dir.path().join("secrets/auth"), "file-auth-pass-3\n").expect("write");
    Fixture { dir }
}

fn probe_env() -> impl Fn(&str) -> Result<String, VarError> + use<> {
    env_of(&[
        ("HOME", "/home/tester"),
        ("COMMUNITY_VAR", "env-community-2"),
        ("PRIV_VAR", "env-priv-pass-7"),
        ("HTTP_PASS_VAR", "env-http-pass-8"),
    ])
}

fn load_probes() -> Config {
    let fx = fixture();
    parse_with_env(PROBES, "probes.toml", fx.dir.path(), &probe_env())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_snmp_option_reaches_the_runtime_type() {
    let config = load_probes();

    let s = snmp(&config, "sw-v2c");
    assert_eq!(s.address, "sw1.example.net:161");
    assert_eq!(s.version, SnmpVersion::V2c);
    assert_eq!(
        s.community.as_ref().map(|c| c.expose()),
        Some("inline-community-1")
    );
    assert!(s.v3.is_none());
    assert_eq!(s.profiles, [SnmpProfile::IfMib, SnmpProfile::System]);
    assert_eq!(s.max_repetitions, 100);
    assert_eq!(s.request_timeout, Duration::from_millis(1500));
    assert_eq!(s.retries, 0);
    let want = vec![
        CustomOid {
            name: "ups_charge".into(),
            oid: vec![1, 3, 6, 1, 2, 1, 33, 1, 2, 4, 0],
            kind: CustomOidKind::Gauge,
            walk: false,
            index_labels: vec![],
            lookup: vec![],
        },
        CustomOid {
            name: "if_alias".into(),
            oid: vec![1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 18],
            kind: CustomOidKind::Text,
            walk: true,
            index_labels: vec!["ifIndex".into()],
            lookup: vec![],
        },
        CustomOid {
            name: "state".into(),
            oid: vec![1, 3, 6, 1, 4, 1, 9, 1],
            kind: CustomOidKind::Gauge,
            walk: true,
            index_labels: vec![],
            // In the order written, not the table's key order.
            lookup: vec![(2, "down".into()), (1, "up".into()), (-1, "unknown".into())],
        },
        CustomOid {
            name: "errors_total".into(),
            oid: vec![1, 3, 6, 1, 4, 1, 9, 2],
            kind: CustomOidKind::Counter,
            walk: false,
            index_labels: vec![],
            lookup: vec![],
        },
    ];
    assert_eq!(s.custom, want);

    let s = snmp(&config, "sw-v1");
    assert_eq!(s.address, "10.0.0.3:1161");
    assert_eq!(s.version, SnmpVersion::V1);
    assert_eq!(
        s.community.as_ref().map(|c| c.expose()),
        Some("env-community-2")
    );
    assert_eq!((s.retries, s.max_repetitions), (10, 1));
    assert_eq!(s.profiles, DEFAULT_PROFILES);

    let s = snmp(&config, "fw-v3");
    assert_eq!(s.address, "[2001:db8::1]:161");
    assert_eq!(s.version, SnmpVersion::V3);
    assert!(s.community.is_none());
    let v3 = s.v3.as_ref().expect("v3 security");
    assert_eq!(v3.user, "monitor");
    assert_eq!(v3.context, "vrf-mgmt");
    let (auth, pass) = v3.auth.as_ref().expect("auth");
    assert_eq!(
        (*auth, pass.expose()),
        (SnmpAuthProtocol::Sha512, "file-auth-pass-3")
    );
    let (privacy, pass) = v3.privacy.as_ref().expect("priv");
    assert_eq!(
        (*privacy, pass.expose()),
        (SnmpPrivProtocol::Aes256, "env-priv-pass-7")
    );
    // The default request timeout shrinks to a shorter target timeout.
    assert_eq!(s.request_timeout, secs(1));

    let s = snmp(&config, "ap-v3");
    assert_eq!(s.address, "[::1]:161");
    let v3 = s.v3.as_ref().expect("v3");
    assert_eq!(v3.user, "noauth-user");
    assert!(v3.auth.is_none() && v3.privacy.is_none());
    assert_eq!(v3.context, "");

    let v3 = snmp(&config, "ap-authnopriv").v3.as_ref().expect("v3");
    let (auth, pass) = v3.auth.as_ref().expect("auth");
    assert_eq!(
        (*auth, pass.expose()),
        (SnmpAuthProtocol::Sha1, "inline-auth-pass-4")
    );
    let (privacy, pass) = v3.privacy.as_ref().expect("priv");
    assert_eq!(
        (*privacy, pass.expose()),
        (SnmpPrivProtocol::Des, "inline-priv-pass-5")
    );
}

#[test]
fn every_icmp_tcp_http_option_reaches_the_runtime_type() {
    let config = load_probes();

    let target = config
        .targets
        .iter()
        .find(|t| t.name == "gw-ping")
        .expect("gw-ping");
    assert_eq!(target.host, "gw");
    let i = icmp(&config, "gw-ping");
    assert_eq!((i.address.as_str(), i.count), ("2001:db8::9", 100));

    let t = tcp(&config, "db1-ports");
    assert_eq!(t.address, "db1.example.net.");
    assert_eq!(t.ports, [5432, 22, 65535, 1]);

    let h = http(&config, "shop");
    assert_eq!(h.url.as_str(), "https://shop.example.com/health?full=1");
    assert_eq!(h.method, "PATCH");
    let mut want: Vec<u16> = vec![204];
    want.extend(300..=399);
    assert_eq!(h.expect_status, want);
    assert_eq!(h.body_contains.as_deref(), Some("ready"));
    assert_eq!(h.body_regex.as_deref(), Some(r#"^\{"status":\s*"ok""#));
    assert_eq!(h.max_redirects, 0);
    assert!(h.insecure_tls);
    assert_eq!(h.body_limit, 4096);
    match &h.auth {
        Some(Auth::Basic { username, password }) => {
            assert_eq!(
                (username.as_str(), password.expose()),
                ("probe", "env-http-pass-8")
            );
        }
        other => panic!("{other:?}"),
    }

    let h = http(&config, "api");
    assert_eq!(h.expect_status, [418]);
    assert_eq!(h.method, "GET");
    assert_eq!(h.body_limit, 5 << 20, "inherits [defaults] body_limit");
    match &h.auth {
        Some(Auth::Bearer { token }) => assert_eq!(token.expose(), "inline-token-6"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn minimal_targets_take_the_documented_defaults() {
    let text = r#"
[[target]]
name = "s"
kind = "snmp"
address = "10.0.0.2"
community = "public"

[[target]]
name = "i"
kind = "icmp"
address = "10.0.0.1"

[[target]]
name = "t"
kind = "tcp"
address = "10.0.0.7"
ports = [22]

[[target]]
name = "h"
kind = "http"
url = "https://example.com/"
"#;
    let config = parse_with_env(text, "m.toml", Path::new("/"), &env_of(&[("HOME", "/h")]))
        .unwrap_or_else(|e| panic!("{e}"));
    let s = snmp(&config, "s");
    assert_eq!(s.address, "10.0.0.2:161");
    assert_eq!(s.version, SnmpVersion::V2c);
    assert_eq!(s.profiles, DEFAULT_PROFILES);
    assert!(s.custom.is_empty());
    assert_eq!(
        (s.max_repetitions, s.request_timeout, s.retries),
        (25, secs(2), 2)
    );
    assert_eq!(icmp(&config, "i").count, 3);
    assert_eq!(tcp(&config, "t").ports, [22]);
    let h = http(&config, "h");
    assert_eq!(h.method, "GET");
    assert_eq!(h.expect_status, (200..=299).collect::<Vec<u16>>());
    assert_eq!(
        (h.body_contains.as_ref(), h.body_regex.as_ref()),
        (None, None)
    );
    assert_eq!(h.max_redirects, 10);
    assert!(!h.insecure_tls);
    assert!(h.auth.is_none());
    assert_eq!(h.body_limit, DEFAULT_BODY_LIMIT);
    for t in &config.targets {
        assert_eq!((t.interval, t.timeout), (secs(15), secs(10)), "{}", t.name);
    }
}

#[test]
fn debug_output_never_shows_probe_secrets() {
    let config = load_probes();
    let shown = format!("{config:?} {config:#?}");
    for secret in PROBE_SECRETS {
        assert!(!shown.contains(secret), "Debug shows {secret}");
    }
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn example_env(home: &str) -> impl Fn(&str) -> Result<String, VarError> + use<> {
    env_of(&[
        ("HOME", home),
        ("SNMP_COMMUNITY", "example-community"),
        ("SNMP_AUTH_PASSWORD", "example-auth-pass"),
        ("SNMP_PRIV_PASSWORD", "example-priv-pass"),
        ("SHOP_PASSWORD", "example-shop-pass"),
        ("SHOP_TOKEN", "example-shop-token"),
    ])
}

#[test]
fn example_probes_loads() {
    let path = examples_dir().join("probes.toml");
    let config =
        load_with_env(&path, &example_env("/home/tester")).unwrap_or_else(|e| panic!("{e}"));
    let kinds: Vec<&str> = config.targets.iter().map(|t| t.kind.name()).collect();
    assert_eq!(kinds, ["snmp", "snmp", "icmp", "tcp", "http"]);
    assert_eq!(snmp(&config, "core-sw1").address, "127.0.0.1:161");
    assert_eq!(tcp(&config, "db1-ports").ports, [22, 5432]);
}

/// The key of a `key = value` line, and its credential family: `community_env` and
/// `community_file` are alternatives to `community`, so only one may be active.
fn option_key(line: &str) -> Option<(&str, &str)> {
    let (key, _) = line.split_once(" = ")?;
    if !key.chars().all(|c| c.is_ascii_lowercase() || c == '_') || key.is_empty() {
        return None;
    }
    let family = key
        .strip_suffix("_env")
        .or_else(|| key.strip_suffix("_file"))
        .unwrap_or(key);
    Some((key, family))
}

/// Every commented option of the example, uncommented on its own (with the active alternative
/// of the same credential commented out), must still load.
#[test]
fn every_commented_probe_option_is_valid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let conf = home.join(".config/nocscope");
    std::fs::create_dir_all(&conf).expect("mkdir");
    for file in ["community", "snmp-auth", "snmp-priv", "shop-token"] {
        std::fs::write(conf.join(file), "example-secret-in-a-file\n").expect("write");
    }
    let env = example_env(&home.display().to_string());

    let text = std::fs::read_to_string(examples_dir().join("probes.toml")).expect("example");
    let lines: Vec<&str> = text.lines().collect();
    let mut tried = 0;
    for (i, line) in lines.iter().enumerate() {
        let Some(option) = line.strip_prefix("# ") else {
            continue;
        };
        let Some((_, family)) = option_key(option) else {
            continue;
        };
        let block_start = lines[..i]
            .iter()
            .rposition(|l| *l == "[[target]]")
            .unwrap_or(0);
        let block_end = lines[i..]
            .iter()
            .position(|l| *l == "[[target]]")
            .map_or(lines.len(), |n| i + n);
        let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        edited[i] = option.to_string();
        for j in block_start..block_end {
            if j != i && option_key(lines[j]).is_some_and(|(_, f)| f == family) {
                edited[j] = format!("# {}", lines[j]);
            }
        }
        if let Err(e) = parse_with_env(&edited.join("\n"), "probes.toml", dir.path(), &env) {
            panic!(
                "uncommenting line {} ({option}) breaks the example:\n{e}",
                i + 1
            );
        }
        tried += 1;
    }
    assert!(tried >= 24, "only {tried} commented options found");
}

/// (key, value) → accepted? For every numeric limit, exactly the documented range passes and
/// reaches the runtime type unchanged.
#[test]
fn numeric_ranges_table() {
    type Get = fn(&Config) -> i64;
    let rows: &[(&str, &str, i64, i64, Get)] = &[
        ("snmp", "max_repetitions", 1, 100, |c| {
            i64::from(snmp(c, "x").max_repetitions)
        }),
        ("snmp", "retries", 0, 10, |c| {
            i64::from(snmp(c, "x").retries)
        }),
        ("icmp", "count", 1, 100, |c| i64::from(icmp(c, "x").count)),
        ("http", "max_redirects", 0, 100, |c| {
            i64::from(http(c, "x").max_redirects)
        }),
    ];
    let env = env_of(&[("HOME", "/h")]);
    for (kind, key, lo, hi, get) in rows {
        let base = match *kind {
            "snmp" => "address = \"h\"\ncommunity = \"c\"",
            "icmp" => "address = \"h\"",
            _ => "url = \"http://h/\"",
        };
        for value in [lo - 1, *lo, lo + 1, hi - 1, *hi, hi + 1, i64::MIN, i64::MAX] {
            let text =
                format!("[[target]]\nname = \"x\"\nkind = \"{kind}\"\n{base}\n{key} = {value}\n");
            let got = parse_with_env(&text, "r.toml", Path::new("/"), &env);
            let want_ok = (*lo..=*hi).contains(&value);
            match got {
                Ok(c) if want_ok => assert_eq!(get(&c), value, "{kind} {key} = {value}"),
                Err(e) if !want_ok => {
                    assert_eq!(e.problems.len(), 1, "{e}");
                    assert!(
                        e.problems[0]
                            .message
                            .contains(&format!("from {lo} to {hi}")),
                        "{e}"
                    );
                }
                other => panic!("{kind} {key} = {value}: {other:?}"),
            }
        }
    }
}

/// A probe config that mentions `secret` in every place an SNMP or HTTP secret can go, with a
/// mistake around it so that the file fails to load.
fn probe_with_secret(secret: &str, variant: u8) -> String {
    let body = match variant % 9 {
        // Community on a v3 target.
        0 => format!(
            "kind = \"snmp\"\naddress = \"h\"\nversion = \"3\"\nuser = \"u\"\ncommunity = \"{secret}\""
        ),
        // Community on a ping target (a key of another kind).
        1 => format!("kind = \"icmp\"\naddress = \"h\"\ncommunity = \"{secret}\""),
        // A password pasted into the protocol key.
        2 => format!(
            "kind = \"snmp\"\naddress = \"h\"\nversion = \"3\"\nuser = \"u\"\nauth = \"{secret}\"\nauth_password = \"{secret}\""
        ),
        // Privacy without authentication.
        3 => format!(
            "kind = \"snmp\"\naddress = \"h\"\nversion = \"3\"\nuser = \"u\"\npriv = \"aes\"\npriv_password = \"{secret}\""
        ),
        // A community that also ended up in a value that is echoed.
        4 => format!(
            "kind = \"snmp\"\naddress = \"h\"\ncommunity = \"{secret}\"\nversion = \"{secret}\""
        ),
        5 => format!("kind = \"snmp\"\naddress = \"{secret}:99999\"\ncommunity = \"{secret}\""),
        // Two sources of one password.
        6 => format!(
            "kind = \"snmp\"\naddress = \"h\"\nversion = \"3\"\nuser = \"u\"\nauth = \"md5\"\nauth_password = \"{secret}\"\nauth_password_env = \"V\""
        ),
        7 => format!(
            "kind = \"http\"\nurl = \"http://h/\"\nbearer_token = \"{secret}\"\nbody_regex = \"({secret}\""
        ),
        _ => format!(
            "kind = \"snmp\"\naddress = \"h\"\nversion = \"2c\"\ncommunity = \"{secret}\"\nuser = \"{secret}\""
        ),
    };
    format!("[[target]]\nname = \"t\"\n{body}\n")
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn probe_secrets_never_appear_in_problems(secret in "[A-Za-z0-9]{12,24}", variant in 0u8..9) {
        let text = probe_with_secret(&secret, variant);
        let env = env_of(&[("HOME", "/h"), ("V", "other-value-xyz")]);
        let err = parse_with_env(&text, "s.toml", Path::new("/"), &env)
            .map(|c| format!("{c:?}"))
            .expect_err("every variant has a mistake");
        prop_assert!(!err.to_string().contains(&secret), "{err}");
        let debug = format!("{err:?}");
        prop_assert!(!debug.contains(&secret));
    }

    /// Deleting or replacing any slice of the probe config never panics; problems have
    /// positions inside the file, sorted; and a value still under a credential key is never
    /// shown.
    #[test]
    fn mutated_probe_configs_never_panic(
        start in 0usize..PROBES.len(),
        len in 0usize..40,
        insert in prop::sample::select(vec!["", "\"", "=", "[", "]]", "x", "\n", "0", "{", "#", "é", "3", "snmp"]),
    ) {
        let fx = fixture();
        let end = (start + len).min(PROBES.len());
        let (Some(head), Some(tail)) = (PROBES.get(..start), PROBES.get(end..)) else {
            return Ok(());
        };
        let text = format!("{head}{insert}{tail}");
        let kept: Vec<&str> = PROBE_SECRETS
            .iter()
            .copied()
            .filter(|s| {
                !PROBES.contains(s)
                    || ["community", "auth_password", "priv_password", "bearer_token"]
                        .iter()
                        .any(|k| text.contains(&format!("{k} = \"{s}\"")))
            })
            .collect();
        match parse_with_env(&text, "m.toml", fx.dir.path(), &probe_env()) {
            Ok(config) => {
                let shown = format!("{config:?}");
                for secret in &kept {
                    prop_assert!(!shown.contains(secret), "{shown}");
                }
            }
            Err(e) => {
                let lines = u32::try_from(text.lines().count()).unwrap_or(u32::MAX);
                let mut last = (0, 0);
                for p in &e.problems {
                    prop_assert!(p.line >= 1 && p.col >= 1 && p.line <= lines + 1, "{p}");
                    prop_assert!((p.line, p.col) >= last, "unsorted: {e}");
                    last = (p.line, p.col);
                }
                let shown = e.to_string();
                for secret in &kept {
                    prop_assert!(!shown.contains(secret), "{shown}");
                }
            }
        }
    }

    /// Any ports list: accepted exactly when it is non-empty, at most 100 long, every port in
    /// 1..=65535 and none repeated; then it arrives in the order written.
    #[test]
    fn ports_rule(ports in prop::collection::vec(-2i64..70_000, 0..6)) {
        let list = ports.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        let text = format!("[[target]]\nname = \"t\"\nkind = \"tcp\"\naddress = \"h\"\nports = [{list}]\n");
        let got = parse_with_env(&text, "p.toml", Path::new("/"), &env_of(&[("HOME", "/h")]));
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        let valid = !ports.is_empty()
            && unique.len() == ports.len()
            && ports.iter().all(|p| (1..=65_535).contains(p));
        match got {
            Ok(c) => {
                prop_assert!(valid, "{list} accepted");
                let got: Vec<i64> = tcp(&c, "t").ports.iter().map(|p| i64::from(*p)).collect();
                prop_assert_eq!(got, ports);
            }
            Err(e) => prop_assert!(!valid, "{list}: {e}"),
        }
    }

    /// Any expect_status list of codes and classes: accepted exactly when every item is a code
    /// in 100..=599 or a class 1xx..5xx; the result is the sorted union.
    #[test]
    fn expect_status_rule(items in prop::collection::vec(prop_oneof![
        (0i64..700).prop_map(|n| n.to_string()),
        (0u8..8).prop_map(|d| format!("\"{d}xx\"")),
    ], 1..5)) {
        let text = format!(
            "[[target]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://h/\"\nexpect_status = [{}]\n",
            items.join(", ")
        );
        let got = parse_with_env(&text, "e.toml", Path::new("/"), &env_of(&[("HOME", "/h")]));
        let mut want = std::collections::BTreeSet::new();
        let mut valid = true;
        for item in &items {
            if let Some(class) = item.strip_prefix('"') {
                let d = u16::from(class.as_bytes()[0] - b'0');
                if (1..=5).contains(&d) { want.extend(d * 100..d * 100 + 100); } else { valid = false; }
            } else {
                let n: u16 = item.parse().unwrap_or(0);
                if (100..=599).contains(&n) { want.insert(n); } else { valid = false; }
            }
        }
        match got {
            Ok(c) => {
                prop_assert!(valid, "{items:?} accepted");
                prop_assert_eq!(&http(&c, "t").expect_status, &want.into_iter().collect::<Vec<_>>());
            }
            Err(e) => prop_assert!(!valid, "{items:?}: {e}"),
        }
    }
}
