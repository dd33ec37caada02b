//! Which data-plane operation the current thread is inside (`table.join`,
//! `svg.render`), for whoever must say where a node was stopped.
//!
//! Every operation counts itself on exit ([`completed`]: a thread-local
//! counter, so an interpreter can check its clock and heap right after each
//! host call). The operation's name is recorded only if a process installs
//! a [`Watcher`] (a worker process does, once): then every operation marks
//! itself on entry and on exit, at the cost of a call through a pointer.

use std::cell::Cell;
use std::sync::OnceLock;

/// Told the operation a thread entered (`Some`) or that it left the last one (`None`).
pub type Watcher = Box<dyn Fn(Option<&'static str>) + Send + Sync>;

static WATCHER: OnceLock<Watcher> = OnceLock::new();

thread_local! {
    static CURRENT: Cell<Option<&'static str>> = const { Cell::new(None) };
    static COMPLETED: Cell<u64> = const { Cell::new(0) };
}

/// How many data-plane operations this thread has finished: a caller that
/// sees it change knows a host call just returned.
pub fn completed() -> u64 {
    COMPLETED.with(Cell::get)
}

/// Install the process's watcher; a second one is refused (returned).
pub fn watch(watcher: Watcher) -> Result<(), Watcher> {
    WATCHER.set(watcher)
}

/// Mark the current thread as inside `operation` until the guard drops.
/// Nested operations restore the outer one.
pub fn enter(operation: &'static str) -> Entered {
    let Some(watcher) = WATCHER.get() else { return Entered { outer: None, watched: false } };
    let outer = CURRENT.with(|c| c.replace(Some(operation)));
    watcher(Some(operation));
    Entered { outer, watched: true }
}

/// The operation the current thread is inside, while the guard lives.
#[must_use = "the operation ends when this is dropped"]
pub struct Entered {
    outer: Option<&'static str>,
    watched: bool,
}

impl Drop for Entered {
    fn drop(&mut self) {
        COMPLETED.with(|c| c.set(c.get().wrapping_add(1)));
        if !self.watched {
            return;
        }
        CURRENT.with(|c| c.set(self.outer));
        if let Some(watcher) = WATCHER.get() {
            watcher(self.outer);
        }
    }
}
