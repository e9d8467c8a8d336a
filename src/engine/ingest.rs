//! Scrape ingest: an exporter body parsed and folded into the target's series, the synthetic
//! series every poll writes, and the batch for the store. Whole or nothing per body. Probe
//! results are checks.rs's and SNMP varbinds snmp.rs's; rules and host status stay in mod.rs.

use super::*;

/// Samples stamped further than this into the future (relative to the poll) are dropped, as
/// Prometheus drops out-of-bounds samples: a broken exporter clock must not poison history.
const MAX_FUTURE_MS: i64 = 10 * 60_000;

/// Series the engine writes for every poll, as Prometheus does.
const SYNTHETIC: [&str; 3] = ["up", "scrape_duration_seconds", "scrape_samples_scraped"];

impl Engine {
    pub(super) fn ingest_scrape(&mut self, ti: usize, at: Millis, scrape: &Scrape) {
        let mut batch = CycleBatch {
            source: self.targets[ti].source.clone(),
            at,
            ..CycleBatch::default()
        };
        let t = &mut self.targets[ti];
        t.poll_seq = t.poll_seq.wrapping_add(1);
        t.last_poll = Some(at);
        t.duration_ms = Some(scrape.duration_ms);
        t.warning = None;
        let (outcome, bytes) = match &scrape.outcome {
            ScrapeOutcome::Failed(e) => (Err(e.to_string()), 0),
            ScrapeOutcome::Body { content_type, body } => {
                let (format, warning) = Format::from_content_type(content_type.as_deref());
                t.warning = warning;
                let r = ingest_body(t, &mut self.key_buf, body, format, at, &mut batch);
                (r, body.len() as u64)
            }
        };
        let t = &mut self.targets[ti];
        let (up, samples) = match outcome {
            Ok((samples, vitals)) => {
                t.error = None;
                t.vitals = vitals;
                (true, samples)
            }
            Err(reason) => {
                // A failed poll is an empty poll: nothing from it is kept, and nothing older
                // is presented as current.
                t.error = Some(reason);
                t.vitals = Vitals::default();
                t.dropped = 0;
                batch.samples.clear();
                (false, 0)
            }
        };
        t.up = Some(up);
        t.vitals.up = Some(up);
        t.samples = samples;
        // Prometheus writes these for every scrape, failed or not.
        let synth = [
            if up { 1.0 } else { 0.0 },
            scrape.duration_ms / 1000.0,
            samples as f64,
        ];
        let synth = SYNTHETIC.into_iter().zip(synth);
        for (key, v) in synth {
            let i = t.index.get_or_insert(key, &mut batch.new_series);
            ensure_state(&mut t.states, i as usize);
            batch.samples.push((i, at, v));
        }
        batch.poll = Some(PollRecord {
            up,
            duration_ms: scrape.duration_ms,
            samples_scraped: samples,
            bytes,
            error: t.error.clone(),
        });
        self.batches.push(batch);
    }
}

/// Parse a body and fold it into the target's series. Either the whole body is applied or
/// nothing is: every check that can fail runs before the first series is touched.
fn ingest_body(
    t: &mut TargetState,
    key_buf: &mut String,
    body: &[u8],
    format: Format,
    at: Millis,
    batch: &mut CycleBatch,
) -> Result<(u32, Vitals), String> {
    let parsed = expo::parse(body, format).map_err(|e| format!("parse error: {e}"))?;
    let n = parsed.samples.len();
    if t.spec.sample_limit > 0 && n > t.spec.sample_limit as usize {
        return Err(format!(
            "sample limit exceeded: {n} samples > limit {}",
            t.spec.sample_limit
        ));
    }
    let seq = t.poll_seq;
    let mut acc = VitalsAcc::default();
    let mut dropped = 0u32;
    batch.samples.reserve(n + 3);
    for s in &parsed.samples {
        let labels = parsed.labels_of(s);
        canonical_key(key_buf, s.name, labels);
        if labels.is_empty() && SYNTHETIC.contains(&s.name) {
            // These names are ours, written for every poll; a body must not overwrite them.
            dropped += 1;
            continue;
        }
        let idx = t.index.get_or_insert(key_buf, &mut batch.new_series) as usize;
        ensure_state(&mut t.states, idx);
        let Some(st) = t.states.get_mut(idx) else {
            continue;
        };
        if st.last_poll == seq {
            // Duplicate series in one body: the first wins, the rest are counted.
            dropped += 1;
            continue;
        }
        let ts = s.timestamp.unwrap_or(at);
        if s.timestamp.is_some() {
            if ts > at + MAX_FUTURE_MS {
                dropped += 1;
                continue;
            }
            if st.has_last && ts <= st.last_ts {
                // Exporters that stamp their samples repeat the timestamp until the value
                // changes; only a real step back in time is worth counting.
                if ts < st.last_ts {
                    dropped += 1;
                }
                st.last_poll = seq;
                continue;
            }
        }
        let prev = st.has_last.then_some(Prev {
            ts: st.last_ts,
            value: st.last_value,
        });
        acc.observe(s.name, labels, s.value, ts, prev);
        st.last_ts = ts;
        st.last_value = s.value;
        st.has_last = true;
        st.last_poll = seq;
        batch.samples.push((idx as u32, ts, s.value));
    }
    t.dropped = dropped;
    Ok((n as u32, acc.finish()))
}
