//! `nocscope notify check` and `nocscope notify routes`: amtool's `check-config` and
//! `config routes test` for an `alertmanager.yml` — the same report and exit codes. Reads the
//! files; what a configuration means lives in `crate::notify`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::rules::read;
use super::{EXIT_OK, EXIT_PROBLEM, clean_lines};
use crate::notify::load_config;

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
}

pub fn run(cmd: &NotifyCommand) -> i32 {
    match cmd {
        NotifyCommand::Check { files } => check(files),
        NotifyCommand::Routes { file, labels } => routes(file, labels),
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
