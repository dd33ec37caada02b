//! `Runtime`: the engine, the compiled-component cache, the epoch ticker and
//! the worker pool, built once and shared.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use wasmtime::component::Linker;
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::component::{self, ComponentModule};
use crate::config::Config;
use crate::error::Error;
use crate::events::EventSink;
use crate::exec::{self, Run, RunOptions, RunReport};
use crate::plan::Plan;
use crate::sandbox::{self, NodeState};

/// Shared, thread-safe and built once: one wasmtime `Engine` (Cranelift,
/// pooling allocator, epoch interruption), the compiled-component cache and
/// the worker pool. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// The engine of components with small memory images (copied at instantiation).
    pub engine: Engine,
    pub linker: Linker<NodeState>,
    /// The engine of components with large ones (mapped copy-on-write), made
    /// when the first such component loads.
    large: Arc<OnceLock<(Engine, Linker<NodeState>)>>,
    pub components: Mutex<FxHashMap<[u8; 32], Arc<ComponentModule>>>,
    pub config: Config,
    pub pool: tokio::runtime::Runtime,
    ticker_stop: Arc<AtomicBool>,
}

/// Components from this size up (interpreters with their initialised heap:
/// Python, JavaScript) get the copy-on-write engine.
pub(crate) const LARGE_COMPONENT: u64 = 4 << 20;

impl Inner {
    /// The engine and linker for a component of `size` bytes.
    pub fn engine_for(&self, size: u64) -> Result<(&Engine, &Linker<NodeState>), Error> {
        if size < LARGE_COMPONENT {
            return Ok((&self.engine, &self.linker));
        }
        if self.large.get().is_none() {
            // Two threads may both make one; the first set wins, the other is dropped.
            let _ = self.large.set(make_engine(&self.config, true)?);
        }
        self.large
            .get()
            .map(|(e, l)| (e, l))
            .ok_or_else(|| Error::Engine("the copy-on-write engine could not be set up".into()))
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// Host threads that run nodes get this much stack: far more than the wasm
/// stack budget, so a guest's recursion traps before the host's stack ends.
pub(crate) const WORKER_STACK: usize = 16 << 20;

/// The most nodes that run at once, whatever `jobs` says.
pub const MAX_JOBS: usize = 1024;
/// What one component instance may use of the instance pool.
const MEMORIES_PER_COMPONENT: u32 = 4;
const TABLES_PER_COMPONENT: u32 = 16;
const CORE_INSTANCES_PER_COMPONENT: u32 = 32;

impl Runtime {
    /// Build a runtime.
    pub fn new(config: Config) -> Result<Runtime, Error> {
        let (engine, linker) = make_engine(&config, false)?;
        let large: Arc<OnceLock<(Engine, Linker<NodeState>)>> = Arc::new(OnceLock::new());

        let workers = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(config.jobs.max(1) * 2 + 8)
            .thread_stack_size(WORKER_STACK)
            .thread_name("weavelet-node")
            .enable_time()
            .build()
            .map_err(|e| Error::Engine(format!("cannot start worker threads: {e}")))?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        {
            let engine = engine.clone();
            let large = large.clone();
            let stop = ticker_stop.clone();
            let tick = config.epoch_tick;
            std::thread::Builder::new()
                .name("weavelet-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(tick);
                        engine.increment_epoch();
                        if let Some((large, _)) = large.get() {
                            large.increment_epoch();
                        }
                    }
                })
                .map_err(|e| Error::Engine(format!("cannot start the epoch ticker: {e}")))?;
        }

        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                linker,
                large,
                components: Mutex::new(FxHashMap::default()),
                config,
                pool: workers,
                ticker_stop,
            }),
        })
    }

    /// The configuration this runtime was built with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Load a component: compiled once per process (and cached on disk across
    /// processes), pre-instantiated, its node declarations read and checked.
    pub fn load_component(&self, path: impl AsRef<Path>) -> Result<Arc<ComponentModule>, Error> {
        component::load(&self.inner, path.as_ref())
    }

    /// Run a plan to completion on the worker pool and report every output and
    /// failure. Node failures are in the report, not an `Err`: see
    /// [`RunReport::check`].
    ///
    /// Blocks the calling thread; from async code use [`Runtime::run_async`].
    pub fn run(&self, plan: &Plan) -> Result<RunReport, Error> {
        self.run_with_events(plan, None)
    }

    /// [`Runtime::run`], sending every node event to `events`.
    pub fn run_with_events(&self, plan: &Plan, events: Option<EventSink>) -> Result<RunReport, Error> {
        Ok(self.start(plan, events).wait())
    }

    /// [`Runtime::run`] with a result cache, run history, `--from` and
    /// `--only` (see [`RunOptions`]).
    pub fn run_with(&self, plan: &Plan, options: RunOptions) -> Result<RunReport, Error> {
        let caching = exec::caching(plan, &options)?;
        Ok(exec::start(self, plan, options.events, caching).wait())
    }

    /// What [`Runtime::run_with`] would do with `options`, node by node:
    /// which outputs would come from the cache and why the others would run.
    /// Runs nothing and records nothing.
    pub fn dry_run(&self, plan: &Plan, options: &RunOptions) -> Result<Vec<exec::DryRunStep>, Error> {
        exec::dry_run(self, plan, options)
    }

    /// [`Runtime::run_with_events`] for async callers (any executor).
    pub async fn run_async(&self, plan: &Plan, events: Option<EventSink>) -> Result<RunReport, Error> {
        Ok(self.start(plan, events).finish().await)
    }

    /// Start running a plan and return at once; the nodes run on the worker
    /// pool while the caller does other things.
    pub fn start(&self, plan: &Plan, events: Option<EventSink>) -> Run {
        exec::start(self, plan, events, None)
    }
}

