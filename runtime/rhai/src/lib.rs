//! Weavelet's Rhai backend: every top-level function of a `.rhai` file whose
//! name does not start with `_` is a node, and its parameter names are its
//! inputs.
//!
//! A script is compiled once, by a sandboxed engine (see `engine`: no
//! modules, no clock, no `eval`, no `sleep`); each node invocation calls its
//! function with a fresh scope, under the node's operation, memory and
//! wall-time budgets. Tables, SVG documents and images are the host's
//! (`tables`, `graphics`: thin bindings to `weavelet-data`); values cross
//! between Weavelet and Rhai in `convert`. A node's code identity for the
//! result cache is the tokens of its function and the helpers it calls
//! (`identity`).
//!
//! ```
//! use weavelet_core::{Pipeline, Policy, RunOptions, Scheduler, Value};
//! use weavelet_rhai::Script;
//!
//! # fn main() -> Result<(), weavelet_core::Error> {
//! let script = Script::from_source(
//!     "doubling.rhai".as_ref(),
//!     "/// Twice `x`.\nfn doubled(x) { x * 2 }",
//! )?;
//! let mut pipeline = Pipeline::new();
//! pipeline.add_nodes(script.nodes());
//! pipeline.set_param("x", Value::Int(21));
//! let plan = pipeline.plan(&["doubled"])?;
//! let report = Scheduler::new(1, Policy::default())?.start(&plan, None, RunOptions::new())?.wait();
//! assert_eq!(report.output("doubled"), Some(&Value::Int(42)));
//! # Ok(()) }
//! ```

mod alloc;
mod convert;
mod engine;
mod graphics;
mod identity;
mod tables;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rhai::{AST, Dynamic, Engine, EvalAltResult, Position};
use weavelet_core::key::Digest;
use weavelet_core::{
    Call, Diagnostic, Error, FailureKind, InputDecl, Node, NodeDecl, NodeFailure, NodeImpl, Policy, Requests,
    Value, ValueType, human_bytes, parse_duration, snippet,
};

pub use alloc::{CountingAllocator, is_installed as counting_allocator_installed};
pub use engine::{
    MAX_ARRAY, MAX_CALL_LEVELS, MAX_EXPR_DEPTH, MAX_FUNCTIONS, MAX_MAP, MAX_STRING, MAX_VARIABLES,
};

/// A compiled Rhai script and the nodes it defines.
pub struct Script {
    path: PathBuf,
    display: Arc<str>,
    engine: Arc<Engine>,
    ast: AST,
    nodes: Vec<ScriptNode>,
    /// Each node's code identity for the result cache (see `identity`).
    /// Computed on first use: only a run with a result cache needs them.
    identities: std::sync::OnceLock<Vec<Option<Digest>>>,
    /// The script's text, for the identities.
    source: String,
}

struct ScriptNode {
    decl: Arc<NodeDecl>,
    /// What its doc comment asks for (`@timeout`, ...): it narrows the
    /// operator's policy, never widens it.
    requests: Requests,
    /// The line of its `fn`, for failures that carry no position.
    line: usize,
    func: rhai::FnPtr,
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Script")
            .field("path", &self.path)
            .field("nodes", &self.nodes.iter().map(|n| &n.decl.name).collect::<Vec<_>>())
            .finish()
    }
}

impl Script {
    /// Compile a `.rhai` file. Syntax errors are reported with the file, the
    /// line, the column and the source line.
    ///
    /// A node's doc comment can lower its budgets (`/// @timeout 1s`), never
    /// raise them: the policy it runs under is the operator's (the runtime's
    /// default, or what a pipeline gives the node) narrowed by its requests.
    pub fn load(path: impl AsRef<Path>) -> Result<Arc<Script>, Error> {
        let path = path.as_ref();
        Script::from_source(path, &Script::read(path)?)
    }

