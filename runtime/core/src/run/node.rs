//! One node's turn: from the cache, or run by its backend (tried again
//! while its failure may be transient), its output's identity set and its
//! result stored, one line of history either way.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::Reason;
use super::cached::{announce_cached, decide, dependencies, fresh_id, output_identity, store_result};
use super::keys::{effective_policy, keyed};
use super::retry::{backoff, retryable};
use super::schedule::{gather, release_inputs};
use super::state::RunState;
use crate::cache::{NodeRecord, now_ms};
use crate::error::{FailureKind, NodeFailure};
use crate::events::EventKind;
use crate::node::{Ahead, Call, Early, Usage};
use crate::pipeline::Body;
use crate::plan::Input;
use crate::policy::{Isolation, Policy};
use crate::value::Value;

/// Node `i`'s value: from the cache, or by running it (again, if a failure
/// may be transient), storing the result.
pub(super) fn compute(state: &RunState, i: u32, claimed: &mut VecDeque<u32>) -> Result<(), NodeFailure> {
    let planned = &state.plan.nodes[i as usize];
    let node = &planned.node;
    let slot = &state.slots[i as usize];
    // Started ahead of its turn by the backend: finished when it runs,
    // abandoned (dropped) on every path that does not run it.
    let mut early = state.early[i as usize].lock().take();
    let started = Instant::now();
    // The wall-clock start is only for the history.
    let started_ms = if state.caching.is_some() { now_ms() } else { 0 };
    let mut reason: Option<Reason> = None;

    // Found by the prepass: loaded only if a running node or an output needs it.
    if let Some(c) = &state.caching
        && let Some((entry, key)) = state.hits[i as usize].get()
    {
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
                *slot.value.lock() = value;
                state.sizes[i as usize].store(entry.size, Ordering::Relaxed);
                c.touched.lock().push(*key);
                announce_cached(state, c, i, started, started_ms, bytes_in, entry);
                return Ok(());
            }
            Err(why) => {
                c.store.remove(key);
                reason = Some(Reason::Damaged(why));
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
        if reason.is_none() {
            // Not decided by the prepass: an input came from a node that ran.
            match decide(c, state, i, k) {
                Ok(entry) => match c.store.load(&entry) {
                    Ok(value) => {
                        state.sizes[i as usize].store(entry.size, Ordering::Relaxed);
                        let _ = state.ids[i as usize].set(entry.output);
                        *slot.value.lock() = Some(value);
                        c.touched.lock().push(k.key);
                        announce_cached(state, c, i, started, started_ms, bytes_in, &entry);
                        return Ok(());
                    }
                    Err(why) => {
                        c.store.remove(&k.key);
                        reason = Some(Reason::Damaged(why));
                    }
                },
                Err(why) => {
                    if matches!(why, Reason::Damaged(_)) {
                        c.store.remove(&k.key);
                    }
                    reason = Some(why);
                }
            }
        }
        if let Some(only) = &c.only
            && !only[i as usize]
        {
            let why = reason.map(|r| r.to_string()).unwrap_or_default();
            let failure = NodeFailure::new(
                &node.name,
                &node.source,
                FailureKind::NotSelected { why: why.clone() },
                format!("it is not selected to run, and its result cannot come from the cache ({why})"),
            );
            record_failure(state, i, (started_ms, started), bytes_in, 0, &failure, None);
            return Err(failure);
        }
    }

    state.emit(i, EventKind::Started);
    // The rest of a chain, for a backend that may start it early (not when
    // this node was itself started early: its chain is under way).
    // Else ready nodes of the same source beside it, which this worker then
    // finishes itself.
    let (below, ahead, beside) = match (&early, &node.body) {
        (None, Body::Code(code)) if code.isolation(&policy) == Isolation::Process => {
            let chain = chain_below(state, i);
            if chain.0.is_empty() {
                let (below, ahead) = ready_beside(state, i);
                claimed.extend(below.iter().copied());
                (below, ahead, true)
            } else {
                (chain.0, chain.1, false)
            }
        }
        _ => (Vec::new(), Vec::new(), false),
    };
    let attempts = policy.attempts();
    let mut attempt = 1u32;
    let (result, usage) = loop {
        let ahead = if attempt == 1 { &ahead[..] } else { &[] };
        let (result, usage, started) = execute(state, i, &policy, inputs.clone(), early.take(), ahead);
        // The backend says which it started (none of a chain below a failed node).
        let taken = started.len();
        for (d, started) in below.iter().zip(started) {
            *state.early[*d as usize].lock() = Some(started);
        }
        // Ready nodes it took from the queue that the backend did not start go
        // back, for any worker to take.
        if beside && attempt == 1 && taken < below.len() {
            let back = &below[taken..];
            claimed.retain(|d| !back.contains(d));
            state.queue.lock().extend(back.iter().copied());
            state.ready.notify_all();
        }
        match result {
            Err(failure) if attempt < attempts && retryable(&failure, &policy) => {
                let delay = backoff(&policy, attempt);
                state.emit(i, EventKind::Retrying { attempt, attempts, delay, failure });
                std::thread::sleep(delay);
                attempt += 1;
            }
            result => break (result, usage),
        }
    };
    state.nodes_run.fetch_add(1, Ordering::Relaxed);
    if attempt > 1 {
        state.retried.lock().push((node.name.to_string(), attempt));
    }
    let isolation = node.code().map(|code| code.isolation(&policy).name().to_string());
    let value = match result {
        Ok(value) => value,
        Err(failure) => {
            record_failure(state, i, (started_ms, started), bytes_in, attempt, &failure, isolation);
            return Err(failure);
        }
    };

    // The output's identity, and the result stored when it may be reused.
    let mut note = reason.map(|r| r.to_string());
    let mut bytes_out = value.byte_size() as u64;
    let output = match (&state.caching, &keyed) {
        (Some(c), Some(k)) => {
            let deps = if k.uncacheable.is_none() && !node.is_fixed() {
                dependencies(c, &usage.reads)
            } else {
                Err(String::new())
            };
            match deps {
                Ok(deps) => {
                    let output = output_identity(k, &deps);
                    if c.reuse {
                        match store_result(c, state, i, k, &output, &deps, &value) {
                            Ok(size) => bytes_out = size,
                            Err(why) => note = Some(format!("not stored: {why}")),
                        }
                    }
                    Some(output)
                }
                Err(why) => {
                    if !why.is_empty() {
                        note = Some(format!("not cached: {why}"));
                    }
                    Some(fresh_id(&k.key, &value))
                }
            }
        }
        // Without a result cache no key reads an identity: none is computed.
        _ => None,
    };
    state.sizes[i as usize].store(bytes_out, Ordering::Relaxed);
    if let Some(output) = output {
        let _ = state.ids[i as usize].set(output);
    }
    *slot.value.lock() = Some(value);
    if let Some(c) = &state.caching {
        c.record(&NodeRecord {
            node: node.name.to_string(),
            status: if node.is_fixed() { "overridden" } else { "ran" }.into(),
            started_ms,
            duration: started.elapsed(),
            attempts: attempt,
            bytes_in,
            bytes_out,
            peak_memory: usage.peak_memory,
            fuel: usage.fuel,
            error: None,
            reason: note,
            isolation,
            logs: Vec::new(),
            output: output.map(|o| crate::key::hex(&o)),
        });
    }
    if state.events.is_some() {
        state.emit(i, EventKind::Finished { duration: started.elapsed(), attempt });
    }
    Ok(())
}