/// A wasmtime engine with Weavelet's settings and its linker. `cow`: map
/// memory images copy-on-write instead of copying them (large images only:
/// for small ones copying is faster, see BENCHMARKS.md).
fn make_engine(config: &Config, cow: bool) -> Result<(Engine, Linker<NodeState>), Error> {
    let engine_err = |e: wasmtime::Error| Error::Engine(format!("{e:#}"));
    let mut wasm = wasmtime::Config::new();
    let mut pool = PoolingAllocationConfig::default();
    // One set of slots per node that can run at once (and one for loading), each
    // as large as one component may use: a component using its maximum cannot
    // starve the nodes running beside it. The slots are virtual address space;
    // memory is committed only as guests touch it.
    let slots = u32::try_from(config.jobs.clamp(1, MAX_JOBS)).unwrap_or(1) + 2;
    pool.total_component_instances(slots)
        .total_core_instances(slots * CORE_INSTANCES_PER_COMPONENT)
        .total_memories(slots * MEMORIES_PER_COMPONENT)
        .total_tables(slots * TABLES_PER_COMPONENT)
        .max_memories_per_component(MEMORIES_PER_COMPONENT)
        // Several memories are allowed; the limiter sums them (SECURITY.md case 8).
        .max_memories_per_module(MEMORIES_PER_COMPONENT)
        .max_tables_per_component(TABLES_PER_COMPONENT)
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        .table_elements(sandbox::MAX_TABLE_ELEMENTS)
        .linear_memory_keep_resident(8 << 20)
        .table_keep_resident(1 << 20)
        // Reset only the pages a guest dirtied (Linux 6.7+), instead of
        // decommitting and faulting them in again on every invocation.
        .pagemap_scan(wasmtime::Enabled::Auto);
    wasm.wasm_component_model(true)
        .epoch_interruption(true)
        .consume_fuel(config.fuel)
        .max_wasm_stack(config.wasm_stack)
        .memory_init_cow(cow)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    let engine = Engine::new(&wasm).map_err(engine_err)?;
    let linker = sandbox::linker(&engine).map_err(engine_err)?;
    Ok((engine, linker))
}
