//! Rhai nodes: resolution by parameter names, mixing with components, every
//! script limit, diagnostics, and one-file pipelines through the CLI.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// As in the `weavelet` binary: gives scripts a total memory budget.
#[global_allocator]
static ALLOC: weavelet::CountingAllocator = weavelet::CountingAllocator;

use std::path::Path;
use std::time::Duration;

use crate::common::*;
use assert_cmd::Command;
use predicates::prelude::*;
use weavelet::{Budgets, RunOptions};
use weavelet::{FailureKind, Pipeline, Policy, Runtime, Script, Value};

fn script(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn limits_script() -> std::path::PathBuf {
    crate::common::repo().join("tests/scripts/limits.rhai")
}

const REPORT: &str = r#"
/// Numbers from 1 to `n`.
/// @output int-list
fn numbers(n) {
    let out = [];
    for i in 1..=n { out.push(i); }
    out
}

/// Their sum.
fn total(numbers) {
    print(`summing ${numbers.len()} numbers`);
    numbers.reduce(|sum, x| sum + x, 0)
}

/// Their mean, with a helper that is not a node.
fn mean(numbers, total) { _ratio(total, numbers.len()) }

fn _ratio(a, b) { a.to_float() / b.to_float() }
"#;

#[test]
fn script_functions_are_nodes_and_parameter_names_are_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let s = Script::load(script(dir.path(), "report.rhai", REPORT)).unwrap();
    let names: Vec<&str> = s.decls().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["numbers", "total", "mean"], "helpers starting with _ are not nodes");
    let mean = s.decls().find(|d| d.name == "mean").unwrap();
    assert_eq!(mean.inputs.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["numbers", "total"]);
    assert_eq!(mean.doc, "Their mean, with a helper that is not a node.");
    let numbers = s.decls().find(|d| d.name == "numbers").unwrap();
    assert_eq!(numbers.doc, "Numbers from 1 to `n`.");
    assert_eq!(numbers.output, weavelet::ValueType::IntList);

    let rt = runtime();
    let mut p = Pipeline::new();
    p.add_nodes(s.nodes());
    p.set_param("n", Value::Int(4));
    let report = rt.run(&p.plan(&["mean"]).unwrap(), RunOptions::new()).unwrap();
    report.check().unwrap();
    assert_eq!(report.output("mean"), Some(&Value::Float(2.5)));
}

#[test]
fn scripts_and_components_feed_each_other_both_ways() {
    // script `x` → component `inc` → script `doubled`; component `readings` → script `count`.
    let dir = tempfile::tempdir().unwrap();
    let s = Script::load(script(
        dir.path(),
        "mixed.rhai",
        "fn x(start) { start + 1 }\nfn doubled(inc) { inc * 2 }\nfn count(readings) { readings.len() }\n",
    ))
    .unwrap();
    let rt = runtime();
    let fixtures = load(&rt, FIXTURE_NODES);
    let diamond = load(&rt, DIAMOND_NODES);
    let mut p = Pipeline::new();
    p.add_nodes(s.nodes());
    p.add_node(fixtures.node("inc").unwrap());
    p.add_node(diamond.node("readings").unwrap());
    p.set_param("start", Value::Int(20));
    p.set_param("count", Value::Int(7));
    let err = plan_error(&p, &["doubled"]);
    assert!(err.contains("parameter `count` has the same name as node `count`"), "{err}");

    let mut p = Pipeline::new();
    p.add_nodes(s.nodes());
    p.add_node(fixtures.node("inc").unwrap());
    p.add_node(diamond.node("readings").unwrap().bind("count", "how_many").unwrap());
    p.set_param("start", Value::Int(20));
    p.set_param("how_many", Value::Int(7));
    let report = rt.run(&p.plan(&["doubled", "count"]).unwrap(), RunOptions::new()).unwrap();
    report.check().unwrap();
    assert_eq!(report.output("doubled"), Some(&Value::Int(44)));
    assert_eq!(report.output("count"), Some(&Value::Int(7)));
}

