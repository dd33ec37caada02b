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
//! - `contract`: the WIT contract's versions this host runs (0.4.0, and
//!   0.3.0 for components built before it) and one way to call either;
//!   `bindings` holds each version's generated bindings.
//! - `host`: the host functions a guest may call, one file per capability
//!   (logging, tables, graphics), compiled once per contract version; `clocks` (fixed or real clocks,
//!   sleeps bounded by the deadline) and `limits` (summed memory, table
//!   elements); `net` (the `net` grant: wasi:http requests checked against
//!   the granted hosts, resolved and connected by the host, counted).
//!
//! Architecture invariant: this crate never sees a plan, another node or the
//! result cache; it is handed one node's inputs and a [`weavelet_core::Call`].

mod bindings;
mod clocks;
mod component;
mod contract;
mod engine;
mod host;
mod limits;
mod net;
mod sandbox;

pub use component::ComponentModule;
pub use contract::{CURRENT as CONTRACT, OLDER as OLDER_CONTRACTS};
pub use engine::{EngineConfig, LARGE_COMPONENT, WasmEngine};
pub use net::{
    Answer, NetRules, NetUsage, Outgoing, Proxy, error_code, fetch_blocking, proxy_requests_through,
};
