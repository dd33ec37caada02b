//! `weavelet --version` names what a bug report needs: the engines this
//! binary was built with (from Cargo.lock, here) and the WIT contracts it runs
//! (`weavelet::CONTRACT`, `OLDER_CONTRACTS`, in `main.rs`).

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
    println!(
        "cargo:rustc-env=WEAVELET_ENGINES=wasmtime {}, rhai {}, polars {}",
        locked(&lock, "wasmtime"),
        locked(&lock, "rhai"),
        locked(&lock, "polars")
    );
    println!("cargo:rerun-if-changed=../../Cargo.lock");
    println!("cargo:rerun-if-changed=build.rs");
}
