//! Weavelet's builds: node folders made into components, in any language
//! with a WebAssembly toolchain: Rust crates (cargo), C (wit-bindgen, clang,
//! then a component made here), Python (componentize-py) and JavaScript (jco).
//!
//! A pipeline names a source folder (`c = "nodes"`); the first run builds it
//! into `<cache>/builds/<language>-<folder hash>/`, later runs reuse that
//! component while no file in the folder changed (size and modification time
//! of every file, the tool versions aside). The WIT contract and the SDK of
//! each language are compiled into `weavelet` and written once under
//! `<cache>/sdk/<content hash>/`, so a node folder holds only its own code.

mod c;
pub mod doctor;
mod js;
mod python;
mod rust;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

pub use c::componentize;
pub use rust::{WASM_TARGET, ensure_wasm_target};

use weavelet_core::{Diagnostic, Error, Fix};
pub use weavelet_isolate::BuildSandbox;

/// Where a build's tools run. Building a folder runs the folder's own code
/// (Rust build scripts and proc macros, a module's top level while
/// componentize-py or jco snapshot it, whatever a folder's `node_modules` or
/// `.cargo/config.toml` names), so it runs in the build sandbox unless the
/// operator trusts the folder.
#[derive(Debug, Clone)]
pub enum BuildIn {
    /// In the build sandbox: no network, nothing writable but the build's
    /// own folders, none of the user's environment (see [`BuildSandbox`]).
    Sandbox(BuildSandbox),
    /// On this machine, as the user: for folders trusted as much as Weavelet.
    Host,
}

/// How long one build tool may run: `WEAVELET_BUILD_TIMEOUT` (`10m`, `90s`),
/// else 30 minutes. A tool past it is killed (in the sandbox, with every
/// process it started) and the build fails saying so.
pub fn build_timeout() -> Result<Duration, Error> {
    match std::env::var("WEAVELET_BUILD_TIMEOUT") {
        Ok(text) if !text.trim().is_empty() => weavelet_core::parse_duration(text.trim())
            .map_err(|e| Error::build(format!("WEAVELET_BUILD_TIMEOUT: {e}"))),
        _ => Ok(Duration::from_secs(30 * 60)),
    }
}

/// How much memory one sandboxed build may use, all its processes together:
/// `WEAVELET_BUILD_MEMORY` (`4GiB`, `512MiB`), else 8 GiB. Past it the kernel
/// stops the build and the build fails saying so (see [`BuildSandbox`]).
pub fn build_memory() -> Result<u64, Error> {
    match std::env::var("WEAVELET_BUILD_MEMORY") {
        Ok(text) if !text.trim().is_empty() => weavelet_core::parse_size(text.trim())
            .map_err(|e| Error::build(format!("WEAVELET_BUILD_MEMORY: {e}"))),
        _ => Ok(weavelet_isolate::BUILD_MEMORY),
    }
}

/// What a tool run within a time limit printed, and how it ended (`None`:
/// it was killed at the limit).
pub(crate) struct Ran {
    pub status: Option<std::process::ExitStatus>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Run `command` (its pipes as set on it) for at most `limit`.
pub(crate) fn run_within(command: &mut Command, limit: Duration) -> std::io::Result<Ran> {
    use std::io::Read;
    use std::sync::{Arc, Mutex};
    let mut child = command.spawn()?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        let text = Arc::new(Mutex::new(Vec::new()));
        if let Some(mut pipe) = pipe {
            let text = text.clone();
            std::thread::spawn(move || {
                let mut chunk = [0u8; 8192];
                while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                    if let Ok(mut text) = text.lock() {
                        text.extend_from_slice(&chunk[..n]);
                    }
                }
            });
        }
        text
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // What the pipes hold once they close (a process the tool left behind may
    // keep them open: give it a moment, not a wait).
    let until = std::time::Instant::now() + Duration::from_millis(500);
    while Arc::strong_count(&stdout) + Arc::strong_count(&stderr) > 2 && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    let take = |text: &Arc<Mutex<Vec<u8>>>| text.lock().map(|t| t.clone()).unwrap_or_default();
    Ok(Ran { status, stdout: take(&stdout), stderr: take(&stderr) })
}

