//! The build sandbox: a node folder's build tools (cargo with the folder's
//! build scripts and proc macros, clang, componentize-py, jco) run their
//! folder's code, so they run where that code can do little.
//!
//! [`BuildSandbox::wrap`] turns a tool's command into the same command run by
//! a launcher (this program again, with [`SANDBOX_ENV`] set), which
//! [`exec_if_asked`] handles before `main` does anything else:
//! - new user, network, UTS, IPC and PID namespaces: no network at all (not
//!   even loopback, and no abstract Unix sockets), the host name
//!   `weavelet-build`, no other process of the machine to see or signal, and
//!   every process of the build killed when its first one ends;
//! - no new privileges; Landlock: readable only the system's folders (bar
//!   the secrets in `/etc`), the toolchains, and what the build is made from
//!   (the folder, its SDK, a crate's dependencies); writable only beneath the
//!   folders the build writes (its scratch folder, its target folder). The
//!   user's home, other projects and `/tmp` are out of sight;
//! - seccomp: no `connect` (a Unix socket by path, such as a container
//!   engine's, is as good as the network), no `ptrace`, mounts, namespaces,
//!   BPF, keyrings, io_uring or kernel modules;
//! - the environment holds only what the tools need (no secrets of the user's);
//! - memory: every process of the build together is held to the build's
//!   memory limit by a memory cgroup the launcher creates for it (cgroup v1
//!   `memory.limit_in_bytes` or v2 `memory.max`, swap included), where this
//!   process may create one; each process is also held to it alone by
//!   `RLIMIT_DATA` (the only bound where no cgroup can be made).
//!
//! Where the kernel refuses user namespaces the launcher fails with a message
//! saying so; the build is then refused, never run unconfined.
#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use landlock::RulesetStatus;
use seccompiler::SeccompRule;
use serde::{Deserialize, Serialize};

/// The environment variable that makes this program a sandbox launcher; its
/// value says what the sandboxed tool may write.
pub const SANDBOX_ENV: &str = "WEAVELET_SANDBOX";

/// The exit code of a launcher that could not set the sandbox up.
pub const SANDBOX_FAILED: i32 = 125;

/// The host name a sandboxed build sees.
pub const BUILD_HOST_NAME: &str = "weavelet-build";

/// Environment variables a build tool keeps: where the toolchains are and
/// which to use. Everything else of the user's environment is withheld.
const KEPT_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "CARGO",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "RUSTC",
    "CC",
    "WIT_BINDGEN",
    "COMPONENTIZE_PY",
    "JCO",
];

/// The system's folders a build may read: programs, libraries, headers,
/// devices and the process information tools look at.
const SYSTEM_READS: &[&str] =
    &["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt", "/proc", "/sys", "/dev"];

/// Entries of `/etc` a build never reads: passwords, keys, the machine's identity.
const ETC_SECRETS: &[&str] = &[
    "shadow",
    "shadow-",
    "gshadow",
    "gshadow-",
    "sudoers",
    "sudoers.d",
    "ssh",
    "ssl/private",
    "security",
    "machine-id",
    ".pwd.lock",
    "credstore",
    "credstore.encrypted",
    "wireguard",
    "NetworkManager",
];

/// What the launcher is told.
#[derive(Serialize, Deserialize)]
struct Spec {
    /// Files and folders the tool may read beneath.
    readable: Vec<PathBuf>,
    /// Folders the tool may write beneath.
    writable: Vec<PathBuf>,
    /// The pid of the process that asked, so the launcher dies with it.
    parent: u32,
    /// The memory the whole build may use, in bytes.
    memory: u64,
}

/// The memory a build may use unless told otherwise: 8 GiB.
pub const BUILD_MEMORY: u64 = 8 << 30;

/// Runs build tools in the sandbox, through a launcher program.
#[derive(Debug, Clone)]
pub struct BuildSandbox {
    launcher: PathBuf,
    memory: u64,
}

