//! The writer thread: owns the only read-write connection, commits `CycleBatch`es in short
//! groups (one savepoint each), compacts closed windows into chunks, applies retention and the
//! size cap. Must not be reached except through the channel in mod.rs.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params};

use super::codec;
use super::{StoreError, StoreOptions};
use crate::model::{AlertTransition, CycleBatch, Millis};

/// What the writer thread is asked to do, in queue order.
pub enum Msg {
    Batch(CycleBatch),
    /// Reply once everything queued before it is committed, with the first error since the
    /// last flush (a failed batch is logged, not retried).
    Flush(SyncSender<Result<(), StoreError>>),
    /// Compact every head row taken before the given time, closed window or not.
    Compact(Millis, SyncSender<Result<(), StoreError>>),
    Stop,
}

/// Chunk layouts: how a series' timestamps relate to its block's shared column.
pub const LAYOUT_ALL: i64 = 0;
pub const LAYOUT_BITMAP: i64 = 1;
pub const LAYOUT_OWN: i64 = 2;

struct Slot {
    key: Box<str>,
    /// Persistent id; `None` until resolved (or after a rolled-back transaction).
    sid: Option<u32>,
}

#[derive(Default)]
struct SourceState {
    id: Option<i64>,
    slots: HashMap<u32, Slot>,
}

/// A batch waits at most this long for its commit, and a commit holds at most `GROUP_MAX`
/// batches. An idle console's polls trickle in a few a second, and a commit per poll (WAL
/// frames, shared-memory locks, statement churn) was about half the writer's CPU. What a
/// crash can lose grows from one poll to a second of polls; alert transitions are never held.
const GROUP_WAIT: Duration = Duration::from_secs(1);
const GROUP_MAX: u32 = 32;

/// The transaction currently open for a group of batches.
struct Group {
    started: Instant,
    batches: u32,
    newest: Millis,
}

pub struct Writer {
    conn: Connection,
    path: PathBuf,
    opts: StoreOptions,
    sources: HashMap<Arc<str>, SourceState>,
    /// Newest batch (poll) time written: the store's only notion of "now". Sample timestamps
    /// do not move it, so one bogus explicit timestamp far in the future cannot make
    /// retention delete the whole history.
    newest: Millis,
    /// Head rows before this were compacted by the last pass.
    compacted_until: Millis,
    batches_since_cap_check: u32,
    pending_error: Option<StoreError>,
    /// Samples whose local index was never announced in `new_series`.
    pub unknown_samples: u64,
}

fn sqlerr(what: &str, e: rusqlite::Error) -> StoreError {
    StoreError::Sqlite(format!("{what}: {e}"))
}

