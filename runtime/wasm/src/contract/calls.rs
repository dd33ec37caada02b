//! The glue between one version of the WIT contract and the host: values,
//! declarations and failures converted, `nodes` and `run` called. Compiled
//! once per version (`super` is that version's module, see `crate::contract`),
//! so both versions share every line.

use wasmtime::Store;
use weavelet_core::{Capability, InputDecl, NodeDecl, Value, ValueType};

use super::{BoolType, BoolValue, ModulePre, wit};
use crate::contract::{GuestError, Outcome};
use crate::host::NodeState;

impl wit::Host for NodeState {}

/// Instantiate the component in `store` and drop it, running no node.
pub(crate) fn instantiate(pre: &ModulePre<NodeState>, store: &mut Store<NodeState>) -> wasmtime::Result<()> {
    pre.instantiate(store).map(drop)
}

/// Instantiate the component in `store` and ask it for its node declarations (not yet validated).
pub(crate) fn declarations(
    pre: &ModulePre<NodeState>,
    store: &mut Store<NodeState>,
) -> wasmtime::Result<Vec<NodeDecl>> {
    let module = pre.instantiate(&mut *store)?;
    let raw = module.weavelet_node_node().call_nodes(&mut *store)?;
    Ok(raw.into_iter().map(decl_from_wit).collect())
}

/// Hand the inputs to a fresh instance in `store` and run node `node`.
pub(crate) fn run(
    pre: &ModulePre<NodeState>,
    store: &mut Store<NodeState>,
    node: &str,
    decls: &[InputDecl],
    inputs: Vec<Value>,
) -> Outcome {
    let mut wit_inputs: Vec<(String, wit::Value)> = Vec::with_capacity(inputs.len());
    for (decl, value) in decls.iter().zip(inputs) {
        match to_wit(&value, store.data_mut()) {
            Ok(value) => wit_inputs.push((decl.name.clone(), value)),
            Err(message) => return Outcome::Refused(message),
        }
    }
    let called = pre
        .instantiate(&mut *store)
        .and_then(|module| module.weavelet_node_node().call_run(&mut *store, node, &wit_inputs));
    match called {
        Err(e) => Outcome::Trapped(e),
        Ok(Err(e)) => Outcome::Failed(GuestError {
            kind: match e.kind {
                wit::ErrorKind::InvalidInput => "invalid-input",
                wit::ErrorKind::Failed => "failed",
                wit::ErrorKind::UnknownNode => "unknown-node",
            },
            message: e.message,
            input: e.input,
        }),
        Ok(Ok(value)) => match from_wit(value, store.data_mut()) {
            Ok(value) => Outcome::Returned(value),
            Err(message) => Outcome::BadReturn(message),
        },
    }
}

fn decl_from_wit(d: wit::NodeDecl) -> NodeDecl {
    let columns = |c: Vec<wit::Column>| c.into_iter().map(|c| (c.name, c.dtype)).collect();
    NodeDecl {
        name: d.name,
        doc: d.doc,
        inputs: d
            .inputs
            .into_iter()
            .map(|i| InputDecl {
                name: i.name,
                ty: type_from_wit(i.ty),
                optional: i.optional,
                columns: columns(i.columns),
            })
            .collect(),
        output: type_from_wit(d.output),
        output_columns: columns(d.output_columns),
        capabilities: d.capabilities.into_iter().map(capability_from_wit).collect(),
    }
}

fn to_wit(v: &Value, state: &mut NodeState) -> Result<wit::Value, String> {
    Ok(match v {
        Value::Null => wit::Value::Null,
        Value::Bool(b) => BoolValue(*b),
        Value::Int(i) => wit::Value::Int(*i),
        Value::Float(x) => wit::Value::Float(*x),
        Value::Text(s) => wit::Value::Text(s.to_string()),
        Value::Bytes(b) => wit::Value::Bytes(b.to_vec()),
        Value::BoolList(l) => wit::Value::BoolList(l.to_vec()),
        Value::IntList(l) => wit::Value::IntList(l.to_vec()),
        Value::FloatList(l) => wit::Value::FloatList(l.to_vec()),
        Value::TextList(l) => wit::Value::TextList(l.to_vec()),
        Value::Table(t) => wit::Value::Table(state.put(t.clone())?),
        Value::Svg(s) => wit::Value::Svg(state.put(s.clone())?),
        Value::Image(i) => wit::Value::Image(state.put(i.clone())?),
        Value::Images(l) => {
            wit::Value::Images(l.iter().map(|i| state.put(i.clone())).collect::<Result<_, _>>()?)
        }
    })
}

fn from_wit(v: wit::Value, state: &mut NodeState) -> Result<Value, String> {
    let returned = |e: String| format!("returned {e}");
    Ok(match v {
        wit::Value::Null => Value::Null,
        BoolValue(b) => Value::Bool(b),
        wit::Value::Int(i) => Value::Int(i),
        wit::Value::Float(x) => Value::Float(x),
        wit::Value::Text(s) => Value::Text(s.into()),
        wit::Value::Bytes(b) => Value::Bytes(b.into()),
        wit::Value::BoolList(l) => Value::BoolList(l.into()),
        wit::Value::IntList(l) => Value::IntList(l.into()),
        wit::Value::FloatList(l) => Value::FloatList(l.into()),
        wit::Value::TextList(l) => Value::TextList(l.into()),
        wit::Value::Table(handle) => Value::Table(state.take(handle).map_err(returned)?),
        wit::Value::Svg(handle) => Value::Svg(state.take(handle).map_err(returned)?),
        wit::Value::Image(handle) => Value::Image(state.take(handle).map_err(returned)?),
        wit::Value::Images(handles) => Value::Images(
            handles
                .into_iter()
                .map(|h| state.take(h).map_err(returned))
                .collect::<Result<Vec<_>, _>>()?
                .into(),
        ),
    })
}

fn type_from_wit(t: wit::ValueType) -> ValueType {
    use ValueType as T;
    match t {
        wit::ValueType::Any => T::Any,
        wit::ValueType::Null => T::Null,
        BoolType => T::Bool,
        wit::ValueType::Int => T::Int,
        wit::ValueType::Float => T::Float,
        wit::ValueType::Text => T::Text,
        wit::ValueType::Bytes => T::Bytes,
        wit::ValueType::BoolList => T::BoolList,
        wit::ValueType::IntList => T::IntList,
        wit::ValueType::FloatList => T::FloatList,
        wit::ValueType::TextList => T::TextList,
        wit::ValueType::Table => T::Table,
        wit::ValueType::Svg => T::Svg,
        wit::ValueType::Image => T::Image,
        wit::ValueType::Images => T::Images,
    }
}

fn capability_from_wit(c: wit::Capability) -> Capability {
    match c {
        wit::Capability::ReadDir(d) => Capability::ReadDir(d),
        wit::Capability::WriteDir(d) => Capability::WriteDir(d),
        wit::Capability::Env(k) => Capability::Env(k),
        wit::Capability::Clock => Capability::Clock,
        wit::Capability::Random => Capability::Random,
    }
}
