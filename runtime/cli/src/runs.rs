//! `weavelet runs`: the run history.

use std::path::PathBuf;
use std::process::ExitCode;

use super::display;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  weavelet runs                                   # the latest 20 runs
  weavelet runs --pipeline examples/diamond --status failed
  weavelet runs show last                         # one run, node by node
  weavelet runs replay 12                         # run 12 again, exactly (or say what changed)
  weavelet runs diff 12 last                      # what changed between two runs
  weavelet logs last                              # what its nodes logged")]
pub struct RunsArgs {
    #[command(subcommand)]
    show: Option<RunsCommand>,
    /// How many runs to list, newest first.
    #[arg(long, short = 'n', default_value_t = 20)]
    limit: usize,
    /// Only runs of this pipeline: its manifest, its folder or its script (or part of its path).
    #[arg(long, value_name = "PIPELINE")]
    pipeline: Option<PathBuf>,
    /// Only runs that ended so: ok, failed, running or interrupted.
    #[arg(long, value_parser = ["ok", "failed", "running", "interrupted"])]
    status: Option<String>,
    /// Print JSON for tools instead of a table.
    #[arg(long)]
    json: bool,
    /// The cache folder holding the history (default: $WEAVELET_CACHE_DIR or the platform cache dir).
    #[arg(long, value_name = "DIR", env = "WEAVELET_CACHE_DIR", global = true)]
    cache_dir: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
enum RunsCommand {
    /// One run, node by node: status, attempts, duration, bytes in and out, peak memory, fuel, errors.
    Show {
        /// The run's number (`weavelet runs` lists them; `last` for the latest).
        id: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run a recorded run again exactly: its command, from its folder, with its parameters.
    /// Refuses, naming what changed, if a node's code, grants or wiring differ from then.
    Replay {
        /// The run's number, or `last`.
        id: String,
        /// Compute every node again instead of taking unchanged results from the cache.
        #[arg(long)]
        fresh: bool,
    },
    /// What changed between two runs: parameters, code, grants, wiring, outputs, and each node's timing.
    /// Exit 0 when they computed the same, 1 when anything differs.
    Diff {
        /// The earlier run's number.
        a: String,
        /// The later run's number, or `last`.
        b: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Run `text` of the history (a number, or `last` for the latest) and its
/// nodes' records; an unknown run is an error saying where to look.
pub(crate) fn find_run(
    store: &weavelet::ResultStore,
    text: &str,
) -> anyhow::Result<(weavelet::store::RunRecord, Vec<weavelet::store::NodeRecord>)> {
    let failed = |e: weavelet::store::StoreError| weavelet::Error::from(e);
    let id: i64 = if text == "last" {
        store
            .runs(1)
            .map_err(failed)?
            .first()
            .map(|r| r.id)
            .ok_or_else(|| anyhow::anyhow!("no runs recorded yet"))?
    } else {
        text.parse().map_err(|_| anyhow::anyhow!("`{text}` is not a run number (see `weavelet runs`)"))?
    };
    store
        .run(id)
        .map_err(failed)?
        .ok_or_else(|| anyhow::anyhow!("no run {id} in {} (see `weavelet runs`)", store.dir().display()))
}

pub fn run(args: RunsArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_store(args.cache_dir.as_deref())?;
    let failed = |e: weavelet::store::StoreError| weavelet::Error::from(e);
    match args.show {
        None => {
            let filtered = args.pipeline.is_some() || args.status.is_some();
            // The history keeps at most 1000 runs: filter them all, then take the newest.
            let mut runs = store.runs(if filtered { usize::MAX } else { args.limit }).map_err(failed)?;
            if let Some(wanted) = &args.pipeline {
                // A folder stands for its manifest; an existing path is matched whole.
                let path = if wanted.is_dir() { wanted.join("weavelet.toml") } else { wanted.clone() };
                let exact = std::fs::canonicalize(&path).ok().map(|p| p.display().to_string());
                let text = wanted.display().to_string();
                runs.retain(|r| match &exact {
                    Some(exact) => &r.pipeline == exact,
                    None => r.pipeline.contains(&text),
                });
            }
            if let Some(status) = &args.status {
                runs.retain(|r| &r.status == status);
            }
            runs.truncate(args.limit);
            if args.json {
                let runs: Vec<serde_json::Value> = runs
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "id": r.id, "pipeline": r.pipeline, "command": r.command, "status": r.status,
                            "started_ms": r.started_ms, "finished_ms": r.finished_ms,
                            "ran": r.counts[0], "cached": r.counts[1], "failed": r.counts[2],
                        })
                    })
                    .collect();
                out!("{}", serde_json::to_string_pretty(&runs).unwrap_or_default());
                return Ok(ExitCode::SUCCESS);
            }
            if runs.is_empty() {
                let which = if filtered { "matching runs" } else { "runs" };
                eprintln!("no {which} recorded in {} yet", store.dir().display());
                return Ok(ExitCode::SUCCESS);
            }
            // Pipelines under the current folder read shorter without it.
            let cwd = std::env::current_dir().map(|c| format!("{}/", c.display())).unwrap_or_default();
            out!(
                "{:>5}  {:<19}  {:<11}  {:>4}  {:>6}  {:>6}  {:>9}  PIPELINE",
                "RUN",
                "STARTED",
                "STATUS",
                "RAN",
                "CACHED",
                "FAILED",
                "TOOK"
            );
            for r in runs {
                let took = display::run_took(&r).unwrap_or_else(|| "-".into());
                out!(
                    "{:>5}  {:<19}  {:<11}  {:>4}  {:>6}  {:>6}  {:>9}  {}",
                    r.id,
                    super::timestamp(r.started_ms),
                    r.status,
                    r.counts[0],
                    r.counts[1],
                    r.counts[2],
                    took,
                    r.pipeline.strip_prefix(cwd.as_str()).unwrap_or(&r.pipeline)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(RunsCommand::Replay { id, fresh }) => {
            // The replay starts in the run's folder: a relative cache folder is taken from here.
            let dir = args.cache_dir.as_deref().map(std::path::absolute).transpose()?;
            super::replay::replay(&store, &id, fresh, dir.as_deref())
        }
        Some(RunsCommand::Diff { a, b, json }) => super::replay::diff(&store, &a, &b, json),
        Some(RunsCommand::Show { id, json }) => {
            let (run, nodes) = find_run(&store, &id)?;
            if json {
                let nodes: Vec<serde_json::Value> = nodes
                    .iter()
                    .map(|n| {
                        serde_json::json!({
                            "node": n.node, "status": n.status, "started_ms": n.started_ms,
                            "duration_us": n.duration.as_micros() as u64, "attempts": n.attempts,
                            "bytes_in": n.bytes_in, "bytes_out": n.bytes_out, "peak_memory": n.peak_memory,
                            "fuel": n.fuel, "error": n.error, "reason": n.reason, "isolation": n.isolation,
                            "output": n.output,
                        })
                    })
                    .collect();
                let mut doc = serde_json::json!({
                    "id": run.id, "pipeline": run.pipeline, "command": run.command, "status": run.status,
                    "started_ms": run.started_ms, "finished_ms": run.finished_ms, "nodes": nodes,
                });
                // What it computed, when recorded: parameters, targets, each node's identities.
                if let Ok(Some((plan, _))) = store.run_plan(run.id) {
                    let params: serde_json::Map<String, serde_json::Value> = plan
                        .params
                        .iter()
                        .map(|(k, v)| (k.clone(), weavelet::value_json(v).unwrap_or(serde_json::Value::Null)))
                        .collect();
                    let planned: Vec<serde_json::Value> = plan
                        .nodes
                        .iter()
                        .map(|n| {
                            serde_json::json!({
                                "node": n.node, "source": n.source, "code": n.code.as_ref().ok(),
                                "policy": n.policy, "policy_text": n.policy_text,
                                "inputs": n.inputs.iter().map(|(i, f)| serde_json::json!({ "input": i, "from": f }))
                                    .collect::<Vec<_>>(),
                            })
                        })
                        .collect();
                    doc["params"] = params.into();
                    doc["targets"] = plan.targets.into();
                    doc["pipeline_digest"] = plan.digest.into();
                    doc["planned"] = planned.into();
                }
                out!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
                return Ok(ExitCode::SUCCESS);
            }
            let took = display::run_took(&run).map_or(String::new(), |took| format!(", took {took}"));
            out!(
                "run {}: {}, started {} ({}){took}",
                run.id,
                run.status,
                super::timestamp(run.started_ms),
                super::zone(run.started_ms)
            );
            out!("pipeline: {}", run.pipeline);
            out!("command:  {}", run.command);
            let width = nodes.iter().map(|n| n.node.len()).max().unwrap_or(4).max(4);
            out!(
                "{:<width$}  {:<10}  {:<10}  {:>8}  {:>9}  {:>9}  {:>9}  {:>9}  {:>12}  NOTE",
                "NODE",
                "STATUS",
                "RAN IN",
                "ATTEMPTS",
                "TOOK",
                "IN",
                "OUT",
                "PEAK MEM",
                "FUEL"
            );
            for n in &nodes {
                let note = n.error.as_deref().or(n.reason.as_deref()).unwrap_or("");
                let [ran_in, attempts, took, bytes_in, bytes_out, peak, fuel] = display::node_cells(n);
                out!(
                    "{:<width$}  {:<10}  {:<10}  {:>8}  {:>9}  {:>9}  {:>9}  {:>9}  {:>12}  {}",
                    n.node,
                    n.status,
                    ran_in,
                    attempts,
                    took,
                    bytes_in,
                    bytes_out,
                    peak,
                    fuel,
                    weavelet::sanitize(note)
                );
            }
            if run.status == "interrupted" {
                out!(
                    "the run was interrupted: nodes not listed had not finished; run the same command again to resume"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
