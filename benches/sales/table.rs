//! The synthetic sales table of the benchmarks: `rows` rows over four regions.

use weavelet::Table;
use weavelet::polars::prelude::*;

/// `region` (four values in turn), `revenue` (row / 2) and `orders` (row).
pub fn table(rows: usize) -> Table {
    let df = df!(
        "region" => (0..rows).map(|i| ["north", "south", "east", "west"][i % 4]).collect::<Vec<_>>(),
        "revenue" => (0..rows).map(|i| i as f64 * 0.5).collect::<Vec<_>>(),
        "orders" => (0..rows as i64).collect::<Vec<_>>(),
    )
    .unwrap();
    Table::from_frame(df)
}
