//! Publishing a node: `weavelet keygen` makes a minisign key pair,
//! `weavelet sign` signs a component file, `weavelet publish` pushes it (and
//! its signature, and its WIT world) to an OCI registry.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, anyhow};

#[derive(clap::Args)]
#[command(after_help = "Examples:
  weavelet keygen --dir keys --name acme          # keys/acme.key (secret), keys/acme.pub")]
pub struct KeygenArgs {
    /// The folder the two key files go to.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// The files' name: `<name>.key` (secret) and `<name>.pub` (public).
    #[arg(long, default_value = "weavelet")]
    name: String,
}

#[derive(clap::Args)]
#[command(after_help = "Examples:
  weavelet sign nodes.wasm --key keys/acme.key    # nodes.wasm.minisig")]
pub struct SignArgs {
    /// The component file to sign (the signature goes to `<file>.minisig`).
    component: PathBuf,
    /// The secret key (from `weavelet keygen`, or any minisign secret key).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
}

#[derive(clap::Args)]
#[command(after_help = "Examples:
  weavelet publish guests/diamond localhost:5000/acme/diamond:1.0 --key keys/acme.key
  weavelet publish nodes.wasm registry.example/ns/nodes:2.1")]
pub struct PublishArgs {
    /// The component file (.wasm), or a node folder already built with `weavelet build`.
    component: PathBuf,
    /// Where to publish it: an OCI reference, `registry.example/ns/name:1.0`.
    reference: String,
    /// Sign it with this secret key first, for this reference (a pipeline
    /// fetching it under another name or tag refuses it); without it,
    /// `<file>.minisig` is published where it exists (from `weavelet sign`).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// A node folder's language, when its files do not tell.
    #[arg(long, value_name = "LANG", value_parser = ["rust", "c", "python", "js"])]
    lang: Option<String>,
    /// The cache folder builds of node folders are in (default: as `weavelet run`).
    #[arg(long, value_name = "DIR", env = "WEAVELET_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
}

pub fn keygen(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    let (secret, public, key, id) = weavelet::trust::keygen(&args.dir, &args.name)?;
    eprintln!(
        "wrote {} (secret: keep it to yourself; it is not encrypted) and {}",
        secret.display(),
        public.display()
    );
    out!("key ID {id}");
    out!("public key {key}");
    out!();
    out!("A pipeline that accepts components signed by this key lists it in weavelet.toml:");
    out!("[trust]");
    out!("keys = [\"{key}\"]");
    Ok(ExitCode::SUCCESS)
}

pub fn sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    let (path, id) = weavelet::trust::sign(&args.component, &args.key, None)?;
    eprintln!("signed {} with key {id}: {}", args.component.display(), path.display());
    Ok(ExitCode::SUCCESS)
}

pub fn publish(mut args: PublishArgs) -> anyhow::Result<ExitCode> {
    let runtime = super::build::runtime(args.cache_dir.as_deref())?;
    if args.component.is_dir() {
        args.component = super::build::built_folder(&runtime, &args.component, args.lang.as_deref())?;
    }
    // Only a component Weavelet can load is published: its declarations are read and checked.
    let module = runtime.load_component(&args.component)?;
    let signed_by = match &args.key {
        Some(key) => Some(weavelet::trust::sign(&args.component, key, Some(&args.reference))?.1),
        None => None,
    };
    let signature_file = weavelet::trust::signature_path(&args.component);
    let signature = match std::fs::read_to_string(&signature_file) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", signature_file.display())),
    };
    let signer = match &signature {
        Some(text) => Some(
            weavelet::trust::signature_key_id(text)
                .map_err(|e| anyhow!("{}: {e}", signature_file.display()))?,
        ),
        None => None,
    };
    // A signature of another file (signed before a rebuild) would only be refused by every user.
    let digest = module.content_hash();
    if signed_by.is_none()
        && let Some(text) = &signature
        && text.contains("weavelet component sha256:")
        && !text.contains(&format!("sha256:{digest}"))
    {
        return Err(anyhow!(
            "{} was not made for this file (its trusted comment names another SHA-256; was the component \
             rebuilt?): sign it again with `weavelet sign {} --key ...`",
            signature_file.display(),
            args.component.display()
        ));
    }
    let bytes =
        std::fs::read(&args.component).with_context(|| format!("reading {}", args.component.display()))?;
    let wit = weavelet::oci::wit_world(&bytes).map_err(|e| anyhow!("{}: {e}", args.component.display()))?;
    eprintln!("pushing {} to {}", args.component.display(), args.reference);
    let pushed = weavelet::oci::push(&args.reference, bytes, signature.map(String::into_bytes), Some(wit))
        .map_err(|e| anyhow!("cannot publish {}: {e}", args.component.display()))?;
    let nodes: Vec<&str> = module.decls().map(|d| d.name.as_str()).collect();
    eprintln!("published {} ({})", args.reference, pushed);
    out!("published {}: nodes {}", args.reference, nodes.join(", "));
    out!(
        "signature: {}",
        match signer {
            Some(id) => format!("signed by key {id}"),
            None => "unsigned (`weavelet sign` or --key signs it)".into(),
        }
    );
    out!();
    out!("A pipeline uses it with `weavelet add {}`, which pins:", args.reference);
    out!("[[components]]");
    out!("oci = \"{}\"", args.reference);
    out!("sha256 = \"{digest}\"");
    Ok(ExitCode::SUCCESS)
}
