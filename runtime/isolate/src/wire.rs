//! What the supervisor and a worker say to each other, over the worker's
//! stdin and a duplicate of its stdout.
//!
//! A frame is a little-endian `u32` header length, a `u64` body length, a
//! bincode header and a body of bytes (the values). Every length is checked
//! before anything is allocated: the supervisor reads what a worker that may
//! have been taken over writes.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use weavelet_core::{
    Budgets, CachePolicy, EventKind, FailureKind, Grants, Isolation, LogLevel, NetHost, NodeFailure, Policy,
    Retry, Value, codec,
};
use weavelet_data::{ReadGrants, Reads};

/// The largest header either side accepts.
const MAX_HEADER: u32 = 16 << 20;
/// The largest body a worker accepts from its supervisor (tables travel as
/// files, not here); the supervisor bounds a worker's by the node's output budget.
pub(crate) const MAX_BODY: u64 = 4 << 30;

/// Headers are bincode (serde, standard configuration), decoded within the
/// header's checked length.
fn header_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<{ MAX_HEADER as usize }>()
}

/// One frame: a header and the bytes of the values it describes.
pub(crate) struct Frame<H> {
    pub(crate) header: H,
    pub(crate) body: Vec<u8>,
}

pub(crate) fn write_frame<H: Serialize>(out: &mut impl Write, header: &H, body: &[u8]) -> io::Result<()> {
    let header = bincode::serde::encode_to_vec(header, header_config()).map_err(io::Error::other)?;
    let mut head = Vec::with_capacity(12 + header.len());
    head.extend_from_slice(&u32::try_from(header.len()).map_err(io::Error::other)?.to_le_bytes());
    head.extend_from_slice(&(body.len() as u64).to_le_bytes());
    head.extend_from_slice(&header);
    out.write_all(&head)?;
    out.write_all(body)?;
    out.flush()
}

/// The next frame, or `None` at a clean end of the stream.
pub(crate) fn read_frame<H: for<'de> Deserialize<'de>>(
    input: &mut impl Read,
    max_body: u64,
) -> io::Result<Option<Frame<H>>> {
    let mut lengths = [0u8; 12];
    match input.read_exact(&mut lengths[..1]) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    input.read_exact(&mut lengths[1..])?;
    let header_len = u32::from_le_bytes([lengths[0], lengths[1], lengths[2], lengths[3]]);
    let mut body_len = [0u8; 8];
    body_len.copy_from_slice(&lengths[4..]);
    let body_len = u64::from_le_bytes(body_len);
    if header_len > MAX_HEADER || body_len > max_body {
        return Err(io::Error::other(format!("a frame of {header_len} + {body_len} bytes is too large")));
    }
    let mut header = vec![0u8; header_len as usize];
    input.read_exact(&mut header)?;
    let mut body = Vec::new();
    input.take(body_len).read_to_end(&mut body)?;
    if body.len() as u64 != body_len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let (header, _) =
        bincode::serde::decode_from_slice(&header, header_config()).map_err(io::Error::other)?;
    Ok(Some(Frame { header, body }))
}

/// The engine settings a worker builds its WebAssembly engine with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EngineWire {
    pub(crate) cache_dir: Option<PathBuf>,
    pub(crate) max_component_size: u64,
    pub(crate) wasm_stack: usize,
    pub(crate) epoch_tick_us: u64,
    pub(crate) fuel: bool,
}

/// What a worker may touch, fixed when it starts (Landlock cannot widen later).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Confinement {
    /// Files and folders it may read (beneath).
    pub(crate) read: Vec<PathBuf>,
    /// Folders it may create, write and remove files in (beneath).
    pub(crate) write: Vec<PathBuf>,
}

/// Supervisor → worker.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Request {
    /// The first frame: set up, confine yourself, answer `Ready`.
    Setup { engine: EngineWire, confine: Confinement, scratch: PathBuf, slot: PathBuf },
    /// Run one node; the body holds its inputs.
    Invoke(Box<Invocation>),
    /// Try what a confined worker must not be able to do (and open `open`),
    /// and say what happened: how tests and operators check the confinement.
    Probe { open: Vec<PathBuf>, create: Vec<PathBuf> },
    /// The answer to the running node's [`Reply::Fetch`]: the status and
    /// headers (the body holds the response's body), or an error code of
    /// `weavelet_wasm::net::error_code`.
    Fetched { result: Result<(u16, Headers), String> },
}

/// HTTP header names and values.
pub(crate) type Headers = Vec<(String, Vec<u8>)>;

