//! Tables in and out: files under granted directories, Arrow IPC bytes from
//! and to guests, and atomic output files.

use std::fs::File;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::*;

use super::{Table, TableError, guarded};
use crate::files::{ReadGrants, ReadLog};

/// Columns accepted in a table decoded from a guest's IPC bytes.
pub const MAX_IPC_COLUMNS: usize = 10_000;
/// Rows accepted in a table decoded from a guest's IPC bytes.
pub const MAX_IPC_ROWS: usize = 100_000_000;

/// The file formats tables are read from and written to, chosen by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.csv` (with a header row).
    Csv,
    /// `.parquet`, `.pq`.
    Parquet,
    /// `.arrow`, `.ipc`, `.feather`: the Arrow IPC file format.
    Ipc,
    /// `.json`: an array of records.
    Json,
    /// `.jsonl`, `.ndjson`: one record per line.
    JsonLines,
}

impl Format {
    /// The format a path's extension names.
    pub fn of(path: &Path) -> Result<Format, TableError> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        Format::named(&ext).ok_or_else(|| {
            TableError::new(format!(
                "{}: unknown table format `.{ext}` (use .csv, .parquet, .arrow/.ipc, .json or .jsonl)",
                path.display()
            ))
        })
    }

    /// The format an extension or name stands for.
    pub fn named(name: &str) -> Option<Format> {
        Some(match name {
            "csv" => Format::Csv,
            "parquet" | "pq" => Format::Parquet,
            "arrow" | "ipc" | "feather" => Format::Ipc,
            "json" => Format::Json,
            "jsonl" | "ndjson" => Format::JsonLines,
            _ => return None,
        })
    }
}

/// Open a table file (lazily where the format allows: CSV, Parquet, IPC and
/// JSON lines are scanned, so only the columns and rows used are read).
pub fn read(grants: &ReadGrants, log: &ReadLog, path: &str) -> Result<Table, TableError> {
    let _op = crate::activity::enter("table.read");
    // polars reads the opened file, never the path: no globbing, no folder
    // expansion, nothing resolved again after the grant was checked.
    let (file, real) = grants.open_file(path, log)?;
    let format = Format::of(&real)?;
    let source = || -> PolarsResult<ScanSources> { Ok(ScanSources::Files(Arc::from([file.try_clone()?]))) };
    let lf = guarded(|| match format {
        Format::Csv => LazyCsvReader::new_with_sources(source()?).with_has_header(true).finish(),
        Format::Parquet => LazyFrame::scan_parquet_sources(
            source()?,
            ScanArgsParquet { hive_options: HiveOptions::new_disabled(), glob: false, ..Default::default() },
        ),
        Format::Ipc => LazyFrame::scan_ipc_sources(
            source()?,
            Default::default(),
            UnifiedScanArgs { hive_options: HiveOptions::new_disabled(), glob: false, ..Default::default() },
        ),
        Format::JsonLines => LazyJsonLineReader::new_with_sources(source()?).finish(),
        Format::Json => JsonReader::new(file.try_clone()?)
            .with_json_format(JsonFormat::Json)
            .finish()
            .map(DataFrame::lazy),
    })
    .map_err(|e| TableError::new(format!("reading `{path}`: {e}")))?;
    let table = match format {
        Format::Json => Table::from_lazy(lf),
        Format::Csv | Format::Parquet | Format::Ipc | Format::JsonLines => Table::over_scan(lf, real),
    };
    table.validated().map_err(|e| TableError::new(format!("reading `{path}`: {e}")))
}

/// Compute `table` and write it to a new file at `path` as Arrow IPC, the
/// form in which tables pass between the host and its worker processes.
/// Returns the bytes written.
pub fn write_exchange(table: &Table, path: &Path) -> Result<u64, TableError> {
    let _op = crate::activity::enter("table.write_exchange");
    if !table.is_collected() {
        // Streamed from the plan to the file in batches: a 10 M-row scan is never
        // held whole, and the file (tmpfs) is not the writing process's heap.
        let target = SinkTarget::Path(guarded(|| PlRefPath::try_from_path(path))?);
        let sink = guarded(|| {
            table.lazy().sink(
                SinkDestination::File { target },
                FileWriteFormat::Ipc(IpcWriterOptions::default()),
                UnifiedSinkArgs::default(),
            )
        })?;
        if guarded(|| sink.clone().collect_with_engine(Engine::Streaming)).is_ok() {
            return Ok(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0));
        }
        // What streaming cannot run is computed in memory below.
        let _ = std::fs::remove_file(path);
    }
    let mut df = table.collect()?;
    let file = File::options()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| TableError::new(format!("creating `{}`: {e}", path.display())))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    guarded(|| IpcWriter::new(&mut out).finish(&mut df))?;
    let file = out.into_inner().map_err(|e| TableError::new(format!("writing `{}`: {e}", path.display())))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    Ok(size)
}

