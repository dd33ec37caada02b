//! Weavelet's result cache and run history: one SQLite database
//! (write-ahead log, so several processes may share it) and a folder of
//! value files, under `<cache dir>/results`. [`ResultStore`] implements
//! `weavelet_core::ResultCache`, which is all the scheduler sees of it.
//!
//! - **Entries** (`entries`) map a node's key to its output: small values
//!   inside the row, larger ones in `objects/ab/abcd…`, a file named by the
//!   SHA-256 of its bytes. A file is written to a temporary name, synced and
//!   renamed before the row that names it is committed, so a process killed
//!   at any moment leaves either no entry or a whole one; a file that is
//!   damaged later (truncated, edited) fails its checksum and the node is
//!   computed again.
//! - **Files** (`files`) remember the size, modification time and hash of
//!   every file a node read, so checking that an input file is unchanged
//!   costs a `stat`; output files written from a value are remembered too.
//! - **Runs** and **node runs** (`history`) are the history `weavelet runs`
//!   shows; `manage` lists, collects, clears and verifies.
//!
//! ```
//! use weavelet_store::ResultStore;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = ResultStore::open(dir.path()).unwrap();
//! let run = store.begin_run("pipeline.toml", "an example").unwrap();
//! store.end_run(run, true).unwrap();
//! assert_eq!(store.runs(10).unwrap()[0].status, "ok");
//! ```

mod cache;
mod entries;
mod files;
mod history;
mod manage;

use std::path::{Path, PathBuf};
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension};
use weavelet_core::{Diagnostic, Error, Fix};

pub use history::RunRecord;
pub use manage::{EntryInfo, GcReport};
pub use weavelet_core::NodeRecord;
pub use weavelet_core::key::{Digest, hex};

/// The layout of the database this version writes.
const SCHEMA_VERSION: i64 = 1;

/// Problems with the store itself (not with a node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(Diagnostic);

impl StoreError {
    fn new(message: impl Into<String>) -> StoreError {
        StoreError(Diagnostic::new(message))
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::new(format!("the cache database: {e}"))
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Store(e.0)
    }
}

fn io(what: impl std::fmt::Display, e: std::io::Error) -> StoreError {
    StoreError::new(format!("{what}: {e}"))
}

/// The result cache and run history under one folder.
pub struct ResultStore {
    dir: PathBuf,
    db: Mutex<Connection>,
}

impl std::fmt::Debug for ResultStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultStore").field("dir", &self.dir).finish()
    }
}

