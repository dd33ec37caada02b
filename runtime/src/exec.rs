//! `Run`: executing a plan.
//!
//! Up to `jobs` workers (tokio blocking threads with a large stack) take ready
//! nodes from a shared queue. A worker that finishes a node keeps one of the
//! nodes that became ready for itself and queues the rest, so a chain runs on
//! one thread without hand-offs while independent branches spread over all
//! workers. A failed node poisons its dependents: they are skipped, and every
//! independent branch still finishes.
//!
//! With a result store, a ready node's key is computed from its code, its
//! policy and its inputs' identities (see [`crate::results::key`]); a stored
//! result whose files are unchanged is used instead of running the node, and
//! a node that runs has its result stored as soon as it finishes, so a killed
//! run loses only the nodes that were running.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::task::JoinHandle;

use crate::config::Policy;
use crate::error::{Error, FailureKind, NodeFailure};
use crate::events::{Event, EventKind, EventSink};
use crate::pipeline::{Body, Capability};
use crate::plan::{Input, PlanInner};
use crate::results::key::{self, Digest, KeyHasher};
use crate::results::{FileDep, NodeRecord, Parts, ResultStore, codec, now_ms};
use crate::runtime::Runtime;
use crate::value::Value;

/// How a run uses the result cache and the run history.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Receives every node event.
    pub events: Option<EventSink>,
    /// The result cache and run history (`None`: nothing is reused or recorded).
    pub store: Option<Arc<ResultStore>>,
    /// Reuse and store results (`false`: only record the history).
    pub reuse: bool,
    /// The pipeline's name in the store (its manifest or script path).
    pub pipeline: String,
    /// The command line, for the history.
    pub command: String,
    /// Compute these nodes and everything downstream of them even if their results are stored.
    pub from: Vec<String>,
    /// Run only these nodes; every other planned node must come from the cache.
    pub only: Vec<String>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("store", &self.store)
            .field("reuse", &self.reuse)
            .field("pipeline", &self.pipeline)
            .field("from", &self.from)
            .field("only", &self.only)
            .finish()
    }
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The requested outputs that were produced, in request order.
    pub outputs: Vec<(String, Value)>,
    /// Every node that failed.
    pub failures: Vec<NodeFailure>,
    /// Nodes that did not run because something upstream failed: (node, failed upstream).
    pub skipped: Vec<(String, String)>,
    /// How many nodes ran (successfully or not).
    pub nodes_run: usize,
    /// Nodes whose output came from the result cache.
    pub cached: Vec<String>,
    /// Nodes that needed more than one attempt: (node, attempts made).
    pub retried: Vec<(String, u32)>,
    /// The run's number in the history, when it was recorded.
    pub run_id: Option<i64>,
    /// The identity of each produced output (see [`crate::results::key`]), when
    /// the run used a result store: equal identities mean equal values.
    pub identities: Vec<(String, Digest)>,
    /// Wall time of the whole run.
    pub duration: Duration,
}

impl RunReport {
    /// The value of a requested output, if it was produced.
    pub fn output(&self, name: &str) -> Option<&Value> {
        self.outputs.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Whether every planned node succeeded.
    pub fn is_success(&self) -> bool {
        self.failures.is_empty()
    }

    /// `Err(Error::Run)` listing the failures, if there were any.
    pub fn check(&self) -> Result<(), Error> {
        if self.failures.is_empty() { Ok(()) } else { Err(Error::Run(self.failures.clone())) }
    }
}

struct Slot {
    /// Inputs from planned nodes not yet produced.
    pending: AtomicU32,
    /// Reads of this node's output still to come (then the value is dropped,
    /// unless it is a requested output).
    consumers_left: AtomicU32,
    value: Mutex<Option<Value>>,
    /// The failed upstream node that stops this node from running.
    poisoned: OnceLock<Arc<str>>,
    is_target: bool,
}

/// The result store as one run uses it.
pub(crate) struct Caching {
    store: Arc<ResultStore>,
    reuse: bool,
    run: i64,
    pipeline: String,
    /// Per planned node: computed even if stored (`--from`).
    force: Vec<bool>,
    /// Per planned node: allowed to run (`--only`); `None`: all are.
    only: Option<Vec<bool>>,
    /// Entries used by this run (their last-use time is updated at the end).
    touched: Mutex<Vec<Digest>>,
}

struct RunState {
    plan: Arc<PlanInner>,
    runtime: Runtime,
    slots: Vec<Slot>,
    /// The identity of each node's output (set before its dependents are queued).
    ids: Vec<OnceLock<Digest>>,
    /// The size of each node's output, where known.
    sizes: Vec<std::sync::atomic::AtomicU64>,
    caching: Option<Caching>,
    /// Nodes the prepass found in the cache: their entries and keys.
    hits: Vec<OnceLock<(crate::results::Entry, Digest)>>,
    /// Whether a node's value must be in memory: it is an output, or a node
    /// that reads it may run. A cached node nobody needs is not loaded.
    needed: Vec<bool>,
    cached: Mutex<Vec<String>>,
    retried: Mutex<Vec<(String, u32)>>,
    queue: Mutex<VecDeque<u32>>,
    ready: Condvar,
    outstanding: AtomicUsize,
    events: Option<EventSink>,
    failures: Mutex<Vec<NodeFailure>>,
    skipped: Mutex<Vec<(String, String)>>,
    nodes_run: AtomicUsize,
    started: Instant,
}

/// One execution of a plan, under way. Wait for it with [`Run::wait`] (blocking)
/// or [`Run::finish`] (async); its events go to the sink given at the start.
#[must_use = "a run reports its outputs and failures only when waited for"]
pub struct Run {
    state: Arc<RunState>,
    workers: Vec<JoinHandle<()>>,
}

impl Run {
    /// Block until every planned node has finished, failed or been skipped.
    pub fn wait(self) -> RunReport {
        let pool = self.state.runtime.clone();
        pool.inner.pool.block_on(self.finish())
    }

