//! `weavelet run`: plan and run a pipeline, show live status, print outputs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, anyhow};
use weavelet::{CacheUse, Config, ReadGrants, ReadLog, RunOptions, Runtime, Written, manifest};

use super::display::{self, Status};
use super::errors;

#[derive(clap::Args, Clone)]
#[command(after_help = "Examples:
  weavelet run examples/diamond                       # the demo
  weavelet run examples/diamond -p count=50 --target total
  weavelet run pipeline.rhai -p n=10 --save report=out/report.txt
  weavelet run . --dry-run                            # what would run, and why
  weavelet run . --from clean                         # recompute clean and what follows
  weavelet run . --json | jq .outputs                 # every output whole, for tools")]
pub struct RunArgs {
    /// The pipeline: a weavelet.toml, a folder holding one, or a single .rhai script.
    pipeline: PathBuf,
    /// Set a parameter (repeatable): --param count=100.
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE", value_parser = parse_param)]
    params: Vec<(String, String)>,
    /// Compute this node and what it needs (repeatable; default: the pipeline's targets, else every
    /// sink). `--output` and `-o` are its earlier spellings, still accepted.
    #[arg(long = "target", short = 't', value_name = "NODE", alias = "output", short_alias = 'o')]
    outputs: Vec<String>,
    /// How many nodes run at once (default: the number of cores; at most 1024).
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    /// Where compiled components are cached (default: $WEAVELET_CACHE_DIR or the platform cache dir).
    #[arg(long, value_name = "DIR", env = "WEAVELET_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Write a node's output to a file (repeatable): --save summary=out/summary.csv.
    /// Tables by extension (.csv .parquet .arrow .json .jsonl), other values as text or .json.
    #[arg(long = "save", short = 's', value_name = "NODE=PATH", value_parser = parse_param)]
    saves: Vec<(String, String)>,
    /// Let nodes read files under this folder (repeatable; adds to the manifest's [policy] read).
    #[arg(long = "allow-read", value_name = "DIR")]
    allow_read: Vec<PathBuf>,
    /// Where nodes without an `isolation` policy run: `process` (a confined
    /// worker process, the default) or `in-process` (trusted sources only:
    /// their node folders are then also built outside the build sandbox).
    #[arg(long, value_name = "LEVEL", value_parser = parse_isolation)]
    isolation: Option<weavelet::Isolation>,

    /// Count instructions and give every component node this fuel budget (a
    /// pipeline's `fuel` policies turn counting on by themselves).
    #[arg(long, value_name = "INSTRUCTIONS")]
    fuel: Option<u64>,
    /// Show only failures and outputs.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Compute every node: neither read nor store results (the run is still recorded).
    #[arg(long, env = "WEAVELET_NO_CACHE", value_parser = clap::builder::FalseyValueParser::new())]
    no_cache: bool,
    /// Compute NODE and everything downstream of it even if their results are stored (repeatable).
    #[arg(long, value_name = "NODE")]
    from: Vec<String>,
    /// Run only NODE (repeatable); everything it needs must come from the cache or --override.
    #[arg(long, value_name = "NODE")]
    only: Vec<String>,
    /// Use VALUE as NODE's output instead of running it (repeatable). Tables,
    /// SVGs and images are given as a file path (--override sales=data/other.csv).
    #[arg(long = "override", value_name = "NODE=VALUE", value_parser = parse_param)]
    overrides: Vec<(String, String)>,
    /// Print the plan: which nodes would run and which would come from the cache, and why. Runs nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the run as one JSON document on standard output: every output whole (tables as
    /// records), failures, skipped and cached nodes, files written, the run's number.
    #[arg(long)]
    json: bool,
    /// Stream every event (queued, started, finished, cached, retrying, failed, skipped, log,
    /// progress) as JSON lines on standard output instead of the live status; the last line
    /// (`"event": "done"`) is the document --json prints.
    #[arg(long, value_name = "FORMAT", value_parser = ["jsonl"])]
    events: Option<String>,
    /// Set by `weavelet runs replay`: the run this one repeats.
    #[arg(skip)]
    pub(crate) replay: Option<Box<super::replay::Replay>>,
}

