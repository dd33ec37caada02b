//! `weavelet build FOLDER`: build a node folder (Rust, C, Python or
//! JavaScript) into a component, as `weavelet run` does on demand.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, anyhow};
use weavelet::build::Language;
use weavelet::{Config, Isolation, Runtime};

#[derive(clap::Args)]
#[command(after_help = "Examples:
  weavelet build guests/diamond -o diamond.wasm   # a Rust node folder
  weavelet build my-node --lang python --json     # {\"component\": ..., \"nodes\": [...]}")]
pub struct BuildArgs {
    /// The node folder.
    folder: PathBuf,
    /// Its language, when its files do not tell (`rust`, `c`, `python`, `js`).
    #[arg(long, value_name = "LANG", value_parser = ["rust", "c", "python", "js"])]
    lang: Option<String>,
    /// Copy the component here (default: print where it is in the cache).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// The cache folder builds go to (default: as `weavelet run`).
    #[arg(long, value_name = "DIR", env = "WEAVELET_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// The folder is trusted as much as Weavelet itself: build it on this
    /// machine, outside the build sandbox (its build scripts get the network,
    /// your environment and your files).
    #[arg(long)]
    trusted: bool,
    /// Print JSON for tools: the component's path, size, SHA-256, language and nodes.
    #[arg(long)]
    json: bool,
}

/// Build `folder` (its language told by its files unless `lang` says) and
/// check that the result loads; returns the component file.
pub fn build_folder(
    runtime: &Runtime,
    folder: &Path,
    lang: Option<&str>,
    isolation: Isolation,
) -> anyhow::Result<PathBuf> {
    let (language, dir) = language_and_dir(folder, lang)?;
    Ok(runtime.build(language, &dir, isolation, &mut |step| eprintln!("{step}"))?)
}

/// The language of node folder `folder` (told by its files unless `lang` says).
fn language_of(folder: &Path, lang: Option<&str>) -> Option<Language> {
    language_and_dir(folder, lang).ok().map(|(language, _)| language)
}

/// A node folder's language (told by its files unless `lang` says) and its canonical path.
fn language_and_dir(folder: &Path, lang: Option<&str>) -> anyhow::Result<(Language, PathBuf)> {
    let language = match lang {
        Some(key) => Language::from_key(key)
            .ok_or_else(|| anyhow!("--lang {key}: Weavelet builds node folders in rust, c, python and js"))?,
        None => Language::detect(folder)?,
    };
    let dir = folder.canonicalize().with_context(|| format!("opening {}", folder.display()))?;
    Ok((language, dir))
}

/// The component built earlier from `folder` as it is now. Inspecting must
/// not build: building runs the folder's own code (build scripts, proc
/// macros, a module's top level while it is snapshotted) on this machine.
pub fn built_folder(runtime: &Runtime, folder: &Path, lang: Option<&str>) -> anyhow::Result<PathBuf> {
    let (language, dir) = language_and_dir(folder, lang)?;
    match runtime.built(language, &dir)? {
        Some(wasm) => Ok(wasm),
        None => Err(anyhow!(
            "{} is not built as it is now, and inspect does not build: building a node folder runs its own code \
             (build scripts, proc macros, module top-level code) on this machine\n\
             help: review its source first; then `weavelet build {}` and inspect again",
            folder.display(),
            folder.display()
        )),
    }
}

/// A runtime for building and loading one folder's component; `cache_dir`
/// overrides the default cache folder.
pub fn runtime(cache_dir: Option<&Path>) -> anyhow::Result<Runtime> {
    let mut config = Config::default().jobs(1);
    if let Some(dir) = cache_dir {
        config = config.cache_dir(Some(dir.to_path_buf()));
    }
    Ok(Runtime::new(config)?)
}

pub fn run(args: BuildArgs) -> anyhow::Result<ExitCode> {
    let runtime = runtime(args.cache_dir.as_deref())?;
    let isolation = if args.trusted { Isolation::InProcess } else { Isolation::Process };
    let wasm = build_folder(&runtime, &args.folder, args.lang.as_deref(), isolation)?;
    // Loading compiles it (once: the compiled code is cached) and checks it is a Weavelet component.
    let module = runtime.load_component(&wasm)?;
    let nodes: Vec<&str> = module.decls().map(|d| d.name.as_str()).collect();
    let shown = match &args.output {
        Some(out) => {
            std::fs::copy(&wasm, out)
                .with_context(|| format!("copying the component to {}", out.display()))?;
            out.clone()
        }
        None => wasm,
    };
    let size = std::fs::metadata(&shown).map(|m| m.len()).unwrap_or(0);
    if args.json {
        let bytes = std::fs::read(&shown).with_context(|| format!("reading {}", shown.display()))?;
        let language = language_of(&args.folder, args.lang.as_deref()).map(Language::key);
        out!(
            "{}",
            serde_json::json!({
                "component": shown, "bytes": size, "sha256": weavelet::key::hex(&weavelet::key::sha256(&bytes)),
                "language": language, "nodes": nodes,
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    out!("{}", shown.display());
    eprintln!("built {} ({}; nodes: {})", shown.display(), weavelet::human_bytes(size), nodes.join(", "));
    Ok(ExitCode::SUCCESS)
}
