// Unit tests of the JavaScript SDK: parameter parsing, declarations, value
// conversion and error mapping. Run: npm test (in sdk/js; no install needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import * as weavelet from '../weavelet.js';
import { Table, Svg } from '../weavelet.js';

const params = (fn) => weavelet.parseParams(fn).map((p) => `${p.name}${p.optional ? '?' : ''}`);

test('parameter names come from the source text', () => {
  // prettier-ignore
  const cases = [
    [function f(a, b) {}, ['a', 'b']],
    [function f() {}, []],
    [(x) => x, ['x']],
    [x => x, ['x']],
    [async (a, b) => a, ['a', 'b']],
    [async x => x, ['x']],
    [{ m(a, b = 2) {} }.m, ['a', 'b?']],
    [function f(/* first */ a, // second
      b = g(1, [2, 3], { c: ')' }), c = 'x,)', d = `t${1}`,) {}, ['a', 'b?', 'c?', 'd?']],
  ];
  for (const [fn, want] of cases) assert.deepEqual(params(fn), want, String(fn));
});

test('destructured and rest parameters are refused', () => {
  assert.throws(() => params(function f({ a }) {}), /destructured parameter `\{ a \}` has no name/);
  assert.throws(() => params(function f([a, b] = []) {}), /destructured/);
  assert.throws(() => params(function f(...xs) {}), /rest parameter/);
  assert.throws(() => weavelet.node(function bad({ orders }) {}), /node bad: destructured parameter/);
});

test('a node declaration carries names, types, columns and doc', () => {
  const def = weavelet.node(function chart(region_totals, title = 'Revenue') {}, {
    inputs: { region_totals: 'table', title: 'text' },
    output: 'svg',
    columns: { region_totals: 'region: text, revenue: number' },
    capabilities: { readDir: '/data', clock: true },
    doc: 'A chart.',
  });
  assert.deepEqual(def.decl, {
    name: 'chart',
    doc: 'A chart.',
    inputs: [
      {
        name: 'region_totals',
        ty: 'table',
        optional: false,
        columns: [
          { name: 'region', dtype: 'text' },
          { name: 'revenue', dtype: 'number' },
        ],
      },
      { name: 'title', ty: 'text', optional: true, columns: [] },
    ],
    output: 'svg',
    outputColumns: [],
    capabilities: [{ tag: 'read-dir', val: '/data' }, { tag: 'clock' }],
  });
});

test('mistakes in options fail at load', () => {
  assert.throws(
    () => weavelet.node(function a1(x) {}, { inputs: { y: 'int' } }),
    /names `y`, which is not a parameter/,
  );
  assert.throws(() => weavelet.node(function a2(x) {}, { inputs: { x: 'integer' } }), /unknown type `integer`/);
  assert.throws(
    () => weavelet.node(function a3(x) {}, { inputs: { x: 'int' }, columns: { x: 'a: int' } }),
    /only a table input/,
  );
  assert.throws(() => weavelet.node(function a4(t) {}, { columns: { t: 'region' } }), /needs a type/);
  assert.throws(() => weavelet.node(() => 1), /anonymous function needs `options.name`/);
});

const mod = weavelet.exportNodes(
  weavelet.node(
    function inc(x) {
      if (x < 0) throw new weavelet.InvalidInput('x', `x must not be negative (got ${x})`);
      return x + 1;
    },
    { inputs: { x: 'int' }, output: 'int' },
  ),
  weavelet.node((x) => x.missing.field, { name: 'crash' }),
  weavelet.node((x) => x, { name: 'same' }),
  weavelet.node((x) => 0.5, { name: 'half_int', output: 'int' }),
  weavelet.node((xs) => xs.map((v) => v * 2), { name: 'twice', inputs: { xs: 'int-list' }, output: 'int-list' }),
  weavelet.node((a, b = 'dflt') => `${a}/${b}`, { name: 'opt', inputs: { a: 'text', b: 'text' }, output: 'text' }),
  weavelet.node((t, n) => t.head(n), { name: 'head', inputs: { t: 'table', n: 'int' }, output: 'table' }),
  weavelet.node((t) => Svg.chart(t, weavelet.chartSpec('bar', 'region', ['revenue'], 'T')), {
    name: 'draw',
    output: 'svg',
  }),
);

