//! `Runtime`: the backends, the scheduler and the result store, built once
//! from a [`Config`] and shared; the one way to load and run a pipeline.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use weavelet_build::{BuildIn, BuildSandbox};
use weavelet_core::{
    CacheUse, Diagnostic, DryRunStep, Error, Isolation, Node, Pipeline, Plan, Policy, ResultCache, Run,
    RunOptions, RunReport, Scheduler,
};
use weavelet_isolate::{Origin, Supervisor, WorkerSettings};
use weavelet_manifest::{Language, Loader, Remote};
use weavelet_rhai::Script;
use weavelet_store::{ResultStore, StoreError};
use weavelet_wasm::{ComponentModule, EngineConfig, WasmEngine};

use crate::config::Config;
use crate::output::{self, OutputFile};

/// Shared, thread-safe and built once: the WebAssembly engine (compiled
/// components cached in memory and on disk), the worker threads, and the
/// result cache and run history (opened on first use). Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    wasm: WasmEngine,
    scheduler: Scheduler,
    workers: Arc<Supervisor>,
    store: OnceLock<Result<Option<Arc<ResultStore>>, StoreError>>,
}

impl Runtime {
    /// Build a runtime.
    pub fn new(config: Config) -> Result<Runtime, Error> {
        let wasm = WasmEngine::new(EngineConfig {
            jobs: config.jobs,
            cache_dir: config.cache_dir.clone(),
            policy: config.policy.clone(),
            max_component_size: config.max_component_size,
            wasm_stack: config.wasm_stack,
            epoch_tick: config.epoch_tick,
            fuel: config.fuel,
        })?;
        let scheduler = Scheduler::new(config.jobs, config.policy.clone())?;
        let workers = Arc::new(Supervisor::new(WorkerSettings {
            program: config.worker_program.clone(),
            cache_dir: config.cache_dir.clone(),
            max_component_size: config.max_component_size,
            wasm_stack: config.wasm_stack,
            epoch_tick: config.epoch_tick,
            fuel: config.fuel,
            keep: config.jobs,
        }));
        Ok(Runtime { inner: Arc::new(Inner { config, wasm, scheduler, workers, store: OnceLock::new() }) })
    }

    /// The configuration this runtime was built with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The worker processes nodes run in (see [`weavelet_isolate`]).
    pub fn workers(&self) -> &Supervisor {
        &self.inner.workers
    }

    /// How many nodes run at once.
    pub fn jobs(&self) -> usize {
        self.inner.scheduler.jobs()
    }

    /// Load a pipeline: a `weavelet.toml`, a folder holding one, or a single
    /// `.rhai` script (every function a node). Node folders a manifest lists
    /// are built first, components compiled (once: the code is cached).
    pub fn load(&self, path: impl AsRef<Path>) -> Result<Pipeline, Error> {
        self.load_with(path, &mut |_| {})
    }

    /// [`Runtime::load`], telling `on_build` each step of building a node
    /// folder (`building nodes (C): clang-16 ...`).
    pub fn load_with(
        &self,
        path: impl AsRef<Path>,
        on_build: &mut dyn FnMut(&str),
    ) -> Result<Pipeline, Error> {
        let path = path.as_ref();
        if path.extension().is_some_and(|e| e == "rhai") {
            let mut pipeline = Pipeline::new();
            pipeline.add_nodes(self.script_nodes(path)?);
            pipeline.set_name(path.file_stem().map_or_else(|| "script".into(), |s| s.to_string_lossy()));
            pipeline.set_origin(absolute(path).display().to_string());
            return Ok(pipeline);
        }
        let mut loader = RuntimeLoader { runtime: self, on_build, prepare: true };
        let pipeline = weavelet_manifest::load(path, &self.inner.config.policy, &mut loader)?;
        self.check_write_grants(path, &pipeline)?;
        Ok(pipeline)
    }

    /// [`Runtime::load`] without building or fetching anything: node folders
    /// must be built as their files are now, and fetched components in the
    /// download cache; else [`Error::NotPrepared`] says which and how.
    pub fn load_prepared(&self, path: impl AsRef<Path>) -> Result<Pipeline, Error> {
        let path = path.as_ref();
        if path.extension().is_some_and(|e| e == "rhai") {
            return self.load(path);
        }
        let mut loader = RuntimeLoader { runtime: self, on_build: &mut |_| {}, prepare: false };
        let pipeline = weavelet_manifest::load(path, &self.inner.config.policy, &mut loader)?;
        self.check_write_grants(path, &pipeline)?;
        Ok(pipeline)
    }

