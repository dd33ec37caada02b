//! The worker's side: set up, confine itself, then run one node at a time
//! for its supervisor until its input ends.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use weavelet_core::{
    Call, Event, EventSink, FailureKind, NodeDecl, NodeFailure, NodeImpl, Policy, Value, WORKER_STACK,
};
use weavelet_rhai::Script;
use weavelet_wasm::{ComponentModule, EngineConfig, WasmEngine};

use crate::confine;
use crate::wire::{
    self, EventWire, FailureWire, Frame, Invocation, Origin, Reply, Request, Then, UsageWire, ValueWire,
};

/// The environment variable that makes a program a worker; its value is the protocol version.
pub(crate) const WORKER_ENV: &str = "WEAVELET_WORKER";
/// The supervisor's pid, so a worker whose supervisor is gone exits.
pub(crate) const PARENT_ENV: &str = "WEAVELET_WORKER_PARENT";
/// The protocol version; a worker of another version refuses to start.
pub(crate) const PROTOCOL: &str = "4";

/// A node of a request that ran at least this long has the worker's data
/// size measured again before the next.
const REMEASURE: Duration = Duration::from_micros(100);

/// Where a worker's frames go: shared by the node's thread (events) and the loop (replies).
type Out = Arc<Mutex<BufWriter<File>>>;

/// Run as a worker until the supervisor closes our input; returns the exit code.
pub(crate) fn serve() -> i32 {
    let parent = std::env::var(PARENT_ENV).ok().and_then(|p| p.parse().ok());
    confine::die_with_parent(parent);
    let out = match confine::take_stdout() {
        Ok(file) => Arc::new(Mutex::new(BufWriter::new(file))),
        Err(e) => {
            eprintln!("weavelet worker: cannot take stdout: {e}");
            return 2;
        }
    };
    // Nodes run on a thread with the scheduler's stack size, as they would in process.
    let served = std::thread::Builder::new()
        .name("weavelet-worker".into())
        .stack_size(WORKER_STACK)
        .spawn(move || run(out))
        .map_err(|e| e.to_string())
        .and_then(|t| t.join().map_err(|p| weavelet_data::panic_message(&*p)).and_then(|r| r));
    match served {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("weavelet worker: {e}");
            2
        }
    }
}

