//! Values and declarations between Weavelet and the WIT contract.

use weavelet_core::{Capability, Value, ValueType};

use crate::bindings::weavelet::node::types as wit;
use crate::host::NodeState;

pub(crate) fn to_wit(v: &Value, state: &mut NodeState) -> Result<wit::Value, String> {
    Ok(match v {
        Value::Null => wit::Value::Null,
        Value::Bool(b) => wit::Value::Boolean(*b),
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

pub(crate) fn from_wit(v: wit::Value, state: &mut NodeState) -> Result<Value, String> {
    let returned = |e: String| format!("returned {e}");
    Ok(match v {
        wit::Value::Null => Value::Null,
        wit::Value::Boolean(b) => Value::Bool(b),
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

pub(crate) fn type_from_wit(t: wit::ValueType) -> ValueType {
    use ValueType as T;
    match t {
        wit::ValueType::Any => T::Any,
        wit::ValueType::Null => T::Null,
        wit::ValueType::Boolean => T::Bool,
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

pub(crate) fn capability_from_wit(c: wit::Capability) -> Capability {
    match c {
        wit::Capability::ReadDir(d) => Capability::ReadDir(d),
        wit::Capability::WriteDir(d) => Capability::WriteDir(d),
        wit::Capability::Env(k) => Capability::Env(k),
        wit::Capability::Clock => Capability::Clock,
        wit::Capability::Random => Capability::Random,
    }
}
