//! Stored results: looked up by key, loaded and checked against their
//! checksum, stored value file first and row second.

use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{OptionalExtension, params};
use weavelet_core::cache::{DepKind, FileDep, NewEntry, Parts, Stored, now_ms};
use weavelet_core::{Value, codec, key};

use crate::{Digest, ResultStore, StoreError, hex, io};

/// Values at most this large (encoded) live in the database row; larger
/// ones in a file of their own.
const INLINE_MAX: usize = 64 << 10;

/// Where a stored value is, and its checksum: the store's part of a [`Stored`].
#[derive(Debug)]
pub(crate) struct Location {
    inline: Option<Vec<u8>>,
    object: Option<String>,
    checksum: Digest,
}

/// A file dependency as the database keeps it (JSON).
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredDep {
    kind: String,
    path: String,
    hash: String,
}

/// A key's parts as the database keeps them (JSON).
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredParts {
    code: String,
    policy: String,
    inputs: Vec<(String, String)>,
}

fn deps_to_json(files: &[FileDep]) -> String {
    let stored: Vec<StoredDep> = files
        .iter()
        .map(|d| StoredDep { kind: d.kind.name().into(), path: d.path.clone(), hash: d.hash.clone() })
        .collect();
    serde_json::to_string(&stored).unwrap_or_else(|_| "[]".into())
}

fn deps_from_json(text: &str) -> Vec<FileDep> {
    let stored: Vec<StoredDep> = serde_json::from_str(text).unwrap_or_default();
    stored
        .into_iter()
        .filter_map(|d| Some(FileDep { kind: DepKind::from_name(&d.kind)?, path: d.path, hash: d.hash }))
        .collect()
}

fn location(entry: &Stored) -> Result<&Location, String> {
    entry
        .location
        .downcast_ref::<Location>()
        .ok_or_else(|| "the entry is not one of this store's".to_string())
}

