//! `Table`: a host-owned, immutable, lazy polars table.
//!
//! A table is a polars `LazyFrame` behind an `Arc`. Cloning one (passing it
//! from node to node) copies a pointer, never data, and no node can change a
//! table another node holds: every operation returns a new table whose plan
//! extends the old one. Plans are collected only where a value must be
//! materialised (an output written or printed, a column or IPC bytes handed to
//! a guest, a row count), so polars optimises across node boundaries: a scan
//! followed, three nodes later, by a group-by reads only the columns the
//! group-by uses. A collected result is kept, so a table is computed at most
//! once however many times it is read.

pub mod expr;
pub mod io;

use std::fmt;
use std::sync::{Arc, OnceLock};

use polars::prelude::*;

/// Why a table operation failed (shown to the node author as is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableError {
    /// What went wrong, and where it can be said.
    pub message: String,
}

impl TableError {
    /// A table error with this message.
    pub fn new(message: impl Into<String>) -> TableError {
        TableError { message: message.into() }
    }
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TableError {}

impl From<PolarsError> for TableError {
    fn from(e: PolarsError) -> TableError {
        TableError::new(e.to_string())
    }
}

/// Run polars work on data a guest chose; a panic inside polars becomes an error.
pub(crate) fn guarded<T>(f: impl FnOnce() -> PolarsResult<T>) -> Result<T, TableError> {
    crate::caught("polars", f).map_err(TableError::new)?.map_err(TableError::from)
}

/// How many rows joining `left` and `right` (`None`: `left` itself, on the
/// same keys) on these keys makes: per key,
/// left rows × right rows, plus the unmatched rows a left (left side) or outer
/// (both sides) join keeps. Computed from the key counts of each side, which
/// are as large as its distinct keys; each side's plan runs once.
fn join_rows(
    left: LazyFrame,
    right: Option<LazyFrame>,
    left_on: &[String],
    right_on: &[String],
    how: JoinKind,
) -> Result<u64, TableError> {
    const L: &str = "__weavelet_left_rows";
    const R: &str = "__weavelet_right_rows";
    let counts = |plan: LazyFrame, keys: &[String], name: &str| {
        let keys: Vec<Expr> = keys.iter().map(|k| col(k.as_str())).collect();
        run(plan.group_by(keys).agg([len().cast(DataType::Float64).alias(name)]))
    };
    let lc = counts(left, left_on, L)?;
    // A table joined with itself on the same keys: its counts are counted once.
    let rc = match right {
        None => guarded(|| {
            let mut rc = lc.clone();
            rc.rename(L, R.into())?;
            Ok(rc)
        })?,
        Some(right) => counts(right, right_on, R)?,
    };
    let sum = |df: &DataFrame, name: &str| -> Result<f64, TableError> {
        guarded(|| df.column(name)?.as_materialized_series().sum::<f64>())
    };
    let (left_rows, right_rows) = (sum(&lc, L)?, sum(&rc, R)?);
    // Key columns are renamed on the right so that equal names cannot collide.
    let renamed: Vec<String> = (0..right_on.len()).map(|i| format!("__weavelet_key_{i}")).collect();
    let rc = guarded(|| {
        let mut rc = rc.clone();
        for (from, to) in right_on.iter().zip(&renamed) {
            rc.rename(from, to.as_str().into())?;
        }
        Ok(rc)
    })?;
    let left_keys: Vec<Expr> = left_on.iter().map(|k| col(k.as_str())).collect();
    let right_keys: Vec<Expr> = renamed.iter().map(|k| col(k.as_str())).collect();
    let matched = run(lc
        .lazy()
        .join(rc.lazy(), left_keys, right_keys, JoinArgs::new(JoinType::Inner))
        .select([(col(L) * col(R)).sum().alias("rows"), col(L).sum(), col(R).sum()]))?;
    let (pairs, left_matched, right_matched) = (sum(&matched, "rows")?, sum(&matched, L)?, sum(&matched, R)?);
    let rows = match how {
        JoinKind::Inner => pairs,
        JoinKind::Left => pairs + (left_rows - left_matched),
        JoinKind::Outer => pairs + (left_rows - left_matched) + (right_rows - right_matched),
    };
    Ok(if rows.is_finite() && rows < u64::MAX as f64 { rows.max(0.0) as u64 } else { u64::MAX })
}

/// Run a plan on polars' streaming engine (batches: a 10 M-row scan never sits in
/// memory whole), falling back to the in-memory engine for what streaming cannot do.
fn run(plan: LazyFrame) -> Result<DataFrame, TableError> {
    // One plan collects to one frame (`unwrap_single` cannot fail here; `guarded` catches it if it did).
    guarded(|| plan.clone().collect_with_engine(Engine::Streaming).map(|r| r.unwrap_single()))
        .or_else(|_| guarded(|| plan.collect_with_engine(Engine::InMemory).map(|r| r.unwrap_single())))
}

/// Start polars' thread pool and engines with a tiny query, so a process
/// that confines itself afterwards (a worker) has them already: polars sizes
/// its pool from `/proc` and `/sys`.
pub fn warm_up() {
    let df = DataFrame::new_infer_height(vec![Column::new("x".into(), [1i64, 2, 2])]);
    if let Ok(df) = df {
        let _ = run(df.lazy().group_by([col("x")]).agg([col("x").count().alias("n")]));
    }
}

struct Inner {
    plan: LazyFrame,
    collected: OnceLock<DataFrame>,
    /// The plan's schema, once resolved.
    schema: OnceLock<SchemaRef>,
    shape: Shape,
    /// The Arrow IPC file the table is exactly, when it was opened from one
    /// that passes tables between processes, and what keeps that file alive.
    exchange: Option<Exchange>,
    /// The file (its real path) this table is exactly a lazy scan of, when it
    /// was read with [`io::read`] and nothing was done to it since.
    scanned: Option<std::path::PathBuf>,
}

/// A table's IPC file, and the owner that removes it when the last table over it is gone.
#[derive(Clone)]
pub(crate) struct Exchange {
    pub(crate) path: std::path::PathBuf,
    pub(crate) _keep: Option<Arc<dyn std::any::Any + Send + Sync>>,
}

/// Operations a table's plan chains at most before its input is computed
/// (the plan is cut there): polars converts, optimises and drops plans
/// recursively, so depth must stay well inside a thread's stack.
pub const MAX_PLAN_DEPTH: u32 = 1_000;

/// Steps a table's plan may hold when every use of a shared table is counted
/// again (as polars expands it): k self-joins or self-concats of one table
/// describe 2^k scans, and are refused past this. Planning cost grows faster
/// than the step count (a 4 000-step plan takes polars about 0.8 s to
/// optimise here, a 16 000-step one 9 s), so the cap keeps it near a second.
pub const MAX_PLAN_NODES: u64 = 5_000;

/// The most values (rows × columns) a join may make. A key repeated on
/// both sides multiplies its rows, so a few joins of small tables can ask for
/// trillions of rows; the result's size is computed from the key counts
/// before the join is made.
pub const MAX_JOIN_VALUES: u64 = 300_000_000;

/// Plan steps (as expanded) past which a join's input is computed and kept
/// before the join counts its keys.
const JOIN_COMPUTES_PAST: u64 = 64;

/// How deep a table's plan is and how many steps it expands to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    depth: u32,
    nodes: u64,
}

