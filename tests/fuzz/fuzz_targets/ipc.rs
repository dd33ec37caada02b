//! Arrow IPC file bytes a guest hands the host (`table::io::from_ipc`, the
//! `from-ipc` host function), with the byte cap the sandbox uses (64 MiB, the
//! default output budget), then what the host does with such a table: its
//! schema, its height and a printed preview (which reads the column buffers).

#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use weavelet::table::io::from_ipc;

/// `Policy::default().output_bytes`: what `from_ipc` is called with for a node.
const LIMIT: usize = 64 << 20;

fuzz_target!(init: common::init(), |data: &[u8]| {
    let Ok(table) = from_ipc(data, LIMIT) else { return };
    let _ = table.schema();
    let _ = table.height();
    let _ = table.preview(5);
});