fn run(out: Out) -> Result<(), String> {
    // Read by this loop between nodes, and by a running node's HTTP requests
    // (the supervisor sends nothing else while a node runs).
    let input = Arc::new(Mutex::new(BufReader::new(std::io::stdin())));
    let Some(Frame { header: Request::Setup { engine, confine: rules, scratch, slot }, .. }) =
        wire::read_frame::<Request>(&mut *input.lock(), wire::MAX_BODY).map_err(|e| e.to_string())?
    else {
        return Err("the first frame was not a setup".into());
    };
    let marks = watch_operations(&slot)?;
    let mut data = confine::DataSize::open().map_err(|e| format!("/proc/self/statm: {e}"))?;
    let wasm = WasmEngine::new(EngineConfig {
        jobs: 1,
        cache_dir: engine.cache_dir.clone(),
        policy: Policy::default(),
        max_component_size: engine.max_component_size,
        wasm_stack: engine.wasm_stack,
        epoch_tick: Duration::from_micros(engine.epoch_tick_us.max(1)),
        fuel: engine.fuel,
    })
    .map_err(|e| e.to_string())?;
    // Start polars' thread pool while /proc and /sys are still readable (it sizes itself from them).
    weavelet_data::table::warm_up();
    let confinement = confine::confine(&rules)?;
    // The worker has no sockets: its nodes' requests are the supervisor's to make.
    // `running`: the number of the node running now (0: none), read and changed
    // under the input lock, so a request of a node that has ended is never sent.
    let running = Arc::new(AtomicU64::new(0));
    weavelet_wasm::proxy_requests_through(proxy(out.clone(), input.clone(), running.clone()));
    reply(&out, &Reply::Ready { confinement }, &[])?;

    let mut loaded = Loaded { wasm, sources: HashMap::new() };
    let outputs = AtomicU64::new(0);
    loop {
        let frame =
            wire::read_frame::<Request>(&mut *input.lock(), wire::MAX_BODY).map_err(|e| e.to_string())?;
        let Some(frame) = frame else { break };
        let invocation = match frame.header {
            Request::Invoke(invocation) => *invocation,
            Request::Probe { open, create } => {
                reply(&out, &Reply::Probed(probe(&open, &create)), &[])?;
                continue;
            }
            Request::Setup { .. } => return Err("a second setup".into()),
            Request::Fetched { .. } => return Err("an answer to a request no node made".into()),
        };
        let Invocation { origin, node, source, policy, events, inputs, seq, then } = invocation;
        // Whether the node after each reads its output.
        let reads_previous: Vec<bool> = then.iter().map(Then::reads_previous).collect();
        // The first node's policy holds until a node brings another.
        let mut policy = policy.into_policy();
        let head = Then { name: origin.name().to_string(), node, source, policy: None, inputs, seq };
        // Loading the source (once per worker: compiled code, engines, the
        // script's AST) is the host's own work, done before the limit.
        let nodes = loaded.source(&origin);
        // The node, then the rest of its chain while each succeeds (a node
        // that does not read the one before runs whatever became of it).
        let mut previous: Option<Value> = None;
        let mut measured = 0;
        let mut last_took = Duration::ZERO;
        for (k, next) in std::iter::once(head).chain(then).enumerate() {
            let Then { name, node, source, policy: changed, inputs, seq } = next;
            marks.mark(seq);
            if let Some(changed) = changed {
                policy = changed.into_policy();
            }
            let next_reads = reads_previous.get(k).copied().unwrap_or(false);
            let found = match &nodes {
                Ok(nodes) => nodes
                    .get(&name)
                    .cloned()
                    .ok_or_else(|| format!("{} has no node `{name}` any more", origin.path().display())),
                Err(e) => Err(e.clone()),
            };
            // The data limit covers everything the node causes in this process:
            // its own memory, the host work it asks for, and writing its output
            // and its reply. The data size is measured again unless the node
            // before it in this request ran for less than `REMEASURE` (reading
            // it costs about as much as a trivial node): the worker's data then
            // stays within its size at that measure plus this node's budget and
            // the slack. The limit is set only where it changes, and lifted
            // when the request ends.
            if k == 0 || last_took >= REMEASURE {
                measured = data.bytes();
            }
            let budget = policy.budgets.memory;
            confine::limit_data(Some(measured.saturating_add(budget).saturating_add(confine::HOST_SLACK)));
            running.store(seq, Ordering::SeqCst);
            let began = std::time::Instant::now();
            let node = Named { node: &node, source: &source, inputs: &inputs, events };
            let ran = invoke(
                found,
                node,
                &policy,
                &frame.body,
                previous.take(),
                next_reads,
                &out,
                &scratch,
                &outputs,
            );
            marks.ended(seq);
            // No request of this node is sent after this: one in flight is
            // answered first (the supervisor answers while it waits for `Done`).
            {
                let _input = input.lock();
                running.store(0, Ordering::SeqCst);
            }
            last_took = began.elapsed();
            let ok = ran.result.is_ok();
            reply(&out, &Reply::Done { result: ran.result, usage: ran.usage }, &ran.body)?;
            if !ok && next_reads {
                break;
            }
            previous = ran.output;
        }
        confine::limit_data(None);
    }
    Ok(())
}

/// Hands a node's HTTP request to the supervisor and waits for its answer,
/// one request at a time.
fn proxy(
    out: Out,
    input: Arc<Mutex<BufReader<std::io::Stdin>>>,
    running: Arc<AtomicU64>,
) -> weavelet_wasm::Proxy {
    Arc::new(move |outgoing: weavelet_wasm::Outgoing| {
        let mut input = input.lock();
        let seq = running.load(Ordering::SeqCst);
        if seq == 0 {
            return Err("denied".to_string());
        }
        let request =
            Reply::Fetch { seq, method: outgoing.method, uri: outgoing.uri, headers: outgoing.headers };
        reply(&out, &request, &outgoing.body).map_err(|_| "internal".to_string())?;
        match wire::read_frame::<Request>(&mut *input, wire::MAX_BODY) {
            Ok(Some(Frame { header: Request::Fetched { result }, body })) => {
                result.map(|(status, headers)| weavelet_wasm::Answer { status, headers, body })
            }
            _ => Err("internal".to_string()),
        }
    })
}

/// Try, from inside the confinement, what it must refuse.
fn probe(open: &[PathBuf], create: &[PathBuf]) -> Vec<(String, Result<(), String>)> {
    let mut results = Vec::new();
    for path in open {
        results.push((
            format!("read {}", path.display()),
            File::open(path).map(drop).map_err(|e| e.to_string()),
        ));
    }
    for path in create {
        let created = File::create_new(path).map(drop).map_err(|e| e.to_string());
        if created.is_ok() {
            let _ = std::fs::remove_file(path);
        }
        results.push((format!("create {}", path.display()), created));
    }
    let connect = std::net::TcpStream::connect(("127.0.0.1", 9)).map(drop);
    // Refused by the network stack (nothing listens) is not refused by the confinement.
    let connect = match connect {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Ok(()),
        other => other.map_err(|e| e.to_string()),
    };
    results.push(("connect 127.0.0.1:9".into(), connect));
    let run = std::process::Command::new("/bin/sh").arg("-c").arg("exit 0").status();
    results.push(("run /bin/sh".into(), run.map(drop).map_err(|e| e.to_string())));
    let env: Vec<String> = std::env::vars_os()
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .filter(|k| k != WORKER_ENV && k != PARENT_ENV)
        .collect();
    let visible = if env.is_empty() { Err("none visible".to_string()) } else { Ok(()) };
    results.push((format!("environment [{}]", env.join(", ")), visible));
    results
}

