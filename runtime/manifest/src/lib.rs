//! `weavelet.toml`: a pipeline written down.
//!
//! ```toml
//! [pipeline]
//! name = "sensor report"
//! outputs = ["report"]            # default targets (else every sink)
//!
//! [[components]]
//! rust = "../../guests/diamond"    # a Rust crate: built for wasm32-wasip2 on demand
//!
//! [[components]]
//! c = "nodes/c"                    # C, Python or JS node folders too: `c`, `python`, `js`
//!
//! [[components]]
//! path = "nodes/extra.wasm"        # or a component file
//!
//! [params]
//! count = 1000                     # a value
//! unit = { type = "text" }         # declared, no value: every run must pass --param unit=...
//!
//! [nodes.total_again]              # use a component's node a second time
//! use = "total"
//! inputs = { readings = "other_readings" }
//!
//! [policy]
//! read = ["data"]                  # folders whose files nodes may read (tables)
//!
//! [outputs]
//! report = "out/report.txt"        # write a node's output to a file (format by extension)
//! chart = ["out/chart.svg", "out/chart.png"]   # several files: an SVG as text and rendered
//! thumbs = "out/thumbs/{name}.png" # a list of images: one file per image
//! ```
//!
//! Paths are relative to the manifest's folder.
//!
//! This crate reads the file and checks it (every mistake reported with its
//! line and a caret); turning the sources it lists into nodes is the
//! [`Loader`]'s job, so it knows no backend. [`grant_syntax`] spells a
//! capability as the `[policy]` key that grants it, for front ends.

mod lock;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use lock::{LOCK_FILE, Lock, LockedComponent};

use serde::Deserialize;
pub use weavelet_build::Language;
use weavelet_core::{
    CachePolicy, Capability, Diagnostic, Error, Fix, Isolation, Node, Pipeline, Policy, Value, ValueType,
    is_name, parse_duration, parse_size, snippet, suggest,
};

/// Turns the sources a manifest lists into nodes.
pub trait Loader {
    /// The nodes of the component file at `path`.
    fn component(&mut self, path: &Path) -> Result<Vec<Node>, Error>;
    /// Build the node folder `dir` (canonical) in `language`; the component
    /// file. `isolation` is its source's: `InProcess` means the operator
    /// trusts the folder, so its build may run on this machine unsandboxed.
    fn build(&mut self, language: Language, dir: &Path, isolation: Isolation) -> Result<PathBuf, Error>;
    /// The nodes of the Rhai script at `path`.
    fn script(&mut self, path: &Path) -> Result<Vec<Node>, Error>;
    /// The component file fetched from `remote` whose SHA-256 is `sha256`
    /// (64 lowercase hex digits): from the download cache, or fetched into it
    /// and checked against the digest first.
    fn fetch(&mut self, remote: &Remote, sha256: &str) -> Result<PathBuf, Error>;
    /// The key ID of the one of `keys` (minisign public keys, base64) that
    /// signed the component file `wasm`, fetched from `remote` (its signature
    /// travels with it) or a local file (`None`: the signature is
    /// `<file>.minisig` beside it); or why none did.
    fn verify(&mut self, wasm: &Path, remote: Option<&Remote>, keys: &[String]) -> Result<String, String>;
}

/// Where a component file is fetched from: a plain URL, or an OCI reference
/// (`registry/namespace/name:tag`, a component published as an OCI artifact).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Remote {
    /// `url = "https://..."`.
    Url(String),
    /// `oci = "registry.example/ns/name:1.2"`.
    Oci(String),
}

impl Remote {
    /// What a user typed: `https://` or `http://` is a URL; anything else
    /// (`oci://` optional) an OCI reference.
    pub fn parse(text: &str) -> Remote {
        if text.starts_with("https://") || text.starts_with("http://") {
            Remote::Url(text.to_string())
        } else {
            Remote::Oci(text.strip_prefix("oci://").unwrap_or(text).to_string())
        }
    }

    /// The manifest key that names it: `url` or `oci`.
    pub fn key(&self) -> &'static str {
        match self {
            Remote::Url(_) => "url",
            Remote::Oci(_) => "oci",
        }
    }

    /// The URL or the reference, as written.
    pub fn reference(&self) -> &str {
        match self {
            Remote::Url(text) | Remote::Oci(text) => text,
        }
    }
}

impl std::fmt::Display for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.reference())
    }
}

/// A component the manifest fetches by reference, as [`remotes`] lists it.
#[derive(Debug, Clone)]
pub struct RemoteEntry {
    /// Where it is fetched from.
    pub remote: Remote,
    /// The SHA-256 the manifest pins.
    pub sha256: String,
    /// The keys it must be signed by (its own `keys`, else `[trust] keys`;
    /// empty: none).
    pub keys: Vec<String>,
}

/// The manifest at `path` (itself, or `path/weavelet.toml`): its file, its
/// text, and the text parsed (a syntax error is a diagnostic with line and caret).
fn read(path: &Path) -> Result<(PathBuf, String, Manifest), Error> {
    let file = locate(path)?;
    let src =
        std::fs::read_to_string(&file).map_err(|e| Error::io(format!("reading {}", file.display()), e))?;
    let manifest: Manifest = toml::from_str(&src).map_err(|e| {
        let message = e.message().trim_end_matches('\n').to_string();
        spanned(&file, &src, e.span(), message, None)
    })?;
    Ok((file, src, manifest))
}

