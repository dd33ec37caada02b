//! Clocks and sleeps. A node without a clock grant sees the Unix epoch and a
//! monotonic clock that never advances; with one, the real wall clock and a
//! monotonic clock counting from its invocation. WASI's sleeps are answered
//! here, bounded by the node's wall-time deadline (SECURITY.md case 5).

use std::time::Instant;

use wasmtime::component::{Linker, Resource};

use crate::host::NodeState;

/// The monotonic clock of a node with a clock grant: nanoseconds since its
/// invocation began.
pub(crate) struct RealClock(pub Instant);

impl RealClock {
    pub(crate) fn nanos(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

impl wasmtime_wasi::HostMonotonicClock for RealClock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        self.nanos()
    }
}

/// The clock of a node without a clock grant: always the Unix epoch, and a
/// monotonic clock that never advances.
pub(crate) struct FixedClock;

impl wasmtime_wasi::HostWallClock for FixedClock {
    fn resolution(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }
    fn now(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

impl wasmtime_wasi::HostMonotonicClock for FixedClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// The WASI clock interface whose sleeps Weavelet bounds.
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// Replace WASI's sleeps (SECURITY.md case 5). A guest blocked in a host call
/// does not run wasm, so the epoch deadline cannot stop it: wasmtime-wasi's
/// own `subscribe-duration` would sleep as long as the guest asks. Here a
/// sleep that would end past the node's wall-time deadline stops the node at
/// once, and a node without the real clock, whose time stands still, never
/// waits at all.
pub(crate) fn bounded_sleeps(linker: &mut Linker<NodeState>) -> wasmtime::Result<()> {
    use wasmtime::StoreContextMut;
    use wasmtime_wasi::p2::DynPollable;
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap(
        "subscribe-duration",
        |mut store: StoreContextMut<'_, NodeState>,
         (nanos,): (u64,)|
         -> wasmtime::Result<(Resource<DynPollable>,)> {
            let state = store.data_mut();
            Ok((state.nap(nanos)?,))
        },
    )?;
    clock.func_wrap(
        "subscribe-instant",
        |mut store: StoreContextMut<'_, NodeState>,
         (when,): (u64,)|
         -> wasmtime::Result<(Resource<DynPollable>,)> {
            let state = store.data_mut();
            let now = if state.clock { RealClock(state.born).nanos() } else { 0 };
            Ok((state.nap(when.saturating_sub(now))?,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// A guest asked to sleep past its wall-time deadline.
#[derive(Debug)]
pub(crate) struct SleepPastDeadline {
    asked: std::time::Duration,
}

impl std::fmt::Display for SleepPastDeadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "it asked to sleep {:?}, which would end past its wall-time budget", self.asked)
    }
}

impl std::error::Error for SleepPastDeadline {}

/// A sleep that ends by a fixed instant.
struct Nap(tokio::time::Instant);

impl wasmtime_wasi::p2::Pollable for Nap {
    fn ready<'a, 'b>(&'a mut self) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        Box::pin(tokio::time::sleep_until(self.0))
    }
}

impl NodeState {
    /// A pollable for a sleep of `nanos`, bounded as [`bounded_sleeps`] says.
    fn nap(&mut self, nanos: u64) -> wasmtime::Result<Resource<wasmtime_wasi::p2::DynPollable>> {
        let now = Instant::now();
        let asked = std::time::Duration::from_nanos(nanos);
        let until = if self.clock { now.checked_add(asked) } else { Some(now) };
        let Some(until) = until.filter(|u| *u <= self.deadline) else {
            return Err(SleepPastDeadline { asked }.into());
        };
        let nap = self.table.push(Nap(tokio::time::Instant::from_std(until)))?;
        wasmtime_wasi::p2::subscribe(&mut self.table, nap)
    }
}
