//! The result cache and run history: one SQLite database (write-ahead log,
//! so several processes may share it) and a folder of value files, under
//! `<cache dir>/results`.
//!
//! - **Entries** map a node's key (see [`key`]) to its output: small values
//!   inside the row, larger ones in `objects/ab/abcd…`, a file named by the
//!   SHA-256 of its bytes. A file is written to a temporary name, synced and
//!   renamed before the row that names it is committed, so a process killed
//!   at any moment leaves either no entry or a whole one; a file that is
//!   damaged later (truncated, edited) fails its checksum and the node is
//!   computed again.
//! - **Files** remember the size, modification time and hash of every file
//!   a node read, so checking that an input file is unchanged costs a `stat`.
//! - **Runs** and **node runs** are the history `weavelet runs` shows.

pub(crate) mod codec;
pub mod key;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, params};

pub use key::{Digest, hex};

/// The layout of the database this version writes.
const SCHEMA_VERSION: i64 = 1;

/// Files modified this recently are hashed again every time: a write within
/// the file system's timestamp granularity could otherwise go unnoticed.
const RECENT: Duration = Duration::from_secs(3);

/// Files in folders a node reads through WASI that are fingerprinted at most;
/// past this the node is not cached.
pub(crate) const MAX_TREE_FILES: usize = 10_000;

/// Problems with the store itself (not with a node).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(String);

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(format!("the cache database: {e}"))
    }
}

fn io(what: impl std::fmt::Display, e: std::io::Error) -> StoreError {
    StoreError(format!("{what}: {e}"))
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Something a node read, and its fingerprint when the result was stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct FileDep {
    /// `file`, `dir` (its listing) or `tree` (every file under it).
    pub kind: String,
    pub path: String,
    pub hash: String,
}

/// What a key was made of, kept with the entry so a later miss can say what changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Parts {
    pub code: String,
    pub policy: String,
    /// Input name and the identity of its value.
    pub inputs: Vec<(String, String)>,
}

/// One stored result, as looked up.
#[derive(Debug)]
pub(crate) struct Entry {
    pub output: Digest,
    inline: Option<Vec<u8>>,
    object: Option<String>,
    size: u64,
    checksum: Digest,
    pub files: Vec<FileDep>,
    pub run: Option<i64>,
}

/// One node's line in the run history.
#[derive(Debug, Clone, Default)]
pub struct NodeRecord {
    /// The node.
    pub node: String,
    /// `ran`, `cached`, `failed`, `skipped` or `overridden`.
    pub status: String,
    /// When it started (ms since the Unix epoch).
    pub started_ms: i64,
    /// How long it took (for a cached node: looking it up and loading it).
    pub duration: Duration,
    /// Attempts made (0 for a cached or skipped node).
    pub attempts: u32,
    /// Bytes of its inputs, where known.
    pub bytes_in: u64,
    /// Bytes of its output, where known.
    pub bytes_out: u64,
    /// The most memory it held.
    pub peak_memory: u64,
    /// Instructions it executed, when fuel was counted.
    pub fuel: Option<u64>,
    /// Why it failed, or why it was skipped.
    pub error: Option<String>,
    /// Why it ran instead of coming from the cache (or why it was not stored).
    pub reason: Option<String>,
}

/// One run in the history.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// Its number.
    pub id: i64,
    /// The pipeline (its manifest or script).
    pub pipeline: String,
    /// The command line.
    pub command: String,
    /// When it started (ms since the Unix epoch).
    pub started_ms: i64,
    /// When it ended, if it did.
    pub finished_ms: Option<i64>,
    /// `running`, `ok`, `failed`, or `interrupted` (its process is gone).
    pub status: String,
    /// Nodes that ran, came from the cache, and failed.
    pub counts: [u64; 3],
}

/// One result in the cache, as `weavelet cache ls` shows it.
#[derive(Debug, Clone)]
pub struct EntryInfo {
    /// The key, in hex.
    pub key: String,
    /// The node that produced it.
    pub node: String,
    /// The pipeline it ran in.
    pub pipeline: String,
    /// Its value type.
    pub kind: String,
    /// Bytes stored.
    pub size: u64,
    /// When it was stored and last used (ms since the Unix epoch).
    pub created_ms: i64,
    /// When it was last used.
    pub used_ms: i64,
}

