//! `weavelet.toml` manifests: `manifest::load` (TOML parsing into the manifest
//! schema, parameters, `[nodes]` aliases, `[policy]` sizes, durations and
//! grants, `[outputs]`, and the error messages that quote the manifest at a
//! span) and `manifest::wants_fuel`.
//!
//! `load` needs a file: each input is written as `weavelet.toml` into a
//! scratch folder that also holds the examples' Rhai scripts (so `[[scripts]]`
//! entries of the seeds resolve and their nodes exist) and the folders the
//! examples grant (`data`, `photos`). If `WEAVELET_FUZZ_COMPONENT` names a
//! component `.wasm` file (e.g. the diamond guest), it is copied there as
//! `nodes.wasm`, so `[[components]] path = "nodes.wasm"` and `[nodes]` aliases
//! are reached too.
//!
//! Manifests with `[[components]] rust = ...` are skipped: loading one runs
//! `cargo build`, which a fuzzer must not do.

#![no_main]

#[path = "common.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use weavelet::{Config, Runtime, manifest};

struct Fixture {
    runtime: Runtime,
    dir: PathBuf,
    /// What the folder holds before any input runs (grants may create folders).
    keep: Vec<std::ffi::OsString>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = Runtime::new(Config::default().cache_dir(None)).expect("a runtime");
        let dir = std::env::temp_dir().join(format!("weavelet-fuzz-manifest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch folder");
        for sub in ["data", "photos"] {
            std::fs::create_dir_all(dir.join(sub)).expect("a grant folder");
        }
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        for example in std::fs::read_dir(&examples).into_iter().flatten().flatten() {
            for file in std::fs::read_dir(example.path()).into_iter().flatten().flatten() {
                let path = file.path();
                if path.extension().is_some_and(|e| e == "rhai") {
                    if let Some(name) = path.file_name() {
                        let _ = std::fs::copy(&path, dir.join(name));
                    }
                }
            }
        }
        if let Some(wasm) = std::env::var_os("WEAVELET_FUZZ_COMPONENT") {
            std::fs::copy(&wasm, dir.join("nodes.wasm")).expect("WEAVELET_FUZZ_COMPONENT is readable");
        }
        let keep = std::fs::read_dir(&dir).expect("the scratch folder").flatten().map(|e| e.file_name()).collect();
        Fixture { runtime, dir, keep }
    })
}

/// Whether loading `text` would build a Rust crate (`[[components]] rust = ...`).
fn builds_crates(text: &str) -> bool {
    let Ok(doc) = text.parse::<toml::Table>() else { return false };
    doc.get("components")
        .and_then(toml::Value::as_array)
        .is_some_and(|entries| entries.iter().any(|e| e.as_table().is_some_and(|t| t.contains_key("rust"))))
}

fuzz_target!(init: common::init(), |data: &[u8]| {
    let Some(text) = common::text(data) else { return };
    if builds_crates(text) {
        return;
    }
    let fx = fixture();
    let file = fx.dir.join("weavelet.toml");
    std::fs::write(&file, text).expect("writing the manifest");
    let _ = manifest::wants_fuel(&fx.dir);
    if let Ok(pipeline) = fx.runtime.load(&fx.dir) {
        let _ = (pipeline.name().len(), pipeline.output_files().len(), pipeline.nodes().len());
    }
    // `write = [...]` grants create folders: remove them, keep the fixture.
    for entry in std::fs::read_dir(&fx.dir).into_iter().flatten().flatten() {
        if !fx.keep.contains(&entry.file_name()) && entry.file_name() != "weavelet.toml" {
            let _ = std::fs::remove_dir_all(entry.path()).or_else(|_| std::fs::remove_file(entry.path()));
        }
    }
});
