//! What a node's store holds, and the host functions it may call, one file
//! per capability: `log.rs` (logging and progress), `tables.rs`,
//! `graphics.rs` (SVG documents and images). Those three implement the WIT
//! interfaces and are compiled once per contract version, as modules of
//! `crate::contract::v0_4` and `v0_3` (`super::wit` is that version's types);
//! what they share is here. The clocks and sleeps are in `crate::clocks`, the
//! memory and table limits in `crate::limits`.
//!
//! Host-owned values (tables, documents, images) live in the store's
//! resource table; the guest holds handles. Every handle counts against the
//! node's handle cap, and the bytes of documents and images against its
//! memory budget, beside its linear memories.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use weavelet_core::{EventSink, human_bytes};
use weavelet_data::table::TableError;
use weavelet_data::{GraphicsError, Image, ReadGrants, ReadLog, Svg, Table};

use crate::limits::Limiter;

/// Per-store data of one node invocation.
pub struct NodeState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: Limiter,
    pub(crate) log: LogBudget,
    pub(crate) node: Arc<str>,
    pub(crate) events: Option<EventSink>,
    /// Live handles of this store, and how many it may hold.
    pub(crate) handles: usize,
    pub(crate) max_handles: usize,
    /// Folders the node may read through host readers, and where its reads are logged.
    pub(crate) files: Arc<ReadGrants>,
    pub(crate) reads: ReadLog,
    /// Bytes the node may receive from the host in one call.
    pub(crate) output_bytes: usize,
    /// Bytes of images and SVG documents the node holds in the host: they
    /// count against its memory budget with its linear memories.
    pub(crate) host_bytes: u64,
    /// When the invocation began, and when its wall-time budget ends: a
    /// sleeping guest is woken then, so the epoch deadline can stop it.
    pub(crate) born: Instant,
    pub(crate) deadline: Instant,
    /// Whether the node has the real clock; without it time stands still and
    /// sleeps end at once.
    pub(crate) clock: bool,
    /// wasi:http's state, and the hooks that send only what the `net` grant allows.
    pub(crate) http: wasmtime_wasi_http::WasiHttpCtx,
    pub(crate) net: crate::net::Net,
}

/// What a host-owned value costs the node holding it.
pub(crate) trait HostOwned {
    /// Bytes held in the host (a table's plan is small; its data is counted nowhere yet).
    fn host_bytes(&self) -> u64;
}

impl HostOwned for Table {
    fn host_bytes(&self) -> u64 {
        0
    }
}

impl HostOwned for Svg {
    fn host_bytes(&self) -> u64 {
        self.byte_size() as u64
    }
}

impl HostOwned for Image {
    fn host_bytes(&self) -> u64 {
        self.byte_size() as u64
    }
}

impl WasiView for NodeState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl wasmtime_wasi_http::WasiHttpView for NodeState {
    fn http(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
        wasmtime_wasi_http::WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.net,
        }
    }
}

impl NodeState {
    /// The host value behind a guest's handle (a table, an SVG, an image).
    pub(crate) fn get<T: Clone + 'static>(&self, handle: &Resource<T>) -> Result<T, String> {
        self.table.get(handle).cloned().map_err(|e| format!("invalid handle: {e}"))
    }

    /// Give the guest a handle to `value`, within the node's handle cap.
    pub(crate) fn put<T: HostOwned + Send + 'static>(&mut self, value: T) -> Result<Resource<T>, String> {
        if self.handles >= self.max_handles {
            return Err(format!(
                "the node holds {} handles (tables, SVGs, images), the most allowed; \
                 drop the ones it no longer needs",
                self.max_handles
            ));
        }
        let bytes = value.host_bytes();
        let held = self.host_bytes.saturating_add(bytes);
        if held.saturating_add(self.limiter.memory_used) > self.limiter.memory_budget {
            return Err(format!(
                "the node would hold {} of images and documents in the host beside {} of its own memory, \
                 more than its {} memory budget; drop the ones it no longer needs",
                human_bytes(held),
                human_bytes(self.limiter.memory_used),
                human_bytes(self.limiter.memory_budget)
            ));
        }
        let handle = self.table.push(value).map_err(|e| format!("cannot keep another handle: {e}"))?;
        self.handles += 1;
        self.host_bytes = held;
        Ok(handle)
    }

    /// Take a value the guest returns (or drops) out of the handle table.
    pub(crate) fn take<T: HostOwned + 'static>(&mut self, handle: Resource<T>) -> Result<T, String> {
        let value = self.table.delete(handle).map_err(|e| format!("invalid handle: {e}"))?;
        self.handles = self.handles.saturating_sub(1);
        self.host_bytes = self.host_bytes.saturating_sub(value.host_bytes());
        Ok(value)
    }

    /// Bytes about to be copied into the guest, checked against its output budget.
    pub(crate) fn bytes_out<T: AsRef<[u8]>>(&self, bytes: T, what: &str) -> Result<T, String> {
        let len = bytes.as_ref().len();
        if len > self.output_bytes {
            return Err(format!(
                "{what} is {}, more than the {} a node may receive at once",
                human_bytes(len as u64),
                human_bytes(self.output_bytes as u64)
            ));
        }
        Ok(bytes)
    }
}

/// Bytes of log a node may still write.
pub(crate) struct LogBudget {
    pub left: usize,
    pub dropped: usize,
}

/// The table helpers of `tables.rs`.
impl NodeState {
    pub(crate) fn derive(
        &mut self,
        handle: &Resource<Table>,
        f: impl FnOnce(&Table) -> Result<Table, TableError>,
    ) -> Result<Resource<Table>, String> {
        let table = self.get(handle)?;
        let derived = f(&table).map_err(|e| e.message)?;
        self.put(derived)
    }

    pub(crate) fn read_with<T>(
        &mut self,
        handle: &Resource<Table>,
        f: impl FnOnce(&Table) -> Result<T, TableError>,
    ) -> Result<T, String> {
        let table = self.get(handle)?;
        f(&table).map_err(|e| e.message)
    }

    /// Check the size of data about to be copied into the guest against its output budget.
    pub(crate) fn copy_budget<T>(&self, items: Vec<T>, item_size: usize) -> Result<Vec<T>, String> {
        let bytes = items.len().saturating_mul(item_size);
        if bytes > self.output_bytes {
            return Err(format!(
                "{} items ({}) exceed the {} a node may receive at once; select fewer rows",
                items.len(),
                human_bytes(bytes as u64),
                human_bytes(self.output_bytes as u64)
            ));
        }
        Ok(items)
    }
}

/// The graphics helper of `graphics.rs`.
impl NodeState {
    /// A new SVG or image made from the one behind `this`, under a new handle.
    pub(crate) fn derive_graphic<T: HostOwned + Clone + Send + 'static>(
        &mut self,
        this: &Resource<T>,
        f: impl FnOnce(T) -> Result<T, GraphicsError>,
    ) -> Result<Resource<T>, String> {
        let value = self.get(this)?;
        let derived = f(value).map_err(|e| e.message)?;
        self.put(derived)
    }
}
