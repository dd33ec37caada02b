//! [`Table`]: a handle to a table the host holds.

use std::fmt;

use crate::bindings::weavelet::node::types as raw;
use crate::{Column, JoinKind};

/// A table held by the host (a lazy polars plan). The node holds a handle;
/// every operation runs in the host and returns a new table, so passing a
/// table on costs the same whatever its size.
///
/// Expressions are SQL expressions: `"revenue > 0 AND region = 'north'"`,
/// `"revenue * 1.2 AS gross"`. Aggregations are `sum(x)`, `mean(x)`,
/// `min(x)`, `max(x)`, `count(x)`, `n_unique(x)`, `first(x)`, `last(x)`, or
/// any SQL aggregate.
///
/// ```no_run
/// use weavelet_sdk as weavelet;
/// use weavelet::Table;
///
/// /// Revenue per region, largest first.
/// #[weavelet::node(columns(sales = "region: text, revenue: number"))]
/// fn by_region(sales: Table) -> Result<Table, weavelet::TableError> {
///     sales
///         .filter("revenue > 0")?
///         .group_by(&["region"], &[("total", "sum(revenue)"), ("orders", "count(revenue)")])?
///         .sort(&["total"], &[true])
/// }
/// # fn main() {}
/// ```
pub struct Table(pub(crate) raw::Table);

/// Why the host refused a table operation (a message for people).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableError(pub String);

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TableError {}

type Result<T> = std::result::Result<T, TableError>;

fn wrap(r: std::result::Result<raw::Table, String>) -> Result<Table> {
    r.map(Table).map_err(TableError)
}

fn owned(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn owned_pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

impl Table {
    /// Read a `.csv`, `.parquet`, `.arrow`/`.ipc`, `.json` or `.jsonl` file
    /// under a directory the pipeline grants read access to (relative paths
    /// start at the pipeline's folder). Formats that allow it are scanned
    /// lazily: only the columns and rows later operations use are read.
    pub fn read(path: &str) -> Result<Table> {
        wrap(raw::Table::read(path))
    }

    /// Decode Arrow IPC file bytes (validated by the host, with size caps).
    pub fn from_ipc(bytes: &[u8]) -> Result<Table> {
        wrap(raw::Table::from_ipc(bytes))
    }

    /// One SQL `SELECT` over named tables.
    pub fn sql(query: &str, tables: &[(&str, &Table)]) -> Result<Table> {
        let named: Vec<(String, &raw::Table)> = tables.iter().map(|(n, t)| (n.to_string(), &t.0)).collect();
        wrap(raw::Table::sql(query, &named))
    }

    /// Stack tables with the same columns.
    pub fn concat(tables: &[&Table]) -> Result<Table> {
        let raw: Vec<&raw::Table> = tables.iter().map(|t| &t.0).collect();
        wrap(raw::Table::concat(&raw))
    }

    /// Column names and dtypes (`i64`, `f64`, `str`, `bool`, ...).
    pub fn schema(&self) -> Result<Vec<Column>> {
        self.0.schema().map_err(TableError)
    }

    /// The number of rows.
    pub fn height(&self) -> Result<u64> {
        self.0.height().map_err(TableError)
    }

    /// Keep or compute these expressions (`"region"`, `"revenue * 2 AS double"`).
    pub fn select(&self, exprs: &[&str]) -> Result<Table> {
        wrap(self.0.select(&owned(exprs)))
    }

    /// Rename columns: `(old, new)` pairs.
    pub fn rename(&self, pairs: &[(&str, &str)]) -> Result<Table> {
        wrap(self.0.rename(&owned_pairs(pairs)))
    }

    /// Remove columns.
    pub fn drop_columns(&self, columns: &[&str]) -> Result<Table> {
        wrap(self.0.drop_columns(&owned(columns)))
    }

    /// Keep the rows where `predicate` holds.
    pub fn filter(&self, predicate: &str) -> Result<Table> {
        wrap(self.0.filter(predicate))
    }

    /// Add or replace one column.
    pub fn with_column(&self, name: &str, expr: &str) -> Result<Table> {
        self.with_columns(&[(name, expr)])
    }

    /// Add or replace columns: `(name, expression)` pairs.
    pub fn with_columns(&self, columns: &[(&str, &str)]) -> Result<Table> {
        wrap(self.0.with_columns(&owned_pairs(columns)))
    }

    /// Group by key columns and aggregate: `(output name, aggregation)` pairs.
    pub fn group_by(&self, keys: &[&str], aggregations: &[(&str, &str)]) -> Result<Table> {
        let aggs: Vec<raw::Aggregation> = aggregations
            .iter()
            .map(|(name, expr)| raw::Aggregation { name: name.to_string(), expr: expr.to_string() })
            .collect();
        wrap(self.0.group_by(&owned(keys), &aggs))
    }

    /// Sort by columns; `descending` per column (missing entries: ascending).
    pub fn sort(&self, by: &[&str], descending: &[bool]) -> Result<Table> {
        wrap(self.0.sort(&owned(by), descending))
    }

    /// The first `n` rows.
    pub fn head(&self, n: u64) -> Result<Table> {
        wrap(self.0.head(n))
    }

    /// The last `n` rows.
    pub fn tail(&self, n: u64) -> Result<Table> {
        wrap(self.0.tail(n))
    }

    /// `len` rows from `offset` (negative: from the end).
    pub fn slice(&self, offset: i64, len: u64) -> Result<Table> {
        wrap(self.0.slice(offset, len))
    }

    /// Join with `other` on key columns.
    pub fn join(&self, other: &Table, left_on: &[&str], right_on: &[&str], how: JoinKind) -> Result<Table> {
        wrap(self.0.join(&other.0, &owned(left_on), &owned(right_on), how))
    }

    /// Remove rows with a null in any of `subset` (empty: in any column).
    pub fn drop_nulls(&self, subset: &[&str]) -> Result<Table> {
        wrap(self.0.drop_nulls(&owned(subset)))
    }

    /// Add column `name`: the mean of `column` over a window of `window` rows.
    pub fn rolling_mean(&self, column: &str, window: u32, name: &str) -> Result<Table> {
        wrap(self.0.rolling_mean(column, window, name))
    }

    /// The table (or these columns; empty: all) as Arrow IPC file bytes.
    pub fn to_ipc(&self, columns: &[&str]) -> Result<Vec<u8>> {
        self.0.to_ipc(&owned(columns)).map_err(TableError)
    }

    /// One column as floats (integers converted); nulls are an error.
    pub fn column_f64(&self, name: &str) -> Result<Vec<f64>> {
        self.0.column_f64(name).map_err(TableError)
    }

    /// One column as integers; nulls are an error.
    pub fn column_i64(&self, name: &str) -> Result<Vec<i64>> {
        self.0.column_s64(name).map_err(TableError)
    }

    /// One column as text; nulls are an error.
    pub fn column_text(&self, name: &str) -> Result<Vec<String>> {
        self.0.column_text(name).map_err(TableError)
    }

    /// One column as booleans; nulls are an error.
    pub fn column_bool(&self, name: &str) -> Result<Vec<bool>> {
        self.0.column_bool(name).map_err(TableError)
    }
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Table(<host handle>)")
    }
}

handle_value!(Table, Table, "table");
