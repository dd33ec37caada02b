//! "Cached or run?": one decision per node, made before anything runs where
//! a node's inputs are known (the prepass, also the dry run) and again when
//! its inputs arrive; storing a result and its output identity when it ran.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use parking_lot::Mutex;
use weavelet_data::Reads;

use super::keys::{Keyed, effective_policy, keyed};
use super::state::RunState;
use super::{CacheUse, DryRunStep, Reason, RunOptions};
use crate::cache::{
    DepKind, FileDep, LogLine, MAX_LOG_BYTES, MAX_LOG_LINES, NewEntry, NodeRecord, ResultCache, RunId,
    RunPlanRecord, Stored, now_ms,
};
use crate::error::{Error, NodeRole};
use crate::events::{Event, EventKind, EventSink};
use crate::key::{self, Digest, KeyHasher};
use crate::plan::{Input, Plan};
use crate::value::Value;

/// The result cache as one run uses it.
pub(crate) struct Caching {
    pub store: Arc<dyn ResultCache>,
    /// Reuse and store results (`false`: only record the history).
    pub reuse: bool,
    run: RunId,
    origin: String,
    /// Per planned node: computed even if stored.
    force: Vec<bool>,
    /// Per planned node: allowed to run; `None`: all are.
    pub only: Option<Vec<bool>>,
    /// Entries used by this run (their last-use time is updated at the end).
    pub touched: Mutex<Vec<Digest>>,
    /// Log lines of nodes not yet recorded (only when the run is recorded).
    pub logs: Option<Arc<LogBook>>,
}

/// Each node's log lines until its line of the history is written, bounded
/// by [`MAX_LOG_LINES`] and [`MAX_LOG_BYTES`] a node.
#[derive(Default)]
pub(crate) struct LogBook {
    nodes: Mutex<rustc_hash::FxHashMap<Arc<str>, Kept>>,
}

#[derive(Default)]
struct Kept {
    lines: Vec<LogLine>,
    bytes: usize,
    dropped: u64,
}

impl LogBook {
    /// Keep `message` of `node`, or count it when the node's share is full.
    pub fn keep(&self, node: &Arc<str>, level: crate::LogLevel, message: &str) {
        let mut nodes = self.nodes.lock();
        let kept = nodes.entry(node.clone()).or_default();
        if kept.lines.len() >= MAX_LOG_LINES || kept.bytes + message.len() > MAX_LOG_BYTES {
            kept.dropped += 1;
            return;
        }
        kept.bytes += message.len();
        kept.lines.push(LogLine { at_ms: now_ms(), level, message: message.to_string() });
    }

    /// The lines kept of `node`, and a last one counting those that were not.
    fn take(&self, node: &str) -> Vec<LogLine> {
        let Some(kept) = self.nodes.lock().remove(node) else { return Vec::new() };
        let mut lines = kept.lines;
        if kept.dropped > 0 {
            lines.push(LogLine {
                at_ms: now_ms(),
                level: crate::LogLevel::Warn,
                message: format!(
                    "… {} more lines not kept: the history keeps {MAX_LOG_LINES} lines and {} of log a node a run",
                    kept.dropped,
                    crate::human_bytes(MAX_LOG_BYTES as u64)
                ),
            });
        }
        lines
    }
}

/// `events`, and every log line kept in `book` on the way.
pub(crate) fn keeping_logs(book: Arc<LogBook>, events: Option<EventSink>) -> EventSink {
    Arc::new(move |event: &Event| {
        if let EventKind::Log { level, message } = &event.kind {
            book.keep(&event.node, *level, message);
        }
        if let Some(events) = &events {
            crate::events::deliver(events, event);
        }
    })
}

impl Caching {
    /// Write one line of the run history now, so a killed run keeps the
    /// record of what it finished.
    pub fn record(&self, line: &NodeRecord) {
        let logs = self.logs.as_ref().map(|book| book.take(&line.node)).unwrap_or_default();
        if logs.is_empty() {
            self.store.record(self.run, line);
        } else {
            self.store.record(self.run, &NodeRecord { logs, ..line.clone() });
        }
    }

