// The JavaScript module of nodes (one component): the chart and the top rows
// of the polyglot example, and `inc_js`, the trivial node of the benchmark and
// of the error test. Built by `weavelet build guests/js` (after `npm ci` here).
//
// Each function given to `node` is a node; its parameter names are its inputs
// (bound to the nodes or parameters of those names), `options` gives types.

import { node, InvalidInput, Svg, chartSpec } from 'weavelet';

node(
  function inc_js(x) {
    if (x < 0) throw new InvalidInput('x', `x must not be negative (got ${x})`);
    return x + 1;
  },
  { inputs: { x: 'int' }, output: 'int', doc: '`x + 1`; a negative `x` is an invalid input.' },
);

node(
  function region_chart(region_totals, title) {
    // The host draws it: a bar per region, revenue on the y axis.
    return Svg.chart(region_totals, chartSpec('bar', 'region', ['revenue'], title, { yLabel: 'revenue' }));
  },
  {
    inputs: { region_totals: 'table', title: 'text' },
    output: 'svg',
    columns: { region_totals: 'region: text, revenue: number' },
    doc: 'Revenue per region as a bar chart titled `title`.',
  },
);

node(
  function top_regions(region_totals, top) {
    if (top < 1) throw new InvalidInput('top', `top must be at least 1 (got ${top})`);
    return region_totals.head(top); // the host's `head`: the table stays in the host
  },
  {
    inputs: { region_totals: 'table', top: 'int' },
    output: 'table',
    columns: { region_totals: 'region: text, revenue: number' },
    doc: 'The first `top` rows of the region totals.',
  },
);

// The component's WIT export `node` (`nodes` and `run`): every node above.
export { allNodes as node } from 'weavelet';

node(
  async function fetch_js(url) {
    // wasi:http through componentize-js's `fetch`: only the hosts of the node's `net` grant.
    const response = await fetch(url);
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    return await response.text();
  },
  { inputs: { url: 'text' }, output: 'text', doc: 'The body of `GET url`, as text.' },
);
