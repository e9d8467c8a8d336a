//! Logging to a file with `tracing`: never to stdout or stderr, which belong to the terminal UI
//! and to headless output. Owns the subscriber set-up only.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Send logs to `<dir>/nocscope.log`. Level from `NOCSCOPE_LOG` (e.g. `debug`,
/// `nocscope::collect=trace`), default `info`. Keep the guard alive until exit so the last
/// lines are written. If the file cannot be opened, logging is off rather than on the screen.
pub fn init(dir: &Path) -> Option<WorkerGuard> {
    std::fs::create_dir_all(dir).ok()?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("nocscope.log"))
        .ok()?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = EnvFilter::try_from_env("NOCSCOPE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init()
        .ok()?;
    Some(guard)
}
