//! What this machine has of each language's toolchain, found the way a build
//! finds it (the same programs, the same environment overrides), with the
//! exact way to get what is missing. Runs each tool's `--version` only.

use std::path::Path;
use std::process::Command;

use super::{Language, tool};

/// One thing a build needs, and whether it is here.
#[derive(Debug, Clone)]
pub struct Check {
    /// What it is (`clang-16`, `the wasm32-wasip2 target`).
    pub what: String,
    /// What was found (a version line, a path), or `None`.
    pub found: Option<String>,
    /// How to get it, when it is missing.
    pub fix: String,
}

/// The first line `program --version` prints, if it runs and succeeds.
fn version(program: &std::ffi::OsStr) -> Option<String> {
    let out = Command::new(program).arg("--version").output().ok().filter(|o| o.status.success())?;
    let text = if out.stdout.is_empty() { out.stderr } else { out.stdout };
    String::from_utf8_lossy(&text).lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_string)
}

fn program(var: &str, default: &str, fix: &str) -> Check {
    let program = tool(var, default);
    Check { what: program.to_string_lossy().into_owned(), found: version(&program), fix: fix.to_string() }
}

/// What building `language` node folders needs, checked.
pub fn toolchain(language: Language) -> Vec<Check> {
    match language {
        Language::Rust => {
            let cargo = program("CARGO", "cargo", "install Rust with rustup: https://rustup.rs");
            let sysroot = Command::new("rustc")
                .args(["--print", "sysroot"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
            let target = sysroot
                .as_deref()
                .map(|root| Path::new(root).join("lib/rustlib/wasm32-wasip2"))
                .filter(|p| p.is_dir())
                .map(|p| p.display().to_string());
            vec![
                cargo,
                Check {
                    what: "the wasm32-wasip2 target".into(),
                    found: target,
                    fix: "rustup target add wasm32-wasip2".into(),
                },
            ]
        }
        Language::C => {
            let apt = "sudo apt-get install clang-16 lld-16 wasi-libc libclang-rt-16-dev-wasm32";
            let header = Path::new("/usr/include/wasm32-wasi/stdio.h");
            vec![
                program("CC", "clang-16", &format!("{apt} (or CC=/path/to/clang)")),
                Check {
                    what: "wasi-libc".into(),
                    found: header.is_file().then(|| header.display().to_string()),
                    fix: apt.into(),
                },
                program(
                    "WIT_BINDGEN",
                    "wit-bindgen",
                    "cargo install --locked wit-bindgen-cli --version 0.61.1 --no-default-features --features c",
                ),
            ]
        }
        Language::Python => {
            let mut check = program(
                "COMPONENTIZE_PY",
                "componentize-py",
                "python3 -m venv ~/.cache/weavelet/venv && ~/.cache/weavelet/venv/bin/pip install \
                 componentize-py==0.25.1, then put ~/.cache/weavelet/venv/bin on PATH",
            );
            if let Some(found) = &check.found
                && !found.contains("0.25.1")
            {
                check.fix = format!(
                    "{found} is here; Weavelet is tested with 0.25.1: pip install componentize-py==0.25.1"
                );
                check.found = None;
            }
            vec![check]
        }
        Language::JavaScript => {
            let node_fix = "install Node.js 20.19 or newer (Debian: sudo apt-get install nodejs npm)";
            let mut node = program("NODE", "node", node_fix);
            if let Some(found) = &node.found {
                let numbers: Vec<u32> =
                    found.trim_start_matches('v').split('.').take(2).filter_map(|n| n.parse().ok()).collect();
                if numbers.as_slice() < [20, 19].as_slice() {
                    node.fix = format!("Node.js {found} is too old: {node_fix}");
                    node.found = None;
                }
            }
            vec![
                node,
                program("NPM", "npm", node_fix),
                Check {
                    what: "jco (in each node folder)".into(),
                    found: Some(
                        "installed per folder by `npm ci` (a project from `weavelet new --lang js` lists it)"
                            .into(),
                    ),
                    fix: String::new(),
                },
            ]
        }
    }
}