impl BuildSandbox {
    /// A sandbox launched by `launcher`: a program that calls
    /// [`crate::serve_if_asked`] first thing in `main` (the `weavelet` binary).
    /// Builds in it may use [`BUILD_MEMORY`].
    pub fn new(launcher: impl Into<PathBuf>) -> BuildSandbox {
        BuildSandbox { launcher: launcher.into(), memory: BUILD_MEMORY }
    }

    /// The same sandbox, holding each build to `bytes` of memory.
    pub fn with_memory(mut self, bytes: u64) -> BuildSandbox {
        self.memory = bytes;
        self
    }

    /// The memory each build may use.
    pub fn memory(&self) -> u64 {
        self.memory
    }

    /// `command`, to be run in the sandbox, reading only beneath `readable`
    /// (besides the system's folders and the toolchains, see [`toolchain_reads`])
    /// and writing only beneath `writable` (and `tmp`, its `TMPDIR`). Its
    /// working folder and the environment variables set on it are kept; the
    /// rest of the environment is not.
    pub fn wrap(
        &self,
        command: &Command,
        readable: &[PathBuf],
        writable: &[PathBuf],
        tmp: PathBuf,
    ) -> Command {
        let mut wrapped = Command::new(&self.launcher);
        wrapped.arg(command.get_program()).args(command.get_args());
        if let Some(dir) = command.get_current_dir() {
            wrapped.current_dir(dir);
        }
        wrapped.env_clear();
        for key in KEPT_ENV {
            if let Some(value) = std::env::var_os(key) {
                wrapped.env(key, value);
            }
        }
        for (key, value) in command.get_envs() {
            match value {
                Some(value) => wrapped.env(key, value),
                None => wrapped.env_remove(key),
            };
        }
        let mut writable = writable.to_vec();
        writable.push(tmp.clone());
        let mut readable = readable.to_vec();
        readable.extend(system_reads());
        readable.extend(toolchain_reads(command.get_program()));
        let spec = Spec { readable, writable, parent: std::process::id(), memory: self.memory };
        wrapped.env("TMPDIR", tmp).env(SANDBOX_ENV, serde_json::to_string(&spec).unwrap_or_default());
        wrapped
    }
}

/// The system's folders and `/etc` bar its secrets.
fn system_reads() -> Vec<PathBuf> {
    let mut reads: Vec<PathBuf> = SYSTEM_READS.iter().map(PathBuf::from).collect();
    reads_beneath(Path::new("/etc"), "", &mut reads);
    reads
}

/// The entries of `folder` (`prefix`: its path below `/etc`) but the secrets,
/// going into a folder that holds one (`ssl`, for `ssl/private`).
fn reads_beneath(folder: &Path, prefix: &str, reads: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(folder) else { return };
    for entry in entries.flatten() {
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if ETC_SECRETS.contains(&name.as_str()) {
            continue;
        }
        let inner = format!("{name}/");
        if ETC_SECRETS.iter().any(|s| s.starts_with(&inner)) {
            reads_beneath(&entry.path(), &inner, reads);
        } else {
            reads.push(entry.path());
        }
    }
}