/// The components the manifest at `path` fetches by reference (each with the
/// keys it must be signed by), and the keys (minisign public keys, base64) its
/// `[trust]` section lists. Nothing is
/// fetched or built.
pub fn remotes(path: &Path) -> Result<(Vec<RemoteEntry>, Vec<String>), Error> {
    let (file, src, manifest) = read(path)?;
    let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let keys = trust_keys(&manifest.trust.keys, &base, &file, &src)?;
    let mut entries = Vec::new();
    for entry in &manifest.components {
        let Some(remote) = entry.remote() else { continue };
        let sha256 =
            entry.sha256.as_ref().map(|d| d.get_ref().trim().to_ascii_lowercase()).unwrap_or_default();
        let keys = match &entry.keys {
            Some(own) => trust_keys(own.get_ref(), &base, &file, &src)?,
            None => keys.clone(),
        };
        entries.push(RemoteEntry { remote, sha256, keys });
    }
    Ok((entries, keys))
}

/// The public keys `listed` names (each a minisign public key, or the path of
/// a `.pub` file relative to the manifest), as base64.
fn trust_keys(
    listed: &[toml::Spanned<String>],
    base: &Path,
    file: &Path,
    src: &str,
) -> Result<Vec<String>, Error> {
    listed
        .iter()
        .map(|key| {
            let text = key.get_ref().trim();
            let base64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=');
            let inline = text.len() == 56 && text.starts_with("RW") && text.chars().all(base64) && !base.join(text).is_file();
            if inline {
                return Ok(text.to_string());
            }
            let key_file = base.join(text);
            let content = match std::fs::metadata(&key_file) {
                Ok(meta) if meta.len() > 4096 => Err(format!("{} is not a public key file (it is over 4 KiB)", key_file.display())),
                Ok(_) => std::fs::read_to_string(&key_file).map_err(|e| format!("cannot read {}: {e}", key_file.display())),
                Err(e) => Err(format!(
                    "`{text}` is neither a minisign public key (56 characters starting with RW) nor a readable key file: {}: {e}",
                    key_file.display()
                )),
            }
            .map_err(|why| spanned(file, src, Some(key.span()), why, Some("`weavelet keygen` writes a key pair; list its .pub file or the key in it".into())))?;
            // The key line of a minisign `.pub` file; anything else (a secret
            // key listed by mistake) is refused without repeating its text.
            content
                .lines()
                .map(str::trim)
                .rfind(|line| !line.is_empty() && !line.starts_with("untrusted comment:"))
                .filter(|line| line.len() == 56 && line.starts_with("RW") && line.chars().all(base64))
                .map(str::to_string)
                .ok_or_else(|| {
                    spanned(
                        file,
                        src,
                        Some(key.span()),
                        format!("{} holds no minisign public key", key_file.display()),
                        Some("list the `.pub` file `weavelet keygen` wrote, never the `.key` file (the secret key)".into()),
                    )
                })
        })
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    #[serde(default)]
    pipeline: PipelineSection,
    #[serde(default)]
    components: Vec<ComponentEntry>,
    #[serde(default)]
    scripts: Vec<ScriptEntry>,
    #[serde(default)]
    params: BTreeMap<String, toml::Spanned<toml::Value>>,
    #[serde(default)]
    nodes: BTreeMap<String, toml::Spanned<AliasEntry>>,
    #[serde(default)]
    policy: PolicySection,
    #[serde(default)]
    outputs: BTreeMap<String, toml::Spanned<OutputTargets>>,
    #[serde(default)]
    trust: TrustSection,
}

/// `[trust]`: the keys every component file must be signed by (one of them).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustSection {
    #[serde(default)]
    keys: Vec<toml::Spanned<String>>,
}

/// An `[outputs]` entry: one path or several (`["out/chart.svg", "out/chart.png"]`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OutputTargets {
    One(String),
    Many(Vec<String>),
}

/// `[policy]`: budgets and grants of every node, with `[policy.sources."x"]`
/// (every node of one component or script, as listed) and `[policy.nodes.x]`
/// (one node) on top, in that order. The fields repeat [`PolicyEntry`]'s:
/// serde cannot flatten one struct into another and still refuse unknown keys,
/// and a misspelt key must be an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySection {
    #[serde(default)]
    timeout: Option<toml::Spanned<String>>,
    #[serde(default)]
    memory: Option<toml::Spanned<String>>,
    #[serde(default)]
    output: Option<toml::Spanned<String>>,
    #[serde(default)]
    log: Option<toml::Spanned<String>>,
    #[serde(default)]
    operations: Option<u64>,
    #[serde(default)]
    fuel: Option<u64>,
    #[serde(default)]
    handles: Option<usize>,
    #[serde(default)]
    read: Vec<toml::Spanned<String>>,
    #[serde(default)]
    env: Vec<String>,
    #[serde(default)]
    clock: Option<bool>,
    #[serde(default)]
    random: Option<bool>,
    #[serde(default)]
    write: Vec<toml::Spanned<String>>,
    #[serde(default)]
    net: Vec<toml::Spanned<String>>,
    #[serde(default)]
    net_requests: Option<u64>,
    #[serde(default)]
    net_bytes: Option<toml::Spanned<String>>,
    #[serde(default)]
    cache: Option<bool>,
    #[serde(default)]
    attempts: Option<toml::Spanned<u32>>,
    #[serde(default)]
    backoff: Option<toml::Spanned<String>>,
    #[serde(default)]
    retry_violations: Option<bool>,
    #[serde(default)]
    isolation: Option<toml::Spanned<String>>,
    #[serde(default)]
    sources: BTreeMap<String, toml::Spanned<PolicyEntry>>,
    #[serde(default)]
    nodes: BTreeMap<String, toml::Spanned<PolicyEntry>>,
}

