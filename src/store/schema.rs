//! Opening a store file: recognising it as ours, integrity check, connection settings and the
//! hand-written migrations on `PRAGMA user_version`. Must not hold data-path logic.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// `PRAGMA application_id` of nocscope files ("nocs"), so another program's SQLite file is
/// refused instead of being written into.
pub const APPLICATION_ID: i32 = 0x6E6F_6373;

/// Migrations in order; entry i brings `user_version` from i to i + 1.
const MIGRATIONS: &[&str] = &[
    // v1. Head rows are one per poll (see mod.rs for why); chunks are per series and window,
    // and blocks hold the timestamp column their series share.
    "CREATE TABLE sources(
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    );
    CREATE TABLE series(
        id INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL REFERENCES sources(id),
        key TEXT NOT NULL,
        UNIQUE(source_id, key)
    );
    CREATE TABLE head(
        source_id INTEGER NOT NULL,
        at INTEGER NOT NULL,
        t_min INTEGER NOT NULL,
        t_max INTEGER NOT NULL,
        samples BLOB NOT NULL
    );
    CREATE INDEX head_source_at ON head(source_id, at);
    CREATE TABLE blocks(
        id INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL,
        t_min INTEGER NOT NULL,
        t_max INTEGER NOT NULL,
        at_max INTEGER NOT NULL,
        n INTEGER NOT NULL,
        times BLOB NOT NULL
    );
    CREATE INDEX blocks_t_max ON blocks(t_max);
    CREATE TABLE chunks(
        series_id INTEGER NOT NULL,
        t_max INTEGER NOT NULL,
        block_id INTEGER NOT NULL,
        t_min INTEGER NOT NULL,
        n INTEGER NOT NULL,
        layout INTEGER NOT NULL,
        times BLOB,
        vals BLOB NOT NULL,
        PRIMARY KEY(series_id, t_max, block_id)
    ) WITHOUT ROWID;
    CREATE TABLE polls(
        source_id INTEGER NOT NULL,
        at INTEGER NOT NULL,
        up INTEGER NOT NULL,
        duration_ms REAL,
        samples_scraped INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        error TEXT
    );
    CREATE INDEX polls_source_at ON polls(source_id, at);
    CREATE TABLE alert_transitions(
        at INTEGER NOT NULL,
        rule TEXT NOT NULL,
        host TEXT NOT NULL,
        labels TEXT NOT NULL,
        from_state TEXT NOT NULL,
        to_state TEXT NOT NULL,
        severity TEXT NOT NULL,
        value INTEGER NOT NULL,
        active_at INTEGER NOT NULL,
        summary TEXT NOT NULL
    );
    CREATE INDEX alert_transitions_at ON alert_transitions(at);",
];

/// Schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

fn not_db(path: &Path, reason: impl Into<String>) -> StoreError {
    StoreError::NotADatabase {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

fn sql(path: &Path, what: &str, e: rusqlite::Error) -> StoreError {
    StoreError::Sqlite(format!("{}: {what}: {e}", path.display()))
}

/// Run `PRAGMA quick_check` and read the identity pragmas; anything SQLite cannot read
/// (a text file, a truncated header, garbage) is reported as not a database.
fn identify(conn: &Connection, path: &Path) -> Result<(i32, i64, i64), StoreError> {
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| not_db(path, format!("SQLite cannot read it: {e}")))?;
    if check != "ok" {
        return Err(not_db(path, format!("PRAGMA quick_check failed: {check}")));
    }
    let read = |name: &str| {
        conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get::<_, i64>(0))
            .map_err(|e| not_db(path, format!("cannot read PRAGMA {name}: {e}")))
    };
    let app = read("application_id")? as i32;
    let version = read("user_version")?;
    let tables = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(|e| not_db(path, format!("cannot list tables: {e}")))?;
    Ok((app, version, tables))
}

fn check_identity(path: &Path, app: i32, version: i64, tables: i64) -> Result<(), StoreError> {
    if app != APPLICATION_ID && !(app == 0 && tables == 0) {
        return Err(not_db(
            path,
            format!(
                "SQLite file of another program (application_id {app:#x}; nocscope uses {APPLICATION_ID:#x})"
            ),
        ));
    }
    if version > SCHEMA_VERSION {
        return Err(not_db(
            path,
            format!(
                "schema version {version} is newer than this build supports (up to {SCHEMA_VERSION})"
            ),
        ));
    }
    Ok(())
}

/// Open (creating if needed) the writer's connection, check it, and migrate it.
pub fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    // Failing to open at all (missing directory, permissions) is not a verdict on the file.
    let mut conn = Connection::open(path).map_err(|e| sql(path, "cannot open or create", e))?;
    let (app, version, tables) = identify(&conn, path)?;
    check_identity(path, app, version, tables)?;
    if tables == 0 {
        // auto_vacuum must be chosen before the first table exists; INCREMENTAL lets the size
        // cap hand freed pages back to the file system without a full VACUUM.
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
            .map_err(|e| sql(path, "setting auto_vacuum", e))?;
    }
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(|e| sql(path, "setting WAL", e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Sqlite(format!(
            "{}: journal_mode is {mode}; WAL is required (is the file on a network share?)",
            path.display()
        )));
    }
    // WAL + NORMAL stays consistent after a crash; a power cut may lose the last commits.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(|e| sql(path, "setting synchronous", e))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| sql(path, "setting busy_timeout", e))?;
    conn.set_prepared_statement_cache_capacity(64);
    migrate(&mut conn, path, version)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, path: &Path, from: i64) -> Result<(), StoreError> {
    for (i, step) in MIGRATIONS.iter().enumerate().skip(from.max(0) as usize) {
        let tx = conn
            .transaction()
            .map_err(|e| sql(path, "starting migration", e))?;
        tx.execute_batch(step)
            .map_err(|e| sql(path, &format!("migration to version {}", i + 1), e))?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(|e| sql(path, "setting user_version", e))?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(|e| sql(path, "setting application_id", e))?;
        tx.commit()
            .map_err(|e| sql(path, &format!("committing migration {}", i + 1), e))?;
    }
    Ok(())
}

/// Open a read-only connection to an existing store.
pub fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    if !path.exists() {
        return Err(not_db(path, "file does not exist"));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| not_db(path, format!("cannot open: {e}")))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| sql(path, "setting busy_timeout", e))?;
    let (app, version, tables) = identify(&conn, path)?;
    if app != APPLICATION_ID || tables == 0 {
        return Err(not_db(
            path,
            format!("no nocscope schema (application_id {app:#x}, {tables} tables)"),
        ));
    }
    if version != SCHEMA_VERSION {
        return Err(not_db(
            path,
            format!("schema version {version}; this build reads version {SCHEMA_VERSION}"),
        ));
    }
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}
