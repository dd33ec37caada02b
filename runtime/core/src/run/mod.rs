//! `Run`: executing a plan.
//!
//! The [`Scheduler`] owns the worker threads. A run uses up to `jobs` of them,
//! taking ready nodes from a shared queue; a worker that finishes a node keeps
//! one of the nodes that became ready for itself and queues the rest, so a
//! chain runs on one thread without hand-offs while independent branches
//! spread over all workers (`schedule`). A failed node poisons its
//! dependents: they are skipped, and every independent branch still finishes.
//!
//! With a [`ResultCache`], every node is first asked "cached or run?"
//! (`cached`): its key is computed from its code, its policy and its inputs'
//! identities (`keys`); a stored result whose files are unchanged is used
//! instead of running the node, and a node that runs has its result stored
//! as soon as it finishes (`node`), so a killed run loses only the nodes that
//! were running. Every node's outcome is a line in the run history.

mod cached;
mod keys;
pub(crate) use keys::policy_of;
mod node;
mod retry;
mod schedule;
mod state;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::cache::{ResultCache, RunId, RunPlanRecord};
use crate::error::{Error, NodeFailure};
use crate::events::{Event, EventKind, EventSink};
use crate::key::Digest;
use crate::plan::Plan;
use crate::policy::Policy;
use crate::value::Value;

use state::RunState;

/// Host threads that run nodes get this much stack: far more than a
/// sandbox's own stack budget, so a guest's recursion is stopped before the
/// host's stack ends.
pub const WORKER_STACK: usize = 16 << 20;

/// The most nodes that run at once, whatever `jobs` says.
pub const MAX_JOBS: usize = 1024;

/// How a run uses the result cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CacheUse {
    /// Reuse stored results, store new ones and record the run in the history.
    #[default]
    ReuseAndStore,
    /// Compute every node and store nothing; the run is still recorded.
    RecordOnly,
    /// Neither reuse, store nor record anything: as if there were no cache.
    Off,
}

/// How one run goes: where its events go, how it uses the result cache,
/// which nodes it computes again or runs alone.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Receives every node event.
    pub events: Option<EventSink>,
    /// How the run uses the result cache (when the runtime has one).
    pub cache: CacheUse,
    /// Compute these nodes and everything downstream of them even if their
    /// results are stored.
    pub recompute: Vec<String>,
    /// Run only these nodes; every other planned node must come from the cache.
    pub only: Vec<String>,
    /// What started the run (a command line, a job's name), for the history.
    pub description: String,
}

impl RunOptions {
    /// The defaults: no events, the cache reused and stored to, every node may run.
    pub fn new() -> RunOptions {
        RunOptions::default()
    }

    /// Send every node event to `events`.
    pub fn events(mut self, events: EventSink) -> RunOptions {
        self.events = Some(events);
        self
    }

    /// Use the result cache this way.
    pub fn cache(mut self, cache: CacheUse) -> RunOptions {
        self.cache = cache;
        self
    }

    /// Compute `nodes` and everything downstream of them even if stored.
    pub fn recompute<S: Into<String>>(mut self, nodes: impl IntoIterator<Item = S>) -> RunOptions {
        self.recompute.extend(nodes.into_iter().map(Into::into));
        self
    }

    /// Run only `nodes`; everything they need must come from the cache.
    pub fn only<S: Into<String>>(mut self, nodes: impl IntoIterator<Item = S>) -> RunOptions {
        self.only.extend(nodes.into_iter().map(Into::into));
        self
    }

    /// Say what started the run, for the history.
    pub fn description(mut self, text: impl Into<String>) -> RunOptions {
        self.description = text.into();
        self
    }
}

impl fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunOptions")
            .field("events", &self.events.is_some())
            .field("cache", &self.cache)
            .field("recompute", &self.recompute)
            .field("only", &self.only)
            .field("description", &self.description)
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
    pub run_id: Option<RunId>,
    /// The identity of each produced output, when the run used a result
    /// cache: equal identities mean equal values.
    pub identities: Vec<(String, Digest)>,
    /// Wall time of the whole run.
    pub duration: Duration,
    /// The folders nodes of this run could write into (their write grants,
    /// canonical): output files under them are written without following
    /// links a node may have planted there.
    pub write_grants: Vec<std::path::PathBuf>,
}

impl RunReport {
    /// The value of a requested output, if it was produced.
    pub fn output(&self, name: &str) -> Option<&Value> {
        self.outputs.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The identity of a produced output, if the run had a result cache.
    pub fn identity(&self, name: &str) -> Option<&Digest> {
        self.identities.iter().find(|(n, _)| n == name).map(|(_, id)| id)
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

/// Why a node runs rather than coming from the cache, or which run stored
/// the result it uses. A front end may say the same in its own words (a
/// recomputed node was named with some flag, say).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// Its result comes from the cache, stored by this run.
    Stored {
        /// The run that stored it.
        run: Option<RunId>,
    },
    /// One of its inputs comes from a node that runs first (a dry run cannot
    /// say more before that node has run).
    UpstreamRuns {
        /// That node.
        upstream: String,
    },
    /// Its value is given instead of computed.
    Given,
    /// The run has no result cache.
    NoCache,
    /// The run does not reuse stored results.
    CacheOff,
    /// It cannot be cached (why).
    NotCacheable(String),
    /// It was asked to be computed again, or is downstream of such a node.
    Recompute,
    /// The cache does not hold its result (why: not in the cache, its code
    /// or an input or a file it read changed).
    Missed(String),
    /// Its stored result was damaged (how); it is removed and computed again.
    Damaged(String),
    /// It is not selected to run, and the cache cannot give it either.
    NotSelected(Box<Reason>),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Stored { run } => write!(f, "stored by run {}", run.unwrap_or(0)),
            Reason::UpstreamRuns { upstream } => write!(f, "input from `{upstream}`, which runs first"),
            Reason::Given => f.write_str("its value is given"),
            Reason::NoCache => f.write_str("there is no result cache"),
            Reason::CacheOff => f.write_str("the cache is off for this run"),
            Reason::NotCacheable(why) => write!(f, "not cached: {why}"),
            Reason::Recompute => f.write_str("asked to be computed again"),
            Reason::Missed(why) => f.write_str(why),
            Reason::Damaged(why) => write!(f, "its stored result was damaged ({why}); computed again"),
            Reason::NotSelected(why) => {
                write!(f, "{why}; it is not selected to run, so the run would fail here")
            }
        }
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
    pub why: Reason,
}

/// The worker threads that run nodes, and the policy nodes without their
/// own run under. Built once; every run borrows its threads.
pub struct Scheduler {
    pool: Arc<tokio::runtime::Runtime>,
    jobs: usize,
    policy: Arc<Policy>,
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler").field("jobs", &self.jobs).finish()
    }
}

