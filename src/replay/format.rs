//! The recording file format (`.nsr`): header, checksummed segments, one zstd stream of
//! postcard-encoded records; the `Recorder` that writes it and the `Reader` that reads it back.
//! Files are untrusted input: every size is capped and no byte sequence can make this panic.
//! Must not touch the engine, the UI or any clock (callers pass times in).
//!
//! Layout (all integers little-endian; fixtures/README.md is the reference):
//!
//! ```text
//! magic        8 bytes  "NSREC\r\n\x1a"
//! version      u32      FORMAT_VERSION
//! header_len   u32      ≤ Limits::max_header
//! header_crc   u32      CRC-32 of the header bytes
//! header       JSON     Header
//! segment*     kind u8 (1 = record, 2 = stream end) · len u32 · crc u32 (over kind, len, data)
//!              · data: the zstd bytes one flush produced
//! ```

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};
use zstd::stream::raw::{CParameter, DParameter, Decoder, Encoder, InBuffer, Operation, OutBuffer};

use crate::model::{Input, Millis};

/// Version of the layout and of the record encoding. Bump it when `Record`, `Input` or any
/// payload changes in a way postcard cannot read back (reordering or changing a variant);
/// adding a variant at the end of an enum keeps old files readable.
pub const FORMAT_VERSION: u32 = 1;

pub const MAGIC: [u8; 8] = *b"NSREC\r\n\x1a";

const SEG_RECORD: u8 = 1;
const SEG_END: u8 = 2;
const PRELUDE_LEN: usize = 8 + 4 + 4 + 4;
const SEG_HEAD_LEN: usize = 1 + 4 + 4;
/// Header errors point at the header's length field: length, checksum and JSON are one part.
const HEADER_AT: u64 = 12;

/// zstd level: recordings are written a few records a second, so a slower level costs nothing
/// noticeable live and buys a smaller fixture.
const ZSTD_LEVEL: i32 = 9;
/// 8 MiB window: spans well over a hundred ~57 KB node_exporter bodies, so each scrape is
/// mostly a back-reference to the previous scrape of the same target even with many targets.
const ZSTD_WINDOW_LOG: u32 = 23;

/// Caps applied while reading. Defaults fit any recording nocscope writes with its default
/// body limit; lower them for fuzzing or tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest header JSON.
    pub max_header: u32,
    /// Largest single record, compressed or decompressed.
    pub max_record: u32,
    /// Most bytes decompressed over the whole file (a decompression bomb stops here).
    pub max_total: u64,
    /// Largest zstd window (log2) the reader accepts; zstd allocates this much.
    pub max_window_log: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header: 1 << 20,
            max_record: 64 << 20,
            max_total: 64 << 30,
            max_window_log: 24,
        }
    }
}

/// One target as the recording engine knew it (mirror of `engine::TargetSpec`, which is not
/// serialisable and belongs to the engine).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedTarget {
    pub name: String,
    pub host: String,
    pub interval_ms: i64,
    pub timeout_ms: i64,
    pub sample_limit: u32,
    /// What kind of target it was, with what the engine needs to judge its observations.
    /// Absent in recordings made before network checks existed: those are all exporters.
    #[serde(default)]
    pub kind: RecordedKind,
    /// The target's `labels`, which its series carry for Prometheus rules.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Mirror of `engine::SpecKind`, serialisable.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordedKind {
    #[default]
    Exporter,
    Snmp {
        custom: Vec<RecordedOid>,
    },
    Icmp,
    Tcp,
    Http {
        url: String,
        expect_status: Vec<u16>,
    },
}

/// Mirror of `config::CustomOid`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedOid {
    pub name: String,
    pub oid: Vec<u32>,
    /// `gauge`, `counter` or `text`.
    pub kind: String,
    pub walk: bool,
    pub index_labels: Vec<String>,
    pub lookup: Vec<(i64, String)>,
}

