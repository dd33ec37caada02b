//! The embedding API against real compiled components: resolution, every
//! pre-run error, concurrency, failure isolation and budgets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::common::*;
use weavelet::RunOptions;
use weavelet::{EventKind, FailureKind, Pipeline, Policy, Runtime, Value};

#[test]
fn diamond_resolves_by_parameter_names_and_computes() {
    let rt = runtime();
    let mut p = pipeline(&rt, &[DIAMOND_NODES]);
    p.set_param("count", Value::Int(10));
    let plan = p.plan(&[]).unwrap_or_else(|e| panic!("{e}"));
    // Sinks are the default targets; inputs come before the nodes that read them.
    assert_eq!(plan.targets().collect::<Vec<_>>(), ["report"]);
    let order: Vec<&str> = plan.node_names().collect();
    assert_eq!(order.len(), 4);
    assert_eq!(order[0], "readings");
    assert_eq!(order[3], "report");
    let report = rt.run(&plan, RunOptions::new()).unwrap_or_else(|e| panic!("{e}"));
    report.check().unwrap_or_else(|e| panic!("{e}"));
    // readings(10) = 20 + (i % 10) * 0.5 + ((i * 7919) % 13) * 0.01 for i in 0..10
    let expected: Vec<f64> =
        (0..10).map(|i: i64| 20.0 + (i % 10) as f64 * 0.5 + ((i * 7919) % 13) as f64 * 0.01).collect();
    let total: f64 = expected.iter().sum();
    let min = expected.iter().copied().fold(f64::INFINITY, f64::min);
    let max = expected.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(
        report.output("report"),
        Some(&Value::from(format!("total {total:.2}, range {min:.2} .. {max:.2}")))
    );
    assert_eq!(report.nodes_run, 4);
}

#[test]
fn only_the_subgraph_of_requested_outputs_is_planned() {
    let rt = runtime();
    let mut p = pipeline(&rt, &[DIAMOND_NODES]);
    p.set_param("count", Value::Int(3));
    let plan = p.plan(&["total"]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.node_names().collect::<Vec<_>>(), ["readings", "total"]);
    let report = rt.run(&plan, RunOptions::new()).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(report.output("total"), Some(Value::Float(_))));
    assert_eq!(report.output("report"), None);
}

#[test]
fn optional_input_binds_to_a_parameter_when_given() {
    let rt = runtime();
    let mut p = pipeline(&rt, &[DIAMOND_NODES]);
    p.set_param("count", Value::Int(1));
    p.set_param_text("unit", "°C");
    let report = rt
        .run(&p.plan(&["report"]).unwrap_or_else(|e| panic!("{e}")), RunOptions::new())
        .unwrap_or_else(|e| panic!("{e}"));
    let Some(Value::Text(text)) = report.output("report") else { panic!("no report: {report:?}") };
    assert!(text.contains("°C"), "{text}");
}

#[test]
fn missing_dependency_suggests_the_closest_name() {
    let rt = runtime();
    let module = load(&rt, DIAMOND_NODES);
    let mut p = Pipeline::new();
    p.add_node(
        module
            .node("total")
            .unwrap_or_else(|e| panic!("{e}"))
            .bind("readings", "readigns")
            .unwrap_or_else(|e| panic!("{e}")),
    );
    p.add_node(module.node("readings").unwrap_or_else(|e| panic!("{e}")));
    p.set_param("count", Value::Int(3));
    let err = plan_error(&p, &["total"]);
    assert!(err.contains("node `total` (diamond_nodes.wasm) needs `readigns` (float-list), but no node or parameter is called `readigns`"), "{err}");
    assert!(err.contains("did you mean `readings`?"), "{err}");
}

