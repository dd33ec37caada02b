//! The Rust step of the polyglot example (`examples/polyglot`): read the orders
//! file and keep the orders that count.

use weavelet::{Table, TableError};
use weavelet_sdk as weavelet;

/// The orders placed on or after `since` (an ISO date), without cancelled
/// orders (quantity 0) and rows that lost their price.
#[weavelet::node(
    output_columns = "date: text, region: text, product: text, quantity: int, unit_price: float"
)]
fn orders(orders_file: String, since: String) -> Result<Table, TableError> {
    if since.len() != 10 || since.bytes().any(|b| !(b.is_ascii_digit() || b == b'-')) {
        return Err(TableError(format!("`since` must be a date such as 2026-03-01, got {since:?}")));
    }
    Table::read(&orders_file)?
        .drop_nulls(&["quantity", "unit_price"])?
        .filter(&format!("quantity > 0 AND date >= '{since}'"))
}

weavelet::export!(orders);
