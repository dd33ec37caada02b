//! The one error type at the API boundary, and node failures.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A problem found in what a user wrote: what is wrong, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// What is wrong (lowercase, no trailing period).
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with no help text.
    pub fn new(message: impl Into<String>) -> Self {
        Diagnostic { message: message.into(), help: None }
    }

    /// Add what the user can do about it.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\nhelp: {help}")?;
        }
        Ok(())
    }
}

/// Why a node did not produce its output.
#[derive(Debug, Clone, PartialEq)]
pub enum FailureKind {
    /// The node returned an error.
    Error {
        /// The guest's error kind (`failed`, `invalid-input`, `unknown-node`).
        kind: String,
        /// The input the error is about.
        input: Option<String>,
    },
    /// The guest trapped (a wasm trap, or a Rust panic, which aborts).
    Trap,
    /// The node ran past its wall-time budget.
    Timeout(Duration),
    /// The node asked for more memory than its budget.
    Memory {
        /// The budget in bytes.
        limit: u64,
    },
    /// The node's output was larger than its budget.
    OutputTooLarge {
        /// The output's size in bytes.
        size: usize,
        /// The budget in bytes.
        limit: usize,
    },
    /// The output's type is not the declared one.
    WrongOutputType,
    /// A script limit stopped it (operations, call depth, string or array size, ...).
    Limit {
        /// Which limit.
        limit: String,
    },
    /// The host could not set up the node's sandbox.
    Host,
}

/// A node that failed: which node, from where, and what stopped it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeFailure {
    /// The node's name.
    pub node: String,
    /// Its source (a component file, a script, `builtin`).
    pub source: String,
    /// What kind of failure.
    pub kind: FailureKind,
    /// The message, with the guest's own words where there are any.
    pub message: String,
}

impl fmt::Display for NodeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node `{}` ({}) ", self.node, self.source)?;
        match &self.kind {
            FailureKind::Error { input: Some(input), .. } => {
                write!(f, "failed on input `{input}`: {}", self.message)
            }
            FailureKind::Error { .. } => write!(f, "failed: {}", self.message),
            FailureKind::Trap => write!(f, "trapped: {}", self.message),
            FailureKind::Timeout(_)
            | FailureKind::Memory { .. }
            | FailureKind::OutputTooLarge { .. }
            | FailureKind::Limit { .. } => {
                write!(f, "was stopped: {}", self.message)
            }
            FailureKind::WrongOutputType => write!(f, "returned the wrong type: {}", self.message),
            FailureKind::Host => write!(f, "could not run: {}", self.message),
        }
    }
}

/// Every error the `weavelet` library returns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pipeline cannot be planned; every problem found is listed.
    #[error("{}", plan_message(.0))]
    Plan(Vec<Diagnostic>),
    /// A component could not be loaded.
    #[error("cannot load component {}: {message}", .path.display())]
    Component {
        /// The component file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A pipeline manifest is invalid.
    #[error("{}: {}", .path.display(), .diagnostic)]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong, with the line where known.
        diagnostic: Diagnostic,
    },
    /// A Rhai script cannot be compiled or declares its nodes wrongly.
    #[error("{0}")]
    Script(Diagnostic),
    /// The run finished with failed nodes.
    #[error("{}", run_message(.0))]
    Run(Vec<NodeFailure>),
    /// The API was used wrongly.
    #[error("{0}")]
    Usage(String),
    /// An I/O error, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What was being done (`reading pipeline.toml`).
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The sandbox engine could not be set up.
    #[error("cannot set up the WebAssembly engine: {0}")]
    Engine(String),
}

fn plan_message(diagnostics: &[Diagnostic]) -> String {
    let mut s = match diagnostics.len() {
        1 => "the pipeline cannot run:".to_string(),
        n => format!("the pipeline cannot run ({n} problems):"),
    };
    for d in diagnostics {
        s.push_str("\n- ");
        s.push_str(&d.to_string().replace('\n', "\n  "));
    }
    s
}

fn run_message(failures: &[NodeFailure]) -> String {
    let mut s = match failures.len() {
        1 => "1 node failed:".to_string(),
        n => format!("{n} nodes failed:"),
    };
    for f in failures {
        s.push_str("\n- ");
        s.push_str(&f.to_string());
    }
    s
}

/// Run library code on input a guest chose; a panic in it becomes the message
/// `"{what} failed on this input: {panic}"` instead of taking the node's thread down.
pub(crate) fn caught<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .map_err(|panic| format!("{what} failed on this input: {}", panic_message(&*panic)))
}

/// The message a caught panic carries (`panic!` with a literal or a formatted string).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

impl Error {
    /// An I/O error, with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }
}

/// The source line `line` (1-based) of `src` with a caret under columns
/// `col..col + width` (1-based), as shown under a diagnostic.
pub(crate) fn snippet(src: &str, line: usize, col: usize, width: usize) -> String {
    let text = src.lines().nth(line.saturating_sub(1)).unwrap_or_default();
    let gutter = line.to_string().len();
    let col = col.max(1);
    format!(
        "{:gutter$} |\n{line} | {text}\n{:gutter$} | {}{}",
        "",
        "",
        " ".repeat(col - 1),
        "^".repeat(width.max(1))
    )
}
