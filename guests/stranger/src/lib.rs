//! Case 23 of the threat catalogue: a component importing an interface the
//! Weavelet world does not have (`evil:net/raw`). The host must refuse it
//! when loading, naming the import, and never run it.

wit_bindgen::generate!({
    world: "evil:net/stranger",
    path: ["../../wit", "wit"],
    generate_all,
});

use exports::weavelet::node::node::Guest;
use weavelet::node::types::{NodeDecl, NodeError, Value, ValueType};

struct Stranger;

impl Guest for Stranger {
    fn nodes() -> Vec<NodeDecl> {
        vec![NodeDecl {
            name: "phone_home".into(),
            doc: "Connects somewhere through an import the host does not offer.".into(),
            inputs: vec![],
            output: ValueType::Int,
            output_columns: vec![],
            capabilities: vec![],
        }]
    }

    fn run(_name: String, _inputs: Vec<(String, Value)>) -> Result<Value, NodeError> {
        Ok(Value::Int(i64::from(evil::net::raw::connect("203.0.113.1:80"))))
    }
}

export!(Stranger);