    /// A script file's text, as [`Script::load`] reads it (for a caller that
    /// needs the text too, to fingerprint it).
    pub fn read(path: &Path) -> Result<String, Error> {
        std::fs::read_to_string(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound(path.to_path_buf()),
            _ => Error::io(format!("reading {}", path.display()), e),
        })
    }

    /// Compile script text; `path` is used in messages.
    pub fn from_source(path: &Path, source: &str) -> Result<Arc<Script>, Error> {
        let engine = Arc::new(engine::sandboxed());
        let ast = engine.compile(source).map_err(|e| {
            let (line, col) = (e.1.line().unwrap_or(1), e.1.position().unwrap_or(1));
            let message = e.0.to_string();
            script_error(path, source, line, col, &format!("syntax error: {message}"), syntax_help(&message))
        })?;
        let display = weavelet_core::file_label(path);

        let mut nodes: Vec<ScriptNode> = Vec::new();
        let lines = fn_lines(source);
        let line_of = |name: &str| lines.get(name).copied().unwrap_or(1);
        let mut functions: Vec<_> = ast
            .iter_functions()
            // Closures compile to functions named `anon$...`; helpers start with `_`.
            .filter(|f| !f.name.starts_with('_') && !f.name.contains('$'))
            .filter(|f| !matches!(f.access, rhai::FnAccess::Private))
            .collect();
        functions.sort_by_key(|f| line_of(f.name));
        let mut seen = rustc_hash::FxHashSet::default();
        for f in functions {
            let line = line_of(f.name);
            if !seen.insert(f.name) {
                return Err(script_error(
                    path,
                    source,
                    line,
                    1,
                    &format!("function `{}` is defined twice (with different numbers of parameters)", f.name),
                    Some("a node's name must be unique: rename one of them".into()),
                ));
            }
            let mut doc = Vec::new();
            let mut decl = NodeDecl {
                name: f.name.to_string(),
                doc: String::new(),
                inputs: f.params.iter().map(|p| InputDecl::required(*p, ValueType::Any)).collect(),
                output: ValueType::Any,
                output_columns: Vec::new(),
                capabilities: Vec::new(),
            };
            let mut requests = Requests::default();
            for line_text in f.comments.iter().flat_map(|c| c.lines()) {
                let line_text = line_text.trim();
                let text = line_text
                    .strip_prefix("///")
                    .or_else(|| line_text.strip_prefix("/**"))
                    .unwrap_or(line_text);
                let text = text.strip_suffix("*/").unwrap_or(text);
                let text = text.strip_prefix(' ').unwrap_or(text);
                match text.trim().strip_prefix('@') {
                    Some(directive) => apply_directive(directive, &mut decl, &mut requests)
                        .map_err(|why| script_error(path, source, line, 1, &why, Some(DIRECTIVES.into())))?,
                    None => doc.push(text.trim_end().to_string()),
                }
            }
            decl.doc = doc.join("\n").trim().to_string();
            let func = rhai::FnPtr::new(f.name).map_err(|e| {
                script_error(
                    path,
                    source,
                    line,
                    1,
                    &format!("function `{}` cannot be called: {e}", f.name),
                    None,
                )
            })?;
            nodes.push(ScriptNode { decl: Arc::new(decl), requests, line, func });
        }
        if nodes.is_empty() {
            return Err(Error::Script(Diagnostic::new(format!(
                "{} defines no nodes: every top-level `fn` whose name does not start with `_` is a node",
                path.display()
            ))));
        }
        Ok(Arc::new(Script {
            path: path.to_path_buf(),
            display,
            engine,
            ast,
            nodes,
            identities: std::sync::OnceLock::new(),
            source: source.to_string(),
        }))
    }

    /// The script file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The declarations of its nodes.
    pub fn decls(&self) -> impl Iterator<Item = &NodeDecl> {
        self.nodes.iter().map(|n| &*n.decl)
    }

    /// Its nodes, ready to add to a pipeline.
    pub fn nodes(self: &Arc<Self>) -> impl Iterator<Item = Node> + '_ {
        self.nodes.iter().enumerate().map(|(index, n)| {
            let code = Arc::new(ScriptFn { script: self.clone(), index });
            Node::new(n.decl.clone(), self.display.clone(), code)
                .with_requests(n.requests.clone())
                .defined_at(&self.path, n.line)
        })
    }

    /// Call node number `index` with `inputs` as `call` says.
    fn invoke(&self, call: &Call<'_>, index: usize, inputs: Vec<Value>) -> Result<Value, NodeFailure> {
        let Some(script_node) = self.nodes.get(index) else {
            return Err(call.fail(FailureKind::Host, format!("the script has no node number {index}")));
        };
        let args: Vec<Dynamic> = inputs.into_iter().map(convert::to_dynamic).collect();
        let guard = engine::Invocation::begin(call);
        // A function pointer is resolved by hash; `call_fn` would scan every function of the script.
        let result = script_node.func.call::<Dynamic>(&self.engine, &self.ast, args);
        let (stopped, peak) = guard.end();
        call.observe_memory(peak);
        let policy = call.policy();
        let fn_line = script_node.line;
        let fail = |kind: FailureKind, message: String, pos: Position| NodeFailure {
            node: call.node().to_string(),
            source: format!("{}:{}", self.display, pos.line().unwrap_or(fn_line)),
            kind,
            message,
        };
        match result {
            Ok(value) => convert::from_dynamic(value).map_err(|why| {
                fail(FailureKind::WrongOutputType, format!("it returned {why}"), Position::NONE)
            }),
            Err(err) => {
                let err = innermost(&err);
                let pos = err.position();
                let (kind, message) = describe(err, stopped, policy);
                Err(fail(kind, message, pos))
            }
        }
    }
}

