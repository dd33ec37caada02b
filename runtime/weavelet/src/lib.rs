//! Weavelet runs data pipelines whose nodes are sandboxed code: functions
//! exported by WebAssembly components, or functions of a Rhai script.
//!
//! Each node declares its inputs by name; an input called `readings` is the
//! output of the node called `readings`, or the pipeline parameter of that
//! name. Weavelet resolves the names into a DAG, checks it before anything
//! runs, and runs independent nodes concurrently, each invocation in a fresh
//! sandbox. Results are cached by what they depend on, and every run is
//! recorded.
//!
//! ```standalone_crate
//! use weavelet::{Config, RunOptions, Runtime, Value};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Nodes run in worker processes started from this program: first thing in main.
//! weavelet::serve_worker_if_asked();
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(
//!     dir.path().join("weavelet.toml"),
//!     "[pipeline]\nname = \"doubling\"\n\n[[scripts]]\npath = \"nodes.rhai\"\n\n[params]\ncount = 3\n",
//! )?;
//! std::fs::write(dir.path().join("nodes.rhai"), "/// Twice the count.\nfn total(count) { count * 2 }\n")?;
//!
//! // Built once: the engines, the worker threads, the cache folder.
//! let runtime = Runtime::new(Config::default().cache_dir(Some(dir.path().join("cache"))))?;
//! // A weavelet.toml, a folder holding one, or a .rhai script.
//! let mut pipeline = runtime.load(dir.path())?;
//! pipeline.set_param("count", Value::Int(21));
//! // Every problem a plan can have is found here, before anything runs.
//! let plan = pipeline.plan(&[])?;
//! // Results come from and go to the cache; the run is recorded in the history.
//! let report = runtime.run(&plan, RunOptions::new())?;
//! report.check()?;
//! assert_eq!(report.output("total"), Some(&Value::Int(42)));
//!
//! // Nothing changed: the second run computes nothing.
//! let again = runtime.run(&plan, RunOptions::new())?;
//! assert_eq!(again.cached, ["total"]);
//! assert_eq!(runtime.results()?.expect("a cache folder").runs(10)?.len(), 2);
//! # Ok(()) }
//! ```
//!
//! # Core concepts
//!
//! - [`Runtime`]: built once from a [`Config`]; owns the WebAssembly engine
//!   (pooling allocator, epoch interruption) and its compiled-component
//!   cache, the worker threads, and the result cache and run history.
//! - [`Pipeline`]: nodes, parameters and default outputs; loaded with
//!   [`Runtime::load`] or built in code ([`Pipeline::builtin`],
//!   [`ComponentModule::nodes`], [`Script::nodes`]).
//! - [`Plan`]: the validated DAG for the requested outputs, holding only the
//!   nodes they need. Missing dependencies (with suggestions), duplicate
//!   names, cycles, type mismatches and missing parameters are reported here,
//!   all at once, before anything runs.
//! - [`Runtime::run`] (or [`Runtime::start`] to get a [`Run`] and wait
//!   later) runs a plan as [`RunOptions`] say and ends in a [`RunReport`];
//!   [`Event`]s report every node's progress as it happens.
//! - [`Value`]: what flows along edges. Cloning never copies data.
//! - [`Policy`]: what a node may use (budgets), touch (grants), whether it is
//!   cached and whether it is tried again.
//!
//! # The sandbox
//!
//! Every component-node invocation gets a new `Store` from a pre-instantiated
//! component: no state survives between nodes or runs. Its wall-time deadline
//! and memory budget are armed before instantiation; WASI is linked with
//! nothing granted (no files, no environment, no network, deterministic
//! randomness, a clock fixed at the Unix epoch); its stdout and stderr are
//! captured into a bounded buffer. Rhai nodes run in an engine without
//! modules, clock, `eval` or `sleep`, under operation, memory and time budgets.
//!
//! # The crates behind it
//!
//! This crate only assembles: `weavelet-core` (values, plans, the
//! scheduler), `weavelet-data` (tables, SVG, images), `weavelet-wasm` and
//! `weavelet-rhai` (the backends), `weavelet-store` (the result cache),
//! `weavelet-manifest` and `weavelet-build`. See ARCHITECTURE.md.

mod config;
mod fetch;
pub mod oci;
mod output;
mod runtime;
pub mod trust;

pub use config::{Config, default_cache_dir};
pub use output::{OutputFile, Written, base64, save, value_json};
pub use runtime::Runtime;

/// If this process was started as a worker process (a node isolated from the
/// host), serve as one and exit; else return at once. Call it first thing in
/// `main` of a program that runs pipelines, or set [`Config::worker_program`]
/// to a `weavelet` binary.
pub fn serve_worker_if_asked() {
    weavelet_isolate::serve_if_asked();
}

/// Node folders built into components (Rust, C, Python, JavaScript).
pub use weavelet_build as build;
/// Errors, diagnostics and how they are spelled.
pub use weavelet_core::error;
/// Cache keys and value identities.
pub use weavelet_core::key;
pub use weavelet_core::{
    Ahead, Budgets, BuiltinFn, CachePolicy, CacheUse, Call, Capability, Diagnostic, DryRunStep, Early, Error,
    Event, EventKind, EventSink, FailureKind, Fix, Grants, GraphInput, GraphNode, GraphSource, InputDecl,
    Isolation, LogLevel, LogLine, MAX_LOG_BYTES, MAX_LOG_LINES, Node, NodeDecl, NodeFailure, NodeImpl,
    NodeRole, Pipeline, Plan, PlannedRecord, Policy, Reason, Requests, Retry, Run, RunOptions, RunPlanRecord,
    RunReport, SourceSpan, Value, ValueType, human_bytes, human_duration, parse_duration, parse_size,
    sanitize, snippet, utc_timestamp,
};
pub use weavelet_data::{
    ChartKind, ChartSpec, GraphicsError, Image, ReadGrants, ReadLog, Svg, Table, TableError, files, graphics,
    polars, table,
};
/// Worker processes: the supervisor, and what confines a worker.
pub use weavelet_isolate as isolate;
/// Pipeline files (`weavelet.toml`).
pub use weavelet_manifest as manifest;
pub use weavelet_rhai::{CountingAllocator, Script, counting_allocator_installed};
/// The result cache and run history.
pub use weavelet_store as store;
pub use weavelet_store::ResultStore;
pub use weavelet_wasm::{CONTRACT, ComponentModule, OLDER_CONTRACTS};
