//! The sandbox of one component-node invocation: a fresh `Store` from an
//! `InstancePre`, budgets armed before instantiation, WASI with nothing
//! granted but what the node's policy grants, bounded log capture, and traps
//! turned into node failures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store, Trap};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use weavelet_core::{
    Call, Event, EventKind, EventSink, FailureKind, LogLevel, NodeFailure, Policy, Value, human_bytes,
    sanitize,
};
use weavelet_data::ReadLog;

use crate::bindings;
use crate::clocks::{FixedClock, RealClock, SleepPastDeadline, bounded_sleeps};
use crate::contract::{Outcome, Pre};
use crate::host::{LogBudget, NodeState};
use crate::limits::{Limiter, MemoryBudgetExceeded, TableBudgetExceeded};
use crate::net::{Net, NetRules, NetUsage};

/// Fill a linker with everything a node may import: the Weavelet host
/// interface, WASI (whose context grants nothing) and wasi:http (which
/// reaches only the hosts of a `net` grant).
pub(crate) fn linker(engine: &Engine) -> wasmtime::Result<Linker<NodeState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    // Outgoing HTTP; every request goes through `crate::net`, which refuses
    // what the node's `net` grant does not name (all of it, by default).
    wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)?;
    bounded_sleeps(&mut linker)?;
    // Every contract version this host runs (`crate::contract`).
    bindings::v0_4::Module::add_to_linker::<NodeState, HasSelf<NodeState>>(&mut linker, |s| s)?;
    bindings::v0_3::Module::add_to_linker::<NodeState, HasSelf<NodeState>>(&mut linker, |s| s)?;
    Ok(linker)
}

/// A fresh store for one invocation, with every budget armed.
pub(crate) fn store(
    engine: &Engine,
    node: Arc<str>,
    policy: &Policy,
    epoch_tick: Duration,
    events: Option<EventSink>,
    preopen_reads: bool,
    reads: ReadLog,
) -> (Store<NodeState>, MemoryOutputPipe) {
    let budgets = &policy.budgets;
    let grants = &policy.grants;
    let stderr = MemoryOutputPipe::new(budgets.log_bytes);
    // Nothing is granted unless the policy says so: no files, no environment,
    // no sockets. Randomness and clocks are deterministic, so a node computes
    // the same output every run.
    let mut wasi = WasiCtx::builder();
    wasi.stdout(stderr.clone())
        .stderr(stderr.clone())
        .allow_ip_name_lookup(false)
        .allow_tcp(false)
        .allow_udp(false);
    if !grants.random {
        wasi.secure_random(<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0))
            .insecure_random(<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1))
            .insecure_random_seed(0);
    }
    let born = Instant::now();
    if grants.clock {
        // The same clock the bounded sleeps measure against.
        wasi.monotonic_clock(RealClock(born));
    } else {
        wasi.wall_clock(FixedClock).monotonic_clock(FixedClock);
    }
    for key in &grants.env {
        if let Ok(value) = std::env::var(key) {
            wasi.env(key, value);
        }
    }
    // For a node that declares a `read-dir` capability, read grants are also read-only
    // preopens, under the path the pipeline names them by (`data` for `read = ["data"]`),
    // so `std::fs` works on them as on a write grant. Other nodes read through the
    // host's readers only, which tell the result cache exactly what they read.
    // Such a node may read any file under them: the result cache counts them all.
    if preopen_reads && !grants.files.read.is_empty() {
        let base = grants.files.base.canonicalize().unwrap_or_else(|_| grants.files.base.clone());
        for dir in &grants.files.read {
            reads.whole_folder(dir);
            let guest = match dir.strip_prefix(&base) {
                Ok(rel) if rel.as_os_str().is_empty() => ".".to_string(),
                Ok(rel) => rel.to_string_lossy().replace('\\', "/"),
                Err(_) => dir.to_string_lossy().into_owned(),
            };
            if grants.write.iter().any(|(_, g)| *g == guest) {
                continue;
            }
            let _ = wasi.preopened_dir(dir, guest, wasmtime_wasi::FsPerms::ReadOnly);
        }
    }
    for (host, guest) in &grants.write {
        // The folder was checked when the policy was made; if it vanished since, the
        // guest finds no such folder and its write fails with its own error.
        let _ = wasi.preopened_dir(host, guest, wasmtime_wasi::FsPerms::ReadWrite);
    }
    let wasi = wasi.build();
    let deadline = born.checked_add(budgets.timeout).unwrap_or(born + Duration::from_secs(86_400 * 365));
    let net = Net(NetRules {
        grant: grants.net.clone().into(),
        node: node.clone(),
        events: events.clone(),
        deadline,
        max_requests: budgets.net_requests,
        max_bytes: budgets.net_bytes,
        usage: Arc::new(NetUsage::default()),
    });
    let state = NodeState {
        wasi,
        table: ResourceTable::new(),
        limiter: Limiter { memory_budget: budgets.memory, memory_used: 0, exceeded: false },
        log: LogBudget { left: budgets.log_bytes, dropped: 0 },
        node,
        events,
        handles: 0,
        max_handles: budgets.handles,
        files: grants.files.clone(),
        reads,
        output_bytes: budgets.output_bytes,
        host_bytes: 0,
        born,
        deadline,
        clock: grants.clock,
        http: wasmtime_wasi_http::WasiHttpCtx::new(),
        net,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    // Data a guest hands the host in one call (strings, lists) is bounded by its
    // output budget (SECURITY.md case 10), and so are the handles it can create.
    store.set_hostcall_fuel(budgets.output_bytes.max(1 << 20));
    store.set_max_component_handles(budgets.handles.saturating_mul(2));
    // Without fuel metering in the engine this fails, and `invoke` says so
    // for a node that has a fuel budget.
    let _ = store.set_fuel(budgets.fuel.unwrap_or(u64::MAX));
    let tick = epoch_tick.as_nanos().max(1);
    let ticks = budgets.timeout.as_nanos().div_ceil(tick).max(1);
    store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
    store.epoch_deadline_trap();
    (store, stderr)
}