    /// The run's number in the history (0 when it is not recorded).
    pub fn run_id(&self) -> RunId {
        self.run
    }

    /// Mark the entries this run used and record how it ended; returns its number.
    pub fn close(&self, ok: bool) -> RunId {
        self.store.touch(&std::mem::take(&mut *self.touched.lock()));
        self.store.end_run(self.run, ok);
        self.run
    }
}

/// Resolve what `options` ask of the cache against the plan, and (when
/// `record`) start the run's history.
pub(super) fn caching(
    plan: &Plan,
    cache: Option<Arc<dyn ResultCache>>,
    options: &RunOptions,
    record: bool,
    default: &crate::Policy,
) -> Result<Option<Caching>, Error> {
    let cache = cache.filter(|_| options.cache != CacheUse::Off);
    let Some(store) = cache else {
        if !options.recompute.is_empty() || !options.only.is_empty() {
            return Err(Error::NeedsCache);
        }
        return Ok(None);
    };
    let inner = &plan.inner;
    let index = |name: &str, role: NodeRole| {
        inner.nodes.iter().position(|n| &*n.node.name == name).ok_or_else(|| {
            let known: Vec<String> = inner.nodes.iter().map(|n| n.node.name.to_string()).collect();
            Error::UnknownNode {
                name: name.to_string(),
                role,
                planned: true,
                suggestion: crate::suggest(name, known.iter().map(String::as_str)),
                known,
            }
        })
    };
    let mut force = vec![false; inner.nodes.len()];
    for name in &options.recompute {
        force[index(name, NodeRole::Recompute)?] = true;
    }
    // Topological order: a node's inputs come first, so one pass spreads `force` downstream.
    for i in 0..inner.nodes.len() {
        if force[i] {
            for &d in &inner.nodes[i].dependents {
                force[d as usize] = true;
            }
        }
    }
    let only = if options.only.is_empty() {
        None
    } else {
        let mut only = vec![false; inner.nodes.len()];
        for name in &options.only {
            only[index(name, NodeRole::Only)?] = true;
        }
        Some(only)
    };
    let run = if record {
        store.begin_run(
            &inner.origin,
            &options.description,
            &run_plan_record(plan, Some(&*store), default),
        )?
    } else {
        0
    };
    Ok(Some(Caching {
        store,
        reuse: options.cache == CacheUse::ReuseAndStore,
        run,
        origin: inner.origin.clone(),
        force,
        only,
        touched: Mutex::new(Vec::new()),
        logs: record.then(Arc::default),
    }))
}

/// What the history keeps of `plan` as its run starts: the pipeline file's
/// fingerprint, the outputs asked for, the parameters and each node's identities.
pub(super) fn run_plan_record(
    plan: &Plan,
    store: Option<&dyn ResultCache>,
    default: &crate::Policy,
) -> RunPlanRecord {
    let origin = std::path::Path::new(plan.origin());
    let digest =
        store.filter(|_| origin.is_absolute()).and_then(|s| s.fingerprint(DepKind::File, origin).ok());
    // The planned graph once: the parameters read, and what feeds each node's inputs.
    let graph = plan.graph();
    let mut params: Vec<(String, Value)> = Vec::new();
    for input in graph.iter().flat_map(|node| &node.inputs) {
        if let crate::GraphSource::Param { name, value } = &input.from
            && !params.iter().any(|(p, _)| p == name)
        {
            params.push((name.clone(), value.clone()));
        }
    }
    params.sort_by(|a, b| a.0.cmp(&b.0));
    RunPlanRecord {
        digest,
        targets: plan.targets().map(str::to_string).collect(),
        params,
        nodes: graph
            .iter()
            .enumerate()
            .map(|(i, node)| super::keys::planned_record(plan, i, &node.inputs, default))
            .collect(),
    }
}

