//! What the user sees: live node status on stderr, errors as diagnostics.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use parking_lot::Mutex;
use weavelet::{Event, EventKind, EventSink, sanitize};

/// Print an error with its whole chain, once.
pub fn error(err: &anyhow::Error) {
    eprintln!("error: {}", super::errors::error(err));
}

/// Live status of a run: a progress bar on a terminal, plain lines otherwise.
pub struct Status {
    bar: Option<ProgressBar>,
    state: Mutex<State>,
    quiet: bool,
}

struct State {
    running: BTreeSet<Arc<str>>,
    done: u64,
}

pub fn duration(d: Duration) -> String {
    weavelet::human_duration(d)
}

/// How long a recorded run took; `None` while it has not finished.
pub fn run_took(run: &weavelet::store::RunRecord) -> Option<String> {
    run.finished_ms.map(|f| duration(Duration::from_millis((f - run.started_ms).max(0) as u64)))
}

/// A node's history line as the tables show it: where it ran, attempts,
/// duration, bytes in, bytes out, peak memory, fuel (`-` where none).
pub fn node_cells(n: &weavelet::store::NodeRecord) -> [String; 7] {
    let bytes = |b: u64| if b == 0 { "-".to_string() } else { weavelet::human_bytes(b) };
    [
        match n.isolation.as_deref() {
            Some("process") => "worker",
            Some("in-process") => "in-process",
            _ => "-",
        }
        .to_string(),
        if n.attempts == 0 { "-".to_string() } else { n.attempts.to_string() },
        duration(n.duration),
        bytes(n.bytes_in),
        bytes(n.bytes_out),
        bytes(n.peak_memory),
        n.fuel.map_or("-".to_string(), |f| f.to_string()),
    ]
}

impl Status {
    pub fn new(total: usize, quiet: bool) -> Arc<Status> {
        let bar = (std::io::stderr().is_terminal() && !quiet).then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{pos}/{len}] {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Arc::new(Status { bar, state: Mutex::new(State { running: BTreeSet::new(), done: 0 }), quiet })
    }

    pub fn sink(self: &Arc<Self>) -> EventSink {
        let me = self.clone();
        Arc::new(move |event: &Event| me.on_event(event))
    }

    fn line(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => say(&line),
        }
    }

    fn on_event(&self, event: &Event) {
        let node = &event.node;
        let mut state = self.state.lock();
        match &event.kind {
            EventKind::Queued => return,
            EventKind::Started => {
                state.running.insert(node.clone());
                if self.bar.is_none() && !self.quiet {
                    say(&format!("started  {node}"));
                }
            }
            EventKind::Finished { duration: d, attempt } => {
                state.running.remove(node);
                state.done += 1;
                if !self.quiet {
                    let attempt = if *attempt > 1 { format!(" (attempt {attempt})") } else { String::new() };
                    self.line(format!("finished {node} in {}{attempt}", duration(*d)));
                }
            }
            EventKind::Cached { .. } => {
                state.done += 1;
                if !self.quiet {
                    self.line(format!("cached   {node}"));
                }
            }
            EventKind::Retrying { attempt, attempts, delay, failure } => {
                let first = super::errors::failure(failure);
                let first = first.lines().next().unwrap_or_default().to_string();
                self.line(format!(
                    "retry    {node}: attempt {attempt} of {attempts} failed ({}); trying again in {}",
                    sanitize(&first),
                    duration(*delay)
                ));
            }
            EventKind::Failed { failure } => {
                state.running.remove(node);
                state.done += 1;
                let first = super::errors::failure(failure);
                let first = first.lines().next().unwrap_or_default().to_string();
                self.line(format!("failed   {node}: {}", sanitize(&first)));
            }
            EventKind::Skipped { because } => {
                state.done += 1;
                if !self.quiet {
                    self.line(format!("skipped  {node} (upstream `{because}` failed)"));
                }
            }
            EventKind::Log { level, message } => {
                if !self.quiet {
                    for l in sanitize(message).lines() {
                        self.line(format!("log      {node} {}: {l}", level.name()));
                    }
                }
            }
            EventKind::Progress { done, total, message } => {
                if let Some(bar) = &self.bar {
                    let pct = if *total > 0 { format!(" {}%", done * 100 / total) } else { String::new() };
                    bar.set_message(format!("{node}: {}{pct}", sanitize(message)));
                }
                return;
            }
        }
        if let Some(bar) = &self.bar {
            bar.set_position(state.done);
            let running: Vec<&str> = state.running.iter().take(6).map(|s| &**s).collect();
            let more = state.running.len().saturating_sub(running.len());
            let more = if more > 0 { format!(" +{more}") } else { String::new() };
            bar.set_message(format!("running: {}{more}", running.join(", ")));
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A status line on stderr; a closed stderr (`weavelet run … 2>&1 | head`) loses it quietly.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
