//! The supervisor's side: worker processes started on demand, one node at a
//! time each, reused while they behave, killed at their node's deadline.

use std::collections::HashMap;
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use weavelet_core::{
    Ahead, Call, Early, FailureKind, Isolation, NodeFailure, NodeImpl, Policy, Value, human_bytes,
    key::Digest,
};
use weavelet_data::Table;

use crate::confine::{HOST_SLACK, SLOT};
use crate::wire::{
    self, Confinement, EngineWire, Frame, Invocation, Origin, PolicyWire, Reply, Request, Then, ValueWire,
};
use crate::worker::{PARENT_ENV, PROTOCOL, WORKER_ENV};

/// How long past its wall-time budget a node's worker is given to stop the
/// node itself (a trap, a script's own check) before it is killed.
const GRACE: Duration = Duration::from_millis(500);
/// How long a new worker may take to start, set up and confine itself.
const START: Duration = Duration::from_secs(30);
/// How long a read of a worker's reply looks for it before sleeping.
const SPIN: Duration = Duration::from_micros(50);
/// Threads looking for a reply without sleeping (see [`SPIN`]).
static SPINNING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
/// Bytes of a worker's stderr kept to explain its death.
const STDERR_TAIL: usize = 8 << 10;

/// Whether this program answers as a worker (it called [`crate::serve_if_asked`]).
pub(crate) static CAN_SERVE: OnceLock<()> = OnceLock::new();

/// How the supervisor starts workers.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// The program to run as a worker (`None`: this program, if it called
    /// [`crate::serve_if_asked`] at the start of `main`).
    pub program: Option<PathBuf>,
    /// The cache folder compiled components are kept in (read-only to workers).
    pub cache_dir: Option<PathBuf>,
    /// Component files larger than this are refused.
    pub max_component_size: u64,
    /// The maximum wasm stack of a node.
    pub wasm_stack: usize,
    /// The granularity of wall-time budgets.
    pub epoch_tick: Duration,
    /// Count wasm fuel.
    pub fuel: bool,
    /// Idle workers kept per kind of worker.
    pub keep: usize,
}

/// Starts, reuses and kills worker processes. One per runtime.
pub struct Supervisor {
    settings: WorkerSettings,
    /// The folder tables are exchanged in (tmpfs where there is one), created on first use.
    dir: OnceLock<Result<ExchangeDir, String>>,
    idle: Mutex<HashMap<WorkerKind, Vec<Worker>>>,
    files: AtomicU64,
    started: AtomicU64,
    requests: AtomicU64,
}

/// What a supervisor has done so far (for benchmarks, tests and the curious).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerCounts {
    /// Worker processes started.
    pub started: u64,
    /// Round trips: invocations sent, each of one node or of a chain of them.
    pub requests: u64,
}

/// Workers are interchangeable when they load the same source under the same confinement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct WorkerKind {
    /// Its first read rule is the node's source file.
    confinement: Confinement,
    env: Vec<String>,
}

impl Supervisor {
    /// A supervisor that starts no worker until a node needs one.
    pub fn new(settings: WorkerSettings) -> Supervisor {
        Supervisor {
            settings,
            dir: OnceLock::new(),
            idle: Mutex::new(HashMap::new()),
            files: AtomicU64::new(0),
            started: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        }
    }

    /// How many workers it started and invocations it sent so far.
    pub fn counts(&self) -> WorkerCounts {
        WorkerCounts {
            started: self.started.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
        }
    }

    /// `code` (from `origin`) run in a worker when its policy says so.
    pub fn isolate(self: &Arc<Self>, code: Arc<dyn NodeImpl>, origin: Origin) -> Arc<dyn NodeImpl> {
        Arc::new(Isolated { inner: code, origin, supervisor: self.clone() })
    }

    fn exchange_dir(&self) -> Result<&ExchangeDir, String> {
        self.dir.get_or_init(ExchangeDir::create).as_ref().map_err(Clone::clone)
    }

    /// The program workers (and build sandboxes) are started from.
    pub fn program(&self) -> Result<PathBuf, String> {
        if let Some(program) = &self.settings.program {
            return Ok(program.clone());
        }
        if CAN_SERVE.get().is_none() {
            return Err(
                "this program cannot start worker processes: call `weavelet::serve_worker_if_asked()` \
                 first thing in `main`, or set `Config::worker_program`, or run the node with isolation \
                 \"in-process\""
                    .into(),
            );
        }
        std::env::current_exe().map_err(|e| format!("finding this program to start a worker: {e}"))
    }

    fn kind(&self, origin: &Origin, policy: &Policy, dir: &ExchangeDir) -> WorkerKind {
        let mut read = vec![origin.path().clone(), dir.path.join("tables"), dir.path.join("compiled")];
        if let Some(cache) = &self.settings.cache_dir {
            read.push(cache.join("components"));
        }
        read.extend(policy.grants.files.read.iter().cloned());
        let write: Vec<PathBuf> = policy.grants.write.iter().map(|(host, _)| host.clone()).collect();
        WorkerKind { confinement: Confinement { read, write }, env: policy.grants.env.clone() }
    }

    fn take(&self, kind: &WorkerKind) -> Option<Worker> {
        let mut idle = self.idle.lock();
        let workers = idle.get_mut(kind)?;
        while let Some(mut worker) = workers.pop() {
            if worker.alive() {
                return Some(worker);
            }
        }
        None
    }

