//! SQLite history: schema and migrations, the single writer thread, chunk compaction,
//! retention and queries. The only module that may use rusqlite; must not know the UI or
//! collectors.
//!
//! Layout (schema.rs has the tables):
//! - `head`: one row per poll (`CycleBatch`) holding a packed blob of that poll's samples,
//!   columns sorted by persistent series id. DESIGN.md proposed a row per sample; that makes
//!   the hot path 1,500 row inserts per scrape and a one-series query a scan of every head row
//!   (or an index that costs the 10× of random B-tree inserts). A row per poll is one insert
//!   per scrape, and a one-series query reads one row per poll and binary-searches it.
//! - `blocks`: per source and closed window, the timestamp column its series share (scrapes
//!   give every series of a target the same timestamps, so it is stored once).
//! - `chunks`: per series and block, pco-compressed values plus how its timestamps relate to
//!   the block's: all of them, a presence bitmap (series missing from some polls), or its own
//!   column (samples with explicit timestamps).
//!
//! Time inside the store is data time: the newest timestamp written drives compaction and
//! retention, never the wall clock, so the same input gives the same file.

pub mod codec;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread::JoinHandle;

use rusqlite::{Connection, params};

use crate::model::{AlertState, AlertTransition, CycleBatch, Millis, PollRecord, Severity};
use writer::{LAYOUT_ALL, LAYOUT_BITMAP, LAYOUT_OWN, Msg};

pub use codec::CodecError;

#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Keep samples this long, measured back from the newest sample written (ms); 0 keeps
    /// everything. Deletion goes by whole chunks, so up to one window more may remain.
    pub retention_ms: i64,
    /// Delete the oldest chunks when the file grows past this (0 = no cap). Precisely: the
    /// pages in use in the main file (`page_count − freelist_count`) × page size, checked after
    /// every compaction and every 256 batches; freed pages are returned with
    /// `incremental_vacuum`. Head rows (at most about two windows) are never deleted for the
    /// cap, and the WAL file (bounded by checkpoints) comes on top.
    pub max_size_bytes: u64,
    /// Width of a compressed chunk window (ms), aligned to the epoch. A window is sealed into
    /// chunks once the newest timestamp written is a tenth of a window past its end.
    pub chunk_window_ms: i64,
    /// Capacity of the writer's queue, in batches.
    pub queue_capacity: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            retention_ms: 15 * 24 * 3600 * 1000,
            max_size_bytes: 0,
            chunk_window_ms: 3600 * 1000,
            queue_capacity: 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: not a nocscope database: {reason}")]
    NotADatabase { path: String, reason: String },
    #[error("store: {0}")]
    Sqlite(String),
    #[error("store writer has stopped")]
    Closed,
    #[error("store options: {0}")]
    Options(String),
}

impl StoreOptions {
    /// Reject settings that would make the store misbehave rather than fail loudly later.
    pub fn validate(&self) -> Result<(), StoreError> {
        const DAY: i64 = 24 * 3600 * 1000;
        if !(1000..=7 * DAY).contains(&self.chunk_window_ms) {
            return Err(StoreError::Options(format!(
                "chunk_window_ms = {}; accepted: 1000 (1 s) to {} (7 days)",
                self.chunk_window_ms,
                7 * DAY
            )));
        }
        if self.retention_ms < 0 {
            return Err(StoreError::Options(format!(
                "retention_ms = {}; accepted: 0 (keep everything) or a positive duration",
                self.retention_ms
            )));
        }
        if self.queue_capacity == 0 {
            return Err(StoreError::Options(
                "queue_capacity = 0; accepted: 1 or more batches".into(),
            ));
        }
        Ok(())
    }
}

/// Owns the writer thread. Dropping it flushes and joins the writer.
pub struct Store {
    path: PathBuf,
    sender: StoreSender,
    thread: Option<JoinHandle<()>>,
}

/// Cheap, clonable handle to queue batches for the writer.
#[derive(Clone)]
pub struct StoreSender {
    tx: SyncSender<Msg>,
    dropped: Arc<AtomicU64>,
}

