//! The `weavelet` command-line tool.

mod cli;

/// Counts each thread's heap bytes, so Rhai nodes get a total memory budget.
#[global_allocator]
static ALLOC: weavelet::CountingAllocator = weavelet::CountingAllocator;

fn main() -> std::process::ExitCode {
    cli::main()
}
