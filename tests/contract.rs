//! Components built against an older WIT contract: `weavelet:node@0.3.0`,
//! whose boolean case was `boolean` before it became `bool`, still run —
//! booleans, their lists and a table through the 0.3.0 host interfaces — with
//! a warning to rebuild them; a contract the host does not know is refused.

use predicates::prelude::*;
use weavelet_test_artifacts::{FIXTURE_NODES, OLDER_NODES};

use crate::common::{stdout_of, weavelet_cmd, weavelet_in};

const OLDER_PIPELINE: &str = r#"
[pipeline]
targets = ["negate", "flags", "count_set", "rows"]

[[components]]
path = "{older}"

[[scripts]]
path = "data.rhai"

[params]
flag = true
count = 5

[policy]
read = ["data"]
"#;

fn older_pipeline(dir: &std::path::Path) {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/rows.csv"), "x\n1\n2\n3\n4\n5\n6\n7\n").unwrap();
    std::fs::write(dir.join("data.rhai"), "fn data() { read_table(\"data/rows.csv\") }\n").unwrap();
    let manifest = OLDER_PIPELINE.replace("{older}", &OLDER_NODES.replace('\\', "/"));
    std::fs::write(dir.join("weavelet.toml"), manifest).unwrap();
}

#[test]
fn a_component_built_against_the_older_contract_runs_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    older_pipeline(dir.path());
    let run = weavelet_in(dir.path(), &["run", ".", "--json"]).success();
    let doc: serde_json::Value = serde_json::from_str(&stdout_of(&run)).unwrap();
    crate::common::schema::assert_matches("run", &doc);
    let outputs = &doc["outputs"];
    assert_eq!(outputs["negate"], serde_json::json!(false), "{doc}");
    assert_eq!(outputs["flags"], serde_json::json!([true, false, true, false, true]), "{doc}");
    assert_eq!(outputs["count_set"], serde_json::json!(3), "{doc}");
    assert_eq!(outputs["rows"], serde_json::json!(7), "{doc}");
    // One warning for the component, not one per node.
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).to_string();
    let warning =
        "older_nodes.wasm was built against weavelet:node@0.3.0, an older contract this weavelet still runs";
    assert_eq!(stderr.matches(warning).count(), 1, "{stderr}");
    assert!(stderr.contains("to target weavelet:node@0.4.0"), "{stderr}");

    // `check` says it too, and still passes.
    weavelet_in(dir.path(), &["check", "."]).success().stderr(predicate::str::contains(warning));
    // A `bool` parameter of the wrong type is refused by the plan, as for any node.
    weavelet_in(dir.path(), &["run", ".", "--param", "flag=3"])
        .failure()
        .stderr(predicate::str::contains("flag").and(predicate::str::contains("bool")));
}

#[test]
fn inspect_names_each_components_contract() {
    let out = weavelet_cmd().args(["inspect", OLDER_NODES]).assert().success();
    let text = stdout_of(&out);
    assert!(text.contains("built against weavelet:node@0.3.0"), "{text}");
    assert!(text.contains("note: ") && text.contains("help: rebuild it with the current SDK"), "{text}");
    // The older contract's `boolean` reads as the one name, `bool`.
    assert!(text.contains("node negate(flag: bool) -> bool"), "{text}");
    assert!(text.contains("node count_set(flags: bool-list) -> int"), "{text}");
    assert!(text.contains("weavelet:node/types@0.3.0"), "{text}");

    let out = weavelet_cmd().args(["inspect", "--json", OLDER_NODES]).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    crate::common::schema::assert_matches("inspect-component", &doc);
    assert_eq!(doc["contract"], "weavelet:node@0.3.0");
    assert!(doc["outdated"].as_str().unwrap().contains("older contract"), "{doc}");

    let out = weavelet_cmd().args(["inspect", "--json", FIXTURE_NODES]).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["contract"], "weavelet:node@0.4.0");
    assert!(doc["outdated"].is_null(), "{doc}");
}

#[test]
fn a_contract_the_host_does_not_run_is_refused_naming_it() {
    // A component from a newer weavelet: the same module, its contract 0.9.0.
    let wasm = crate::common::wat_component_for("start_loop", "0.9.0");
    weavelet_cmd()
        .args(["inspect", &wasm])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "it exports `weavelet:node/node@0.9.0`, a contract this weavelet does not run (it runs \
             `weavelet:node/node@0.4.0`, `weavelet:node/node@0.3.0`)",
        ))
        .stderr(predicate::str::contains("update weavelet"));
}

#[test]
fn a_compatible_patch_version_runs_as_its_series() {
    // 0.4.1 is compatible with 0.4.0 (semver, as wasmtime matches names): it
    // loads, declares its node and is not called outdated.
    let wasm = crate::common::wat_component_for("realloc_loop", "0.4.1");
    let out = weavelet_cmd().args(["inspect", "--json", &wasm]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["contract"], "weavelet:node@0.4.0");
    assert!(doc["outdated"].is_null(), "{doc}");
    assert_eq!(doc["nodes"][0]["name"], "realloc_loop");
}

#[test]
fn version_names_the_contracts_it_runs() {
    weavelet_cmd()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::contains("WIT weavelet:node@0.4.0, also runs 0.3.0;"));
}
