//! Write Weavelet pipeline nodes as plain Rust functions.
//!
//! A node is an ordinary function marked `#[weavelet::node]`. **Its parameter
//! names are its inputs**: an input called `readings` receives the output of
//! the node called `readings`, or the pipeline parameter of that name. Its doc
//! comment becomes the node's documentation; returning `Result` turns `Err`
//! into a node failure that the host reports with the node's name.
//!
//! ```
//! use weavelet_sdk as weavelet;
//!
//! /// Evenly spaced readings, `count` of them.
//! #[weavelet::node]
//! fn readings(count: i64) -> Vec<f64> {
//!     (0..count).map(|i| i as f64 * 1.5).collect()
//! }
//!
//! /// The sum of all readings.
//! #[weavelet::node]
//! fn total(readings: Vec<f64>) -> f64 {
//!     readings.iter().sum()
//! }
//!
//! /// The mean reading; fails on an empty series.
//! #[weavelet::node]
//! fn mean(readings: Vec<f64>, total: f64) -> Result<f64, String> {
//!     if readings.is_empty() {
//!         return Err("no readings to average".into());
//!     }
//!     weavelet::info(&format!("averaging {} readings", readings.len()));
//!     Ok(total / readings.len() as f64)
//! }
//!
//! /// A one-line summary; `unit` is optional (no node or parameter: `None`).
//! #[weavelet::node]
//! fn summary(total: f64, mean: f64, unit: Option<String>) -> String {
//!     let unit = unit.unwrap_or_default();
//!     format!("total {total}{unit}, mean {mean:.2}{unit}")
//! }
//!
//! // Make the listed nodes the exports of this component.
//! weavelet::export!(readings, total, mean, summary);
//! # fn main() {}
//! ```
//!
//! Build it as a component with `cargo build --release --target wasm32-wasip2`
//! (crate type `cdylib`) and list the `.wasm` file in a `weavelet.toml`.
//!
//! # Types
//!
//! | Rust parameter or return type | Weavelet type |
//! |---|---|
//! | `()` | `null` |
//! | `bool` | `bool` |
//! | `i64`, `i32`, `u32` | `int` |
//! | `f64`, `f32` | `float` |
//! | `String` | `text` |
//! | [`Bytes`] | `bytes` |
//! | `Vec<bool>`, `Vec<i64>`, `Vec<f64>`, `Vec<String>` | typed lists |
//! | [`Table`] | `table` (a handle: the data stays in the host) |
//! | [`Svg`], [`Image`] | `svg`, `image` (handles, like tables) |
//! | `Vec<Image>` | `images` |
//! | [`Value`] | `any` (checked by the node itself) |
//! | `Option<T>` (parameter) | optional input of `T` |
//! | `Result<T, E>` (return, `E: Display`) | `T`; `Err` fails the node |
//!
//! # Node options
//!
//! `#[weavelet::node(name = "other_name")]` renames the node. Capabilities the
//! node needs are requested with `read_dir = "/data"`, `write_dir = "/out"`,
//! `env = "API_KEY"`, `clock` and `random`; the operator must grant them.
//! The network is the operator's alone to grant (`net = ["host:port"]` in the
//! pipeline's policy); a node reaches it with [`http`] (in wasm builds).
//!
//! A table input can require columns, checked by the host before the node
//! runs: `columns(sales = "region: text, revenue: float")`. A node returning a
//! table can promise its columns with `output_columns = "region: text, total: float"`,
//! and the host checks promises against requirements before the run starts.
//! Column types: `int`, `float`, `number`, `text`, `bool`, `date`, `datetime`,
//! `any`, or an exact dtype (`i64`, `f64`, ...).

#![warn(missing_docs)]

extern crate self as weavelet_sdk;

use std::fmt;

/// Marks a function as a Weavelet node. See the crate documentation.
pub use weavelet_sdk_macros::node;

/// Generated bindings of the `weavelet:node` WIT package.
#[allow(missing_docs, clippy::all, unsafe_code)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "module",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "__export_world",
        default_bindings_module: "weavelet_sdk::bindings",
        runtime_path: "weavelet_sdk::__private::wit_bindgen::rt",
    });
}