/// The table held in the Arrow IPC file at `path` (written by
/// [`write_exchange`]), memory-mapped and read lazily. `keep` lives as long
/// as any table over the file: its drop may remove the file.
pub fn open_exchange(
    path: &Path,
    keep: Option<Arc<dyn std::any::Any + Send + Sync>>,
) -> Result<Table, TableError> {
    let file = File::open(path).map_err(|e| TableError::new(format!("opening `{}`: {e}", path.display())))?;
    let lf = guarded(|| {
        LazyFrame::scan_ipc_sources(
            ScanSources::Files(Arc::from([file])),
            Default::default(),
            UnifiedScanArgs { hive_options: HiveOptions::new_disabled(), glob: false, ..Default::default() },
        )
    })?;
    let table = Table::over_exchange(lf, super::Exchange { path: path.to_path_buf(), _keep: keep });
    // The schema is read now, so a file that is not IPC fails here, not in a later node.
    table.schema()?;
    Ok(table)
}

/// The table (or some of its columns) as Arrow IPC file bytes, refused past `limit` bytes.
pub fn to_ipc(table: &Table, columns: &[String], limit: usize) -> Result<Vec<u8>, TableError> {
    let _op = crate::activity::enter("table.to_ipc");
    let table = if columns.is_empty() { table.clone() } else { table.select(columns)? };
    let mut df = table.collect()?;
    let estimate = df.estimated_size();
    if estimate > limit {
        return Err(TableError::new(format!(
            "the table holds about {}, more than the {} a node may receive as IPC; select fewer columns or rows",
            crate::human_bytes(estimate as u64),
            crate::human_bytes(limit as u64)
        )));
    }
    let mut bytes = Vec::new();
    guarded(|| IpcWriter::new(&mut bytes).finish(&mut df))?;
    Ok(bytes)
}

/// Decode Arrow IPC file bytes from a guest, with byte, column and row caps.
pub fn from_ipc(bytes: &[u8], limit: usize) -> Result<Table, TableError> {
    let _op = crate::activity::enter("table.from_ipc");
    let bad = |e: TableError| TableError::new(format!("malformed Arrow IPC: {}", e.message));
    if bytes.len() > limit {
        return Err(TableError::new(format!(
            "{} of IPC exceeds the {} a node may pass",
            crate::human_bytes(bytes.len() as u64),
            crate::human_bytes(limit as u64)
        )));
    }
    check_ipc_lengths(bytes, limit).map_err(|e| TableError::new(format!("malformed Arrow IPC: {e}")))?;
    let mut reader = IpcReader::new(Cursor::new(bytes));
    let columns = guarded(|| reader.schema().map(|s| s.len())).map_err(bad)?;
    if columns > MAX_IPC_COLUMNS {
        return Err(TableError::new(format!(
            "IPC with {columns} columns; at most {MAX_IPC_COLUMNS} are accepted"
        )));
    }
    // The row limit also bounds every buffer the decoder allocates from lengths in the bytes.
    let df = guarded(|| IpcReader::new(Cursor::new(bytes)).with_n_rows(Some(MAX_IPC_ROWS + 1)).finish())
        .map_err(bad)?;
    if df.height() > MAX_IPC_ROWS {
        return Err(TableError::new(format!("IPC with more than {MAX_IPC_ROWS} rows")));
    }
    check_temporal(&df)?;
    Ok(Table::from_frame(df))
}