    /// Refuse a write grant that holds the cache folder or lies inside it: a
    /// node could otherwise rewrite stored results and the history.
    fn check_write_grants(&self, manifest: &Path, pipeline: &Pipeline) -> Result<(), Error> {
        let Some(cache) = &self.inner.config.cache_dir else { return Ok(()) };
        let cache = absolute(cache);
        let policies = pipeline.nodes().iter().filter_map(|n| n.policy().map(|p| (n.name(), p)));
        for (node, policy) in policies {
            for (host, guest) in &policy.grants.write {
                if cache.starts_with(host) || host.starts_with(&cache) {
                    return Err(Error::Manifest {
                        path: manifest.to_path_buf(),
                        diagnostic: weavelet_core::Diagnostic::new(format!(
                            "node `{node}` is granted to write `{guest}`, which {} the result cache ({})",
                            if host.starts_with(&cache) { "lies inside" } else { "holds" },
                            cache.display()
                        ))
                        .with_help("grant a folder beside the cache, or keep the cache elsewhere"),
                    });
                }
            }
        }
        Ok(())
    }

    /// The component file at `remote` (a URL or an OCI reference), from the
    /// download cache or fetched into it (at most `max_component_size`); with
    /// `sha256`, refused unless it has that digest. The file is named by its
    /// digest in the cache.
    pub fn fetch_component(
        &self,
        remote: &Remote,
        sha256: Option<&str>,
        on_step: &mut dyn FnMut(&str),
    ) -> Result<PathBuf, Error> {
        let config = &self.inner.config;
        crate::fetch::component(
            remote,
            sha256,
            config.cache_dir.as_deref(),
            config.max_component_size,
            on_step,
        )
    }

    /// The signature of the component file `wasm`: `<wasm>.minisig` beside a
    /// local file (`remote` is `None`); else one by a key in `wanted` (key
    /// IDs) kept in the download cache, or the one published with it from
    /// `remote` (fetched, and kept). `None` where it has none.
    pub fn component_signature(
        &self,
        wasm: &Path,
        remote: Option<&Remote>,
        wanted: &[String],
    ) -> Result<Option<String>, Error> {
        let digest = match remote {
            Some(_) => {
                let bytes =
                    std::fs::read(wasm).map_err(|e| Error::io(format!("reading {}", wasm.display()), e))?;
                crate::key::hex(&crate::key::sha256(&bytes))
            }
            None => String::new(),
        };
        Ok(self.signature_of(wasm, remote, &digest, wanted, false)?.map(|(text, _)| text))
    }

    /// [`Self::component_signature`] of the file whose SHA-256 is `digest`
    /// (used only for a fetched one), saying where it came from; `fresh`
    /// skips the cache.
    fn signature_of(
        &self,
        wasm: &Path,
        remote: Option<&Remote>,
        digest: &str,
        wanted: &[String],
        fresh: bool,
    ) -> Result<Option<(String, crate::fetch::SignatureFrom)>, Error> {
        match remote {
            None => match std::fs::read_to_string(crate::trust::signature_path(wasm)) {
                Ok(text) => Ok(Some((text, crate::fetch::SignatureFrom::Remote))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::io(format!("reading the signature of {}", wasm.display()), e)),
            },
            Some(remote) => {
                crate::fetch::signature(remote, digest, self.inner.config.cache_dir.as_deref(), wanted, fresh)
                    .map_err(|why| Error::build(format!("cannot fetch the signature of {remote}: {why}")))
            }
        }
    }

    /// The key ID of the one of `keys` (minisign public keys, base64) that
    /// signed the component file `wasm` (from `remote`, or local); or why none
    /// did. A kept signature that fails is dropped and fetched once more.
    pub fn verify_component(
        &self,
        wasm: &Path,
        remote: Option<&Remote>,
        keys: &[String],
    ) -> Result<String, String> {
        let wanted: Vec<String> = keys.iter().filter_map(|k| crate::trust::public_key_id(k).ok()).collect();
        let bytes = std::fs::read(wasm).map_err(|e| format!("reading {}: {e}", wasm.display()))?;
        let digest = crate::key::hex(&crate::key::sha256(&bytes));
        let fetched_as = match remote {
            Some(Remote::Oci(reference)) => Some(reference.as_str()),
            _ => None,
        };
        let check = |fresh: bool| -> Result<(Result<String, String>, bool), String> {
            let signature =
                self.signature_of(wasm, remote, &digest, &wanted, fresh).map_err(|e| e.to_string())?;
            let cached =
                signature.as_ref().is_some_and(|(_, from)| *from == crate::fetch::SignatureFrom::Cache);
            let text = signature.as_ref().map(|(text, _)| text.as_str());
            Ok((crate::trust::verify(&bytes, text, keys, fetched_as), cached))
        };
        match check(false)? {
            (Err(_), true) => {
                crate::fetch::forget_signatures(self.inner.config.cache_dir.as_deref(), &digest, &wanted);
                check(true)?.0
            }
            (result, _) => result,
        }
    }

