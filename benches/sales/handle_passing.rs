//! Handle passing: a 10 M-row table and a 1-row table each flow through a
//! chain of 10 component nodes (`t_pass` of guests/tables) and, separately, 10
//! Rhai nodes. If passing a table copied it, the big one would cost far more.
//!
//! Usage: cargo run -p weavelet-benches --features drivers --example handle_passing [ROUNDS]

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use weavelet::{Config, Pipeline, RunOptions, Runtime, Script, Table, Value};

#[path = "table.rs"]
mod sales_table;
use sales_table::table;

fn component_chain(rt: &Runtime) -> Pipeline {
    let module = rt.load_component(weavelet_test_artifacts::TABLE_NODES).unwrap();
    let mut p = Pipeline::new();
    for i in 0..10 {
        let from = if i == 0 { "t".to_string() } else { format!("pass{}", i - 1) };
        p.add_node(module.node("t_pass").unwrap().renamed(&format!("pass{i}")).bind("t", &from).unwrap());
    }
    p
}

fn rhai_chain(dir: &std::path::Path) -> Pipeline {
    let mut src = String::from("fn pass0(t) { t }\n");
    for i in 1..10 {
        src.push_str(&format!("fn pass{i}(pass{}) {{ pass{} }}\n", i - 1, i - 1));
    }
    let path = dir.join("chain.rhai");
    std::fs::write(&path, src).unwrap();
    let mut p = Pipeline::new();
    p.add_nodes(Script::load(&path).unwrap().nodes());
    p
}

fn median(rt: &Runtime, mut p: Pipeline, t: &Table, rounds: usize) -> Duration {
    p.set_param("t", Value::Table(t.clone()));
    let plan = p.plan(&["pass9"]).unwrap();
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            let report = rt.run(&plan, RunOptions::new()).unwrap();
            let elapsed = start.elapsed();
            report.check().unwrap();
            assert!(matches!(report.output("pass9"), Some(Value::Table(out)) if Table::same(out, t)));
            elapsed
        })
        .collect();
    times.sort();
    times[rounds / 2]
}

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(101);
    let rt = Runtime::new(Config::default().cache_dir(None)).unwrap();
    let dir = std::env::temp_dir().join(format!("weavelet-handles-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let small = table(1);
    let big = table(10_000_000);
    println!("| chain of 10 nodes, median of {rounds} runs | 1-row table | 10 M-row table | ratio |");
    println!("|---|---|---|---|");
    for (label, chain) in [("component nodes (t_pass)", 0), ("Rhai nodes", 1)] {
        let make = || if chain == 0 { component_chain(&rt) } else { rhai_chain(&dir) };
        let s = median(&rt, make(), &small, rounds);
        let b = median(&rt, make(), &big, rounds);
        println!(
            "| {label} | {:.1} µs | {:.1} µs | {:.2} |",
            s.as_secs_f64() * 1e6,
            b.as_secs_f64() * 1e6,
            b.as_secs_f64() / s.as_secs_f64()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
