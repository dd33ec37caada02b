//! Fingerprints of what nodes read (files, folder listings, whole trees),
//! remembered by size, modification time and inode so an unchanged file
//! costs a `stat`; and the output files written from a value.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::params;
use weavelet_core::cache::DepKind;
use weavelet_core::key;

use crate::{Digest, ResultStore, hex};

/// Files modified this recently are hashed again every time: a write within
/// the file system's timestamp granularity could otherwise go unnoticed.
const RECENT: Duration = Duration::from_secs(3);

/// Files in folders a node reads through WASI that are fingerprinted at most;
/// past this the node is not cached.
pub const MAX_TREE_FILES: usize = 10_000;

impl ResultStore {
    /// The fingerprint of a dependency as it is now; `Err` says why there is none.
    pub(crate) fn fingerprint(&self, kind: DepKind, path: &Path) -> Result<String, String> {
        let digest = match kind {
            DepKind::File => self.file_hash(path),
            DepKind::Dir => dir_listing(path),
            DepKind::Tree => self.tree_hash(path),
        };
        digest.map(|d| hex(&d)).ok_or_else(|| match kind {
            DepKind::Tree => format!(
                "it may read any file under {} through WASI, and that folder holds more than {MAX_TREE_FILES} files \
                 or cannot be listed",
                path.display()
            ),
            _ => format!("{} could not be read again to fingerprint it", path.display()),
        })
    }

    /// The SHA-256 of a file's content, from the remembered one when its
    /// size, modification time and inode are unchanged.
    pub(crate) fn file_hash(&self, path: &Path) -> Option<Digest> {
        let meta = std::fs::metadata(path).ok()?;
        let mtime = meta.modified().ok()?;
        let mtime_ns = mtime.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64);
        let inode = inode(&meta);
        let size = meta.len() as i64;
        let path_text = path.to_string_lossy();
        let remembered: Option<Vec<u8>> = self
            .db
            .lock()
            .query_row(
                "SELECT hash FROM files WHERE path = ?1 AND size = ?2 AND mtime = ?3 AND inode = ?4",
                params![path_text, size, mtime_ns, inode],
                |r| r.get(0),
            )
            .ok();
        if let Some(hash) = remembered.and_then(|h| Digest::try_from(h).ok()) {
            return Some(hash);
        }
        let hash = key::hash_file(path).ok()?;
        let settled = SystemTime::now().duration_since(mtime).is_ok_and(|age| age > RECENT);
        if settled {
            let _ = self.db.lock().execute(
                "INSERT OR REPLACE INTO files (path, size, mtime, inode, hash) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![path_text, size, mtime_ns, inode, &hash[..]],
            );
        }
        Some(hash)
    }

    /// Every file under `dir` (names and contents), for a node that may read
    /// any of them through WASI.
    fn tree_hash(&self, dir: &Path) -> Option<Digest> {
        let mut files = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).ok()? {
                let entry = entry.ok()?;
                let kind = entry.file_type().ok()?;
                if kind.is_dir() {
                    stack.push(entry.path());
                } else {
                    files.push(entry.path());
                }
                if files.len() + stack.len() > MAX_TREE_FILES {
                    return None;
                }
            }
        }
        files.sort();
        let mut h = key::KeyHasher::new("tree");
        for f in &files {
            h.field("name", f.strip_prefix(dir).unwrap_or(f).to_string_lossy().as_bytes());
            h.field("content", &self.file_hash(f)?);
        }
        Some(h.finish())
    }

    // ---- output files ---------------------------------------------------

    /// Whether the file at `path` holds what was written there from the value
    /// with identity `output`, unchanged since (then it need not be written again).
    pub fn output_is_current(&self, path: &Path, output: &Digest) -> bool {
        let stored: Option<(Vec<u8>, Vec<u8>)> = self
            .db
            .lock()
            .query_row("SELECT output, hash FROM outputs WHERE path = ?1", [path.to_string_lossy()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .ok();
        let Some((id, hash)) = stored else { return false };
        id == output[..] && self.file_hash(path).is_some_and(|h| h[..] == hash[..])
    }

    /// Note that `path` was just written from the value with identity `output`.
    pub fn output_written(&self, path: &Path, output: &Digest) {
        if let Some(hash) = self.file_hash(path) {
            let _ = self.db.lock().execute(
                "INSERT OR REPLACE INTO outputs (path, output, hash) VALUES (?1, ?2, ?3)",
                params![path.to_string_lossy(), &output[..], &hash[..]],
            );
        }
    }
}

#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> i64 {
    std::os::unix::fs::MetadataExt::ino(meta) as i64
}

#[cfg(not(unix))]
fn inode(_meta: &std::fs::Metadata) -> i64 {
    0
}

/// The sorted names (and kinds) of a folder's entries.
fn dir_listing(path: &Path) -> Option<Digest> {
    let mut names: Vec<(String, bool)> = std::fs::read_dir(path)
        .ok()?
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.file_type().is_ok_and(|t| t.is_dir())))
        .collect();
    names.sort();
    let mut h = key::KeyHasher::new("dir");
    for (name, is_dir) in &names {
        h.field(if *is_dir { "d" } else { "f" }, name.as_bytes());
    }
    Some(h.finish())
}
