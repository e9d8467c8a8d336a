//! SQLite history: schema and migrations, the single writer thread, chunk compaction,
//! retention and queries. The only module that may use rusqlite; must not know the UI or
//! collectors.

use std::path::Path;

use crate::model::{AlertTransition, CycleBatch, Millis, PollRecord};

#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Keep samples this long, measured back from the newest sample written (ms).
    pub retention_ms: i64,
    /// Delete the oldest chunks when the file grows past this (0 = no cap).
    pub max_size_bytes: u64,
    /// Width of a compressed chunk window (ms); head rows older than one window are compacted.
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
}

/// Owns the writer thread. Dropping it flushes and joins the writer.
pub struct Store {
    _private: (),
}

/// Cheap, clonable handle to queue batches for the writer.
#[derive(Clone)]
pub struct StoreSender {
    _private: (),
}

/// A read connection (WAL lets readers run beside the writer).
pub struct Reader {
    _private: (),
}

impl Store {
    pub fn open(path: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        let _ = (path, options);
        todo!("store helper")
    }
    pub fn sender(&self) -> StoreSender {
        todo!("store helper")
    }
    /// Block until everything queued so far is committed.
    pub fn flush(&self) -> Result<(), StoreError> {
        todo!("store helper")
    }
    pub fn reader(&self) -> Result<Reader, StoreError> {
        todo!("store helper")
    }
    /// Flush, stop the writer thread and close the database.
    pub fn close(self) -> Result<(), StoreError> {
        todo!("store helper")
    }
}

impl StoreSender {
    /// Queue a batch without blocking. `Err` gives the batch back when the queue is full
    /// (the caller counts it as dropped) or the writer has stopped.
    pub fn try_send(&self, batch: CycleBatch) -> Result<(), CycleBatch> {
        let _ = batch;
        todo!("store helper")
    }
    /// Batches dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        todo!("store helper")
    }
}

impl Reader {
    pub fn open(path: &Path) -> Result<Reader, StoreError> {
        let _ = path;
        todo!("store helper")
    }
    /// Samples of one series in `[from, to]`, oldest first, from head rows and chunks alike.
    pub fn query(
        &self,
        source: &str,
        key: &str,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<(Millis, f64)>, StoreError> {
        let _ = (source, key, from, to);
        todo!("store helper")
    }
    /// Canonical keys of every series of a source.
    pub fn series(&self, source: &str) -> Result<Vec<String>, StoreError> {
        let _ = source;
        todo!("store helper")
    }
    pub fn polls(
        &self,
        source: &str,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<(Millis, PollRecord)>, StoreError> {
        let _ = (source, from, to);
        todo!("store helper")
    }
    pub fn alert_transitions(
        &self,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<AlertTransition>, StoreError> {
        let _ = (from, to);
        todo!("store helper")
    }
}
