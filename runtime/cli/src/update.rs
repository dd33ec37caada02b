//! `weavelet update [NAME]`: resolve a newer version of each component the
//! pipeline fetches by reference, review it, and pin it — unless a node now
//! asks for more than the lock recorded at the last review (a new capability,
//! another folder, more environment variables, a node that was not there),
//! which is shown as a diff and needs explicit approval.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, anyhow};
use weavelet::manifest::{Lock, Remote, RemoteEntry};

#[derive(clap::Args)]
#[command(after_help = "Examples:
  weavelet update                                 # newer versions of every fetched component
  weavelet update stats --approve 9c41…           # one that asks for more, after reading its diff")]
pub struct UpdateArgs {
    /// Only the components whose reference contains this text (default: every
    /// component fetched by `url` or `oci`).
    name: Option<String>,
    /// The pipeline: a weavelet.toml, or a folder holding one.
    #[arg(long, default_value = ".")]
    to: PathBuf,
    /// Approve the version with this SHA-256 even where its nodes ask for more
    /// than before (the digest the refused update printed, after reading its diff).
    #[arg(long, value_name = "HEX")]
    approve: Option<String>,
    /// Approve any newer version, whatever it asks for (for scripts that review otherwise).
    #[arg(long, short = 'y')]
    yes: bool,
    /// The cache folder downloads go to (default: as `weavelet run`).
    #[arg(long, value_name = "DIR", env = "WEAVELET_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
}

/// A version-like tag (`1.2`, `v1.2.3`) as numbers, for ordering.
fn version(tag: &str) -> Option<Vec<u64>> {
    let parts: Option<Vec<u64>> =
        tag.strip_prefix('v').unwrap_or(tag).split('.').map(|p| p.parse().ok()).collect();
    parts.filter(|p| !p.is_empty())
}

/// The newest version of `remote`: for an OCI reference with a version tag,
/// the highest version tag of its repository (the same tag where none is
/// higher); anything else, itself (fetched again: it may have changed).
fn newest(remote: &Remote) -> anyhow::Result<Remote> {
    let Remote::Oci(text) = remote else { return Ok(remote.clone()) };
    let Some((repository, tag)) =
        text.rsplit_once(':').filter(|(repo, tag)| !tag.contains('/') && !repo.ends_with('/'))
    else {
        return Ok(remote.clone());
    };
    let Some(current) = version(tag) else { return Ok(remote.clone()) };
    let tags = weavelet::oci::tags(text).map_err(|e| anyhow!("{remote}: {e}"))?;
    let best = tags
        .iter()
        .filter_map(|t| version(t).map(|v| (v, t)))
        .filter(|(v, _)| *v > current)
        .max_by(|a, b| a.0.cmp(&b.0));
    Ok(match best {
        Some((_, tag)) => Remote::Oci(format!("{repository}:{tag}")),
        None => remote.clone(),
    })
}