/// What the compacted part of a store holds (see `Reader::chunk_stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChunkStats {
    pub chunks: u64,
    pub samples: u64,
    /// Compressed value columns.
    pub value_bytes: u64,
    /// Presence bitmaps and own timestamp columns of chunks.
    pub chunk_time_bytes: u64,
    pub blocks: u64,
    /// Shared timestamp columns of blocks.
    pub block_time_bytes: u64,
    pub head_rows: u64,
    /// Chunks whose timestamps are all of their block's, a bitmap subset, or their own.
    pub layouts: [u64; 3],
}

/// A read connection (WAL lets readers run beside the writer).
pub struct Reader {
    conn: Connection,
}

impl Store {
    pub fn open(path: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        options.validate()?;
        let conn = schema::open_writer(path)?;
        let w = writer::Writer::new(conn, path.to_path_buf(), options.clone())?;
        let (tx, rx) = mpsc::sync_channel(options.queue_capacity.max(1));
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || w.run(rx))
            .map_err(|e| StoreError::Sqlite(format!("cannot start the writer thread: {e}")))?;
        Ok(Store {
            path: path.to_path_buf(),
            sender: StoreSender {
                tx,
                dropped: Arc::new(AtomicU64::new(0)),
            },
            thread: Some(thread),
        })
    }
    pub fn sender(&self) -> StoreSender {
        self.sender.clone()
    }
    /// Block until everything queued so far is committed. Returns the first error the writer
    /// met since the previous flush (the failed batch is not retried).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.request(Msg::Flush)
    }
    /// Seal every head row taken before `before` into chunks now, even if its window is still
    /// open, then apply retention and the size cap. Used at shutdown by tools and by tests and
    /// benches that need compaction at a chosen point.
    pub fn compact_before(&self, before: Millis) -> Result<(), StoreError> {
        self.request(|reply| Msg::Compact(before, reply))
    }
    fn request(
        &self,
        msg: impl FnOnce(SyncSender<Result<(), StoreError>>) -> Msg,
    ) -> Result<(), StoreError> {
        let (reply_tx, reply_rx) = mpsc::sync_channel(1);
        // Blocking send: a flush waits behind the queued batches by design.
        self.sender
            .tx
            .send(msg(reply_tx))
            .map_err(|_| StoreError::Closed)?;
        reply_rx.recv().map_err(|_| StoreError::Closed)?
    }
    pub fn reader(&self) -> Result<Reader, StoreError> {
        Reader::open(&self.path)
    }
    /// Flush, stop the writer thread and close the database.
    pub fn close(mut self) -> Result<(), StoreError> {
        self.shutdown()
    }
    fn shutdown(&mut self) -> Result<(), StoreError> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        let flushed = self.request(Msg::Flush);
        let _ = self.sender.tx.send(Msg::Stop);
        let joined = thread
            .join()
            .map_err(|_| StoreError::Sqlite("the writer thread panicked".into()));
        flushed.and(joined)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::error!(path = %self.path.display(), "closing store: {e}");
        }
    }
}

impl StoreSender {
    /// Queue a batch without blocking. `Err` gives the batch back when the queue is full
    /// (the caller counts it as dropped) or the writer has stopped.
    #[allow(clippy::result_large_err)]
    pub fn try_send(&self, batch: CycleBatch) -> Result<(), CycleBatch> {
        match self.tx.try_send(Msg::Batch(batch)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(Msg::Batch(b))) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                Err(b)
            }
            Err(TrySendError::Disconnected(Msg::Batch(b))) => Err(b),
            // Only batches are sent through here, so the other variants cannot come back.
            Err(_) => Err(CycleBatch::default()),
        }
    }
    /// Batches dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

fn rd(what: &str, e: rusqlite::Error) -> StoreError {
    StoreError::Sqlite(format!("{what}: {e}"))
}

fn corrupt(what: String) -> StoreError {
    StoreError::Sqlite(what)
}

fn parse_state(s: &str) -> Result<AlertState, StoreError> {
    match s {
        "inactive" => Ok(AlertState::Inactive),
        "pending" => Ok(AlertState::Pending),
        "firing" => Ok(AlertState::Firing),
        other => Err(corrupt(format!(
            "alert_transitions: unknown state {other:?} (inactive, pending, firing)"
        ))),
    }
}

impl Reader {
    pub fn open(path: &Path) -> Result<Reader, StoreError> {
        Ok(Reader {
            conn: schema::open_reader(path)?,
        })
    }

