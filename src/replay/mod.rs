//! Recording and replay (issue 4): the `.nsr` fixture format, the `Recorder` the live loop
//! writes through, and the `Player` the console (or a headless run) drives. Owns fixture
//! parsing and its limits; must not touch the UI, the store or any clock.

pub mod format;
pub mod player;

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;

use crate::config::{CustomOid, CustomOidKind};
use crate::engine::{SpecKind, TargetSpec};
use crate::model::Millis;

pub use format::{
    FORMAT_VERSION, FormatError, Header, Limits, Reader, Reason, Record, RecordedAnomaly,
    RecordedKind, RecordedOid, RecordedRuleFile, RecordedTarget, Recorder,
};
pub use player::{OpenError, Player, Scan, Speed, SpeedError, scan, scan_with};

/// The bundled demo recording (fixtures/demo.nsr), so the bare `nocscope` works anywhere.
pub static DEMO: &[u8] = include_bytes!("../../fixtures/demo.nsr");

/// The same recording with its header changed by `change`: every record that `keep` accepts
/// copied as it is; a damaged tail is dropped where the damage starts (the replay would stop
/// there anyway). `replay --rules` uses it to replay old inputs against new rules (and drops
/// the recorded rule reloads, which would put the old rules back).
pub fn with_header(
    data: &[u8],
    change: impl FnOnce(&mut Header),
    keep: impl Fn(&Record) -> bool,
) -> Result<Vec<u8>, FormatError> {
    let mut reader = Reader::new(data, Limits::default())?;
    let mut header = reader.header().clone();
    change(&mut header);
    let io = |e: io::Error| FormatError {
        record: 0,
        offset: 0,
        reason: Reason::Io(e.to_string()),
    };
    let mut rec = Recorder::new(Vec::new(), &header).map_err(io)?;
    while let Ok(Some(r)) = reader.next_record() {
        if !matches!(r, Record::End { .. }) && keep(&r) {
            rec.record(&r).map_err(io)?;
        }
    }
    rec.finish().map_err(io)
}

/// The header for a recording of an engine built from these targets with the default rules.
pub fn header_for(targets: &[TargetSpec], config_digest: String, started_at: Millis) -> Header {
    Header {
        format_version: FORMAT_VERSION,
        nocscope_version: env!("CARGO_PKG_VERSION").to_string(),
        config_digest,
        started_at,
        rules: "default".to_string(),
        rule_set: None,
        rule_files: Vec::new(),
        rule_interval_ms: None,
        anomaly: None,
        notify: None,
        targets: targets
            .iter()
            .map(|t| RecordedTarget {
                name: t.name.clone(),
                host: t.host.clone(),
                interval_ms: t.interval_ms,
                timeout_ms: t.timeout_ms,
                sample_limit: t.sample_limit,
                kind: recorded_kind(&t.kind),
                labels: t.labels.clone(),
            })
            .collect(),
    }
}

fn recorded_kind(kind: &SpecKind) -> RecordedKind {
    match kind {
        SpecKind::Exporter => RecordedKind::Exporter,
        SpecKind::Snmp { custom } => RecordedKind::Snmp {
            custom: custom
                .iter()
                .map(|c| RecordedOid {
                    name: c.name.clone(),
                    oid: c.oid.clone(),
                    kind: match c.kind {
                        CustomOidKind::Gauge => "gauge",
                        CustomOidKind::Counter => "counter",
                        CustomOidKind::Text => "text",
                    }
                    .to_string(),
                    walk: c.walk,
                    index_labels: c.index_labels.clone(),
                    lookup: c.lookup.clone(),
                })
                .collect(),
        },
        SpecKind::Icmp => RecordedKind::Icmp,
        SpecKind::Tcp => RecordedKind::Tcp,
        SpecKind::Http { url, expect_status } => RecordedKind::Http {
            url: url.clone(),
            expect_status: expect_status.clone(),
        },
    }
}

/// The engine's view of a recorded target kind; an unknown custom-object type (a newer
/// recording) reads as a gauge rather than failing the whole replay.
pub fn spec_kind(kind: &RecordedKind) -> SpecKind {
    match kind {
        RecordedKind::Exporter => SpecKind::Exporter,
        RecordedKind::Snmp { custom } => SpecKind::Snmp {
            custom: custom
                .iter()
                .map(|c| CustomOid {
                    name: c.name.clone(),
                    oid: c.oid.clone(),
                    kind: match c.kind.as_str() {
                        "counter" => CustomOidKind::Counter,
                        "text" => CustomOidKind::Text,
                        _ => CustomOidKind::Gauge,
                    },
                    walk: c.walk,
                    index_labels: c.index_labels.clone(),
                    lookup: c.lookup.clone(),
                })
                .collect(),
        },
        RecordedKind::Icmp => SpecKind::Icmp,
        RecordedKind::Tcp => SpecKind::Tcp,
        RecordedKind::Http { url, expect_status } => SpecKind::Http {
            url: url.clone(),
            expect_status: expect_status.clone(),
        },
    }
}

/// Create (truncate) a recording file and write its header.
pub fn create(path: &Path, header: &Header) -> io::Result<Recorder<BufWriter<File>>> {
    let file = File::create(path)?;
    Recorder::new(BufWriter::with_capacity(256 << 10, file), header)
}