fn record_failure(
    state: &RunState,
    i: u32,
    (started_ms, started): (i64, Instant),
    bytes_in: u64,
    attempts: u32,
    failure: &NodeFailure,
    isolation: Option<String>,
) {
    if let Some(c) = &state.caching {
        c.record(&NodeRecord {
            node: state.name(i).to_string(),
            status: "failed".into(),
            started_ms,
            duration: started.elapsed(),
            attempts,
            bytes_in,
            error: Some(failure.message.lines().next().unwrap_or_default().to_string()),
            isolation,
            ..NodeRecord::default()
        });
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
                Input::Node(d) => format!("node `{}`", state.name(*d)),
                Input::Value(_) => format!("parameter `{}`", node.bindings[k]),
            };
            return Err(NodeFailure::new(
                &node.name,
                &node.source,
                FailureKind::Error { kind: "invalid-input".into(), input: Some(decl.name.clone()) },
                format!("input `{}` (the table from {from}): {problems}", decl.name),
            ));
        }
    }
    Ok(())
}

/// One attempt at node `i`: its backend invoked under `policy`, a panic
/// caught, the output's type checked. Returns what the attempt used too.
fn execute(
    state: &RunState,
    i: u32,
    policy: &Policy,
    inputs: Vec<Value>,
    early: Option<Box<dyn Early>>,
    ahead: &[Ahead<'_>],
) -> (Result<Value, NodeFailure>, Usage, Vec<Box<dyn Early>>) {
    let node = &state.plan.nodes[i as usize].node;
    if let Err(failure) = check_columns(state, i, &inputs) {
        return (Err(failure), Usage::default(), Vec::new());
    }
    let call =
        Call::new(&node.name, &node.source, &node.decl, policy, state.events.as_ref()).with_ahead(ahead);
    let outcome = catch_unwind(AssertUnwindSafe(|| match &node.body {
        Body::Code(code) => match early.and_then(|early| early.finish(&call)) {
            Some(result) => result,
            None => code.invoke(&call, inputs),
        },
        Body::Fixed(value) => Ok(value.clone()),
    }));
    let result = match outcome {
        Ok(result) => result,
        Err(panic) => Err(call.fail(
            FailureKind::Host,
            format!("the host panicked while running it: {}", weavelet_data::panic_message(&*panic)),
        )),
    };
    let result = result.and_then(|value| {
        let declared = node.decl.output;
        if !value.value_type().feeds(declared) && value != Value::Null {
            return Err(call.fail(
                FailureKind::WrongOutputType,
                format!("it declares {declared} but returned {}", value.value_type()),
            ));
        }
        Ok(value)
    });
    let started = call.take_started();
    (result, call.finish(), started)
}

/// The most nodes of a chain handed to a backend at once.
const MAX_AHEAD: usize = 64;

/// The rest of the chain below node `i`, as far as a backend may start it
/// early: each node the only reader of the one before and reading no other
/// node, run rather than found in the cache by the prepass, selected to run,
/// and run outside this process. With the planned index of each.
fn chain_below(state: &RunState, i: u32) -> (Vec<u32>, Vec<Ahead<'_>>) {
    let mut below = Vec::new();
    let mut ahead = Vec::new();
    let mut last = i;
    while ahead.len() < MAX_AHEAD {
        let [d] = state.plan.nodes[last as usize].dependents[..] else { break };
        let planned = &state.plan.nodes[d as usize];
        let others = planned.inputs.iter().any(|input| matches!(input, Input::Node(n) if *n != last));
        if others || !runs_code(state, d) {
            break;
        }
        let inputs = planned
            .inputs
            .iter()
            .zip(&planned.node.decl.inputs)
            .map(|(input, decl)| match input {
                Input::Value(v) => Some(v.clone().widen_to(decl.ty)),
                Input::Node(_) => None,
            })
            .collect();
        let Some(node) = ahead_of(state, d, inputs) else { break };
        ahead.push(node);
        below.push(d);
        last = d;
    }
    (below, ahead)
}

/// The most ready nodes handed to a backend beside the one it runs.
const MAX_BESIDE: usize = 16;

/// Ready nodes of the same source as node `i` that a backend may start
/// right after it (and that the calling worker takes from the queue, to
/// finish them itself): its share of the queue (so the other workers keep
/// theirs), at most [`MAX_BESIDE`], each run outside this process, not found
/// in the cache beforehand, not failed upstream, with every input in memory.
fn ready_beside(state: &RunState, i: u32) -> (Vec<u32>, Vec<Ahead<'_>>) {
    let mut queue = state.queue.lock();
    let share = (queue.len() / state.jobs.max(1)).min(MAX_BESIDE);
    let source = &state.plan.nodes[i as usize].node.source;
    let mut beside = Vec::new();
    let mut ahead = Vec::new();
    if share == 0 {
        return (beside, ahead);
    }
    // Only the front of the queue is looked at, so a long queue of other
    // nodes costs every node no more than this.
    let window = queue.len().min(4 * MAX_BESIDE);
    let mut left = Vec::with_capacity(window);
    for d in queue.drain(..window) {
        match (ahead.len() < share).then(|| beside_node(state, d, source)).flatten() {
            Some(node) => {
                beside.push(d);
                ahead.push(node);
            }
            None => left.push(d),
        }
    }
    for d in left.into_iter().rev() {
        queue.push_front(d);
    }
    (beside, ahead)
}

/// Node `d` (ready) as a node to start beside one from `source`, if it may be.
fn beside_node<'s>(state: &'s RunState, d: u32, source: &Arc<str>) -> Option<Ahead<'s>> {
    let planned = &state.plan.nodes[d as usize];
    let poisoned = state.slots[d as usize].poisoned.get().is_some();
    if planned.node.source != *source || poisoned || !runs_code(state, d) {
        return None;
    }
    // A node started already (the next of a chain under way) is that chain's.
    if state.early[d as usize].lock().is_some() {
        return None;
    }
    let mut inputs = Vec::with_capacity(planned.inputs.len());
    for (input, decl) in planned.inputs.iter().zip(&planned.node.decl.inputs) {
        let value = match input {
            Input::Value(v) => v.clone(),
            // A value the cache left on disk is loaded only at the node's turn.
            Input::Node(n) => state.slots[*n as usize].value.lock().clone()?,
        };
        inputs.push(Some(value.widen_to(decl.ty)));
    }
    ahead_of(state, d, inputs)
}

/// Whether planned node `d` is code that will run at its turn, as far as is
/// known before it: not found in the cache by the prepass, selected to run.
fn runs_code(state: &RunState, d: u32) -> bool {
    let code = matches!(state.plan.nodes[d as usize].node.body, Body::Code(_));
    let found = state.hits[d as usize].get().is_some();
    let unselected =
        state.caching.as_ref().and_then(|c| c.only.as_ref()).is_some_and(|only| !only[d as usize]);
    code && !found && !unselected
}

/// Planned node `d` with `inputs`, as a node a backend may start early, if
/// its code runs outside this process under its policy.
fn ahead_of(state: &RunState, d: u32, inputs: Vec<Option<Value>>) -> Option<Ahead<'_>> {
    let node = &state.plan.nodes[d as usize].node;
    let Body::Code(code) = &node.body else { return None };
    let policy = effective_policy(state, d);
    (code.isolation(&policy) == Isolation::Process).then(|| Ahead {
        node: &node.name,
        source: &node.source,
        decl: &node.decl,
        code,
        policy,
        inputs,
    })
}