/// Invoke node `component_node` of a pre-instantiated component in a fresh
/// sandbox, as `call` says. `preopen_reads`: the node declares `read-dir`,
/// so its read grants are also WASI preopens.
pub(crate) fn invoke(
    pre: &Pre,
    call: &Call<'_>,
    component_node: &str,
    inputs: Vec<Value>,
    epoch_tick: Duration,
    preopen_reads: bool,
) -> Result<Value, NodeFailure> {
    let policy = call.policy();
    let budgets = &policy.budgets;
    let fail = |kind: FailureKind, message: String| call.fail(kind, message);
    let started = Instant::now();
    let events = call.events().cloned();
    let (mut store, stderr) = store(
        pre.engine(),
        call.node().clone(),
        policy,
        epoch_tick,
        events,
        preopen_reads,
        call.reads().clone(),
    );
    if budgets.fuel.is_some() && store.get_fuel().is_err() {
        return Err(fail(
            FailureKind::Host,
            "its policy sets a fuel budget, but this engine does not count fuel (turn fuel counting on \
             in the runtime's configuration)"
                .into(),
        ));
    }
    let outcome = match pre.run(&mut store, component_node, &call.decl().inputs, inputs) {
        // The inputs could not be handed over: nothing ran.
        Outcome::Refused(message) => return Err(fail(FailureKind::Host, message)),
        outcome => outcome,
    };
    // What the guest printed (stdout and stderr, within the log budget) is
    // part of its log: Python's `print`, Rust's `println!`, C's `printf`.
    if let Some(events) = &store.data().events {
        let printed = stderr.contents();
        for line in String::from_utf8_lossy(&printed).lines().filter(|l| !l.trim().is_empty()) {
            let message = format!("printed: {}", sanitize(line));
            events(&Event {
                node: call.node().clone(),
                kind: EventKind::Log { level: LogLevel::Info, message },
            });
        }
    }
    let dropped = store.data().log.dropped;
    if dropped > 0
        && let Some(events) = &store.data().events
    {
        let message = format!(
            "{dropped} bytes of log over the {} budget were dropped",
            human_bytes(budgets.log_bytes as u64)
        );
        events(&Event { node: call.node().clone(), kind: EventKind::Log { level: LogLevel::Warn, message } });
    }
    let memory_exceeded = store.data().limiter.exceeded;
    // A node that overran its network budgets fails, whatever it made of the
    // refusals it was handed (read once the store, and its requests, are gone).
    let net_usage = store.data().net.0.usage.clone();
    // Linear memory only grows: what it holds now is its peak.
    call.observe_memory(store.data().limiter.memory_used);
    if let Some(budget) = budgets.fuel
        && let Ok(left) = store.get_fuel()
    {
        call.observe_fuel(budget.saturating_sub(left));
    }
    drop(store);
    if let Some((limit, message)) = net_usage.exceeded() {
        return Err(fail(FailureKind::Limit { limit: limit.into() }, message));
    }
    match outcome {
        Outcome::Refused(message) => Err(fail(FailureKind::Host, message)),
        Outcome::BadReturn(message) => {
            Err(fail(FailureKind::Error { kind: "failed".into(), input: None }, message))
        }
        Outcome::Returned(value) => {
            let size = value.byte_size();
            if size > budgets.output_bytes {
                return Err(fail(
                    FailureKind::OutputTooLarge { size, limit: budgets.output_bytes },
                    format!(
                        "output of {} exceeds the output budget of {}",
                        human_bytes(size as u64),
                        human_bytes(budgets.output_bytes as u64)
                    ),
                ));
            }
            Ok(value)
        }
        Outcome::Failed(e) => {
            let message: String = e.message.chars().take(4096).collect();
            Err(fail(FailureKind::Error { kind: e.kind.to_string(), input: e.input }, message))
        }
        Outcome::Trapped(err) => {
            let guest_said = String::from_utf8_lossy(&stderr.contents()).trim().to_string();
            let guest_said = last_lines(&sanitize(&guest_said), 6);
            if let Some(limit) = err.downcast_ref::<MemoryBudgetExceeded>() {
                return Err(fail(FailureKind::Memory { limit: limit.limit }, limit.to_string()));
            }
            if memory_exceeded {
                return Err(fail(
                    FailureKind::Memory { limit: budgets.memory },
                    format!("memory budget of {} exceeded", human_bytes(budgets.memory)),
                ));
            }
            if let Some(table) = err.downcast_ref::<TableBudgetExceeded>() {
                return Err(fail(FailureKind::Limit { limit: "table elements".into() }, table.to_string()));
            }
            if let Some(sleep) = err.downcast_ref::<SleepPastDeadline>() {
                return Err(fail(
                    FailureKind::Timeout(budgets.timeout),
                    format!("wall-time budget of {:?} exceeded: {sleep}", budgets.timeout),
                ));
            }
            let trap = err.downcast_ref::<Trap>().copied();
            let mut message = match trap {
                Some(Trap::Interrupt) => {
                    return Err(fail(
                        FailureKind::Timeout(budgets.timeout),
                        format!(
                            "wall-time budget of {:?} exceeded (ran {:.2?})",
                            budgets.timeout,
                            started.elapsed()
                        ),
                    ));
                }
                Some(Trap::OutOfFuel) => {
                    return Err(fail(
                        FailureKind::Limit { limit: "fuel".into() },
                        format!(
                            "fuel budget of {} instructions exhausted (ran {:.2?})",
                            budgets.fuel.unwrap_or(u64::MAX),
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
                Some(Trap::UnreachableCodeReached) if stderr.contents().len() >= budgets.log_bytes => {
                    format!(
                        "{} after its stderr filled the {} log budget (Rust's eprintln! panics once stderr \
                     refuses a write; log less, or use the host log, which drops what is over budget)",
                        Trap::UnreachableCodeReached,
                        human_bytes(budgets.log_bytes as u64)
                    )
                }
                Some(trap) => trap.to_string(),
                None if format!("{err:#}").contains("fuel allocated for hostcalls has been exhausted") => {
                    format!(
                        "the node handed the host more than its output budget of {} in one call (hostcall fuel)",
                        human_bytes(budgets.output_bytes as u64)
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
    pre: &Pre,
    policy: &Policy,
    epoch_tick: Duration,
) -> wasmtime::Result<Vec<weavelet_core::NodeDecl>> {
    let (mut store, _stderr) =
        store(pre.engine(), "<declarations>".into(), policy, epoch_tick, None, false, ReadLog::new());
    // Fuel budgets are for running nodes; declaring them is bounded by wall time.
    let _ = store.set_fuel(u64::MAX);
    pre.declarations(&mut store)
}