impl Shape {
    const LEAF: Shape = Shape { depth: 1, nodes: 1 };

    /// One operation over `inputs`, each used `uses` times.
    fn over(inputs: &[Shape], uses: u64) -> Result<Shape, TableError> {
        let depth = inputs.iter().map(|s| s.depth).max().unwrap_or(0) + 1;
        let nodes = inputs
            .iter()
            .map(|s| s.nodes)
            .fold(0u64, u64::saturating_add)
            .saturating_mul(uses.max(1))
            .saturating_add(1);
        if nodes > MAX_PLAN_NODES {
            return Err(TableError::new(format!(
                "this would make a table plan of more than {MAX_PLAN_NODES} steps (every use of a table counts \
                 its whole plan again, so combining a table with itself doubles it); combine fewer times"
            )));
        }
        Ok(Shape { depth, nodes })
    }
}

/// An immutable table: cheap to clone, computed lazily, at most once.
#[derive(Clone)]
pub struct Table {
    inner: Arc<Inner>,
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table").field("collected", &self.inner.collected.get().is_some()).finish()
    }
}

impl PartialEq for Table {
    /// Two values are equal when they are the same table (handle identity).
    fn eq(&self, other: &Table) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

/// How a group's values are combined, for [`Table::group_by`].
pub type Aggregation = (String, String);

/// The join kinds [`Table::join`] offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    /// Rows whose keys appear on both sides.
    Inner,
    /// Every left row, with right columns where the keys match.
    Left,
    /// Every row of either side (keys coalesced).
    Outer,
}

impl JoinKind {
    /// `inner`, `left`, or `outer` (also `full`).
    pub fn parse(text: &str) -> Result<JoinKind, TableError> {
        match text.to_ascii_lowercase().as_str() {
            "inner" => Ok(JoinKind::Inner),
            "left" => Ok(JoinKind::Left),
            "outer" | "full" => Ok(JoinKind::Outer),
            other => Err(TableError::new(format!("unknown join kind `{other}` (use inner, left or outer)"))),
        }
    }
}