#[test]
fn a_script_parameter_that_matches_nothing_gets_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let s = Script::load(script(dir.path(), "typo.rhai", "fn total(numbrs) { 1 }\nfn numbers() { [1] }\n"))
        .unwrap();
    let mut p = Pipeline::new();
    p.add_nodes(s.nodes());
    let err = plan_error(&p, &["total"]);
    assert!(
        err.contains(
            "node `total` (typo.rhai) needs `numbrs` (any), but no node or parameter is called `numbrs`"
        ),
        "{err}"
    );
    assert!(err.contains("did you mean `numbers`?"), "{err}");
}

/// Runs `node` of limits.rhai beside `fine` and returns the failure; `fine` must finish.
fn broken(node: &str, policy: Policy) -> weavelet::NodeFailure {
    let rt = Runtime::new(crate::common::config().cache_dir(None).policy(policy.clone())).unwrap();
    let s = Script::load(limits_script()).unwrap();
    let mut p = Pipeline::new();
    p.add_nodes(s.nodes());
    p.set_param("x", Value::Int(3));
    let report = rt.run(&p.plan(&[node, "fine"]).unwrap(), RunOptions::new()).unwrap();
    assert_eq!(report.output("fine"), Some(&Value::Int(30)), "the independent node did not finish");
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    report.failures[0].clone()
}

#[test]
fn rhai_loop_is_stopped_by_the_operation_budget() {
    let f = broken(
        "spins",
        Policy { budgets: Budgets { operations: 100_000, ..Budgets::default() }, ..Policy::default() },
    );
    assert_eq!(f.kind, FailureKind::Limit { limit: "operations".into() });
    assert!(
        f.to_string()
            .starts_with("node `spins` (limits.rhai:4) was stopped: operation budget of 100000 exceeded"),
        "{f}"
    );
}

#[test]
fn rhai_loop_is_stopped_by_the_deadline() {
    let f = broken("spins", Policy::default().with_timeout(Duration::from_millis(100)));
    assert_eq!(f.kind, FailureKind::Timeout(Duration::from_millis(100)));
    assert!(f.to_string().contains("wall-time budget of 100ms exceeded"), "{f}");
}

#[test]
fn rhai_recursion_hits_the_call_depth_limit() {
    let f = broken("recurses", Policy::default());
    assert_eq!(f.kind, FailureKind::Limit { limit: "call depth".into() });
    assert!(f.to_string().contains("call depth limit of 32 exceeded"), "{f}");
}

#[test]
fn rhai_huge_string_hits_the_string_limit() {
    let f = broken("huge_string", Policy::default());
    assert_eq!(f.kind, FailureKind::Limit { limit: "length of string".into() });
}

#[test]
fn rhai_huge_array_hits_the_array_limit() {
    let f = broken("huge_array", Policy::default());
    assert_eq!(f.kind, FailureKind::Limit { limit: "size of array/blob".into() });
}

#[test]
fn rhai_many_arrays_count_towards_their_container() {
    let f = broken("many_arrays", Policy::default());
    assert_eq!(f.kind, FailureKind::Limit { limit: "size of array/blob".into() });
}

#[test]
fn rhai_many_arrays_in_many_variables_hit_the_total_memory_budget() {
    assert!(weavelet::counting_allocator_installed());
    let f = broken("hoards", Policy::default().with_memory(32 << 20));
    assert_eq!(f.kind, FailureKind::Memory { limit: 32 << 20 });
    assert!(
        f.to_string().contains("was stopped: memory budget of 32.0 MiB exceeded (the script held"),
        "{f}"
    );
}

#[test]
fn rhai_sleep_does_not_exist() {
    let f = broken("sleeps", Policy::default());
    assert!(
        f.to_string()
            .contains("(limits.rhai:24) failed: function not available in Weavelet scripts: sleep (i64)"),
        "{f}"
    );
}

#[test]
fn rhai_runtime_errors_name_node_script_and_line() {
    let f = broken("throws", Policy::default());
    assert_eq!(f.to_string(), "node `throws` (limits.rhai:29) failed: thrown: cannot handle 4");
    let f = broken("returns_a_map", Policy::default());
    assert_eq!(f.kind, FailureKind::WrongOutputType);
    assert!(f.to_string().contains("it returned a map, which cannot flow between nodes"), "{f}");
}

