//! "Cached or run?" through the cache trait, with an in-memory cache:
//! reuse, keys that change with code, inputs and files, nodes that are never
//! cached, recomputing, running only some nodes, dry runs and the history.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::{CacheUse, FailureKind, Reason, RunOptions, RunReport, Scheduler};

struct Fixture {
    cache: Arc<MemoryCache>,
    scheduler: Scheduler,
    runs: Arc<AtomicUsize>,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            cache: Arc::default(),
            scheduler: Scheduler::new(2, crate::Policy::default()).unwrap(),
            runs: Arc::default(),
        }
    }

    /// `a` (reads parameter `x`) → `b` → `c`, each counting its invocations.
    fn chain(&self, x: i64) -> Pipeline {
        let counted = |name: &str, inputs: &[&str]| {
            let runs = self.runs.clone();
            node(name, inputs, move |_, values| {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok(Value::Int(
                    1 + values.iter().map(|v| if let Value::Int(i) = v { *i } else { 0 }).sum::<i64>(),
                ))
            })
        };
        let mut p = pipeline(vec![counted("a", &["x"]), counted("b", &["a"]), counted("c", &["b"])]);
        p.set_param("x", Value::Int(x));
        p.set_origin("chain");
        p
    }

    fn run(&self, p: &Pipeline, options: RunOptions) -> RunReport {
        let plan = p.plan(&["c"]).unwrap();
        let cache: Arc<dyn ResultCache> = self.cache.clone();
        self.scheduler.start(&plan, Some(cache), options).unwrap().wait()
    }

    fn dry(&self, p: &Pipeline, options: RunOptions) -> Vec<(String, bool, Reason)> {
        let plan = p.plan(&["c"]).unwrap();
        let cache: Arc<dyn ResultCache> = self.cache.clone();
        let steps = self.scheduler.dry_run(&plan, Some(cache), &options).unwrap();
        steps.into_iter().map(|s| (s.node, s.cached, s.why)).collect()
    }

    fn ran(&self) -> usize {
        self.runs.swap(0, Ordering::SeqCst)
    }
}

#[test]
fn a_second_run_computes_nothing_and_a_changed_input_recomputes_downstream() {
    let f = Fixture::new();
    let first = f.run(&f.chain(1), RunOptions::new());
    first.check().unwrap();
    assert_eq!(first.output("c"), Some(&Value::Int(4)));
    assert_eq!(f.ran(), 3);
    assert_eq!(first.run_id, Some(1));
    assert_eq!(first.identities.len(), 1);

    let second = f.run(&f.chain(1), RunOptions::new());
    assert_eq!(second.output("c"), Some(&Value::Int(4)));
    assert_eq!(f.ran(), 0, "everything came from the cache");
    assert_eq!(second.cached, ["a", "b", "c"]);
    assert_eq!(second.identities, first.identities, "the same inputs give the same identities");
    assert_eq!(
        f.cache.statuses(2),
        [("a".into(), "cached".into()), ("b".into(), "cached".into()), ("c".into(), "cached".into())]
    );

    let third = f.run(&f.chain(2), RunOptions::new());
    assert_eq!(third.output("c"), Some(&Value::Int(5)));
    assert_eq!(f.ran(), 3, "a changed parameter changes every key below it");
    assert_eq!(f.cache.runs.lock().iter().map(|r| r.1).collect::<Vec<_>>(), [Some(true); 3]);
}

#[test]
fn a_dry_run_says_why_each_node_would_run() {
    let f = Fixture::new();
    let p = f.chain(1);
    let steps = f.dry(&p, RunOptions::new());
    assert_eq!(
        steps,
        [
            ("a".into(), false, Reason::Missed("not in the cache".into())),
            ("b".into(), false, Reason::UpstreamRuns { upstream: "a".into() }),
            ("c".into(), false, Reason::UpstreamRuns { upstream: "b".into() }),
        ]
    );
    assert_eq!(f.ran(), 0, "a dry run runs nothing");
    assert!(f.cache.runs.lock().is_empty(), "and records nothing");
    f.run(&p, RunOptions::new());
    f.ran();
    assert!(
        f.dry(&p, RunOptions::new())
            .iter()
            .all(|(_, cached, why)| *cached && *why == Reason::Stored { run: Some(1) })
    );
    let changed = f.dry(&f.chain(7), RunOptions::new());
    assert_eq!(changed[0].2, Reason::Missed("input `x` changed".into()));
    let forced = f.dry(&p, RunOptions::new().recompute(["b"]));
    assert_eq!(forced.iter().map(|s| s.1).collect::<Vec<_>>(), [true, false, false]);
    assert_eq!(forced[1].2, Reason::Recompute);
    let off = f.dry(&p, RunOptions::new().cache(CacheUse::RecordOnly));
    assert_eq!(off[0].2, Reason::CacheOff);
}

#[test]
fn recomputing_a_node_runs_it_and_everything_below() {
    let f = Fixture::new();
    f.run(&f.chain(1), RunOptions::new());
    f.ran();
    let report = f.run(&f.chain(1), RunOptions::new().recompute(["b"]));
    report.check().unwrap();
    assert_eq!(f.ran(), 2);
    assert_eq!(report.cached, ["a"]);
    let err = match f.scheduler.start(
        &f.chain(1).plan(&["c"]).unwrap(),
        Some(f.cache.clone()),
        RunOptions::new().recompute(["bb"]),
    ) {
        Err(e) => e,
        Ok(_) => panic!("an unknown node was accepted"),
    };
    match err {
        Error::UnknownNode { name, suggestion, planned, .. } => {
            assert_eq!((name.as_str(), suggestion.as_deref(), planned), ("bb", Some("b"), true));
        }
        other => panic!("{other}"),
    }
}