impl PolicySection {
    /// The settings for every node.
    fn all(&self) -> PolicyEntry {
        PolicyEntry {
            timeout: self.timeout.clone(),
            memory: self.memory.clone(),
            output: self.output.clone(),
            log: self.log.clone(),
            operations: self.operations,
            fuel: self.fuel,
            handles: self.handles,
            read: self.read.clone(),
            env: self.env.clone(),
            clock: self.clock,
            random: self.random,
            write: self.write.clone(),
            net: self.net.clone(),
            net_requests: self.net_requests,
            net_bytes: self.net_bytes.clone(),
            cache: self.cache,
            attempts: self.attempts.clone(),
            backoff: self.backoff.clone(),
            retry_violations: self.retry_violations,
            isolation: self.isolation.clone(),
        }
    }
}

/// Budgets and grants; anything left out keeps the value from the level below.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyEntry {
    #[serde(default)]
    timeout: Option<toml::Spanned<String>>,
    #[serde(default)]
    memory: Option<toml::Spanned<String>>,
    #[serde(default)]
    output: Option<toml::Spanned<String>>,
    #[serde(default)]
    log: Option<toml::Spanned<String>>,
    #[serde(default)]
    operations: Option<u64>,
    #[serde(default)]
    fuel: Option<u64>,
    #[serde(default)]
    handles: Option<usize>,
    #[serde(default)]
    read: Vec<toml::Spanned<String>>,
    #[serde(default)]
    env: Vec<String>,
    #[serde(default)]
    clock: Option<bool>,
    #[serde(default)]
    random: Option<bool>,
    #[serde(default)]
    write: Vec<toml::Spanned<String>>,
    #[serde(default)]
    net: Vec<toml::Spanned<String>>,
    #[serde(default)]
    net_requests: Option<u64>,
    #[serde(default)]
    net_bytes: Option<toml::Spanned<String>>,
    #[serde(default)]
    cache: Option<bool>,
    #[serde(default)]
    attempts: Option<toml::Spanned<u32>>,
    #[serde(default)]
    backoff: Option<toml::Spanned<String>>,
    #[serde(default)]
    retry_violations: Option<bool>,
    #[serde(default)]
    isolation: Option<toml::Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineSection {
    #[serde(default)]
    name: Option<String>,
    /// The nodes a run computes by default (`targets`; `outputs` is the earlier spelling).
    #[serde(default, alias = "outputs")]
    targets: Vec<String>,
}

/// A `[[components]]` entry: a component file, or a node folder in one
/// language that Weavelet builds (`rust`, `c`, `python`, `js`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentEntry {
    #[serde(default)]
    path: Option<toml::Spanned<String>>,
    #[serde(default)]
    rust: Option<toml::Spanned<String>>,
    #[serde(default)]
    c: Option<toml::Spanned<String>>,
    #[serde(default)]
    python: Option<toml::Spanned<String>>,
    #[serde(default)]
    js: Option<toml::Spanned<String>>,
    /// A component file fetched from this URL (pinned by `sha256`).
    #[serde(default)]
    url: Option<toml::Spanned<String>>,
    /// A component published as an OCI artifact (pinned by `sha256`).
    #[serde(default)]
    oci: Option<toml::Spanned<String>>,
    /// The SHA-256 the component file must have (`url`, `oci`: required; `path`: checked).
    #[serde(default)]
    sha256: Option<toml::Spanned<String>>,
    /// The keys it must be signed by (one of them), in place of `[trust] keys`.
    #[serde(default)]
    keys: Option<toml::Spanned<Vec<toml::Spanned<String>>>>,
}

impl ComponentEntry {
    /// Every key given, with the language it builds (`None` for `path`).
    fn given(&self) -> Vec<(Option<Language>, &toml::Spanned<String>)> {
        [
            (None, &self.path),
            (Some(Language::Rust), &self.rust),
            (Some(Language::C), &self.c),
            (Some(Language::Python), &self.python),
            (Some(Language::JavaScript), &self.js),
        ]
        .into_iter()
        .filter_map(|(lang, value)| value.as_ref().map(|v| (lang, v)))
        .collect()
    }

