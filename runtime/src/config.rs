//! `Config` and `Policy`: every default in one place.

use std::path::PathBuf;
use std::time::Duration;

/// The budgets a node runs under.
///
/// The defaults are the untrusted-node budget of Weavelet's security model:
///
/// | budget | default |
/// |---|---|
/// | wall time | 5 s |
/// | memory (all of a node's memories summed) | 256 MiB |
/// | output | 64 MiB |
/// | log | 64 KiB |
/// | Rhai operations | 100 M |
/// | handles (tables, SVGs, images held at once) | 10 000 |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Wall-clock time a node may run, including its instantiation.
    pub timeout: Duration,
    /// Bytes of linear memory a node may hold, summed over all its memories.
    pub memory: u64,
    /// Bytes a node's output may occupy.
    pub output_bytes: usize,
    /// Bytes of log (and captured stderr) kept per node.
    pub log_bytes: usize,
    /// Operations a Rhai node may execute.
    pub operations: u64,
    /// Tables, SVG documents and images a component node may hold at once.
    pub handles: usize,
    /// Instructions a component node may execute (wasm fuel), if counted. Only a
    /// runtime built with [`Config::fuel`] counts them; epochs bound wall time
    /// either way.
    pub fuel: Option<u64>,
    /// Directories whose files the node may read through the host (table readers).
    pub files: std::sync::Arc<crate::table::io::Grants>,
    /// Environment variables the node may read (names; their values come from
    /// the host's environment when the node runs).
    pub env: Vec<String>,
    /// The real wall clock instead of a clock fixed at the Unix epoch.
    pub clock: bool,
    /// Real randomness instead of a fixed-seed stream.
    pub random: bool,
    /// Folders the node may create and write files in: the host folder and
    /// the path the guest uses for it (as the pipeline file names it, `out`).
    pub write: Vec<(PathBuf, String)>,
    /// Whether the node's results may come from the result cache: `None`
    /// caches it unless it is granted the clock, randomness or a write
    /// folder; `Some(true)` caches it anyway, `Some(false)` never.
    pub cache: Option<bool>,
    /// How many times the node is tried before its failure stands (at least
    /// 1). Only failures that may be transient are tried again: errors of a
    /// node with I/O grants (files, environment, clock, randomness), not
    /// traps or exceeded budgets unless `retry_violations`.
    pub attempts: u32,
    /// The wait before the second attempt; it doubles for each further one
    /// (at most a minute), with ±50 % jitter.
    pub backoff: Duration,
    /// Also try again after a trap or an exceeded budget.
    pub retry_violations: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            timeout: Duration::from_secs(5),
            memory: 256 << 20,
            output_bytes: 64 << 20,
            log_bytes: 64 << 10,
            operations: 100_000_000,
            handles: 10_000,
            fuel: None,
            files: Default::default(),
            env: Vec::new(),
            clock: false,
            random: false,
            write: Vec::new(),
            cache: None,
            attempts: 1,
            backoff: Duration::from_millis(200),
            retry_violations: false,
        }
    }
}

impl Policy {
    /// Why a node under this policy is not cached, if it is not: it is
    /// granted something that makes its results differ from run to run.
    pub fn uncacheable(&self) -> Option<String> {
        match self.cache {
            Some(true) => return None,
            Some(false) => return Some("its policy sets `cache = false`".into()),
            None => {}
        }
        let mut grants = Vec::new();
        if self.clock {
            grants.push("the clock");
        }
        if self.random {
            grants.push("randomness");
        }
        if !self.write.is_empty() {
            grants.push("a write folder");
        }
        (!grants.is_empty()).then(|| {
            format!(
                "it is granted {}, so its results may differ between runs (set `cache = true` in its policy to cache it anyway)",
                grants.join(" and ")
            )
        })
    }

    /// Whether a failure of a node under this policy may be transient: it
    /// touches the world outside its sandbox.
    pub fn has_io(&self) -> bool {
        !self.files.read.is_empty()
            || !self.write.is_empty()
            || !self.env.is_empty()
            || self.clock
            || self.random
    }

    /// Whether this policy grants `capability`. Directories are compared as
    /// the pipeline's folder joined with the requested path.
    pub fn grants(&self, capability: &crate::Capability) -> bool {
        use crate::Capability as C;
        match capability {
            C::ReadDir(dir) => {
                let wanted = self.files.base.join(dir.trim_start_matches('/'));
                let wanted = wanted.canonicalize().unwrap_or(wanted);
                self.files.read.iter().any(|granted| wanted.starts_with(granted))
            }
            C::WriteDir(dir) => {
                let wanted = dir.trim_start_matches('/').trim_end_matches('/');
                self.write.iter().any(|(_, guest)| guest == wanted)
            }
            C::Env(key) => self.env.iter().any(|k| k == key),
            C::Clock => self.clock,
            C::Random => self.random,
        }
    }
}

/// A size as people write it: `512`, `64KiB`, `256MiB`, `2GiB` (also `KB`, `MB`, `GB` as powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let bad = || format!("`{text}` is not a size (write 64KiB, 256MiB or 2GiB)");
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "KB" | "K" => 1 << 10,
        "MiB" | "MB" | "M" => 1 << 20,
        "GiB" | "GB" | "G" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(scale).ok_or_else(bad)
}

/// How a [`crate::Runtime`] is built.
///
/// | setting | default |
/// |---|---|
/// | `jobs` | the number of cores |
/// | `cache_dir` | `$WEAVELET_CACHE_DIR`, else the platform cache dir (`~/.cache/weavelet`) |
/// | `policy` | [`Policy::default`] |
/// | `max_component_size` | 64 MiB |
/// | `wasm_stack` | 1 MiB (worker threads get 16 MiB) |
/// | `epoch_tick` | 10 ms |
/// | `fuel` | off |
#[derive(Debug, Clone)]
pub struct Config {
    /// How many nodes run at the same time.
    pub jobs: usize,
    /// Where compiled components are cached (`None`: no disk cache).
    pub cache_dir: Option<PathBuf>,
    /// The default budgets of every node.
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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            jobs: std::thread::available_parallelism().map_or(2, |n| n.get()),
            cache_dir: default_cache_dir(),
            policy: Policy::default(),
            max_component_size: 64 << 20,
            wasm_stack: 1 << 20,
            epoch_tick: Duration::from_millis(10),
            fuel: false,
        }
    }
}

impl Config {
    /// Set how many nodes run at the same time (1 to [`crate::runtime::MAX_JOBS`]).
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs.clamp(1, crate::runtime::MAX_JOBS);
        self
    }

    /// Set (or, with `None`, turn off) the on-disk cache of compiled components.
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }

    /// Grant every node read access to files under `dir` (relative paths in
    /// node calls start at `base`).
    pub fn allow_read(mut self, base: PathBuf, dir: &std::path::Path) -> std::io::Result<Self> {
        let mut grants = (*self.policy.files).clone();
        grants.base = base;
        grants.read.push(dir.canonicalize()?);
        self.policy.files = std::sync::Arc::new(grants);
        Ok(self)
    }

    /// Count instructions, so that policies with a `fuel` budget are enforced.
    pub fn fuel(mut self, on: bool) -> Self {
        self.fuel = on;
        self
    }

    /// Set the default node budgets.
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
