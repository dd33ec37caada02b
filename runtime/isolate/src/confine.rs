//! What the OS bounds a worker with: no new privileges, Landlock (files only
//! beneath what its nodes were granted), seccomp (no network, no `exec`, no
//! new processes), `RLIMIT_DATA` armed per node, death with its parent.
//!
//! The only `unsafe` of the crate is here: system calls with no safe wrapper
//! in the standard library, each with its reason.
#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use landlock::{
    ABI, Access, AccessFs, CompatLevel, Compatible, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
    path_beneath_rules,
};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    TargetArch,
};

use crate::wire::Confinement;

/// Host memory a node may cause beyond its budget before the worker's data
/// limit stops it: the interpreter, polars' and resvg's working buffers,
/// the output being written.
pub const HOST_SLACK: u64 = 64 << 20;

/// The protocol's output: a duplicate of stdout, with stdout itself pointed
/// at stderr, so nothing the node's code prints can corrupt a frame.
pub(crate) fn take_stdout() -> std::io::Result<File> {
    // SAFETY: dup and dup2 on the standard descriptors, which are open for the
    // whole life of the process; the duplicate is owned by the returned File
    // and by nothing else.
    unsafe {
        let fd = libc::dup(1);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::dup2(2, 1) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(File::from_raw_fd(fd))
    }
}

/// Die when the supervisor does (`parent`: its pid when it spawned us).
pub(crate) fn die_with_parent(parent: Option<u32>) {
    // SAFETY: prctl(PR_SET_PDEATHSIG) and getppid take no pointers.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0);
        if parent.is_some_and(|p| libc::getppid() as u32 != p) {
            // The supervisor died before the signal was armed.
            std::process::exit(0);
        }
    }
}

/// Confine the calling process for good: what it does not hold by then, it
/// never will. Returns how (for `weavelet inspect`, the run report and tests).
pub(crate) fn confine(rules: &Confinement) -> Result<String, String> {
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) takes no pointers.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(format!("no_new_privs: {}", std::io::Error::last_os_error()));
    }
    let mut how = vec!["no new privileges".to_string()];
    how.push(landlock(rules)?);
    how.push(seccomp()?);
    Ok(how.join(", "))
}

fn landlock(rules: &Confinement) -> Result<String, String> {
    Ok(match restrict_files(&rules.read, &rules.write)? {
        RulesetStatus::FullyEnforced => "Landlock (files beneath its grants only)".into(),
        RulesetStatus::PartiallyEnforced => "Landlock, partly (this kernel lacks some access rights)".into(),
        RulesetStatus::NotEnforced => "no Landlock (this kernel does not support it)".into(),
    })
}

/// Landlock for good: reading only beneath `read`, reading and writing only
/// beneath `write` (files or folders; those that do not exist are left out).
/// Rules are requested at ABI 5, best effort; the status says what held.
pub(crate) fn restrict_files(read: &[PathBuf], write: &[PathBuf]) -> Result<RulesetStatus, String> {
    let abi = ABI::V5;
    let err = |e: landlock::RulesetError| format!("landlock: {e}");
    let existing =
        |paths: &[PathBuf]| -> Vec<PathBuf> { paths.iter().filter(|p| p.exists()).cloned().collect() };
    let status = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))
        .map_err(err)?
        .create()
        .map_err(err)?
        .add_rules(path_beneath_rules(existing(read), AccessFs::from_read(abi)))
        .map_err(err)?
        .add_rules(path_beneath_rules(existing(write), AccessFs::from_all(abi)))
        .map_err(err)?
        .restrict_self()
        .map_err(err)?;
    Ok(status.ruleset)
}

/// System calls neither a worker nor a build ever needs: other processes'
/// memory, mounts and namespaces, BPF, perf, keyrings, io_uring,
/// userfaultfd, kernel modules.
pub(crate) const KERNEL_SURFACE: &[i64] = &[
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_io_uring_setup,
    libc::SYS_userfaultfd,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_kexec_load,
];

/// The seccomp target of this machine, if filters are written for it.
pub(crate) fn seccomp_arch() -> Result<TargetArch, String> {
    match std::env::consts::ARCH {
        "x86_64" => Ok(TargetArch::x86_64),
        "aarch64" => Ok(TargetArch::aarch64),
        other => Err(format!("no seccomp filter written for {other}")),
    }
}