    /// Where it is fetched from, if it is (the first of `url` and `oci`).
    fn remote(&self) -> Option<Remote> {
        match (&self.url, &self.oci) {
            (Some(url), _) => Some(Remote::Url(url.get_ref().clone())),
            (None, Some(oci)) => Some(Remote::Oci(oci.get_ref().clone())),
            (None, None) => None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptEntry {
    path: toml::Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AliasEntry {
    #[serde(rename = "use")]
    uses: String,
    #[serde(default)]
    inputs: BTreeMap<String, String>,
}

/// Where a pipeline's manifest is: `path` itself, or `path/weavelet.toml`.
pub fn locate(path: &Path) -> Result<PathBuf, Error> {
    if path.is_dir() {
        let file = path.join("weavelet.toml");
        if file.is_file() {
            return Ok(file);
        }
        return Err(Error::Manifest {
            path: path.to_path_buf(),
            diagnostic: Diagnostic::new("the folder holds no weavelet.toml")
                .with_help("name a pipeline manifest, or a folder holding one"),
        });
    }
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    Err(Error::NotFound(path.to_path_buf()))
}

/// What a pipeline's results depend on and what it writes, from its manifest
/// alone (nothing is loaded or built): for `weavelet watch`.
#[derive(Debug, Default, Clone)]
pub struct WatchList {
    /// The manifest, its scripts, its local component files and node folders,
    /// and every folder it grants reads of (`[policy]`, per source, per node).
    pub inputs: Vec<PathBuf>,
    /// The files `[outputs]` writes and the folders nodes may write (`write` grants).
    pub outputs: Vec<PathBuf>,
}

/// The [`WatchList`] of the manifest at `path` (a file or a folder holding one).
pub fn watch_list(path: &Path) -> Result<WatchList, Error> {
    let (file, _, manifest) = read(path)?;
    let base = match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut list = WatchList { inputs: vec![file.clone()], outputs: Vec::new() };
    for entry in &manifest.components {
        for local in [&entry.path, &entry.rust, &entry.c, &entry.python, &entry.js].into_iter().flatten() {
            list.inputs.push(base.join(local.get_ref()));
        }
    }
    list.inputs.extend(manifest.scripts.iter().map(|s| base.join(s.path.get_ref())));
    let policy = &manifest.policy;
    let reads = policy.read.iter().chain(
        policy.sources.values().chain(policy.nodes.values()).flat_map(|entry| entry.get_ref().read.iter()),
    );
    list.inputs.extend(reads.map(|dir| base.join(dir.get_ref())));
    // What nodes may write (inside the pipeline's folder) is output, never a reason to run.
    let writes = policy.write.iter().chain(
        policy.sources.values().chain(policy.nodes.values()).flat_map(|entry| entry.get_ref().write.iter()),
    );
    list.outputs.extend(writes.map(|dir| base.join(dir.get_ref())));
    for target in manifest.outputs.values() {
        match target.get_ref() {
            OutputTargets::One(path) => list.outputs.push(base.join(path)),
            OutputTargets::Many(paths) => list.outputs.extend(paths.iter().map(|p| base.join(p))),
        }
    }
    Ok(list)
}

/// Whether the pipeline at `path` sets a `fuel` budget anywhere in its
/// `[policy]`, so the runtime must be built counting fuel. Unreadable or
/// malformed files answer `false`: [`load`] reports them properly.
pub fn wants_fuel(path: &Path) -> bool {
    let Ok(file) = locate(path) else { return false };
    let Ok(src) = std::fs::read_to_string(file) else { return false };
    let Ok(doc) = src.parse::<toml::Table>() else { return false };
    let Some(policy) = doc.get("policy").and_then(toml::Value::as_table) else { return false };
    let has = |t: &toml::Table| t.contains_key("fuel");
    let any_in = |key: &str| {
        policy
            .get(key)
            .and_then(toml::Value::as_table)
            .is_some_and(|t| t.values().any(|v| v.as_table().is_some_and(has)))
    };
    has(policy) || any_in("sources") || any_in("nodes")
}

/// Load a manifest (`path` itself, or `path/weavelet.toml`): every source it
/// lists turned into nodes by `loader`, its parameters, aliases, policies
/// (starting from `default`) and output files. The pipeline's origin is the
/// manifest's canonical path.
pub fn load(path: &Path, default: &Policy, loader: &mut dyn Loader) -> Result<Pipeline, Error> {
    let (file, src, manifest) = read(path)?;
    let base = match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = manifest.pipeline.name.clone().unwrap_or_else(|| {
        base.canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "pipeline".into())
    });

    let grants_base = base.canonicalize().unwrap_or_else(|_| base.clone());
    let pipeline_policy = {
        let mut default = default.clone();
        let mut files = (*default.grants.files).clone();
        files.base = grants_base.clone();
        default.grants.files = std::sync::Arc::new(files);
        apply_policy(&manifest.policy.all(), default, &grants_base, &file, &src)?
    };
    // Which nodes each [[components]] / [[scripts]] entry brought, by the entry's text.
    let mut sources: Vec<(String, Vec<String>)> = Vec::new();
    let mut pipeline = Pipeline::new();
    if manifest.components.is_empty() && manifest.scripts.is_empty() {
        return Err(Error::Manifest {
            path: file.clone(),
            diagnostic: Diagnostic::new("the pipeline lists no components and no scripts").with_help(
                "add a [[components]] entry with `path = \"nodes.wasm\"` or `rust = \"path/to/crate\"`, \
                 or a [[scripts]] entry with `path = \"nodes.rhai\"`",
            ),
        });
    }
    for entry in &manifest.scripts {
        let script_path = base.join(entry.path.get_ref());
        if !script_path.is_file() {
            return Err(spanned(
                &file,
                &src,
                Some(entry.path.span()),
                format!("script {} does not exist", script_path.display()),
                None,
            ));
        }
        let nodes = loader.script(&script_path)?;
        sources.push((entry.path.get_ref().clone(), nodes.iter().map(|n| n.name().to_string()).collect()));
        pipeline.add_nodes(nodes);
    }
    let lock_file = base.join(LOCK_FILE);
    let lock = Lock::read(&lock_file)?;
    let trusted = trust_keys(&manifest.trust.keys, &base, &file, &src)?;
    // The nodes of every component, for `[nodes.x] use = ...`.
    let mut component_nodes: Vec<Node> = Vec::new();
    for entry in &manifest.components {
        let pinned = match &entry.sha256 {
            Some(digest) => {
                let text = digest.get_ref().trim().to_ascii_lowercase();
                if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(spanned(
                        &file,
                        &src,
                        Some(digest.span()),
                        "`sha256` is 64 hexadecimal digits (the SHA-256 of the component file)".into(),
                        Some("`sha256sum nodes.wasm` prints it".into()),
                    ));
                }
                Some((text, digest.span()))
            }
            None => None,
        };
        // The keys this entry must be signed by: its own `keys`, else `[trust] keys`.
        let keys = match &entry.keys {
            Some(own) => trust_keys(own.get_ref(), &base, &file, &src)?,
            None => trusted.clone(),
        };
        let remote_span = entry.url.as_ref().or(entry.oci.as_ref()).map(toml::Spanned::span);
        // The component file, the text that listed it, and where it came from.
        let (listed, wasm, remote) = match (entry.remote(), remote_span.clone()) {
            (Some(remote), Some(span)) => {
                if !entry.given().is_empty() || (entry.url.is_some() && entry.oci.is_some()) {
                    return Err(spanned(
                        &file,
                        &src,
                        Some(span),
                        format!(
                            "a [[components]] entry with `{}` names no other source (`url`, `oci`, `path`, `rust`, `c`, \
                             `python`, `js`)",
                            remote.key()
                        ),
                        None,
                    ));
                }
                let Some((digest, _)) = &pinned else {
                    return Err(spanned(
                        &file,
                        &src,
                        Some(span),
                        format!(
                            "a component fetched by `{}` must be pinned by its digest: add `sha256 = \"...\"`",
                            remote.key()
                        ),
                        Some(
                            "`weavelet add` fetches it, shows the review and pins it; or the publisher lists the digest"
                                .into(),
                        ),
                    ));
                };
                if let Some(lock) = &lock
                    && let Some(why) = lock.disagreement(&lock_file, &remote, digest)
                {
                    return Err(spanned(
                        &file,
                        &src,
                        Some(span),
                        format!("the manifest and its lock disagree: {why}"),
                        Some(format!(
                            "the lock holds what was reviewed; put that digest back, or review {remote} anew \
                             (`weavelet add` or `weavelet update` print the review) so both files pin the same digest"
                        )),
                    ));
                }
                (remote.reference().to_string(), loader.fetch(&remote, digest)?, Some(remote))
            }
            _ => {
                let given = entry.given();
                let [(language, listed)] = given.as_slice() else {
                    return Err(Error::Manifest {
                        path: file.clone(),
                        diagnostic: Diagnostic::new(
                            "each [[components]] entry needs exactly one of `path` (a .wasm file) or a node folder: \
                     `rust`, `c`, `python` or `js`",
                        ),
                    });
                };
                if let (Some((_, span)), Some(_)) = (&pinned, language) {
                    // Refused before the folder is built (building runs its code).
                    return Err(spanned(
                &file,
                &src,
                Some(span.clone()),
                "`sha256` pins a component file (`path` or `url`), not a node folder that is built here"
                    .into(),
                None,
            ));
                }
                if entry.keys.is_some() && language.is_some() {
                    return Err(spanned(
                        &file,
                        &src,
                        entry.keys.as_ref().map(toml::Spanned::span),
                        "`keys` checks the signature of a component file (`path`, `url`, `oci`), not a node folder \
                         that is built here"
                            .into(),
                        None,
                    ));
                }
                let wasm = match language {
                    None => base.join(listed.get_ref()),
                    Some(language) => {
                        let dir = base.join(listed.get_ref());
                        if !dir.join(language.entry_file()).is_file() {
                            return Err(Error::Manifest {
                        path: file.clone(),
                        diagnostic: spanned_diagnostic(
                        &src,
                        Some(listed.span()),
                        format!(
                            "{} is not a {} node folder (it holds no {}): `{} = ...` names the folder of {} nodes",
                            dir.display(),
                            language.label(),
                            language.entry_file(),
                            language.key(),
                            language.label(),
                        ),
                        Some(format!("start one from Weavelet's {} template", language.label())),
                    )
                    .with_fix(Fix::NewProject { language: language.key().into() }),
                    });
                        }
                        let dir = dir.canonicalize().unwrap_or(dir);
                        // Trusted to build on this machine only when its source runs in process.
                        let isolation = match manifest.policy.sources.get(listed.get_ref()) {
                            Some(entry) => match &entry.get_ref().isolation {
                                Some(text) => Isolation::parse(text.get_ref())
                                    .map_err(|e| spanned(&file, &src, Some(text.span()), e, None))?,
                                None => pipeline_policy.isolation,
                            },
                            None => pipeline_policy.isolation,
                        };
                        loader.build(*language, &dir, isolation)?
                    }
                };
                if let Some((digest, span)) = &pinned {
                    // A pinned file must be the one pinned: checked before it is loaded.
                    let bytes = std::fs::read(&wasm)
                        .map_err(|e| Error::io(format!("reading {}", wasm.display()), e))?;
                    let got = weavelet_core::key::hex(&weavelet_core::key::sha256(&bytes));
                    if &got != digest {
                        return Err(spanned(
                    &file,
                    &src,
                    Some(span.clone()),
                    format!(
                        "{} is not the component this entry pins: its SHA-256 is {got}, `sha256` says {digest}",
                        wasm.display()
                    ),
                    Some(
                        "if it changed on purpose, review it (`weavelet inspect`) and pin the new digest"
                            .into(),
                    ),
                ));
                    }
                }
                (listed.get_ref().clone(), wasm, None)
            }
        };
        // Signed by a trusted key, where the pipeline lists any. Node folders
        // are built here from the operator's own source: nothing to sign.
        let built = remote.is_none() && entry.path.is_none();
        if !keys.is_empty() && !built {
            loader.verify(&wasm, remote.as_ref(), &keys).map_err(|why| {
                let span = entry.keys.as_ref().map(toml::Spanned::span).or(remote_span.clone()).or(entry.path.as_ref().map(toml::Spanned::span));
                spanned(
                    &file,
                    &src,
                    span,
                    format!("{listed} is not signed by a key this pipeline trusts: {why}"),
                    Some("the pipeline's `[trust] keys` (or the entry's `keys`) list the publishers it accepts; ask the publisher for a signature (`weavelet sign`), or review the component and list its key".into()),
                )
            })?;
        }
        let nodes = loader.component(&wasm)?;
        sources.push((listed, nodes.iter().map(|n| n.name().to_string()).collect()));
        component_nodes.extend(nodes.iter().cloned());
        pipeline.add_nodes(nodes);
    }

    for (alias, entry) in &manifest.nodes {
        let span = entry.span();
        let entry = entry.get_ref();
        if !is_name(alias) {
            return Err(spanned(
                &file,
                &src,
                Some(span),
                format!("`{alias}` is not a valid node name"),
                None,
            ));
        }
        let Some(used) = component_nodes.iter().find(|n| n.decl().name == entry.uses) else {
            let known = component_nodes.iter().map(|n| n.decl().name.as_str());
            let help = suggest(&entry.uses, known).map(|s| format!("did you mean `{s}`?"));
            return Err(spanned(
                &file,
                &src,
                Some(span),
                format!(
                    "node `{alias}` uses `{}`, but no listed component has a node of that name",
                    entry.uses
                ),
                help,
            ));
        };
        if let Some((_, names)) = sources.iter_mut().find(|(_, names)| names.contains(&entry.uses)) {
            names.push(alias.clone());
        }
        let mut node = used.clone().renamed(alias);
        for (input, target) in &entry.inputs {
            node = node
                .bind(input, target)
                .map_err(|e| spanned(&file, &src, Some(span.clone()), e.to_string(), None))?;
        }
        pipeline.add_node(node);
    }

    for (key, value) in &manifest.params {
        let span = value.span();
        match param_value(value.get_ref()) {
            Ok(Some(v)) => pipeline.set_param(key, v),
            Ok(None) => {
                let ty = value
                    .get_ref()
                    .get("type")
                    .and_then(toml::Value::as_str)
                    .and_then(ValueType::from_name)
                    .unwrap_or(ValueType::Any);
                pipeline.require_param(key, ty);
            }
            Err(why) => {
                return Err(spanned(&file, &src, Some(span), format!("parameter `{key}`: {why}"), None));
            }
        }
    }
    pipeline.set_default_outputs(manifest.pipeline.targets.clone());

    apply_policies(&mut pipeline, &manifest.policy, &pipeline_policy, &sources, &grants_base, &file, &src)?;
    pipeline.set_files((*pipeline_policy.grants.files).clone());
    let mut saves = Vec::new();
    for (node, target) in &manifest.outputs {
        if !pipeline.nodes().iter().any(|n| n.name() == node) {
            let help = suggest(node, pipeline.nodes().iter().map(|n| n.name()))
                .map(|s| format!("did you mean `{s}`?"));
            return Err(spanned(
                &file,
                &src,
                Some(target.span()),
                format!("[outputs] names `{node}`, but the pipeline has no node of that name"),
                help,
            ));
        }
        match target.get_ref() {
            OutputTargets::One(path) => saves.push((node.clone(), base.join(path))),
            OutputTargets::Many(paths) => saves.extend(paths.iter().map(|p| (node.clone(), base.join(p)))),
        }
    }
    for (node, path) in saves {
        pipeline.add_output_file(node, path);
    }
    pipeline.set_name(name);
    let origin = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
    pipeline.set_origin(origin.display().to_string());
    Ok(pipeline)
}

/// A TOML parameter: `Some(value)`, or `None` for a declaration without a value.
fn param_value(v: &toml::Value) -> Result<Option<Value>, String> {
    use toml::Value as T;
    Ok(Some(match v {
        T::Integer(i) => Value::Int(*i),
        T::Float(f) => Value::Float(*f),
        T::Boolean(b) => Value::Bool(*b),
        T::String(s) => Value::Text(s.as_str().into()),
        T::Array(items) => {
            if items.iter().all(|i| i.is_integer()) {
                Value::IntList(items.iter().filter_map(T::as_integer).collect::<Vec<_>>().into())
            } else if items.iter().all(|i| i.is_float() || i.is_integer()) {
                Value::FloatList(
                    items
                        .iter()
                        .filter_map(|i| i.as_float().or_else(|| i.as_integer().map(|n| n as f64)))
                        .collect::<Vec<_>>()
                        .into(),
                )
            } else if items.iter().all(T::is_bool) {
                Value::BoolList(items.iter().filter_map(T::as_bool).collect::<Vec<_>>().into())
            } else if items.iter().all(T::is_str) {
                Value::TextList(
                    items.iter().filter_map(|s| s.as_str().map(str::to_string)).collect::<Vec<_>>().into(),
                )
            } else {
                return Err("a list must hold values of one type".into());
            }
        }
        T::Table(t) => {
            let ty = t.get("type").and_then(T::as_str);
            if let Some(ty) = ty
                && ValueType::from_name(ty).is_none()
            {
                return Err(format!(
                    "unknown type `{ty}` (int, float, bool, text, bytes, int-list, float-list, bool-list, text-list, any)"
                ));
            }
            if let Some(key) = t.keys().find(|k| !matches!(k.as_str(), "type" | "default" | "doc")) {
                return Err(format!(
                    "unknown key `{key}` (a parameter declaration has `type`, `default` and `doc`)"
                ));
            }
            return match t.get("default") {
                Some(default) => param_value(default),
                None => Ok(None),
            };
        }
        T::Datetime(_) => return Err("dates are not supported; give the date as text".into()),
    }))
}

/// A manifest error pointing at `span` in `src`, with the line and a caret.
/// Give every node its policy: the pipeline's, then its source's, then its own.
fn apply_policies(
    pipeline: &mut Pipeline,
    section: &PolicySection,
    pipeline_policy: &Policy,
    sources: &[(String, Vec<String>)],
    base: &Path,
    file: &Path,
    src: &str,
) -> Result<(), Error> {
    for (source, entry) in &section.sources {
        if !sources.iter().any(|(listed, _)| listed == source) {
            let help = suggest(source, sources.iter().map(|(l, _)| l.as_str()))
                .map(|s| format!("did you mean `{s}`?"))
                .or_else(|| {
                    Some(
                        "name a [[components]] `path`/`rust` or a [[scripts]] `path` as written above".into(),
                    )
                });
            return Err(spanned(
                file,
                src,
                Some(entry.span()),
                format!(
                    "[policy.sources] names `{source}`, which is not a component or script of this pipeline"
                ),
                help,
            ));
        }
    }
    for (name, entry) in &section.nodes {
        if !pipeline.nodes().iter().any(|n| n.name() == name) {
            let help = suggest(name, pipeline.nodes().iter().map(|n| n.name()))
                .map(|s| format!("did you mean `{s}`?"));
            return Err(spanned(
                file,
                src,
                Some(entry.span()),
                format!("[policy.nodes] names `{name}`, but the pipeline has no node of that name"),
                help,
            ));
        }
    }
    for node in pipeline.nodes_mut() {
        let mut policy = node.policy().cloned().unwrap_or_else(|| pipeline_policy.clone());
        let name = node.name().to_string();
        for (listed, names) in sources {
            if let Some(entry) = section.sources.get(listed)
                && names.contains(&name)
            {
                policy = apply_policy(entry.get_ref(), policy, base, file, src)?;
            }
        }
        if let Some(entry) = section.nodes.get(&name) {
            policy = apply_policy(entry.get_ref(), policy, base, file, src)?;
        }
        node.set_policy(policy);
    }
    Ok(())
}

/// `policy` with the settings of `entry` on top.
fn apply_policy(
    entry: &PolicyEntry,
    mut policy: Policy,
    base: &Path,
    file: &Path,
    src: &str,
) -> Result<Policy, Error> {
    let at = |span: std::ops::Range<usize>, message: String, help: &str| {
        spanned(file, src, Some(span), message, Some(help.to_string()))
    };
    if let Some(t) = &entry.timeout {
        policy.budgets.timeout =
            parse_duration(t.get_ref()).map_err(|e| at(t.span(), e, "for example \"30s\""))?;
    }
    let size = |field: &Option<toml::Spanned<String>>| -> Result<Option<u64>, Error> {
        field
            .as_ref()
            .map(|text| parse_size(text.get_ref()).map_err(|e| at(text.span(), e, "for example \"512MiB\"")))
            .transpose()
    };
    if let Some(bytes) = size(&entry.memory)? {
        policy.budgets.memory = bytes;
    }
    if let Some(bytes) = size(&entry.output)? {
        policy.budgets.output_bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
    }
    if let Some(bytes) = size(&entry.log)? {
        policy.budgets.log_bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
    }
    if let Some(ops) = entry.operations {
        policy.budgets.operations = ops;
    }
    if let Some(fuel) = entry.fuel {
        policy.budgets.fuel = Some(fuel);
    }
    if let Some(handles) = entry.handles {
        policy.budgets.handles = handles;
    }
    if let Some(n) = entry.net_requests {
        policy.budgets.net_requests = n;
    }
    if let Some(bytes) = size(&entry.net_bytes)? {
        policy.budgets.net_bytes = bytes;
    }
    for host in &entry.net {
        let granted = weavelet_core::NetHost::parse(host.get_ref()).map_err(|e| {
            at(host.span(), e, "for example net = [\"api.example.com:443\"] (HTTPS) or [\"127.0.0.1:8080\"]")
        })?;
        if !policy.grants.net.contains(&granted) {
            policy.grants.net.push(granted);
        }
    }
    if let Some(cache) = entry.cache {
        policy.cache = CachePolicy::from_bool(cache);
    }
    if let Some(n) = &entry.attempts {
        if *n.get_ref() == 0 {
            return Err(at(
                n.span(),
                "`attempts` counts the first try too: it is at least 1".into(),
                "for example `attempts = 3`",
            ));
        }
        policy.retry.attempts = *n.get_ref();
    }
    if let Some(b) = &entry.backoff {
        policy.retry.backoff =
            parse_duration(b.get_ref()).map_err(|e| at(b.span(), e, "for example \"500ms\""))?;
    }
    if let Some(retry) = entry.retry_violations {
        policy.retry.violations = retry;
    }
    if let Some(isolation) = &entry.isolation {
        policy.isolation = Isolation::parse(isolation.get_ref()).map_err(|e| {
            at(isolation.span(), e, "\"in-process\" only for sources you trust as much as Weavelet itself")
        })?;
    }
    if !entry.read.is_empty() {
        let mut files = (*policy.grants.files).clone();
        files.base = base.to_path_buf();
        for dir in &entry.read {
            let path = base.join(dir.get_ref());
            match path.canonicalize() {
                Ok(real) if real.is_dir() => files.read.push(real),
                _ => {
                    return Err(at(
                        dir.span(),
                        format!(
                            "`{}` is not a folder ({} does not exist or is a file)",
                            dir.get_ref(),
                            path.display()
                        ),
                        "read grants name folders, relative to the manifest's folder",
                    ));
                }
            }
        }
        policy.grants.files = std::sync::Arc::new(files);
    }
    for key in &entry.env {
        if !policy.grants.env.contains(key) {
            policy.grants.env.push(key.clone());
        }
    }
    if let Some(clock) = entry.clock {
        policy.grants.clock = clock;
    }
    if let Some(random) = entry.random {
        policy.grants.random = random;
    }
    for dir in &entry.write {
        let guest = dir.get_ref().trim_start_matches("./").trim_end_matches('/').to_string();
        let outside =
            std::path::Path::new(&guest).components().any(|c| !matches!(c, std::path::Component::Normal(_)));
        if guest.is_empty() || outside {
            return Err(at(
                dir.span(),
                format!("`{}` is not a folder inside the pipeline's folder", dir.get_ref()),
                "write grants name folders relative to the manifest's folder, without `..`",
            ));
        }
        let host = base.join(&guest);
        let real = std::fs::create_dir_all(&host).and_then(|()| host.canonicalize()).map_err(|e| {
            at(
                dir.span(),
                format!("cannot create or open {}: {e}", host.display()),
                "check the folder's permissions",
            )
        })?;
        // A grant that resolves through a link (to elsewhere in the pipeline's
        // folder, or out of it) would let a node write where the manifest
        // does not say: refused.
        let expected = std::path::absolute(base)
            .and_then(|b| b.canonicalize())
            .map(|b| b.join(&guest))
            .unwrap_or_else(|_| host.clone());
        if real != expected {
            return Err(at(
                dir.span(),
                format!("`{}` resolves through a link to {}", dir.get_ref(), real.display()),
                "a write grant must be a real folder inside the pipeline's folder, not a link",
            ));
        }
        if !policy.grants.write.iter().any(|(_, g)| *g == guest) {
            policy.grants.write.push((real, guest));
        }
    }
    Ok(policy)
}

pub(crate) fn spanned(
    path: &Path,
    src: &str,
    span: Option<std::ops::Range<usize>>,
    message: String,
    help: Option<String>,
) -> Error {
    Error::Manifest { path: path.to_path_buf(), diagnostic: spanned_diagnostic(src, span, message, help) }
}

/// A diagnostic pointing at `span` in `src`, with the line and a caret.
fn spanned_diagnostic(
    src: &str,
    span: Option<std::ops::Range<usize>>,
    message: String,
    help: Option<String>,
) -> Diagnostic {
    let mut message = message;
    if let Some(span) = span {
        let start = span.start.min(src.len());
        let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = src[start..].find('\n').map_or(src.len(), |i| start + i);
        let line_no = src[..start].matches('\n').count() + 1;
        let col = src[line_start..start].chars().count() + 1;
        let width = src[start..span.end.min(line_end).max(start)].chars().count();
        message = format!("line {line_no}, column {col}: {message}\n{}", snippet(src, line_no, col, width));
    }
    let mut diagnostic = Diagnostic::new(message);
    diagnostic.help = help;
    diagnostic
}

/// The `[policy]` setting that grants `capability` (`env = ["KEY"]`, `clock = true`, ...).
pub fn grant_syntax(capability: &Capability) -> String {
    match capability {
        Capability::ReadDir(dir) => format!("read = [\"{}\"]", dir.trim_start_matches('/')),
        Capability::Env(key) => format!("env = [\"{key}\"]"),
        Capability::Clock => "clock = true".into(),
        Capability::Random => "random = true".into(),
        Capability::WriteDir(dir) => format!("write = [\"{}\"]", dir.trim_start_matches('/')),
    }
}