#[test]
fn two_nodes_with_one_name_name_both_sources() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let copy = dir.path().join("copy_of_diamond.wasm");
    std::fs::copy(DIAMOND_NODES, &copy).unwrap_or_else(|e| panic!("{e}"));
    let mut p = pipeline(&rt, &[DIAMOND_NODES]);
    p.add_node(load(&rt, copy.to_str().unwrap_or_default()).node("total").unwrap_or_else(|e| panic!("{e}")));
    let err = plan_error(&p, &[]);
    assert!(
        err.contains(
            "two nodes are named `total`: one from diamond_nodes.wasm, one from copy_of_diamond.wasm"
        ),
        "{err}"
    );
}

#[test]
fn cycle_prints_the_full_path() {
    let rt = runtime();
    let m = load(&rt, FIXTURE_NODES);
    let node = |alias: &str, from: &str| {
        m.node("inc").and_then(|n| n.renamed(alias).bind("x", from)).unwrap_or_else(|e| panic!("{e}"))
    };
    let mut p = Pipeline::new();
    p.add_node(node("a", "c"));
    p.add_node(node("b", "a"));
    p.add_node(node("c", "b"));
    p.add_node(node("out", "c"));
    let err = plan_error(&p, &["out"]);
    assert!(
        err.contains("dependency cycle: a → b → c → a")
            || err.contains("dependency cycle: b → c → a → b")
            || err.contains("dependency cycle: c → a → b → c"),
        "{err}"
    );
}

#[test]
fn declared_type_mismatch_is_reported_before_running() {
    let rt = runtime();
    let p = pipeline(&rt, &[FIXTURE_NODES]);
    let err = plan_error(&p, &["double_word"]);
    assert!(
        err.contains("type mismatch: node `word` (fixture_nodes.wasm) outputs text, but input `word` of node `double_word` (fixture_nodes.wasm) expects int"),
        "{err}"
    );
}

#[test]
fn missing_required_parameter_says_how_to_pass_it() {
    let rt = runtime();
    let mut p = pipeline(&rt, &[DIAMOND_NODES]);
    p.require_param("count", weavelet::ValueType::Int);
    let err = plan_error(&p, &["report"]);
    assert!(
        err.contains("missing required parameter `count` (int), needed by input `count` of node `readings`"),
        "{err}"
    );
    // The library says what to do in its own words; the CLI spells it as a flag (tests/cli.rs).
    assert!(err.contains("help: set parameter `count` to <int>"), "{err}");
}

