//! The sandboxed Rhai engine.
//!
//! Built from `Engine::new_raw()` with only the packages a scripter needs:
//! `Engine::new()` would bring `sleep` (which ignores deadlines) and a module
//! resolver that reads host files. Modules (`import`) and the clock are
//! compiled out (`no_module`, `no_time`), `eval` is disabled, and `print` /
//! `debug` go to the node's log. Operation and wall-time budgets are checked
//! per invocation in `on_progress`, against the limits of the node that is
//! running on this thread.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::Engine;
use rhai::packages::{
    ArithmeticPackage, BasicArrayPackage, BasicBlobPackage, BasicFnPackage, BasicIteratorPackage,
    BasicMapPackage, BasicMathPackage, BasicStringPackage, BitFieldPackage, LogicPackage, MoreStringPackage,
    Package,
};

use weavelet_core::{Call, Event, EventKind, EventSink, LogLevel};
use weavelet_data::{ReadGrants, ReadLog};

/// Nested function calls a script may make.
pub const MAX_CALL_LEVELS: usize = 32;
/// Nesting depth of expressions (global, inside functions).
pub const MAX_EXPR_DEPTH: (usize, usize) = (64, 32);
/// Bytes in one string.
pub const MAX_STRING: usize = 1 << 20;
/// Elements in one array (nested arrays count towards their container).
pub const MAX_ARRAY: usize = 100_000;
/// Entries in one object map.
pub const MAX_MAP: usize = 10_000;
/// Variables alive in one invocation.
pub const MAX_VARIABLES: usize = 1_000;
/// Functions in one script.
pub const MAX_FUNCTIONS: usize = 10_000;

pub(crate) fn limits_summary() -> String {
    format!(
        "strings up to {} KiB, arrays up to {MAX_ARRAY} elements, maps up to {MAX_MAP} entries",
        MAX_STRING >> 10
    )
}

pub(crate) fn sandboxed() -> Engine {
    let mut engine = Engine::new_raw();
    for package in [
        ArithmeticPackage::new().as_shared_module(),
        LogicPackage::new().as_shared_module(),
        BasicStringPackage::new().as_shared_module(),
        MoreStringPackage::new().as_shared_module(),
        BasicIteratorPackage::new().as_shared_module(),
        BasicFnPackage::new().as_shared_module(),
        BasicMathPackage::new().as_shared_module(),
        BitFieldPackage::new().as_shared_module(),
        BasicArrayPackage::new().as_shared_module(),
        BasicBlobPackage::new().as_shared_module(),
        BasicMapPackage::new().as_shared_module(),
    ] {
        engine.register_global_module(package);
    }
    super::tables::register(&mut engine);
    super::graphics::register(&mut engine);
    engine.register_fn("progress", |done: i64, total: i64| progress(done, total, ""));
    engine.register_fn("progress", |done: i64, total: i64, message: &str| progress(done, total, message));
    engine
        .set_max_call_levels(MAX_CALL_LEVELS)
        .set_max_expr_depths(MAX_EXPR_DEPTH.0, MAX_EXPR_DEPTH.1)
        .set_max_string_size(MAX_STRING)
        .set_max_array_size(MAX_ARRAY)
        .set_max_map_size(MAX_MAP)
        .set_max_variables(MAX_VARIABLES)
        .set_max_functions(MAX_FUNCTIONS)
        .disable_symbol("eval")
        .on_progress(on_progress)
        .on_print(|text| log(LogLevel::Info, text))
        .on_debug(|text, _source, pos| match pos.line() {
            Some(line) => log(LogLevel::Debug, &format!("line {line}: {text}")),
            None => log(LogLevel::Debug, text),
        });
    engine
}

/// Why a running script was stopped.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stop {
    /// Past its wall-time deadline (how long it ran).
    Timeout(Duration),
    /// Past its operation budget.
    Operations,
    /// Holding more heap than its memory budget (how much it wanted).
    Memory(u64),
}

struct Current {
    node: Arc<str>,
    started: Instant,
    deadline: Instant,
    operations: u64,
    /// Live heap bytes of this thread when the node started, and its budget.
    heap_base: isize,
    memory: u64,
    events: Option<EventSink>,
    log_left: usize,
    stopped: Option<Stop>,
    /// The most heap the node held, as last sampled.
    peak: u64,
    files: Arc<ReadGrants>,
    reads: ReadLog,
    /// Data-plane operations this thread had finished at the last check.
    host_calls: u64,
}

