//! `weavelet new NAME --lang LANG`: a node project that builds and runs as made.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};

/// The languages a project can be made in.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    C,
    Python,
    Js,
    Rhai,
}

#[derive(clap::Args)]
#[command(after_help = "Examples:
  weavelet new my-nodes --lang rust               # then: cd my-nodes && weavelet run .
  weavelet new quick --lang rhai                  # one script, no compiler")]
pub struct NewArgs {
    /// The project's folder (created; it must not exist or be empty). Its last
    /// part names the project.
    path: PathBuf,
    /// The language of its nodes.
    #[arg(long, value_enum)]
    lang: Lang,
    /// The Rust SDK (`sdk/` of a Weavelet checkout) for `--lang rust`. Default:
    /// a copy of the one this `weavelet` was built with, written into the project.
    #[arg(long)]
    sdk: Option<PathBuf>,
}

/// A template file: its path in the project and its text, with `{{name}}` and `{{sdk}}`.
type Template = (&'static str, &'static str);

const RUST: &[Template] = &[
    ("Cargo.toml", include_str!("../templates/rust/Cargo.toml")),
    ("src/lib.rs", include_str!("../templates/rust/src/lib.rs")),
    ("weavelet.toml", include_str!("../templates/rust/weavelet.toml")),
    (".gitignore", include_str!("../templates/rust/gitignore")),
];
const C: &[Template] = &[
    ("nodes.c", include_str!("../templates/c/nodes.c")),
    ("weavelet.toml", include_str!("../templates/c/weavelet.toml")),
    (".gitignore", include_str!("../templates/c/gitignore")),
];
const PYTHON: &[Template] = &[
    ("nodes.py", include_str!("../templates/python/nodes.py")),
    ("weavelet.toml", include_str!("../templates/python/weavelet.toml")),
    (".gitignore", include_str!("../templates/python/gitignore")),
];
const JS: &[Template] = &[
    ("nodes.js", include_str!("../templates/js/nodes.js")),
    ("package.json", include_str!("../templates/js/package.json")),
    // The versions `guests/js` is built and tested with, indirect ones included.
    ("package-lock.json", include_str!("../../../guests/js/package-lock.json")),
    ("weavelet.toml", include_str!("../templates/js/weavelet.toml")),
    (".gitignore", include_str!("../templates/js/gitignore")),
];
const RHAI: &[Template] = &[
    ("nodes.rhai", include_str!("../templates/rhai/nodes.rhai")),
    ("weavelet.toml", include_str!("../templates/rhai/weavelet.toml")),
    (".gitignore", include_str!("../templates/rhai/gitignore")),
];

/// The Rust SDK as this binary was built with it, written into each Rust
/// project (`weavelet-sdk/`): the project builds anywhere, with `cargo` alone
/// too, and with exactly the WIT package this `weavelet` runs.
const SDK: &[Template] = &[
    ("weavelet-sdk/Cargo.toml", include_str!("../../../sdk/Cargo.toml")),
    ("weavelet-sdk/src/lib.rs", include_str!("../../../sdk/src/lib.rs")),
    ("weavelet-sdk/src/graphics.rs", include_str!("../../../sdk/src/graphics.rs")),
    ("weavelet-sdk/src/http.rs", include_str!("../../../sdk/src/http.rs")),
    ("weavelet-sdk/src/table.rs", include_str!("../../../sdk/src/table.rs")),
    ("weavelet-sdk/macros/Cargo.toml", include_str!("../../../sdk/macros/Cargo.toml")),
    ("weavelet-sdk/macros/src/lib.rs", include_str!("../../../sdk/macros/src/lib.rs")),
    ("weavelet-sdk/wit/node.wit", include_str!("../../../wit/node.wit")),
];

/// The workspace manifest the SDK's `*.workspace = true` settings come from.
const WORKSPACE: &str = include_str!("../../../Cargo.toml");

/// `manifest` (one of the SDK's) standing alone: each setting and dependency
/// it takes from the workspace written out as the workspace gives it, the
/// workspace's lints left out. `Err` names a setting the workspace lacks.
fn standalone(manifest: &str) -> Result<String, String> {
    // `[workspace.package]` and `[workspace.dependencies]` entries, one line each.
    let mut table = "";
    let mut package = Vec::new();
    let mut dependencies = Vec::new();
    for line in WORKSPACE.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            table = line;
        } else if let Some((key, value)) = line.split_once(" = ") {
            match table {
                "[workspace.package]" => package.push((key.trim(), value.trim())),
                "[workspace.dependencies]" => dependencies.push((key.trim(), value.trim())),
                _ => {}
            }
        }
    }
    let mut out = String::new();
    let mut section = "";
    for line in manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed;
            if section == "[lints]" {
                continue;
            }
        } else if section == "[lints]" {
            continue;
        }
        match trimmed.strip_suffix(".workspace = true") {
            Some(key) => {
                let from = if section == "[package]" { &package } else { &dependencies };
                let value = from
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| *v)
                    .ok_or_else(|| format!("the workspace sets no `{key}`"))?;
                // A published crate is not: the copy is the project's own.
                let value = if key == "publish" { "false" } else { value };
                out.push_str(&format!("{key} = {value}\n"));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    Ok(out)
}

