//! The sales pipeline in plain Rust polars, with no Weavelet: the baseline of
//! `benches/sales/run.sh`. Usage: plain_polars SALES.csv OUT.csv

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use polars::prelude::*;

fn main() -> PolarsResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let (input, output) = (&args[1], &args[2]);
    let mut df = LazyCsvReader::new(PlRefPath::new(input.as_str()))
        .with_has_header(true)
        .finish()?
        .group_by_stable([col("region")])
        .agg([col("revenue").sum().alias("total_revenue"), col("orders").count().alias("order_count")])
        .sort(["region"], Default::default())
        .collect_with_engine(Engine::Streaming)?
        .unwrap_single();
    CsvWriter::new(std::fs::File::create(output)?).finish(&mut df)?;
    Ok(())
}