    /// Wait for the run from async code (any executor).
    pub async fn finish(self) -> RunReport {
        finish(self).await
    }

    /// How many planned nodes have not completed yet.
    pub fn remaining(&self) -> usize {
        self.state.outstanding.load(Ordering::Relaxed)
    }
}

pub(crate) fn start(
    runtime: &Runtime,
    plan: &crate::Plan,
    events: Option<EventSink>,
    caching: Option<Caching>,
) -> Run {
    let mut state = new_state(runtime, plan, events, caching);
    if state.caching.as_ref().is_some_and(|c| c.reuse) {
        prepass(&state);
        let plan = &state.plan;
        for i in 0..plan.nodes.len() {
            state.needed[i] = state.slots[i].is_target
                || plan.nodes[i].dependents.iter().any(|&d| state.hits[d as usize].get().is_none());
        }
    }
    let state = Arc::new(state);
    let plan = &state.plan;
    if let Some(events) = &state.events {
        for i in state.queue.lock().iter() {
            events(&Event { node: plan.nodes[*i as usize].node.name.clone(), kind: EventKind::Queued });
        }
    }
    let workers = runtime.inner.config.jobs.clamp(1, crate::runtime::MAX_JOBS).min(plan.nodes.len()).max(1);
    let workers = (0..workers)
        .map(|_| {
            let state = state.clone();
            runtime.inner.pool.spawn_blocking(move || worker(&state))
        })
        .collect();
    Run { state, workers }
}

fn new_state(
    runtime: &Runtime,
    plan: &crate::Plan,
    events: Option<EventSink>,
    caching: Option<Caching>,
) -> RunState {
    let plan = plan.inner.clone();
    let mut slots: Vec<Slot> = plan
        .nodes
        .iter()
        .map(|n| Slot {
            pending: AtomicU32::new(n.deps),
            consumers_left: AtomicU32::new(n.dependents.len() as u32),
            value: Mutex::new(None),
            poisoned: OnceLock::new(),
            is_target: false,
        })
        .collect();
    for &t in &plan.targets {
        slots[t as usize].is_target = true;
    }
    let roots: VecDeque<u32> =
        (0..plan.nodes.len() as u32).filter(|&i| plan.nodes[i as usize].deps == 0).collect();
    RunState {
        ids: (0..plan.nodes.len()).map(|_| OnceLock::new()).collect(),
        sizes: (0..plan.nodes.len()).map(|_| std::sync::atomic::AtomicU64::new(0)).collect(),
        caching,
        hits: (0..plan.nodes.len()).map(|_| OnceLock::new()).collect(),
        needed: vec![true; plan.nodes.len()],
        cached: Mutex::new(Vec::new()),
        retried: Mutex::new(Vec::new()),
        outstanding: AtomicUsize::new(plan.nodes.len()),
        plan,
        runtime: runtime.clone(),
        slots,
        queue: Mutex::new(roots),
        ready: Condvar::new(),
        events,
        failures: Mutex::new(Vec::new()),
        skipped: Mutex::new(Vec::new()),
        nodes_run: AtomicUsize::new(0),
        started: Instant::now(),
    }
}

/// One line of a dry run: what would happen to a node, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DryRunStep {
    /// The node.
    pub node: String,
    /// Whether its output would come from the cache.
    pub cached: bool,
    /// Why it would run, or which run stored the result it would use.
    pub why: String,
}

/// What a run with `options` would do, node by node in dependency order,
/// without running anything or recording a run.
pub(crate) fn dry_run(
    runtime: &Runtime,
    plan: &crate::Plan,
    options: &RunOptions,
) -> Result<Vec<DryRunStep>, Error> {
    let caching = caching_for(plan, options, false)?;
    let state = new_state(runtime, plan, None, caching);
    Ok(prepass(&state))
}

