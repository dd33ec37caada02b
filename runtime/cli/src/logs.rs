//! `weavelet logs`: the log lines nodes wrote during a run, from the history.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use weavelet::LogLevel;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  weavelet logs last                  # every node's lines of the latest run
  weavelet logs 12 report             # one node's
  weavelet logs last --level warn     # warnings and errors only
  weavelet logs last --follow         # a run under way: new lines as its nodes finish
  weavelet logs 12 --json | jq .message")]
pub struct LogsArgs {
    /// The run (`weavelet runs` lists them; `last` for the latest).
    run: String,
    /// Only this node's lines.
    node: Option<String>,
    /// Only lines at this level or above: trace, debug, info, warn, error.
    #[arg(long, value_parser = parse_level)]
    level: Option<LogLevel>,
    /// Keep printing lines as the run's nodes finish, until the run ends.
    #[arg(long, short = 'f')]
    follow: bool,
    /// One JSON object a line: run, node, at_ms, level, message.
    #[arg(long)]
    json: bool,
    /// The cache folder holding the history (default: $WEAVELET_CACHE_DIR or the platform cache dir).
    #[arg(long, value_name = "DIR", env = "WEAVELET_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
}

fn parse_level(text: &str) -> Result<LogLevel, String> {
    LogLevel::from_name(text)
        .ok_or_else(|| format!("`{text}` is not a level: trace, debug, info, warn or error"))
}

pub fn run(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_store(args.cache_dir.as_deref())?;
    let failed = |e: weavelet::store::StoreError| weavelet::Error::from(e);
    let (record, nodes) = super::runs::find_run(&store, &args.run)?;
    let id = record.id;
    if let Some(node) = &args.node
        && record.status != "running"
        && !nodes.iter().any(|n| &n.node == node)
    {
        let hint = weavelet::error::names(nodes.iter().map(|n| n.node.as_str()));
        bail!("run {id} has no node `{node}`; its nodes: {hint}");
    }
    let minimum = args.level.unwrap_or(LogLevel::Trace);
    let mut after = 0;
    let mut printed = 0usize;
    loop {
        let lines = store.logs(id, args.node.as_deref(), after).map_err(failed)?;
        for (node, line, rowid) in &lines {
            after = *rowid;
            if line.level < minimum {
                continue;
            }
            printed += 1;
            if args.json {
                let doc = serde_json::json!({
                    "run": id, "node": node, "at_ms": line.at_ms, "level": line.level.name(), "message": line.message,
                });
                out!("{doc}");
            } else {
                out!(
                    "{}.{:03}  {node}  {:<5}  {}",
                    super::timestamp(line.at_ms),
                    line.at_ms.rem_euclid(1000),
                    line.level.name(),
                    weavelet::sanitize(&line.message)
                );
            }
        }
        if !args.follow {
            break;
        }
        if !lines.is_empty() {
            continue;
        }
        // Following: stop once the run has ended and every line is read.
        let status = store.run(id).map_err(failed)?.map(|(r, _)| r.status).unwrap_or_default();
        if status != "running" {
            let rest = store.logs(id, args.node.as_deref(), after).map_err(failed)?;
            if rest.is_empty() {
                break;
            }
            continue;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    if printed == 0 && !args.json {
        let whose = args.node.as_deref().map_or(String::new(), |n| format!(" of node `{n}`"));
        let level = args.level.map_or(String::new(), |l| format!(" at {} or above", l.name()));
        eprintln!(
            "run {id} has no log lines{whose}{level} (a node's lines are kept when it finishes; cached nodes have none)"
        );
    }
    Ok(ExitCode::SUCCESS)
}
