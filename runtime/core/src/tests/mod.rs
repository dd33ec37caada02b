//! Unit tests of the planner and the scheduler, with nodes written here (no
//! WebAssembly, no scripts, no SQLite): `TestNode` implements the node trait,
//! `MemoryCache` the cache trait.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cache;
mod plan;
mod schedule;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::cache::{DepKind, NewEntry, Parts, ResultCache, RunId, Stored};
use crate::key::{Digest, KeyHasher};
use crate::{
    Call, Diagnostic, Error, InputDecl, Node, NodeDecl, NodeFailure, NodeImpl, NodeRecord, Pipeline, Value,
    ValueType,
};

type Body = dyn Fn(&Call<'_>, &[Value]) -> Result<Value, String> + Send + Sync;

/// A node whose body is a closure, with a code identity of its own.
struct TestNode {
    body: Box<Body>,
    identity: Digest,
}

impl NodeImpl for TestNode {
    fn invoke(&self, call: &Call<'_>, inputs: Vec<Value>) -> Result<Value, NodeFailure> {
        (self.body)(call, &inputs)
            .map_err(|m| call.fail(crate::FailureKind::Error { kind: "failed".into(), input: None }, m))
    }

    fn code_identity(&self) -> Result<Digest, String> {
        Ok(self.identity)
    }
}

/// A node named `name` reading `inputs` (any type), returning any type.
fn node(
    name: &str,
    inputs: &[&str],
    body: impl Fn(&Call<'_>, &[Value]) -> Result<Value, String> + Send + Sync + 'static,
) -> Node {
    typed(
        name,
        inputs.iter().map(|i| InputDecl::required(*i, ValueType::Any)).collect(),
        ValueType::Any,
        body,
    )
}

/// A node with declared input and output types.
fn typed(
    name: &str,
    inputs: Vec<InputDecl>,
    output: ValueType,
    body: impl Fn(&Call<'_>, &[Value]) -> Result<Value, String> + Send + Sync + 'static,
) -> Node {
    let mut h = KeyHasher::new("test-node");
    h.field("name", name.as_bytes());
    let code = TestNode { body: Box::new(body), identity: h.finish() };
    Node::new(Arc::new(NodeDecl::new(name, inputs, output)), "test.rs".into(), Arc::new(code))
}

/// A node that sums its int inputs, plus one.
fn sum(name: &str, inputs: &[&str]) -> Node {
    node(name, inputs, |_, values| {
        let mut total = 1;
        for v in values {
            match v {
                Value::Int(i) => total += i,
                other => return Err(format!("not an int: {other:?}")),
            }
        }
        Ok(Value::Int(total))
    })
}

fn pipeline(nodes: Vec<Node>) -> Pipeline {
    let mut p = Pipeline::new();
    p.add_nodes(nodes);
    p
}

/// The messages of a plan error (panics if planning succeeds).
fn plan_errors(p: &Pipeline, outputs: &[&str]) -> Vec<Diagnostic> {
    match p.plan(outputs) {
        Ok(plan) => panic!("expected a plan error, got {plan:?}"),
        Err(Error::Plan(diagnostics)) => diagnostics,
        Err(other) => panic!("expected a plan error, got {other}"),
    }
}

/// A stored value, its output identity, what it read and the run that stored it.
type Entry = (Value, Digest, Vec<crate::cache::FileDep>, Option<RunId>);

/// Results and history in memory: the cache trait without SQLite.
#[derive(Default)]
struct MemoryCache {
    entries: Mutex<HashMap<Digest, Entry>>,
    runs: Mutex<Vec<(String, Option<bool>)>>,
    records: Mutex<Vec<(RunId, NodeRecord)>>,
    /// The parts of the latest key stored for each node.
    latest: Mutex<HashMap<String, Parts>>,
    /// What `fingerprint` answers for every path.
    fingerprint: Mutex<String>,
}

impl MemoryCache {
    fn statuses(&self, run: RunId) -> Vec<(String, String)> {
        let mut lines: Vec<(String, String)> = self
            .records
            .lock()
            .iter()
            .filter(|(r, _)| *r == run)
            .map(|(_, n)| (n.node.clone(), n.status.clone()))
            .collect();
        lines.sort();
        lines
    }
}

impl ResultCache for MemoryCache {
    fn begin_run(
        &self,
        origin: &str,
        _description: &str,
        _plan: &crate::RunPlanRecord,
    ) -> Result<RunId, Error> {
        let mut runs = self.runs.lock();
        runs.push((origin.to_string(), None));
        Ok(runs.len() as RunId)
    }

    fn end_run(&self, run: RunId, ok: bool) {
        self.runs.lock()[run as usize - 1].1 = Some(ok);
    }

    fn record(&self, run: RunId, node: &NodeRecord) {
        self.records.lock().push((run, node.clone()));
    }

    fn lookup(&self, key: &Digest) -> Result<Option<Stored>, Error> {
        Ok(self.entries.lock().get(key).map(|(value, output, files, run)| Stored {
            output: *output,
            files: files.clone(),
            run: *run,
            size: value.byte_size() as u64,
            location: Box::new(*key),
        }))
    }

    fn check(&self, _entry: &Stored) -> Result<(), String> {
        Ok(())
    }

    fn load(&self, entry: &Stored) -> Result<Value, String> {
        let key = entry.location.downcast_ref::<Digest>().ok_or("not mine")?;
        self.entries.lock().get(key).map(|e| e.0.clone()).ok_or_else(|| "gone".into())
    }

    fn store(&self, entry: &NewEntry<'_>, value: &Value) -> Result<u64, String> {
        self.entries
            .lock()
            .insert(*entry.key, (value.clone(), *entry.output, entry.files.to_vec(), entry.run));
        self.latest.lock().insert(entry.node.to_string(), entry.parts.clone());
        Ok(value.byte_size() as u64)
    }

    fn remove(&self, key: &Digest) {
        self.entries.lock().remove(key);
    }

    fn touch(&self, _keys: &[Digest]) {}

    fn fingerprint(&self, _kind: DepKind, _path: &Path) -> Result<String, String> {
        Ok(self.fingerprint.lock().clone())
    }

    fn latest_parts(&self, _origin: &str, node: &str) -> Option<Parts> {
        self.latest.lock().get(node).cloned()
    }
}
