//! `weavelet --version` names what a bug report needs: the engines this
//! binary was built with (from Cargo.lock) and the WIT package its nodes
//! target (from wit/node.wit), and the older ones it still runs (the frozen
//! `runtime/wasm/wit-<version>/` folders).

fn locked(lock: &str, name: &str) -> String {
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{name}\"")
            && let Some(version) = lines.next().and_then(|l| l.trim().strip_prefix("version = "))
        {
            return version.trim_matches('"').to_string();
        }
    }
    "?".into()
}

fn main() {
    let lock = std::fs::read_to_string("../../Cargo.lock").unwrap_or_default();
    let wit = std::fs::read_to_string("../../wit/node.wit").unwrap_or_default();
    let package = wit
        .lines()
        .find_map(|l| l.trim().strip_prefix("package "))
        .map_or("?", |p| p.trim_end_matches(';').trim())
        .to_string();
    let mut older: Vec<String> = std::fs::read_dir("../wasm")
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.file_name().to_str()?.strip_prefix("wit-").map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    older.sort_by(|a, b| b.cmp(a));
    let also = if older.is_empty() { String::new() } else { format!(", also runs {}", older.join(", ")) };
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    println!(
        "cargo:rustc-env=WEAVELET_LONG_VERSION={version} (WIT {package}{also}; wasmtime {}, rhai {}, polars {})",
        locked(&lock, "wasmtime"),
        locked(&lock, "rhai"),
        locked(&lock, "polars")
    );
    println!("cargo:rerun-if-changed=../../Cargo.lock");
    println!("cargo:rerun-if-changed=../../wit/node.wit");
    println!("cargo:rerun-if-changed=../wasm");
    println!("cargo:rerun-if-changed=build.rs");
}
