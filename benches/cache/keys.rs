//! What a cache key costs when a node's input is a 10 M-row table.
//!
//! With a known lineage (the table comes from a node that read a file), a key
//! is a hash of the upstream output's identity: microseconds, whatever the
//! table's size. A table given as a parameter has no lineage: its data must be
//! hashed, which is what the lineage saves.
//!
//! Usage: cargo run -p weavelet-benches --features drivers --example cache_keys [ROUNDS]

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant, SystemTime};

use weavelet::{Config, Pipeline, RunOptions, Runtime, Value};

#[path = "../sales/table.rs"]
mod sales_table;
use sales_table::table;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn script(dir: &std::path::Path, name: &str, source: &str, rt: &Runtime) -> Pipeline {
    let path = dir.join(name);
    std::fs::write(&path, source).unwrap();
    let mut p = Pipeline::new();
    p.add_nodes(rt.load_script(&path).unwrap().nodes());
    // The result cache groups results by the pipeline's origin.
    p.set_origin(name);
    p
}

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(21);
    let dir = std::env::temp_dir().join(format!("weavelet-cache-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = Config::default().cache_dir(Some(dir.join("cache"))).allow_read(dir.clone(), &dir).unwrap();
    let rt = Runtime::new(config).unwrap();
    let options = || RunOptions::new().description("cache_keys");

    // Known lineage: `big` reads a 10 M-row Parquet file, three nodes pass the table on, one counts it.
    let big = table(10_000_000);
    let file = dir.join("big.parquet");
    weavelet::table::io::write(&big, &file, &[]).unwrap();
    // Older than the fingerprint cache's "recently modified" window, as a data file usually is.
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(60))
        .unwrap();
    let mut lineage = script(
        &dir,
        "lineage.rhai",
        "fn big(path) { read_table(path) }\nfn a(big) { big }\nfn b(a) { a }\nfn c(b) { b }\nfn total(c) { c.height() }\n",
        &rt,
    );
    lineage.set_param("path", Value::Text("big.parquet".into()));
    let plan = lineage.plan(&["total"]).unwrap();
    let started = Instant::now();
    let first = rt.run(&plan, options()).unwrap();
    first.check().unwrap();
    let first = started.elapsed();
    let keys = median(
        (0..rounds)
            .map(|_| {
                let t = Instant::now();
                let steps = rt.dry_run(&plan, &options()).unwrap();
                assert!(steps.iter().all(|s| s.cached));
                t.elapsed()
            })
            .collect(),
    );
    let second = median(
        (0..rounds.min(7))
            .map(|_| {
                let t = Instant::now();
                let report = rt.run(&plan, options()).unwrap();
                assert_eq!(report.cached.len(), 5);
                t.elapsed()
            })
            .collect(),
    );

    // No lineage: the same table given as a parameter must be hashed.
    let mut param = script(&dir, "param.rhai", "fn total(t) { t.height() }\n", &rt);
    param.set_param("t", Value::Table(big.clone()));
    let plan = param.plan(&["total"]).unwrap();
    let hashed = median(
        (0..rounds.min(7))
            .map(|_| {
                let t = Instant::now();
                rt.dry_run(&plan, &options()).unwrap();
                t.elapsed()
            })
            .collect(),
    );

    println!("| 10 M-row table (3 columns), median of {rounds} | time |");
    println!("|---|---|");
    println!("| first run, 5 nodes (computes and stores every result) | {:.2} s |", first.as_secs_f64());
    println!(
        "| keys of all 5 nodes, table lineage known (dry run: keys, lookups, file check) | {:.0} µs |",
        keys.as_secs_f64() * 1e6
    );
    println!(
        "| second run, all 5 from the cache (only the count is loaded) | {:.1} ms |",
        second.as_secs_f64() * 1e3
    );
    println!(
        "| key of 1 node given the table as a parameter (its data hashed) | {:.0} ms |",
        hashed.as_secs_f64() * 1e3
    );
    let _ = std::fs::remove_dir_all(&dir);
}
