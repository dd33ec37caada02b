//! The `weavelet` command-line tool: one file per subcommand; this one only
//! parses and dispatches, and prints an error once (`errors` spells library
//! errors in the CLI's own terms: flags, manifest keys, commands).
//!
//! Architecture invariant: this is the only crate that knows flags, exit
//! codes and terminals.

/// `println!` that ends the process quietly when stdout is closed (`weavelet inspect x | head`)
/// instead of panicking on the broken pipe.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout().lock(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

mod add;
mod build;
mod cache;
mod check;
mod componentize;
mod display;
mod doctor;
mod errors;
mod graph;
mod inspect;
mod layout;
mod logs;
mod new;
mod publish;
mod replay;
mod report;
mod run;
mod runs;
mod telemetry;
mod update;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Run data pipelines whose nodes are sandboxed WebAssembly components and Rhai scripts.
#[derive(Parser)]
#[command(name = "weavelet", version, long_version = long_version(), about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a pipeline (a weavelet.toml, a folder holding one, or a .rhai script).
    Run(run::RunArgs),
    /// Verify a pipeline plans (names, types, schemas, grants, parameters), building and running nothing.
    Check(check::CheckArgs),
    /// Show what a component declares: its nodes, inputs, outputs and requested capabilities.
    Inspect(inspect::InspectArgs),
    /// Fetch a published component (URL or OCI reference), review it, and pin it in weavelet.toml.
    Add(add::AddArgs),
    /// Pin newer versions of fetched components; one that asks for more needs approval.
    Update(update::UpdateArgs),
    /// Push a component (with its signature and WIT world) to an OCI registry.
    Publish(publish::PublishArgs),
    /// Sign a component file with a minisign secret key (`<file>.minisig`).
    Sign(publish::SignArgs),
    /// Make a minisign key pair for signing components.
    Keygen(publish::KeygenArgs),
    /// List recent runs, or show one run node by node (`weavelet runs show 12`).
    Runs(runs::RunsArgs),
    /// Print the log lines a run's nodes wrote (`weavelet logs last`), kept in the history.
    Logs(logs::LogsArgs),
    /// Run a pipeline, then again on every change to what it is made of (debounced).
    Watch(watch::WatchArgs),
    /// Write one self-contained HTML page about a run: graph, timeline, costs, outputs, logs.
    Report(report::ReportArgs),
    /// Draw a pipeline's DAG (SVG, PNG, Mermaid, DOT), optionally coloured by a dry run or a past run.
    Graph(graph::GraphArgs),
    /// Look after the result cache: list, collect garbage, clear, verify.
    Cache(cache::CacheArgs),
    /// Build a node folder (Rust, C, Python or JavaScript) into a component.
    Build(build::BuildArgs),
    /// Make a node project that builds and runs as made (`--lang rust|c|python|js|rhai`).
    New(new::NewArgs),
    /// Check what this machine can do: each language's toolchain, the cache folder, worker processes.
    Doctor(doctor::DoctorArgs),
    /// Print a shell completion script: weavelet completions bash > ~/.local/share/bash-completion/completions/weavelet
    Completions {
        /// bash, zsh, fish, powershell or elvish.
        shell: clap_complete::Shell,
    },
    /// Make a component of a core module that embeds its WIT world (a C build's last step).
    Componentize(componentize::ComponentizeArgs),
}

/// The version with the WIT contracts it runs (the one nodes target, then
/// the older ones it still runs) and the engines inside.
pub fn long_version() -> &'static str {
    static TEXT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let older: Vec<&str> =
            weavelet::OLDER_CONTRACTS.iter().map(|c| c.trim_start_matches("weavelet:node@")).collect();
        let also = if older.is_empty() { String::new() } else { format!(", also runs {}", older.join(", ")) };
        format!(
            "{} (WIT {}{also}; {})",
            env!("CARGO_PKG_VERSION"),
            weavelet::CONTRACT,
            env!("WEAVELET_ENGINES")
        )
    });
    &TEXT
}

/// Exit status for a run whose nodes failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit status for bad input: a pipeline that cannot be planned, a bad flag, a missing file.
pub const EXIT_USAGE: u8 = 2;

/// Counts each thread's heap bytes, so Rhai nodes get a total memory budget.
#[global_allocator]
static ALLOC: weavelet::CountingAllocator = weavelet::CountingAllocator;

fn main() -> ExitCode {
    // A worker process (a node isolated from this one) never reaches the CLI.
    weavelet::serve_worker_if_asked();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Check(args) => check::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Add(args) => add::run(args),
        Command::Update(args) => update::run(args),
        Command::Publish(args) => publish::publish(args),
        Command::Sign(args) => publish::sign(args),
        Command::Keygen(args) => publish::keygen(args),
        Command::Runs(args) => runs::run(args),
        Command::Graph(args) => graph::run(args),
        Command::Report(args) => report::run(args),
        Command::Watch(args) => watch::run(args),
        Command::Logs(args) => logs::run(args),
        Command::Cache(args) => cache::run(args),
        Command::Build(args) => build::run(args),
        Command::New(args) => new::run(args),
        Command::Componentize(args) => componentize::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            clap_complete::generate(shell, &mut Cli::command(), "weavelet", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            display::error(&err);
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// The result store under `cache_dir` (default: `$WEAVELET_CACHE_DIR` or the platform cache dir).
fn open_store(cache_dir: Option<&std::path::Path>) -> anyhow::Result<weavelet::ResultStore> {
    let dir = match cache_dir {
        Some(dir) => dir.to_path_buf(),
        None => weavelet::default_cache_dir().ok_or_else(|| {
            anyhow::anyhow!("no cache folder: set WEAVELET_CACHE_DIR or pass --cache-dir DIR")
        })?,
    };
    Ok(weavelet::ResultStore::open(&dir).map_err(weavelet::Error::from)?)
}

/// `2026-11-24 04:12:45` in local time (the `TZ` variable's zone, else the
/// system's) for milliseconds since the Unix epoch.
fn timestamp(ms: i64) -> String {
    use chrono::TimeZone as _;
    match chrono::Local.timestamp_millis_opt(ms) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.format("%Y-%m-%d %H:%M:%S").to_string()
        }
        chrono::LocalResult::None => weavelet::utc_timestamp(ms),
    }
}

/// The local zone's offset from UTC at `ms`: `UTC+09:00`.
fn zone(ms: i64) -> String {
    use chrono::TimeZone as _;
    chrono::Local
        .timestamp_millis_opt(ms)
        .single()
        .map_or("UTC".into(), |t| format!("UTC{}", t.format("%:z")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_local_dates() {
        // The zone comes from TZ when set (tests/runs.rs sets it in a child process too).
        let utc = weavelet::utc_timestamp(1_795_480_365_000);
        assert_eq!(utc, "2026-11-24 00:32:45");
        let local = super::timestamp(1_795_480_365_000);
        assert_eq!(local.len(), utc.len());
        assert!(super::zone(0).starts_with("UTC"));
    }
}
