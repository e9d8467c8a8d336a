//! What every command wires the same way: the history store's path and opening, anomaly model
//! bindings (shipped and per host), the keymap, the HTTP client and the async runtimes. No
//! command logic and no printing beyond naming a model that could not be used.

use std::path::{Path, PathBuf};

use crate::collect::exporter::ClientError;
use crate::config::keymap::Keymap;
use crate::config::{Config, ConfigError};
use crate::engine::{Engine, ModelBinding};
use crate::model::Vital;
use crate::sanitize::sanitize;
use crate::store::{Store, StoreError, StoreOptions};

/// `<data_dir>/history.db`.
pub fn store_path(config: &Config) -> PathBuf {
    config.defaults.data_dir.join("history.db")
}

/// What wiring a command can fail on before anything runs.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error("cannot create data dir {dir}: {source}")]
    DataDir {
        /// Sanitised for the terminal.
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("cannot record to {path}: {source}")]
    Record {
        /// Sanitised for the terminal.
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Open (creating the data dir and file if needed) the configured history store.
pub fn open_store(config: &Config) -> Result<Store, WiringError> {
    let dir = &config.defaults.data_dir;
    std::fs::create_dir_all(dir).map_err(|source| WiringError::DataDir {
        dir: sanitize(&dir.display().to_string()).into_owned(),
        source,
    })?;
    let options = StoreOptions {
        // A retention of centuries saturates instead of wrapping negative.
        retention_ms: i64::try_from(config.storage.retention.as_millis()).unwrap_or(i64::MAX),
        max_size_bytes: config.storage.max_size,
        ..StoreOptions::default()
    };
    Ok(Store::open(&store_path(config), options)?)
}

/// The client every exporter poll uses. A failure here is the machine's (no TLS roots, no
/// sockets), not the config's, so every command exits [`super::EXIT_PROBLEM`] on it.
pub fn http_client() -> Result<reqwest::Client, WiringError> {
    Ok(crate::collect::exporter::http_client()?)
}

/// The anomaly models every engine gets: the shipped per-vital models embedded from models/,
/// applied to any host (the engine standardises each series itself). Loading is kept out of the
/// engine, which only ever receives bindings. A shipped model that fails validation is named on
/// stderr and left out; the rest still score.
pub fn models() -> Vec<ModelBinding> {
    let mut out = Vec::new();
    for (key, loaded) in crate::detect::shipped::shipped_models() {
        let vital = Vital::ALL.into_iter().find(|v| v.key() == key);
        match (vital, loaded) {
            (Some(vital), Ok(model)) => out.push(ModelBinding {
                vital,
                host: None,
                model,
            }),
            (None, _) => eprintln!("nocscope: shipped model {key}: no vital has that key"),
            (_, Err(e)) => eprintln!(
                "nocscope: shipped model {key}: {}",
                sanitize(&e.to_string())
            ),
        }
    }
    out
}

/// Each configured host's own models, trained by `nocscope train` or the background trainer
/// into `<data_dir>/models/<host>/<vital>/`. A model that fails to load is named on stderr and
/// left out (the shipped model still covers that vital).
pub fn host_models(config: &Config) -> Vec<ModelBinding> {
    let mut out = Vec::new();
    for host in config.hosts() {
        for vital in Vital::ALL {
            let dir = crate::trainer::model_dir(&config.defaults.data_dir, host, vital.key());
            if !dir.join(crate::detect::META_FILE).exists() {
                continue;
            }
            match crate::detect::LstmAutoencoder::load(&dir) {
                Ok(model) => out.push(ModelBinding {
                    vital,
                    host: Some(host.to_string()),
                    model,
                }),
                Err(e) => eprintln!("nocscope: {}", sanitize(&e.to_string())),
            }
        }
    }
    out
}

/// Binds models, telling the operator on stderr about any that could not be used.
/// Prometheus's `rules.alert.for-outage-tolerance`: after a longer gap the old `for` clocks
/// say nothing about now, and alerts start over.
pub const FOR_OUTAGE_TOLERANCE_MS: i64 = 3_600_000;

/// Resume the alerts the last run left pending or firing, from the store, when that run
/// polled within the outage tolerance of `now`. Not for recordings: a replay starts from
/// what the recording holds, and resumed state is not in it. Returns how many resumed.
pub fn resume_alerts(engine: &mut Engine, store: &Store, now: crate::model::Millis) -> usize {
    let reader = match store.reader() {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("alert states not resumed: {e}");
            return 0;
        }
    };
    let recent = matches!(reader.last_poll_at(), Ok(Some(t)) if now - t <= FOR_OUTAGE_TOLERANCE_MS);
    if !recent {
        return 0;
    }
    match reader.active_alerts() {
        Ok(active) => engine.restore_alerts(&active),
        Err(e) => {
            tracing::warn!("alert states not resumed: {e}");
            0
        }
    }
}