    fn give_back(&self, kind: WorkerKind, worker: Worker) {
        let mut idle = self.idle.lock();
        let workers = idle.entry(kind).or_default();
        if workers.len() < self.settings.keep.max(1) {
            workers.push(worker);
        }
    }

    fn spawn(&self, kind: &WorkerKind, dir: &ExchangeDir) -> Result<Worker, String> {
        let program = self.program()?;
        let n = self.files.fetch_add(1, Ordering::Relaxed);
        let scratch = dir.path.join(format!("worker-{n}"));
        std::fs::create_dir(&scratch).map_err(|e| format!("creating {}: {e}", scratch.display()))?;
        let slot = dir.path.join(format!("slot-{n}"));
        std::fs::write(&slot, [0u8; SLOT]).map_err(|e| format!("creating {}: {e}", slot.display()))?;
        let marks =
            crate::confine::map_slot(&slot).map_err(|e| format!("mapping {}: {e}", slot.display()))?;
        let mut command = Command::new(&program);
        command
            .env_clear()
            .env(WORKER_ENV, PROTOCOL)
            .env(PARENT_ENV, std::process::id().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // A worker sees only the environment variables its nodes were granted.
        for key in &kind.env {
            if let Some(value) = std::env::var_os(key) {
                command.env(key, value);
            }
        }
        self.started.fetch_add(1, Ordering::Relaxed);
        let mut child =
            command.spawn().map_err(|e| format!("starting a worker ({}): {e}", program.display()))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("a worker's pipes could not be opened".into());
        };
        // Replies are read without blocking, each wait bounded by a poll (see `Deadline`).
        crate::confine::set_nonblocking(std::os::fd::AsRawFd::as_raw_fd(&stdout))
            .map_err(|e| format!("a worker's output pipe: {e}"))?;
        let tail = Arc::new(Mutex::new(Vec::new()));
        let kept = tail.clone();
        let errors = std::thread::Builder::new().name("weavelet-worker-stderr".into()).spawn(move || {
            let mut stderr = stderr;
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut tail = kept.lock();
                tail.extend_from_slice(&buf[..n]);
                let excess = tail.len().saturating_sub(STDERR_TAIL);
                tail.drain(..excess);
            }
        });
        if errors.is_err() {
            let _ = child.kill();
            let _ = child.wait();
            return Err("a worker's reader thread could not be started".into());
        }
        let mut worker = Worker {
            child,
            stdin: BufWriter::new(stdin),
            stdout: BufReader::new(Deadline { inner: stdout, until: Instant::now(), spin: false }),
            max_body: 1 << 20,
            tail,
            slot,
            marks,
            sent: 0,
            scratch,
            confinement: String::new(),
        };
        let setup = Request::Setup {
            engine: EngineWire {
                cache_dir: Some(
                    self.settings.cache_dir.as_ref().map_or_else(|| dir.path.join("compiled"), |c| c.clone()),
                ),
                max_component_size: self.settings.max_component_size,
                wasm_stack: self.settings.wasm_stack,
                epoch_tick_us: self.settings.epoch_tick.as_micros() as u64,
                fuel: self.settings.fuel,
            },
            confine: Confinement {
                read: kind.confinement.read.clone(),
                write: kind.confinement.write.iter().cloned().chain([worker.scratch.clone()]).collect(),
            },
            scratch: worker.scratch.clone(),
            slot: worker.slot.clone(),
        };
        worker.send(&setup, &[])?;
        match worker.recv(START) {
            Ok(Ok(Frame { header: Reply::Ready { confinement }, .. })) => {
                worker.confinement = confinement;
                Ok(worker)
            }
            Ok(Ok(_)) => Err("a new worker answered out of turn".into()),
            Ok(Err(e)) => Err(format!("a new worker did not start: {e}{}", worker.stderr_says())),
            Err(_) => Err(format!("a new worker did not answer within {}s", START.as_secs())),
        }
    }

    /// How a table goes to a worker whose node runs under `policy`: a file
    /// already in the exchange folder as itself, a scan of a file the node may
    /// read itself as that file, anything else written to a new file (added to `written`).
    fn table_wire(
        &self,
        dir: &ExchangeDir,
        table: &Table,
        policy: &Policy,
        written: &mut Vec<PathBuf>,
    ) -> Result<ValueWire, String> {
        if let Some(path) = table.exchange_file().filter(|p| p.starts_with(&dir.path)) {
            return Ok(ValueWire::Table(path.to_path_buf()));
        }
        // A scan of a file this node may read itself: its worker scans it again.
        if let Some(file) =
            table.scanned_file().filter(|f| policy.grants.files.read.iter().any(|d| f.starts_with(d)))
        {
            return Ok(ValueWire::Scan(file.to_path_buf()));
        }
        let path =
            dir.path.join("tables").join(format!("in-{}.arrow", self.files.fetch_add(1, Ordering::Relaxed)));
        weavelet_data::table::io::write_exchange(table, &path).map_err(|e| e.to_string())?;
        written.push(path.clone());
        Ok(ValueWire::Table(path))
    }

    /// Run `call`'s node (from `origin`) in a worker, with as much of the
    /// chain below it ([`Call::ahead`]) as the same worker may run: those
    /// nodes start as soon as it finishes, each finished when its turn comes.
    fn invoke(
        self: &Arc<Self>,
        call: &Call<'_>,
        origin: &Origin,
        inputs: Vec<Value>,
    ) -> Result<Value, NodeFailure> {
        let host = |message: String| call.fail(FailureKind::Host, message);
        let dir = self.exchange_dir().map_err(host)?;
        let policy = call.policy();
        let kind = self.kind(origin, policy, dir);
        let mut worker = match self.take(&kind) {
            Some(worker) => worker,
            None => self.spawn(&kind, dir).map_err(host)?,
        };
        // Tables go as files in the exchange folder; a table already in one is not written again.
        let mut written: Vec<PathBuf> = Vec::new();
        let mut body = Vec::new();
        let wires = wire::put_values(&inputs, &mut body, &mut |table| {
            self.table_wire(dir, table, policy, &mut written)
        });
        let wires = match wires {
            Ok(w) => w,
            Err(e) => {
                remove_files(&written);
                return Err(call.fail(
                    FailureKind::Error { kind: "failed".into(), input: None },
                    format!("its inputs could not be handed to its worker: {e}"),
                ));
            }
        };
        // Every node is numbered, so the worker's marks name it whatever the worker ran before.
        let first_seq = worker.sent + 1;
        let mut then = Vec::new();
        let mut before = policy;
        for ahead in call.ahead() {
            let seq = first_seq + 1 + then.len() as u64;
            match self.chained(ahead, origin, before, &kind, dir, seq, &mut body, &mut written) {
                Some(next) => then.push(next),
                None => break,
            }
            before = &ahead.policy;
        }
        let chained = then.len();
        // Whether each node after the first reads the one before (a chain) or not (nodes beside it).
        let reads_previous: Vec<bool> = then.iter().map(Then::reads_previous).collect();
        // Every table file any of them is handed (those written for them too):
        // one handed back unchanged is taken as itself.
        let tables: Vec<ValueWire> = wires
            .iter()
            .chain(then.iter().flat_map(|next| &next.inputs))
            .filter(|input| matches!(input, ValueWire::Table(_)))
            .cloned()
            .collect();
        let request = Request::Invoke(Box::new(Invocation {
            origin: origin.clone(),
            node: call.node().to_string(),
            source: call.source().to_string(),
            policy: PolicyWire::of(policy),
            events: call.events().is_some(),
            inputs: wires,
            seq: first_seq,
            then,
        }));
        let sent = Instant::now();
        // An inline output (tables travel as files) is at most the node's output budget.
        worker.max_body = (policy.budgets.output_bytes as u64).saturating_add(1 << 20);
        if let Err(e) = worker.send(&request, &body) {
            remove_files(&written);
            return Err(self.died(&mut worker, call, &format!("it could not be sent the node: {e}")));
        }
        worker.sent = first_seq + chained as u64;
        self.requests.fetch_add(1, Ordering::Relaxed);
        let outcome =
            self.await_done(&mut worker, call, Start::Sent { at: sent, seq: first_seq }, &tables, None);
        let (result, previous) = match outcome {
            Ok(Ok((value, path))) => {
                let previous = path.map(|p| (p, value.clone()));
                (Ok(value), previous)
            }
            Ok(Err(failure)) => (Err(failure), None),
            Err(failure) => {
                remove_files(&written);
                return Err(failure);
            }
        };
        // The worker goes on with the rest unless there is none, or the node
        // failed and the next reads its output.
        let goes_on = chained > 0 && (result.is_ok() || !reads_previous[0]);
        if !goes_on {
            remove_files(&written);
            self.give_back(kind, worker);
            return result;
        }
        let chain = Arc::new(Mutex::new(Chain {
            supervisor: self.clone(),
            kind,
            worker: Some(worker),
            next: 1,
            left: chained,
            first_seq,
            last_read: Instant::now(),
            written,
            tables,
            previous,
            reads_previous,
        }));
        call.started_ahead(
            (1..=chained)
                .map(|index| {
                    Box::new(ChainNode { chain: chain.clone(), index, done: false }) as Box<dyn Early>
                })
                .collect(),
        );
        result
    }

    /// A node of the chain below (or a ready node beside) as the worker of
    /// the invoked node runs it after the node before it (whose policy is
    /// `before`), if that worker may: a node of the same source in the same
    /// kind of worker, and one that may not write files (it runs before its
    /// turn is certain, and may be abandoned).
    #[allow(clippy::too_many_arguments)]
    fn chained(
        self: &Arc<Self>,
        ahead: &Ahead<'_>,
        origin: &Origin,
        before: &Policy,
        kind: &WorkerKind,
        dir: &ExchangeDir,
        seq: u64,
        body: &mut Vec<u8>,
        written: &mut Vec<PathBuf>,
    ) -> Option<Then> {
        let code: &dyn std::any::Any = &**ahead.code;
        let isolated = code.downcast_ref::<Isolated>()?;
        let policy = &*ahead.policy;
        let same = Arc::ptr_eq(&isolated.supervisor, self)
            && isolated.origin.path() == origin.path()
            && isolated.origin.digest() == origin.digest();
        if !same || policy.isolation != Isolation::Process || !policy.grants.write.is_empty() {
            return None;
        }
        // The same policy as the node before it runs in the same kind of worker.
        let same_policy = policy == before;
        if !same_policy && self.kind(&isolated.origin, policy, dir) != *kind {
            return None;
        }
        let mut inputs = Vec::with_capacity(ahead.inputs.len());
        for input in &ahead.inputs {
            match input {
                None => inputs.push(ValueWire::Previous),
                Some(value) => inputs.extend(
                    wire::put_values(std::slice::from_ref(value), body, &mut |table| {
                        self.table_wire(dir, table, policy, written)
                    })
                    .ok()?,
                ),
            }
        }
        Some(Then {
            name: isolated.origin.name().to_string(),
            node: ahead.node.to_string(),
            source: ahead.source.to_string(),
            policy: (!same_policy).then(|| PolicyWire::of(policy)),
            inputs,
            seq,
        })
    }

    /// Wait for the end of `call`'s node in `worker`, its deadline or its
    /// worker's death; on success, its output and (when it came as a table
    /// file) the file the worker named. `tables` are the table files the
    /// node was handed; `previous` the output of the node before it in a chain.
    fn await_done(
        &self,
        worker: &mut Worker,
        call: &Call<'_>,
        start: Start,
        tables: &[ValueWire],
        previous: Option<&(PathBuf, Value)>,
    ) -> Result<Result<(Value, Option<PathBuf>), NodeFailure>, NodeFailure> {
        let budgets = &call.policy().budgets;
        let timeout = budgets.timeout;
        worker.max_body = (budgets.output_bytes as u64).saturating_add(1 << 20);
        if !call.policy().grants.net.is_empty() {
            // A request's body is at most the node's network byte budget.
            worker.max_body = worker.max_body.max(budgets.net_bytes.saturating_add(1 << 20));
        }
        // The node's requests, made here on its behalf (the worker has no
        // sockets): checked and counted by the supervisor, never the worker.
        let mut net: Option<weavelet_wasm::NetRules> = None;
        let running = match start {
            Start::Sent { seq, .. } | Start::Chained { seq, .. } => seq,
        };
        // The answer to a request, written by its own thread: a worker that
        // does not read it is killed at the deadline, not waited for.
        // It says when the answer is written: a worker's next frame comes only
        // after it read the whole answer, so the write is done or about to be.
        let mut answering: Option<std::sync::mpsc::Receiver<bool>> = None;
        let written = |answering: &mut Option<std::sync::mpsc::Receiver<bool>>, by: Instant| {
            answering.take().is_none_or(|done| {
                done.recv_timeout(by.saturating_duration_since(Instant::now())).unwrap_or(false)
            })
        };
        // When the worker was first seen to have ended the node (its reply read late).
        let mut ended_at: Option<Instant> = None;
        loop {
            let (mut deadline, started, last) = match start {
                Start::Sent { at, .. } => (at + timeout + GRACE, at, true),
                Start::Chained { seq, after } => {
                    // Timed from when the worker says it started the node, but
                    // never from later than the reply before it was read (plus
                    // the grace): a worker gains at most the grace by lying.
                    let latest = after + GRACE;
                    match worker.node_mark() {
                        Some((s, ns)) if s == seq => {
                            let began = instant_of(ns).min(latest);
                            (began + timeout + GRACE, began, true)
                        }
                        Some((s, _)) if s > seq => (after + timeout + GRACE, after, true),
                        _ if Instant::now() >= latest => (latest + timeout + GRACE, latest, true),
                        // Not started yet: look again in a moment.
                        _ => ((Instant::now() + Duration::from_millis(5)).min(latest), after, false),
                    }
                }
            };
            if let Start::Chained { seq, after } = start {
                // A node the worker has ended, whose reply is read only now (its
                // turn came late): what is left is the reply's transfer, which
                // gets the grace from when that was first seen, not the node's clock.
                if worker.node_ended() >= seq {
                    deadline = deadline.max(*ended_at.get_or_insert_with(Instant::now) + GRACE);
                }
                // Not started yet: wait for a frame to begin, never reading part of
                // one against this short wait; a frame that begins is read whole
                // under the latest deadline the node can have.
                if !last {
                    if !worker.has_data(deadline.saturating_duration_since(Instant::now())) {
                        continue;
                    }
                    deadline = after + GRACE + timeout + GRACE;
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match worker.recv_spinning(left, matches!(start, Start::Chained { .. })) {
                Ok(Ok(Frame { header: Reply::Event(event), .. })) => call.emit(event.into_kind()),
                Ok(Ok(Frame { header: Reply::Fetch { seq, method, uri, headers }, body })) => {
                    // Every request is made under the grant of the node that made
                    // it: one named for another node (late, from a node that has
                    // ended) is refused by killing the worker.
                    if seq != running || !written(&mut answering, deadline) {
                        return Err(self.died(worker, call, "it sent a request out of turn"));
                    }
                    let rules = net.get_or_insert_with(|| weavelet_wasm::NetRules {
                        grant: call.policy().grants.net.clone().into(),
                        node: call.node().clone(),
                        events: call.events().cloned(),
                        deadline: started + timeout,
                        max_requests: budgets.net_requests,
                        max_bytes: budgets.net_bytes,
                        usage: Default::default(),
                    });
                    let outgoing = weavelet_wasm::Outgoing { method, uri, headers, body };
                    let (answer, body) = match weavelet_wasm::fetch_blocking(rules.clone(), outgoing) {
                        Ok(answer) => (Ok((answer.status, answer.headers)), answer.body),
                        Err(e) => (Err(weavelet_wasm::error_code(&e)), Vec::new()),
                    };
                    let Some(mut pipe) = worker.stdin_copy() else {
                        return Err(self.died(worker, call, "it could not be sent an answer"));
                    };
                    let (done, wrote) = std::sync::mpsc::channel();
                    answering = Some(wrote);
                    std::thread::spawn(move || {
                        let ok =
                            wire::write_frame(&mut pipe, &Request::Fetched { result: answer }, &body).is_ok();
                        let _ = done.send(ok);
                    });
                }
                Ok(Ok(Frame { header: Reply::Done { result, usage }, body })) => {
                    // The frame limit was raised for request bodies; an output is
                    // still bounded by the output budget.
                    if body.len() as u64 > (budgets.output_bytes as u64).saturating_add(1 << 20) {
                        return Err(self.died(
                            worker,
                            call,
                            "it sent an output over the node's output budget",
                        ));
                    }
                    if !written(&mut answering, deadline) {
                        return Err(self.died(worker, call, "it ended its node without reading an answer"));
                    }
                    // A node that overran its network budgets fails, whatever it
                    // made of the refusals (its output, if any, is taken and dropped).
                    let overran = net.as_ref().and_then(|n| n.usage.exceeded()).map(|(limit, message)| {
                        Ok(Err(call.fail(FailureKind::Limit { limit: limit.into() }, message)))
                    });
                    usage.files.iter().for_each(|p| call.reads().opened(p));
                    usage.dirs.iter().for_each(|p| call.reads().listed(p));
                    usage.trees.iter().for_each(|p| call.reads().whole_folder(p));
                    call.observe_memory(usage.peak_memory);
                    if let Some(fuel) = usage.fuel {
                        call.observe_fuel(fuel);
                    }
                    return match result {
                        Ok(wire) => {
                            let path = match &wire {
                                ValueWire::Table(path) => Some(path.clone()),
                                _ => None,
                            };
                            let output = self
                                .output(worker, call, &wire, &body, tables, previous)
                                .map(|value| value.map(|v| (v, path)));
                            overran.unwrap_or(output)
                        }
                        Err(failure) => overran.unwrap_or_else(|| {
                            let source = failure.source.clone();
                            let (kind, message) = failure.into_kind();
                            Ok(Err(NodeFailure::new(call.node(), &source, kind, message)))
                        }),
                    };
                }
                Ok(Ok(_)) => return Err(self.died(worker, call, "it answered out of turn")),
                Ok(Err(e)) => return Err(self.died(worker, call, &e)),
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(self.died(worker, call, "it closed its output"));
                }
                Err(RecvTimeoutError::Timeout) => {
                    let inside = worker.operation();
                    worker.kill();
                    let place =
                        inside.map_or_else(|| "while it ran".to_string(), |op| format!("inside `{op}`"));
                    return Err(call.fail(
                        FailureKind::Timeout(timeout),
                        format!(
                            "wall-time budget of {timeout:?} exceeded {place} (ran {:.2?}); its worker process was killed",
                            started.elapsed()
                        ),
                    ));
                }
            }
        }
    }

    /// The node's output as the worker handed it over.
    fn output(
        &self,
        worker: &mut Worker,
        call: &Call<'_>,
        wire: &ValueWire,
        body: &[u8],
        tables: &[ValueWire],
        previous: Option<&(PathBuf, Value)>,
    ) -> Result<Result<Value, NodeFailure>, NodeFailure> {
        let dir = self.exchange_dir().map_err(|e| call.fail(FailureKind::Host, e))?;
        // The previous node's table handed on unchanged: the value already taken.
        if let (ValueWire::Table(path), Some((file, value))) = (wire, previous)
            && path == file
        {
            return Ok(Ok(value.clone()));
        }
        let value = wire::take_value(wire, body, &mut |table: &ValueWire| {
            let path = match table {
                ValueWire::Table(path) => path,
                // A scan of a file: opened here beneath the node's own read grants,
                // so a worker can name no file its node could not read.
                ValueWire::Scan(file) => return wire::open_scan(file, &call.policy().grants.files),
                ValueWire::Inline { .. } | ValueWire::Previous => return Err("not a table".into()),
            };
            // An input handed back unchanged is the same file; anything else must be
            // a file the worker wrote in its own scratch folder, never a path it chose.
            if tables.iter().any(|i| matches!(i, ValueWire::Table(p) if p == path)) {
                return weavelet_data::table::io::open_exchange(path, None).map_err(|e| e.to_string());
            }
            let name = path.file_name().filter(|_| path.parent() == Some(worker.scratch.as_path()));
            let Some(name) = name else {
                return Err(format!("its worker named a table file outside its folder ({})", path.display()));
            };
            let kept = dir.path.join("tables").join(format!(
                "{}-{}",
                self.files.fetch_add(1, Ordering::Relaxed),
                name.to_string_lossy()
            ));
            std::fs::rename(path, &kept).map_err(|e| format!("taking its table file: {e}"))?;
            let owner: Arc<dyn std::any::Any + Send + Sync> = Arc::new(RemoveOnDrop(kept.clone()));
            weavelet_data::table::io::open_exchange(&kept, Some(owner)).map_err(|e| e.to_string())
        });
        match value {
            Ok(value) => Ok(Ok(value)),
            Err(e) => Err(self.died(worker, call, &format!("its output could not be read: {e}"))),
        }
    }

    /// The failure of a node whose worker died or misbehaved (the worker is killed if it lives).
    fn died(&self, worker: &mut Worker, call: &Call<'_>, what: &str) -> NodeFailure {
        let inside = worker.operation();
        let status = worker.reap();
        let stderr = worker.stderr_text();
        let place = inside.map_or_else(String::new, |op| format!(" inside `{op}`"));
        let memory = call.policy().budgets.memory;
        let said = telling_line(&stderr);
        let said_note = if said.is_empty() { String::new() } else { format!(" (it said: {said})") };
        match status.and_then(|s| s.signal()) {
            Some(libc::SIGABRT) if stderr.contains("memory allocation of") => call.fail(
                FailureKind::Memory { limit: memory },
                format!(
                    "ran out of memory{place}: its worker may use its memory budget of {} plus {} for host work{said_note}",
                    human_bytes(memory),
                    human_bytes(HOST_SLACK)
                ),
            ),
            Some(libc::SIGKILL) => call.fail(
                FailureKind::Memory { limit: memory },
                format!("its worker process was killed by the system{place} (out of memory?){said_note}"),
            ),
            Some(_) if stderr.contains("has overflowed its stack") => call.fail(
                FailureKind::Limit { limit: "stack".into() },
                format!("overflowed its stack{place}; its worker process died{said_note}"),
            ),
            Some(signal) => call.fail(
                FailureKind::Trap,
                format!("its worker process died of signal {signal}{place}{said_note}"),
            ),
            None => call.fail(FailureKind::Host, format!("its worker process failed: {what}{place}{said_note}")),
        }
    }
}

