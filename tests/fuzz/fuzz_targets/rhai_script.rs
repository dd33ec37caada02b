//! Compiling a Rhai pipeline script from source text: the Rhai parser under
//! Weavelet's sandboxed engine (limits on depth, sizes, `eval` disabled), then
//! node discovery and the `/// @...` directives (`@timeout`, `@operations`,
//! `@columns`, ...) read from doc comments. Scripts are compiled, not run.

#![no_main]

#[path = "common.rs"]
mod common;

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use weavelet::Script;

fuzz_target!(init: common::init(), |data: &[u8]| {
    let Some(source) = common::text(data) else { return };
    if let Ok(script) = Script::from_source(Path::new("fuzz.rhai"), source) {
        for decl in script.decls() {
            let _ = (&decl.name, decl.inputs.len(), &decl.output_columns);
        }
        let _ = script.nodes().count();
    }
});
