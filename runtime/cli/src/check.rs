//! `weavelet check`: everything planning verifies, building, fetching and
//! running nothing, with an exit status for CI.

use std::path::PathBuf;
use std::process::ExitCode;

use weavelet::{Config, Error, GraphSource, Runtime};

use super::errors;

/// Exit status when something must be built or fetched before it can be checked.
pub const EXIT_NOT_PREPARED: u8 = 3;

#[derive(clap::Args)]
#[command(after_help = "Exit status: 0 the pipeline plans; 2 it does not (every problem is listed);
3 a node folder is not built or a component not downloaded (check builds and fetches nothing).

Examples:
  weavelet check examples/diamond
  weavelet check pipeline.rhai -p n=10
  weavelet check . --json")]
pub struct CheckArgs {
    /// The pipeline: a weavelet.toml, a folder holding one, or a single .rhai script.
    pipeline: PathBuf,
    /// Set a parameter (repeatable), as for `run`: --param count=100.
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE", value_parser = super::run::parse_param)]
    params: Vec<(String, String)>,
    /// Check only this node and what it needs (repeatable; default: what `run` computes).
    /// `--output` is its earlier spelling, still accepted.
    #[arg(long = "target", short = 't', value_name = "NODE", alias = "output")]
    outputs: Vec<String>,
    /// Print the result as JSON (on standard output, whatever the outcome).
    #[arg(long)]
    json: bool,
    /// Where built components and downloads are looked for (default: $WEAVELET_CACHE_DIR or the platform cache dir).
    #[arg(long, value_name = "DIR", env = "WEAVELET_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let mut config = Config::default();
    if let Some(dir) = &args.cache_dir {
        config = config.cache_dir(Some(dir.clone()));
    }
    let runtime = Runtime::new(config)?;
    let planned = runtime.load_prepared(&args.pipeline).and_then(|mut pipeline| {
        for (k, v) in &args.params {
            pipeline.set_param_text(k, v);
        }
        let outputs: Vec<&str> = args.outputs.iter().map(String::as_str).collect();
        let plan = pipeline.plan(&outputs)?;
        Ok((pipeline, plan))
    });
    let (pipeline, plan) = match planned {
        Ok(done) => done,
        Err(e) => {
            let code = if matches!(e, Error::NotPrepared(_)) { EXIT_NOT_PREPARED } else { super::EXIT_USAGE };
            if args.json {
                let problems: Vec<serde_json::Value> = match &e {
                    Error::Plan(diagnostics) => diagnostics
                        .iter()
                        .map(|d| {
                            let mut problem = serde_json::json!({ "message": d.message, "help": d.help });
                            // Where a script defines the node: its file, line and column.
                            if let Some(span) = d.at.as_deref()
                                && let Some((line, column, _)) = errors::position(span)
                            {
                                problem["file"] = span.file.display().to_string().into();
                                problem["line"] = line.into();
                                problem["column"] = column.into();
                            }
                            problem
                        })
                        .collect(),
                    _ => vec![serde_json::json!({ "message": errors::library_error(&e) })],
                };
                let kind = match &e {
                    Error::NotPrepared(_) => "not-prepared",
                    Error::Plan(_) => "plan",
                    Error::Manifest { .. } => "manifest",
                    Error::Script(_) => "script",
                    _ => "load",
                };
                let doc = serde_json::json!({
                    "ok": false, "pipeline": args.pipeline.display().to_string(), "kind": kind, "problems": problems,
                });
                out!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            } else {
                eprintln!("error: {}", errors::library_error(&e));
            }
            return Ok(ExitCode::from(code));
        }
    };
    let graph = plan.graph();
    let targets: Vec<&str> = plan.targets().collect();
    let mut params: Vec<String> = Vec::new();
    for node in &graph {
        for input in &node.inputs {
            if let GraphSource::Param { name, .. } = &input.from
                && !params.contains(name)
            {
                params.push(name.clone());
            }
        }
    }
    let warnings: Vec<String> = plan.warnings().iter().map(ToString::to_string).collect();
    if args.json {
        let nodes: Vec<serde_json::Value> = graph
            .iter()
            .map(|n| {
                let inputs: Vec<serde_json::Value> = n
                    .inputs
                    .iter()
                    .map(|i| {
                        let from = match &i.from {
                            GraphSource::Node(j) => serde_json::json!({ "node": graph[*j].name }),
                            GraphSource::Param { name, value } => {
                                serde_json::json!({ "param": name, "value": value.to_string() })
                            }
                            GraphSource::Default => serde_json::json!({ "default": true }),
                        };
                        serde_json::json!({ "name": i.name, "from": from })
                    })
                    .collect();
                serde_json::json!({
                    "name": n.name, "source": n.source, "output": n.output.to_string(), "target": n.target,
                    "inputs": inputs,
                })
            })
            .collect();
        let doc = serde_json::json!({
            "ok": true, "pipeline": pipeline.name(), "nodes": nodes, "targets": targets, "params": params,
            "warnings": warnings,
        });
        out!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        for warning in &warnings {
            eprintln!("warning: {warning}");
        }
        out!(
            "ok: {} plans: {} node{}, {} parameter{} ({}), output{} {}",
            pipeline.name(),
            graph.len(),
            if graph.len() == 1 { "" } else { "s" },
            params.len(),
            if params.len() == 1 { "" } else { "s" },
            if params.is_empty() { "none".to_string() } else { params.join(", ") },
            if targets.len() == 1 { "" } else { "s" },
            targets.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