/// Where the toolchains are, as the environment says: rustup's toolchains,
/// cargo's programs, registry and settings (not its credentials), each
/// folder on `PATH` (a virtualenv's whole folder when it is one, with the
/// Python it was made from), and the folders of the program run and of the
/// tools named by `CARGO`, `RUSTC`, `CC`, `WIT_BINDGEN`, `COMPONENTIZE_PY`
/// and `JCO` (a `node_modules` whole). Not the rest of the user's home.
pub fn toolchain_reads(program: &std::ffi::OsStr) -> Vec<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let var = |name: &str, default: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(default)))
    };
    let mut reads = Vec::new();
    if let Some(rustup) = var("RUSTUP_HOME", ".rustup") {
        reads.push(rustup);
    }
    if let Some(cargo) = var("CARGO_HOME", ".cargo") {
        for part in ["bin", "registry", "git", "config.toml", "config"] {
            reads.push(cargo.join(part));
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        if let Some(venv) = dir.parent()
            && let Ok(config) = std::fs::read_to_string(venv.join("pyvenv.cfg"))
        {
            // A virtualenv, and the Python installation it was made from (`home = …/bin`).
            reads.push(venv.to_path_buf());
            let home = config.lines().find_map(|l| l.split_once('=').filter(|(k, _)| k.trim() == "home"));
            if let Some(python) = home.and_then(|(_, bin)| Path::new(bin.trim()).parent()) {
                reads.push(python.to_path_buf());
            }
        }
        reads.push(dir);
    }
    let mut programs: Vec<PathBuf> = vec![PathBuf::from(program)];
    programs.extend(
        ["CARGO", "RUSTC", "CC", "WIT_BINDGEN", "COMPONENTIZE_PY", "JCO"]
            .iter()
            .filter_map(|v| std::env::var_os(v).map(PathBuf::from)),
    );
    for program in programs {
        let found = if program.components().count() > 1 {
            Some(program)
        } else {
            std::env::split_paths(&path).map(|d| d.join(&program)).find(|p| p.is_file())
        };
        // The folder a tool is in, and the one the file it links to is in; the
        // folder above only for a package folder (`node_modules/.bin/jco`) or a
        // virtualenv, never a whole home or `~/.local`.
        for file in found.into_iter().flat_map(|f| [f.canonicalize().ok(), Some(f)]).flatten() {
            let Some(folder) = file.parent() else { continue };
            reads.push(folder.to_path_buf());
            if let Some(root) = folder.parent()
                && (root.file_name().is_some_and(|n| n == "node_modules")
                    || root.join("pyvenv.cfg").is_file())
            {
                reads.push(root.to_path_buf());
            }
        }
    }
    reads
}

/// If this process was started as a sandbox launcher, set the sandbox up and
/// run the tool in it (never returning); else return at once.
pub(crate) fn exec_if_asked() {
    let Some(spec) = std::env::var_os(SANDBOX_ENV) else { return };
    // SAFETY: called first thing in `main`, before any other thread exists.
    unsafe { std::env::remove_var(SANDBOX_ENV) };
    let code = match launch(&spec) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("weavelet: cannot sandbox this build: {e}");
            SANDBOX_FAILED
        }
    };
    std::process::exit(code);
}

/// Enter the namespaces, start the tool confined in them, and wait for it.
fn launch(spec: &OsString) -> Result<i32, String> {
    let spec: Spec = serde_json::from_str(&spec.to_string_lossy())
        .map_err(|e| format!("unreadable sandbox settings: {e}"))?;
    let mut args = std::env::args_os().skip(1);
    let program = args.next().ok_or("no program to run")?;
    let args: Vec<OsString> = args.collect();
    crate::confine::die_with_parent(Some(spec.parent));
    // The cgroup is made while this process still may (before its user
    // namespace); it holds every process the build starts, and is removed
    // when the build ends.
    let memory = spec.memory;
    let cgroup = BuildCgroup::create(memory);
    enter_namespaces()?;
    // The first process of the new PID namespace: when it ends, the kernel
    // ends every process of the build with it.
    let mut tool = Command::new(&program);
    tool.args(&args);
    let (readable, writable) = (spec.readable.clone(), spec.writable.clone());
    // SAFETY: the closure runs in the child between fork and exec. This
    // launcher is single-threaded (it does this before `main` starts any
    // thread), so the child may allocate: no other thread held a lock at fork.
    unsafe {
        tool.pre_exec(move || {
            // Each process alone, inherited by all it starts.
            limit_data(memory);
            confine_build(&readable, &writable)
                .map_err(|e| std::io::Error::other(format!("confining the build: {e}")))
        });
    }
    let mut child = tool.spawn().map_err(|e| format!("running {}: {e}", program.to_string_lossy()))?;
    // Once the kernel has had to stop a process of the build at its limit,
    // the whole build is stopped (its first process ends, and the PID
    // namespace every other): a build that lost a process is not to be trusted.
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("waiting for the build: {e}"))? {
            break status;
        }
        if cgroup.as_ref().is_ok_and(BuildCgroup::ran_out) {
            let _ = child.kill();
            break child.wait().map_err(|e| format!("waiting for the build: {e}"))?;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let limit = weavelet_core::human_bytes(memory);
    match &cgroup {
        Ok(cgroup) if cgroup.ran_out() => eprintln!(
            "weavelet: the build reached its memory limit of {limit} (all its processes together) and was \
             stopped; WEAVELET_BUILD_MEMORY sets the limit"
        ),
        Ok(_) => {}
        Err(why) if !status.success() => eprintln!(
            "weavelet: each process of this build may use {limit} of memory (WEAVELET_BUILD_MEMORY sets it); \
             the build as a whole has no bound here, as no memory cgroup could be made ({why})"
        ),
        Err(_) => {}
    }
    drop(cgroup);
    Ok(status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        128 + status.signal().unwrap_or(0)
    }))
}

