//! Which data-plane operation the current thread is inside (`table.join`,
//! `svg.render`), for whoever must say where a node was stopped.
//!
//! Nothing is recorded unless a process installs a [`Watcher`] (a worker
//! process does, once): then every operation marks itself on entry and on
//! exit, at the cost of a call through a pointer.

use std::cell::Cell;
use std::sync::OnceLock;

/// Told the operation a thread entered (`Some`) or that it left the last one (`None`).
pub type Watcher = Box<dyn Fn(Option<&'static str>) + Send + Sync>;

static WATCHER: OnceLock<Watcher> = OnceLock::new();

thread_local! {
    static CURRENT: Cell<Option<&'static str>> = const { Cell::new(None) };
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
        if !self.watched {
            return;
        }
        CURRENT.with(|c| c.set(self.outer));
        if let Some(watcher) = WATCHER.get() {
            watcher(self.outer);
        }
    }
}
