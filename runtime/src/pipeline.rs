//! `Pipeline`: node sources, parameters and requested outputs.

use std::fmt;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::component::ComponentModule;
use crate::value::{Value, ValueType};

/// One named input of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputDecl {
    /// The input's name; by default also the name of the node or parameter it binds to.
    pub name: String,
    /// The declared type.
    pub ty: ValueType,
    /// An optional input that nothing binds to receives `null`.
    pub optional: bool,
    /// For a table input: the `(column, dtype)` pairs it requires (checked before the node runs).
    pub columns: Vec<(String, String)>,
}

impl InputDecl {
    /// A required input.
    pub fn required(name: impl Into<String>, ty: ValueType) -> Self {
        InputDecl { name: name.into(), ty, optional: false, columns: Vec::new() }
    }

    /// An optional input.
    pub fn optional(name: impl Into<String>, ty: ValueType) -> Self {
        InputDecl { name: name.into(), ty, optional: true, columns: Vec::new() }
    }

    /// Require these `(column, dtype)` pairs of a table input.
    pub fn with_columns(mut self, columns: &[(&str, &str)]) -> Self {
        self.columns = columns.iter().map(|(c, t)| (c.to_string(), t.to_string())).collect();
        self
    }
}

/// A capability a node requests; nothing is granted by default.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Read files under a directory.
    ReadDir(String),
    /// Write files under a directory.
    WriteDir(String),
    /// Read an environment variable.
    Env(String),
    /// The real wall clock.
    Clock,
    /// Real randomness.
    Random,
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Capability::ReadDir(d) => write!(f, "read-dir {d}"),
            Capability::WriteDir(d) => write!(f, "write-dir {d}"),
            Capability::Env(k) => write!(f, "env {k}"),
            Capability::Clock => f.write_str("clock"),
            Capability::Random => f.write_str("random"),
        }
    }
}

/// What a node declares about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeDecl {
    /// The node's name, unique in a pipeline.
    pub name: String,
    /// Its documentation.
    pub doc: String,
    /// Its inputs, in declaration order.
    pub inputs: Vec<InputDecl>,
    /// Its output type.
    pub output: ValueType,
    /// For a table output: the `(column, dtype)` pairs it promises.
    pub output_columns: Vec<(String, String)>,
    /// The capabilities it requests.
    pub capabilities: Vec<Capability>,
}

/// A node implemented by host Rust code (built-in nodes and embedders' own nodes).
pub type BuiltinFn = dyn Fn(&[Value]) -> Result<Value, String> + Send + Sync;

#[derive(Clone)]
pub(crate) enum Body {
    /// `node` of a compiled component.
    Component { module: Arc<ComponentModule>, node: Arc<str> },
    /// Host code; receives the inputs in declaration order.
    Builtin(Arc<BuiltinFn>),
    /// Node number `index` of a Rhai script.
    Script { script: Arc<crate::script::Script>, index: usize },
    /// A value given instead of running the node (`--override`).
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
    /// Budgets of this node, when they differ from the runtime's default policy.
    pub(crate) policy: Option<Arc<crate::Policy>>,
}

impl Node {
    /// The node's name in the pipeline.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node's declaration.
    pub fn decl(&self) -> &NodeDecl {
        &self.decl
    }

    /// Where the node comes from: a component file, or `builtin`.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Bind input `input` to the node or parameter `target` instead of the
    /// one with the input's own name.
    pub fn bind(mut self, input: &str, target: &str) -> Result<Node, crate::Error> {
        match self.decl.inputs.iter().position(|i| i.name == input) {
            Some(i) => {
                self.bindings[i] = target.into();
                Ok(self)
            }
            None => Err(crate::Error::Usage(format!(
                "node `{}` has no input `{input}` (its inputs: {})",
                self.name,
                names(self.decl.inputs.iter().map(|i| i.name.as_str()))
            ))),
        }
    }

    /// Run this node under `policy` instead of the runtime's default.
    pub fn with_policy(mut self, policy: crate::Policy) -> Node {
        self.policy = Some(Arc::new(policy));
        self
    }

    /// Give the node another name in the pipeline (to use one node twice).
    pub fn renamed(mut self, name: &str) -> Node {
        self.name = name.into();
        self
    }
}

