//! `weavelet.lock` beside a manifest: each component fetched by reference
//! (`url` or `oci`) as it was reviewed — its digest, who signed it, and the
//! capabilities its nodes requested then. `weavelet add` and `weavelet update`
//! write it; loading a manifest refuses a fetched component the lock does not
//! hold with the same digest.

use std::path::Path;

use serde::{Deserialize, Serialize};
use weavelet_core::Error;

use crate::Remote;

/// The name of the lock file beside a manifest.
pub const LOCK_FILE: &str = "weavelet.lock";

/// The whole lock file.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// One entry per reviewed component.
    #[serde(default)]
    pub components: Vec<LockedComponent>,
}

/// One reviewed component.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LockedComponent {
    /// Where it was fetched from, when it is a plain URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Where it was fetched from, when it is an OCI reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci: Option<String>,
    /// The SHA-256 of the component file (64 lowercase hex digits).
    pub sha256: String,
    /// The minisign key ID that signed it, where it was signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// Its nodes when it was reviewed.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// The capabilities its nodes requested when it was reviewed, one
    /// `"node: capability"` each.
    #[serde(default)]
    pub requests: Vec<String>,
}

impl LockedComponent {
    /// The entry for `remote` pinned to `sha256`, with no signer, nodes or
    /// requests recorded yet.
    pub fn new(remote: &Remote, sha256: String) -> LockedComponent {
        let (url, oci) = match remote {
            Remote::Url(url) => (Some(url.clone()), None),
            Remote::Oci(oci) => (None, Some(oci.clone())),
        };
        LockedComponent { url, oci, sha256, signer: None, nodes: Vec::new(), requests: Vec::new() }
    }

    /// Where it comes from.
    pub fn remote(&self) -> Option<Remote> {
        match (&self.url, &self.oci) {
            (Some(url), None) => Some(Remote::Url(url.clone())),
            (None, Some(oci)) => Some(Remote::Oci(oci.clone())),
            _ => None,
        }
    }
}

impl Lock {
    /// The lock at `path`; `None` where there is none.
    pub fn read(path: &Path) -> Result<Option<Lock>, Error> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let lock: Lock = toml::from_str(&text).map_err(|e| {
                    let message = e.message().trim_end_matches('\n').to_string();
                    crate::spanned(path, &text, e.span(), message, None)
                })?;
                for entry in &lock.components {
                    if entry.remote().is_none() {
                        return Err(Error::Manifest {
                            path: path.to_path_buf(),
                            diagnostic: weavelet_core::Diagnostic::new(format!(
                                "the entry with SHA-256 {} names neither `url` nor `oci` (exactly one of them)",
                                entry.sha256
                            )),
                        });
                    }
                }
                Ok(Some(lock))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
        }
    }

    /// Writes the lock to `path` (aside, then renamed: never half-written).
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let body = toml::to_string(self)
            .map_err(|e| Error::io(format!("writing {}", path.display()), std::io::Error::other(e)))?;
        let text = format!(
            "# Written by `weavelet add` and `weavelet update`: each component fetched by reference as it\n\
             # was reviewed. `weavelet run` refuses a weavelet.toml whose fetched components are not here\n\
             # with the same digest; `weavelet update` compares new requests against `requests`.\n\n{body}"
        );
        let aside = path.with_extension(format!("lock.{}.part", std::process::id()));
        std::fs::write(&aside, text).and_then(|()| std::fs::rename(&aside, path)).map_err(|e| {
            let _ = std::fs::remove_file(&aside);
            Error::io(format!("writing {}", path.display()), e)
        })
    }

    /// The entry for `remote`, if the lock holds one.
    pub fn entry(&self, remote: &Remote) -> Option<&LockedComponent> {
        self.components.iter().find(|c| c.remote().as_ref() == Some(remote))
    }

    /// Puts `entry` in place of the one for the same reference (or adds it).
    pub fn set(&mut self, entry: LockedComponent) {
        let remote = entry.remote();
        match self.components.iter_mut().find(|c| c.remote() == remote) {
            Some(slot) => *slot = entry,
            None => self.components.push(entry),
        }
    }

    /// Why the lock does not hold the component at `remote` with `digest`, if it does not.
    pub(crate) fn disagreement(&self, lock_file: &Path, remote: &Remote, digest: &str) -> Option<String> {
        match self.entry(remote) {
            None => Some(format!("{} does not list this component", lock_file.display())),
            Some(locked) if !locked.sha256.eq_ignore_ascii_case(digest) => Some(format!(
                "{} pins it to SHA-256 {}, the manifest to {digest}",
                lock_file.display(),
                locked.sha256
            )),
            Some(_) => None,
        }
    }
}
