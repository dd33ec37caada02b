//! Scheduling and sandbox overhead (targets in ../shared/PERF.md, figures in BENCHMARKS.md).
//!
//! - `plan/chain/N`, `plan/wide/N`: graph build + validation of N built-in nodes.
//! - `run_builtin/...`: a trivial built-in node, scheduling + execution.
//! - `run_component/...`: a trivial component node (`inc`), each invocation in
//!   a fresh sandbox (new `Store` from an `InstancePre`).
//!
//! Criterion reports time per iteration; throughput is set to the node count,
//! so `thrpt` reads as nodes per second. Run: `cargo bench --bench overhead`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use weavelet::{Config, InputDecl, Node, NodeDecl, Pipeline, RunOptions, Runtime, Value, ValueType};

fn builtin_inc(name: &str, from: &str) -> Node {
    Pipeline::builtin(
        NodeDecl {
            name: name.into(),
            doc: String::new(),
            inputs: vec![InputDecl::required("x", ValueType::Int)],
            output: ValueType::Int,
            output_columns: vec![],
            capabilities: vec![],
        },
        |inputs| match inputs {
            [Value::Int(x)] => Ok(Value::Int(x + 1)),
            _ => Err("expected an int".into()),
        },
    )
    .bind("x", from)
    .unwrap()
}

fn fan_in(n: usize) -> Node {
    Pipeline::builtin(
        NodeDecl {
            name: "total".into(),
            doc: String::new(),
            inputs: (0..n).map(|i| InputDecl::required(format!("n{i}"), ValueType::Int)).collect(),
            output: ValueType::Int,
            output_columns: vec![],
            capabilities: vec![],
        },
        |inputs| Ok(Value::Int(inputs.iter().map(|v| if let Value::Int(i) = v { *i } else { 0 }).sum())),
    )
}

/// n nodes, each reading the previous one.
fn chain(n: usize, make: impl Fn(&str, &str) -> Node) -> Pipeline {
    let mut p = Pipeline::new();
    p.set_param("start", Value::Int(0));
    for i in 0..n {
        let from = if i == 0 { "start".to_string() } else { format!("n{}", i - 1) };
        p.add_node(make(&format!("n{i}"), &from));
    }
    p
}

/// n independent nodes and one node reading all of them.
fn wide(n: usize, make: impl Fn(&str, &str) -> Node) -> Pipeline {
    let mut p = Pipeline::new();
    p.set_param("start", Value::Int(0));
    for i in 0..n {
        p.add_node(make(&format!("n{i}"), "start"));
    }
    p.add_node(fan_in(n));
    p
}

fn plan(c: &mut Criterion) {
    let mut g = c.benchmark_group("plan");
    g.sample_size(10);
    for n in [1_000, 10_000, 100_000] {
        g.throughput(Throughput::Elements(n as u64));
        let p = chain(n, builtin_inc);
        let last = format!("n{}", n - 1);
        g.bench_with_input(BenchmarkId::new("chain", n), &n, |b, _| b.iter(|| p.plan(&[&last]).unwrap()));
        let p = wide(n, builtin_inc);
        g.bench_with_input(BenchmarkId::new("wide", n), &n, |b, _| b.iter(|| p.plan(&["total"]).unwrap()));
    }
    g.finish();
}

fn run_builtin(c: &mut Criterion) {
    let rt = Runtime::new(Config::default().cache_dir(None)).unwrap();
    let mut g = c.benchmark_group("run_builtin");
    g.sample_size(20);
    for n in [1_000, 100_000] {
        g.throughput(Throughput::Elements(n as u64));
        let plan = chain(n, builtin_inc).plan(&[&format!("n{}", n - 1)]).unwrap();
        g.bench_with_input(BenchmarkId::new("chain", n), &n, |b, _| {
            b.iter(|| rt.run(&plan, RunOptions::new()).unwrap().check().unwrap())
        });
        let plan = wide(n, builtin_inc).plan(&["total"]).unwrap();
        g.bench_with_input(BenchmarkId::new("wide", n), &n, |b, _| {
            b.iter(|| rt.run(&plan, RunOptions::new()).unwrap().check().unwrap())
        });
    }
    g.finish();
}

fn run_component(c: &mut Criterion) {
    let rt = Runtime::new(Config::default().cache_dir(None)).unwrap();
    let module = rt.load_component(weavelet_test_artifacts::FIXTURE_NODES).unwrap();
    let inc = |name: &str, from: &str| module.node("inc").unwrap().renamed(name).bind("x", from).unwrap();
    let mut g = c.benchmark_group("run_component");
    g.sample_size(20);
    let n = 1_000;
    g.throughput(Throughput::Elements(n as u64));
    let plan = chain(n, inc).plan(&[&format!("n{}", n - 1)]).unwrap();
    g.bench_function(BenchmarkId::new("chain", n), |b| {
        b.iter(|| rt.run(&plan, RunOptions::new()).unwrap().check().unwrap())
    });
    let plan = wide(n, inc).plan(&["total"]).unwrap();
    g.bench_function(BenchmarkId::new("wide", n), |b| {
        b.iter(|| rt.run(&plan, RunOptions::new()).unwrap().check().unwrap())
    });
    g.finish();
}

