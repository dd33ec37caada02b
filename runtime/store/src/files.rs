//! Fingerprints of what nodes read (files, folder listings, whole trees),
//! remembered by size, modification time and inode so an unchanged file
//! costs a `stat`; and the output files written from a value.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

/// Bytes fingerprinting one dependency may read (files already remembered
/// by size, time and inode cost nothing); past this the node is not cached.
pub const MAX_FINGERPRINT_BYTES: u64 = 4 << 30;

/// Time fingerprinting one dependency may take; past this the node is not cached.
pub const MAX_FINGERPRINT_TIME: Duration = Duration::from_secs(30);

/// Open flags for fingerprinting: a FIFO or terminal never blocks the open or is taken over.
const NO_WAIT: i32 = libc::O_NONBLOCK | libc::O_NOCTTY;

/// What fingerprinting one dependency may still spend.
struct Budget {
    bytes: u64,
    deadline: Instant,
}

impl Budget {
    fn new() -> Budget {
        Budget { bytes: MAX_FINGERPRINT_BYTES, deadline: Instant::now() + MAX_FINGERPRINT_TIME }
    }

    fn spend(&mut self, bytes: u64) -> Result<(), String> {
        self.bytes = self.bytes.checked_sub(bytes).ok_or_else(|| {
            format!("it read more than {} to fingerprint", weavelet_core::human_bytes(MAX_FINGERPRINT_BYTES))
        })?;
        self.check_time()
    }

    fn check_time(&self) -> Result<(), String> {
        if Instant::now() > self.deadline {
            return Err(format!("fingerprinting what it read took more than {MAX_FINGERPRINT_TIME:?}"));
        }
        Ok(())
    }
}

impl ResultStore {
    /// The fingerprint of a dependency as it is now; `Err` says why there is none.
    ///
    /// Fingerprinting never opens anything but a regular file, never through
    /// a final link, and never blocks on a FIFO; a whole folder is walked
    /// beneath itself by descriptor, recording links by their text and other
    /// special files by their kind. It is bounded in bytes and time.
    pub(crate) fn fingerprint(&self, kind: DepKind, path: &Path) -> Result<String, String> {
        let mut budget = Budget::new();
        let digest = match kind {
            DepKind::File => self
                .file_hash_within(path, &mut budget)?
                .ok_or_else(|| format!("{} could not be read again to fingerprint it", path.display()))?,
            DepKind::Dir => dir_listing(path)
                .ok_or_else(|| format!("{} could not be listed again to fingerprint it", path.display()))?,
            DepKind::Tree => self.tree_hash(path, &mut budget)?,
        };
        Ok(hex(&digest))
    }

    /// The SHA-256 of a file's content, from the remembered one when its
    /// size, modification time and inode are unchanged. `None` for anything
    /// but a regular file (see [`ResultStore::fingerprint`]).
    pub(crate) fn file_hash(&self, path: &Path) -> Option<Digest> {
        self.file_hash_within(path, &mut Budget::new()).ok().flatten()
    }

    fn file_hash_within(&self, path: &Path, budget: &mut Budget) -> Result<Option<Digest>, String> {
        let mut options = std::fs::OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, NO_WAIT | libc::O_NOFOLLOW);
        let Ok(file) = options.open(path) else { return Ok(None) };
        self.opened_hash(path, file, budget)
    }

    /// The hash of `file`, opened from `path`: a regular file, read at most
    /// to the size it had when opened.
    fn opened_hash(
        &self,
        path: &Path,
        file: std::fs::File,
        budget: &mut Budget,
    ) -> Result<Option<Digest>, String> {
        let Ok(meta) = file.metadata() else { return Ok(None) };
        if !meta.is_file() {
            return Ok(None);
        }
        let Ok(mtime) = meta.modified() else { return Ok(None) };
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
            return Ok(Some(hash));
        }
        budget.spend(meta.len())?;
        let Ok(hash) = key::hash_read(&mut std::io::Read::take(file, meta.len())) else { return Ok(None) };
        budget.check_time()?;
        let settled = SystemTime::now().duration_since(mtime).is_ok_and(|age| age > RECENT);
        if settled {
            let _ = self.db.lock().execute(
                "INSERT OR REPLACE INTO files (path, size, mtime, inode, hash) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![path_text, size, mtime_ns, inode, &hash[..]],
            );
        }
        Ok(Some(hash))
    }

    /// Every entry under `dir` (names, and contents of regular files), for a
    /// node that may read any of them through WASI. The walk stays beneath
    /// `dir` (cap-std): links are recorded by their text, never followed.
    fn tree_hash(&self, dir: &Path, budget: &mut Budget) -> Result<Digest, String> {
        use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};
        let unlisted =
            |e: std::io::Error| format!("{} cannot be listed to fingerprint it: {e}", dir.display());
        let too_many = || {
            format!(
                "it may read any file under {} through WASI, and that folder holds more than {MAX_TREE_FILES} files",
                dir.display()
            )
        };
        let mut options = OpenOptions::new();
        options.read(true);
        options.custom_flags(NO_WAIT);
        let root = Dir::open_ambient_dir(dir, cap_std::ambient_authority()).map_err(unlisted)?;
        // (path under `dir`, kind, content hash or link text)
        let mut seen: Vec<(PathBuf, &'static str, Vec<u8>)> = Vec::new();
        let mut stack = vec![(PathBuf::new(), root)];
        while let Some((rel, folder)) = stack.pop() {
            for entry in folder.entries().map_err(unlisted)? {
                let entry = entry.map_err(unlisted)?;
                let name = entry.file_name();
                let path = rel.join(&name);
                let kind = entry.file_type().map_err(unlisted)?;
                if kind.is_dir() {
                    stack.push((path.clone(), folder.open_dir(&name).map_err(unlisted)?));
                    seen.push((path, "dir", Vec::new()));
                } else if kind.is_symlink() {
                    let target = folder.read_link_contents(&name).map_err(unlisted)?;
                    seen.push((path, "link", target.to_string_lossy().into_owned().into_bytes()));
                } else if kind.is_file() {
                    let file = folder.open_with(&name, &options).map_err(unlisted)?.into_std();
                    let hash = self.opened_hash(&dir.join(&path), file, budget)?.ok_or_else(|| {
                        format!("{} changed while it was fingerprinted", dir.join(&path).display())
                    })?;
                    seen.push((path, "file", hash.to_vec()));
                } else {
                    // A FIFO, socket or device: its name and kind, never its content.
                    seen.push((path, "special", Vec::new()));
                }
                if seen.len() + stack.len() > MAX_TREE_FILES {
                    return Err(too_many());
                }
                budget.check_time()?;
            }
        }
        seen.sort();
        let mut h = key::KeyHasher::new("tree");
        for (path, kind, content) in &seen {
            h.field("name", path.to_string_lossy().as_bytes());
            h.field(kind, content);
        }
        Ok(h.finish())
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

/// The sorted names (and kinds) of a folder's entries (at most
/// [`MAX_TREE_FILES`] of them are read; a longer listing has no fingerprint).
fn dir_listing(path: &Path) -> Option<Digest> {
    let mut names: Vec<(String, bool)> = std::fs::read_dir(path)
        .ok()?
        .flatten()
        .take(MAX_TREE_FILES + 1)
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.file_type().is_ok_and(|t| t.is_dir())))
        .collect();
    if names.len() > MAX_TREE_FILES {
        return None;
    }
    names.sort();
    let mut h = key::KeyHasher::new("dir");
    for (name, is_dir) in &names {
        h.field(if *is_dir { "d" } else { "f" }, name.as_bytes());
    }
    Some(h.finish())
}
