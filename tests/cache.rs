//! The result cache, run history and resuming, through the real CLI: every
//! test has its own cache folder and reads the run history to see what ran.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// A pipeline folder, its own cache folder, and the CLI pointed at both.
struct Project {
    dir: tempfile::TempDir,
    cache: PathBuf,
}

const MANIFEST: &str = r#"
[pipeline]
name = "cache test"
outputs = ["report", "summary", "chart"]

[[scripts]]
path = "steps.rhai"

[params]
path = "data/sales.csv"

[policy]
read = ["data"]

[outputs]
summary = "out/summary.csv"
chart = "out/chart.svg"
"#;

/// `sales` → `summary` → `chart`; `sales` → `count`; `summary` + `count` → `report`.
const STEPS: &str = r#"
/// The sales file.
fn sales(path) { read_table(path) }

/// Revenue per region.
/// @columns sales region: text, revenue: number
fn summary(sales) {
    sales.group_by(["region"], #{ total: "sum(revenue)" }).sort("region")
}

/// How many sales.
/// @output int
fn count(sales) { sales.height() }

/// The summary as a chart.
fn chart(summary) { bar_chart(summary, #{ x: "region", y: "total", title: "Revenue" }) }

/// One line.
/// @output text
fn report(summary, count) { `${count} sales in ${summary.height()} regions` }
"#;

fn sales_csv(rows: usize, seed: u64) -> String {
    let regions = ["East", "North", "South", "West"];
    let mut text = String::from("region,product,revenue,orders\n");
    for i in 0..rows {
        let r = regions[(i as u64 * 7 + seed) as usize % 4];
        // Quarters only: every sum is exact, whatever order polars adds in.
        text.push_str(&format!(
            "{r},p{},{}.{:02},{}\n",
            i % 13,
            (i as u64 * 31 + seed) % 997,
            i % 4 * 25,
            i % 9 + 1
        ));
    }
    text
}

impl Project {
    fn new(steps: &str) -> Project {
        Project::with_manifest(MANIFEST, steps)
    }

    fn with_manifest(manifest: &str, steps: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("weavelet.toml"), manifest).unwrap();
        std::fs::write(dir.path().join("steps.rhai"), steps).unwrap();
        std::fs::write(dir.path().join("data/sales.csv"), sales_csv(40, 1)).unwrap();
        let cache = dir.path().join(".cache");
        Project { dir, cache }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn cmd(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_weavelet"));
        cmd.current_dir(self.dir.path())
            .env("WEAVELET_CACHE_DIR", &self.cache)
            .env_remove("WEAVELET_NO_CACHE")
            .env("NO_COLOR", "1");
        cmd
    }

    /// `weavelet run .` with `args`; panics unless it succeeds. Returns stdout and stderr.
    fn run(&self, args: &[&str]) -> (String, String) {
        let out = self.cmd().args(["run", "."]).args(args).output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert!(out.status.success(), "weavelet run {args:?} failed:\n{stdout}\n{stderr}");
        (stdout, stderr)
    }

    fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let out = self.cmd().args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The latest run in the history, as `weavelet runs show last --json` prints it.
    fn last_run(&self) -> serde_json::Value {
        let (ok, stdout, stderr) = self.cli(&["runs", "show", "last", "--json"]);
        assert!(ok, "runs show failed: {stderr}");
        serde_json::from_str(&stdout).unwrap()
    }

    /// Each node of the latest run and its status (`ran`, `cached`, ...).
    fn statuses(&self) -> BTreeMap<String, String> {
        statuses(&self.last_run())
    }

    /// Every value file of the result cache.
    fn objects(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for folder in std::fs::read_dir(self.cache.join("results/objects")).unwrap().flatten() {
            if folder.path().is_dir() {
                files.extend(std::fs::read_dir(folder.path()).unwrap().flatten().map(|f| f.path()));
            }
        }
        files
    }
}

fn statuses(run: &serde_json::Value) -> BTreeMap<String, String> {
    run["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["node"].as_str().unwrap().to_string(), n["status"].as_str().unwrap().to_string()))
        .collect()
}

fn all(status: &str, nodes: &[&str]) -> BTreeMap<String, String> {
    nodes.iter().map(|n| (n.to_string(), status.to_string())).collect()
}

const NODES: [&str; 5] = ["chart", "count", "report", "sales", "summary"];

#[test]
fn a_second_run_of_an_unchanged_pipeline_runs_no_node_and_writes_the_same_outputs() {
    let p = Project::new(STEPS);
    let (first_out, _) = p.run(&[]);
    assert_eq!(p.statuses(), all("ran", &NODES));
    let summary = std::fs::read(p.path("out/summary.csv")).unwrap();
    let chart = std::fs::read(p.path("out/chart.svg")).unwrap();
    std::fs::remove_dir_all(p.path("out")).unwrap();

    let (second_out, stderr) = p.run(&[]);
    assert_eq!(p.statuses(), all("cached", &NODES), "{stderr}");
    assert!(stderr.contains("0 nodes ran, 5 came from the cache"), "{stderr}");
    assert_eq!(first_out, second_out);
    assert_eq!(std::fs::read(p.path("out/summary.csv")).unwrap(), summary);
    assert_eq!(std::fs::read(p.path("out/chart.svg")).unwrap(), chart);

    // The history lists both runs; the first ran every node, the second none.
    let (ok, list, _) = p.cli(&["runs"]);
    assert!(ok);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    assert!(lines[1].contains(" ok ") && lines[2].contains(" ok "), "{list}");

    // Output files written from the same values and not touched since are left alone;
    // one edited by hand is written again.
    std::fs::write(p.path("out/chart.svg"), "<svg/>").unwrap();
    let (_, stderr) = p.run(&[]);
    assert!(stderr.contains("up to date: ./out/summary.csv"), "{stderr}");
    assert!(stderr.contains("wrote ./out/chart.svg"), "{stderr}");
    assert_eq!(std::fs::read(p.path("out/chart.svg")).unwrap(), chart);
    let (ok, shown, _) = p.cli(&["runs", "show", "1"]);
    assert!(
        ok && shown.contains("run 1: ok") && shown.contains("summary") && shown.contains("ran"),
        "{shown}"
    );
}

#[test]
fn the_history_says_where_each_node_ran() {
    let p = Project::new(STEPS);
    let where_ran = |p: &Project| -> BTreeMap<String, serde_json::Value> {
        p.last_run()["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| (n["node"].as_str().unwrap().to_string(), n["isolation"].clone()))
            .collect()
    };
    let each = |v: serde_json::Value| -> BTreeMap<String, serde_json::Value> {
        NODES.iter().map(|n| (n.to_string(), v.clone())).collect()
    };
    p.run(&[]);
    assert_eq!(where_ran(&p), each(serde_json::json!("process")));
    // From the cache: nothing ran anywhere.
    p.run(&[]);
    assert_eq!(where_ran(&p), each(serde_json::Value::Null));
    p.run(&["--no-cache", "--isolation", "in-process"]);
    assert_eq!(where_ran(&p), each(serde_json::json!("in-process")));
    let (ok, shown, _) = p.cli(&["runs", "show", "last"]);
    assert!(ok && shown.contains("RAN IN"), "{shown}");
    let summary = shown.lines().find(|l| l.starts_with("summary ")).unwrap();
    assert!(summary.contains(" in-process "), "{shown}");
    let (_, shown, _) = p.cli(&["runs", "show", "1"]);
    let summary = shown.lines().find(|l| l.starts_with("summary ")).unwrap();
    assert!(summary.contains(" worker "), "{shown}");
}

#[test]
fn editing_one_node_recomputes_it_and_its_downstream_only() {
    let p = Project::new(STEPS);
    p.run(&[]);
    // `summary` changes: `chart` and `report` read it; `sales` and `count` do not.
    std::fs::write(p.path("steps.rhai"), STEPS.replace(".sort(\"region\")", ".sort(\"total\")")).unwrap();
    let (_, stderr) = p.run(&[]);
    let expected: BTreeMap<String, String> =
        [("chart", "ran"), ("count", "cached"), ("report", "ran"), ("sales", "cached"), ("summary", "ran")]
            .iter()
            .map(|(n, s)| (n.to_string(), s.to_string()))
            .collect();
    assert_eq!(p.statuses(), expected, "{stderr}");
    let run = p.last_run();
    let summary = run["nodes"].as_array().unwrap().iter().find(|n| n["node"] == "summary").unwrap();
    assert_eq!(summary["reason"], "its code changed");

    // Comments and layout are not code: nothing runs.
    std::fs::write(
        p.path("steps.rhai"),
        STEPS
            .replace(".sort(\"region\")", ".sort(\"total\")")
            .replace("/// How many sales.", "/// The number of sales,\n// counted.\n"),
    )
    .unwrap();
    p.run(&[]);
    assert_eq!(p.statuses(), all("cached", &NODES));

    // Back to the first version: every result of the first run is still stored.
    std::fs::write(p.path("steps.rhai"), STEPS).unwrap();
    p.run(&[]);
    assert_eq!(p.statuses(), all("cached", &NODES));
}

#[test]
fn a_changed_input_file_recomputes_the_node_that_read_it_and_what_follows() {
    let p = Project::new(STEPS);
    p.run(&[]);
    let before = std::fs::read_to_string(p.path("out/summary.csv")).unwrap();
    std::fs::write(p.path("data/sales.csv"), sales_csv(40, 2)).unwrap();

    let (ok, plan, _) = p.cli(&["run", ".", "--dry-run"]);
    assert!(ok);
    assert!(plan.contains("data/sales.csv changed"), "{plan}");
    assert!(plan.contains("input from `sales`, which runs first"), "{plan}");

    p.run(&[]);
    assert_eq!(p.statuses(), all("ran", &NODES));
    let after = std::fs::read_to_string(p.path("out/summary.csv")).unwrap();
    assert_ne!(before, after, "the summary must follow the new file");
    // Touching the file without changing it costs a hash, not a recomputation.
    let text = std::fs::read(p.path("data/sales.csv")).unwrap();
    std::fs::write(p.path("data/sales.csv"), text).unwrap();
    p.run(&[]);
    assert_eq!(p.statuses(), all("cached", &NODES));
}

#[test]
fn a_damaged_stored_result_is_detected_and_computed_again_not_served() {
    let p = Project::new(STEPS);
    // Enough rows that the `sales` table is stored in a file of its own.
    std::fs::write(p.path("data/sales.csv"), sales_csv(6000, 1)).unwrap();
    p.run(&[]);
    let expected = std::fs::read(p.path("out/summary.csv")).unwrap();
    let objects = p.objects();
    assert!(!objects.is_empty(), "no value file was written");
    for object in &objects {
        let bytes = std::fs::read(object).unwrap();
        std::fs::write(object, &bytes[..bytes.len() / 2]).unwrap();
    }
    std::fs::remove_dir_all(p.path("out")).unwrap();
    let (_, stderr) = p.run(&[]);
    let run = p.last_run();
    let sales = run["nodes"].as_array().unwrap().iter().find(|n| n["node"] == "sales").unwrap();
    assert_eq!(sales["status"], "ran", "{stderr}");
    assert!(sales["reason"].as_str().unwrap().contains("damaged"), "{sales}");
    assert_eq!(std::fs::read(p.path("out/summary.csv")).unwrap(), expected);

    // A file damaged without changing its size is caught by its checksum when
    // it is read: the second run needs `sales` (a new node reads it), the damaged
    // bytes are refused and `sales` is computed again.
    for object in p.objects() {
        let mut bytes = std::fs::read(&object).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&object, &bytes).unwrap();
    }
    std::fs::write(
        p.path("steps.rhai"),
        format!("{STEPS}\nfn regions(sales) {{ sales.select([\"region\"]).height() }}\n"),
    )
    .unwrap();
    p.run(&["-o", "regions"]);
    let run = p.last_run();
    let sales = run["nodes"].as_array().unwrap().iter().find(|n| n["node"] == "sales").unwrap();
    assert_eq!(sales["status"], "ran", "{run}");
    assert!(sales["reason"].as_str().unwrap().contains("do not match their checksum"), "{sales}");
    // `cache verify` reads everything: damage nobody has read yet is found and removed.
    for object in p.objects() {
        let mut bytes = std::fs::read(&object).unwrap();
        bytes[10] ^= 0xff;
        std::fs::write(&object, &bytes).unwrap();
    }
    let (ok, out, _) = p.cli(&["cache", "verify"]);
    assert!(!ok && out.contains("do not match their checksum"), "{out}");
    let (ok, out, _) = p.cli(&["cache", "verify"]);
    assert!(ok && out.contains("intact"), "{out}");
    p.run(&[]);
    assert_eq!(p.statuses()["sales"], "ran");
    assert_eq!(std::fs::read(p.path("out/summary.csv")).unwrap(), expected);
}

#[test]
fn a_second_run_loads_only_the_values_it_needs() {
    let p = Project::new(STEPS);
    std::fs::write(p.path("data/sales.csv"), sales_csv(6000, 1)).unwrap();
    p.run(&[]);
    // `sales` is read by nothing that runs: its damaged file is never read, so
    // the run succeeds from the other nodes' results.
    for object in p.objects() {
        let mut bytes = std::fs::read(&object).unwrap();
        bytes[10] ^= 0xff;
        std::fs::write(&object, &bytes).unwrap();
    }
    p.run(&[]);
    assert_eq!(p.statuses(), all("cached", &NODES));
}

#[test]
fn dry_run_from_only_and_override() {
    let p = Project::new(STEPS);
    let (ok, plan, _) = p.cli(&["run", ".", "--dry-run"]);
    assert!(ok);
    assert!(plan.starts_with("5 of 5 nodes would run, 0 would come from the cache"), "{plan}");
    assert!(p.cli(&["runs"]).1.is_empty(), "a dry run is not a run");
    p.run(&[]);
    let (_, plan, _) = p.cli(&["run", ".", "--dry-run"]);
    assert!(plan.starts_with("0 of 5 nodes would run, 5 would come from the cache"), "{plan}");
    assert!(plan.contains("stored by run 1"), "{plan}");

    // --from recomputes a node and its downstream.
    let (_, plan, _) = p.cli(&["run", ".", "--dry-run", "--from", "summary"]);
    assert!(plan.contains("forced by --from"), "{plan}");
    p.run(&["--from", "summary"]);
    let s = p.statuses();
    assert_eq!((s["sales"].as_str(), s["count"].as_str()), ("cached", "cached"));
    assert_eq!((s["summary"].as_str(), s["chart"].as_str(), s["report"].as_str()), ("ran", "ran", "ran"));

    // --override gives a node's value: here a table from another file.
    std::fs::write(p.path("other.csv"), "region,product,revenue,orders\nMoon,x,1.5,1\n").unwrap();
    let (stdout, _) = p.run(&["--override", "sales=other.csv", "-o", "report"]);
    assert_eq!(stdout, "report: 1 sales in 1 regions\n");
    let s = p.statuses();
    assert_eq!(s["sales"], "overridden");
    assert_eq!((s["summary"].as_str(), s["count"].as_str()), ("ran", "ran"));
    let (stdout, _) = p.run(&["--override", "count=99", "-o", "report"]);
    assert_eq!(stdout, "report: 99 sales in 4 regions\n");
    let (ok, _, stderr) = p.cli(&["run", ".", "--override", "count=many"]);
    assert!(!ok && stderr.contains("--override count=many: `many` is not an int"), "{stderr}");
    let (ok, _, stderr) = p.cli(&["run", ".", "--override", "summary=missing.csv"]);
    assert!(
        !ok && stderr.contains("--override summary=missing.csv:") && stderr.contains("missing.csv"),
        "{stderr}"
    );
    let (ok, _, stderr) = p.cli(&["run", ".", "--override", "cuont=1"]);
    assert!(!ok && stderr.contains("did you mean `count`?"), "{stderr}");

    // --only runs one node, the rest must come from the cache.
    std::fs::write(p.path("steps.rhai"), STEPS.replace("sales in", "sales over")).unwrap();
    let (stdout, _) = p.run(&["--only", "report"]);
    assert_eq!(stdout, "report: 40 sales over 4 regions\n");
    assert_eq!(p.statuses()["report"], "ran");
    assert_eq!(p.statuses()["summary"], "cached");
    std::fs::write(
        p.path("steps.rhai"),
        STEPS.replace("fn count(sales) { sales.height() }", "fn count(sales) { sales.height() + 1 }"),
    )
    .unwrap();
    let (ok, _, stderr) = p.cli(&["run", ".", "--only", "report", "-o", "report"]);
    assert!(!ok, "{stderr}");
    assert!(stderr.contains("--only does not run it") && stderr.contains("count"), "{stderr}");
}

#[test]
fn two_runs_sharing_one_cache_at_the_same_time_both_succeed_and_leave_it_intact() {
    let p = Project::new(STEPS);
    std::fs::write(p.path("data/sales.csv"), sales_csv(6000, 3)).unwrap();
    let spawn = |out: &str| {
        p.cmd()
            .args(["run", ".", "--save", &format!("summary={out}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children: Vec<_> = (0..3).map(|k| spawn(&format!("out/summary-{k}.csv"))).collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        // Opening a new store at the same moment as another process is retried, not given up.
        assert!(!stderr.contains("without the result cache"), "{stderr}");
    }
    let first = std::fs::read(p.path("out/summary-0.csv")).unwrap();
    for k in 1..3 {
        assert_eq!(std::fs::read(p.path(&format!("out/summary-{k}.csv"))).unwrap(), first);
    }
    p.run(&[]);
    assert_eq!(p.statuses(), all("cached", &NODES));
    let (ok, out, _) = p.cli(&["cache", "verify"]);
    assert!(ok && out.contains("intact"), "{out}");
    let (_, list, _) = p.cli(&["runs"]);
    assert_eq!(list.lines().filter(|l| l.contains(" ok ")).count(), 4, "{list}");
}

/// Nodes that each compute for a while, so a run can be killed in the middle.
const SLOW: &str = r#"
fn _spin(n) { let x = 0; for i in 0..n { x += i % 7; } x }

fn sales(path, spin) { _spin(spin); read_table(path) }

/// @columns sales region: text, revenue: number
fn summary(sales, spin) { _spin(spin); sales.group_by(["region"], #{ total: "sum(revenue)" }).sort("region") }

fn count(sales, spin) { _spin(spin); sales.height() }

fn big(sales, spin) { _spin(spin); sales.filter("revenue > 100").sort("revenue") }

fn chart(summary, spin) { _spin(spin); bar_chart(summary, #{ x: "region", y: "total", title: "Revenue" }) }

/// @output text
fn report(summary, count, big, spin) { _spin(spin); `${count} sales, ${big.height()} large, ${summary.height()} regions` }
"#;

const SLOW_MANIFEST: &str = r#"
[pipeline]
name = "slow"
outputs = ["report", "summary", "chart", "big"]

[[scripts]]
path = "steps.rhai"

[params]
path = "data/sales.csv"
spin = 400000

[policy]
read = ["data"]
timeout = "60s"
operations = 1000000000

[outputs]
summary = "out/summary.csv"
chart = "out/chart.svg"
big = "out/big.parquet"
"#;

#[test]
fn a_run_killed_again_and_again_resumes_without_recomputing_finished_nodes() {
    let slow_nodes = ["big", "chart", "count", "report", "sales", "summary"];
    // The reference: one uninterrupted run in a cache of its own.
    let clean = Project::with_manifest(SLOW_MANIFEST, SLOW);
    std::fs::write(clean.path("data/sales.csv"), sales_csv(6000, 5)).unwrap();
    let (clean_out, _) = clean.run(&["-j", "2"]);

    let p = Project::with_manifest(SLOW_MANIFEST, SLOW);
    std::fs::write(p.path("data/sales.csv"), sales_csv(6000, 5)).unwrap();
    let mut finished_before: Vec<String> = Vec::new();
    let mut kills = 0;
    let mut last_id = 0;
    // Extra time after the first node of a round finishes, before the kill.
    let delays = [0u64, 40, 120, 10, 200, 60, 0, 0, 0, 0, 0, 0];
    let mut final_out = None;
    for delay in delays {
        let mut child = p
            .cmd()
            .args(["run", ".", "-j", "2"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until this run has finished a node of its own (or the whole run ends).
        let start = Instant::now();
        let mut exited = None;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                exited = Some(status);
                break;
            }
            // The history may exist before this run's first line is in it.
            let (recorded, stdout, _) = p.cli(&["runs", "show", "last", "--json"]);
            if p.cache.join("results/index.sqlite").exists() && recorded {
                let run: serde_json::Value = serde_json::from_str(&stdout).unwrap();
                let id = run["id"].as_i64().unwrap_or(0);
                if id > last_id && statuses(&run).values().any(|s| s == "ran") {
                    break;
                }
            }
            assert!(start.elapsed() < Duration::from_secs(120), "the run made no progress");
            std::thread::sleep(Duration::from_millis(15));
        }
        if exited.is_none() {
            std::thread::sleep(Duration::from_millis(delay));
            // SIGKILL: no chance to clean up.
            child.kill().unwrap();
        }
        let output = child.wait_with_output().unwrap();
        let run = p.last_run();
        last_id = run["id"].as_i64().unwrap();
        let now = statuses(&run);
        // Nothing finished by an earlier run ran again.
        for node in &finished_before {
            assert_ne!(
                now.get(node).map(String::as_str),
                Some("ran"),
                "`{node}` was computed twice: {now:?}"
            );
        }
        finished_before.extend(now.iter().filter(|(_, s)| *s == "ran").map(|(n, _)| n.clone()));
        if output.status.success() {
            final_out = Some(String::from_utf8_lossy(&output.stdout).into_owned());
            break;
        }
        if run["status"] == "ok" {
            // Killed after it recorded its end: the next round finds everything stored.
            continue;
        }
        kills += 1;
        assert_eq!(run["status"], "interrupted", "{run}");
        let (ok, out, _) = p.cli(&["cache", "verify"]);
        assert!(ok, "the store is damaged after a kill: {out}");
    }
    assert!(kills >= 2, "the pipeline finished before it could be killed twice ({kills} kills)");
    let final_out = final_out.expect("the resumed run never finished");
    finished_before.sort();
    finished_before.dedup();
    assert_eq!(finished_before, slow_nodes, "every node ran exactly once over all the runs");
    assert_eq!(final_out, clean_out);
    for file in ["out/summary.csv", "out/chart.svg", "out/big.parquet"] {
        assert_eq!(
            std::fs::read(p.path(file)).unwrap(),
            std::fs::read(clean.path(file)).unwrap(),
            "{file} differs"
        );
    }
    let (_, list, _) = p.cli(&["runs"]);
    assert_eq!(list.lines().filter(|l| l.contains("interrupted")).count(), kills, "{list}");
}

#[test]
fn a_parameter_widened_to_its_input_type_is_found_in_the_cache_before_the_run() {
    let manifest = "[[scripts]]\npath = \"steps.rhai\"\n[params]\nscale = 2\n";
    let steps = "/// @input scale float\nfn doubled(scale) { scale * 2.0 }\n";
    let p = Project::with_manifest(manifest, steps);
    let (stdout, _) = p.run(&[]);
    assert_eq!(stdout, "doubled: 4\n");
    let (_, plan, _) = p.cli(&["run", ".", "--dry-run"]);
    assert!(plan.contains("cached doubled"), "{plan}");
}

#[test]
fn an_unwritable_cache_folder_does_not_stop_a_run() {
    let p = Project::new(STEPS);
    // A file where the cache folder should be: nothing can be created under it.
    std::fs::write(&p.cache, "not a folder").unwrap();
    let (stdout, stderr) = p.run(&["-o", "report"]);
    assert_eq!(stdout, "report: 40 sales in 4 regions\n");
    assert!(stderr.contains("warning: running without the result cache and run history"), "{stderr}");
    let (ok, _, stderr) = p.cli(&["run", ".", "--from", "sales"]);
    assert!(!ok && stderr.contains("creating the result cache"), "{stderr}");
}

#[test]
fn cache_ls_gc_and_clear() {
    let p = Project::new(STEPS);
    std::fs::write(p.path("data/sales.csv"), sales_csv(6000, 1)).unwrap();
    p.run(&[]);
    std::fs::write(p.path("steps.rhai"), STEPS.replace("sales.height()", "sales.height() * 2")).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    p.run(&[]);
    let (ok, ls, _) = p.cli(&["cache", "ls"]);
    assert!(ok);
    assert!(ls.contains("7 results"), "{ls}");
    // Most recently used first: the first run's `count` and `report` were not used by the second.
    let last: Vec<&str> = ls.lines().skip(6).take(2).map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(last, ["report", "count"], "{ls}");
    // Keep at most the small results: the large `sales` table goes first once it is the least recently used.
    let (ok, out, _) = p.cli(&["cache", "gc", "--max-size", "1MiB"]);
    assert!(ok, "{out}");
    let (ok, out, _) = p.cli(&["cache", "gc", "--max-size", "64KiB"]);
    assert!(ok && out.starts_with("removed "), "{out}");
    let (_, ls, _) = p.cli(&["cache", "ls"]);
    assert!(!ls.lines().any(|l| l.starts_with("sales ")), "{ls}");
    p.run(&[]);
    assert_eq!(p.statuses()["sales"], "ran");
    let (ok, out, _) = p.cli(&["cache", "gc", "--max-size", "1GiB", "--keep-runs", "1"]);
    assert!(ok && out.ends_with("2 old runs dropped from the history\n"), "{out}");
    let (_, list, _) = p.cli(&["runs"]);
    assert_eq!(list.lines().count(), 2, "{list}");
    let (ok, out, _) = p.cli(&["cache", "gc", "--max-size", "lots"]);
    assert!(!ok && out.is_empty());
    let (ok, out, _) = p.cli(&["cache", "clear"]);
    assert!(ok && out.starts_with("removed "), "{out}");
    assert!(p.objects().is_empty());
    p.run(&[]);
    assert_eq!(p.statuses(), all("ran", &NODES));
}

#[test]
fn nondeterministic_nodes_are_not_cached_unless_marked_and_wasi_reads_count() {
    let manifest = r#"
[[components]]
path = "{capabilities}"

[params]
name = "note.txt"

[policy.nodes.env_and_clock]
env = ["WEAVELET_TEST_GRANTED"]
clock = true

[policy.nodes.read_through_wasi]
read = ["data"]
"#;
    let p = Project::new(STEPS);
    manifest_in(p.dir.path(), manifest);
    std::fs::write(p.path("data/note.txt"), "first").unwrap();
    let outputs = ["-o", "env_and_clock", "-o", "read_through_wasi"];
    p.run(&outputs);
    p.run(&outputs);
    let s = p.statuses();
    assert_eq!((s["env_and_clock"].as_str(), s["read_through_wasi"].as_str()), ("ran", "cached"));
    let run = p.last_run();
    let clock = run["nodes"].as_array().unwrap().iter().find(|n| n["node"] == "env_and_clock").unwrap();
    assert!(clock["reason"].as_str().unwrap().contains("granted the clock"), "{clock}");
    // A node that reads its folder through WASI depends on every file in it.
    std::fs::write(p.path("data/note.txt"), "second").unwrap();
    let (stdout, _) = p.run(&outputs);
    assert!(stdout.contains("read_through_wasi: second"), "{stdout}");
    assert_eq!(p.statuses()["read_through_wasi"], "ran");
    // Marked cacheable, the clock node is stored too.
    manifest_in(p.dir.path(), &manifest.replace("clock = true", "clock = true\ncache = true"));
    p.run(&outputs);
    p.run(&outputs);
    assert_eq!(p.statuses()["env_and_clock"], "cached");
    // Its environment value is part of its key.
    let out =
        p.cmd().args(["run", "."]).args(outputs).env("WEAVELET_TEST_GRANTED", "another").output().unwrap();
    assert!(out.status.success());
    assert_eq!(p.statuses()["env_and_clock"], "ran");
}

#[test]
fn transient_failures_are_tried_again_with_backoff_and_violations_are_not() {
    let manifest = r#"
[[components]]
path = "{capabilities}"

[params]
succeed_on = 3

[policy.nodes.flaky]
write = ["state"]
attempts = 3
backoff = "10ms"
"#;
    let p = Project::new(STEPS);
    manifest_in(p.dir.path(), manifest);
    let (stdout, stderr) = p.run(&["-o", "flaky"]);
    assert_eq!(stdout, "flaky: 3\n");
    assert!(stderr.contains("retry    flaky: attempt 1 of 3 failed"), "{stderr}");
    assert!(stderr.contains("finished flaky in") && stderr.contains("(attempt 3)"), "{stderr}");
    assert!(stderr.contains("tried again: `flaky` (3 attempts)"), "{stderr}");
    let run = p.last_run();
    assert_eq!(run["nodes"][0]["attempts"], 3);
    // Two attempts are not enough: the failure stands, and says how many were made.
    std::fs::remove_file(p.path("state/attempts")).unwrap();
    manifest_in(p.dir.path(), &manifest.replace("attempts = 3", "attempts = 2"));
    let (ok, _, stderr) = p.cli(&["run", ".", "-o", "flaky"]);
    assert!(!ok && stderr.contains("the service is unavailable (attempt 2)"), "{stderr}");
    assert_eq!(p.last_run()["nodes"][0]["attempts"], 2);

    // A Rhai node over its operations budget is not tried again, even with attempts.
    let script = "/// @operations 1000\nfn busy(path) { let x = 0; for i in 0..100000 { x += i; } x }\n";
    std::fs::write(p.path("busy.rhai"), script).unwrap();
    manifest_in(
        p.dir.path(),
        "[[scripts]]\npath = \"busy.rhai\"\n[params]\npath = \"data/sales.csv\"\n\
         [policy]\nread = [\"data\"]\nattempts = 3\nbackoff = \"10ms\"\n",
    );
    let (ok, _, stderr) = p.cli(&["run", "."]);
    assert!(!ok && !stderr.contains("retry"), "{stderr}");
    assert_eq!(p.last_run()["nodes"][0]["attempts"], 1);
}

#[test]
fn a_script_cannot_give_itself_more_attempts_or_a_longer_backoff() {
    // It asks for 50 attempts 60 s apart; the operator grants 2, 10 ms apart.
    let p = Project::new(STEPS);
    let script = "/// @attempts 50\n/// @backoff 60s\nfn flaky(path) { read_table(path); throw \"the service is down\" }\n";
    std::fs::write(p.path("flaky.rhai"), script).unwrap();
    manifest_in(
        p.dir.path(),
        "[[scripts]]\npath = \"flaky.rhai\"\n[params]\npath = \"data/sales.csv\"\n\
         [policy]\nread = [\"data\"]\nattempts = 2\nbackoff = \"10ms\"\n",
    );
    let started = std::time::Instant::now();
    let (ok, _, stderr) = p.cli(&["run", "."]);
    assert!(!ok && stderr.contains("the service is down"), "{stderr}");
    assert_eq!(p.last_run()["nodes"][0]["attempts"], 2);
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "{:?}", started.elapsed());
    // Asking for fewer than the operator grants is honoured.
    std::fs::write(p.path("flaky.rhai"), script.replace("@attempts 50", "@attempts 1")).unwrap();
    let (ok, _, _) = p.cli(&["run", "."]);
    assert!(!ok);
    assert_eq!(p.last_run()["nodes"][0]["attempts"], 1);
}

#[test]
fn fingerprinting_a_granted_folder_never_follows_links_or_opens_devices() {
    // SECURITY class 42: the folder a node reads through WASI holds a link to a
    // device, a link out of the grant and a FIFO. Fingerprinting it for the
    // cache must not read the device or the FIFO (either would hang the host),
    // and must see the links change.
    let manifest = r#"
[[components]]
path = "{capabilities}"

[params]
name = "note.txt"

[policy.nodes.read_through_wasi]
read = ["data"]
"#;
    let p = Project::new(STEPS);
    manifest_in(p.dir.path(), manifest);
    std::fs::write(p.path("data/note.txt"), "first").unwrap();
    std::fs::create_dir_all(p.path("outside")).unwrap();
    std::fs::write(p.path("outside/a.txt"), "a").unwrap();
    std::fs::write(p.path("outside/b.txt"), "b").unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/dev/zero", p.path("data/zero")).unwrap();
        std::os::unix::fs::symlink("../outside/a.txt", p.path("data/away.txt")).unwrap();
        let made = std::process::Command::new("mkfifo").arg(p.path("data/pipe")).status().unwrap();
        assert!(made.success());
    }
    // Fingerprinting the device would never end: the run is given a minute.
    let mut child = p
        .cmd()
        .args(["run", ".", "-o", "read_through_wasi"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("the run hung while fingerprinting data/");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("read_through_wasi: first"), "{stdout}");
    p.run(&["-o", "read_through_wasi"]);
    assert_eq!(p.statuses()["read_through_wasi"], "cached");
    // A link pointed elsewhere is a change (recorded by its text, not followed).
    #[cfg(unix)]
    {
        std::fs::remove_file(p.path("data/away.txt")).unwrap();
        std::os::unix::fs::symlink("../outside/b.txt", p.path("data/away.txt")).unwrap();
        p.run(&["-o", "read_through_wasi"]);
        assert_eq!(p.statuses()["read_through_wasi"], "ran");
        // What lies outside the grant is not part of the fingerprint.
        std::fs::write(p.path("outside/b.txt"), "changed").unwrap();
        p.run(&["-o", "read_through_wasi"]);
        assert_eq!(p.statuses()["read_through_wasi"], "cached");
    }
}

/// `manifest` for a project folder (component paths filled in).
fn manifest_in(dir: &Path, text: &str) {
    manifest(dir, text);
}
