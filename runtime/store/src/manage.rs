//! Looking after the cache: listing entries, collecting the least recently
//! used down to a size, clearing, and verifying every stored value.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::{Digest, ResultStore, StoreError, hex};

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
    /// When it was stored (ms since the Unix epoch).
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

impl ResultStore {
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
            tx.execute("DELETE FROM node_logs WHERE run NOT IN (SELECT id FROM runs)", [])?;
            for table in ["run_plans", "run_params", "run_nodes", "run_invocations"] {
                tx.execute(&format!("DELETE FROM {table} WHERE run NOT IN (SELECT id FROM runs)"), [])?;
            }
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
                db.execute_batch("DELETE FROM node_logs; DELETE FROM node_runs; DELETE FROM run_plans; DELETE FROM run_params;
                     DELETE FROM run_nodes; DELETE FROM run_invocations; DELETE FROM runs;")?;
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