impl Table {
    /// A table over data already in memory.
    pub fn from_frame(df: DataFrame) -> Table {
        let plan = df.clone().lazy();
        let collected = OnceLock::new();
        let _ = collected.set(df);
        Table {
            inner: Arc::new(Inner {
                plan,
                collected,
                schema: OnceLock::new(),
                shape: Shape::LEAF,
                exchange: None,
                scanned: None,
            }),
        }
    }

    /// A table over a lazy plan that reads its data (a scan): collected when
    /// first needed.
    pub(crate) fn from_lazy(plan: LazyFrame) -> Table {
        Table::over(plan, Shape::LEAF, None)
    }

    fn over(plan: LazyFrame, shape: Shape, schema: Option<SchemaRef>) -> Table {
        let known = OnceLock::new();
        if let Some(schema) = schema {
            let _ = known.set(schema);
        }
        Table {
            inner: Arc::new(Inner {
                plan,
                collected: OnceLock::new(),
                schema: known,
                shape,
                exchange: None,
                scanned: None,
            }),
        }
    }

    /// The plan to build on: the collected data if there is any, else the plan.
    pub fn lazy(&self) -> LazyFrame {
        match self.inner.collected.get() {
            Some(df) => df.clone().lazy(),
            None => self.inner.plan.clone(),
        }
    }

    /// The plan to build one more operation on, and its shape: at
    /// [`MAX_PLAN_DEPTH`] the table is computed first and the new plan starts
    /// from its data.
    fn base(&self) -> Result<(LazyFrame, Shape), TableError> {
        if self.is_collected() {
            return Ok((self.lazy(), Shape::LEAF));
        }
        if self.inner.shape.depth >= MAX_PLAN_DEPTH {
            return Ok((self.collect()?.lazy(), Shape::LEAF));
        }
        Ok((self.inner.plan.clone(), self.inner.shape))
    }

    /// The table's schema, resolved once.
    fn resolved_schema(&self) -> Result<SchemaRef, TableError> {
        if let Some(schema) = self.inner.schema.get() {
            return Ok(schema.clone());
        }
        let schema = guarded(|| self.lazy().collect_schema())?;
        Ok(self.inner.schema.get_or_init(|| schema).clone())
    }

    /// An empty frame of this table's schema, to check an operation on.
    fn probe(&self) -> PolarsResult<LazyFrame> {
        let schema = self.resolved_schema().map_err(|e| PolarsError::ComputeError(e.message.into()))?;
        Ok(DataFrame::empty_with_schema(&schema).lazy())
    }

    /// A new table over `f` of this one's plan, checked: `f` is first applied
    /// to an empty frame of this table's schema, so a mistake (an unknown
    /// column, a wrong type) is found at once, at a cost that does not grow
    /// with the depth of the plan.
    fn derive_checked(&self, f: impl Fn(LazyFrame) -> LazyFrame) -> Result<Table, TableError> {
        let schema = guarded(|| f(self.probe()?).collect_schema())?;
        let (plan, shape) = self.base()?;
        Ok(Table::over(f(plan), Shape::over(&[shape], 1)?, Some(schema)))
    }

    /// A table over the Arrow IPC file `path`, memory-mapped and read lazily;
    /// `keep` lives as long as any table over it (it may remove the file).
    pub(crate) fn over_exchange(plan: LazyFrame, exchange: Exchange) -> Table {
        Table::leaf(plan, Some(exchange), None)
    }

    /// A table that is a lazy scan of the file `real` (see [`Table::scanned_file`]).
    pub(crate) fn over_scan(plan: LazyFrame, real: std::path::PathBuf) -> Table {
        Table::leaf(plan, None, Some(real))
    }

    fn leaf(plan: LazyFrame, exchange: Option<Exchange>, scanned: Option<std::path::PathBuf>) -> Table {
        Table {
            inner: Arc::new(Inner {
                plan,
                collected: OnceLock::new(),
                schema: OnceLock::new(),
                shape: Shape::LEAF,
                exchange,
                scanned,
            }),
        }
    }

    /// The file (its real path) this table is exactly a lazy scan of, if it
    /// was read with [`io::read`] from a format read lazily and nothing was
    /// done to it since. Worker processes hand such a table on as its path,
    /// for a node that may read the file to scan again.
    pub fn scanned_file(&self) -> Option<&std::path::Path> {
        self.inner.scanned.as_deref()
    }

    /// The Arrow IPC file this table is exactly, if it was opened with
    /// [`io::open_exchange`] and nothing was done to it since.
    pub fn exchange_file(&self) -> Option<&std::path::Path> {
        self.inner.exchange.as_ref().map(|e| e.path.as_path())
    }