/// Which node to run, and how.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Invocation {
    pub(crate) origin: Origin,
    pub(crate) node: String,
    pub(crate) source: String,
    pub(crate) policy: PolicyWire,
    pub(crate) events: bool,
    pub(crate) inputs: Vec<ValueWire>,
    /// Its number among the nodes sent to this worker, which the worker marks
    /// in the shared slot when it starts and ends it.
    pub(crate) seq: u64,
    /// Nodes to run right after this one, in order, each reading the
    /// previous one's output where its inputs say [`ValueWire::Previous`]
    /// (their other inputs are in the same body); the worker answers `Done`
    /// for each it runs, and stops when a node fails and the next reads it.
    pub(crate) then: Vec<Then>,
}

/// A node run after an [`Invocation`]'s, in the same worker: a node of the
/// same source, sending its events if that one does. Only what differs from
/// the node before it is sent (a chain of a hundred nodes is one small frame).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Then {
    /// Its name in the source.
    pub(crate) name: String,
    pub(crate) node: String,
    pub(crate) source: String,
    /// Its policy, or `None` when it is the policy of the node before it.
    pub(crate) policy: Option<PolicyWire>,
    pub(crate) inputs: Vec<ValueWire>,
    pub(crate) seq: u64,
}

impl Then {
    /// Whether it reads the output of the node run before it.
    pub(crate) fn reads_previous(&self) -> bool {
        self.inputs.iter().any(|i| matches!(i, ValueWire::Previous))
    }
}

/// Where a node's code comes from, so a worker can load it itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Origin {
    /// A node (declared under `name`) of the component file `path`.
    Component {
        /// The component file.
        path: PathBuf,
        /// The node's name in the component.
        name: String,
        /// The SHA-256 (hex) of the file as the host loaded it: a worker
        /// refuses to run a file that changed since.
        digest: String,
    },
    /// The function `name` of the Rhai script `path`.
    Script {
        /// The script file.
        path: PathBuf,
        /// The function.
        name: String,
        /// The SHA-256 (hex) of the script text as the host loaded it.
        digest: String,
    },
}

impl Origin {
    /// The file the node's code is read from.
    pub fn path(&self) -> &PathBuf {
        match self {
            Origin::Component { path, .. } | Origin::Script { path, .. } => path,
        }
    }

    /// The node's name in its source.
    pub(crate) fn name(&self) -> &str {
        match self {
            Origin::Component { name, .. } | Origin::Script { name, .. } => name,
        }
    }

    /// The digest of the source as the host loaded it.
    pub(crate) fn digest(&self) -> &str {
        match self {
            Origin::Component { digest, .. } | Origin::Script { digest, .. } => digest,
        }
    }

    /// The node `name` of the same source.
    pub fn node(&self, name: &str) -> Origin {
        match self {
            Origin::Component { path, digest, .. } => {
                Origin::Component { path: path.clone(), name: name.into(), digest: digest.clone() }
            }
            Origin::Script { path, digest, .. } => {
                Origin::Script { path: path.clone(), name: name.into(), digest: digest.clone() }
            }
        }
    }
}

/// Worker → supervisor.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Reply {
    /// Set up and confined; says how.
    Ready { confinement: String },
    /// The running node reported something (a log line, progress).
    Event(EventWire),
    /// What each probe did: what was tried, and `Ok` or the error.
    Probed(Vec<(String, Result<(), String>)>),
    /// The running node asks for an HTTP request (the body holds the
    /// request's body); the supervisor checks it against the node's `net`
    /// grant, makes it or refuses it, and answers [`Request::Fetched`].
    Fetch { seq: u64, method: String, uri: String, headers: Headers },
    /// The node finished; on success the body holds its output.
    Done { result: Result<ValueWire, FailureWire>, usage: UsageWire },
}

/// A value in a frame's body: inline bytes (the cache's encoding) or a table's exchange file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum ValueWire {
    /// `codec::encode` bytes: this many, at this offset of the body.
    Inline { offset: u64, len: u64 },
    /// A table in an Arrow IPC file.
    Table(PathBuf),
    /// A table that is a lazy scan of this table file (a CSV, Parquet, IPC or
    /// JSON-lines file a node was granted to read), scanned again by the side
    /// that takes it, beneath its own read grants.
    Scan(PathBuf),
    /// The output of the node run just before, in the same worker (in a
    /// chain, see [`Invocation::then`]).
    Previous,
}

/// Values as wire descriptions and one body; `table_wire` says how a table goes.
pub(crate) fn put_values(
    values: &[Value],
    body: &mut Vec<u8>,
    table_wire: &mut dyn FnMut(&weavelet_data::Table) -> Result<ValueWire, String>,
) -> Result<Vec<ValueWire>, String> {
    values
        .iter()
        .map(|value| match value {
            Value::Table(table) => table_wire(table),
            other => {
                let bytes = codec::encode(other)?;
                let offset = body.len() as u64;
                body.extend_from_slice(&bytes);
                Ok(ValueWire::Inline { offset, len: bytes.len() as u64 })
            }
        })
        .collect()
}