/// A script of n trivial functions: a chain (`n{i}` reads `n{i-1}`) or independent ones (all read `start`).
fn script_source(n: usize, chained: bool) -> String {
    let mut src = String::with_capacity(n * 40);
    for i in 0..n {
        let input = if chained && i > 0 { format!("n{}", i - 1) } else { "start".to_string() };
        src.push_str(&format!("fn n{i}({input}) {{ {input} + 1 }}\n"));
    }
    src
}

fn rhai(c: &mut Criterion) {
    let rt = Runtime::new(Config::default().cache_dir(None)).unwrap();
    let path = std::path::Path::new("bench.rhai");
    let mut g = c.benchmark_group("rhai");
    g.sample_size(20);

    let n = 1_000;
    g.throughput(Throughput::Elements(n as u64));
    let chain_src = script_source(n, true);
    g.bench_function(BenchmarkId::new("load_and_plan", n), |b| {
        b.iter(|| {
            let script = weavelet::Script::from_source(path, &chain_src).unwrap();
            let mut p = Pipeline::new();
            p.add_nodes(script.nodes());
            p.set_param("start", Value::Int(0));
            p.plan(&[]).unwrap()
        })
    });
    let script = weavelet::Script::from_source(path, &chain_src).unwrap();
    let mut p = Pipeline::new();
    p.add_nodes(script.nodes());
    p.set_param("start", Value::Int(0));
    let plan = p.plan(&[&format!("n{}", n - 1)]).unwrap();
    g.bench_function(BenchmarkId::new("chain", n), |b| {
        b.iter(|| rt.run(&plan, RunOptions::new()).unwrap().check().unwrap())
    });

    // The script's own work, without Weavelet: the same function called 1 000
    // times through a function pointer of a bare Rhai engine.
    let engine = rhai::Engine::new_raw();
    let ast = engine.compile("fn n1(n0) { n0 + 1 }").unwrap();
    let f = rhai::FnPtr::new("n1").unwrap();
    g.bench_function(BenchmarkId::new("bare_rhai_calls", n), |b| {
        b.iter(|| {
            let mut x: i64 = 0;
            for _ in 0..n {
                x = f.call(&engine, &ast, (x,)).unwrap();
            }
            x
        })
    });

    let n = 10_000;
    g.throughput(Throughput::Elements(n as u64));
    let script = weavelet::Script::from_source(path, &script_source(n, false)).unwrap();
    let mut p = Pipeline::new();
    p.add_nodes(script.nodes());
    p.add_node(fan_in(n));
    p.set_param("start", Value::Int(0));
    let plan = p.plan(&["total"]).unwrap();
    g.bench_function(BenchmarkId::new("wide", n), |b| {
        b.iter(|| rt.run(&plan, RunOptions::new()).unwrap().check().unwrap())
    });
    g.finish();
}

/// The same trivial component and Rhai nodes in worker processes and in the
/// host process, side by side: per node, a chain of 100 and 100 independent.
fn isolation(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("bench.rhai");
    let n = 100;
    let mut g = c.benchmark_group("isolation");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    for chained in [true, false] {
        std::fs::write(&script, script_source(n, chained)).unwrap();
        for mode in [weavelet::Isolation::Process, weavelet::Isolation::InProcess] {
            let policy = weavelet::Policy { isolation: mode, ..weavelet::Policy::default() };
            let rt = Runtime::new(Config::default().cache_dir(None).policy(policy)).unwrap();
            let shape = if chained { "chain" } else { "wide" };

            let mut p = Pipeline::new();
            p.add_nodes(rt.script_nodes(&script).unwrap());
            p.set_param("start", Value::Int(0));
            if !chained {
                p.add_node(fan_in(n));
            }
            let plan = p.plan(&[&if chained { format!("n{}", n - 1) } else { "total".into() }]).unwrap();
            g.bench_function(BenchmarkId::new(format!("rhai/{shape}/{}", mode.name()), n), |b| {
                b.iter(|| rt.run(&plan, RunOptions::new()).unwrap().check().unwrap())
            });

            let nodes = rt.component_nodes(weavelet_test_artifacts::FIXTURE_NODES).unwrap();
            let inc_node = nodes.into_iter().find(|node| node.name() == "inc").unwrap();
            let inc = |name: &str, from: &str| inc_node.clone().renamed(name).bind("x", from).unwrap();
            let plan = if chained {
                chain(n, inc).plan(&[&format!("n{}", n - 1)]).unwrap()
            } else {
                wide(n, inc).plan(&["total"]).unwrap()
            };
            g.bench_function(BenchmarkId::new(format!("component/{shape}/{}", mode.name()), n), |b| {
                b.iter(|| rt.run(&plan, RunOptions::new()).unwrap().check().unwrap())
            });
        }
    }
    g.finish();
}

criterion_group!(benches, plan, run_builtin, run_component, rhai, isolation);

// Not `criterion_main!`: this program is also the worker process the
// `isolation` group's nodes run in.
fn main() {
    weavelet::serve_worker_if_asked();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
