//! Writing node outputs to files: a pipeline's output files (a manifest's
//! `[outputs]`), each written atomically, or left alone when it already holds
//! the value it would be written from.

use std::io::Write;
use std::path::{Path, PathBuf};

use weavelet_core::{CacheUse, RunReport, Value};
use weavelet_data::graphics::raster::render;
use weavelet_data::table::io;
use weavelet_data::{Image, TableError};
use weavelet_store::ResultStore;

/// What happened to one output file after a run.
#[derive(Debug)]
pub struct OutputFile {
    /// The node whose output it is.
    pub node: String,
    /// The file (for a list of images, the pattern with `{name}`).
    pub path: PathBuf,
    /// Written (and how), left as it was, or why it could not be written.
    pub outcome: Result<Written, TableError>,
}

/// How an output file was dealt with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// It was written.
    Wrote {
        /// Bytes written.
        bytes: u64,
        /// For a list of images: how many files (one per image).
        images: Option<usize>,
    },
    /// It already held what it would be written from, unchanged since: left alone.
    UpToDate,
}

/// Write each `(node, path)` of `files` from `report`'s outputs (nodes that
/// produced nothing are passed over). With a result store, a file written
/// before from a value of the same identity and unchanged since is left
/// alone (unless `cache` is not [`CacheUse::ReuseAndStore`]), and every file
/// written is remembered.
pub(crate) fn write_all(
    report: &RunReport,
    files: &[(String, PathBuf)],
    store: Option<&ResultStore>,
    cache: CacheUse,
) -> Vec<OutputFile> {
    let mut done = Vec::new();
    for (node, path) in files {
        let Some(value) = report.output(node) else { continue };
        let single_file = !path.to_string_lossy().contains("{name}");
        let identity = report.identity(node).filter(|_| single_file);
        if let (Some(id), Some(store)) = (identity, store)
            && cache == CacheUse::ReuseAndStore
            && store.output_is_current(path, id)
        {
            done.push(OutputFile { node: node.clone(), path: path.clone(), outcome: Ok(Written::UpToDate) });
            continue;
        }
        let written = save_in(value, path, &report.write_grants);
        if let (Ok(_), Some(id), Some(store)) = (&written, identity, store) {
            store.output_written(path, id);
        }
        let images = match value {
            Value::Images(images) => Some(images.len()),
            _ => None,
        };
        let outcome = written.map(|bytes| Written::Wrote { bytes, images });
        done.push(OutputFile { node: node.clone(), path: path.clone(), outcome });
    }
    done
}

/// Write `value` to `path`, atomically (a temporary file renamed into place).
///
/// Tables are written in the format the extension names (`.csv`, `.parquet`,
/// `.arrow`/`.ipc`, `.json`, `.jsonl`). An SVG is written as SVG text
/// (`.svg`) or rendered and encoded (`.png`, `.jpg`/`.jpeg`, `.webp`; a
/// name ending in `@2x` renders at twice the size, up to `@8x`); an
/// image is encoded by extension. A list of images goes to a path with
/// `{name}` in it, one file per image (`thumbs/{name}.png`). Other values are
/// written as JSON (`.json`) or as text (any other extension). Returns the
/// bytes written.
pub fn save(value: &Value, path: &Path) -> Result<u64, TableError> {
    save_in(value, path, &[])
}

/// [`save`], writing beneath the folders in `writable` (nodes' write grants)
/// without following links planted there (see [`io::atomic_write`]).
fn save_in(value: &Value, path: &Path, writable: &[PathBuf]) -> Result<u64, TableError> {
    let write_bytes = |path: &Path, bytes: &[u8]| {
        io::atomic_write(path, writable, |file| {
            file.write_all(bytes).map_err(|e| TableError::new(format!("writing {}: {e}", path.display())))
        })
    };
    match value {
        Value::Table(table) => io::write(table, path, writable),
        Value::Svg(svg) => match Image::format_of(path) {
            Some(format) => write_bytes(path, &render(svg, render_scale(path))?.encode(format)?),
            None if has_extension(path, "svg") => write_bytes(path, svg.to_text().as_bytes()),
            None => Err(TableError::new(format!(
                "{}: an SVG is saved as .svg, .png, .jpg or .webp",
                path.display()
            ))),
        },
        Value::Image(image) => {
            let format = Image::format_of(path).ok_or_else(|| {
                TableError::new(format!("{}: an image is saved as .png, .jpg or .webp", path.display()))
            })?;
            write_bytes(path, &image.encode(format)?)
        }
        Value::Images(images) => save_images(images, path, writable),
        other => {
            let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
            let text = if is_json { to_json(other).to_string() } else { other.to_string() };
            io::atomic_write(path, writable, |file| {
                writeln!(file, "{text}")
                    .map_err(|e| TableError::new(format!("writing {}: {e}", path.display())))
            })
        }
    }
}