    /// Whether both values are the same table.
    pub fn same(a: &Table, b: &Table) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }

    /// Whether the table has been computed.
    pub fn is_collected(&self) -> bool {
        self.inner.collected.get().is_some()
    }

    /// Compute the table (once; later calls return the kept result).
    pub fn collect(&self) -> Result<DataFrame, TableError> {
        let _op = crate::activity::enter("table.collect");
        if let Some(df) = self.inner.collected.get() {
            return Ok(df.clone());
        }
        let df = run(self.inner.plan.clone())?;
        Ok(self.inner.collected.get_or_init(|| df).clone())
    }

    /// The table's data if it has at most `rows` rows, else `None` — found
    /// without computing more than `rows + 1` of them (a scan stops early).
    /// Data found complete is kept, as [`Table::collect`] keeps it.
    pub fn collect_at_most(&self, rows: u64) -> Result<Option<DataFrame>, TableError> {
        let _op = crate::activity::enter("table.collect");
        if let Some(df) = self.inner.collected.get() {
            return Ok((df.height() as u64 <= rows).then(|| df.clone()));
        }
        let df = run(self.inner.plan.clone().limit(idx(rows.saturating_add(1))))?;
        if df.height() as u64 > rows {
            return Ok(None);
        }
        Ok(Some(self.inner.collected.get_or_init(|| df).clone()))
    }

    /// The optimised plan polars would run, as text (what a scan reads, what is pushed down).
    pub fn explain(&self) -> Result<String, TableError> {
        guarded(|| self.lazy().explain(true))
    }

    /// Column names and dtypes, without computing the table where the plan knows them.
    pub fn schema(&self) -> Result<Vec<(String, String)>, TableError> {
        let _op = crate::activity::enter("table.schema");
        let schema = guarded(|| self.lazy().collect_schema())?;
        Ok(schema.iter().map(|(name, dtype)| (name.to_string(), dtype_name(dtype))).collect())
    }

    /// The number of rows (a count pushed into the scan where polars can).
    pub fn height(&self) -> Result<u64, TableError> {
        let _op = crate::activity::enter("table.height");
        if let Some(df) = self.inner.collected.get() {
            return Ok(df.height() as u64);
        }
        let counted = guarded(|| {
            let df = self.inner.plan.clone().select([len().alias("n")]).collect()?;
            df.column("n").and_then(|c| c.get(0).map(|v| v.extract::<u64>()))
        });
        match counted {
            Ok(Some(n)) => Ok(n),
            // Some plans (a concat of scans) cannot be counted without computing them.
            _ => Ok(self.collect()?.height() as u64),
        }
    }

    /// Keep (or compute) the listed expressions, in order.
    pub fn select(&self, exprs: &[String]) -> Result<Table, TableError> {
        let _op = crate::activity::enter("table.select");
        let exprs = exprs.iter().map(|e| expr::parse(e)).collect::<Result<Vec<_>, _>>()?;
        self.derive_checked(|lf| lf.select(exprs.clone()))
    }

    /// Rename columns: `(old, new)` pairs.
    pub fn rename(&self, pairs: &[(String, String)]) -> Result<Table, TableError> {
        let _op = crate::activity::enter("table.rename");
        let (old, new): (Vec<&str>, Vec<&str>) = pairs.iter().map(|(o, n)| (o.as_str(), n.as_str())).unzip();
        self.derive_checked(|lf| lf.rename(old.clone(), new.clone(), true))
    }

    /// Remove columns.
    pub fn drop(&self, columns: &[String]) -> Result<Table, TableError> {
        let _op = crate::activity::enter("table.drop");
        let names: Vec<PlSmallStr> = columns.iter().map(|c| c.as_str().into()).collect();
        self.derive_checked(|lf| lf.drop(by_name(names.clone(), true, false)))
    }

    /// Keep the rows where `predicate` holds.
    pub fn filter(&self, predicate: &str) -> Result<Table, TableError> {
        let _op = crate::activity::enter("table.filter");
        let predicate = expr::parse(predicate)?;
        self.derive_checked(|lf| lf.filter(predicate.clone()))
    }

    /// Add or replace columns: `(name, expression)` pairs.
    pub fn with_columns(&self, columns: &[(String, String)]) -> Result<Table, TableError> {
        let _op = crate::activity::enter("table.with_columns");
        let exprs = columns
            .iter()
            .map(|(name, e)| expr::parse(e).map(|e| e.alias(name.as_str())))
            .collect::<Result<Vec<_>, _>>()?;
        self.derive_checked(|lf| lf.with_columns(exprs.clone()))
    }

    /// Group by `keys` and aggregate: `(output name, aggregation)` pairs such as
    /// `("total", "sum(revenue)")`. Groups keep the order of first appearance.
    pub fn group_by(&self, keys: &[String], aggs: &[Aggregation]) -> Result<Table, TableError> {
        let _op = crate::activity::enter("table.group_by");
        if keys.is_empty() {
            return Err(TableError::new("group_by needs at least one key column"));
        }
        let keys: Vec<Expr> = keys.iter().map(|k| col(k.as_str())).collect();
        let aggs = aggs
            .iter()
            .map(|(name, a)| expr::parse_agg(a).map(|e| e.alias(name.as_str())))
            .collect::<Result<Vec<_>, _>>()?;
        self.derive_checked(|lf| lf.group_by_stable(keys.clone()).agg(aggs.clone()))
    }

    /// Sort by columns; `descending` gives each column's direction (missing: ascending).
    pub fn sort(&self, by: &[String], descending: &[bool]) -> Result<Table, TableError> {
        let _op = crate::activity::enter("table.sort");
        if by.is_empty() {
            return Err(TableError::new("sort needs at least one column"));
        }
        let desc: Vec<bool> = (0..by.len()).map(|i| descending.get(i).copied().unwrap_or(false)).collect();
        let by: Vec<PlSmallStr> = by.iter().map(|c| c.as_str().into()).collect();
        let options =
            SortMultipleOptions::default().with_order_descending_multi(desc).with_maintain_order(true);
        self.derive_checked(|lf| lf.sort(by.clone(), options.clone()))
    }

    /// The first `n` rows.
    pub fn head(&self, n: u64) -> Result<Table, TableError> {
        let _op = crate::activity::enter("table.head");
        self.derive_checked(|lf| lf.limit(idx(n)))
    }

    /// The last `n` rows.
    pub fn tail(&self, n: u64) -> Result<Table, TableError> {
        let _op = crate::activity::enter("table.tail");
        self.derive_checked(|lf| lf.tail(idx(n)))
    }

    /// `len` rows from `offset` (negative: from the end).
    pub fn slice(&self, offset: i64, len: u64) -> Result<Table, TableError> {
        let _op = crate::activity::enter("table.slice");
        self.derive_checked(|lf| lf.slice(offset, idx(len)))
    }

    /// Join with `other` on key columns.
    pub fn join(
        &self,
        other: &Table,
        left_on: &[String],
        right_on: &[String],
        how: JoinKind,
    ) -> Result<Table, TableError> {
        let _op = crate::activity::enter("table.join");
        if left_on.is_empty() || left_on.len() != right_on.len() {
            return Err(TableError::new(format!(
                "join needs as many right keys as left keys, at least one (got {} and {})",
                left_on.len(),
                right_on.len()
            )));
        }
        let left: Vec<Expr> = left_on.iter().map(|k| col(k.as_str())).collect();
        let right: Vec<Expr> = right_on.iter().map(|k| col(k.as_str())).collect();
        let args = match how {
            JoinKind::Inner => JoinArgs::new(JoinType::Inner),
            JoinKind::Left => JoinArgs::new(JoinType::Left),
            JoinKind::Outer => JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
        };
        let join = |l: LazyFrame, r: LazyFrame| l.join(r, left.clone(), right.clone(), args.clone());
        let schema = guarded(|| join(self.probe()?, other.probe()?).collect_schema())?;
        // Counting runs each side's plan. A side whose plan expands to many steps
        // (joins of joins) is computed once and kept, and the join builds on its
        // data: counting at every join of a chain must not run the chain again.
        for side in [self, other] {
            if side.inner.shape.nodes > JOIN_COMPUTES_PAST && !side.is_collected() {
                side.collect()?;
            }
        }
        let ((left_plan, left_shape), (right_plan, right_shape)) = (self.base()?, other.base()?);
        let itself = Table::same(self, other) && left_on == right_on;
        let rows =
            join_rows(left_plan.clone(), (!itself).then(|| right_plan.clone()), left_on, right_on, how)?;
        let values = rows.saturating_mul(schema.len().max(1) as u64);
        if values > MAX_JOIN_VALUES {
            return Err(TableError::new(format!(
                "this join would make {rows} rows of {} columns ({values} values), more than the \
                 {MAX_JOIN_VALUES} one join may make: a key repeated on both sides multiplies its rows; join on \
                 more keys, or remove repeated keys first",
                schema.len()
            )));
        }
        let shape = Shape::over(&[left_shape, right_shape], 1)?;
        Ok(Table::over(join(left_plan, right_plan), shape, Some(schema)))
    }

    /// Remove rows with a null in any of `subset` (empty: in any column).
    pub fn drop_nulls(&self, subset: &[String]) -> Result<Table, TableError> {
        let _op = crate::activity::enter("table.drop_nulls");
        let selector = (!subset.is_empty())
            .then(|| by_name(subset.iter().map(|c| PlSmallStr::from(c.as_str())), true, false));
        self.derive_checked(|lf| lf.drop_nulls(selector.clone()))
    }

    /// Add column `name`: the mean of `column` over a sliding window of `window` rows
    /// (null until the window is full).
    pub fn rolling_mean(&self, column: &str, window: u64, name: &str) -> Result<Table, TableError> {
        let _op = crate::activity::enter("table.rolling_mean");
        if window == 0 || window > 1_000_000 {
            return Err(TableError::new(format!("a rolling window of {window} rows (use 1 to 1000000)")));
        }
        let window = window as usize;
        let options =
            RollingOptionsFixedWindow { window_size: window, min_periods: window, ..Default::default() };
        let e = col(column).cast(DataType::Float64).rolling_mean(options).alias(name);
        self.derive_checked(|lf| lf.with_columns([e.clone()]))
    }

    /// Stack tables with the same columns.
    pub fn concat(tables: &[Table]) -> Result<Table, TableError> {
        let _op = crate::activity::enter("table.concat");
        if tables.is_empty() {
            return Err(TableError::new("concat needs at least one table"));
        }
        let bases = tables.iter().map(Table::base).collect::<Result<Vec<_>, _>>()?;
        let shapes: Vec<Shape> = bases.iter().map(|(_, s)| *s).collect();
        let shape = Shape::over(&shapes, 1)?;
        // Checked on empty frames of the inputs' schemas: never by expanding the inputs' plans.
        let probes = tables.iter().map(Table::probe).collect::<Result<Vec<_>, _>>()?;
        let schema = guarded(|| concat(probes, UnionArgs::default())?.collect_schema())?;
        let plans: Vec<LazyFrame> = bases.into_iter().map(|(plan, _)| plan).collect();
        let lf = guarded(|| concat(plans, UnionArgs::default()))?;
        Ok(Table::over(lf, shape, Some(schema)))
    }

    /// Run one SQL `SELECT` over named tables (polars SQL).
    pub fn sql(query: &str, tables: &[(String, Table)]) -> Result<Table, TableError> {
        let _op = crate::activity::enter("table.sql");
        // Every table the query names may be expanded at each place it is named.
        let uses = expr::check_query(query)?;
        let (mut context, mut probes) = (polars::sql::SQLContext::new(), polars::sql::SQLContext::new());
        let mut shapes = Vec::new();
        for (name, table) in tables {
            let (plan, shape) = table.base()?;
            shapes.push(shape);
            context.register(name, plan);
            probes.register(name, table.probe()?);
        }
        let shape = Shape::over(&shapes, uses as u64)?;
        // Checked on empty frames of the tables' schemas, as `derive_checked` does.
        let schema = guarded(|| probes.execute(query)?.collect_schema())?;
        let lf = guarded(|| context.execute(query))?;
        Ok(Table::over(lf, shape, Some(schema)))
    }

    /// Resolve the table's schema now, so a mistake (an unknown column, a type
    /// error) is reported by the operation that made it.
    pub(crate) fn validated(self) -> Result<Table, TableError> {
        self.resolved_schema()?;
        Ok(self)
    }

    /// One column as floats (integers are converted). Nulls are an error.
    pub fn column_f64(&self, name: &str) -> Result<Vec<f64>, TableError> {
        let _op = crate::activity::enter("table.column_f64");
        let s = self.column(name, DataType::Float64)?;
        let ca = s.f64().map_err(TableError::from)?;
        no_nulls(name, ca.null_count())?;
        Ok(ca.into_no_null_iter().collect())
    }

    /// One column as floats, nulls kept as `None` (charts leave gaps for them).
    pub fn column_f64_nullable(&self, name: &str) -> Result<Vec<Option<f64>>, TableError> {
        let _op = crate::activity::enter("table.column_f64_nullable");
        let s = self.column(name, DataType::Float64)?;
        let ca = s.f64().map_err(TableError::from)?;
        Ok(ca.iter().collect())
    }

    /// One column as 64-bit integers. Nulls are an error.
    pub fn column_i64(&self, name: &str) -> Result<Vec<i64>, TableError> {
        let _op = crate::activity::enter("table.column_i64");
        let s = self.column(name, DataType::Int64)?;
        let ca = s.i64().map_err(TableError::from)?;
        no_nulls(name, ca.null_count())?;
        Ok(ca.into_no_null_iter().collect())
    }

    /// One column as text (numbers are formatted). Nulls are an error.
    pub fn column_text(&self, name: &str) -> Result<Vec<String>, TableError> {
        let _op = crate::activity::enter("table.column_text");
        let s = self.column(name, DataType::String)?;
        let ca = s.str().map_err(TableError::from)?;
        no_nulls(name, ca.null_count())?;
        Ok(ca.iter().map(|v| v.unwrap_or_default().to_string()).collect())
    }

    /// One column as booleans. Nulls are an error.
    pub fn column_bool(&self, name: &str) -> Result<Vec<bool>, TableError> {
        let _op = crate::activity::enter("table.column_bool");
        let s = self.column(name, DataType::Boolean)?;
        let ca = s.bool().map_err(TableError::from)?;
        no_nulls(name, ca.null_count())?;
        Ok(ca.iter().map(|v| v.unwrap_or_default()).collect())
    }

    fn column(&self, name: &str, dtype: DataType) -> Result<Series, TableError> {
        let df = match self.inner.collected.get() {
            Some(df) => df.select([name]).map_err(TableError::from)?,
            // Read only this column: the rest of the plan's columns are not computed.
            None => guarded(|| self.inner.plan.clone().select([col(name)]).collect())?,
        };
        let column = df.column(name).map_err(TableError::from)?;
        let series = column.as_materialized_series();
        let refused = || {
            TableError::new(format!(
                "column `{name}` is {}, which cannot be read as {}",
                dtype_name(series.dtype()),
                dtype_name(&dtype)
            ))
        };
        // A cast that turns values into nulls loses them: refuse it.
        let cast = series.cast(&dtype).map_err(|_| refused())?;
        if cast.null_count() > series.null_count() {
            return Err(refused());
        }
        Ok(cast)
    }

    /// The first `rows` rows as text, with the table's shape (for people).
    pub fn preview(&self, rows: u64) -> Result<String, TableError> {
        let _op = crate::activity::enter("table.preview");
        let height = self.height()?;
        let head = match self.inner.collected.get() {
            Some(df) => df.head(Some(rows as usize)),
            None => guarded(|| self.inner.plan.clone().limit(idx(rows)).collect())?,
        };
        let shown = head.height() as u64;
        // polars' formatting panics on some values (a datetime outside the calendar);
        // a preview is never worth a crash.
        let mut text = crate::caught("showing a table", || {
            format!("table of {height} rows × {} columns\n{head}", head.width())
        })
        .map_err(TableError::new)?;
        if shown < height {
            text.push_str(&format!("\n… {} more rows", height - shown));
        }
        Ok(text)
    }

    /// Check that the table has each `(column, dtype)` in `required`; the error
    /// lists every missing or mistyped column.
    pub fn check_columns(&self, required: &[(String, String)]) -> Result<(), String> {
        let schema = self.schema().map_err(|e| e.message)?;
        let problems = missing_columns(&schema, required);
        if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
    }
}

