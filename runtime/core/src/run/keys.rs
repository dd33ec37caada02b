//! A node's cache key: its code identity, the grants that change what it
//! computes, and the identity of each input it receives.

use std::borrow::Cow;

use super::state::RunState;
use crate::cache::Parts;
use crate::key::{self, Digest, KeyHasher};
use crate::pipeline::Body;
use crate::plan::Input;
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

/// Node `i`'s key for these inputs (parameters are keyed by their value,
/// upstream outputs by their identity).
pub(super) fn keyed(state: &RunState, i: u32, policy: &Policy, inputs: &[Value]) -> Keyed {
    let planned = &state.plan.nodes[i as usize];
    let node = &planned.node;
    let mut uncacheable = policy.uncacheable();
    let code = match &node.body {
        Body::Code(code) => code.code_identity(),
        Body::Fixed(value) => {
            key::value_id(value).ok_or_else(|| "its value cannot be fingerprinted".to_string())
        }
    };
    let code = code.unwrap_or_else(|why| {
        uncacheable.get_or_insert(why);
        [0; 32]
    });
    // The grants that change what a node computes; budgets only decide whether it finishes.
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
    let policy_id = h.finish();

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
