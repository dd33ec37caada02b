//! Hostile nodes: each tries one attack of the threat catalogue (SECURITY.md).
//! The host must stop it, name it, and let every other node finish.

use weavelet::{Bytes, ChartKind, Image, Svg, Table, chart_spec};
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

/// Case 18: truncates, renames and creates files around `path`, in a
/// folder it declares it reads (so a read grant opens it to WASI, read-only).
#[weavelet::node(read_dir = "data")]
fn tamper(path: String) -> Result<String, String> {
    let mut refused = Vec::new();
    if let Err(e) = std::fs::write(&path, "tampered") {
        refused.push(format!("write: {e}"));
    }
    if let Err(e) = std::fs::rename(&path, format!("{path}.moved")) {
        refused.push(format!("rename: {e}"));
    }
    if let Err(e) = std::fs::write(format!("{path}.new"), "planted") {
        refused.push(format!("create: {e}"));
    }
    if refused.len() == 3 {
        Err(format!("cannot tamper with {path}: {}", refused.join("; ")))
    } else {
        Ok(refused.join("; "))
    }
}

/// Case 20: opens a TCP connection to the host.
#[weavelet::node]
fn dial(port: i64) -> Result<String, String> {
    let addr = format!("127.0.0.1:{port}");
    std::net::TcpStream::connect(&addr)
        .map(|_| "connected".to_string())
        .map_err(|e| format!("cannot connect to {addr}: {e}"))
}

/// Case 1: spins forever.
#[weavelet::node]
fn endless_loop() -> i64 {
    let mut i = 0u64;
    loop {
        i = core::hint::black_box(i.wrapping_add(1));
    }
}

/// Case 3: fills 192 MiB over and over with `memory.fill`.
#[weavelet::node]
fn bulk_fill() -> i64 {
    let mut buffer = vec![0u8; 192 << 20];
    let mut round = 0u8;
    loop {
        round = round.wrapping_add(1);
        buffer.fill(round);
        core::hint::black_box(&mut buffer);
    }
}

/// Case 4: recurses without end; small frames, so the engine's stack runs out first.
#[weavelet::node]
fn deep_recursion() -> i64 {
    fn down(n: i64) -> i64 {
        if n == i64::MIN { 0 } else { down(n.wrapping_add(1)).wrapping_mul(3) ^ n }
    }
    down(core::hint::black_box(0))
}

/// Case 5: blocks in a WASI sleep for `ms` milliseconds.
#[weavelet::node]
fn sleeper(ms: i64) -> i64 {
    std::thread::sleep(std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0)));
    1
}

/// Case 7: allocates until the memory budget refuses.
#[weavelet::node]
fn memory_hog() -> i64 {
    let mut held: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = vec![0u8; 16 << 20];
        block[4096] = 1;
        held.push(block);
        core::hint::black_box(&held);
    }
}

/// Case 12: creates SVG handles without end, keeping them all.
#[weavelet::node]
fn handle_flood() -> Result<i64, String> {
    let mut held = Vec::new();
    loop {
        held.push(Svg::new(1.0, 1.0).map_err(|e| e.to_string())?);
    }
}