    /// Load a component: compiled once per process (and cached on disk across
    /// processes), pre-instantiated, its node declarations read and checked.
    pub fn load_component(&self, path: impl AsRef<Path>) -> Result<Arc<ComponentModule>, Error> {
        self.inner.wasm.load(path)
    }

    /// A component's nodes, each run in a worker process when its policy
    /// says `isolation = "process"` (the default), else in this process.
    pub fn component_nodes(&self, path: impl AsRef<Path>) -> Result<Vec<Node>, Error> {
        let module = self.load_component(path)?;
        // Workers load the component themselves: from the compiled code saved here, not compiling it again.
        self.inner
            .workers
            .prepare_component(&module)
            .map_err(|message| Error::Component { path: module.path().to_path_buf(), message })?;
        let source = Origin::Component {
            path: absolute(module.path()),
            name: String::new(),
            digest: module.content_hash(),
        };
        Ok(self.isolated(module.nodes(), &source))
    }

    /// A Rhai script's nodes, each run in a worker process when its policy
    /// says `isolation = "process"` (the default), else in this process.
    pub fn script_nodes(&self, path: impl AsRef<Path>) -> Result<Vec<Node>, Error> {
        let path = path.as_ref();
        // Read once: the text compiled here is the text whose digest a worker checks.
        let text = Script::read(path)?;
        let script = Script::from_source(path, &text)?;
        let digest = weavelet_core::key::hex(&weavelet_core::key::sha256(text.as_bytes()));
        let source = Origin::Script { path: absolute(path), name: String::new(), digest };
        Ok(self.isolated(script.nodes(), &source))
    }

    /// `nodes` of `source`, each run in a worker process unless its policy says otherwise.
    fn isolated(&self, nodes: impl Iterator<Item = Node>, source: &Origin) -> Vec<Node> {
        nodes
            .map(|node| {
                let origin = source.node(&node.decl().name);
                node.wrap_code(|code| self.inner.workers.isolate(code, origin))
            })
            .collect()
    }

    /// Load a Rhai script; its nodes run under the runtime's policy, which
    /// their doc comments can narrow (`/// @timeout 1s`) but not widen.
    pub fn load_script(&self, path: impl AsRef<Path>) -> Result<Arc<Script>, Error> {
        Script::load(path)
    }

    /// Build the node folder `dir` in `language` into a component (again
    /// only when one of its files changed); returns the component file.
    ///
    /// Building runs the folder's own code, so its tools run in the build
    /// sandbox (started like a worker process) unless `isolation` is
    /// `InProcess`: a folder the operator trusts as much as Weavelet itself.
    pub fn build(
        &self,
        language: Language,
        dir: &Path,
        isolation: Isolation,
        on_step: &mut dyn FnMut(&str),
    ) -> Result<PathBuf, Error> {
        let place = match isolation {
            Isolation::InProcess => BuildIn::Host,
            Isolation::Process => {
                let launcher = self.inner.workers.program().map_err(|e| {
                    Error::build(format!(
                        "building {} runs its own code, which Weavelet does in a sandbox, and {e}",
                        dir.display()
                    ))
                })?;
                BuildIn::Sandbox(BuildSandbox::new(launcher).with_memory(weavelet_build::build_memory()?))
            }
        };
        weavelet_build::build(language, dir, self.inner.config.cache_dir.as_deref(), &place, on_step)
    }

    /// The component already built from the node folder `dir` as its files
    /// are now, if any; builds and runs nothing (see [`Runtime::build`]).
    pub fn built(&self, language: Language, dir: &Path) -> Result<Option<PathBuf>, Error> {
        weavelet_build::built(language, dir, self.inner.config.cache_dir.as_deref())
    }

    /// The result cache and run history, opened on first use; `None` when
    /// the configuration keeps none.
    pub fn results(&self) -> Result<Option<Arc<ResultStore>>, Error> {
        let config = &self.inner.config;
        let opened = self.inner.store.get_or_init(|| match (&config.cache_dir, config.results) {
            (Some(dir), true) => ResultStore::open(dir).map(|s| Some(Arc::new(s))),
            _ => Ok(None),
        });
        opened.clone().map_err(Error::from)
    }