/// Hold this process (and what it starts) to `bytes` of data.
fn limit_data(bytes: u64) {
    let limit = libc::rlimit { rlim_cur: bytes, rlim_max: bytes };
    // SAFETY: setrlimit reads the one struct passed. Lowering both limits
    // needs no privilege; where it fails, the cgroup (if any) still holds.
    unsafe { libc::setrlimit(libc::RLIMIT_DATA, &limit) };
}

/// The memory cgroup a build runs in (see the module's documentation).
struct BuildCgroup {
    dir: PathBuf,
    parent: PathBuf,
    v2: bool,
}

impl BuildCgroup {
    /// A new cgroup beneath this process's own, holding this process from
    /// now on, its memory (and swap) limited to `bytes`.
    fn create(bytes: u64) -> Result<BuildCgroup, String> {
        let (parent, v2) = own_memory_cgroup().ok_or("no memory cgroup controller is mounted")?;
        remove_stale_cgroups(&parent);
        let dir = parent.join(format!("weavelet-build-{}", std::process::id()));
        std::fs::create_dir(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let cgroup = BuildCgroup { dir, parent, v2 };
        let (limit, swap) = if v2 {
            ("memory.max", "memory.swap.max")
        } else {
            ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes")
        };
        cgroup.write(limit, &bytes.to_string())?;
        // Swap is held to it too where the kernel counts it (v1 counts memory + swap).
        let _ = cgroup.write(swap, if v2 { "0".into() } else { bytes.to_string() }.as_str());
        if v2 {
            // The kernel stops every process of the cgroup at once at the limit.
            let _ = cgroup.write("memory.oom.group", "1");
        }
        cgroup.write("cgroup.procs", &std::process::id().to_string())?;
        Ok(cgroup)
    }

    fn write(&self, file: &str, text: &str) -> Result<(), String> {
        let path = self.dir.join(file);
        std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))
    }

    /// Whether the kernel had to kill a process of the build at the limit.
    fn ran_out(&self) -> bool {
        let file = if self.v2 { "memory.events" } else { "memory.oom_control" };
        let text = std::fs::read_to_string(self.dir.join(file)).unwrap_or_default();
        let kills =
            text.lines().find_map(|l| l.strip_prefix("oom_kill ")).and_then(|n| n.trim().parse::<u64>().ok());
        match kills {
            Some(n) => n > 0,
            // Kernels before 4.13 do not count kills in v1: the limit was reached.
            None => std::fs::read_to_string(self.dir.join("memory.failcnt"))
                .ok()
                .and_then(|n| n.trim().parse::<u64>().ok())
                .is_some_and(|n| n > 0),
        }
    }
}

