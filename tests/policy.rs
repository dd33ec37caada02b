//! Policies from `weavelet.toml`: budgets for every node, per source and per
//! node; capabilities a node requests are checked against the grants before
//! anything runs, and granted ones reach only that node.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::*;

fn run(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = weavelet_cmd()
        .current_dir(dir)
        .arg("run")
        .arg(dir.join("weavelet.toml"))
        .args(args)
        .env("WEAVELET_TEST_GRANTED", "granted value")
        .env("WEAVELET_TEST_CANARY", "canary value")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn a_requested_capability_the_pipeline_does_not_grant_fails_at_plan_time_saying_what_to_add() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    manifest(dir.path(), "[[components]]\npath = \"{capabilities}\"\n");
    let (ok, stdout, stderr) =
        run(dir.path(), &["-o", "env_and_clock", "-o", "reads_data", "-o", "writes_out"]);
    assert!(!ok && stdout.is_empty(), "nothing ran: {stdout}");
    for expected in [
        "node `env_and_clock` (capability_nodes.wasm) requests `env WEAVELET_TEST_GRANTED`, which the pipeline does not grant",
        "add `env = [\"WEAVELET_TEST_GRANTED\"]` under [policy.nodes.env_and_clock]",
        "requests `clock`",
        "add `clock = true` under [policy.nodes.env_and_clock]",
        "add `read = [\"data\"]` under [policy.nodes.reads_data]",
        "add `write = [\"out\"]` under [policy.nodes.writes_out]",
    ] {
        assert!(stderr.contains(expected), "missing `{expected}` in:\n{stderr}");
    }
}

#[test]
fn granted_capabilities_reach_only_the_node_they_are_granted_to() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    manifest(
        dir.path(),
        r#"
[[components]]
path = "{capabilities}"

[policy.nodes.env_and_clock]
env = ["WEAVELET_TEST_GRANTED"]
clock = true

[policy.nodes.reads_data]
read = ["data"]
"#,
    );
    let (ok, stdout, stderr) = run(dir.path(), &["-o", "env_and_clock", "-o", "snoop", "-o", "reads_data"]);
    assert!(ok, "{stderr}");
    let line = |name: &str| stdout.lines().find(|l| l.starts_with(&format!("{name}: "))).unwrap().to_string();
    let granted = line("env_and_clock");
    assert!(granted.contains("\"granted value\""), "{granted}");
    let secs: i64 = granted.rsplit('"').nth(1).unwrap().parse().unwrap();
    assert!(secs > 1_700_000_000, "the real clock: {granted}");
    // The node next to it got nothing: no variables (the canary stays hidden), the fixed clock.
    assert_eq!(line("snoop"), r#"snoop: ["<unset>", "<unset>", "0"]"#);
    assert_eq!(line("reads_data"), "reads_data: 1");
}

#[test]
fn budgets_apply_to_every_node_per_source_and_per_node() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("busy.rhai"),
        "fn busy() { let n = 0; loop { n += 1; } }\nfn calm() { 42 }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("other.rhai"),
        "fn counted() { let n = 0; for i in 0..50000 { n += i; } n }\n",
    )
    .unwrap();
    manifest(
        dir.path(),
        r#"
[[components]]
path = "{fixtures}"

[[scripts]]
path = "busy.rhai"

[[scripts]]
path = "other.rhai"

[params]
x = 1

[policy]
timeout = "20s"

[policy.sources."busy.rhai"]
operations = 10000

[policy.nodes.spins]
timeout = "300ms"
"#,
    );
    let started = std::time::Instant::now();
    let (ok, stdout, stderr) =
        run(dir.path(), &["-o", "spins", "-o", "busy", "-o", "calm", "-o", "counted", "-o", "inc"]);
    assert!(!ok);
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "spins stopped at 300 ms, not 20 s");
    assert!(
        stderr.contains("node `spins`") && stderr.contains("wall-time budget of 300ms exceeded"),
        "{stderr}"
    );
    assert!(
        stderr.contains("node `busy`") && stderr.contains("operation budget of 10000 exceeded"),
        "{stderr}"
    );
    // The same source's other node, another script's node (more than 10 000 operations)
    // and a component node all finish.
    for expected in ["calm: 42", "counted: 1249975000", "inc: 2"] {
        assert!(stdout.contains(expected), "missing `{expected}` in {stdout}\n{stderr}");
    }
}

