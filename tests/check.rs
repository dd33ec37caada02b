//! `weavelet check`: planning's verdict without building, fetching or
//! running, with exit statuses for CI; through the real binary.

use crate::common::*;
use crate::common::{stdout_of as stdout, weavelet_in as weavelet};

const GOOD: &str = r#"
/// @input n int
fn numbers(n) { n }
fn doubled(numbers) { numbers * 2 }
/// @output text
fn report(doubled) { `${doubled}` }
"#;

#[test]
fn a_pipeline_that_plans_passes_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.rhai"), GOOD).unwrap();
    weavelet(dir.path(), &["check", "p.rhai", "-p", "n=3"])
        .code(0)
        .stdout("ok: p plans: 3 nodes, 1 parameter (n), output report\n");
    let json: serde_json::Value = serde_json::from_str(&stdout(
        &weavelet(dir.path(), &["check", "p.rhai", "-p", "n=3", "--json"]).code(0),
    ))
    .unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["targets"], serde_json::json!(["report"]));
    assert_eq!(json["nodes"][1]["inputs"][0]["from"]["node"], "numbers");
    assert_eq!(json["nodes"][0]["inputs"][0]["from"]["param"], "n");
    // A component pipeline, prebuilt: checked, and no run is recorded.
    let text = std::fs::read_to_string(repo().join("examples/diamond/weavelet.toml")).unwrap();
    manifest(dir.path(), &text.replace("rust = \"../../guests/diamond\"", "path = \"{diamond}\""));
    weavelet(dir.path(), &["check", "."])
        .code(0)
        .stdout(predicates::str::starts_with("ok: sensor report plans: 4 nodes"));
    weavelet(dir.path(), &["runs"]).success().stderr(predicates::str::contains("no runs recorded"));
}

#[test]
fn every_planning_problem_is_listed_with_exit_status_2() {
    let dir = tempfile::tempdir().unwrap();
    // A misspelt input and a missing parameter, found together.
    std::fs::write(
        dir.path().join("p.rhai"),
        "/// @input n int\nfn numbers(n) { n }\nfn doubled(numbrs) { numbrs * 2 }\n",
    )
    .unwrap();
    let failed = weavelet(dir.path(), &["check", "p.rhai"]).code(2);
    let stderr = String::from_utf8_lossy(&failed.get_output().stderr).into_owned();
    assert!(stderr.contains("numbrs") && stderr.contains("did you mean `numbers`"), "{stderr}");
    assert!(stderr.contains("needs `n` (int)") && stderr.contains("--param n=<int>"), "{stderr}");
    assert!(stderr.contains("(2 problems)"), "{stderr}");
    // Each points at the script's line, the misspelt name underlined.
    assert!(stderr.contains("p.rhai:3:12: node `doubled` (p.rhai) needs `numbrs`"), "{stderr}");
    assert!(stderr.contains("3 | fn doubled(numbrs) { numbrs * 2 }\n    |            ^^^^^^\n"), "{stderr}");
    assert!(stderr.contains("p.rhai:2:12: node `numbers` (p.rhai) needs `n`"), "{stderr}");
    // `run` says the same.
    weavelet(dir.path(), &["run", "p.rhai", "-p", "n=1"])
        .code(2)
        .stderr(predicates::str::contains("p.rhai:3:12: node `doubled`"));
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&weavelet(dir.path(), &["check", "p.rhai", "--json"]).code(2))).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["kind"], "plan");
    assert_eq!(json["problems"].as_array().unwrap().len(), 2, "{json}");
    let doubled = json["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["message"].as_str().unwrap().contains("numbrs"));
    let doubled = doubled.unwrap();
    assert_eq!((doubled["line"].as_u64(), doubled["column"].as_u64()), (Some(3), Some(12)), "{json}");
    assert!(doubled["file"].as_str().unwrap().ends_with("p.rhai"), "{json}");
    // A manifest that does not parse: still 2, with the line.
    std::fs::write(dir.path().join("weavelet.toml"), "[pipeline]\noutputs = [\n").unwrap();
    weavelet(dir.path(), &["check", "."]).code(2).stderr(predicates::str::contains("weavelet.toml"));
}

#[test]
fn an_unbuilt_node_folder_is_not_built_by_check() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("nodes")).unwrap();
    std::fs::write(
        dir.path().join("nodes/nodes.py"),
        "from weavelet import node\n\n@node\ndef one() -> int:\n    return 1\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("weavelet.toml"), "[[components]]\npython = \"nodes\"\n").unwrap();
    // Whatever toolchains this machine has, check runs none of them.
    weavelet_cmd()
        .current_dir(dir.path())
        .env("PATH", "")
        .args(["check", ".", "--cache-dir"])
        .arg(dir.path().join("cache"))
        .assert()
        .code(3)
        .stderr(predicates::str::contains("is not built as its files are now"))
        .stderr(predicates::str::contains("weavelet build"));
    assert!(!dir.path().join("cache/builds").exists(), "nothing was built");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&weavelet(dir.path(), &["check", ".", "--json"]).code(3))).unwrap();
    assert_eq!(json["kind"], "not-prepared");
}

#[test]
fn inspect_describes_a_pipeline_and_a_script_without_building() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.rhai"),
        "/// @input n int\nfn numbers(n) { n }\n/// @timeout 2s\n/// @cache false\nfn doubled(numbers) { numbers * 2 }\n",
    )
    .unwrap();
    // A parameter nobody set is shown as required, not as an error.
    let text = stdout(&weavelet(dir.path(), &["inspect", "p.rhai"]).success());
    assert!(text.contains("pipeline p (p.rhai)") && text.contains("outputs  doubled"), "{text}");
    assert!(text.contains("n: int (required, not set)   (read by numbers)"), "{text}");
    assert!(text.contains("node doubled -> any   from p.rhai   [output]\n    numbers <- numbers"), "{text}");
    // Each node's effective policy: the script's own @timeout and @cache narrow it.
    assert!(text.contains("budgets  timeout 2.00 s"), "{text}");
    assert!(text.contains("results  never cached"), "{text}");
    // A manifest with a parameter value and a grant, as JSON.
    std::fs::write(
        dir.path().join("weavelet.toml"),
        "[[scripts]]\npath = \"p.rhai\"\n[params]\nn = 4\n[policy.nodes.numbers]\nclock = true\n",
    )
    .unwrap();
    let json: serde_json::Value = serde_json::from_str(&stdout(
        &weavelet(dir.path(), &["inspect", "weavelet.toml", "--json"]).success(),
    ))
    .unwrap();
    crate::common::schema::assert_matches("inspect-pipeline", &json);
    assert_eq!(json["params"][0]["value"], 4, "{json}");
    assert_eq!(json["params"][0]["required"], false);
    assert_eq!(json["nodes"][0]["name"], "numbers");
    assert_eq!(json["nodes"][0]["policy"]["grants"], "clock", "{json}");
    assert!(json["nodes"][0]["policy"]["results"].as_str().unwrap().starts_with("not cached"), "{json}");
}
