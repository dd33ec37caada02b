//! Hostile nodes: each tries one attack of the threat catalogue (SECURITY.md).
//! The host must stop it, name it, and let every other node finish.

use weavelet::{Bytes, Table};
use weavelet_sdk as weavelet;

const CANARY: u32 = 0xC0FF_EE42;
const PAGE: usize = 65536;

/// Case 10: hands the host a 100 MiB list in one call.
#[weavelet::node]
fn huge_list_to_host() -> Result<i64, String> {
    let bytes = vec![7u8; 100 << 20];
    Table::from_ipc(&bytes).map(|_| 0).map_err(|e| e.to_string())
}

/// Case 11: returns 80 MiB (the output budget is 64 MiB).
#[weavelet::node]
fn oversized_result() -> Bytes {
    Bytes(vec![1u8; 80 << 20])
}

/// Case 13: uses a handle the host never gave it.
#[weavelet::node]
fn forged_handle() -> Result<i64, String> {
    use weavelet::bindings::weavelet::node::types::Table as RawTable;
    // SAFETY: deliberately wrong; the host must refuse it without harm.
    #[allow(unsafe_code)]
    let forged = unsafe { RawTable::from_handle(0x00ab_cdef) };
    forged.height().map(|h| h as i64)
}

/// Case 16, first half: fills 16 MiB of fresh memory with a canary.
#[weavelet::node]
fn residue_write() -> i64 {
    let pages = 256;
    let first = core::arch::wasm32::memory_grow(0, pages);
    if first == usize::MAX {
        return -1;
    }
    let base = (first * PAGE) as *mut u32;
    for i in 0..(pages * PAGE / 4) {
        // SAFETY: the pages were just grown for this node and nothing else uses them.
        #[allow(unsafe_code)]
        unsafe {
            base.add(i).write_volatile(CANARY)
        };
    }
    1
}

/// Case 16, second half: grows fresh memory and counts canaries found in it.
#[weavelet::node]
fn residue_read(residue_write: i64) -> i64 {
    let pages = 512;
    let first = core::arch::wasm32::memory_grow(0, pages);
    if first == usize::MAX || residue_write != 1 {
        return -1;
    }
    let base = (first * PAGE) as *const u32;
    let mut found = 0;
    for i in 0..(pages * PAGE / 4) {
        // SAFETY: freshly grown pages: wasm guarantees they read as zero.
        #[allow(unsafe_code)]
        let word = unsafe { base.add(i).read_volatile() };
        if word == CANARY {
            found += 1;
        }
    }
    found
}

fn escape_line() -> String {
    format!("\u{1b}]0;owned\u{7}\u{1b}[2J{}", "x".repeat(1000))
}

/// Case 21: writes 100 MiB of log through the host, with terminal escapes.
#[weavelet::node]
fn log_flood() -> i64 {
    let line = escape_line();
    for _ in 0..100_000 {
        weavelet::info(&line);
    }
    42
}

/// Case 21: writes 4 MiB to stderr, with terminal escapes.
#[weavelet::node]
fn stderr_flood() -> i64 {
    let line = escape_line();
    for _ in 0..4096 {
        eprintln!("{line}");
    }
    42
}

/// Case 18: reads a host file straight through WASI (no preopened directory).
#[weavelet::node]
fn read_host_file(path: String) -> Result<String, String> {
    std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))
}

/// Case 20: opens a TCP connection to the host.
#[weavelet::node]
fn dial(port: i64) -> Result<String, String> {
    let addr = format!("127.0.0.1:{port}");
    std::net::TcpStream::connect(&addr)
        .map(|_| "connected".to_string())
        .map_err(|e| format!("cannot connect to {addr}: {e}"))
}

/// Runs beside the attacks and must finish.
#[weavelet::node]
fn bystander() -> i64 {
    7
}

weavelet::export!(
    huge_list_to_host,
    oversized_result,
    forged_handle,
    residue_write,
    residue_read,
    log_flood,
    stderr_flood,
    read_host_file,
    dial,
    bystander
);