/// Said after a build that failed in the sandbox: what it did not have.
pub(crate) const SANDBOXED: &str = "note: it was built in the build sandbox: no network, none of your environment \
     variables, nothing writable outside its build folders and nothing readable beyond the system, the toolchains \
     and its own sources (SECURITY.md, \"Builds\"); a folder that needs more must be trusted (`weavelet build \
     --trusted`, or `isolation = \"in-process\"` for its source)";

/// How a failed sandbox set-up is explained, with the way out.
fn sandbox_help(dir: &Path) -> String {
    format!(
        "building a node folder runs its own code, so Weavelet builds it in a sandbox; if you trust {} as much as \
         Weavelet itself, build it on this machine instead: `weavelet build --trusted`, or `isolation = \
         \"in-process\"` for it under [policy.sources] in weavelet.toml",
        dir.display()
    )
}

/// The languages Weavelet builds node modules from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// A Rust crate with `weavelet-sdk`, built by cargo for `wasm32-wasip2`.
    Rust,
    /// C files, with bindings from `wit-bindgen c`, compiled by clang for WASI.
    C,
    /// A Python module `nodes.py`, made a component by componentize-py.
    Python,
    /// A JavaScript module `nodes.js`, made a component by jco (componentize-js).
    JavaScript,
}

impl Language {
    /// Every language, in the order the docs list them.
    pub const ALL: [Language; 4] = [Language::Rust, Language::C, Language::Python, Language::JavaScript];

    /// The key of a `[[components]]` entry (`rust`, `c`, `python`, `js`).
    pub fn key(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::C => "c",
            Language::Python => "python",
            Language::JavaScript => "js",
        }
    }

    /// The language's name in messages.
    pub fn label(self) -> &'static str {
        match self {
            Language::Rust => "Rust",
            Language::C => "C",
            Language::Python => "Python",
            Language::JavaScript => "JavaScript",
        }
    }

    /// The language of a `[[components]]` key.
    pub fn from_key(key: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.key() == key)
    }

    /// The file a node folder must hold, if the language has one.
    pub fn entry_file(self) -> &'static str {
        match self {
            Language::Rust => "Cargo.toml",
            Language::C => "nodes.c",
            Language::Python => "nodes.py",
            Language::JavaScript => "nodes.js",
        }
    }

    /// The language of the node folder `dir`, told by its entry file.
    pub fn detect(dir: &Path) -> Result<Language, Error> {
        let found: Vec<Language> =
            Language::ALL.into_iter().filter(|l| dir.join(l.entry_file()).is_file()).collect();
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(Error::build(format!(
                "{} is not a node folder: it holds none of Cargo.toml (Rust), nodes.c (C), nodes.py (Python), \
                 nodes.js (JavaScript)",
                dir.display()
            ))),
            several => Err(Error::Build(
                Diagnostic::new(format!(
                    "{} could be a node folder in {}",
                    dir.display(),
                    several.iter().map(|l| l.label()).collect::<Vec<_>>().join(" or ")
                ))
                .with_help("say which language it is in")
                .with_fix(Fix::ChooseLanguage),
            )),
        }
    }

    /// The tools a build needs and how to install them, for messages.
    pub fn install_help(self) -> &'static str {
        match self {
            Language::Rust => "install Rust with rustup, then: rustup target add wasm32-wasip2",
            Language::C => c::INSTALL,
            Language::Python => python::INSTALL,
            Language::JavaScript => js::INSTALL,
        }
    }
}

/// Where a build stands, for progress lines (`building nodes (C): clang-16 ...`).
pub type StepSink<'a> = &'a mut dyn FnMut(&str);