/// What garbage collection removed.
#[derive(Debug, Clone, Default)]
pub struct GcReport {
    /// Entries removed.
    pub entries: u64,
    /// Value files removed (including files no entry named).
    pub files: u64,
    /// Bytes freed.
    pub bytes: u64,
    /// Bytes the cache holds now.
    pub remaining: u64,
    /// Runs dropped from the history.
    pub runs: u64,
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

impl Entry {
    /// Bytes stored.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }
}

impl ResultStore {
    /// Open (creating if needed) the store in `<cache_dir>/results`.
    pub fn open(cache_dir: &Path) -> Result<ResultStore, StoreError> {
        let dir = cache_dir.join("results");
        std::fs::create_dir_all(dir.join("objects"))
            .map_err(|e| io(format!("creating the result cache in {}", dir.display()), e))?;
        let path = dir.join("index.sqlite");
        let db = Connection::open(&path)
            .map_err(|e| StoreError(format!("opening the result cache {}: {e}", path.display())))?;
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
                 error TEXT, reason TEXT);
             CREATE INDEX IF NOT EXISTS node_runs_by_run ON node_runs (run);
             CREATE TABLE IF NOT EXISTS outputs (path TEXT PRIMARY KEY, output BLOB NOT NULL, hash BLOB NOT NULL);",
        )?;
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
                return Err(StoreError(format!(
                    "the result cache in {} was written by another Weavelet version (layout {v}, this one reads {SCHEMA_VERSION}); \
                     run `weavelet cache clear --cache-dir {}` or use another --cache-dir",
                    dir.display(),
                    cache_dir.display()
                )));
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

    // ---- entries -------------------------------------------------------