/// The shared slot: the operation each data-plane call is inside, and the
/// number and start of each node run.
struct Marks(Arc<Mutex<memmap2::MmapMut>>);

impl Marks {
    fn mark(&self, seq: u64) {
        confine::mark_node(&self.0.lock(), seq);
    }

    fn ended(&self, seq: u64) {
        confine::mark_ended(&self.0.lock(), seq);
    }
}

/// Write the operation each data-plane call is inside to the shared slot.
fn watch_operations(slot: &Path) -> Result<Marks, String> {
    let map = confine::map_slot(slot).map_err(|e| format!("the operation slot: {e}"))?;
    let map = Arc::new(Mutex::new(map));
    let writer = map.clone();
    let _ = weavelet_data::activity::watch(Box::new(move |op| {
        let mut map = writer.lock();
        let name = op.unwrap_or("").as_bytes();
        let n = name.len().min(map.len().min(confine::NODE_MARK).saturating_sub(1)).min(255);
        if map.is_empty() {
            return;
        }
        map[0] = 0;
        map[1..1 + n].copy_from_slice(&name[..n]);
        map[0] = n as u8;
    }));
    Ok(Marks(map))
}

fn reply(out: &Out, reply: &Reply, body: &[u8]) -> Result<(), String> {
    wire::write_frame(&mut *out.lock(), reply, body).map_err(|e| format!("writing to the supervisor: {e}"))
}

/// The nodes of one source, by name.
type SourceNodes = HashMap<String, (Arc<dyn NodeImpl>, Arc<NodeDecl>)>;

/// The sources this worker has loaded, each once.
struct Loaded {
    wasm: WasmEngine,
    /// By file and digest.
    sources: HashMap<(PathBuf, String), Arc<SourceNodes>>,
}

impl Loaded {
    /// The nodes of `origin`'s source, loaded on first use.
    fn source(&mut self, origin: &Origin) -> Result<Arc<SourceNodes>, String> {
        let key = (origin.path().clone(), origin.digest().to_string());
        if let Some(found) = self.sources.get(&key) {
            return Ok(found.clone());
        }
        let changed = |now: &str| {
            format!(
                "{} changed since the host loaded it (SHA-256 {} then, {now} now): run again",
                origin.path().display(),
                origin.digest()
            )
        };
        let nodes: Vec<weavelet_core::Node> = match origin {
            Origin::Component { path, .. } => {
                let module: Arc<ComponentModule> = self.wasm.load(path).map_err(|e| e.to_string())?;
                if module.content_hash() != origin.digest() {
                    return Err(changed(&module.content_hash()));
                }
                module.nodes().collect()
            }
            Origin::Script { path, .. } => {
                let text =
                    std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
                let now = weavelet_core::key::hex(&weavelet_core::key::sha256(text.as_bytes()));
                if now != origin.digest() {
                    return Err(changed(&now));
                }
                let script: Arc<Script> = Script::from_source(path, &text).map_err(|e| e.to_string())?;
                script.nodes().collect()
            }
        };
        let nodes: SourceNodes = nodes
            .iter()
            .filter_map(|node| {
                let code = node.code()?.clone();
                Some((node.decl().name.to_string(), (code, Arc::new(node.decl().clone()))))
            })
            .collect();
        let nodes = Arc::new(nodes);
        self.sources.insert(key, nodes.clone());
        Ok(nodes)
    }
}

/// A node of a request, as [`invoke`] runs it.
struct Named<'a> {
    node: &'a str,
    source: &'a str,
    inputs: &'a [ValueWire],
    /// Whether its events are sent.
    events: bool,
}

/// What running one node gave: its reply, and (when a node of its chain
/// follows) its output as that node reads it.
struct Ran {
    result: Result<ValueWire, FailureWire>,
    usage: UsageWire,
    body: Vec<u8>,
    output: Option<Value>,
}

