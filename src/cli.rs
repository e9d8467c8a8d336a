//! The command line: clap definitions, the headless commands' wiring and their exit codes
//! (0 fine, 1 a check or lint found a problem, 2 bad usage or config). No business logic here.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;

use crate::app::{
    LiveRecording, Pump, PumpOptions, Sinks, bind_models, http_client, models, open_store,
    spawn_engine,
};
use crate::collect::scheduler;
use crate::config::{self, Config};
use crate::engine::{Engine, Event, ModelBinding};
use crate::expo::{self, Format};
use crate::human::{human_days, human_duration};
use crate::model::{
    AlertState, AnomalyEvent, Forecast, HostStatus, Input, Millis, Snapshot, Vitals,
};
use crate::replay;
use crate::sanitize::sanitize;
use crate::store::Store;

mod eval;
mod lstm_args;
pub mod nab_data;
mod notify;
mod rules;
mod train;

pub use eval::EvalArgs;
pub use rules::RulesCommand;
pub use train::TrainArgs;

pub use crate::app::{EXIT_OK, EXIT_PROBLEM, EXIT_USAGE};

/// Largest exposition body `lint` reads (stdin can be endless).
const LINT_MAX_BYTES: u64 = 256 << 20;

#[derive(Debug, Parser)]
#[command(
    name = "nocscope",
    version,
    about = "A terminal console for servers and network devices"
)]
pub struct Cli {
    /// Config file (default: $XDG_CONFIG_HOME/nocscope/config.toml)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Record every observation and tick the engine sees to FILE (.nsr), for `nocscope replay`
    #[arg(long, global = true, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Keymap file merged over the default (default: keymap.toml beside the config file)
    #[arg(long, global = true, value_name = "FILE")]
    pub keymap: Option<PathBuf>,
    /// Print the effective keymap (the default merged with --keymap) as TOML and exit
    #[arg(long)]
    pub print_keymap: bool,
    /// Print the alert rules in force (the built-in ones merged with the config's [[rule]]
    /// sections) as TOML and exit
    #[arg(long)]
    pub print_rules: bool,
    /// Colour theme: dark, light, high-contrast, mono, or a theme file
    #[arg(long, global = true, value_name = "NAME|FILE", default_value = "dark")]
    pub theme: String,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Poll the configured targets without a terminal UI and print each host's status
    Check(CheckArgs),
    /// Check an exposition body (Prometheus text 0.0.4 or OpenMetrics 1.0) like `promtool check metrics`
    Lint(LintArgs),
    /// Replay a recording (.nsr): print transitions as they happen at --speed, or with
    /// --headless the alert timeline and final statuses at once
    Replay(ReplayArgs),
    /// Train an LSTM autoencoder model for one series (from the history store, a CSV or a
    /// recording) and save it to the data dir
    Train(TrainArgs),
    /// Evaluate an anomaly detector on labelled series in NAB layout: precision, recall, F1
    /// and the NAB score, per file and in total
    Eval(EvalArgs),
    /// Prometheus rule files: `check` and `test` as promtool does them
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Alertmanager configuration: `check` and `routes` as amtool does them
    Notify {
        #[command(subcommand)]
        command: notify::NotifyCommand,
    },
    /// Config file commands
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a config file and print every problem as file:line:col
    Check {
        /// The file (default: --config, then $XDG_CONFIG_HOME/nocscope/config.toml)
        file: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Poll every target once and exit (the default)
    #[arg(long, conflicts_with = "for_")]
    pub once: bool,
    /// Keep polling this long (e.g. 60s, 10m) and print transitions as they happen
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub for_: Option<Duration>,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Do not write history to the SQLite store
    #[arg(long)]
    pub no_store: bool,
    /// With --for and a `notify` file: print the notifications that would be sent instead
    /// of sending them
    #[arg(long, requires = "for_")]
    pub dry_run: bool,
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The recording, as written by --record
    pub file: PathBuf,
    /// Print the alert timeline and final statuses without playing in real time
    #[arg(long)]
    pub headless: bool,
    /// Playback speed: a factor from 1 to 1000, or "max"
    #[arg(long, default_value = "1", value_parser = replay::Speed::parse)]
    pub speed: replay::Speed,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Replay against other rules: a Prometheus rule file (.yml, .yaml; repeat for more) in
    /// place of the recorded ones, or a TOML file of [[rule]] sections merged over the
    /// built-in rules in place of the recorded own rules
    #[arg(long, value_name = "FILE")]
    pub rules: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// The body to check; `-` reads standard input
    pub file: String,
    /// Check strictly against OpenMetrics 1.0 (also chosen when the body ends in `# EOF`)
    #[arg(long)]
    pub openmetrics: bool,
}

/// The same strict duration grammar as the config file, so `--for 5 minutes` fails the same way.
fn parse_duration(s: &str) -> Result<Duration, String> {
    config::parse_duration(s).ok_or_else(|| {
        format!("invalid duration {s:?}; use a number and unit like \"60s\", \"10m\", \"1h30m\"")
    })
}

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    if cli.print_keymap {
        return match crate::app::print_keymap(cli.keymap.as_deref()) {
            Ok(text) => {
                print!("{text}");
                EXIT_OK
            }
            Err(e) => {
                for p in &e.problems {
                    eprintln!("{}", sanitize(&p.to_string()));
                }
                EXIT_USAGE
            }
        };
    }
    if cli.print_rules {
        return print_rules(cli.config.as_deref());
    }
    match cli.command {
        Some(Command::Check(args)) => check(cli.config.as_deref(), cli.record.as_deref(), &args),
        Some(Command::Lint(args)) => lint(&args),
        Some(Command::Replay(ref args)) => replay_file(args, &cli),
        Some(Command::Train(ref args)) => train::run(args, &cli),
        Some(Command::Eval(ref args)) => eval::run(args),
        Some(Command::Rules { ref command }) => rules::run(command),
        Some(Command::Notify { ref command }) => notify::run(command),
        Some(Command::Config {
            command: ConfigCommand::Check { file },
        }) => config_check(file.as_deref().or(cli.config.as_deref())),
        None if cli.config.is_none() && !config::default_path().is_some_and(|p| p.exists()) => {
            // Nothing configured: show what nocscope does on the bundled demo recording, so a
            // first run on a fresh machine is useful: played in the console on a terminal, as
            // the headless report for pipes and scripts.
            use std::io::IsTerminal;
            if std::io::stdout().is_terminal() {
                let looked = config::default_path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "$XDG_CONFIG_HOME/nocscope/config.toml".to_string());
                // Short enough for 80 columns with a typical home directory.
                let line = format!("demo: no config at {looked} (see examples/)");
                return replay_console(
                    replay::DEMO.to_vec(),
                    "demo",
                    replay::Speed::Factor(1.0),
                    &cli,
                    Some(line),
                );
            }
            let mut out = std::io::stdout().lock();
            replay_report(replay::DEMO, "demo", OutputFormat::Text, &mut out)
        }
        None => console(&cli),
    }
}

