//! `weavelet runs replay N` (run a recorded run again, exactly, or refuse
//! naming what changed) and `weavelet runs diff A B` (what differs between
//! two runs: parameters, code, policies, wiring, outputs).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, bail};
use weavelet::store::{NodeRecord, RunRecord};
use weavelet::{ResultStore, RunPlanRecord};

/// A run being repeated: what it computed and the command that started it.
#[derive(Clone)]
pub(crate) struct Replay {
    /// Its number.
    pub of: i64,
    /// What it computed (parameters, each node's identities).
    pub plan: RunPlanRecord,
    /// The command line that started it.
    pub argv: Vec<String>,
}

/// One difference between two recorded plans, in words.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Change {
    /// `pipeline`, `parameter`, `node`, `code`, `policy`, `input` or `output`.
    pub what: &'static str,
    /// The node or parameter it is about (empty for the pipeline).
    pub name: String,
    /// What it was and what it is.
    pub text: String,
}

impl Change {
    fn new(what: &'static str, name: &str, text: String) -> Change {
        Change { what, name: name.to_string(), text }
    }
}

/// What differs between the plans `a` and `b` (parameters, the nodes, their
/// code, the grants that change what they compute, what feeds their inputs),
/// the pipeline file's own change last.
pub(crate) fn plan_changes(a: &RunPlanRecord, b: &RunPlanRecord) -> Vec<Change> {
    let mut changes = Vec::new();
    let params = |p: &RunPlanRecord| -> BTreeMap<String, String> {
        p.params.iter().map(|(k, v)| (k.clone(), weavelet::sanitize(&v.to_string()))).collect()
    };
    let (pa, pb) = (params(a), params(b));
    for (name, old) in &pa {
        match pb.get(name) {
            Some(new) if new != old => changes.push(Change::new("parameter", name, format!("{old} → {new}"))),
            Some(_) => {}
            None => changes.push(Change::new("parameter", name, format!("{old} → (not read)"))),
        }
    }
    for (name, new) in pb.iter().filter(|(k, _)| !pa.contains_key(*k)) {
        changes.push(Change::new("parameter", name, format!("(not read) → {new}")));
    }
    for old in &a.nodes {
        let Some(new) = b.nodes.iter().find(|n| n.node == old.node) else {
            changes.push(Change::new("node", &old.node, "planned → not planned".into()));
            continue;
        };
        if old.source != new.source {
            changes.push(Change::new(
                "code",
                &old.node,
                format!("from {} → from {}", old.source, new.source),
            ));
        } else if old.code != new.code {
            let text = match (&old.code, &new.code) {
                (Ok(_), Ok(_)) => format!("its code in {} changed", new.source),
                (_, Err(why)) => format!("its code cannot be identified now ({why})"),
                (Err(why), _) => format!("its code could not be identified then ({why})"),
            };
            changes.push(Change::new("code", &old.node, text));
        }
        if old.policy != new.policy {
            let text = if old.policy_text == new.policy_text {
                "a granted environment variable's value changed".to_string()
            } else {
                format!("{} → {}", grants(&old.policy_text), grants(&new.policy_text))
            };
            changes.push(Change::new("policy", &old.node, text));
        }
        for (input, from) in &old.inputs {
            match new.inputs.iter().find(|(i, _)| i == input) {
                Some((_, now)) if now != from => {
                    changes.push(Change::new("input", &old.node, format!("`{input}`: {from} → {now}")))
                }
                Some(_) => {}
                None => {
                    changes.push(Change::new("input", &old.node, format!("`{input}` is no longer declared")))
                }
            }
        }
        for (input, from) in new.inputs.iter().filter(|(i, _)| !old.inputs.iter().any(|(o, _)| o == i)) {
            changes.push(Change::new("input", &old.node, format!("new input `{input}` ({from})")));
        }
    }
    for new in b.nodes.iter().filter(|n| !a.nodes.iter().any(|o| o.node == n.node)) {
        changes.push(Change::new("node", &new.node, "not planned → planned".into()));
    }
    if a.digest.is_some() && b.digest.is_some() && a.digest != b.digest {
        changes.push(Change::new("pipeline", "", "its file changed".into()));
    }
    changes
}

/// The grants part of a policy summary (`grants: …`), else the whole of it.
fn grants(summary: &str) -> &str {
    summary.split("; ").find_map(|part| part.strip_prefix("grants: ")).unwrap_or(summary)
}

