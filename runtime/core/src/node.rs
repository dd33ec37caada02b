//! How the scheduler runs a node it knows only by its declaration: the
//! [`NodeImpl`] trait that every backend (WebAssembly components, Rhai
//! scripts, host functions) implements, and the [`Call`] it is invoked with.
//!
//! A backend never sees the plan, the other nodes or the result cache. It is
//! handed the node's inputs and a [`Call`] that says everything else it may
//! know (the node's name, declaration and policy) and takes everything it
//! reports (events, files read, memory and fuel used).

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::sync::Arc;

use weavelet_data::ReadLog;

use crate::decl::NodeDecl;
use crate::error::{Diagnostic, FailureKind, NodeFailure};
use crate::events::{Event, EventKind, EventSink};
use crate::key::Digest;
use crate::policy::{Isolation, Policy};
use crate::value::Value;

/// A node's code, as a backend runs it.
pub trait NodeImpl: std::any::Any + Send + Sync {
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

    /// What the user should hear about this node's code before it runs (a
    /// component built against an older contract, say): a warning of every
    /// plan that includes the node. Nodes saying the same thing are said once.
    fn notice(&self) -> Option<Diagnostic> {
        None
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
    ahead: &'a [Ahead<'a>],
    started: RefCell<Vec<Box<dyn Early>>>,
}

/// A node the scheduler will run right after the invoked one unless
/// something intervenes, with every input known but the output of the node
/// before it in [`Call::ahead`] (the invoked node, for the first): the rest
/// of a chain. A backend whose nodes run in another process may start them
/// there at once instead of paying a round trip per node, and hand back an
/// [`Early`] for each through [`Call::started_ahead`].
///
/// The scheduler still decides each node's turn (the cache may hold its
/// result, its input may fail a column check); an [`Early`] it drops without
/// finishing is abandoned, and every later one of the chain with it.
pub struct Ahead<'a> {
    /// The node's name in the pipeline.
    pub node: &'a Arc<str>,
    /// Where it comes from, for messages.
    pub source: &'a Arc<str>,
    /// Its declaration.
    pub decl: &'a NodeDecl,
    /// Its code.
    pub code: &'a Arc<dyn NodeImpl>,
    /// The policy it will run under.
    pub policy: Cow<'a, Policy>,
    /// Its inputs in declaration order, widened to their declared types;
    /// `None` where the previous node's output goes.
    pub inputs: Vec<Option<Value>>,
}

/// A node started ahead of its turn (see [`Ahead`]).
pub trait Early: Send {
    /// Its result, now that the scheduler runs it with `call`; `None` if it
    /// was not kept after all (the scheduler then invokes the node itself).
    fn finish(self: Box<Self>, call: &Call<'_>) -> Option<Result<Value, NodeFailure>>;
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
            ahead: &[],
            started: RefCell::new(Vec::new()),
        }
    }

    /// The same invocation, followed (unless something intervenes) by `ahead`.
    pub fn with_ahead(mut self, ahead: &'a [Ahead<'a>]) -> Call<'a> {
        self.ahead = ahead;
        self
    }

    /// The nodes that will run right after this one, each reading the
    /// previous one's output (see [`Ahead`]); empty unless the backend may
    /// start them early.
    pub fn ahead(&self) -> &[Ahead<'a>] {
        self.ahead
    }

    /// The backend started the first `early.len()` nodes of [`Call::ahead`]
    /// already, in order.
    pub fn started_ahead(&self, early: Vec<Box<dyn Early>>) {
        *self.started.borrow_mut() = early;
    }

    /// What [`Call::started_ahead`] was given.
    pub fn take_started(&self) -> Vec<Box<dyn Early>> {
        std::mem::take(&mut *self.started.borrow_mut())
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
