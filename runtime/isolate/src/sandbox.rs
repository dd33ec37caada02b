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
//! - the environment holds only what the tools need (no secrets of the user's).
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
}

/// Runs build tools in the sandbox, through a launcher program.
#[derive(Debug, Clone)]
pub struct BuildSandbox {
    launcher: PathBuf,
}

impl BuildSandbox {
    /// A sandbox launched by `launcher`: a program that calls
    /// [`crate::serve_if_asked`] first thing in `main` (the `weavelet` binary).
    pub fn new(launcher: impl Into<PathBuf>) -> BuildSandbox {
        BuildSandbox { launcher: launcher.into() }
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
        let spec = Spec { readable, writable, parent: std::process::id() };
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
            confine_build(&readable, &writable)
                .map_err(|e| std::io::Error::other(format!("confining the build: {e}")))
        });
    }
    let status = tool.status().map_err(|e| format!("running {}: {e}", program.to_string_lossy()))?;
    Ok(status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        128 + status.signal().unwrap_or(0)
    }))
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
