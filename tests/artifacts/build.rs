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
    for watched in ["guests", "sdk", "wit"] {
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
    for (konst, wasm) in build_wat_guests(&root, &out_dir) {
        consts.push_str(&format!(
            "/// A hostile component built from WebAssembly text.\npub const {konst}: &str = {:?};\n",
            wasm.display().to_string()
        ));
    }
    consts.push_str(&format!(
        "/// Invokes `$mac!(NAME)` for every guest component: a guest without a test fails the build.\n#[macro_export]\nmacro_rules! foreach_guest {{ ($mac:ident) => {{ {} }}; }}\n",
        names.iter().map(|n| format!("$mac!({n});")).collect::<String>()
    ));
    if let Err(e) = std::fs::write(out_dir.join("guests.rs"), consts) {
        fail(&format!("cannot write guests.rs: {e}"));
    }
}

/// Turn every `guests/wat/*.wat` core module into a component (see the README
/// there); returns each constant name (`<FILE>_WAT`) and file.
fn build_wat_guests(root: &Path, out_dir: &Path) -> Vec<(String, PathBuf)> {
    let mut resolve = wit_parser::Resolve::default();
    let world = resolve
        .push_path(root.join("wit"))
        .and_then(|(pkg, _)| resolve.select_world(&[pkg], Some("module")))
        .unwrap_or_else(|e| fail(&format!("cannot read wit/: {e:#}")));
    let Ok(entries) = std::fs::read_dir(root.join("guests/wat")) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "wat"))
        .collect();
    files.sort();
    let dir = out_dir.join("wat");
    let _ = std::fs::create_dir_all(&dir);
    files
        .into_iter()
        .map(|file| {
            let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let text =
                std::fs::read_to_string(&file).unwrap_or_else(|e| fail(&format!("{}: {e}", file.display())));
            let mut module = wat::parse_str(expand_markers(&text))
                .unwrap_or_else(|e| fail(&format!("{}: {e}", file.display())));
            let component = wit_component::embed_component_metadata(
                &mut module,
                &resolve,
                world,
                wit_component::StringEncoding::UTF8,
            )
            .and_then(|()| {
                wit_component::ComponentEncoder::default().module(&module)?.validate(true).encode()
            })
            .unwrap_or_else(|e| fail(&format!("{}: cannot make a component: {e:#}", file.display())));
            let wasm = dir.join(format!("{stem}.wasm"));
            std::fs::write(&wasm, component).unwrap_or_else(|e| fail(&format!("{}: {e}", wasm.display())));
            (format!("{}_WAT", stem.to_uppercase()), wasm)
        })
        .collect()
}

/// Expand `(; weavelet:node NAME ;)` and `(; weavelet:realloc ;)`.
fn expand_markers(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let marker = line.trim().strip_prefix("(; weavelet:").and_then(|m| m.strip_suffix(" ;)"));
        match marker.map(|m| m.split_once(' ').unwrap_or((m, ""))) {
            Some(("node", name)) => out.push_str(&declare_node(name)),
            Some(("realloc", _)) => out.push_str(BUMP_REALLOC),
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// A bump allocator from 4096 up; memory is never freed (one call per instance).
const BUMP_REALLOC: &str = r#"
  (global $next (mut i32) (i32.const 4096))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $at i32)
    (local.set $at (i32.and (i32.add (global.get $next) (i32.sub (local.get 2) (i32.const 1)))
                            (i32.sub (i32.const 0) (local.get 2))))
    (global.set $next (i32.add (local.get $at) (local.get 3)))
    (if (i32.gt_u (global.get $next) (i32.mul (memory.size 0) (i32.const 65536)))
      (then unreachable))
    (local.get $at))"#;

/// `nodes` answering one node `name` (no inputs, an `int` output), laid out
/// as the canonical ABI wants it: the list at 128, its one `node-decl` at 256,
/// the name at 1024; and `ok(int 7)` at 64 for `run` to return.
fn declare_node(name: &str) -> String {
    let words = |ws: &[u32]| ws.iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<u8>>();
    let escape = |bytes: &[u8]| bytes.iter().map(|b| format!("\\{b:02x}")).collect::<String>();
    let list = words(&[256, 1]);
    // name, doc, inputs, output (value-type `int` = 3, padded), output-columns, capabilities
    let mut decl = words(&[1024, name.len() as u32, 1024, 0, 0, 0]);
    decl.extend([3, 0, 0, 0]);
    decl.extend(words(&[0, 0, 0, 0]));
    // result<value, node-error>: ok (0), then at 8 the value case `int` (2), at 16 the s64 7.
    let mut result = vec![0u8; 24];
    result[8] = 2;
    result[16] = 7;
    format!(
        r#"  (data (i32.const 64) "{}")
  (data (i32.const 128) "{}")
  (data (i32.const 256) "{}")
  (data (i32.const 1024) "{name}")
  (func (export "weavelet:node/node@0.3.0#nodes") (result i32) (i32.const 128))"#,
        escape(&result),
        escape(&list),
        escape(&decl)
    )
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
        if path.file_name().is_some_and(|n| n == "target") {
            continue;
        }
        if path.is_dir() {
            rerun_for_tree(&path);
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}
