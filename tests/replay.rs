//! `weavelet runs replay` and `weavelet runs diff` over the history a real
//! run records (parameters, each node's code and grants, output identities),
//! and the history's local times, through the real binary.

use crate::common::*;
use crate::common::{stdout_of as stdout, weavelet_in as weavelet};
use predicates::prelude::PredicateBooleanExt as _;

const SCRIPT: &str = r#"
/// @input n int
fn base(n) { n * 2 }

fn double(base) { base + 1 }

fn out(double) { `${double}!` }
"#;

fn runs_recorded(dir: &std::path::Path) -> usize {
    let json = stdout(&weavelet(dir, &["runs", "--json", "-n", "100"]).success());
    serde_json::from_str::<serde_json::Value>(&json).unwrap().as_array().unwrap().len()
}

#[test]
fn a_run_is_replayed_exactly_or_refused_naming_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("p.rhai");
    std::fs::write(&script, SCRIPT).unwrap();
    weavelet(dir.path(), &["run", "-q", "p.rhai", "-p", "n=5", "--save", "out=out.txt"]).success().stdout("");
    std::fs::remove_file(dir.path().join("out.txt")).unwrap();

    // From another folder: the run's command, from the run's folder, with its parameter.
    let elsewhere = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let cache = cache.to_str().unwrap();
    weavelet_cmd()
        .current_dir(elsewhere.path())
        .env_remove("WEAVELET_NO_CACHE")
        .args(["runs", "replay", "1", "--cache-dir", cache])
        .assert()
        .success()
        .stderr(predicates::str::contains("replaying run 1"))
        .stderr(predicates::str::contains(
            "replay of run 1: run 2, every output (3) computed from the same inputs",
        ));
    assert_eq!(std::fs::read_to_string(dir.path().join("out.txt")).unwrap(), "11!\n");
    let show: serde_json::Value =
        serde_json::from_str(&stdout(&weavelet(dir.path(), &["runs", "show", "2", "--json"]).success()))
            .unwrap();
    assert!(show["command"].as_str().unwrap().starts_with("weavelet runs replay 1 ("), "{show}");
    assert_eq!(show["params"]["n"], 5);
    assert_eq!(show["targets"], serde_json::json!(["out"]));
    let statuses: Vec<&str> =
        show["nodes"].as_array().unwrap().iter().map(|n| n["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["cached", "cached", "cached"]);
    // --fresh computes every node again.
    weavelet(dir.path(), &["runs", "replay", "1", "--fresh"]).success();
    let show: serde_json::Value =
        serde_json::from_str(&stdout(&weavelet(dir.path(), &["runs", "show", "last", "--json"]).success()))
            .unwrap();
    assert!(show["nodes"].as_array().unwrap().iter().all(|n| n["status"] == "ran"), "{show}");

    // A comment is not the code: said, and replayed.
    std::fs::write(&script, format!("// a comment\n{SCRIPT}")).unwrap();
    weavelet(dir.path(), &["runs", "replay", "1"])
        .success()
        .stderr(predicates::str::contains("the pipeline file changed since run 1, but every planned node"));
    // A node's code is: refused, naming it, and nothing runs.
    std::fs::write(&script, SCRIPT.replace("base + 1", "base + 2")).unwrap();
    let before = runs_recorded(dir.path());
    weavelet(dir.path(), &["runs", "replay", "1"])
        .code(2)
        .stderr(predicates::str::contains("run 1 cannot be replayed exactly: since then"))
        .stderr(predicates::str::contains("code `double`: its code in p.rhai changed"))
        .stderr(predicates::str::contains("code `base`").not())
        .stderr(predicates::str::contains("weavelet runs diff 1 last"));
    assert_eq!(runs_recorded(dir.path()), before, "a refused replay records no run");
    // Runs that are not there, or not runs at all.
    weavelet(dir.path(), &["runs", "replay", "99"]).code(2).stderr(predicates::str::contains("no run 99"));
}

#[test]
fn two_runs_are_compared_by_parameters_code_grants_and_outputs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.rhai"), SCRIPT).unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    weavelet(dir.path(), &["run", "-q", "p.rhai", "-p", "n=5"]).success();
    weavelet(dir.path(), &["run", "-q", "p.rhai", "-p", "n=5"]).success();
    weavelet(dir.path(), &["run", "-q", "p.rhai", "-p", "n=6", "--allow-read", "data"]).success();

    // The same computation twice (the second from the cache): exit 0.
    weavelet(dir.path(), &["runs", "diff", "1", "2"])
        .success()
        .stdout(predicates::str::contains("same parameters, code, grants and inputs"))
        .stdout(predicates::str::contains("ran").and(predicates::str::contains("cached")));
    // A parameter and a grant changed: exit 1, each said, and every output explained.
    let text = stdout(&weavelet(dir.path(), &["runs", "diff", "1", "last"]).code(1));
    assert!(text.contains("parameter n: 5 → 6"), "{text}");
    assert!(text.contains("policy base: none → read ") && text.contains("/data"), "{text}");
    assert!(text.contains("output double: computed differently (above)"), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&weavelet(dir.path(), &["runs", "diff", "1", "3", "--json"]).code(1)))
            .unwrap();
    assert_eq!(json["same"], false);
    let changes = json["changes"].as_array().unwrap();
    assert!(
        changes.iter().any(|c| c["what"] == "parameter" && c["name"] == "n" && c["change"] == "5 → 6"),
        "{json}"
    );
    assert_eq!(json["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(json["nodes"][0]["a"]["status"], "ran");

    // Only the code of one node changed: that node, and what follows from it.
    std::fs::write(dir.path().join("p.rhai"), SCRIPT.replace("`${double}!`", "`${double}?`")).unwrap();
    weavelet(dir.path(), &["run", "-q", "p.rhai", "-p", "n=5"]).success().stdout("out: 11?\n");
    let text = stdout(&weavelet(dir.path(), &["runs", "diff", "1", "last"]).code(1));
    assert!(text.contains("code out: its code in p.rhai changed"), "{text}");
    assert!(
        !text.contains("code base") && !text.contains("code double") && !text.contains("parameter"),
        "{text}"
    );
    weavelet(dir.path(), &["runs", "diff", "1", "nine"])
        .code(2)
        .stderr(predicates::str::contains("not a run number"));
}

#[test]
fn the_history_shows_local_time() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.rhai"), SCRIPT).unwrap();
    weavelet(dir.path(), &["run", "-q", "p.rhai", "-p", "n=1"]).success();
    let cache = dir.path().join("cache");
    let listed = |tz: &str| -> String {
        let out = weavelet_cmd()
            .current_dir(dir.path())
            .env("TZ", tz)
            .args(["runs", "--json", "--cache-dir"])
            .arg(&cache)
            .assert()
            .success();
        let ms = serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap()[0]["started_ms"]
            .as_i64()
            .unwrap();
        assert!(ms > 0);
        let out = weavelet_cmd()
            .current_dir(dir.path())
            .env("TZ", tz)
            .args(["runs", "--cache-dir"])
            .arg(&cache)
            .assert();
        stdout(&out.success())
    };
    let hour = |table: &str| -> i64 {
        let line = table.lines().nth(1).unwrap();
        let time = line.split_whitespace().nth(2).unwrap();
        time[..2].parse().unwrap()
    };
    let (utc, tokyo) = (listed("UTC"), listed("Asia/Tokyo"));
    assert_eq!((hour(&utc) + 9) % 24, hour(&tokyo), "{utc}\n{tokyo}");
    weavelet_cmd()
        .current_dir(dir.path())
        .env("TZ", "Asia/Tokyo")
        .args(["runs", "show", "last", "--cache-dir"])
        .arg(&cache)
        .assert()
        .success()
        .stdout(predicates::str::contains("(UTC+09:00)"));
}