/// The line of a dead worker's stderr that says most about its death.
fn telling_line(stderr: &str) -> String {
    let lines = || stderr.lines().map(str::trim).filter(|l| !l.is_empty());
    let telling = ["memory allocation of", "has overflowed its stack", "fatal runtime error", "panicked at"];
    telling
        .iter()
        .find_map(|t| lines().find(|l| l.contains(t)))
        .or_else(|| lines().rev().find(|l| !l.starts_with("note:")))
        .unwrap_or("")
        .chars()
        .take(300)
        .collect()
}

/// Kill every idle worker when the supervisor goes.
impl Drop for Supervisor {
    fn drop(&mut self) {
        self.idle.lock().clear();
    }
}

struct Worker {
    child: Child,
    stdin: BufWriter<ChildStdin>,
    /// Replies, read on the caller's thread: each read waits at most until the reader's deadline.
    stdout: BufReader<Deadline<ChildStdout>>,
    /// The largest reply body accepted: the running node's output budget
    /// (what a worker can make the supervisor allocate).
    max_body: u64,
    tail: Arc<Mutex<Vec<u8>>>,
    slot: PathBuf,
    /// The slot, mapped: where the worker marks each node it starts.
    marks: memmap2::MmapMut,
    /// Nodes sent to it so far (it numbers the nodes it starts the same way).
    sent: u64,
    scratch: PathBuf,
    confinement: String,
}