/// The component already built from `dir` as its files are now, if there is
/// one; builds nothing and runs nothing of the folder's (a review step such
/// as `weavelet inspect` must not run the code it reviews).
pub fn built(language: Language, dir: &Path, cache_dir: Option<&Path>) -> Result<Option<PathBuf>, Error> {
    if language == Language::Rust {
        return Ok(rust::fresh_component(dir, cache_dir));
    }
    if !dir.join(language.entry_file()).is_file() {
        return Ok(None);
    }
    let target = Target::of(language, dir, cache_dir)?;
    Ok(target.out.is_file().then_some(target.out))
}

/// Where the component built from a (non-Rust) folder as it is now lives.
struct Target {
    /// The folder's builds.
    work: PathBuf,
    /// The SDK files a build includes.
    support: PathBuf,
    /// The folder named by everything the component is built from: one that
    /// exists is complete (it is renamed into place whole), and two runs that
    /// built different sources never overwrite each other.
    done: PathBuf,
    /// The component file in it.
    out: PathBuf,
}

impl Target {
    fn of(language: Language, dir: &Path, cache_dir: Option<&Path>) -> Result<Target, Error> {
        let work = work_dir(language, dir, cache_dir);
        let support = support_dir(cache_dir, dir)?;
        let digest = weavelet_core::key::hex(&weavelet_core::key::sha256(
            fingerprint(language, dir, &support)?.as_bytes(),
        ));
        let done = work.join(&digest[..32]);
        let out = done.join(format!("{}_nodes.wasm", module_name(dir)));
        Ok(Target { work, support, done, out })
    }
}

/// The component built from `dir`, building it if no file changed since the
/// last build. `on_step` hears each tool as it starts.
pub fn build(
    language: Language,
    dir: &Path,
    cache_dir: Option<&Path>,
    place: &BuildIn,
    on_step: StepSink<'_>,
) -> Result<PathBuf, Error> {
    if !dir.join(language.entry_file()).is_file() {
        return Err(Error::Build(
            Diagnostic::new(format!(
                "{} holds no {}: a {} node folder needs one",
                dir.display(),
                language.entry_file(),
                language.label()
            ))
            .with_help(format!("start one from Weavelet's {} template", language.label()))
            .with_fix(Fix::NewProject { language: language.key().into() }),
        ));
    }
    if language == Language::Rust {
        if let Some(wasm) = rust::fresh_component(dir, cache_dir) {
            return Ok(wasm);
        }
        on_step(&format!("building {} for {}", dir.display(), WASM_TARGET));
        return rust::build(dir, cache_dir, place, on_step);
    }
    let Target { work, support, done, out } = Target::of(language, dir, cache_dir)?;
    if out.is_file() {
        return Ok(out);
    }
    std::fs::create_dir_all(&work).map_err(|e| Error::io(format!("creating {}", work.display()), e))?;
    let scratch = work.join(format!(".{}.{}", std::process::id(), unique()));
    std::fs::create_dir_all(&scratch).map_err(|e| Error::io(format!("creating {}", scratch.display()), e))?;
    let building_to = scratch.join(out.file_name().unwrap_or_default());
    let building = Build { dir, work: &scratch, support: &support, out: &building_to, language, place };
    let built = match language {
        Language::C => c::build(&building, on_step),
        Language::Python => python::build(&building, on_step),
        Language::JavaScript => js::build(&building, on_step),
        Language::Rust => Ok(()),
    };
    let built = built.and_then(|()| {
        if !building_to.is_file() {
            return Err(Error::build(format!(
                "building the {} nodes in {} reported success but wrote no component",
                language.label(),
                dir.display()
            )));
        }
        match std::fs::rename(&scratch, &done) {
            Ok(()) => Ok(()),
            // Another run built the same sources first: use its component.
            Err(_) if out.is_file() => Ok(()),
            Err(e) => Err(Error::io(format!("moving the component to {}", done.display()), e)),
        }
    });
    let _ = std::fs::remove_dir_all(&scratch);
    built?;
    // Older builds of this folder, and scratch folders of builds killed long ago.
    if let Ok(entries) = std::fs::read_dir(&work) {
        for entry in entries.flatten() {
            let path = entry.path();
            let stale = if entry.file_name().to_string_lossy().starts_with('.') {
                entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > std::time::Duration::from_secs(3600)))
            } else {
                path != done
            };
            if stale {
                let _ =
                    if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
            }
        }
    }
    Ok(out)
}

