//! The bridge to the background trainer in the live console: starts it on the store, watches
//! every host's shipped vitals, and turns each trained model into a binding for the pump.
//! Training itself is trainer.rs's; this file only wires.

use std::path::Path;

use tokio::sync::mpsc;

use crate::collect::scheduler;
use crate::config::Config;
use crate::engine::ModelBinding;
use crate::model::Vital;

/// Starts the background trainer for the live console: a nice-19 thread that trains each
/// host's own model per shipped vital from the history store once there is enough of it, and
/// retrains daily. Trained models reach the engine through `models`; its reports go to the log.
/// Per-host models use the shipped models' small architecture, so scoring them stays within the
/// console's idle budget and training one takes seconds, not minutes.
pub(super) fn start_trainer(
    config: &Config,
    store_path: &Path,
    models: mpsc::Sender<ModelBinding>,
) -> Option<crate::trainer::Trainer> {
    use crate::trainer::{Trainer, TrainerConfig, TrainerEvent, store_source};
    let interval = config
        .targets
        .iter()
        .map(|t| i64::try_from(t.interval.as_millis()).unwrap_or(i64::MAX))
        .min()?;
    let mut cfg = TrainerConfig::new(config.defaults.data_dir.clone(), interval);
    let shipped = crate::detect::shipped::shipped_models();
    if let Some(Ok(m)) = shipped.first().map(|(_, m)| m.as_ref()) {
        cfg.lstm = m.config().clone();
    }
    let (trainer, events) = match Trainer::spawn(
        cfg,
        store_source(store_path.to_path_buf()),
        scheduler::wall_clock_ms,
    ) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "background trainer not started");
            return None;
        }
    };
    for host in config.hosts() {
        for (key, _) in &shipped {
            trainer.watch(host, key);
        }
    }
    let bridge = std::thread::Builder::new()
        .name("trainer-events".into())
        .spawn(move || {
            // Ends when the trainer is shut down and drops its sender.
            for ev in events {
                match ev {
                    TrainerEvent::Trained(t) => {
                        let Some(vital) = Vital::ALL.into_iter().find(|v| v.key() == t.vital) else {
                            continue;
                        };
                        tracing::info!(host = %t.host, vital = %t.vital, dir = %t.dir.display(), "model trained");
                        let binding = ModelBinding {
                            vital,
                            host: Some(t.host),
                            model: t.model,
                        };
                        if models.blocking_send(binding).is_err() {
                            return;
                        }
                    }
                    TrainerEvent::Waiting { host, vital, points, needed } => {
                        tracing::debug!(%host, %vital, points, needed, "not enough history to train yet");
                    }
                    TrainerEvent::Failed { host, vital, error } => {
                        tracing::warn!(%host, %vital, %error, "training failed");
                    }
                }
            }
        });
    if let Err(e) = bridge {
        tracing::warn!(error = %e, "background trainer not started");
        return None;
    }
    Some(trainer)
}