impl RunArgs {
    /// The pipeline as given.
    pub(crate) fn pipeline(&self) -> &std::path::Path {
        &self.pipeline
    }

    /// The folders `--allow-read` grants.
    pub(crate) fn allowed_reads(&self) -> impl Iterator<Item = &std::path::Path> {
        self.allow_read.iter().map(PathBuf::as_path)
    }

    /// The files `--save` writes.
    pub(crate) fn saved(&self) -> impl Iterator<Item = &std::path::Path> {
        self.saves.iter().map(|(_, path)| std::path::Path::new(path))
    }

    /// The cache folder given (`--cache-dir` or `$WEAVELET_CACHE_DIR`).
    pub(crate) fn cache_folder(&self) -> Option<&std::path::Path> {
        self.cache_dir.as_deref()
    }

    /// Ready to repeat a recorded run: the history in `cache_dir` (when
    /// given), the live status rather than JSON, every node computed again
    /// when `fresh`.
    pub(crate) fn prepare_replay(&mut self, cache_dir: Option<&std::path::Path>, fresh: bool) {
        if let Some(dir) = cache_dir {
            self.cache_dir = Some(dir.to_path_buf());
        }
        self.json = false;
        self.events = None;
        self.dry_run = false;
        self.no_cache |= fresh;
    }

    /// The `run` command line `argv` (starting with the program's name) as
    /// arguments, or why it is not one.
    pub(crate) fn parse_command(argv: &[String]) -> Result<RunArgs, String> {
        use clap::Parser as _;
        #[derive(clap::Parser)]
        struct Just {
            #[command(subcommand)]
            command: Sub,
        }
        #[derive(clap::Subcommand)]
        enum Sub {
            Run(RunArgs),
        }
        let parsed = Just::try_parse_from(argv).map_err(|e| e.kind().to_string())?;
        let Sub::Run(args) = parsed.command;
        Ok(args)
    }
}

/// Load the pipeline at `path`, building what it needs, each step shown
/// unless `quiet`.
pub(crate) fn load(
    runtime: &Runtime,
    path: &std::path::Path,
    quiet: bool,
) -> Result<weavelet::Pipeline, weavelet::Error> {
    runtime.load_with(path, &mut |step| {
        if !quiet {
            // Paths under the current folder read shorter without it.
            let cwd = std::env::current_dir().unwrap_or_default();
            let prefix = format!("{}/", cwd.display());
            eprintln!("{}", step.replace(&prefix, "").replace(&format!("{} ", cwd.display()), ". "));
        }
    })
}

pub(crate) fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected NAME=VALUE, got `{s}`")),
    }
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    execute(args).map(|(code, _)| code)
}

