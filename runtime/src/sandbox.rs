//! The sandbox of one component-node invocation: a fresh `Store` from an
//! `InstancePre`, budgets armed before instantiation, WASI with no grants,
//! bounded log capture, and traps turned into node failures.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, Store, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::config::Policy;
use crate::error::{FailureKind, NodeFailure};
use crate::events::{Event, EventKind, EventSink, LogLevel};
use crate::value::Value;

mod graphics;

pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        world: "module",
        path: "../wit",
        with: {
            "weavelet:node/types.table": crate::table::Table,
            "weavelet:node/types.svg": crate::graphics::Svg,
            "weavelet:node/types.image": crate::graphics::Image,
        },
    });
}

use bindings::weavelet::node::types as wit;
use wasmtime::component::Resource;

use crate::table::{self, Table, TableError};

/// Per-store data of one node invocation.
pub(crate) struct NodeState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: Limiter,
    log: LogBudget,
    node: Arc<str>,
    events: Option<EventSink>,
    /// Live table handles of this store, and how many it may hold.
    handles: usize,
    max_handles: usize,
    /// Files the node may read, and the byte budgets data crossing into it obeys.
    files: Arc<table::io::Grants>,
    output_bytes: usize,
    /// Bytes of images and SVG documents the node holds in the host: they
    /// count against its memory budget with its linear memories.
    host_bytes: u64,
    /// When the invocation began, and when its wall-time budget ends: a
    /// sleeping guest is woken then, so the epoch deadline can stop it.
    born: Instant,
    deadline: Instant,
    /// Whether the node has the real clock; without it time stands still and
    /// sleeps end at once.
    clock: bool,
}

/// What a host-owned value costs the node holding it.
pub(super) trait HostOwned {
    /// Bytes held in the host (a table's plan is small; its data is counted nowhere yet).
    fn host_bytes(&self) -> u64;
}

impl HostOwned for Table {
    fn host_bytes(&self) -> u64 {
        0
    }
}

impl HostOwned for crate::graphics::Svg {
    fn host_bytes(&self) -> u64 {
        self.byte_size() as u64
    }
}

impl HostOwned for crate::graphics::Image {
    fn host_bytes(&self) -> u64 {
        self.byte_size() as u64
    }
}

impl WasiView for NodeState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Bytes of log a node may still write.
struct LogBudget {
    left: usize,
    dropped: usize,
}

impl bindings::weavelet::node::host::Host for NodeState {
    fn log(&mut self, level: bindings::weavelet::node::host::LogLevel, message: String) {
        use bindings::weavelet::node::host::LogLevel as L;
        let level = match level {
            L::Trace => LogLevel::Trace,
            L::Debug => LogLevel::Debug,
            L::Info => LogLevel::Info,
            L::Warn => LogLevel::Warn,
            L::Error => LogLevel::Error,
        };
        if message.len() > self.log.left {
            self.log.dropped += message.len();
            return;
        }
        self.log.left -= message.len();
        if let Some(events) = &self.events {
            events(&Event { node: self.node.clone(), kind: EventKind::Log { level, message } });
        }
    }

    fn progress(&mut self, done: u64, total: u64, message: String) {
        if let Some(events) = &self.events {
            let message: String = message.chars().take(200).collect();
            events(&Event { node: self.node.clone(), kind: EventKind::Progress { done, total, message } });
        }
    }
}

impl bindings::weavelet::node::types::Host for NodeState {}

type Handle = Resource<Table>;
type TableResult = Result<Handle, String>;

