//! `weavelet add REFERENCE`: fetch a published component (a URL or an OCI
//! reference), show what it is, what it asks for and who signed it, and only
//! on confirmation pin it in the pipeline's `weavelet.toml` and record the
//! review in `weavelet.lock`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, anyhow};
use weavelet::manifest::{Lock, LockedComponent, Remote};

#[derive(clap::Args)]
#[command(after_help = "Examples:
  weavelet add https://example.org/nodes/stats-1.2.wasm --sha256 3f2a…
  weavelet add ghcr.io/acme/stats:1.2 --to examples/analysis   # review, confirm, pinned by digest")]
pub struct AddArgs {
    /// Where the component is published: a URL (https://, or http:// for a
    /// local server) or an OCI reference (`registry.example/ns/name:1.0`).
    reference: String,
    /// The pipeline to add it to: a weavelet.toml, or a folder holding one.
    #[arg(long, default_value = ".")]
    to: PathBuf,
    /// The SHA-256 the publisher lists: the file is refused unless it has it.
    #[arg(long, value_name = "HEX")]
    sha256: Option<String>,
    /// Add it without asking (for scripts: review it with `weavelet inspect` first).
    #[arg(long, short = 'y')]
    yes: bool,
    /// The cache folder downloads go to (default: as `weavelet run`).
    #[arg(long, value_name = "DIR", env = "WEAVELET_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
}

/// A component fetched and read for review.
pub struct Reviewed {
    /// The file in the download cache.
    pub file: PathBuf,
    /// Its nodes and imports.
    pub module: std::sync::Arc<weavelet::ComponentModule>,
    /// Its SHA-256.
    pub digest: String,
    /// The trusted key that signed it (only where the pipeline lists keys).
    pub signer: Option<String>,
    /// What to print about its signature.
    pub signature: String,
}

/// Fetches `remote` (refused unless it has `expected`, where given), reads it,
/// and checks its signature against `keys` where there are any.
pub fn fetch_for_review(
    runtime: &weavelet::Runtime,
    remote: &Remote,
    expected: Option<&str>,
    keys: &[String],
) -> anyhow::Result<Reviewed> {
    let file = runtime.fetch_component(remote, expected, &mut |step| eprintln!("{step}"))?;
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let digest = weavelet::key::hex(&weavelet::key::sha256(&bytes));
    // The signature is checked before the component is compiled or read.
    let (signer, signature) = if keys.is_empty() {
        let signature = match runtime.component_signature(&file, Some(remote), &[]) {
            Ok(Some(text)) => match weavelet::trust::signature_key_id(&text) {
                Ok(id) => format!("signed by key {id} (not checked: the pipeline lists no [trust] keys)"),
                Err(e) => format!("carries a signature that cannot be read ({e})"),
            },
            Ok(None) => "unsigned".to_string(),
            Err(e) => format!("not known: {e}"),
        };
        (None, signature)
    } else {
        match runtime.verify_component(&file, Some(remote), keys) {
            Ok(id) => (Some(id.clone()), format!("signed by key {id}, one the pipeline trusts")),
            Err(why) => {
                return Err(anyhow!(
                    "{remote} is not signed by a key this pipeline trusts: {why}; nothing was changed (the \
                     pipeline's [trust] keys list the publishers it accepts)"
                ));
            }
        }
    };
    let module = runtime.load_component(&file)?;
    Ok(Reviewed { file, module, digest, signer, signature })
}

/// Each capability a component's nodes request, as `node: capability`.
pub fn requests(module: &weavelet::ComponentModule) -> Vec<String> {
    let mut requests: Vec<String> =
        module.decls().flat_map(|d| d.capabilities.iter().map(move |c| format!("{}: {c}", d.name))).collect();
    // The network is not a capability a node declares: any node of a component
    // that can make HTTP requests may ask for it, so a version that starts
    // importing wasi:http is a request to review.
    if module.imports().iter().any(|i| i.starts_with("wasi:http/outgoing-handler")) {
        requests.push(
            "every node: HTTP requests (imports wasi:http; reach only the hosts of a `net` grant)".into(),
        );
    }
    requests.sort();
    requests
}