impl Scheduler {
    /// A scheduler running up to `jobs` nodes at once (1 to [`MAX_JOBS`]),
    /// each on a thread with [`WORKER_STACK`] of stack; nodes without a
    /// policy of their own run under `policy`.
    pub fn new(jobs: usize, policy: Policy) -> Result<Scheduler, Error> {
        let jobs = jobs.clamp(1, MAX_JOBS);
        let pool = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(jobs * 2 + 8)
            .thread_stack_size(WORKER_STACK)
            .thread_name("weavelet-node")
            .enable_time()
            .build()
            .map_err(|e| Error::Engine(format!("cannot start worker threads: {e}")))?;
        Ok(Scheduler { pool: Arc::new(pool), jobs, policy: Arc::new(policy) })
    }

    /// How many nodes run at once.
    pub fn jobs(&self) -> usize {
        self.jobs
    }

    /// The policy of nodes without one of their own.
    pub fn default_policy(&self) -> &Policy {
        &self.policy
    }

    /// Start running `plan` and return at once; nodes run on the worker
    /// threads. With a `cache`, results are reused and stored and the run is
    /// recorded as `options` say.
    pub fn start(
        &self,
        plan: &Plan,
        cache: Option<Arc<dyn ResultCache>>,
        options: RunOptions,
    ) -> Result<Run, Error> {
        let caching = cached::caching(plan, cache, &options, true, &self.policy)?;
        // A recorded run keeps every node's log lines in its history.
        let events = match caching.as_ref().and_then(|c| c.logs.clone()) {
            Some(book) => Some(cached::keeping_logs(book, options.events)),
            None => options.events,
        };
        let mut state = RunState::new(plan, self.policy.clone(), events, caching);
        if state.caching.as_ref().is_some_and(|c| c.reuse) {
            cached::prepass(&state);
            state.mark_needed();
        }
        state.jobs = self.jobs.min(state.plan.nodes.len()).max(1);
        let state = Arc::new(state);
        if let Some(events) = &state.events {
            for i in state.queue.lock().iter() {
                let node = state.plan.nodes[*i as usize].node.name.clone();
                crate::events::deliver(events, &Event { node, kind: EventKind::Queued });
            }
        }
        let workers = self.jobs.min(state.plan.nodes.len()).max(1);
        let workers = (0..workers)
            .map(|_| {
                let state = state.clone();
                self.pool.spawn_blocking(move || schedule::worker(&state))
            })
            .collect();
        Ok(Run { state, workers, pool: self.pool.clone() })
    }

    /// What the history records of a run of `plan` as it starts (see
    /// [`RunPlanRecord`]): to compare a plan with a recorded run before running it.
    pub fn plan_record(&self, plan: &Plan, cache: Option<&dyn ResultCache>) -> RunPlanRecord {
        cached::run_plan_record(plan, cache, &self.policy)
    }

    /// What a run of `plan` with `options` would do, node by node in
    /// dependency order: which results would come from the cache and why the
    /// others would run. Runs nothing and records nothing.
    pub fn dry_run(
        &self,
        plan: &Plan,
        cache: Option<Arc<dyn ResultCache>>,
        options: &RunOptions,
    ) -> Result<Vec<DryRunStep>, Error> {
        let caching = cached::caching(plan, cache, options, false, &self.policy)?;
        let state = RunState::new(plan, self.policy.clone(), None, caching);
        Ok(cached::prepass(&state))
    }
}

/// One execution of a plan, under way. Wait for it with [`Run::wait`]
/// (blocking) or [`Run::finish`] (async); its events go to the sink given at
/// the start.
#[must_use = "a run reports its outputs and failures only when waited for"]
pub struct Run {
    state: Arc<RunState>,
    workers: Vec<JoinHandle<()>>,
    pool: Arc<tokio::runtime::Runtime>,
}

impl Run {
    /// Block until every planned node has finished, failed or been skipped.
    pub fn wait(self) -> RunReport {
        let pool = self.pool.clone();
        pool.block_on(self.finish())
    }

    /// Wait for the run from async code (any executor).
    pub async fn finish(self) -> RunReport {
        for worker in self.workers {
            // A worker cannot panic (node bodies run under catch_unwind); if the
            // pool is shutting down, what finished is still reported.
            let _ = worker.await;
        }
        self.state.report()
    }

    /// The run's number in the history, when it is recorded.
    pub fn id(&self) -> Option<RunId> {
        self.state.caching.as_ref().map(|c| c.run_id()).filter(|&id| id != 0)
    }

    /// How many planned nodes have not completed yet.
    pub fn remaining(&self) -> usize {
        self.state.outstanding.load(Ordering::Relaxed)
    }
}