/// The problems of `schema` against `required` (empty: it satisfies them).
pub fn missing_columns(schema: &[(String, String)], required: &[(String, String)]) -> Vec<String> {
    columns_against(schema, required, dtype_matches)
}

/// [`missing_columns`] for a node's promised columns, whose types are families
/// (`text`, `int`, `float`, `number`) or exact dtypes: only a promise that
/// cannot satisfy the requirement is reported (a `number` may be a `float`).
pub fn missing_promised_columns(promised: &[(String, String)], required: &[(String, String)]) -> Vec<String> {
    columns_against(promised, required, promise_matches)
}

/// Whether a promised column type can satisfy a required one.
pub fn promise_matches(promised: &str, want: &str) -> bool {
    let exact_int = |t: &str| {
        t.len() > 1
            && (t.starts_with('i') || t.starts_with('u'))
            && t[1..].chars().all(|c| c.is_ascii_digit())
    };
    let exact_float =
        |t: &str| t.len() > 1 && t.starts_with('f') && t[1..].chars().all(|c| c.is_ascii_digit());
    match promised {
        "any" | "" | "number" | "numeric" => true,
        "int" | "integer" => dtype_matches("i64", want) || exact_int(want),
        "float" => dtype_matches("f64", want) || exact_float(want),
        "text" | "string" => dtype_matches("str", want),
        "boolean" => dtype_matches("bool", want),
        exact => dtype_matches(exact, want),
    }
}

