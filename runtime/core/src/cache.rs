//! The result cache and run history, as the scheduler sees them: the
//! [`ResultCache`] trait and the records it exchanges. The scheduler decides
//! what to look up, what to store and what to record; an implementation
//! (the SQLite store of `weavelet-store`, or one of an embedder's own)
//! decides where and how.

use std::path::Path;
use std::time::Duration;

use crate::key::Digest;
use crate::value::Value;

/// A run's number in the history.
pub type RunId = i64;

/// What a stored result depended on besides its inputs: something it read,
/// and that thing's fingerprint when the result was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDep {
    /// What was read.
    pub kind: DepKind,
    /// Its canonical path.
    pub path: String,
    /// Its fingerprint (as [`ResultCache::fingerprint`] gives it).
    pub hash: String,
}

/// The kinds of things a node reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepKind {
    /// A file's content.
    File,
    /// A folder's listing (the names in it).
    Dir,
    /// Every file under a folder, by name and content.
    Tree,
}

impl DepKind {
    /// The name stored for this kind (`file`, `dir`, `tree`).
    pub fn name(self) -> &'static str {
        match self {
            DepKind::File => "file",
            DepKind::Dir => "dir",
            DepKind::Tree => "tree",
        }
    }

    /// The kind stored under `name`.
    pub fn from_name(name: &str) -> Option<DepKind> {
        match name {
            "file" => Some(DepKind::File),
            "dir" => Some(DepKind::Dir),
            "tree" => Some(DepKind::Tree),
            _ => None,
        }
    }
}

/// What a key was made of, kept with the entry so a later miss can say what changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parts {
    /// The code identity, in hex.
    pub code: String,
    /// The identity of the grants that change the result, in hex.
    pub policy: String,
    /// Input name and the identity of its value, in hex.
    pub inputs: Vec<(String, String)>,
}

/// A stored result, as a lookup found it.
#[derive(Debug)]
pub struct Stored {
    /// The identity of the stored output (see [`crate::run`]).
    pub output: Digest,
    /// What the node read when it computed the result.
    pub files: Vec<FileDep>,
    /// The run that stored it.
    pub run: Option<RunId>,
    /// Bytes stored.
    pub size: u64,
    /// Where the implementation keeps the value: only it reads this.
    pub location: Box<dyn std::any::Any + Send + Sync>,
}

/// A result to store.
#[derive(Debug)]
pub struct NewEntry<'a> {
    /// The node's key.
    pub key: &'a Digest,
    /// The output's identity.
    pub output: &'a Digest,
    /// What the node read.
    pub files: &'a [FileDep],
    /// What the key was made of.
    pub parts: &'a Parts,
    /// The node's name.
    pub node: &'a str,
    /// The pipeline's origin (see [`crate::Pipeline::origin`]).
    pub pipeline: &'a str,
    /// The run storing it.
    pub run: Option<RunId>,
}

/// One node's line in the run history.
#[derive(Debug, Clone, Default)]
pub struct NodeRecord {
    /// The node.
    pub node: String,
    /// `ran`, `cached`, `failed`, `skipped` or `overridden`.
    pub status: String,
    /// When it started (ms since the Unix epoch).
    pub started_ms: i64,
    /// How long it took (for a cached node: looking it up and loading it).
    pub duration: Duration,
    /// Attempts made (0 for a cached or skipped node).
    pub attempts: u32,
    /// Bytes of its inputs, where known.
    pub bytes_in: u64,
    /// Bytes of its output, where known.
    pub bytes_out: u64,
    /// The most memory it held.
    pub peak_memory: u64,
    /// Instructions it executed, when fuel was counted.
    pub fuel: Option<u64>,
    /// Why it failed, or why it was skipped.
    pub error: Option<String>,
    /// Why it ran instead of coming from the cache (or why it was not stored).
    pub reason: Option<String>,
    /// Where it ran (`process`: a worker process; `in-process`), if it ran.
    pub isolation: Option<String>,
    /// Its log lines, in order, bounded by [`MAX_LOG_LINES`] and [`MAX_LOG_BYTES`]
    /// (a last line says how many more there were).
    pub logs: Vec<LogLine>,
    /// The identity of its output, in hex, when it has one (it ran or came
    /// from the cache of a recorded run): equal identities, equal values.
    pub output: Option<String>,
}

