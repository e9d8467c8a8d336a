//! The history services behind the charts and the metric browser: the engine's memory first
//! (exact and instant), the SQLite store (read-only, on a blocking thread) when memory does not
//! reach back far enough. Answers arrive as `Reply`s on the UI loop's channel.

use std::path::PathBuf;

use tokio::sync::{mpsc, oneshot};

use super::pump::MemoryAsk;
use crate::store::Reader;
use crate::ui::{HistoryRequest, SeriesData};

/// Memory history counts as covering a window when its oldest point is this close to the start.
const MEMORY_SLACK_MS: i64 = 60_000;

/// Where history comes from besides the engine's memory.
#[derive(Clone)]
pub struct Services {
    pub memory: mpsc::Sender<MemoryAsk>,
    /// The SQLite file, opened read-only per query on a blocking thread.
    pub store: Option<PathBuf>,
    /// Rule reloads (a live console with a config file).
    pub reload: Option<RuleReloader>,
    /// The notifier's status, when notifications are configured.
    pub notify: Option<tokio::sync::watch::Receiver<crate::model::NotifyStatus>>,
}

/// Reads the config's rule files again and hands them to the engine as an input, so the
/// reload lands between two polls and in the recording like everything else. The engine
/// checks them; a config or rule file that does not load travels as the reload's error.
#[derive(Clone)]
pub struct RuleReloader {
    pub config: PathBuf,
    pub inputs: mpsc::Sender<crate::model::Input>,
    pub clock: fn() -> crate::model::Millis,
}

impl RuleReloader {
    /// Read the rule files (a blocking read of small files; done off the UI task) and send
    /// the reload. The outcome arrives with the next snapshot.
    pub(super) fn reload(&self) {
        let me = self.clone();
        tokio::spawn(async move {
            let path = me.config.clone();
            let loaded = tokio::task::spawn_blocking(move || crate::config::load(&path))
                .await
                .map_err(|e| e.to_string());
            let at = (me.clock)();
            let reload = match loaded {
                Ok(Ok(c)) => crate::model::RuleReload {
                    at,
                    files: c
                        .rule_files
                        .iter()
                        .map(|f| (f.path.display().to_string(), f.text.clone()))
                        .collect(),
                    interval_ms: i64::try_from(c.defaults.interval.as_millis()).unwrap_or(i64::MAX),
                    error: None,
                },
                Ok(Err(e)) => failed(at, e.to_string()),
                Err(e) => failed(at, e),
            };
            if me
                .inputs
                .send(crate::model::Input::Rules(reload))
                .await
                .is_err()
            {
                tracing::warn!("rule reload: the engine has stopped");
            }
        });
    }
}

fn failed(at: crate::model::Millis, error: String) -> crate::model::RuleReload {
    crate::model::RuleReload {
        at,
        files: Vec::new(),
        interval_ms: 0,
        error: Some(crate::sanitize::sanitize(&error).into_owned()),
    }
}

/// An answer for the UI loop, tagged with the request's id (stale ones are dropped there).
pub(super) enum Reply {
    History(u64, Result<Vec<SeriesData>, String>),
    Series(u64, Result<Vec<(String, String)>, String>),
}

impl Services {
    /// Answer a history request off the UI task.
    pub(super) fn history(&self, req: HistoryRequest, replies: &mpsc::Sender<Reply>) {
        let services = self.clone();
        let replies = replies.clone();
        tokio::spawn(async move {
            let id = req.id;
            let result = history(req, &services).await;
            let _ = replies.send(Reply::History(id, result)).await;
        });
    }

    /// List the series keys of `sources` (for the metric browser) off the UI task.
    pub(super) fn list_series(&self, id: u64, sources: Vec<String>, replies: &mpsc::Sender<Reply>) {
        let store = self.store.clone();
        let replies = replies.clone();
        tokio::spawn(async move {
            let result = match store {
                None => Err("no history store: series names come from SQLite".to_string()),
                Some(path) => tokio::task::spawn_blocking(move || {
                    let reader = Reader::open(&path).map_err(|e| e.to_string())?;
                    let mut out = Vec::new();
                    for s in sources {
                        for key in reader.series(&s).map_err(|e| e.to_string())? {
                            out.push((s.clone(), key));
                        }
                    }
                    Ok(out)
                })
                .await
                .unwrap_or_else(|e| Err(format!("series query failed: {e}"))),
            };
            let _ = replies.send(Reply::Series(id, result)).await;
        });
    }
}

/// Memory first (it is exact and instant); the store when memory does not reach back far
/// enough or the series is not a vital.
async fn history(req: HistoryRequest, services: &Services) -> Result<Vec<SeriesData>, String> {
    let (tx, rx) = oneshot::channel();
    let memory = if services
        .memory
        .send(MemoryAsk {
            request: req.clone(),
            reply: tx,
        })
        .await
        .is_ok()
    {
        rx.await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let covered = !memory.is_empty()
        && memory.iter().all(|s| {
            s.points
                .first()
                .is_some_and(|(t, _)| *t <= req.from + MEMORY_SLACK_MS)
        });
    let Some(path) = services.store.clone().filter(|_| !covered) else {
        return Ok(memory);
    };
    let from_store = tokio::task::spawn_blocking(move || {
        let reader = Reader::open(&path).map_err(|e| e.to_string())?;
        req.keys
            .iter()
            .map(|k| {
                reader
                    .query(&req.source, k, req.from, req.to)
                    .map(|points| SeriesData {
                        key: k.clone(),
                        points,
                    })
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, String>>()
    })
    .await
    .unwrap_or_else(|e| Err(format!("history query failed: {e}")));
    match from_store {
        Ok(v) => Ok(v),
        // Half a chart beats an error when memory has something.
        Err(_) if !memory.is_empty() => Ok(memory),
        Err(e) => Err(e),
    }
}