#[test]
fn unparsable_parameter_names_the_expected_type() {
    let rt = runtime();
    let mut p = pipeline(&rt, &[DIAMOND_NODES]);
    p.set_param_text("count", "ten");
    let err = plan_error(&p, &["report"]);
    assert!(
        err.contains(
            "parameter `count`: `ten` is not an int, but input `count` of node `readings` expects int"
        ),
        "{err}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let rt = runtime();
    let p = pipeline(&rt, &[DIAMOND_NODES]);
    let err = plan_error(&p, &["report", "reprot"]);
    assert!(err.contains("no node is named `reprot`"), "{err}");
    assert!(err.contains("did you mean `report`?"), "{err}");
}

/// `meet_a` and `meet_b` each log `rendezvous`; the event sink holds each
/// logging node until the other has logged too. Run one at a time, the first
/// would wait forever (the sink gives up after 20 s and the test fails).
#[test]
fn independent_nodes_run_at_the_same_time() {
    let rt = Runtime::new(crate::common::config().cache_dir(None).jobs(2)).unwrap_or_else(|e| panic!("{e}"));
    let p = pipeline(&rt, &[FIXTURE_NODES]);
    let arrived = Arc::new((Mutex::new(0usize), Condvar::new()));
    let met = Arc::new(Mutex::new(true));
    let sink = {
        let arrived = arrived.clone();
        let met = met.clone();
        Arc::new(move |event: &weavelet::Event| {
            if let EventKind::Log { message, .. } = &event.kind
                && message == "rendezvous"
            {
                let (count, cv) = &*arrived;
                let mut n = count.lock().unwrap_or_else(|e| e.into_inner());
                *n += 1;
                cv.notify_all();
                let (n, timeout) = cv
                    .wait_timeout_while(n, Duration::from_secs(20), |n| *n < 2)
                    .unwrap_or_else(|e| e.into_inner());
                if timeout.timed_out() && *n < 2 {
                    *met.lock().unwrap_or_else(|e| e.into_inner()) = false;
                }
            }
        })
    };
    let plan = p.plan(&["met"]).unwrap_or_else(|e| panic!("{e}"));
    let report = rt.run(&plan, RunOptions::new().events(sink)).unwrap_or_else(|e| panic!("{e}"));
    assert!(*met.lock().unwrap_or_else(|e| e.into_inner()), "meet_a and meet_b never ran at the same time");
    assert_eq!(report.output("met"), Some(&Value::from("a+b")));
}

#[test]
fn a_trap_stops_its_downstream_and_independent_branches_finish() {
    let rt = runtime();
    let mut p = pipeline(&rt, &[FIXTURE_NODES]);
    p.set_param("x", Value::Int(4));
    let plan = p.plan(&["after_trap", "independent"]).unwrap_or_else(|e| panic!("{e}"));
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let events = events.clone();
        Arc::new(move |e: &weavelet::Event| {
            events
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((e.node.to_string(), format!("{:?}", e.kind)))
        })
    };
    let report = rt.run(&plan, RunOptions::new().events(sink)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.output("independent"), Some(&Value::Int(40)));
    assert_eq!(report.output("after_trap"), None);
    assert_eq!(report.failures.len(), 1);
    let failure = &report.failures[0];
    assert_eq!((failure.node.as_str(), failure.source.as_str()), ("traps", "fixture_nodes.wasm"));
    assert_eq!(failure.kind, FailureKind::Trap);
    assert!(
        failure.to_string().starts_with(
            "node `traps` (fixture_nodes.wasm) trapped: wasm trap: wasm `unreachable` instruction executed"
        ),
        "{failure}"
    );
    assert_eq!(report.skipped, [("after_trap".to_string(), "traps".to_string())]);
    assert!(report.check().is_err());
    let events = events.lock().unwrap_or_else(|e| e.into_inner());
    for kind in ["Queued", "Started", "Finished", "Failed", "Skipped"] {
        assert!(events.iter().any(|(_, k)| k.starts_with(kind)), "no {kind} event in {events:?}");
    }
}

#[test]
fn a_guest_error_and_a_guest_panic_name_the_node() {
    let rt = runtime();
    let mut p = pipeline(&rt, &[FIXTURE_NODES]);
    p.set_param("x", Value::Int(7));
    let report = rt
        .run(
            &p.plan(&["fails", "panics", "independent"]).unwrap_or_else(|e| panic!("{e}")),
            RunOptions::new(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.output("independent"), Some(&Value::Int(70)));
    let text = report.check().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(text.contains("node `fails` (fixture_nodes.wasm) failed: refusing to work on 7"), "{text}");
    assert!(text.contains("node `panics` (fixture_nodes.wasm) trapped: the guest panicked"), "{text}");
    assert!(text.contains("fixture panic on purpose with x = 7"), "{text}");
}

#[test]
fn an_endless_loop_is_stopped_by_the_wall_time_budget() {
    let policy = Policy::default().with_timeout(Duration::from_millis(200));
    let rt = Runtime::new(crate::common::config().cache_dir(None).policy(policy))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut p = pipeline(&rt, &[FIXTURE_NODES]);
    p.set_param("x", Value::Int(1));
    let report = rt
        .run(&p.plan(&["spins", "independent"]).unwrap_or_else(|e| panic!("{e}")), RunOptions::new())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.output("independent"), Some(&Value::Int(10)));
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].kind, FailureKind::Timeout(Duration::from_millis(200)));
    assert!(
        report.failures[0]
            .to_string()
            .contains("node `spins` (fixture_nodes.wasm) was stopped: wall-time budget of 200ms exceeded"),
        "{}",
        report.failures[0]
    );
}