/// Refuse dates, datetimes and times polars cannot represent as calendar
/// values (chrono's range is about ±262 000 years; a time of day is under
/// 24 h): formatting one panics inside polars (found by fuzzing), so they are
/// stopped where guest data comes in.
fn check_temporal(df: &DataFrame) -> Result<(), TableError> {
    // Physical bounds per type: days, then seconds scaled by the unit.
    const SECONDS: i64 = 8_000_000_000_000;
    for column in df.columns() {
        let (lo, hi) = match column.dtype() {
            DataType::Date => (-95_000_000, 95_000_000),
            DataType::Datetime(TimeUnit::Milliseconds, _) => (-SECONDS * 1_000, SECONDS * 1_000),
            DataType::Datetime(TimeUnit::Microseconds, _) => (-SECONDS * 1_000_000, SECONDS * 1_000_000),
            DataType::Time => (0, 86_400_000_000_000 - 1),
            _ => continue,
        };
        let physical = guarded(|| column.as_materialized_series().to_physical_repr().cast(&DataType::Int64))?;
        let values = physical.i64().map_err(|e| TableError::new(e.to_string()))?;
        if values.min().is_some_and(|v| v < lo) || values.max().is_some_and(|v| v > hi) {
            return Err(TableError::new(format!(
                "column `{}` holds {} values outside the calendar ({} to {} in its physical unit)",
                column.name(),
                column.dtype(),
                lo,
                hi
            )));
        }
    }
    Ok(())
}