/// A pipe whose reads give up (`TimedOut`) at a deadline.
struct Deadline<R> {
    inner: R,
    until: Instant,
    /// Look for the reply a moment before sleeping (the next node of a chain).
    spin: bool,
}

impl<R: Read + std::os::fd::AsRawFd> Read for Deadline<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let fd = self.inner.as_raw_fd();
        // The pipe does not block: what has come is read at once.
        match self.inner.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            read => return read,
        }
        // The next node of a chain usually answers within microseconds, on
        // another core: look a few times before sleeping, so neither side pays
        // for waking the other. One thread at a time spins, so spinning never
        // takes the cores the workers run on.
        let spinning = self.spin && SPINNING.fetch_add(1, Ordering::AcqRel) == 0;
        let readable = if spinning {
            let until = (Instant::now() + SPIN).min(self.until);
            let mut ready = crate::confine::readable(fd, Duration::ZERO);
            while matches!(ready, Ok(false)) && Instant::now() < until {
                std::hint::spin_loop();
                ready = crate::confine::readable(fd, Duration::ZERO);
            }
            ready
        } else {
            Ok(false)
        };
        if self.spin {
            SPINNING.fetch_sub(1, Ordering::AcqRel);
        }
        if !readable? {
            let left = self.until.saturating_duration_since(Instant::now());
            if !crate::confine::readable(fd, left)? {
                return Err(std::io::ErrorKind::TimedOut.into());
            }
        }
        loop {
            match self.inner.read(buf) {
                // Readable, yet nothing there (another reader cannot exist: a spurious wake-up).
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    let left = self.until.saturating_duration_since(Instant::now());
                    if !crate::confine::readable(fd, left)? {
                        return Err(std::io::ErrorKind::TimedOut.into());
                    }
                }
                read => return read,
            }
        }
    }
}