#[test]
fn mistakes_in_the_policy_section_point_at_the_line() {
    let dir = tempfile::tempdir().unwrap();
    for (policy, expected) in [
        (
            "[policy.nodes.spin]\ntimeout = \"1s\"",
            "[policy.nodes] names `spin`, but the pipeline has no node of that name",
        ),
        ("[policy.nodes.spins]\nmemory = \"lots\"", "`lots` is not a size"),
        ("[policy]\ntimout = \"1s\"", "unknown field `timout`"),
        ("[policy.sources.\"nodes.wasm\"]\ntimeout = \"1s\"", "[policy.sources] names `nodes.wasm`"),
        ("[policy]\ntimeout = \"soon\"", "`soon` is not a duration"),
        ("[policy]\nwrite = [\"../up\"]", "`../up` is not a folder inside the pipeline's folder"),
    ] {
        manifest(dir.path(), &format!("[[components]]\npath = \"{{fixtures}}\"\n\n{policy}\n"));
        let (ok, _, stderr) = run(dir.path(), &["-o", "one"]);
        assert!(!ok && stderr.contains(expected), "{policy}: {stderr}");
        assert!(stderr.contains("weavelet.toml:"), "the error names the file and line: {stderr}");
    }
}

#[test]
fn a_write_grant_opens_one_folder_and_nothing_around_it() {
    let dir = tempfile::tempdir().unwrap();
    manifest(
        dir.path(),
        r#"
[[components]]
path = "{capabilities}"

[policy.sources."{capabilities}"]
write = ["out"]
"#,
    );
    let (ok, stdout, stderr) = run(dir.path(), &["-o", "writes_out", "-o", "escapes_out", "-o", "snoop"]);
    assert!(!ok, "the escape fails");
    assert!(stdout.contains("writes_out: 17"), "{stdout}\n{stderr}");
    assert_eq!(std::fs::read_to_string(dir.path().join("out/hello.txt")).unwrap(), "written by a node");
    assert!(
        stderr.contains("node `escapes_out`") && stderr.contains("cannot write out/../escaped.txt"),
        "{stderr}"
    );
    assert!(!dir.path().join("escaped.txt").exists(), "nothing was written outside the grant");
    assert!(stdout.contains("snoop: "), "a node without the grant still runs: {stdout}");
}

#[test]
fn a_read_grant_is_a_read_only_folder_for_wasi_too() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/hello.txt"), "granted text").unwrap();
    std::fs::write(dir.path().join("beside.txt"), "not granted").unwrap();
    manifest(
        dir.path(),
        r#"
[[components]]
path = "{hostile}"

[[components]]
path = "{capabilities}"

[policy.nodes.read_host_file]
read = ["data"]

[policy.nodes.tamper]
read = ["data"]

[policy.nodes.read_through_wasi]
read = ["data"]
"#,
    );
    // A node that declares `read-dir data` reads the granted folder with `std::fs`.
    let (ok, stdout, stderr) = run(dir.path(), &["-o", "read_through_wasi", "-p", "name=hello.txt"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("read_through_wasi: granted text"), "{stdout}");
    let (ok, _, stderr) = run(dir.path(), &["-o", "read_through_wasi", "-p", "name=../beside.txt"]);
    assert!(!ok && stderr.contains("cannot read data/../beside.txt"), "{stderr}");
    // One that does not declare it reads through the host's readers only.
    let (ok, _, stderr) = run(dir.path(), &["-o", "read_host_file", "-p", "path=data/hello.txt"]);
    assert!(!ok && stderr.contains("cannot read data/hello.txt"), "{stderr}");
    for outside in ["beside.txt", "data/../beside.txt", "/etc/passwd"] {
        let (ok, stdout, stderr) =
            run(dir.path(), &["-o", "read_host_file", "-p", &format!("path={outside}")]);
        assert!(!ok && stderr.contains(&format!("cannot read {outside}")), "{outside}: {stdout}\n{stderr}");
        assert!(!stderr.contains("not granted") && !stdout.contains("not granted"), "{stderr}");
    }
    // Inside the read-only grant nothing can be changed, moved or created.
    let (ok, _, stderr) = run(dir.path(), &["-o", "tamper", "-p", "path=data/hello.txt"]);
    assert!(!ok && stderr.contains("cannot tamper with data/hello.txt: write:"), "{stderr}");
    assert_eq!(std::fs::read_to_string(dir.path().join("data/hello.txt")).unwrap(), "granted text");
    assert_eq!(
        std::fs::read_dir(dir.path().join("data")).unwrap().count(),
        1,
        "nothing was created or moved"
    );
    // A node without the grant sees no folder at all.
    manifest(dir.path(), "[[components]]\npath = \"{hostile}\"\n");
    let (ok, _, stderr) = run(dir.path(), &["-o", "read_host_file", "-p", "path=data/hello.txt"]);
    assert!(!ok && stderr.contains("cannot read data/hello.txt"), "{stderr}");
}