/// A name no other build in this process uses at the same time.
fn unique() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// One build's folders.
struct Build<'a> {
    language: Language,
    /// The node folder.
    dir: &'a Path,
    /// Scratch space of this build alone.
    work: &'a Path,
    /// The WIT and SDK files (`wit/`, `c/`, `python/`, `js/`).
    support: &'a Path,
    /// The component to write.
    out: &'a Path,
    /// Where its tools run.
    place: &'a BuildIn,
}

impl Build<'_> {
    /// Run one tool; its output is shown only when it fails.
    fn run(&self, on_step: StepSink<'_>, mut command: Command) -> Result<(), Error> {
        let program = command.get_program().to_string_lossy().into_owned();
        let shown: Vec<String> =
            std::iter::once(program.clone()).chain(command.get_args().map(shell_word)).collect();
        on_step(&format!("building {} ({}): {}", self.dir.display(), self.language.label(), shown.join(" ")));
        if !installed(command.get_program()) {
            return Err(self.not_installed(&program));
        }
        if let BuildIn::Sandbox(sandbox) = self.place {
            // Its only writable folder is the build's scratch folder.
            let tmp = self.work.join("tmp");
            std::fs::create_dir_all(&tmp).map_err(|e| Error::io(format!("creating {}", tmp.display()), e))?;
            // It reads the folder, the SDK and packages installed beside the folder.
            let mut readable = vec![self.dir.to_path_buf(), self.support.to_path_buf()];
            readable.extend(self.dir.ancestors().map(|a| a.join("node_modules")).filter(|m| m.is_dir()));
            command = sandbox.wrap(&command, &readable, &[self.work.to_path_buf()], tmp);
        }
        let limit = build_timeout()?;
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let output = run_within(&mut command, limit).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                self.not_installed(&program)
            } else {
                Error::build(format!("cannot run `{program}`: {e}"))
            }
        })?;
        let Some(status) = output.status else {
            return Err(Error::build(format!(
                "building the {} nodes in {}: `{}` ran longer than {limit:?} and was stopped (WEAVELET_BUILD_TIMEOUT sets \
                 the limit)",
                self.language.label(),
                self.dir.display(),
                shown.join(" "),
            )));
        };
        if status.success() {
            return Ok(());
        }
        let mut said = String::from_utf8_lossy(&output.stderr).into_owned();
        said.push_str(&String::from_utf8_lossy(&output.stdout));
        let said = weavelet_core::sanitize(said.trim());
        let lines: Vec<&str> = said.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        if status.code() == Some(weavelet_isolate::SANDBOX_FAILED) && said.contains("cannot sandbox") {
            return Err(Error::build(format!(
                "cannot build the {} nodes in {}: {tail}\n{}",
                self.language.label(),
                self.dir.display(),
                sandbox_help(self.dir)
            )));
        }
        let sandboxed = match self.place {
            BuildIn::Sandbox(_) => format!("\n{SANDBOXED}"),
            BuildIn::Host => String::new(),
        };
        Err(Error::build(format!(
            "building the {} nodes in {} failed: `{}` exited with {status}:\n{tail}{sandboxed}",
            self.language.label(),
            self.dir.display(),
            shown.join(" "),
        )))
    }
}

impl Build<'_> {
    fn not_installed(&self, program: &str) -> Error {
        Error::build(format!(
            "building the {} nodes in {} needs `{program}`, which is not installed (or not on PATH).\n{}",
            self.language.label(),
            self.dir.display(),
            self.language.install_help()
        ))
    }
}

