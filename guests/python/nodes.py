"""Python nodes of the polyglot example (and the trivial benchmark node).

Each function is a node; its parameter names are its inputs. Built into one
component by `weavelet build guests/python` (componentize-py, with the SDK).
"""

from weavelet import InvalidInput, Svg, Table, agg, http, node


@node
def inc_py(x: int) -> int:
    """x + 1; a negative x is an invalid input."""
    if x < 0:
        raise InvalidInput("x", f"x must not be negative (got {x})")
    return x + 1


@node
def fetch_py(url: str) -> str:
    """The body of `GET url`, as text (only hosts of the node's `net` grant answer)."""
    return http.get(url).raise_for_status().text


@node(
    columns={"revenue": "region: text, revenue: number, quantity: number"},
    output_columns="region: text, revenue: number, units: number, orders: int",
)
def region_totals(revenue: Table) -> Table:
    """Revenue, units and orders per region, largest revenue first."""
    totals = revenue.group_by(
        ["region"],
        [agg("revenue", "sum(revenue)"), agg("units", "sum(quantity)"), agg("orders", "count(revenue)")],
    )
    # Ties keep a stable order: by region name.
    return totals.sort(["revenue", "region"], [True, False])


# Layout of the share chart, in SVG user units.
WIDTH, ROW, TOP, LABEL, RIGHT = 520.0, 34.0, 56.0, 110.0, 70.0
FONT = [("font-size", "13"), ("font-family", "sans-serif"), ("dominant-baseline", "middle")]
TITLE_FONT = [
    ("text-anchor", "middle"),
    ("font-size", "18"),
    ("font-weight", "bold"),
    ("font-family", "sans-serif"),
]
COLOURS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7"]


@node(columns={"region_totals": "region: text, revenue: number"})
def region_shares(region_totals: Table, shares_title: str = "Share of revenue") -> Svg:
    """Each region's share of total revenue as a horizontal bar chart."""
    regions = region_totals.column_text("region")
    revenue = region_totals.column_f64("revenue")
    total = sum(revenue)
    if total <= 0:
        raise ValueError(f"total revenue is {total}, so shares are undefined")

    height = TOP + ROW * len(regions) + 16
    doc = Svg.create(WIDTH, height)
    doc = doc.rect(0, 0, WIDTH, height, [("fill", "#ffffff")])
    doc = doc.text(WIDTH / 2, 30, shares_title, TITLE_FONT)
    span = WIDTH - LABEL - RIGHT  # the width of the largest share's bar
    largest = max(revenue) / total
    for i, (region, value) in enumerate(zip(regions, revenue, strict=True)):
        share = value / total
        bar = span * share / largest
        y = TOP + i * ROW
        doc = doc.text(LABEL - 8, y + ROW / 2 - 2, region, [("text-anchor", "end"), *FONT])
        doc = doc.rect(
            LABEL, y + 4, max(bar, 1.0), ROW - 12, [("fill", COLOURS[i % len(COLOURS)]), ("rx", "3")]
        )
        doc = doc.text(LABEL + max(bar, 1.0) + 6, y + ROW / 2 - 2, f"{share * 100:.1f}%", FONT)
    return doc