#[test]
fn clock_and_randomness_are_deterministic_without_grants() {
    let run = || {
        let rt = runtime();
        let p = pipeline(&rt, &[FIXTURE_NODES]);
        let report = rt.run(&p.plan(&["clock_and_random"]).unwrap(), RunOptions::new()).unwrap();
        report.check().unwrap();
        report.output("clock_and_random").cloned().unwrap()
    };
    let first = run();
    let Value::IntList(values) = &first else { panic!("{first:?}") };
    assert_eq!(values[0], 0, "the wall clock of an ungranted node reads the epoch");
    assert_eq!(run(), first, "randomness differs between runs");
}

#[test]
fn memory_past_the_budget_fails_the_node_and_names_the_limit() {
    let policy = Policy::default().with_memory(64 << 20);
    let rt = Runtime::new(crate::common::config().cache_dir(None).policy(policy)).unwrap();
    let m = load(&rt, FIXTURE_NODES);
    let mut p = Pipeline::new();
    p.add_node(m.node("hog").unwrap().renamed("small").bind("mib", "small_mib").unwrap());
    p.add_node(m.node("hog").unwrap().renamed("big").bind("mib", "big_mib").unwrap());
    p.set_param("small_mib", Value::Int(16));
    p.set_param("big_mib", Value::Int(100));
    let report = rt.run(&p.plan(&["small", "big"]).unwrap(), RunOptions::new()).unwrap();
    assert_eq!(report.output("small"), Some(&Value::Int(16 << 20)));
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    let f = &report.failures[0];
    assert_eq!(f.node, "big");
    assert_eq!(f.kind, FailureKind::Memory { limit: 64 << 20 });
    assert!(f.to_string().contains("was stopped: memory budget of 64.0 MiB exceeded"), "{f}");
}

#[test]
fn unbounded_recursion_traps_on_the_wasm_stack_limit() {
    let rt = runtime();
    let mut p = pipeline(&rt, &[FIXTURE_NODES]);
    p.set_param("depth", Value::Int(0));
    p.set_param("x", Value::Int(1));
    let report = rt.run(&p.plan(&["recurse", "independent"]).unwrap(), RunOptions::new()).unwrap();
    assert_eq!(report.output("independent"), Some(&Value::Int(10)));
    let f = &report.failures[0];
    assert_eq!(f.kind, FailureKind::Trap);
    assert!(
        f.to_string().contains("node `recurse` (fixture_nodes.wasm) trapped: wasm stack overflow"),
        "{f}"
    );
}

#[test]
fn every_invocation_gets_a_fresh_sandbox() {
    // One node used many times over: each invocation instantiates anew, so a
    // thousand-node chain of `inc` computes exactly 1000.
    let rt = runtime();
    let m = load(&rt, FIXTURE_NODES);
    let mut p = Pipeline::new();
    p.add_node(
        m.node("inc").and_then(|n| n.renamed("n0").bind("x", "start")).unwrap_or_else(|e| panic!("{e}")),
    );
    for i in 1..1000 {
        p.add_node(
            m.node("inc")
                .and_then(|n| n.renamed(&format!("n{i}")).bind("x", &format!("n{}", i - 1)))
                .unwrap_or_else(|e| panic!("{e}")),
        );
    }
    p.set_param("start", Value::Int(0));
    let report = rt
        .run(&p.plan(&["n999"]).unwrap_or_else(|e| panic!("{e}")), RunOptions::new())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.output("n999"), Some(&Value::Int(1000)));
}

