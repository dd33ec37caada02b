//! Tables in Rhai: the `table` type and its methods, the same operations (and
//! the same SQL expression language) components reach through WIT.
//!
//! ```rhai
//! fn summary(path) {
//!     read_table(path)
//!         .drop_nulls()
//!         .filter("revenue > 0")
//!         .group_by(["region"], #{ total: "sum(revenue)", orders: "count(orders)" })
//!         .sort(["total"], [true])
//! }
//! ```

use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map, Position};

use weavelet_data::table;
use weavelet_data::{JoinKind, Table, TableError};

type Res<T> = Result<T, Box<EvalAltResult>>;

fn err(e: TableError) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(e.message.into(), Position::NONE))
}

fn strings(array: &Array, what: &str) -> Res<Vec<String>> {
    array
        .iter()
        .map(|d| {
            d.clone()
                .into_string()
                .map_err(|t| err(TableError::new(format!("{what} must be strings, not {t}"))))
        })
        .collect()
}

fn pairs(map: &Map, what: &str) -> Res<Vec<(String, String)>> {
    map.iter()
        .map(|(k, v)| {
            let v = v
                .clone()
                .into_string()
                .map_err(|t| err(TableError::new(format!("{what} must map names to strings, not {t}"))))?;
            Ok((k.to_string(), v))
        })
        .collect()
}

fn count(n: i64, what: &str) -> Res<u64> {
    u64::try_from(n).map_err(|_| err(TableError::new(format!("{what} must not be negative (got {n})"))))
}

fn to_array<T: Into<Dynamic>>(items: Vec<T>) -> Res<Array> {
    if items.len() > super::engine::MAX_ARRAY {
        return Err(err(TableError::new(format!(
            "the column has {} values, more than a script array may hold ({}); aggregate or head() first",
            items.len(),
            super::engine::MAX_ARRAY
        ))));
    }
    Ok(items.into_iter().map(Into::into).collect())
}