fn columns_against(
    schema: &[(String, String)],
    required: &[(String, String)],
    dtype_matches: fn(&str, &str) -> bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, want) in required {
        match schema.iter().find(|(n, _)| n == name) {
            None => {
                let names = schema.iter().map(|(n, _)| n.as_str());
                let hint = crate::suggest(name, names).map(|s| format!(" (did you mean `{s}`?)"));
                problems.push(format!("no column `{name}`{}", hint.unwrap_or_default()));
            }
            Some((_, have)) if !dtype_matches(have, want) => {
                problems.push(format!("column `{name}` is {have}, not {want}"));
            }
            Some(_) => {}
        }
    }
    problems
}

/// Whether a dtype (as [`dtype_name`] spells it) satisfies a required type:
/// an exact name, or a family (`int`, `float`, `number`, `text`, `any`).
pub fn dtype_matches(have: &str, want: &str) -> bool {
    let int = have.starts_with('i') || have.starts_with('u');
    let float = have.starts_with('f');
    match want {
        "any" | "" => true,
        "int" | "integer" => int,
        "float" => float,
        "number" | "numeric" => int || float,
        "text" | "string" | "str" => have == "str",
        "bool" | "boolean" => have == "bool",
        other => have == other,
    }
}

/// The known type names of required columns, for messages.
pub const COLUMN_TYPES: &str =
    "int, float, number, text, bool, date, datetime, any, or an exact dtype such as i64 or f64";

