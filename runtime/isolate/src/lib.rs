//! Worker processes: a node's code, and the host work it asks for (table
//! plans, SVG rendering, image decoding), run where the operating system
//! bounds them and the host can kill them.
//!
//! The [`Supervisor`] (in the `weavelet` process, which keeps planning,
//! scheduling, the result store and writing outputs) starts workers on
//! demand: the same program, run again with `WEAVELET_WORKER` set, which
//! [`serve_if_asked`] turns into a worker before `main` does anything else.
//! A worker loads the node's source itself, confines itself for good
//! (no new privileges; Landlock: files only beneath its grants; seccomp: no
//! network, no `exec`, no new processes), and runs one node at a time under a
//! data limit of the node's memory budget plus [`HOST_SLACK`]. The
//! supervisor kills a worker whose node overruns its wall-time budget, names
//! the host operation it was inside, and starts another for the next node.
//!
//! Values cross as frames on the worker's stdin and stdout (replies are read
//! on the scheduler's thread, every read bounded by the node's deadline with
//! `poll`); tables as Arrow IPC files in a tmpfs folder, memory-mapped on the
//! other side.

mod confine;
mod sandbox;
mod supervisor;
mod wire;
mod worker;

pub use confine::HOST_SLACK;
pub use sandbox::{BUILD_HOST_NAME, BUILD_MEMORY, BuildSandbox, SANDBOX_ENV, SANDBOX_FAILED};
pub use supervisor::{Probed, Supervisor, WorkerCounts, WorkerSettings};
pub use wire::Origin;

/// If this process was started as a worker (or as the launcher of a build
/// sandbox, see [`BuildSandbox`]), serve as one and exit; else
/// return at once. Call it first thing in `main` of any program that runs
/// nodes with process isolation (the `weavelet` binary does).
pub fn serve_if_asked() {
    sandbox::exec_if_asked();
    if std::env::var_os(worker::WORKER_ENV).is_some_and(|v| v == worker::PROTOCOL) {
        std::process::exit(worker::serve());
    }
    let _ = supervisor::CAN_SERVE.set(());
}