pub(crate) fn register(engine: &mut Engine) {
    engine.register_type_with_name::<Table>("table");
    engine.register_fn("read_table", |path: &str| -> Res<Table> {
        let (grants, log) = super::engine::reader();
        table::io::read(&grants, &log, path).map_err(err)
    });
    engine.register_fn("sql", |query: &str, tables: Map| -> Res<Table> {
        let named = tables
            .into_iter()
            .map(|(name, t)| {
                let type_name = t.type_name();
                t.try_cast::<Table>().map(|t| (name.to_string(), t)).ok_or_else(|| {
                    err(TableError::new(format!("sql tables must be tables, `{name}` is a {type_name}")))
                })
            })
            .collect::<Res<Vec<_>>>()?;
        Table::sql(query, &named).map_err(err)
    });
    engine.register_fn("concat", |tables: Array| -> Res<Table> {
        let tables = tables
            .into_iter()
            .map(|t| {
                let type_name = t.type_name();
                t.try_cast::<Table>()
                    .ok_or_else(|| err(TableError::new(format!("concat takes tables, not a {type_name}"))))
            })
            .collect::<Res<Vec<_>>>()?;
        Table::concat(&tables).map_err(err)
    });

    engine.register_fn("schema", |t: &mut Table| -> Res<Map> {
        let schema = t.schema().map_err(err)?;
        Ok(schema.into_iter().map(|(n, d)| (n.into(), Dynamic::from(ImmutableString::from(d)))).collect())
    });
    engine.register_fn("columns", |t: &mut Table| -> Res<Array> {
        let schema = t.schema().map_err(err)?;
        Ok(schema.into_iter().map(|(n, _)| Dynamic::from(ImmutableString::from(n))).collect())
    });
    engine.register_fn("height", |t: &mut Table| -> Res<i64> { t.height().map(|h| h as i64).map_err(err) });
    engine.register_fn("select", |t: &mut Table, exprs: Array| -> Res<Table> {
        t.select(&strings(&exprs, "select's expressions")?).map_err(err)
    });
    engine.register_fn("rename", |t: &mut Table, names: Map| -> Res<Table> {
        t.rename(&pairs(&names, "rename")?).map_err(err)
    });
    engine.register_fn("drop", |t: &mut Table, columns: Array| -> Res<Table> {
        t.drop(&strings(&columns, "drop's columns")?).map_err(err)
    });
    engine.register_fn("filter", |t: &mut Table, predicate: &str| -> Res<Table> {
        t.filter(predicate).map_err(err)
    });
    engine.register_fn("with_column", |t: &mut Table, name: &str, expr: &str| -> Res<Table> {
        t.with_columns(&[(name.to_string(), expr.to_string())]).map_err(err)
    });
    engine.register_fn("with_columns", |t: &mut Table, columns: Map| -> Res<Table> {
        t.with_columns(&pairs(&columns, "with_columns")?).map_err(err)
    });
    engine.register_fn("group_by", |t: &mut Table, keys: Array, aggs: Map| -> Res<Table> {
        t.group_by(&strings(&keys, "group_by's keys")?, &pairs(&aggs, "group_by's aggregations")?)
            .map_err(err)
    });
    engine.register_fn("group_by", |t: &mut Table, key: &str, aggs: Map| -> Res<Table> {
        t.group_by(&[key.to_string()], &pairs(&aggs, "group_by's aggregations")?).map_err(err)
    });
    engine.register_fn("sort", |t: &mut Table, column: &str| -> Res<Table> {
        t.sort(&[column.to_string()], &[]).map_err(err)
    });
    engine.register_fn("sort_desc", |t: &mut Table, column: &str| -> Res<Table> {
        t.sort(&[column.to_string()], &[true]).map_err(err)
    });
    engine.register_fn("sort", |t: &mut Table, by: Array, descending: Array| -> Res<Table> {
        let desc = descending.iter().map(|d| d.as_bool().unwrap_or(false)).collect::<Vec<_>>();
        t.sort(&strings(&by, "sort's columns")?, &desc).map_err(err)
    });
    engine.register_fn("head", |t: &mut Table, n: i64| -> Res<Table> {
        t.head(count(n, "head's n")?).map_err(err)
    });
    engine.register_fn("tail", |t: &mut Table, n: i64| -> Res<Table> {
        t.tail(count(n, "tail's n")?).map_err(err)
    });
    engine.register_fn("slice", |t: &mut Table, offset: i64, len: i64| -> Res<Table> {
        t.slice(offset, count(len, "slice's length")?).map_err(err)
    });
    engine.register_fn("join", |t: &mut Table, other: Table, key: &str| -> Res<Table> {
        t.join(&other, &[key.to_string()], &[key.to_string()], JoinKind::Inner).map_err(err)
    });
    engine.register_fn("join", |t: &mut Table, other: Table, key: &str, how: &str| -> Res<Table> {
        let how = JoinKind::parse(how).map_err(err)?;
        t.join(&other, &[key.to_string()], &[key.to_string()], how).map_err(err)
    });
    engine.register_fn(
        "join",
        |t: &mut Table, other: Table, left_on: Array, right_on: Array, how: &str| -> Res<Table> {
            let how = JoinKind::parse(how).map_err(err)?;
            t.join(&other, &strings(&left_on, "join keys")?, &strings(&right_on, "join keys")?, how)
                .map_err(err)
        },
    );
    engine.register_fn("drop_nulls", |t: &mut Table| -> Res<Table> { t.drop_nulls(&[]).map_err(err) });
    engine.register_fn("drop_nulls", |t: &mut Table, subset: Array| -> Res<Table> {
        t.drop_nulls(&strings(&subset, "drop_nulls's columns")?).map_err(err)
    });
    engine.register_fn(
        "rolling_mean",
        |t: &mut Table, column: &str, window: i64, name: &str| -> Res<Table> {
            t.rolling_mean(column, count(window, "the window")?, name).map_err(err)
        },
    );
    engine.register_fn("column", |t: &mut Table, name: &str| -> Res<Array> {
        let dtype = t
            .schema()
            .map_err(err)?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d)
            .ok_or_else(|| err(TableError::new(format!("no column `{name}`"))))?;
        if table::dtype_matches(&dtype, "int") {
            to_array(t.column_i64(name).map_err(err)?)
        } else if table::dtype_matches(&dtype, "float") {
            to_array(t.column_f64(name).map_err(err)?)
        } else if dtype == "bool" {
            to_array(t.column_bool(name).map_err(err)?)
        } else {
            let texts = t.column_text(name).map_err(err)?;
            to_array(texts.into_iter().map(ImmutableString::from).collect())
        }
    });
    engine.register_fn("explain", |t: &mut Table| -> Res<String> { t.explain().map_err(err) });
    engine.register_fn("to_string", |t: &mut Table| -> String {
        t.preview(10).unwrap_or_else(|e| format!("<table that cannot be computed: {e}>"))
    });
    engine.register_fn("to_debug", |t: &mut Table| -> String {
        t.preview(10).unwrap_or_else(|e| format!("<table that cannot be computed: {e}>"))
    });
}
