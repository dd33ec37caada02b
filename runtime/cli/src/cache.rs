//! `weavelet cache`: list, collect, clear and verify the result cache.

use std::path::PathBuf;
use std::process::ExitCode;

use weavelet::human_bytes;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  weavelet cache ls                               # stored results, most recently used first
  weavelet cache gc --max-size 2GiB               # least recently used results go first
  weavelet cache verify --json                    # for a monitoring script: {\"intact\": true, ...}")]
pub struct CacheArgs {
    #[command(subcommand)]
    action: Action,
    /// Print JSON for tools instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// The cache folder (default: $WEAVELET_CACHE_DIR or the platform cache dir).
    #[arg(long, value_name = "DIR", env = "WEAVELET_CACHE_DIR", global = true)]
    cache_dir: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
enum Action {
    /// List stored results, most recently used first.
    Ls,
    /// Remove least recently used results until the cache holds at most --max-size.
    Gc {
        /// The most the result cache may hold: 500MiB, 2GiB, ...
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        max_size: u64,
        /// How many of the latest runs the history keeps.
        #[arg(long, value_name = "N", default_value_t = 1000)]
        keep_runs: u64,
    },
    /// Remove every stored result.
    Clear {
        /// Also forget the run history.
        #[arg(long)]
        history: bool,
    },
    /// Check the database and every stored result; damaged results are removed (and computed again when needed).
    Verify,
}

fn parse_size(text: &str) -> Result<u64, String> {
    weavelet::parse_size(text)
}

pub fn run(args: CacheArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_store(args.cache_dir.as_deref())?;
    let failed = |e: weavelet::store::StoreError| weavelet::Error::from(e);
    match args.action {
        Action::Ls => {
            let entries = store.entries().map_err(failed)?;
            let total: u64 = entries.iter().map(|e| e.size).sum();
            if args.json {
                let entries: Vec<serde_json::Value> = entries
                    .iter()
                    .map(|e| {
                        serde_json::json!({
                            "node": e.node, "type": e.kind, "bytes": e.size, "stored_ms": e.created_ms,
                            "used_ms": e.used_ms, "key": e.key, "pipeline": e.pipeline,
                        })
                    })
                    .collect();
                let doc = serde_json::json!({ "folder": store.dir(), "bytes": total, "results": entries });
                out!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
                return Ok(ExitCode::SUCCESS);
            }
            if !entries.is_empty() {
                let width = entries.iter().map(|e| e.node.len()).max().unwrap_or(4).max(4);
                out!(
                    "{:<width$}  {:<10}  {:>9}  {:<19}  {:<19}  {:<12}  PIPELINE",
                    "NODE",
                    "TYPE",
                    "SIZE",
                    "STORED",
                    "LAST USED",
                    "KEY"
                );
                for e in &entries {
                    out!(
                        "{:<width$}  {:<10}  {:>9}  {:<19}  {:<19}  {:<12}  {}",
                        e.node,
                        e.kind,
                        human_bytes(e.size),
                        super::timestamp(e.created_ms),
                        super::timestamp(e.used_ms),
                        e.key.get(..12).unwrap_or(&e.key),
                        e.pipeline
                    );
                }
            }
            out!("{} results, {} in {}", entries.len(), human_bytes(total), store.dir().display());
        }
        Action::Gc { max_size, keep_runs } => {
            let report = store.gc(max_size, keep_runs).map_err(failed)?;
            if args.json {
                out!(
                    "{}",
                    serde_json::json!({
                        "removed_results": report.entries, "removed_files": report.files,
                        "removed_bytes": report.bytes, "bytes": report.remaining, "max_bytes": max_size,
                        "runs_dropped": report.runs,
                    })
                );
                return Ok(ExitCode::SUCCESS);
            }
            out!(
                "removed {} results and {} files ({}); the cache holds {} (at most {}); {} old runs dropped from the history",
                report.entries,
                report.files,
                human_bytes(report.bytes),
                human_bytes(report.remaining),
                human_bytes(max_size),
                report.runs
            );
        }
        Action::Clear { history } => {
            let report = store.clear(history).map_err(failed)?;
            if args.json {
                out!(
                    "{}",
                    serde_json::json!({
                        "removed_results": report.entries, "removed_bytes": report.bytes, "history_cleared": history,
                    })
                );
                return Ok(ExitCode::SUCCESS);
            }
            out!(
                "removed {} results ({}){}",
                report.entries,
                human_bytes(report.bytes),
                if history { " and the run history" } else { "" }
            );
        }
        Action::Verify => {
            let problems = store.verify().map_err(failed)?;
            if args.json {
                let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
                out!("{}", serde_json::json!({ "intact": problems.is_empty(), "problems": problems }));
                return Ok(ExitCode::from(if problems.is_empty() { 0 } else { super::EXIT_FAILED }));
            }
            if problems.is_empty() {
                out!("the result cache in {} is intact", store.dir().display());
            } else {
                for p in &problems {
                    out!("damaged: {p}");
                }
                out!("{} problems found; the damaged results were removed", problems.len());
                return Ok(ExitCode::from(super::EXIT_FAILED));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
