//! Hostile component nodes, one per case of the threat catalogue (SECURITY.md):
//! the host survives, the error names the node and the rule that stopped it,
//! and a bystander node in the same run finishes with its result.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use weavelet::{Pipeline, Value};

/// Run `attack` beside `bystander`; returns the attack's outcome.
fn attack(attack: &str) -> Result<Value, String> {
    attack_with(attack, Vec::new())
}

#[test]
fn case_10_a_huge_list_handed_to_the_host_is_stopped_by_hostcall_fuel() {
    let e = attack("huge_list_to_host").unwrap_err();
    assert!(e.contains("`huge_list_to_host`"), "{e}");
    assert!(e.contains("more than its output budget of 64.0 MiB in one call (hostcall fuel)"), "{e}");
}

#[test]
fn case_11_an_oversized_result_is_refused() {
    let e = attack("oversized_result").unwrap_err();
    assert!(e.contains("`oversized_result`") && e.contains("more than its output budget of 64.0 MiB"), "{e}");
}

#[test]
fn case_13_a_forged_handle_is_an_error_not_a_crash() {
    let e = attack("forged_handle").unwrap_err();
    assert!(e.contains("`forged_handle`") && e.contains("handle"), "{e}");
}

#[test]
fn case_16_no_residue_from_one_invocation_reaches_the_next() {
    // The reader runs right after the writer, in the same pool of instance slots; several times.
    let rt = runtime();
    let module = load(&rt, HOSTILE_NODES);
    let mut p = Pipeline::new();
    p.add_component(&module).unwrap();
    let plan = p.plan(&["residue_read"]).unwrap();
    for _ in 0..5 {
        let report = rt.run(&plan).unwrap();
        report.check().unwrap();
        assert_eq!(report.output("residue_read"), Some(&Value::Int(0)), "no canary word in fresh memory");
    }
}

#[test]
fn case_21_a_log_flood_is_bounded_and_terminal_escapes_are_stripped() {
    let dir = tempfile::tempdir().unwrap();
    manifest(dir.path(), "[[components]]\npath = \"{hostile}\"\n");
    let started = std::time::Instant::now();
    let out = weavelet_cmd()
        .arg("run")
        .arg(dir.path().join("weavelet.toml"))
        .args(["-o", "log_flood", "-o", "stderr_flood", "-o", "bystander"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // 100 MiB through the host log: the node finishes, 64 KiB of it are kept.
    assert!(stdout.contains("log_flood: 42") && stdout.contains("bystander: 7"), "{stdout}\n{stderr}");
    assert!(stderr.contains("bytes of log over the 64.0 KiB budget were dropped"), "{stderr}");
    // Megabytes of stderr: the guest's own runtime gives up once its stderr is full; the
    // failure says so.
    assert!(
        stderr.contains("node `stderr_flood`") && stderr.contains("stderr filled the 64.0 KiB log budget"),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}') && !stdout.contains('\u{1b}'),
        "no terminal escape reaches the terminal"
    );
    assert!(stderr.len() < 256 << 10, "what is shown is bounded: {} bytes", stderr.len());
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

/// Run `attack` with parameters beside the bystander.
fn attack_with(attack: &str, params: Vec<(&str, Value)>) -> Result<Value, String> {
    let rt = runtime();
    let module = load(&rt, HOSTILE_NODES);
    let mut p = Pipeline::new();
    p.add_component(&module).unwrap();
    for (k, v) in params {
        p.set_param(k, v);
    }
    let report = rt.run(&p.plan(&[attack, "bystander"]).unwrap()).unwrap();
    assert_eq!(report.output("bystander"), Some(&Value::Int(7)), "the bystander finishes: {report:?}");
    match report.output(attack) {
        Some(v) => Ok(v.clone()),
        None => Err(report.failures.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("\n")),
    }
}

#[test]
fn case_18_a_host_file_cannot_be_read_through_wasi() {
    let dir = tempfile::tempdir().unwrap();
    let canary = dir.path().join("canary.txt");
    std::fs::write(&canary, "canary-18-secret").unwrap();
    for path in [canary.display().to_string(), "/etc/passwd".into(), "../../../../etc/passwd".into()] {
        let e = attack_with("read_host_file", vec![("path", Value::from(path.as_str()))]).unwrap_err();
        assert!(e.contains("`read_host_file`") && e.contains("cannot read"), "{path}: {e}");
        assert!(!e.contains("canary-18-secret") && !e.contains("root:"), "nothing was read: {e}");
    }
}

#[test]
fn case_20_a_node_cannot_open_a_network_connection() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let e = attack_with("dial", vec![("port", Value::Int(i64::from(port)))]).unwrap_err();
    assert!(e.contains("`dial`") && e.contains("cannot connect"), "{e}");
    assert!(listener.accept().is_err(), "no connection reached the host's listener");
}

#[test]
fn case_17_thousands_of_ready_component_nodes_queue_and_finish() {
    let rt = runtime();
    let module = load(&rt, HOSTILE_NODES);
    let mut p = Pipeline::new();
    let names: Vec<String> = (0..2000).map(|i| format!("b{i}")).collect();
    for name in &names {
        p.add_node(module.node("bystander").unwrap().renamed(name));
    }
    let targets: Vec<&str> = names.iter().map(String::as_str).collect();
    let report = rt.run(&p.plan(&targets).unwrap()).unwrap();
    report.check().unwrap();
    assert_eq!(report.outputs.len(), 2000);
    assert!(report.outputs.iter().all(|(_, v)| *v == Value::Int(7)));
}

#[test]
fn case_23_a_component_importing_more_than_the_weavelet_world_is_refused_when_loading() {
    let rt = runtime();
    let e = rt.load_component(STRANGER_NODES).map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("stranger_nodes.wasm") && e.contains("it imports `evil:net/raw`"), "{e}");
    assert!(e.contains("which Weavelet does not provide"), "{e}");
    // `weavelet inspect` says the same to an operator reviewing it.
    let out = weavelet_cmd().args(["inspect", STRANGER_NODES]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("it imports `evil:net/raw`"));
}
