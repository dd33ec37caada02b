//! Rust node crates: `cargo build --release --target wasm32-wasip2`, skipped
//! when no file cargo's dep-info lists changed since the last build.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use weavelet_core::Error;

use crate::BuildIn;

/// Download what crate `dir` depends on, outside the sandbox and before the
/// build: cargo itself, run from a neutral folder so that neither the
/// folder's `.cargo/config.toml` nor its `rust-toolchain.toml` applies, and
/// no code of the folder's runs (fetching runs no build script).
fn fetch(cargo: &std::ffi::OsStr, dir: &Path) -> Result<(), Error> {
    let status = Command::new(cargo)
        .current_dir(std::env::temp_dir())
        .args(["fetch", "--target", WASM_TARGET, "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .map_err(|e| {
            Error::build(format!("cannot run cargo to fetch the dependencies of {}: {e}", dir.display()))
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::build(format!(
            "fetching the dependencies of the node crate {} failed (cargo's messages are above)",
            dir.display()
        )))
    }
}

/// The root of the cargo workspace crate `dir` belongs to, and the folder of
/// every package it is built from (after [`fetch`]): what its build may read
/// besides the toolchain and cargo's registry. Asked of cargo from a neutral
/// folder, as [`fetch`] does.
fn workspace_and_packages(cargo: &std::ffi::OsStr, dir: &Path) -> Result<(PathBuf, Vec<PathBuf>), Error> {
    let output = Command::new(cargo)
        .current_dir(std::env::temp_dir())
        .args([
            "metadata",
            "--format-version",
            "1",
            "--frozen",
            "--filter-platform",
            WASM_TARGET,
            "--manifest-path",
        ])
        .arg(dir.join("Cargo.toml"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::build(format!("cannot run cargo to read {}: {e}", dir.display())))?;
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
    let root = metadata["workspace_root"].as_str().map(PathBuf::from);
    let (Some(packages), Some(root)) =
        (metadata["packages"].as_array().filter(|_| output.status.success()), root)
    else {
        return Err(Error::build(format!(
            "cargo cannot list the packages of {}: {}",
            dir.display(),
            weavelet_core::sanitize(String::from_utf8_lossy(&output.stderr).trim())
        )));
    };
    let mut dirs: Vec<PathBuf> = packages
        .iter()
        .filter_map(|p| p["manifest_path"].as_str())
        .filter_map(|m| Path::new(m).parent().map(Path::to_path_buf))
        .collect();
    // A package may inherit settings from its workspace's manifest, and read
    // files of its repository (an SDK's WIT files): the outermost folder
    // above it holding a `Cargo.toml` is readable too.
    let roots: Vec<PathBuf> = dirs
        .iter()
        .filter_map(|d| d.ancestors().skip(1).filter(|a| a.join("Cargo.toml").is_file()).last())
        .map(Path::to_path_buf)
        .collect();
    dirs.extend(roots);
    dirs.push(root.clone());
    dirs.sort();
    dirs.dedup();
    Ok((root, dirs))
}

/// The target Rust node crates are built for.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// Make sure the `wasm32-wasip2` standard library is installed, installing it
/// with rustup if it is missing.
pub fn ensure_wasm_target(on_step: crate::StepSink<'_>) -> Result<(), Error> {
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| Error::build(format!("cannot run rustc ({e}); install Rust with rustup first")))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib").join(WASM_TARGET).is_dir() {
        return Ok(());
    }
    on_step(&format!("installing the {WASM_TARGET} target with rustup (once)"));
    let status = Command::new("rustup").args(["target", "add", WASM_TARGET]).status();
    match status {
        Ok(s) if s.success() => Ok(()),
        _ => Err(Error::build(format!(
            "the {WASM_TARGET} target is not installed and could not be installed automatically; run: rustup target add {WASM_TARGET}"
        ))),
    }
}

fn target_dir(dir: &Path, cache_dir: Option<&Path>) -> PathBuf {
    match cache_dir {
        Some(c) => c.join("cargo-target"),
        None => dir.join("target"),
    }
}

/// Where the `.wasm` last built from crate `dir` is noted.
fn stamp(dir: &Path, cache_dir: Option<&Path>) -> PathBuf {
    let digest = weavelet_core::key::sha256(dir.to_string_lossy().as_bytes());
    target_dir(dir, cache_dir).join("weavelet-built").join(&weavelet_core::key::hex(&digest)[..16])
}

