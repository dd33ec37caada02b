//! `Plan`: the resolved, validated DAG for a set of requested outputs.
//!
//! Every error that can be found before running is found here, all at once:
//! duplicate names, missing dependencies (with suggestions), cycles (with the
//! full path), type mismatches and missing parameters.

use std::fmt;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use weavelet_data::ReadGrants;

use crate::error::{Diagnostic, Error, Fix};
use crate::pipeline::{Body, Node, Param, Pipeline};
use crate::value::{Value, ValueType};

/// Where one input of a planned node gets its value.
#[derive(Clone)]
pub(crate) enum Input {
    /// The output of the planned node at this index.
    Node(u32),
    /// A parameter value (or `null` for an unbound optional input).
    Value(Value),
}

pub(crate) struct PlannedNode {
    pub node: Node,
    pub inputs: Vec<Input>,
    /// Planned nodes that read this node's output, once per edge.
    pub dependents: Vec<u32>,
    /// Number of input edges from other planned nodes.
    pub deps: u32,
}

/// A validated execution plan: only the nodes the requested outputs need, in
/// dependency order. Cheap to clone; run it with a [`crate::Scheduler`] (through the
/// `weavelet` crate's `Runtime::run`).
#[derive(Clone)]
pub struct Plan {
    pub(crate) inner: Arc<PlanInner>,
}

pub(crate) struct PlanInner {
    /// Topologically sorted: every node comes after all of its inputs.
    pub nodes: Vec<PlannedNode>,
    pub targets: Vec<u32>,
    pub warnings: Vec<Diagnostic>,
    /// The pipeline's file grants, when it sets its own.
    pub files: Option<Arc<ReadGrants>>,
    /// The pipeline's origin (see [`Pipeline::origin`]).
    pub origin: String,
    /// The parameters some planned node's input binds to.
    pub params: Vec<String>,
}

/// A planned node as a graph vertex: for drawing and explaining a plan.
#[derive(Debug, Clone)]
pub struct GraphNode {
    /// The node's name.
    pub name: String,
    /// Where it comes from (`diamond.wasm`, `python_nodes.wasm`, `pipeline.rhai`, `builtin`).
    pub source: String,
    /// Its output type.
    pub output: ValueType,
    /// Its inputs, in declaration order.
    pub inputs: Vec<GraphInput>,
    /// Whether it is one of the plan's requested outputs.
    pub target: bool,
}

/// One input of a [`GraphNode`] and what feeds it.
#[derive(Debug, Clone)]
pub struct GraphInput {
    /// The input's name.
    pub name: String,
    /// Its declared type.
    pub ty: ValueType,
    /// What feeds it.
    pub from: GraphSource,
}

/// What feeds a node's input.
#[derive(Debug, Clone)]
pub enum GraphSource {
    /// The output of the node at this index of [`Plan::graph`].
    Node(usize),
    /// A pipeline parameter, with the value the plan resolved for this input.
    Param {
        /// The parameter.
        name: String,
        /// Its value, as this input receives it.
        value: Value,
    },
    /// Nothing: an optional input left at its default.
    Default,
}

impl Plan {
    /// The policy the planned node at `index` of [`Plan::graph`] runs under
    /// when nodes without their own run under `default`: its own or the
    /// default, with the pipeline's read grants, narrowed by what its source
    /// asks (`/// @timeout` in Rhai). `None` past the end.
    pub fn policy(&self, index: usize, default: &crate::Policy) -> Option<crate::Policy> {
        let node = &self.inner.nodes.get(index)?.node;
        Some(crate::run::policy_of(node, self.inner.files.as_ref(), default).into_owned())
    }

    /// The plan as a graph: its nodes in dependency order (inputs first),
    /// each with what feeds each of its inputs.
    pub fn graph(&self) -> Vec<GraphNode> {
        self.inner
            .nodes
            .iter()
            .enumerate()
            .map(|(i, planned)| {
                let node = &planned.node;
                GraphNode {
                    name: node.name().to_string(),
                    source: node.source().to_string(),
                    output: node.decl.output,
                    inputs: self.graph_inputs(i),
                    target: self.inner.targets.contains(&(i as u32)),
                }
            })
            .collect()
    }

    /// What feeds each input of planned node `i`, in declaration order.
    fn graph_inputs(&self, i: usize) -> Vec<GraphInput> {
        let planned = &self.inner.nodes[i];
        let node = &planned.node;
        node.decl
            .inputs
            .iter()
            .zip(&node.bindings)
            .zip(&planned.inputs)
            .map(|((decl, binding), input)| GraphInput {
                name: decl.name.clone(),
                ty: decl.ty,
                from: match input {
                    Input::Node(dep) => GraphSource::Node(*dep as usize),
                    Input::Value(value) if self.inner.params.iter().any(|p| **p == **binding) => {
                        GraphSource::Param { name: binding.to_string(), value: value.clone() }
                    }
                    Input::Value(_) => GraphSource::Default,
                },
            })
            .collect()
    }

