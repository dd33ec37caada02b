//! The scheduler: values flow, failures poison only their downstream,
//! values nobody will read are released, independent nodes run at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Condvar, Mutex as StdMutex};
use std::time::Duration;

use super::*;
use crate::{EventKind, EventSink, FailureKind, RunOptions, Scheduler};

fn run(p: &Pipeline, outputs: &[&str], jobs: usize) -> crate::RunReport {
    let plan = p.plan(outputs).unwrap();
    Scheduler::new(jobs, crate::Policy::default())
        .unwrap()
        .start(&plan, None, RunOptions::new())
        .unwrap()
        .wait()
}

#[test]
fn values_flow_along_the_edges() {
    let mut p = pipeline(vec![sum("a", &["x"]), sum("b", &["a"]), sum("c", &["a", "b"])]);
    p.set_param("x", Value::Int(1));
    let report = run(&p, &["c"], 2);
    report.check().unwrap();
    // a = 2, b = 3, c = 1 + 2 + 3.
    assert_eq!(report.output("c"), Some(&Value::Int(6)));
    assert_eq!(report.nodes_run, 3);
    assert!(report.identities.is_empty(), "no cache, no identities");
}

#[test]
fn a_failure_skips_only_its_downstream() {
    let fails = node("fails", &[], |_, _| Err("no data today".into()));
    let panics = node("panics", &[], |_, _| panic!("a bug in a backend"));
    let mut p = pipeline(vec![
        fails,
        panics,
        sum("after", &["fails"]),
        sum("after_after", &["after"]),
        sum("also_after", &["panics"]),
        sum("independent", &[]),
    ]);
    p.set_default_outputs(vec!["after_after".into(), "also_after".into(), "independent".into()]);
    let report = run(&p, &[], 2);
    assert_eq!(report.output("independent"), Some(&Value::Int(1)));
    assert_eq!(report.outputs.len(), 1);
    let mut failed: Vec<(&str, &FailureKind)> =
        report.failures.iter().map(|f| (f.node.as_str(), &f.kind)).collect();
    failed.sort_by_key(|(n, _)| *n);
    assert_eq!(failed[0].0, "fails");
    assert!(matches!(failed[0].1, FailureKind::Error { .. }));
    assert_eq!(failed[1].0, "panics");
    assert_eq!(failed[1].1, &FailureKind::Host);
    let panic = report.failures.iter().find(|f| f.node == "panics").unwrap();
    assert!(panic.message.contains("a bug in a backend"), "{}", panic.message);
    let mut skipped = report.skipped.clone();
    skipped.sort();
    assert_eq!(
        skipped,
        [
            ("after".to_string(), "fails".to_string()),
            ("after_after".to_string(), "fails".to_string()),
            ("also_after".to_string(), "panics".to_string()),
        ]
    );
    assert_eq!(report.nodes_run, 3);
    let err = report.check().unwrap_err().to_string();
    assert!(err.starts_with("2 nodes failed:"), "{err}");
}

#[test]
fn an_output_of_the_wrong_type_fails_the_node() {
    let liar = typed("liar", vec![], ValueType::Int, |_, _| Ok(Value::from("not a number")));
    let report = run(&pipeline(vec![liar]), &[], 1);
    assert_eq!(report.failures[0].kind, FailureKind::WrongOutputType);
    assert_eq!(report.failures[0].message, "it declares int but returned text");
}

#[test]
fn a_value_is_released_once_its_last_reader_has_it() {
    // `big` produces text held only by the run; `mid` reads it; `last` checks
    // that nothing holds it any more (its only other holder is the test's probe).
    let probe: Arc<StdMutex<Option<std::sync::Weak<str>>>> = Arc::default();
    let made = probe.clone();
    let big = node("big", &[], move |_, _| {
        let text: Arc<str> = Arc::from("a large value");
        *made.lock().unwrap() = Some(Arc::downgrade(&text));
        Ok(Value::Text(text))
    });
    let mid = node("mid", &["big"], |_, v| match &v[0] {
        Value::Text(t) => Ok(Value::Int(t.len() as i64)),
        other => Err(format!("{other:?}")),
    });
    let seen = probe.clone();
    let last = node("last", &["mid"], move |_, v| {
        assert_eq!(v[0], Value::Int(13));
        let alive = seen.lock().unwrap().as_ref().and_then(std::sync::Weak::upgrade).is_some();
        Ok(Value::Bool(alive))
    });
    let report = run(&pipeline(vec![big, mid, last]), &["last"], 1);
    report.check().unwrap();
    assert_eq!(report.output("last"), Some(&Value::Bool(false)), "`big`'s value outlived its last reader");
    // A requested output is kept for the report even when a node read it.
    let report = run(
        &pipeline(vec![
            node("out", &[], |_, _| Ok(Value::from("kept"))),
            node("reader", &["out"], |_, v| Ok(v[0].clone())),
        ]),
        &["out", "reader"],
        1,
    );
    assert_eq!(report.output("out"), Some(&Value::from("kept")));
}