impl Worker {
    /// The worker's next frame, waiting at most `timeout` for it (a frame
    /// cut short past the deadline is a timeout too: the worker is killed then).
    fn recv(&mut self, timeout: Duration) -> Result<Result<Frame<Reply>, String>, RecvTimeoutError> {
        self.recv_spinning(timeout, false)
    }

    /// [`Worker::recv`], looking for the frame a moment before sleeping when `spin`.
    fn recv_spinning(
        &mut self,
        timeout: Duration,
        spin: bool,
    ) -> Result<Result<Frame<Reply>, String>, RecvTimeoutError> {
        let reader = self.stdout.get_mut();
        reader.until = Instant::now() + timeout;
        reader.spin = spin;
        match wire::read_frame::<Reply>(&mut self.stdout, self.max_body) {
            Ok(Some(frame)) => Ok(Ok(frame)),
            Ok(None) => Err(RecvTimeoutError::Disconnected),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Err(RecvTimeoutError::Timeout),
            Err(e) => Ok(Err(format!("it sent a malformed frame: {e}"))),
        }
    }

    /// The number of the node it started last, and when (monotonic ns).
    fn node_mark(&self) -> Option<(u64, u64)> {
        crate::confine::node_mark(&self.marks)
    }

    /// The number of the node it ended last.
    fn node_ended(&self) -> u64 {
        crate::confine::node_ended(&self.marks)
    }

