//! The limits a store is held to: all of a node's linear memories summed
//! against one memory budget, and wasm tables capped in elements.

use weavelet_core::human_bytes;

/// Sums the memory of every linear memory in the store against one budget
/// (`StoreLimits` would cap each memory separately).
pub(crate) struct Limiter {
    pub memory_budget: u64,
    pub memory_used: u64,
    pub exceeded: bool,
}

/// The error a trap carries when a node's memory budget is exceeded.
#[derive(Debug)]
pub(crate) struct MemoryBudgetExceeded {
    pub limit: u64,
    wanted: u64,
}

impl std::fmt::Display for MemoryBudgetExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "memory budget of {} exceeded (the node asked for {} in all)",
            human_bytes(self.limit),
            human_bytes(self.wanted)
        )
    }
}

impl std::error::Error for MemoryBudgetExceeded {}

/// Elements a wasm table may hold (SECURITY.md case 9); the instance pool
/// holds no more either.
pub(crate) const MAX_TABLE_ELEMENTS: usize = 100_000;

/// A table grown past [`MAX_TABLE_ELEMENTS`].
#[derive(Debug)]
pub(crate) struct TableBudgetExceeded {
    wanted: usize,
}

impl std::fmt::Display for TableBudgetExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a wasm table may hold {MAX_TABLE_ELEMENTS} elements; the node asked for {}", self.wanted)
    }
}

impl std::error::Error for TableBudgetExceeded {}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let grow = desired.saturating_sub(current) as u64;
        let wanted = self.memory_used.saturating_add(grow);
        if wanted > self.memory_budget {
            self.exceeded = true;
            return Err(MemoryBudgetExceeded { limit: self.memory_budget, wanted }.into());
        }
        self.memory_used = wanted;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            return Err(TableBudgetExceeded { wanted: desired }.into());
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        64
    }

    fn tables(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        16
    }
}