/// Before anything runs: the nodes whose results the cache holds, found in
/// dependency order from the parameters up (a node below one that must run
/// is decided when that one has run). Their entries go to `state.hits` and
/// their output identities to `state.ids`; the steps say why for each node.
pub(super) fn prepass(state: &RunState) -> Vec<DryRunStep> {
    let mut steps = Vec::new();
    for (i, planned) in state.plan.nodes.iter().enumerate() {
        let i = i as u32;
        let node = &planned.node;
        let step = |cached: bool, why: Reason| DryRunStep { node: node.name.to_string(), cached, why };
        if let Some(d) = planned.inputs.iter().find_map(|input| match input {
            Input::Node(d) if state.ids[*d as usize].get().is_none() => Some(*d),
            _ => None,
        }) {
            let upstream = state.name(d).to_string();
            steps.push(step(false, Reason::UpstreamRuns { upstream }));
            continue;
        }
        if node.is_fixed() {
            steps.push(step(false, Reason::Given));
            continue;
        }
        let Some(c) = &state.caching else {
            steps.push(step(false, Reason::NoCache));
            continue;
        };
        // As `gather` will give them: a parameter widened to the type its input declares.
        let inputs: Vec<Value> = planned
            .inputs
            .iter()
            .zip(&node.decl.inputs)
            .map(|(input, decl)| match input {
                Input::Value(v) => v.clone().widen_to(decl.ty),
                Input::Node(_) => Value::Null,
            })
            .collect();
        let policy = effective_policy(state, i);
        let k = keyed(state, i, &policy, &inputs);
        let why = match decide(c, state, i, &k) {
            Ok(entry) => {
                let _ = state.ids[i as usize].set(entry.output);
                steps.push(step(true, Reason::Stored { run: entry.run }));
                let _ = state.hits[i as usize].set((entry, k.key));
                continue;
            }
            Err(why) => why,
        };
        let why = match &c.only {
            Some(only) if !only[i as usize] => Reason::NotSelected(Box::new(why)),
            _ => why,
        };
        steps.push(step(false, why));
    }
    steps
}

/// Whether node `i`, keyed `k`, comes from the cache: the stored entry, or
/// why it must run.
pub(super) fn decide(c: &Caching, state: &RunState, i: u32, k: &Keyed) -> Result<Stored, Reason> {
    let node = &state.plan.nodes[i as usize].node;
    if node.is_fixed() {
        return Err(Reason::Given);
    }
    if !c.reuse {
        return Err(Reason::CacheOff);
    }
    if let Some(why) = &k.uncacheable {
        return Err(Reason::NotCacheable(why.clone()));
    }
    if c.force[i as usize] {
        return Err(Reason::Recompute);
    }
    stored_entry(c, &node.name, k)
}

/// The entry stored under `keyed.key`, if there is one and the files it
/// read are unchanged; otherwise why not.
fn stored_entry(c: &Caching, node: &str, keyed: &Keyed) -> Result<Stored, Reason> {
    let entry = match c.store.lookup(&keyed.key) {
        Ok(Some(entry)) => entry,
        Ok(None) => return Err(Reason::Missed(explain_miss(c, node, keyed))),
        Err(e) => return Err(Reason::Missed(format!("the cache could not be read ({e})"))),
    };
    for dep in &entry.files {
        let now = c.store.fingerprint(dep.kind, std::path::Path::new(&dep.path));
        if now.as_deref() != Ok(dep.hash.as_str()) {
            let what = match dep.kind {
                DepKind::Dir => "the listing of folder",
                DepKind::Tree => "a file under",
                DepKind::File => "file",
            };
            return Err(Reason::Missed(format!("{what} {} changed", dep.path)));
        }
    }
    if let Err(why) = c.store.check(&entry) {
        // Removed by the run that computes it again (a dry run only says so).
        return Err(Reason::Damaged(why));
    }
    Ok(entry)
}

