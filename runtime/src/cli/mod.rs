//! Subcommands, one file each; this module only parses and dispatches.

/// `println!` that ends the process quietly when stdout is closed (`weavelet inspect x | head`)
/// instead of panicking on the broken pipe.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout().lock(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

mod display;
mod inspect;
mod run;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Run data pipelines whose nodes are sandboxed WebAssembly components and Rhai scripts.
#[derive(Parser)]
#[command(name = "weavelet", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a pipeline (a weavelet.toml, a folder holding one, or a .rhai script).
    Run(run::RunArgs),
    /// Show what a component declares: its nodes, inputs, outputs and requested capabilities.
    Inspect(inspect::InspectArgs),
}

/// Exit status for a run whose nodes failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit status for bad input: a pipeline that cannot be planned, a bad flag, a missing file.
pub const EXIT_USAGE: u8 = 2;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Inspect(args) => inspect::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            display::error(&err);
            ExitCode::from(EXIT_USAGE)
        }
    }
}