/// Whether `want` is a type name a column requirement may use.
pub fn is_column_type(want: &str) -> bool {
    matches!(
        want,
        "any"
            | "int"
            | "integer"
            | "float"
            | "number"
            | "numeric"
            | "text"
            | "string"
            | "str"
            | "bool"
            | "boolean"
            | "date"
            | "datetime"
            | "i8"
            | "i16"
            | "i32"
            | "i64"
            | "u8"
            | "u16"
            | "u32"
            | "u64"
            | "f32"
            | "f64"
    )
}

/// Parse `"region: text, revenue: float"` into `(column, type)` pairs (a
/// missing type is `any`), checking the type names.
pub fn parse_columns(spec: &str) -> Result<Vec<(String, String)>, String> {
    spec.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|part| {
            let (name, ty) = match part.split_once(':') {
                Some((n, t)) => (n.trim(), t.trim()),
                None => (part, "any"),
            };
            if name.is_empty() || !is_column_type(ty) {
                return Err(format!("`{part}`: expected `column: type` with a type among {COLUMN_TYPES}"));
            }
            Ok((name.to_string(), ty.to_string()))
        })
        .collect()
}

/// A short dtype name: `i64`, `f64`, `str`, `bool`, `date`, `datetime`, ...
pub fn dtype_name(dtype: &DataType) -> String {
    match dtype {
        DataType::Datetime(_, _) => "datetime".into(),
        DataType::Duration(_) => "duration".into(),
        DataType::List(inner) => format!("list[{}]", dtype_name(inner)),
        other => other.to_string(),
    }
}