/// The live console on the configured targets. Everything that can be wrong with the config,
/// keymap or theme is reported before the terminal enters raw mode.
fn console(cli: &Cli) -> i32 {
    use std::io::IsTerminal;
    let config = match load_config(cli.config.as_deref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let base = config
        .source
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let theme = match console_theme(&cli.theme, &base) {
        Ok(t) => t,
        Err(code) => return code,
    };
    if !std::io::stdout().is_terminal() {
        eprintln!(
            "nocscope: the console needs a terminal; for scripts and cron use `nocscope check`"
        );
        return EXIT_USAGE;
    }
    let ui = config.ui.clone();
    crate::app::run_console(
        config,
        crate::app::ConsoleOptions {
            keymap: cli.keymap.clone(),
            theme,
            record: cli.record.clone(),
            ui,
            ..crate::app::ConsoleOptions::default()
        },
    )
}

fn resolve_config_path(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    match config::default_path() {
        Some(p) if p.exists() => Ok(p),
        Some(p) => Err(format!(
            "no config file: pass --config FILE or create {} (see examples/localhost.toml)",
            p.display()
        )),
        None => Err(
            "no config file: pass --config FILE (neither XDG_CONFIG_HOME nor HOME is set)"
                .to_string(),
        ),
    }
}

fn load_config(explicit: Option<&Path>) -> Result<Config, i32> {
    let path = resolve_config_path(explicit).map_err(|e| {
        eprintln!("nocscope: {e}");
        EXIT_USAGE
    })?;
    config::load(&path).map_err(|e| {
        for p in &e.problems {
            eprintln!("{}", sanitize(&p.to_string()));
        }
        EXIT_USAGE
    })
}

/// The recording with its rules replaced by `files` (see `ReplayArgs::rules`), every file
/// checked first as `rules check` and `config check` would.
fn with_rules(data: &[u8], files: &[PathBuf]) -> Result<Vec<u8>, String> {
    let mut yaml: Vec<replay::RecordedRuleFile> = Vec::new();
    let mut own: Option<String> = None;
    for f in files {
        let name = f.display().to_string();
        let text = rules::read(f).map_err(|e| format!("nocscope replay: --rules {e}"))?;
        let is_toml = f.extension().is_some_and(|x| x == "toml");
        if is_toml {
            let base = config::rules::default_rule_specs();
            let specs =
                config::check_rule_sections(&text, &name, &base).map_err(|e| e.to_string())?;
            own = Some(config::rules::rules_toml(&specs, &[]));
        } else {
            // Checked as the engine will load it, so a refusal comes with its position here.
            if let Err(problems) = crate::rules::file::load_rule_file(&name, &text) {
                let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
                return Err(lines.join("\n"));
            }
            yaml.push(replay::RecordedRuleFile { name, text });
        }
    }
    let new_files = !yaml.is_empty();
    let keep = |r: &replay::Record| {
        !(new_files
            && matches!(
                r,
                replay::Record::Input {
                    input: Input::Rules(_),
                    ..
                }
            ))
    };
    replay::with_header(
        data,
        |h| {
            if let Some(set) = own {
                h.rules = "recorded".to_string();
                h.rule_set = Some(set);
            }
            if !yaml.is_empty() {
                h.rule_files = yaml;
                // A recording without rule files says nothing of an interval: the live engine
                // would have used [defaults] interval, which the shortest target interval tells.
                let shortest = h
                    .targets
                    .iter()
                    .map(|t| t.interval_ms)
                    .min()
                    .unwrap_or(15_000);
                h.rule_interval_ms.get_or_insert(shortest);
            }
        },
        keep,
    )
    .map_err(|e| format!("nocscope replay: {e}"))
}

/// The rules of `--config` (or the default config file when there is one), else the
/// built-in rules alone.
fn print_rules(explicit: Option<&Path>) -> i32 {
    let has_config = explicit.is_some() || config::default_path().is_some_and(|p| p.exists());
    let text = if has_config {
        match load_config(explicit) {
            Ok(c) => config::rules::rules_toml(&c.rules, &c.rule_files),
            Err(code) => return code,
        }
    } else {
        config::rules::rules_toml(&config::rules::default_rule_specs(), &[])
    };
    print!("{}", clean_lines(&text));
    EXIT_OK
}

/// Sanitise text from outside for the terminal, keeping its line breaks and tabs (reports
/// and printed files are laid out with them).
fn clean_lines(text: &str) -> String {
    text.split('\n')
        .map(|line| {
            line.split('\t')
                .map(|part| sanitize(part).into_owned())
                .collect::<Vec<_>>()
                .join("\t")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn config_check(file: Option<&Path>) -> i32 {
    let path = match resolve_config_path(file) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("nocscope: {e}");
            return EXIT_USAGE;
        }
    };
    match config::load(&path) {
        Ok(c) => {
            println!(
                "{}: ok ({} target{})",
                sanitize(&path.display().to_string()),
                c.targets.len(),
                if c.targets.len() == 1 { "" } else { "s" }
            );
            EXIT_OK
        }
        Err(e) => {
            // One problem per line: sanitising the joined text would turn the newlines
            // between them into visible `\n`s.
            for p in &e.problems {
                println!("{}", sanitize(&p.to_string()));
            }
            EXIT_USAGE
        }
    }
}

fn lint(args: &LintArgs) -> i32 {
    let read = if args.file == "-" {
        crate::capped::read_to_end(std::io::stdin(), LINT_MAX_BYTES)
    } else {
        crate::capped::read_file(Path::new(&args.file), LINT_MAX_BYTES)
    };
    let body = match read {
        Ok(b) => b,
        Err(e) => {
            eprintln!("nocscope lint: {}: {e}", sanitize(&args.file));
            return EXIT_USAGE;
        }
    };
    let ends_with_eof = {
        let trimmed = body.strip_suffix(b"\n").unwrap_or(&body);
        trimmed.ends_with(b"# EOF")
    };
    let format = if args.openmetrics || ends_with_eof {
        Format::OpenMetrics1
    } else {
        Format::Prometheus004
    };
    let problems = expo::lint(&body, format);
    let mut out = std::io::stdout().lock();
    for p in &problems {
        let _ = writeln!(out, "{}", sanitize(&p.to_string()));
    }
    if problems.is_empty() {
        EXIT_OK
    } else {
        EXIT_PROBLEM
    }
}

fn check(config_path: Option<&Path>, record: Option<&Path>, args: &CheckArgs) -> i32 {
    let config = match load_config(config_path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if config.targets.is_empty() {
        eprintln!(
            "nocscope: {}: no targets configured; add a [[target]] (see examples/localhost.toml)",
            config
                .source
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
        return EXIT_USAGE;
    }
    let _log_guard = crate::logging::init(&config.defaults.data_dir);
    let store = if args.no_store {
        None
    } else {
        match open_store(&config) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("nocscope: {}", sanitize(&e.to_string()));
                return EXIT_USAGE;
            }
        }
    };
    let runtime = match crate::app::runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("nocscope: {e}");
            return EXIT_PROBLEM;
        }
    };
    let recording = match record {
        None => None,
        Some(path) => match LiveRecording::create(path, &config, false) {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!("nocscope: {e}");
                return EXIT_USAGE;
            }
        },
    };
    let code = runtime.block_on(check_async(&config, args, store.as_ref(), recording));
    if let Some(store) = store
        && let Err(e) = store.close()
    {
        eprintln!("nocscope: history not fully written: {e}");
    }
    code
}