/// Whether `program` names a file: a path, or a name found on `PATH` (as the
/// sandbox's launcher will look it up, it is looked up before it starts).
fn installed(program: &std::ffi::OsStr) -> bool {
    if Path::new(program).components().count() > 1 {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// The program named by environment variable `var`, else `default`. A
/// relative path is taken from the current folder (tools run elsewhere).
fn tool(var: &str, default: &str) -> std::ffi::OsString {
    match std::env::var_os(var).filter(|v| !v.is_empty()) {
        Some(v) if Path::new(&v).components().count() > 1 && Path::new(&v).is_relative() => {
            std::env::current_dir().map(|cwd| cwd.join(&v).into_os_string()).unwrap_or(v)
        }
        Some(v) => v,
        None => default.into(),
    }
}

/// An argument as a shell would need it written.
fn shell_word(arg: &std::ffi::OsStr) -> String {
    let s = arg.to_string_lossy();
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@+,".contains(c)) {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The component's file name: the folder's name as a node-module name.
fn module_name(dir: &Path) -> String {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let name: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    if name.is_empty() { "module".into() } else { name }
}

/// Where the builds of `dir` in `language` go.
fn work_dir(language: Language, dir: &Path, cache_dir: Option<&Path>) -> PathBuf {
    match cache_dir {
        Some(cache) => {
            let digest = weavelet_core::key::sha256(dir.to_string_lossy().as_bytes());
            cache.join("builds").join(format!(
                "{}-{}",
                language.key(),
                &weavelet_core::key::hex(&digest)[..16]
            ))
        }
        None => dir.join("build").join("weavelet"),
    }
}

/// The WIT contract and the SDK of every language, as compiled into this binary.
const SUPPORT_FILES: &[(&str, &str)] = &[
    ("wit/node.wit", NODE_WIT),
    ("c/weavelet.h", include_str!("../../../sdk/c/weavelet.h")),
    ("c/weavelet.c", include_str!("../../../sdk/c/weavelet.c")),
    ("python/weavelet.py", include_str!("../../../sdk/python/weavelet.py")),
    ("js/weavelet.js", include_str!("../../../sdk/js/weavelet.js")),
];

include!(concat!(env!("OUT_DIR"), "/wasi_wit.rs"));

/// Weavelet's WIT contract.
const NODE_WIT: &str = include_str!("../../../wit/node.wit");

/// Python nodes' world: the module world and wasi:http's outgoing handler,
/// which `weavelet.http` uses (componentize-py binds what the world imports;
/// the host sends only what the node's `net` grant allows). Beside it, in the
/// same folder, `node.wit` and the WASI packages in `deps/`.
fn python_world() -> String {
    let package = NODE_WIT
        .lines()
        .find_map(|line| line.trim().strip_prefix("package "))
        .map_or("weavelet:node", |p| p.trim_end_matches(';').trim());
    format!(
        "package {};\n\n/// A Python node module: `module`, and outgoing HTTP for `weavelet.http`.\n\
         world python-module {{\n  include module;\n  import wasi:http/outgoing-handler@{};\n}}\n",
        package, WASI_HTTP_VERSION
    )
}

/// Every support file: [`SUPPORT_FILES`], and the WIT folder Python builds use.
fn support_files() -> &'static [(String, std::borrow::Cow<'static, str>)] {
    static FILES: std::sync::OnceLock<Vec<(String, std::borrow::Cow<'static, str>)>> =
        std::sync::OnceLock::new();
    FILES.get_or_init(|| {
        let mut files: Vec<(String, std::borrow::Cow<'static, str>)> =
            SUPPORT_FILES.iter().map(|(name, text)| (name.to_string(), (*text).into())).collect();
        files.push(("python-wit/node.wit".into(), NODE_WIT.into()));
        files.push(("python-wit/python.wit".into(), python_world().into()));
        for (name, text) in WASI_WIT {
            files.push((format!("python-wit/{name}"), (*text).into()));
        }
        files
    })
}

/// The support files, written once per content under the cache folder (or,
/// without one, under the node folder's `build/sdk/`).
fn support_dir(cache_dir: Option<&Path>, dir: &Path) -> Result<PathBuf, Error> {
    let id = support_id();
    let base = match cache_dir {
        Some(cache) => cache.to_path_buf(),
        None => dir.join("build"),
    };
    let root = base.join("sdk").join(&id[..16]);
    if root.join("complete").is_file() {
        return Ok(root);
    }
    // Written beside, then renamed into place: a concurrent build sees all or nothing.
    let parent = root.parent().unwrap_or(&root).to_path_buf();
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
    let tmp = parent.join(format!(".{}-{}.{}", &id[..16], std::process::id(), unique()));
    let written = (|| {
        for (name, text) in support_files() {
            let path = tmp.join(name);
            if let Some(folder) = path.parent() {
                std::fs::create_dir_all(folder)
                    .map_err(|e| Error::io(format!("creating {}", folder.display()), e))?;
            }
            std::fs::write(&path, text.as_bytes())
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        }
        std::fs::write(tmp.join("complete"), "")
            .map_err(|e| Error::io(format!("writing {}", tmp.join("complete").display()), e))
    })();
    if written.is_ok() && std::fs::rename(&tmp, &root).is_ok() {
        return Ok(root);
    }
    let _ = std::fs::remove_dir_all(&tmp);
    written?;
    // Another process put the same files there first.
    if root.join("complete").is_file() {
        Ok(root)
    } else {
        Err(Error::build(format!("cannot put the SDK files in place under {}", root.display())))
    }
}

/// The hash of the support files' contents (fixed for the binary: computed once).
fn support_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let mut hasher = weavelet_core::key::KeyHasher::new("sdk");
        for (name, text) in support_files() {
            hasher.field(name, text.as_bytes());
        }
        weavelet_core::key::hex(&hasher.finish())
    })
}

