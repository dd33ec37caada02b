//! How the scheduler runs a node it knows only by its declaration: the
//! [`NodeImpl`] trait that every backend (WebAssembly components, Rhai
//! scripts, host functions) implements, and the [`Call`] it is invoked with.
//!
//! A backend never sees the plan, the other nodes or the result cache. It is
//! handed the node's inputs and a [`Call`] that says everything else it may
//! know (the node's name, declaration and policy) and takes everything it
//! reports (events, files read, memory and fuel used).

use std::cell::Cell;
use std::sync::Arc;

use weavelet_data::ReadLog;

use crate::decl::NodeDecl;
use crate::error::{FailureKind, NodeFailure};
use crate::events::{Event, EventKind, EventSink};
use crate::key::Digest;
use crate::policy::{Isolation, Policy};
use crate::value::Value;

/// A node's code, as a backend runs it.
pub trait NodeImpl: Send + Sync {
    /// Run the node once. `inputs` are in declaration order, each already
    /// widened to its declared type. Every failure names the node (use
    /// [`Call::fail`]); a panic is caught by the scheduler, but should not happen.
    fn invoke(&self, call: &Call<'_>, inputs: Vec<Value>) -> Result<Value, NodeFailure>;

    /// What identifies this node's code for the result cache: equal
    /// identities must mean equal behaviour on equal inputs. `Err` says why
    /// the code cannot be fingerprinted (the node is then never cached).
    fn code_identity(&self) -> Result<Digest, String>;

    /// Where this node's code runs under `policy`: in this process, unless
    /// the backend hands it to a worker process (as the `weavelet` facade's
    /// isolated nodes do). For the run history.
    fn isolation(&self, _policy: &Policy) -> Isolation {
        Isolation::InProcess
    }
}

/// One invocation of a node, as its backend sees it.
pub struct Call<'a> {
    node: &'a Arc<str>,
    source: &'a Arc<str>,
    decl: &'a NodeDecl,
    policy: &'a Policy,
    events: Option<&'a EventSink>,
    reads: ReadLog,
    peak_memory: Cell<u64>,
    fuel: Cell<Option<u64>>,
}

/// What one invocation reported about itself: what it read and used.
#[derive(Debug, Default, Clone)]
pub struct Usage {
    /// Files and folders it read through host readers or was handed whole.
    pub reads: weavelet_data::Reads,
    /// The most memory it held: linear memory for a component, heap for a script.
    pub peak_memory: u64,
    /// Instructions it executed, when fuel is counted.
    pub fuel: Option<u64>,
}

impl<'a> Call<'a> {
    /// An invocation of `node` (named so in the pipeline, from `source`) under `policy`.
    pub fn new(
        node: &'a Arc<str>,
        source: &'a Arc<str>,
        decl: &'a NodeDecl,
        policy: &'a Policy,
        events: Option<&'a EventSink>,
    ) -> Call<'a> {
        Call {
            node,
            source,
            decl,
            policy,
            events,
            reads: ReadLog::new(),
            peak_memory: Cell::new(0),
            fuel: Cell::new(None),
        }
    }

    /// The node's name in the pipeline.
    pub fn node(&self) -> &Arc<str> {
        self.node
    }

    /// Where the node comes from (a component file, a script), for messages.
    pub fn source(&self) -> &Arc<str> {
        self.source
    }

    /// The node's declaration.
    pub fn decl(&self) -> &NodeDecl {
        self.decl
    }

    /// The policy the node runs under.
    pub fn policy(&self) -> &Policy {
        self.policy
    }

    /// Where the node's events go, if anywhere.
    pub fn events(&self) -> Option<&EventSink> {
        self.events
    }

    /// Report something the node did (a log line, progress).
    pub fn emit(&self, kind: EventKind) {
        if let Some(events) = self.events {
            crate::events::deliver(events, &Event { node: self.node.clone(), kind });
        }
    }

    /// The log readers write to: every file the node's work opens through
    /// the host, and every folder handed to it whole, goes here.
    pub fn reads(&self) -> &ReadLog {
        &self.reads
    }

    /// The node holds `bytes` of memory now (the peak is kept).
    pub fn observe_memory(&self, bytes: u64) {
        self.peak_memory.set(self.peak_memory.get().max(bytes));
    }

    /// The node executed `instructions` more (fuel consumed).
    pub fn observe_fuel(&self, instructions: u64) {
        self.fuel.set(Some(self.fuel.get().unwrap_or(0).saturating_add(instructions)));
    }

    /// A failure of this node.
    pub fn fail(&self, kind: FailureKind, message: impl Into<String>) -> NodeFailure {
        NodeFailure::new(self.node, self.source, kind, message)
    }

    /// What the invocation reported; the call is over.
    pub fn finish(self) -> Usage {
        Usage { reads: self.reads.take(), peak_memory: self.peak_memory.get(), fuel: self.fuel.get() }
    }
}

/// A node implemented by host Rust code (built-in nodes and embedders' own nodes).
pub type BuiltinFn = dyn Fn(&[Value]) -> Result<Value, String> + Send + Sync;

/// Host code as a node: receives the inputs in declaration order. Its code
/// cannot be fingerprinted, so its results are never cached.
pub(crate) struct Builtin(pub(crate) Arc<BuiltinFn>);

impl NodeImpl for Builtin {
    fn invoke(&self, call: &Call<'_>, inputs: Vec<Value>) -> Result<Value, NodeFailure> {
        (self.0)(&inputs)
            .map_err(|message| call.fail(FailureKind::Error { kind: "failed".into(), input: None }, message))
    }

    fn code_identity(&self) -> Result<Digest, String> {
        Err("it is a built-in node, whose code Weavelet cannot fingerprint".into())
    }
}
