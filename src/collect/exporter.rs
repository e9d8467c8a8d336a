//! The Prometheus exporter poller: one HTTP GET with Prometheus's headers, a total deadline,
//! gzip, and a cap on the decompressed body. Returns the raw body; parsing is the engine's.

use crate::config::{ExporterTarget, Target};
use crate::model::Scrape;

/// The Accept header Prometheus 3 sends, so exporters negotiate the same format for us.
pub const ACCEPT: &str = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// One client shared by every exporter target (connection reuse); redirects capped at 10.
pub fn http_client() -> Result<reqwest::Client, String> {
    todo!("collect helper")
}

/// Poll one exporter once. Never fails: every failure is a `ScrapeOutcome::Failed` with a reason.
pub async fn scrape(
    client: &reqwest::Client,
    target: &Target,
    exporter: &ExporterTarget,
) -> Scrape {
    let _ = (client, target, exporter);
    todo!("collect helper")
}