async fn check_async(
    config: &Config,
    args: &CheckArgs,
    store: Option<&Store>,
    recording: Option<LiveRecording>,
) -> i32 {
    let client = match http_client() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("nocscope: {e}");
            return EXIT_PROBLEM;
        }
    };
    let mut engine = Engine::from_config(config);
    bind_models(&mut engine, models());
    if recording.is_none()
        && let Some(s) = store
    {
        crate::app::resume_alerts(&mut engine, s, scheduler::wall_clock_ms());
    }
    // What rules read before this start, from the store, fed (and recorded) before any poll.
    let history = store
        .map(|s| crate::app::rule_history(&engine, s, scheduler::wall_clock_ms()))
        .unwrap_or_default();
    let format = args.format;
    let mut sinks = Sinks {
        store: store.map(|s| s.sender()),
        recording,
        ..Sinks::default()
    };
    let engine = match args.for_ {
        None => {
            // One poll of each target: the final statuses are the whole report.
            sinks.events = Box::new(|_| {});
            let mut pump = Pump::new(engine, sinks);
            for input in history {
                pump.feed(input);
            }
            for o in scheduler::poll_all_once(config, &client).await {
                pump.feed(Input::Observation(o));
            }
            pump.feed(Input::Tick {
                now: scheduler::wall_clock_ms(),
            });
            pump.finish()
        }
        Some(d) => {
            // Transitions as they happen, one line each.
            sinks.events = Box::new(move |e| {
                let _ = writeln!(std::io::stdout(), "{}", format_event(e, format));
            });
            let (tx, rx) = tokio::sync::mpsc::channel(crate::app::INPUT_QUEUE);
            let dropped = Arc::new(AtomicU64::new(0));
            let mut pump = Pump::new(engine, sinks);
            for input in history {
                pump.feed(input);
            }
            let tasks = scheduler::spawn(Arc::new(config.clone()), client, tx, dropped.clone());
            let link = spawn_engine(
                pump,
                rx,
                PumpOptions {
                    clock: Some(scheduler::wall_clock_ms as fn() -> Millis),
                    dropped,
                    models: None,
                    // The notifier follows snapshots; without one nothing needs them.
                    publish: config.notify.is_some(),
                },
            );
            let notifier = match &config.notify {
                None => None,
                Some(n) => {
                    let delivery = if args.dry_run {
                        crate::app::Delivery::Print
                    } else {
                        match crate::app::notify_client() {
                            Ok(c) => crate::app::Delivery::Send(c),
                            Err(e) => {
                                eprintln!("nocscope: {e}");
                                return EXIT_PROBLEM;
                            }
                        }
                    };
                    Some(crate::app::spawn_notifier(
                        Arc::clone(&n.config),
                        String::new(),
                        link.snapshots.clone(),
                        delivery,
                    ))
                }
            };
            tokio::time::sleep(d).await;
            for t in tasks {
                t.abort();
            }
            if let Some(n) = notifier {
                let status = n.finish().await;
                if status.failed + status.dropped > 0 {
                    eprintln!(
                        "nocscope: {} notification(s) failed{}",
                        status.failed + status.dropped,
                        status
                            .last_error
                            .map(|e| format!(", last: {}", sanitize(&e)))
                            .unwrap_or_default()
                    );
                }
            }
            match link.finish().await {
                Some(pump) => pump.finish(),
                None => {
                    eprintln!("nocscope: the engine task failed");
                    return EXIT_PROBLEM;
                }
            }
        }
    };
    if let Some(store) = store
        && let Err(e) = store.flush()
    {
        eprintln!("nocscope: history not fully written: {e}");
    }
    let mut out = std::io::stdout();
    let snap = engine.snapshot();
    for h in &snap.hosts {
        let line = match args.format {
            OutputFormat::Text => format_host_text(h),
            OutputFormat::Json => format_host_json(h, &snap).to_string(),
        };
        let _ = writeln!(out, "{line}");
    }
    let all_up = snap.targets.iter().all(|t| t.up == Some(true));
    if all_up { EXIT_OK } else { EXIT_PROBLEM }
}