thread_local! {
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

/// The limits of the node running on this thread, for as long as it runs.
pub(crate) struct Invocation(());

impl Invocation {
    pub(crate) fn begin(call: &Call<'_>) -> Invocation {
        let started = Instant::now();
        let policy = call.policy();
        CURRENT.with(|c| {
            *c.borrow_mut() = Some(Current {
                node: call.node().clone(),
                started,
                deadline: started + policy.budgets.timeout,
                operations: policy.budgets.operations,
                heap_base: crate::alloc::live_bytes(),
                host_calls: weavelet_data::activity::completed(),
                memory: policy.budgets.memory,
                events: call.events().cloned(),
                log_left: policy.budgets.log_bytes,
                stopped: None,
                peak: 0,
                files: policy.grants.files.clone(),
                reads: call.reads().clone(),
            })
        });
        Invocation(())
    }

    /// Why the invocation was stopped, if it was, and the most heap it held.
    pub(crate) fn end(self) -> (Option<Stop>, u64) {
        CURRENT.with(|c| c.borrow_mut().take().map_or((None, 0), |c| (c.stopped, c.peak)))
    }
}

impl Drop for Invocation {
    fn drop(&mut self) {
        CURRENT.with(|c| c.borrow_mut().take());
    }
}

/// The folders the node running on this thread may read (none outside a
/// node), and the log its reads go to.
pub(crate) fn reader() -> (Arc<ReadGrants>, ReadLog) {
    CURRENT.with(|c| match c.borrow().as_ref() {
        Some(c) => (c.files.clone(), c.reads.clone()),
        None => (Arc::default(), ReadLog::new()),
    })
}

/// Checking the clock costs ~20 ns; do it every this many operations.
const CLOCK_EVERY: u64 = 1024;

fn on_progress(ops: u64) -> Option<rhai::Dynamic> {
    CURRENT.with(|c| {
        let mut c = c.borrow_mut();
        let c = c.as_mut()?;
        if ops > c.operations {
            c.stopped = Some(Stop::Operations);
            return Some("operations".into());
        }
        // Right after a host call (a table, SVG or image operation), whatever it
        // cost is checked at once, not some operations later.
        let host_calls = weavelet_data::activity::completed();
        let after_host_call = host_calls != c.host_calls;
        c.host_calls = host_calls;
        // The heap counter is a thread-local read: cheap enough for every 64th operation.
        if after_host_call || ops.is_multiple_of(64) {
            let held = (crate::alloc::live_bytes() - c.heap_base).max(0) as u64;
            c.peak = c.peak.max(held);
            if held > c.memory {
                c.stopped = Some(Stop::Memory(held));
                return Some("memory".into());
            }
        }
        if after_host_call || ops.is_multiple_of(CLOCK_EVERY) {
            let now = Instant::now();
            if now >= c.deadline {
                c.stopped = Some(Stop::Timeout(now - c.started));
                return Some("timeout".into());
            }
        }
        None
    })
}

/// `progress(done, total[, message])`: report progress of long work to the
/// run's live status, as components do with the host's `progress`.
fn progress(done: i64, total: i64, message: &str) {
    CURRENT.with(|c| {
        let c = c.borrow();
        let Some(c) = c.as_ref() else { return };
        if let Some(events) = &c.events {
            let message: String = message.chars().take(200).collect();
            let (done, total) = (u64::try_from(done).unwrap_or(0), u64::try_from(total).unwrap_or(0));
            events(&Event { node: c.node.clone(), kind: EventKind::Progress { done, total, message } });
        }
    });
}

fn log(level: LogLevel, text: &str) {
    CURRENT.with(|c| {
        let mut c = c.borrow_mut();
        let Some(c) = c.as_mut() else { return };
        if text.len() > c.log_left {
            c.log_left = 0;
            return;
        }
        c.log_left -= text.len();
        if let Some(events) = &c.events {
            events(&Event {
                node: c.node.clone(),
                kind: EventKind::Log { level, message: text.to_string() },
            });
        }
    });
}