/// What a replay needs besides the records: enough to rebuild the engine with no config file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format_version: u32,
    /// `CARGO_PKG_VERSION` of the recording binary.
    pub nocscope_version: String,
    /// `fnv1a64:<hex>` of the config file the recording ran with (identification, not security).
    pub config_digest: String,
    /// Wall time the recording started.
    pub started_at: Millis,
    /// Which rule set the engine ran: `"default"` (the built-in rules of the recording
    /// binary) or `"recorded"` (the `rule_set` below).
    pub rules: String,
    /// The own rules in force as `[[rule]]` TOML (what `--print-rules` prints), when the
    /// config changed the built-in ones; a replay runs exactly these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_set: Option<String>,
    /// The Prometheus rule files the engine evaluated, their text as it was, so a replay on
    /// any machine evaluates the same rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_files: Vec<RecordedRuleFile>,
    /// Their default evaluation interval (groups without `interval`), in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_interval_ms: Option<i64>,
    /// In `TargetId` order.
    pub targets: Vec<RecordedTarget>,
    /// The live run's `[anomaly]` section, so a replay warms up, forecasts and raises
    /// `AnomalySustained` the same way. Absent in older recordings (and for the defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<RecordedAnomaly>,
    /// The live run's `notify` alertmanager.yml, its text as it was, so a replay can say
    /// which notifications the recorded incident would have caused (to a dry run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<String>,
}

/// One Prometheus rule file as the recording engine read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRuleFile {
    pub name: String,
    pub text: String,
}

/// Mirror of `config::Anomaly`, durations in milliseconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedAnomaly {
    pub warmup_points: u32,
    pub alert_after_ms: Option<u64>,
    pub forecast_window_ms: u64,
    pub forecast_horizon_ms: u64,
}

impl RecordedAnomaly {
    /// `None` for the defaults, so recordings made with them stay byte-identical to before.
    pub fn of(a: &crate::config::Anomaly) -> Option<RecordedAnomaly> {
        if *a == crate::config::Anomaly::default() {
            return None;
        }
        let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Some(RecordedAnomaly {
            warmup_points: a.warmup_points,
            alert_after_ms: a.alert_after.map(ms),
            forecast_window_ms: ms(a.forecast_window),
            forecast_horizon_ms: ms(a.forecast_horizon),
        })
    }

    pub fn settings(&self) -> crate::config::Anomaly {
        let d = std::time::Duration::from_millis;
        crate::config::Anomaly {
            warmup_points: self.warmup_points,
            alert_after: self.alert_after_ms.map(d),
            forecast_window: d(self.forecast_window_ms),
            forecast_horizon: d(self.forecast_horizon_ms),
        }
    }
}

/// One entry of the stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Record {
    /// An input the live engine applied, and the wall time it applied it at (the replay clock;
    /// observation stamps alone are not monotonic, a slow poll lands after later ticks).
    Input { applied_at: Millis, input: Input },
    /// The collectors' dropped-observation counter changed (`Engine::set_dropped_observations`).
    Dropped { count: u64 },
    /// Written by `Recorder::finish`: the recording was closed cleanly after `records` records.
    End { records: u64 },
}

/// Why a file could not be read (further).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    NotARecording,
    UnsupportedVersion(u32),
    HeaderTooLarge {
        len: u32,
        max: u32,
    },
    HeaderChecksum {
        stored: u32,
        computed: u32,
    },
    HeaderInvalid(String),
    /// The file ends inside the prelude, header or a segment.
    Truncated {
        needed: u64,
        available: u64,
    },
    /// The file ends cleanly between records but without the end marker: nocscope stopped
    /// while recording. Everything before is intact.
    Unfinished,
    UnknownSegment(u8),
    RecordTooLarge {
        len: u64,
        max: u32,
    },
    TotalTooLarge {
        max: u64,
    },
    Checksum {
        stored: u32,
        computed: u32,
    },
    Decompress(String),
    Decode(String),
    TrailingData,
    Io(String),
}

