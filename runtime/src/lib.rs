//! Weavelet runs data pipelines whose nodes are sandboxed WebAssembly components.
//!
//! Each node declares its inputs by name; an input called `readings` is the
//! output of the node called `readings`, or the pipeline parameter of that
//! name. Weavelet resolves the names into a DAG, checks it before anything
//! runs, and runs independent nodes concurrently, each invocation in a fresh
//! sandbox.
//!
//! ```
//! use weavelet::{Config, InputDecl, NodeDecl, Pipeline, Runtime, Value, ValueType};
//!
//! # fn main() -> Result<(), weavelet::Error> {
//! let runtime = Runtime::new(Config::default().cache_dir(None))?;
//!
//! // Components are loaded with `runtime.load_component("nodes.wasm")?` and
//! // added with `pipeline.add_component(&module)?`; built-in nodes are host code.
//! let mut pipeline = Pipeline::new();
//! pipeline.add_node(Pipeline::builtin(
//!     NodeDecl {
//!         name: "doubled".into(),
//!         doc: "twice the parameter `x`".into(),
//!         inputs: vec![InputDecl::required("x", ValueType::Int)],
//!         output: ValueType::Int,
//!         output_columns: vec![],
//!         capabilities: vec![],
//!     },
//!     |inputs| match inputs {
//!         [Value::Int(x)] => Ok(Value::Int(x * 2)),
//!         _ => Err("expected one int".into()),
//!     },
//! ));
//! pipeline.set_param("x", Value::Int(21));
//!
//! let plan = pipeline.plan(&["doubled"])?;
//! let report = runtime.run(&plan)?;
//! report.check()?;
//! assert_eq!(report.output("doubled"), Some(&Value::Int(42)));
//! # Ok(()) }
//! ```
//!
//! # Core concepts
//!
//! - [`Runtime`]: built once from a [`Config`]; owns the wasmtime engine
//!   (pooling allocator, epoch interruption), the compiled-component cache (in
//!   memory and on disk) and the worker threads.
//! - [`Pipeline`]: node sources (components, built-ins), parameters and
//!   default outputs; loaded from a `weavelet.toml` with [`manifest::load`] or
//!   built in code.
//! - [`Plan`]: the validated DAG for the requested outputs, holding only the
//!   nodes they need. Missing dependencies (with suggestions), duplicate
//!   names, cycles, type mismatches and missing parameters are reported here,
//!   all at once, before anything runs.
//! - [`Run`]: one execution of a plan ([`Runtime::start`], or [`Runtime::run`]
//!   to wait for it); it ends in a [`RunReport`], and [`Event`]s report every
//!   node's progress as it happens.
//! - [`Value`]: what flows along edges. Cloning never copies data.
//! - [`Policy`]: the budgets a node runs under (wall time, memory, output, log).
//!
//! # The sandbox
//!
//! Every component-node invocation gets a new `Store` from a pre-instantiated
//! component: no state survives between nodes or runs. Its wall-time deadline
//! and memory budget are armed before instantiation; WASI is linked with
//! nothing granted (no files, no environment, no network, deterministic
//! randomness, a clock fixed at the Unix epoch); its stdout and stderr are captured into a bounded buffer.

mod alloc;
pub mod build;
mod component;
mod config;
mod error;
mod events;
mod exec;
pub mod graphics;
pub mod manifest;
mod observe;
mod output;
mod pipeline;
mod plan;
pub mod results;
mod runtime;
mod sandbox;
mod script;
pub mod table;
mod value;

pub use alloc::{CountingAllocator, is_installed as alloc_counting_installed};
pub use component::ComponentModule;
pub use config::{Config, Policy, default_cache_dir, parse_size};
pub use error::{Diagnostic, Error, FailureKind, NodeFailure};
pub use events::{Event, EventKind, EventSink, LogLevel, sanitize};
pub use exec::{DryRunStep, Run, RunOptions, RunReport};
pub use graphics::{ChartKind, ChartSpec, GraphicsError, Image, Svg};
pub use output::save;
pub use pipeline::{BuiltinFn, Capability, InputDecl, Node, NodeDecl, Pipeline};
pub use plan::Plan;
/// The polars version tables are built on (to make or inspect `DataFrame`s).
pub use polars;
pub use results::ResultStore;
pub use runtime::Runtime;
pub use script::Script;
pub use table::{Table, TableError};
pub use value::{Value, ValueType};

/// How a node's source file is named in messages: its file name.
pub(crate) fn file_label(path: &std::path::Path) -> std::sync::Arc<str> {
    path.file_name().map_or_else(|| path.display().to_string(), |f| f.to_string_lossy().into_owned()).into()
}

/// `1.5 MiB`-style sizes for messages.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}
