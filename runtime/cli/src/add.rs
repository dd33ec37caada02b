//! `weavelet add URL`: fetch a published component, show what it is and
//! what it asks for, and only on confirmation pin it in the pipeline's
//! `weavelet.toml` (`url` with the `sha256` of the file just reviewed).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, anyhow};

#[derive(clap::Args)]
pub struct AddArgs {
    /// Where the component file is published (https://, or http:// for a local server).
    url: String,
    /// The pipeline to add it to: a weavelet.toml, or a folder holding one.
    #[arg(long, default_value = ".")]
    to: PathBuf,
    /// The SHA-256 the publisher lists: the file is refused unless it has it.
    #[arg(long, value_name = "HEX")]
    sha256: Option<String>,
    /// Add it without asking (for scripts: review it with `weavelet inspect` first).
    #[arg(long, short = 'y')]
    yes: bool,
    /// The cache folder downloads go to (default: as `weavelet run`).
    #[arg(long, value_name = "DIR", env = "WEAVELET_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
}

pub fn run(args: AddArgs) -> anyhow::Result<ExitCode> {
    let manifest = weavelet::manifest::locate(&args.to)?;
    let text =
        std::fs::read_to_string(&manifest).with_context(|| format!("reading {}", manifest.display()))?;
    let runtime = super::build::runtime(args.cache_dir.as_deref())?;
    let expected = args.sha256.as_deref().map(str::to_ascii_lowercase);
    let file = runtime.fetch_component(&args.url, expected.as_deref(), &mut |step| eprintln!("{step}"))?;
    let module = runtime.load_component(&file)?;
    let digest = module.content_hash();
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let listed = text.lines().any(|line| {
        let line = line.trim();
        (line.starts_with("url") && line.contains(&format!("\"{}\"", args.url)))
            || (line.starts_with("sha256") && line.contains(&digest))
    });
    if listed {
        return Err(anyhow!(
            "{} already lists {} (or a component with SHA-256 {digest}); change its entry by hand to pin another \
             digest",
            manifest.display(),
            args.url
        ));
    }

    super::inspect::review(&runtime, std::path::Path::new(&args.url), &module, size);
    out!();
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(anyhow!(
                "weavelet add asks before it changes {}: run it in a terminal, or pass --yes once you have reviewed \
                 the component above",
                manifest.display()
            ));
        }
        eprint!("add it to {}, pinned to SHA-256 {digest}? [y/N] ", manifest.display());
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("not added; {} is unchanged", manifest.display());
            return Ok(ExitCode::from(1));
        }
    }
    // The lock records what was reviewed (`weavelet run` refuses a manifest
    // that disagrees with it); written first, so a failure leaves the manifest as it was.
    let lock = manifest.with_file_name(weavelet::manifest::LOCK_FILE);
    let requests: Vec<String> = module
        .decls()
        .flat_map(|d| d.capabilities.iter().map(move |c| toml_string(&format!("{}: {c}", d.name))))
        .collect();
    let mut locked = String::new();
    if !lock.exists() {
        locked.push_str(
            "# Written by `weavelet add`: each component as it was reviewed. `weavelet run` refuses\n",
        );
        locked.push_str("# a weavelet.toml whose `url` components are not here with the same digest.\n");
    }
    locked.push_str(&format!(
        "\n[[components]]\nurl = {}\nsha256 = \"{digest}\"\nrequests = [{}]\n",
        toml_string(&args.url),
        requests.join(", ")
    ));
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&lock)
        .and_then(|mut f| f.write_all(locked.as_bytes()))
        .with_context(|| format!("writing {}", lock.display()))?;
    let mut entry = String::new();
    if !text.is_empty() && !text.ends_with('\n') {
        entry.push('\n');
    }
    entry.push_str(&format!(
        "\n[[components]]                    # added by `weavelet add`\nurl = {}\nsha256 = \"{digest}\"\n",
        toml_string(&args.url)
    ));
    // Appended, so the rest of the file stays as its author wrote it.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&manifest)
        .and_then(|mut f| f.write_all(entry.as_bytes()))
        .with_context(|| format!("writing {}", manifest.display()))?;
    eprintln!(
        "added {} to {} and {}, pinned to SHA-256 {digest}",
        args.url,
        manifest.display(),
        lock.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04X}", c as u32)),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}
