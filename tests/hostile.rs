//! The hostile-node suite: one test per case of the threat catalogue
//! (SECURITY.md), named `case_NN_…` so the catalogue can be checked against it.
//!
//! Most cases run the real CLI in an [`Arena`]: a pipeline folder with the
//! hostile component (`guests/hostile`), the hostile script (`guests/rhai`), a
//! canary file beside the pipeline and a canary environment variable on the
//! host. Every run asserts that the host process exits normally, that the
//! attack's error names the node and the rule that stopped it, that a component
//! bystander and a script bystander in the same run finish with their results,
//! that neither canary appears anywhere in what the run printed, and that
//! nothing in the pipeline's folder was created, changed or removed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::common::*;
use weavelet::RunOptions;
use weavelet::{Pipeline, Value};

const CANARY_ENV: &str = "canary-env-7d41c2";
const CANARY_FILE: &str = "canary-file-93be05";

/// A pipeline folder holding canaries, and the CLI to attack it with.
struct Arena {
    dir: tempfile::TempDir,
    /// Its nodes run in the `weavelet` process (so its memory is theirs too).
    in_process: bool,
}

/// What one CLI run did.
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
    /// The `weavelet` process's own peak resident memory (not its workers').
    peak_rss: u64,
}

/// The most memory the `weavelet` process itself may hold while it supervises
/// hostile nodes in worker processes: what it holds for any run (wasmtime,
/// polars, SQLite, its threads; 25–70 MiB measured), never what the nodes
/// make host work allocate (gigabytes, in the memory attacks).
const SUPERVISOR_RSS: u64 = 160 << 20;

fn rhai_guest(file: &str) -> String {
    crate::common::repo().join("guests/rhai").join(file).display().to_string().replace('\\', "/")
}

impl Arena {
    /// The hostile component and script, more components, then `rest` of the
    /// manifest (a `[policy]` with a 1 s wall-time budget unless `rest` has one).
    fn new(components: &[&str], rest: &str) -> Arena {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("secret")).unwrap();
        std::fs::write(dir.path().join("secret/canary.txt"), CANARY_FILE).unwrap();
        let mut text = String::from("[[components]]\npath = \"{hostile}\"\n");
        for c in components {
            text.push_str(&format!("[[components]]\npath = {:?}\n", c.replace('\\', "/")));
        }
        text.push_str(&format!("[[scripts]]\npath = {:?}\n", rhai_guest("hostile.rhai")));
        if !rest.contains("[policy]") {
            text.push_str("[policy]\ntimeout = \"1s\"\n");
        }
        text.push_str(rest);
        manifest(dir.path(), &text);
        Arena { dir, in_process: rest.contains("in-process") }
    }

    fn canary_file(&self) -> PathBuf {
        self.dir.path().join("secret/canary.txt")
    }

    /// Run `targets` and both bystanders, with `args` after them.
    fn run(&self, targets: &[&str], args: &[&str]) -> Outcome {
        let before = snapshot(self.dir.path());
        let mut all: Vec<&str> = vec!["run", "weavelet.toml", "-q"];
        for t in targets.iter().chain(&["bystander", "rhai_bystander"]) {
            all.extend(["-o", t]);
        }
        all.extend(args);
        let started = Instant::now();
        let out =
            run_watched(self.dir.path(), &all, &[("WEAVELET_CANARY", CANARY_ENV)], Duration::from_secs(120));
        let outcome = Outcome {
            code: out.status.code(),
            stdout: out.stdout,
            stderr: out.stderr,
            took: started.elapsed(),
            peak_rss: out.peak_rss,
        };
        assert!(outcome.code.is_some(), "the host process was killed: {:?}\n{}", out.status, outcome.stderr);
        if !self.in_process {
            assert!(
                outcome.peak_rss <= SUPERVISOR_RSS,
                "the weavelet process itself grew to {} MiB supervising {targets:?}:\n{}",
                outcome.peak_rss >> 20,
                outcome.stderr
            );
        }
        for canary in [CANARY_ENV, CANARY_FILE] {
            assert!(
                !outcome.stdout.contains(canary) && !outcome.stderr.contains(canary),
                "a canary leaked:\n{}\n{}",
                outcome.stdout,
                outcome.stderr
            );
        }
        assert_eq!(snapshot(self.dir.path()), before, "the pipeline's folder changed");
        assert_eq!(std::fs::read_to_string(self.canary_file()).unwrap(), CANARY_FILE);
        outcome
    }

    /// Run the attack `node` (with `args`) and check it was stopped by `rule`
    /// while both bystanders finished.
    fn stopped(&self, node: &str, args: &[&str], rule: &str) -> Outcome {
        let o = self.run(&[node], args);
        o.bystanders_finished();
        assert_eq!(o.code, Some(1), "{}", o.stderr);
        let line =
            o.stderr.lines().find(|l| l.starts_with(&format!("- node `{node}`"))).unwrap_or_else(|| {
                panic!("no failure of `{node}` reported:\n{}", o.stderr);
            });
        assert!(line.contains(rule), "`{node}` was not stopped by {rule:?}:\n{}", o.stderr);
        o
    }
}

impl Outcome {
    fn bystanders_finished(&self) {
        assert!(
            self.stdout.contains("\nbystander: 7") || self.stdout.starts_with("bystander: 7"),
            "the component bystander did not finish:\n{}\n{}",
            self.stdout,
            self.stderr
        );
        assert!(
            self.stdout.contains("rhai_bystander: 70"),
            "the script bystander did not finish:\n{}\n{}",
            self.stdout,
            self.stderr
        );
    }
}

/// Every file and folder under `dir` with its size and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, Option<SystemTime>)> {
    let mut seen = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            }
            seen.insert(entry.path(), (meta.len(), meta.modified().ok()));
        }
    }
    seen
}