impl Writer {
    pub fn new(conn: Connection, path: PathBuf, opts: StoreOptions) -> Result<Writer, StoreError> {
        let newest: Option<Millis> = conn
            .query_row(
                "SELECT max(m) FROM (SELECT max(at) AS m FROM head
                 UNION ALL SELECT max(at_max) FROM blocks UNION ALL SELECT max(at) FROM polls)",
                [],
                |r| r.get(0),
            )
            .map_err(|e| sqlerr("reading newest timestamp", e))?;
        Ok(Writer {
            conn,
            path,
            opts,
            sources: HashMap::new(),
            newest: newest.unwrap_or(Millis::MIN),
            compacted_until: Millis::MIN,
            batches_since_cap_check: 0,
            pending_error: None,
            unknown_samples: 0,
        })
    }

    pub fn run(mut self, rx: Receiver<Msg>) {
        let mut group: Option<Group> = None;
        loop {
            let msg = match &group {
                None => match rx.recv() {
                    Ok(m) => m,
                    Err(_) => break,
                },
                Some(g) => match rx.recv_timeout(GROUP_WAIT.saturating_sub(g.started.elapsed())) {
                    Ok(m) => m,
                    Err(RecvTimeoutError::Timeout) => {
                        self.end_group(&mut group);
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                },
            };
            match msg {
                Msg::Batch(b) if !b.alerts.is_empty() => {
                    // Durable on its own: what is grouped so far commits first, in order.
                    self.end_group(&mut group);
                    match self.write_batch(&b) {
                        Ok(()) => self.after_commit(1),
                        Err(e) => self.batch_failed(&b, e),
                    }
                }
                Msg::Batch(b) => {
                    self.group_batch(&mut group, &b);
                    if group.as_ref().is_some_and(|g| g.batches >= GROUP_MAX) {
                        self.end_group(&mut group);
                    }
                }
                Msg::Flush(reply) => {
                    self.end_group(&mut group);
                    let _ = reply.send(self.pending_error.take().map_or(Ok(()), Err));
                }
                Msg::Compact(before, reply) => {
                    self.end_group(&mut group);
                    let r = self.maintain(Some(before), 0);
                    let _ = reply.send(r);
                }
                Msg::Stop => break,
            }
        }
        self.end_group(&mut group);
        // Hand the WAL back to the main file so a cleanly closed store is one file.
        let _ = self.conn.pragma_update(None, "wal_checkpoint", "TRUNCATE");
    }

    /// Runs one cached statement that takes no parameters (transaction control): cached, so a
    /// poll does not re-parse BEGIN/SAVEPOINT/COMMIT text every time.
    fn control(&self, sql: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut st| st.execute([]))
            .map(|_| ())
            .map_err(|e| sqlerr(sql, e))
    }

    /// Writes `b` into the open group (opening one if needed) under its own savepoint, so a
    /// batch that fails halfway is undone alone and the batches grouped before it still commit.
    fn group_batch(&mut self, group: &mut Option<Group>, b: &CycleBatch) {
        if group.is_none() {
            if let Err(e) = self.control("BEGIN") {
                self.batch_failed(b, e);
                return;
            }
            *group = Some(Group {
                started: Instant::now(),
                batches: 0,
                newest: Millis::MIN,
            });
        }
        let r = self
            .control("SAVEPOINT batch")
            .and_then(|()| self.write_rows(b));
        match r {
            Ok(()) => {
                if let Err(e) = self.control("RELEASE batch") {
                    self.batch_failed(b, e);
                } else if let Some(g) = group {
                    g.batches += 1;
                    g.newest = g.newest.max(b.at);
                }
            }
            Err(e) => {
                let _ = self.control("ROLLBACK TO batch");
                let _ = self.control("RELEASE batch");
                self.batch_failed(b, e);
            }
        }
    }

    /// Commits the open group, if any, then runs maintenance for its batches.
    fn end_group(&mut self, group: &mut Option<Group>) {
        let Some(g) = group.take() else { return };
        match self.control("COMMIT") {
            Ok(()) => {
                self.newest = self.newest.max(g.newest);
                self.after_commit(g.batches);
            }
            Err(e) => {
                // A failed COMMIT may leave the transaction open; nothing of it survives.
                let _ = self.conn.execute_batch("ROLLBACK");
                tracing::error!(path = %self.path.display(), batches = g.batches, "store commit failed; these batches are lost: {e}");
                self.forget_ids();
                self.pending_error.get_or_insert(e);
            }
        }
    }

    fn batch_failed(&mut self, b: &CycleBatch, e: StoreError) {
        tracing::error!(path = %self.path.display(), source = %b.source, at = b.at, "store batch not written: {e}");
        self.forget_ids();
        self.pending_error.get_or_insert(e);
    }

    fn after_commit(&mut self, batches: u32) {
        if let Err(e) = self.maintain(None, batches) {
            tracing::error!(path = %self.path.display(), "store maintenance failed: {e}");
            self.pending_error.get_or_insert(e);
        }
    }

    /// After a rollback the ids handed out in that transaction no longer exist.
    fn forget_ids(&mut self) {
        for s in self.sources.values_mut() {
            s.id = None;
            for slot in s.slots.values_mut() {
                slot.sid = None;
            }
        }
    }

    fn write_batch(&mut self, b: &CycleBatch) -> Result<(), StoreError> {
        // Alert transitions are rare and must not be lost to a power cut, unlike samples.
        let durable = !b.alerts.is_empty();
        if durable {
            self.conn
                .pragma_update(None, "synchronous", "FULL")
                .map_err(|e| sqlerr("setting synchronous=FULL", e))?;
        }
        let r = self.write_batch_tx(b);
        if durable {
            self.conn
                .pragma_update(None, "synchronous", "NORMAL")
                .map_err(|e| sqlerr("setting synchronous=NORMAL", e))?;
        }
        r
    }

    fn write_batch_tx(&mut self, b: &CycleBatch) -> Result<(), StoreError> {
        self.control("BEGIN")?;
        if let Err(e) = self.write_rows(b) {
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(e);
        }
        if let Err(e) = self.control("COMMIT") {
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(e);
        }
        self.newest = self.newest.max(b.at);
        Ok(())
    }

    /// The rows of one batch, inside whatever transaction the caller opened.
    fn write_rows(&mut self, b: &CycleBatch) -> Result<(), StoreError> {
        let tx = &self.conn;
        let state = self.sources.entry(b.source.clone()).or_default();
        let source_id = match state.id {
            Some(id) => id,
            None => {
                let id = source_id(tx, &b.source)?;
                state.id = Some(id);
                id
            }
        };
        for (idx, key) in &b.new_series {
            state.slots.insert(
                *idx,
                Slot {
                    key: key.clone(),
                    sid: None,
                },
            );
        }
        let mut packed: Vec<(u32, Millis, f64)> = Vec::with_capacity(b.samples.len());
        let mut t_min = Millis::MAX;
        let mut t_max = Millis::MIN;
        for &(idx, ts, v) in &b.samples {
            let Some(slot) = state.slots.get_mut(&idx) else {
                self.unknown_samples += 1;
                continue;
            };
            let sid = match slot.sid {
                Some(s) => s,
                None => {
                    let s = series_id(tx, source_id, &slot.key)?;
                    slot.sid = Some(s);
                    s
                }
            };
            t_min = t_min.min(ts);
            t_max = t_max.max(ts);
            packed.push((sid, ts, v));
        }
        if !packed.is_empty() {
            let blob = codec::encode_head(b.at, &mut packed);
            tx.prepare_cached(
                "INSERT INTO head(source_id, at, t_min, t_max, samples) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut st| st.execute(params![source_id, b.at, t_min, t_max, blob]))
            .map_err(|e| sqlerr("inserting head row", e))?;
        }
        if let Some(p) = &b.poll {
            tx.prepare_cached(
                "INSERT INTO polls(source_id, at, up, duration_ms, samples_scraped, bytes, error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    source_id,
                    b.at,
                    p.up,
                    p.duration_ms,
                    p.samples_scraped,
                    i64::try_from(p.bytes).unwrap_or(i64::MAX),
                    p.error
                ])
            })
            .map_err(|e| sqlerr("inserting poll", e))?;
        }
        for a in &b.alerts {
            insert_alert(tx, a)?;
        }
        Ok(())
    }

    /// Compaction, retention and size cap, driven by data time. `force` compacts everything
    /// before that time regardless of window boundaries being closed.
    fn maintain(&mut self, force: Option<Millis>, batches: u32) -> Result<(), StoreError> {
        let w = self.opts.chunk_window_ms.max(1);
        // A window closes a tenth of a window after its end, so that sources polled a little
        // behind the newest one still land in the head before their window is sealed.
        let closed = self
            .newest
            .saturating_sub(w / 10)
            .div_euclid(w)
            .saturating_mul(w);
        let until = force.unwrap_or(closed).max(closed);
        let mut changed = false;
        if until > self.compacted_until || force.is_some() {
            self.compact(until)?;
            self.compacted_until = until;
            self.retention()?;
            changed = true;
        }
        self.batches_since_cap_check = self.batches_since_cap_check.saturating_add(batches);
        if changed || self.batches_since_cap_check >= 256 {
            self.batches_since_cap_check = 0;
            self.size_cap()?;
        }
        Ok(())
    }

    fn compact(&mut self, until: Millis) -> Result<(), StoreError> {
        let w = self.opts.chunk_window_ms.max(1);
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| sqlerr("begin compaction", e))?;
        let sources: Vec<i64> = {
            let mut st = tx
                .prepare_cached("SELECT id FROM sources")
                .map_err(|e| sqlerr("listing sources", e))?;
            st.query_map([], |r| r.get(0))
                .and_then(|rows| rows.collect::<Result<Vec<i64>, _>>())
                .map_err(|e| sqlerr("listing sources", e))?
        };
        for source in sources {
            let rows: Vec<(Millis, Vec<u8>)> = {
                let mut st = tx
                    .prepare_cached(
                        "SELECT at, samples FROM head WHERE source_id = ?1 AND at < ?2 ORDER BY at",
                    )
                    .map_err(|e| sqlerr("reading head", e))?;
                st.query_map(params![source, until], |r| Ok((r.get(0)?, r.get(1)?)))
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| sqlerr("reading head", e))?
            };
            if rows.is_empty() {
                continue;
            }
            let mut start = 0;
            while start < rows.len() {
                let window = rows.get(start).map_or(0, |r| r.0.div_euclid(w));
                let end = rows
                    .iter()
                    .skip(start)
                    .position(|r| r.0.div_euclid(w) != window)
                    .map_or(rows.len(), |p| start + p);
                seal_block(&tx, source, rows.get(start..end).unwrap_or_default())?;
                start = end;
            }
            tx.prepare_cached("DELETE FROM head WHERE source_id = ?1 AND at < ?2")
                .and_then(|mut st| st.execute(params![source, until]))
                .map_err(|e| sqlerr("deleting compacted head rows", e))?;
        }
        tx.commit().map_err(|e| sqlerr("commit compaction", e))
    }

    fn retention(&mut self) -> Result<(), StoreError> {
        if self.newest == Millis::MIN || self.opts.retention_ms <= 0 {
            return Ok(());
        }
        let cutoff = self.newest.saturating_sub(self.opts.retention_ms);
        self.delete_before(cutoff, true)
    }

    /// Delete chunks, blocks and head rows whose newest sample is older than `cutoff`
    /// (and polls and alert transitions before it when `all`). A chunk never outlives its
    /// block because a chunk's t_max is at most its block's.
    fn delete_before(&mut self, cutoff: Millis, all: bool) -> Result<(), StoreError> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| sqlerr("begin retention", e))?;
        let sids: Vec<i64> = {
            let mut st = tx
                .prepare_cached("SELECT id FROM series")
                .map_err(|e| sqlerr("listing series", e))?;
            st.query_map([], |r| r.get(0))
                .and_then(|rows| rows.collect::<Result<Vec<i64>, _>>())
                .map_err(|e| sqlerr("listing series", e))?
        };
        {
            // Per series so each delete is a range on the primary key, not a table scan.
            let mut st = tx
                .prepare_cached("DELETE FROM chunks WHERE series_id = ?1 AND t_max < ?2")
                .map_err(|e| sqlerr("deleting chunks", e))?;
            for sid in sids {
                st.execute(params![sid, cutoff])
                    .map_err(|e| sqlerr("deleting chunks", e))?;
            }
        }
        let mut stmts = vec![
            "DELETE FROM blocks WHERE t_max < ?1",
            "DELETE FROM head WHERE t_max < ?1",
        ];
        if all {
            stmts.push("DELETE FROM polls WHERE at < ?1");
            stmts.push("DELETE FROM alert_transitions WHERE at < ?1");
        }
        for s in stmts {
            tx.prepare_cached(s)
                .and_then(|mut st| st.execute(params![cutoff]))
                .map_err(|e| sqlerr("applying retention", e))?;
        }
        tx.commit().map_err(|e| sqlerr("commit retention", e))
    }

    /// Bytes in pages in use, and bytes in free pages.
    fn page_bytes(&self) -> Result<(u64, u64), StoreError> {
        let get = |p: &str| {
            self.conn
                .query_row(&format!("PRAGMA {p}"), [], |r| r.get::<_, i64>(0))
                .map_err(|e| sqlerr(p, e))
                .map(|v| v.max(0) as u64)
        };
        let (total, free, size) = (
            get("page_count")?,
            get("freelist_count")?,
            get("page_size")?,
        );
        Ok((
            total.saturating_sub(free).saturating_mul(size),
            free.saturating_mul(size),
        ))
    }

    /// Delete the oldest blocks (with their chunks) until the pages in use fit the cap, then
    /// return free pages to the file system. Head rows are never deleted here.
    fn size_cap(&mut self) -> Result<(), StoreError> {
        let cap = self.opts.max_size_bytes;
        if cap == 0 {
            return Ok(());
        }
        let mut freed = false;
        while self.page_bytes()?.0 > cap {
            let oldest: Option<Millis> = self
                .conn
                .query_row("SELECT min(t_max) FROM blocks", [], |r| r.get(0))
                .optional()
                .map_err(|e| sqlerr("finding oldest block", e))?
                .flatten();
            let Some(oldest) = oldest else { break };
            self.delete_before(oldest.saturating_add(1), false)?;
            freed = true;
        }
        // Compaction frees the head pages it sealed; with batches committed in groups, more
        // head rows wait for each compaction, and their free pages alone can push the file
        // over the cap. Give them back too once they are a noticeable share of it.
        let free_now = self.page_bytes()?.1;
        if freed || free_now > (cap / 16).max(64 * 1024) {
            // Each step of this pragma frees one page (execute_batch steps once), so it is
            // stepped until it is done.
            self.conn
                .prepare("PRAGMA incremental_vacuum")
                .and_then(|mut st| {
                    let mut rows = st.query([])?;
                    while rows.next()?.is_some() {}
                    Ok(())
                })
                .map_err(|e| sqlerr("incremental_vacuum", e))?;
            // Shrink the WAL too, or the freed pages just move there.
            let _ = self.conn.pragma_update(None, "wal_checkpoint", "TRUNCATE");
        }
        Ok(())
    }
}

