//! The one error type at the API boundary, diagnostics, and node failures.
//!
//! Messages speak of the library's concepts (nodes, parameters, policies,
//! the result cache), never of a front end's syntax: where a front end can
//! offer a fix in its own words (a command-line flag, a manifest key), the
//! diagnostic or error carries it as data ([`Fix`], [`NodeRole`],
//! [`FailureKind::NotSelected`]) for the front end to spell.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::decl::Capability;
use crate::value::ValueType;

/// A problem found in what a user wrote: what is wrong, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// What is wrong (lowercase, no trailing period).
    pub message: String,
    /// What to do about it, in the library's words.
    pub help: Option<String>,
    /// The fix, as data, when a front end can spell it in its own syntax.
    pub fix: Option<Box<Fix>>,
    /// The line of a source file it is about, when it comes from one (a
    /// script's `fn` whose input nothing provides).
    pub at: Option<Box<SourceSpan>>,
}

/// A place in a source file: its line, and the text on it a diagnostic is
/// about (a front end finds and underlines it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpan {
    /// The file.
    pub file: PathBuf,
    /// The line, from 1.
    pub line: usize,
    /// The text on that line to point at (a parameter's name).
    pub text: String,
}

/// A fix a front end can offer in its own words (`--param count=<int>`,
/// `env = ["KEY"]` under a node's policy, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fix {
    /// Give parameter `name` a value of type `ty`.
    SetParam {
        /// The parameter.
        name: String,
        /// Its type.
        ty: ValueType,
    },
    /// Provide the input `name`: a node of that name, or a parameter.
    ProvideInput {
        /// The name nothing provides.
        name: String,
        /// The type the input expects.
        ty: ValueType,
        /// A known name close to it, if any.
        did_you_mean: Option<String>,
    },
    /// Grant `capability` to `node` in its policy.
    Grant {
        /// The node.
        node: String,
        /// What to grant.
        capability: Capability,
    },
    /// Start a node folder in `language` (`rust`, `c`, `python`, `js`) from a template.
    NewProject {
        /// The language's key.
        language: String,
    },
    /// Say which language a node folder is in.
    ChooseLanguage,
    /// Clear the result cache in `dir`, or use another cache folder.
    ClearCache {
        /// The cache folder.
        dir: PathBuf,
    },
}

impl Diagnostic {
    /// A diagnostic with no help text.
    pub fn new(message: impl Into<String>) -> Self {
        Diagnostic { message: message.into(), help: None, fix: None, at: None }
    }

    /// Add what the user can do about it.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Add the fix as data, for front ends that spell it their own way.
    pub fn with_fix(mut self, fix: Fix) -> Self {
        self.fix = Some(Box::new(fix));
        self
    }

    /// Point at `text` on `line` of `file`.
    pub fn at(mut self, file: impl Into<PathBuf>, line: usize, text: impl Into<String>) -> Self {
        self.at = Some(Box::new(SourceSpan { file: file.into(), line, text: text.into() }));
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
#[non_exhaustive]
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
    /// The run was asked to run only other nodes, and this node's result was
    /// needed but could not come from the cache.
    NotSelected {
        /// Why the cache could not give it.
        why: String,
    },
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

impl NodeFailure {
    /// A failure of `node` (from `source`).
    pub fn new(node: &str, source: &str, kind: FailureKind, message: impl Into<String>) -> NodeFailure {
        NodeFailure { node: node.to_string(), source: source.to_string(), kind, message: message.into() }
    }
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
            FailureKind::NotSelected { .. } => write!(f, "was not run: {}", self.message),
        }
    }
}

/// What a run was asked to do with a node that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeRole {
    /// Give it a value instead of running it.
    Override,
    /// Compute it (and what depends on it) even if its result is stored.
    Recompute,
    /// Run only it.
    Only,
}

impl fmt::Display for NodeRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NodeRole::Override => "giving a node a value",
            NodeRole::Recompute => "computing a node again",
            NodeRole::Only => "running only some nodes",
        })
    }
}