const run = (name, inputs) => {
  try {
    return { ok: mod.run(name, Object.entries(inputs)) };
  } catch (e) {
    assert.ok(!(e instanceof Error), 'a node error is thrown as a plain object (jco: result::err)');
    return { err: e };
  }
};

test('values convert both ways by the declared types', () => {
  assert.deepEqual(run('inc', { x: { tag: 'int', val: 41n } }), { ok: { tag: 'int', val: 42n } });
  assert.deepEqual(run('twice', { xs: { tag: 'int-list', val: new BigInt64Array([1n, 2n]) } }), {
    ok: { tag: 'int-list', val: new BigInt64Array([2n, 4n]) },
  });
  // `any` passes ints through as BigInt, so they stay ints.
  assert.deepEqual(run('same', { x: { tag: 'int', val: 7n } }), { ok: { tag: 'int', val: 7n } });
  assert.deepEqual(run('same', { x: { tag: 'float', val: 7 } }), { ok: { tag: 'float', val: 7 } });
  assert.deepEqual(run('same', { x: { tag: 'text-list', val: ['a'] } }), { ok: { tag: 'text-list', val: ['a'] } });
  assert.deepEqual(run('opt', { a: { tag: 'text', val: 'A' }, b: { tag: 'null' } }), {
    ok: { tag: 'text', val: 'A/dflt' },
  });
  assert.deepEqual(run('opt', { a: { tag: 'text', val: 'A' } }), { ok: { tag: 'text', val: 'A/dflt' } });
  const t = Table.read('data/orders.csv');
  const out = run('head', { t: { tag: 'table', val: t }, n: { tag: 'int', val: 1n } }).ok;
  assert.equal(out.tag, 'table');
  assert.deepEqual(out.val.rows, [{ region: 'north', revenue: 10 }]);
  const svg = run('draw', { t: { tag: 'table', val: t } }).ok;
  assert.equal(svg.tag, 'svg');
  assert.deepEqual(svg.val.spec, {
    kind: 'bar',
    x: 'region',
    y: ['revenue'],
    title: 'T',
    xLabel: '',
    yLabel: '',
    width: 0,
    height: 0,
    bins: 0,
  });
});

test('errors become node errors', () => {
  assert.deepEqual(run('inc', { x: { tag: 'int', val: -3n } }).err, {
    kind: 'invalid-input',
    message: 'x must not be negative (got -3)',
    input: 'x',
  });
  assert.deepEqual(run('inc', { x: { tag: 'float', val: 1.5 } }).err, {
    kind: 'invalid-input',
    message: 'expected int, got float',
    input: 'x',
  });
  assert.deepEqual(run('inc', { x: { tag: 'int', val: 2n ** 60n } }).err.kind, 'invalid-input');
  assert.deepEqual(run('inc', {}).err, {
    kind: 'invalid-input',
    message: 'the host did not pass this input',
    input: 'x',
  });
  const crash = run('crash', { x: { tag: 'int', val: 1n } }).err;
  assert.equal(crash.kind, 'failed');
  assert.match(crash.message, /^TypeError: /);
  assert.deepEqual(run('half_int', { x: { tag: 'null' } }).err, {
    kind: 'failed',
    message: 'TypeError: returned number 0.5, but its output is int: not an integer',
    input: undefined,
  });
  const refused = run('head', { t: { tag: 'table', val: Table.read('x') }, n: { tag: 'int', val: -1n } }).err;
  assert.equal(refused.kind, 'failed');
  assert.match(refused.message, /n must not be negative/);
  assert.equal(run('nope', {}).err.kind, 'unknown-node');
});

test('allNodes exports every registered node, also ones registered later', () => {
  const before = weavelet.allNodes.nodes().length;
  weavelet.node(function late(x) {}, { output: 'null' });
  const names = weavelet.allNodes.nodes().map((d) => d.name);
  assert.equal(names.length, before + 1);
  assert.ok(names.includes('chart') && names.includes('late'));
  assert.deepEqual(weavelet.allNodes.run('late', [['x', { tag: 'int', val: 1n }]]), { tag: 'null' });
});
