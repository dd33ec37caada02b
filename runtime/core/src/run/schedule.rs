//! The scheduler proper: workers taking ready nodes from one queue,
//! dependency counters, poisoning of a failed node's downstream, and release
//! of values nobody will read again.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::node::compute;
use super::state::RunState;
use crate::cache::{NodeRecord, now_ms};
use crate::error::{FailureKind, NodeFailure};
use crate::events::EventKind;
use crate::plan::Input;
use crate::value::Value;

/// One worker: take a ready node (or keep the one the last node made
/// ready), process it, until no node is outstanding.
pub(super) fn worker(state: &RunState) {
    let mut next: Option<u32> = None;
    // Ready nodes this worker took from the queue to hand to a backend with
    // the node it ran (see `compute`): it finishes them itself, in order.
    let mut claimed: VecDeque<u32> = VecDeque::new();
    loop {
        // The next node of a chain under way in a worker goes first (that worker
        // waits for its turn); then the nodes this worker claimed, in order.
        let chained = next.is_some_and(|d| state.early[d as usize].lock().is_some());
        let first = if chained { next.take() } else { claimed.pop_front() };
        let i = match first.or_else(|| next.take()) {
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
        if let Some(kept) = next.take() {
            // The claimed nodes come first: the node kept for later goes to
            // the queue, where another worker may take it.
            state.queue.lock().push_back(kept);
            state.ready.notify_one();
        }
        next = process(state, i, &mut claimed);
    }
}

/// Run (or skip) node `i`, publish its result, and return one newly ready node.
fn process(state: &RunState, i: u32, claimed: &mut VecDeque<u32>) -> Option<u32> {
    let planned = &state.plan.nodes[i as usize];
    let slot = &state.slots[i as usize];

    let failed: Option<Arc<str>> = match slot.poisoned.get().cloned() {
        Some(upstream) => {
            // A node started ahead of its turn is abandoned.
            drop(state.early[i as usize].lock().take());
            state.skipped.lock().push((planned.node.name.to_string(), upstream.to_string()));
            state.emit(i, EventKind::Skipped { because: upstream.clone() });
            if let Some(c) = &state.caching {
                c.record(&NodeRecord {
                    node: planned.node.name.to_string(),
                    status: "skipped".into(),
                    started_ms: now_ms(),
                    error: Some(format!("upstream `{upstream}` failed")),
                    ..NodeRecord::default()
                });
            }
            Some(upstream)
        }
        None => match compute(state, i, claimed) {
            Ok(()) => None,
            Err(failure) => {
                state.emit(i, EventKind::Failed { failure: failure.clone() });
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
            state.emit(d, EventKind::Queued);
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

/// Collect node `i`'s input values, releasing upstream values nobody needs
/// any more. A cached input that was left in the cache is loaded now.
pub(super) fn gather(state: &RunState, i: u32) -> Result<Vec<Value>, NodeFailure> {
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
                    && let Some(c) = &state.caching
                    && let Some((entry, key)) = state.hits[*d as usize].get()
                {
                    match c.store.load(entry) {
                        Ok(v) => *value = Some(v),
                        Err(why) => {
                            c.store.remove(key);
                            let upstream = state.name(*d);
                            return Err(NodeFailure::new(
                                &planned.node.name,
                                &planned.node.source,
                                FailureKind::Host,
                                format!(
                                    "the stored result of `{upstream}` it reads is damaged ({why}); it was removed \
                                     from the cache: run again to compute it"
                                ),
                            ));
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
pub(super) fn release_inputs(state: &RunState, i: u32) {
    for input in &state.plan.nodes[i as usize].inputs {
        if let Input::Node(d) = input {
            let slot = &state.slots[*d as usize];
            if slot.consumers_left.fetch_sub(1, Ordering::AcqRel) == 1 && !slot.is_target {
                slot.value.lock().take();
            }
        }
    }
}
