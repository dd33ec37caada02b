//! Shared by the fuzz targets (included with `#[path = "common.rs"] mod common;`).
//!
//! libfuzzer-sys aborts on every panic, even one the code under test catches.
//! Weavelet deliberately runs third-party decoders (polars, image, usvg) under
//! `catch_unwind` and turns their panics into errors, so by default a panic
//! that is caught is only reported (once per location, on stderr) and the run
//! goes on; a panic that escapes the target still aborts (libfuzzer-sys wraps
//! every input in `catch_unwind` and aborts on an escaped panic), which the
//! fuzzer records as a crash. With `WEAVELET_FUZZ_STRICT=1` every panic aborts
//! at once, caught or not.

use std::collections::HashSet;
use std::sync::Mutex;

/// Install the panic hook described above. Call it from `fuzz_target!(init: ...)`.
pub fn init() {
    if std::env::var_os("WEAVELET_FUZZ_STRICT").is_some_and(|v| v != "0") {
        return; // keep libfuzzer-sys's abort-on-any-panic hook
    }
    static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    // libfuzzer-sys's hook prints, then aborts: replace it with one that prints
    // each panic location once and returns, so `catch_unwind` in weavelet works.
    let _aborting = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map_or_else(|| "unknown".to_string(), |l| l.to_string());
        let first = SEEN
            .lock()
            .map(|mut seen| seen.get_or_insert_with(HashSet::new).insert(location.clone()))
            .unwrap_or(true);
        if first {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            eprintln!("weavelet-fuzz: panic at {location}: {message} (caught or not: an escaped one aborts next)");
        }
    }));
}

/// Bytes as text, or `None` when they are not UTF-8 (text parsers are fuzzed with text).
#[allow(dead_code)] // used by the text targets only
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}