#[allow(clippy::too_many_arguments)]
fn invoke(
    found: Result<(Arc<dyn NodeImpl>, Arc<NodeDecl>), String>,
    named: Named<'_>,
    policy: &Policy,
    body: &[u8],
    previous: Option<Value>,
    keep_output: bool,
    out: &Out,
    scratch: &Path,
    outputs: &AtomicU64,
) -> Ran {
    let Named { node, source, inputs, events } = named;
    let node: Arc<str> = node.into();
    let source: Arc<str> = source.into();
    let host_failure = |message: String| {
        let failure = NodeFailure::new(&node, &source, FailureKind::Host, message);
        Ran {
            result: Err(FailureWire::of(&failure)),
            usage: UsageWire::default(),
            body: Vec::new(),
            output: None,
        }
    };
    let (code, decl) = match found {
        Ok(found) => found,
        Err(e) => return host_failure(format!("its worker could not load it: {e}")),
    };
    // The table files it was handed: one handed back unchanged goes back as the same file.
    let mut input_files: Vec<PathBuf> = inputs
        .iter()
        .filter_map(|w| match w {
            ValueWire::Table(p) => Some(p.clone()),
            ValueWire::Inline { .. } | ValueWire::Scan(_) | ValueWire::Previous => None,
        })
        .collect();
    if let Some(Value::Table(table)) = &previous
        && let Some(file) = table.exchange_file()
    {
        input_files.push(file.to_path_buf());
    }
    let values: Result<Vec<Value>, String> = inputs
        .iter()
        .zip(&decl.inputs)
        .map(|(w, input)| match w {
            ValueWire::Previous => {
                previous.clone().map(|v| v.widen_to(input.ty)).ok_or_else(|| "no node ran before it".into())
            }
            w => wire::take_value(w, body, &mut |table| match table {
                ValueWire::Scan(path) => wire::open_scan(path, &policy.grants.files),
                ValueWire::Table(path) => {
                    weavelet_data::table::io::open_exchange(path, None).map_err(|e| e.to_string())
                }
                ValueWire::Inline { .. } | ValueWire::Previous => Err("not a table".into()),
            }),
        })
        .collect();
    let values = match values {
        Ok(v) if v.len() == inputs.len() => v,
        Ok(_) => return host_failure("its worker was handed the wrong number of inputs".into()),
        Err(e) => return host_failure(format!("its inputs could not be read in its worker: {e}")),
    };
    drop(previous);
    let sink: Option<EventSink> = events.then(|| {
        let out = out.clone();
        Arc::new(move |event: &Event| {
            if let Some(wire) = EventWire::of(&event.kind) {
                let _ = wire::write_frame(&mut *out.lock(), &Reply::Event(wire), &[]);
            }
        }) as EventSink
    });
    let call = Call::new(&node, &source, &decl, policy, sink.as_ref());
    let result = weavelet_data::caught("the node", || code.invoke(&call, values))
        .unwrap_or_else(|panic| Err(call.fail(FailureKind::Trap, panic)));
    // A table is computed here, under the node's limits, and handed over as a file.
    let mut out_body = Vec::new();
    let mut output = None;
    let result = result.and_then(|value| match value {
        Value::Table(table) => {
            if let Some(same) = table.exchange_file().filter(|p| input_files.iter().any(|i| i == p)) {
                let wire = ValueWire::Table(same.to_path_buf());
                output = keep_output.then_some(Value::Table(table));
                return Ok(wire);
            }
            // A table that is only a scan of a granted file is handed on as the
            // file: the node that takes it scans it again, lazily, fused with its
            // own work, instead of this worker computing every row of it now.
            if let Some(file) = table.scanned_file() {
                let wire = ValueWire::Scan(file.to_path_buf());
                output = keep_output.then_some(Value::Table(table));
                return Ok(wire);
            }
            let path = scratch.join(format!("out-{}.arrow", outputs.fetch_add(1, Ordering::Relaxed)));
            let failed = |e: String| {
                call.fail(
                    FailureKind::Error { kind: "failed".into(), input: None },
                    format!("its output table could not be computed: {e}"),
                )
            };
            weavelet_data::table::io::write_exchange(&table, &path).map_err(|e| failed(e.to_string()))?;
            drop(table);
            // The next node of its chain reads the file just written (opened now:
            // the supervisor moves it once it has the reply), not the plan again.
            if keep_output {
                let table = weavelet_data::table::io::open_exchange(&path, None)
                    .map_err(|e| failed(e.to_string()))?;
                output = Some(Value::Table(table));
            }
            Ok(ValueWire::Table(path))
        }
        other => {
            let wire =
                wire::put_values(std::slice::from_ref(&other), &mut out_body, &mut |_| Err(String::new()))
                    .map(|mut w| w.remove(0))
                    .map_err(|e| {
                        call.fail(FailureKind::Host, format!("its output could not be handed over: {e}"))
                    })?;
            output = keep_output.then_some(other);
            Ok(wire)
        }
    });
    let usage = UsageWire::of(call.finish());
    Ran { result: result.map_err(|f| FailureWire::of(&f)), usage, body: out_body, output }
}