/// The component built earlier from crate `dir`, if no file it was built
/// from changed since: the sources in cargo's dep-info (`.d`) beside it, and
/// the `Cargo.toml` of every crate they belong to and the `Cargo.lock` above.
/// Then `cargo build` (tens of milliseconds even when nothing changed) is skipped.
pub fn fresh_component(dir: &Path, cache_dir: Option<&Path>) -> Option<PathBuf> {
    let note = stamp(dir, cache_dir);
    let wasm = PathBuf::from(std::fs::read_to_string(&note).ok()?.trim());
    // The note is written after every build cargo found up to date, so it,
    // not the `.wasm` (left alone by a build with nothing to do), says when
    // the inputs were last known to be built.
    let built =
        std::fs::metadata(&wasm).ok()?.modified().ok()?.max(std::fs::metadata(&note).ok()?.modified().ok()?);
    let depinfo = std::fs::read_to_string(wasm.with_extension("d")).ok()?;
    let (_, deps) = depinfo.lines().next()?.split_once(": ")?;
    // Spaces in paths are escaped as `\ `.
    let deps = deps.replace("\\ ", "\u{0}");
    let mut inputs: Vec<PathBuf> =
        deps.split(' ').filter(|d| !d.is_empty()).map(|d| PathBuf::from(d.replace('\u{0}', " "))).collect();
    let mut manifests: Vec<PathBuf> = Vec::new();
    for start in inputs.iter().map(|p| p.as_path()).chain([dir.join("Cargo.toml").as_path()]) {
        let mut folder = start.parent();
        while let Some(f) = folder {
            if f.join("Cargo.toml").is_file() && !manifests.contains(&f.join("Cargo.toml")) {
                manifests.push(f.join("Cargo.toml"));
            }
            if f.join("Cargo.lock").is_file() {
                manifests.push(f.join("Cargo.lock"));
                break;
            }
            folder = f.parent();
        }
    }
    inputs.extend(manifests);
    let unchanged = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).is_ok_and(|t| t <= built);
    inputs.iter().all(unchanged).then_some(wasm)
}

/// Where a crate built in the sandbox is built: a target folder of its
/// cargo workspace's own (`root`), so its build scripts cannot touch what the
/// builds of other workspaces left (those of other pipelines, or trusted ones).
fn sandboxed_target_dir(dir: &Path, root: &Path, cache_dir: Option<&Path>) -> PathBuf {
    match cache_dir {
        Some(c) => {
            let digest = weavelet_core::key::sha256(root.to_string_lossy().as_bytes());
            c.join("cargo-target").join("sandboxed").join(&weavelet_core::key::hex(&digest)[..16])
        }
        None => dir.join("target"),
    }
}

