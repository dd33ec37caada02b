//! Loading components: size cap, content hash, compiled-code cache in memory
//! and on disk, pre-instantiation, and reading the node declarations; a
//! component's nodes as the scheduler runs them.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;
use weavelet_core::key::KeyHasher;
use weavelet_core::{
    Call, Capability, Diagnostic, Error, InputDecl, Node, NodeDecl, NodeFailure, NodeImpl, Policy, Value,
    human_bytes, is_name, names,
};

use crate::contract::{self, Pre};
use crate::sandbox;

/// A compiled, pre-instantiated component and the nodes it declares.
pub struct ComponentModule {
    pub(crate) path: PathBuf,
    pub(crate) display: Arc<str>,
    pub(crate) hash: [u8; 32],
    pub(crate) pre: Pre,
    pub(crate) decls: Vec<Arc<NodeDecl>>,
    pub(crate) imports: Arc<[String]>,
    pub(crate) from_disk_cache: bool,
    /// The granularity of its engine's wall-time budgets.
    pub(crate) epoch_tick: Duration,
}

impl std::fmt::Debug for ComponentModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComponentModule")
            .field("path", &self.path)
            .field("nodes", &self.decls.iter().map(|d| &d.name).collect::<Vec<_>>())
            .finish()
    }
}

impl ComponentModule {
    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The SHA-256 of the component's bytes, in hex.
    pub fn content_hash(&self) -> String {
        hex(&self.hash)
    }

    /// The nodes it declares.
    pub fn decls(&self) -> impl Iterator<Item = &NodeDecl> {
        self.decls.iter().map(|d| &**d)
    }

    /// The interfaces it imports (`weavelet:node/host@0.4.0`, `wasi:cli/environment@0.2.6`, ...).
    pub fn imports(&self) -> &[String] {
        &self.imports
    }

    /// The WIT contract it was built against (`weavelet:node@0.4.0`).
    pub fn contract(&self) -> &'static str {
        self.pre.contract()
    }

    /// When it was built against an older contract than the current one,
    /// what to tell its author. It runs all the same.
    pub fn outdated(&self) -> Option<Diagnostic> {
        let contract = self.contract();
        (contract != contract::CURRENT).then(|| {
            Diagnostic::new(format!(
                "{} was built against {contract}, an older contract this weavelet still runs",
                self.display
            ))
            .with_help(format!(
                "rebuild it with the current SDK (`weavelet build`, or `cargo build` with weavelet-sdk) \
                 to target {}; support for {contract} will end in a later release",
                contract::CURRENT
            ))
        })
    }

    /// Whether its compiled code came from the on-disk cache.
    pub fn was_cached_on_disk(&self) -> bool {
        self.from_disk_cache
    }

    /// Instantiate the component in a fresh sandbox under `policy` and drop
    /// it, running no node: the part of every invocation spent before the
    /// node's code runs (benchmarks measure it per language).
    pub fn instantiate_only(&self, policy: &Policy) -> Result<(), Error> {
        let (mut store, _) = sandbox::store(
            self.pre.engine(),
            self.display.clone(),
            policy,
            self.epoch_tick,
            None,
            false,
            weavelet_data::ReadLog::new(),
        );
        self.pre.instantiate(&mut store).map_err(|e| Error::Component {
            path: self.path.clone(),
            message: format!("it cannot be instantiated: {e:#}"),
        })
    }

    /// Its node `name`, ready to add to a pipeline (rename or rebind it first
    /// to use one node twice).
    pub fn node(self: &Arc<Self>, name: &str) -> Result<Node, Error> {
        let Some(decl) = self.decls.iter().find(|d| d.name == name) else {
            let names = names(self.decls.iter().map(|d| d.name.as_str()));
            return Err(Error::Usage(format!(
                "component {} has no node `{name}` (it has {names})",
                self.display
            )));
        };
        Ok(self.node_of(decl))
    }

    /// Every node it declares, ready to add to a pipeline.
    pub fn nodes(self: &Arc<Self>) -> impl Iterator<Item = Node> + '_ {
        self.decls.iter().map(|decl| self.node_of(decl))
    }

    fn node_of(self: &Arc<Self>, decl: &Arc<NodeDecl>) -> Node {
        let code = ComponentNode {
            module: self.clone(),
            node: decl.name.as_str().into(),
            preopen_reads: decl.capabilities.iter().any(|c| matches!(c, Capability::ReadDir(_))),
        };
        Node::new(decl.clone(), self.display.clone(), Arc::new(code))
    }
}