/// `run`, and the number of the run it recorded (none for a dry run, or
/// without the history): what `watch` reports.
pub(crate) fn execute(args: RunArgs) -> anyhow::Result<(ExitCode, Option<i64>)> {
    let mut config = Config::default();
    if let Some(jobs) = args.jobs {
        config = config.jobs(jobs);
    }
    if let Some(dir) = args.cache_dir {
        config = config.cache_dir(Some(dir));
    }
    if let Some(isolation) = args.isolation {
        config.policy.isolation = isolation;
    }
    if let Some(fuel) = args.fuel {
        config.policy.budgets.fuel = Some(fuel);
    }
    config = config.fuel(args.fuel.is_some() || manifest::wants_fuel(&args.pipeline));
    let cwd = std::env::current_dir().context("finding the current folder")?;
    // Relative paths in a standalone script's nodes start at the script's folder.
    let is_script = args.pipeline.extension().is_some_and(|e| e == "rhai");
    let base = if is_script {
        args.pipeline.parent().filter(|p| !p.as_os_str().is_empty()).map_or(cwd.clone(), |p| cwd.join(p))
    } else {
        cwd.clone()
    };
    for dir in &args.allow_read {
        config = config
            .allow_read(base.clone(), dir)
            .map_err(|e| anyhow!("--allow-read {}: {e} (it must be an existing folder)", dir.display()))?;
    }
    let runtime = Runtime::new(config)?;
    let quiet = args.quiet;
    let mut pipeline = load(&runtime, &args.pipeline, quiet)?;
    for (k, v) in &args.params {
        pipeline.set_param_text(k, v);
    }
    if let Some(replay) = &args.replay {
        // Exactly the values the run had, typed, whatever the manifest says now.
        for (name, value) in &replay.plan.params {
            pipeline.set_param(name, value.clone());
        }
    }
    for (node, text) in &args.overrides {
        let value = override_value(&pipeline, node, text, &cwd)?;
        pipeline.override_node(node, value)?;
    }
    let mut saves = pipeline.output_files().to_vec();
    if !args.only.is_empty() {
        // Only the nodes that run have their files written (and --save's).
        saves.retain(|(node, _)| args.only.contains(node));
    }
    saves.extend(args.saves.iter().map(|(node, path)| (node.clone(), cwd.join(path))));
    // `--only NODE` alone computes NODE; a replay what the run computed.
    let outputs: Vec<&str> = match &args.replay {
        Some(replay) => replay.plan.targets.iter(),
        None if args.outputs.is_empty() => args.only.iter(),
        None => args.outputs.iter(),
    }
    .map(String::as_str)
    .collect();
    let mut plan = pipeline.plan(&outputs)?;
    // Saved nodes are computed even when they are not among the requested outputs.
    if saves.iter().any(|(node, _)| !plan.targets().any(|t| t == node)) {
        let mut wanted: Vec<String> = plan.targets().map(str::to_string).collect();
        for (node, _) in &saves {
            if !wanted.contains(node) {
                wanted.push(node.clone());
            }
        }
        let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
        plan = pipeline.plan(&wanted)?;
    }
    for warning in plan.warnings() {
        eprintln!("warning: {warning}");
    }
    if let Some(replay) = &args.replay {
        replay.check(&runtime.plan_record(&plan))?;
    }
    let mut cache = if args.no_cache { CacheUse::RecordOnly } else { CacheUse::ReuseAndStore };
    match runtime.results() {
        Ok(_) => {}
        Err(e) if args.from.is_empty() && args.only.is_empty() && !args.dry_run => {
            eprintln!(
                "warning: running without the result cache and run history: {}",
                errors::library_error(&e)
            );
            cache = CacheUse::Off;
        }
        Err(e) => return Err(e.into()),
    }
    let mut options = RunOptions::new()
        .cache(cache)
        .recompute(args.from.iter().cloned())
        .only(args.only.iter().cloned())
        .description(match &args.replay {
            Some(replay) => replay.description(),
            None => command_line(&std::env::args().collect::<Vec<_>>()),
        });
    if args.dry_run {
        let steps = runtime.dry_run(&plan, &options)?;
        if args.json {
            let steps: Vec<serde_json::Value> = steps
                .iter()
                .map(|s| serde_json::json!({ "node": s.node, "cached": s.cached, "why": errors::reason(&s.why) }))
                .collect();
            out!("{}", serde_json::json!({ "pipeline": pipeline.name(), "steps": steps }));
            return Ok((ExitCode::SUCCESS, None));
        }
        let width = steps.iter().map(|s| s.node.len()).max().unwrap_or(4).max(4);
        let cached = steps.iter().filter(|s| s.cached).count();
        out!(
            "{} of {} nodes would run, {cached} would come from the cache:",
            steps.len() - cached,
            steps.len()
        );
        for step in &steps {
            let action = if step.cached { "cached" } else { "run" };
            out!("  {action:<7}{:<width$}  {}", step.node, errors::reason(&step.why));
        }
        return Ok((ExitCode::SUCCESS, None));
    }
    if !quiet && args.events.is_none() {
        eprintln!(
            "running {} ({} nodes, {} jobs{})",
            pipeline.name(),
            plan.len(),
            runtime.jobs().min(plan.len()),
            isolation_note(&pipeline, &plan, runtime.policy())
        );
    }

    let streaming = args.events.is_some();
    let machine = args.json || streaming;
    let status = Status::new(plan.len(), quiet || streaming);
    let sink = if streaming { json_events() } else { status.sink() };
    // With OTEL_EXPORTER_OTLP_ENDPOINT set: the run as one trace.
    let trace = super::telemetry::get()
        .map(|_| super::telemetry::RunTrace::new(pipeline.name(), &plan, cache != CacheUse::Off));
    options.events = Some(match &trace {
        Some(trace) => trace.sink(sink),
        None => sink,
    });
    let started = runtime.start(&plan, options)?;
    if let (Some(id), Ok(Some(store))) = (started.id(), runtime.results()) {
        if let Some(trace) = &trace {
            trace.recorded(store.clone(), id);
        }
        // What `weavelet runs replay` repeats: this command, from this folder.
        let argv = match &args.replay {
            Some(replay) => replay.argv.clone(),
            None => std::env::args().collect(),
        };
        if let Err(e) = store.record_invocation(id, &cwd, &argv) {
            eprintln!("warning: the command line of run {id} was not recorded: {e}");
        }
    }
    let report = started.wait();
    status.finish();
    if let (Some(trace), Some(telemetry)) = (trace, super::telemetry::get()) {
        trace.end(&report);
        telemetry.flush();
    }

    // Write files first: a table computed for its file is kept for printing.
    let mut save_failed = false;
    let mut written = Vec::new();
    for file in runtime.write_outputs(&report, &saves, cache) {
        if machine {
            written.push(match &file.outcome {
                Ok(Written::UpToDate) => {
                    serde_json::json!({ "node": file.node, "path": file.path, "up_to_date": true })
                }
                Ok(Written::Wrote { bytes, .. }) => {
                    serde_json::json!({ "node": file.node, "path": file.path, "bytes": bytes })
                }
                Err(e) => serde_json::json!({ "node": file.node, "path": file.path, "error": e.to_string() }),
            });
        }
        let (node, path) = (&file.node, file.path.display());
        match file.outcome {
            Ok(Written::UpToDate) => {
                if !quiet {
                    eprintln!("up to date: {path} (from `{node}`)");
                }
            }
            Ok(Written::Wrote { bytes, images }) => {
                if !quiet {
                    let files = images.map_or_else(String::new, |n| format!("{n} files "));
                    eprintln!("wrote {files}{path} ({}) from `{node}`", weavelet::human_bytes(bytes));
                }
            }
            Err(e) => {
                eprintln!("error: could not write the output of `{node}` to {path}: {e}");
                save_failed = true;
            }
        }
    }
    if machine {
        let mut outputs = serde_json::Map::new();
        for (name, value) in &report.outputs {
            let json = weavelet::value_json(value).map_err(|e| {
                anyhow!("the output of `{name}` as JSON: {e} (save it with --save {name}=FILE)")
            })?;
            outputs.insert(name.clone(), json);
        }
        let failures: Vec<serde_json::Value> = report
            .failures
            .iter()
            .map(|f| serde_json::json!({ "node": f.node, "source": f.source, "message": errors::failure(f) }))
            .collect();
        let skipped: Vec<serde_json::Value> = report
            .skipped
            .iter()
            .map(|(node, because)| serde_json::json!({ "node": node, "because": because }))
            .collect();
        let mut doc = serde_json::json!({
            "pipeline": pipeline.name(), "run": report.run_id, "ok": report.is_success() && !save_failed,
            "duration_us": report.duration.as_micros() as u64, "nodes_run": report.nodes_run,
            "cached": report.cached, "outputs": outputs, "failures": failures, "skipped": skipped, "files": written,
        });
        if streaming {
            doc["event"] = "done".into();
        }
        out!("{doc}");
        return Ok((
            ExitCode::from(if report.is_success() && !save_failed { 0 } else { super::EXIT_FAILED }),
            report.run_id,
        ));
    }
    for (name, value) in &report.outputs {
        if saves.iter().any(|(node, _)| node == name) && !args.outputs.contains(name) {
            continue;
        }
        out!("{name}: {}", weavelet::sanitize(&value.to_string()));
    }
    if save_failed {
        return Ok((ExitCode::from(super::EXIT_FAILED), report.run_id));
    }
    if let Some(replay) = &args.replay {
        replay.compare(&runtime, report.run_id);
    }
    if report.is_success() {
        if !quiet {
            let cached = match report.cached.len() {
                0 => String::new(),
                n => format!(", {n} came from the cache"),
            };
            let run =
                report.run_id.map_or_else(String::new, |id| format!(" (run {id}: weavelet runs show {id})"));
            eprintln!(
                "{} node{} ran{cached} in {}{run}",
                report.nodes_run,
                if report.nodes_run == 1 { "" } else { "s" },
                display::duration(report.duration)
            );
            if !report.retried.is_empty() {
                let retried: Vec<String> =
                    report.retried.iter().map(|(node, n)| format!("`{node}` ({n} attempts)")).collect();
                eprintln!("tried again: {}", retried.join(", "));
            }
        }
        Ok((ExitCode::SUCCESS, report.run_id))
    } else {
        if let Err(err) = report.check() {
            display::error(&err.into());
        }
        if !report.skipped.is_empty() {
            let names: Vec<&str> = report.skipped.iter().map(|(n, _)| n.as_str()).collect();
            eprintln!("not run because of those failures: {}", names.join(", "));
        }
        Ok((ExitCode::from(super::EXIT_FAILED), report.run_id))
    }
}