/// Before anything runs: the nodes whose results the cache holds, found in
/// dependency order from the parameters up (a node below one that must run
/// is decided when that one has run). Their entries go to `state.hits` and
/// their output identities to `state.ids`; the steps say why for each node.
fn prepass(state: &RunState) -> Vec<DryRunStep> {
    let mut steps = Vec::new();
    for (i, planned) in state.plan.nodes.iter().enumerate() {
        let i = i as u32;
        let node = &planned.node;
        let step = |cached: bool, why: String| DryRunStep { node: node.name.to_string(), cached, why };
        if let Some(d) = planned.inputs.iter().find_map(|input| match input {
            Input::Node(d) if state.ids[*d as usize].get().is_none() => Some(*d),
            _ => None,
        }) {
            let upstream = &state.plan.nodes[d as usize].node.name;
            steps.push(step(false, format!("input from `{upstream}`, which runs first")));
            continue;
        }
        if matches!(node.body, Body::Fixed(_)) {
            steps.push(step(false, "given with --override".into()));
            continue;
        }
        let Some(c) = &state.caching else {
            steps.push(step(false, "there is no result cache".into()));
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
        let why = if !c.reuse {
            "the cache is off (--no-cache)".to_string()
        } else if let Some(why) = &k.uncacheable {
            format!("not cached: {why}")
        } else if c.force[i as usize] {
            "forced by --from".into()
        } else {
            match stored_entry(c, &node.name, &k) {
                Ok(entry) => {
                    let _ = state.ids[i as usize].set(entry.output);
                    steps.push(step(true, format!("stored by run {}", entry.run.unwrap_or(0))));
                    let _ = state.hits[i as usize].set((entry, k.key));
                    continue;
                }
                Err(why) => why,
            }
        };
        let why = match &c.only {
            Some(only) if !only[i as usize] => {
                format!("{why}; --only does not run it, so the run would fail here")
            }
            _ => why,
        };
        steps.push(step(false, why));
    }
    steps
}

/// Resolve `--from` and `--only` against the plan and start the run's history.
pub(crate) fn caching(plan: &crate::Plan, options: &RunOptions) -> Result<Option<Caching>, Error> {
    caching_for(plan, options, true)
}

fn caching_for(plan: &crate::Plan, options: &RunOptions, record: bool) -> Result<Option<Caching>, Error> {
    let Some(store) = options.store.clone() else {
        if !options.from.is_empty() || !options.only.is_empty() {
            return Err(Error::Usage("--from and --only need the result cache".into()));
        }
        return Ok(None);
    };
    let inner = &plan.inner;
    let index = |name: &str, flag: &str| {
        inner.nodes.iter().position(|n| &*n.node.name == name).ok_or_else(|| {
            let hint = crate::plan::suggest(name, inner.nodes.iter().map(|n| n.node.name()))
                .map_or_else(String::new, |s| format!("; did you mean `{s}`?"));
            Error::Usage(format!("{flag} {name}: no node `{name}` is planned in this run{hint}"))
        })
    };
    let mut force = vec![false; inner.nodes.len()];
    for name in &options.from {
        force[index(name, "--from")?] = true;
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
            only[index(name, "--only")?] = true;
        }
        Some(only)
    };
    let run = if record {
        store.begin_run(&options.pipeline, &options.command).map_err(|e| Error::Usage(e.to_string()))?
    } else {
        0
    };
    Ok(Some(Caching {
        store,
        reuse: options.reuse,
        run,
        pipeline: options.pipeline.clone(),
        force,
        only,
        touched: Mutex::new(Vec::new()),
    }))
}

async fn finish(handles: Run) -> RunReport {
    for worker in handles.workers {
        // A worker cannot panic (node bodies run under catch_unwind); if the
        // pool is shutting down, what finished is still reported.
        let _ = worker.await;
    }
    let state = handles.state;
    let outputs = state
        .plan
        .targets
        .iter()
        .filter_map(|&t| {
            let value = state.slots[t as usize].value.lock().clone()?;
            Some((state.plan.nodes[t as usize].node.name.to_string(), value))
        })
        .collect();
    let failures = std::mem::take(&mut *state.failures.lock());
    let identities = match &state.caching {
        Some(_) => state
            .plan
            .targets
            .iter()
            .filter_map(|&t| {
                Some((state.plan.nodes[t as usize].node.name.to_string(), *state.ids[t as usize].get()?))
            })
            .collect(),
        None => Vec::new(),
    };
    let run_id = state.caching.as_ref().map(|c| {
        // The history is a record, not the result: a store that cannot be
        // written loses lines, never the outputs.
        let _ = c.store.touch(&std::mem::take(&mut *c.touched.lock()));
        let _ = c.store.end_run(c.run, failures.is_empty());
        c.run
    });
    RunReport {
        outputs,
        failures,
        skipped: std::mem::take(&mut *state.skipped.lock()),
        nodes_run: state.nodes_run.load(Ordering::Relaxed),
        cached: std::mem::take(&mut *state.cached.lock()),
        retried: std::mem::take(&mut *state.retried.lock()),
        run_id,
        identities,
        duration: state.started.elapsed(),
    }
}

