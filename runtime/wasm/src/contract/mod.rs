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
use weavelet_core::{NodeDecl, Value};

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

/// The interface a component of `contract` exports: `weavelet:node/node@0.4.0`.
fn node(contract: &str) -> String {
    contract.replace("weavelet:node@", "weavelet:node/node@")
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
        let known: Vec<String> = std::iter::once(CURRENT).chain(OLDER.iter().copied()).map(node).collect();
        if exports.iter().any(|e| known.contains(e)) {
            return Ok(());
        }
        match exports.iter().find(|e| e.starts_with("weavelet:node/node@")) {
            Some(other) => Err(format!(
                "it exports `{other}`, a contract this weavelet does not run (it runs `{}`); \
                 update weavelet, or rebuild the component with this weavelet's SDK",
                known.join("`, `")
            )),
            None => Ok(()),
        }
    }

    /// The component behind `pre`, as the contract version it exports.
    pub(crate) fn new(pre: InstancePre<NodeState>, exports: &[String]) -> Result<Pre, String> {
        if exports.iter().any(|e| *e == node(OLDER[0])) {
            return v0_3::ModulePre::new(pre).map(Pre::V0_3).map_err(|e| format!("{e:#}"));
        }
        v0_4::ModulePre::new(pre).map(Pre::V0_4).map_err(|e| {
            format!("it is not a Weavelet component (it must export `{}`): {e:#}", node(CURRENT))
        })
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

    /// Instantiate it in `store` and run its node `node` on `inputs`.
    pub(crate) fn run(
        &self,
        store: &mut Store<NodeState>,
        node: &str,
        inputs: Vec<(String, Value)>,
    ) -> Outcome {
        match self {
            Pre::V0_4(p) => v0_4::calls::run(p, store, node, inputs),
            Pre::V0_3(p) => v0_3::calls::run(p, store, node, inputs),
        }
    }
}