impl NodeState {
    /// The host value behind a guest's handle (a table, an SVG, an image).
    pub(super) fn get<T: Clone + 'static>(&self, handle: &Resource<T>) -> Result<T, String> {
        self.table.get(handle).cloned().map_err(|e| format!("invalid handle: {e}"))
    }

    /// Give the guest a handle to `value`, within the node's handle cap.
    pub(super) fn put<T: HostOwned + Send + 'static>(&mut self, value: T) -> Result<Resource<T>, String> {
        if self.handles >= self.max_handles {
            return Err(format!(
                "the node holds {} handles (tables, SVGs, images), the most allowed; \
                 drop the ones it no longer needs",
                self.max_handles
            ));
        }
        let bytes = value.host_bytes();
        let held = self.host_bytes.saturating_add(bytes);
        if held.saturating_add(self.limiter.memory_used) > self.limiter.memory_budget {
            return Err(format!(
                "the node would hold {} of images and documents in the host beside {} of its own memory, \
                 more than its {} memory budget; drop the ones it no longer needs",
                crate::human_bytes(held),
                crate::human_bytes(self.limiter.memory_used),
                crate::human_bytes(self.limiter.memory_budget)
            ));
        }
        let handle = self.table.push(value).map_err(|e| format!("cannot keep another handle: {e}"))?;
        self.handles += 1;
        self.host_bytes = held;
        Ok(handle)
    }

    /// Take a value the guest returns (or drops) out of the handle table.
    pub(super) fn take<T: HostOwned + 'static>(&mut self, handle: Resource<T>) -> Result<T, String> {
        let value = self.table.delete(handle).map_err(|e| format!("invalid handle: {e}"))?;
        self.handles = self.handles.saturating_sub(1);
        self.host_bytes = self.host_bytes.saturating_sub(value.host_bytes());
        Ok(value)
    }

    fn derive(
        &mut self,
        handle: &Handle,
        f: impl FnOnce(&Table) -> Result<Table, TableError>,
    ) -> TableResult {
        let table = self.get(handle)?;
        let derived = f(&table).map_err(|e| e.message)?;
        self.put(derived)
    }

    fn read_with<T>(
        &mut self,
        handle: &Handle,
        f: impl FnOnce(&Table) -> Result<T, TableError>,
    ) -> Result<T, String> {
        let table = self.get(handle)?;
        f(&table).map_err(|e| e.message)
    }

    /// Check the size of data about to be copied into the guest against its output budget.
    fn copy_budget<T>(&self, items: Vec<T>, item_size: usize) -> Result<Vec<T>, String> {
        let bytes = items.len().saturating_mul(item_size);
        if bytes > self.output_bytes {
            return Err(format!(
                "{} items ({}) exceed the {} a node may receive at once; select fewer rows",
                items.len(),
                crate::human_bytes(bytes as u64),
                crate::human_bytes(self.output_bytes as u64)
            ));
        }
        Ok(items)
    }
}

impl wit::HostTable for NodeState {
    fn read(&mut self, path: String) -> TableResult {
        let table = table::io::read(&self.files, &path).map_err(|e| e.message)?;
        self.put(table)
    }

    fn from_ipc(&mut self, bytes: Vec<u8>) -> TableResult {
        let table = table::io::from_ipc(&bytes, self.output_bytes).map_err(|e| e.message)?;
        self.put(table)
    }

    fn sql(&mut self, query: String, tables: Vec<(String, Handle)>) -> TableResult {
        let named = tables
            .iter()
            .map(|(name, h)| Ok((name.clone(), self.get(h)?)))
            .collect::<Result<Vec<_>, String>>()?;
        let table = Table::sql(&query, &named).map_err(|e| e.message)?;
        self.put(table)
    }

    fn concat(&mut self, tables: Vec<Handle>) -> TableResult {
        let tables = tables.iter().map(|h| self.get(h)).collect::<Result<Vec<_>, String>>()?;
        let table = Table::concat(&tables).map_err(|e| e.message)?;
        self.put(table)
    }

    fn schema(&mut self, this: Handle) -> Result<Vec<wit::Column>, String> {
        let schema = self.read_with(&this, Table::schema)?;
        Ok(schema.into_iter().map(|(name, dtype)| wit::Column { name, dtype }).collect())
    }

    fn height(&mut self, this: Handle) -> Result<u64, String> {
        self.read_with(&this, Table::height)
    }

    fn select(&mut self, this: Handle, exprs: Vec<String>) -> TableResult {
        self.derive(&this, |t| t.select(&exprs))
    }

    fn rename(&mut self, this: Handle, pairs: Vec<(String, String)>) -> TableResult {
        self.derive(&this, |t| t.rename(&pairs))
    }