/// The table a [`ValueWire::Scan`] names, scanned again beneath `grants`
/// (the taking node's own), so a path names nothing that node could not read.
pub(crate) fn open_scan(
    file: &Path,
    grants: &weavelet_data::ReadGrants,
) -> Result<weavelet_data::Table, String> {
    weavelet_data::table::io::read(grants, &weavelet_data::ReadLog::new(), &file.to_string_lossy())
        .map_err(|e| e.to_string())
}

/// The value a wire description stands for; `open_table` opens an exchange
/// file or a scanned file.
pub(crate) fn take_value(
    wire: &ValueWire,
    body: &[u8],
    open_table: &mut dyn FnMut(&ValueWire) -> Result<weavelet_data::Table, String>,
) -> Result<Value, String> {
    match wire {
        ValueWire::Table(_) | ValueWire::Scan(_) => open_table(wire).map(Value::Table),
        ValueWire::Previous => Err("the previous node's output is not in this frame".into()),
        ValueWire::Inline { offset, len } => {
            let start = usize::try_from(*offset).map_err(|_| "an offset that does not fit")?;
            let end = start.checked_add(usize::try_from(*len).map_err(|_| "a length that does not fit")?);
            let bytes =
                end.and_then(|end| body.get(start..end)).ok_or("a value past the end of its frame")?;
            codec::decode(bytes)
        }
    }
}

/// A log line or progress.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum EventWire {
    Log { level: String, message: String },
    Progress { done: u64, total: u64, message: String },
}

impl EventWire {
    pub(crate) fn of(kind: &EventKind) -> Option<EventWire> {
        match kind {
            EventKind::Log { level, message } => {
                Some(EventWire::Log { level: level.name().into(), message: message.clone() })
            }
            EventKind::Progress { done, total, message } => {
                Some(EventWire::Progress { done: *done, total: *total, message: message.clone() })
            }
            _ => None,
        }
    }

    pub(crate) fn into_kind(self) -> EventKind {
        match self {
            EventWire::Log { level, message } => {
                let level = match level.as_str() {
                    "trace" => LogLevel::Trace,
                    "debug" => LogLevel::Debug,
                    "warn" => LogLevel::Warn,
                    "error" => LogLevel::Error,
                    _ => LogLevel::Info,
                };
                EventKind::Log { level, message }
            }
            EventWire::Progress { done, total, message } => EventKind::Progress { done, total, message },
        }
    }
}

/// What an invocation used.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct UsageWire {
    pub(crate) files: Vec<PathBuf>,
    pub(crate) dirs: Vec<PathBuf>,
    pub(crate) trees: Vec<PathBuf>,
    pub(crate) peak_memory: u64,
    pub(crate) fuel: Option<u64>,
}

impl UsageWire {
    pub(crate) fn of(usage: weavelet_core::Usage) -> UsageWire {
        let Reads { files, dirs, trees } = usage.reads;
        UsageWire { files, dirs, trees, peak_memory: usage.peak_memory, fuel: usage.fuel }
    }
}

/// A node failure.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct FailureWire {
    /// Where in the source it failed (a script's `file:line`).
    pub(crate) source: String,
    kind: String,
    detail: Option<String>,
    input: Option<String>,
    number: u64,
    limit: u64,
    message: String,
}

impl FailureWire {
    pub(crate) fn of(failure: &NodeFailure) -> FailureWire {
        let mut wire = FailureWire {
            source: failure.source.clone(),
            kind: String::new(),
            detail: None,
            input: None,
            number: 0,
            limit: 0,
            message: failure.message.clone(),
        };
        wire.kind = match &failure.kind {
            FailureKind::Error { kind, input } => {
                wire.detail = Some(kind.clone());
                wire.input = input.clone();
                "error"
            }
            FailureKind::Trap => "trap",
            FailureKind::Timeout(d) => {
                wire.number = d.as_micros() as u64;
                "timeout"
            }
            FailureKind::Memory { limit } => {
                wire.limit = *limit;
                "memory"
            }
            FailureKind::OutputTooLarge { size, limit } => {
                wire.number = *size as u64;
                wire.limit = *limit as u64;
                "output"
            }
            FailureKind::WrongOutputType => "type",
            FailureKind::Limit { limit } => {
                wire.detail = Some(limit.clone());
                "limit"
            }
            FailureKind::Host => "host",
            FailureKind::NotSelected { why } => {
                wire.detail = Some(why.clone());
                "not-selected"
            }
            _ => "host",
        }
        .into();
        wire
    }

