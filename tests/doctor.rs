//! `weavelet doctor`, `--version` and shell completions, through the real binary.

use crate::common::*;

#[test]
fn doctor_names_what_is_missing_and_how_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    // No PATH: no toolchain is found, but Rhai and worker processes need none.
    let missing = weavelet_cmd()
        .env("PATH", "")
        .env_remove("CC")
        .env_remove("WIT_BINDGEN")
        .env_remove("COMPONENTIZE_PY")
        .args(["doctor", "--cache-dir"])
        .arg(dir.path())
        .assert()
        .code(1);
    let text = String::from_utf8_lossy(&missing.get_output().stdout).into_owned();
    assert!(text.contains("workers      ok       a node ran in a confined worker process"), "{text}");
    assert!(text.contains("Rhai         ok       built in"), "{text}");
    assert!(text.contains("cache        ok"), "{text}");
    assert!(text.contains("C            MISSING  clang-16: not found"), "{text}");
    assert!(text.contains("fix: sudo apt-get install clang-16 lld-16 wasi-libc"), "{text}");
    assert!(text.contains("Python       MISSING  componentize-py: not found"), "{text}");
    assert!(text.contains("pip install componentize-py==0.25.1"), "{text}");
    assert!(text.contains(" missing: node folders in those languages cannot be built here"), "{text}");
    // Where `.ci/run` installed every toolchain, nothing is missing.
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        let all = weavelet_cmd().args(["doctor", "--cache-dir"]).arg(dir.path()).assert();
        let text = String::from_utf8_lossy(&all.get_output().stdout).into_owned();
        assert!(all.get_output().status.success(), "{text}");
        assert!(text.contains("everything is here"), "{text}");
    }
}

#[test]
fn the_version_names_the_wit_package_and_the_engines() {
    let out = weavelet_cmd().arg("--version").assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(text.starts_with("weavelet 0."), "{text}");
    assert!(text.contains("WIT weavelet:node@") && text.contains("wasmtime 48.0."), "{text}");
    assert!(!text.contains('?'), "every version was found: {text}");
}

#[test]
fn completions_cover_every_command() {
    let out = weavelet_cmd().args(["completions", "bash"]).assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    for command in ["run", "check", "graph", "logs", "doctor", "inspect"] {
        assert!(text.contains(command), "{command} completes");
    }
    weavelet_cmd().args(["completions", "tcsh"]).assert().failure();
}

#[test]
fn a_language_flag_takes_only_the_languages_there_are() {
    for command in ["build", "inspect"] {
        weavelet_cmd()
            .args([command, ".", "--lang", "cobol"])
            .assert()
            .code(2)
            .stderr(predicates::str::contains("[possible values: rust, c, python, js]"));
    }
}
