//! `weavelet watch`: run a pipeline, then again whenever something it is made
//! of changes (the manifest, a script, a node folder, a file in a folder it
//! may read), debounced. Never woken by what it writes itself: its output
//! files, the cache folder, build folders. Each re-run costs only what
//! changed, through the result cache.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use notify::event::{EventKind, MetadataKind, ModifyKind};
use notify::{RecursiveMode, Watcher as _};

use super::run::RunArgs;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  weavelet watch examples/timeseries              # run, then again on every change
  weavelet watch pipeline.rhai -p n=10 -q         # the run's flags all apply
  weavelet watch . --debounce 1s                  # wait for a quiet second first")]
pub struct WatchArgs {
    #[command(flatten)]
    run: RunArgs,
    /// How long to wait after the last change before running again.
    #[arg(long, value_name = "DURATION", default_value = "300ms", value_parser = weavelet::parse_duration)]
    debounce: Duration,
}

/// What a watch looks at and what it ignores, as absolute paths.
struct Watched {
    /// Folders watched whole.
    dirs: Vec<PathBuf>,
    /// Files watched (through their folder: editors replace files by renaming).
    files: Vec<PathBuf>,
    /// Never a reason to run: outputs, the cache, build folders.
    ignored: Vec<PathBuf>,
}

/// Names that are never a reason to run: version control, build output,
/// dependencies, editors' temporary files.
fn noise(path: &Path) -> bool {
    path.components().any(|c| {
        matches!(c.as_os_str().to_str(), Some("target" | ".git" | "node_modules" | "__pycache__" | ".hg"))
    }) || path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
        n.ends_with('~')
            || n.ends_with(".swp")
            || n.ends_with(".swx")
            || n.starts_with(".#")
            || n == "4913"
            || n.ends_with(".tmp")
    })
}

impl Watched {
    fn of(args: &RunArgs, cwd: &Path) -> anyhow::Result<Watched> {
        let pipeline = cwd.join(args.pipeline());
        let alone = || weavelet::manifest::WatchList { inputs: vec![pipeline.clone()], outputs: Vec::new() };
        let list = if pipeline.extension().is_some_and(|e| e == "rhai") {
            alone()
        } else {
            // A manifest that cannot be read now is watched alone until it can.
            weavelet::manifest::watch_list(&pipeline).unwrap_or_else(|_| {
                match weavelet::manifest::locate(&pipeline) {
                    Ok(file) => weavelet::manifest::WatchList { inputs: vec![file], outputs: Vec::new() },
                    Err(_) => alone(),
                }
            })
        };
        let absolute = |p: &Path| std::path::absolute(cwd.join(p)).unwrap_or_else(|_| cwd.join(p));
        let mut watched = Watched { dirs: Vec::new(), files: Vec::new(), ignored: Vec::new() };
        for input in list.inputs.iter().map(|p| absolute(p)).chain(args.allowed_reads().map(&absolute)) {
            if input.is_dir() {
                // A node folder's own build output is not its source.
                watched.ignored.push(input.join("build"));
                watched.dirs.push(input);
            } else {
                watched.files.push(input);
            }
        }
        watched.ignored.extend(list.outputs.iter().map(|p| absolute(p)));
        watched.ignored.extend(args.saved().map(&absolute));
        let cache = match args.cache_folder() {
            Some(dir) => Some(absolute(dir)),
            None => weavelet::default_cache_dir(),
        };
        watched.ignored.extend(cache);
        Ok(watched)
    }

    /// Whether a change at `path` is a reason to run.
    fn wants(&self, path: &Path) -> bool {
        if noise(path) || self.ignored.iter().any(|i| path.starts_with(i)) {
            return false;
        }
        self.files.iter().any(|f| f == path) || self.dirs.iter().any(|d| path.starts_with(d))
    }

