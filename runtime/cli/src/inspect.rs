//! `weavelet inspect`: what a component declares and imports, for review
//! before it is granted anything.

use std::path::PathBuf;
use std::process::ExitCode;

use weavelet::{Capability, sanitize};

#[derive(clap::Args)]
#[command(after_help = "Examples:
  weavelet inspect guests/diamond                 # a built node folder: nodes, inputs, grants asked
  weavelet inspect examples/timeseries            # a pipeline: nodes, parameters, each node's policy
  weavelet inspect pipeline.rhai --json")]
pub struct InspectArgs {
    /// The component file (.wasm), its URL (https://) or OCI reference
    /// (oci://registry/ns/name:tag; fetched into the download cache), or a node folder (Rust, C, Python or JavaScript)
    /// already built with `weavelet build`: inspect never builds, since
    /// building runs the folder's own code. Or a pipeline: a weavelet.toml
    /// (or a folder holding one and no node files) or a .rhai script: its
    /// nodes, what feeds each input, parameters, outputs and each node's policy.
    component: PathBuf,
    /// A node folder's language, when its files do not tell (`rust`, `c`, `python`, `js`).
    #[arg(long, value_name = "LANG", value_parser = ["rust", "c", "python", "js"])]
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
        "wasi:cli/stdout" | "wasi:cli/stderr" => {
            "WASI output: captured into the node's log and error text (bounded)"
        }
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

/// Whether `path` names a pipeline rather than a component: a `.rhai`
/// script, a `.toml` manifest, or a folder with a `weavelet.toml` and no
/// node files of its own (a project folder holding both is its component).
fn is_pipeline(path: &std::path::Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if path.is_file() {
        return ext == "rhai" || ext == "toml";
    }
    path.join("weavelet.toml").is_file()
        && !["Cargo.toml", "nodes.c", "nodes.py", "nodes.js"].iter().any(|f| path.join(f).is_file())
}

/// The declared type of `node`'s input `input`.
fn input_type(node: &weavelet::GraphNode, input: &str) -> String {
    node.inputs.iter().find(|i| i.name == input).map(|i| i.ty.to_string()).unwrap_or_else(|| "any".into())
}

/// `inspect` of a pipeline or script: its nodes, what feeds each input,
/// its parameters, outputs and each node's effective policy. Builds nothing.
fn pipeline(args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let runtime = super::build::runtime(args.cache_dir.as_deref())?;
    let mut pipeline = runtime.load_prepared(&args.component)?;
    // Parameters nobody set yet are shown as required, not as errors: each
    // gets a stand-in value of its type for the plan.
    let mut unset: Vec<String> = Vec::new();
    let plan = match pipeline.plan(&[]) {
        Ok(plan) => plan,
        Err(weavelet::Error::Plan(problems))
            if problems.iter().all(|d| {
                matches!(d.fix.as_deref(), Some(weavelet::Fix::ProvideInput { did_you_mean: None, .. }))
            }) =>
        {
            for problem in &problems {
                if let Some(weavelet::Fix::ProvideInput { name, ty, .. }) = problem.fix.as_deref() {
                    let sample = match ty {
                        weavelet::ValueType::Int | weavelet::ValueType::Float => "0",
                        weavelet::ValueType::Bool => "false",
                        _ => "",
                    };
                    pipeline.set_param_text(name, sample);
                    unset.push(name.clone());
                }
            }
            pipeline.plan(&[])?
        }
        Err(e) => return Err(e.into()),
    };
    let graph = plan.graph();
    let default = runtime.policy();
    let policies: Vec<weavelet::Policy> =
        (0..graph.len()).map(|i| plan.policy(i, default).unwrap_or_else(|| default.clone())).collect();
    let targets: Vec<&str> = plan.targets().collect();
    let mut params: Vec<(String, String, Option<weavelet::Value>, Vec<String>)> = Vec::new();
    for node in &graph {
        for input in &node.inputs {
            if let weavelet::GraphSource::Param { name, value } = &input.from {
                match params.iter_mut().find(|p| &p.0 == name) {
                    Some(p) => p.3.push(node.name.clone()),
                    None => params.push((
                        name.clone(),
                        input_type(node, &input.name),
                        (!unset.contains(name)).then(|| value.clone()),
                        vec![node.name.clone()],
                    )),
                }
            }
        }
    }
    let signature = |n: &weavelet::GraphNode| -> Vec<String> {
        n.inputs
            .iter()
            .map(|i| match &i.from {
                weavelet::GraphSource::Node(j) => format!("{} <- {}", i.name, graph[*j].name),
                weavelet::GraphSource::Param { name, .. } => format!("{} <- parameter {name}", i.name),
                weavelet::GraphSource::Default => format!("{} (default)", i.name),
            })
            .collect()
    };
    if args.json {
        let nodes: Vec<serde_json::Value> = graph
            .iter()
            .zip(&policies)
            .map(|(n, p)| {
                let policy: serde_json::Map<String, serde_json::Value> =
                    p.summary().into_iter().map(|(k, v)| (k.replace(' ', "_"), v.into())).collect();
                serde_json::json!({
                    "name": n.name, "source": n.source, "output": n.output.to_string(), "target": n.target,
                    "inputs": signature(n), "policy": policy,
                })
            })
            .collect();
        let params: Vec<serde_json::Value> = params
            .iter()
            .map(|(name, ty, value, readers)| {
                let value = value.as_ref().and_then(|v| weavelet::value_json(v).ok()).unwrap_or_default();
                serde_json::json!({ "name": name, "type": ty, "value": value, "required": value.is_null(), "read_by": readers })
            })
            .collect();
        let doc = serde_json::json!({
            "pipeline": pipeline.name(), "path": args.component.display().to_string(), "targets": targets,
            "params": params, "nodes": nodes,
        });
        out!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    out!("pipeline {} ({})", pipeline.name(), args.component.display());
    out!("  outputs  {}", targets.join(", "));
    out!();
    out!("parameters");
    if params.is_empty() {
        out!("  none");
    }
    for (name, ty, value, readers) in &params {
        let value = match value {
            None => "(required, not set)".to_string(),
            Some(weavelet::Value::Text(text)) => format!("= {:?}", &**text),
            Some(value) => format!("= {value}"),
        };
        out!("  {name}: {ty} {}   (read by {})", sanitize(&value), readers.join(", "));
    }
    for (node, policy) in graph.iter().zip(&policies) {
        out!();
        let mark = if node.target { "   [output]" } else { "" };
        out!("node {} -> {}   from {}{mark}", node.name, node.output, node.source);
        for input in signature(node) {
            out!("    {input}");
        }
        for (what, text) in policy.summary() {
            out!("    {what:<8} {}", sanitize(&text));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run(mut args: InspectArgs) -> anyhow::Result<ExitCode> {
    if is_pipeline(&args.component) {
        return pipeline(&args);
    }
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
            "contract": module.contract(),
            "outdated": module.outdated().map(|d| d.to_string()),
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
    out!("  built against {}", module.contract());
    if let Some(outdated) = module.outdated() {
        out!("  note: {}", outdated.message);
        if let Some(help) = &outdated.help {
            out!("  help: {help}");
        }
    }
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