/// A node's output saved as JSON outside the arena.
fn saved_list(arena: &Arena, node: &str) -> Vec<String> {
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("out.json");
    let o = arena.run(&[node], &["--save", &format!("{node}={}", file.display())]);
    o.bystanders_finished();
    assert_eq!(o.code, Some(0), "`{node}` must finish: {}", o.stderr);
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

// ---- WASM guests: CPU and stack ----

#[test]
fn case_01_an_endless_loop_is_stopped_by_the_wall_time_budget() {
    let o = Arena::new(&[], "").stopped("endless_loop", &[], "was stopped: wall-time budget of 1s exceeded");
    assert!(o.took < Duration::from_secs(30), "{:?}", o.took);
}

#[test]
fn case_02_a_start_function_that_never_returns_is_stopped() {
    // The loop runs while instantiating, before the node is called: the deadline is
    // armed before instantiation, and a component that cannot even declare its
    // nodes is refused before anything runs.
    let arena = Arena::new(&[wat_component("start_loop").as_str()], "");
    let o = arena.run(&[], &[]);
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert!(
        o.stderr.contains("start_loop.wasm: it did not declare its nodes within the wall-time budget of 5s"),
        "{}",
        o.stderr
    );
    // cabi_realloc, which the host calls to pass the node its name, never returns.
    Arena::new(&[wat_component("realloc_loop").as_str()], "").stopped(
        "realloc_loop",
        &[],
        "(realloc_loop.wasm) was stopped: wall-time budget of 1s exceeded",
    );
}

/// Components built against the older contract the host still runs
/// (`weavelet:node@0.3.0`) get the same budgets and caps: the host functions,
/// the store and its limits are one source for every contract version.
#[test]
fn the_older_contract_is_held_to_the_same_budgets() {
    let older = |name: &str| crate::common::wat_component_for(name, "0.3.0");
    let o = Arena::new(&[older("start_loop").as_str()], "").run(&[], &[]);
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert!(
        o.stderr.contains("it did not declare its nodes within the wall-time budget of 5s"),
        "{}",
        o.stderr
    );
    Arena::new(&[older("realloc_loop").as_str()], "").stopped(
        "realloc_loop",
        &[],
        "(realloc_loop-0.3.0.wasm) was stopped: wall-time budget of 1s exceeded",
    );
    Arena::new(&[older("many_memories").as_str()], "[policy]\ntimeout = \"1s\"\nmemory = \"128MiB\"\n")
        .stopped(
            "many_memories",
            &[],
            "was stopped: memory budget of 128.0 MiB exceeded (the node asked for 144.1 MiB in all)",
        );
    Arena::new(&[older("huge_table").as_str()], "").stopped(
        "huge_table",
        &[],
        "was stopped: a wasm table may hold 100000 elements; the node asked for 10000001",
    );
}

#[test]
fn case_03_bulk_memory_operations_are_stopped_by_wall_time_and_by_fuel() {
    Arena::new(&[], "").stopped("bulk_fill", &[], "wall-time budget of 1s exceeded");
    // Fuel charges bulk operations by their length: the budget runs out long before 1 s.
    let o = Arena::new(&[], "[policy]\ntimeout = \"1s\"\n[policy.nodes.bulk_fill]\nfuel = 100_000_000\n")
        .stopped("bulk_fill", &[], "was stopped: fuel budget of 100000000 instructions exhausted");
    assert!(o.took < Duration::from_secs(30));
}

#[test]
fn case_04_unbounded_recursion_traps_on_the_wasm_stack_limit() {
    Arena::new(&[], "").stopped("deep_recursion", &[], "trapped: wasm stack overflow");
}

#[test]
fn case_05_a_blocking_sleep_cannot_outlast_the_wall_time_budget() {
    // With the real clock: a 60 s sleep under a 1 s budget is stopped at once.
    let arena = Arena::new(&[], "[policy]\ntimeout = \"1s\"\n[policy.nodes.sleeper]\nclock = true\n");
    let o = arena.stopped("sleeper", &["-p", "ms=60000"], "it asked to sleep 60s");
    assert!(o.took < Duration::from_secs(20), "the sleep was not cut short: {:?}", o.took);
    // A short sleep within the budget still sleeps.
    let o = arena.run(&["sleeper"], &["-p", "ms=300"]);
    assert!(o.stdout.contains("sleeper: 1") && o.took >= Duration::from_millis(300), "{}", o.stderr);
    // Without the clock, time stands still: sleeping returns at once.
    let o = Arena::new(&[], "").run(&["sleeper"], &["-p", "ms=60000"]);
    assert!(o.stdout.contains("sleeper: 1") && o.took < Duration::from_secs(20), "{}", o.stderr);
}

#[test]
fn case_06_oversized_and_precompiled_components_are_refused_before_compiling() {
    // Larger than the 64 MiB cap: refused from its size, without being read.
    let big = tempfile::tempdir().unwrap();
    let huge = big.path().join("huge.wasm");
    std::fs::File::create(&huge).unwrap().set_len(65 << 20).unwrap();
    let o = Arena::new(&[huge.to_str().unwrap()], "").run(&[], &[]);
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert!(o.stderr.contains("huge.wasm: the file is 65.0 MiB, over the 64.0 MiB limit"), "{}", o.stderr);
    // Precompiled machine code (a compiled-component cache entry) given as a
    // component is never deserialized.
    Arena::new(&[], "").run(&[], &[]);
    let cache = std::env::temp_dir().join("weavelet-test-cache/components");
    let compiled = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .expect("a compiled component in the test cache");
    let forged = big.path().join("precompiled.wasm");
    std::fs::copy(compiled, &forged).unwrap();
    let o = Arena::new(&[forged.to_str().unwrap()], "").run(&[], &[]);
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert!(o.stderr.contains("precompiled.wasm: not a WebAssembly file"), "{}", o.stderr);
}

// ---- WASM guests: memory and resources ----

#[test]
fn case_07_memory_growth_past_the_budget_is_stopped_and_named() {
    Arena::new(&[], "").stopped("memory_hog", &[], "was stopped: memory budget of 256.0 MiB exceeded");
}

#[test]
fn case_08_several_memories_count_together_against_the_budget() {
    // Three memories of 48 MiB each would pass a per-memory limit of 128 MiB.
    Arena::new(
        &[wat_component("many_memories").as_str()],
        "[policy]\ntimeout = \"1s\"\nmemory = \"128MiB\"\n",
    )
    .stopped(
        "many_memories",
        &[],
        "was stopped: memory budget of 128.0 MiB exceeded (the node asked for 144.1 MiB in all)",
    );
}

#[test]
fn case_09_a_huge_table_is_stopped_by_the_table_element_cap() {
    Arena::new(&[wat_component("huge_table").as_str()], "").stopped(
        "huge_table",
        &[],
        "was stopped: a wasm table may hold 100000 elements; the node asked for 10000001",
    );
}

#[test]
fn case_10_a_huge_list_handed_to_the_host_is_stopped_by_hostcall_fuel() {
    Arena::new(&[], "").stopped(
        "huge_list_to_host",
        &[],
        "more than its output budget of 64.0 MiB in one call (hostcall fuel)",
    );
}

#[test]
fn case_11_an_oversized_result_is_refused() {
    Arena::new(&[], "").stopped("oversized_result", &[], "more than its output budget of 64.0 MiB");
}

#[test]
fn case_12_a_handle_flood_is_stopped_at_the_handle_cap() {
    Arena::new(&[], "").stopped("handle_flood", &[], "the node holds 10000 handles (tables, SVGs, images)");
    // A pipeline may lower (or raise) the cap per node.
    Arena::new(&[], "[policy]\ntimeout = \"1s\"\n[policy.nodes.handle_flood]\nhandles = 100\n").stopped(
        "handle_flood",
        &[],
        "the node holds 100 handles",
    );
}

#[test]
fn case_13_a_forged_handle_is_an_error_not_a_crash() {
    Arena::new(&[], "").stopped("forged_handle", &[], "handle");
}

#[test]
fn case_14_host_functions_refuse_hostile_arguments_without_panicking() {
    let seen = saved_list(&Arena::new(&[], ""), "odd_arguments");
    assert_eq!(seen.len(), 30, "{seen:#?}");
    // Calls with a sensible reading (clamped, or empty) may be accepted; the rest are
    // refused with a reason, and none took the host (or the node) down.
    let accepted: Vec<&String> = seen.iter().filter(|s| s.ends_with(": accepted")).collect();
    assert!(accepted.len() <= 4, "{accepted:#?}");
    for line in seen.iter().filter(|s| !s.ends_with(": accepted")) {
        let (_, why) = line.split_once(": refused: ").unwrap_or_else(|| panic!("{line}"));
        assert!(why.len() > 10, "{line}");
    }
    for expected in [
        "svg nan: refused: width must be a finite number, not NaN",
        "path handler: refused: attribute `onload` is an event handler",
        "ipc junk: refused: malformed Arrow IPC",
        "filter broken: refused: in expression `x >`",
    ] {
        assert!(seen.iter().any(|s| s.starts_with(expected)), "{expected}: {seen:#?}");
    }
}

#[test]
fn case_15_host_allocations_sized_by_the_guest_are_checked_first() {
    let seen = saved_list(&Arena::new(&[], ""), "odd_arguments");
    for expected in [
        "blank max: refused: blank: 4294967295 × 4294967295 pixels is larger than the 8192 × 8192",
        "sheet huge: refused: contact sheet: 4294967295 × 4294967295 pixels is larger",
        "crop max: refused",
        "render huge: refused: scale must be above 0 and at most 64",
        "rolling max: refused: a rolling window of 4294967295 rows",
        "svg huge: refused: width must be above 0 and at most 100000, not 1e300",
    ] {
        assert!(seen.iter().any(|s| s.starts_with(expected)), "{expected}: {seen:#?}");
    }
}

#[test]
fn case_16_no_residue_from_one_invocation_reaches_the_next() {
    // The reader runs right after the writer, in the same pool of instance slots; several times.
    let rt = runtime();
    let module = load(&rt, HOSTILE_NODES);
    let mut p = Pipeline::new();
    p.add_nodes(module.nodes());
    let plan = p.plan(&["residue_read"]).unwrap();
    for _ in 0..5 {
        let report = rt.run(&plan, RunOptions::new()).unwrap();
        report.check().unwrap();
        assert_eq!(report.output("residue_read"), Some(&Value::Int(0)), "no canary word in fresh memory");
    }
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
    let report = rt.run(&p.plan(&targets).unwrap(), RunOptions::new()).unwrap();
    report.check().unwrap();
    assert_eq!(report.outputs.len(), 2000);
    assert!(report.outputs.iter().all(|(_, v)| *v == Value::Int(7)));
}

// ---- WASM guests: WASI capabilities ----

#[test]
fn case_18_a_host_file_cannot_be_read_through_wasi() {
    let arena = Arena::new(&[], "");
    let canary = arena.canary_file().display().to_string();
    for path in [canary.as_str(), "/etc/passwd", "../secret/canary.txt", "secret/canary.txt"] {
        let o = arena.stopped("read_host_file", &["-p", &format!("path={path}")], "cannot read");
        assert!(!o.stderr.contains("root:"), "nothing was read: {}", o.stderr);
    }
}

#[test]
fn case_19_the_host_environment_is_invisible() {
    let o = Arena::new(&[], "").run(&["env_snoop"], &[]);
    o.bystanders_finished();
    // The canary variable is set on the CLI; the node finds no variable at all.
    assert!(o.stdout.contains("env_snoop: \n") || o.stdout.contains("env_snoop: \"\""), "{}", o.stdout);
}

#[test]
fn case_20_a_node_cannot_open_a_network_connection() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    Arena::new(&[], "").stopped("dial", &["-p", &format!("port={port}")], "cannot connect");
    assert!(listener.accept().is_err(), "no connection reached the host's listener");
}

