//! Finds the WASI WIT packages of the `wasmtime-wasi-http` this workspace
//! links (the interfaces the host implements) and lists them for the binary:
//! componentize-py needs them, as WIT files, to build Python nodes that send
//! HTTP requests. Nothing is copied into the source tree; the files are read
//! from the dependency where cargo unpacked it.

use std::path::PathBuf;

fn main() {
    if let Err(why) = run() {
        eprintln!("weavelet-build's build script: {why}");
        std::process::exit(1);
    }
}

fn env(name: &str) -> Result<std::ffi::OsString, String> {
    std::env::var_os(name).ok_or_else(|| format!("cargo did not set {name}"))
}

fn run() -> Result<(), String> {
    let out = PathBuf::from(env("OUT_DIR")?);
    let manifest = PathBuf::from(env("CARGO_MANIFEST_DIR")?).join("Cargo.toml");
    let metadata = std::process::Command::new(env("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--offline", "--manifest-path"])
        .arg(&manifest)
        // Only the packages this build has (others' manifests were never downloaded).
        .arg("--filter-platform")
        .arg(env("TARGET")?)
        .output()
        .map_err(|e| format!("running `cargo metadata` to find wasmtime-wasi-http's WIT files: {e}"))?;
    if !metadata.status.success() {
        return Err(format!("`cargo metadata` failed: {}", String::from_utf8_lossy(&metadata.stderr)));
    }
    let metadata: serde_json::Value = serde_json::from_slice(&metadata.stdout)
        .map_err(|e| format!("`cargo metadata` printed no JSON: {e}"))?;
    let package = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "wasmtime-wasi-http")
        .ok_or("wasmtime-wasi-http is not among the workspace's packages")?;
    let crate_manifest = PathBuf::from(package["manifest_path"].as_str().ok_or("no manifest path")?);
    let deps = crate_manifest.parent().ok_or("no crate folder")?.join("wit/deps");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&deps)
        .map_err(|e| format!("reading {}: {e}", deps.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|x| x == "wit"))
        .collect();
    files.sort();
    let mut listing = String::from("/// The WASI packages wasi:http needs, one folder each under `deps/`.\n");
    listing.push_str("pub(crate) const WASI_WIT: &[(&str, &str)] = &[\n");
    let mut version = None;
    for file in &files {
        let stem = file.file_stem().and_then(|s| s.to_str()).ok_or("a WIT file name that is not UTF-8")?;
        let path = file.to_str().ok_or("a WIT file path that is not UTF-8")?;
        listing.push_str(&format!("    (\"deps/{stem}/{stem}.wit\", include_str!({path:?})),\n"));
        println!("cargo:rerun-if-changed={path}");
        if stem == "http" {
            // The version of wasi:http they define, which a world importing it must name.
            let text = std::fs::read_to_string(file).map_err(|e| format!("reading {path}: {e}"))?;
            version = text
                .lines()
                .find_map(|line| line.trim().strip_prefix("package wasi:http@"))
                .map(|v| v.trim_end_matches(';').trim().to_string());
        }
    }
    listing.push_str("];\n");
    let version = version.ok_or_else(|| format!("no `package wasi:http@...;` in {}", deps.display()))?;
    listing.push_str(&format!(
        "/// The version of `wasi:http` they define.\npub(crate) const WASI_HTTP_VERSION: &str = {version:?};\n"
    ));
    let generated = out.join("wasi_wit.rs");
    std::fs::write(&generated, listing).map_err(|e| format!("writing {}: {e}", generated.display()))?;
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../../Cargo.lock");
    Ok(())
}