#[test]
fn components_are_cached_on_disk_across_runtimes() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = || crate::common::config().cache_dir(Some(dir.path().to_path_buf()));
    let first = Runtime::new(config()).unwrap_or_else(|e| panic!("{e}"));
    assert!(!load(&first, DIAMOND_NODES).was_cached_on_disk());
    let second = Runtime::new(config()).unwrap_or_else(|e| panic!("{e}"));
    let module = load(&second, DIAMOND_NODES);
    assert!(module.was_cached_on_disk());
    // A corrupted cache entry is ignored and rewritten, never loaded.
    for entry in std::fs::read_dir(dir.path().join("components")).unwrap_or_else(|e| panic!("{e}")).flatten()
    {
        let mut bytes = std::fs::read(entry.path()).unwrap_or_else(|e| panic!("{e}"));
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(entry.path(), bytes).unwrap_or_else(|e| panic!("{e}"));
    }
    let third = Runtime::new(config()).unwrap_or_else(|e| panic!("{e}"));
    assert!(!load(&third, DIAMOND_NODES).was_cached_on_disk());
}

#[test]
fn a_file_that_is_not_a_component_is_refused_clearly() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bogus = dir.path().join("bogus.wasm");
    std::fs::write(&bogus, b"hello").unwrap_or_else(|e| panic!("{e}"));
    let err = rt.load_component(&bogus).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("not a WebAssembly file"), "{err}");
    let err =
        rt.load_component(dir.path().join("missing.wasm")).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("the file does not exist"), "{err}");
}

macro_rules! guest_is_a_weavelet_component {
    ($name:ident) => {{
        // `stranger` imports more than the Weavelet world on purpose (tests/hostile.rs, case 23).
        if stringify!($name) != "STRANGER_NODES" {
            let rt = runtime();
            let m = load(&rt, weavelet_test_artifacts::$name);
            assert!(m.decls().count() > 0, "{} declares no nodes", stringify!($name));
        }
    }};
}

#[test]
fn every_guest_loads_and_declares_nodes() {
    weavelet_test_artifacts::foreach_guest!(guest_is_a_weavelet_component);
}

#[test]
fn declarations_carry_names_docs_types_and_optionality() {
    let rt = runtime();
    let m = load(&rt, DIAMOND_NODES);
    let report = m.decls().find(|d| d.name == "report").unwrap_or_else(|| panic!("no report node"));
    assert_eq!(report.doc, "A one-line report of the total and the spread, in `unit` (optional).");
    let inputs: Vec<(&str, String, bool)> =
        report.inputs.iter().map(|i| (i.name.as_str(), i.ty.to_string(), i.optional)).collect();
    assert_eq!(
        inputs,
        [
            ("total", "float".into(), false),
            ("spread", "float-list".into(), false),
            ("unit", "text".into(), true)
        ]
    );
    assert_eq!(report.output, weavelet::ValueType::Text);
}

/// A script of `n` chained functions (`n{i}` reads `n{i-1}`, `n0` reads
/// `start`), with `extra` appended, in a temporary folder.
fn chain_script(n: usize, extra: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut src = String::new();
    for i in 0..n {
        let input = if i == 0 { "start".to_string() } else { format!("n{}", i - 1) };
        let say = if i == 5 { "print(`at five`);" } else { "" };
        src.push_str(&format!("fn n{i}({input}) {{ {say} {input} + 1 }}\n"));
    }
    src.push_str(extra);
    let path = dir.path().join("chain.rhai");
    std::fs::write(&path, src).unwrap();
    (dir, path)
}