impl Drop for BuildCgroup {
    fn drop(&mut self) {
        // Back to the cgroup it came from, so this one can go (every process
        // of the build has ended with its PID namespace).
        let _ = std::fs::write(self.parent.join("cgroup.procs"), std::process::id().to_string());
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// The folder of this process's memory cgroup, and whether it is cgroup v2.
fn own_memory_cgroup() -> Option<(PathBuf, bool)> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let membership = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    // v1: a `cgroup` mount whose options include `memory`; v2: the `cgroup2` mount.
    let mount = |v2: bool| {
        mountinfo.lines().find_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let fields: Vec<&str> = left.split(' ').collect();
            let kinds: Vec<&str> = right.split(' ').collect();
            let (root, point) = (fields.get(3)?, fields.get(4)?);
            let wanted = if v2 {
                kinds.first() == Some(&"cgroup2")
            } else {
                kinds.first() == Some(&"cgroup") && kinds.get(2)?.split(',').any(|o| o == "memory")
            };
            wanted.then(|| (root.to_string(), PathBuf::from(point)))
        })
    };
    let path = |v2: bool| {
        membership.lines().find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            let wanted =
                if v2 { controllers.is_empty() } else { controllers.split(',').any(|c| c == "memory") };
            wanted.then(|| path.to_string())
        })
    };
    for v2 in [false, true] {
        if let (Some((root, point)), Some(path)) = (mount(v2), path(v2)) {
            let inside = path.strip_prefix(root.as_str()).unwrap_or(&path).trim_start_matches('/');
            let dir = point.join(inside);
            if dir.join(if v2 { "memory.max" } else { "memory.limit_in_bytes" }).exists() || v2 {
                return Some((dir, v2));
            }
        }
    }
    None
}

/// Remove the cgroups of builds whose launcher was killed (at the build's
/// deadline): a cgroup with a process in it cannot be removed, so only
/// finished ones go.
fn remove_stale_cgroups(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with("weavelet-build-") {
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}

/// New user, network, UTS, IPC and PID namespaces, with this user mapped to
/// itself (files the build writes belong to the user, as they would outside).
fn enter_namespaces() -> Result<(), String> {
    // SAFETY: getuid and getgid take no pointers.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let flags = libc::CLONE_NEWUSER
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWPID;
    // SAFETY: unshare takes no pointers; this process has one thread, as
    // CLONE_NEWUSER requires.
    if unsafe { libc::unshare(flags) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(format!(
            "this kernel does not let it create user namespaces ({e}); where \
             /proc/sys/kernel/unprivileged_userns_clone or user.max_user_namespaces is 0, an administrator can \
             enable them"
        ));
    }
    let write =
        |file: &str, text: String| std::fs::write(file, text).map_err(|e| format!("writing {file}: {e}"));
    write("/proc/self/setgroups", "deny".into())?;
    write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
    write("/proc/self/gid_map", format!("{gid} {gid} 1"))?;
    let name = BUILD_HOST_NAME.as_bytes();
    // SAFETY: sethostname reads `name.len()` bytes from the slice passed.
    if unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) } != 0 {
        return Err(format!("setting the host name: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Confine the build's first process for good (its children inherit it all).
fn confine_build(readable: &[PathBuf], writable: &[PathBuf]) -> Result<(), String> {
    crate::confine::die_with_parent(None);
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) takes no pointers.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(format!("no_new_privs: {}", std::io::Error::last_os_error()));
    }
    let mut writable = writable.to_vec();
    // Tools write what they discard to /dev/null.
    writable.push(PathBuf::from("/dev/null"));
    if crate::confine::restrict_files(readable, &writable)? == RulesetStatus::NotEnforced {
        return Err("this kernel has no Landlock, so the build could write anywhere the user can".into());
    }
    seccomp()
}

/// System calls a build never needs: `connect` (a Unix socket by path is as
/// good as the network) and the kernel's larger attack surfaces.
fn seccomp() -> Result<(), String> {
    let denied: BTreeMap<i64, Vec<SeccompRule>> = std::iter::once(libc::SYS_connect)
        .chain(crate::confine::KERNEL_SURFACE.iter().copied())
        .map(|call| (call, Vec::new()))
        .collect();
    crate::confine::deny(denied, libc::EACCES)
}
