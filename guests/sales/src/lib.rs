//! The sales-report example as Rust component nodes: read the sales CSV, sum
//! revenue per region, draw it as a bar chart. The pipeline writes the chart
//! as SVG and PNG (`examples/sales-report/weavelet.toml`).

use weavelet::{ChartKind, ChartSpec, GraphicsError, Svg, Table, TableError};
use weavelet_sdk as weavelet;

/// The sales file, scanned lazily (only the columns later nodes use are read).
#[weavelet::node]
fn sales(path: String) -> Result<Table, TableError> {
    Table::read(&path)
}

/// Revenue and order count per region, largest revenue first.
#[weavelet::node(
    columns(sales = "region: text, revenue: number, orders: int"),
    output_columns = "region: text, total_revenue: float, order_count: int"
)]
fn by_region(sales: Table) -> Result<Table, TableError> {
    sales
        .group_by(&["region"], &[("total_revenue", "sum(revenue)"), ("order_count", "count(orders)")])?
        .sort(&["total_revenue", "region"], &[true, false])
}

/// Revenue per region as a bar chart.
#[weavelet::node(columns(by_region = "region: text, total_revenue: number"))]
fn revenue_chart(by_region: Table) -> Result<Svg, GraphicsError> {
    Svg::chart(
        &by_region,
        &ChartSpec {
            x_label: "Region".into(),
            y_label: "Revenue (USD)".into(),
            ..weavelet::chart_spec(ChartKind::Bar, "region", &["total_revenue"], "Revenue by region")
        },
    )
}

weavelet::export!(sales, by_region, revenue_chart);