fn worker(state: &RunState) {
    let mut next: Option<u32> = None;
    loop {
        let i = match next.take() {
            Some(i) => i,
            None => {
                let mut queue = state.queue.lock();
                loop {
                    if let Some(i) = queue.pop_front() {
                        break i;
                    }
                    if state.outstanding.load(Ordering::Acquire) == 0 {
                        return;
                    }
                    state.ready.wait(&mut queue);
                }
            }
        };
        next = process(state, i);
    }
}

fn emit(state: &RunState, i: u32, kind: EventKind) {
    if let Some(events) = &state.events {
        events(&Event { node: state.plan.nodes[i as usize].node.name.clone(), kind });
    }
}

/// Run (or skip) node `i`, publish its result, and return one newly ready node.
fn process(state: &RunState, i: u32) -> Option<u32> {
    let planned = &state.plan.nodes[i as usize];
    let slot = &state.slots[i as usize];

    let poisoned_by = slot.poisoned.get().cloned();
    let failed: Option<Arc<str>> = match poisoned_by {
        Some(upstream) => {
            state.skipped.lock().push((planned.node.name.to_string(), upstream.to_string()));
            emit(state, i, EventKind::Skipped { because: upstream.clone() });
            if let Some(c) = &state.caching {
                record_now(
                    c,
                    NodeRecord {
                        node: planned.node.name.to_string(),
                        status: "skipped".into(),
                        started_ms: now_ms(),
                        error: Some(format!("upstream `{upstream}` failed")),
                        ..NodeRecord::default()
                    },
                );
            }
            Some(upstream)
        }
        None => match compute(state, i) {
            Ok(()) => None,
            Err(failure) => {
                emit(state, i, EventKind::Failed { failure: failure.clone() });
                state.failures.lock().push(failure);
                Some(planned.node.name.clone())
            }
        },
    };

    let mut keep: Option<u32> = None;
    let mut queued = 0usize;
    for &d in &planned.dependents {
        let dep_slot = &state.slots[d as usize];
        if let Some(cause) = &failed {
            let _ = dep_slot.poisoned.set(cause.clone());
        }
        if dep_slot.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            emit(state, d, EventKind::Queued);
            if keep.is_none() {
                keep = Some(d);
            } else {
                state.queue.lock().push_back(d);
                queued += 1;
            }
        }
    }
    if queued == 1 {
        state.ready.notify_one();
    } else if queued > 1 {
        state.ready.notify_all();
    }
    if state.outstanding.fetch_sub(1, Ordering::AcqRel) == 1 {
        // The last node: wake every idle worker so it can exit.
        let _guard = state.queue.lock();
        state.ready.notify_all();
    }
    keep
}

/// What node `i`'s result is keyed by, or why it is not cached.
struct Keyed {
    key: Digest,
    parts: Parts,
    uncacheable: Option<String>,
}

/// The policy node `i` runs under: its own, else the runtime's, with the
/// pipeline's read grants unless its own policy grants reads.
fn effective_policy<'a>(state: &'a RunState, i: u32) -> std::borrow::Cow<'a, Policy> {
    let node = &state.plan.nodes[i as usize].node;
    let mut policy =
        std::borrow::Cow::Borrowed(node.policy.as_deref().unwrap_or(&state.runtime.inner.config.policy));
    if let Some(files) = &state.plan.files
        && policy.files.read.is_empty()
    {
        policy.to_mut().files = files.clone();
    }
    policy
}

/// Whether node `i` is a component that may read its granted folders through
/// WASI (it declares a `read-dir` capability): then every file in them counts.
fn reads_through_wasi(state: &RunState, i: u32) -> bool {
    let node = &state.plan.nodes[i as usize].node;
    matches!(node.body, Body::Component { .. })
        && node.decl.capabilities.iter().any(|c| matches!(c, Capability::ReadDir(_)))
}