pub use bindings::weavelet::node::host::LogLevel;
pub use bindings::weavelet::node::types::{
    Capability, Column, ErrorKind, InputDecl, JoinKind, NodeDecl, NodeError, Value, ValueType,
};

/// `FromValue` and `IntoValue` for a wrapper around a host handle (`Table`,
/// `Svg`, `Image`): the handle moves in and out of the value as it is.
macro_rules! handle_value {
    ($t:ident, $variant:ident, $name:literal) => {
        impl $crate::FromValue for $t {
            const TYPE: $crate::ValueType = $crate::ValueType::$variant;
            fn from_value(value: $crate::Value) -> std::result::Result<Self, String> {
                match value {
                    $crate::Value::$variant(handle) => Ok($t(handle)),
                    other => Err(format!(concat!("expected ", $name, ", got {}"), $crate::type_name(&other))),
                }
            }
        }

        impl $crate::IntoValue for $t {
            const TYPE: $crate::ValueType = $crate::ValueType::$variant;
            fn into_value(self) -> $crate::Value {
                $crate::Value::$variant(self.0)
            }
        }
    };
}

mod graphics;
#[cfg(target_arch = "wasm32")]
pub mod http;
mod table;
pub use graphics::{ChartKind, ChartSpec, GraphicsError, Image, Svg, chart_spec};
pub use table::{Table, TableError};

/// Append a line to this node's log at the given level.
pub fn log(level: LogLevel, message: &str) {
    bindings::weavelet::node::host::log(level, message);
}

/// Log at info level.
pub fn info(message: &str) {
    log(LogLevel::Info, message);
}

/// Log at warning level.
pub fn warn(message: &str) {
    log(LogLevel::Warn, message);
}

/// Report progress: `done` of `total` units (`total` 0 when unknown).
pub fn progress(done: u64, total: u64, message: &str) {
    bindings::weavelet::node::host::progress(done, total, message);
}

/// A byte string input or output (`bytes` in Weavelet's type model).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl NodeError {
    /// A failure of the node's own work.
    pub fn failed(message: impl Into<String>) -> Self {
        NodeError { kind: ErrorKind::Failed, message: message.into(), input: None }
    }

    /// An input value the node cannot work with.
    pub fn invalid_input(input: &str, message: impl Into<String>) -> Self {
        NodeError { kind: ErrorKind::InvalidInput, message: message.into(), input: Some(input.to_string()) }
    }
}

/// The name of a value's type, for error messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Text(_) => "text",
        Value::Bytes(_) => "bytes",
        Value::BoolList(_) => "bool-list",
        Value::IntList(_) => "int-list",
        Value::FloatList(_) => "float-list",
        Value::TextList(_) => "text-list",
        Value::Table(_) => "table",
        Value::Svg(_) => "svg",
        Value::Image(_) => "image",
        Value::Images(_) => "images",
    }
}

/// A Rust type a node can take as an input.
pub trait FromValue: Sized {
    /// The declared Weavelet type.
    const TYPE: ValueType;
    /// Whether a missing input is acceptable (`Option<T>`).
    const OPTIONAL: bool = false;
    /// Convert, or say what was wrong with the value.
    fn from_value(value: Value) -> Result<Self, String>;
}

/// A Rust type a node can return.
pub trait IntoValue {
    /// The declared Weavelet type.
    const TYPE: ValueType;
    /// Convert into a Weavelet value.
    fn into_value(self) -> Value;
}

/// What a node function may return: a value, or a `Result` of one.
pub trait NodeOutput {
    /// The declared Weavelet type of the output.
    const TYPE: ValueType;
    /// Convert into the node's result.
    fn into_result(self) -> Result<Value, NodeError>;
}

impl<T: IntoValue> NodeOutput for T {
    const TYPE: ValueType = T::TYPE;
    fn into_result(self) -> Result<Value, NodeError> {
        Ok(self.into_value())
    }
}