/// Check every length an Arrow IPC file states against the file itself, before
/// polars reads it. polars allocates each buffer by the length the message
/// states (found by fuzzing: 200 bytes claiming a buffer of terabytes abort the
/// process, and an allocation failure cannot be caught), so every buffer must
/// lie inside its block's body, every block inside the file, every row count
/// under [`MAX_IPC_ROWS`], and compressed buffers may not claim to inflate to
/// more than four times `limit` in all.
fn check_ipc_lengths(bytes: &[u8], limit: usize) -> Result<(), String> {
    use polars_arrow_format::ipc::{
        FooterRef, MessageHeaderRef, MessageRef, RecordBatchRef, planus::ReadAsRoot,
    };
    let n = bytes.len();
    let magic: &[u8] = b"ARROW1";
    if n < 18 || !bytes.starts_with(magic) || !bytes.ends_with(magic) {
        return Err("not an Arrow IPC file (it must start and end with ARROW1)".into());
    }
    let int = |at: usize| -> Result<usize, String> {
        let word: [u8; 4] = bytes.get(at..at + 4).and_then(|w| w.try_into().ok()).ok_or("truncated")?;
        usize::try_from(i32::from_le_bytes(word)).map_err(|_| "a negative length".to_string())
    };
    let footer_end = n - 10;
    let footer_start =
        footer_end.checked_sub(int(footer_end)?).ok_or("the footer is longer than the file")?;
    let flat = |e: polars_arrow_format::ipc::planus::Error| format!("bad metadata: {e}");
    let footer = FooterRef::read_as_root(&bytes[footer_start..footer_end]).map_err(flat)?;
    let mut inflated = 0usize;
    let mut check_batch = |batch: RecordBatchRef<'_>, body: &[u8]| -> Result<(), String> {
        let rows = |r: i64| usize::try_from(r).ok().filter(|r| *r <= MAX_IPC_ROWS);
        rows(batch.length().map_err(flat)?).ok_or(format!("a batch claims more than {MAX_IPC_ROWS} rows"))?;
        for node in batch.nodes().map_err(flat)?.into_iter().flatten() {
            rows(node.length()).ok_or(format!("a column claims more than {MAX_IPC_ROWS} rows"))?;
        }
        let compressed = batch.compression().map_err(flat)?.is_some();
        for buffer in batch.buffers().map_err(flat)?.into_iter().flatten() {
            let start = usize::try_from(buffer.offset()).map_err(|_| "a negative buffer offset")?;
            let len = usize::try_from(buffer.length()).map_err(|_| "a negative buffer length")?;
            let data = start.checked_add(len).and_then(|end| body.get(start..end)).ok_or(format!(
                "a buffer of {len} bytes at {start} lies outside its {}-byte body",
                body.len()
            ))?;
            if compressed && let Some(word) = data.get(..8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
                let claimed = usize::try_from(i64::from_le_bytes(word)).unwrap_or(0);
                inflated = inflated.saturating_add(claimed);
                if inflated > limit.saturating_mul(4) {
                    return Err(format!(
                        "compressed buffers claim to inflate to more than {}",
                        crate::human_bytes(limit.saturating_mul(4) as u64)
                    ));
                }
            }
        }
        Ok(())
    };
    let batches = footer.record_batches().map_err(flat)?.into_iter().flatten();
    let dictionaries = footer.dictionaries().map_err(flat)?.into_iter().flatten();
    for block in batches.chain(dictionaries) {
        let at = |v: i64| usize::try_from(v).map_err(|_| "a negative block offset or length".to_string());
        let (offset, meta, body_len) =
            (at(block.offset())?, at(block.meta_data_length().into())?, at(block.body_length())?);
        let body_start = offset.checked_add(meta).ok_or("a block past the file")?;
        let body_end =
            body_start.checked_add(body_len).filter(|e| *e <= footer_start).ok_or("a block past the file")?;
        // The message: an optional continuation marker, its length, the flatbuffer.
        let mut at_message = offset;
        if bytes.get(offset..offset + 4) == Some(&[0xff; 4][..]) {
            at_message += 4;
        }
        let len = int(at_message)?;
        let message = (at_message + 4)
            .checked_add(len)
            .filter(|end| *end <= body_start)
            .map(|end| &bytes[at_message + 4..end])
            .ok_or("a message longer than its block")?;
        let message = MessageRef::read_as_root(message).map_err(flat)?;
        let body = &bytes[body_start..body_end];
        match message.header().map_err(flat)? {
            Some(MessageHeaderRef::RecordBatch(batch)) => check_batch(batch, body)?,
            Some(MessageHeaderRef::DictionaryBatch(dict)) => {
                if let Some(batch) = dict.data().map_err(flat)? {
                    check_batch(batch, body)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Write `table` to `path` in the format its extension names, atomically: the
/// data goes to a temporary file in the same folder, which is synced and then
/// renamed over `path`. On any failure, `path` is untouched and no temporary
/// file is left.
/// `writable` as [`atomic_write`] takes it.
pub fn write(table: &Table, path: &Path, writable: &[PathBuf]) -> Result<u64, TableError> {
    let format = Format::of(path)?;
    let mut df = table.collect()?;
    atomic_write(path, writable, |file| {
        guarded(|| match format {
            Format::Csv => CsvWriter::new(&mut *file).finish(&mut df),
            Format::Parquet => ParquetWriter::new(&mut *file).finish(&mut df).map(|_| ()),
            Format::Ipc => IpcWriter::new(&mut *file).finish(&mut df),
            Format::Json => JsonWriter::new(&mut *file).with_json_format(JsonFormat::Json).finish(&mut df),
            Format::JsonLines => {
                JsonWriter::new(&mut *file).with_json_format(JsonFormat::JsonLines).finish(&mut df)
            }
        })
    })
}

/// The whole table as a JSON array of records (one object a row).
pub fn json_records(table: &Table) -> Result<Vec<u8>, TableError> {
    let mut df = table.collect()?;
    let mut bytes = Vec::new();
    guarded(|| JsonWriter::new(&mut bytes).with_json_format(JsonFormat::Json).finish(&mut df))?;
    Ok(bytes)
}

/// Write a file through a temporary sibling, fsync, rename; returns the bytes written.
///
/// `writable` lists the folders nodes could write into (their write grants,
/// canonical). A file under one of them is written beneath that folder by
/// descriptor: a link a node planted there (`out/sub -> /home/me`) cannot
/// lead the host's write out of the folder, and the final rename replaces a
/// planted link instead of following it. Elsewhere the path is the
/// operator's, used as written.
pub fn atomic_write(
    path: &Path,
    writable: &[PathBuf],
    fill: impl FnOnce(&mut File) -> Result<(), TableError>,
) -> Result<u64, TableError> {
    let absolute = std::path::absolute(path).map(|p| crate::files::normalize(&p)).unwrap_or_default();
    if let Some(folder) =
        writable.iter().filter(|w| absolute.starts_with(w)).max_by_key(|w| w.components().count())
    {
        let rel = absolute.strip_prefix(folder).unwrap_or(Path::new(""));
        return atomic_write_beneath(folder, rel, path, fill);
    }
    // Elsewhere the folder is the operator's: it is created as named, and the
    // file written in it as under a grant.
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| TableError::new(format!("creating the folder of {}: {e}", path.display())))?;
    let name = path.file_name().map_or_else(|| Path::new("output"), Path::new);
    atomic_write_beneath(&dir, name, path, fill)
}

/// [`atomic_write`] of `folder`/`rel`, every step beneath `folder` (cap-std):
/// the temporary file is created new, synced, and renamed over the target.
fn atomic_write_beneath(
    folder: &Path,
    rel: &Path,
    path: &Path,
    fill: impl FnOnce(&mut File) -> Result<(), TableError>,
) -> Result<u64, TableError> {
    use cap_std::fs::{Dir, OpenOptions};
    let io = |what: &str, e: std::io::Error| {
        let why = if crate::files::escaped(&e) {
            format!("it leads outside {} (through a link a node could have made)", folder.display())
        } else {
            e.to_string()
        };
        TableError::new(format!("{what} {}: {why}", path.display()))
    };
    let Some(name) = rel.file_name() else {
        return Err(TableError::new(format!("{}: not a file name", path.display())));
    };
    let root = Dir::open_ambient_dir(folder, cap_std::ambient_authority())
        .map_err(|e| io("opening the folder of", e))?;
    let dir = match rel.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => match root.open_dir(parent) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                root.create_dir_all(parent).map_err(|e| io("creating the folder of", e))?;
                root.open_dir(parent).map_err(|e| io("opening the folder of", e))?
            }
            opened => opened.map_err(|e| io("opening the folder of", e))?,
        },
        _ => root,
    };
    let tmp = format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id());
    // A temporary file left by a killed process of the same number (unlinking never follows a link).
    let _ = dir.remove_file(&tmp);
    let result = (|| {
        // `create_new`: never through a link someone placed at the temporary name.
        let mut file = dir
            .open_with(&tmp, OpenOptions::new().write(true).create_new(true))
            .map_err(|e| io("creating a temporary file for", e))?
            .into_std();
        fill(&mut file)?;
        file.flush().map_err(|e| io("writing", e))?;
        file.sync_all().map_err(|e| io("syncing", e))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        drop(file);
        dir.rename(&tmp, &dir, name).map_err(|e| io("renaming the temporary file onto", e))?;
        if let Ok(d) = dir.open(".") {
            let _ = d.sync_all();
        }
        Ok(size)
    })();
    if result.is_err() {
        let _ = dir.remove_file(&tmp);
    }
    result
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn every_format_reads_back_from_the_opened_file() {
        let dir = tempfile::tempdir().unwrap();
        let granted = dir.path().canonicalize().unwrap();
        let grants = ReadGrants::new(granted.clone(), vec![granted.clone()]);
        let table = Table::from_frame(df!("region" => ["north", "south"], "revenue" => [1.5, 2.5]).unwrap());
        for name in ["t.csv", "t.parquet", "t.arrow", "t.json", "t.jsonl"] {
            write(&table, &granted.join(name), &[]).unwrap();
            let log = ReadLog::new();
            let back = read(&grants, &log, name).unwrap_or_else(|e| panic!("{name}: {e}"));
            // Computed twice: the opened file is read from its start each time.
            for _ in 0..2 {
                let df = back.collect().unwrap();
                assert_eq!(df.height(), 2, "{name}");
                assert_eq!(df.column("revenue").unwrap().f64().unwrap().sum(), Some(4.0), "{name}");
            }
            assert_eq!(log.take().files, vec![granted.join(name)]);
        }
    }

    #[test]
    fn an_output_under_a_write_grant_is_written_beneath_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let grant = root.join("out");
        std::fs::create_dir_all(grant.join("deep")).unwrap();
        let fill = |f: &mut File| f.write_all(b"x").map_err(|e| TableError::new(e.to_string()));
        // New folders are created beneath the grant.
        assert_eq!(atomic_write(&grant.join("a/b/c.txt"), std::slice::from_ref(&grant), fill).unwrap(), 1);
        assert_eq!(std::fs::read(grant.join("a/b/c.txt")).unwrap(), b"x");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&root, grant.join("up")).unwrap();
            let err =
                atomic_write(&grant.join("up/escaped.txt"), std::slice::from_ref(&grant), fill).unwrap_err();
            assert!(err.message.contains("it leads outside"), "{}", err.message);
            assert!(!root.join("escaped.txt").exists());
            // A link that stays inside the grant is followed.
            std::os::unix::fs::symlink("deep", grant.join("inside")).unwrap();
            atomic_write(&grant.join("inside/ok.txt"), std::slice::from_ref(&grant), fill).unwrap();
            assert_eq!(std::fs::read(grant.join("deep/ok.txt")).unwrap(), b"x");
        }
    }
}