    /// The planned nodes' names, in an order where inputs come first.
    pub fn node_names(&self) -> impl Iterator<Item = &str> {
        self.inner.nodes.iter().map(|n| n.node.name())
    }

    /// How many nodes will run.
    pub fn len(&self) -> usize {
        self.inner.nodes.len()
    }

    /// Whether the plan is empty.
    pub fn is_empty(&self) -> bool {
        self.inner.nodes.is_empty()
    }

    /// The requested outputs, in request order.
    pub fn targets(&self) -> impl Iterator<Item = &str> {
        self.inner.targets.iter().map(|&i| self.inner.nodes[i as usize].node.name())
    }

    /// Things worth telling the user that do not stop the run (an unused parameter, say).
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.inner.warnings
    }

    /// The origin of the pipeline it was planned from (see [`Pipeline::origin`]).
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }
}

impl fmt::Debug for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plan")
            .field("nodes", &self.node_names().collect::<Vec<_>>())
            .field("targets", &self.targets().collect::<Vec<_>>())
            .finish()
    }
}

const UNVISITED: u32 = u32::MAX;
const IN_PROGRESS: u32 = u32::MAX - 1;

pub(crate) fn build(pipeline: &Pipeline, requested: &[&str]) -> Result<Plan, Error> {
    let mut errors = Vec::new();
    let nodes = &pipeline.nodes;

    let mut index: FxHashMap<&str, u32> = FxHashMap::default();
    index.reserve(nodes.len());
    for (i, node) in nodes.iter().enumerate() {
        if let Some(&first) = index.get(node.name()) {
            let first = &nodes[first as usize];
            errors.push(
                Diagnostic::new(format!(
                    "two nodes are named `{}`: one from {}, one from {}",
                    node.name(),
                    first.source(),
                    node.source()
                ))
                .with_help("rename one of them in the pipeline, or drop one of the sources"),
            );
        } else {
            index.insert(node.name(), i as u32);
        }
    }
    for name in pipeline.params.keys() {
        if let Some(&i) = index.get(name.as_str()) {
            errors.push(
                Diagnostic::new(format!(
                    "parameter `{name}` has the same name as node `{name}` from {}",
                    nodes[i as usize].source()
                ))
                .with_help("a name binds to one thing: rename the parameter or the node"),
            );
        }
    }

    // The targets: as requested, else the pipeline's defaults, else every sink.
    let mut targets: Vec<u32> = Vec::new();
    let defaults: Vec<&str> = pipeline.outputs.iter().map(String::as_str).collect();
    let wanted: &[&str] = if requested.is_empty() { &defaults } else { requested };
    if wanted.is_empty() {
        let mut used = vec![false; nodes.len()];
        for node in nodes {
            for b in &node.bindings {
                if let Some(&j) = index.get(&**b) {
                    used[j as usize] = true;
                }
            }
        }
        targets.extend(index.values().copied().filter(|&i| !used[i as usize]).collect::<Vec<_>>());
        if targets.is_empty() {
            // Every node is read by another: there is a cycle, and planning every node finds it.
            targets.extend(index.values().copied());
        }
        targets.sort_unstable();
    } else {
        for &name in wanted {
            match index.get(name) {
                Some(&i) if !targets.contains(&i) => targets.push(i),
                Some(_) => {}
                None => errors.push(unknown_output(name, &index)),
            }
        }
    }
    if nodes.is_empty() {
        errors.push(
            Diagnostic::new("the pipeline has no nodes")
                .with_help("list at least one component in the pipeline"),
        );
    }
    if !errors.is_empty() {
        return Err(Error::Plan(errors));
    }

    // Depth-first from the targets: post-order gives dependency order, and a
    // node met again while still on the stack closes a cycle.
    let mut order: Vec<u32> = Vec::new();
    let mut planned = vec![UNVISITED; nodes.len()];
    let mut stack: Vec<(u32, usize)> = Vec::new();
    let mut cycles_seen = 0usize;
    for &target in &targets {
        if planned[target as usize] != UNVISITED {
            continue;
        }
        planned[target as usize] = IN_PROGRESS;
        stack.push((target, 0));
        while let Some(&mut (n, ref mut next)) = stack.last_mut() {
            let node = &nodes[n as usize];
            if *next < node.bindings.len() {
                let binding = &node.bindings[*next];
                *next += 1;
                let Some(&dep) = index.get(&**binding) else { continue };
                match planned[dep as usize] {
                    UNVISITED => {
                        planned[dep as usize] = IN_PROGRESS;
                        stack.push((dep, 0));
                    }
                    IN_PROGRESS => {
                        cycles_seen += 1;
                        if cycles_seen <= 3 {
                            errors.push(cycle(nodes, &stack, dep));
                        }
                    }
                    _ => {}
                }
            } else {
                stack.pop();
                planned[n as usize] = order.len() as u32;
                order.push(n);
            }
        }
    }
    if !errors.is_empty() {
        return Err(Error::Plan(errors));
    }

    // Resolve every input of every planned node.
    let mut planned_nodes: Vec<PlannedNode> = Vec::with_capacity(order.len());
    let mut params_used: FxHashMap<&str, bool> =
        pipeline.params.keys().map(|k| (k.as_str(), false)).collect();
    for &n in &order {
        let node = &nodes[n as usize];
        let before = errors.len();
        let mut inputs = Vec::with_capacity(node.bindings.len());
        let mut deps = 0u32;
        for (input, binding) in node.decl.inputs.iter().zip(&node.bindings) {
            if let Some(&dep) = index.get(&**binding) {
                let upstream = &nodes[dep as usize];
                if !upstream.decl.output.feeds(input.ty) {
                    errors.push(
                        Diagnostic::new(format!(
                            "type mismatch: node `{}` ({}) outputs {}, but input `{}` of node `{}` ({}) expects {}",
                            upstream.name(),
                            upstream.source(),
                            upstream.decl.output,
                            input.name,
                            node.name(),
                            node.source(),
                            input.ty
                        ))
                        .with_help("change one of the two declarations, or put a converting node between them"),
                    );
                }
                // Where the upstream node promises its columns, check them before anything runs.
                if !input.columns.is_empty() && !upstream.decl.output_columns.is_empty() {
                    let problems = weavelet_data::table::missing_promised_columns(
                        &upstream.decl.output_columns,
                        &input.columns,
                    );
                    if !problems.is_empty() {
                        errors.push(
                            Diagnostic::new(format!(
                                "schema mismatch: input `{}` of node `{}` needs columns node `{}` ({}) does not promise: {}",
                                input.name,
                                node.name(),
                                upstream.name(),
                                upstream.source(),
                                problems.join("; ")
                            ))
                            .with_help("change the columns one node promises or the other requires"),
                        );
                    }
                }
                inputs.push(Input::Node(planned[dep as usize]));
                deps += 1;
                continue;
            }
            if let Some(param) = pipeline.params.get(&**binding) {
                params_used.insert(binding, true);
                match param {
                    Param::Value(v) => {
                        if !v.value_type().feeds(input.ty) {
                            errors.push(Diagnostic::new(format!(
                                "type mismatch: parameter `{binding}` is {} ({v}), but input `{}` of node `{}` expects {}",
                                v.value_type(), input.name, node.name(), input.ty
                            )).with_help(format!("give `{binding}` a value of type {}", input.ty)));
                        }
                        inputs.push(Input::Value(v.clone()));
                    }
                    Param::Text(text) => match Value::parse_as(text, input.ty) {
                        Ok(v) => inputs.push(Input::Value(v)),
                        Err(why) => {
                            errors.push(
                                Diagnostic::new(format!(
                                    "parameter `{binding}`: {why}, but input `{}` of node `{}` expects {}",
                                    input.name,
                                    node.name(),
                                    input.ty
                                ))
                                .with_help(format!("set parameter `{binding}` to {}", input.ty.placeholder()))
                                .with_fix(Fix::SetParam { name: binding.to_string(), ty: input.ty }),
                            );
                            inputs.push(Input::Value(Value::Null));
                        }
                    },
                    Param::Required { ty } => {
                        errors.push(
                            Diagnostic::new(format!(
                                "missing required parameter `{binding}` ({ty}), needed by input `{}` of node `{}`",
                                input.name,
                                node.name()
                            ))
                            .with_help(format!("set parameter `{binding}` to {}", ty.placeholder()))
                            .with_fix(Fix::SetParam { name: binding.to_string(), ty: *ty }),
                        );
                        inputs.push(Input::Value(Value::Null));
                    }
                }
                continue;
            }
            if input.optional {
                inputs.push(Input::Value(Value::Null));
                continue;
            }
            errors.push(missing_dependency(node, binding, input.ty, &index, pipeline));
            inputs.push(Input::Value(Value::Null));
        }
        // What went wrong with this node's inputs points at its definition, when a script has one.
        if let Some(at) = &node.defined_at {
            for d in &mut errors[before..] {
                if d.at.is_none()
                    && let Some(input) =
                        node.decl.inputs.iter().find(|i| d.message.contains(&format!("`{}`", i.name)))
                {
                    d.at = Some(Box::new(crate::SourceSpan {
                        file: at.0.clone(),
                        line: at.1,
                        text: input.name.clone(),
                    }));
                }
            }
        }
        errors.extend(ungranted(node, pipeline));
        planned_nodes.push(PlannedNode { node: node.clone(), inputs, dependents: Vec::new(), deps });
    }
    if !errors.is_empty() {
        return Err(Error::Plan(errors));
    }
    for i in 0..planned_nodes.len() {
        for k in 0..planned_nodes[i].inputs.len() {
            if let Input::Node(dep) = planned_nodes[i].inputs[k] {
                planned_nodes[dep as usize].dependents.push(i as u32);
            }
        }
    }

    let mut warnings = Vec::new();
    let all_bindings: Vec<&str> = if params_used.values().all(|&u| u) {
        Vec::new()
    } else {
        nodes.iter().flat_map(|n| n.bindings.iter().map(|b| &**b)).collect()
    };
    let mut unused: Vec<&str> = params_used
        .iter()
        .filter(|&(name, &used)| !used && !all_bindings.contains(name))
        .map(|(name, _)| *name)
        .collect();
    unused.sort_unstable();
    for name in unused {
        let mut d = Diagnostic::new(format!("parameter `{name}` is not an input of any node"));
        if let Some(s) = crate::suggest(name, all_bindings.iter().copied()) {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        warnings.push(d);
    }
    for planned in &planned_nodes {
        if let Body::Code(code) = &planned.node.body
            && let Some(notice) = code.notice()
            && !warnings.contains(&notice)
        {
            warnings.push(notice);
        }
    }

    let targets = targets.iter().map(|&t| planned[t as usize]).collect();
    Ok(Plan {
        inner: Arc::new(PlanInner {
            nodes: planned_nodes,
            targets,
            warnings,
            files: pipeline.files.clone(),
            origin: pipeline.origin().to_string(),
            params: params_used.iter().filter(|(_, used)| **used).map(|(name, _)| name.to_string()).collect(),
        }),
    })
}

fn cycle(nodes: &[Node], stack: &[(u32, usize)], back_to: u32) -> Diagnostic {
    let start = stack.iter().position(|&(n, _)| n == back_to).unwrap_or(0);
    // The stack runs consumer → dependency; print it in data-flow order.
    let mut path: Vec<&str> = stack[start..].iter().rev().map(|&(n, _)| nodes[n as usize].name()).collect();
    path.push(nodes[stack[stack.len() - 1].0 as usize].name());
    Diagnostic::new(format!("dependency cycle: {}", path.join(" → ")))
        .with_help("a node cannot depend on its own output; break the cycle by renaming an input or binding it to a parameter")
}

fn unknown_output(name: &str, index: &FxHashMap<&str, u32>) -> Diagnostic {
    let mut d = Diagnostic::new(format!("no node is named `{name}`, so it cannot be an output"));
    if let Some(s) = crate::suggest(name, index.keys().copied()) {
        d = d.with_help(format!("did you mean `{s}`?"));
    }
    d
}

/// The capabilities `node` declares that its policy does not grant, each
/// with the grant that would allow it.
fn ungranted(node: &Node, pipeline: &Pipeline) -> Vec<Diagnostic> {
    if node.decl.capabilities.is_empty() {
        return Vec::new();
    }
    let mut policy = node.policy.as_deref().cloned().unwrap_or_default();
    if let Some(files) = &pipeline.files
        && policy.grants.files.read.is_empty()
    {
        policy.grants.files = files.clone();
    }
    let mut problems = Vec::new();
    for capability in &node.decl.capabilities {
        if policy.grants.allow(capability) {
            continue;
        }
        problems.push(
            Diagnostic::new(format!(
                "node `{}` ({}) requests `{capability}`, which the pipeline does not grant",
                node.name(),
                node.source()
            ))
            .with_help(format!(
                "grant it in the policy of node `{}` (or in the pipeline's policy, for every node)",
                node.name()
            ))
            .with_fix(Fix::Grant { node: node.name().to_string(), capability: capability.clone() }),
        );
    }
    problems
}

fn missing_dependency(
    node: &Node,
    binding: &str,
    ty: ValueType,
    index: &FxHashMap<&str, u32>,
    pipeline: &Pipeline,
) -> Diagnostic {
    let d = Diagnostic::new(format!(
        "node `{}` ({}) needs `{binding}` ({ty}), but no node or parameter is called `{binding}`",
        node.name(),
        node.source()
    ));
    let candidates = index.keys().copied().chain(pipeline.params.keys().map(String::as_str));
    let did_you_mean = crate::suggest(binding, candidates);
    let help = match &did_you_mean {
        Some(s) => format!(
            "did you mean `{s}`? otherwise add a node named `{binding}` or set parameter `{binding}` to {}",
            ty.placeholder()
        ),
        None => format!("add a node named `{binding}` or set parameter `{binding}` to {}", ty.placeholder()),
    };
    d.with_help(help).with_fix(Fix::ProvideInput { name: binding.to_string(), ty, did_you_mean })
}
