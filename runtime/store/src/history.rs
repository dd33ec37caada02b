//! The run history: one row per run, one per node of a run, written as the
//! node ends so a killed run keeps what it finished.

use std::path::Path;
use std::time::Duration;

use rusqlite::{OptionalExtension, params};
use weavelet_core::cache::now_ms;
use weavelet_core::{LogLevel, LogLine, NodeRecord};

use crate::{ResultStore, StoreError};

/// One run in the history.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// Its number.
    pub id: i64,
    /// The pipeline (its manifest or script).
    pub pipeline: String,
    /// What started it (a command line).
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

impl ResultStore {
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
                                        peak_memory, fuel, error, reason, isolation)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
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
                    n.reason,
                    n.isolation
                ])?;
            }
            let mut stmt = tx.prepare_cached(
                "INSERT INTO node_logs (run, node, at, level, message) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for n in nodes {
                for line in &n.logs {
                    stmt.execute(params![run, n.node, line.at_ms, line.level.name(), line.message])?;
                }
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
            "SELECT node, status, started, duration_us, attempts, bytes_in, bytes_out, peak_memory, fuel, error, reason,
                    isolation
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
                    isolation: r.get(11)?,
                    logs: Vec::new(),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some((run, nodes)))
    }
}

impl ResultStore {
    /// The log lines of run `run` (of `node` only, when given) from rowid
    /// `after` on, in the order they were written: node, line and rowid.
    pub fn logs(
        &self,
        run: i64,
        node: Option<&str>,
        after: i64,
    ) -> Result<Vec<(String, LogLine, i64)>, StoreError> {
        let db = self.db.lock();
        let mut stmt = db.prepare(
            "SELECT node, at, level, message, rowid FROM node_logs
             WHERE run = ?1 AND (?2 IS NULL OR node = ?2) AND rowid > ?3 ORDER BY rowid",
        )?;
        let rows = stmt.query_map(params![run, node, after], |r| {
            let level: String = r.get(2)?;
            Ok((
                r.get::<_, String>(0)?,
                LogLine {
                    at_ms: r.get(1)?,
                    level: LogLevel::from_name(&level).unwrap_or(LogLevel::Info),
                    message: r.get(3)?,
                },
                r.get::<_, i64>(4)?,
            ))
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
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
