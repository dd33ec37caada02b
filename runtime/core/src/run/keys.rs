//! A node's cache key: its code identity, the grants that change what it
//! computes, and the identity of each input it receives.

use std::borrow::Cow;

use super::state::RunState;
use crate::cache::{Parts, PlannedRecord};
use crate::key::{self, Digest, KeyHasher};
use crate::pipeline::Body;
use crate::plan::{GraphInput, GraphSource, Input, Plan};
use crate::policy::Policy;
use crate::value::Value;

/// What node `i`'s result is keyed by, or why it is not cached.
pub(super) struct Keyed {
    pub key: Digest,
    pub parts: Parts,
    pub uncacheable: Option<String>,
}

/// The policy node `i` runs under: its own, else the default, with the
/// pipeline's read grants unless its own policy grants reads, narrowed by
/// what the node's source asks for.
pub(super) fn effective_policy(state: &RunState, i: u32) -> Cow<'_, Policy> {
    policy_of(&state.plan.nodes[i as usize].node, state.plan.files.as_ref(), &state.policy)
}

/// The policy `node` runs under: its own or `default`, with the pipeline's
/// read `files` when it grants none itself, narrowed by what its source asks.
pub(crate) fn policy_of<'a>(
    node: &'a crate::Node,
    files: Option<&std::sync::Arc<weavelet_data::ReadGrants>>,
    default: &'a Policy,
) -> Cow<'a, Policy> {
    let mut policy = Cow::Borrowed(node.policy.as_deref().unwrap_or(default));
    if let Some(files) = files
        && policy.grants.files.read.is_empty()
    {
        policy.to_mut().grants.files = files.clone();
    }
    if let Some(requests) = &node.requests {
        policy = Cow::Owned(policy.into_owned().narrowed(requests));
    }
    policy
}

/// `node`'s code identity, or why it has none.
fn code_id(node: &crate::Node) -> Result<Digest, String> {
    match &node.body {
        Body::Code(code) => code.code_identity(),
        Body::Fixed(value) => {
            key::value_id(value).ok_or_else(|| "its value cannot be fingerprinted".to_string())
        }
    }
}

/// The identity of the grants that change what `node` computes under
/// `policy`; budgets only decide whether it finishes.
fn policy_id(node: &crate::Node, policy: &Policy) -> Digest {
    let grants = &policy.grants;
    let mut h = KeyHasher::new("policy");
    h.field("clock", &[u8::from(grants.clock)]).field("random", &[u8::from(grants.random)]);
    let mut env: Vec<&String> = grants.env.iter().collect();
    env.sort();
    for name in env {
        h.field("env", name.as_bytes());
        h.field(
            "value",
            std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()).unwrap_or_default().as_bytes(),
        );
    }
    h.field("base", grants.files.base.to_string_lossy().as_bytes());
    for dir in &grants.files.read {
        h.field("read", dir.to_string_lossy().as_bytes());
    }
    for (_, guest) in &grants.write {
        h.field("write", guest.as_bytes());
    }
    for host in &grants.net {
        h.field("net", host.to_string().as_bytes());
    }
    h.field("output", node.decl.output.name().as_bytes());
    h.finish()
}

/// What the history records of planned node `i` as a run starts: its code
/// and policy identities, its effective policy in words, what feeds each input.
/// (`inputs`: what feeds each of its inputs, as [`Plan::graph`] gives them).
pub(super) fn planned_record(
    plan: &Plan,
    i: usize,
    inputs: &[GraphInput],
    default: &Policy,
) -> PlannedRecord {
    let inner = &plan.inner;
    let node = &inner.nodes[i].node;
    let policy = policy_of(node, inner.files.as_ref(), default);
    let inputs = inputs
        .iter()
        .map(|input| {
            let from = match &input.from {
                GraphSource::Node(d) => format!("node {}", inner.nodes[*d].node.name),
                GraphSource::Param { name, .. } => format!("param {name}"),
                GraphSource::Default => "default".to_string(),
            };
            (input.name.clone(), from)
        })
        .collect();
    PlannedRecord {
        node: node.name.to_string(),
        source: node.source.to_string(),
        code: code_id(node).map(|c| key::hex(&c)),
        policy: key::hex(&policy_id(node, &policy)),
        policy_text: policy
            .summary()
            .iter()
            .map(|(what, text)| format!("{what}: {text}"))
            .collect::<Vec<_>>()
            .join("; "),
        inputs,
    }
}

/// Node `i`'s key for these inputs (parameters are keyed by their value,
/// upstream outputs by their identity).
pub(super) fn keyed(state: &RunState, i: u32, policy: &Policy, inputs: &[Value]) -> Keyed {
    let planned = &state.plan.nodes[i as usize];
    let node = &planned.node;
    let mut uncacheable = policy.uncacheable();
    let code = code_id(node).unwrap_or_else(|why| {
        uncacheable.get_or_insert(why);
        [0; 32]
    });
    let policy_id = policy_id(node, policy);

    let mut parts = Parts { code: key::hex(&code), policy: key::hex(&policy_id), inputs: Vec::new() };
    let mut h = KeyHasher::new("node");
    h.field("code", &code).field("policy", &policy_id);
    for (k, input) in planned.inputs.iter().enumerate() {
        let id = match input {
            Input::Node(d) => state.ids[*d as usize].get().copied(),
            Input::Value(_) => key::value_id(&inputs[k]),
        };
        let id = id.unwrap_or_else(|| {
            uncacheable.get_or_insert_with(|| {
                format!("input `{}` cannot be fingerprinted", node.decl.inputs[k].name)
            });
            [0; 32]
        });
        let name = node.decl.inputs.get(k).map_or("", |d| d.name.as_str());
        // The declared type too: it decides how the value reaches the code (an int
        // declared `float` arrives widened).
        let ty = node.decl.inputs.get(k).map_or("", |d| d.ty.name());
        h.field("input", name.as_bytes()).field("type", ty.as_bytes()).field("id", &id);
        parts.inputs.push((name.to_string(), key::hex(&id)));
    }
    Keyed { key: h.finish(), parts, uncacheable }
}
