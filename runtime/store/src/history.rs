//! The run history: one row per run, one per node of a run, written as the
//! node ends so a killed run keeps what it finished.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{OptionalExtension, params};
use weavelet_core::cache::now_ms;
use weavelet_core::{LogLevel, LogLine, NodeRecord, PlannedRecord, RunPlanRecord, codec};

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
                                        peak_memory, fuel, error, reason, isolation, output)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
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
                    n.isolation,
                    n.output
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
        let mut stmt = db.prepare(&format!("{NODE_COLUMNS} WHERE run = ?1 ORDER BY rowid"))?;
        let nodes = stmt.query_map([id], node_record)?.collect::<Result<Vec<_>, _>>()?;
        Ok(Some((run, nodes)))
    }
}

impl ResultStore {
    /// Record what run `run` computes (see [`RunPlanRecord`]).
    pub fn record_plan(&self, run: i64, plan: &RunPlanRecord) -> Result<(), StoreError> {
        let mut db = self.db.lock();
        let tx = db.transaction()?;
        {
            let targets = serde_json::to_string(&plan.targets).unwrap_or_default();
            tx.execute(
                "INSERT OR REPLACE INTO run_plans (run, digest, targets) VALUES (?1, ?2, ?3)",
                params![run, plan.digest, targets],
            )?;
            let mut stmt =
                tx.prepare_cached("INSERT INTO run_params (run, name, value, text) VALUES (?1, ?2, ?3, ?4)")?;
            for (name, value) in &plan.params {
                stmt.execute(params![run, name, codec::encode(value).ok(), value.to_string()])?;
            }
            let mut stmt = tx.prepare_cached(
                "INSERT INTO run_nodes (run, node, source, code, code_error, policy, policy_text, inputs)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for n in &plan.nodes {
                let inputs = serde_json::to_string(&n.inputs).unwrap_or_default();
                stmt.execute(params![
                    run,
                    n.node,
                    n.source,
                    n.code.as_ref().ok(),
                    n.code.as_ref().err(),
                    n.policy,
                    n.policy_text,
                    inputs
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// What run `run` computed, if it was recorded (runs recorded by earlier
    /// versions have no plan). A parameter whose value cannot be read back
    /// is left out, and the text of its value kept as `(name, Err(text))`.
    #[allow(clippy::type_complexity)]
    pub fn run_plan(&self, run: i64) -> Result<Option<(RunPlanRecord, Vec<(String, String)>)>, StoreError> {
        let db = self.db.lock();
        let head = db
            .query_row("SELECT digest, targets FROM run_plans WHERE run = ?1", [run], |r| {
                Ok((r.get::<_, Option<String>>(0)?, r.get::<_, String>(1)?))
            })
            .optional()?;
        let Some((digest, targets)) = head else { return Ok(None) };
        let mut plan = RunPlanRecord {
            digest,
            targets: serde_json::from_str(&targets).unwrap_or_default(),
            ..RunPlanRecord::default()
        };
        let mut unreadable = Vec::new();
        let mut stmt =
            db.prepare("SELECT name, value, text FROM run_params WHERE run = ?1 ORDER BY rowid")?;
        let rows = stmt.query_map([run], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<Vec<u8>>>(1)?, r.get::<_, String>(2)?))
        })?;
        for row in rows {
            let (name, bytes, text) = row?;
            match bytes.map(|b| codec::decode(&b)) {
                Some(Ok(value)) => plan.params.push((name, value)),
                _ => unreadable.push((name, text)),
            }
        }
        let mut stmt = db.prepare(
            "SELECT node, source, code, code_error, policy, policy_text, inputs FROM run_nodes
             WHERE run = ?1 ORDER BY rowid",
        )?;
        let rows = stmt.query_map([run], |r| {
            let code: Option<String> = r.get(2)?;
            let error: Option<String> = r.get(3)?;
            let inputs: String = r.get(6)?;
            Ok(PlannedRecord {
                node: r.get(0)?,
                source: r.get(1)?,
                code: code.ok_or_else(|| error.unwrap_or_default()),
                policy: r.get(4)?,
                policy_text: r.get(5)?,
                inputs: serde_json::from_str(&inputs).unwrap_or_default(),
            })
        })?;
        plan.nodes = rows.collect::<Result<Vec<_>, _>>()?;
        Ok(Some((plan, unreadable)))
    }

    /// Record the command line that started run `run` and the folder it
    /// started in (for replaying it).
    pub fn record_invocation(&self, run: i64, cwd: &Path, argv: &[String]) -> Result<(), StoreError> {
        let argv = serde_json::to_string(argv).unwrap_or_default();
        self.db.lock().execute(
            "INSERT OR REPLACE INTO run_invocations (run, cwd, argv) VALUES (?1, ?2, ?3)",
            params![run, cwd.to_string_lossy(), argv],
        )?;
        Ok(())
    }

    /// The folder and command line that started run `run`, if recorded.
    pub fn invocation(&self, run: i64) -> Result<Option<(PathBuf, Vec<String>)>, StoreError> {
        let row = self
            .db
            .lock()
            .query_row("SELECT cwd, argv FROM run_invocations WHERE run = ?1", [run], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .optional()?;
        Ok(row.and_then(|(cwd, argv)| Some((PathBuf::from(cwd), serde_json::from_str(&argv).ok()?))))
    }

    /// The history line of `node` in run `run`, if it has one yet.
    pub fn node_record(&self, run: i64, node: &str) -> Result<Option<NodeRecord>, StoreError> {
        let db = self.db.lock();
        let mut stmt =
            db.prepare_cached(&format!("{NODE_COLUMNS} WHERE run = ?1 AND node = ?2 ORDER BY rowid DESC"))?;
        Ok(stmt.query_row(params![run, node], node_record).optional()?)
    }

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

/// The columns [`node_record`] reads, as a query to add a `WHERE` to.
const NODE_COLUMNS: &str =
    "SELECT node, status, started, duration_us, attempts, bytes_in, bytes_out, peak_memory, fuel,
                                   error, reason, isolation, output FROM node_runs";

fn node_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<NodeRecord> {
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
        output: r.get(12)?,
    })
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