pub fn run(args: UpdateArgs) -> anyhow::Result<ExitCode> {
    let manifest = weavelet::manifest::locate(&args.to)?;
    let (listed, _) = weavelet::manifest::remotes(&manifest)?;
    let chosen: Vec<&RemoteEntry> = listed
        .iter()
        .filter(|e| args.name.as_deref().is_none_or(|name| e.remote.reference().contains(name)))
        .collect();
    if chosen.is_empty() {
        let all: Vec<&str> = listed.iter().map(|e| e.remote.reference()).collect();
        return Err(anyhow!(
            "{} fetches no component{}; it fetches: {}",
            manifest.display(),
            args.name.as_deref().map(|n| format!(" whose reference contains `{n}`")).unwrap_or_default(),
            if all.is_empty() {
                "none (only `url` and `oci` components are updated)".into()
            } else {
                all.join(", ")
            }
        ));
    }
    let runtime = super::build::runtime(args.cache_dir.as_deref())?;
    let lock_file = manifest.with_file_name(weavelet::manifest::LOCK_FILE);
    let mut refused = 0;
    for entry in chosen {
        let lock = Lock::read(&lock_file)?.unwrap_or_default();
        // What was granted at the last review: the lock's record, else the pinned component's own.
        let (before, nodes_before): (BTreeSet<String>, BTreeSet<String>) = match lock.entry(&entry.remote) {
            Some(locked) => {
                let mut nodes: BTreeSet<String> = locked.nodes.iter().cloned().collect();
                // A lock from before nodes were recorded: the nodes its requests name.
                nodes.extend(locked.requests.iter().filter_map(|r| r.split(':').next()).map(str::to_string));
                (locked.requests.iter().cloned().collect(), nodes)
            }
            None => {
                let file =
                    runtime.fetch_component(&entry.remote, Some(&entry.sha256), &mut |s| eprintln!("{s}"))?;
                let module = runtime.load_component(&file)?;
                let nodes = module.decls().map(|d| d.name.clone()).collect();
                (super::add::requests(&module).into_iter().collect(), nodes)
            }
        };
        let newer = newest(&entry.remote)?;
        let reviewed = super::add::fetch_for_review(&runtime, &newer, None, &entry.keys)?;
        if newer == entry.remote && reviewed.digest == entry.sha256 {
            eprintln!("{}: up to date (SHA-256 {})", entry.remote, entry.sha256);
            continue;
        }
        let after: BTreeSet<String> = super::add::requests(&reviewed.module).into_iter().collect();
        let nodes_after: BTreeSet<String> = reviewed.module.decls().map(|d| d.name.clone()).collect();
        let added: Vec<String> = nodes_after
            .difference(&nodes_before)
            .map(|node| format!("node {node}"))
            .chain(after.difference(&before).cloned())
            .collect();
        let removed: Vec<String> = nodes_before
            .difference(&nodes_after)
            .map(|node| format!("node {node}"))
            .chain(before.difference(&after).cloned())
            .collect();
        out!("{} -> {}", entry.remote, newer);
        out!("  sha256 {} -> {}", entry.sha256, reviewed.digest);
        out!("  signature: {}", reviewed.signature);
        // Names and capabilities come from the component: made safe for a terminal.
        for line in &removed {
            out!("  - {}", weavelet::sanitize(line));
        }
        for line in &added {
            out!("  + {}", weavelet::sanitize(line));
        }
        if !added.is_empty() {
            let size = std::fs::metadata(&reviewed.file).map(|m| m.len()).unwrap_or(0);
            out!();
            super::inspect::review(&runtime, std::path::Path::new(newer.reference()), &reviewed.module, size);
            out!();
            let question =
                format!("{newer} asks for more than the version reviewed before (+ above); pin it?");
            let unanswered = format!(
                "{newer} asks for more than the version reviewed before (the lines marked + above): not updated; \
                 review it, then approve exactly that version with `weavelet update {}{} --approve {}`",
                entry.remote,
                if args.to == std::path::Path::new(".") {
                    String::new()
                } else {
                    format!(" --to {}", args.to.display())
                },
                reviewed.digest
            );
            let approved = args.approve.as_deref().is_some_and(|d| d.eq_ignore_ascii_case(&reviewed.digest));
            // Not in a terminal and not approved: refused, as an answer of no.
            if !super::add::confirm(&question, args.yes || approved, &unanswered).unwrap_or(false) {
                eprintln!("weavelet: {unanswered}");
                refused += 1;
                continue;
            }
        } else if removed.is_empty() {
            out!(
                "  requests unchanged: {}",
                if after.is_empty() { "none".into() } else { after.len().to_string() }
            );
        }
        // The manifest's new text is made (and checked) first, then the lock is
        // written, then the manifest: a refusal changes neither file.
        let text = repinned(&manifest, entry, &newer, &reviewed.digest)?;
        let mut lock = lock;
        let record = super::add::locked(&newer, &reviewed);
        lock.components.retain(|c| c.remote().as_ref() != Some(&entry.remote));
        lock.set(record);
        lock.write(&lock_file)?;
        let aside = manifest.with_extension(format!("toml.{}.part", std::process::id()));
        std::fs::write(&aside, text)
            .and_then(|()| std::fs::rename(&aside, &manifest))
            .with_context(|| format!("writing {}", manifest.display()))?;
        eprintln!("updated {} to {newer}, SHA-256 {}", manifest.display(), reviewed.digest);
    }
    Ok(if refused > 0 { ExitCode::from(super::EXIT_FAILED) } else { ExitCode::SUCCESS })
}

/// The manifest's text with the entry for `entry` pointed at `newer` with
/// `digest`: the two quoted strings replaced in place, so the rest of the file
/// stays as written; refused where either is not found exactly once.
fn repinned(
    manifest: &std::path::Path,
    entry: &RemoteEntry,
    newer: &Remote,
    digest: &str,
) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(manifest).with_context(|| format!("reading {}", manifest.display()))?;
    let old_digest = format!("\"{}\"", entry.sha256);
    if text.matches(&old_digest).count() != 1 {
        return Err(anyhow!(
            "{} pins SHA-256 {} in {} places (written as \"...\" exactly once is what update changes); pin {digest} \
             in its entry by hand, then run `weavelet update` again; nothing was changed",
            manifest.display(),
            entry.sha256,
            text.matches(&old_digest).count()
        ));
    }
    let mut text = text.replacen(&old_digest, &format!("\"{digest}\""), 1);
    if newer != &entry.remote {
        let old = super::add::toml_string(entry.remote.reference());
        if text.matches(&old).count() != 1 {
            return Err(anyhow!(
                "{} names {} in several places; point its entry at {newer} by hand; nothing was changed",
                manifest.display(),
                entry.remote
            ));
        }
        text = text.replacen(&old, &super::add::toml_string(newer.reference()), 1);
    }
    Ok(text)
}
