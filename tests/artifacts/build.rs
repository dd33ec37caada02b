//! Builds every guest under `guests/` for wasm32-wasip2 and writes their paths
//! into `$OUT_DIR/guests.rs` as constants plus a `foreach_guest!` macro, so
//! tests always run against freshly built components.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest_dir.join("../..");
    let guests = root.join("guests");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    for watched in ["guests", "sdk", "wit", "runtime/wasm/wit-0.3.0"] {
        rerun_for_tree(&root.join(watched));
    }

    ensure_target();
    // A separate target dir: the outer cargo holds the lock on its own.
    let target_dir = out_dir.join("guests-target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&guests)
        .args(["build", "--release", "--workspace", "--target", TARGET, "--target-dir"])
        .arg(&target_dir);
    // Flags meant for the host build must not leak into the guest build.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PROFILE_RELEASE_DEBUG",
    ] {
        cmd.env_remove(var);
    }
    for (k, _) in std::env::vars() {
        if k.starts_with("CARGO_FEATURE_") || k.starts_with("CARGO_CFG_") {
            cmd.env_remove(k);
        }
    }
    let status = cmd.status().unwrap_or_else(|e| fail(&format!("cannot run cargo: {e}")));
    if !status.success() {
        fail("building the guests under guests/ failed; see the errors above");
    }

    let release = target_dir.join(TARGET).join("release");
    let mut consts = String::new();
    let mut names = Vec::new();
    for krate in list_crates(&guests) {
        let lib = krate.replace('-', "_");
        let wasm = release.join(format!("{lib}.wasm"));
        if !wasm.is_file() {
            fail(&format!("expected {} after the guest build", wasm.display()));
        }
        let konst = lib.to_uppercase();
        consts.push_str(&format!(
            "/// The compiled `{krate}` guest component.\npub const {konst}: &str = {:?};\n",
            wasm.display().to_string()
        ));
        names.push(konst);
    }
    consts.push_str(&format!(
        "/// Invokes `$mac!(NAME)` for every guest component: a guest without a test fails the build.\n#[macro_export]\nmacro_rules! foreach_guest {{ ($mac:ident) => {{ {} }}; }}\n",
        names.iter().map(|n| format!("$mac!({n});")).collect::<String>()
    ));
    if let Err(e) = std::fs::write(out_dir.join("guests.rs"), consts) {
        fail(&format!("cannot write guests.rs: {e}"));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1)
}

/// Install the wasm target if rustup can; otherwise say exactly what to run.
fn ensure_target() {
    let sysroot = Command::new("rustc").args(["--print", "sysroot"]).output();
    let installed = sysroot
        .map(|o| {
            PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).join("lib/rustlib").join(TARGET).is_dir()
        })
        .unwrap_or(false);
    if installed {
        return;
    }
    let added =
        Command::new("rustup").args(["target", "add", TARGET]).status().map(|s| s.success()).unwrap_or(false);
    if !added {
        fail(&format!(
            "the {TARGET} target is missing and rustup could not add it; run: rustup target add {TARGET}"
        ));
    }
}

/// The guest crates: members listed in guests/Cargo.toml, each folder's package name.
fn list_crates(guests: &Path) -> Vec<String> {
    let mut crates = Vec::new();
    let Ok(entries) = std::fs::read_dir(guests) else { return crates };
    let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    dirs.sort();
    for dir in dirs {
        let Ok(toml) = std::fs::read_to_string(dir.join("Cargo.toml")) else { continue };
        if let Some(name) =
            toml.lines().find_map(|l| l.trim().strip_prefix("name = \"").and_then(|r| r.strip_suffix('"')))
        {
            crates.push(name.to_string());
        }
    }
    crates
}

fn rerun_for_tree(dir: &Path) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        // Not what the Rust guests are built from: outputs, other languages' packages.
        let skipped = ["target", "build", "node_modules", "__pycache__"];
        if path
            .file_name()
            .is_some_and(|n| skipped.iter().any(|s| n == *s) || n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        if path.is_dir() {
            rerun_for_tree(&path);
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}