/// A command line as one line of text, arguments with spaces quoted.
pub(crate) fn command_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| if a.contains(' ') { format!("{a:?}") } else { a.clone() })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every event as a JSON line on standard output.
fn json_events() -> weavelet::EventSink {
    use weavelet::EventKind as K;
    std::sync::Arc::new(|event: &weavelet::Event| {
        let mut line = match &event.kind {
            K::Queued => serde_json::json!({ "event": "queued" }),
            K::Started => serde_json::json!({ "event": "started" }),
            K::Finished { duration, attempt } => {
                serde_json::json!({ "event": "finished", "duration_us": duration.as_micros() as u64, "attempt": attempt })
            }
            K::Cached { duration } => {
                serde_json::json!({ "event": "cached", "duration_us": duration.as_micros() as u64 })
            }
            K::Retrying { attempt, attempts, delay, failure } => serde_json::json!({
                "event": "retrying", "attempt": attempt, "attempts": attempts,
                "delay_ms": delay.as_millis() as u64, "message": errors::failure(failure),
            }),
            K::Failed { failure } => {
                serde_json::json!({ "event": "failed", "message": errors::failure(failure) })
            }
            K::Skipped { because } => serde_json::json!({ "event": "skipped", "because": &**because }),
            K::Log { level, message } => {
                serde_json::json!({ "event": "log", "level": level.name(), "message": weavelet::sanitize(message) })
            }
            K::Progress { done, total, message } => {
                serde_json::json!({ "event": "progress", "done": done, "total": total, "message": message })
            }
        };
        line["node"] = serde_json::Value::from(&*event.node);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        line["at_ms"] = serde_json::Value::from(now.as_millis() as u64);
        out!("{line}");
    })
}

