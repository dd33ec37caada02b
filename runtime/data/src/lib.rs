//! Weavelet's data plane: tables, SVG documents and charts, images, and the
//! folders a node may read.
//!
//! Everything a node passes along an edge that is too large to copy lives
//! here, as an immutable value behind an `Arc`: a [`Table`] is a lazy polars
//! plan, an [`Svg`] a document, an [`Image`] decoded pixels. Every operation
//! checks what a guest hands it before doing the work (sizes, names,
//! expressions, file paths), because the callers — the WebAssembly host
//! functions and the Rhai bindings — pass guest input straight through.
//!
//! This crate knows nothing of nodes, plans, policies or the result cache.
//! Readers take the [`ReadGrants`] that allow them and a [`ReadLog`] that
//! records what they opened; what the log is used for is the caller's
//! business.
//!
//! ```
//! use weavelet_data::{ReadGrants, ReadLog, Table};
//! use weavelet_data::polars::prelude::*;
//!
//! let frame = df!("region" => ["north", "south", "north"], "revenue" => [10.0, 20.0, 5.0]).unwrap();
//! let totals = Table::from_frame(frame)
//!     .group_by(&["region".into()], &[("total".into(), "sum(revenue)".into())])
//!     .unwrap()
//!     .sort(&["region".into()], &[false])
//!     .unwrap();
//! assert_eq!(totals.column_f64("total").unwrap(), vec![15.0, 20.0]);
//!
//! // No folder is granted: reading is refused, and nothing is logged.
//! let log = ReadLog::new();
//! assert!(weavelet_data::table::io::read(&ReadGrants::default(), &log, "/etc/passwd").is_err());
//! assert!(log.take().files.is_empty());
//! ```

pub mod activity;
pub mod files;
pub mod graphics;
pub mod table;

/// The polars version tables are built on (to make or inspect `DataFrame`s).
pub use polars;

pub use files::{ReadGrants, ReadLog, Reads};
pub use graphics::{ChartKind, ChartSpec, GraphicsError, Image, Svg};
pub use table::{JoinKind, Table, TableError};

/// `2026-11-24 03:12:45` (UTC) for milliseconds since the Unix epoch.
pub fn utc_timestamp(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60)
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

/// `850 µs`, `12.3 ms`, `1.25 s`-style durations for messages.
pub fn human_duration(d: std::time::Duration) -> String {
    let us = d.as_micros();
    if us < 1_000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{:.1} ms", us as f64 / 1e3)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// Run library code on input a guest chose; a panic in it becomes the message
/// `"{what} failed on this input: {panic}"` instead of taking the thread down.
pub fn caught<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .map_err(|panic| format!("{what} failed on this input: {}", panic_message(&*panic)))
}

/// The message a caught panic carries (`panic!` with a literal or a formatted string).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// The known name closest to `name`, if any is close enough to be a likely typo.
pub fn suggest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for candidate in known {
        if candidate == name {
            continue;
        }
        let score = strsim::jaro_winkler(name, candidate);
        let close = score >= 0.85 || strsim::levenshtein(name, candidate) <= 2.min(name.len() / 2);
        if close && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, s)| s.to_string())
}
