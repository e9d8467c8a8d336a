//! The LSTM arguments `train` and `eval` share (seed, epochs, threads, config file, threshold
//! policy) and the one way they turn into a validated `LstmConfig`. Wiring only.

use std::path::PathBuf;

use crate::detect::eval::parse_threshold_policy;
use crate::detect::{LstmConfig, ThresholdPolicy};
use crate::sanitize::sanitize;

/// Largest LSTM config file read; a real one is a few hundred bytes.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone, clap::Args)]
pub struct LstmArgs {
    /// Seed of the LSTM's initialisation, shuffling and dropout
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Most training epochs (overrides max_epochs of the LSTM config)
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,
    /// Worker threads for LSTM training and scoring (default: train uses every core, eval 2;
    /// the results do not depend on it)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// LSTM config file with LstmConfig fields as in model.json's `config` (window,
    /// encoder_units, decoder_units, batch_size, learning_rate, max_epochs, patience,
    /// threshold, ...): TOML when it ends in .toml, else JSON; fields not given keep the
    /// thesis defaults
    #[arg(long, value_name = "FILE")]
    pub lstm_config: Option<PathBuf>,
    /// Threshold policy max:<factor>, mean-std:<k> or quantile:<q> (default max:0.78)
    #[arg(long, value_name = "POLICY", value_parser = parse_threshold_policy)]
    pub threshold_policy: Option<ThresholdPolicy>,
}

impl LstmArgs {
    /// The config file (or the defaults) with `--epochs` and `--threshold-policy` applied,
    /// validated. Errors name the file and, for JSON, the line and column.
    pub fn config(&self) -> Result<LstmConfig, String> {
        let mut cfg = match &self.lstm_config {
            None => LstmConfig::default(),
            Some(path) => {
                let name = sanitize(&path.display().to_string()).into_owned();
                let bytes = crate::capped::read_file(path, MAX_CONFIG_BYTES)
                    .map_err(|e| format!("--lstm-config {name}: {e}"))?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| format!("--lstm-config {name}: not UTF-8 text"))?;
                let accepted = "accepted: LstmConfig fields (window, encoder_units, \
                                decoder_units, batch_size, learning_rate, max_epochs, patience, \
                                threshold, ...)";
                if path.extension().is_some_and(|e| e == "toml") {
                    toml::from_str(&text)
                        .map_err(|e| format!("--lstm-config {name}: {e}; {accepted}"))?
                } else {
                    serde_json::from_str(&text).map_err(|e| {
                        format!(
                            "--lstm-config {name}:{}:{}: {e}; {accepted}",
                            e.line(),
                            e.column()
                        )
                    })?
                }
            }
        };
        if let Some(e) = self.epochs {
            cfg.max_epochs = e;
        }
        if let Some(p) = self.threshold_policy {
            cfg.threshold = p;
        }
        cfg.validate().map_err(|e| e.to_string())?;
        Ok(cfg)
    }
}
