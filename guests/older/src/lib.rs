//! A component as it was built before WIT 0.4.0: against the frozen
//! `weavelet:node@0.3.0` (whose boolean case was `boolean`), with no SDK, so
//! it stays exactly what such a component was. The host must still run it —
//! booleans, their lists and a table through the 0.3.0 host interfaces — and
//! say it should be rebuilt.

wit_bindgen::generate!({
    world: "weavelet:node/module@0.3.0",
    path: "../../runtime/wasm/wit-0.3.0",
    generate_all,
});

use exports::weavelet::node::node::Guest;
use weavelet::node::host::{LogLevel, log};
use weavelet::node::types::{ErrorKind, InputDecl, NodeDecl, NodeError, Value, ValueType};

struct Older;

fn input(name: &str, ty: ValueType) -> InputDecl {
    InputDecl { name: name.into(), ty, optional: false, columns: vec![] }
}

fn decl(name: &str, doc: &str, inputs: Vec<InputDecl>, output: ValueType) -> NodeDecl {
    NodeDecl {
        name: name.into(),
        doc: doc.into(),
        inputs,
        output,
        output_columns: vec![],
        capabilities: vec![],
    }
}

fn invalid(input: &str, message: &str) -> NodeError {
    NodeError { kind: ErrorKind::InvalidInput, message: message.into(), input: Some(input.into()) }
}

impl Guest for Older {
    fn nodes() -> Vec<NodeDecl> {
        vec![
            decl("negate", "The flag, negated.", vec![input("flag", ValueType::Boolean)], ValueType::Boolean),
            decl(
                "flags",
                "`count` flags, every other one set.",
                vec![input("count", ValueType::Int)],
                ValueType::BoolList,
            ),
            decl(
                "count_set",
                "How many of the flags are set.",
                vec![input("flags", ValueType::BoolList)],
                ValueType::Int,
            ),
            decl(
                "rows",
                "The number of rows of a table.",
                vec![input("data", ValueType::Table)],
                ValueType::Int,
            ),
        ]
    }

    fn run(name: String, inputs: Vec<(String, Value)>) -> Result<Value, NodeError> {
        let arg = |wanted: &str| inputs.iter().find(|(n, _)| n == wanted).map(|(_, v)| v);
        match name.as_str() {
            "negate" => match arg("flag") {
                Some(Value::Boolean(b)) => Ok(Value::Boolean(!b)),
                _ => Err(invalid("flag", "expected a boolean")),
            },
            "flags" => match arg("count") {
                Some(Value::Int(n)) if (0..=1_000_000).contains(n) => {
                    Ok(Value::BoolList((0..*n).map(|i| i % 2 == 0).collect()))
                }
                _ => Err(invalid("count", "expected an int from 0 to 1000000")),
            },
            "count_set" => match arg("flags") {
                Some(Value::BoolList(flags)) => Ok(Value::Int(flags.iter().filter(|f| **f).count() as i64)),
                _ => Err(invalid("flags", "expected a bool-list")),
            },
            "rows" => match arg("data") {
                Some(Value::Table(table)) => {
                    let rows = table.height().map_err(|message| NodeError {
                        kind: ErrorKind::Failed,
                        message,
                        input: None,
                    })?;
                    log(LogLevel::Info, &format!("{rows} rows"));
                    Ok(Value::Int(rows as i64))
                }
                _ => Err(invalid("data", "expected a table")),
            },
            other => Err(NodeError {
                kind: ErrorKind::UnknownNode,
                message: format!("no node `{other}`"),
                input: None,
            }),
        }
    }
}

export!(Older);
