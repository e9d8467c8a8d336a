//! The notifier task: follows the engine's snapshots, feeds their firing alerts to the
//! dispatcher (on the snapshots' clock, so a replay notifies exactly as the live run did),
//! and hands each notification to delivery — real webhooks on their own tasks (bounded
//! queue, timeouts, retries with backoff; never blocking the engine or the UI), or a dry run
//! that only logs what would be sent. Owns scheduling and I/O of notifications; what they
//! say and when is `crate::notify`'s.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::model::{NotifyStatus, Snapshot};
use crate::notify::dispatch::Dispatcher;
use crate::notify::feed::Feed;
use crate::notify::webhook::payload;
use crate::notify::{AmConfig, Notification};

/// Notifications waiting for or in delivery beyond this are dropped (and counted); the
/// dispatcher tries them again at the group's next interval.
pub const DELIVERY_QUEUE: usize = 1024;
/// Deliveries in flight at once: a hanging receiver holds one slot, not the queue.
const CONCURRENT: usize = 16;
/// One attempt's limit, and all attempts' limit.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
const DELIVERY_DEADLINE: Duration = Duration::from_secs(30);
const ATTEMPTS: u32 = 3;

/// Where notifications go.
pub enum Delivery {
    /// POST to the receivers' webhooks.
    Send(reqwest::Client),
    /// Log what would be sent; report success (replays).
    DryRun,
    /// Print what would be sent, one line each on stdout; report success (`check --dry-run`).
    Print,
}

/// A running notifier's outlets.
pub struct NotifierLink {
    pub status: watch::Receiver<NotifyStatus>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<NotifyStatus>,
}

impl NotifierLink {
    /// Stop following snapshots, wait (bounded) for deliveries in flight, and give the final
    /// status (with those deliveries' outcomes).
    pub async fn finish(mut self) -> NotifyStatus {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let last = self.status.borrow().clone();
        self.task.await.unwrap_or(last)
    }
}

struct Outcome {
    flush: u64,
    integration: usize,
    receiver: String,
    error: Option<String>,
}

pub fn spawn_notifier(
    config: Arc<AmConfig>,
    external_url: String,
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    delivery: Delivery,
) -> NotifierLink {
    let dry_run = matches!(delivery, Delivery::DryRun | Delivery::Print);
    let print = matches!(delivery, Delivery::Print);
    let (status_tx, status) = watch::channel(NotifyStatus {
        dry_run,
        ..NotifyStatus::default()
    });
    let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let (done_tx, mut done_rx) = mpsc::channel::<Outcome>(DELIVERY_QUEUE);
        let slots = Arc::new(Semaphore::new(CONCURRENT));
        let mut dispatcher: Option<Dispatcher> = None;
        let mut feed = Feed::default();
        let mut st = NotifyStatus {
            dry_run,
            ..NotifyStatus::default()
        };
        let mut queued = 0usize;
        loop {
            tokio::select! {
                _ = &mut stop_rx => break,
                changed = snapshots.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let snap = snapshots.borrow_and_update().clone();
                    let d = match dispatcher.as_mut() {
                        Some(d) => d,
                        None => match Dispatcher::new(Arc::clone(&config), snap.now) {
                            Ok(mut d) => {
                                d.assume_delivered(dry_run);
                                dispatcher.insert(d)
                            }
                            Err(e) => {
                                // The config was checked at load; say it once and stop.
                                tracing::error!(error = %e, "notifications off");
                                st.last_error = Some(e);
                                let _ = status_tx.send(st.clone());
                                break;
                            }
                        },
                    };
                    feed.update(&snap, d);
                    for n in d.advance(snap.now) {
                        let Some(hook) = config.webhook(&n.receiver, n.integration) else {
                            continue;
                        };
                        let body = payload(&n, &external_url, hook.max_alerts);
                        if dry_run {
                            log_would_send(&n);
                            if print {
                                print_would_send(&n, &body);
                            }
                            st.sent += 1;
                            continue;
                        }
                        let Delivery::Send(client) = &delivery else { continue };
                        if queued >= DELIVERY_QUEUE {
                            st.dropped += 1;
                            d.delivered(n.flush, n.integration, false);
                            continue;
                        }
                        queued += 1;
                        let job = Job {
                            client: client.clone(),
                            url: hook.url.clone(),
                            body,
                            flush: n.flush,
                            integration: n.integration,
                            receiver: n.receiver.clone(),
                        };
                        tokio::spawn(deliver(job, Arc::clone(&slots), done_tx.clone()));
                    }
                    let stats = d.stats();
                    st.alerts = stats.alerts;
                    st.groups = stats.groups;
                }
                Some(o) = done_rx.recv() => {
                    queued = queued.saturating_sub(1);
                    if let Some(d) = dispatcher.as_mut() {
                        d.delivered(o.flush, o.integration, o.error.is_none());
                    }
                    record(&mut st, o);
                }
            }
            let _ = status_tx.send(st.clone());
        }
        // Let deliveries in flight finish, within their deadline.
        let drain = tokio::time::timeout(DELIVERY_DEADLINE + Duration::from_secs(1), async {
            while queued > 0 {
                let Some(o) = done_rx.recv().await else { break };
                queued -= 1;
                record(&mut st, o);
            }
        });
        let _ = drain.await;
        let _ = status_tx.send(st.clone());
        st
    });
    NotifierLink {
        status,
        stop: Some(stop_tx),
        task,
    }
}