#[test]
fn case_21_a_log_flood_is_bounded_and_terminal_escapes_are_stripped() {
    let arena = Arena::new(&[], "");
    let started = Instant::now();
    let o = arena.run(&["log_flood", "stderr_flood"], &[]);
    o.bystanders_finished();
    // 100 MiB through the host log: the node finishes, 64 KiB of it are kept.
    assert!(o.stdout.contains("log_flood: 42"), "{}\n{}", o.stdout, o.stderr);
    // Megabytes of stderr: the guest's own runtime gives up once its stderr is full; the
    // failure says so.
    assert!(
        o.stderr.contains("node `stderr_flood`")
            && o.stderr.contains("stderr filled the 64.0 KiB log budget"),
        "{}",
        o.stderr
    );
    assert!(
        !o.stderr.contains('\u{1b}') && !o.stdout.contains('\u{1b}'),
        "no terminal escape reaches the terminal"
    );
    assert!(o.stderr.len() < 256 << 10, "what is shown is bounded: {} bytes", o.stderr.len());
    assert!(started.elapsed() < Duration::from_secs(60));
    // Without -q the dropped bytes are reported as a warning.
    let out = weavelet_cmd()
        .current_dir(arena.dir.path())
        .args(["run", "weavelet.toml", "-o", "log_flood"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bytes of log over the 64.0 KiB budget were dropped"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn case_22_huge_random_requests_are_refused_and_randomness_is_deterministic() {
    let arena = Arena::new(&[], "");
    arena.stopped("random_flood", &[], "requested len 1099511627776 exceeds limit");
    // Without a grant, clock and randomness are the same every run.
    let first = arena.run(&["clock_and_random_probe"], &[]);
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    assert!(first.stdout.contains("clock_and_random_probe: [0, "), "{}", first.stdout);
    assert_eq!(arena.run(&["clock_and_random_probe"], &[]).stdout, first.stdout);
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
    // Listed in a pipeline, it stops the run before anything runs.
    let o = Arena::new(&[STRANGER_NODES], "").run(&[], &[]);
    assert_eq!(o.code, Some(2));
    assert!(o.stderr.contains("it imports `evil:net/raw`"), "{}", o.stderr);
}

// ---- Rhai scripts (guests/rhai/hostile.rhai) ----

#[test]
fn case_24_a_rhai_loop_is_stopped_by_the_deadline_and_the_operation_budget() {
    Arena::new(&[], "").stopped(
        "rhai_endless_loop",
        &[],
        "(hostile.rhai:7) was stopped: wall-time budget of 1s",
    );
    Arena::new(&[], "[policy]\ntimeout = \"1s\"\n[policy.nodes.rhai_endless_loop]\noperations = 100000\n")
        .stopped("rhai_endless_loop", &[], "was stopped: operation budget of 100000 exceeded");
}

#[test]
fn case_25_rhai_has_no_sleep() {
    Arena::new(&[], "").stopped("rhai_sleep", &[], "function not available in Weavelet scripts: sleep (i64)");
}

#[test]
fn case_26_rhai_recursion_hits_the_call_depth_limit() {
    Arena::new(&[], "").stopped("rhai_recursion", &[], "was stopped: call depth limit of 32 exceeded");
}

#[test]
fn case_27_rhai_memory_is_bounded_per_container_and_in_total() {
    Arena::new(&[], "").stopped("rhai_huge_string", &[], "was stopped: length of string exceeds its limit");
    Arena::new(&[], "[policy]\ntimeout = \"5s\"\n[policy.nodes.rhai_hoard]\nmemory = \"32MiB\"\n").stopped(
        "rhai_hoard",
        &[],
        "was stopped: memory budget of 32.0 MiB exceeded (the script held",
    );
}

#[test]
fn case_28_rhai_cannot_import_files_or_read_outside_its_grants() {
    // `import "/etc/passwd"` stops the script from loading at all.
    let dir = tempfile::tempdir().unwrap();
    manifest(dir.path(), &format!("[[scripts]]\npath = {:?}\n", rhai_guest("imports.rhai")));
    let out = weavelet_cmd().current_dir(dir.path()).args(["run", "weavelet.toml"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("imports.rhai:2:1: syntax error: 'import' is a reserved keyword"), "{stderr}");
    assert!(!stderr.contains("root:"), "{stderr}");
    // The host's readers refuse files outside the grants (absolute, `..`, and beside the pipeline).
    let arena = Arena::new(&[], "");
    let canary = arena.canary_file().display().to_string();
    for path in [canary.as_str(), "/etc/passwd", "secret/canary.txt", "../secret/canary.txt"] {
        arena.stopped("rhai_read_host_file", &["-p", &format!("path={path}")], "is not allowed");
    }
}

#[test]
fn case_29_rhai_is_never_built_unchecked() {
    // `unchecked` would remove every limit above; the dependency graph must not enable it.
    let out = std::process::Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["tree", "--offline", "-e", "features", "-i", "rhai", "--prefix", "none", "--workspace"])
        .output()
        .unwrap();
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(tree.contains("rhai feature \"sync\""), "{tree}");
    assert!(!tree.contains("\"unchecked\""), "rhai is built unchecked:\n{tree}");
}

#[test]
fn case_30_registered_functions_refuse_hostile_arguments_without_panicking() {
    let seen = saved_list(&Arena::new(&[], ""), "rhai_odd_arguments");
    assert_eq!(seen.len(), 13, "{seen:#?}");
    for line in &seen {
        let (_, why) = line.split_once(": refused: ").unwrap_or_else(|| panic!("accepted: {line}"));
        assert!(why.len() > 10, "{line}");
    }
    assert!(
        seen.iter().any(|s| s.starts_with("resize max: refused: resize: 65535 × 65535 pixels")),
        "{seen:#?}"
    );
    assert!(
        seen.iter().any(|s| s.starts_with("image absolute: refused: reading `/etc/passwd` is not allowed"))
    );
}

// ---- Host-side work done for a node (SECURITY.md, classes 36-45) ----

#[test]
fn case_44_settings_in_a_node_s_own_source_cannot_raise_its_budgets() {
    // `@timeout 3600s` under the arena's 1 s: the operator's budget holds.
    let o =
        Arena::new(&[], "").stopped("rhai_raises_its_budgets", &[], "was stopped: wall-time budget of 1s");
    assert!(o.took < Duration::from_secs(15), "the run took {:?}", o.took);
    // `@operations 10^12` under the node's 100 000 (attempts and backoff: `tests/cache.rs`).
    let o = Arena::new(
        &[],
        "[policy]\ntimeout = \"5s\"\n[policy.nodes.rhai_raises_its_budgets]\noperations = 100000\n",
    )
    .stopped("rhai_raises_its_budgets", &[], "was stopped: operation budget of 100000 exceeded");
    assert!(o.took < Duration::from_secs(15), "the run took {:?}", o.took);
}

#[test]
fn case_41_readers_open_beneath_the_grant_and_only_regular_files() {
    let arena = Arena::new(
        &[],
        "[policy]\ntimeout = \"2s\"\n[policy.nodes.rhai_read_host_file]\nread = [\"data\"]\n",
    );
    let data = arena.dir.path().join("data");
    std::fs::create_dir_all(data.join("trap.csv")).unwrap();
    std::fs::write(data.join("sales.csv"), "region,revenue\nnorth,1\nsouth,2\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        // A folder named like a CSV file, holding a link out of the grant.
        symlink(arena.canary_file(), data.join("trap.csv/part.csv")).unwrap();
        // Links out of the grant, to a file and to a folder.
        symlink("../secret/canary.txt", data.join("link.csv")).unwrap();
        symlink("../secret", data.join("elsewhere")).unwrap();
        // A link that stays inside the grant is an ordinary way to name a file.
        symlink("sales.csv", data.join("alias.csv")).unwrap();
        // A FIFO named like a table: opening it must not block the host.
        let made = std::process::Command::new("mkfifo").arg(data.join("pipe.csv")).status().unwrap();
        assert!(made.success());
    }
    let read = |path: &str| ["-p".to_string(), format!("path={path}")];
    let stopped = |path: &str, rule: &str| {
        let args = read(path);
        let o = arena.stopped("rhai_read_host_file", &[&args[0], &args[1]], rule);
        assert!(o.took < Duration::from_secs(20), "reading {path} took {:?}", o.took);
    };
    stopped("data/trap.csv", "cannot read `data/trap.csv`: it is a folder, not a file");
    stopped("data/link.csv", "reading `data/link.csv` is not allowed");
    stopped("data/elsewhere/canary.txt", "reading `data/elsewhere/canary.txt` is not allowed");
    stopped("data/pipe.csv", "it is not a regular file");
    stopped("data/*.csv", "cannot read `data/*.csv`");
    let args = read("data/alias.csv");
    let o = arena.run(&["rhai_read_host_file"], &[&args[0], &args[1]]);
    o.bystanders_finished();
    assert!(o.stdout.contains("rhai_read_host_file: 2"), "{}\n{}", o.stdout, o.stderr);
}

#[cfg(unix)]
#[test]
fn case_42_outputs_and_write_grants_never_go_through_planted_links() {
    use std::os::unix::fs::symlink;
    let root = tempfile::tempdir().unwrap();
    let (dir, victim) = (root.path().join("pipeline"), root.path().join("victim"));
    std::fs::create_dir_all(dir.join("out")).unwrap();
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(dir.join("steps.rhai"), "fn report() { \"chosen by the node\" }\nfn fine() { 7 }\n")
        .unwrap();
    let run = |manifest_text: &str| {
        manifest(&dir, manifest_text);
        let out = weavelet_cmd().current_dir(&dir).args(["run", "weavelet.toml"]).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    // A link a node with the write grant could have planted in its folder; the
    // pipeline's saved output goes beneath that folder.
    symlink("../../victim", dir.join("out/sub")).unwrap();
    let (code, stderr) =
        run("[[scripts]]\npath = \"steps.rhai\"\n[policy.nodes.report]\nwrite = [\"out\"]\n\
         [outputs]\nreport = \"out/sub/report.txt\"\nfine = \"out/fine.txt\"\n");
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("it leads outside"), "{stderr}");
    assert!(!victim.join("report.txt").exists(), "the output was written through the link");
    assert_eq!(std::fs::read_to_string(dir.join("out/fine.txt")).unwrap().trim(), "7");
    // A planted link at the output's own name is replaced, not followed.
    std::fs::write(victim.join("precious.txt"), "keep").unwrap();
    symlink("../../victim/precious.txt", dir.join("out/report.txt")).unwrap();
    let (code, stderr) = run(
        "[[scripts]]\npath = \"steps.rhai\"\n[policy.nodes.report]\nwrite = [\"out\"]\n[outputs]\nreport = \"out/report.txt\"\n",
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(std::fs::read_to_string(victim.join("precious.txt")).unwrap(), "keep");
    assert!(!dir.join("out/report.txt").is_symlink());
    // A write grant that is a link out of the pipeline's folder is refused when loading.
    symlink("../victim", dir.join("elsewhere")).unwrap();
    let (code, stderr) =
        run("[[scripts]]\npath = \"steps.rhai\"\n[policy.nodes.report]\nwrite = [\"elsewhere\"]\n");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("`elsewhere` resolves through a link"), "{stderr}");
    // So is one that holds the result cache.
    manifest(&dir, "[[scripts]]\npath = \"steps.rhai\"\n[policy.nodes.report]\nwrite = [\"state\"]\n");
    let out = weavelet_cmd()
        .current_dir(&dir)
        .env("WEAVELET_CACHE_DIR", dir.join("state/cache"))
        .args(["run", "weavelet.toml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("which holds the result cache"), "{stderr}");
}

/// A Rust node folder `name` in `dir` (a crate of its own, with no
/// dependencies) whose build script is `build_rs`.
fn crate_with_build_script(dir: &Path, name: &str, build_rs: &str) -> PathBuf {
    let folder = dir.join(name);
    std::fs::create_dir_all(folder.join("src")).unwrap();
    std::fs::write(
        folder.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[lib]\ncrate-type = [\"cdylib\"]\n[workspace]\n"
        ),
    )
    .unwrap();
    std::fs::write(folder.join("src/lib.rs"), "").unwrap();
    std::fs::write(folder.join("build.rs"), build_rs).unwrap();
    folder
}

#[test]
fn case_43_inspect_never_builds_a_node_folder() {
    // A node folder whose build script would run on the host: inspecting it,
    // the review step before granting anything, must not build it.
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("build-script-ran");
    let folder = crate_with_build_script(
        dir.path(),
        "community_node",
        &format!("fn main() {{ std::fs::write({:?}, \"host\").unwrap(); }}\n", marker.display().to_string()),
    );
    let out = weavelet_cmd().arg("inspect").arg(&folder).timeout(Duration::from_secs(60)).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("inspect does not build"), "{stderr}");
    assert!(stderr.contains("weavelet build"), "{stderr}");
    assert!(!marker.exists(), "the folder's build script ran on the host");
}

/// How a test builds a node folder.
#[derive(Clone, Copy, PartialEq)]
enum BuiltBy {
    /// `weavelet run` of a pipeline listing it (untrusted).
    Run,
    /// The same, its source trusted with `isolation = "in-process"`.
    TrustedSource,
    /// `weavelet build --trusted FOLDER`.
    TrustedFlag,
}

/// What a node folder's build script saw, built as `how` says.
fn what_a_build_script_sees(how: BuiltBy) -> (String, bool) {
    let dir = tempfile::tempdir().unwrap();
    // Another process of this user, with a secret in its environment.
    let mut victim =
        std::process::Command::new("sleep").arg("60").env("WEAVELET_TEST_SECRET", "hunter2").spawn().unwrap();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let socket = dir.path().join("engine.sock");
    let _unix = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let outside = dir.path().join("planted-outside");
    let canary = dir.path().join("secret.txt");
    std::fs::write(&canary, "canary").unwrap();
    let folder = crate_with_build_script(
        dir.path(),
        "community_node",
        &format!(
            r#"fn main() {{
    let seen = [
        format!("secret={{}}", std::env::var("WEAVELET_TEST_SECRET").is_ok()),
        format!("host={{}}", std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim()),
        format!("wrote_outside={{}}", std::fs::write({outside:?}, "x").is_ok()),
        format!("wrote_folder={{}}", std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/planted.rs"), "x").is_ok()),
        format!("tcp={{}}", std::net::TcpStream::connect({tcp:?}).is_ok()),
        format!("unix={{}}", std::os::unix::net::UnixStream::connect({socket:?}).is_ok()),
        format!("environ={{}}", std::fs::read("/proc/{victim}/environ").is_ok()),
        format!("read_outside={{}}", std::fs::read({canary:?}).is_ok()),
    ];
    panic!("SEEN {{}}", seen.join(" "));
}}
"#,
            outside = outside.display().to_string(),
            tcp = tcp.local_addr().unwrap().to_string(),
            socket = socket.display().to_string(),
            victim = victim.id(),
            canary = canary.display().to_string(),
        ),
    );
    let trust = if how == BuiltBy::TrustedSource {
        "[policy.sources.\"community_node\"]\nisolation = \"in-process\"\n"
    } else {
        ""
    };
    manifest(dir.path(), &format!("[[components]]\nrust = \"community_node\"\n{trust}"));
    let args: &[&str] = match how {
        BuiltBy::Run | BuiltBy::TrustedSource => &["run", "weavelet.toml"],
        BuiltBy::TrustedFlag => &["build", "--trusted", "community_node"],
    };
    let out = weavelet_cmd()
        .current_dir(dir.path())
        .env("WEAVELET_CACHE_DIR", dir.path().join("cache"))
        .env("WEAVELET_TEST_SECRET", "hunter2")
        .args(args)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let _ = victim.kill();
    let _ = victim.wait();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "the build script fails the build:\n{stderr}");
    assert!(stderr.contains("building the node crate"), "{stderr}");
    let seen = stderr.lines().find_map(|l| l.split_once("SEEN ").map(|(_, s)| s.to_string()));
    let seen = seen.unwrap_or_else(|| panic!("the build script did not run:\n{stderr}"));
    let planted = outside.exists() || folder.join("planted.rs").exists();
    (seen, planted)
}

#[test]
fn a_node_folder_s_build_runs_in_the_build_sandbox() {
    // The build script of an untrusted folder: no secrets, network, other
    // processes, files beside its folder, or writes outside its build's own folders.
    let (seen, planted) = what_a_build_script_sees(BuiltBy::Run);
    assert_eq!(
        seen,
        "secret=false host=weavelet-build wrote_outside=false wrote_folder=false tcp=false unix=false environ=false \
         read_outside=false"
    );
    assert!(!planted, "the build script wrote outside its build folders");
    // The same folder, trusted by the operator, builds on this machine as before:
    // what the sandbox takes away is really there to take.
    for how in [BuiltBy::TrustedSource, BuiltBy::TrustedFlag] {
        let (seen, planted) = what_a_build_script_sees(how);
        assert!(seen.starts_with("secret=true host=") && !seen.contains("weavelet-build"), "{seen}");
        assert!(
            seen.ends_with(
                "wrote_outside=true wrote_folder=true tcp=true unix=true environ=true read_outside=true"
            ),
            "{seen}"
        );
        assert!(planted);
    }
}

#[test]
fn a_build_that_never_ends_is_stopped_with_everything_it_started() {
    // A build script that starts a child and spins: the build deadline kills
    // the build, and its sandbox's PID namespace takes every process with it.
    let dir = tempfile::tempdir().unwrap();
    crate_with_build_script(
        dir.path(),
        "spinner",
        "fn main() { let _child = std::process::Command::new(\"sleep\").arg(\"7777\").spawn(); loop { std::hint::spin_loop(); } }\n",
    );
    let started = Instant::now();
    let out = weavelet_cmd()
        .current_dir(dir.path())
        .env("WEAVELET_CACHE_DIR", dir.path().join("cache"))
        .env("WEAVELET_BUILD_TIMEOUT", "4s")
        .args(["build", "spinner"])
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("took longer than 4s and was stopped"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}", started.elapsed());
    // Nothing the build started outlives it.
    std::thread::sleep(Duration::from_millis(300));
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("sleep 7777") || c.contains(&*dir.path().to_string_lossy()))
        .collect();
    assert!(left.is_empty(), "still running: {left:?}");
}

