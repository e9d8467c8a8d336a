//! Errors of the detect module. Every message names where the problem is and what is accepted,
//! because these surface in the console and in `nocscope` CLI output verbatim.

use std::path::PathBuf;

/// Anything that can go wrong configuring, training, scoring, saving or loading a detector.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// A configuration value is out of range.
    #[error("invalid LSTM config: `{field}` = {value}; accepted: {accepted}")]
    Config {
        /// Field name as spelled in the config struct / JSON.
        field: &'static str,
        /// The rejected value, formatted.
        value: String,
        /// What would have been accepted.
        accepted: &'static str,
    },
    /// Training or scoring data cannot be used.
    #[error("invalid input data: {0}")]
    Data(String),
    /// Training was stopped through the cancel flag; the model is unchanged.
    #[error("training cancelled after epoch {epochs}; the model was left unchanged")]
    Cancelled {
        /// Epochs completed before the flag was seen.
        epochs: usize,
    },
    /// A model file could not be read or written.
    #[error("model file {path}: {source}")]
    Io {
        /// File involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A model file is corrupt, truncated, from another format version or does not match its
    /// own metadata.
    #[error("model file {path}: {reason}")]
    ModelFile {
        /// File involved.
        path: PathBuf,
        /// What is wrong and what was expected.
        reason: String,
    },
}

impl DetectError {
    pub(crate) fn config(
        field: &'static str,
        value: impl std::fmt::Display,
        accepted: &'static str,
    ) -> Self {
        Self::Config {
            field,
            value: value.to_string(),
            accepted,
        }
    }
}