pub(crate) fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<String> = it.map(|n| format!("`{n}`")).collect();
    if v.is_empty() { "none".to_string() } else { v.join(", ") }
}

/// A pipeline parameter.
#[derive(Debug, Clone)]
pub(crate) enum Param {
    /// A typed value (from code or a manifest).
    Value(Value),
    /// Text from the command line, parsed once the consuming input's type is known.
    Text(String),
    /// Declared without a value: a run must supply it.
    Required { ty: ValueType },
}

/// Node sources, parameters and requested outputs: everything needed to plan a run.
///
/// ```no_run
/// # fn main() -> Result<(), weavelet::Error> {
/// use weavelet::{Pipeline, Runtime, Value};
///
/// let runtime = Runtime::new(weavelet::Config::default())?;
/// let module = runtime.load_component("diamond_nodes.wasm")?;
/// let mut pipeline = Pipeline::new();
/// pipeline.add_component(&module)?;
/// pipeline.set_param("count", Value::Int(100));
/// let plan = pipeline.plan(&["report"])?;
/// let report = runtime.run(&plan)?;
/// println!("{}", report.output("report").expect("planned"));
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct Pipeline {
    pub(crate) nodes: Vec<Node>,
    pub(crate) params: FxHashMap<String, Param>,
    pub(crate) outputs: Vec<String>,
    /// Files every node of this pipeline may read (overrides the runtime's default).
    pub(crate) files: Option<Arc<crate::table::io::Grants>>,
}

impl Pipeline {
    /// An empty pipeline.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add every node of a loaded component.
    pub fn add_component(&mut self, module: &Arc<ComponentModule>) -> Result<(), crate::Error> {
        for decl in module.decls() {
            self.nodes.push(module.node(&decl.name)?);
        }
        Ok(())
    }

    /// Add every node of a loaded Rhai script.
    pub fn add_script(&mut self, script: &Arc<crate::script::Script>) {
        self.nodes.extend(script.nodes());
    }

    /// Add one node (from [`ComponentModule::node`] or [`Pipeline::builtin`]).
    pub fn add_node(&mut self, node: Node) {
        self.nodes.push(node);
    }

    /// A node implemented by host code. `f` receives the inputs in declaration order.
    pub fn builtin(
        decl: NodeDecl,
        f: impl Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'static,
    ) -> Node {
        Node {
            name: decl.name.as_str().into(),
            bindings: decl.inputs.iter().map(|i| Arc::from(i.name.as_str())).collect(),
            decl: Arc::new(decl),
            body: Body::Builtin(Arc::new(f)),
            source: "builtin".into(),
            policy: None,
        }
    }

    /// Use `value` as node `name`'s output instead of running it (its
    /// upstream is then not needed). The value must have the node's declared type.
    pub fn override_node(&mut self, name: &str, value: Value) -> Result<(), crate::Error> {
        let Some(node) = self.nodes.iter_mut().find(|n| &*n.name == name) else {
            let known = names(self.nodes.iter().map(|n| n.name()));
            let hint = crate::plan::suggest(name, self.nodes.iter().map(|n| n.name()))
                .map_or(format!("its nodes: {known}"), |s| format!("did you mean `{s}`?"));
            return Err(crate::Error::Usage(format!(
                "--override {name}: the pipeline has no node `{name}` ({hint})"
            )));
        };
        if !value.value_type().feeds(node.decl.output) {
            return Err(crate::Error::Usage(format!(
                "--override {name}: node `{name}` outputs {}, but the value given is {}",
                node.decl.output,
                value.value_type()
            )));
        }
        let mut decl = (*node.decl).clone();
        decl.inputs.clear();
        decl.capabilities.clear();
        node.decl = Arc::new(decl);
        node.bindings.clear();
        node.body = Body::Fixed(value);
        node.source = "--override".into();
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
    pub fn set_files(&mut self, grants: crate::table::io::Grants) {
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

    /// Resolve the nodes the requested outputs need into a validated plan.
    /// With no outputs, the pipeline's default outputs (or every sink) are planned.
    pub fn plan(&self, outputs: &[&str]) -> Result<crate::Plan, crate::Error> {
        crate::plan::build(self, outputs)
    }
}