#[test]
fn a_chain_of_nodes_runs_in_one_worker_in_one_round_trip() {
    // Forty nodes, each the only reader of the one before: the worker runs
    // each as soon as the one before it ends, and the supervisor takes each
    // result when the node's turn comes, without a round trip per node.
    let (_dir, script) = chain_script(40, "");
    let rt = Runtime::new(config().cache_dir(None)).unwrap();
    let mut p = Pipeline::new();
    p.add_nodes(rt.script_nodes(&script).unwrap());
    p.set_param("start", Value::Int(0));
    let plan = p.plan(&["n39", "n20"]).unwrap();
    let logs = Arc::new(Mutex::new(Vec::new()));
    let seen = logs.clone();
    let events: weavelet::EventSink = Arc::new(move |event: &weavelet::Event| {
        if let EventKind::Log { message, .. } = &event.kind {
            seen.lock().unwrap().push((event.node.to_string(), message.clone()));
        }
    });
    let report = rt.run(&plan, RunOptions::new().events(events)).unwrap();
    report.check().unwrap();
    assert_eq!(report.output("n39"), Some(&Value::Int(40)));
    assert_eq!(report.output("n20"), Some(&Value::Int(21)), "a requested node inside the chain");
    assert_eq!(report.nodes_run, 40);
    let counts = rt.workers().counts();
    assert_eq!(counts.started, 1, "{counts:?}");
    assert_eq!(counts.requests, 1, "one invocation for the whole chain: {counts:?}");
    // A node of the chain still reports as itself.
    assert_eq!(*logs.lock().unwrap(), vec![("n5".to_string(), "at five".to_string())]);

    // Again: the same worker, one more round trip.
    rt.run(&plan, RunOptions::new()).unwrap().check().unwrap();
    assert_eq!(rt.workers().counts(), weavelet::isolate::WorkerCounts { started: 1, requests: 2 });
}

