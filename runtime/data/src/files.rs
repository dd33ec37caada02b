//! The folders a node may read, and the log of what it read.
//!
//! Readers (`table::io::read`, `Svg::read`, `Image::read`, `Image::list`) take
//! both: the [`ReadGrants`] open a path beneath the granted folder it lies in
//! and hand the reader the descriptor, and every file opened or folder listed
//! is written to the [`ReadLog`] the caller passes in. The caller decides what the log is for (the scheduler keys a
//! node's cached result by it); nothing here keeps state between calls.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::table::TableError;

/// Where a node may read files: folders granted by its policy, and the folder
/// relative paths start from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadGrants {
    /// Relative paths are resolved against this folder (the pipeline's folder).
    pub base: PathBuf,
    /// Folders (canonical) whose files may be read.
    pub read: Vec<PathBuf>,
}

impl ReadGrants {
    /// Grants to read under `folders` (canonical paths), with relative paths starting at `base`.
    pub fn new(base: PathBuf, folders: Vec<PathBuf>) -> ReadGrants {
        ReadGrants { base, read: folders }
    }

    /// Open the file `path` for reading, beneath the read grant it lies in
    /// (see [`ReadGrants::open_dir`] for folders); the file is written to `log`.
    ///
    /// Readers read from the returned descriptor and never open the path
    /// again: the file is opened beneath its granted folder (`openat2` with
    /// `RESOLVE_BENEATH` on Linux), so a link, a `..` or a path swapped after
    /// the check reaches nothing outside the grant, and only a regular file is
    /// accepted (a folder named like a file, a FIFO or a device is refused, and
    /// nothing blocks on opening one).
    pub fn open_file(&self, path: &str, log: &ReadLog) -> Result<(std::fs::File, PathBuf), TableError> {
        let (grant, real) = self.locate(path)?;
        let rel = match real.strip_prefix(&grant) {
            Ok(rel) if !rel.as_os_str().is_empty() => rel,
            _ => Path::new("."),
        };
        let cannot =
            |e: std::io::Error| TableError::new(format!("cannot read `{path}`: {}", beneath_error(&e)));
        let root =
            cap_std::fs::Dir::open_ambient_dir(&grant, cap_std::ambient_authority()).map_err(cannot)?;
        let mut options = cap_std::fs::OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        {
            use cap_std::fs::OpenOptionsExt;
            // Opening a FIFO or a terminal for reading must not block or take it over.
            options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
        }
        let file = root.open_with(rel, &options).map_err(cannot)?.into_std();
        let meta = file.metadata().map_err(cannot)?;
        if meta.is_dir() {
            return Err(TableError::new(format!("cannot read `{path}`: it is a folder, not a file")));
        }
        if !meta.is_file() {
            return Err(TableError::new(format!(
                "cannot read `{path}`: it is not a regular file (a device, FIFO or socket)"
            )));
        }
        log.opened(&real);
        Ok((file, real))
    }

    /// Open the folder `path` for listing, beneath the read grant it lies in
    /// (as [`ReadGrants::open_file`] opens files); the folder is written to `log`.
    pub fn open_dir(&self, path: &str, log: &ReadLog) -> Result<(cap_std::fs::Dir, PathBuf), TableError> {
        let (grant, real) = self.locate(path)?;
        let rel = real.strip_prefix(&grant).unwrap_or(Path::new("."));
        let cannot =
            |e: std::io::Error| TableError::new(format!("cannot list `{path}`: {}", beneath_error(&e)));
        let root =
            cap_std::fs::Dir::open_ambient_dir(&grant, cap_std::ambient_authority()).map_err(cannot)?;
        let dir = if rel.as_os_str().is_empty() { root } else { root.open_dir(rel).map_err(cannot)? };
        log.listed(&real);
        Ok((dir, real))
    }

