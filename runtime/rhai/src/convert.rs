//! Values between Weavelet and Rhai.
//!
//! | Weavelet | Rhai |
//! |---|---|
//! | null | `()` |
//! | bool, int, float, text | `bool`, `i64`, `f64`, string |
//! | bytes | blob |
//! | typed lists | arrays (returned arrays must hold one kind of scalar; ints and floats mix into floats) |
//! | table | `table` (the same host-owned table: nothing is copied) |
//! | svg, image | `svg`, `image` (host-owned, like tables) |
//! | images | an array of `image`s |

use rhai::{Array, Blob, Dynamic, ImmutableString};

use weavelet_core::Value;
use weavelet_data::{Image, Svg, Table};

pub(crate) fn to_dynamic(v: Value) -> Dynamic {
    match v {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => b.into(),
        Value::Int(i) => i.into(),
        Value::Float(f) => f.into(),
        Value::Text(s) => ImmutableString::from(&*s).into(),
        Value::Bytes(b) => Dynamic::from_blob(Blob::from(&*b)),
        Value::BoolList(l) => Dynamic::from_array(l.iter().map(|&b| b.into()).collect()),
        Value::IntList(l) => Dynamic::from_array(l.iter().map(|&i| i.into()).collect()),
        Value::FloatList(l) => Dynamic::from_array(l.iter().map(|&f| f.into()).collect()),
        Value::TextList(l) => {
            Dynamic::from_array(l.iter().map(|s| ImmutableString::from(s.as_str()).into()).collect())
        }
        Value::Table(t) => Dynamic::from(t),
        Value::Svg(s) => Dynamic::from(s),
        Value::Image(i) => Dynamic::from(i),
        Value::Images(l) => Dynamic::from_array(l.iter().cloned().map(Dynamic::from).collect()),
    }
}

/// Convert a script's return value; the error says what could not be passed on.
pub(crate) fn from_dynamic(d: Dynamic) -> Result<Value, String> {
    if d.is_unit() {
        return Ok(Value::Null);
    }
    if let Some(b) = d.clone().try_cast::<bool>() {
        return Ok(Value::Bool(b));
    }
    if let Some(i) = d.clone().try_cast::<i64>() {
        return Ok(Value::Int(i));
    }
    if let Some(f) = d.clone().try_cast::<f64>() {
        return Ok(Value::Float(f));
    }
    if d.is_string() || d.is_char() {
        return Ok(Value::Text(d.to_string().into()));
    }
    if d.is_blob() {
        let blob: Blob = d.cast();
        return Ok(Value::Bytes(blob.into()));
    }
    if d.is_array() {
        let array: Array = d.cast();
        return array_value(array);
    }
    if d.is::<Table>() {
        return Ok(Value::Table(d.cast()));
    }
    if d.is::<Svg>() {
        return Ok(Value::Svg(d.cast()));
    }
    if d.is::<Image>() {
        return Ok(Value::Image(d.cast()));
    }
    Err(format!(
        "a {}, which cannot flow between nodes (return a scalar, a string, a blob, an array of scalars or \
         of images, a table, an svg or an image)",
        d.type_name()
    ))
}

fn array_value(array: Array) -> Result<Value, String> {
    if array.is_empty() {
        return Ok(Value::FloatList(Vec::new().into()));
    }
    if array.iter().all(|d| d.is::<Image>()) {
        let images: Vec<Image> = array.into_iter().filter_map(|d| d.try_cast()).collect();
        return Ok(Value::Images(images.into()));
    }
    if array.iter().all(|d| d.is_int()) {
        return Ok(Value::IntList(
            array.into_iter().filter_map(|d| d.as_int().ok()).collect::<Vec<_>>().into(),
        ));
    }
    if array.iter().all(|d| d.is_int() || d.is_float()) {
        let floats: Vec<f64> = array
            .into_iter()
            .filter_map(|d| d.as_float().ok().or_else(|| d.as_int().ok().map(|i| i as f64)))
            .collect();
        return Ok(Value::FloatList(floats.into()));
    }
    if array.iter().all(|d| d.is_bool()) {
        return Ok(Value::BoolList(
            array.into_iter().filter_map(|d| d.as_bool().ok()).collect::<Vec<_>>().into(),
        ));
    }
    if array.iter().all(|d| d.is_string() || d.is_char()) {
        return Ok(Value::TextList(array.into_iter().map(|d| d.to_string()).collect::<Vec<_>>().into()));
    }
    let kinds: std::collections::BTreeSet<&str> = array.iter().map(|d| d.type_name()).collect();
    Err(format!(
        "an array mixing {}; an array passed between nodes must hold one kind of scalar",
        kinds.into_iter().collect::<Vec<_>>().join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_become_typed_lists() {
        let mixed: Array = vec![1i64.into(), 2.5f64.into()];
        assert_eq!(from_dynamic(Dynamic::from_array(mixed)), Ok(Value::from(vec![1.0, 2.5])));
        let bad: Array = vec![1i64.into(), "x".into()];
        assert!(from_dynamic(Dynamic::from_array(bad)).is_err_and(|e| e.contains("mixing")));
    }
}