    /// Run a plan to completion and report every output and failure. Results
    /// come from and go to the result cache, and the run is recorded in the
    /// history, as `options` say. Node failures are in the report, not an
    /// `Err`: see [`RunReport::check`].
    ///
    /// Blocks the calling thread; [`Runtime::start`] returns at once.
    pub fn run(&self, plan: &Plan, options: RunOptions) -> Result<RunReport, Error> {
        Ok(self.start(plan, options)?.wait())
    }

    /// Start running a plan and return at once: wait for it with
    /// [`Run::wait`], or from async code with [`Run::finish`].
    pub fn start(&self, plan: &Plan, options: RunOptions) -> Result<Run, Error> {
        let cache = self.cache_for(&options)?;
        self.inner.scheduler.start(plan, cache, options)
    }

    /// What the run history would record of a run of `plan` as it starts:
    /// the pipeline file's fingerprint, parameters, and each node's code and
    /// policy identities (compare it with [`ResultStore::run_plan`]).
    pub fn plan_record(&self, plan: &Plan) -> weavelet_core::RunPlanRecord {
        let store = self.results().ok().flatten();
        self.inner.scheduler.plan_record(plan, store.as_deref().map(|s| s as &dyn weavelet_core::ResultCache))
    }

    /// What [`Runtime::run`] would do with `options`, node by node: which
    /// results would come from the cache and why the others would run. Runs
    /// nothing and records nothing.
    pub fn dry_run(&self, plan: &Plan, options: &RunOptions) -> Result<Vec<DryRunStep>, Error> {
        let cache = self.cache_for(options)?;
        self.inner.scheduler.dry_run(plan, cache, options)
    }

    /// Write `files` (node and path, as [`Pipeline::output_files`] lists
    /// them) from `report`'s outputs. A file already holding the value it
    /// would be written from, unchanged since, is left alone when the run
    /// reused the cache (`cache`).
    pub fn write_outputs(
        &self,
        report: &RunReport,
        files: &[(String, PathBuf)],
        cache: CacheUse,
    ) -> Vec<OutputFile> {
        let store = if cache == CacheUse::Off { None } else { self.results().ok().flatten() };
        output::write_all(report, files, store.as_deref(), cache)
    }

    /// The default policy nodes without their own run under.
    pub fn policy(&self) -> &Policy {
        self.inner.scheduler.default_policy()
    }

    fn cache_for(&self, options: &RunOptions) -> Result<Option<Arc<dyn ResultCache>>, Error> {
        if options.cache == CacheUse::Off {
            return Ok(None);
        }
        Ok(self.results()?.map(|store| store as Arc<dyn ResultCache>))
    }
}

/// `path` made absolute: canonical where it exists.
fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| {
        std::env::current_dir().map(|cwd| cwd.join(path)).unwrap_or_else(|_| path.to_path_buf())
    })
}

/// The manifest's sources, loaded by this runtime's backends.
struct RuntimeLoader<'a> {
    runtime: &'a Runtime,
    on_build: &'a mut dyn FnMut(&str),
    /// Build node folders and fetch components that are not ready.
    prepare: bool,
}

impl Loader for RuntimeLoader<'_> {
    fn component(&mut self, path: &Path) -> Result<Vec<Node>, Error> {
        self.runtime.component_nodes(path)
    }

    fn build(&mut self, language: Language, dir: &Path, isolation: Isolation) -> Result<PathBuf, Error> {
        if self.prepare {
            return self.runtime.build(language, dir, isolation, self.on_build);
        }
        self.runtime.built(language, dir)?.ok_or_else(|| {
            Error::NotPrepared(
                Diagnostic::new(format!(
                    "the {} node folder {} is not built as its files are now, and nothing is built here",
                    language.label(),
                    dir.display()
                ))
                .with_help(format!("build it first: weavelet build {}", dir.display())),
            )
        })
    }

    fn script(&mut self, path: &Path) -> Result<Vec<Node>, Error> {
        self.runtime.script_nodes(path)
    }

    fn fetch(&mut self, remote: &Remote, sha256: &str) -> Result<PathBuf, Error> {
        if self.prepare {
            return self.runtime.fetch_component(remote, Some(sha256), self.on_build);
        }
        crate::fetch::kept(sha256, self.runtime.inner.config.cache_dir.as_deref()).ok_or_else(|| {
            Error::NotPrepared(
                Diagnostic::new(format!(
                    "the component {} (sha256 {sha256}) is not in the download cache, and nothing is fetched here",
                    remote.reference()
                ))
                .with_help("fetch it first: `weavelet run` (or `weavelet update`) downloads it once"),
            )
        })
    }

    fn verify(&mut self, wasm: &Path, remote: Option<&Remote>, keys: &[String]) -> Result<String, String> {
        self.runtime.verify_component(wasm, remote, keys)
    }
}