impl<T: IntoValue, E: fmt::Display> NodeOutput for Result<T, E> {
    const TYPE: ValueType = T::TYPE;
    fn into_result(self) -> Result<Value, NodeError> {
        self.map(IntoValue::into_value).map_err(|e| NodeError::failed(e.to_string()))
    }
}

fn mismatch(expected: &str, got: &Value) -> String {
    format!("expected {expected}, got {}", type_name(got))
}

macro_rules! scalar {
    ($t:ty, $ty:ident, $variant:ident, $expected:literal, $from:expr, $into:expr) => {
        impl FromValue for $t {
            const TYPE: ValueType = ValueType::$ty;
            fn from_value(value: Value) -> Result<Self, String> {
                match value {
                    Value::$variant(v) => $from(v),
                    other => Err(mismatch($expected, &other)),
                }
            }
        }
        impl IntoValue for $t {
            const TYPE: ValueType = ValueType::$ty;
            fn into_value(self) -> Value {
                Value::$variant($into(self))
            }
        }
    };
}

scalar!(bool, Bool, Bool, "bool", Ok, |v| v);
scalar!(i64, Int, Int, "int", Ok, |v| v);
scalar!(
    i32,
    Int,
    Int,
    "int",
    |v: i64| i32::try_from(v).map_err(|_| format!("{v} does not fit in a 32-bit integer")),
    i64::from
);
scalar!(
    u32,
    Int,
    Int,
    "int",
    |v: i64| u32::try_from(v).map_err(|_| format!("{v} does not fit in an unsigned 32-bit integer")),
    i64::from
);
scalar!(f64, Float, Float, "float", Ok, |v| v);
scalar!(String, Text, Text, "text", Ok, |v| v);
scalar!(Vec<bool>, BoolList, BoolList, "bool-list", Ok, |v| v);
scalar!(Vec<i64>, IntList, IntList, "int-list", Ok, |v| v);
scalar!(Vec<f64>, FloatList, FloatList, "float-list", Ok, |v| v);
scalar!(Vec<String>, TextList, TextList, "text-list", Ok, |v| v);
scalar!(Bytes, Bytes, Bytes, "bytes", |v| Ok(Bytes(v)), |v: Bytes| v.0);

impl FromValue for f32 {
    const TYPE: ValueType = ValueType::Float;
    fn from_value(value: Value) -> Result<Self, String> {
        f64::from_value(value).map(|v| v as f32)
    }
}

impl IntoValue for f32 {
    const TYPE: ValueType = ValueType::Float;
    fn into_value(self) -> Value {
        Value::Float(f64::from(self))
    }
}

impl IntoValue for &str {
    const TYPE: ValueType = ValueType::Text;
    fn into_value(self) -> Value {
        Value::Text(self.to_string())
    }
}

impl IntoValue for () {
    const TYPE: ValueType = ValueType::Null;
    fn into_value(self) -> Value {
        Value::Null
    }
}

impl FromValue for Value {
    const TYPE: ValueType = ValueType::Any;
    fn from_value(value: Value) -> Result<Self, String> {
        Ok(value)
    }
}

impl IntoValue for Value {
    const TYPE: ValueType = ValueType::Any;
    fn into_value(self) -> Value {
        self
    }
}

impl<T: FromValue> FromValue for Option<T> {
    const TYPE: ValueType = T::TYPE;
    const OPTIONAL: bool = true;
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

impl<T: IntoValue> IntoValue for Option<T> {
    const TYPE: ValueType = T::TYPE;
    fn into_value(self) -> Value {
        self.map_or(Value::Null, IntoValue::into_value)
    }
}

/// Support code for the `#[node]` and `export!` macros. Not a stable API.
#[doc(hidden)]
pub mod __private {
    use super::*;

    pub use wit_bindgen;