/// A reading failure, with where it happened: `record` counts from 1 (0 = the header) and
/// `offset` is the byte offset in the file of the part that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    pub record: u64,
    pub offset: u64,
    pub reason: Reason,
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.record == 0 {
            write!(f, "header at byte {}: ", self.offset)?;
        } else {
            write!(f, "record {} at byte {}: ", self.record, self.offset)?;
        }
        match &self.reason {
            Reason::NotARecording => write!(
                f,
                "not a nocscope recording (expected the magic bytes \"NSREC\\r\\n\\x1a\")"
            ),
            Reason::UnsupportedVersion(v) => write!(
                f,
                "format version {v} is not supported; this nocscope reads version {FORMAT_VERSION}"
            ),
            Reason::HeaderTooLarge { len, max } => {
                write!(f, "header of {len} bytes exceeds the {max}-byte cap")
            }
            Reason::HeaderChecksum { stored, computed } => write!(
                f,
                "header checksum mismatch (stored {stored:#010x}, computed {computed:#010x}): the file is corrupted"
            ),
            Reason::HeaderInvalid(e) => write!(f, "header is not valid: {e}"),
            Reason::Truncated { needed, available } => write!(
                f,
                "file is truncated: {needed} more bytes expected, {available} present"
            ),
            Reason::Unfinished => write!(
                f,
                "file ends without the end marker: the recording was interrupted; everything before is intact"
            ),
            Reason::UnknownSegment(k) => {
                write!(f, "unknown segment kind {k} (accepted: 1 record, 2 end)")
            }
            Reason::RecordTooLarge { len, max } => {
                write!(f, "record of {len} bytes exceeds the {max}-byte cap")
            }
            Reason::TotalTooLarge { max } => {
                write!(f, "recording decompresses to more than the {max}-byte cap")
            }
            Reason::Checksum { stored, computed } => write!(
                f,
                "checksum mismatch (stored {stored:#010x}, computed {computed:#010x}): the file is corrupted"
            ),
            Reason::Decompress(e) => write!(f, "cannot decompress: {e}"),
            Reason::Decode(e) => write!(f, "cannot decode the record: {e}"),
            Reason::TrailingData => write!(f, "unexpected data after the end of the recording"),
            Reason::Io(e) => write!(f, "read error: {e}"),
        }
    }
}

impl std::error::Error for FormatError {}

fn header_crc(json: &[u8]) -> u32 {
    crc32fast::hash(json)
}

fn crc_segment(kind: u8, data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&[kind]);
    h.update(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_le_bytes());
    h.update(data);
    h.finalize()
}