fn no_nulls(name: &str, nulls: usize) -> Result<(), TableError> {
    if nulls > 0 {
        return Err(TableError::new(format!(
            "column `{name}` has {nulls} null value(s); drop or fill them first (drop_nulls)"
        )));
    }
    Ok(())
}

fn idx(n: u64) -> IdxSize {
    IdxSize::try_from(n).unwrap_or(IdxSize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn a_join_s_size_is_known_exactly_before_it_is_made() {
        // Repeated keys on both sides, keys on one side only, and nulls (which never match).
        let left = Table::from_frame(
            df!("k" => [Some(1i64), Some(1), Some(2), Some(3), None], "a" => [1i64, 2, 3, 4, 5]).unwrap(),
        );
        let right = Table::from_frame(
            df!("key" => [Some(1i64), Some(1), Some(1), Some(2), Some(4), None], "b" => [1i64, 2, 3, 4, 5, 6])
                .unwrap(),
        );
        let keys = (vec!["k".to_string()], vec!["key".to_string()]);
        for how in [JoinKind::Inner, JoinKind::Left, JoinKind::Outer] {
            let joined = left.join(&right, &keys.0, &keys.1, how).unwrap();
            let predicted = join_rows(left.lazy(), Some(right.lazy()), &keys.0, &keys.1, how).unwrap();
            assert_eq!(predicted, joined.height().unwrap(), "{how:?}");
        }
        // 2 * 3 + 1 * 1 matches; a left join keeps 3 and the null; an outer join also 4 and the null.
        assert_eq!(join_rows(left.lazy(), Some(right.lazy()), &keys.0, &keys.1, JoinKind::Inner).unwrap(), 7);
        assert_eq!(
            join_rows(left.lazy(), Some(right.lazy()), &keys.0, &keys.1, JoinKind::Outer).unwrap(),
            11
        );
        // Joined with itself: counted once, the same answer as counting both sides.
        let itself = left.join(&left, &keys.0, &keys.0, JoinKind::Inner).unwrap().height().unwrap();
        assert_eq!(join_rows(left.lazy(), None, &keys.0, &keys.0, JoinKind::Inner).unwrap(), itself);
        assert_eq!(itself, 2 * 2 + 1 + 1);
    }

    #[test]
    fn promised_families_satisfy_the_same_requirements() {
        let p = |promised: &str, want: &str| promise_matches(promised, want);
        assert!(p("text", "text") && p("str", "text") && p("int", "number") && p("int", "i32"));
        assert!(p("float", "number") && p("number", "float") && p("f64", "float") && p("bool", "boolean"));
        assert!(!p("text", "number") && !p("float", "int") && !p("int", "text") && !p("float", "i64"));
        let promised =
            vec![("region".to_string(), "text".to_string()), ("total".to_string(), "float".to_string())];
        let required =
            vec![("region".to_string(), "text".to_string()), ("total".to_string(), "int".to_string())];
        assert_eq!(missing_promised_columns(&promised, &required), ["column `total` is float, not int"]);
    }
}