/// Node number `index` of a script, as the scheduler runs it.
struct ScriptFn {
    script: Arc<Script>,
    index: usize,
}

impl NodeImpl for ScriptFn {
    fn invoke(&self, call: &Call<'_>, inputs: Vec<Value>) -> Result<Value, NodeFailure> {
        self.script.invoke(call, self.index, inputs)
    }

    /// Its function, the helpers it calls and the script's top-level statements, as tokens.
    fn code_identity(&self) -> Result<Digest, String> {
        let script = &self.script;
        let identities = script.identities.get_or_init(|| {
            let ids = identity::script_identities(&script.source);
            script.nodes.iter().map(|n| ids.get(&n.decl.name).copied()).collect()
        });
        identities
            .get(self.index)
            .copied()
            .flatten()
            .ok_or_else(|| "its function could not be told apart in the script's text".to_string())
    }
}

/// What the user can write in a node's doc comment.
const DIRECTIVES: &str = "node settings go in the doc comment: @timeout 10s, @operations 1000000, \
                          @cache false, @attempts 3, @backoff 500ms, @output <type>, @input <name> <type>, @optional <name>, \
                          @columns <input> <column>: <type>, ...";

fn apply_directive(directive: &str, decl: &mut NodeDecl, requests: &mut Requests) -> Result<(), String> {
    let mut words = directive.split_whitespace();
    let key = words.next().unwrap_or_default();
    let args: Vec<&str> = words.collect();
    let ty = |name: &str| {
        ValueType::from_name(name).ok_or_else(|| {
            format!("`{name}` is not a type (any, bool, int, float, text, bytes, int-list, float-list, bool-list, text-list, table)")
        })
    };
    let input = |decl: &mut NodeDecl, name: &str| -> Result<usize, String> {
        decl.inputs
            .iter()
            .position(|i| i.name == name)
            .ok_or_else(|| format!("node `{}` has no parameter `{name}`", decl.name))
    };
    match (key, args.as_slice()) {
        ("timeout", [d]) => requests.timeout = Some(parse_duration(d)?),
        ("operations", [n]) => {
            requests.operations =
                Some(n.replace('_', "").parse().map_err(|_| format!("`{n}` is not a number of operations"))?);
        }
        ("cache", [on @ ("true" | "false")]) => requests.cache = Some(*on == "true"),
        ("attempts", [n]) => {
            let n: u32 = n
                .parse()
                .ok()
                .filter(|&n| n >= 1)
                .ok_or_else(|| format!("`{n}` is not a number of attempts (1 or more)"))?;
            requests.attempts = Some(n);
        }
        ("backoff", [d]) => requests.backoff = Some(parse_duration(d)?),
        ("output", [t]) => decl.output = ty(t)?,
        ("input", [name, t]) => {
            let i = input(decl, name)?;
            decl.inputs[i].ty = ty(t)?;
        }
        ("optional", [name]) => {
            let i = input(decl, name)?;
            decl.inputs[i].optional = true;
        }
        ("columns", [name, spec @ ..]) if !spec.is_empty() => {
            let i = input(decl, name)?;
            decl.inputs[i].ty = ValueType::Table;
            decl.inputs[i].columns = weavelet_data::table::parse_columns(&spec.join(" "))?;
        }
        _ => return Err(format!("node `{}`: unknown or malformed setting `@{directive}`", decl.name)),
    }
    Ok(())
}

