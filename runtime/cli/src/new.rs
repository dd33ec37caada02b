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
    /// the one this `weavelet` was built from.
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

/// The Rust SDK beside the runtime crate this binary was built from.
fn default_sdk() -> Option<PathBuf> {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk");
    sdk.join("Cargo.toml").is_file().then(|| sdk.canonicalize().unwrap_or(sdk))
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
    let sdk = match (args.lang, args.sdk) {
        (Lang::Rust, Some(sdk)) if !sdk.join("Cargo.toml").is_file() => {
            bail!(
                "{} is not the Rust SDK: it holds no Cargo.toml (give the `sdk` folder of a Weavelet checkout)",
                sdk.display()
            );
        }
        (Lang::Rust, Some(sdk)) => sdk.canonicalize().unwrap_or(sdk),
        (Lang::Rust, None) => default_sdk().ok_or_else(|| {
            anyhow!(
                "this weavelet was not built from a checkout that still holds its Rust SDK; \
                 pass --sdk PATH (the `sdk` folder of a Weavelet checkout)"
            )
        })?,
        (_, _) => PathBuf::new(),
    };
    let templates = match args.lang {
        Lang::Rust => RUST,
        Lang::C => C,
        Lang::Python => PYTHON,
        Lang::Js => JS,
        Lang::Rhai => RHAI,
    };
    // TOML strings take the path as written: escape what TOML would read as escapes.
    let sdk_text = sdk.to_string_lossy().replace('\\', "\\\\").replace('"', "\\\"");
    for (file, text) in templates {
        let path = args.path.join(file);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).with_context(|| format!("creating {}", folder.display()))?;
        }
        let text = text.replace("{{name}}", &name).replace("{{sdk}}", &sdk_text);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    out!("created {} ({} nodes `greeting` and `loud`):", args.path.display(), language(args.lang));
    for (file, _) in templates {
        out!("  {}", args.path.join(file).display());
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