#[test]
fn a_node_of_a_chain_past_its_deadline_fails_alone_and_those_before_it_keep_their_results() {
    // The third node of a chain is inside one host call past its budget:
    // its worker is killed at its own deadline (timed from its own start in
    // the worker), the nodes before it keep their results, the one after is
    // skipped, and the next run gets a fresh worker.
    let (_dir, script) = chain_script(
        2,
        "fn stuck(n1) {
            let parts = [];
            for i in 0..50 { parts.push(sql(\"SELECT 1 AS k\", #{})); }
            let a = concat(parts);
            sql(\"SELECT x.k FROM a x JOIN a b ON x.k = b.k JOIN a c ON x.k = c.k JOIN a d ON x.k = d.k \
                 JOIN a e ON x.k = e.k JOIN a f ON x.k = f.k JOIN a g ON x.k = g.k\", #{a: a}).height()
        }
        fn after(stuck) { stuck + 1 }
        fn failing(n1) { throw `no` }
        fn never(failing) { 1 }\n",
    );
    let mut policy = Policy::default();
    policy.budgets.timeout = Duration::from_secs(1);
    policy.budgets.memory = 8 << 30;
    let rt = Runtime::new(config().cache_dir(None).policy(policy)).unwrap();
    let mut p = Pipeline::new();
    p.add_nodes(rt.script_nodes(&script).unwrap());
    p.set_param("start", Value::Int(0));
    let plan = p.plan(&["n1", "after"]).unwrap();
    let started = std::time::Instant::now();
    let report = rt.run(&plan, RunOptions::new()).unwrap();
    let took = started.elapsed();
    assert_eq!(report.output("n1"), Some(&Value::Int(2)));
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    let failure = &report.failures[0];
    assert_eq!(&*failure.node, "stuck");
    assert!(matches!(failure.kind, FailureKind::Timeout(_)), "{failure}");
    assert!(failure.message.contains("exceeded inside `table.height`"), "{failure}");
    assert!(failure.message.contains("its worker process was killed"), "{failure}");
    assert_eq!(report.skipped, vec![("after".to_string(), "stuck".to_string())]);
    assert!(took < Duration::from_millis(2500), "the run took {took:?}");
    assert_eq!(rt.workers().counts().requests, 1, "the chain was sent whole");

    // A node of a chain that fails stops the chain; its worker serves on.
    let plan = p.plan(&["never"]).unwrap();
    let report = rt.run(&plan, RunOptions::new()).unwrap();
    assert_eq!(report.failures.len(), 1);
    assert_eq!(&*report.failures[0].node, "failing");
    assert!(report.failures[0].message.contains("no"), "{}", report.failures[0]);
    assert_eq!(report.skipped, vec![("never".to_string(), "failing".to_string())]);
    assert_eq!(rt.workers().counts().started, 2, "one fresh worker after the kill");
}

#[test]
fn each_node_of_a_chain_runs_under_its_own_policy_in_the_shared_worker() {
    // A chain in one worker whose fourth node has a memory budget of its
    // own: a node's policy is sent only where it differs from the one before,
    // and each node is held to its own. The fourth fails on its 64 MiB
    // budget inside the host's join (the worker's data limit); in another
    // run the same join, under the pipeline's budget, succeeds.
    let (_dir, script) = chain_script(
        2,
        "fn many(n1) {
            let parts = [];
            for i in 0..80 { parts.push(sql(\"SELECT 1 AS k\", #{})); }
            concat(parts)
        }
        fn hoard(many) { wide(many) }
        fn after(hoard) { hoard + 1 }
        fn again(many) { wide(many) }
        fn last(again) { again + 1 }
        private fn wide(a) {
            sql(\"SELECT x.k FROM a x JOIN a b ON x.k = b.k JOIN a c ON x.k = c.k JOIN a d ON x.k = d.k\", #{a: a}).height()
        }\n",
    );
    let mut policy = Policy::default();
    policy.budgets.memory = 4 << 30;
    let rt = Runtime::new(config().cache_dir(None).policy(policy.clone())).unwrap();
    let mut p = Pipeline::new();
    let mut small = policy.clone();
    small.budgets.memory = 64 << 20;
    for node in rt.script_nodes(&script).unwrap() {
        if node.name() == "hoard" {
            p.add_node(node.with_policy(small.clone()));
        } else {
            p.add_node(node);
        }
    }
    p.set_param("start", Value::Int(0));
    let report = rt.run(&p.plan(&["n1", "after"]).unwrap(), RunOptions::new()).unwrap();
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert_eq!(&*report.failures[0].node, "hoard");
    assert!(matches!(report.failures[0].kind, FailureKind::Memory { .. }), "{}", report.failures[0]);
    assert_eq!(report.output("n1"), Some(&Value::Int(2)), "the nodes before it keep their results");
    assert_eq!(rt.workers().counts().requests, 1, "the chain was sent whole");

    let report = rt.run(&p.plan(&["last"]).unwrap(), RunOptions::new()).unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.output("last"), Some(&Value::Int(80 * 80 * 80 * 80 + 1)));
}

#[test]
fn a_chain_started_early_gives_way_to_results_the_cache_holds() {
    // `n0` is never cached, so it runs every time, and the nodes below it
    // are decided only once its value is known; while the scheduler decides,
    // the worker has already started them. When `n0` computes the same value
    // again, the cache holds `n1` and `n2`: the supervisor abandons what the
    // worker started (killing it) and the stored results are used. When the
    // value changes, they run, from the chain.
    let cache = tempfile::tempdir().unwrap();
    let (dir, script) = chain_script(3, "");
    let src = std::fs::read_to_string(&script).unwrap();
    std::fs::write(&script, format!("/// @cache false\n{src}")).unwrap();
    let run = |start: i64| {
        let rt = Runtime::new(config().cache_dir(Some(cache.path().to_path_buf()))).unwrap();
        let mut p = Pipeline::new();
        p.add_nodes(rt.script_nodes(&script).unwrap());
        p.set_param("start", Value::Int(start));
        let report = rt.run(&p.plan(&["n2"]).unwrap(), RunOptions::new()).unwrap();
        report.check().unwrap();
        (report, rt.workers().counts())
    };
    let (report, _) = run(0);
    assert_eq!(report.output("n2"), Some(&Value::Int(3)));
    assert_eq!(report.nodes_run, 3);

    let (report, counts) = run(0);
    assert_eq!(report.output("n2"), Some(&Value::Int(3)));
    assert_eq!(report.nodes_run, 1, "only the uncached node ran");
    assert_eq!(report.cached, vec!["n1".to_string(), "n2".to_string()]);
    assert_eq!(counts.requests, 1, "the chain below it was sent with it: {counts:?}");

    let (report, counts) = run(4);
    assert_eq!(report.output("n2"), Some(&Value::Int(7)));
    assert_eq!(report.nodes_run, 3);
    assert!(report.cached.is_empty(), "{:?}", report.cached);
    assert_eq!(counts.requests, 1, "{counts:?}");
    drop(dir);
}

#[test]
fn ready_nodes_of_one_source_go_to_one_worker_together_and_a_failure_stops_only_itself() {
    // Thirty independent nodes and one that fails, all ready at once, one
    // job: the worker takes up to 16 ready nodes beside the one it runs and
    // sends them in one request; the failing node fails alone.
    let dir = tempfile::tempdir().unwrap();
    let mut src = String::from("fn bad(start) { throw `bad input` }\n");
    for i in 0..30 {
        src.push_str(&format!("fn w{i}(start) {{ start + {i} }}\n"));
    }
    let script = dir.path().join("wide.rhai");
    std::fs::write(&script, src).unwrap();
    let rt = Runtime::new(config().cache_dir(None).jobs(1)).unwrap();
    let mut p = Pipeline::new();
    p.add_nodes(rt.script_nodes(&script).unwrap());
    p.set_param("start", Value::Int(100));
    let mut outputs: Vec<String> = (0..30).map(|i| format!("w{i}")).collect();
    outputs.insert(7, "bad".into());
    let names: Vec<&str> = outputs.iter().map(String::as_str).collect();
    let report = rt.run(&p.plan(&names).unwrap(), RunOptions::new()).unwrap();
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert_eq!(&*report.failures[0].node, "bad");
    assert!(report.failures[0].message.contains("bad input"), "{}", report.failures[0]);
    for i in 0..30 {
        assert_eq!(report.output(&format!("w{i}")), Some(&Value::Int(100 + i)), "w{i}");
    }
    let counts = rt.workers().counts();
    assert_eq!(counts.started, 1, "{counts:?}");
    assert!(counts.requests <= 3, "31 nodes in at most 3 requests: {counts:?}");
}

#[test]
fn a_node_sent_beside_another_may_hand_back_the_table_it_was_given() {
    // `u1` and `u2` go to one worker together, then `b2` with `b1` beside it;
    // `b1` hands back the table it was given (a table the node it went beside
    // was not given): its rows reach the run's output.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("tee.rhai");
    std::fs::write(
        &script,
        "fn u1(start) { sql(\"SELECT 1 AS k UNION ALL SELECT 2 AS k\", #{}) }\n\
         fn u2(start) { sql(\"SELECT 3 AS k\", #{}) }\n\
         fn b1(u1) { u1 }\n\
         fn b2(u2) { u2.height() }\n",
    )
    .unwrap();
    let rt = Runtime::new(config().cache_dir(None).jobs(1)).unwrap();
    let mut p = Pipeline::new();
    p.add_nodes(rt.script_nodes(&script).unwrap());
    p.set_param("start", Value::Int(0));
    let report = rt.run(&p.plan(&["b1", "b2"]).unwrap(), RunOptions::new()).unwrap();
    report.check().unwrap();
    assert_eq!(report.output("b2"), Some(&Value::Int(1)));
    let Some(Value::Table(table)) = report.output("b1") else { panic!("{:?}", report.output("b1")) };
    assert_eq!(table.height().unwrap(), 2);
    assert_eq!(rt.workers().counts().requests, 2, "`u1` with `u2`, then `b2` with `b1`");
}