fn source_id(tx: &Connection, name: &str) -> Result<i64, StoreError> {
    tx.prepare_cached("INSERT OR IGNORE INTO sources(name) VALUES (?1)")
        .and_then(|mut st| st.execute(params![name]))
        .map_err(|e| sqlerr("inserting source", e))?;
    tx.prepare_cached("SELECT id FROM sources WHERE name = ?1")
        .and_then(|mut st| st.query_row(params![name], |r| r.get(0)))
        .map_err(|e| sqlerr("reading source id", e))
}

fn series_id(tx: &Connection, source: i64, key: &str) -> Result<u32, StoreError> {
    tx.prepare_cached("INSERT OR IGNORE INTO series(source_id, key) VALUES (?1, ?2)")
        .and_then(|mut st| st.execute(params![source, key]))
        .map_err(|e| sqlerr("inserting series", e))?;
    let id: i64 = tx
        .prepare_cached("SELECT id FROM series WHERE source_id = ?1 AND key = ?2")
        .and_then(|mut st| st.query_row(params![source, key], |r| r.get(0)))
        .map_err(|e| sqlerr("reading series id", e))?;
    u32::try_from(id).map_err(|_| {
        StoreError::Sqlite(format!(
            "series id {id} exceeds the 32-bit ids head rows hold"
        ))
    })
}

