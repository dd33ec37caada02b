//! `WasmEngine`: the wasmtime engines (pooling allocator, epoch
//! interruption), their linkers, the in-memory component cache and the epoch
//! ticker, built once and shared.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use wasmtime::component::Linker;
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig};
use weavelet_core::{Error, MAX_JOBS, Policy};

use crate::component::{self, ComponentModule};
use crate::host::NodeState;
use crate::limits::MAX_TABLE_ELEMENTS;

/// How a [`WasmEngine`] is built.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// How many nodes may run at the same time (sizes the instance pool).
    pub jobs: usize,
    /// Where compiled components are cached on disk (`None`: not at all).
    pub cache_dir: Option<PathBuf>,
    /// The policy declarations are read under (its wall-time budget bounds
    /// a component's `nodes()` and start function).
    pub policy: Policy,
    /// Component files larger than this are refused before compiling.
    pub max_component_size: u64,
    /// The maximum wasm stack of a node.
    pub wasm_stack: usize,
    /// The granularity of wall-time budgets.
    pub epoch_tick: Duration,
    /// Count instructions (wasm fuel), so policies may set `fuel`.
    pub fuel: bool,
}

/// Compiles, caches and pre-instantiates components. Cheap to clone.
#[derive(Clone)]
pub struct WasmEngine {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// The engine of components with small memory images (copied at instantiation).
    engine: Engine,
    linker: Linker<NodeState>,
    /// The engine of components with large ones (mapped copy-on-write), made
    /// when the first such component loads.
    large: Arc<OnceLock<(Engine, Linker<NodeState>)>>,
    pub components: Mutex<FxHashMap<[u8; 32], Arc<ComponentModule>>>,
    pub config: EngineConfig,
    ticker_stop: Arc<AtomicBool>,
}

/// Components from this size up (interpreters with their initialised heap:
/// Python, JavaScript) get the copy-on-write engine.
pub const LARGE_COMPONENT: u64 = 4 << 20;

/// What one component instance may use of the instance pool.
const MEMORIES_PER_COMPONENT: u32 = 4;
const TABLES_PER_COMPONENT: u32 = 16;
const CORE_INSTANCES_PER_COMPONENT: u32 = 32;

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

impl WasmEngine {
    /// Build the engines and start the epoch ticker.
    pub fn new(config: EngineConfig) -> Result<WasmEngine, Error> {
        let (engine, linker) = make_engine(&config, false)?;
        let large: Arc<OnceLock<(Engine, Linker<NodeState>)>> = Arc::new(OnceLock::new());
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
        Ok(WasmEngine {
            inner: Arc::new(Inner {
                engine,
                linker,
                large,
                components: Mutex::new(FxHashMap::default()),
                config,
                ticker_stop,
            }),
        })
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Load a component: compiled once per process (and cached on disk across
    /// processes), pre-instantiated, its node declarations read and checked.
    pub fn load(&self, path: impl AsRef<Path>) -> Result<Arc<ComponentModule>, Error> {
        component::load(&self.inner, path.as_ref())
    }
}

/// A wasmtime engine with Weavelet's settings and its linker. `cow`: map
/// memory images copy-on-write instead of copying them (large images only:
/// for small ones copying is faster, see BENCHMARKS.md).
fn make_engine(config: &EngineConfig, cow: bool) -> Result<(Engine, Linker<NodeState>), Error> {
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
        .table_elements(MAX_TABLE_ELEMENTS)
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
    let linker = crate::sandbox::linker(&engine).map_err(engine_err)?;
    Ok((engine, linker))
}
