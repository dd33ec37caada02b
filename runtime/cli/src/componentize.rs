//! `weavelet componentize CORE.wasm -o NODES.wasm`: a core module built with
//! `wit-bindgen` bindings (C, or anything else that targets wasm32-wasi) made a
//! component, the step `c = "..."` folders take inside `weavelet run`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, anyhow};

#[derive(clap::Args)]
pub struct ComponentizeArgs {
    /// The core module: wasm32-wasi (preview 1), linked with the
    /// `component-type` object that `wit-bindgen` generates.
    core: PathBuf,
    /// The component to write.
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run(args: ComponentizeArgs) -> anyhow::Result<ExitCode> {
    let core = std::fs::read(&args.core).with_context(|| format!("reading {}", args.core.display()))?;
    let component = weavelet::build::componentize(&core).map_err(|e| {
        anyhow!(
            "{} cannot be made a component: {e}\n(it must be a core module that embeds its WIT world, \
             as `wit-bindgen c` bindings do through their `*_component_type.o`)",
            args.core.display()
        )
    })?;
    std::fs::write(&args.output, &component).with_context(|| format!("writing {}", args.output.display()))?;
    out!("wrote {} ({} bytes)", args.output.display(), component.len());
    Ok(ExitCode::SUCCESS)
}