impl ResultStore {
    /// Open (creating if needed) the store in `<cache_dir>/results`.
    ///
    /// Processes opening a new store at the same moment race to switch it
    /// to WAL and create its tables; SQLite answers the loser "database is
    /// locked" at once (the busy timeout does not cover a journal-mode
    /// change), so that is tried again for up to 10 s rather than running
    /// without the cache and the history.
    pub fn open(cache_dir: &Path) -> Result<ResultStore, StoreError> {
        let until = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match ResultStore::open_once(cache_dir) {
                Err(e) if e.to_string().contains("locked") && std::time::Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                opened => return opened,
            }
        }
    }

    fn open_once(cache_dir: &Path) -> Result<ResultStore, StoreError> {
        let dir = cache_dir.join("results");
        std::fs::create_dir_all(dir.join("objects"))
            .map_err(|e| io(format!("creating the result cache in {}", dir.display()), e))?;
        let path = dir.join("index.sqlite");
        let db = Connection::open(&path)
            .map_err(|e| StoreError::new(format!("opening the result cache {}: {e}", path.display())))?;
        db.busy_timeout(Duration::from_secs(60))?;
        // WAL: readers never block the writer; NORMAL sync: a commit survives
        // a killed process (only an OS crash may lose the last ones, never
        // corrupt the database).
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "NORMAL")?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS entries (
                 key BLOB PRIMARY KEY, output BLOB NOT NULL, kind TEXT NOT NULL,
                 inline BLOB, object TEXT, size INTEGER NOT NULL, checksum BLOB NOT NULL,
                 files TEXT NOT NULL, parts TEXT NOT NULL, node TEXT NOT NULL, pipeline TEXT NOT NULL,
                 created INTEGER NOT NULL, used INTEGER NOT NULL, run INTEGER);
             CREATE INDEX IF NOT EXISTS entries_by_node ON entries (pipeline, node, created);
             CREATE INDEX IF NOT EXISTS entries_by_use ON entries (used);
             CREATE TABLE IF NOT EXISTS files (
                 path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime INTEGER NOT NULL,
                 inode INTEGER NOT NULL, hash BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS runs (
                 id INTEGER PRIMARY KEY AUTOINCREMENT, pipeline TEXT NOT NULL, command TEXT NOT NULL,
                 started INTEGER NOT NULL, finished INTEGER, status TEXT NOT NULL, pid INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS node_runs (
                 run INTEGER NOT NULL, node TEXT NOT NULL, status TEXT NOT NULL, started INTEGER NOT NULL,
                 duration_us INTEGER NOT NULL, attempts INTEGER NOT NULL, bytes_in INTEGER NOT NULL,
                 bytes_out INTEGER NOT NULL, peak_memory INTEGER NOT NULL, fuel INTEGER,
                 error TEXT, reason TEXT, isolation TEXT, output TEXT);
             CREATE INDEX IF NOT EXISTS node_runs_by_run ON node_runs (run);
             CREATE TABLE IF NOT EXISTS node_logs (
                 run INTEGER NOT NULL, node TEXT NOT NULL, at INTEGER NOT NULL, level TEXT NOT NULL,
                 message TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS node_logs_by_run ON node_logs (run, node);
             CREATE TABLE IF NOT EXISTS outputs (path TEXT PRIMARY KEY, output BLOB NOT NULL, hash BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS run_plans (run INTEGER PRIMARY KEY, digest TEXT, targets TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS run_params (
                 run INTEGER NOT NULL, name TEXT NOT NULL, value BLOB, text TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS run_params_by_run ON run_params (run);
             CREATE TABLE IF NOT EXISTS run_nodes (
                 run INTEGER NOT NULL, node TEXT NOT NULL, source TEXT NOT NULL, code TEXT, code_error TEXT,
                 policy TEXT NOT NULL, policy_text TEXT NOT NULL, inputs TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS run_nodes_by_run ON run_nodes (run);
             CREATE TABLE IF NOT EXISTS run_invocations (run INTEGER PRIMARY KEY, cwd TEXT NOT NULL, argv TEXT NOT NULL);",
        )?;
        // Histories written before nodes' isolation and output identities were recorded gain the columns.
        for column in ["isolation", "output"] {
            let has: bool = db
                .query_row(
                    "SELECT COUNT(*) FROM pragma_table_info('node_runs') WHERE name = ?1",
                    [column],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n > 0)?;
            // Another process opening the same old history may have added it a moment ago.
            if !has
                && let Err(e) = db.execute_batch(&format!("ALTER TABLE node_runs ADD COLUMN {column} TEXT"))
                && !e.to_string().contains("duplicate column")
            {
                return Err(e.into());
            }
        }
        let version: Option<i64> =
            db.query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| r.get(0)).optional()?;
        match version {
            None => {
                db.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?1)",
                    [SCHEMA_VERSION],
                )?;
            }
            Some(v) if v == SCHEMA_VERSION => {}
            Some(v) => {
                return Err(StoreError(
                    Diagnostic::new(format!(
                        "the result cache in {} was written by another Weavelet version (layout {v}, this one reads {SCHEMA_VERSION})",
                        dir.display()
                    ))
                    .with_help("clear the cache or use another cache folder")
                    .with_fix(Fix::ClearCache { dir: cache_dir.to_path_buf() }),
                ));
            }
        }
        Ok(ResultStore { dir, db: Mutex::new(db) })
    }

    /// The folder the store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn object_path(&self, name: &str) -> PathBuf {
        self.dir.join("objects").join(name.get(..2).unwrap_or("00")).join(name)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use weavelet_core::NodeRecord;

    #[test]
    fn many_processes_opening_a_new_store_at_once_all_open_it() {
        // Each thread has its own connection, as each `weavelet` process does.
        for _ in 0..5 {
            let cache = tempfile::tempdir().unwrap();
            let opened: Vec<Result<ResultStore, StoreError>> = std::thread::scope(|scope| {
                let handles: Vec<_> =
                    (0..8).map(|_| scope.spawn(|| ResultStore::open(cache.path()))).collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            for store in opened {
                store.unwrap();
            }
        }
    }

    #[test]
    fn a_history_written_before_isolation_was_recorded_is_read_and_extended() {
        let cache = tempfile::tempdir().unwrap();
        let store = ResultStore::open(cache.path()).unwrap();
        let folder = store.dir().to_path_buf();
        drop(store);
        // The layout of earlier versions: node_runs without `isolation`, one run in it.
        let db = Connection::open(folder.join("index.sqlite")).unwrap();
        db.execute_batch(
            "DROP TABLE node_runs;
             CREATE TABLE node_runs (
                 run INTEGER NOT NULL, node TEXT NOT NULL, status TEXT NOT NULL, started INTEGER NOT NULL,
                 duration_us INTEGER NOT NULL, attempts INTEGER NOT NULL, bytes_in INTEGER NOT NULL,
                 bytes_out INTEGER NOT NULL, peak_memory INTEGER NOT NULL, fuel INTEGER,
                 error TEXT, reason TEXT);
             INSERT INTO runs (pipeline, command, started, status, pid) VALUES ('p', 'weavelet run', 1, 'ok', 1);
             INSERT INTO node_runs VALUES (1, 'old', 'ran', 1, 5, 1, 0, 0, 0, NULL, NULL, NULL);",
        )
        .unwrap();
        drop(db);
        let store = ResultStore::open(cache.path()).unwrap();
        let record = NodeRecord {
            node: "new".into(),
            status: "ran".into(),
            isolation: Some("process".into()),
            ..NodeRecord::default()
        };
        store.record(1, &[record]).unwrap();
        let (_, nodes) = store.run(1).unwrap().unwrap();
        let seen: Vec<(&str, Option<&str>)> =
            nodes.iter().map(|n| (n.node.as_str(), n.isolation.as_deref())).collect();
        assert_eq!(seen, [("old", None), ("new", Some("process"))]);
    }
}
