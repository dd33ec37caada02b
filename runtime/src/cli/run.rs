//! `weavelet run`: plan and run a pipeline, show live status, print outputs.

use std::path::PathBuf;
use std::process::ExitCode;

use weavelet::{Config, Runtime, manifest};

use super::display::{self, Status};

#[derive(clap::Args)]
pub struct RunArgs {
    /// The pipeline: a weavelet.toml, a folder holding one, or a single .rhai script.
    pipeline: PathBuf,
    /// Set a parameter (repeatable): --param count=100.
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE", value_parser = parse_param)]
    params: Vec<(String, String)>,
    /// Compute this output and what it needs (repeatable; default: the pipeline's outputs, else every sink).
    #[arg(long = "output", short = 'o', value_name = "NODE")]
    outputs: Vec<String>,
    /// How many nodes run at once (default: the number of cores).
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    /// Where compiled components are cached (default: $WEAVELET_CACHE_DIR or the platform cache dir).
    #[arg(long, value_name = "DIR", env = "WEAVELET_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Show only failures and outputs.
    #[arg(long, short = 'q')]
    quiet: bool,
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected NAME=VALUE, got `{s}`")),
    }
}

pub fn run(args: RunArgs) -> Result<ExitCode, weavelet::Error> {
    let mut config = Config::default();
    if let Some(jobs) = args.jobs {
        config = config.jobs(jobs);
    }
    if let Some(dir) = args.cache_dir {
        config = config.cache_dir(Some(dir));
    }
    let runtime = Runtime::new(config)?;
    let quiet = args.quiet;
    let is_script = args.pipeline.extension().is_some_and(|e| e == "rhai");
    let mut loaded = if is_script {
        manifest::load_script(&runtime, &args.pipeline)?
    } else {
        manifest::load(&runtime, &args.pipeline, &mut |dir| {
            if !quiet {
                let cwd = std::env::current_dir().unwrap_or_default();
                let shown = match dir.strip_prefix(&cwd) {
                    Ok(rel) if rel.as_os_str().is_empty() => std::path::Path::new("."),
                    Ok(rel) => rel,
                    Err(_) => dir,
                };
                eprintln!("building {} for {}", shown.display(), manifest::WASM_TARGET);
            }
        })?
    };
    for (k, v) in &args.params {
        loaded.pipeline.set_param_text(k, v);
    }
    let outputs: Vec<&str> = args.outputs.iter().map(String::as_str).collect();
    let plan = loaded.pipeline.plan(&outputs)?;
    for warning in plan.warnings() {
        eprintln!("warning: {warning}");
    }
    if !quiet {
        eprintln!(
            "running {} ({} nodes, {} jobs)",
            loaded.name,
            plan.len(),
            runtime.config().jobs.min(plan.len())
        );
    }

    let status = Status::new(plan.len(), quiet);
    let report = runtime.run_with_events(&plan, Some(status.sink()))?;
    status.finish();

    for (name, value) in &report.outputs {
        out!("{name}: {}", weavelet::sanitize(&value.to_string()));
    }
    if report.is_success() {
        if !quiet {
            eprintln!("{} nodes ran in {}", report.nodes_run, display::duration(report.duration));
        }
        Ok(ExitCode::SUCCESS)
    } else {
        if let Err(err) = report.check() {
            display::error(&err);
        }
        if !report.skipped.is_empty() {
            let names: Vec<&str> = report.skipped.iter().map(|(n, _)| n.as_str()).collect();
            eprintln!("not run because of those failures: {}", names.join(", "));
        }
        Ok(ExitCode::from(super::EXIT_FAILED))
    }
}