/// Why node `i` missed the cache, comparing its key's parts with the latest stored ones.
fn explain_miss(c: &Caching, node: &str, keyed: &Keyed) -> String {
    let Some(last) = c.store.latest_parts(&c.origin, node) else {
        return "not in the cache".into();
    };
    let parts = &keyed.parts;
    if last.code != parts.code {
        return "its code changed".into();
    }
    if last.policy != parts.policy {
        return "its grants changed".into();
    }
    let changed: Vec<String> = parts
        .inputs
        .iter()
        .filter(|(name, id)| !last.inputs.iter().any(|(n, i)| n == name && i == id))
        .map(|(name, _)| format!("`{name}`"))
        .collect();
    if changed.is_empty() {
        "not in the cache".into()
    } else {
        format!("input {} changed", changed.join(", "))
    }
}

/// Record and announce that node `i` came from the cache.
pub(super) fn announce_cached(
    state: &RunState,
    c: &Caching,
    i: u32,
    started: Instant,
    started_ms: i64,
    bytes_in: u64,
    entry: &Stored,
) {
    let name = state.name(i);
    c.record(&NodeRecord {
        node: name.to_string(),
        status: "cached".into(),
        started_ms,
        duration: started.elapsed(),
        bytes_in,
        bytes_out: entry.size,
        reason: entry.run.map(|run| Reason::Stored { run: Some(run) }.to_string()),
        output: Some(key::hex(&entry.output)),
        ..NodeRecord::default()
    });
    state.cached.lock().push(name.to_string());
    state.emit(i, EventKind::Cached { duration: started.elapsed() });
}

/// What a node read, fingerprinted now: files and folder listings through
/// host readers, and every file of the folders it was handed whole.
pub(super) fn dependencies(c: &Caching, reads: &Reads) -> Result<Vec<FileDep>, String> {
    // Each one is fingerprinted after the node returned, by the host: bounded.
    let count = reads.files.len() + reads.dirs.len() + reads.trees.len();
    if count > MAX_DEPENDENCIES {
        return Err(format!(
            "it read {count} files and folders, more than the {MAX_DEPENDENCIES} fingerprinted"
        ));
    }
    let mut deps = Vec::new();
    let kinds = [(DepKind::File, &reads.files), (DepKind::Dir, &reads.dirs), (DepKind::Tree, &reads.trees)];
    for (kind, paths) in kinds {
        for path in paths {
            let hash = c.store.fingerprint(kind, path)?;
            deps.push(FileDep { kind, path: path.to_string_lossy().into_owned(), hash });
        }
    }
    Ok(deps)
}

/// Files and folders one node's result may depend on; past this it is not cached.
const MAX_DEPENDENCIES: usize = 10_000;

/// The identity of an output computed under `k` from what it read.
pub(super) fn output_identity(k: &Keyed, deps: &[FileDep]) -> Digest {
    let mut h = KeyHasher::new("output");
    h.field("key", &k.key);
    for d in deps {
        h.field(d.kind.name(), d.path.as_bytes()).field("hash", d.hash.as_bytes());
    }
    h.finish()
}

/// Store node `i`'s value under its key; returns the bytes stored.
pub(super) fn store_result(
    c: &Caching,
    state: &RunState,
    i: u32,
    k: &Keyed,
    output: &Digest,
    deps: &[FileDep],
    value: &Value,
) -> Result<u64, String> {
    let entry = NewEntry {
        key: &k.key,
        output,
        files: deps,
        parts: &k.parts,
        node: state.name(i),
        pipeline: &c.origin,
        run: Some(c.run),
    };
    c.store.store(&entry, value)
}

/// An identity for an output that is not cached: its content when that is
/// small and cheap to hash, else one that no other run will produce.
pub(super) fn fresh_id(key: &Digest, value: &Value) -> Digest {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let cheap = !matches!(value, Value::Table(_) | Value::Image(_) | Value::Images(_))
        && value.byte_size() <= 1 << 20;
    if cheap && let Some(id) = key::value_id(value) {
        return id;
    }
    let mut h = KeyHasher::new("fresh");
    h.field("key", key)
        .field("pid", &std::process::id().to_le_bytes())
        .field("time", &now_ms().to_le_bytes())
        .field("counter", &COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    h.finish()
}