/// Folders a build never reads from: outputs and installed packages.
const SKIPPED: &[&str] = &["build", "target", "node_modules", "__pycache__", "out"];

/// Too many files for a node folder: probably not one.
const MAX_FILES: usize = 5_000;

/// The files of a node folder a build reads, by extension.
fn is_source(language: Language, name: &str) -> bool {
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match language {
        Language::C => matches!(ext, "c" | "h"),
        Language::Python => matches!(ext, "py" | "pyi"),
        Language::JavaScript => matches!(ext, "js" | "mjs" | "cjs" | "json"),
        Language::Rust => false,
    }
}

/// What a build of `dir` is made from: the path, size and modification time
/// of each of its source files (bar [`SKIPPED`] folders and hidden ones), the
/// support files, this weavelet's version and the tools it would run.
fn fingerprint(language: Language, dir: &Path, support: &Path) -> Result<String, Error> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let entries =
            std::fs::read_dir(&folder).map_err(|e| Error::io(format!("listing {}", folder.display()), e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            // Not following links: a link loop is not a folder of a million files.
            let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
            if meta.is_dir() {
                // Installed packages anywhere; the folder's own outputs at its top.
                let skip = name == "node_modules"
                    || name == "__pycache__"
                    || (folder == dir && SKIPPED.contains(&name.as_str()));
                if !skip {
                    pending.push(path);
                }
                continue;
            }
            let meta = if meta.file_type().is_symlink() {
                match std::fs::metadata(&path) {
                    Ok(m) if m.is_file() => m,
                    _ => continue,
                }
            } else {
                meta
            };
            if !is_source(language, &name) {
                continue;
            }
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            files.push(format!("{}\t{}\t{}", path.display(), meta.len(), modified));
            if files.len() > MAX_FILES {
                return Err(Error::build(format!(
                    "{} holds more than {MAX_FILES} source files: is it really a folder of nodes?",
                    dir.display()
                )));
            }
        }
    }
    files.sort();
    files.push(format!("weavelet {}", env!("CARGO_PKG_VERSION")));
    files.push(format!("sdk {}", support.display()));
    for var in ["CC", "WIT_BINDGEN", "COMPONENTIZE_PY", "JCO"] {
        files.push(format!("{var}={}", std::env::var(var).unwrap_or_default()));
    }
    Ok(files.join("\n"))
}
