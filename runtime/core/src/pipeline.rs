//! `Pipeline`: node sources, parameters and requested outputs.

use std::path::PathBuf;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use weavelet_data::ReadGrants;

use crate::decl::NodeDecl;
use crate::error::{Error, NodeRole, names};
use crate::node::{Builtin, NodeImpl};
use crate::policy::{Policy, Requests};
use crate::value::{Value, ValueType};

/// What runs when a node runs.
#[derive(Clone)]
pub(crate) enum Body {
    /// Code of a backend.
    Code(Arc<dyn NodeImpl>),
    /// A value given instead of running the node.
    Fixed(Value),
}

/// A node placed in a pipeline: its declaration, where it comes from, and what
/// each input binds to.
#[derive(Clone)]
pub struct Node {
    pub(crate) name: Arc<str>,
    pub(crate) decl: Arc<NodeDecl>,
    /// For each input, the node or parameter name it binds to.
    pub(crate) bindings: Vec<Arc<str>>,
    pub(crate) body: Body,
    /// Where the node comes from, for messages (`diamond.wasm`, `builtin`).
    pub(crate) source: Arc<str>,
    /// Budgets and grants of this node, when they differ from the default policy.
    pub(crate) policy: Option<Arc<Policy>>,
    /// What the node's own source asks for: it narrows the policy, never widens it.
    pub(crate) requests: Option<Arc<Requests>>,
    /// The file and line that define it, when a script does (for diagnostics).
    pub(crate) defined_at: Option<Arc<(std::path::PathBuf, usize)>>,
}

impl Node {
    /// A node declared by `decl`, from `source` (for messages), run by
    /// `code`. Its inputs bind to the names they declare.
    pub fn new(decl: Arc<NodeDecl>, source: Arc<str>, code: Arc<dyn NodeImpl>) -> Node {
        Node {
            name: decl.name.as_str().into(),
            bindings: decl.inputs.iter().map(|i| Arc::from(i.name.as_str())).collect(),
            decl,
            body: Body::Code(code),
            source,
            policy: None,
            requests: None,
            defined_at: None,
        }
    }

    /// The node is defined on `line` of `file` (a script's `fn`): plan
    /// diagnostics about its inputs point there.
    pub fn defined_at(mut self, file: impl Into<std::path::PathBuf>, line: usize) -> Node {
        self.defined_at = Some(Arc::new((file.into(), line)));
        self
    }

    /// The node's name in the pipeline.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node's declaration.
    pub fn decl(&self) -> &NodeDecl {
        &self.decl
    }

    /// Where the node comes from: a component file, a script, or `builtin`.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The node's own policy, if it has one (else the runtime's default applies).
    pub fn policy(&self) -> Option<&Policy> {
        self.policy.as_deref()
    }

    /// What the node's own source asks for, if anything (see [`Requests`]).
    pub fn requests(&self) -> Option<&Requests> {
        self.requests.as_deref()
    }

    /// Narrow the node's policy by what its own source asks for: budgets,
    /// attempts and backoff can be lowered this way, never raised.
    pub fn with_requests(mut self, requests: Requests) -> Node {
        self.requests = (!requests.is_empty()).then(|| Arc::new(requests));
        self
    }

    /// Bind input `input` to the node or parameter `target` instead of the
    /// one with the input's own name.
    pub fn bind(mut self, input: &str, target: &str) -> Result<Node, Error> {
        match self.decl.inputs.iter().position(|i| i.name == input) {
            Some(i) => {
                self.bindings[i] = target.into();
                Ok(self)
            }
            None => Err(Error::Usage(format!(
                "node `{}` has no input `{input}` (its inputs: {})",
                self.name,
                names(self.decl.inputs.iter().map(|i| i.name.as_str()))
            ))),
        }
    }

    /// Run this node under `policy` instead of the runtime's default (narrowed
    /// by the node's [`requests`](Node::requests)).
    pub fn with_policy(mut self, policy: Policy) -> Node {
        self.policy = Some(Arc::new(policy));
        self
    }

    /// Set the node's own policy.
    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = Some(Arc::new(policy));
    }

    /// Give the node another name in the pipeline (to use one node twice).
    pub fn renamed(mut self, name: &str) -> Node {
        self.name = name.into();
        self
    }

    /// The node's code, unless it is given a fixed value.
    pub fn code(&self) -> Option<&Arc<dyn NodeImpl>> {
        match &self.body {
            Body::Code(code) => Some(code),
            Body::Fixed(_) => None,
        }
    }

    /// Run the node's code through `wrap` (for example in another process);
    /// a node given a fixed value is unchanged.
    pub fn wrap_code(mut self, wrap: impl FnOnce(Arc<dyn NodeImpl>) -> Arc<dyn NodeImpl>) -> Node {
        if let Body::Code(code) = self.body {
            self.body = Body::Code(wrap(code));
        }
        self
    }

    /// Whether the node's output is a given value rather than computed.
    pub fn is_fixed(&self) -> bool {
        matches!(self.body, Body::Fixed(_))
    }
}