#[test]
fn independent_nodes_run_at_the_same_time() {
    // Each of the two waits for the other: with two workers they meet, with
    // one the first would wait alone (the timeout turns a hang into a failure).
    let barrier = Arc::new(Barrier::new(2));
    let meet = |name: &str| {
        let barrier = barrier.clone();
        node(name, &[], move |_, _| {
            let (done, wait) = (Arc::new((StdMutex::new(false), Condvar::new())), Duration::from_secs(10));
            let waiter = {
                let (barrier, done) = (barrier.clone(), done.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    *done.0.lock().unwrap() = true;
                    done.1.notify_all();
                })
            };
            let guard = done.0.lock().unwrap();
            let (guard, timeout) = done.1.wait_timeout_while(guard, wait, |met| !*met).unwrap();
            drop(guard);
            if timeout.timed_out() {
                return Err("the other node never came".into());
            }
            waiter.join().map_err(|_| "waiter panicked".to_string())?;
            Ok(Value::Bool(true))
        })
    };
    let report = run(&pipeline(vec![meet("left"), meet("right")]), &[], 2);
    report.check().unwrap();
    assert_eq!(report.outputs.len(), 2);
}

#[test]
fn a_long_chain_runs_on_few_threads_and_in_order() {
    let n = 2_000;
    let names: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
    let mut nodes = vec![sum("n0", &[])];
    for i in 1..n {
        nodes.push(sum(&names[i], &[names[i - 1].as_str()]));
    }
    let report = run(&pipeline(nodes), &[names[n - 1].as_str()], 4);
    assert_eq!(report.output(&names[n - 1]), Some(&Value::Int(n as i64)));
}

#[test]
fn events_tell_each_node_queued_started_and_finished() {
    let events: Arc<StdMutex<Vec<(String, &'static str)>>> = Arc::default();
    let sink: EventSink = {
        let events = events.clone();
        Arc::new(move |e| {
            let kind = match &e.kind {
                EventKind::Queued => "queued",
                EventKind::Started => "started",
                EventKind::Finished { .. } => "finished",
                EventKind::Skipped { .. } => "skipped",
                EventKind::Failed { .. } => "failed",
                EventKind::Log { .. } => "log",
                _ => "other",
            };
            events.lock().unwrap().push((e.node.to_string(), kind));
        })
    };
    let logs = node("logs", &[], |call, _| {
        call.emit(EventKind::Log { level: crate::LogLevel::Info, message: "hello".into() });
        Ok(Value::Null)
    });
    let p = pipeline(vec![logs, sum("next", &["logs"])]);
    let plan = p.plan(&[]).unwrap();
    let scheduler = Scheduler::new(1, crate::Policy::default()).unwrap();
    scheduler.start(&plan, None, RunOptions::new().events(sink)).unwrap().wait();
    let seen: Vec<(String, &str)> = events.lock().unwrap().clone();
    let of = |n: &str| seen.iter().filter(|(node, _)| node == n).map(|(_, k)| *k).collect::<Vec<_>>();
    assert_eq!(of("logs"), ["queued", "started", "log", "finished"]);
    // `next` fails (`logs` gave null, not an int), after being queued by `logs`.
    assert_eq!(of("next"), ["queued", "started", "failed"]);
}

#[test]
fn a_failure_that_may_be_transient_is_tried_again() {
    let tries = Arc::new(AtomicUsize::new(0));
    let counted = tries.clone();
    let flaky = node("flaky", &[], move |_, _| {
        if counted.fetch_add(1, Ordering::SeqCst) < 2 { Err("not yet".into()) } else { Ok(Value::Int(3)) }
    });
    let mut policy = crate::Policy::default();
    policy.grants.env = vec!["WEAVELET_TEST_NOTHING".into()];
    policy.retry.attempts = 3;
    policy.retry.backoff = Duration::from_millis(1);
    let report = run(&pipeline(vec![flaky.with_policy(policy.clone())]), &[], 1);
    report.check().unwrap();
    assert_eq!(report.retried, [("flaky".to_string(), 3)]);
    // Without I/O grants a failure cannot be transient: one attempt.
    tries.store(0, Ordering::SeqCst);
    policy.grants.env.clear();
    let counted = tries.clone();
    let flaky = node("flaky", &[], move |_, _| {
        counted.fetch_add(1, Ordering::SeqCst);
        Err("always".into())
    });
    let report = run(&pipeline(vec![flaky.with_policy(policy)]), &[], 1);
    assert_eq!(report.failures.len(), 1);
    assert_eq!(tries.load(Ordering::SeqCst), 1);
}

#[test]
fn a_node_reads_its_policy_and_reports_what_it_used() {
    let observed = node("observed", &[], |call, _| {
        call.observe_memory(10);
        call.observe_memory(5);
        Ok(Value::Int(call.policy().budgets.timeout.as_millis() as i64))
    });
    let report = run(
        &pipeline(vec![
            observed.with_policy(crate::Policy::default().with_timeout(Duration::from_millis(1234))),
        ]),
        &[],
        1,
    );
    assert_eq!(report.output("observed"), Some(&Value::Int(1234)));
}