    fn drop_columns(&mut self, this: Handle, columns: Vec<String>) -> TableResult {
        self.derive(&this, |t| t.drop(&columns))
    }

    fn filter(&mut self, this: Handle, predicate: String) -> TableResult {
        self.derive(&this, |t| t.filter(&predicate))
    }

    fn with_columns(&mut self, this: Handle, columns: Vec<(String, String)>) -> TableResult {
        self.derive(&this, |t| t.with_columns(&columns))
    }

    fn group_by(
        &mut self,
        this: Handle,
        keys: Vec<String>,
        aggregations: Vec<wit::Aggregation>,
    ) -> TableResult {
        let aggs: Vec<(String, String)> = aggregations.into_iter().map(|a| (a.name, a.expr)).collect();
        self.derive(&this, |t| t.group_by(&keys, &aggs))
    }

    fn sort(&mut self, this: Handle, by: Vec<String>, descending: Vec<bool>) -> TableResult {
        self.derive(&this, |t| t.sort(&by, &descending))
    }

    fn head(&mut self, this: Handle, n: u64) -> TableResult {
        self.derive(&this, |t| Ok(t.head(n)))
    }

    fn tail(&mut self, this: Handle, n: u64) -> TableResult {
        self.derive(&this, |t| Ok(t.tail(n)))
    }

    fn slice(&mut self, this: Handle, offset: i64, len: u64) -> TableResult {
        self.derive(&this, |t| Ok(t.slice(offset, len)))
    }

    fn join(
        &mut self,
        this: Handle,
        other: Handle,
        left_on: Vec<String>,
        right_on: Vec<String>,
        how: wit::JoinKind,
    ) -> TableResult {
        let other = self.get(&other)?;
        let how = match how {
            wit::JoinKind::Inner => table::JoinKind::Inner,
            wit::JoinKind::Left => table::JoinKind::Left,
            wit::JoinKind::Outer => table::JoinKind::Outer,
        };
        self.derive(&this, |t| t.join(&other, &left_on, &right_on, how))
    }

    fn drop_nulls(&mut self, this: Handle, subset: Vec<String>) -> TableResult {
        self.derive(&this, |t| t.drop_nulls(&subset))
    }

    fn rolling_mean(&mut self, this: Handle, column: String, window: u32, name: String) -> TableResult {
        self.derive(&this, |t| t.rolling_mean(&column, u64::from(window), &name))
    }

    fn to_ipc(&mut self, this: Handle, columns: Vec<String>) -> Result<Vec<u8>, String> {
        let limit = self.output_bytes;
        self.read_with(&this, |t| table::io::to_ipc(t, &columns, limit))
    }

    fn column_f64(&mut self, this: Handle, name: String) -> Result<Vec<f64>, String> {
        let items = self.read_with(&this, |t| t.column_f64(&name))?;
        self.copy_budget(items, 8)
    }

    fn column_s64(&mut self, this: Handle, name: String) -> Result<Vec<i64>, String> {
        let items = self.read_with(&this, |t| t.column_i64(&name))?;
        self.copy_budget(items, 8)
    }

    fn column_text(&mut self, this: Handle, name: String) -> Result<Vec<String>, String> {
        let items = self.read_with(&this, |t| t.column_text(&name))?;
        let average = items.iter().map(|s| s.len() + 8).sum::<usize>() / items.len().max(1);
        self.copy_budget(items, average)
    }

    fn column_bool(&mut self, this: Handle, name: String) -> Result<Vec<bool>, String> {
        let items = self.read_with(&this, |t| t.column_bool(&name))?;
        self.copy_budget(items, 1)
    }

    fn drop(&mut self, rep: Handle) -> wasmtime::Result<()> {
        self.take(rep).map_err(wasmtime::Error::msg)?;
        Ok(())
    }
}

/// Sums the memory of every linear memory in the store against one budget
/// (`StoreLimits` would cap each memory separately).
struct Limiter {
    memory_budget: u64,
    memory_used: u64,
    exceeded: bool,
}

/// The error a trap carries when a node's memory budget is exceeded.
#[derive(Debug)]
struct MemoryBudgetExceeded {
    limit: u64,
    wanted: u64,
}

