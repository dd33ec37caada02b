//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use weavelet::{ComponentModule, Config, Pipeline, Runtime};

pub mod schema;
mod wat;
#[allow(unused_imports)]
pub use wat::{wat_component, wat_component_for};
#[allow(unused_imports)]
pub use weavelet_test_artifacts::{
    CAPABILITY_NODES, DIAMOND_NODES, FIXTURE_NODES, GRAPHICS_NODES, HOSTILE_NODES, NETWORK_NODES,
    SALES_NODES, STRANGER_NODES, TABLE_NODES,
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

/// `weavelet ARGS --cache-dir DIR/cache` in `dir`, with the result cache and
/// history on (their own, under `dir`), asserted on by the caller.
pub fn weavelet_in(dir: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    weavelet_cmd()
        .current_dir(dir)
        .env_remove("WEAVELET_NO_CACHE")
        .args(args)
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .assert()
}

/// What a command printed on standard output.
pub fn stdout_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stdout).into_owned()
}

/// What [`run_watched`] saw of a `weavelet` run.
pub struct Watched {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// The `weavelet` process's own peak resident memory (its `VmHWM`, read
    /// every 10 ms while it ran; its worker processes are not in it).
    pub peak_rss: u64,
}

/// Run `weavelet` with `args` as [`weavelet_cmd`] would, killing it after
/// `timeout`, and watch its own peak memory while it runs.
pub fn run_watched(
    dir: &std::path::Path,
    args: &[&str],
    envs: &[(&str, &str)],
    timeout: Duration,
) -> Watched {
    use std::io::Read;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_weavelet"));
    cmd.current_dir(dir)
        .env("WEAVELET_CACHE_DIR", std::env::temp_dir().join("weavelet-test-cache"))
        .env("WEAVELET_NO_CACHE", "1")
        .env("NO_COLOR", "1")
        .envs(envs.iter().copied())
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let status_file = format!("/proc/{}/status", child.id());
    let started = std::time::Instant::now();
    let mut peak_rss = 0;
    let status = loop {
        // VmHWM only grows: the last reading before the exit is the peak up to then.
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kb) = text.lines().find_map(|l| l.strip_prefix("VmHWM:"))
        {
            let kb: u64 = kb.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
            peak_rss = peak_rss.max(kb * 1024);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            panic!("weavelet {args:?} ran longer than {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Watched { status, stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap(), peak_rss }
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

/// examples/timeseries (a Rhai script, a CSV, a chart) copied into `dir`.
pub fn timeseries(dir: &Path) {
    let src = repo().join("examples/timeseries");
    std::fs::create_dir_all(dir.join("data")).unwrap_or_else(|e| panic!("{e}"));
    for name in ["weavelet.toml", "trend.rhai", "data/daily_sales.csv"] {
        std::fs::copy(src.join(name), dir.join(name)).unwrap_or_else(|e| panic!("{e}"));
    }
}
