//! `weavelet inspect`: what a component declares.

use std::path::PathBuf;
use std::process::ExitCode;

use weavelet::{Config, Runtime};

#[derive(clap::Args)]
pub struct InspectArgs {
    /// The component file (.wasm).
    component: PathBuf,
}

pub fn run(args: InspectArgs) -> Result<ExitCode, weavelet::Error> {
    let runtime = Runtime::new(Config::default().jobs(1))?;
    let module = runtime.load_component(&args.component)?;
    let size = std::fs::metadata(&args.component).map(|m| m.len()).unwrap_or(0);
    println!("component {}", args.component.display());
    println!("  size    {}", weavelet::human_bytes(size));
    println!("  sha256  {}", module.content_hash());
    for decl in module.decls() {
        let inputs: Vec<String> = decl
            .inputs
            .iter()
            .map(|i| format!("{}: {}{}", i.name, i.ty, if i.optional { "?" } else { "" }))
            .collect();
        println!();
        println!("node {}({}) -> {}", decl.name, inputs.join(", "), decl.output);
        for line in decl.doc.lines() {
            println!("    {}", weavelet::sanitize(line));
        }
        if !decl.capabilities.is_empty() {
            let caps: Vec<String> = decl.capabilities.iter().map(ToString::to_string).collect();
            println!("    requests: {}", caps.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}