/// Apply a filter that makes each of `denied` (with its conditions; none:
/// always) fail with `errno`, allowing everything else.
pub(crate) fn deny(denied: BTreeMap<i64, Vec<SeccompRule>>, errno: i32) -> Result<(), String> {
    let err = |e: seccompiler::BackendError| format!("seccomp: {e}");
    let filter =
        SeccompFilter::new(denied, SeccompAction::Allow, SeccompAction::Errno(errno as u32), seccomp_arch()?)
            .map_err(err)?;
    let program: BpfProgram = filter.try_into().map_err(err)?;
    seccompiler::apply_filter(&program).map_err(|e| format!("seccomp: {e}"))
}

/// System calls a worker never needs: the network, running programs, new
/// processes (threads stay allowed), and the kernel's larger attack surfaces.
fn seccomp() -> Result<String, String> {
    if let Err(why) = seccomp_arch() {
        return Ok(format!("no seccomp filter ({why})"));
    }
    let err = |e: seccompiler::BackendError| format!("seccomp: {e}");
    let mut denied: BTreeMap<i64, Vec<SeccompRule>> = [
        libc::SYS_socket,
        libc::SYS_socketpair,
        libc::SYS_connect,
        libc::SYS_bind,
        libc::SYS_listen,
        libc::SYS_accept,
        libc::SYS_accept4,
        libc::SYS_execve,
        libc::SYS_execveat,
    ]
    .into_iter()
    .chain(KERNEL_SURFACE.iter().copied())
    .map(|call| (call, Vec::new()))
    .collect();
    #[cfg(target_arch = "x86_64")]
    for call in [libc::SYS_fork, libc::SYS_vfork] {
        denied.insert(call, Vec::new());
    }
    // clone is how threads are made too: only a clone without CLONE_THREAD (a new process) is refused.
    let new_process = SeccompCondition::new(
        0,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::MaskedEq(libc::CLONE_THREAD as u64),
        0,
    )
    .map_err(err)?;
    denied.insert(libc::SYS_clone, vec![SeccompRule::new(vec![new_process]).map_err(err)?]);
    // clone3's flags are behind a pointer a filter cannot read: "not implemented"
    // makes the C library fall back to clone, which the rule above checks.
    deny([(libc::SYS_clone3, Vec::new())].into_iter().collect(), libc::ENOSYS)?;
    deny(denied, libc::EPERM)?;
    Ok("seccomp (no network, exec or new processes)".into())
}

/// The process's data segment size (heap and private writable mappings),
/// the quantity `RLIMIT_DATA` bounds: read from an open `/proc/self/statm`.
pub(crate) struct DataSize(File);

impl DataSize {
    pub(crate) fn open() -> std::io::Result<DataSize> {
        File::open("/proc/self/statm").map(DataSize)
    }