    /// The entry stored under `key`, if any.
    pub(crate) fn lookup(&self, key: &Digest) -> Result<Option<Entry>, StoreError> {
        let db = self.db.lock();
        let row = db
            .query_row(
                "SELECT output, inline, object, size, checksum, files, run FROM entries WHERE key = ?1",
                [&key[..]],
                |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, Option<Vec<u8>>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, Vec<u8>>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, Option<i64>>(6)?,
                    ))
                },
            )
            .optional()?;
        let Some((output, inline, object, size, checksum, files, run)) = row else { return Ok(None) };
        let digest = |v: Vec<u8>| -> Option<Digest> { v.try_into().ok() };
        let (Some(output), Some(checksum)) = (digest(output), digest(checksum)) else {
            return Ok(None);
        };
        let files: Vec<FileDep> = serde_json::from_str(&files).unwrap_or_default();
        Ok(Some(Entry { output, inline, object, size: size.max(0) as u64, checksum, files, run }))
    }

    /// Whether `entry`'s value file is there with the size stored (a cheap
    /// check; [`ResultStore::load`] checks the checksum too).
    pub(crate) fn present(&self, entry: &Entry) -> Result<(), String> {
        let Some(name) = &entry.object else { return Ok(()) };
        let path = self.object_path(name);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.len() == entry.size => Ok(()),
            Ok(meta) => {
                Err(format!("{} holds {} bytes, {} were stored", path.display(), meta.len(), entry.size))
            }
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// The value of `entry`, checked against its checksum.
    pub(crate) fn load(&self, entry: &Entry) -> Result<crate::Value, String> {
        let bytes = match (&entry.inline, &entry.object) {
            (Some(bytes), _) => bytes.clone(),
            (None, Some(name)) => {
                let path = self.object_path(name);
                let meta = std::fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                if meta.len() != entry.size {
                    return Err(format!(
                        "{} holds {} bytes, {} were stored",
                        path.display(),
                        meta.len(),
                        entry.size
                    ));
                }
                std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?
            }
            (None, None) => return Err("the entry names no value".into()),
        };
        if key::sha256(&bytes) != entry.checksum {
            return Err("its bytes do not match their checksum".into());
        }
        codec::decode(&bytes)
    }

    /// Store `value` as the result of `key`. The value file (if any) is on
    /// disk, synced, before the entry naming it is committed.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn put(
        &self,
        key: &Digest,
        output: &Digest,
        bytes: &[u8],
        kind: &str,
        files: &[FileDep],
        parts: &Parts,
        node: &str,
        pipeline: &str,
        run: Option<i64>,
    ) -> Result<(), StoreError> {
        let checksum = key::sha256(bytes);
        let (inline, object) = if bytes.len() <= codec::INLINE_MAX {
            (Some(bytes), None)
        } else {
            let name = hex(&checksum);
            self.write_object(&name, bytes)?;
            (None, Some(name))
        };
        let files = serde_json::to_string(files).unwrap_or_else(|_| "[]".into());
        let parts = serde_json::to_string(parts).unwrap_or_else(|_| "{}".into());
        let now = now_ms();
        self.db.lock().execute(
            "INSERT OR REPLACE INTO entries
                 (key, output, kind, inline, object, size, checksum, files, parts, node, pipeline, created, used, run)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13)",
            params![
                &key[..],
                &output[..],
                kind,
                inline,
                object,
                bytes.len() as i64,
                &checksum[..],
                files,
                parts,
                node,
                pipeline,
                now,
                run
            ],
        )?;
        Ok(())
    }

    fn write_object(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.object_path(name);
        // The file is named by its content: an intact copy need not be written again.
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64)
            && key::hash_file(&path).is_ok_and(|h| hex(&h) == name)
        {
            return Ok(());
        }
        let Some(folder) = path.parent() else { return Err(StoreError("a value file has no folder".into())) };
        std::fs::create_dir_all(folder).map_err(|e| io(format!("creating {}", folder.display()), e))?;
        let tmp = self.dir.join("objects").join(format!(
            "tmp-{}-{}-{name}",
            std::process::id(),
            SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
        ));
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            // The rename itself survives a crash once the folder is synced.
            std::fs::File::open(folder)?.sync_all()
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(format!("writing {}", path.display()), e)
        })
    }

    /// Forget the entry under `key` (its value turned out damaged).
    pub(crate) fn remove(&self, key: &Digest) -> Result<(), StoreError> {
        self.db.lock().execute("DELETE FROM entries WHERE key = ?1", [&key[..]])?;
        Ok(())
    }

    /// Mark entries as used now (for least-recently-used collection).
    pub(crate) fn touch(&self, keys: &[Digest]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut db = self.db.lock();
        let tx = db.transaction()?;
        {
            let mut stmt = tx.prepare_cached("UPDATE entries SET used = ?1 WHERE key = ?2")?;
            let now = now_ms();
            for k in keys {
                stmt.execute(params![now, &k[..]])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The parts of the latest entry of `node` in `pipeline`, to explain a miss.
    pub(crate) fn latest_parts(&self, pipeline: &str, node: &str) -> Option<(Parts, Vec<FileDep>)> {
        let db = self.db.lock();
        db.query_row(
            "SELECT parts, files FROM entries WHERE pipeline = ?1 AND node = ?2 ORDER BY created DESC LIMIT 1",
            params![pipeline, node],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
        )
        .ok()
        .and_then(|(p, f)| Some((serde_json::from_str(&p).ok()?, serde_json::from_str(&f).unwrap_or_default())))
    }

    // ---- file fingerprints ---------------------------------------------

    /// The fingerprint of a dependency as it is now (`None`: it is gone or unreadable).
    pub(crate) fn fingerprint(&self, kind: &str, path: &Path) -> Option<String> {
        match kind {
            "file" => self.file_hash(path).map(|d| hex(&d)),
            "dir" => dir_listing(path).map(|d| hex(&d)),
            "tree" => self.tree_hash(path).map(|d| hex(&d)),
            _ => None,
        }
    }

    /// The SHA-256 of a file's content, from the remembered one when its
    /// size, modification time and inode are unchanged.
    pub(crate) fn file_hash(&self, path: &Path) -> Option<Digest> {
        let meta = std::fs::metadata(path).ok()?;
        let mtime = meta.modified().ok()?;
        let mtime_ns = mtime.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64);
        let inode = inode(&meta);
        let size = meta.len() as i64;
        let path_text = path.to_string_lossy();
        let remembered: Option<Vec<u8>> = self
            .db
            .lock()
            .query_row(
                "SELECT hash FROM files WHERE path = ?1 AND size = ?2 AND mtime = ?3 AND inode = ?4",
                params![path_text, size, mtime_ns, inode],
                |r| r.get(0),
            )
            .ok();
        if let Some(hash) = remembered.and_then(|h| Digest::try_from(h).ok()) {
            return Some(hash);
        }
        let hash = key::hash_file(path).ok()?;
        let settled = SystemTime::now().duration_since(mtime).is_ok_and(|age| age > RECENT);
        if settled {
            let _ = self.db.lock().execute(
                "INSERT OR REPLACE INTO files (path, size, mtime, inode, hash) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![path_text, size, mtime_ns, inode, &hash[..]],
            );
        }
        Some(hash)
    }

    /// Every file under `dir` (names and contents), for a node that may read
    /// any of them through WASI.
    fn tree_hash(&self, dir: &Path) -> Option<Digest> {
        let mut files = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).ok()? {
                let entry = entry.ok()?;
                let kind = entry.file_type().ok()?;
                if kind.is_dir() {
                    stack.push(entry.path());
                } else {
                    files.push(entry.path());
                }
                if files.len() + stack.len() > MAX_TREE_FILES {
                    return None;
                }
            }
        }
        files.sort();
        let mut h = key::KeyHasher::new("tree");
        for f in &files {
            h.field("name", f.strip_prefix(dir).unwrap_or(f).to_string_lossy().as_bytes());
            h.field("content", &self.file_hash(f)?);
        }
        Some(h.finish())
    }

    // ---- output files ---------------------------------------------------

    /// Whether the file at `path` holds what was written there from the value
    /// with identity `output`, unchanged since (then it need not be written again).
    pub fn output_is_current(&self, path: &Path, output: &Digest) -> bool {
        let stored: Option<(Vec<u8>, Vec<u8>)> = self
            .db
            .lock()
            .query_row("SELECT output, hash FROM outputs WHERE path = ?1", [path.to_string_lossy()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .ok();
        let Some((id, hash)) = stored else { return false };
        id == output[..] && self.file_hash(path).is_some_and(|h| h[..] == hash[..])
    }

    /// Note that `path` was just written from the value with identity `output`.
    pub fn output_written(&self, path: &Path, output: &Digest) {
        if let Some(hash) = self.file_hash(path) {
            let _ = self.db.lock().execute(
                "INSERT OR REPLACE INTO outputs (path, output, hash) VALUES (?1, ?2, ?3)",
                params![path.to_string_lossy(), &output[..], &hash[..]],
            );
        }
    }

    // ---- history -------------------------------------------------------

    /// Record the start of a run; returns its number.
    pub fn begin_run(&self, pipeline: &str, command: &str) -> Result<i64, StoreError> {
        let db = self.db.lock();
        db.execute(
            "INSERT INTO runs (pipeline, command, started, status, pid) VALUES (?1, ?2, ?3, 'running', ?4)",
            params![pipeline, command, now_ms(), std::process::id()],
        )?;
        Ok(db.last_insert_rowid())
    }

    /// Record how a run ended.
    pub fn end_run(&self, run: i64, ok: bool) -> Result<(), StoreError> {
        self.db.lock().execute(
            "UPDATE runs SET finished = ?1, status = ?2 WHERE id = ?3",
            params![now_ms(), if ok { "ok" } else { "failed" }, run],
        )?;
        Ok(())
    }

    /// Record what happened to nodes of a run.
    pub fn record(&self, run: i64, nodes: &[NodeRecord]) -> Result<(), StoreError> {
        if nodes.is_empty() {
            return Ok(());
        }
        let mut db = self.db.lock();
        let tx = db.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO node_runs (run, node, status, started, duration_us, attempts, bytes_in, bytes_out,
                                        peak_memory, fuel, error, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            for n in nodes {
                stmt.execute(params![
                    run,
                    n.node,
                    n.status,
                    n.started_ms,
                    n.duration.as_micros() as i64,
                    n.attempts,
                    n.bytes_in as i64,
                    n.bytes_out as i64,
                    n.peak_memory as i64,
                    n.fuel.map(|f| f as i64),
                    n.error,
                    n.reason
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The latest `limit` runs, newest first.
    pub fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        let db = self.db.lock();
        let mut stmt = db.prepare(
            "SELECT r.id, r.pipeline, r.command, r.started, r.finished, r.status, r.pid,
                    (SELECT COUNT(*) FROM node_runs n WHERE n.run = r.id AND n.status = 'ran'),
                    (SELECT COUNT(*) FROM node_runs n WHERE n.run = r.id AND n.status = 'cached'),
                    (SELECT COUNT(*) FROM node_runs n WHERE n.run = r.id AND n.status = 'failed')
             FROM runs r ORDER BY r.id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], run_record)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// One run and its nodes, in the order they ended.
    pub fn run(&self, id: i64) -> Result<Option<(RunRecord, Vec<NodeRecord>)>, StoreError> {
        let db = self.db.lock();
        let run = db
            .query_row(
                "SELECT r.id, r.pipeline, r.command, r.started, r.finished, r.status, r.pid,
                        (SELECT COUNT(*) FROM node_runs n WHERE n.run = r.id AND n.status = 'ran'),
                        (SELECT COUNT(*) FROM node_runs n WHERE n.run = r.id AND n.status = 'cached'),
                        (SELECT COUNT(*) FROM node_runs n WHERE n.run = r.id AND n.status = 'failed')
                 FROM runs r WHERE r.id = ?1",
                [id],
                run_record,
            )
            .optional()?;
        let Some(run) = run else { return Ok(None) };
        let mut stmt = db.prepare(
            "SELECT node, status, started, duration_us, attempts, bytes_in, bytes_out, peak_memory, fuel, error, reason
             FROM node_runs WHERE run = ?1 ORDER BY rowid",
        )?;
        let nodes = stmt
            .query_map([id], |r| {
                Ok(NodeRecord {
                    node: r.get(0)?,
                    status: r.get(1)?,
                    started_ms: r.get(2)?,
                    duration: Duration::from_micros(r.get::<_, i64>(3)?.max(0) as u64),
                    attempts: r.get(4)?,
                    bytes_in: r.get::<_, i64>(5)?.max(0) as u64,
                    bytes_out: r.get::<_, i64>(6)?.max(0) as u64,
                    peak_memory: r.get::<_, i64>(7)?.max(0) as u64,
                    fuel: r.get::<_, Option<i64>>(8)?.map(|f| f.max(0) as u64),
                    error: r.get(9)?,
                    reason: r.get(10)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some((run, nodes)))
    }

    // ---- management ----------------------------------------------------

    /// Every entry, most recently used first.
    pub fn entries(&self) -> Result<Vec<EntryInfo>, StoreError> {
        let db = self.db.lock();
        let mut stmt = db.prepare(
            "SELECT key, node, pipeline, kind, size, created, used FROM entries ORDER BY used DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            let key: Vec<u8> = r.get(0)?;
            Ok(EntryInfo {
                key: key.iter().map(|b| format!("{b:02x}")).collect(),
                node: r.get(1)?,
                pipeline: r.get(2)?,
                kind: r.get(3)?,
                size: r.get::<_, i64>(4)?.max(0) as u64,
                created_ms: r.get(5)?,
                used_ms: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Remove least recently used entries until the cache holds at most
    /// `max_size` bytes, then value files no entry names (and temporary
    /// files a killed process left), once they are old enough that no
    /// running process is about to name them. The history keeps the latest
    /// `keep_runs` runs.
    pub fn gc(&self, max_size: u64, keep_runs: u64) -> Result<GcReport, StoreError> {
        let mut report = GcReport::default();
        {
            let mut db = self.db.lock();
            let tx = db.transaction()?;
            let keep = i64::try_from(keep_runs).unwrap_or(i64::MAX);
            report.runs = tx.execute(
                "DELETE FROM runs WHERE id NOT IN (SELECT id FROM runs ORDER BY id DESC LIMIT ?1)",
                [keep],
            )? as u64;
            tx.execute("DELETE FROM node_runs WHERE run NOT IN (SELECT id FROM runs)", [])?;
            // Fingerprints of files that are gone help nobody.
            let gone: Vec<String> = {
                let mut stmt = tx.prepare("SELECT path FROM files")?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
                rows.collect::<Result<Vec<_>, _>>()?.into_iter().filter(|p| !Path::new(p).exists()).collect()
            };
            for path in gone {
                tx.execute("DELETE FROM files WHERE path = ?1", [path])?;
            }
            let total: i64 = tx.query_row("SELECT COALESCE(SUM(size), 0) FROM entries", [], |r| r.get(0))?;
            let mut total = total.max(0) as u64;
            if total > max_size {
                let victims: Vec<(Vec<u8>, i64)> = {
                    let mut stmt = tx.prepare("SELECT key, size FROM entries ORDER BY used ASC")?;
                    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                    rows.collect::<Result<Vec<_>, _>>()?
                };
                for (key, size) in victims {
                    if total <= max_size {
                        break;
                    }
                    tx.execute("DELETE FROM entries WHERE key = ?1", [&key])?;
                    total = total.saturating_sub(size.max(0) as u64);
                    report.entries += 1;
                    report.bytes += size.max(0) as u64;
                }
            }
            tx.commit()?;
            report.remaining = total;
        }
        let (files, _) = self.sweep(Duration::from_secs(600))?;
        report.files = files;
        Ok(report)
    }

    /// Delete value files no entry names, and temporary files, older than `age`.
    fn sweep(&self, age: Duration) -> Result<(u64, u64), StoreError> {
        let named: rustc_hash::FxHashSet<String> = {
            let db = self.db.lock();
            let mut stmt = db.prepare("SELECT object FROM entries WHERE object IS NOT NULL")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let (mut files, mut bytes) = (0u64, 0u64);
        let objects = self.dir.join("objects");
        let Ok(folders) = std::fs::read_dir(&objects) else { return Ok((0, 0)) };
        let old = |p: &Path| {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .is_ok_and(|t| SystemTime::now().duration_since(t).is_ok_and(|a| a >= age))
        };
        for folder in folders.flatten() {
            let path = folder.path();
            if path.is_file() {
                // A temporary file a killed writer left behind.
                if old(&path) {
                    bytes += std::fs::metadata(&path).map_or(0, |m| m.len());
                    if std::fs::remove_file(&path).is_ok() {
                        files += 1;
                    }
                }
                continue;
            }
            for file in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                let name = file.file_name().to_string_lossy().into_owned();
                if !named.contains(&name) && old(&file.path()) {
                    bytes += file.metadata().map_or(0, |m| m.len());
                    if std::fs::remove_file(file.path()).is_ok() {
                        files += 1;
                    }
                }
            }
        }
        Ok((files, bytes))
    }

    /// Remove every entry and value file (the run history stays unless `history`).
    pub fn clear(&self, history: bool) -> Result<GcReport, StoreError> {
        let mut report = GcReport::default();
        {
            let db = self.db.lock();
            let (n, size): (i64, i64) =
                db.query_row("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM entries", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            report.entries = n.max(0) as u64;
            report.bytes = size.max(0) as u64;
            db.execute_batch("DELETE FROM entries; DELETE FROM files; DELETE FROM outputs;")?;
            if history {
                db.execute_batch("DELETE FROM node_runs; DELETE FROM runs;")?;
            }
        }
        let (files, _) = self.sweep(Duration::ZERO)?;
        report.files = files;
        // Give the freed pages back to the file system.
        self.db.lock().execute_batch("VACUUM")?;
        Ok(report)
    }

    /// Check the database and every stored value; returns the problems found
    /// (damaged entries are removed, so they are computed again).
    pub fn verify(&self) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        let integrity: String = self.db.lock().query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if integrity != "ok" {
            problems.push(format!("database: {integrity}"));
        }
        let keys: Vec<(Vec<u8>, String)> = {
            let db = self.db.lock();
            let mut stmt = db.prepare("SELECT key, node FROM entries")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (key, node) in keys {
            let Ok(key) = Digest::try_from(key) else { continue };
            let Some(entry) = self.lookup(&key)? else { continue };
            if let Err(why) = self.load(&entry) {
                problems.push(format!("the result of `{node}` ({}…): {why}; removed", &hex(&key)[..12]));
                self.remove(&key)?;
            }
        }
        Ok(problems)
    }
}

fn run_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRecord> {
    let mut status: String = r.get(5)?;
    let pid: i64 = r.get(6)?;
    if status == "running" && !process_alive(pid) {
        status = "interrupted".into();
    }
    Ok(RunRecord {
        id: r.get(0)?,
        pipeline: r.get(1)?,
        command: r.get(2)?,
        started_ms: r.get(3)?,
        finished_ms: r.get(4)?,
        status,
        counts: [r.get::<_, i64>(7)? as u64, r.get::<_, i64>(8)? as u64, r.get::<_, i64>(9)? as u64],
    })
}

/// Whether process `pid` still exists (on Linux; elsewhere assumed so).
fn process_alive(pid: i64) -> bool {
    if pid == i64::from(std::process::id()) {
        return true;
    }
    let proc = Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> i64 {
    std::os::unix::fs::MetadataExt::ino(meta) as i64
}

#[cfg(not(unix))]
fn inode(_meta: &std::fs::Metadata) -> i64 {
    0
}

/// The sorted names (and kinds) of a folder's entries.
fn dir_listing(path: &Path) -> Option<Digest> {
    let mut names: Vec<(String, bool)> = std::fs::read_dir(path)
        .ok()?
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.file_type().is_ok_and(|t| t.is_dir())))
        .collect();
    names.sort();
    let mut h = key::KeyHasher::new("dir");
    for (name, is_dir) in &names {
        h.field(if *is_dir { "d" } else { "f" }, name.as_bytes());
    }
    Some(h.finish())
}