fn insert_alert(tx: &Connection, a: &AlertTransition) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO alert_transitions(at, rule, host, labels, from_state, to_state, severity,
         value, active_at, summary) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .and_then(|mut st| {
        st.execute(params![
            a.at,
            a.rule,
            a.host,
            a.labels,
            a.from.as_str(),
            a.to.as_str(),
            a.severity.as_str(),
            // Bits, not REAL: SQLite turns NaN into NULL.
            a.value.to_bits() as i64,
            a.active_at,
            a.summary
        ])
    })
    .map_err(|e| sqlerr("inserting alert transition", e))?;
    Ok(())
}

/// Turn the head rows of one source and one window into a block (shared timestamps) and one
/// chunk per series.
fn seal_block(tx: &Connection, source: i64, rows: &[(Millis, Vec<u8>)]) -> Result<(), StoreError> {
    // Shared timestamps: the poll times. Series scraped without explicit timestamps have
    // exactly these (or a subset); the rest get a column of their own.
    // Ordered by series id: chunk rows then go into the B-tree in key order (fuller pages),
    // and the same input always gives the same file.
    let mut per_series: BTreeMap<u32, Vec<(Millis, f64)>> = BTreeMap::new();
    let mut shared: Vec<Millis> = Vec::with_capacity(rows.len());
    for (at, blob) in rows {
        let row = codec::decode_head(blob)
            .map_err(|e| StoreError::Sqlite(format!("head row of source {source} at {at}: {e}")))?;
        shared.push(*at);
        for (i, (sid, v)) in row.sids.iter().zip(&row.values).enumerate() {
            let ts = row
                .times
                .as_ref()
                .and_then(|t| t.get(i).copied())
                .unwrap_or(*at);
            per_series.entry(*sid).or_default().push((ts, *v));
        }
    }
    shared.sort_unstable();
    shared.dedup();
    let at_max = shared.last().copied().unwrap_or(Millis::MIN);
    let all_min = per_series
        .values()
        .flat_map(|s| s.iter().map(|p| p.0))
        .min();
    let all_max = per_series
        .values()
        .flat_map(|s| s.iter().map(|p| p.0))
        .max();
    let (Some(t_min), Some(t_max)) = (all_min, all_max) else {
        return Ok(());
    };
    tx.prepare_cached(
        "INSERT INTO blocks(source_id, t_min, t_max, at_max, n, times)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut st| {
        st.execute(params![
            source,
            t_min,
            t_max,
            at_max,
            shared.len() as i64,
            codec::encode_times(&shared)
        ])
    })
    .map_err(|e| sqlerr("inserting block", e))?;
    let block = tx.last_insert_rowid();
    let mut st = tx
        .prepare_cached(
            "INSERT INTO chunks(series_id, t_max, block_id, t_min, n, layout, times, vals)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(|e| sqlerr("inserting chunk", e))?;
    for (sid, mut pts) in per_series {
        pts.sort_by_key(|p| p.0);
        let times: Vec<Millis> = pts.iter().map(|p| p.0).collect();
        let vals: Vec<f64> = pts.iter().map(|p| p.1).collect();
        let (layout, tblob) = if times == shared {
            (LAYOUT_ALL, None)
        } else {
            // Strictly increasing and all present in `shared` ⇒ a bitmap says which.
            let strictly = times.windows(2).all(|w| matches!(w, [a, b] if a < b));
            let positions: Option<Vec<usize>> = strictly
                .then(|| times.iter().map(|t| shared.binary_search(t).ok()).collect())
                .flatten();
            match positions {
                Some(pos) => {
                    let mut present = vec![false; shared.len()];
                    for p in pos {
                        if let Some(x) = present.get_mut(p) {
                            *x = true;
                        }
                    }
                    (LAYOUT_BITMAP, Some(codec::encode_bitmap(&present)))
                }
                None => (LAYOUT_OWN, Some(codec::encode_times(&times))),
            }
        };
        let c_min = times.first().copied().unwrap_or(t_min);
        let c_max = times.last().copied().unwrap_or(t_max);
        st.execute(params![
            sid,
            c_max,
            block,
            c_min,
            times.len() as i64,
            layout,
            tblob,
            codec::encode_values(&vals)
        ])
        .map_err(|e| sqlerr("inserting chunk", e))?;
    }
    Ok(())
}