/// One node of a component, as the scheduler runs it: every invocation in a
/// fresh sandbox.
struct ComponentNode {
    module: Arc<ComponentModule>,
    /// The node's name in the component (it may have another in the pipeline).
    node: Arc<str>,
    /// It declares `read-dir`: its read grants are WASI preopens too.
    preopen_reads: bool,
}

impl NodeImpl for ComponentNode {
    fn invoke(&self, call: &Call<'_>, inputs: Vec<Value>) -> Result<Value, NodeFailure> {
        sandbox::invoke(
            &self.module.pre,
            call,
            &self.node,
            inputs,
            self.module.epoch_tick,
            self.preopen_reads,
        )
    }

    fn notice(&self) -> Option<Diagnostic> {
        self.module.outdated()
    }

    /// The component's content hash and the node's name in it.
    fn code_identity(&self) -> Result<weavelet_core::key::Digest, String> {
        let mut h = KeyHasher::new("component-node");
        h.field("component", &self.module.hash).field("node", self.node.as_bytes());
        Ok(h.finish())
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compile (or fetch from a cache) and pre-instantiate a component.
pub(crate) fn load(rt: &crate::engine::Inner, path: &Path) -> Result<Arc<ComponentModule>, Error> {
    let err = |message: String| Error::Component { path: path.to_path_buf(), message };
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => err("the file does not exist (build the component first?)".into()),
        _ => err(e.to_string()),
    })?;
    if meta.len() > rt.config.max_component_size {
        return Err(err(format!(
            "the file is {}, over the {} limit for components",
            human_bytes(meta.len()),
            human_bytes(rt.config.max_component_size)
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    if !bytes.starts_with(b"\0asm") {
        return Err(err("not a WebAssembly file (it does not start with \\0asm)".into()));
    }
    let hash: [u8; 32] = Sha256::digest(&bytes).into();
    let display = weavelet_core::file_label(path);
    if let Some(module) = rt.components.lock().get(&hash) {
        if module.path == path {
            return Ok(module.clone());
        }
        // The same code under another name: reuse the compiled code, keep the name.
        return Ok(Arc::new(ComponentModule {
            path: path.to_path_buf(),
            display,
            hash,
            pre: module.pre.clone(),
            decls: module.decls.clone(),
            imports: module.imports.clone(),
            from_disk_cache: module.from_disk_cache,
            epoch_tick: module.epoch_tick,
        }));
    }

    let (engine, linker) = rt.engine_for(meta.len())?;
    let (component, from_disk_cache) = compile_cached(engine, &bytes, &hash, rt.config.cache_dir.as_deref())
        .map_err(|e| err(format!("it does not compile as a component: {e:#}")))?;
    let imports: Arc<[String]> =
        component.component_type().imports(engine).map(|(name, _)| name.to_string()).collect();
    // The linker defines the Weavelet world and WASI only (SECURITY.md case 23): say which
    // imports fall outside, rather than the linker's first complaint.
    let foreign: Vec<&str> = imports
        .iter()
        .map(String::as_str)
        .filter(|i| !i.starts_with("wasi:") && !i.starts_with("weavelet:node/"))
        .collect();
    if !foreign.is_empty() {
        return Err(err(format!(
            "it imports {}, which Weavelet does not provide; a component may import only the Weavelet \
             world (`weavelet:node/host`, `weavelet:node/types`) and WASI, so it is refused without running",
            foreign.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
        )));
    }
    let exports: Vec<String> =
        component.component_type().exports(engine).map(|(name, _)| name.to_string()).collect();
    Pre::check_known(&exports).map_err(err)?;
    let pre = linker.instantiate_pre(&component).map_err(|e| err(format!("it cannot be linked: {e:#}")))?;
    let pre = Pre::new(pre, &exports).map_err(err)?;
    // wasmtime makes a module's memory image on its first instance, in a
    // memfd it then seals; Linux can refuse the seal for a moment (EBUSY while
    // a page just written is still referenced elsewhere). Seen twice in about
    // forty suite runs, with the 19 MB images of Python components. The image
    // is made anew on the next instance, so a few tries get past it.
    let mut raw = sandbox::declarations(&pre, &rt.config.policy, rt.config.epoch_tick);
    for attempt in 1..=3u64 {
        match &raw {
            Err(e) if format!("{e:#}").contains("cannot add seals to the memfd") => {
                std::thread::sleep(std::time::Duration::from_millis(20 * attempt));
                raw = sandbox::declarations(&pre, &rt.config.policy, rt.config.epoch_tick);
            }
            _ => break,
        }
    }
    let raw = raw.map_err(|e| {
        err(match e.downcast_ref::<wasmtime::Trap>() {
            // SECURITY.md case 2: a start function (or `nodes`) that never returns.
            Some(wasmtime::Trap::Interrupt) => format!(
                "it did not declare its nodes within the wall-time budget of {:?} (does its start \
                 function or `nodes` loop?), so it is refused",
                rt.config.policy.budgets.timeout
            ),
            _ => format!("asking it for its nodes failed: {e:#}"),
        })
    })?;
    let decls = validate_decls(raw)
        .map_err(|d| Error::Component { path: path.to_path_buf(), message: d.to_string() })?;
    let module = Arc::new(ComponentModule {
        path: path.to_path_buf(),
        display,
        hash,
        pre,
        decls,
        imports,
        from_disk_cache,
        epoch_tick: rt.config.epoch_tick,
    });
    rt.components.lock().insert(hash, module.clone());
    Ok(module)
}

fn validate_decls(raw: Vec<NodeDecl>) -> Result<Vec<Arc<NodeDecl>>, Diagnostic> {
    let mut decls: Vec<Arc<NodeDecl>> = Vec::with_capacity(raw.len());
    if raw.is_empty() {
        return Err(Diagnostic::new("the component declares no nodes"));
    }
    for d in raw {
        if !is_name(&d.name) {
            return Err(Diagnostic::new(format!(
                "the component declares a node with an invalid name {:?}",
                d.name
            ))
            .with_help("node names are identifiers: letters, digits and `_`, not starting with a digit"));
        }
        if decls.iter().any(|e| e.name == d.name) {
            return Err(Diagnostic::new(format!("the component declares node `{}` twice", d.name)));
        }
        let mut inputs: Vec<InputDecl> = Vec::with_capacity(d.inputs.len());
        for i in d.inputs {
            if !is_name(&i.name) || inputs.iter().any(|e| e.name == i.name) {
                return Err(Diagnostic::new(format!(
                    "node `{}` declares an invalid or repeated input name {:?}",
                    d.name, i.name
                )));
            }
            check_columns(&d.name, &i.columns)?;
            inputs.push(i);
        }
        check_columns(&d.name, &d.output_columns)?;
        decls.push(Arc::new(NodeDecl { inputs, ..d }));
    }
    Ok(decls)
}

/// Column requirements as declared by a component: their type names must be known.
fn check_columns(node: &str, columns: &[(String, String)]) -> Result<(), Diagnostic> {
    match columns.iter().find(|(_, dtype)| !weavelet_data::table::is_column_type(dtype)) {
        None => Ok(()),
        Some((name, dtype)) => Err(Diagnostic::new(format!(
            "node `{node}` declares column `{name}` with an unknown type `{dtype}`"
        ))
        .with_help(format!("column types: {}", weavelet_data::table::COLUMN_TYPES))),
    }
}

/// Compile `bytes`, or load the code this engine compiled for them before.
///
/// Cache entries are written by this function only (temp file + rename), named
/// by the component's hash and the engine's compatibility hash, and checked
/// against a digest before they are loaded.
fn compile_cached(
    engine: &Engine,
    bytes: &[u8],
    hash: &[u8; 32],
    cache_dir: Option<&Path>,
) -> wasmtime::Result<(Component, bool)> {
    let Some(dir) = cache_dir else {
        return Ok((Component::new(engine, bytes)?, false));
    };
    let (dir, file) = cached_file(engine, hash, dir);
    if let Ok(cached) = std::fs::read(&file)
        && let Some(component) = load_verified(engine, &cached)
    {
        return Ok((component, true));
    }
    let component = Component::new(engine, bytes)?;
    // A cache that cannot be written is not an error: the next run compiles again.
    if let Ok(serialized) = component.serialize() {
        let _ = write_verified(&dir, &file, &serialized);
    }
    Ok((component, false))
}

/// The folder of compiled components under `cache_dir`, and the file this
/// component's code compiled by `engine` is kept in.
fn cached_file(engine: &Engine, hash: &[u8; 32], cache_dir: &Path) -> (PathBuf, PathBuf) {
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut engine_hash);
    let engine_hash = std::hash::Hasher::finish(&engine_hash);
    let dir = cache_dir.join("components");
    let file = dir.join(format!("{}-{engine_hash:016x}.cwasm", hex(hash)));
    (dir, file)
}

impl ComponentModule {
    /// Keep this component's compiled code in `cache_dir` (as loading with
    /// that cache folder would), so another process loading the same file
    /// with the same engine settings does not compile it again.
    pub fn save_compiled(&self, cache_dir: &Path) -> Result<(), Error> {
        let engine = self.pre.engine();
        let (dir, file) = cached_file(engine, &self.hash, cache_dir);
        if file.exists() {
            return Ok(());
        }
        let failed = |message: String| Error::Component { path: self.path.clone(), message };
        let serialized = self
            .pre
            .component()
            .serialize()
            .map_err(|e| failed(format!("its compiled code cannot be saved: {e:#}")))?;
        write_verified(&dir, &file, &serialized)
            .map_err(|e| failed(format!("saving its compiled code in {}: {e}", dir.display())))
    }
}

const DIGEST_LEN: usize = 32;

fn write_verified(dir: &Path, file: &Path, serialized: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile_in(dir)?;
    tmp.1.write_all(&Sha256::digest(serialized))?;
    tmp.1.write_all(serialized)?;
    tmp.1.sync_all()?;
    drop(tmp.1);
    std::fs::rename(&tmp.0, file)
}

fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    for attempt in 0..100u32 {
        let name = format!(".tmp-{}-{attempt}", std::process::id());
        let path = dir.join(name);
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("no free temporary file name"))
}

#[allow(unsafe_code)]
fn load_verified(engine: &Engine, cached: &[u8]) -> Option<Component> {
    let (digest, code) = cached.split_at_checked(DIGEST_LEN)?;
    if Sha256::digest(code).as_slice() != digest {
        return None;
    }
    // SAFETY: `code` was produced by `Component::serialize` of an engine with
    // the same compatibility hash (it is in the file name), written by
    // `write_verified` into Weavelet's own cache directory, and its digest
    // matches, so it is not truncated or corrupted. User-supplied precompiled
    // bytes never reach this function: components are always given as wasm.
    unsafe { Component::deserialize(engine, code).ok() }
}