fn rfc3339(ms: Millis) -> String {
    let t = std::time::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.1}%"))
        .unwrap_or_else(|| "-".to_string())
}

/// `cpu 12.3%  mem 45.0%  swap -  load 0.52  disk 55.1% /`
pub fn format_vitals(v: &Vitals) -> String {
    let fullest = v
        .disks
        .iter()
        .max_by(|a, b| a.used_pct.total_cmp(&b.used_pct));
    format!(
        "cpu {}  mem {}  swap {}  load {}  disk {}",
        pct(v.cpu_pct),
        pct(v.mem_pct),
        pct(v.swap_pct),
        v.load1
            .map(|x| format!("{x:.2}"))
            .unwrap_or_else(|| "-".to_string()),
        fullest
            .map(|d| format!("{:.1}% {}", d.used_pct, sanitize(&d.mount)))
            .unwrap_or_else(|| "-".to_string()),
    )
}

pub fn format_host_text(h: &HostStatus) -> String {
    let mut line = format!(
        "{:<8}  {:<20}  {}",
        h.severity,
        sanitize(&h.name),
        format_vitals(&h.vitals)
    );
    if !h.reason.is_empty() {
        line.push_str("  | ");
        line.push_str(&sanitize(&h.reason));
    }
    if let Some(m) = &h.anomaly {
        line.push_str(&format!(
            "  | anomaly {} score {:.3} > {:.3}",
            m.vital, m.score, m.threshold
        ));
    }
    for f in &h.forecasts {
        line.push_str(&format!(
            "  | {} full in {} ({} to {})",
            f.vital,
            human_days(f.days),
            human_days(f.days_low),
            human_days(f.days_high)
        ));
    }
    line
}