/// Count one delivery's outcome; a failure is logged with its receiver and reason.
fn record(st: &mut NotifyStatus, o: Outcome) {
    match o.error {
        None => {
            st.sent += 1;
            st.last_error = None;
        }
        Some(e) => {
            st.failed += 1;
            let e = crate::sanitize::sanitize(&format!("{}: {e}", o.receiver)).into_owned();
            tracing::warn!(error = %e, "notification failed");
            st.last_error = Some(e);
        }
    }
}

/// What a dry run would have sent (never the URL: it may carry a token).
fn log_would_send(n: &Notification) {
    tracing::info!(
        receiver = %n.receiver,
        group = %n.group_key,
        status = if n.firing() { "firing" } else { "resolved" },
        alerts = n.alerts.len(),
        "dry run: would notify"
    );
}

/// One line per notification a dry run would send: receiver, group, status, and the body.
fn print_would_send(n: &Notification, body: &str) {
    use std::io::Write as _;
    let line = format!(
        "{} notify {} {} {} ({} alerts) {}",
        crate::notify::webhook::go_time(Some(n.at)),
        n.receiver,
        n.group_key,
        if n.firing() { "firing" } else { "resolved" },
        n.alerts.len(),
        body.trim_end()
    );
    let _ = writeln!(std::io::stdout(), "{}", crate::sanitize::sanitize(&line));
}

struct Job {
    client: reqwest::Client,
    url: String,
    body: String,
    flush: u64,
    integration: usize,
    receiver: String,
}

/// POST one notification: retried on transport errors, 5xx and 429 with a growing pause,
/// within one overall deadline; any other status, and a redirect loop (ten hops), fails at
/// once, as Alertmanager does.
async fn deliver(job: Job, slots: Arc<Semaphore>, done: mpsc::Sender<Outcome>) {
    let result = tokio::time::timeout(DELIVERY_DEADLINE, async {
        let _slot = slots
            .acquire()
            .await
            .map_err(|_| "shutting down".to_string())?;
        let mut pause = Duration::from_millis(500);
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let sent = job
                .client
                .post(&job.url)
                .header("Content-Type", "application/json")
                .timeout(ATTEMPT_TIMEOUT)
                .body(job.body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => {
                    let code = r.status();
                    last = format!("HTTP {code}");
                    if !(code.is_server_error() || code.as_u16() == 429) {
                        return Err(format!("{last} (not retried)"));
                    }
                }
                Err(e) if e.is_timeout() => last = "timed out".to_string(),
                // A redirect loop does not mend itself within seconds.
                Err(e) if e.is_redirect() => return Err("too many redirects (not retried)".into()),
                Err(e) => last = crate::collect::exporter::reason(&e),
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
        Err(format!("{last} after {ATTEMPTS} attempts"))
    })
    .await
    .unwrap_or_else(|_| Err(format!("no answer within {}s", DELIVERY_DEADLINE.as_secs())));
    let _ = done
        .send(Outcome {
            flush: job.flush,
            integration: job.integration,
            receiver: job.receiver,
            error: result.err(),
        })
        .await;
}