    pub(crate) fn bytes(&mut self) -> u64 {
        use std::os::unix::fs::FileExt;
        // One read at offset 0 (no seek): this runs before every node.
        let mut text = [0u8; 256];
        let Ok(n) = self.0.read_at(&mut text, 0) else { return 0 };
        let text = std::str::from_utf8(&text[..n]).unwrap_or("");
        // size resident shared text lib data dt, in pages.
        let pages = text.split_whitespace().nth(5).and_then(|d| d.parse::<u64>().ok()).unwrap_or(0);
        pages.saturating_mul(page_size())
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf takes no pointers.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}

/// Set the soft `RLIMIT_DATA` to `bytes` (`None`: back to the hard limit).
pub(crate) fn limit_data(bytes: Option<u64>) {
    // The hard limit, read once: an unprivileged process can only lower it, and this one never does.
    static HARD: std::sync::OnceLock<Option<libc::rlim_t>> = std::sync::OnceLock::new();
    let hard = HARD.get_or_init(|| {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit writes the one struct passed.
        (unsafe { libc::getrlimit(libc::RLIMIT_DATA, &mut limit) } == 0).then_some(limit.rlim_max)
    });
    let Some(hard) = *hard else { return };
    // The soft limit this process set last: setting the same again is skipped
    // (nodes of one request mostly run under the same limit).
    static SOFT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(u64::MAX);
    let soft = bytes.map_or(hard, |b| b.min(hard));
    if SOFT.swap(soft, std::sync::atomic::Ordering::Relaxed) == soft {
        return;
    }
    let limit = libc::rlimit { rlim_cur: soft, rlim_max: hard };
    // SAFETY: setrlimit reads the one struct passed.
    if unsafe { libc::setrlimit(libc::RLIMIT_DATA, &limit) } != 0 {
        SOFT.store(u64::MAX, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The shared page a worker writes the operation it is inside to, so its
/// supervisor can name it after killing the worker.
pub(crate) fn map_slot(path: &Path) -> std::io::Result<memmap2::MmapMut> {
    let file = File::options().read(true).write(true).open(path)?;
    // SAFETY: the file is the supervisor's slot for this worker alone; its size
    // is fixed by the supervisor before the worker starts and never shrinks.
    unsafe { memmap2::MmapMut::map_mut(&file) }
}

/// Where in a worker's slot (after the operation's name) it marks each node
/// it starts: the node's number (`u64`) and its start on the monotonic clock
/// (`u64` nanoseconds), then the number of the last node it ended (`u64`), so
/// the supervisor times a node started ahead of its turn from its real start,
/// and knows a reply it reads late is not a node still running.
pub(crate) const NODE_MARK: usize = 64;
/// The size of a worker's slot.
pub(crate) const SLOT: usize = NODE_MARK + 24;

fn mark_words(slot: &[u8]) -> Option<[&AtomicU64; 3]> {
    let words = slot.get(NODE_MARK..NODE_MARK + 24)?;
    let ptr = words.as_ptr();
    if !(ptr as usize).is_multiple_of(8) {
        return None;
    }
    // SAFETY: the 24 bytes are in bounds and 8-aligned (checked above), live
    // as long as `slot`, and are only ever accessed atomically, by this
    // process and the other one sharing the page.
    unsafe { Some([0, 8, 16].map(|at| AtomicU64::from_ptr(ptr.add(at).cast::<u64>().cast_mut()))) }
}

/// Mark node number `seq` as ended (the worker's side, before it replies).
pub(crate) fn mark_ended(slot: &[u8], seq: u64) {
    if let Some([_, _, ended]) = mark_words(slot) {
        ended.store(seq, Ordering::Release);
    }
}

/// The number of the last node the worker ended.
pub(crate) fn node_ended(slot: &[u8]) -> u64 {
    mark_words(slot).map_or(0, |[_, _, ended]| ended.load(Ordering::Acquire))
}

/// Mark node number `seq` as started now (the worker's side).
pub(crate) fn mark_node(slot: &[u8], seq: u64) {
    if let Some([number, at, _]) = mark_words(slot) {
        at.store(monotonic_ns(), Ordering::Relaxed);
        number.store(seq, Ordering::Release);
    }
}

/// The number of the node the worker started last, and when (monotonic ns).
pub(crate) fn node_mark(slot: &[u8]) -> Option<(u64, u64)> {
    let [number, at, _] = mark_words(slot)?;
    loop {
        let seq = number.load(Ordering::Acquire);
        let ns = at.load(Ordering::Relaxed);
        if number.load(Ordering::Acquire) == seq {
            return Some((seq, ns));
        }
    }
}

/// The monotonic clock, in nanoseconds: the same clock in every process.
pub(crate) fn monotonic_ns() -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the one timespec passed.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    u64::try_from(now.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(now.tv_nsec).unwrap_or(0))
}

/// Make reads of `fd` return `WouldBlock` instead of waiting.
pub(crate) fn set_nonblocking(fd: std::os::fd::RawFd) -> std::io::Result<()> {
    // SAFETY: fcntl on a descriptor this process owns, with integer arguments only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Whether `fd` becomes readable (or reaches its end) within `timeout`.
pub(crate) fn readable(fd: std::os::fd::RawFd, timeout: std::time::Duration) -> std::io::Result<bool> {
    let millis = i32::try_from(timeout.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
    let mut poll = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    loop {
        // SAFETY: poll reads and writes the one pollfd passed, for the length given.
        let n = unsafe { libc::poll(&mut poll, 1, millis) };
        if n >= 0 {
            return Ok(n > 0);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