impl Replay {
    /// Refuse, naming each difference, unless `now` (the plan about to run)
    /// computes what the recorded run did. A changed pipeline file alone is
    /// only said: every node, input and grant being the same, so is the run.
    pub fn check(&self, now: &RunPlanRecord) -> anyhow::Result<()> {
        let changes = plan_changes(&self.plan, now);
        let (file, blocking): (Vec<&Change>, Vec<&Change>) =
            changes.iter().partition(|c| c.what == "pipeline");
        if blocking.is_empty() {
            if !file.is_empty() {
                eprintln!(
                    "note: the pipeline file changed since run {}, but every planned node, its code, grants and \
                     inputs are as they were",
                    self.of
                );
            }
            return Ok(());
        }
        let mut text = format!("run {} cannot be replayed exactly: since then", self.of);
        for c in &blocking {
            let name = if c.name.is_empty() { String::new() } else { format!(" `{}`", c.name) };
            text.push_str(&format!("\n  {}{name}: {}", c.what, c.text));
        }
        text.push_str(&format!(
            "\nhelp: run it anew with `{}`; then `weavelet runs diff {} last` shows every difference",
            super::run::command_line(&self.argv),
            self.of
        ));
        bail!(text)
    }

    /// What the history says started the replay.
    pub fn description(&self) -> String {
        format!("weavelet runs replay {} ({})", self.of, super::run::command_line(&self.argv))
    }

    /// Say whether the replay (run `replay`) gave every node the output
    /// identity the original run did, naming those it did not.
    pub fn compare(&self, runtime: &weavelet::Runtime, replay: Option<i64>) {
        let (Some(id), Ok(Some(store))) = (replay, runtime.results()) else { return };
        let (Ok(Some((_, old))), Ok(Some((_, new)))) = (store.run(self.of), store.run(id)) else { return };
        let differ: Vec<String> = new
            .iter()
            .filter_map(|n| {
                let was = old.iter().find(|o| o.node == n.node)?;
                (was.output.is_some() && n.output.is_some() && was.output != n.output).then(|| n.node.clone())
            })
            .collect();
        let same = new.iter().filter(|n| n.output.is_some() && !differ.contains(&n.node)).count();
        if differ.is_empty() {
            eprintln!(
                "replay of run {}: run {id}, every output ({same}) computed from the same inputs",
                self.of
            );
        } else {
            eprintln!(
                "warning: replay of run {} (run {id}) differs at {}: the files they read changed since \
                 (see `weavelet runs diff {} {id}`)",
                self.of,
                differ.join(", "),
                self.of
            );
        }
    }
}

/// `weavelet runs replay N`: the recorded command again, from the folder it
/// started in, with the recorded parameters, if the pipeline still computes
/// what it did.
pub fn replay(
    store: &ResultStore,
    id: &str,
    fresh: bool,
    cache_dir: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let (run, _) = super::runs::find_run(store, id)?;
    let failed = |e: weavelet::store::StoreError| weavelet::Error::from(e);
    let Some((plan, unreadable)) = store.run_plan(run.id).map_err(failed)? else {
        bail!(
            "run {} was recorded before Weavelet kept what a run computes (its parameters and each node's code \
             and grants): it cannot be replayed; run the pipeline anew with `weavelet run {}`",
            run.id,
            run.pipeline
        );
    };
    if let Some((name, text)) = unreadable.first() {
        bail!("run {}'s parameter `{name}` (= {text}) cannot be read back: it cannot be replayed", run.id);
    }
    let (cwd, argv) = match store.invocation(run.id).map_err(failed)? {
        Some(found) => found,
        // Started by a program embedding Weavelet: its pipeline, from its folder.
        None => {
            let folder = Path::new(&run.pipeline).parent().map(Path::to_path_buf).unwrap_or_default();
            (folder, vec!["weavelet".into(), "run".into(), run.pipeline.clone()])
        }
    };
    let mut args = super::run::RunArgs::parse_command(&argv).map_err(|e| {
        anyhow!("run {}'s command line `{}` is not a run command ({e})", run.id, argv.join(" "))
    })?;
    std::env::set_current_dir(&cwd).map_err(|e| {
        anyhow!("run {} started in {}, which cannot be entered now: {e}", run.id, cwd.display())
    })?;
    args.prepare_replay(cache_dir, fresh);
    eprintln!("replaying run {} ({}), from {}", run.id, super::run::command_line(&argv), cwd.display());
    args.replay = Some(Box::new(Replay { of: run.id, plan, argv }));
    super::run::run(args)
}