fn keyed(state: &RunState, i: u32, policy: &Policy, inputs: &[Value]) -> Keyed {
    let planned = &state.plan.nodes[i as usize];
    let node = &planned.node;
    let mut uncacheable = policy.uncacheable();
    let code: Option<Digest> = match &node.body {
        Body::Component { module, node: inner } => {
            let mut h = KeyHasher::new("component-node");
            h.field("component", &module.hash).field("node", inner.as_bytes());
            Some(h.finish())
        }
        Body::Script { script, index } => script.identity(*index),
        Body::Fixed(value) => key::value_id(value),
        Body::Builtin(_) => None,
    };
    let code = code.unwrap_or_else(|| {
        uncacheable
            .get_or_insert_with(|| "it is a built-in node, whose code Weavelet cannot fingerprint".into());
        [0; 32]
    });
    // The grants that change what a node computes; budgets only decide whether it finishes.
    let mut h = KeyHasher::new("policy");
    h.field("clock", &[u8::from(policy.clock)]).field("random", &[u8::from(policy.random)]);
    let mut env: Vec<&String> = policy.env.iter().collect();
    env.sort();
    for name in env {
        h.field("env", name.as_bytes());
        h.field(
            "value",
            std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()).unwrap_or_default().as_bytes(),
        );
    }
    h.field("base", policy.files.base.to_string_lossy().as_bytes());
    for dir in &policy.files.read {
        h.field("read", dir.to_string_lossy().as_bytes());
    }
    for (_, guest) in &policy.write {
        h.field("write", guest.as_bytes());
    }
    h.field("output", node.decl.output.name().as_bytes());
    let policy_id = h.finish();

    let mut parts = Parts { code: key::hex(&code), policy: key::hex(&policy_id), inputs: Vec::new() };
    let mut h = KeyHasher::new("node");
    h.field("code", &code).field("policy", &policy_id);
    for (k, input) in planned.inputs.iter().enumerate() {
        let id = match input {
            Input::Node(d) => state.ids[*d as usize].get().copied(),
            Input::Value(_) => key::value_id(&inputs[k]),
        };
        let id = id.unwrap_or_else(|| {
            uncacheable.get_or_insert_with(|| {
                format!("input `{}` cannot be fingerprinted", node.decl.inputs[k].name)
            });
            [0; 32]
        });
        let name = node.decl.inputs.get(k).map_or("", |d| d.name.as_str());
        h.field("input", name.as_bytes()).field("id", &id);
        parts.inputs.push((name.to_string(), key::hex(&id)));
    }
    Keyed { key: h.finish(), parts, uncacheable }
}

