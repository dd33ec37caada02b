//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use weavelet::{ComponentModule, Config, Pipeline, Runtime};

mod wat;
#[allow(unused_imports)]
pub use wat::wat_component;
#[allow(unused_imports)]
pub use weavelet_test_artifacts::{
    CAPABILITY_NODES, DIAMOND_NODES, FIXTURE_NODES, GRAPHICS_NODES, HOSTILE_NODES, SALES_NODES,
    STRANGER_NODES, TABLE_NODES,
};

/// The `weavelet` binary, with a shared test cache folder and no colours.
pub fn weavelet_cmd() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("weavelet").unwrap_or_else(|e| panic!("{e}"));
    // One compiled-component cache for every test; results are not reused
    // (tests that exercise the result cache give their own folder).
    cmd.env("WEAVELET_CACHE_DIR", std::env::temp_dir().join("weavelet-test-cache"))
        .env("WEAVELET_NO_CACHE", "1")
        .env("NO_COLOR", "1");
    cmd
}

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The repository's `examples/` folder.
pub fn examples() -> PathBuf {
    repo().join("examples")
}

/// A runtime with no disk cache (tests must not depend on each other's state).
/// The default configuration, with worker processes started from the
/// `weavelet` binary (this test program cannot serve as a worker).
pub fn config() -> Config {
    Config::default().worker_program(env!("CARGO_BIN_EXE_weavelet"))
}

pub fn runtime() -> Runtime {
    Runtime::new(config().cache_dir(None)).unwrap_or_else(|e| panic!("runtime: {e}"))
}

pub fn load(rt: &Runtime, path: &str) -> Arc<ComponentModule> {
    rt.load_component(path).unwrap_or_else(|e| panic!("loading {path}: {e}"))
}

/// A pipeline of every node of the given components.
pub fn pipeline(rt: &Runtime, components: &[&str]) -> Pipeline {
    let mut p = Pipeline::new();
    for c in components {
        p.add_nodes(load(rt, c).nodes());
    }
    p
}

/// The plan error's text (panics if planning succeeds).
pub fn plan_error(p: &Pipeline, outputs: &[&str]) -> String {
    match p.plan(outputs) {
        Ok(plan) => panic!("expected a plan error, got {plan:?}"),
        Err(e) => e.to_string(),
    }
}

/// Write `text` as weavelet.toml in `dir`, with `{diamond}`/`{fixtures}` replaced by component paths.
pub fn manifest(dir: &Path, text: &str) -> PathBuf {
    let text = text
        .replace("{diamond}", &DIAMOND_NODES.replace('\\', "/"))
        .replace("{fixtures}", &FIXTURE_NODES.replace('\\', "/"))
        .replace("{capabilities}", &CAPABILITY_NODES.replace('\\', "/"))
        .replace("{hostile}", &HOSTILE_NODES.replace('\\', "/"));
    let path = dir.join("weavelet.toml");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path
}
