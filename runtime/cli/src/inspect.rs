//! `weavelet inspect`: what a component declares and imports, for review
//! before it is granted anything.

use std::path::PathBuf;
use std::process::ExitCode;

use weavelet::{Capability, sanitize};

#[derive(clap::Args)]
pub struct InspectArgs {
    /// The component file (.wasm), its URL (https://) or OCI reference
    /// (oci://registry/ns/name:tag; fetched into the download cache), or a node folder (Rust, C, Python or JavaScript)
    /// already built with `weavelet build`: inspect never builds, since
    /// building runs the folder's own code.
    component: PathBuf,
    /// A node folder's language, when its files do not tell (`rust`, `c`, `python`, `js`).
    #[arg(long, value_name = "LANG")]
    lang: Option<String>,
    /// The cache folder builds of node folders go to (default: as `weavelet run`).
    #[arg(long, env = "WEAVELET_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Print JSON for tools instead of text.
    #[arg(long)]
    json: bool,
}

/// What an import gives the component, in an operator's words.
fn describe_import(name: &str) -> &'static str {
    let interface = name.split('@').next().unwrap_or(name);
    match interface {
        "weavelet:node/host" => "Weavelet host: log and progress (bounded)",
        "weavelet:node/types" => {
            "Weavelet value types; host-owned tables, SVG documents and images (reads only under read grants)"
        }
        "wasi:cli/environment" => "WASI environment: empty, no arguments",
        "wasi:cli/exit" => "WASI exit: ends the node as a failure",
        "wasi:cli/stdin" => "WASI stdin: empty",
        "wasi:cli/stdout" | "wasi:cli/stderr" => "WASI output: captured into the node's error text (bounded)",
        i if i.starts_with("wasi:cli/terminal-") => "WASI terminal: none",
        i if i.starts_with("wasi:io/") => "WASI streams, for the captured output",
        i if i.starts_with("wasi:sockets/") => "WASI sockets: every connection and lookup refused",
        i if i.starts_with("wasi:http/outgoing-handler") => {
            "HTTP requests: only to the hosts a node's `net` grant names (none by default), counted and logged"
        }
        i if i.starts_with("wasi:http/") => "HTTP types, for the requests of wasi:http/outgoing-handler",
        i if i.starts_with("wasi:filesystem/") => "WASI filesystem: no directories granted",
        i if i.starts_with("wasi:clocks/") => "WASI clocks: fixed at the Unix epoch",
        i if i.starts_with("wasi:random/") => "WASI random: seeded, the same every run",
        _ => "not provided by Weavelet",
    }
}

fn capability_json(c: &Capability) -> serde_json::Value {
    match c {
        Capability::ReadDir(d) => serde_json::json!({ "read-dir": d }),
        Capability::WriteDir(d) => serde_json::json!({ "write-dir": d }),
        Capability::Env(k) => serde_json::json!({ "env": k }),
        Capability::Clock => serde_json::json!("clock"),
        Capability::Random => serde_json::json!("random"),
    }
}

/// Columns as `name: dtype, ...`.
fn columns_text(columns: &[(String, String)]) -> String {
    columns.iter().map(|(n, t)| format!("{n}: {t}")).collect::<Vec<_>>().join(", ")
}

fn columns_json(columns: &[(String, String)]) -> serde_json::Value {
    columns.iter().map(|(n, t)| serde_json::json!({ "name": n, "dtype": t })).collect()
}

pub fn run(mut args: InspectArgs) -> anyhow::Result<ExitCode> {
    let runtime = super::build::runtime(args.cache_dir.as_deref())?;
    let named = args.component.to_string_lossy().into_owned();
    if ["https://", "http://", "oci://"].iter().any(|scheme| named.starts_with(scheme)) {
        // A published component: fetched into the download cache (named by its digest), reviewed from there.
        let remote = weavelet::manifest::Remote::parse(&named);
        args.component = runtime.fetch_component(&remote, None, &mut |step| eprintln!("{step}"))?;
    } else if args.component.is_dir() {
        args.component = super::build::built_folder(&runtime, &args.component, args.lang.as_deref())?;
    }
    let module = runtime.load_component(&args.component)?;
    let size = std::fs::metadata(&args.component).map(|m| m.len()).unwrap_or(0);

    if args.json {
        let nodes: Vec<serde_json::Value> = module
            .decls()
            .map(|d| {
                serde_json::json!({
                    "name": d.name,
                    "doc": d.doc,
                    "inputs": d.inputs.iter().map(|i| serde_json::json!({
                        "name": i.name, "type": i.ty.name(), "optional": i.optional,
                        "columns": columns_json(&i.columns),
                    })).collect::<Vec<_>>(),
                    "output": d.output.name(),
                    "output_columns": columns_json(&d.output_columns),
                    "capabilities": d.capabilities.iter().map(capability_json).collect::<Vec<_>>(),
                })
            })
            .collect();
        let doc = serde_json::json!({
            "path": args.component.display().to_string(),
            "size": size,
            "sha256": module.content_hash(),
            "imports": module.imports(),
            "isolation": runtime.policy().isolation.name(),
            "nodes": nodes,
        });
        out!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }

    review(&runtime, &args.component, &module, size);
    Ok(ExitCode::SUCCESS)
}

/// What an operator reviews before granting a component anything: its
/// size, digest, where it runs, its imports and what Weavelet gives it
/// there, its nodes and what each requests.
pub fn review(
    runtime: &weavelet::Runtime,
    path: &std::path::Path,
    module: &weavelet::ComponentModule,
    size: u64,
) {
    out!("component {}", path.display());
    out!("  size    {}", weavelet::human_bytes(size));
    out!("  sha256  {}", module.content_hash());
    out!(
        "  runs in {}",
        match runtime.policy().isolation {
            weavelet::Isolation::Process =>
                "a confined worker process per node (isolation = \"process\", the default)",
            weavelet::Isolation::InProcess => "the weavelet process (isolation = \"in-process\")",
        }
    );
    out!();
    out!("imports");
    for import in module.imports() {
        out!("  {import:<44} {}", describe_import(import));
    }
    for decl in module.decls() {
        let inputs: Vec<String> = decl
            .inputs
            .iter()
            .map(|i| format!("{}: {}{}", i.name, i.ty, if i.optional { "?" } else { "" }))
            .collect();
        out!();
        out!("node {}({}) -> {}", decl.name, inputs.join(", "), decl.output);
        for line in decl.doc.lines() {
            out!("    {}", sanitize(line));
        }
        for input in decl.inputs.iter().filter(|i| !i.columns.is_empty()) {
            out!("    `{}` needs columns {}", input.name, sanitize(&columns_text(&input.columns)));
        }
        if !decl.output_columns.is_empty() {
            out!("    returns columns {}", sanitize(&columns_text(&decl.output_columns)));
        }
        if !decl.capabilities.is_empty() {
            let caps: Vec<String> = decl.capabilities.iter().map(|c| sanitize(&c.to_string())).collect();
            out!("    requests: {}", caps.join(", "));
        }
    }
}