pub fn format_host_json(h: &HostStatus, snap: &Snapshot) -> serde_json::Value {
    let firing: Vec<_> = snap
        .alerts
        .iter()
        .filter(|a| a.host == h.name && a.state == AlertState::Firing)
        .map(|a| {
            json!({
                "alert": a.rule,
                "labels": a.labels,
                "severity": a.severity,
                "summary": a.summary,
                "active_at": a.active_at,
                "fired_at": a.fired_at,
                "value": finite(a.value),
            })
        })
        .collect();
    let targets: Vec<_> = h
        .targets
        .iter()
        .filter_map(|id| snap.targets.get(id.index()))
        .map(|t| {
            json!({
                "name": t.name,
                "up": t.up,
                "last_poll": t.last_poll,
                "duration_ms": t.duration_ms,
                "error": t.error,
                "warning": t.warning,
                "samples": t.samples,
            })
        })
        .collect();
    json!({
        "name": h.name,
        "severity": h.severity,
        "since": h.since,
        "reason": h.reason,
        "vitals": h.vitals,
        "firing": firing,
        "targets": targets,
        "anomaly": h.anomaly.as_ref().map(|m| json!({
            "vital": m.vital,
            "score": finite(f64::from(m.score)),
            "threshold": finite(f64::from(m.threshold)),
            "since": m.since,
        })),
        "forecasts": forecasts_json(&h.forecasts),
    })
}

