//! Node logs kept in the run history, and `weavelet logs`, through the real binary.

use crate::common::*;
use crate::common::{stdout_of as stdout, weavelet_in as weavelet};

const SCRIPT: &str = r#"
/// @input n int
fn chatty(n) {
    for i in 0..n { print(`line ${i}`); }
    debug("a detail");
    n
}

fn quiet(chatty) { chatty + 1 }

fn failing(quiet) {
    print("about to fail");
    throw "it went wrong"
}
"#;

#[test]
fn node_logs_outlive_the_run_and_are_read_back() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.rhai"), SCRIPT).unwrap();
    weavelet(dir.path(), &["run", "-q", "p.rhai", "-p", "n=3"]).failure();
    let all = stdout(&weavelet(dir.path(), &["logs", "last"]).success());
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), 5, "{all}");
    assert!(lines[0].ends_with("  chatty  info   line 0"), "{all}");
    assert!(lines[3].contains("  chatty  debug  ") && lines[3].contains("a detail"), "{all}");
    assert!(lines[4].ends_with("  failing  info   about to fail"), "{all}");
    // One node; a level; JSON lines.
    let one = stdout(&weavelet(dir.path(), &["logs", "1", "failing"]).success());
    assert_eq!(one.lines().count(), 1, "{one}");
    let info = stdout(&weavelet(dir.path(), &["logs", "last", "--level", "info"]).success());
    assert!(!info.contains("a detail") && info.contains("line 2"), "{info}");
    let json = stdout(&weavelet(dir.path(), &["logs", "last", "chatty", "--json"]).success());
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(first["node"], "chatty");
    assert_eq!(first["level"], "info");
    assert_eq!(first["message"], "line 0");
    assert_eq!(first["run"], 1);
    // A node the run did not have, a run that does not exist, a bad level: said.
    weavelet(dir.path(), &["logs", "last", "chaty"]).failure().stderr(predicates::str::contains(
        "run 1 has no node `chaty`; its nodes: `chatty`, `quiet`, `failing`",
    ));
    weavelet(dir.path(), &["logs", "7"]).failure().stderr(predicates::str::contains("no run 7"));
    weavelet(dir.path(), &["logs", "last", "--level", "loud"])
        .failure()
        .stderr(predicates::str::contains("`loud` is not a level"));
    // A node from the cache wrote nothing this time.
    weavelet(dir.path(), &["run", "-q", "p.rhai", "-p", "n=3", "--output", "quiet"]).success();
    weavelet(dir.path(), &["logs", "last"])
        .success()
        .stdout("")
        .stderr(predicates::str::contains("run 2 has no log lines"));
}

#[test]
fn a_node_that_floods_its_log_keeps_a_bounded_share() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.rhai"),
        "/// @input n int\nfn flood(n) { for i in 0..n { print(`flood ${i}`); } n }\n",
    )
    .unwrap();
    weavelet(dir.path(), &["run", "-q", "p.rhai", "-p", "n=5000"]).success();
    let all = stdout(&weavelet(dir.path(), &["logs", "last"]).success());
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), weavelet::MAX_LOG_LINES + 1, "the kept lines and one saying how many were not");
    assert!(lines[weavelet::MAX_LOG_LINES - 1].ends_with(&format!("flood {}", weavelet::MAX_LOG_LINES - 1)));
    assert!(lines.last().unwrap().contains("… 3000 more lines not kept"), "{}", lines.last().unwrap());
}

#[test]
fn logs_follow_a_run_under_way_until_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.rhai"),
        "fn first() { print(\"first done\"); 1 }\n\
         fn slow(first) { let x = 0; for i in 0..4000000 { x += i; } print(\"slow done\"); x }\n",
    )
    .unwrap();
    let bin = assert_cmd::cargo::cargo_bin("weavelet");
    let cache = dir.path().join("cache");
    let mut run = std::process::Command::new(&bin)
        .current_dir(dir.path())
        .args(["run", "-q", "p.rhai", "--cache-dir"])
        .arg(&cache)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Once the run is in the history, follow it.
    let started = std::time::Instant::now();
    while !stdout(&weavelet(dir.path(), &["runs"])).contains("running") {
        assert!(started.elapsed().as_secs() < 30, "the run never showed as running");
        if run.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let follow = std::process::Command::new(&bin)
        .current_dir(dir.path())
        .args(["logs", "last", "--follow", "--cache-dir"])
        .arg(&cache)
        .output()
        .unwrap();
    let ran = run.wait().unwrap();
    assert!(ran.success());
    let text = String::from_utf8_lossy(&follow.stdout);
    assert!(follow.status.success(), "{}", String::from_utf8_lossy(&follow.stderr));
    assert!(text.contains("first  info   first done") && text.contains("slow  info   slow done"), "{text}");
}

#[test]
fn what_a_component_prints_is_part_of_its_log() {
    let dir = tempfile::tempdir().unwrap();
    manifest(
        dir.path(),
        "[pipeline]\noutputs = [\"panics\"]\n[params]\nx = 3\n[[components]]\npath = \"{fixtures}\"\n",
    );
    weavelet(dir.path(), &["run", "-q", "."]).failure();
    // Rust's panic message goes to stderr; it is in the node's log, in the history.
    let all = stdout(&weavelet(dir.path(), &["logs", "last", "panics"]).success());
    assert!(
        all.contains("panics  info   printed: ") && all.contains("fixture panic on purpose with x = 3"),
        "{all}"
    );
}

#[test]
fn runs_are_filtered_by_pipeline_and_status() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.rhai"), "fn one() { 1 }\n").unwrap();
    std::fs::write(dir.path().join("bad.rhai"), "fn boom() { throw \"no\" }\n").unwrap();
    weavelet(dir.path(), &["run", "-q", "good.rhai"]).success();
    weavelet(dir.path(), &["run", "-q", "bad.rhai"]).failure();
    weavelet(dir.path(), &["run", "-q", "good.rhai", "--no-cache"]).success();
    // Paths under the current folder are shown relative to it.
    let good = stdout(&weavelet(dir.path(), &["runs", "--pipeline", "good.rhai"]).success());
    let rows: Vec<&str> = good.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{good}");
    assert!(rows.iter().all(|r| r.ends_with("  good.rhai") && r.contains(" ok ")), "{good}");
    let failed = stdout(&weavelet(dir.path(), &["runs", "--status", "failed"]).success());
    assert_eq!(failed.lines().count(), 2, "{failed}");
    assert!(failed.lines().nth(1).unwrap().ends_with("  bad.rhai"), "{failed}");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&weavelet(dir.path(), &["runs", "--json", "-n", "1"]).success()))
            .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(json[0]["id"], 3);
    assert_eq!(json[0]["ran"], 1);
    weavelet(dir.path(), &["runs", "--status", "lost"]).failure();
}