#[test]
fn rhai_import_of_host_files_is_a_syntax_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(dir.path(), "imp.rhai", "import \"/etc/passwd\" as p;\nfn a(x) { x }\n");
    let err = Script::load(&path).unwrap_err().to_string();
    assert!(err.contains("imp.rhai:1:1: syntax error: 'import' is a reserved keyword"), "{err}");
    assert!(err.contains("help: scripts cannot import modules or files"), "{err}");
}

#[test]
fn rhai_eval_is_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(dir.path(), "ev.rhai", "fn a(x) { eval(\"x + 1\") }\n");
    let err = Script::load(&path).unwrap_err().to_string();
    assert!(err.contains("syntax error: reserved keyword 'eval' is disabled"), "{err}");
}

#[test]
fn syntax_error_shows_file_line_column_and_caret() {
    let dir = tempfile::tempdir().unwrap();
    let path =
        script(dir.path(), "broken.rhai", "/// Fine.\nfn a(x) { x }\n\nfn b(y) {\n    let z = (y + ;\n}\n");
    let err = Script::load(&path).unwrap_err().to_string();
    let expected = format!(
        "{}:5:18: syntax error: Unexpected ';'\n  |\n5 |     let z = (y + ;\n  |                  ^",
        path.display()
    );
    assert_eq!(err, expected);
}

#[test]
fn node_settings_in_doc_comments() {
    let dir = tempfile::tempdir().unwrap();
    let text = "/// Allowed very little.\n/// @operations 50\n/// @input n int\nfn busy(n) { let s = 0; for i in 0..n { s += i; } s }\n";
    let s = Script::load(script(dir.path(), "settings.rhai", text)).unwrap();
    let decl = s.decls().next().unwrap();
    assert_eq!(decl.doc, "Allowed very little.");
    assert_eq!(decl.inputs[0].ty, weavelet::ValueType::Int);
    let rt = runtime();
    let mut p = Pipeline::new();
    p.add_nodes(s.nodes());
    p.set_param("n", Value::Int(1000));
    let report = rt.run(&p.plan(&[]).unwrap(), RunOptions::new()).unwrap();
    assert!(report.failures[0].message.contains("operation budget of 50 exceeded"), "{:?}", report.failures);

    let bad = "/// @colour blue\nfn a(x) { x }\n";
    let err = Script::load(script(dir.path(), "bad.rhai", bad)).unwrap_err().to_string();
    assert!(err.contains("bad.rhai:2:1: node `a`: unknown or malformed setting `@colour blue`"), "{err}");
    assert!(err.contains("help: node settings go in the doc comment"), "{err}");
}

#[test]
fn cli_runs_a_one_file_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(dir.path(), "report.rhai", REPORT);
    Command::new(env!("CARGO_BIN_EXE_weavelet"))
        .env("WEAVELET_CACHE_DIR", dir.path())
        .args(["run"])
        .arg(&path)
        .args(["--param", "n=10", "--output", "mean", "--output", "total"])
        .assert()
        .success()
        .stdout("mean: 5.5\ntotal: 55\n")
        .stderr(predicate::str::contains("running report (3 nodes"))
        .stderr(predicate::str::contains("log      total info: summing 10 numbers"));
}

#[test]
fn cli_reports_a_script_syntax_error_with_exit_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(dir.path(), "broken.rhai", "fn a(x) {\n  x +\n");
    Command::new(env!("CARGO_BIN_EXE_weavelet"))
        .env("WEAVELET_CACHE_DIR", dir.path())
        .args(["run"])
        .arg(&path)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("broken.rhai:3:1: syntax error"));
}

#[test]
fn manifest_lists_scripts_beside_components() {
    let dir = tempfile::tempdir().unwrap();
    script(dir.path(), "post.rhai", "/// Scales the total.\nfn scaled(total, factor) { total * factor }\n");
    let m = manifest(
        dir.path(),
        "[[components]]\npath = \"{diamond}\"\n\n[[scripts]]\npath = \"post.rhai\"\n\n[params]\ncount = 2\nfactor = 2\n",
    );
    Command::new(env!("CARGO_BIN_EXE_weavelet"))
        .env("WEAVELET_CACHE_DIR", dir.path())
        .args(["run", "--output", "scaled"])
        .arg(&m)
        .assert()
        .success()
        .stdout("scaled: 81.03999999999999\n");
}
