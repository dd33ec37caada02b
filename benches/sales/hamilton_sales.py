"""The sales pipeline of PERF.md in Hamilton (sf-hamilton) and Python polars:
read the CSV, group by region, aggregate, draw an SVG bar chart. The peer of
`weavelet run benches/sales` in benches/sales/run.sh.

Usage: python hamilton_sales.py SALES.csv OUT.csv OUT.svg
"""

import sys

import polars as pl
from hamilton import driver


def sales(path: str) -> pl.DataFrame:
    """The sales file."""
    return pl.read_csv(path)


def by_region(sales: pl.DataFrame) -> pl.DataFrame:
    """Revenue and number of orders per region."""
    return (
        sales.group_by("region")
        .agg(pl.col("revenue").sum().alias("total_revenue"), pl.col("orders").count().alias("order_count"))
        .select(["region", "total_revenue", "order_count"])
        .sort("region")
    )


def chart(by_region: pl.DataFrame) -> str:
    """Revenue per region as an SVG bar chart: one <rect> per region."""
    width, height, bar = 800, 400, 800 / max(by_region.height, 1)
    top = max(by_region["total_revenue"].max() or 1.0, 1e-9)
    rects = [
        f'<rect x="{i * bar + 4:.1f}" y="{height - h:.1f}" width="{bar - 8:.1f}" height="{h:.1f}" fill="steelblue">'
        f"<title>{region}</title></rect>"
        for i, (region, total) in enumerate(zip(by_region["region"], by_region["total_revenue"]))
        for h in [total / top * (height - 40)]
    ]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
        f'<text x="10" y="20">Revenue by region</text>{"".join(rects)}</svg>'
    )


def _main() -> None:
    csv_in, csv_out, svg_out = sys.argv[1:4]
    # This module's public functions are the nodes (Hamilton skips `_` names).
    dr = driver.Builder().with_modules(sys.modules[__name__]).build()
    result = dr.execute(["by_region", "chart"], inputs={"path": csv_in})
    result["by_region"].write_csv(csv_out)
    with open(svg_out, "w") as out:
        out.write(result["chart"])


if __name__ == "__main__":
    _main()