    /// Whether a frame has begun to arrive, waiting at most `timeout`.
    fn has_data(&mut self, timeout: Duration) -> bool {
        if !self.stdout.buffer().is_empty() {
            return true;
        }
        let fd = std::os::fd::AsRawFd::as_raw_fd(&self.stdout.get_ref().inner);
        crate::confine::readable(fd, timeout).unwrap_or(true)
    }

    /// Its input, as a file of its own (for a writer thread).
    fn stdin_copy(&mut self) -> Option<std::fs::File> {
        self.stdin.flush().ok()?;
        let fd = std::os::fd::AsFd::as_fd(self.stdin.get_ref()).try_clone_to_owned().ok()?;
        Some(std::fs::File::from(fd))
    }

    fn send(&mut self, request: &Request, body: &[u8]) -> Result<(), String> {
        wire::write_frame(&mut self.stdin, request, body).map_err(|e| e.to_string())
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The operation it is (or was, when it died) inside.
    fn operation(&self) -> Option<String> {
        let slot = std::fs::read(&self.slot).ok()?;
        let n = usize::from(*slot.first()?);
        let name = slot.get(1..1 + n)?;
        (n > 0).then(|| String::from_utf8_lossy(name).into_owned())
    }

    /// Kill it now (it overran its deadline) and reap it.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// It closed its output or misbehaved: its own exit status if it is
    /// dying (given half a second), else `None` once it is killed.
    fn reap(&mut self) -> Option<std::process::ExitStatus> {
        let until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.kill();
        None
    }

    fn stderr_text(&self) -> String {
        // Give the stderr thread a moment to drain what the dying process wrote.
        std::thread::sleep(Duration::from_millis(20));
        String::from_utf8_lossy(&self.tail.lock()).into_owned()
    }

    fn stderr_says(&self) -> String {
        let text = self.stderr_text();
        let text = text.trim();
        if text.is_empty() {
            String::new()
        } else {
            format!(" (it said: {})", text.lines().last().unwrap_or(text))
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.stdin.flush();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.scratch);
        let _ = std::fs::remove_file(&self.slot);
    }
}

/// Removes its file when the last table over it is gone.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The folder a supervisor and its workers exchange tables and compiled code in.
struct ExchangeDir {
    path: PathBuf,
}

impl ExchangeDir {
    fn create() -> Result<ExchangeDir, String> {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
        let stamp =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        remove_stale(&base);
        let path = base.join(format!("weavelet-{}-{stamp:x}", std::process::id()));
        for sub in ["tables", "compiled"] {
            std::fs::create_dir_all(path.join(sub))
                .map_err(|e| format!("creating {}: {e}", path.display()))?;
        }
        Ok(ExchangeDir { path })
    }
}

/// Remove exchange folders left by supervisors that were killed (their pid is gone).
fn remove_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) =
            name.to_str().and_then(|n| n.strip_prefix("weavelet-")).and_then(|n| n.split('-').next())
        else {
            continue;
        };
        let gone = pid.parse::<u32>().is_ok_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
        if gone && entry.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for ExchangeDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// When a node's wait for its worker starts.
