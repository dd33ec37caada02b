//! JavaScript node modules: `nodes.js`, with the SDK bundled in under the
//! import name `weavelet`, made a component by jco (componentize-js: the
//! StarlingMonkey engine, initialised with the module at build time).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Build, StepSink};
use weavelet_core::Error;

pub(super) const INSTALL: &str = "Install jco and componentize-js with npm (Node.js 20.19 or newer) in the \
     node folder: npm install --save-dev @bytecodealliance/jco@1.34.0 @bytecodealliance/componentize-js@0.22.0 \
     (a project made from Weavelet's JavaScript template lists them: run `npm ci` there). \
     JCO=/path/to/jco names another copy.";

/// `node_modules/.bin/jco` in `dir` or a folder above it, as node resolves packages.
fn local_jco(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().map(|d| d.join("node_modules/.bin/jco")).find(|p| p.is_file())
}

pub(super) fn build(b: &Build<'_>, on_step: StepSink<'_>) -> Result<(), Error> {
    let jco = match std::env::var_os("JCO").filter(|v| !v.is_empty()) {
        Some(_) => PathBuf::from(super::tool("JCO", "jco")),
        None => match local_jco(b.dir) {
            Some(jco) => jco,
            None if std::fs::read_to_string(b.dir.join("package.json"))
                .is_ok_and(|p| p.contains("@bytecodealliance/jco")) =>
            {
                return Err(Error::build(format!(
                    "building the JavaScript nodes in {0} needs jco, which {0}/package.json lists but npm has \
                     not installed: run `npm ci` in {0}",
                    b.dir.display()
                )));
            }
            None => PathBuf::from("jco"),
        },
    };
    // `import ... from 'weavelet'` is the SDK; the WIT interfaces are the host's.
    let sdk = b.support.join("js/weavelet.js");
    let config = b.work.join("bundle.config.mjs");
    let text = format!(
        "// Written by weavelet for jco's bundler.\nexport default {{\n  external: [/^weavelet:/],\n  resolve: {{ alias: {{ weavelet: {} }} }},\n}};\n",
        serde_json::to_string(&sdk.to_string_lossy()).unwrap_or_default()
    );
    std::fs::write(&config, text).map_err(|e| Error::io(format!("writing {}", config.display()), e))?;
    // Wizer (run by componentize-js with an empty environment) creates
    // wasmtime's cache folder `~/.cache/wasmtime`, and fails the build where it
    // cannot — in the sandbox, where the home folder is read-only. Made here
    // (empty, as wasmtime would make it); the build still cannot write in it,
    // which wizer takes as a cache miss. Never made writable: a build that
    // could write compiled code there would reach every wasmtime on this machine.
    if let Some(home) = std::env::var_os("HOME") {
        let _ = std::fs::create_dir_all(PathBuf::from(home).join(".cache/wasmtime"));
    }
    let mut command = Command::new(jco);
    command
        .current_dir(b.dir)
        .arg("componentize")
        .arg(b.dir.join("nodes.js"))
        .arg("--wit")
        .arg(b.support.join("wit"))
        // `http` stays on: `fetch` is wasi:http, which reaches only the hosts of a `net` grant.
        .args(["--world-name", "module", "--disable", "fetch-event", "--bundle", "--bundle-config"])
        .arg(&config)
        .arg("--out")
        .arg(b.out);
    b.run(on_step, command)
}