/// What a run was asked to compute, recorded as it starts so that it can be
/// replayed exactly and compared with another run.
#[derive(Debug, Clone, Default)]
pub struct RunPlanRecord {
    /// The fingerprint of the pipeline's file (manifest or script) as the run started.
    pub digest: Option<String>,
    /// The requested outputs.
    pub targets: Vec<String>,
    /// Every parameter a planned node reads, with its value.
    pub params: Vec<(String, Value)>,
    /// Every planned node, in dependency order.
    pub nodes: Vec<PlannedRecord>,
}

/// One planned node of a recorded run: what decides what it computes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRecord {
    /// The node.
    pub node: String,
    /// Where it comes from.
    pub source: String,
    /// Its code identity in hex, or why it has none (`Err`).
    pub code: Result<String, String>,
    /// The identity of the grants that change what it computes, in hex.
    pub policy: String,
    /// Its effective policy in words (see [`crate::Policy::summary`]).
    pub policy_text: String,
    /// Each input and what feeds it: `node NAME`, `param NAME` or `default`.
    pub inputs: Vec<(String, String)>,
}

/// One line a node logged during a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// When (ms since the Unix epoch).
    pub at_ms: i64,
    /// Its level.
    pub level: crate::LogLevel,
    /// The text (sanitised: no terminal control sequences).
    pub message: String,
}

/// The most log lines the history keeps of one node in one run.
pub const MAX_LOG_LINES: usize = 2_000;
/// The most bytes of log text the history keeps of one node in one run.
pub const MAX_LOG_BYTES: usize = 256 << 10;

/// Where a scheduler keeps results and records runs.
///
/// Failures to record history are not errors of the run (the history is a
/// record, not the result), so only [`ResultCache::begin_run`] and the
/// lookups return them.
pub trait ResultCache: Send + Sync {
    /// Record the start of a run of the pipeline `origin`; `description`
    /// says what started it (a command line, a job name), `plan` what it computes.
    fn begin_run(&self, origin: &str, description: &str, plan: &RunPlanRecord)
    -> Result<RunId, crate::Error>;

    /// Record how a run ended.
    fn end_run(&self, run: RunId, ok: bool);

    /// Record what happened to one node of a run, now (a killed run keeps
    /// the lines of what it finished).
    fn record(&self, run: RunId, node: &NodeRecord);

    /// The result stored under `key`, if any.
    fn lookup(&self, key: &Digest) -> Result<Option<Stored>, crate::Error>;

    /// Whether `entry`'s value is there and whole, as far as a cheap check
    /// (no hashing) tells; `Err` says what is wrong.
    fn check(&self, entry: &Stored) -> Result<(), String>;

    /// The value of `entry`, checked against its checksum.
    fn load(&self, entry: &Stored) -> Result<Value, String>;

    /// Store `value` under `entry.key`; returns the bytes stored.
    fn store(&self, entry: &NewEntry<'_>, value: &Value) -> Result<u64, String>;

    /// Forget the result under `key` (it was found damaged).
    fn remove(&self, key: &Digest);

    /// Note that the results under `keys` were used now (for least-recently-used collection).
    fn touch(&self, keys: &[Digest]);

    /// The fingerprint of what is at `path` now, of the given kind; `Err`
    /// says why it cannot be taken (then the result is not stored).
    fn fingerprint(&self, kind: DepKind, path: &Path) -> Result<String, String>;

    /// What the latest stored key of `node` in pipeline `origin` was made of
    /// (to say why a lookup missed).
    fn latest_parts(&self, origin: &str, node: &str) -> Option<Parts>;
}

/// Milliseconds since the Unix epoch (the history's clock).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
