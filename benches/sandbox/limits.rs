//! What the sandbox's limits cost, and whether 1 000 sandboxes fit at once
//! (issue 6; figures in BENCHMARKS.md).
//!
//! 1. Per-node overhead of a trivial component node (`one` of the fixture
//!    guest: instantiate from an `InstancePre`, call, drop the store), with raw
//!    wasmtime and no limits, with epochs, with fuel, with every limit Weavelet
//!    arms, and through Weavelet's scheduler with fuel off and on.
//! 2. Compute-bound code with no limits, epochs, and fuel: what the
//!    instrumentation costs inside loops (`work`: 50 M rounds of integer
//!    mixing, one long dependency chain; `collatz`: short branchy loops).
//! 3. 1 000 nodes alive at the same time (`hold`: 2 MiB touched, 1 s asleep
//!    with the clock granted), `--jobs 1000`, default memory budget each.
//!
//! Run: `cargo run -p weavelet-benches --features drivers --example sandbox_limits` (dev profile:
//! dependencies at opt-level 2; guest code is compiled by Cranelift either way).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use wasmtime::component::{Component, Linker, ResourceTable, Val};
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use weavelet::{Config, Pipeline, Policy, RunOptions, Runtime, Value};

const GUEST: &str = weavelet_test_artifacts::FIXTURE_NODES;
const CALLS: usize = 2000;

struct Raw {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: wasmtime::StoreLimits,
}

impl WasiView for Raw {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

#[derive(Clone, Copy)]
struct Limits {
    epochs: bool,
    fuel: bool,
    memory: bool,
}

fn raw_engine(l: Limits) -> Engine {
    let mut c = wasmtime::Config::new();
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(8)
        .total_core_instances(256)
        .total_memories(32)
        .total_tables(128)
        .max_memories_per_component(4)
        .max_memories_per_module(4);
    c.wasm_component_model(true)
        .epoch_interruption(l.epochs)
        .consume_fuel(l.fuel)
        .memory_init_cow(false)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&c).unwrap()
}

/// Instantiate `GUEST` and call node `name` with `inputs`, `n` times; time per call.
fn raw_calls(l: Limits, name: &str, inputs: Vec<Val>, n: usize) -> (Duration, Val) {
    let engine = raw_engine(l);
    let component = Component::from_file(&engine, GUEST).unwrap();
    let mut linker: Linker<Raw> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
    linker.define_unknown_imports_as_traps(&component).unwrap();
    let pre = linker.instantiate_pre(&component).unwrap();
    let iface = component.get_export_index(None, "weavelet:node/node@0.4.0").unwrap();
    let run = component.get_export_index(Some(&iface), "run").unwrap();
    // The same 10 ms ticker Weavelet runs, stopped when the calls are done so the
    // engine (and its pool's address space) is freed.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    if l.epochs {
        let engine = engine.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(10));
                engine.increment_epoch();
            }
        });
    }
    let args = [Val::String(name.into()), Val::List(inputs)];
    let mut last = Val::Bool(false);
    let started = Instant::now();
    for _ in 0..n {
        let limits = wasmtime::StoreLimitsBuilder::new().memory_size(256 << 20).instances(64).build();
        let mut store = Store::new(
            &engine,
            Raw { wasi: WasiCtx::builder().build(), table: ResourceTable::new(), limits },
        );
        if l.memory {
            store.limiter(|s| &mut s.limits);
            store.set_hostcall_fuel(64 << 20);
        }
        if l.epochs {
            store.set_epoch_deadline(500);
            store.epoch_deadline_trap();
        }
        if l.fuel {
            store.set_fuel(u64::MAX).unwrap();
        }
        let instance = pre.instantiate(&mut store).unwrap();
        let func = instance.get_func(&mut store, run).unwrap();
        let mut results = [Val::Bool(false)];
        func.call(&mut store, &args, &mut results).unwrap();
        last = results[0].clone();
    }
    let took = started.elapsed() / n as u32;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    (took, last)
}

/// `n` independent copies of node `name` through Weavelet, one job; time per node.
fn weavelet_calls(fuel: bool, name: &str, params: &[(&str, Value)], n: usize) -> Duration {
    let policy = {
        let mut policy = Policy::default();
        policy.budgets.fuel = fuel.then_some(u64::MAX / 2);
        policy
    };
    let rt = Runtime::new(Config::default().jobs(1).cache_dir(None).fuel(fuel).policy(policy)).unwrap();
    let module = rt.load_component(GUEST).unwrap();
    let mut p = Pipeline::new();
    let names: Vec<String> = (0..n).map(|i| format!("{name}{i}")).collect();
    for node in &names {
        p.add_node(module.node(name).unwrap().renamed(node));
    }
    for (k, v) in params {
        p.set_param(*k, v.clone());
    }
    let targets: Vec<&str> = names.iter().map(String::as_str).collect();
    let plan = p.plan(&targets).unwrap();
    rt.run(&plan, RunOptions::new()).unwrap().check().unwrap(); // warm
    let started = Instant::now();
    let report = rt.run(&plan, RunOptions::new()).unwrap();
    report.check().unwrap();
    started.elapsed() / n as u32
}

fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

fn main() {
    let off = Limits { epochs: false, fuel: false, memory: false };
    let epochs = Limits { epochs: true, fuel: false, memory: false };
    let fuel = Limits { epochs: false, fuel: true, memory: false };
    let all = Limits { epochs: true, fuel: false, memory: true };
    let all_fuel = Limits { epochs: true, fuel: true, memory: true };

    println!("1. trivial node (`one`), per invocation, {CALLS} invocations, best of 5 rounds");
    // Warm up: the first engine's page faults and the allocator's growth are not a limit's cost.
    raw_calls(off, "one", vec![], CALLS);
    let raw = [
        ("raw wasmtime, no limits", off),
        ("raw + epochs", epochs),
        ("raw + fuel", fuel),
        ("raw + epochs + memory limiter + hostcall fuel", all),
        ("raw + all of the above + fuel", all_fuel),
    ];
    let ours = [("weavelet run (limits on, fuel off)", false), ("weavelet run (limits on, fuel on)", true)];
    // Rounds interleave the configurations, so drift in the machine's speed hits all alike.
    let mut times = vec![Duration::MAX; raw.len() + ours.len()];
    for _ in 0..5 {
        for (i, (_, l)) in raw.iter().enumerate() {
            times[i] = times[i].min(raw_calls(*l, "one", vec![], CALLS).0);
        }
        for (i, (_, f)) in ours.iter().enumerate() {
            let t = weavelet_calls(*f, "one", &[], CALLS);
            times[raw.len() + i] = times[raw.len() + i].min(t);
        }
    }
    let labels = raw.iter().map(|(l, _)| *l).chain(ours.iter().map(|(l, _)| *l));
    for (label, t) in labels.zip(&times) {
        println!("   {label:<48} {:>8.1} µs", t.as_secs_f64() * 1e6);
    }
    for (node, input, n) in [("work", "rounds", 50_000_000), ("collatz", "n", 300_000)] {
        println!("2. compute-bound node (`{node}`, {input} = {n}), best of 7 interleaved rounds");
        let input = vec![Val::Tuple(vec![
            Val::String(input.into()),
            Val::Variant("int".into(), Some(Box::new(Val::S64(n)))),
        ])];
        let configs = [("no limits", off), ("epochs", epochs), ("fuel", fuel), ("epochs + fuel", all_fuel)];
        let mut times = [Duration::MAX; 4];
        for _ in 0..7 {
            for (i, (_, l)) in configs.iter().enumerate() {
                times[i] = times[i].min(raw_calls(*l, node, input.clone(), 1).0);
            }
        }
        for ((label, _), t) in configs.iter().zip(times) {
            println!("   {label:<48} {:>8.1} ms", t.as_secs_f64() * 1e3);
        }
    }

    println!("3. 1000 nodes alive at once (`hold`: 2 MiB touched, 1 s asleep), --jobs 1000");
    let policy = {
        let mut policy = Policy::default().with_timeout(Duration::from_secs(30));
        policy.grants.clock = true;
        policy
    };
    let rt = Runtime::new(Config::default().jobs(1000).cache_dir(None).policy(policy)).unwrap();
    let module = rt.load_component(GUEST).unwrap();
    let mut p = Pipeline::new();
    let names: Vec<String> = (0..1000).map(|i| format!("hold{i}")).collect();
    for node in &names {
        p.add_node(module.node("hold").unwrap().renamed(node));
    }
    p.set_param("mib", Value::Int(2));
    p.set_param("ms", Value::Int(1000));
    let targets: Vec<&str> = names.iter().map(String::as_str).collect();
    let plan = p.plan(&targets).unwrap();
    let before = peak_rss_mib();
    let started = Instant::now();
    let report = rt.run(&plan, RunOptions::new()).unwrap();
    let took = started.elapsed();
    println!(
        "   {} finished, {} failed, wall {:.2} s (1000 × 1 s of sleep), peak RSS {} MiB (before: {} MiB)",
        report.outputs.len(),
        report.failures.len(),
        took.as_secs_f64(),
        peak_rss_mib(),
        before
    );
    if let Some(f) = report.failures.first() {
        println!("   first failure: {f}");
    }
}