/// An SDK file as the project holds it.
fn sdk_file(file: &str, text: &str) -> anyhow::Result<String> {
    if file.ends_with("Cargo.toml") {
        return standalone(text).map_err(|e| anyhow!("writing the Rust SDK's {file}: {e}"));
    }
    // The WIT package sits inside the copied SDK, not beside it.
    Ok(if file == "weavelet-sdk/src/lib.rs" {
        text.replace("path: \"../wit\"", "path: \"wit\"")
    } else {
        text.to_string()
    })
}

/// What to do after `weavelet new`, per language.
fn next_steps(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "weavelet run .            # builds the crate for wasm32-wasip2, then runs it",
        Lang::C => {
            "weavelet run .            # needs clang-16, lld-16, wasi-libc and wit-bindgen (see the README)"
        }
        Lang::Python => "weavelet run .            # needs componentize-py 0.25.1 (see the README)",
        Lang::Js => {
            "npm ci && weavelet run .  # npm installs jco and componentize-js, pinned by package-lock.json"
        }
        Lang::Rhai => "weavelet run .",
    }
}

pub fn run(args: NewArgs) -> anyhow::Result<ExitCode> {
    // `weavelet new .` in an empty folder takes the folder's name.
    let named = if args.path.is_dir() {
        args.path.canonicalize().unwrap_or(args.path.clone())
    } else {
        args.path.clone()
    };
    let name = named
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| anyhow!("{} has no name to give the project", args.path.display()))?;
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        bail!(
            "`{name}` cannot name a project: start with a lowercase letter and use lowercase letters, digits, `-` and `_`"
        );
    }
    if args.path.exists() && std::fs::read_dir(&args.path).map(|mut d| d.next().is_some()).unwrap_or(true) {
        bail!("{} already exists and is not empty; choose a new folder", args.path.display());
    }
    // The Rust SDK: a checkout's, when given; else the copy written into the project.
    let sdk = match (args.lang, args.sdk) {
        (Lang::Rust, Some(sdk)) if !sdk.join("Cargo.toml").is_file() => {
            bail!(
                "{} is not the Rust SDK: it holds no Cargo.toml (give the `sdk` folder of a Weavelet checkout)",
                sdk.display()
            );
        }
        (Lang::Rust, Some(sdk)) => Some(sdk.canonicalize().unwrap_or(sdk)),
        (_, _) => None,
    };
    let templates = match args.lang {
        Lang::Rust => RUST,
        Lang::C => C,
        Lang::Python => PYTHON,
        Lang::Js => JS,
        Lang::Rhai => RHAI,
    };
    // TOML strings take the path as written: escape what TOML would read as escapes.
    let sdk_text = match &sdk {
        Some(sdk) => sdk.to_string_lossy().replace('\\', "\\\\").replace('"', "\\\""),
        None => "weavelet-sdk".to_string(),
    };
    let mut files: Vec<(&str, String)> = Vec::new();
    for (file, text) in templates {
        files.push((file, text.replace("{{name}}", &name).replace("{{sdk}}", &sdk_text)));
    }
    if args.lang == Lang::Rust && sdk.is_none() {
        for (file, text) in SDK {
            files.push((file, sdk_file(file, text)?));
        }
    }
    for (file, text) in &files {
        let path = args.path.join(file);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).with_context(|| format!("creating {}", folder.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    out!("created {} ({} nodes `greeting` and `loud`):", args.path.display(), language(args.lang));
    for (file, _) in templates {
        out!("  {}", args.path.join(file).display());
    }
    if args.lang == Lang::Rust && sdk.is_none() {
        out!("  {} (the Rust SDK this weavelet was built with)", args.path.join("weavelet-sdk").display());
    }
    if args.path == Path::new(".") {
        out!("next:\n  {}", next_steps(args.lang));
    } else {
        out!("next:\n  cd {}\n  {}", args.path.display(), next_steps(args.lang));
    }
    Ok(ExitCode::SUCCESS)
}

fn language(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "Rust",
        Lang::C => "C",
        Lang::Python => "Python",
        Lang::Js => "JavaScript",
        Lang::Rhai => "Rhai",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_copied_sdk_stands_alone() {
        for (file, text) in SDK {
            let copied = sdk_file(file, text).unwrap();
            assert!(!copied.contains(".workspace = true"), "{file}:\n{copied}");
            assert!(!copied.contains("[lints]"), "{file}");
            if file.ends_with("Cargo.toml") {
                assert!(copied.contains("publish = false"), "{file}:\n{copied}");
            }
        }
        let sdk = sdk_file("weavelet-sdk/Cargo.toml", SDK[0].1).unwrap();
        assert!(sdk.contains("wit-bindgen = { version = "), "{sdk}");
        assert!(sdk.contains("weavelet-sdk-macros = { path = \"macros\" }"), "{sdk}");
        let lib = sdk_file("weavelet-sdk/src/lib.rs", SDK[1].1).unwrap();
        assert!(lib.contains("path: \"wit\"") && !lib.contains("../wit"));
        assert_eq!(
            standalone("[package]\nfuture.workspace = true\n"),
            Err("the workspace sets no `future`".into())
        );
    }
}
