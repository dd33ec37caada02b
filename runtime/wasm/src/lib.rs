//! Weavelet's WebAssembly backend: components as nodes, each invocation in a
//! fresh wasmtime sandbox.
//!
//! - `engine`: the [`WasmEngine`] — wasmtime engines with the pooling
//!   allocator and epoch interruption, their linkers, the compiled-component
//!   cache (in memory, and on disk digest-checked), the epoch ticker.
//! - `component`: loading a component (size cap, content hash, foreign
//!   imports refused, declarations read and validated) and its nodes as
//!   [`weavelet_core::NodeImpl`]s.
//! - `sandbox`: one invocation — a new `Store`, budgets armed before
//!   instantiation, WASI with only what the policy grants, traps turned into
//!   node failures.
//! - `host`: the host functions a guest may call, one module per
//!   capability (logging, tables, graphics); `clocks` (fixed or real clocks,
//!   sleeps bounded by the deadline) and `limits` (summed memory, table
//!   elements); `net` (the `net` grant: wasi:http requests checked against
//!   the granted hosts, resolved and connected by the host, counted).
//!
//! Architecture invariant: this crate never sees a plan, another node or the
//! result cache; it is handed one node's inputs and a [`weavelet_core::Call`].

mod bindings;
mod clocks;
mod component;
mod convert;
mod engine;
mod host;
mod limits;
mod net;
mod sandbox;

pub use component::ComponentModule;
pub use engine::{EngineConfig, LARGE_COMPONENT, WasmEngine};
pub use net::{
    Answer, NetRules, NetUsage, Outgoing, Proxy, error_code, fetch_blocking, proxy_requests_through,
};
