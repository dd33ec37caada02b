/* Weavelet nodes written in C: one component, three nodes.
 *
 *   inc_c(x: int) -> int                       x + 1 (the benchmark's trivial node)
 *   revenue(orders: table, tax_rate: float)     orders with `revenue` incl. tax
 *   badge(label: text, value: float) -> svg     a 220 x 60 badge
 *
 * Built by `weavelet build guests/c` (or on the first `weavelet run` that lists it).
 */
#include <math.h>

#include "weavelet.h"

/* x + 1; a negative x is an invalid input. */
WV_NODE(inc_c,
        (.output = WV_INT, .doc = "Returns x + 1; fails with invalid-input on `x` when x is negative."),
        (INT, x)) {
    if (x < 0) return wv_invalid(call, "x", "x must not be negative (got %lld)", (long long)x);
    return wv_return_int(call, x + 1);
}

/* The orders with a `revenue` column: quantity * unit_price * (1 + tax_rate),
 * rounded to cents. The host computes it (a SQL expression on the lazy
 * table): the rows never enter this component. */
WV_NODE(revenue,
        (.output = WV_TABLE,
         .doc = "The orders with a new column `revenue` = quantity * unit_price * (1 + tax_rate), "
                "rounded to 2 decimals. tax_rate must be in [0, 1]."),
        (TABLE, orders, .columns = "quantity: number, unit_price: number"), (FLOAT, tax_rate)) {
    if (!(tax_rate >= 0.0 && tax_rate <= 1.0)) /* also catches NaN */
        return wv_invalid(call, "tax_rate", "tax_rate must be between 0 and 1 (got %g)", tax_rate);

    /* The rate goes into the SQL as a plain decimal literal ("0.08"). */
    const char *rate = wv_float_literal(call, tax_rate);
    const char *expr = wv_format(call, "ROUND(quantity * unit_price * (1 + %s), 2)", rate);
    wv_info("revenue incl. tax: %s", expr);
    WV_TABLE(call, priced, "table.with-columns", weavelet_node_types_method_table_with_columns, orders,
             wv_attrs(call, "revenue", expr, NULL));
    return wv_return_table(call, priced);
}

/* A badge: a rounded dark rectangle, the label on the left and the value
 * (2 decimals) on the right. */
WV_NODE(badge, (.output = WV_SVG, .doc = "A 220 x 60 SVG badge showing `label` and `value` (2 decimals)."),
        (TEXT, label), (FLOAT, value)) {
    if (!isfinite(value)) return wv_invalid(call, "value", "value must be a finite number");
    const char *shown = wv_format(call, "%.2f", value);

    /* Each call returns a new document; the SDK drops the intermediate ones. */
    WV_SVG(call, doc, "svg.create", weavelet_node_types_static_svg_create, 220, 60);
    WV_SVG(call, bg, "svg.rect", weavelet_node_types_method_svg_rect, wv_ref_svg(doc), 0, 0, 220, 60,
           wv_attrs(call, "rx", "12", "ry", "12", "fill", "#1f2937", NULL));
    WV_SVG(call, with_label, "svg.text", weavelet_node_types_method_svg_text, wv_ref_svg(bg), 16, 37,
           wv_str(call, label),
           wv_attrs(call, "fill", "#cbd5e1", "font-family", "sans-serif", "font-size", "16", NULL));
    WV_SVG(call, out, "svg.text", weavelet_node_types_method_svg_text, wv_ref_svg(with_label), 204, 38,
           wv_str(call, shown),
           wv_attrs(call, "fill", "#ffffff", "font-family", "sans-serif", "font-size", "22", "font-weight",
                    "bold", "text-anchor", "end", NULL));
    return wv_return_svg(call, out);
}

WV_MODULE(inc_c, revenue, badge)