#[test]
fn running_only_some_nodes_takes_the_rest_from_the_cache_or_fails_them() {
    let f = Fixture::new();
    let report = f.run(&f.chain(1), RunOptions::new().only(["c"]));
    assert_eq!(f.ran(), 0);
    let failure = &report.failures[0];
    assert_eq!(failure.node, "a");
    assert!(
        matches!(&failure.kind, FailureKind::NotSelected { why } if why == "not in the cache"),
        "{failure:?}"
    );
    assert_eq!(report.skipped.len(), 2);

    f.run(&f.chain(1), RunOptions::new());
    f.ran();
    let report = f.run(&f.chain(1), RunOptions::new().only(["c"]).recompute(["c"]));
    report.check().unwrap();
    assert_eq!(f.ran(), 1);
    assert_eq!(report.cached, ["a", "b"]);
}

#[test]
fn recomputing_without_a_cache_is_refused() {
    let p = pipeline(vec![sum("a", &[])]);
    let scheduler = Scheduler::new(1, crate::Policy::default()).unwrap();
    let err = scheduler.start(&p.plan(&[]).unwrap(), None, RunOptions::new().recompute(["a"])).err().unwrap();
    assert!(matches!(err, Error::NeedsCache));
}

#[test]
fn without_a_code_identity_or_with_a_nondeterministic_grant_a_node_is_not_cached() {
    let f = Fixture::new();
    let builtin = Pipeline::builtin(NodeDecl::new("c", vec![], ValueType::Int), |_| Ok(Value::Int(1)));
    let mut p = pipeline(vec![builtin]);
    p.set_origin("builtin");
    let why = &f.dry(&p, RunOptions::new())[0].2;
    assert_eq!(
        why,
        &Reason::NotCacheable("it is a built-in node, whose code Weavelet cannot fingerprint".into())
    );

    let mut clocked = crate::Policy::default();
    clocked.grants.clock = true;
    let p = pipeline(vec![sum("c", &[]).with_policy(clocked.clone())]);
    f.run(&p, RunOptions::new());
    let again = f.run(&p, RunOptions::new());
    assert!(again.cached.is_empty(), "a node with the clock runs every time");
    clocked.cache = crate::CachePolicy::Always;
    let p = pipeline(vec![sum("c", &[]).with_policy(clocked)]);
    f.run(&p, RunOptions::new());
    assert_eq!(f.run(&p, RunOptions::new()).cached, ["c"], "unless its policy caches it anyway");
}

#[test]
fn a_result_depends_on_the_files_its_node_read() {
    let f = Fixture::new();
    *f.cache.fingerprint.lock() = "v1".into();
    let reader = node("c", &[], |call, _| {
        call.reads().opened(Path::new("/data/sales.csv"));
        Ok(Value::Int(1))
    });
    let p = pipeline(vec![reader]);
    f.run(&p, RunOptions::new());
    assert_eq!(f.run(&p, RunOptions::new()).cached, ["c"]);
    *f.cache.fingerprint.lock() = "v2".into();
    assert_eq!(f.dry(&p, RunOptions::new())[0].2, Reason::Missed("file /data/sales.csv changed".into()));
    let report = f.run(&p, RunOptions::new());
    assert!(report.cached.is_empty());
}

#[test]
fn a_given_value_replaces_a_node_and_is_recorded_as_such() {
    let f = Fixture::new();
    let mut p = f.chain(1);
    p.override_node("b", Value::Int(100)).unwrap();
    let report = f.run(&p, RunOptions::new());
    assert_eq!(report.output("c"), Some(&Value::Int(101)));
    assert_eq!(f.ran(), 1, "only `c` ran: `b` was given and `a` is not needed");
    let statuses = f.cache.statuses(1);
    assert_eq!(statuses, [("b".into(), "overridden".into()), ("c".into(), "ran".into())]);
}

#[test]
fn a_node_s_declared_input_types_are_part_of_its_key() {
    // The same code and the same parameter, declared `any` then `float`: the
    // value reaches the code differently (widened), so the result is not shared.
    let f = Fixture::new();
    let cache: Arc<dyn ResultCache> = f.cache.clone();
    let declared = |ty: ValueType| {
        let mut p = pipeline(vec![typed("a", vec![InputDecl::required("x", ty)], ValueType::Any, |_, v| {
            Ok(v[0].clone())
        })]);
        p.set_param("x", Value::Int(2));
        p
    };
    let run = |p: &Pipeline| {
        let plan = p.plan(&["a"]).unwrap();
        f.scheduler.start(&plan, Some(cache.clone()), RunOptions::new()).unwrap().wait()
    };
    assert_eq!(run(&declared(ValueType::Any)).output("a"), Some(&Value::Int(2)));
    let widened = run(&declared(ValueType::Float));
    assert!(widened.cached.is_empty(), "the result for `any` was reused for `float`");
    assert_eq!(widened.output("a"), Some(&Value::Float(2.0)));
    assert_eq!(run(&declared(ValueType::Float)).cached, ["a"]);
}