impl std::fmt::Display for MemoryBudgetExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "memory budget of {} exceeded (the node asked for {} in all)",
            crate::human_bytes(self.limit),
            crate::human_bytes(self.wanted)
        )
    }
}

impl std::error::Error for MemoryBudgetExceeded {}

/// Elements a wasm table may hold (SECURITY.md case 9); the instance pool
/// holds no more either.
pub(crate) const MAX_TABLE_ELEMENTS: usize = 100_000;

/// A table grown past [`MAX_TABLE_ELEMENTS`].
#[derive(Debug)]
struct TableBudgetExceeded {
    wanted: usize,
}

impl std::fmt::Display for TableBudgetExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a wasm table may hold {MAX_TABLE_ELEMENTS} elements; the node asked for {}", self.wanted)
    }
}

impl std::error::Error for TableBudgetExceeded {}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let grow = desired.saturating_sub(current) as u64;
        let wanted = self.memory_used.saturating_add(grow);
        if wanted > self.memory_budget {
            self.exceeded = true;
            return Err(MemoryBudgetExceeded { limit: self.memory_budget, wanted }.into());
        }
        self.memory_used = wanted;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            return Err(TableBudgetExceeded { wanted: desired }.into());
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        64
    }

    fn tables(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        16
    }
}

/// The monotonic clock of a node with a clock grant: nanoseconds since its
/// invocation began.
struct RealClock(Instant);

impl RealClock {
    fn nanos(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

impl wasmtime_wasi::HostMonotonicClock for RealClock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        self.nanos()
    }
}

/// The clock of a node without a clock grant: always the Unix epoch, and a
/// monotonic clock that never advances.
struct FixedClock;

