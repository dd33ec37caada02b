//! What a node declares about itself: its name, inputs, output and the
//! capabilities it requests. Backends read declarations from their sources
//! (a component's `nodes()`, a script's functions) and the planner checks
//! them against each other.

use std::fmt;

use crate::value::ValueType;

/// One named input of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputDecl {
    /// The input's name; by default also the name of the node or parameter it binds to.
    pub name: String,
    /// The declared type.
    pub ty: ValueType,
    /// An optional input that nothing binds to receives `null`.
    pub optional: bool,
    /// For a table input: the `(column, dtype)` pairs it requires (checked before the node runs).
    pub columns: Vec<(String, String)>,
}

impl InputDecl {
    /// A required input.
    pub fn required(name: impl Into<String>, ty: ValueType) -> Self {
        InputDecl { name: name.into(), ty, optional: false, columns: Vec::new() }
    }

    /// An optional input.
    pub fn optional(name: impl Into<String>, ty: ValueType) -> Self {
        InputDecl { name: name.into(), ty, optional: true, columns: Vec::new() }
    }

    /// Require these `(column, dtype)` pairs of a table input.
    pub fn with_columns(mut self, columns: &[(&str, &str)]) -> Self {
        self.columns = columns.iter().map(|(c, t)| (c.to_string(), t.to_string())).collect();
        self
    }
}

/// A capability a node requests; nothing is granted by default.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Read files under a directory.
    ReadDir(String),
    /// Write files under a directory.
    WriteDir(String),
    /// Read an environment variable.
    Env(String),
    /// The real wall clock.
    Clock,
    /// Real randomness.
    Random,
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Capability::ReadDir(d) => write!(f, "read-dir {d}"),
            Capability::WriteDir(d) => write!(f, "write-dir {d}"),
            Capability::Env(k) => write!(f, "env {k}"),
            Capability::Clock => f.write_str("clock"),
            Capability::Random => f.write_str("random"),
        }
    }
}

/// What a node declares about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeDecl {
    /// The node's name, unique in a pipeline.
    pub name: String,
    /// Its documentation.
    pub doc: String,
    /// Its inputs, in declaration order.
    pub inputs: Vec<InputDecl>,
    /// Its output type.
    pub output: ValueType,
    /// For a table output: the `(column, dtype)` pairs it promises.
    pub output_columns: Vec<(String, String)>,
    /// The capabilities it requests.
    pub capabilities: Vec<Capability>,
}

impl NodeDecl {
    /// A node named `name` with these inputs and output type, no doc, no
    /// column requirements and no capabilities.
    pub fn new(name: impl Into<String>, inputs: Vec<InputDecl>, output: ValueType) -> NodeDecl {
        NodeDecl {
            name: name.into(),
            doc: String::new(),
            inputs,
            output,
            output_columns: Vec::new(),
            capabilities: Vec::new(),
        }
    }

    /// This declaration with `doc` as its documentation.
    pub fn with_doc(mut self, doc: impl Into<String>) -> NodeDecl {
        self.doc = doc.into();
        self
    }
}

/// Whether `s` is a valid node or input name: an identifier of at most 128
/// characters (letters, digits and `_`, not starting with a digit).
pub fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 128
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_identifiers() {
        assert!(super::is_name("total_2"));
        assert!(super::is_name("_x"));
        assert!(!super::is_name("2x"));
        assert!(!super::is_name("a-b"));
        assert!(!super::is_name(""));
        assert!(!super::is_name(&"a".repeat(129)));
    }
}
