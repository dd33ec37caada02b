//! Weavelet's integration tests: one binary (one link of polars, wasmtime,
//! resvg and SQLite), a module per area. Each test works in its own temporary
//! folder; the guests under `guests/` are built by `tests/artifacts`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

mod cache;
mod check;
mod cli;
mod contract;
mod doctor;
mod graph;
mod graphics;
mod hostile;
mod json;
mod languages;
mod logs;
mod network;
mod pipeline;
mod policy;
mod registry;
mod replay;
mod report;
mod rhai;
mod schemas;
mod tables;
mod telemetry;
mod watch;