/// A pipeline parameter.
#[derive(Debug, Clone)]
pub(crate) enum Param {
    /// A typed value (from code or a manifest).
    Value(Value),
    /// Text (from a command line, say), parsed once the consuming input's type is known.
    Text(String),
    /// Declared without a value: a run must supply it.
    Required { ty: ValueType },
}

/// Node sources, parameters and requested outputs: everything needed to plan a run.
///
/// Built in code, or loaded from a `weavelet.toml` or a `.rhai` script (see
/// the `weavelet` crate's `Runtime::load`).
#[derive(Clone, Default)]
pub struct Pipeline {
    pub(crate) nodes: Vec<Node>,
    pub(crate) params: FxHashMap<String, Param>,
    pub(crate) outputs: Vec<String>,
    /// Files every node of this pipeline may read (overrides the default policy's).
    pub(crate) files: Option<Arc<ReadGrants>>,
    name: String,
    origin: String,
    output_files: Vec<(String, PathBuf)>,
}

impl Pipeline {
    /// An empty pipeline.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one node (from a backend, or [`Pipeline::builtin`]).
    pub fn add_node(&mut self, node: Node) {
        self.nodes.push(node);
    }

    /// Add several nodes.
    pub fn add_nodes(&mut self, nodes: impl IntoIterator<Item = Node>) {
        self.nodes.extend(nodes);
    }

    /// A node implemented by host code. `f` receives the inputs in
    /// declaration order. Its code cannot be fingerprinted, so its results
    /// are never cached.
    pub fn builtin(
        decl: NodeDecl,
        f: impl Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'static,
    ) -> Node {
        Node::new(Arc::new(decl), "builtin".into(), Arc::new(Builtin(Arc::new(f))))
    }

    /// Use `value` as node `name`'s output instead of running it (its
    /// upstream is then not needed). The value must have the node's declared type.
    pub fn override_node(&mut self, name: &str, value: Value) -> Result<(), Error> {
        let Some(node) = self.nodes.iter_mut().find(|n| &*n.name == name) else {
            let known: Vec<String> = self.nodes.iter().map(|n| n.name().to_string()).collect();
            return Err(Error::UnknownNode {
                name: name.to_string(),
                role: NodeRole::Override,
                planned: false,
                suggestion: crate::suggest(name, known.iter().map(String::as_str)),
                known,
            });
        };
        if !value.value_type().feeds(node.decl.output) {
            return Err(Error::WrongType {
                node: name.to_string(),
                expected: node.decl.output,
                given: value.value_type(),
            });
        }
        let mut decl = (*node.decl).clone();
        decl.inputs.clear();
        decl.capabilities.clear();
        node.decl = Arc::new(decl);
        node.bindings.clear();
        node.body = Body::Fixed(value);
        node.source = "a given value".into();
        Ok(())
    }

    /// Set a parameter to a value.
    pub fn set_param(&mut self, name: impl Into<String>, value: Value) {
        self.params.insert(name.into(), Param::Value(value));
    }

    /// Set a parameter from text (as given on a command line); it is parsed
    /// as the type its consuming input declares.
    pub fn set_param_text(&mut self, name: impl Into<String>, text: impl Into<String>) {
        self.params.insert(name.into(), Param::Text(text.into()));
    }

    /// Declare a parameter that every run must supply.
    pub fn require_param(&mut self, name: impl Into<String>, ty: ValueType) {
        self.params.entry(name.into()).or_insert(Param::Required { ty });
    }

    /// The outputs planned when none are requested (empty: every sink).
    pub fn set_default_outputs(&mut self, outputs: Vec<String>) {
        self.outputs = outputs;
    }

    /// Grant every node of this pipeline read access to the files `grants` names.
    pub fn set_files(&mut self, grants: ReadGrants) {
        self.files = Some(Arc::new(grants));
    }

    /// The default outputs (empty: every sink).
    pub fn default_outputs(&self) -> &[String] {
        &self.outputs
    }

    /// The nodes of this pipeline.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The nodes of this pipeline, to change their policies or bindings.
    pub fn nodes_mut(&mut self) -> &mut [Node] {
        &mut self.nodes
    }

    /// The pipeline's name, for people (`sensor report`); empty if it has none.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Name the pipeline.
    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = name.into();
    }

    /// Where the pipeline was loaded from (its manifest or script, as a
    /// canonical path); empty for a pipeline built in code. The result cache
    /// and the run history group runs by it.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Say where the pipeline comes from (see [`Pipeline::origin`]).
    pub fn set_origin(&mut self, origin: impl Into<String>) {
        self.origin = origin.into();
    }

    /// Node outputs the pipeline writes to files after a run (a manifest's
    /// `[outputs]`): node name and path, in order.
    pub fn output_files(&self) -> &[(String, PathBuf)] {
        &self.output_files
    }

    /// Write node `node`'s output to `path` after a run.
    pub fn add_output_file(&mut self, node: impl Into<String>, path: PathBuf) {
        self.output_files.push((node.into(), path));
    }

    /// Resolve the nodes the requested outputs need into a validated plan.
    /// With no outputs, the pipeline's default outputs (or every sink) are planned.
    pub fn plan(&self, outputs: &[&str]) -> Result<crate::Plan, Error> {
        crate::plan::build(self, outputs)
    }
}
