//! The `table` resource: host-owned polars tables. Every operation is
//! `weavelet-data`'s, which checks what the guest passes; here handles are
//! resolved and data copied into the guest is held to its output budget.

use wasmtime::component::Resource;
use weavelet_data::table::{self, Table};

use super::wit;
use crate::host::NodeState;

type Handle = Resource<Table>;
type TableResult = Result<Handle, String>;

impl wit::HostTable for NodeState {
    fn read(&mut self, path: String) -> TableResult {
        let table = table::io::read(&self.files, &self.reads, &path).map_err(|e| e.message)?;
        self.put(table)
    }

    fn from_ipc(&mut self, bytes: Vec<u8>) -> TableResult {
        let table = table::io::from_ipc(&bytes, self.output_bytes).map_err(|e| e.message)?;
        self.put(table)
    }

    fn sql(&mut self, query: String, tables: Vec<(String, Handle)>) -> TableResult {
        let named = tables
            .iter()
            .map(|(name, h)| Ok((name.clone(), self.get(h)?)))
            .collect::<Result<Vec<_>, String>>()?;
        let table = Table::sql(&query, &named).map_err(|e| e.message)?;
        self.put(table)
    }

    fn concat(&mut self, tables: Vec<Handle>) -> TableResult {
        let tables = tables.iter().map(|h| self.get(h)).collect::<Result<Vec<_>, String>>()?;
        let table = Table::concat(&tables).map_err(|e| e.message)?;
        self.put(table)
    }

    fn schema(&mut self, this: Handle) -> Result<Vec<wit::Column>, String> {
        let schema = self.read_with(&this, Table::schema)?;
        Ok(schema.into_iter().map(|(name, dtype)| wit::Column { name, dtype }).collect())
    }

    fn height(&mut self, this: Handle) -> Result<u64, String> {
        self.read_with(&this, Table::height)
    }

    fn select(&mut self, this: Handle, exprs: Vec<String>) -> TableResult {
        self.derive(&this, |t| t.select(&exprs))
    }

    fn rename(&mut self, this: Handle, pairs: Vec<(String, String)>) -> TableResult {
        self.derive(&this, |t| t.rename(&pairs))
    }

    fn drop_columns(&mut self, this: Handle, columns: Vec<String>) -> TableResult {
        self.derive(&this, |t| t.drop(&columns))
    }

    fn filter(&mut self, this: Handle, predicate: String) -> TableResult {
        self.derive(&this, |t| t.filter(&predicate))
    }

    fn with_columns(&mut self, this: Handle, columns: Vec<(String, String)>) -> TableResult {
        self.derive(&this, |t| t.with_columns(&columns))
    }

    fn group_by(
        &mut self,
        this: Handle,
        keys: Vec<String>,
        aggregations: Vec<wit::Aggregation>,
    ) -> TableResult {
        let aggs: Vec<(String, String)> = aggregations.into_iter().map(|a| (a.name, a.expr)).collect();
        self.derive(&this, |t| t.group_by(&keys, &aggs))
    }

    fn sort(&mut self, this: Handle, by: Vec<String>, descending: Vec<bool>) -> TableResult {
        self.derive(&this, |t| t.sort(&by, &descending))
    }

    fn head(&mut self, this: Handle, n: u64) -> TableResult {
        self.derive(&this, |t| t.head(n))
    }

    fn tail(&mut self, this: Handle, n: u64) -> TableResult {
        self.derive(&this, |t| t.tail(n))
    }

    fn slice(&mut self, this: Handle, offset: i64, len: u64) -> TableResult {
        self.derive(&this, |t| t.slice(offset, len))
    }

    fn join(
        &mut self,
        this: Handle,
        other: Handle,
        left_on: Vec<String>,
        right_on: Vec<String>,
        how: wit::JoinKind,
    ) -> TableResult {
        let other = self.get(&other)?;
        let how = match how {
            wit::JoinKind::Inner => table::JoinKind::Inner,
            wit::JoinKind::Left => table::JoinKind::Left,
            wit::JoinKind::Outer => table::JoinKind::Outer,
        };
        self.derive(&this, |t| t.join(&other, &left_on, &right_on, how))
    }

    fn drop_nulls(&mut self, this: Handle, subset: Vec<String>) -> TableResult {
        self.derive(&this, |t| t.drop_nulls(&subset))
    }

    fn rolling_mean(&mut self, this: Handle, column: String, window: u32, name: String) -> TableResult {
        self.derive(&this, |t| t.rolling_mean(&column, u64::from(window), &name))
    }

    fn to_ipc(&mut self, this: Handle, columns: Vec<String>) -> Result<Vec<u8>, String> {
        let limit = self.output_bytes;
        self.read_with(&this, |t| table::io::to_ipc(t, &columns, limit))
    }

    fn column_f64(&mut self, this: Handle, name: String) -> Result<Vec<f64>, String> {
        let items = self.read_with(&this, |t| t.column_f64(&name))?;
        self.copy_budget(items, 8)
    }

    fn column_s64(&mut self, this: Handle, name: String) -> Result<Vec<i64>, String> {
        let items = self.read_with(&this, |t| t.column_i64(&name))?;
        self.copy_budget(items, 8)
    }

    fn column_text(&mut self, this: Handle, name: String) -> Result<Vec<String>, String> {
        let items = self.read_with(&this, |t| t.column_text(&name))?;
        let average = items.iter().map(|s| s.len() + 8).sum::<usize>() / items.len().max(1);
        self.copy_budget(items, average)
    }

    fn column_bool(&mut self, this: Handle, name: String) -> Result<Vec<bool>, String> {
        let items = self.read_with(&this, |t| t.column_bool(&name))?;
        self.copy_budget(items, 1)
    }

    fn drop(&mut self, rep: Handle) -> wasmtime::Result<()> {
        self.take(rep).map_err(wasmtime::Error::msg)?;
        Ok(())
    }
}
