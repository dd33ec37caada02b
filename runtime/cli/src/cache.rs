//! `weavelet cache`: list, collect, clear and verify the result cache.

use std::path::PathBuf;
use std::process::ExitCode;

use weavelet::human_bytes;

#[derive(clap::Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    action: Action,
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
            out!(
                "removed {} results ({}){}",
                report.entries,
                human_bytes(report.bytes),
                if history { " and the run history" } else { "" }
            );
        }
        Action::Verify => {
            let problems = store.verify().map_err(failed)?;
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