/// Case 14: hands every kind of host function arguments it should refuse.
/// Returns what each call answered; the node itself must finish.
#[weavelet::node]
fn odd_arguments() -> Result<Vec<String>, String> {
    let mut seen = Vec::new();
    seen.push(outcome("svg nan", Svg::new(f64::NAN, 1.0)));
    seen.push(outcome("svg huge", Svg::new(1e300, 1e300)));
    let svg = Svg::new(10.0, 10.0).map_err(|e| e.to_string())?;
    seen.push(outcome("rect inf", svg.rect(f64::INFINITY, 0.0, 1.0, 1.0, &[])));
    seen.push(outcome("path handler", svg.path("M 0 0 L 1 1", &[("onload", "alert(1)")])));
    seen.push(outcome("attr name", svg.rect(0.0, 0.0, 1.0, 1.0, &[("x\"><script", "1")])));
    seen.push(outcome("render huge", svg.render(1e9)));
    seen.push(outcome("render nan", svg.render(f64::NAN)));
    seen.push(outcome("parse broken", Svg::parse("<svg><g")));
    seen.push(outcome("parse nested", Svg::parse(&"<g>".repeat(100_000))));
    seen.push(outcome("blank max", Image::blank(u32::MAX, u32::MAX, [0; 4])));
    seen.push(outcome("blank zero", Image::blank(0, 0, [0; 4])));
    seen.push(outcome("decode truncated", Image::decode(&[0x89, b'P', b'N', b'G', 13, 10])));
    let image = Image::blank(4, 4, [1, 2, 3, 255]).map_err(|e| e.to_string())?;
    seen.push(outcome("crop max", image.crop(u32::MAX, u32::MAX, u32::MAX, u32::MAX)));
    seen.push(outcome("rotate min", image.rotate(i32::MIN)));
    seen.push(outcome("blur inf", image.blur(f64::INFINITY)));
    seen.push(outcome("contrast nan", image.contrast(f64::NAN)));
    seen.push(outcome("overlay far", image.overlay(&image, i64::MIN, i64::MAX)));
    seen.push(outcome("encode exe", image.encode("exe")));
    seen.push(outcome("sheet empty", Image::contact_sheet(&[], 0, 0, 0, u32::MAX)));
    seen.push(outcome("sheet huge", Image::contact_sheet(&[&image], 1, u32::MAX, u32::MAX, 0)));
    seen.push(outcome("ipc junk", Table::from_ipc(&[0xFF; 64])));
    seen.push(outcome("sql nowhere", Table::sql("SELECT * FROM nowhere", &[])));
    let table = Table::sql("SELECT 1 AS x", &[]).map_err(|e| e.to_string())?;
    seen.push(outcome("sort mismatched", table.sort(&["x", "y"], &[true])));
    seen.push(outcome("head max", table.head(u64::MAX)));
    seen.push(outcome("slice min", table.slice(i64::MIN, u64::MAX)));
    seen.push(outcome("filter broken", table.filter("x >")));
    seen.push(outcome("rolling max", table.rolling_mean("x", u32::MAX, "m")));
    seen.push(outcome("column missing", table.column_f64("nope")));
    let mut spec = chart_spec(ChartKind::Histogram, "x", &["x"], "t");
    spec.width = f64::NAN;
    spec.bins = u32::MAX;
    seen.push(outcome("chart nan", Svg::chart(&table, &spec)));
    seen.push(outcome("dashboard none", Svg::dashboard("", &[], 0)));
    Ok(seen)
}

/// What one call answered.
fn outcome<T, E: core::fmt::Display>(call: &str, result: Result<T, E>) -> String {
    match result {
        Ok(_) => format!("{call}: accepted"),
        Err(e) => format!("{call}: refused: {e}"),
    }
}

/// Case 19: looks for any environment variable, and the host's environment file.
#[weavelet::node]
fn env_snoop() -> String {
    let mut found: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    if let Ok(text) = std::fs::read_to_string("/proc/self/environ") {
        found.push(text);
    }
    found.join(";")
}

/// Case 22: asks WASI for 2^40 random bytes.
#[weavelet::node]
fn random_flood() -> i64 {
    wasi::random::random::get_random_bytes(1 << 40).len() as i64
}

/// Case 22: what the clock and the random source say (without grants: the
/// Unix epoch, and the same numbers every run).
#[weavelet::node]
fn clock_and_random_probe() -> Vec<i64> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(-1);
    vec![
        now,
        wasi::random::random::get_random_u64() as i64,
        wasi::random::insecure::get_insecure_random_u64() as i64,
    ]
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
    tamper,
    dial,
    endless_loop,
    bulk_fill,
    deep_recursion,
    sleeper,
    memory_hog,
    handle_flood,
    odd_arguments,
    env_snoop,
    random_flood,
    clock_and_random_probe,
    bystander
);