#[derive(Clone, Copy)]
enum Start {
    /// Its invocation, node number `seq` of its worker, was sent `at` then.
    Sent { at: Instant, seq: u64 },
    /// It is node number `seq` of its worker, run after the reply before it,
    /// which was read at `after`.
    Chained { seq: u64, after: Instant },
}

/// An instant of this process for a monotonic-clock reading (never later than now).
fn instant_of(ns: u64) -> Instant {
    let now_ns = crate::confine::monotonic_ns();
    let now = Instant::now();
    now.checked_sub(Duration::from_nanos(now_ns.saturating_sub(ns))).unwrap_or(now)
}

fn remove_files(files: &[PathBuf]) {
    files.iter().for_each(|p| drop(std::fs::remove_file(p)));
}

/// The nodes of a chain under way in one worker, after its first.
struct Chain {
    supervisor: Arc<Supervisor>,
    kind: WorkerKind,
    /// `None` once given back or killed.
    worker: Option<Worker>,
    /// The position in the chain of the node whose reply comes next (1: the first after the invoked one).
    next: usize,
    /// Replies still to come.
    left: usize,
    /// The worker's number for the invoked node.
    first_seq: u64,
    /// When the last reply was read.
    last_read: Instant,
    /// Table files written for the chain, removed when it ends.
    written: Vec<PathBuf>,
    /// Every table file the chain's nodes were handed.
    tables: Vec<ValueWire>,
    /// The last output that came as a table file: the file the worker named, and the value.
    previous: Option<(PathBuf, Value)>,
    /// For each node after the first: whether it reads the output of the one before.
    reads_previous: Vec<bool>,
}

