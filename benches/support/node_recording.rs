//! The recorded node_exporter hour the engine and rules benchmarks replay: one real body
//! every 15 s, and the inputs that deliver it to many targets at once.

use std::io::Read;

use bytes::Bytes;
use nocscope::model::{Input, Observation, Payload, Scrape, ScrapeOutcome, TargetId};

const CT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The recording: `# SCRAPE <unix ms>` lines, each followed by one body.
pub fn recording() -> Vec<(i64, Bytes)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/data/store_node_1h.prom.gz"
    );
    let file = std::fs::File::open(path).expect("benches/data/store_node_1h.prom.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .expect("gunzip");
    let mut out = Vec::new();
    for chunk in text.split("# SCRAPE ").filter(|c| !c.is_empty()) {
        let (ts, body) = chunk.split_once('\n').expect("scrape header");
        out.push((
            ts.trim().parse().expect("ms"),
            Bytes::from(body.to_string()),
        ));
    }
    out
}

/// Every body of `rec` delivered to each of `targets` targets, in time order.
pub fn inputs(rec: &[(i64, Bytes)], targets: u32) -> Vec<Input> {
    let mut v = Vec::new();
    for (at, body) in rec {
        for t in 0..targets {
            v.push(Input::Observation(Observation {
                target: TargetId(t),
                at: *at,
                payload: Payload::Scrape(Scrape {
                    duration_ms: 20.0,
                    outcome: ScrapeOutcome::Body {
                        content_type: Some(CT.to_string()),
                        body: body.clone(),
                    },
                }),
            }));
        }
    }
    v
}
