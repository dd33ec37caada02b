//! Components by URL or OCI reference, pinned by digest: fetched once into
//! the content-addressed download cache, checked against the digest the
//! manifest pins before anything is kept, and taken from the cache from
//! then on (so runs work offline). A signature that travels with a component
//! (`<url>.minisig`, or the OCI artifact's signature layer) is kept beside it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use weavelet_core::Error;
use weavelet_core::key::{hex, sha256};
use weavelet_manifest::Remote;

/// How long a download may take in all.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(300);

/// The largest signature file accepted (a minisign signature is ~300 bytes).
pub(crate) const MAX_SIGNATURE: u64 = 4096;

/// The download cache's folder.
fn downloads(cache_dir: Option<&Path>) -> PathBuf {
    match cache_dir {
        Some(cache) => cache.join("downloads"),
        None => std::env::temp_dir().join("weavelet-downloads"),
    }
}

/// Where the signature by key `key_id` of the component with SHA-256
/// `digest` is kept. Kept per key: signatures are facts about bytes, and one
/// by a key a pipeline does not trust never hides one by a key it does.
fn kept_signature(cache_dir: Option<&Path>, digest: &str, key_id: &str) -> PathBuf {
    downloads(cache_dir).join(format!("sha256-{digest}.{key_id}.minisig"))
}

/// Keeps `signature` (of the component with SHA-256 `digest`) under the key
/// it names; one that names none is not kept.
fn keep_signature(cache_dir: Option<&Path>, digest: &str, signature: &str) -> Result<(), Error> {
    let Ok(key_id) = crate::trust::signature_key_id(signature) else { return Ok(()) };
    let path = kept_signature(cache_dir, digest, &key_id);
    keep(&path, signature.as_bytes())
        .map_err(|e| Error::io(format!("keeping a signature in {}", path.display()), e))
}

/// Where a signature came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignatureFrom {
    /// The download cache (kept by an earlier fetch).
    Cache,
    /// The server or registry, just now.
    Remote,
}

/// A signature of the component `remote` whose SHA-256 is `digest`: one by
/// a key in `wanted` (key IDs) from the cache (unless `fresh`), else the one
/// published with it (fetched and kept); `None` where it has none.
pub(crate) fn signature(
    remote: &Remote,
    digest: &str,
    cache_dir: Option<&Path>,
    wanted: &[String],
    fresh: bool,
) -> Result<Option<(String, SignatureFrom)>, String> {
    for key_id in wanted.iter().filter(|_| !fresh) {
        if let Ok(text) = std::fs::read_to_string(kept_signature(cache_dir, digest, key_id)) {
            return Ok(Some((text, SignatureFrom::Cache)));
        }
    }
    let fetched = match remote {
        Remote::Url(url) => match download(&format!("{url}.minisig"), MAX_SIGNATURE, "signature") {
            Ok(bytes) => Some(bytes),
            Err(Failure::NotFound) => None,
            Err(e) => return Err(format!("fetching {url}.minisig: {e}")),
        },
        Remote::Oci(reference) => crate::oci::pull(reference, Some(digest), 0, false)?.signature,
    };
    let Some(bytes) = fetched else { return Ok(None) };
    let text = String::from_utf8(bytes)
        .map_err(|_| "its signature is not text (a minisign signature is)".to_string())?;
    keep_signature(cache_dir, digest, &text).map_err(|e| e.to_string())?;
    Ok(Some((text, SignatureFrom::Remote)))
}

/// Drops the kept signatures of the component with SHA-256 `digest` by the
/// keys `key_ids` (one that failed its check is fetched anew next time).
pub(crate) fn forget_signatures(cache_dir: Option<&Path>, digest: &str, key_ids: &[String]) {
    for key_id in key_ids {
        let _ = std::fs::remove_file(kept_signature(cache_dir, digest, key_id));
    }
}

