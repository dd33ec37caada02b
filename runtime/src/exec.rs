//! `Run`: executing a plan.
//!
//! Up to `jobs` workers (tokio blocking threads with a large stack) take ready
//! nodes from a shared queue. A worker that finishes a node keeps one of the
//! nodes that became ready for itself and queues the rest, so a chain runs on
//! one thread without hand-offs while independent branches spread over all
//! workers. A failed node poisons its dependents: they are skipped, and every
//! independent branch still finishes.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::task::JoinHandle;

use crate::error::{Error, FailureKind, NodeFailure};
use crate::events::{Event, EventKind, EventSink};
use crate::pipeline::Body;
use crate::plan::{Input, PlanInner};
use crate::runtime::Runtime;
use crate::value::Value;

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

struct RunState {
    plan: Arc<PlanInner>,
    runtime: Runtime,
    slots: Vec<Slot>,
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

pub(crate) fn start(runtime: &Runtime, plan: &crate::Plan, events: Option<EventSink>) -> Run {
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
    if let Some(events) = &events {
        for &i in &roots {
            events(&Event { node: plan.nodes[i as usize].node.name.clone(), kind: EventKind::Queued });
        }
    }
    let workers = runtime.inner.config.jobs.clamp(1, crate::runtime::MAX_JOBS).min(plan.nodes.len()).max(1);
    let state = Arc::new(RunState {
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
    });
    let workers = (0..workers)
        .map(|_| {
            let state = state.clone();
            runtime.inner.pool.spawn_blocking(move || worker(&state))
        })
        .collect();
    Run { state, workers }
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
    RunReport {
        outputs,
        failures: std::mem::take(&mut *state.failures.lock()),
        skipped: std::mem::take(&mut *state.skipped.lock()),
        nodes_run: state.nodes_run.load(Ordering::Relaxed),
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
            Some(upstream)
        }
        None => {
            let inputs = gather(state, i);
            emit(state, i, EventKind::Started);
            // Durations are only reported through events: skip the clock without a sink.
            let started = state.events.as_ref().map(|_| Instant::now());
            let result = execute(state, i, inputs);
            state.nodes_run.fetch_add(1, Ordering::Relaxed);
            match result {
                Ok(value) => {
                    *slot.value.lock() = Some(value);
                    if let Some(started) = started {
                        emit(state, i, EventKind::Finished { duration: started.elapsed() });
                    }
                    None
                }
                Err(failure) => {
                    emit(state, i, EventKind::Failed { failure: failure.clone() });
                    state.failures.lock().push(failure);
                    Some(planned.node.name.clone())
                }
            }
        }
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

/// Collect node `i`'s input values, releasing upstream values nobody needs any more.
fn gather(state: &RunState, i: u32) -> Vec<Value> {
    let planned = &state.plan.nodes[i as usize];
    planned
        .inputs
        .iter()
        .map(|input| match input {
            Input::Value(v) => v.clone(),
            Input::Node(d) => {
                let slot = &state.slots[*d as usize];
                let last = slot.consumers_left.fetch_sub(1, Ordering::AcqRel) == 1;
                let mut value = slot.value.lock();
                if last && !slot.is_target {
                    value.take().unwrap_or(Value::Null)
                } else {
                    value.clone().unwrap_or(Value::Null)
                }
            }
        })
        .zip(&planned.node.decl.inputs)
        .map(|(value, decl)| value.widen_to(decl.ty))
        .collect()
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

fn execute(state: &RunState, i: u32, inputs: Vec<Value>) -> Result<Value, NodeFailure> {
    check_columns(state, i, &inputs)?;
    let planned = &state.plan.nodes[i as usize];
    let node = &planned.node;
    let config = &state.runtime.inner.config;
    // A node whose own policy grants reads keeps them; others get the pipeline's.
    let mut policy = std::borrow::Cow::Borrowed(node.policy.as_deref().unwrap_or(&config.policy));
    if let Some(files) = &state.plan.files
        && policy.files.read.is_empty()
    {
        policy.to_mut().files = files.clone();
    }
    let policy = &*policy;
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
            )
        }
        Body::Script { script, index } => {
            script.invoke(&node.name, *index, inputs, policy, state.events.clone())
        }
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