impl ResultStore {
    /// The entry stored under `key`, if any.
    pub(crate) fn lookup(&self, key: &Digest) -> Result<Option<Stored>, StoreError> {
        let db = self.db.lock();
        let row = db
            .query_row(
                "SELECT output, inline, object, size, checksum, files, run FROM entries WHERE key = ?1",
                [&key[..]],
                |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, Option<Vec<u8>>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, Vec<u8>>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, Option<i64>>(6)?,
                    ))
                },
            )
            .optional()?;
        let Some((output, inline, object, size, checksum, files, run)) = row else { return Ok(None) };
        let digest = |v: Vec<u8>| -> Option<Digest> { v.try_into().ok() };
        let (Some(output), Some(checksum)) = (digest(output), digest(checksum)) else {
            return Ok(None);
        };
        let files = deps_from_json(&files);
        let location = Location { inline, object, checksum };
        Ok(Some(Stored { output, files, run, size: size.max(0) as u64, location: Box::new(location) }))
    }

    /// The stored value whose output identity is `output` (hex), checked
    /// against its checksum; `None` when no entry holds it (never stored, or
    /// collected since).
    pub fn value_of_output(&self, output: &str) -> Result<Option<Value>, String> {
        let Some(digest) = key::from_hex(output) else {
            return Err(format!("`{output}` is not an output identity"));
        };
        let key: Option<Vec<u8>> = self
            .db
            .lock()
            .query_row("SELECT key FROM entries WHERE output = ?1 LIMIT 1", [&digest[..]], |r| r.get(0))
            .optional()
            .map_err(|e| e.to_string())?;
        let Some(key) = key.and_then(|k| Digest::try_from(k).ok()) else { return Ok(None) };
        match self.lookup(&key).map_err(|e| e.to_string())? {
            Some(entry) => self.load(&entry).map(Some),
            None => Ok(None),
        }
    }

    /// Whether `entry`'s value file is there with the size stored (a cheap
    /// check; [`ResultStore::load`] checks the checksum too).
    pub(crate) fn present(&self, entry: &Stored) -> Result<(), String> {
        let Some(name) = &location(entry)?.object else { return Ok(()) };
        let path = self.object_path(name);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.len() == entry.size => Ok(()),
            Ok(meta) => {
                Err(format!("{} holds {} bytes, {} were stored", path.display(), meta.len(), entry.size))
            }
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// The value of `entry`, checked against its checksum.
    pub(crate) fn load(&self, entry: &Stored) -> Result<Value, String> {
        let place = location(entry)?;
        let bytes = match (&place.inline, &place.object) {
            (Some(bytes), _) => bytes.clone(),
            (None, Some(name)) => {
                let path = self.object_path(name);
                let meta = std::fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                if meta.len() != entry.size {
                    return Err(format!(
                        "{} holds {} bytes, {} were stored",
                        path.display(),
                        meta.len(),
                        entry.size
                    ));
                }
                std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?
            }
            (None, None) => return Err("the entry names no value".into()),
        };
        if key::sha256(&bytes) != place.checksum {
            return Err("its bytes do not match their checksum".into());
        }
        codec::decode(&bytes)
    }

    /// Store the encoded value `bytes` (of type `kind`) as `entry` says. The
    /// value file (if any) is on disk, synced, before the row naming it is committed.
    pub(crate) fn put(&self, entry: &NewEntry<'_>, bytes: &[u8], kind: &str) -> Result<(), StoreError> {
        let NewEntry { key, output, files, parts, node, pipeline, run } = *entry;
        let checksum = key::sha256(bytes);
        let (inline, object) = if bytes.len() <= INLINE_MAX {
            (Some(bytes), None)
        } else {
            let name = hex(&checksum);
            self.write_object(&name, bytes)?;
            (None, Some(name))
        };
        let files = deps_to_json(files);
        let parts = StoredParts {
            code: parts.code.clone(),
            policy: parts.policy.clone(),
            inputs: parts.inputs.clone(),
        };
        let parts = serde_json::to_string(&parts).unwrap_or_else(|_| "{}".into());
        let now = now_ms();
        self.db.lock().execute(
            "INSERT OR REPLACE INTO entries
                 (key, output, kind, inline, object, size, checksum, files, parts, node, pipeline, created, used, run)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13)",
            params![
                &key[..],
                &output[..],
                kind,
                inline,
                object,
                bytes.len() as i64,
                &checksum[..],
                files,
                parts,
                node,
                pipeline,
                now,
                run
            ],
        )?;
        Ok(())
    }

    fn write_object(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.object_path(name);
        // The file is named by its content: an intact copy need not be written again.
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64)
            && key::hash_file(&path).is_ok_and(|h| hex(&h) == name)
        {
            return Ok(());
        }
        let Some(folder) = path.parent() else { return Err(StoreError::new("a value file has no folder")) };
        std::fs::create_dir_all(folder).map_err(|e| io(format!("creating {}", folder.display()), e))?;
        let tmp = self.dir.join("objects").join(format!(
            "tmp-{}-{}-{name}",
            std::process::id(),
            SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
        ));
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            // The rename itself survives a crash once the folder is synced.
            std::fs::File::open(folder)?.sync_all()
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(format!("writing {}", path.display()), e)
        })
    }

    /// Forget the entry under `key` (its value turned out damaged).
    pub(crate) fn remove(&self, key: &Digest) -> Result<(), StoreError> {
        self.db.lock().execute("DELETE FROM entries WHERE key = ?1", [&key[..]])?;
        Ok(())
    }

    /// Mark entries as used now (for least-recently-used collection).
    pub(crate) fn touch(&self, keys: &[Digest]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut db = self.db.lock();
        let tx = db.transaction()?;
        {
            let mut stmt = tx.prepare_cached("UPDATE entries SET used = ?1 WHERE key = ?2")?;
            let now = now_ms();
            for k in keys {
                stmt.execute(params![now, &k[..]])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The parts of the latest entry of `node` in `pipeline`, to explain a miss.
    pub(crate) fn latest_parts(&self, pipeline: &str, node: &str) -> Option<Parts> {
        let db = self.db.lock();
        let text: String = db
            .query_row(
                "SELECT parts FROM entries WHERE pipeline = ?1 AND node = ?2 ORDER BY created DESC LIMIT 1",
                params![pipeline, node],
                |r| r.get(0),
            )
            .ok()?;
        let parts: StoredParts = serde_json::from_str(&text).ok()?;
        Some(Parts { code: parts.code, policy: parts.policy, inputs: parts.inputs })
    }
}
