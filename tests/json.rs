//! Machine-readable runs: `run --json` (every output whole) and
//! `run --events jsonl`, through the real binary.

use std::path::Path;

use crate::common::*;

fn run(dir: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    weavelet_cmd()
        .current_dir(dir)
        .env_remove("WEAVELET_NO_CACHE")
        .args(["run", ".", "--target", "smoothed", "--target", "trend_chart", "--cache-dir"])
        .arg(dir.join("cache"))
        .args(args)
        .assert()
}

#[test]
fn run_json_gives_every_output_whole() {
    let dir = tempfile::tempdir().unwrap();
    timeseries(dir.path());
    let done = run(dir.path(), &["--json"]).success();
    let doc: serde_json::Value = serde_json::from_slice(&done.get_output().stdout).unwrap();
    assert_eq!(doc["ok"], true, "{doc}");
    assert_eq!(doc["pipeline"], "sales trend");
    assert!(doc["run"].as_i64().unwrap() >= 1);
    // The table: every row (no preview cut), with its schema.
    let csv_rows =
        std::fs::read_to_string(dir.path().join("data/daily_sales.csv")).unwrap().lines().count() - 1;
    let table = &doc["outputs"]["smoothed"]["table"];
    assert_eq!(table["rows"].as_array().unwrap().len(), csv_rows, "{table}");
    let columns: Vec<&str> =
        table["schema"].as_array().unwrap().iter().map(|c| c[0].as_str().unwrap()).collect();
    assert_eq!(columns, ["date", "Daily sales", "7-day mean"]);
    assert!(table["rows"][0]["date"].is_string(), "{}", table["rows"][0]);
    // The chart: the whole SVG document, as the saved file has it.
    let svg = doc["outputs"]["trend_chart"]["svg"].as_str().unwrap();
    assert_eq!(svg.trim_end(), std::fs::read_to_string(dir.path().join("out/trend.svg")).unwrap().trim_end());
    let files = doc["files"].as_array().unwrap();
    assert!(
        files
            .iter()
            .any(|f| f["path"].as_str().unwrap().ends_with("out/trend@2x.png")
                && f["bytes"].as_u64() > Some(0)),
        "{files:?}"
    );
    // The dry run as JSON: nothing would run now.
    let dry = run(dir.path(), &["--dry-run", "--json"]).success();
    let dry: serde_json::Value = serde_json::from_slice(&dry.get_output().stdout).unwrap();
    assert!(dry["steps"].as_array().unwrap().iter().all(|s| s["cached"] == true), "{dry}");
}

#[test]
fn run_events_stream_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    timeseries(dir.path());
    let done = run(dir.path(), &["--events", "jsonl"]).success();
    let text = String::from_utf8_lossy(&done.get_output().stdout).into_owned();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for node in ["daily", "smoothed", "trend_chart"] {
        for event in ["queued", "started", "finished"] {
            assert!(
                lines.iter().any(|l| l["node"] == node && l["event"] == event),
                "no {event} for {node}:\n{text}"
            );
        }
    }
    let last = lines.last().unwrap();
    assert_eq!(last["event"], "done");
    assert_eq!(last["ok"], true);
    assert!(last["outputs"]["trend_chart"]["svg"].is_string());
    // Times go forward; nothing else was written to standard output.
    let times: Vec<i64> = lines.iter().filter_map(|l| l["at_ms"].as_i64()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert!(!String::from_utf8_lossy(&done.get_output().stderr).contains("running sales trend"));
    // A second run: every node from the cache, said so.
    let again = run(dir.path(), &["--events", "jsonl"]).success();
    let text = String::from_utf8_lossy(&again.get_output().stdout).into_owned();
    assert_eq!(text.lines().filter(|l| l.contains("\"event\":\"cached\"")).count(), 3, "{text}");
    // A bad format is refused by the flag.
    run(dir.path(), &["--events", "xml"]).failure().stderr(predicates::str::contains("jsonl"));
}

#[test]
fn the_cache_commands_speak_json() {
    let dir = tempfile::tempdir().unwrap();
    timeseries(dir.path());
    run(dir.path(), &["-q"]).success();
    let cache = |args: &[&str]| -> (serde_json::Value, i32) {
        let out = weavelet_cmd()
            .current_dir(dir.path())
            .arg("cache")
            .args(args)
            .arg("--json")
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .assert();
        let code = out.get_output().status.code().unwrap();
        (serde_json::from_slice(&out.get_output().stdout).unwrap(), code)
    };
    let (ls, _) = cache(&["ls"]);
    let nodes: Vec<&str> =
        ls["results"].as_array().unwrap().iter().map(|e| e["node"].as_str().unwrap()).collect();
    assert_eq!(nodes.len(), 3, "{ls}");
    assert!(nodes.contains(&"smoothed") && nodes.contains(&"trend_chart"), "{ls}");
    let total: u64 = ls["results"].as_array().unwrap().iter().map(|e| e["bytes"].as_u64().unwrap()).sum();
    assert_eq!(ls["bytes"].as_u64(), Some(total));
    assert_eq!(cache(&["verify"]), (serde_json::json!({ "intact": true, "problems": [] }), 0));
    let (gc, _) = cache(&["gc", "--max-size", "0"]);
    assert_eq!(gc["removed_results"], 3, "{gc}");
    assert_eq!(gc["bytes"], 0, "{gc}");
    assert_eq!(cache(&["ls"]).0["results"], serde_json::json!([]));
    let (clear, _) = cache(&["clear", "--history"]);
    assert_eq!(clear["history_cleared"], true);
}