    pub(crate) fn into_kind(self) -> (FailureKind, String) {
        let detail = self.detail.unwrap_or_default();
        let kind = match self.kind.as_str() {
            "error" => FailureKind::Error { kind: detail, input: self.input },
            "trap" => FailureKind::Trap,
            "timeout" => FailureKind::Timeout(Duration::from_micros(self.number)),
            "memory" => FailureKind::Memory { limit: self.limit },
            "output" => FailureKind::OutputTooLarge {
                size: usize::try_from(self.number).unwrap_or(usize::MAX),
                limit: usize::try_from(self.limit).unwrap_or(usize::MAX),
            },
            "type" => FailureKind::WrongOutputType,
            "limit" => FailureKind::Limit { limit: detail },
            "not-selected" => FailureKind::NotSelected { why: detail },
            _ => FailureKind::Host,
        };
        (kind, self.message)
    }
}

/// A policy, field by field (only what a backend reads: budgets and grants).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct PolicyWire {
    timeout_us: u64,
    pub(crate) memory: u64,
    output_bytes: usize,
    log_bytes: usize,
    operations: u64,
    handles: usize,
    fuel: Option<u64>,
    base: PathBuf,
    read: Vec<PathBuf>,
    env: Vec<String>,
    clock: bool,
    random: bool,
    write: Vec<(PathBuf, String)>,
    net: Vec<(String, u16)>,
    net_requests: u64,
    net_bytes: u64,
}

impl PolicyWire {
    pub(crate) fn of(policy: &Policy) -> PolicyWire {
        let b = &policy.budgets;
        let g = &policy.grants;
        PolicyWire {
            timeout_us: b.timeout.as_micros().min(u128::from(u64::MAX)) as u64,
            memory: b.memory,
            output_bytes: b.output_bytes,
            log_bytes: b.log_bytes,
            operations: b.operations,
            handles: b.handles,
            fuel: b.fuel,
            base: g.files.base.clone(),
            read: g.files.read.clone(),
            env: g.env.clone(),
            clock: g.clock,
            random: g.random,
            write: g.write.clone(),
            net: g.net.iter().map(|h| (h.host.clone(), h.port)).collect(),
            net_requests: b.net_requests,
            net_bytes: b.net_bytes,
        }
    }

    pub(crate) fn into_policy(self) -> Policy {
        Policy {
            budgets: Budgets {
                timeout: Duration::from_micros(self.timeout_us),
                memory: self.memory,
                output_bytes: self.output_bytes,
                log_bytes: self.log_bytes,
                operations: self.operations,
                handles: self.handles,
                fuel: self.fuel,
                net_requests: self.net_requests,
                net_bytes: self.net_bytes,
            },
            grants: Grants {
                files: std::sync::Arc::new(ReadGrants::new(self.base, self.read)),
                env: self.env,
                clock: self.clock,
                random: self.random,
                write: self.write,
                net: self.net.into_iter().map(|(host, port)| NetHost { host, port }).collect(),
            },
            // The worker only runs the node: caching and retries are the supervisor's.
            cache: CachePolicy::Never,
            retry: Retry::default(),
            isolation: Isolation::InProcess,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_reads_back_and_a_lying_length_is_refused() {
        let mut bytes = Vec::new();
        write_frame(&mut bytes, &Reply::Ready { confinement: "none".into() }, b"abc").unwrap();
        let frame: Frame<Reply> = read_frame(&mut bytes.as_slice(), MAX_BODY).unwrap().unwrap();
        assert!(matches!(frame.header, Reply::Ready { .. }));
        assert_eq!(frame.body, b"abc");
        // The supervisor's limit (the node's output budget) is the reader's, not the writer's.
        assert!(read_frame::<Reply>(&mut bytes.as_slice(), 2).is_err(), "a body over the limit is refused");

        let mut huge = Vec::new();
        huge.extend_from_slice(&2u32.to_le_bytes());
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(
            read_frame::<Reply>(&mut huge.as_slice(), MAX_BODY).is_err(),
            "a body of 2^64 bytes is refused before allocating"
        );
        let cut = &bytes[..bytes.len() - 1];
        assert!(read_frame::<Reply>(&mut &cut[..], MAX_BODY).is_err());
        assert!(read_frame::<Reply>(&mut &b""[..], MAX_BODY).unwrap().is_none());
    }

    #[test]
    fn values_other_than_tables_travel_inline() {
        let values = vec![Value::Int(3), Value::Text("x".into()), Value::FloatList(vec![1.5].into())];
        let mut body = Vec::new();
        let wires = put_values(&values, &mut body, &mut |_| Err("no tables".into())).unwrap();
        let back: Vec<Value> =
            wires.iter().map(|w| take_value(w, &body, &mut |_| Err("no tables".into())).unwrap()).collect();
        assert_eq!(back, values);
        let past = ValueWire::Inline { offset: 2, len: u64::MAX };
        assert!(take_value(&past, &body, &mut |_| Err(String::new())).is_err());
    }
}