impl wasmtime_wasi::HostWallClock for FixedClock {
    fn resolution(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }
    fn now(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

impl wasmtime_wasi::HostMonotonicClock for FixedClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// Fill a linker with everything a node may import: the Weavelet host
/// interface and WASI (whose context grants nothing).
pub(crate) fn linker(engine: &Engine) -> wasmtime::Result<Linker<NodeState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    bounded_sleeps(&mut linker)?;
    bindings::Module::add_to_linker::<NodeState, HasSelf<NodeState>>(&mut linker, |s| s)?;
    Ok(linker)
}

/// The WASI clock interface whose sleeps Weavelet bounds.
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// Replace WASI's sleeps (SECURITY.md case 5). A guest blocked in a host call
/// does not run wasm, so the epoch deadline cannot stop it: wasmtime-wasi's
/// own `subscribe-duration` would sleep as long as the guest asks. Here a
/// sleep that would end past the node's wall-time deadline stops the node at
/// once, and a node without the real clock, whose time stands still, never
/// waits at all.
fn bounded_sleeps(linker: &mut Linker<NodeState>) -> wasmtime::Result<()> {
    use wasmtime::StoreContextMut;
    use wasmtime_wasi::p2::DynPollable;
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap(
        "subscribe-duration",
        |mut store: StoreContextMut<'_, NodeState>,
         (nanos,): (u64,)|
         -> wasmtime::Result<(Resource<DynPollable>,)> {
            let state = store.data_mut();
            Ok((state.nap(nanos)?,))
        },
    )?;
    clock.func_wrap(
        "subscribe-instant",
        |mut store: StoreContextMut<'_, NodeState>,
         (when,): (u64,)|
         -> wasmtime::Result<(Resource<DynPollable>,)> {
            let state = store.data_mut();
            let now = if state.clock { RealClock(state.born).nanos() } else { 0 };
            Ok((state.nap(when.saturating_sub(now))?,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// A guest asked to sleep past its wall-time deadline.
#[derive(Debug)]
pub(crate) struct SleepPastDeadline {
    asked: std::time::Duration,
}

impl std::fmt::Display for SleepPastDeadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "it asked to sleep {:?}, which would end past its wall-time budget", self.asked)
    }
}

impl std::error::Error for SleepPastDeadline {}

/// A sleep that ends by a fixed instant.
struct Nap(tokio::time::Instant);

impl wasmtime_wasi::p2::Pollable for Nap {
    fn ready<'a, 'b>(&'a mut self) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        Box::pin(tokio::time::sleep_until(self.0))
    }
}

impl NodeState {
    /// A pollable for a sleep of `nanos`, bounded as [`bounded_sleeps`] says.
    fn nap(&mut self, nanos: u64) -> wasmtime::Result<Resource<wasmtime_wasi::p2::DynPollable>> {
        let now = Instant::now();
        let asked = std::time::Duration::from_nanos(nanos);
        let until = if self.clock { now.checked_add(asked) } else { Some(now) };
        let Some(until) = until.filter(|u| *u <= self.deadline) else {
            return Err(SleepPastDeadline { asked }.into());
        };
        let nap = self.table.push(Nap(tokio::time::Instant::from_std(until)))?;
        wasmtime_wasi::p2::subscribe(&mut self.table, nap)
    }
}

/// A fresh store for one invocation, with every budget armed.
pub(crate) fn store(
    engine: &Engine,
    node: Arc<str>,
    policy: &Policy,
    epoch_tick: std::time::Duration,
    events: Option<EventSink>,
    preopen_reads: bool,
) -> (Store<NodeState>, MemoryOutputPipe) {
    let stderr = MemoryOutputPipe::new(policy.log_bytes);
    // Nothing is granted unless the policy says so: no files, no environment,
    // no sockets. Randomness and clocks are deterministic, so a node computes
    // the same output every run.
    let mut wasi = WasiCtx::builder();
    wasi.stdout(stderr.clone())
        .stderr(stderr.clone())
        .allow_ip_name_lookup(false)
        .allow_tcp(false)
        .allow_udp(false);
    if !policy.random {
        wasi.secure_random(<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0))
            .insecure_random(<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1))
            .insecure_random_seed(0);
    }
    let born = Instant::now();
    if policy.clock {
        // The same clock the bounded sleeps measure against.
        wasi.monotonic_clock(RealClock(born));
    } else {
        wasi.wall_clock(FixedClock).monotonic_clock(FixedClock);
    }
    for key in &policy.env {
        if let Ok(value) = std::env::var(key) {
            wasi.env(key, value);
        }
    }
    // For a node that declares a `read-dir` capability, read grants are also read-only
    // preopens, under the path the pipeline names them by (`data` for `read = ["data"]`),
    // so `std::fs` works on them as on a write grant. Other nodes read through the
    // host's readers only, which tell the result cache exactly what they read.
    if preopen_reads && !policy.files.read.is_empty() {
        let base = policy.files.base.canonicalize().unwrap_or_else(|_| policy.files.base.clone());
        for dir in &policy.files.read {
            let guest = match dir.strip_prefix(&base) {
                Ok(rel) if rel.as_os_str().is_empty() => ".".to_string(),
                Ok(rel) => rel.to_string_lossy().replace('\\', "/"),
                Err(_) => dir.to_string_lossy().into_owned(),
            };
            if policy.write.iter().any(|(_, g)| *g == guest) {
                continue;
            }
            let _ = wasi.preopened_dir(dir, guest, wasmtime_wasi::FsPerms::ReadOnly);
        }
    }
    for (host, guest) in &policy.write {
        // The folder was checked when the policy was made; if it vanished since, the
        // guest finds no such folder and its write fails with its own error.
        let _ = wasi.preopened_dir(host, guest, wasmtime_wasi::FsPerms::ReadWrite);
    }
    let wasi = wasi.build();
    let state = NodeState {
        wasi,
        table: ResourceTable::new(),
        limiter: Limiter { memory_budget: policy.memory, memory_used: 0, exceeded: false },
        log: LogBudget { left: policy.log_bytes, dropped: 0 },
        node,
        events,
        handles: 0,
        max_handles: policy.handles,
        files: policy.files.clone(),
        output_bytes: policy.output_bytes,
        host_bytes: 0,
        born,
        deadline: born
            .checked_add(policy.timeout)
            .unwrap_or(born + std::time::Duration::from_secs(86_400 * 365)),
        clock: policy.clock,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    // Data a guest hands the host in one call (strings, lists) is bounded by its
    // output budget (SECURITY.md case 10), and so are the handles it can create.
    store.set_hostcall_fuel(policy.output_bytes.max(1 << 20));
    store.set_max_component_handles(policy.handles.saturating_mul(2));
    // Without fuel metering in the engine this fails, and `invoke` says so
    // for a node that has a fuel budget.
    let _ = store.set_fuel(policy.fuel.unwrap_or(u64::MAX));
    let tick = epoch_tick.as_nanos().max(1);
    let ticks = policy.timeout.as_nanos().div_ceil(tick).max(1);
    store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
    store.epoch_deadline_trap();
    (store, stderr)
}

/// Invoke node `name` of a pre-instantiated component in a fresh sandbox.
#[allow(clippy::too_many_arguments)]
pub(crate) fn invoke(
    pre: &bindings::ModulePre<NodeState>,
    node_name: &Arc<str>,
    component_node: &str,
    source: &Arc<str>,
    inputs: &[(String, Value)],
    policy: &Policy,
    epoch_tick: std::time::Duration,
    events: Option<EventSink>,
    preopen_reads: bool,
) -> Result<Value, NodeFailure> {
    let fail = |kind: FailureKind, message: String| NodeFailure {
        node: node_name.to_string(),
        source: source.to_string(),
        kind,
        message,
    };
    let started = Instant::now();
    let (mut store, stderr) =
        store(pre.engine(), node_name.clone(), policy, epoch_tick, events, preopen_reads);
    if policy.fuel.is_some() && store.get_fuel().is_err() {
        return Err(fail(
            FailureKind::Host,
            "its policy sets a fuel budget, but this runtime does not count fuel (build it with \
             `Config::fuel(true)`; `weavelet run` does when a pipeline sets `fuel`)"
                .into(),
        ));
    }
    let mut wit_inputs: Vec<(String, wit::Value)> = Vec::with_capacity(inputs.len());
    for (name, value) in inputs {
        let value = to_wit(value, store.data_mut()).map_err(|e| fail(FailureKind::Host, e))?;
        wit_inputs.push((name.clone(), value));
    }
    let result = pre
        .instantiate(&mut store)
        .and_then(|module| module.weavelet_node_node().call_run(&mut store, component_node, &wit_inputs));
    let dropped = store.data().log.dropped;
    if dropped > 0
        && let Some(events) = &store.data().events
    {
        let message = format!(
            "{dropped} bytes of log over the {} budget were dropped",
            crate::human_bytes(policy.log_bytes as u64)
        );
        events(&Event { node: node_name.clone(), kind: EventKind::Log { level: LogLevel::Warn, message } });
    }
    let memory_exceeded = store.data().limiter.exceeded;
    // Linear memory only grows: what it holds now is its peak.
    crate::observe::memory(store.data().limiter.memory_used);
    if let Some(budget) = policy.fuel
        && let Ok(left) = store.get_fuel()
    {
        crate::observe::fuel(budget.saturating_sub(left));
    }
    let result = match result {
        Ok(Ok(value)) => match from_wit(value, store.data_mut()) {
            Ok(value) => Ok(Ok(value)),
            Err(message) => {
                return Err(fail(FailureKind::Error { kind: "failed".into(), input: None }, message));
            }
        },
        Ok(Err(e)) => Ok(Err(e)),
        Err(e) => Err(e),
    };
    drop(store);
    match result {
        Ok(Ok(value)) => {
            let size = value.byte_size();
            if size > policy.output_bytes {
                return Err(fail(
                    FailureKind::OutputTooLarge { size, limit: policy.output_bytes },
                    format!(
                        "output of {} exceeds the output budget of {}",
                        crate::human_bytes(size as u64),
                        crate::human_bytes(policy.output_bytes as u64)
                    ),
                ));
            }
            Ok(value)
        }
        Ok(Err(e)) => {
            let kind = match e.kind {
                wit::ErrorKind::InvalidInput => "invalid-input",
                wit::ErrorKind::Failed => "failed",
                wit::ErrorKind::UnknownNode => "unknown-node",
            };
            let message: String = e.message.chars().take(4096).collect();
            Err(fail(FailureKind::Error { kind: kind.to_string(), input: e.input }, message))
        }
        Err(err) => {
            let guest_said = String::from_utf8_lossy(&stderr.contents()).trim().to_string();
            let guest_said = last_lines(&crate::events::sanitize(&guest_said), 6);
            if let Some(limit) = err.downcast_ref::<MemoryBudgetExceeded>() {
                return Err(fail(FailureKind::Memory { limit: limit.limit }, limit.to_string()));
            }
            if memory_exceeded {
                return Err(fail(
                    FailureKind::Memory { limit: policy.memory },
                    format!("memory budget of {} exceeded", crate::human_bytes(policy.memory)),
                ));
            }
            if let Some(table) = err.downcast_ref::<TableBudgetExceeded>() {
                return Err(fail(FailureKind::Limit { limit: "table elements".into() }, table.to_string()));
            }
            if let Some(sleep) = err.downcast_ref::<SleepPastDeadline>() {
                return Err(fail(
                    FailureKind::Timeout(policy.timeout),
                    format!("wall-time budget of {:?} exceeded: {sleep}", policy.timeout),
                ));
            }
            let trap = err.downcast_ref::<Trap>().copied();
            let mut message = match trap {
                Some(Trap::Interrupt) => {
                    return Err(fail(
                        FailureKind::Timeout(policy.timeout),
                        format!(
                            "wall-time budget of {:?} exceeded (ran {:.2?})",
                            policy.timeout,
                            started.elapsed()
                        ),
                    ));
                }
                Some(Trap::OutOfFuel) => {
                    return Err(fail(
                        FailureKind::Limit { limit: "fuel".into() },
                        format!(
                            "fuel budget of {} instructions exhausted (ran {:.2?})",
                            policy.fuel.unwrap_or(u64::MAX),
                            started.elapsed()
                        ),
                    ));
                }
                Some(Trap::StackOverflow) => "wasm stack overflow (unbounded recursion?)".to_string(),
                Some(Trap::UnreachableCodeReached) if guest_said.contains("panicked") => {
                    "the guest panicked".to_string()
                }
                Some(Trap::MemoryOutOfBounds) => format!(
                    "{} (a guest whose own stack overflows in linear memory fails this way too)",
                    Trap::MemoryOutOfBounds
                ),
                Some(Trap::UnreachableCodeReached) if stderr.contents().len() >= policy.log_bytes => format!(
                    "{} after its stderr filled the {} log budget (Rust's eprintln! panics once stderr \
                     refuses a write; log less, or use the host log, which drops what is over budget)",
                    Trap::UnreachableCodeReached,
                    crate::human_bytes(policy.log_bytes as u64)
                ),
                Some(trap) => trap.to_string(),
                None if format!("{err:#}").contains("fuel allocated for hostcalls has been exhausted") => {
                    format!(
                        "the node handed the host more than its output budget of {} in one call (hostcall fuel)",
                        crate::human_bytes(policy.output_bytes as u64)
                    )
                }
                // A host call that refused (WASI's own limits, for one): its reason,
                // without the backtrace of unnamed wasm functions around it.
                None => format!("a host call failed: {}", err.root_cause()),
            };
            if let Some(frame) = err
                .downcast_ref::<wasmtime::WasmBacktrace>()
                .and_then(|bt| bt.frames().iter().find_map(|f| f.func_name().map(str::to_string)))
            {
                message.push_str(&format!(" (in `{frame}`)"));
            }
            if !guest_said.is_empty() {
                message.push_str(&format!("\n    guest stderr: {}", guest_said.replace('\n', "\n    ")));
            }
            if dropped > 0 {
                message.push_str(&format!("\n    ({dropped} bytes of log over budget were dropped)"));
            }
            let kind = if trap.is_some() { FailureKind::Trap } else { FailureKind::Host };
            Err(fail(kind, message))
        }
    }
}

fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Ask a freshly instantiated component for its node declarations.
pub(crate) fn declarations(
    pre: &bindings::ModulePre<NodeState>,
    policy: &Policy,
    epoch_tick: std::time::Duration,
) -> wasmtime::Result<Vec<wit::NodeDecl>> {
    let (mut store, _stderr) = store(pre.engine(), "<declarations>".into(), policy, epoch_tick, None, false);
    // Fuel budgets are for running nodes; declaring them is bounded by wall time.
    let _ = store.set_fuel(u64::MAX);
    let module = pre.instantiate(&mut store)?;
    module.weavelet_node_node().call_nodes(&mut store)
}

pub(crate) fn to_wit(v: &Value, state: &mut NodeState) -> Result<wit::Value, String> {
    Ok(match v {
        Value::Null => wit::Value::Null,
        Value::Bool(b) => wit::Value::Boolean(*b),
        Value::Int(i) => wit::Value::Int(*i),
        Value::Float(x) => wit::Value::Float(*x),
        Value::Text(s) => wit::Value::Text(s.to_string()),
        Value::Bytes(b) => wit::Value::Bytes(b.to_vec()),
        Value::BoolList(l) => wit::Value::BoolList(l.to_vec()),
        Value::IntList(l) => wit::Value::IntList(l.to_vec()),
        Value::FloatList(l) => wit::Value::FloatList(l.to_vec()),
        Value::TextList(l) => wit::Value::TextList(l.to_vec()),
        Value::Table(t) => wit::Value::Table(state.put(t.clone())?),
        Value::Svg(s) => wit::Value::Svg(state.put(s.clone())?),
        Value::Image(i) => wit::Value::Image(state.put(i.clone())?),
        Value::Images(l) => {
            wit::Value::Images(l.iter().map(|i| state.put(i.clone())).collect::<Result<_, _>>()?)
        }
    })
}

pub(crate) fn from_wit(v: wit::Value, state: &mut NodeState) -> Result<Value, String> {
    let returned = |e: String| format!("returned {e}");
    Ok(match v {
        wit::Value::Null => Value::Null,
        wit::Value::Boolean(b) => Value::Bool(b),
        wit::Value::Int(i) => Value::Int(i),
        wit::Value::Float(x) => Value::Float(x),
        wit::Value::Text(s) => Value::Text(s.into()),
        wit::Value::Bytes(b) => Value::Bytes(b.into()),
        wit::Value::BoolList(l) => Value::BoolList(l.into()),
        wit::Value::IntList(l) => Value::IntList(l.into()),
        wit::Value::FloatList(l) => Value::FloatList(l.into()),
        wit::Value::TextList(l) => Value::TextList(l.into()),
        wit::Value::Table(handle) => Value::Table(state.take(handle).map_err(returned)?),
        wit::Value::Svg(handle) => Value::Svg(state.take(handle).map_err(returned)?),
        wit::Value::Image(handle) => Value::Image(state.take(handle).map_err(returned)?),
        wit::Value::Images(handles) => Value::Images(
            handles
                .into_iter()
                .map(|h| state.take(h).map_err(returned))
                .collect::<Result<Vec<_>, _>>()?
                .into(),
        ),
    })
}

pub(crate) fn type_from_wit(t: wit::ValueType) -> crate::ValueType {
    use crate::ValueType as T;
    match t {
        wit::ValueType::Any => T::Any,
        wit::ValueType::Null => T::Null,
        wit::ValueType::Boolean => T::Bool,
        wit::ValueType::Int => T::Int,
        wit::ValueType::Float => T::Float,
        wit::ValueType::Text => T::Text,
        wit::ValueType::Bytes => T::Bytes,
        wit::ValueType::BoolList => T::BoolList,
        wit::ValueType::IntList => T::IntList,
        wit::ValueType::FloatList => T::FloatList,
        wit::ValueType::TextList => T::TextList,
        wit::ValueType::Table => T::Table,
        wit::ValueType::Svg => T::Svg,
        wit::ValueType::Image => T::Image,
        wit::ValueType::Images => T::Images,
    }
}

pub(crate) fn capability_from_wit(c: wit::Capability) -> crate::Capability {
    match c {
        wit::Capability::ReadDir(d) => crate::Capability::ReadDir(d),
        wit::Capability::WriteDir(d) => crate::Capability::WriteDir(d),
        wit::Capability::Env(k) => crate::Capability::Env(k),
        wit::Capability::Clock => crate::Capability::Clock,
        wit::Capability::Random => crate::Capability::Random,
    }
}
