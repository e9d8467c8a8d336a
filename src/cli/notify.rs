//! `nocscope notify check` and `nocscope notify routes`: amtool's `check-config` and
//! `config routes test` for an `alertmanager.yml` — the same report and exit codes. Reads the
//! files; what a configuration means lives in `crate::notify`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::rules::read;
use super::{EXIT_OK, EXIT_PROBLEM, clean_lines};
use crate::notify::dispatch::Dispatcher;
use crate::notify::load_config;
use crate::notify::stream::{parse_stream, parse_time};
use crate::notify::webhook::{go_time, payload};

#[derive(Debug, clap::Subcommand)]
pub enum NotifyCommand {
    /// Check alertmanager.yml files as `amtool check-config` does: exit 0 when every file
    /// loads, 1 when one does not (with Alertmanager's reason). Receiver types nocscope cannot
    /// deliver to are refused by name
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the receivers an alert with these labels is routed to, as `amtool config routes
    /// test` does
    Routes {
        /// The alertmanager.yml
        file: PathBuf,
        /// The alert's labels, as name=value
        labels: Vec<String>,
    },
    /// Run a timed stream of alert posts (JSON lines `{"at": RFC 3339, "alerts": [...]}`,
    /// the alerts as Alertmanager's push API takes them) through the dispatcher in virtual
    /// time, and print each notification it would send: time, receiver, URL and the exact
    /// webhook body, one JSON object per line
    Simulate {
        /// The alertmanager.yml
        config: PathBuf,
        /// The stream of posts
        stream: PathBuf,
        /// The URL the payloads name as `externalURL`
        #[arg(long, default_value = "")]
        external_url: String,
        /// When the dispatcher started (the phase of its clean-ups); default: the first post
        #[arg(long)]
        start: Option<String>,
        /// Keep the clock running this long after the last post
        #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
        after: std::time::Duration,
    },
}

pub fn run(cmd: &NotifyCommand) -> i32 {
    match cmd {
        NotifyCommand::Check { files } => check(files),
        NotifyCommand::Routes { file, labels } => routes(file, labels),
        NotifyCommand::Simulate {
            config,
            stream,
            external_url,
            start,
            after,
        } => match simulate(config, stream, external_url, start.as_deref(), *after) {
            Ok(()) => EXIT_OK,
            Err(e) => {
                eprintln!("{}", clean_lines(&format!("nocscope: {e}")));
                EXIT_PROBLEM
            }
        },
    }
}

fn check(files: &[PathBuf]) -> i32 {
    let mut failed = 0usize;
    for path in files {
        let name = path.display().to_string();
        let loaded = read(path).and_then(|t| load_config(&t).map_err(|e| e.message));
        match loaded {
            Ok(c) => {
                // amtool then checks the templates; their contents are not read here (no
                // receiver we deliver to uses one yet), so a listed template passes.
                let templates = if c.templates.is_empty() {
                    ""
                } else {
                    "  SUCCESS\n"
                };
                println!(
                    "{}",
                    clean_lines(&format!(
                        "Checking '{name}'  SUCCESS\nFound:\n - global config\n - route\n - {} inhibit rules\n - {} receivers\n - {} templates\n{templates}",
                        c.inhibit_rules.len(),
                        c.receivers.len(),
                        c.templates.len()
                    ))
                );
            }
            Err(e) => {
                failed += 1;
                println!(
                    "{}",
                    clean_lines(&format!("Checking '{name}'  FAILED: {e}\n"))
                );
            }
        }
    }
    if failed > 0 {
        eprintln!("nocscope: error: failed to validate {failed} file(s)");
        return EXIT_PROBLEM;
    }
    EXIT_OK
}

fn routes(file: &Path, labels: &[String]) -> i32 {
    let config = match read(file).and_then(|t| load_config(&t).map_err(|e| e.message)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", clean_lines(&format!("nocscope: {e}")));
            return EXIT_PROBLEM;
        }
    };
    let mut set = BTreeMap::new();
    for l in labels {
        let Some((k, v)) = l.split_once('=') else {
            eprintln!(
                "{}",
                clean_lines(&format!("nocscope: {l:?}: labels are name=value"))
            );
            return super::EXIT_USAGE;
        };
        set.insert(k.to_string(), v.trim_matches('"').to_string());
    }
    let receivers: Vec<&str> = config
        .route
        .matching(&set)
        .iter()
        .map(|r| r.receiver.as_str())
        .collect();
    println!("{}", clean_lines(&receivers.join(",")));
    EXIT_OK
}

fn simulate(
    config: &Path,
    stream: &Path,
    external_url: &str,
    start: Option<&str>,
    after: std::time::Duration,
) -> Result<(), String> {
    let c = read(config).and_then(|t| {
        load_config(&t).map_err(|e| format!("{}: {}", config.display(), e.message))
    })?;
    let posts = read(stream)
        .and_then(|t| parse_stream(&t).map_err(|e| format!("{}: {e}", stream.display())))?;
    let Some(first) = posts.first().map(|p| p.at) else {
        return Ok(());
    };
    let start = match start {
        Some(s) => parse_time(s)?,
        None => first,
    };
    let end = posts.last().map_or(first, |p| p.at)
        + i64::try_from(after.as_millis()).map_err(|_| "--after is too long".to_string())?;
    let c = std::sync::Arc::new(c);
    let mut d = Dispatcher::new(std::sync::Arc::clone(&c), start)?;
    d.assume_delivered(true);
    let mut out = std::io::stdout().lock();
    let mut print = |n: &crate::notify::Notification| -> Result<(), String> {
        let hook = c.webhook(&n.receiver, n.integration);
        let (url, max) = hook.map_or(("", 0), |h| (h.url.as_str(), h.max_alerts));
        let line = serde_json::json!({
            "at": go_time(Some(n.at)),
            "receiver": n.receiver,
            "integration": n.integration,
            "url": url,
            "body": payload(n, external_url, max),
        });
        use std::io::Write as _;
        writeln!(out, "{line}").map_err(|e| format!("stdout: {e}"))
    };
    for p in posts {
        for n in d.advance(p.at) {
            print(&n)?;
        }
        for s in p.silences {
            d.add_silence(s, p.at).map_err(|e| {
                format!(
                    "{}: a silence at {}: {e}",
                    stream.display(),
                    go_time(Some(p.at))
                )
            })?;
        }
        for a in p.alerts {
            d.put_api(a, p.at);
        }
    }
    for n in d.advance(end) {
        print(&n)?;
    }
    Ok(())
}