/// The line of each top-level `fn NAME(` in `source` (the first, for overloads).
fn fn_lines(source: &str) -> rustc_hash::FxHashMap<&str, usize> {
    let mut lines = rustc_hash::FxHashMap::default();
    for (i, line) in source.lines().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("fn ") else { continue };
        let rest = rest.trim_start();
        let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if rest[end..].trim_start().starts_with('(') {
            lines.entry(&rest[..end]).or_insert(i + 1);
        }
    }
    lines
}

fn syntax_help(message: &str) -> Option<String> {
    if message.contains("'eval'") || message.contains("eval") && message.contains("reserved") {
        return Some("`eval` is disabled in Weavelet scripts".into());
    }
    if message.contains("'import'") || message.contains("import") {
        return Some("scripts cannot import modules or files".into());
    }
    None
}

fn script_error(
    path: &Path,
    source: &str,
    line: usize,
    col: usize,
    message: &str,
    help: Option<String>,
) -> Error {
    let mut diagnostic = Diagnostic::new(format!(
        "{}:{line}:{col}: {message}\n{}",
        path.display(),
        snippet(source, line, col, 1)
    ));
    diagnostic.help = help;
    Error::Script(diagnostic)
}

/// The error behind the wrappers that function calls add (the node's own call
/// through its function pointer, and calls to helpers).
fn innermost(err: &EvalAltResult) -> &EvalAltResult {
    match err {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => innermost(inner),
        other => other,
    }
}

/// A failure's kind and message from a Rhai error.
fn describe(err: &EvalAltResult, stopped: Option<engine::Stop>, policy: &Policy) -> (FailureKind, String) {
    use EvalAltResult as E;
    let budgets = &policy.budgets;
    match (err, stopped) {
        (E::ErrorTerminated(..), Some(engine::Stop::Timeout(ran))) => (
            FailureKind::Timeout(budgets.timeout),
            format!("wall-time budget of {:?} exceeded (ran {ran:.2?})", budgets.timeout),
        ),
        (E::ErrorTerminated(..), Some(engine::Stop::Operations)) => (
            FailureKind::Limit { limit: "operations".into() },
            format!(
                "operation budget of {} exceeded (only the operator's policy can raise it, not the script)",
                budgets.operations
            ),
        ),
        (E::ErrorTerminated(..), Some(engine::Stop::Memory(held))) => (
            FailureKind::Memory { limit: budgets.memory },
            format!(
                "memory budget of {} exceeded (the script held {})",
                human_bytes(budgets.memory),
                human_bytes(held)
            ),
        ),
        (E::ErrorTooManyOperations(_), _) => (
            FailureKind::Limit { limit: "operations".into() },
            format!("operation budget of {} exceeded", budgets.operations),
        ),
        (E::ErrorStackOverflow(_), _) => (
            FailureKind::Limit { limit: "call depth".into() },
            format!("call depth limit of {} exceeded (unbounded recursion?)", engine::MAX_CALL_LEVELS),
        ),
        (E::ErrorDataTooLarge(what, _), _) => (
            FailureKind::Limit { limit: what.to_lowercase() },
            format!("{} exceeds its limit ({})", what.to_lowercase(), engine::limits_summary()),
        ),
        (E::ErrorTooManyVariables(_), _) => (
            FailureKind::Limit { limit: "variables".into() },
            format!("more than {} variables", engine::MAX_VARIABLES),
        ),
        (E::ErrorFunctionNotFound(sig, _), _) if sig.starts_with("sleep") => (
            FailureKind::Error { kind: "failed".into(), input: None },
            format!("function not available in Weavelet scripts: {sig} (a node cannot sleep)"),
        ),
        (E::ErrorRuntime(value, _), _) => {
            (FailureKind::Error { kind: "failed".into(), input: None }, format!("thrown: {value}"))
        }
        (other, _) => {
            let text = other.to_string();
            // Rhai appends " (line N, position M)"; the line is in the source already.
            let text = text.split(" (line ").next().unwrap_or(&text).to_string();
            (FailureKind::Error { kind: "failed".into(), input: None }, text)
        }
    }
}
