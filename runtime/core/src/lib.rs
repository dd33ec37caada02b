//! The core of Weavelet: values, node declarations, policies, pipelines,
//! plans, the scheduler, events and errors.
//!
//! This crate plans and schedules; it never executes a node's code itself.
//! Backends (WebAssembly components, Rhai scripts) implement [`NodeImpl`],
//! and a result cache implements [`ResultCache`]; the scheduler knows them
//! only through those traits. The `weavelet` crate puts them together.
//!
//! ```
//! use weavelet_core::{InputDecl, NodeDecl, Pipeline, Policy, RunOptions, Scheduler, Value, ValueType};
//!
//! # fn main() -> Result<(), weavelet_core::Error> {
//! let mut pipeline = Pipeline::new();
//! pipeline.add_node(Pipeline::builtin(
//!     NodeDecl::new("doubled", vec![InputDecl::required("x", ValueType::Int)], ValueType::Int),
//!     |inputs| match inputs {
//!         [Value::Int(x)] => Ok(Value::Int(x * 2)),
//!         _ => Err("expected one int".into()),
//!     },
//! ));
//! pipeline.set_param("x", Value::Int(21));
//!
//! let plan = pipeline.plan(&["doubled"])?;
//! let scheduler = Scheduler::new(2, Policy::default())?;
//! let report = scheduler.start(&plan, None, RunOptions::new())?.wait();
//! report.check()?;
//! assert_eq!(report.output("doubled"), Some(&Value::Int(42)));
//! # Ok(()) }
//! ```
//!
//! Architecture invariant: nothing here knows wasmtime, Rhai, SQLite, TOML or
//! a command line (CI checks the dependency tree). Tables, SVG documents and
//! images are values here, so this crate depends on `weavelet-data`.

pub mod cache;
pub mod codec;
mod decl;
pub mod error;
mod events;
pub mod key;
mod node;
mod pipeline;
mod plan;
mod policy;
mod run;
mod value;

#[cfg(test)]
mod tests;

pub use cache::{
    LogLine, MAX_LOG_BYTES, MAX_LOG_LINES, NodeRecord, PlannedRecord, ResultCache, RunId, RunPlanRecord,
};
pub use decl::{Capability, InputDecl, NodeDecl, is_name};
pub use error::{Diagnostic, Error, FailureKind, Fix, NodeFailure, NodeRole, SourceSpan, names, snippet};
pub use events::{Event, EventKind, EventSink, LogLevel, sanitize};
pub use node::{Ahead, BuiltinFn, Call, Early, NodeImpl, Usage};
pub use pipeline::{Node, Pipeline};
pub use plan::{GraphInput, GraphNode, GraphSource, Plan};
pub use policy::{
    Budgets, CachePolicy, Grants, Isolation, NetHost, Policy, Requests, Retry, is_public_address,
    parse_duration, parse_size,
};
pub use run::{CacheUse, DryRunStep, MAX_JOBS, Reason, Run, RunOptions, RunReport, Scheduler, WORKER_STACK};
pub use value::{Value, ValueType};
pub use weavelet_data::{caught, human_bytes, human_duration, panic_message, suggest, utc_timestamp};

/// How a node's source file is named in messages: its file name.
pub fn file_label(path: &std::path::Path) -> std::sync::Arc<str> {
    path.file_name().map_or_else(|| path.display().to_string(), |f| f.to_string_lossy().into_owned()).into()
}