/// Every error the Weavelet libraries return.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The pipeline cannot be planned; every problem found is listed.
    #[error("{}", plan_message(.0, Diagnostic::to_string))]
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
    /// A node folder could not be built into a component.
    #[error("{0}")]
    Build(Diagnostic),
    /// A node folder is not built, or a component not downloaded, and the
    /// caller asked for nothing to be built or fetched (`weavelet check`).
    #[error("{0}")]
    NotPrepared(Diagnostic),
    /// The result cache or the run history could not be opened, read or written.
    #[error("{0}")]
    Store(Diagnostic),
    /// A run was asked to do something with a node the pipeline or plan does not have.
    #[error("{role}: {}", unknown_node(.name, *.planned, .suggestion, .known))]
    UnknownNode {
        /// The name given.
        name: String,
        /// What was asked of it.
        role: NodeRole,
        /// Whether the name was looked for among the planned nodes (else the pipeline's).
        planned: bool,
        /// A known name close to it.
        suggestion: Option<String>,
        /// The names that were known.
        known: Vec<String>,
    },
    /// A node was given a value of another type than it outputs.
    #[error("node `{node}` outputs {expected}, but the value given is {given}")]
    WrongType {
        /// The node.
        node: String,
        /// Its declared output type.
        expected: ValueType,
        /// The type of the value given.
        given: ValueType,
    },
    /// Computing nodes again or running only some nodes needs a result cache.
    #[error(
        "computing nodes again or running only some of them needs the result cache, and this run has none"
    )]
    NeedsCache,
    /// A file or folder named by the user does not exist.
    #[error("{} does not exist", .0.display())]
    NotFound(PathBuf),
    /// The run finished with failed nodes.
    #[error("{}", run_message(.0, NodeFailure::to_string))]
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

fn unknown_node(name: &str, planned: bool, suggestion: &Option<String>, known: &[String]) -> String {
    let mut s = if planned {
        format!("no node `{name}` is planned in this run")
    } else {
        format!("the pipeline has no node `{name}`")
    };
    match suggestion {
        Some(close) => s.push_str(&format!("; did you mean `{close}`?")),
        None if !planned => s.push_str(&format!(" (its nodes: {})", names(known.iter().map(String::as_str)))),
        None => {}
    }
    s
}

/// The text of a plan error: every diagnostic, each as `render` spells it
/// (a front end spells fixes its own way).
pub fn plan_message(diagnostics: &[Diagnostic], render: impl Fn(&Diagnostic) -> String) -> String {
    let heading = match diagnostics.len() {
        1 => "the pipeline cannot run:".to_string(),
        n => format!("the pipeline cannot run ({n} problems):"),
    };
    bulleted(heading, diagnostics.iter().map(|d| render(d).replace('\n', "\n  ")))
}

/// The text of a run's failures, each as `render` spells it.
pub fn run_message(failures: &[NodeFailure], render: impl Fn(&NodeFailure) -> String) -> String {
    let heading = match failures.len() {
        1 => "1 node failed:".to_string(),
        n => format!("{n} nodes failed:"),
    };
    bulleted(heading, failures.iter().map(render))
}

/// `heading`, then each item after `- ` on a line of its own.
fn bulleted(heading: String, items: impl Iterator<Item = String>) -> String {
    let mut s = heading;
    for item in items {
        s.push_str("\n- ");
        s.push_str(&item);
    }
    s
}

impl Error {
    /// An I/O error, with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }

    /// A failure of the result cache or the run history.
    pub fn store(message: impl Into<String>) -> Self {
        Error::Store(Diagnostic::new(message))
    }

    /// A failure to build a node folder.
    pub fn build(message: impl Into<String>) -> Self {
        Error::Build(Diagnostic::new(message))
    }
}

/// `` `a`, `b` `` for a list of names (`none` when empty).
pub fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<String> = it.map(|n| format!("`{n}`")).collect();
    if v.is_empty() { "none".to_string() } else { v.join(", ") }
}

/// The source line `line` (1-based) of `src` with a caret under columns
/// `col..col + width` (1-based), as shown under a diagnostic.
pub fn snippet(src: &str, line: usize, col: usize, width: usize) -> String {
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