#[test]
fn a_build_is_held_to_its_memory_limit_across_all_its_processes() {
    // A build script that starts four copies of itself, each holding 400 MiB:
    // every process stays under the 1 GiB limit alone, the build as a whole
    // does not. The build's memory cgroup stops it, and the build fails
    // saying which limit it reached and how to raise it.
    let dir = tempfile::tempdir().unwrap();
    crate_with_build_script(
        dir.path(),
        "hoarder",
        "fn main() {
            if std::env::var_os(\"HOARD\").is_some() {
                let held = vec![1u8; 400 << 20];
                std::thread::sleep(std::time::Duration::from_secs(60));
                std::hint::black_box(&held);
                return;
            }
            let me = std::env::current_exe().unwrap();
            let children: Vec<_> = (0..4)
                .map(|_| std::process::Command::new(&me).env(\"HOARD\", \"1\").spawn().unwrap())
                .collect();
            for mut child in children {
                assert!(child.wait().unwrap().success(), \"a hoarder was stopped\");
            }
        }\n",
    );
    let started = Instant::now();
    let out = weavelet_cmd()
        .current_dir(dir.path())
        .env("WEAVELET_CACHE_DIR", dir.path().join("cache"))
        .env("WEAVELET_BUILD_MEMORY", "1GiB")
        .args(["build", "hoarder"])
        .timeout(Duration::from_secs(180))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("the build reached its memory limit of 1.0 GiB"), "{stderr}");
    assert!(stderr.contains("WEAVELET_BUILD_MEMORY sets the limit"), "{stderr}");
    // Stopped when it reached the limit, not at its children's 60 s sleep.
    assert!(started.elapsed() < Duration::from_secs(55), "took {:?}", started.elapsed());
}

#[test]
fn host_work_past_the_deadline_is_stopped_by_killing_its_worker() {
    // One host call that never returns on its own; a memory budget large
    // enough that only the clock stops it. The worker is killed at the
    // deadline, the operation is named, and the run ends within a second of it.
    let arena = Arena::new(&[], "[policy]\ntimeout = \"1s\"\nmemory = \"8GiB\"\n");
    let o = arena.stopped(
        "rhai_sql_join_explosion",
        &[],
        "was stopped: wall-time budget of 1s exceeded inside `table.height`",
    );
    assert!(o.stderr.contains("its worker process was killed"), "{}", o.stderr);
    // The node's budget + 1 s (1.75–1.85 s measured), with 0.5 s more for
    // starting the CLI and loading the pipeline, before the node's clock starts.
    assert!(o.took < Duration::from_millis(2500), "the run took {:?}", o.took);
}

#[test]
fn case_36_a_join_s_size_is_computed_before_it_is_made() {
    // In process too (a trusted source, where nothing could kill the call):
    // the join that would make 4 * 10^13 rows is refused before it is made.
    for isolation in ["process", "in-process"] {
        let arena = Arena::new(&[], &format!("[policy]\ntimeout = \"20s\"\nisolation = \"{isolation}\"\n"));
        let o = arena.stopped("rhai_join_explosion", &[], "this join would make 39062500000000 rows");
        // Named where the script asked for it.
        assert!(o.stderr.contains("(hostile.rhai:95)"), "{}", o.stderr);
        assert!(o.took < Duration::from_secs(10), "{isolation}: the run took {:?}", o.took);
    }
}

#[test]
fn host_work_past_the_memory_budget_fails_only_its_node() {
    // The same call under a 64 MiB budget: the worker's data limit (budget +
    // host slack) stops the allocation, the worker dies, the host does not.
    let arena = Arena::new(&[], "[policy]\ntimeout = \"20s\"\nmemory = \"64MiB\"\n");
    let o =
        arena.stopped("rhai_sql_join_explosion", &[], "was stopped: ran out of memory inside `table.height`");
    assert!(o.stderr.contains("memory budget of 64.0 MiB"), "{}", o.stderr);
    assert!(o.took < Duration::from_secs(15), "the run took {:?}", o.took);
}

#[test]
fn a_trusted_source_runs_in_process_and_says_so() {
    // `isolation = "in-process"` is the operator's to grant: the same
    // pipeline's bystanders run in the host process, and the run says so.
    let arena = Arena::new(&[], "[policy]\ntimeout = \"1s\"\nisolation = \"in-process\"\n");
    let o = arena.run(&[], &[]);
    o.bystanders_finished();
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let said = weavelet_cmd()
        .current_dir(arena.dir.path())
        .args(["run", "weavelet.toml", "-o", "rhai_bystander", "-o", "bystander"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&said.stderr);
    assert!(stderr.contains("all in this process (isolation = \"in-process\")"), "{stderr}");
    // The default says nothing: every node is in a worker process.
    let default = Arena::new(&[], "");
    let said = weavelet_cmd()
        .current_dir(default.dir.path())
        .args(["run", "weavelet.toml", "-o", "rhai_bystander"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&said.stderr);
    assert!(stderr.contains("(1 nodes, 1 jobs)\n"), "{stderr}");
    let bad = Arena::new(&[], "[policy]\ntimeout = \"1s\"\nisolation = \"trusted\"\n").run(&[], &[]);
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    assert!(bad.stderr.contains("`trusted` is not an isolation level"), "{}", bad.stderr);
}

#[test]
fn case_37_table_plans_are_bounded_in_steps_and_depth() {
    let arena = Arena::new(&[], "[policy]\ntimeout = \"5s\"\n");
    for node in ["rhai_plan_doubling", "rhai_sql_doubling"] {
        let o = arena.stopped(node, &[], "would make a table plan of more than 5000 steps");
        assert!(o.took < Duration::from_secs(20), "{node} took {:?}", o.took);
    }
    // 5 000 chained operations: checked in constant time each, computed every
    // 1 000 (no recursion past that), and finished well inside the budget.
    let o = arena.run(&["rhai_deep_plan"], &[]);
    o.bystanders_finished();
    assert!(o.stdout.contains("rhai_deep_plan: 1"), "{}\n{}", o.stdout, o.stderr);
}

#[test]
fn a_worker_process_reaches_only_what_its_node_was_granted() {
    // What a node's worker can do if a node escaped its wasm or Rhai sandbox
    // into native code: tried from inside a real confined worker.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::create_dir_all(root.join("out")).unwrap();
    std::fs::create_dir_all(root.join("secret")).unwrap();
    std::fs::write(root.join("data/a.csv"), "x\n1\n").unwrap();
    std::fs::write(root.join("secret/canary.txt"), CANARY_FILE).unwrap();
    std::fs::write(root.join("nodes.rhai"), "fn x() { 1 }").unwrap();
    let mut policy = weavelet::Policy::default();
    policy.grants.files =
        std::sync::Arc::new(weavelet::ReadGrants::new(root.clone(), vec![root.join("data")]));
    policy.grants.write = vec![(root.join("out"), "out".into())];
    let runtime = runtime();
    let (confinement, results) = runtime
        .workers()
        .probe(
            &root.join("nodes.rhai"),
            &policy,
            &[
                root.join("data/a.csv"),
                root.join("nodes.rhai"),
                root.join("secret/canary.txt"),
                "/etc/passwd".into(),
            ],
            &[root.join("out/new.txt"), root.join("data/new.txt"), root.join("secret/new.txt")],
        )
        .unwrap();
    assert!(confinement.contains("Landlock (files beneath its grants only)"), "{confinement}");
    assert!(confinement.contains("seccomp"), "{confinement}");
    let outcome: BTreeMap<String, bool> = results.iter().map(|(what, r)| (what.clone(), r.is_ok())).collect();
    let allowed = |what: &str| outcome.iter().find(|(k, _)| k.starts_with(what)).map(|(_, ok)| *ok);
    let r = |p: &str| root.join(p).display().to_string();
    assert_eq!(allowed(&format!("read {}", r("data/a.csv"))), Some(true), "{results:?}");
    assert_eq!(allowed(&format!("read {}", r("nodes.rhai"))), Some(true), "{results:?}");
    assert_eq!(allowed(&format!("read {}", r("secret/canary.txt"))), Some(false), "{results:?}");
    assert_eq!(allowed("read /etc/passwd"), Some(false), "{results:?}");
    assert_eq!(allowed(&format!("create {}", r("out/new.txt"))), Some(true), "{results:?}");
    assert_eq!(
        allowed(&format!("create {}", r("data/new.txt"))),
        Some(false),
        "read grants are read-only: {results:?}"
    );
    assert_eq!(allowed(&format!("create {}", r("secret/new.txt"))), Some(false), "{results:?}");
    assert_eq!(allowed("connect"), Some(false), "{results:?}");
    assert_eq!(allowed("run /bin/sh"), Some(false), "{results:?}");
    assert_eq!(allowed("environment"), Some(false), "no variable was granted: {results:?}");
    assert!(!root.join("data/new.txt").exists() && !root.join("secret/new.txt").exists());
}

#[test]
fn a_source_changed_after_loading_is_not_run_by_its_worker() {
    // The host fingerprinted (and cached by) the text it loaded; a worker
    // reading the file again must run that text or nothing.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s.rhai");
    std::fs::write(&script, "fn answer() { 42 }").unwrap();
    let rt = runtime();
    let plan = rt.load(&script).unwrap().plan(&[]).unwrap();
    std::fs::write(&script, "fn answer() { 666 }").unwrap();
    let report = rt.run(&plan, RunOptions::new()).unwrap();
    assert_eq!(report.output("answer"), None);
    let failure = report.failures.first().expect("the node fails");
    assert!(failure.message.contains("changed since the host loaded it"), "{failure}");
}