/// Build a Rust node crate as a component and return the `.wasm` file.
pub fn build(
    dir: &Path,
    cache_dir: Option<&Path>,
    place: &BuildIn,
    on_step: crate::StepSink<'_>,
) -> Result<PathBuf, Error> {
    ensure_wasm_target(on_step)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    command.current_dir(dir).args([
        "build",
        "--release",
        "--target",
        WASM_TARGET,
        "--message-format=json-render-diagnostics",
    ]);
    let (target_dir, readable) = match place {
        BuildIn::Host => (target_dir(dir, cache_dir), Vec::new()),
        BuildIn::Sandbox(_) => {
            fetch(&cargo, dir)?;
            // Everything was fetched above: the build has no network.
            command.arg("--frozen");
            let (root, readable) = workspace_and_packages(&cargo, dir)?;
            let target = sandboxed_target_dir(dir, &root, cache_dir);
            std::fs::create_dir_all(target.join("tmp"))
                .map_err(|e| Error::io(format!("creating {}", target.display()), e))?;
            (target, readable)
        }
    };
    command.arg("--target-dir").arg(&target_dir).arg("--manifest-path").arg(dir.join("Cargo.toml"));
    if let BuildIn::Sandbox(sandbox) = place {
        command =
            sandbox.wrap(&command, &readable, std::slice::from_ref(&target_dir), target_dir.join("tmp"));
    }
    let limit = crate::build_timeout()?;
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    let output = crate::run_within(&mut command, limit)
        .map_err(|e| Error::build(format!("cannot run cargo to build {}: {e}", dir.display())))?;
    let Some(status) = output.status else {
        return Err(Error::build(format!(
            "building the node crate {} took longer than {limit:?} and was stopped (WEAVELET_BUILD_TIMEOUT sets the \
             limit)",
            dir.display(),
        )));
    };
    if status.code() == Some(weavelet_isolate::SANDBOX_FAILED) {
        return Err(Error::build(format!(
            "cannot build the node crate {} in the build sandbox (the reason is above)\n{}",
            dir.display(),
            crate::sandbox_help(dir)
        )));
    }
    if !status.success() {
        let sandboxed = match place {
            BuildIn::Sandbox(_) => format!("\n{}", crate::SANDBOXED),
            BuildIn::Host => String::new(),
        };
        return Err(Error::build(format!(
            "building the node crate {} failed (cargo's messages are above){sandboxed}",
            dir.display()
        )));
    }
    let manifest_path = dir.join("Cargo.toml").canonicalize().unwrap_or_else(|_| dir.join("Cargo.toml"));
    let mut found = None;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let same_package =
            msg["manifest_path"].as_str().map(PathBuf::from).and_then(|p| p.canonicalize().ok())
                == Some(manifest_path.clone());
        if !same_package {
            continue;
        }
        if let Some(files) = msg["filenames"].as_array() {
            for f in files.iter().filter_map(|f| f.as_str()) {
                if f.ends_with(".wasm") {
                    found = Some(PathBuf::from(f));
                }
            }
        }
    }
    let wasm = found.ok_or_else(|| {
        Error::build(format!(
            "building {} produced no .wasm file; a node crate needs `crate-type = [\"cdylib\"]` under [lib]",
            dir.display()
        ))
    })?;
    // Noted for `fresh_component`; without the note the next run asks cargo again.
    let note = stamp(dir, cache_dir);
    if let Some(folder) = note.parent()
        && std::fs::create_dir_all(folder).is_ok()
    {
        let _ = std::fs::write(&note, wasm.to_string_lossy().as_bytes());
    }
    Ok(wasm)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::{Duration, SystemTime};

    /// A crate folder built earlier: its sources, the `.wasm` cargo made, the
    /// dep-info beside it and Weavelet's note of where the `.wasm` is.
    fn built_crate(root: &std::path::Path) -> std::path::PathBuf {
        let krate = root.join("nodes");
        std::fs::create_dir_all(krate.join("src")).unwrap();
        std::fs::write(krate.join("Cargo.toml"), "[package]\nname = \"nodes\"\n").unwrap();
        std::fs::write(root.join("Cargo.lock"), "").unwrap();
        std::fs::write(krate.join("src/lib.rs"), "// nodes").unwrap();
        let cache = root.join("cache");
        let out = super::target_dir(&krate, Some(&cache)).join("wasm32-wasip2/release");
        std::fs::create_dir_all(&out).unwrap();
        let wasm = out.join("nodes.wasm");
        std::fs::write(
            out.join("nodes.d"),
            format!("{}: {}\n", wasm.display(), krate.join("src/lib.rs").display()),
        )
        .unwrap();
        std::fs::write(&wasm, b"\0asm").unwrap();
        let note = super::stamp(&krate, Some(&cache));
        std::fs::create_dir_all(note.parent().unwrap()).unwrap();
        std::fs::write(&note, wasm.to_string_lossy().as_bytes()).unwrap();
        // The sources are older than the build.
        let old = SystemTime::now() - Duration::from_secs(60);
        for f in [krate.join("Cargo.toml"), krate.join("src/lib.rs"), root.join("Cargo.lock")] {
            std::fs::File::options().write(true).open(&f).unwrap().set_modified(old).unwrap();
        }
        krate
    }

    #[test]
    fn a_crate_is_built_again_only_when_a_file_it_is_built_from_changed() {
        let root = tempfile::tempdir().unwrap();
        let krate = built_crate(root.path());
        let cache = root.path().join("cache");
        assert!(super::fresh_component(&krate, Some(&cache)).is_some(), "nothing changed since the build");
        for changed in ["nodes/src/lib.rs", "nodes/Cargo.toml", "Cargo.lock"] {
            let root = tempfile::tempdir().unwrap();
            let krate = built_crate(root.path());
            let cache = root.path().join("cache");
            let file = root.path().join(changed);
            std::fs::File::options()
                .write(true)
                .open(&file)
                .unwrap()
                .set_modified(SystemTime::now() + Duration::from_secs(5))
                .unwrap();
            assert!(super::fresh_component(&krate, Some(&cache)).is_none(), "{changed} changed: build again");
        }
        // A build cargo found nothing to do for leaves the `.wasm` as it was,
        // older than a file touched since (a lock above gaining an unrelated
        // package); the note it writes says the folder is built as it is now.
        let root = tempfile::tempdir().unwrap();
        let krate = built_crate(root.path());
        let cache = root.path().join("cache");
        let note = super::stamp(&krate, Some(&cache));
        let wasm = std::path::PathBuf::from(std::fs::read_to_string(&note).unwrap());
        let set = |f: &std::path::Path, t: SystemTime| {
            std::fs::File::options().write(true).open(f).unwrap().set_modified(t).unwrap();
        };
        set(&wasm, SystemTime::now() - Duration::from_secs(50));
        set(&note, SystemTime::now() - Duration::from_secs(50));
        set(&root.path().join("Cargo.lock"), SystemTime::now() - Duration::from_secs(20));
        assert!(super::fresh_component(&krate, Some(&cache)).is_none(), "changed after the build");
        std::fs::write(&note, wasm.to_string_lossy().as_bytes()).unwrap();
        assert!(super::fresh_component(&krate, Some(&cache)).is_some(), "built again (nothing to do) since");
        // Without the note (a crate never built by Weavelet) cargo decides.
        std::fs::remove_dir_all(cache.join("cargo-target/weavelet-built")).unwrap();
        assert!(super::fresh_component(&krate, Some(&cache)).is_none());
    }
}