    /// The grant `path` lies in and its canonical path. Links are followed
    /// here only to name the file (for messages and cache keys); what is read
    /// is opened beneath the grant afterwards.
    fn locate(&self, path: &str) -> Result<(PathBuf, PathBuf), TableError> {
        if path.contains("://") {
            return Err(TableError::new(format!("`{path}`: only local files can be read")));
        }
        let joined = self.base.join(path);
        let joined = std::path::absolute(&joined).unwrap_or(joined);
        let refused = || {
            let granted: Vec<String> = self.read.iter().map(|d| d.display().to_string()).collect();
            TableError::new(format!(
                "reading `{path}` is not allowed: it is not under a folder the node's policy grants it to read \
                 (granted: {})",
                if granted.is_empty() { "none".to_string() } else { granted.join(", ") }
            ))
        };
        if self.read.is_empty() {
            return Err(refused());
        }
        let real = joined.canonicalize().map_err(|e| {
            // Say "not found" only for paths inside a grant: elsewhere, not even existence leaks.
            if self.read.iter().any(|d| normalize(&joined).starts_with(d)) {
                TableError::new(format!("cannot read `{path}`: {e}"))
            } else {
                refused()
            }
        })?;
        // The innermost grant holding it (grants may nest).
        let grant = self.read.iter().filter(|d| real.starts_with(d)).max_by_key(|d| d.components().count());
        match grant {
            Some(grant) => Ok((grant.clone(), real)),
            None => Err(refused()),
        }
    }
}

/// Whether opening beneath a folder failed because the path leads out of it:
/// the kernel's "invalid cross-device link" (EXDEV) is what `RESOLVE_BENEATH`
/// answers, and cap-std refuses with a permission error of its own where
/// openat2 is not available.
pub(crate) fn escaped(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::EXDEV) {
        return true;
    }
    e.kind() == std::io::ErrorKind::PermissionDenied && e.raw_os_error().is_none()
}

/// An error from opening beneath a grant, in words.
fn beneath_error(e: &std::io::Error) -> String {
    if escaped(e) {
        return "it leads outside the folder the node may read (was it replaced by a link?)".into();
    }
    e.to_string()
}

/// All of `file` when it holds at most `limit` bytes; `None` when it holds
/// more (it is never read past `limit` + 1, even if it grows meanwhile).
pub fn read_at_most(file: std::fs::File, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let expected = file.metadata().map_or(0, |m| m.len());
    if expected > limit {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(expected as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// `path` made absolute with `.` and `..` removed lexically (no file-system access).
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// What a node's work read from the file system, as far as the host can see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reads {
    /// Files opened through a reader (canonical paths, in order, repeats removed).
    pub files: Vec<PathBuf>,
    /// Folders listed through a reader (canonical paths).
    pub dirs: Vec<PathBuf>,
    /// Folders handed to the node whole (a component's WASI preopens): any
    /// file under them may have been read.
    pub trees: Vec<PathBuf>,
}

/// A log of reads, shared by the readers one node invocation calls. Cheap to
/// clone (clones write to the same log); [`ReadLog::take`] empties it.
#[derive(Debug, Clone, Default)]
pub struct ReadLog(Arc<Mutex<Reads>>);

impl ReadLog {
    /// An empty log.
    pub fn new() -> ReadLog {
        ReadLog::default()
    }

    /// A reader opened the file `path` (canonical).
    pub fn opened(&self, path: &Path) {
        push(&mut self.0.lock().files, path);
    }

    /// A reader listed the folder `path` (canonical).
    pub fn listed(&self, path: &Path) {
        push(&mut self.0.lock().dirs, path);
    }

    /// The folder `path` (canonical) was handed to the node whole.
    pub fn whole_folder(&self, path: &Path) {
        push(&mut self.0.lock().trees, path);
    }

    /// Everything logged so far; the log is empty afterwards.
    pub fn take(&self) -> Reads {
        std::mem::take(&mut *self.0.lock())
    }
}

fn push(list: &mut Vec<PathBuf>, path: &Path) {
    if !list.iter().any(|p| p == path) {
        list.push(path.to_path_buf());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_logged_once_each_and_refusals_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let granted = dir.path().canonicalize().unwrap();
        std::fs::write(granted.join("a.csv"), "x\n1\n").unwrap();
        let grants = ReadGrants::new(granted.clone(), vec![granted.clone()]);
        let log = ReadLog::new();
        grants.open_file("a.csv", &log).unwrap();
        grants.open_file("./a.csv", &log).unwrap();
        grants.open_dir(".", &log).unwrap();
        assert!(grants.open_file("/etc/passwd", &log).is_err());
        assert!(grants.open_file(".", &log).is_err());
        let reads = log.take();
        assert_eq!(reads.files, vec![granted.join("a.csv")]);
        assert_eq!(reads.dirs, vec![granted]);
        assert_eq!(log.take(), Reads::default());
    }
}