/// FNV-1a 64 of some bytes, as `fnv1a64:<hex>`: names a config without another dependency.
pub fn digest(bytes: &[u8]) -> String {
    let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("fnv1a64:{h:016x}")
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Appends records to a recording. Each record is flushed through zstd and written as its own
/// checksummed segment before `record` returns, so a crash loses at most the record in flight.
pub struct Recorder<W: Write> {
    out: W,
    encoder: Encoder<'static>,
    records: u64,
    scratch: Vec<u8>,
    compressed: Vec<u8>,
    chunk: Box<[u8]>,
    written: u64,
}

impl<W: Write> Recorder<W> {
    /// Write the prelude and header. `out` should be unbuffered or flushed per write by the
    /// caller's choice; the recorder calls `flush` after every segment.
    pub fn new(mut out: W, header: &Header) -> io::Result<Recorder<W>> {
        let json = serde_json::to_vec(header).map_err(io::Error::other)?;
        let len = u32::try_from(json.len())
            .map_err(|_| io::Error::other("recording header larger than 4 GiB"))?;
        let mut prelude = Vec::with_capacity(PRELUDE_LEN + json.len());
        prelude.extend_from_slice(&MAGIC);
        prelude.extend_from_slice(&header.format_version.to_le_bytes());
        prelude.extend_from_slice(&len.to_le_bytes());
        prelude.extend_from_slice(&header_crc(&json).to_le_bytes());
        prelude.extend_from_slice(&json);
        out.write_all(&prelude)?;
        out.flush()?;
        let mut encoder = Encoder::new(ZSTD_LEVEL)?;
        encoder.set_parameter(CParameter::WindowLog(ZSTD_WINDOW_LOG))?;
        Ok(Recorder {
            out,
            encoder,
            records: 0,
            scratch: Vec::new(),
            compressed: Vec::new(),
            chunk: vec![0u8; 64 << 10].into_boxed_slice(),
            written: prelude.len() as u64,
        })
    }

    /// Records written so far (the end marker excluded).
    pub fn records(&self) -> u64 {
        self.records
    }

    pub fn input(&mut self, applied_at: Millis, input: &Input) -> io::Result<()> {
        // Serialising by reference: `Record::Input` owns its input, so encode the same shape
        // through a borrowed twin instead of cloning a 57 KB body per record.
        #[derive(Serialize)]
        enum RecordRef<'a> {
            Input {
                applied_at: Millis,
                input: &'a Input,
            },
        }
        self.scratch.clear();
        let bytes = postcard::to_io(
            &RecordRef::Input { applied_at, input },
            std::mem::take(&mut self.scratch),
        )
        .map_err(io::Error::other)?;
        self.scratch = bytes;
        self.write_scratch()?;
        self.records += 1;
        Ok(())
    }

    pub fn record(&mut self, record: &Record) -> io::Result<()> {
        self.scratch.clear();
        let bytes =
            postcard::to_io(record, std::mem::take(&mut self.scratch)).map_err(io::Error::other)?;
        self.scratch = bytes;
        self.write_scratch()?;
        if !matches!(record, Record::End { .. }) {
            self.records += 1;
        }
        Ok(())
    }

    fn write_scratch(&mut self) -> io::Result<()> {
        self.compressed.clear();
        let mut input = InBuffer::around(&self.scratch);
        while input.pos() < self.scratch.len() {
            let mut out = OutBuffer::around(&mut self.chunk[..]);
            self.encoder.run(&mut input, &mut out)?;
            let n = out.pos();
            self.compressed
                .extend_from_slice(self.chunk.get(..n).unwrap_or_default());
        }
        loop {
            let mut out = OutBuffer::around(&mut self.chunk[..]);
            let remaining = self.encoder.flush(&mut out)?;
            let n = out.pos();
            self.compressed
                .extend_from_slice(self.chunk.get(..n).unwrap_or_default());
            if remaining == 0 {
                break;
            }
        }
        let data = std::mem::take(&mut self.compressed);
        let r = self.segment(SEG_RECORD, &data);
        self.compressed = data;
        r
    }

    fn segment(&mut self, kind: u8, data: &[u8]) -> io::Result<()> {
        let len = u32::try_from(data.len())
            .map_err(|_| io::Error::other("recording segment larger than 4 GiB"))?;
        let mut head = [0u8; SEG_HEAD_LEN];
        head[0] = kind;
        head[1..5].copy_from_slice(&len.to_le_bytes());
        head[5..9].copy_from_slice(&crc_segment(kind, data).to_le_bytes());
        self.out.write_all(&head)?;
        self.out.write_all(data)?;
        self.out.flush()?;
        self.written += (SEG_HEAD_LEN + data.len()) as u64;
        Ok(())
    }

    /// Write the end marker and close the zstd frame; returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        let records = self.records;
        self.record(&Record::End { records })?;
        let mut tail = Vec::new();
        loop {
            let mut out = OutBuffer::around(&mut self.chunk[..]);
            let remaining = self.encoder.finish(&mut out, true)?;
            let n = out.pos();
            tail.extend_from_slice(self.chunk.get(..n).unwrap_or_default());
            if remaining == 0 {
                break;
            }
        }
        self.segment(SEG_END, &tail)?;
        Ok(self.out)
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

/// Reads a recording record by record. After the first error it keeps returning that error.
pub struct Reader<R: Read> {
    src: R,
    header: Header,
    decoder: Decoder<'static>,
    limits: Limits,
    offset: u64,
    /// Number of the next record (1-based).
    next: u64,
    total: u64,
    state: State,
    seg: Vec<u8>,
    out: Vec<u8>,
    chunk: Box<[u8]>,
}

#[derive(Debug)]
enum State {
    Reading,
    /// The end marker was read; only the stream-end segment and EOF may follow.
    Ended,
    Done,
    Failed(FormatError),
}

/// Read exactly `buf.len()` bytes, or say how many were there.
fn read_full(src: &mut impl Read, buf: &mut [u8]) -> Result<(), (usize, io::Error)> {
    let mut filled = 0;
    while filled < buf.len() {
        match src.read(buf.get_mut(filled..).unwrap_or_default()) {
            Ok(0) => {
                return Err((
                    filled,
                    io::Error::new(io::ErrorKind::UnexpectedEof, "end of file"),
                ));
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err((filled, e)),
        }
    }
    Ok(())
}

fn le32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

impl<R: Read> Reader<R> {
    /// Read and check the prelude and header.
    pub fn new(mut src: R, limits: Limits) -> Result<Reader<R>, FormatError> {
        let err = |offset: u64, reason| FormatError {
            record: 0,
            offset,
            reason,
        };
        let mut prelude = [0u8; PRELUDE_LEN];
        if let Err((got, e)) = read_full(&mut src, &mut prelude) {
            let seen = got.min(MAGIC.len());
            let magic_ok = prelude.get(..seen) == MAGIC.get(..seen);
            return Err(if e.kind() != io::ErrorKind::UnexpectedEof {
                err(0, Reason::Io(e.to_string()))
            } else if !magic_ok || got == 0 {
                err(0, Reason::NotARecording)
            } else {
                err(
                    got as u64,
                    Reason::Truncated {
                        needed: (PRELUDE_LEN - got) as u64,
                        available: 0,
                    },
                )
            });
        }
        if prelude.get(..8) != Some(&MAGIC[..]) {
            return Err(err(0, Reason::NotARecording));
        }
        let version = le32(&prelude, 8);
        if version != FORMAT_VERSION {
            return Err(err(8, Reason::UnsupportedVersion(version)));
        }
        let len = le32(&prelude, 12);
        let stored = le32(&prelude, 16);
        if len > limits.max_header {
            return Err(err(
                HEADER_AT,
                Reason::HeaderTooLarge {
                    len,
                    max: limits.max_header,
                },
            ));
        }
        let mut json = vec![0u8; len as usize];
        if let Err((got, e)) = read_full(&mut src, &mut json) {
            return Err(if e.kind() == io::ErrorKind::UnexpectedEof {
                err(
                    HEADER_AT,
                    Reason::Truncated {
                        needed: u64::from(len),
                        available: got as u64,
                    },
                )
            } else {
                err(HEADER_AT, Reason::Io(e.to_string()))
            });
        }
        let computed = header_crc(&json);
        if computed != stored {
            return Err(err(HEADER_AT, Reason::HeaderChecksum { stored, computed }));
        }
        let header: Header = serde_json::from_slice(&json)
            .map_err(|e| err(HEADER_AT, Reason::HeaderInvalid(e.to_string())))?;
        if header.format_version != version {
            return Err(err(
                HEADER_AT,
                Reason::HeaderInvalid(format!(
                    "format_version {} disagrees with the prelude's {version}",
                    header.format_version
                )),
            ));
        }
        let mut decoder = Decoder::new().map_err(|e| err(0, Reason::Decompress(e.to_string())))?;
        decoder
            .set_parameter(DParameter::WindowLogMax(limits.max_window_log))
            .map_err(|e| err(0, Reason::Decompress(e.to_string())))?;
        Ok(Reader {
            src,
            header,
            decoder,
            limits,
            offset: (PRELUDE_LEN + len as usize) as u64,
            next: 1,
            total: 0,
            state: State::Reading,
            seg: Vec::new(),
            out: Vec::new(),
            chunk: vec![0u8; 64 << 10].into_boxed_slice(),
        })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Records returned so far.
    pub fn records_read(&self) -> u64 {
        self.next - 1
    }

    /// The next input-carrying record, `Ok(None)` at a clean end, or where and why the file is
    /// damaged. `Record::End` is consumed here, never returned.
    pub fn next_record(&mut self) -> Result<Option<Record>, FormatError> {
        match &self.state {
            State::Done => return Ok(None),
            State::Failed(e) => return Err(e.clone()),
            State::Reading | State::Ended => {}
        }
        match self.step() {
            Ok(r) => Ok(r),
            Err(e) => {
                self.state = State::Failed(e.clone());
                Err(e)
            }
        }
    }

    fn fail(&self, offset: u64, reason: Reason) -> FormatError {
        FormatError {
            record: self.next,
            offset,
            reason,
        }
    }

    fn step(&mut self) -> Result<Option<Record>, FormatError> {
        loop {
            let at = self.offset;
            let mut head = [0u8; SEG_HEAD_LEN];
            if let Err((got, e)) = read_full(&mut self.src, &mut head) {
                if e.kind() != io::ErrorKind::UnexpectedEof {
                    return Err(self.fail(at, Reason::Io(e.to_string())));
                }
                return Err(match (got, &self.state) {
                    (0, State::Reading) => self.fail(at, Reason::Unfinished),
                    (0, _) => {
                        // The end marker was read but the stream end was lost: the records
                        // are all there, so say so rather than call it corruption.
                        self.fail(
                            at,
                            Reason::Truncated {
                                needed: SEG_HEAD_LEN as u64,
                                available: 0,
                            },
                        )
                    }
                    _ => self.fail(
                        at,
                        Reason::Truncated {
                            needed: SEG_HEAD_LEN as u64,
                            available: got as u64,
                        },
                    ),
                });
            }
            let kind = head[0];
            let len = le32(&head, 1);
            let stored = le32(&head, 5);
            if kind != SEG_RECORD && kind != SEG_END {
                return Err(self.fail(at, Reason::UnknownSegment(kind)));
            }
            if len > self.limits.max_record {
                return Err(self.fail(
                    at,
                    Reason::RecordTooLarge {
                        len: u64::from(len),
                        max: self.limits.max_record,
                    },
                ));
            }
            self.seg.resize(len as usize, 0);
            if let Err((got, e)) = read_full(&mut self.src, &mut self.seg) {
                return Err(if e.kind() == io::ErrorKind::UnexpectedEof {
                    self.fail(
                        at,
                        Reason::Truncated {
                            needed: u64::from(len),
                            available: got as u64,
                        },
                    )
                } else {
                    self.fail(at, Reason::Io(e.to_string()))
                });
            }
            let computed = crc_segment(kind, &self.seg);
            if computed != stored {
                return Err(self.fail(at, Reason::Checksum { stored, computed }));
            }
            self.offset += (SEG_HEAD_LEN + len as usize) as u64;
            self.decompress(at)?;
            if kind == SEG_END {
                if !matches!(self.state, State::Ended) || !self.out.is_empty() {
                    return Err(self.fail(
                        at,
                        Reason::Decode("stream end before the end marker or with data".into()),
                    ));
                }
                let mut probe = [0u8; 1];
                return match self.src.read(&mut probe) {
                    Ok(0) => {
                        self.state = State::Done;
                        Ok(None)
                    }
                    Ok(_) => Err(self.fail(self.offset, Reason::TrailingData)),
                    Err(e) => Err(self.fail(self.offset, Reason::Io(e.to_string()))),
                };
            }
            if matches!(self.state, State::Ended) {
                return Err(self.fail(at, Reason::TrailingData));
            }
            let record: Record = match postcard::from_bytes(&self.out) {
                Ok(r) => r,
                Err(e) => return Err(self.fail(at, Reason::Decode(e.to_string()))),
            };
            if let Record::End { records } = record {
                if records != self.next - 1 {
                    return Err(self.fail(
                        at,
                        Reason::Decode(format!(
                            "end marker counts {records} records, the file holds {}",
                            self.next - 1
                        )),
                    ));
                }
                self.state = State::Ended;
                continue;
            }
            self.next += 1;
            return Ok(Some(record));
        }
    }

    /// Decompress the current segment into `self.out`. A segment holds exactly what one flush
    /// produced, so feeding it whole yields exactly one record.
    fn decompress(&mut self, at: u64) -> Result<(), FormatError> {
        self.out.clear();
        let mut input = InBuffer::around(&self.seg);
        loop {
            let before = input.pos();
            let mut out = OutBuffer::around(&mut self.chunk[..]);
            if let Err(e) = self.decoder.run(&mut input, &mut out) {
                return Err(FormatError {
                    record: self.next,
                    offset: at,
                    reason: Reason::Decompress(e.to_string()),
                });
            }
            let n = out.pos();
            let full = n == self.chunk.len();
            self.out
                .extend_from_slice(self.chunk.get(..n).unwrap_or_default());
            self.total += n as u64;
            if self.out.len() > self.limits.max_record as usize {
                return Err(FormatError {
                    record: self.next,
                    offset: at,
                    reason: Reason::RecordTooLarge {
                        len: self.out.len() as u64,
                        max: self.limits.max_record,
                    },
                });
            }
            if self.total > self.limits.max_total {
                return Err(FormatError {
                    record: self.next,
                    offset: at,
                    reason: Reason::TotalTooLarge {
                        max: self.limits.max_total,
                    },
                });
            }
            if input.pos() >= self.seg.len() && !full {
                return Ok(());
            }
            if n == 0 && input.pos() == before {
                // No progress with input left: corrupt data zstd did not flag. Never spin.
                return Err(FormatError {
                    record: self.next,
                    offset: at,
                    reason: Reason::Decompress("decoder made no progress".into()),
                });
            }
        }
    }
}
