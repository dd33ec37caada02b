//! Writing node outputs to files: the pipeline's `[outputs]` and `--save`.

use std::io::Write;
use std::path::Path;

use crate::table::{TableError, io};
use crate::value::Value;

/// Write `value` to `path`, atomically (a temporary file renamed into place).
///
/// Tables are written in the format the extension names (`.csv`, `.parquet`,
/// `.arrow`/`.ipc`, `.json`, `.jsonl`); other values as JSON (`.json`) or as
/// text (any other extension). Returns the bytes written.
pub fn save(value: &Value, path: &Path) -> Result<u64, TableError> {
    match value {
        Value::Table(table) => io::write(table, path),
        other => {
            let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
            let text = if is_json { to_json(other).to_string() } else { other.to_string() };
            io::atomic_write(path, |file| {
                writeln!(file, "{text}")
                    .map_err(|e| TableError::new(format!("writing {}: {e}", path.display())))
            })
        }
    }
}

fn to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::Null | Value::Table(_) => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(x) => J::from(*x),
        Value::Text(s) => J::from(&**s),
        Value::Bytes(b) => J::from(b.to_vec()),
        Value::BoolList(l) => J::from(l.to_vec()),
        Value::IntList(l) => J::from(l.to_vec()),
        Value::FloatList(l) => J::from(l.to_vec()),
        Value::TextList(l) => J::from(l.to_vec()),
    }
}