/// JSON has no NaN or infinity.
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

pub fn format_event(e: &Event, format: OutputFormat) -> String {
    match (e, format) {
        (
            Event::Host {
                at,
                host,
                from,
                to,
                reason,
            },
            OutputFormat::Text,
        ) => format!(
            "{}  {:<20}  {} -> {}  {}",
            rfc3339(*at),
            sanitize(host),
            from,
            to,
            sanitize(reason)
        ),
        (
            Event::Host {
                at,
                host,
                from,
                to,
                reason,
            },
            OutputFormat::Json,
        ) => json!({
            "event": "host", "at": at, "host": host, "from": from, "to": to, "reason": reason,
        })
        .to_string(),
        (Event::Alert(t), OutputFormat::Text) => format!(
            "{}  {:<20}  {}{} {} -> {} ({}, active {})  {}",
            rfc3339(t.at),
            sanitize(&t.host),
            t.rule,
            sanitize(&t.labels),
            t.from,
            t.to,
            t.severity,
            human_duration(t.at - t.active_at),
            sanitize(&t.summary)
        ),
        (Event::Alert(t), OutputFormat::Json) => json!({
            "event": "alert", "at": t.at, "host": t.host, "alert": t.rule, "labels": t.labels,
            "from": t.from, "to": t.to, "severity": t.severity, "active_at": t.active_at,
            "value": finite(t.value), "summary": t.summary,
        })
        .to_string(),
        (Event::Anomaly(a), OutputFormat::Text) => {
            let (at, what) = match a.end {
                None => (a.start, "opened".to_string()),
                Some(end) => (
                    end,
                    format!("closed after {}", human_duration(end - a.start)),
                ),
            };
            format!(
                "{}  {:<20}  anomaly {} {what} ({}, peak {:.3}, threshold {:.3})",
                rfc3339(at),
                sanitize(&a.host),
                a.vital,
                sanitize(&a.detector),
                a.peak_score,
                a.threshold
            )
        }
        (Event::Anomaly(a), OutputFormat::Json) => {
            let mut v = anomaly_json(a);
            if let Some(o) = v.as_object_mut() {
                o.insert("event".into(), json!("anomaly"));
                o.insert("at".into(), json!(a.end.unwrap_or(a.start)));
            }
            v.to_string()
        }
    }
}

/// One anomaly event as the reports print it (scores that are not finite become null).
pub fn anomaly_json(a: &AnomalyEvent) -> serde_json::Value {
    json!({
        "host": a.host,
        "vital": a.vital,
        "detector": a.detector,
        "start": a.start,
        "end": a.end,
        "peak_score": finite(f64::from(a.peak_score)),
        "threshold": finite(f64::from(a.threshold)),
    })
}

