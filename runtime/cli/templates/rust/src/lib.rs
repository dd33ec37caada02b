//! The nodes of {{name}}: each function is a node, its parameters are its inputs.

use weavelet_sdk as weavelet;

/// A greeting for `name` (a pipeline parameter).
#[weavelet::node]
fn greeting(name: String) -> Result<String, String> {
    if name.trim().is_empty() {
        return Err("name must not be empty".into());
    }
    Ok(format!("Hello, {name}!"))
}

/// The greeting, louder.
#[weavelet::node]
fn loud(greeting: String) -> String {
    greeting.to_uppercase()
}

weavelet::export!(greeting, loud);