/// `weavelet runs diff A B`: what changed between two runs. Exit 0 when
/// they computed the same, 1 when anything differs.
pub fn diff(store: &ResultStore, a: &str, b: &str, json: bool) -> anyhow::Result<ExitCode> {
    let failed = |e: weavelet::store::StoreError| weavelet::Error::from(e);
    let (ra, na) = super::runs::find_run(store, a)?;
    let (rb, nb) = super::runs::find_run(store, b)?;
    let missing = |r: &RunRecord| {
        anyhow!("run {} was recorded before Weavelet kept what a run computes: it cannot be compared", r.id)
    };
    let (pa, _) = store.run_plan(ra.id).map_err(failed)?.ok_or_else(|| missing(&ra))?;
    let (pb, _) = store.run_plan(rb.id).map_err(failed)?.ok_or_else(|| missing(&rb))?;
    let mut changes = plan_changes(&pa, &pb);
    if ra.pipeline != rb.pipeline {
        changes.insert(0, Change::new("pipeline", "", format!("{} → {}", ra.pipeline, rb.pipeline)));
    }
    changes.extend(output_changes(&pa, &pb, &na, &nb, &changes));
    let timing = node_timing(&na, &nb);
    if json {
        let changes: Vec<serde_json::Value> = changes
            .iter()
            .map(|c| serde_json::json!({ "what": c.what, "name": c.name, "change": c.text }))
            .collect();
        let nodes: Vec<serde_json::Value> = timing
            .iter()
            .map(|(node, a, b)| {
                let side = |n: &Option<&NodeRecord>| {
                    n.map(|n| {
                        serde_json::json!({
                            "status": n.status, "duration_us": n.duration.as_micros() as u64,
                            "peak_memory": n.peak_memory, "fuel": n.fuel, "output": n.output,
                        })
                    })
                };
                serde_json::json!({ "node": node, "a": side(a), "b": side(b) })
            })
            .collect();
        let doc = serde_json::json!({
            "a": ra.id, "b": rb.id, "same": changes.is_empty(), "changes": changes, "nodes": nodes,
        });
        out!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        out!("run {} → run {}", ra.id, rb.id);
        if changes.is_empty() {
            out!("same parameters, code, grants and inputs; every output computed from the same inputs");
        }
        for c in &changes {
            let name = if c.name.is_empty() { String::new() } else { format!(" {}", c.name) };
            out!("  {}{name}: {}", c.what, c.text);
        }
        let width = timing.iter().map(|(n, _, _)| n.len()).max().unwrap_or(4).max(4);
        out!("{:<width$}  {:<19}  {:<19}", "NODE", format!("RUN {}", ra.id), format!("RUN {}", rb.id));
        for (node, a, b) in &timing {
            let side = |n: &Option<&NodeRecord>| {
                n.map_or("-".to_string(), |n| {
                    format!("{} {}", n.status, super::display::duration(n.duration))
                })
            };
            out!("{node:<width$}  {:<19}  {:<19}", side(a), side(b));
        }
    }
    Ok(ExitCode::from(if changes.is_empty() { 0 } else { super::EXIT_FAILED }))
}

/// Nodes of both runs whose output identities differ, each with the likely
/// cause when the plan's own changes do not name one: a changed upstream
/// output, or files the node read.
fn output_changes(
    pa: &RunPlanRecord,
    pb: &RunPlanRecord,
    na: &[NodeRecord],
    nb: &[NodeRecord],
    plan: &[Change],
) -> Vec<Change> {
    let output = |nodes: &[NodeRecord], name: &str| {
        nodes.iter().find(|n| n.node == name).and_then(|n| n.output.clone())
    };
    let mut changes = Vec::new();
    for node in &pb.nodes {
        let (Some(a), Some(b)) = (output(na, &node.node), output(nb, &node.node)) else { continue };
        if a == b {
            continue;
        }
        let explained = plan.iter().any(|c| c.name == node.node && c.what != "output");
        let upstream: Vec<&str> = node
            .inputs
            .iter()
            .filter_map(|(_, from)| from.strip_prefix("node "))
            .filter(|up| output(na, up) != output(nb, up))
            .collect();
        let params_changed =
            node.inputs.iter().filter_map(|(_, from)| from.strip_prefix("param ")).any(|p| {
                let value = |plan: &RunPlanRecord| {
                    plan.params.iter().find(|(k, _)| k == p).map(|(_, v)| v.to_string())
                };
                value(pa) != value(pb)
            });
        let why = if explained {
            "computed differently (above)".to_string()
        } else if !upstream.is_empty() {
            format!("its input from {} differs", upstream.join(", "))
        } else if params_changed {
            "a parameter it reads changed".to_string()
        } else {
            "the files it read changed (or it is not cached: each run's output is its own)".to_string()
        };
        changes.push(Change::new("output", &node.node, why));
    }
    changes
}

/// Each node of either run with its record in each, in the order of `b`, then `a`'s others.
fn node_timing<'a>(
    na: &'a [NodeRecord],
    nb: &'a [NodeRecord],
) -> Vec<(String, Option<&'a NodeRecord>, Option<&'a NodeRecord>)> {
    let mut rows: Vec<(String, Option<&NodeRecord>, Option<&NodeRecord>)> =
        nb.iter().map(|n| (n.node.clone(), na.iter().find(|o| o.node == n.node), Some(n))).collect();
    rows.extend(
        na.iter().filter(|o| !nb.iter().any(|n| n.node == o.node)).map(|o| (o.node.clone(), Some(o), None)),
    );
    rows
}
