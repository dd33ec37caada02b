//! Components by URL, pinned by digest: fetched once into the
//! content-addressed download cache, checked against the digest the
//! manifest pins before anything is kept, and taken from the cache from
//! then on (so runs work offline).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use weavelet_core::Error;
use weavelet_core::key::{hex, sha256};

/// How long a download may take in all.
const TIMEOUT: Duration = Duration::from_secs(300);

/// The component the manifest pins as `url` with SHA-256 `digest` (64
/// lowercase hex digits): the cached file, fetched first if it is not in the
/// cache. At most `max_size` bytes are fetched; `on_step` hears what is done.
///
/// With no `digest` (`weavelet add`, before the review that pins one) it is
/// always fetched, and kept under the digest it turns out to have.
pub(crate) fn component(
    url: &str,
    digest: Option<&str>,
    cache_dir: Option<&Path>,
    max_size: u64,
    on_step: &mut dyn FnMut(&str),
) -> Result<PathBuf, Error> {
    let folder = match cache_dir {
        Some(cache) => cache.join("downloads"),
        None => std::env::temp_dir().join("weavelet-downloads"),
    };
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
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(Error::build(format!(
            "`url = \"{url}\"`: a component URL starts with https:// or http://"
        )));
    }
    on_step(&format!("fetching {url}"));
    let bytes = download(url, max_size).map_err(fetch_error)?;
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
    std::fs::create_dir_all(&folder).map_err(|e| Error::io(format!("creating {}", folder.display()), e))?;
    // Written aside and renamed: a half-written file is never taken for the component.
    let partial = folder.join(format!(".sha256-{digest}.{}.part", std::process::id()));
    let written = std::fs::File::create(&partial)
        .and_then(|mut f| f.write_all(&bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&partial, &kept));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(Error::io(format!("keeping the component in {}", kept.display()), e));
    }
    on_step(&format!(
        "fetched {url} ({}), SHA-256 {checked}",
        weavelet_core::human_bytes(bytes.len() as u64)
    ));
    Ok(kept)
}

/// The body at `url`, refused past `max_size` bytes (before it is all read).
fn download(url: &str, max_size: u64) -> Result<Vec<u8>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the download: {e}"))?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| e.to_string())?;
        let mut response = client.get(url).send().await.map_err(|e| describe(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("the server answered {status}"));
        }
        if response.content_length().is_some_and(|n| n > max_size) {
            return Err(format!(
                "it is {} long, more than the largest component accepted ({})",
                weavelet_core::human_bytes(response.content_length().unwrap_or(0)),
                weavelet_core::human_bytes(max_size)
            ));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
            if body.len() as u64 + chunk.len() as u64 > max_size {
                return Err(format!(
                    "it is longer than the largest component accepted ({})",
                    weavelet_core::human_bytes(max_size)
                ));
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
