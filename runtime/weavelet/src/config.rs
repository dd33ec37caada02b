//! `Config`: how a [`crate::Runtime`] is built. Every default is here.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use weavelet_core::{MAX_JOBS, Policy};

/// How a [`crate::Runtime`] is built.
///
/// | setting | default |
/// |---|---|
/// | `jobs` | the number of cores |
/// | `cache_dir` | `$WEAVELET_CACHE_DIR`, else the platform cache dir (`~/.cache/weavelet`) |
/// | `results` | on: node results and the run history are kept under `cache_dir` |
/// | `policy` | [`Policy::default`]: 5 s, 256 MiB, nothing granted |
/// | `max_component_size` | 64 MiB |
/// | `wasm_stack` | 1 MiB (worker threads get 16 MiB) |
/// | `epoch_tick` | 10 ms |
/// | `fuel` | off |
/// | `worker_program` | this program, if `main` called [`crate::serve_worker_if_asked`] |
#[derive(Debug, Clone)]
pub struct Config {
    /// How many nodes run at the same time (1 to 1 024).
    pub jobs: usize,
    /// Where compiled components, node results and the run history are
    /// kept (`None`: nowhere; nothing is reused between processes).
    pub cache_dir: Option<PathBuf>,
    /// Keep node results and the run history under `cache_dir`, so runs
    /// reuse what earlier runs computed.
    pub results: bool,
    /// The policy of nodes that have none of their own.
    pub policy: Policy,
    /// Component files larger than this are refused before compiling.
    pub max_component_size: u64,
    /// The maximum wasm stack of a node.
    pub wasm_stack: usize,
    /// The granularity of wall-time budgets.
    pub epoch_tick: Duration,
    /// Count instructions (wasm fuel), so policies may set `fuel`. Generated
    /// code gets slower: off unless a pipeline asks for it.
    pub fuel: bool,
    /// The program started as a worker process for nodes whose policy isolates
    /// them in a process (the default): `None` is this program, which must
    /// call [`crate::serve_worker_if_asked`] first thing in `main`.
    pub worker_program: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            jobs: std::thread::available_parallelism().map_or(2, |n| n.get()),
            cache_dir: default_cache_dir(),
            results: true,
            policy: Policy::default(),
            max_component_size: 64 << 20,
            wasm_stack: 1 << 20,
            epoch_tick: Duration::from_millis(10),
            fuel: false,
            worker_program: None,
        }
    }
}

impl Config {
    /// Set how many nodes run at the same time (1 to 1 024).
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs.clamp(1, MAX_JOBS);
        self
    }

    /// Set (or, with `None`, turn off) the cache folder.
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }

    /// Keep (or not) node results and the run history in the cache folder.
    pub fn results(mut self, on: bool) -> Self {
        self.results = on;
        self
    }

    /// Grant every node without a policy of its own read access to files
    /// under `dir` (relative paths in node calls start at `base`).
    pub fn allow_read(mut self, base: PathBuf, dir: &Path) -> std::io::Result<Self> {
        let mut grants = (*self.policy.grants.files).clone();
        grants.base = base;
        grants.read.push(dir.canonicalize()?);
        self.policy.grants.files = Arc::new(grants);
        Ok(self)
    }

    /// Count instructions, so that policies with a `fuel` budget are enforced.
    pub fn fuel(mut self, on: bool) -> Self {
        self.fuel = on;
        self
    }

    /// Start worker processes from `program` (a `weavelet` binary, or any
    /// program whose `main` calls [`crate::serve_worker_if_asked`] first).
    pub fn worker_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.worker_program = Some(program.into());
        self
    }

    /// Set the policy of nodes that have none of their own.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }
}

/// `$WEAVELET_CACHE_DIR`, else the platform's cache directory for Weavelet.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("WEAVELET_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "weavelet").map(|d| d.cache_dir().to_path_buf())
}