/// Capacity forecasts as the reports print them; an open-ended band end is null.
fn forecasts_json(fs: &[Forecast]) -> serde_json::Value {
    fs.iter()
        .map(|f| {
            json!({
                "vital": f.vital,
                "days": finite(f.days),
                "days_low": finite(f.days_low),
                "days_high": finite(f.days_high),
            })
        })
        .collect()
}

/// Largest recording `replay` reads into memory.
const REPLAY_MAX_FILE: u64 = 4 << 30;

fn replay_file(args: &ReplayArgs, cli: &Cli) -> i32 {
    let name = sanitize(&args.file.display().to_string()).into_owned();
    let data = match crate::capped::read_file(&args.file, REPLAY_MAX_FILE) {
        Ok(v) => v,
        Err(crate::capped::CappedError::TooLarge { cap }) => {
            eprintln!("nocscope replay: {name}: larger than the {cap}-byte cap");
            return EXIT_USAGE;
        }
        Err(crate::capped::CappedError::Open(e) | crate::capped::CappedError::Read(e)) => {
            eprintln!("nocscope replay: {name}: {e}");
            return EXIT_USAGE;
        }
    };
    let data = if args.rules.is_empty() {
        data
    } else {
        match with_rules(&data, &args.rules) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("{}", clean_lines(&e));
                return EXIT_USAGE;
            }
        }
    };
    if args.headless {
        let mut out = std::io::stdout().lock();
        return replay_report(&data, &name, args.format, &mut out);
    }
    use std::io::IsTerminal;
    // JSON is for programs, so it keeps the paced lines even on a terminal.
    if args.format == OutputFormat::Text && std::io::stdout().is_terminal() {
        return replay_console(data, &name, args.speed, cli, None);
    }
    let mut out = std::io::stdout().lock();
    replay_live(data, &name, args, &mut out)
}

/// The named or file theme, converted to this terminal's colour depth (NO_COLOR honoured);
/// problems are printed before the terminal is touched.
fn console_theme(name: &str, base: &Path) -> Result<config::theme::Theme, i32> {
    use crate::config::theme::{ColorDepth, Theme};
    match Theme::lookup(name, base) {
        Ok(t) => Ok(t.for_depth(ColorDepth::detect(&|k| std::env::var(k).ok()))),
        Err(e) => {
            for p in &e.problems {
                eprintln!("{}", sanitize(&p.to_string()));
            }
            Err(EXIT_USAGE)
        }
    }
}

/// Play a recording in the console. The keymap and theme are checked before the terminal is
/// touched; no config file is read (the recording carries its targets).
fn replay_console(
    data: Vec<u8>,
    name: &str,
    speed: replay::Speed,
    cli: &Cli,
    demo: Option<String>,
) -> i32 {
    let mut player = match replay::Player::open_with(data, replay::Limits::default(), models()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("nocscope replay: {name}: {}", sanitize(&e.to_string()));
            return EXIT_USAGE;
        }
    };
    player.set_speed(speed);
    let damage = player.damage().map(|d| d.to_string());
    let base = std::env::current_dir().unwrap_or_default();
    let theme = match console_theme(&cli.theme, &base) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let code = crate::app::run_console_replay(
        player,
        crate::app::ConsoleOptions {
            keymap: cli.keymap.clone(),
            theme,
            history: false,
            demo,
            ..crate::app::ConsoleOptions::default()
        },
    );
    // Said after the terminal is restored, where it stays readable; playback stopped there.
    if let Some(d) = damage {
        eprintln!("nocscope replay: {name}: {}", sanitize(&d));
        if code == EXIT_OK {
            return EXIT_PROBLEM;
        }
    }
    code
}

/// Print a whole replay: the timeline, the final statuses, then the damage if any. Exit 0 for
/// a clean recording, 1 when it is damaged (what could be read was still printed), 2 when it
/// cannot be read at all.
pub fn replay_report(data: &[u8], name: &str, format: OutputFormat, out: &mut impl Write) -> i32 {
    replay_report_with(data, name, format, models(), out)
}

