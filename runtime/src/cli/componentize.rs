//! `weavelet componentize CORE.wasm -o NODES.wasm`: a core module built with
//! `wit-bindgen` bindings (C, or anything else that targets wasm32-wasi) made a
//! component, the step `c = "..."` folders take inside `weavelet run`.

use std::path::PathBuf;
use std::process::ExitCode;

use weavelet::Error;

#[derive(clap::Args)]
pub struct ComponentizeArgs {
    /// The core module: wasm32-wasi (preview 1), linked with the
    /// `component-type` object that `wit-bindgen` generates.
    core: PathBuf,
    /// The component to write.
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run(args: ComponentizeArgs) -> Result<ExitCode, Error> {
    let core =
        std::fs::read(&args.core).map_err(|e| Error::io(format!("reading {}", args.core.display()), e))?;
    let component = weavelet::build::componentize(&core).map_err(|e| {
        Error::Usage(format!(
            "{} cannot be made a component: {e}\n(it must be a core module that embeds its WIT world, \
             as `wit-bindgen c` bindings do through their `*_component_type.o`)",
            args.core.display()
        ))
    })?;
    std::fs::write(&args.output, &component)
        .map_err(|e| Error::io(format!("writing {}", args.output.display()), e))?;
    out!("wrote {} ({} bytes)", args.output.display(), component.len());
    Ok(ExitCode::SUCCESS)
}
