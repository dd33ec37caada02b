//! Instantiation and per-call overhead of a trivial node (`x + 1`) in every
//! language Weavelet runs, side by side: Rust, C, Python and JavaScript
//! components, and a Rhai function.
//!
//! For each component: its size; compiling it (once per content: the compiled
//! code is cached on disk); loading it from that cache (a later process); one
//! instantiation in a fresh sandbox (what every invocation pays before the
//! node runs, pre-instantiation having resolved imports at load); and one
//! invocation end to end (a one-node pipeline run: scheduling, a fresh
//! instance, the call, the value back).
//!
//! Usage: cargo run -p weavelet-benches --features drivers --example language_overhead [ROUNDS]
//! The C, Python and JavaScript folders are built first (their toolchains must
//! be installed; a language whose build fails is reported and left out).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;
use std::time::{Duration, Instant};

use weavelet::build::Language;
use weavelet::{Config, Pipeline, Policy, RunOptions, Runtime, Script, Value};

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn show(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1e6 {
        format!("{:.2} s", us / 1e6)
    } else if us >= 1e3 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{us:.0} µs")
    }
}

/// Median time of `rounds` runs of a one-node pipeline computing `node`.
fn per_run(rt: &Runtime, pipeline: &Pipeline, node: &str, rounds: usize) -> Duration {
    let plan = pipeline.plan(&[node]).unwrap();
    rt.run(&plan, RunOptions::new()).unwrap().check().unwrap();
    median(
        (0..rounds)
            .map(|_| {
                let t = Instant::now();
                let report = rt.run(&plan, RunOptions::new()).unwrap();
                let elapsed = t.elapsed();
                assert!(matches!(report.output(node), Some(Value::Int(42))), "{node} computes 42");
                elapsed
            })
            .collect(),
    )
}

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cache = tempfile::tempdir().unwrap();
    let policy = Policy::default();
    let mut rows = Vec::new();

    let mut components: Vec<(&str, String, &str)> =
        vec![("Rust", weavelet_test_artifacts::FIXTURE_NODES.to_string(), "inc")];
    for (language, folder, node) in [
        (Language::C, "guests/c", "inc_c"),
        (Language::Python, "guests/python", "inc_py"),
        (Language::JavaScript, "guests/js", "inc_js"),
    ] {
        let dir = root.join(folder).canonicalize().unwrap();
        eprintln!("building {folder} ...");
        match weavelet::build::build(
            language,
            &dir,
            Some(cache.path()),
            &weavelet::build::BuildIn::Host,
            &mut |_| {},
        ) {
            Ok(wasm) => components.push((language.label(), wasm.display().to_string(), node)),
            Err(e) => eprintln!("left out {}: {e}", language.label()),
        }
    }

    for (label, wasm, node) in &components {
        eprintln!("measuring {label} ...");
        let size = std::fs::metadata(wasm).unwrap().len();
        // Compiling: no disk cache.
        let cold = Runtime::new(Config::default().cache_dir(None)).unwrap();
        let t = Instant::now();
        drop(cold.load_component(wasm).unwrap());
        let compile = t.elapsed();
        // Loading the compiled code a first process left on disk.
        let warm_dir = cache.path().join("compiled");
        drop(
            Runtime::new(Config::default().cache_dir(Some(warm_dir.clone())))
                .unwrap()
                .load_component(wasm)
                .unwrap(),
        );
        let load = median(
            (0..5)
                .map(|_| {
                    let rt = Runtime::new(Config::default().cache_dir(Some(warm_dir.clone()))).unwrap();
                    let t = Instant::now();
                    let m = rt.load_component(wasm).unwrap();
                    let elapsed = t.elapsed();
                    assert!(m.was_cached_on_disk());
                    elapsed
                })
                .collect(),
        );
        let rt = Runtime::new(Config::default().cache_dir(None)).unwrap();
        let module = rt.load_component(wasm).unwrap();
        let instantiate = median(
            (0..rounds)
                .map(|_| {
                    let t = Instant::now();
                    module.instantiate_only(&policy).unwrap();
                    t.elapsed()
                })
                .collect(),
        );
        let mut p = Pipeline::new();
        p.set_param("x", Value::Int(41));
        p.add_node(module.node(node).unwrap());
        let invoke = per_run(&rt, &p, node, rounds);
        rows.push((
            label.to_string(),
            crate_size(size),
            show(compile),
            show(load),
            show(instantiate),
            show(invoke),
        ));
    }

    // Rhai: compiling the script is its load; each invocation runs in a fresh scope.
    let rt = Runtime::new(Config::default().cache_dir(None)).unwrap();
    let src = "/// x + 1.\nfn inc(x) { x + 1 }\n";
    let t = Instant::now();
    let script = Script::from_source(Path::new("inc.rhai"), src).unwrap();
    let load = t.elapsed();
    let mut p = Pipeline::new();
    p.set_param("x", Value::Int(41));
    p.add_nodes(script.nodes());
    let invoke = per_run(&rt, &p, "inc", rounds);
    rows.push(("Rhai".into(), format!("{} B", src.len()), "—".into(), show(load), "—".into(), show(invoke)));

    println!(
        "| node `x + 1` in | component | compile (once) | load compiled | instantiate | invoke (run of 1 node) |"
    );
    println!("|---|---|---|---|---|---|");
    for (label, size, compile, load, instantiate, invoke) in rows {
        println!("| {label} | {size} | {compile} | {load} | {instantiate} | {invoke} |");
    }
    println!("\nmedians of {rounds} rounds (load: of 5 processes' worth of runtimes)");
}

fn crate_size(bytes: u64) -> String {
    weavelet::human_bytes(bytes)
}
