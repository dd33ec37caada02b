//! The data-analysis example as Rust component nodes: load a CSV, keep the
//! rows with a positive value, and summarise them (mean and count).

use weavelet::{Table, TableError};
use weavelet_sdk as weavelet;

/// The measurements file, read lazily: later nodes decide which columns are read.
#[weavelet::node]
fn load(path: String) -> Result<Table, TableError> {
    Table::read(&path)
}

/// Rows with a value, and only positive values.
#[weavelet::node(columns(load = "station: text, value: number"))]
fn clean(load: Table) -> Result<Table, TableError> {
    load.drop_nulls(&["value"])?.filter("value > 0")
}

/// Mean and count of the clean values, per station.
#[weavelet::node(
    columns(clean = "station: text, value: number"),
    output_columns = "station: text, mean: float, count: int"
)]
fn stats(clean: Table) -> Result<Table, TableError> {
    clean
        .group_by(&["station"], &[("mean", "mean(value)"), ("count", "count(value)")])?
        .sort(&["station"], &[])
}

/// One line per station and the overall figures.
#[weavelet::node]
fn summary(stats: Table, clean: Table) -> Result<String, TableError> {
    let overall = clean.select(&["AVG(value) AS mean", "COUNT(value) AS n"])?;
    let mean = overall.column_f64("mean")?.first().copied().unwrap_or(f64::NAN);
    let n = overall.column_i64("n")?.first().copied().unwrap_or(0);
    let mut text = format!("{n} valid measurements, mean {mean:.2}");
    let stations = stats.column_text("station")?;
    let means = stats.column_f64("mean")?;
    let counts = stats.column_i64("count")?;
    for ((station, mean), count) in stations.iter().zip(&means).zip(&counts) {
        text.push_str(&format!("\n  {station:<8} mean {mean:>7.2} over {count} measurements"));
    }
    Ok(text)
}

weavelet::export!(load, clean, stats, summary);
