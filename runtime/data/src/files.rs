//! The folders a node may read, and the log of what it read.
//!
//! Readers (`table::io::read`, `Svg::read`, `Image::read`, `Image::list`) take
//! both: the [`ReadGrants`] decide whether a path may be opened, and every
//! file opened or folder listed is written to the [`ReadLog`] the caller
//! passes in. The caller decides what the log is for (the scheduler keys a
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

    /// Resolve `path` and check it lies under a read grant; the file or folder
    /// is written to `log`. Symbolic links are followed first, so a link out of
    /// a granted folder is refused.
    pub fn readable(&self, path: &str, log: &ReadLog) -> Result<PathBuf, TableError> {
        if path.contains("://") {
            return Err(TableError::new(format!("`{path}`: only local files can be read")));
        }
        let joined = self.base.join(path);
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
        if !self.read.iter().any(|d| real.starts_with(d)) {
            return Err(refused());
        }
        if real.is_dir() {
            log.listed(&real);
        } else {
            log.opened(&real);
        }
        Ok(real)
    }
}

/// `path` made absolute with `.` and `..` removed lexically (no file-system access).
fn normalize(path: &Path) -> PathBuf {
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
        grants.readable("a.csv", &log).unwrap();
        grants.readable("./a.csv", &log).unwrap();
        grants.readable(".", &log).unwrap();
        assert!(grants.readable("/etc/passwd", &log).is_err());
        let reads = log.take();
        assert_eq!(reads.files, vec![granted.join("a.csv")]);
        assert_eq!(reads.dirs, vec![granted]);
        assert_eq!(log.take(), Reads::default());
    }
}