/// `bytes` written to `path`, aside first and renamed: a half-written file is
/// never taken for a whole one.
fn keep(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let partial = path.with_file_name(format!(".{name}.{}.part", std::process::id()));
    let written = std::fs::File::create(&partial)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&partial, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// The component with SHA-256 `digest` from the download cache, if it is
/// there as that digest says; fetches nothing.
pub(crate) fn kept(digest: &str, cache_dir: Option<&Path>) -> Option<PathBuf> {
    let kept = downloads(cache_dir).join(format!("sha256-{digest}.wasm"));
    let bytes = std::fs::read(&kept).ok()?;
    (hex(&sha256(&bytes)) == digest).then_some(kept)
}

/// The component the manifest pins as `remote` with SHA-256 `digest` (64
/// lowercase hex digits): the cached file, fetched first if it is not in the
/// cache. At most `max_size` bytes are fetched; `on_step` hears what is done.
///
/// With no `digest` (`weavelet add`, before the review that pins one) it is
/// always fetched, and kept under the digest it turns out to have.
pub(crate) fn component(
    remote: &Remote,
    digest: Option<&str>,
    cache_dir: Option<&Path>,
    max_size: u64,
    on_step: &mut dyn FnMut(&str),
) -> Result<PathBuf, Error> {
    let folder = downloads(cache_dir);
    let url = remote.reference();
    let kept_as = |digest: &str| folder.join(format!("sha256-{digest}.wasm"));
    let kept = kept_as(digest.unwrap_or("unpinned"));
    if let Some(digest) = digest
        && let Ok(bytes) = std::fs::read(&kept)
    {
        if hex(&sha256(&bytes)) == digest {
            return Ok(kept);
        }
        // Changed in the cache since it was kept: fetched again.
        let _ = std::fs::remove_file(&kept);
    }
    let fetch_error = |why: String| match digest {
        Some(_) => Error::build(format!(
            "cannot fetch the component {url}: {why}; it is not in the download cache ({}) either, so this run \
             needs to reach it once",
            kept.display()
        )),
        None => Error::build(format!("cannot fetch the component {url}: {why}")),
    };
    on_step(&format!("fetching {url}"));
    let (bytes, signature) = match remote {
        Remote::Url(url) => {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(Error::build(format!(
                    "`url = \"{url}\"`: a component URL starts with https:// or http://"
                )));
            }
            (download(url, max_size, "component").map_err(|e| fetch_error(e.to_string()))?, None)
        }
        Remote::Oci(reference) => {
            let pulled = crate::oci::pull(reference, digest, max_size, true).map_err(fetch_error)?;
            (pulled.wasm, pulled.signature)
        }
    };
    let got = hex(&sha256(&bytes));
    let checked = if digest.is_some() { "as pinned".to_string() } else { got.clone() };
    let digest = digest.unwrap_or(&got);
    let kept = kept_as(digest);
    if got != digest {
        return Err(Error::build(format!(
            "the component fetched from {url} is not the one the manifest pins: its SHA-256 is {got}, the manifest's \
             `sha256` is {digest}; it was not kept or loaded (if the publisher changed it on purpose, review it and \
             pin the new digest)"
        )));
    }
    keep(&kept, &bytes).map_err(|e| Error::io(format!("keeping the component in {}", kept.display()), e))?;
    if let Some(signature) = signature.and_then(|bytes| String::from_utf8(bytes).ok()) {
        keep_signature(cache_dir, digest, &signature)?;
    }
    on_step(&format!(
        "fetched {url} ({}), SHA-256 {checked}",
        weavelet_core::human_bytes(bytes.len() as u64)
    ));
    Ok(kept)
}

/// Why a download failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The server answered 404.
    NotFound,
    /// Anything else, said.
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::NotFound => f.write_str("the server answered 404 Not Found"),
            Failure::Other(why) => f.write_str(why),
        }
    }
}

impl From<String> for Failure {
    fn from(why: String) -> Self {
        Failure::Other(why)
    }
}

/// A single-threaded Tokio runtime for one transfer.
pub(crate) fn transfer_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the transfer: {e}"))
}

/// The body at `url`, refused past `max_size` bytes (before it is all read);
/// `what` it is, for messages.
fn download(url: &str, max_size: u64, what: &str) -> Result<Vec<u8>, Failure> {
    let runtime = transfer_runtime()?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Failure::Other(e.to_string()))?;
        let mut response = client.get(url).send().await.map_err(|e| describe(&e))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(Failure::NotFound);
        }
        if !status.is_success() {
            return Err(format!("the server answered {status}").into());
        }
        if response.content_length().is_some_and(|n| n > max_size) {
            return Err(format!(
                "it is {} long, more than the largest {what} accepted ({})",
                weavelet_core::human_bytes(response.content_length().unwrap_or(0)),
                weavelet_core::human_bytes(max_size)
            )
            .into());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
            if body.len() as u64 + chunk.len() as u64 > max_size {
                return Err(format!(
                    "it is longer than the largest {what} accepted ({})",
                    weavelet_core::human_bytes(max_size)
                )
                .into());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    })
}

/// A transfer error with its causes (reqwest's own message names only the request).
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}