/// Why node `i` missed the cache, comparing its key's parts with the latest stored ones.
fn explain_miss(c: &Caching, node: &str, parts: &Parts) -> String {
    let Some((last, _)) = c.store.latest_parts(&c.pipeline, node) else {
        return "not in the cache".into();
    };
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

/// The entry stored under `keyed.key`, if there is one and the files it
/// read are unchanged; otherwise why not.
fn stored_entry(c: &Caching, node: &str, keyed: &Keyed) -> Result<crate::results::Entry, String> {
    let entry = match c.store.lookup(&keyed.key) {
        Ok(Some(entry)) => entry,
        Ok(None) => return Err(explain_miss(c, node, &keyed.parts)),
        Err(e) => return Err(format!("the cache could not be read ({e})")),
    };
    for dep in &entry.files {
        let now = c.store.fingerprint(&dep.kind, std::path::Path::new(&dep.path));
        if now.as_deref() != Some(dep.hash.as_str()) {
            let what = match dep.kind.as_str() {
                "dir" => "the listing of folder",
                "tree" => "a file under",
                _ => "file",
            };
            return Err(format!("{what} {} changed", dep.path));
        }
    }
    if let Err(why) = c.store.present(&entry) {
        // Removed by the run that computes it again (a dry run only says so).
        return Err(format!("{DAMAGED} ({why}); computed again"));
    }
    Ok(entry)
}

/// How a miss because of a damaged entry begins (the entry is then removed).
const DAMAGED: &str = "its stored result was damaged";

/// Record and announce that node `i` came from the cache.
fn cached(
    state: &RunState,
    c: &Caching,
    i: u32,
    started: Instant,
    started_ms: i64,
    bytes_in: u64,
    entry: &crate::results::Entry,
) {
    let node = &state.plan.nodes[i as usize].node;
    record_now(
        c,
        NodeRecord {
            node: node.name.to_string(),
            status: "cached".into(),
            started_ms,
            duration: started.elapsed(),
            bytes_in,
            bytes_out: entry.size(),
            reason: entry.run.map(|run| format!("stored by run {run}")),
            ..NodeRecord::default()
        },
    );
    state.cached.lock().push(node.name.to_string());
    emit(state, i, EventKind::Cached { duration: started.elapsed() });
}

/// Node `i`'s value: from the cache, or by running it (again, if a failure
/// may be transient), storing the result.
fn compute(state: &RunState, i: u32) -> Result<(), NodeFailure> {
    let planned = &state.plan.nodes[i as usize];
    let node = &planned.node;
    let slot = &state.slots[i as usize];
    let started = Instant::now();
    let started_ms = now_ms();
    let mut reason: Option<String> = None;
    if let (Some(c), Some((entry, key))) = (&state.caching, state.hits[i as usize].get()) {
        let bytes_in: u64 = planned
            .inputs
            .iter()
            .map(|input| match input {
                Input::Node(d) => state.sizes[*d as usize].load(Ordering::Relaxed),
                Input::Value(v) => v.byte_size() as u64,
            })
            .sum();
        let loaded = if state.needed[i as usize] { c.store.load(entry).map(Some) } else { Ok(None) };
        match loaded {
            Ok(value) => {
                release_inputs(state, i);
                // Not needed: left in the cache, loaded only if a node that reads it runs after all.
                *slot.value.lock() = value;
                state.sizes[i as usize].store(entry.size(), Ordering::Relaxed);
                c.touched.lock().push(*key);
                cached(state, c, i, started, started_ms, bytes_in, entry);
                return Ok(());
            }
            Err(why) => {
                let _ = c.store.remove(key);
                reason = Some(format!("{DAMAGED} ({why}); computed again"));
            }
        }
    }
    let inputs = gather(state, i)?;
    let bytes_in: u64 = planned
        .inputs
        .iter()
        .zip(&inputs)
        .map(|(input, value)| match input {
            Input::Node(d) => state.sizes[*d as usize].load(Ordering::Relaxed),
            Input::Value(_) => value.byte_size() as u64,
        })
        .sum();
    let policy = effective_policy(state, i);
    let keyed = state.caching.as_ref().map(|_| keyed(state, i, &policy, &inputs));

    if let (Some(c), Some(k)) = (&state.caching, &keyed) {
        if reason.is_some() {
            // Its stored result was found damaged above.
        } else if matches!(node.body, Body::Fixed(_)) {
            reason = Some("given with --override".into());
        } else if !c.reuse {
            reason = Some("the cache is off (--no-cache)".into());
        } else if let Some(why) = &k.uncacheable {
            reason = Some(format!("not cached: {why}"));
        } else if c.force[i as usize] {
            reason = Some("forced by --from".into());
        } else {
            match stored_entry(c, &node.name, k) {
                Ok(entry) => match c.store.load(&entry) {
                    Ok(value) => {
                        state.sizes[i as usize].store(entry.size(), Ordering::Relaxed);
                        let _ = state.ids[i as usize].set(entry.output);
                        *slot.value.lock() = Some(value);
                        c.touched.lock().push(k.key);
                        cached(state, c, i, started, started_ms, bytes_in, &entry);
                        return Ok(());
                    }
                    Err(why) => {
                        let _ = c.store.remove(&k.key);
                        reason = Some(format!("{DAMAGED} ({why}); computed again"));
                    }
                },
                Err(why) => {
                    if why.starts_with(DAMAGED) {
                        let _ = c.store.remove(&k.key);
                    }
                    reason = Some(why);
                }
            }
        }
        if let Some(only) = &c.only
            && !only[i as usize]
        {
            let why = reason.unwrap_or_default();
            let failure = NodeFailure {
                node: node.name.to_string(),
                source: node.source.to_string(),
                kind: FailureKind::Error { kind: "not-cached".into(), input: None },
                message: format!(
                    "--only does not run it, and its result cannot come from the cache ({why}); \
                     run without --only first, add --only {0}, or give its value with --override {0}=VALUE",
                    node.name
                ),
            };
            record_failure(state, i, started_ms, started, bytes_in, 0, &failure);
            return Err(failure);
        }
    }

    emit(state, i, EventKind::Started);
    let attempts = if policy.has_io() { policy.attempts.max(1) } else { 1 };
    let mut attempt = 1u32;
    let (result, observed) = loop {
        crate::observe::begin();
        let result = execute(state, i, &policy, inputs.clone());
        let observed = crate::observe::take();
        match result {
            Err(failure) if attempt < attempts && retryable(&failure, &policy) => {
                let delay = backoff(&policy, attempt);
                emit(state, i, EventKind::Retrying { attempt, attempts, delay, failure });
                std::thread::sleep(delay);
                attempt += 1;
            }
            result => break (result, observed),
        }
    };
    state.nodes_run.fetch_add(1, Ordering::Relaxed);
    if attempt > 1 {
        state.retried.lock().push((node.name.to_string(), attempt));
    }
    let value = match result {
        Ok(value) => value,
        Err(failure) => {
            record_failure(state, i, started_ms, started, bytes_in, attempt, &failure);
            return Err(failure);
        }
    };

    // The output's identity, and the result stored when it may be reused.
    let mut bytes_out = value.byte_size() as u64;
    let output = match (&state.caching, &keyed) {
        (Some(c), Some(k)) => {
            let deps = if k.uncacheable.is_none() && !matches!(node.body, Body::Fixed(_)) {
                dependencies(c, state, i, &policy, &observed)
            } else {
                Err(String::new())
            };
            match deps {
                Ok(deps) => {
                    let mut h = KeyHasher::new("output");
                    h.field("key", &k.key);
                    for d in &deps {
                        h.field(&d.kind, d.path.as_bytes()).field("hash", d.hash.as_bytes());
                    }
                    let output = h.finish();
                    if c.reuse {
                        match store(c, state, i, k, &output, &deps, &value) {
                            Ok(size) => bytes_out = size,
                            Err(why) => reason = Some(format!("not stored: {why}")),
                        }
                    }
                    output
                }
                Err(why) => {
                    if !why.is_empty() {
                        reason = Some(format!("not cached: {why}"));
                    }
                    fresh_id(&k.key, &value)
                }
            }
        }
        _ => fresh_id(&[0; 32], &value),
    };
    state.sizes[i as usize].store(bytes_out, Ordering::Relaxed);
    let _ = state.ids[i as usize].set(output);
    *slot.value.lock() = Some(value);
    if let Some(c) = &state.caching {
        let record = NodeRecord {
            node: node.name.to_string(),
            status: if matches!(node.body, Body::Fixed(_)) { "overridden" } else { "ran" }.into(),
            started_ms,
            duration: started.elapsed(),
            attempts: attempt,
            bytes_in,
            bytes_out,
            peak_memory: observed.peak_memory,
            fuel: observed.fuel,
            error: None,
            reason,
        };
        record_now(c, record);
    }
    emit(state, i, EventKind::Finished { duration: started.elapsed(), attempt });
    Ok(())
}

fn record_failure(
    state: &RunState,
    i: u32,
    started_ms: i64,
    started: Instant,
    bytes_in: u64,
    attempts: u32,
    failure: &NodeFailure,
) {
    if let Some(c) = &state.caching {
        let record = NodeRecord {
            node: state.plan.nodes[i as usize].node.name.to_string(),
            status: "failed".into(),
            started_ms,
            duration: started.elapsed(),
            attempts,
            bytes_in,
            error: Some(failure.message.lines().next().unwrap_or_default().to_string()),
            ..NodeRecord::default()
        };
        record_now(c, record);
    }
}

/// Write one line of the run history now, so a killed run keeps the record
/// of what it finished. (The history is a record, not the result: a store
/// that cannot be written loses lines, never outputs.)
fn record_now(c: &Caching, line: NodeRecord) {
    let _ = c.store.record(c.run, std::slice::from_ref(&line));
}

/// What node `i` read, fingerprinted now: files and folder listings through
/// host readers, and every file of its read folders if it may read them through WASI.
fn dependencies(
    c: &Caching,
    state: &RunState,
    i: u32,
    policy: &Policy,
    observed: &crate::observe::Observed,
) -> Result<Vec<FileDep>, String> {
    let mut deps = Vec::new();
    let mut add = |kind: &str, path: &std::path::Path| -> Result<(), String> {
        let hash = c.store.fingerprint(kind, path).ok_or_else(|| match kind {
            "tree" => format!(
                "it may read any file under {} through WASI, and that folder holds more than {} files or cannot be listed",
                path.display(),
                crate::results::MAX_TREE_FILES
            ),
            _ => format!("{} could not be read again to fingerprint it", path.display()),
        })?;
        deps.push(FileDep { kind: kind.into(), path: path.to_string_lossy().into_owned(), hash });
        Ok(())
    };
    for f in &observed.files {
        add("file", f)?;
    }
    for d in &observed.dirs {
        add("dir", d)?;
    }
    if reads_through_wasi(state, i) {
        for d in &policy.files.read {
            add("tree", d)?;
        }
    }
    Ok(deps)
}

/// Store node `i`'s value under its key; returns the bytes stored.
fn store(
    c: &Caching,
    state: &RunState,
    i: u32,
    k: &Keyed,
    output: &Digest,
    deps: &[FileDep],
    value: &Value,
) -> Result<u64, String> {
    let node = &state.plan.nodes[i as usize].node;
    let bytes = codec::encode(value)?;
    if let Value::Svg(svg) = value {
        // A document is stored as text; make sure it reads back byte for byte.
        match codec::decode(&bytes) {
            Ok(Value::Svg(back)) if back.to_text() == svg.to_text() => {}
            _ => return Err("the document does not read back as it was written".into()),
        }
    }
    c.store
        .put(&k.key, output, &bytes, codec::kind(value), deps, &k.parts, &node.name, &c.pipeline, Some(c.run))
        .map_err(|e| e.to_string())?;
    Ok(bytes.len() as u64)
}

/// An identity for an output that is not cached: its content when that is
/// small and cheap to hash, else one that no other run will produce.
fn fresh_id(key: &Digest, value: &Value) -> Digest {
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

/// Whether a failure may go away on another attempt.
fn retryable(failure: &NodeFailure, policy: &Policy) -> bool {
    match &failure.kind {
        FailureKind::Error { kind, .. } => kind != "invalid-input" && kind != "unknown-node",
        FailureKind::Host => true,
        FailureKind::Trap
        | FailureKind::Timeout(_)
        | FailureKind::Memory { .. }
        | FailureKind::Limit { .. }
        | FailureKind::OutputTooLarge { .. } => policy.retry_violations,
        FailureKind::WrongOutputType => false,
    }
}

/// The wait after failed attempt `attempt`: the policy's backoff doubled per
/// attempt, at most a minute, times a jitter between 0.5 and 1.5.
fn backoff(policy: &Policy, attempt: u32) -> Duration {
    let base =
        policy.backoff.saturating_mul(1u32 << attempt.saturating_sub(1).min(16)).min(Duration::from_secs(60));
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    base.mul_f64(0.5 + f64::from(nanos % 1000) / 1000.0)
}

/// Collect node `i`'s input values, releasing upstream values nobody needs
/// any more. A cached input that was left in the cache is loaded now.
fn gather(state: &RunState, i: u32) -> Result<Vec<Value>, NodeFailure> {
    let planned = &state.plan.nodes[i as usize];
    let mut values = Vec::with_capacity(planned.inputs.len());
    for (input, decl) in planned.inputs.iter().zip(&planned.node.decl.inputs) {
        let value = match input {
            Input::Value(v) => v.clone(),
            Input::Node(d) => {
                let slot = &state.slots[*d as usize];
                let last = slot.consumers_left.fetch_sub(1, Ordering::AcqRel) == 1;
                let mut value = slot.value.lock();
                if value.is_none()
                    && let (Some(c), Some((entry, key))) = (&state.caching, state.hits[*d as usize].get())
                {
                    match c.store.load(entry) {
                        Ok(v) => *value = Some(v),
                        Err(why) => {
                            let _ = c.store.remove(key);
                            let upstream = &state.plan.nodes[*d as usize].node.name;
                            return Err(NodeFailure {
                                node: planned.node.name.to_string(),
                                source: planned.node.source.to_string(),
                                kind: FailureKind::Host,
                                message: format!(
                                    "the stored result of `{upstream}` it reads is damaged ({why}); it was removed \
                                     from the cache: run again to compute it"
                                ),
                            });
                        }
                    }
                }
                if last && !slot.is_target {
                    value.take().unwrap_or(Value::Null)
                } else {
                    value.clone().unwrap_or(Value::Null)
                }
            }
        };
        values.push(value.widen_to(decl.ty));
    }
    Ok(values)
}

/// Count node `i` as done reading its inputs without reading them (its
/// output came from the cache), releasing values nobody needs any more.
fn release_inputs(state: &RunState, i: u32) {
    for input in &state.plan.nodes[i as usize].inputs {
        if let Input::Node(d) = input {
            let slot = &state.slots[*d as usize];
            if slot.consumers_left.fetch_sub(1, Ordering::AcqRel) == 1 && !slot.is_target {
                slot.value.lock().take();
            }
        }
    }
}

/// Check table inputs against the columns the node requires; the error names
/// the input, where it came from, and every missing or mistyped column.
fn check_columns(state: &RunState, i: u32, inputs: &[Value]) -> Result<(), NodeFailure> {
    let planned = &state.plan.nodes[i as usize];
    let node = &planned.node;
    for (k, (decl, value)) in node.decl.inputs.iter().zip(inputs).enumerate() {
        let Value::Table(table) = value else { continue };
        if decl.columns.is_empty() {
            continue;
        }
        if let Err(problems) = table.check_columns(&decl.columns) {
            let from = match &planned.inputs[k] {
                Input::Node(d) => format!("node `{}`", state.plan.nodes[*d as usize].node.name),
                Input::Value(_) => format!("parameter `{}`", node.bindings[k]),
            };
            return Err(NodeFailure {
                node: node.name.to_string(),
                source: node.source.to_string(),
                kind: FailureKind::Error { kind: "invalid-input".into(), input: Some(decl.name.clone()) },
                message: format!("input `{}` (the table from {from}): {problems}", decl.name),
            });
        }
    }
    Ok(())
}

fn execute(state: &RunState, i: u32, policy: &Policy, inputs: Vec<Value>) -> Result<Value, NodeFailure> {
    check_columns(state, i, &inputs)?;
    let planned = &state.plan.nodes[i as usize];
    let node = &planned.node;
    let config = &state.runtime.inner.config;
    let outcome = catch_unwind(AssertUnwindSafe(|| match &node.body {
        Body::Component { module, node: component_node } => {
            let named: Vec<(String, Value)> =
                node.decl.inputs.iter().zip(inputs).map(|(decl, v)| (decl.name.clone(), v)).collect();
            crate::sandbox::invoke(
                &module.pre,
                &node.name,
                component_node,
                &node.source,
                &named,
                policy,
                config.epoch_tick,
                state.events.clone(),
                reads_through_wasi(state, i),
            )
        }
        Body::Script { script, index } => {
            script.invoke(&node.name, *index, inputs, policy, state.events.clone())
        }
        Body::Fixed(value) => Ok(value.clone()),
        Body::Builtin(f) => f(&inputs).map_err(|message| NodeFailure {
            node: node.name.to_string(),
            source: node.source.to_string(),
            kind: FailureKind::Error { kind: "failed".into(), input: None },
            message,
        }),
    }));
    let value = match outcome {
        Ok(result) => result?,
        Err(panic) => {
            let what = crate::error::panic_message(&*panic);
            return Err(NodeFailure {
                node: node.name.to_string(),
                source: node.source.to_string(),
                kind: FailureKind::Host,
                message: format!("the host panicked while running it: {what}"),
            });
        }
    };
    let declared = node.decl.output;
    if !value.value_type().feeds(declared) && value != Value::Null {
        return Err(NodeFailure {
            node: node.name.to_string(),
            source: node.source.to_string(),
            kind: FailureKind::WrongOutputType,
            message: format!("it declares {declared} but returned {}", value.value_type()),
        });
    }
    Ok(value)
}