/// The scale an SVG is rendered at for a raster file: `chart@2x.png` is twice
/// the SVG's size (any factor from 1 to 8), otherwise its size.
fn render_scale(path: &Path) -> f64 {
    let stem = path.file_stem().map(|s| s.to_string_lossy()).unwrap_or_default();
    stem.rsplit_once('@')
        .and_then(|(_, factor)| factor.strip_suffix('x'))
        .and_then(|f| f.parse::<f64>().ok())
        .filter(|f| (1.0..=8.0).contains(f))
        .unwrap_or(1.0)
}

fn has_extension(path: &Path, ext: &str) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

/// One file per image: `{name}` in the path becomes each image's name.
fn save_images(images: &[Image], path: &Path, writable: &[PathBuf]) -> Result<u64, TableError> {
    let pattern = path.to_string_lossy();
    if !pattern.contains("{name}") {
        return Err(TableError::new(format!(
            "{pattern}: a list of images is saved one file per image; put `{{name}}` in the path \
             (for example `thumbs/{{name}}.png`)"
        )));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = images.iter().find(|i| !seen.insert(i.name())) {
        return Err(TableError::new(format!(
            "{pattern}: two images are named `{}`; give them distinct names (with_name)",
            twice.name()
        )));
    }
    let mut total = 0;
    for image in images {
        let file = std::path::PathBuf::from(pattern.replace("{name}", image.name()));
        total += save_in(&Value::Image(image.clone()), &file, writable)?;
    }
    Ok(total)
}

/// A value as JSON, whole, for tools (`weavelet run --json`): scalars and
/// lists as themselves; a table as `{"table": {"schema": [[name, type]...],
/// "rows": [records]}}`; an SVG as `{"svg": text}`; an image as `{"image":
/// {"name", "width", "height", "png_base64"}}`; images as `{"images": [...]}`;
/// bytes as `{"bytes_base64": ...}`.
pub fn value_json(value: &Value) -> Result<serde_json::Value, String> {
    use serde_json::json;
    let image = |i: &Image| -> Result<serde_json::Value, String> {
        let png = i.encode("png").map_err(|e| e.to_string())?;
        Ok(json!({ "name": i.name(), "width": i.width(), "height": i.height(), "png_base64": base64(&png) }))
    };
    Ok(match value {
        Value::Table(table) => {
            let schema: Vec<[String; 2]> =
                table.schema().map_err(|e| e.to_string())?.into_iter().map(|(n, t)| [n, t]).collect();
            let records = io::json_records(table).map_err(|e| e.to_string())?;
            let rows: serde_json::Value =
                serde_json::from_slice(&records).map_err(|e| format!("the table as JSON: {e}"))?;
            json!({ "table": { "schema": schema, "rows": rows } })
        }
        Value::Svg(svg) => json!({ "svg": svg.to_text() }),
        Value::Image(i) => json!({ "image": image(i)? }),
        Value::Images(list) => json!({ "images": list.iter().map(image).collect::<Result<Vec<_>, _>>()? }),
        Value::Bytes(b) => json!({ "bytes_base64": base64(b) }),
        other => to_json(other),
    })
}

/// Standard base64, padded.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * k)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::Null | Value::Table(_) => J::Null,
        Value::Svg(s) => J::from(s.to_text()),
        Value::Image(i) => J::from(i.to_string()),
        Value::Images(l) => J::from(l.iter().map(|i| i.name().to_string()).collect::<Vec<_>>()),
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(x) => J::from(*x),
        Value::Text(s) => J::from(&**s),
        Value::Bytes(b) => J::from(b.to_vec()),
        Value::BoolList(l) => J::from(l.to_vec()),
        Value::IntList(l) => J::from(l.to_vec()),
        Value::FloatList(l) => J::from(l.to_vec()),
        Value::TextList(l) => J::from(l.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_is_the_standard_alphabet_padded() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
            ("\u{ff}", "w78="),
        ];
        for (text, encoded) in cases {
            assert_eq!(super::base64(text.as_bytes()), encoded, "{text:?}");
        }
    }
}
