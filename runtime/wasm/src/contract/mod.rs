//! The versions of the WIT contract this host runs, and one way to call
//! either.
//!
//! `weavelet:node@0.4.0` (`wit/`) is what components are built against now;
//! `weavelet:node@0.3.0` (`wit-0.3.0/`, frozen) differs only in the boolean
//! case's name (`boolean` for `bool`), and components built against it still
//! run, with a note that they should be rebuilt. Each version has its own
//! bindings (`crate::bindings`), but the host functions (`crate::host`'s
//! `tables.rs`, `graphics.rs`, `log.rs`) and the glue (`calls.rs`) are
//! written once and compiled once per version: `v0_4` and `v0_3` include the
//! same files with `wit` naming their version's types. A third version is a
//! third such module and a case in [`Pre`].

mod v0_3;
mod v0_4;

use wasmtime::component::{Component, InstancePre};
use wasmtime::{Engine, Store};
use weavelet_core::{InputDecl, NodeDecl, Value};

use crate::host::NodeState;

/// The contract components are built against now.
pub const CURRENT: &str = "weavelet:node@0.4.0";
/// Older contracts this host still runs, newest first.
pub const OLDER: &[&str] = &["weavelet:node@0.3.0"];

/// What a node's call came to.
pub(crate) enum Outcome {
    /// Its inputs could not be handed over (the handle cap, the memory budget).
    Refused(String),
    /// It trapped, or a host call it made failed.
    Trapped(wasmtime::Error),
    /// It returned an error.
    Failed(GuestError),
    /// It returned a value it does not own (a handle it does not hold).
    BadReturn(String),
    Returned(Value),
}

/// A node's own error, as it returned it.
pub(crate) struct GuestError {
    /// `invalid-input`, `failed` or `unknown-node`.
    pub kind: &'static str,
    pub message: String,
    pub input: Option<String>,
}

/// The exports of a contract's series: `weavelet:node/node@0.4.` for
/// `weavelet:node@0.4.0` — any 0.4.x, as wasmtime matches versions (semver:
/// 0.4.x are compatible with each other, 0.3 and 0.4 are not).
fn series(contract: &str) -> String {
    let node = contract.replace("weavelet:node@", "weavelet:node/node@");
    match node.rfind('.') {
        Some(dot) => node[..=dot].to_string(),
        None => node,
    }
}

/// A component linked against the contract version it exports.
#[derive(Clone)]
pub(crate) enum Pre {
    V0_4(v0_4::ModulePre<NodeState>),
    V0_3(v0_3::ModulePre<NodeState>),
}

impl Pre {
    /// Whether the component exports a contract this host runs; if not, what
    /// to tell the user (before linking, whose complaint would be about a
    /// resource type).
    pub(crate) fn check_known(exports: &[String]) -> Result<(), String> {
        let known: Vec<String> = std::iter::once(CURRENT).chain(OLDER.iter().copied()).map(series).collect();
        if exports.iter().any(|e| known.iter().any(|k| e.starts_with(k.as_str()))) {
            return Ok(());
        }
        match exports.iter().find(|e| e.starts_with("weavelet:node/node@")) {
            Some(other) => Err(format!(
                "it exports `{other}`, a contract this weavelet does not run (it runs `{}`); \
                 update weavelet, or rebuild the component with this weavelet's SDK",
                std::iter::once(CURRENT)
                    .chain(OLDER.iter().copied())
                    .map(|c| c.replace("weavelet:node@", "weavelet:node/node@"))
                    .collect::<Vec<_>>()
                    .join("`, `")
            )),
            None => Ok(()),
        }
    }

    /// The component behind `pre`, as the newest contract version it exports
    /// (wasmtime finds the export and checks its types).
    pub(crate) fn new(pre: InstancePre<NodeState>, exports: &[String]) -> Result<Pre, String> {
        let current = match v0_4::ModulePre::new(pre.clone()) {
            Ok(pre) => return Ok(Pre::V0_4(pre)),
            Err(e) => e,
        };
        let older = series(OLDER[0]);
        if exports.iter().any(|e| e.starts_with(&older)) {
            return v0_3::ModulePre::new(pre).map(Pre::V0_3).map_err(|e| format!("{e:#}"));
        }
        Err(format!("it is not a Weavelet component (it must export `{}0`): {current:#}", series(CURRENT)))
    }

    /// The contract the component was built against.
    pub(crate) fn contract(&self) -> &'static str {
        match self {
            Pre::V0_4(_) => CURRENT,
            Pre::V0_3(_) => OLDER[0],
        }
    }

    pub(crate) fn engine(&self) -> &Engine {
        match self {
            Pre::V0_4(p) => p.engine(),
            Pre::V0_3(p) => p.engine(),
        }
    }

    pub(crate) fn component(&self) -> &Component {
        match self {
            Pre::V0_4(p) => p.instance_pre().component(),
            Pre::V0_3(p) => p.instance_pre().component(),
        }
    }

    /// Instantiate it in `store` and drop it, running no node.
    pub(crate) fn instantiate(&self, store: &mut Store<NodeState>) -> wasmtime::Result<()> {
        match self {
            Pre::V0_4(p) => v0_4::calls::instantiate(p, store),
            Pre::V0_3(p) => v0_3::calls::instantiate(p, store),
        }
    }

    /// Instantiate it in `store` and ask for its node declarations (not yet validated).
    pub(crate) fn declarations(&self, store: &mut Store<NodeState>) -> wasmtime::Result<Vec<NodeDecl>> {
        match self {
            Pre::V0_4(p) => v0_4::calls::declarations(p, store),
            Pre::V0_3(p) => v0_3::calls::declarations(p, store),
        }
    }

    /// Instantiate it in `store` and run its node `node` on `inputs` (in the
    /// order of `decls`, which name them).
    pub(crate) fn run(
        &self,
        store: &mut Store<NodeState>,
        node: &str,
        decls: &[InputDecl],
        inputs: Vec<Value>,
    ) -> Outcome {
        match self {
            Pre::V0_4(p) => v0_4::calls::run(p, store, node, decls, inputs),
            Pre::V0_3(p) => v0_3::calls::run(p, store, node, decls, inputs),
        }
    }
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    /// The contract names here are the packages of `wit/` and of the frozen
    /// `wit-<version>/` folders: `--version` and every message say what the
    /// bindings are built from.
    #[test]
    fn the_contracts_named_are_the_wit_packages() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let package = |file: std::path::PathBuf| {
            let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            text.lines()
                .find_map(|l| l.strip_prefix("package "))
                .map(|p| p.trim_end_matches(';').to_string())
                .unwrap_or_else(|| panic!("no package in {}", file.display()))
        };
        assert_eq!(package(root.join("../../wit/node.wit")), CURRENT);
        let mut frozen: Vec<String> = std::fs::read_dir(root)
            .unwrap_or_else(|e| panic!("{e}"))
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("wit-"))
            .map(|e| package(e.path().join("node.wit")))
            .collect();
        frozen.sort_by(|a, b| b.cmp(a));
        assert_eq!(frozen, OLDER);
        assert_eq!(series(CURRENT), "weavelet:node/node@0.4.");
    }
}