/// Asks `question` on the terminal; `yes` answers it. Not in a terminal and
/// no `yes`: an error saying how to answer.
pub fn confirm(question: &str, yes: bool, unanswered: &str) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(anyhow!("{unanswered}"));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

pub fn run(args: AddArgs) -> anyhow::Result<ExitCode> {
    let manifest = weavelet::manifest::locate(&args.to)?;
    let text =
        std::fs::read_to_string(&manifest).with_context(|| format!("reading {}", manifest.display()))?;
    let remote = Remote::parse(&args.reference);
    let (listed, keys) = weavelet::manifest::remotes(&manifest)?;
    if listed.iter().any(|entry| entry.remote == remote) {
        return Err(anyhow!(
            "{} already lists {remote}; `weavelet update` reviews and pins a newer version",
            manifest.display()
        ));
    }
    let runtime = super::build::runtime(args.cache_dir.as_deref())?;
    let expected = args.sha256.as_deref().map(str::to_ascii_lowercase);
    let reviewed = fetch_for_review(&runtime, &remote, expected.as_deref(), &keys)?;
    let digest = &reviewed.digest;
    if listed.iter().any(|entry| &entry.sha256 == digest) {
        return Err(anyhow!("{} already lists a component with SHA-256 {digest}", manifest.display()));
    }
    let size = std::fs::metadata(&reviewed.file).map(|m| m.len()).unwrap_or(0);
    super::inspect::review(&runtime, Path::new(remote.reference()), &reviewed.module, size);
    out!();
    out!("signature: {}", reviewed.signature);
    out!();
    let question = format!("add it to {}, pinned to SHA-256 {digest}?", manifest.display());
    let unanswered = format!(
        "weavelet add asks before it changes {}: run it in a terminal, or pass --yes once you have reviewed the \
         component above",
        manifest.display()
    );
    if !confirm(&question, args.yes, &unanswered)? {
        eprintln!("not added; {} is unchanged", manifest.display());
        return Ok(ExitCode::from(1));
    }
    // The lock records what was reviewed (`weavelet run` refuses a manifest
    // that disagrees with it); written first, so a failure leaves the manifest as it was.
    let lock_file = manifest.with_file_name(weavelet::manifest::LOCK_FILE);
    let mut lock = match Lock::read(&lock_file)? {
        Some(lock) => lock,
        None => {
            // A new lock holds every fetched component, or `run` would refuse
            // the ones pinned before it existed. Those were not reviewed here:
            // recorded with no nodes or requests, so `weavelet update` shows
            // everything they ask for.
            let mut lock = Lock::default();
            for entry in &listed {
                eprintln!(
                    "{} also records {} (pinned before the lock existed; `weavelet update` will show all it asks for)",
                    lock_file.display(),
                    entry.remote
                );
                lock.set(LockedComponent::new(&entry.remote, entry.sha256.clone()));
            }
            lock
        }
    };
    lock.set(locked(&remote, &reviewed));
    lock.write(&lock_file)?;
    let mut entry = String::new();
    if !text.is_empty() && !text.ends_with('\n') {
        entry.push('\n');
    }
    entry.push_str(&format!(
        "\n[[components]]                    # added by `weavelet add`\n{} = {}\nsha256 = \"{digest}\"\n",
        remote.key(),
        toml_string(remote.reference())
    ));
    // Appended, so the rest of the file stays as its author wrote it.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&manifest)
        .and_then(|mut f| f.write_all(entry.as_bytes()))
        .with_context(|| format!("writing {}", manifest.display()))?;
    eprintln!(
        "added {remote} to {} and {}, pinned to SHA-256 {digest}",
        manifest.display(),
        lock_file.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The lock entry recording the review of `remote`.
pub fn locked(remote: &Remote, reviewed: &Reviewed) -> LockedComponent {
    LockedComponent {
        signer: reviewed.signer.clone(),
        nodes: reviewed.module.decls().map(|d| d.name.clone()).collect(),
        requests: requests(&reviewed.module),
        ..LockedComponent::new(remote, reviewed.digest.clone())
    }
}

/// `text` as a TOML basic string.
pub fn toml_string(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04X}", c as u32)),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}
