//! A live recording (.nsr): every input the pump applies, written before it is applied. A write
//! failure (disk full) stops the recording with one message and never stops monitoring. Owns
//! the file only; the format is replay/'s.

use std::path::{Path, PathBuf};

use super::wiring::WiringError;
use crate::collect::scheduler;
use crate::config::Config;
use crate::engine::TargetSpec;
use crate::model::{Input, Millis};
use crate::replay::{self, Record, Recorder};
use crate::sanitize::sanitize;

type FileRecorder = Recorder<std::io::BufWriter<std::fs::File>>;

pub struct LiveRecording {
    path: PathBuf,
    recorder: Option<FileRecorder>,
    dropped: u64,
    quiet: bool,
}

impl LiveRecording {
    /// Start a recording of an engine built from `config`. `quiet` sends later write
    /// problems to the log instead of stderr (the console owns the terminal).
    pub fn create(path: &Path, config: &Config, quiet: bool) -> Result<LiveRecording, WiringError> {
        let digest = match config.source.as_deref().map(std::fs::read) {
            Some(Ok(bytes)) => replay::format::digest(&bytes),
            _ => "none".to_string(),
        };
        let mut header = replay::header_for(
            &TargetSpec::from_config(config),
            digest,
            scheduler::wall_clock_ms(),
        );
        header.anomaly = replay::RecordedAnomaly::of(&config.anomaly);
        header.notify = config.notify.as_ref().map(|n| n.text.clone());
        header.rule_files = config
            .rule_files
            .iter()
            .map(|f| replay::RecordedRuleFile {
                name: f.path.display().to_string(),
                text: f.text.clone(),
            })
            .collect();
        if !header.rule_files.is_empty() {
            header.rule_interval_ms = Some(config.defaults.interval.as_millis() as i64);
        }
        if config.rules != crate::config::rules::default_rule_specs() {
            header.rules = "recorded".to_string();
            header.rule_set = Some(crate::config::rules::rules_toml(&config.rules, &[]));
        }
        match replay::create(path, &header) {
            Ok(r) => Ok(LiveRecording {
                path: path.to_path_buf(),
                recorder: Some(r),
                dropped: 0,
                quiet,
            }),
            Err(source) => Err(WiringError::Record {
                path: sanitize(&path.display().to_string()).into_owned(),
                source,
            }),
        }
    }

    fn say(&self, message: String) {
        if self.quiet {
            tracing::warn!("{message}");
        } else {
            eprintln!("nocscope: {message}");
        }
    }

    fn write(&mut self, f: impl FnOnce(&mut FileRecorder) -> std::io::Result<()>) {
        if let Some(r) = self.recorder.as_mut()
            && let Err(e) = f(r)
        {
            let message = format!(
                "recording to {} stopped after {} records: {e}",
                sanitize(&self.path.display().to_string()),
                r.records()
            );
            self.recorder = None;
            self.say(message);
        }
    }

    /// Record one input, stamped with the wall-clock time it is applied at.
    pub fn input(&mut self, applied_at: Millis, input: &Input) {
        self.write(|rec| rec.input(applied_at, input));
    }

    /// Record the upstream drop count when it changed.
    pub fn dropped(&mut self, count: u64) {
        if self.dropped != count {
            self.dropped = count;
            self.write(|rec| rec.record(&Record::Dropped { count }));
        }
    }

    /// Close the file with its end marker.
    pub fn finish(mut self) {
        if let Some(r) = self.recorder.take()
            && let Err(e) = r.finish()
        {
            self.say(format!(
                "recording {} not closed cleanly: {e}",
                sanitize(&self.path.display().to_string())
            ));
        }
    }
}
