//! One node per table operation, so tests can drive each from a component.
//! Inputs are named after what they carry; tests bind them to parameters.

use weavelet::{JoinKind, Table, TableError};
use weavelet_sdk as weavelet;

type R = Result<Table, TableError>;

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// `name=expr` strings as pairs.
fn pairs(v: &[String]) -> Result<Vec<(&str, &str)>, TableError> {
    v.iter()
        .map(|s| s.split_once('=').ok_or_else(|| TableError(format!("expected name=expr, got `{s}`"))))
        .collect()
}

/// Read a table file (only under a granted folder).
#[weavelet::node]
fn t_read(path: String) -> R {
    Table::read(&path)
}

/// `name:dtype` for each column.
#[weavelet::node]
fn t_schema(t: Table) -> Result<Vec<String>, TableError> {
    Ok(t.schema()?.into_iter().map(|c| format!("{}:{}", c.name, c.dtype)).collect())
}

#[weavelet::node]
fn t_height(t: Table) -> Result<i64, TableError> {
    Ok(t.height()? as i64)
}

#[weavelet::node]
fn t_select(t: Table, exprs: Vec<String>) -> R {
    t.select(&strs(&exprs))
}

#[weavelet::node]
fn t_rename(t: Table, names: Vec<String>) -> R {
    t.rename(&pairs(&names)?)
}

#[weavelet::node]
fn t_drop(t: Table, columns: Vec<String>) -> R {
    t.drop_columns(&strs(&columns))
}

#[weavelet::node]
fn t_filter(t: Table, predicate: String) -> R {
    t.filter(&predicate)
}

#[weavelet::node]
fn t_with_columns(t: Table, columns: Vec<String>) -> R {
    t.with_columns(&pairs(&columns)?)
}

#[weavelet::node]
fn t_group_by(t: Table, keys: Vec<String>, aggs: Vec<String>) -> R {
    t.group_by(&strs(&keys), &pairs(&aggs)?)
}

#[weavelet::node]
fn t_sort(t: Table, by: Vec<String>, descending: Vec<bool>) -> R {
    t.sort(&strs(&by), &descending)
}

#[weavelet::node]
fn t_head(t: Table, n: i64) -> R {
    t.head(n as u64)
}

#[weavelet::node]
fn t_tail(t: Table, n: i64) -> R {
    t.tail(n as u64)
}

#[weavelet::node]
fn t_slice(t: Table, offset: i64, n: i64) -> R {
    t.slice(offset, n as u64)
}

#[weavelet::node]
fn t_join(t: Table, other: Table, on: String, how: String) -> R {
    let how = match how.as_str() {
        "left" => JoinKind::Left,
        "outer" => JoinKind::Outer,
        _ => JoinKind::Inner,
    };
    t.join(&other, &[&on], &[&on], how)
}

#[weavelet::node]
fn t_drop_nulls(t: Table) -> R {
    t.drop_nulls(&[])
}

#[weavelet::node]
fn t_rolling_mean(t: Table, column: String, n: i64) -> R {
    t.rolling_mean(&column, n as u32, "rolling")
}

#[weavelet::node]
fn t_concat(t: Table, other: Table) -> R {
    Table::concat(&[&t, &other])
}

#[weavelet::node]
fn t_sql(t: Table, other: Table, query: String) -> R {
    Table::sql(&query, &[("t", &t), ("other", &other)])
}

/// To IPC bytes and back: the table makes a round trip through guest memory.
#[weavelet::node]
fn t_ipc_roundtrip(t: Table) -> R {
    let bytes = t.to_ipc(&[])?;
    weavelet::info(&format!("{} bytes of IPC", bytes.len()));
    Table::from_ipc(&bytes)
}

/// Hands the host bytes that are not Arrow IPC.
#[weavelet::node]
fn t_bad_ipc(bytes: weavelet::Bytes) -> R {
    Table::from_ipc(&bytes.0)
}

#[weavelet::node]
fn t_column_f64(t: Table, column: String) -> Result<Vec<f64>, TableError> {
    t.column_f64(&column)
}

#[weavelet::node]
fn t_column_i64(t: Table, column: String) -> Result<Vec<i64>, TableError> {
    t.column_i64(&column)
}

#[weavelet::node]
fn t_column_text(t: Table, column: String) -> Result<Vec<String>, TableError> {
    t.column_text(&column)
}

#[weavelet::node]
fn t_column_bool(t: Table, column: String) -> Result<Vec<bool>, TableError> {
    t.column_bool(&column)
}

/// Passes its table on untouched.
#[weavelet::node]
fn t_pass(t: Table) -> Table {
    t
}

/// Requires `region` (text) and `revenue` (a number) of its input.
#[weavelet::node(columns(t = "region: text, revenue: number"))]
fn t_needs_columns(t: Table) -> R {
    t.select(&["region", "revenue"])
}

/// Promises `region` and `total`.
#[weavelet::node(output_columns = "region: text, total: float")]
fn t_promises(t: Table) -> R {
    t.group_by(&["region"], &[("total", "sum(revenue)")])
}

/// Keeps asking for new handles without dropping them.
#[weavelet::node]
fn t_handle_flood(t: Table) -> R {
    let mut kept = Vec::new();
    loop {
        kept.push(t.head(1)?);
    }
}

weavelet::export!(
    t_read,
    t_schema,
    t_height,
    t_select,
    t_rename,
    t_drop,
    t_filter,
    t_with_columns,
    t_group_by,
    t_sort,
    t_head,
    t_tail,
    t_slice,
    t_join,
    t_drop_nulls,
    t_rolling_mean,
    t_concat,
    t_sql,
    t_ipc_roundtrip,
    t_bad_ipc,
    t_column_f64,
    t_column_i64,
    t_column_text,
    t_column_bool,
    t_pass,
    t_needs_columns,
    t_promises,
    t_handle_flood,
);