    /// Result of `PRAGMA quick_check` ("ok" when the file is sound).
    pub fn quick_check(&self) -> Result<String, StoreError> {
        self.conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|e| rd("quick_check", e))
    }

    /// Counts and blob payload bytes of the compacted part. For the storage benchmark and
    /// status output; `table_bytes` gives what the file really spends per table.
    pub fn chunk_stats(&self) -> Result<ChunkStats, StoreError> {
        self.conn
            .query_row(
                "SELECT (SELECT count(*) FROM chunks), (SELECT coalesce(sum(n), 0) FROM chunks),
                        (SELECT coalesce(sum(length(vals)), 0) FROM chunks),
                        (SELECT coalesce(sum(length(times)), 0) FROM chunks),
                        (SELECT count(*) FROM blocks),
                        (SELECT coalesce(sum(length(times)), 0) FROM blocks),
                        (SELECT count(*) FROM head)",
                [],
                |r| {
                    Ok(ChunkStats {
                        chunks: r.get::<_, i64>(0)?.max(0) as u64,
                        samples: r.get::<_, i64>(1)?.max(0) as u64,
                        value_bytes: r.get::<_, i64>(2)?.max(0) as u64,
                        chunk_time_bytes: r.get::<_, i64>(3)?.max(0) as u64,
                        blocks: r.get::<_, i64>(4)?.max(0) as u64,
                        block_time_bytes: r.get::<_, i64>(5)?.max(0) as u64,
                        head_rows: r.get::<_, i64>(6)?.max(0) as u64,
                        layouts: [0; 3],
                    })
                },
            )
            .map_err(|e| rd("chunk stats", e))
            .and_then(|mut stats| {
                let mut st = self
                    .conn
                    .prepare("SELECT layout, count(*) FROM chunks GROUP BY layout")
                    .map_err(|e| rd("chunk stats", e))?;
                let rows: Vec<(i64, i64)> = st
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .and_then(|rows| rows.collect())
                    .map_err(|e| rd("chunk stats", e))?;
                for (layout, count) in rows {
                    if let Some(slot) = usize::try_from(layout)
                        .ok()
                        .and_then(|l| stats.layouts.get_mut(l))
                    {
                        *slot = count.max(0) as u64;
                    }
                }
                Ok(stats)
            })
    }

    /// Bytes of the main file's pages per table and index (from SQLite's `dbstat`), largest
    /// first. Pages still only in the WAL are not counted; close or flush-and-checkpoint first.
    pub fn table_bytes(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT name, sum(pgsize) AS b FROM dbstat GROUP BY name ORDER BY b DESC")
            .map_err(|e| rd("dbstat", e))?;
        st.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64)))
            .and_then(|rows| rows.collect())
            .map_err(|e| rd("dbstat", e))
    }

    fn source_id(&self, source: &str) -> Result<Option<i64>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT id FROM sources WHERE name = ?1")
            .map_err(|e| rd("query", e))?;
        let mut rows = st.query(params![source]).map_err(|e| rd("query", e))?;
        match rows.next().map_err(|e| rd("query", e))? {
            Some(r) => Ok(Some(r.get(0).map_err(|e| rd("query", e))?)),
            None => Ok(None),
        }
    }

    /// Samples of one series in `[from, to]`, oldest first, from head rows and chunks alike.
    pub fn query(
        &self,
        source: &str,
        key: &str,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<(Millis, f64)>, StoreError> {
        let Some(src) = self.source_id(source)? else {
            return Ok(Vec::new());
        };
        let sid: Option<i64> = {
            let mut st = self
                .conn
                .prepare_cached("SELECT id FROM series WHERE source_id = ?1 AND key = ?2")
                .map_err(|e| rd("query", e))?;
            let mut rows = st.query(params![src, key]).map_err(|e| rd("query", e))?;
            match rows.next().map_err(|e| rd("query", e))? {
                Some(r) => Some(r.get(0).map_err(|e| rd("query", e))?),
                None => None,
            }
        };
        let Some(sid) = sid else {
            return Ok(Vec::new());
        };
        // Chunks and head in one read transaction: a compaction committed between the two
        // SELECTs would otherwise move samples from the head into chunks already read
        // (losing them) or the other way round (doubling them).
        let snapshot = self
            .conn
            .unchecked_transaction()
            .map_err(|e| rd("begin read", e))?;
        let mut out = Vec::new();
        self.read_chunks(sid, from, to, &mut out)?;
        let sid32 =
            u32::try_from(sid).map_err(|_| corrupt(format!("series id {sid} too large")))?;
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT rowid, at, length(samples) FROM head
                 WHERE source_id = ?1 AND t_min <= ?3 AND t_max >= ?2 ORDER BY at",
            )
            .map_err(|e| rd("query head", e))?;
        let mut rows = st
            .query(params![src, from, to])
            .map_err(|e| rd("query head", e))?;
        // Incremental blob I/O: the binary search reads ~12 small pieces of each poll's row
        // instead of SQLite assembling the whole row (12–20 bytes per sample of the poll).
        let mut blob: Option<rusqlite::blob::Blob<'_>> = None;
        while let Some(r) = rows.next().map_err(|e| rd("query head", e))? {
            let rowid: i64 = r.get(0).map_err(|e| rd("query head", e))?;
            let at: Millis = r.get(1).map_err(|e| rd("query head", e))?;
            let len: i64 = r.get(2).map_err(|e| rd("query head", e))?;
            let handle = match blob.as_mut() {
                Some(b) => {
                    b.reopen(rowid).map_err(|e| rd("open head row", e))?;
                    b
                }
                None => blob.insert(
                    self.conn
                        .blob_open(rusqlite::MAIN_DB, "head", "samples", rowid, true)
                        .map_err(|e| rd("open head row", e))?,
                ),
            };
            let handle: &rusqlite::blob::Blob<'_> = handle;
            codec::head_lookup_with(
                usize::try_from(len).unwrap_or(0),
                at,
                sid32,
                |off, buf| {
                    handle
                        .read_at_exact(buf, off)
                        .map_err(|e| CodecError(format!("reading at {off}: {e}")))
                },
                &mut out,
            )
            .map_err(|e| corrupt(format!("head row of {source} at {at}: {e}")))?;
        }
        drop(blob);
        drop(rows);
        drop(st);
        snapshot.finish().map_err(|e| rd("end read", e))?;
        out.retain(|p| p.0 >= from && p.0 <= to);
        // Stable: samples with equal timestamps keep their write order.
        out.sort_by_key(|p| p.0);
        Ok(out)
    }

    fn read_chunks(
        &self,
        sid: i64,
        from: Millis,
        to: Millis,
        out: &mut Vec<(Millis, f64)>,
    ) -> Result<(), StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT c.n, c.layout, c.times, c.vals, b.n, b.times, c.block_id
                 FROM chunks c JOIN blocks b ON b.id = c.block_id
                 WHERE c.series_id = ?1 AND c.t_max >= ?2 AND c.t_min <= ?3
                 ORDER BY c.t_max",
            )
            .map_err(|e| rd("query chunks", e))?;
        let mut rows = st
            .query(params![sid, from, to])
            .map_err(|e| rd("query chunks", e))?;
        while let Some(r) = rows.next().map_err(|e| rd("query chunks", e))? {
            let get_n = |i: usize| -> Result<usize, StoreError> {
                let n: i64 = r.get(i).map_err(|e| rd("query chunks", e))?;
                usize::try_from(n).map_err(|_| corrupt(format!("chunk count {n} is negative")))
            };
            let blob = |i: usize| -> Result<Option<&[u8]>, StoreError> {
                r.get_ref(i)
                    .and_then(|v| v.as_blob_or_null().map_err(Into::into))
                    .map_err(|e| rd("query chunks", e))
            };
            let n = get_n(0)?;
            let layout: i64 = r.get(1).map_err(|e| rd("query chunks", e))?;
            let block: i64 = r.get(6).map_err(|e| rd("query chunks", e))?;
            let ctx =
                |e: CodecError| corrupt(format!("chunk of series {sid} in block {block}: {e}"));
            let vals = codec::decode_values(blob(3)?.unwrap_or_default(), n).map_err(ctx)?;
            let times = match layout {
                LAYOUT_OWN => codec::decode_times(blob(2)?.unwrap_or_default(), n).map_err(ctx)?,
                LAYOUT_ALL | LAYOUT_BITMAP => {
                    let bn = get_n(4)?;
                    let shared =
                        codec::decode_times(blob(5)?.unwrap_or_default(), bn).map_err(ctx)?;
                    if layout == LAYOUT_ALL {
                        shared
                    } else {
                        let pos =
                            codec::decode_bitmap(blob(2)?.unwrap_or_default(), bn).map_err(ctx)?;
                        pos.iter().filter_map(|&i| shared.get(i).copied()).collect()
                    }
                }
                other => return Err(corrupt(format!("chunk layout {other} is unknown"))),
            };
            if times.len() != n {
                return Err(ctx(CodecError(format!(
                    "{} timestamps for {n} values",
                    times.len()
                ))));
            }
            out.extend(times.into_iter().zip(vals));
        }
        Ok(())
    }

    /// Canonical keys of every series of a source.
    pub fn series(&self, source: &str) -> Result<Vec<String>, StoreError> {
        let Some(src) = self.source_id(source)? else {
            return Ok(Vec::new());
        };
        let mut st = self
            .conn
            .prepare_cached("SELECT key FROM series WHERE source_id = ?1 ORDER BY key")
            .map_err(|e| rd("query series", e))?;
        st.query_map(params![src], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| rd("query series", e))
    }

    pub fn polls(
        &self,
        source: &str,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<(Millis, PollRecord)>, StoreError> {
        let Some(src) = self.source_id(source)? else {
            return Ok(Vec::new());
        };
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT at, up, duration_ms, samples_scraped, bytes, error FROM polls
                 WHERE source_id = ?1 AND at BETWEEN ?2 AND ?3 ORDER BY at, rowid",
            )
            .map_err(|e| rd("query polls", e))?;
        st.query_map(params![src, from, to], |r| {
            Ok((
                r.get(0)?,
                PollRecord {
                    up: r.get(1)?,
                    duration_ms: r.get::<_, Option<f64>>(2)?.unwrap_or(f64::NAN),
                    samples_scraped: r.get(3)?,
                    bytes: r.get::<_, i64>(4)?.max(0) as u64,
                    error: r.get(5)?,
                },
            ))
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| rd("query polls", e))
    }

    pub fn alert_transitions(
        &self,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<AlertTransition>, StoreError> {
        self.transitions_where(
            "SELECT at, rule, host, labels, from_state, to_state, severity, value, active_at,
             summary FROM alert_transitions WHERE at BETWEEN ?1 AND ?2 ORDER BY at, rowid",
            params![from, to],
        )
    }

    /// The alerts that were pending or firing when the store was last written: each alert's
    /// latest transition, where it did not end inactive. A restarted console resumes their
    /// `for` clocks from these (Prometheus keeps `ALERTS_FOR_STATE` for the same reason).
    pub fn active_alerts(&self) -> Result<Vec<AlertTransition>, StoreError> {
        self.transitions_where(
            "SELECT at, rule, host, labels, from_state, to_state, severity, value, active_at,
             summary FROM alert_transitions
             WHERE rowid IN (SELECT max(rowid) FROM alert_transitions GROUP BY rule, host, labels)
               AND to_state != 'inactive'
             ORDER BY rowid",
            params![],
        )
    }

    /// When the last poll was written, if any.
    pub fn last_poll_at(&self) -> Result<Option<Millis>, StoreError> {
        self.conn
            .query_row("SELECT max(at) FROM polls", [], |r| r.get(0))
            .map_err(|e| rd("query the last poll", e))
    }

    fn transitions_where(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<AlertTransition>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(sql)
            .map_err(|e| rd("query alert transitions", e))?;
        type Row = (
            Millis,
            String,
            String,
            String,
            String,
            String,
            String,
            i64,
            Millis,
            String,
        );
        let rows: Vec<Row> = st
            .query_map(args, |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ))
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| rd("query alert transitions", e))?;
        rows.into_iter()
            .map(
                |(at, rule, host, labels, f, t, sev, value, active_at, summary)| {
                    Ok(AlertTransition {
                        at,
                        rule,
                        host,
                        labels,
                        from: parse_state(&f)?,
                        to: parse_state(&t)?,
                        severity: sev.parse::<Severity>().map_err(corrupt)?,
                        value: f64::from_bits(value as u64),
                        active_at,
                        summary,
                    })
                },
            )
            .collect()
    }
}