/// At most this many stored points are loaded for rules at start (16 bytes each in memory);
/// beyond it the oldest windows stay short, and the log says so.
pub const MAX_RULE_HISTORY_POINTS: usize = 4_000_000;

/// The stored history rules need, one input per target, to feed before the first poll: the
/// series the rules read, over their longest window. Nothing without Prometheus rules or a
/// readable store.
pub fn rule_history(
    engine: &Engine,
    store: &Store,
    now: crate::model::Millis,
) -> Vec<crate::model::Input> {
    let Some(window) = engine.rule_history_ms() else {
        return Vec::new();
    };
    let reader = match store.reader() {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("rule history not loaded: {e}");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    let mut budget = MAX_RULE_HISTORY_POINTS;
    for t in &engine.snapshot().targets {
        let keys = match reader.series(&t.name) {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(target = %t.name, "rule history not loaded: {e}");
                continue;
            }
        };
        let mut series = Vec::new();
        for key in keys {
            let name = key.split('{').next().unwrap_or(&key);
            if !engine.rule_reads(name) || budget == 0 {
                continue;
            }
            match reader.query(&t.name, &key, now - window, now) {
                Ok(mut points) if !points.is_empty() => {
                    if points.len() > budget {
                        // Keep the newest: they matter to every window.
                        points.drain(..points.len() - budget);
                        tracing::warn!(
                            "rule history cut at {MAX_RULE_HISTORY_POINTS} points; long windows start later"
                        );
                    }
                    budget -= points.len();
                    series.push((key, points));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(target = %t.name, "rule history of {key}: {e}"),
            }
        }
        let points: usize = series.iter().map(|(_, p)| p.len()).sum();
        if points > 0 {
            tracing::info!(target = %t.name, series = series.len(), points, "rule history loaded");
        }
        if !series.is_empty() {
            out.push(crate::model::Input::History(crate::model::RuleHistory {
                target: t.id,
                series,
            }));
        }
    }
    out
}

pub fn bind_models(engine: &mut Engine, models: Vec<ModelBinding>) {
    if models.is_empty() {
        return;
    }
    for p in engine.set_models(models) {
        eprintln!(
            "nocscope: anomaly model not used: {}",
            sanitize(&p.to_string())
        );
    }
}

/// `$XDG_CONFIG_HOME/nocscope/keymap.toml`, else `~/.config/nocscope/keymap.toml`.
pub fn default_keymap_path() -> Option<PathBuf> {
    crate::config::default_path().map(|p| p.with_file_name("keymap.toml"))
}

/// The effective keymap: the default, with the given file (or the user's default file, when
/// it exists) merged over it.
pub fn load_keymap(path: Option<&Path>) -> Result<Keymap, ConfigError> {
    match path {
        Some(p) => Keymap::load(p),
        None => match default_keymap_path().filter(|p| p.exists()) {
            Some(p) => Keymap::load(&p),
            None => Ok(Keymap::embedded_default()),
        },
    }
}

/// What `nocscope --print-keymap` prints.
pub fn print_keymap(path: Option<&Path>) -> Result<String, ConfigError> {
    load_keymap(path).map(|k| k.to_toml())
}

/// The async runtime the headless commands use: two workers, as the machine this runs on may
/// have only a couple of cores and is often already in trouble.
pub fn runtime() -> Result<tokio::runtime::Runtime, WiringError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(WiringError::Runtime)
}

/// The console's runtime: one worker for collectors and engine, beside the thread that runs
/// the UI (`block_on`). An idle console is woken by a few polls a second; with two workers
/// each wake-up tends to unpark the other worker to look for work it never finds, and those
/// context switches cost more than the polls themselves (issue #3). The UI keeps its own
/// thread, so parsing a body never delays a key.
pub fn console_runtime() -> Result<tokio::runtime::Runtime, WiringError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(WiringError::Runtime)
}