/// The value `--override NODE=TEXT` gives: text parsed as the node's output
/// type, or for a table, SVG or image, the file at that path.
fn override_value(
    pipeline: &weavelet::Pipeline,
    node: &str,
    text: &str,
    cwd: &std::path::Path,
) -> anyhow::Result<weavelet::Value> {
    use weavelet::{Value, ValueType};
    let Some(found) = pipeline.nodes().iter().find(|n| n.name() == node) else {
        // `override_node` says which nodes there are.
        return Ok(Value::Null);
    };
    let bad = |e: String| anyhow!("--override {node}={text}: {e}");
    let mut ty = found.decl().output;
    let path = std::path::Path::new(text);
    let file_like = weavelet::table::io::Format::of(path).is_ok()
        || path.extension().is_some_and(|e| e.eq_ignore_ascii_case("svg"))
        || weavelet::Image::format_of(path).is_some();
    if ty == ValueType::Any && (file_like || cwd.join(text).is_file()) {
        // A node of any type (a Rhai node, say) given a file: read it by its extension.
        ty = if weavelet::table::io::Format::of(path).is_ok() {
            ValueType::Table
        } else if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("svg")) {
            ValueType::Svg
        } else if weavelet::Image::format_of(path).is_some() {
            ValueType::Image
        } else {
            ValueType::Any
        };
    }
    if matches!(ty, ValueType::Table | ValueType::Svg | ValueType::Image | ValueType::Images) {
        let path = cwd.join(text);
        let real = path.canonicalize().map_err(|e| bad(format!("{}: {e}", path.display())))?;
        let folder = if real.is_dir() {
            real.clone()
        } else {
            real.parent().map(|p| p.to_path_buf()).unwrap_or_default()
        };
        let grants = ReadGrants::new(cwd.to_path_buf(), vec![folder]);
        // What the given file is does not key anything: its value's own identity does.
        let log = ReadLog::new();
        let shown = real.display().to_string();
        return match ty {
            ValueType::Table => weavelet::table::io::read(&grants, &log, &shown)
                .map(Value::Table)
                .map_err(|e| bad(e.to_string())),
            ValueType::Svg => {
                weavelet::Svg::read(&grants, &log, &shown).map(Value::Svg).map_err(|e| bad(e.to_string()))
            }
            ValueType::Image => {
                weavelet::Image::read(&grants, &log, &shown).map(Value::Image).map_err(|e| bad(e.to_string()))
            }
            _ => {
                let files = weavelet::Image::list(&grants, &log, &shown).map_err(|e| bad(e.to_string()))?;
                let images = files
                    .iter()
                    .map(|f| weavelet::Image::read(&grants, &log, f))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| bad(e.to_string()))?;
                Ok(Value::Images(images.into()))
            }
        };
    }
    Value::parse_as(text, ty).map_err(|e| bad(format!("{e} (node `{node}` outputs {ty})")))
}

fn parse_isolation(text: &str) -> Result<weavelet::Isolation, String> {
    weavelet::Isolation::parse(text)
}

/// Where the plan's nodes run, when any runs in this process (the default,
/// a worker process each, goes unsaid): `, in process: a, b`.
fn isolation_note(
    pipeline: &weavelet::Pipeline,
    plan: &weavelet::Plan,
    default: &weavelet::Policy,
) -> String {
    let planned: std::collections::HashSet<&str> = plan.node_names().collect();
    let in_process: Vec<&str> = pipeline
        .nodes()
        .iter()
        .filter(|n| planned.contains(n.name()) && n.code().is_some() && n.source() != "builtin")
        .filter(|n| n.policy().unwrap_or(default).isolation == weavelet::Isolation::InProcess)
        .map(|n| n.name())
        .collect();
    match in_process.len() {
        0 => String::new(),
        n if n == planned.len() => ", all in this process (isolation = \"in-process\")".into(),
        _ => format!(", in this process (isolation = \"in-process\"): {}", in_process.join(", ")),
    }
}