/// [`replay_report`] with the given anomaly models bound to the replaying engine.
pub fn replay_report_with(
    data: &[u8],
    name: &str,
    format: OutputFormat,
    models: Vec<ModelBinding>,
    out: &mut impl Write,
) -> i32 {
    let scan = match replay::scan_with(data, replay::Limits::default(), &models) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("nocscope replay: {name}: {}", sanitize(&e.to_string()));
            return EXIT_USAGE;
        }
    };
    let _ = out.write_all(render_scan(&scan, format).as_bytes());
    if let Some(d) = &scan.damage {
        eprintln!("nocscope replay: {name}: {}", sanitize(&d.to_string()));
        return EXIT_PROBLEM;
    }
    EXIT_OK
}

/// The headless replay output (what the golden files hold): text is the `check --for` lines
/// (transitions, then one line per host); JSON is one document.
pub fn render_scan(scan: &replay::Scan, format: OutputFormat) -> String {
    let mut s = String::new();
    match format {
        OutputFormat::Text => {
            for (_, e) in &scan.events {
                s.push_str(&format_event(e, format));
                s.push('\n');
            }
            for h in &scan.snapshot.hosts {
                s.push_str(&format_host_text(h));
                s.push('\n');
            }
            if let Some(d) = &scan.damage {
                s.push_str(&format!("damaged: {}\n", sanitize(&d.to_string())));
            }
        }
        OutputFormat::Json => {
            let events: Vec<serde_json::Value> = scan
                .events
                .iter()
                .filter_map(|(_, e)| serde_json::from_str(&format_event(e, format)).ok())
                .collect();
            let hosts: Vec<_> = scan
                .snapshot
                .hosts
                .iter()
                .map(|h| format_host_json(h, &scan.snapshot))
                .collect();
            let doc = json!({
                "recording": {
                    "format_version": scan.header.format_version,
                    "nocscope_version": scan.header.nocscope_version,
                    "config_digest": scan.header.config_digest,
                    "started_at": scan.header.started_at,
                    "targets": scan.header.targets.iter().map(|t| &t.name).collect::<Vec<_>>(),
                    "start": scan.start,
                    "end": scan.end,
                    "records": scan.records,
                },
                "timeline": events,
                "final": hosts,
                "anomalies": scan.snapshot.anomalies.iter().map(anomaly_json).collect::<Vec<_>>(),
                "damage": scan.damage.as_ref().map(|d| d.to_string()),
            });
            s = serde_json::to_string_pretty(&doc).unwrap_or_default();
            s.push('\n');
        }
    }
    s
}

/// Play a recording at `--speed` on a wall-clock pace, printing transitions as they happen
/// (like `check --for`), then the final statuses.
fn replay_live(data: Vec<u8>, name: &str, args: &ReplayArgs, out: &mut impl Write) -> i32 {
    let mut player = match replay::Player::open_with(data, replay::Limits::default(), models()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("nocscope replay: {name}: {}", sanitize(&e.to_string()));
            return EXIT_USAGE;
        }
    };
    player.set_speed(args.speed);
    let _ = writeln!(
        out,
        "REPLAY {name}: {} to {} at {}",
        rfc3339(player.start()),
        rfc3339(player.end()),
        args.speed
    );
    // The only clock in a replay: how much real time passed between steps.
    const STEP: Duration = Duration::from_millis(50);
    let mut last = std::time::Instant::now();
    while !player.is_finished() {
        if args.speed != replay::Speed::Max {
            std::thread::sleep(STEP);
        }
        let now = std::time::Instant::now();
        for e in player.advance(now - last) {
            let _ = writeln!(out, "{}", format_event(&e, args.format));
        }
        last = now;
    }
    let snap = player.snapshot();
    for h in &snap.hosts {
        let line = match args.format {
            OutputFormat::Text => format_host_text(h),
            OutputFormat::Json => format_host_json(h, &snap).to_string(),
        };
        let _ = writeln!(out, "{line}");
    }
    if let Some(d) = player.damage() {
        eprintln!("nocscope replay: {name}: {}", sanitize(&d.to_string()));
        return EXIT_PROBLEM;
    }
    EXIT_OK
}
