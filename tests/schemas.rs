//! Every `--json` output of the real binary checked against its documented
//! schema (runtime/cli/schemas/), and the checker shown to catch a mismatch.

use crate::common::schema::{assert_matches, check};
use crate::common::{stdout_of as stdout, weavelet_in as weavelet, *};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn every_json_output_matches_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    timeseries(dir.path());
    let d = dir.path();
    let run = ["run", ".", "--target", "smoothed", "--target", "trend_chart"];
    assert_matches("run", &json(&stdout(&weavelet(d, &[&run[..], &["--json"]].concat()).success())));
    assert_matches(
        "dry-run",
        &json(&stdout(&weavelet(d, &[&run[..], &["--dry-run", "--json"]].concat()).success())),
    );
    let events = stdout(&weavelet(d, &[&run[..], &["--events", "jsonl", "--no-cache"]].concat()).success());
    let lines: Vec<&str> = events.lines().collect();
    for line in &lines[..lines.len() - 1] {
        assert_matches("event", &json(line));
    }
    assert_matches("run", &json(lines[lines.len() - 1]));
    assert_matches("runs", &json(&stdout(&weavelet(d, &["runs", "--json"]).success())));
    assert_matches("run-show", &json(&stdout(&weavelet(d, &["runs", "show", "1", "--json"]).success())));
    assert_matches("runs-diff", &json(&stdout(&weavelet(d, &["runs", "diff", "1", "2", "--json"]))));
    assert_matches("check", &json(&stdout(&weavelet(d, &["check", ".", "--json"]).success())));
    assert_matches(
        "graph",
        &json(&stdout(&weavelet(d, &["graph", ".", "-q", "--format", "json"]).success())),
    );
    assert_matches(
        "graph",
        &json(&stdout(&weavelet(d, &["graph", ".", "-q", "--format", "json", "--run", "last"]).success())),
    );
    assert_matches("cache-ls", &json(&stdout(&weavelet(d, &["cache", "ls", "--json"]).success())));
    assert_matches("cache-verify", &json(&stdout(&weavelet(d, &["cache", "verify", "--json"]).success())));
    assert_matches(
        "cache-gc",
        &json(&stdout(&weavelet(d, &["cache", "gc", "--max-size", "1KiB", "--json"]).success())),
    );

    // A failing script: its problems, its logs, a failed run.
    std::fs::write(d.join("p.rhai"), "fn a() { print(\"hello\"); 1 }\n\nfn b(a, missing) { a }\n").unwrap();
    assert_matches("check", &json(&stdout(&weavelet(d, &["check", "p.rhai", "--json"]).code(2))));
    std::fs::write(d.join("p.rhai"), "fn a() { print(\"hello\"); 1 }\n\nfn b(a) { throw \"no\" }\n").unwrap();
    assert_matches("run", &json(&stdout(&weavelet(d, &["run", "p.rhai", "--json"]).code(1))));
    let logs = stdout(&weavelet(d, &["logs", "last", "--json"]).success());
    assert!(!logs.is_empty());
    for line in logs.lines() {
        assert_matches("logs", &json(line));
    }
    assert_matches(
        "cache-clear",
        &json(&stdout(&weavelet(d, &["cache", "clear", "--history", "--json"]).success())),
    );
}

#[test]
fn a_component_asking_for_every_capability_matches_the_inspect_schema() {
    let out = weavelet_cmd().args(["inspect", "--json", CAPABILITY_NODES]).assert().success();
    let doc = json(&stdout(&out));
    assert_matches("inspect-component", &doc);
    let asked: Vec<&serde_json::Value> =
        doc["nodes"].as_array().unwrap().iter().flat_map(|n| n["capabilities"].as_array().unwrap()).collect();
    assert!(asked.len() >= 3, "{doc}");
}

#[test]
fn the_schema_checker_catches_what_does_not_match() {
    let good = serde_json::json!({ "intact": true, "problems": [] });
    assert!(check("cache-verify", &good).is_empty());
    let missing = serde_json::json!({ "intact": true });
    assert_eq!(check("cache-verify", &missing), ["$: `problems` is missing"]);
    let extra = serde_json::json!({ "intact": true, "problems": [], "more": 1 });
    assert_eq!(check("cache-verify", &extra), ["$.more: not in the schema"]);
    let wrong = serde_json::json!({ "intact": "yes", "problems": [3] });
    assert_eq!(check("cache-verify", &wrong).len(), 2, "{:?}", check("cache-verify", &wrong));
    let bad_sha =
        serde_json::json!({ "component": "x", "bytes": 1, "sha256": "XYZ", "language": "rust", "nodes": [] });
    assert_eq!(check("build", &bad_sha).len(), 1);
}