impl Chain {
    /// No more replies will come: the worker is free (or gone).
    fn end(&mut self) {
        self.left = 0;
        if let Some(worker) = self.worker.take() {
            self.supervisor.give_back(self.kind.clone(), worker);
        }
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        if self.left > 0 {
            // Abandoned with nodes still to come: the worker is killed, not reused.
            self.worker = None;
        } else {
            self.end();
        }
        remove_files(&self.written);
    }
}

/// One node of a [`Chain`], finished when the scheduler runs it.
struct ChainNode {
    chain: Arc<Mutex<Chain>>,
    /// Its position in the chain.
    index: usize,
    done: bool,
}

impl Early for ChainNode {
    fn finish(mut self: Box<Self>, call: &Call<'_>) -> Option<Result<Value, NodeFailure>> {
        let chain = self.chain.clone();
        let mut chain = chain.lock();
        if chain.next != self.index || chain.left == 0 {
            return None;
        }
        let start = Start::Chained { seq: chain.first_seq + self.index as u64, after: chain.last_read };
        let Chain { supervisor, worker, tables, previous, .. } = &mut *chain;
        let worker = worker.as_mut()?;
        let outcome = supervisor.clone().await_done(worker, call, start, tables, previous.as_ref());
        self.done = true;
        chain.last_read = Instant::now();
        chain.next += 1;
        chain.left -= 1;
        Some(match outcome {
            Ok(Ok((value, path))) => {
                chain.previous = path.map(|p| (p, value.clone()));
                if chain.left == 0 {
                    chain.end();
                }
                Ok(value)
            }
            Ok(Err(failure)) => {
                // The worker stops when the next node reads the failed one's output.
                chain.previous = None;
                if chain.left == 0 || chain.reads_previous.get(self.index).copied().unwrap_or(false) {
                    chain.end();
                }
                Err(failure)
            }
            Err(failure) => {
                chain.worker = None;
                chain.left = 0;
                Err(failure)
            }
        })
    }
}

impl Drop for ChainNode {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut chain = self.chain.lock();
        if chain.next == self.index && chain.left > 0 {
            // Its turn came and it did not run (its result came from the cache,
            // its input failed a check): the rest of the chain is abandoned and
            // the worker, still running it, killed.
            chain.worker = None;
            chain.left = 0;
        }
    }
}

/// A node whose code runs in a worker process unless its policy says `in-process`.
struct Isolated {
    inner: Arc<dyn NodeImpl>,
    origin: Origin,
    supervisor: Arc<Supervisor>,
}

impl NodeImpl for Isolated {
    fn invoke(&self, call: &Call<'_>, inputs: Vec<Value>) -> Result<Value, NodeFailure> {
        match call.policy().isolation {
            Isolation::InProcess => self.inner.invoke(call, inputs),
            Isolation::Process => Supervisor::invoke(&self.supervisor, call, &self.origin, inputs),
        }
    }

    fn code_identity(&self) -> Result<Digest, String> {
        self.inner.code_identity()
    }

    fn isolation(&self, policy: &Policy) -> Isolation {
        policy.isolation
    }

    fn notice(&self) -> Option<weavelet_core::Diagnostic> {
        self.inner.notice()
    }
}

/// One thing a probe tried inside a worker, and what happened.
pub type Probed = (String, Result<(), String>);

impl Supervisor {
    /// Start a worker as a node from `source` under `policy` would get, and
    /// have it try to read `open`, create `create`, connect to the network,
    /// run a program and see environment variables. Returns how the worker
    /// says it is confined, and each attempt's result: how tests (and an
    /// operator in doubt) check what a node's worker can reach.
    pub fn probe(
        &self,
        source: &Path,
        policy: &Policy,
        open: &[PathBuf],
        create: &[PathBuf],
    ) -> Result<(String, Vec<Probed>), String> {
        let dir = self.exchange_dir()?;
        let origin =
            Origin::Script { path: source.to_path_buf(), name: String::new(), digest: String::new() };
        let kind = self.kind(&origin, policy, dir);
        let mut worker = self.spawn(&kind, dir)?;
        worker.send(&Request::Probe { open: open.to_vec(), create: create.to_vec() }, &[])?;
        match worker.recv(START) {
            Ok(Ok(Frame { header: Reply::Probed(results), .. })) => Ok((worker.confinement.clone(), results)),
            Ok(Ok(_)) => Err("the worker answered out of turn".into()),
            Ok(Err(e)) => Err(format!("the worker failed: {e}{}", worker.stderr_says())),
            Err(_) => Err("the worker did not answer".into()),
        }
    }

    /// Save a component's compiled code where its workers will look for it,
    /// so they do not compile it again (without a cache folder, they look in
    /// the exchange folder).
    pub fn prepare_component(&self, module: &weavelet_wasm::ComponentModule) -> Result<(), String> {
        let dir = match &self.settings.cache_dir {
            Some(cache) => cache.clone(),
            None => self.exchange_dir()?.path.join("compiled"),
        };
        module.save_compiled(&dir).map_err(|e| e.to_string())
    }
}