    /// A capability as written in `#[node(...)]`.
    pub enum CapabilityDef {
        ReadDir(&'static str),
        WriteDir(&'static str),
        Env(&'static str),
        Clock,
        Random,
    }

    /// One input, as the `#[node]` macro declares it.
    pub struct InputDef {
        pub name: &'static str,
        pub ty: ValueType,
        pub optional: bool,
        pub columns: &'static [(&'static str, &'static str)],
    }

    /// Everything the `#[node]` macro knows about a node.
    pub struct NodeDef {
        pub name: &'static str,
        pub doc: &'static str,
        pub inputs: &'static [InputDef],
        pub output: ValueType,
        pub output_columns: &'static [(&'static str, &'static str)],
        pub capabilities: &'static [CapabilityDef],
        pub run: fn(&mut Inputs) -> Result<Value, NodeError>,
    }

    /// Implemented by the hidden type that `#[node]` puts beside each node function.
    pub trait Node {
        const DEF: NodeDef;
    }

    /// The named inputs of one invocation.
    pub struct Inputs(Vec<(String, Value)>);

    impl Inputs {
        /// Take the input called `name`, converted to `T`.
        pub fn take<T: FromValue>(&mut self, name: &str) -> Result<T, NodeError> {
            let value = match self.0.iter().position(|(n, _)| n == name) {
                Some(i) => self.0.swap_remove(i).1,
                None if T::OPTIONAL => Value::Null,
                None => {
                    return Err(NodeError::invalid_input(name, "the host did not pass this input"));
                }
            };
            T::from_value(value).map_err(|message| NodeError::invalid_input(name, message))
        }
    }

    /// The declarations of a module's nodes.
    pub fn declare(defs: &[NodeDef]) -> Vec<NodeDecl> {
        defs.iter()
            .map(|def| NodeDecl {
                name: def.name.to_string(),
                doc: def.doc.to_string(),
                inputs: def
                    .inputs
                    .iter()
                    .map(|i| InputDecl {
                        name: i.name.to_string(),
                        ty: i.ty,
                        optional: i.optional,
                        columns: columns(i.columns),
                    })
                    .collect(),
                output: def.output,
                output_columns: columns(def.output_columns),
                capabilities: def
                    .capabilities
                    .iter()
                    .map(|c| match c {
                        CapabilityDef::ReadDir(d) => Capability::ReadDir(d.to_string()),
                        CapabilityDef::WriteDir(d) => Capability::WriteDir(d.to_string()),
                        CapabilityDef::Env(k) => Capability::Env(k.to_string()),
                        CapabilityDef::Clock => Capability::Clock,
                        CapabilityDef::Random => Capability::Random,
                    })
                    .collect(),
            })
            .collect()
    }

    fn columns(list: &[(&str, &str)]) -> Vec<Column> {
        list.iter().map(|(name, dtype)| Column { name: name.to_string(), dtype: dtype.to_string() }).collect()
    }

    /// Run the node called `name`.
    pub fn dispatch(
        defs: &[NodeDef],
        name: String,
        inputs: Vec<(String, Value)>,
    ) -> Result<Value, NodeError> {
        match defs.iter().find(|d| d.name == name) {
            Some(def) => (def.run)(&mut Inputs(inputs)),
            None => Err(NodeError {
                kind: ErrorKind::UnknownNode,
                message: format!("this component has no node `{name}`"),
                input: None,
            }),
        }
    }
}

/// Export the listed nodes as this component's module of nodes.
///
/// Call it once per component crate, with every `#[weavelet::node]` function
/// the component offers: `weavelet_sdk::export!(load, clean, summarise);`.
#[macro_export]
macro_rules! export {
    ($($node:path),+ $(,)?) => {
        #[doc(hidden)]
        struct __WeaveletModule;

        impl __WeaveletModule {
            const DEFS: &'static [$crate::__private::NodeDef] =
                &[$(<$node as $crate::__private::Node>::DEF),+];
        }

        impl $crate::bindings::exports::weavelet::node::node::Guest for __WeaveletModule {
            fn nodes() -> ::std::vec::Vec<$crate::NodeDecl> {
                $crate::__private::declare(Self::DEFS)
            }

            fn run(
                name: ::std::string::String,
                inputs: ::std::vec::Vec<(::std::string::String, $crate::Value)>,
            ) -> ::std::result::Result<$crate::Value, $crate::NodeError> {
                $crate::__private::dispatch(Self::DEFS, name, inputs)
            }
        }

        $crate::bindings::__export_world!(__WeaveletModule with_types_in $crate::bindings);
    };
}