    /// Start watching; returns the watcher (dropping it stops) and how many places it covers.
    fn start(
        &self,
        tx: mpsc::Sender<notify::Result<notify::Event>>,
    ) -> anyhow::Result<notify::RecommendedWatcher> {
        let mut watcher = notify::recommended_watcher(move |event| {
            let _ = tx.send(event);
        })
        .context("starting to watch for changes")?;
        for dir in &self.dirs {
            watcher
                .watch(dir, RecursiveMode::Recursive)
                .map_err(|e| anyhow!("watching {}: {e}", dir.display()))?;
        }
        let parents: BTreeSet<&Path> = self.files.iter().filter_map(|f| f.parent()).collect();
        for parent in parents {
            if !self.dirs.iter().any(|d| parent.starts_with(d)) {
                watcher
                    .watch(parent, RecursiveMode::NonRecursive)
                    .map_err(|e| anyhow!("watching {}: {e}", parent.display()))?;
            }
        }
        Ok(watcher)
    }
}

/// Whether an event kind can mean a changed content: not a read, not an access time.
fn changes(kind: &EventKind) -> bool {
    !matches!(kind, EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)))
}

pub fn run(args: WatchArgs) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("finding the current folder")?;
    let mut previous: Option<String> = None;
    let mut because = String::from("first run");
    loop {
        let watched = Watched::of(&args.run, &cwd)?;
        let (tx, rx) = mpsc::channel();
        // Watching starts before the run: a change made while it runs is seen.
        let watcher = watched.start(tx)?;
        eprintln!("── {} · {because}", super::timestamp(now_ms()));
        let outcome = match super::run::execute(args.run.clone()) {
            Ok((_, run)) => run.and_then(|id| recorded(&args.run, id)),
            Err(err) => {
                super::display::error(&err);
                None
            }
        };
        match (&outcome, &previous) {
            (Some(now), Some(before)) => eprintln!("── {now} (before: {before})"),
            (Some(now), None) => eprintln!("── {now}"),
            (None, _) => eprintln!("── the pipeline did not run: fix it and save"),
        }
        previous = outcome.or(previous);
        eprintln!(
            "watching {} folder{} and {} file{} for changes (Ctrl-C stops)",
            watched.dirs.len(),
            if watched.dirs.len() == 1 { "" } else { "s" },
            watched.files.len(),
            if watched.files.len() == 1 { "" } else { "s" }
        );
        // Wait for a change that matters, then for quiet.
        let mut seen: Vec<PathBuf> = Vec::new();
        let mut last = Instant::now();
        loop {
            // Quiet means no wanted change for `debounce`: other events (the run's own
            // outputs, say) do not postpone it.
            let timeout = if seen.is_empty() {
                Duration::from_secs(3600)
            } else {
                args.debounce.saturating_sub(last.elapsed())
            };
            match rx.recv_timeout(timeout) {
                Ok(Ok(event)) if changes(&event.kind) => {
                    for path in event.paths {
                        if watched.wants(&path) {
                            if !seen.contains(&path) {
                                seen.push(path);
                            }
                            last = Instant::now();
                        }
                    }
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => eprintln!("warning: watching: {e}"),
                Err(mpsc::RecvTimeoutError::Timeout) if !seen.is_empty() => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(ExitCode::SUCCESS),
            }
        }
        drop(watcher);
        let shown = |p: &PathBuf| p.strip_prefix(&cwd).unwrap_or(p).display().to_string();
        because = match seen.len() {
            1 => format!("changed: {}", shown(&seen[0])),
            n => format!("changed: {} and {} more", shown(&seen[0]), n - 1),
        };
    }
}

/// Run `id` of the history as one line: `run 12 ok in 3.1 ms (2 ran, 1 cached)`.
fn recorded(args: &RunArgs, id: i64) -> Option<String> {
    let store = super::open_store(args.cache_folder()).ok()?;
    let (run, _) = store.run(id).ok()??;
    let took = super::display::run_took(&run).unwrap_or_default();
    Some(format!(
        "run {} {} in {took} ({} ran, {} cached, {} failed)",
        run.id, run.status, run.counts[0], run.counts[1], run.counts[2]
    ))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
