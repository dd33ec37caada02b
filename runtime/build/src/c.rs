//! C node modules: bindings from `wit-bindgen c`, every `.c` file of the
//! folder and the SDK (`weavelet.c`) compiled by clang into a WASI reactor
//! module, which becomes a component here, with wasmtime's WASI adapter.

use std::process::Command;

use super::{Build, StepSink};
use weavelet_core::Error;

pub(super) const INSTALL: &str = "Install the C toolchain (Debian 12): \
     sudo apt-get install clang-16 lld-16 wasi-libc libclang-rt-16-dev-wasm32, and \
     cargo install --locked wit-bindgen-cli --version 0.61.1 --no-default-features --features c. \
     CC=/path/to/clang and WIT_BINDGEN=/path/to/wit-bindgen name other copies.";

/// Where Debian's wasi-libc puts its headers.
const WASI_INCLUDE: &str = "/usr/include/wasm32-wasi";

pub(super) fn build(b: &Build<'_>, on_step: StepSink<'_>) -> Result<(), Error> {
    let gen_dir = b.work.join("gen");
    let _ = std::fs::remove_dir_all(&gen_dir);
    std::fs::create_dir_all(&gen_dir).map_err(|e| Error::io(format!("creating {}", gen_dir.display()), e))?;

    // 1. Bindings: module.{h,c} and module_component_type.o (the world, embedded).
    let wit_bindgen = super::tool("WIT_BINDGEN", "wit-bindgen");
    let mut command = Command::new(wit_bindgen);
    command.args(["c", "--out-dir"]).arg(&gen_dir).arg(b.support.join("wit"));
    b.run(on_step, command)?;

    // 2. The core module: wasm32-wasi, a reactor (no `_start`).
    let mut sources: Vec<std::path::PathBuf> = std::fs::read_dir(b.dir)
        .map_err(|e| Error::io(format!("listing {}", b.dir.display()), e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    sources.sort();
    let core = b.work.join("core.wasm");
    let cc = super::tool("CC", "clang-16");
    let mut command = Command::new(cc);
    command
        .current_dir(b.dir)
        .args(["--target=wasm32-wasi", "-mexec-model=reactor", "-std=gnu11", "-O2", "-Wall"])
        // Only wasi-libc's headers, never the host's /usr/include.
        .args(["-nostdlibinc", "-isystem", WASI_INCLUDE])
        .arg("-I")
        .arg(b.dir)
        .arg("-I")
        .arg(b.support.join("c"))
        .arg("-I")
        .arg(&gen_dir)
        .args(&sources)
        .arg(b.support.join("c/weavelet.c"))
        .arg(gen_dir.join("module.c"))
        .arg(gen_dir.join("module_component_type.o"))
        .arg("-Wl,--strip-debug")
        .arg("-o")
        .arg(&core);
    b.run(on_step, command)?;

    // 3. The component.
    on_step(&format!("building {} (C): making a component of {}", b.dir.display(), core.display()));
    let bytes = std::fs::read(&core).map_err(|e| Error::io(format!("reading {}", core.display()), e))?;
    let component = componentize(&bytes).map_err(|e| {
        Error::build(format!(
            "building the C nodes in {}: the core module is not a component: {e}",
            b.dir.display()
        ))
    })?;
    weavelet_data::table::io::atomic_write(b.out, &[], |file| {
        std::io::Write::write_all(file, &component)
            .map_err(|e| weavelet_data::TableError::new(format!("writing {}: {e}", b.out.display())))
    })
    .map(|_| ())
    .map_err(|e| Error::build(e.to_string()))
}

/// A WASI preview 1 core module that embeds its world (`wit-bindgen`'s
/// `component-type` section), as a component: the preview 1 imports are
/// served by wasmtime's reactor adapter, which speaks WASI 0.2.
pub fn componentize(core: &[u8]) -> Result<Vec<u8>, String> {
    use wasi_preview1_component_adapter_provider::{
        WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
    };
    wit_component::ComponentEncoder::default()
        .module(core)
        .and_then(|e| e.adapter(WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER))
        .map(|e| e.validate(true))
        .and_then(|e| e.encode())
        .map_err(|e| format!("{e:#}"))
}
