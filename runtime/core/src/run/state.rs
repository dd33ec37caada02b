//! What one run keeps while it goes: a slot per planned node (inputs still
//! pending, reads still to come, the value, the failure upstream), the ready
//! queue, and what the report will say.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use super::RunReport;
use super::cached::Caching;
use crate::cache::Stored;
use crate::error::NodeFailure;
use crate::events::{Event, EventKind, EventSink};
use crate::key::Digest;
use crate::node::Early;
use crate::plan::{Plan, PlanInner};
use crate::policy::Policy;
use crate::value::Value;

pub(super) struct Slot {
    /// Inputs from planned nodes not yet produced.
    pub pending: AtomicU32,
    /// Reads of this node's output still to come (then the value is dropped,
    /// unless it is a requested output).
    pub consumers_left: AtomicU32,
    pub value: Mutex<Option<Value>>,
    /// The failed upstream node that stops this node from running.
    pub poisoned: OnceLock<Arc<str>>,
    pub is_target: bool,
}

pub(super) struct RunState {
    pub plan: Arc<PlanInner>,
    /// The policy of nodes without one of their own.
    pub policy: Arc<Policy>,
    pub slots: Vec<Slot>,
    /// The identity of each node's output (set before its dependents are queued).
    pub ids: Vec<OnceLock<Digest>>,
    /// The size of each node's output, where known.
    pub sizes: Vec<AtomicU64>,
    pub caching: Option<Caching>,
    /// Nodes the prepass found in the cache: their entries and keys.
    pub hits: Vec<OnceLock<(Stored, Digest)>>,
    /// Whether a node's value must be in memory: it is an output, or a node
    /// that reads it may run. A cached node nobody needs is not loaded.
    pub needed: Vec<bool>,
    pub cached: Mutex<Vec<String>>,
    pub retried: Mutex<Vec<(String, u32)>>,
    pub queue: Mutex<VecDeque<u32>>,
    pub ready: Condvar,
    pub outstanding: AtomicUsize,
    pub events: Option<EventSink>,
    pub failures: Mutex<Vec<NodeFailure>>,
    pub skipped: Mutex<Vec<(String, String)>>,
    pub nodes_run: AtomicUsize,
    pub started: Instant,
    /// Nodes a backend started ahead of their turn (the rest of a chain),
    /// finished when the node's turn comes, abandoned when dropped.
    pub early: Vec<Mutex<Option<Box<dyn Early>>>>,
    /// Workers taking nodes from the queue in this run.
    pub jobs: usize,
}

impl RunState {
    pub fn new(
        plan: &Plan,
        policy: Arc<Policy>,
        events: Option<EventSink>,
        caching: Option<Caching>,
    ) -> RunState {
        let plan = plan.inner.clone();
        let n = plan.nodes.len();
        let mut slots: Vec<Slot> = plan
            .nodes
            .iter()
            .map(|p| Slot {
                pending: AtomicU32::new(p.deps),
                consumers_left: AtomicU32::new(p.dependents.len() as u32),
                value: Mutex::new(None),
                poisoned: OnceLock::new(),
                is_target: false,
            })
            .collect();
        for &t in &plan.targets {
            slots[t as usize].is_target = true;
        }
        let roots: VecDeque<u32> = (0..n as u32).filter(|&i| plan.nodes[i as usize].deps == 0).collect();
        RunState {
            ids: (0..n).map(|_| OnceLock::new()).collect(),
            sizes: (0..n).map(|_| AtomicU64::new(0)).collect(),
            caching,
            hits: (0..n).map(|_| OnceLock::new()).collect(),
            needed: vec![true; n],
            cached: Mutex::new(Vec::new()),
            retried: Mutex::new(Vec::new()),
            outstanding: AtomicUsize::new(n),
            plan,
            policy,
            slots,
            queue: Mutex::new(roots),
            ready: Condvar::new(),
            events,
            failures: Mutex::new(Vec::new()),
            skipped: Mutex::new(Vec::new()),
            nodes_run: AtomicUsize::new(0),
            started: Instant::now(),
            early: (0..n).map(|_| Mutex::new(None)).collect(),
            jobs: 1,
        }
    }

    /// After the prepass: a node's value is needed in memory if it is an
    /// output or a node that reads it was not found in the cache.
    pub fn mark_needed(&mut self) {
        for i in 0..self.plan.nodes.len() {
            self.needed[i] = self.slots[i].is_target
                || self.plan.nodes[i].dependents.iter().any(|&d| self.hits[d as usize].get().is_none());
        }
    }

    /// The name of planned node `i`.
    pub fn name(&self, i: u32) -> &Arc<str> {
        &self.plan.nodes[i as usize].node.name
    }

    /// Send an event about node `i`.
    pub fn emit(&self, i: u32, kind: EventKind) {
        if let Some(events) = &self.events {
            crate::events::deliver(events, &Event { node: self.name(i).clone(), kind });
        }
    }

    /// The report, once every worker has returned; closes the run's history.
    pub fn report(&self) -> RunReport {
        let plan = &self.plan;
        let outputs = plan
            .targets
            .iter()
            .filter_map(|&t| {
                let value = self.slots[t as usize].value.lock().clone()?;
                Some((plan.nodes[t as usize].node.name.to_string(), value))
            })
            .collect();
        let failures = std::mem::take(&mut *self.failures.lock());
        let identities = match &self.caching {
            Some(_) => plan
                .targets
                .iter()
                .filter_map(|&t| {
                    Some((plan.nodes[t as usize].node.name.to_string(), *self.ids[t as usize].get()?))
                })
                .collect(),
            None => Vec::new(),
        };
        let run_id = self.caching.as_ref().map(|c| c.close(failures.is_empty()));
        RunReport {
            outputs,
            failures,
            skipped: std::mem::take(&mut *self.skipped.lock()),
            nodes_run: self.nodes_run.load(Ordering::Relaxed),
            cached: std::mem::take(&mut *self.cached.lock()),
            retried: std::mem::take(&mut *self.retried.lock()),
            run_id,
            identities,
            duration: self.started.elapsed(),
            write_grants: self.write_grants(),
        }
    }

    /// Every planned node's write grants (host folders), once each.
    fn write_grants(&self) -> Vec<std::path::PathBuf> {
        let mut folders: Vec<std::path::PathBuf> = Vec::new();
        for i in 0..self.plan.nodes.len() as u32 {
            for (host, _) in &super::keys::effective_policy(self, i).grants.write {
                if !folders.contains(host) {
                    folders.push(host.clone());
                }
            }
        }
        folders
    }
}
