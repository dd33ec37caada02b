//! What a node did while it ran, seen from the host: the files it read
//! through host readers, its peak memory and the fuel it used. Recorded per
//! thread (a node runs on one worker thread from start to end) and taken by
//! the scheduler when the node finishes: the result cache keys a result by
//! the files it read, and the run history shows the rest.

use std::cell::RefCell;
use std::path::PathBuf;

/// What one node invocation was seen doing.
#[derive(Debug, Default, Clone)]
pub(crate) struct Observed {
    /// Files opened through a host reader (canonical paths, in order, repeats removed).
    pub files: Vec<PathBuf>,
    /// Folders listed through a host reader (canonical paths).
    pub dirs: Vec<PathBuf>,
    /// The most memory it held: linear memory for a component, heap for a script.
    pub peak_memory: u64,
    /// Instructions it executed, when fuel is counted.
    pub fuel: Option<u64>,
}

thread_local! {
    static CURRENT: RefCell<Option<Observed>> = const { RefCell::new(None) };
}

/// Start watching the node about to run on this thread.
pub(crate) fn begin() {
    CURRENT.with(|c| *c.borrow_mut() = Some(Observed::default()));
}

/// Stop watching and return what was seen.
pub(crate) fn take() -> Observed {
    CURRENT.with(|c| c.borrow_mut().take()).unwrap_or_default()
}

fn with(f: impl FnOnce(&mut Observed)) {
    // `try_with`: nothing is recorded during thread teardown.
    let _ = CURRENT.try_with(|c| {
        if let Some(o) = c.borrow_mut().as_mut() {
            f(o);
        }
    });
}

/// A host reader opened `path` (canonical) for the running node.
pub(crate) fn read_file(path: &std::path::Path) {
    with(|o| {
        if !o.files.iter().any(|p| p == path) {
            o.files.push(path.to_path_buf());
        }
    });
}

/// A host reader listed the folder `path` (canonical) for the running node.
pub(crate) fn listed_dir(path: &std::path::Path) {
    with(|o| {
        if !o.dirs.iter().any(|p| p == path) {
            o.dirs.push(path.to_path_buf());
        }
    });
}

/// The running node holds `bytes` of memory now.
pub(crate) fn memory(bytes: u64) {
    with(|o| o.peak_memory = o.peak_memory.max(bytes));
}

/// The running node executed `instructions` (fuel consumed).
pub(crate) fn fuel(instructions: u64) {
    with(|o| o.fuel = Some(o.fuel.unwrap_or(0).saturating_add(instructions)));
}
